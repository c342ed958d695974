/*
 * Multi-node behaviour of the Raft core, driven through the deterministic simulator: elections,
 * replication, failover, check-quorum, pre-vote, read index and lease, membership changes,
 * leadership transfer and snapshots. Every step also checks the safety invariants (sim.h).
 */
#include "unit.h"

#include "sim.h"

static struct sim *
cluster(uint64_t seed, unsigned nodes, unsigned voters)
{
	struct sim_config c = { .n_nodes = nodes, .n_voters = voters };
	return sim_new(seed, &c);
}

static bool
has_leader(struct sim *s, void *arg)
{
	(void)arg;
	return sim_leader(s) >= 0;
}

struct applied_arg { uint64_t index; unsigned mask; };

static bool
all_applied(struct sim *s, void *arg)
{
	struct applied_arg *a = arg;
	for (unsigned i = 0; i < sim_n(s); i++)
		if (((a->mask >> i) & 1) && sim_applied(s, i) < a->index)
			return false;
	return true;
}

static bool
read_released(struct sim *s, void *arg)
{
	return sim_reads_released(s, *(uint64_t *)arg) + sim_reads_failed(s, *(uint64_t *)arg) > 0;
}

UNIT_TEST(three_nodes_elect_exactly_one_leader_within_a_few_timeouts)
{
	struct sim *s = cluster(1, 3, 3);
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	CHECK(sim_now(s) < 1000);
	int l = sim_leader(s);
	CHECK(sim_run_for(s, 2000));
	/* Heartbeats keep the same leader: nobody campaigns while it is alive. */
	CHECK_INT_EQ(sim_leader(s), l);
	for (unsigned i = 0; i < 3; i++)
		CHECK_STR_EQ(raft_leader_id(sim_raft(s, i)), raft_id(sim_raft(s, (unsigned)l)));
	sim_free(s);
}

UNIT_TEST(entries_proposed_on_the_leader_are_applied_everywhere_in_order)
{
	struct sim *s = cluster(2, 3, 3);
	uint64_t idx = 0;
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	int l = sim_leader(s);
	for (int k = 0; k < 50; k++) {
		CHECK_INT_EQ(sim_propose(s, (unsigned)l, &idx), 0);
		CHECK(sim_run_for(s, 1));
	}
	struct applied_arg a = { idx, 7 };
	CHECK(sim_run_until_pred(s, 2000, all_applied, &a));
	CHECK_INT_EQ(sim_max_commit(s), idx);
	CHECK(sim_ok(s));
	sim_free(s);
}

UNIT_TEST(a_follower_refuses_proposals)
{
	struct sim *s = cluster(3, 3, 3);
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned f = ((unsigned)sim_leader(s) + 1) % 3;
	CHECK_INT_EQ(sim_propose(s, f, NULL), RAFT_ENOTLEADER);
	sim_free(s);
}

UNIT_TEST(a_new_leader_is_elected_after_the_leader_crashes_and_keeps_committed_entries)
{
	struct sim *s = cluster(4, 3, 3);
	uint64_t idx = 0;
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned l = (unsigned)sim_leader(s);
	for (int k = 0; k < 10; k++)
		CHECK_INT_EQ(sim_propose(s, l, &idx), 0);
	struct applied_arg a = { idx, 7 };
	CHECK(sim_run_until_pred(s, 2000, all_applied, &a));
	uint64_t t0 = sim_now(s);
	sim_crash(s, l);
	CHECK(sim_run_until_pred(s, 3000, has_leader, NULL));
	CHECK((unsigned)sim_leader(s) != l);
	CHECK(sim_now(s) - t0 < 1000);
	unsigned l2 = (unsigned)sim_leader(s);
	CHECK_INT_EQ(sim_propose(s, l2, &idx), 0);
	sim_restart(s, l);
	a.index = idx;
	CHECK(sim_run_until_pred(s, 3000, all_applied, &a));
	sim_free(s);
}

UNIT_TEST(a_leader_cut_off_from_the_majority_steps_down_by_check_quorum)
{
	struct sim *s = cluster(5, 3, 3);
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned l = (unsigned)sim_leader(s);
	sim_isolate(s, l);
	CHECK(sim_run_for(s, 350));
	CHECK(raft_state(sim_raft(s, l)) != RAFT_LEADER);
	CHECK(!raft_lease_valid(sim_raft(s, l), sim_now(s)));
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	int l2 = sim_leader(s);
	CHECK(l2 >= 0 && (unsigned)l2 != l);
	sim_free(s);
}

UNIT_TEST(an_isolated_follower_does_not_disrupt_the_cluster_thanks_to_prevote)
{
	struct sim *s = cluster(6, 3, 3);
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned l = (unsigned)sim_leader(s);
	uint64_t term = raft_term(sim_raft(s, l));
	unsigned f = (l + 1) % 3;
	sim_isolate(s, f);
	CHECK(sim_run_for(s, 3000));
	/* Pre-vote never succeeded, so the follower's term did not grow. */
	CHECK_INT_EQ(raft_term(sim_raft(s, f)), term);
	sim_heal(s);
	CHECK(sim_run_for(s, 500));
	CHECK_INT_EQ(sim_leader(s), l);
	CHECK_INT_EQ(raft_term(sim_raft(s, l)), term);
	sim_free(s);
}

