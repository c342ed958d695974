/*
 * Unit tests of log replication in the Raft core (pkg/raft/replication.c,
 * recv_append_entries.c, recv_append_entries_result.c, recv_install_snapshot.c,
 * read.c, ready.c), driving one core with hand-made messages and reading the ready
 * batches it returns: AppendEntries and its results, commitment, read index,
 * InstallSnapshot, and ready batches. Comments cite the paper's rule each test pins
 * down.
 */
#include "unit.h"

#include "raft/raft.h"
#include "raft_rpc_helpers.h"

/* AppendEntries -------------------------------------------------------------------------- */

UNIT_TEST(follower_rejects_entries_whose_predecessor_does_not_match_with_conflict_hints)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t[] = { 2, 2, 2 };
	collect(r, &o);
	append(r, 150, "2", 2, 1, 1, 0, t, 3);	/* log: 1@1 2@2 3@2 4@2 */
	collect(r, &o);
	/* Leader of term 3 probes at 4 with term 3: we hold term 2 there since index 2. */
	append(r, 300, "3", 3, 4, 3, 0, NULL, 0);
	collect(r, &o);
	const struct raft_message *m = find(&o, RAFT_MSG_APPEND_ENTRIES_RESULT, "3");
	CHECK(m != NULL);
	CHECK(!m->append_entries_result.success);
	CHECK_INT_EQ(m->append_entries_result.index, 4);
	CHECK_INT_EQ(m->append_entries_result.conflict_term, 2);
	CHECK_INT_EQ(m->append_entries_result.conflict_index, 2);
	/* Beyond our log: the hint is our length. */
	append(r, 301, "3", 3, 9, 3, 0, NULL, 0);
	collect(r, &o);
	m = find(&o, RAFT_MSG_APPEND_ENTRIES_RESULT, "3");
	CHECK_INT_EQ(m->append_entries_result.conflict_term, 0);
	CHECK_INT_EQ(m->append_entries_result.last_index, 4);
	raft_free(r);
}

UNIT_TEST(follower_deletes_conflicting_entries_and_tells_the_store_to_truncate)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t2[] = { 2, 2, 2 }, t3[] = { 3, 3 };
	collect(r, &o);
	append(r, 150, "2", 2, 1, 1, 0, t2, 3);
	collect(r, &o);
	raft_persisted(r, 4, 2);
	collect(r, &o);
	/* §5.3: an entry conflicting with a new one is deleted with all that follow it. */
	append(r, 300, "3", 3, 2, 2, 0, t3, 2);
	collect(r, &o);
	CHECK_INT_EQ(o.truncate_from, 3);
	CHECK_INT_EQ(o.n_entries, 2);
	CHECK_INT_EQ(raft_last_index(r), 4);
	CHECK_INT_EQ(raft_last_term(r), 3);
	CHECK_INT_EQ(raft_persisted_index(r), 2);
	/* A late report about the overwritten entries changes nothing. */
	raft_persisted(r, 4, 2);
	CHECK_INT_EQ(raft_persisted_index(r), 2);
	raft_persisted(r, 4, 3);
	CHECK_INT_EQ(raft_persisted_index(r), 4);
	raft_free(r);
}

UNIT_TEST(follower_acknowledges_entries_only_once_they_are_persisted)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t[] = { 2, 2 };
	collect(r, &o);
	append(r, 150, "2", 2, 1, 1, 0, t, 2);
	collect(r, &o);
	CHECK(find(&o, RAFT_MSG_APPEND_ENTRIES_RESULT, "2") == NULL);
	raft_persisted(r, 2, 2);
	collect(r, &o);
	const struct raft_message *m = find(&o, RAFT_MSG_APPEND_ENTRIES_RESULT, "2");
	CHECK(m != NULL && m->append_entries_result.success);
	CHECK_INT_EQ(m->append_entries_result.index, 2);
	raft_persisted(r, 3, 2);
	collect(r, &o);
	m = find(&o, RAFT_MSG_APPEND_ENTRIES_RESULT, "2");
	CHECK(m != NULL);
	CHECK_INT_EQ(m->append_entries_result.index, 3);
	raft_free(r);
}

