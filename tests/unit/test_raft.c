/*
 * Unit tests for the pure Raft core on a single node: bootstrap, the propose → persist →
 * commit → apply path, restart from loaded state, snapshots, reads, and the small helpers
 * (errors, configuration codec). Multi-node behaviour is in test_raft_election.c,
 * test_raft_replication.c and the simulator in tests/raft/.
 */
#include "unit.h"

#include "raft/raft.h"

/* What a fake consensus process saw across ready batches. */
struct seen {
	uint64_t term;
	char vote[RAFT_ID_MAX];
	unsigned hs_writes;
	uint64_t last_persisted_index, last_persisted_term;	/* end of entries handed out */
	unsigned n_entries;
	struct raft_entry entries[64];	/* shallow: only index/term/type checked */
	unsigned n_committed;
	uint64_t committed_index[64];
	enum raft_entry_type committed_type[64];
	char committed_data[64][16];
	unsigned n_messages;
	unsigned n_reads;
	struct raft_read reads[16];
	uint64_t truncate_from;
};

static void
drain(struct raft *r, struct seen *s)
{
	struct raft_ready rd;
	while (raft_has_ready(r)) {
		if (raft_ready(r, &rd) != 0)
			abort();
		if (rd.hard_state_changed) {
			s->term = rd.term;
			snprintf(s->vote, sizeof(s->vote), "%s", rd.vote);
			s->hs_writes++;
		}
		if (rd.truncate_from)
			s->truncate_from = rd.truncate_from;
		for (unsigned i = 0; i < rd.n_entries && s->n_entries < 64; i++) {
			s->entries[s->n_entries] = rd.entries[i];
			s->entries[s->n_entries].data = NULL;
			s->n_entries++;
			s->last_persisted_index = rd.entries[i].index;
			s->last_persisted_term = rd.entries[i].term;
		}
		s->n_messages += rd.n_messages;
		for (unsigned i = 0; i < rd.n_committed && s->n_committed < 64; i++) {
			const struct raft_entry *e = &rd.committed[i];
			s->committed_index[s->n_committed] = e->index;
			s->committed_type[s->n_committed] = e->type;
			snprintf(s->committed_data[s->n_committed], 16, "%.*s",
			    (int)(e->len < 15 ? e->len : 15), e->data ? (const char *)e->data : "");
			s->n_committed++;
		}
		for (unsigned i = 0; i < rd.n_reads && s->n_reads < 16; i++)
			s->reads[s->n_reads++] = rd.reads[i];
	}
}

static struct raft *
new_node(const char *id, const char *addr)
{
	struct raft_options o = { .id = id, .address = addr, .election_timeout_ms = 100,
	    .seed = 7 };
	struct raft *r = NULL;
	if (raft_new(&o, &r) != 0)
		abort();
	return r;
}

static struct raft *
bootstrapped_single(void)
{
	struct raft_config c;
	struct raft *r = new_node("1", "localhost:4002");
	raft_config_init(&c);
	raft_config_add(&c, "1", "localhost:4002", RAFT_VOTER);
	if (raft_bootstrap(r, &c) != 0 || raft_start(r, 1000) != 0)
		abort();
	raft_config_free(&c);
	return r;
}

UNIT_TEST(strerror_names_every_code_and_unknown_ones)
{
	CHECK_STR_EQ(raft_strerror(RAFT_OK), "ok");
	CHECK_STR_EQ(raft_strerror(RAFT_ENOTLEADER), "not leader");
	CHECK_STR_EQ(raft_strerror(RAFT_ECONFIGBUSY), "configuration change already in progress");
	CHECK_STR_EQ(raft_strerror(-999), "unknown raft error");
	CHECK_STR_EQ(raft_state_name(RAFT_LEADER), "Leader");
	CHECK_STR_EQ(raft_message_type_name(RAFT_MSG_TIMEOUT_NOW), "TimeoutNow");
}