UNIT_TEST(read_index_is_not_released_before_a_quorum_answers_a_heartbeat_round)
{
	struct sim *s = cluster(7, 3, 3);
	uint64_t idx, cookie = 99;
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned l = (unsigned)sim_leader(s);
	CHECK_INT_EQ(sim_propose(s, l, &idx), 0);
	struct applied_arg a = { idx, 7 };
	CHECK(sim_run_until_pred(s, 2000, all_applied, &a));
	/* Cut the leader off (it still believes it leads) and ask for a read. */
	sim_isolate(s, l);
	CHECK_INT_EQ(sim_read(s, l, cookie), 0);
	CHECK(sim_run_for(s, 90));
	CHECK_INT_EQ(sim_reads_released(s, cookie), 0);
	CHECK_INT_EQ(raft_state(sim_raft(s, l)), RAFT_LEADER);
	/* Heal before check-quorum fires: the next round confirms leadership. */
	sim_heal(s);
	CHECK(sim_run_until_pred(s, 1000, read_released, &cookie));
	CHECK_INT_EQ(sim_reads_released(s, cookie), 1);
	/* Isolated for longer: the read fails when the leader steps down. */
	cookie = 100;
	sim_isolate(s, l);
	CHECK_INT_EQ(sim_read(s, l, cookie), 0);
	CHECK(sim_run_until_pred(s, 1000, read_released, &cookie));
	CHECK_INT_EQ(sim_reads_released(s, cookie), 0);
	CHECK_INT_EQ(sim_reads_failed(s, cookie), 1);
	sim_free(s);
}

UNIT_TEST(read_index_on_a_new_leader_waits_for_its_first_commit)
{
	struct sim *s = cluster(8, 3, 3);
	uint64_t cookie = 5;
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned l = (unsigned)sim_leader(s);
	struct raft *r = sim_raft(s, l);
	/* Right at election the no-op is not yet committed. */
	if (raft_commit_index(r) < raft_last_index(r)) {
		CHECK_INT_EQ(sim_read(s, l, cookie), 0);
		CHECK_INT_EQ(sim_reads_released(s, cookie), 0);
	} else {
		CHECK_INT_EQ(sim_read(s, l, cookie), 0);
	}
	CHECK(sim_run_until_pred(s, 1000, read_released, &cookie));
	CHECK_INT_EQ(sim_reads_released(s, cookie), 1);
	sim_free(s);
}

UNIT_TEST(lease_is_valid_on_a_healthy_leader_and_lapses_when_isolated)
{
	struct sim *s = cluster(9, 3, 3);
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	CHECK(sim_run_for(s, 200));
	unsigned l = (unsigned)sim_leader(s);
	CHECK(raft_lease_valid(sim_raft(s, l), sim_now(s)));
	for (unsigned i = 0; i < 3; i++)
		if (i != l)
			CHECK(!raft_lease_valid(sim_raft(s, i), sim_now(s)));
	sim_isolate(s, l);
	CHECK(sim_run_for(s, 60));	/* lease is election_timeout/2 = 50ms */
	CHECK(!raft_lease_valid(sim_raft(s, l), sim_now(s)));
	sim_free(s);
}

UNIT_TEST(a_joining_node_is_added_as_nonvoter_then_promoted)
{
	struct sim *s = cluster(10, 4, 1);
	uint64_t idx;
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	CHECK_INT_EQ(sim_leader(s), 0);
	struct raft *r = sim_raft(s, 0);
	CHECK(sim_run_for(s, 10));
	CHECK_INT_EQ(raft_add_server(r, "2", "node2:4002", RAFT_NONVOTER, &idx), 0);
	CHECK_INT_EQ(raft_add_server(r, "3", "node3:4002", RAFT_VOTER, NULL), RAFT_ECONFIGBUSY);
	struct applied_arg a = { idx, 3 };
	CHECK(sim_run_until_pred(s, 2000, all_applied, &a));
	CHECK(!raft_is_voter(sim_raft(s, 1)));
	CHECK_INT_EQ(raft_configuration(sim_raft(s, 1))->n, 2);
	/* A non-voter never campaigns, even without a leader. */
	sim_isolate(s, 1);
	CHECK(sim_run_for(s, 1000));
	CHECK_INT_EQ(raft_state(sim_raft(s, 1)), RAFT_FOLLOWER);
	sim_heal(s);
	CHECK_INT_EQ(raft_assign_suffrage(r, "2", RAFT_VOTER, &idx), 0);
	CHECK_INT_EQ(raft_add_server(r, "3", "node3:4002", RAFT_VOTER, NULL), RAFT_ECONFIGBUSY);
	a.index = idx;
	CHECK(sim_run_until_pred(s, 2000, all_applied, &a));
	CHECK(raft_is_voter(sim_raft(s, 1)));
	CHECK_INT_EQ(raft_add_server(r, "3", "node3:4002", RAFT_VOTER, &idx), 0);
	a.index = idx;
	a.mask = 7;
	CHECK(sim_run_until_pred(s, 2000, all_applied, &a));
	CHECK_INT_EQ(raft_config_voters(raft_configuration(sim_raft(s, 2))), 3);
	/* Now the original node can fail and the other two carry on. */
	sim_crash(s, 0);
	CHECK(sim_run_until_pred(s, 3000, has_leader, NULL));
	CHECK(sim_leader(s) == 1 || sim_leader(s) == 2);
	sim_free(s);
}