UNIT_TEST(follower_commit_follows_the_leader_but_not_past_its_last_new_entry)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t[] = { 2, 2 };
	collect(r, &o);
	append(r, 150, "2", 2, 1, 1, 9, t, 2);
	CHECK_INT_EQ(raft_commit_index(r), 3);
	collect(r, &o);
	/* Committed but not yet durable here: nothing is applied yet. */
	CHECK_INT_EQ(o.n_committed, 0);
	raft_persisted(r, 3, 2);
	collect(r, &o);
	CHECK_INT_EQ(o.n_committed, 3);
	raft_free(r);
}

UNIT_TEST(append_entries_from_a_stale_term_is_rejected_with_the_current_term)
{
	struct raft *r = node("1", false);
	struct out o;
	collect(r, &o);
	vote_req(r, 150, "2", 4, 1, 1, false, false);
	collect(r, &o);
	append(r, 160, "3", 3, 1, 1, 0, NULL, 0);
	collect(r, &o);
	const struct raft_message *m = find(&o, RAFT_MSG_APPEND_ENTRIES_RESULT, "3");
	CHECK(m != NULL && !m->append_entries_result.success);
	CHECK_INT_EQ(m->term, 4);
	CHECK_STR_EQ(raft_leader_id(r), "");
	raft_free(r);
}

UNIT_TEST(malformed_append_entries_is_refused_without_changing_anything)
{
	struct raft *r = node("1", false);
	struct out o;
	struct raft_entry es[2] = {
		{ .index = 2, .term = 2, .type = RAFT_ENTRY_NORMAL },
		{ .index = 4, .term = 2, .type = RAFT_ENTRY_NORMAL },
	};
	struct raft_message m = msg(RAFT_MSG_APPEND_ENTRIES, "2", "1", 2);
	collect(r, &o);
	m.append_entries.prev_index = 1;
	m.append_entries.prev_term = 1;
	m.append_entries.entries = es;
	m.append_entries.n_entries = 2;
	CHECK_INT_EQ(raft_recv(r, 150, &m), RAFT_EINVAL);
	es[1].index = 3;
	es[1].term = 5;	/* newer than the message's term */
	CHECK_INT_EQ(raft_recv(r, 150, &m), RAFT_EINVAL);
	CHECK_INT_EQ(raft_term(r), 1);
	CHECK_INT_EQ(raft_last_index(r), 1);
	raft_free(r);
}

/* AppendEntriesResult ------------------------------------------------------------------- */

UNIT_TEST(leader_skips_a_whole_conflicting_term_when_backing_up)
{
	/* Leader: 1@1 2@2 3@2 4@5, elected in term 6 (no-op 5@6). Follower 3 holds 3..6 of
	 * term 4, which the leader never had: one rejection moves next to 3 (§5.3, end). */
	uint64_t terms[] = { 2, 2, 5 };
	struct raft *r = loaded(terms, 3, 5);
	struct out o;
	collect(r, &o);
	raft_tick(r, raft_next_timeout(r));
	vote_res(r, 300, "2", 6, true, false);
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	collect(r, &o);
	const struct raft_message *m = find(&o, RAFT_MSG_APPEND_ENTRIES, "3");
	CHECK(m != NULL);
	CHECK_INT_EQ(m->append_entries.prev_index, 4);
	CHECK_INT_EQ(m->append_entries.prev_term, 5);
	append_res(r, 301, "3", 6, false, 4, 6, 4, 3, 0);
	collect(r, &o);
	m = find(&o, RAFT_MSG_APPEND_ENTRIES, "3");
	CHECK(m != NULL);
	CHECK_INT_EQ(m->append_entries.prev_index, 2);
	CHECK_INT_EQ(m->append_entries.prev_term, 2);
	CHECK_INT_EQ(m->append_entries.n_entries, 3);
	/* A follower whose conflicting term the leader does have resumes after our last entry
	 * of that term: follower 2 holds 2..4 of term 2. */
	append_res(r, 302, "2", 6, false, 4, 4, 2, 2, 0);
	collect(r, &o);
	m = find(&o, RAFT_MSG_APPEND_ENTRIES, "2");
	CHECK(m != NULL);
	CHECK_INT_EQ(m->append_entries.prev_index, 3);
	raft_free(r);
}