UNIT_TEST(config_round_trips_through_its_encoding)
{
	struct raft_config c, d;
	void *buf;
	size_t len;

	raft_config_init(&c);
	CHECK_INT_EQ(raft_config_add(&c, "1", "localhost:4002", RAFT_VOTER), 0);
	CHECK_INT_EQ(raft_config_add(&c, "node-two", "10.0.0.2:4002", RAFT_NONVOTER), 0);
	CHECK_INT_EQ(raft_config_add(&c, "1", "other:1", RAFT_VOTER), RAFT_EDUPLICATE);
	CHECK_INT_EQ(raft_config_add(&c, "3", "localhost:4002", RAFT_VOTER), RAFT_EDUPLICATE);
	CHECK_INT_EQ(raft_config_voters(&c), 1);
	CHECK_INT_EQ(raft_config_encode(&c, &buf, &len), 0);
	CHECK_INT_EQ(raft_config_decode(buf, len, &d), 0);
	CHECK_INT_EQ(d.n, 2);
	CHECK_STR_EQ(d.servers[1].id, "node-two");
	CHECK_STR_EQ(d.servers[1].address, "10.0.0.2:4002");
	CHECK_INT_EQ(d.servers[1].suffrage, RAFT_NONVOTER);
	raft_config_free(&d);
	/* Truncated and trailing-garbage inputs are refused, never read past. */
	for (size_t i = 0; i < len; i++)
		CHECK_INT_EQ(raft_config_decode(buf, i, &d), RAFT_ECORRUPT);
	free(buf);
	raft_config_free(&c);
}

UNIT_TEST(bootstrapped_single_node_becomes_leader_at_once_with_a_noop)
{
	struct seen s = { 0 };
	struct raft *r = bootstrapped_single();

	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	CHECK_STR_EQ(raft_leader_id(r), "1");
	CHECK_STR_EQ(raft_leader_address(r), "localhost:4002");
	CHECK_INT_EQ(raft_term(r), 2);
	drain(r, &s);
	/* Term and self-vote reach disk; the configuration entry and the no-op are to persist. */
	CHECK_INT_EQ(s.term, 2);
	CHECK_STR_EQ(s.vote, "1");
	CHECK_INT_EQ(s.n_entries, 2);
	CHECK_INT_EQ(s.entries[0].type, RAFT_ENTRY_CONFIG);
	CHECK_INT_EQ(s.entries[0].term, 1);
	CHECK_INT_EQ(s.entries[1].type, RAFT_ENTRY_NOOP);
	CHECK_INT_EQ(s.entries[1].term, 2);
	CHECK_INT_EQ(s.n_messages, 0);
	CHECK_INT_EQ(raft_commit_index(r), 0);
	CHECK(raft_is_voter(r));
	CHECK_INT_EQ(raft_last_contact(r, 5000), 0);
	raft_free(r);
}

UNIT_TEST(single_node_commits_as_soon_as_its_own_log_is_persisted)
{
	struct seen s = { 0 };
	struct raft *r = bootstrapped_single();
	uint64_t idx, term;

	drain(r, &s);
	CHECK_INT_EQ(raft_propose(r, "hello", 5, &idx, &term), 0);
	CHECK_INT_EQ(idx, 3);
	CHECK_INT_EQ(term, 2);
	CHECK_INT_EQ(raft_propose(r, "world", 5, &idx, NULL), 0);
	CHECK_INT_EQ(idx, 4);
	drain(r, &s);
	/* Group commit: both proposals in one batch. */
	CHECK_INT_EQ(s.n_entries, 4);
	CHECK_INT_EQ(raft_commit_index(r), 0);
	CHECK_INT_EQ(s.n_committed, 0);
	/* Partial persistence commits a prefix. */
	CHECK_INT_EQ(raft_persisted(r, 3, 2), 0);
	CHECK_INT_EQ(raft_commit_index(r), 3);
	drain(r, &s);
	CHECK_INT_EQ(s.n_committed, 3);
	CHECK_INT_EQ(s.committed_type[0], RAFT_ENTRY_CONFIG);
	CHECK_INT_EQ(s.committed_type[1], RAFT_ENTRY_NOOP);
	CHECK_STR_EQ(s.committed_data[2], "hello");
	CHECK_INT_EQ(raft_persisted(r, 4, 2), 0);
	drain(r, &s);
	CHECK_INT_EQ(s.n_committed, 4);
	CHECK_STR_EQ(s.committed_data[3], "world");
	CHECK_INT_EQ(raft_applied(r, 4), 0);
	CHECK_INT_EQ(raft_applied_index(r), 4);
	CHECK_INT_EQ(raft_applied(r, 5), RAFT_EINVAL);
	CHECK(!raft_has_ready(r));
	raft_free(r);
}