UNIT_TEST(a_removed_leader_steps_down_once_its_removal_commits)
{
	struct sim *s = cluster(11, 3, 3);
	uint64_t idx;
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned l = (unsigned)sim_leader(s);
	CHECK(sim_run_for(s, 50));
	char id[12];
	snprintf(id, sizeof(id), "%u", l + 1);
	CHECK_INT_EQ(raft_remove_server(sim_raft(s, l), id, &idx), 0);
	CHECK(sim_run_for(s, 50));
	CHECK(raft_state(sim_raft(s, l)) != RAFT_LEADER);
	CHECK(sim_run_until_pred(s, 3000, has_leader, NULL));
	CHECK((unsigned)sim_leader(s) != l);
	CHECK_INT_EQ(raft_config_voters(raft_configuration(sim_raft(s, (unsigned)sim_leader(s)))), 2);
	sim_free(s);
}

UNIT_TEST(leadership_transfer_hands_over_to_the_chosen_voter)
{
	struct sim *s = cluster(12, 3, 3);
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned l = (unsigned)sim_leader(s);
	unsigned t = (l + 1) % 3;
	char id[12];
	snprintf(id, sizeof(id), "%u", t + 1);
	CHECK(sim_run_for(s, 20));
	CHECK_INT_EQ(raft_transfer_leadership(sim_raft(s, l), id), 0);
	CHECK_INT_EQ(sim_propose(s, l, NULL), RAFT_ETRANSFER);
	uint64_t t0 = sim_now(s);
	CHECK(sim_run_for(s, 50));
	CHECK_INT_EQ(sim_leader(s), t);
	CHECK(sim_now(s) - t0 <= 50);
	CHECK(sim_delivered(s, RAFT_MSG_TIMEOUT_NOW) >= 1);
	sim_free(s);
}

UNIT_TEST(a_follower_far_behind_catches_up_from_a_snapshot)
{
	struct sim *s = cluster(13, 3, 3);
	uint64_t idx = 0;
	CHECK(sim_run_until_pred(s, 2000, has_leader, NULL));
	unsigned l = (unsigned)sim_leader(s);
	unsigned f = (l + 1) % 3;
	sim_crash(s, f);
	for (int k = 0; k < 40; k++) {
		CHECK_INT_EQ(sim_propose(s, l, &idx), 0);
		CHECK(sim_run_for(s, 2));
	}
	struct applied_arg a = { idx, 7u & ~(1u << f) };
	CHECK(sim_run_until_pred(s, 2000, all_applied, &a));
	CHECK_INT_EQ(sim_snapshot(s, l, 2), 0);
	CHECK(raft_snapshot_index(sim_raft(s, l)) >= idx);
	sim_restart(s, f);
	a.mask = 7;
	CHECK(sim_run_until_pred(s, 3000, all_applied, &a));
	CHECK(sim_delivered(s, RAFT_MSG_INSTALL_SNAPSHOT) >= 1);
	CHECK_INT_EQ(raft_snapshot_index(sim_raft(s, f)), raft_snapshot_index(sim_raft(s, l)));
	/* And replication continues normally after it. */
	CHECK_INT_EQ(sim_propose(s, l, &idx), 0);
	a.index = idx;
	CHECK(sim_run_until_pred(s, 2000, all_applied, &a));
	sim_free(s);
}

UNIT_TEST(replication_survives_a_lossy_duplicating_reordering_network)
{
	struct sim_config c = { .n_nodes = 5, .n_voters = 5, .drop_pct = 20, .dup_pct = 10,
	    .net_min_ms = 1, .net_max_ms = 20 };
	struct sim *s = sim_new(14, &c);
	uint64_t idx = 0;
	for (int k = 0; k < 200; k++) {
		int l = sim_leader(s);
		if (l >= 0)
			sim_propose(s, (unsigned)l, NULL);
		CHECK(sim_run_for(s, 5));
	}
	sim_set_drop(s, 0, 0);
	CHECK(sim_run_until_pred(s, 3000, has_leader, NULL));
	CHECK_INT_EQ(sim_propose(s, (unsigned)sim_leader(s), &idx), 0);
	struct applied_arg a = { idx, 31 };
	CHECK(sim_run_until_pred(s, 3000, all_applied, &a));
	sim_free(s);
}

UNIT_MAIN()