UNIT_TEST(leader_pipelines_appends_up_to_its_inflight_limit)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t = elect(r, &o);
	/* Follower 2 matches the no-op, entering the replicate state. */
	append_res(r, t + 1, "2", 2, true, 2, 2, 0, 0, 0);
	collect(r, &o);
	unsigned sent = 0;
	for (int k = 0; k < 6; k++) {
		raft_propose(r, "p", 1, NULL, NULL);
		collect(r, &o);
		sent += count(&o, RAFT_MSG_APPEND_ENTRIES, "2");
	}
	/* max_inflight is 4: the rest waits for acknowledgements. */
	CHECK_INT_EQ(sent, 4);
	append_res(r, t + 2, "2", 2, true, 4, 4, 0, 0, 0);
	collect(r, &o);
	/* Two slots freed; the two waiting entries go out together. */
	const struct raft_message *m = find(&o, RAFT_MSG_APPEND_ENTRIES, "2");
	CHECK_INT_EQ(count(&o, RAFT_MSG_APPEND_ENTRIES, "2"), 1);
	CHECK_INT_EQ(m->append_entries.prev_index, 6);
	CHECK_INT_EQ(m->append_entries.n_entries, 2);
	raft_free(r);
}

UNIT_TEST(leader_never_commits_an_entry_of_a_previous_term_by_counting_replicas)
{
	/* Figure 8 (§5.4.2): node 1 holds entry 2@2 from an old term and becomes leader of
	 * term 4; a majority storing 2@2 does not commit it until an entry of term 4 is
	 * stored on a majority too. */
	struct raft_entry es[2] = {
		{ .index = 1, .term = 1, .type = RAFT_ENTRY_CONFIG },
		{ .index = 2, .term = 2, .type = RAFT_ENTRY_NORMAL, .data = "old", .len = 3 },
	};
	struct raft_config c;
	void *buf;
	struct out o;
	struct raft_options opts = { .id = "1", .address = "n1:4002", .election_timeout_ms = ET,
	    .disable_prevote = true, .seed = 1 };
	struct raft *r;

	raft_config_init(&c);
	raft_config_add(&c, "1", "n1:4002", RAFT_VOTER);
	raft_config_add(&c, "2", "n2:4002", RAFT_VOTER);
	raft_config_add(&c, "3", "n3:4002", RAFT_VOTER);
	raft_config_encode(&c, &buf, &es[0].len);
	es[0].data = buf;
	CHECK_INT_EQ(raft_new(&opts, &r), 0);
	CHECK_INT_EQ(raft_load(r, 3, "", NULL, es, 2), 0);
	free(buf);
	raft_config_free(&c);
	raft_start(r, 0);
	collect(r, &o);
	raft_tick(r, raft_next_timeout(r));
	CHECK_INT_EQ(raft_term(r), 4);
	vote_res(r, 300, "2", 4, true, false);
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	collect(r, &o);		/* no-op 3@4 to persist */
	/* Follower 2 acknowledges up to 2 only: 2@2 is on a majority, but of term 2. */
	append_res(r, 301, "2", 4, true, 2, 2, 0, 0, 0);
	CHECK_INT_EQ(raft_commit_index(r), 0);
	raft_persisted(r, 3, 4);
	CHECK_INT_EQ(raft_commit_index(r), 0);
	/* Once 3@4 is on a majority, everything before it commits with it. */
	append_res(r, 302, "2", 4, true, 3, 3, 0, 0, 0);
	CHECK_INT_EQ(raft_commit_index(r), 3);
	raft_free(r);
}