UNIT_TEST(persisted_reports_for_unknown_terms_or_unhanded_entries_are_ignored)
{
	struct seen s = { 0 };
	struct raft *r = bootstrapped_single();

	CHECK_INT_EQ(raft_persisted(r, 2, 2), 0);	/* not handed out yet */
	CHECK_INT_EQ(raft_persisted_index(r), 0);
	drain(r, &s);
	CHECK_INT_EQ(raft_persisted(r, 2, 1), 0);	/* wrong term */
	CHECK_INT_EQ(raft_persisted_index(r), 0);
	CHECK_INT_EQ(raft_persisted(r, 2, 2), 0);
	CHECK_INT_EQ(raft_persisted_index(r), 2);
	CHECK_INT_EQ(raft_commit_index(r), 2);
	raft_free(r);
}

UNIT_TEST(proposals_are_refused_by_a_node_that_is_not_leader)
{
	struct raft *r = new_node("2", "localhost:4004");
	CHECK_INT_EQ(raft_start(r, 0), 0);
	CHECK_INT_EQ(raft_state(r), RAFT_FOLLOWER);
	CHECK_INT_EQ(raft_propose(r, "x", 1, NULL, NULL), RAFT_ENOTLEADER);
	CHECK_INT_EQ(raft_read_index(r, 0, 1), RAFT_ENOTLEADER);
	CHECK(!raft_lease_valid(r, 0));
	CHECK_INT_EQ(raft_last_contact(r, 10), -1);
	/* An unjoined node never campaigns, however long it waits. */
	for (uint64_t t = 0; t < 10000; t += 50)
		CHECK_INT_EQ(raft_tick(r, t), 0);
	CHECK_INT_EQ(raft_state(r), RAFT_FOLLOWER);
	CHECK_INT_EQ(raft_term(r), 0);
	raft_free(r);
}

UNIT_TEST(bootstrap_is_refused_on_a_node_with_state)
{
	struct raft_config c;
	struct raft *r = bootstrapped_single();
	raft_config_init(&c);
	raft_config_add(&c, "1", "localhost:4002", RAFT_VOTER);
	CHECK_INT_EQ(raft_bootstrap(r, &c), RAFT_EBADSTATE);
	raft_config_free(&c);
	raft_free(r);
}

UNIT_TEST(restarted_single_node_reloads_state_and_reapplies_committed_entries)
{
	struct seen s = { 0 };
	struct raft *r = bootstrapped_single();
	struct raft_entry saved[8];
	char data[8][64];
	unsigned n = 0;
	struct raft_ready rd;

	/* Run once, remembering what was persisted as a durable log would. */
	CHECK_INT_EQ(raft_propose(r, "a", 1, NULL, NULL), 0);
	CHECK_INT_EQ(raft_propose(r, "b", 1, NULL, NULL), 0);
	CHECK_INT_EQ(raft_ready(r, &rd), 0);
	CHECK_INT_EQ(rd.n_entries, 4);
	for (unsigned i = 0; i < rd.n_entries; i++) {
		saved[n] = rd.entries[i];
		memset(data[n], 0, sizeof(data[n]));
		memcpy(data[n], rd.entries[i].data ? rd.entries[i].data : "", rd.entries[i].len);
		saved[n].data = rd.entries[i].len ? data[n] : NULL;
		n++;
	}
	uint64_t term = rd.term;
	CHECK_INT_EQ(raft_persisted(r, 4, 2), 0);
	CHECK_INT_EQ(raft_commit_index(r), 4);
	raft_free(r);

	r = new_node("1", "localhost:4002");
	CHECK_INT_EQ(raft_load(r, term, "1", NULL, saved, n), 0);
	CHECK_INT_EQ(raft_last_index(r), 4);
	CHECK_INT_EQ(raft_commit_index(r), 0);
	CHECK_INT_EQ(raft_configuration(r)->n, 1);
	CHECK_INT_EQ(raft_start(r, 50000), 0);
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	CHECK_INT_EQ(raft_term(r), 3);
	drain(r, &s);
	CHECK_INT_EQ(s.n_entries, 1);	/* only the new no-op */
	CHECK_INT_EQ(s.entries[0].index, 5);
	CHECK_INT_EQ(raft_persisted(r, 5, 3), 0);
	drain(r, &s);
	CHECK_INT_EQ(s.n_committed, 5);
	CHECK_STR_EQ(s.committed_data[2], "a");
	CHECK_STR_EQ(s.committed_data[3], "b");
	raft_free(r);
}