UNIT_TEST(leader_steps_down_when_a_reply_carries_a_higher_term)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t = elect(r, &o);
	CHECK_INT_EQ(raft_read_index(r, t, 77), 0);
	append_res(r, t + 1, "3", 9, false, 0, 0, 0, 0, 0);
	CHECK_INT_EQ(raft_state(r), RAFT_FOLLOWER);
	CHECK_INT_EQ(raft_term(r), 9);
	struct raft_ready rd;
	raft_ready(r, &rd);
	CHECK_INT_EQ(rd.n_reads, 1);
	CHECK_INT_EQ(rd.reads[0].status, RAFT_ELEADERSHIPLOST);
	CHECK(rd.soft_state_changed);
	CHECK_INT_EQ(rd.state, RAFT_FOLLOWER);
	raft_free(r);
}

UNIT_TEST(read_index_is_released_only_after_a_quorum_acknowledges_a_later_round)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t = elect(r, &o);
	raft_persisted(r, 2, 2);
	append_res(r, t + 1, "2", 2, true, 2, 2, 0, 0, 0);
	CHECK_INT_EQ(raft_commit_index(r), 2);
	collect(r, &o);
	CHECK_INT_EQ(raft_read_index(r, t + 2, 5), 0);
	struct raft_ready rd;
	raft_ready(r, &rd);
	CHECK_INT_EQ(rd.n_reads, 0);
	/* The read triggered a heartbeat round; find its number. */
	uint64_t seq = 0;
	for (unsigned i = 0; i < rd.n_messages; i++)
		if (rd.messages[i].type == RAFT_MSG_APPEND_ENTRIES)
			seq = rd.messages[i].append_entries.seq;
	CHECK(seq > 0);
	/* Acks of older rounds do not count. */
	append_res(r, t + 3, "2", 2, true, 2, 2, 0, 0, seq - 1);
	raft_ready(r, &rd);
	CHECK_INT_EQ(rd.n_reads, 0);
	/* A rejection still proves the follower recognises this leader's term. */
	append_res(r, t + 4, "3", 2, false, 0, 1, 0, 0, seq);
	raft_ready(r, &rd);
	CHECK_INT_EQ(rd.n_reads, 1);
	CHECK_INT_EQ(rd.reads[0].cookie, 5);
	CHECK_INT_EQ(rd.reads[0].index, 2);
	raft_free(r);
}

/* InstallSnapshot ------------------------------------------------------------------------ */

UNIT_TEST(follower_installs_a_newer_snapshot_and_discards_its_log)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t[] = { 2 };
	struct raft_message m = msg(RAFT_MSG_INSTALL_SNAPSHOT, "2", "1", 3);
	collect(r, &o);
	append(r, 150, "3", 2, 1, 1, 0, t, 1);
	collect(r, &o);
	m.install_snapshot.meta.index = 50;
	m.install_snapshot.meta.term = 3;
	raft_config_init(&m.install_snapshot.meta.config);
	raft_config_add(&m.install_snapshot.meta.config, "1", "n1:4002", RAFT_VOTER);
	raft_config_add(&m.install_snapshot.meta.config, "2", "n2:4002", RAFT_VOTER);
	CHECK_INT_EQ(raft_recv(r, 300, &m), 0);
	raft_config_free(&m.install_snapshot.meta.config);
	collect(r, &o);
	CHECK(o.snapshot);
	CHECK_INT_EQ(o.snapshot_index, 50);
	CHECK_INT_EQ(o.truncate_from, 51);
	CHECK_INT_EQ(raft_commit_index(r), 50);
	CHECK_INT_EQ(raft_last_index(r), 50);
	CHECK_INT_EQ(raft_last_term(r), 3);
	CHECK_INT_EQ(raft_configuration(r)->n, 2);
	CHECK_STR_EQ(raft_leader_id(r), "2");
	const struct raft_message *res = find(&o, RAFT_MSG_APPEND_ENTRIES_RESULT, "2");
	CHECK(res != NULL && res->append_entries_result.success);
	CHECK_INT_EQ(res->append_entries_result.index, 50);
	/* Replication continues after it. */
	uint64_t t4[] = { 3 };
	append(r, 301, "2", 3, 50, 3, 51, t4, 1);
	CHECK_INT_EQ(raft_last_index(r), 51);
	raft_free(r);
}