UNIT_TEST(load_refuses_a_log_with_holes)
{
	struct raft_entry e[2] = {
		{ .index = 1, .term = 1, .type = RAFT_ENTRY_NOOP },
		{ .index = 3, .term = 1, .type = RAFT_ENTRY_NOOP },
	};
	struct raft *r = new_node("1", "a");
	CHECK_INT_EQ(raft_load(r, 1, "", NULL, e, 2), RAFT_EINVAL);
	raft_free(r);
}

UNIT_TEST(single_node_read_index_waits_for_the_noop_to_commit)
{
	struct seen s = { 0 };
	struct raft *r = bootstrapped_single();

	CHECK_INT_EQ(raft_read_index(r, 1000, 42), 0);
	drain(r, &s);
	CHECK_INT_EQ(s.n_reads, 0);
	CHECK_INT_EQ(raft_persisted(r, 2, 2), 0);
	drain(r, &s);
	CHECK_INT_EQ(s.n_reads, 1);
	CHECK_INT_EQ(s.reads[0].cookie, 42);
	CHECK_INT_EQ(s.reads[0].status, 0);
	CHECK_INT_EQ(s.reads[0].index, 2);
	/* Later reads are released at once with the current commit index. */
	CHECK_INT_EQ(raft_read_index(r, 1001, 43), 0);
	drain(r, &s);
	CHECK_INT_EQ(s.n_reads, 2);
	CHECK_INT_EQ(s.reads[1].index, 2);
	CHECK(raft_lease_valid(r, 99999));
	raft_free(r);
}

UNIT_TEST(shutdown_fails_pending_reads_and_refuses_events)
{
	struct seen s = { 0 };
	struct raft *r = bootstrapped_single();

	CHECK_INT_EQ(raft_read_index(r, 1000, 7), 0);
	raft_shutdown(r);
	CHECK_INT_EQ(raft_state(r), RAFT_SHUTDOWN);
	drain(r, &s);
	CHECK_INT_EQ(s.n_reads, 1);
	CHECK_INT_EQ(s.reads[0].status, RAFT_ESHUTDOWN);
	CHECK_INT_EQ(raft_tick(r, 2000), RAFT_ESHUTDOWN);
	CHECK_INT_EQ(raft_propose(r, "x", 1, NULL, NULL), RAFT_ESHUTDOWN);
	raft_free(r);
}