UNIT_TEST(leader_sends_a_snapshot_to_a_follower_that_needs_compacted_entries)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t = elect(r, &o);
	raft_persisted(r, 2, 2);
	append_res(r, t + 1, "2", 2, true, 2, 2, 0, 0, 0);
	for (int i = 0; i < 5; i++)
		raft_propose(r, "p", 1, NULL, NULL);
	collect(r, &o);
	raft_persisted(r, 7, 2);
	append_res(r, t + 2, "2", 2, true, 7, 7, 0, 0, 0);
	collect(r, &o);
	CHECK_INT_EQ(raft_commit_index(r), 7);
	raft_applied(r, 7);
	CHECK_INT_EQ(raft_snapshot_taken(r, 7, 0, NULL), 0);
	/* Follower 3 turns out to have nothing. */
	append_res(r, t + 3, "3", 2, false, 1, 0, 0, 0, 0);
	collect(r, &o);
	const struct raft_message *m = find(&o, RAFT_MSG_INSTALL_SNAPSHOT, "3");
	CHECK(m != NULL);
	CHECK_INT_EQ(m->install_snapshot.meta.index, 7);
	CHECK_INT_EQ(m->install_snapshot.meta.term, 2);
	CHECK_INT_EQ(m->install_snapshot.meta.config.n, 3);
	CHECK_STR_EQ(m->to_address, "n3:4002");
	raft_free(r);
}

UNIT_TEST(ready_batches_stay_valid_while_the_core_moves_on)
{
	struct raft *r = node("1", false);
	struct raft_ready rd;
	collect(r, &(struct out){ 0 });
	vote_req(r, 150, "2", 2, 1, 1, false, false);
	raft_ready(r, &rd);
	CHECK(rd.hard_state_changed);
	/* Later events change term and vote; the batch still says what was decided. */
	vote_req(r, 400, "3", 3, 1, 1, false, false);
	CHECK_STR_EQ(raft_voted_for(r), "3");
	CHECK_STR_EQ(rd.vote, "2");
	CHECK_INT_EQ(rd.term, 2);
	CHECK_INT_EQ(rd.n_messages, 1);
	CHECK_STR_EQ(rd.messages[0].to, "2");
	raft_free(r);
}

UNIT_TEST(leader_replicates_a_batch_of_proposals_before_its_own_write_completes)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t = elect(r, &o);
	append_res(r, t + 1, "2", 2, true, 2, 2, 0, 0, 0);
	append_res(r, t + 1, "3", 2, true, 2, 2, 0, 0, 0);
	collect(r, &o);
	for (int i = 0; i < 10; i++)
		CHECK_INT_EQ(raft_propose(r, "p", 1, NULL, NULL), 0);
	collect(r, &o);
	/* Group commit: one batch to persist, one AppendEntries per follower carrying all. */
	CHECK_INT_EQ(o.n_entries, 10);
	CHECK_INT_EQ(count(&o, RAFT_MSG_APPEND_ENTRIES, "2"), 1);
	CHECK_INT_EQ(find(&o, RAFT_MSG_APPEND_ENTRIES, "3")->append_entries.n_entries, 10);
	CHECK_INT_EQ(raft_persisted_index(r), 0);
	/* Followers' acknowledgements commit without the leader's own write. */
	append_res(r, t + 2, "2", 2, true, 12, 12, 0, 0, 0);
	append_res(r, t + 2, "3", 2, true, 12, 12, 0, 0, 0);
	CHECK_INT_EQ(raft_commit_index(r), 12);
	collect(r, &o);
	CHECK_INT_EQ(o.n_committed, 0);	/* but nothing is applied that is not durable here */
	raft_persisted(r, 12, 2);
	collect(r, &o);
	CHECK_INT_EQ(o.n_committed, 12);
	raft_free(r);
}

UNIT_MAIN()