UNIT_TEST(snapshot_forgets_entries_before_it_but_keeps_a_trailing_tail)
{
	struct seen s = { 0 };
	struct raft *r = bootstrapped_single();
	struct raft_snapshot_meta meta;

	drain(r, &s);
	for (int i = 0; i < 10; i++)
		CHECK_INT_EQ(raft_propose(r, "x", 1, NULL, NULL), 0);
	drain(r, &s);
	CHECK_INT_EQ(raft_persisted(r, 12, 2), 0);
	drain(r, &s);
	CHECK_INT_EQ(s.n_committed, 12);
	CHECK_INT_EQ(raft_snapshot_taken(r, 10, 2, &meta), RAFT_EINVAL);	/* not applied */
	CHECK_INT_EQ(raft_applied(r, 12), 0);
	CHECK_INT_EQ(raft_snapshot_taken(r, 10, 2, &meta), 0);
	CHECK_INT_EQ(meta.index, 10);
	CHECK_INT_EQ(meta.term, 2);
	CHECK_INT_EQ(meta.config.n, 1);
	CHECK_STR_EQ(meta.config.servers[0].id, "1");
	CHECK(raft_entry_at(r, 8) == NULL);
	CHECK(raft_entry_at(r, 9) != NULL);
	CHECK_INT_EQ(raft_snapshot_index(r), 10);
	CHECK_INT_EQ(raft_last_index(r), 12);
	CHECK_INT_EQ(raft_propose(r, "y", 1, NULL, NULL), 0);
	drain(r, &s);
	CHECK_INT_EQ(raft_persisted(r, 13, 2), 0);
	CHECK_INT_EQ(raft_commit_index(r), 13);
	raft_free(r);
}

UNIT_TEST(restart_from_snapshot_starts_commit_and_applied_at_it)
{
	struct seen s = { 0 };
	struct raft_snapshot_meta meta = { .index = 10, .term = 2 };
	struct raft_entry e[2] = {
		{ .index = 11, .term = 2, .type = RAFT_ENTRY_NORMAL, .data = "k", .len = 1 },
		{ .index = 12, .term = 3, .type = RAFT_ENTRY_NOOP },
	};
	struct raft *r = new_node("1", "localhost:4002");

	raft_config_init(&meta.config);
	raft_config_add(&meta.config, "1", "localhost:4002", RAFT_VOTER);
	CHECK_INT_EQ(raft_load(r, 3, "1", &meta, e, 2), 0);
	raft_config_free(&meta.config);
	CHECK_INT_EQ(raft_commit_index(r), 10);
	CHECK_INT_EQ(raft_applied_index(r), 10);
	CHECK_INT_EQ(raft_configuration_index(r), 10);
	CHECK_INT_EQ(raft_start(r, 0), 0);
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	CHECK_INT_EQ(raft_term(r), 4);
	drain(r, &s);
	CHECK_INT_EQ(raft_persisted(r, 13, 4), 0);
	drain(r, &s);
	CHECK_INT_EQ(s.n_committed, 3);
	CHECK_INT_EQ(s.committed_index[0], 11);
	CHECK_STR_EQ(s.committed_data[0], "k");
	raft_free(r);
}

UNIT_TEST(single_node_can_add_a_nonvoter_without_losing_its_quorum)
{
	struct seen s = { 0 };
	struct raft *r = bootstrapped_single();
	uint64_t idx;

	drain(r, &s);
	CHECK_INT_EQ(raft_add_server(r, "2", "localhost:4004", RAFT_NONVOTER, &idx),
	    RAFT_ENOTREADY);
	CHECK_INT_EQ(raft_persisted(r, 2, 2), 0);
	CHECK_INT_EQ(raft_add_server(r, "2", "localhost:4004", RAFT_NONVOTER, &idx), 0);
	CHECK_INT_EQ(idx, 3);
	CHECK_INT_EQ(raft_configuration(r)->n, 2);
	CHECK_INT_EQ(raft_add_server(r, "3", "localhost:4006", RAFT_VOTER, NULL),
	    RAFT_ECONFIGBUSY);
	drain(r, &s);
	CHECK(s.n_messages > 0);	/* replication to the new server starts */
	CHECK_INT_EQ(raft_persisted(r, 3, 2), 0);
	CHECK_INT_EQ(raft_commit_index(r), 3);	/* the non-voter does not count */
	CHECK_INT_EQ(raft_remove_server(r, "9", NULL), RAFT_ENOTFOUND);
	CHECK_INT_EQ(raft_assign_suffrage(r, "2", RAFT_NONVOTER, NULL), RAFT_EINVAL);
	raft_free(r);
}
UNIT_MAIN()
