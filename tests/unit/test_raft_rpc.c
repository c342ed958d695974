/*
 * Unit tests per RPC of the Raft core, driving one core with hand-made messages and reading
 * the ready batches it returns: RequestVote (and pre-vote), AppendEntries, their results,
 * InstallSnapshot and TimeoutNow. Comments cite the paper's rule each test pins down.
 */
#include "unit.h"

#include "raft/raft.h"

#define ET 100	/* election timeout used throughout */

struct out {
	unsigned n;
	struct raft_message m[32];	/* entries pointers are not valid, see first/n_entries */
	uint64_t first_index[32];
	bool hard_state_changed;
	uint64_t term;
	char vote[RAFT_ID_MAX];
	uint64_t truncate_from;
	unsigned n_entries;
	uint64_t last_entry_index;
	unsigned n_committed;
	bool snapshot;
	uint64_t snapshot_index;
};

/* Drains every ready batch into *o (cleared first). */
static void
collect(struct raft *r, struct out *o)
{
	struct raft_ready rd;
	memset(o, 0, sizeof(*o));
	while (raft_has_ready(r)) {
		if (raft_ready(r, &rd) != 0)
			abort();
		if (rd.hard_state_changed) {
			o->hard_state_changed = true;
			o->term = rd.term;
			snprintf(o->vote, sizeof(o->vote), "%s", rd.vote);
		}
		if (rd.truncate_from)
			o->truncate_from = rd.truncate_from;
		o->n_entries += rd.n_entries;
		if (rd.n_entries)
			o->last_entry_index = rd.entries[rd.n_entries - 1].index;
		o->n_committed += rd.n_committed;
		if (rd.snapshot) {
			o->snapshot = true;
			o->snapshot_index = rd.snapshot->index;
		}
		for (unsigned i = 0; i < rd.n_messages && o->n < 32; i++) {
			o->m[o->n] = rd.messages[i];
			o->first_index[o->n] = rd.messages[i].type == RAFT_MSG_APPEND_ENTRIES &&
			    rd.messages[i].append_entries.n_entries ?
			    rd.messages[i].append_entries.entries[0].index : 0;
			o->n++;
		}
	}
}

static const struct raft_message *
find(const struct out *o, enum raft_message_type t, const char *to)
{
	for (unsigned i = 0; i < o->n; i++)
		if (o->m[i].type == t && (to == NULL || strcmp(o->m[i].to, to) == 0))
			return &o->m[i];
	return NULL;
}

static unsigned
count(const struct out *o, enum raft_message_type t, const char *to)
{
	unsigned c = 0;
	for (unsigned i = 0; i < o->n; i++)
		if (o->m[i].type == t && (to == NULL || strcmp(o->m[i].to, to) == 0))
			c++;
	return c;
}

/* Node `id` of the voters {1,2,3}, bootstrapped and started at time 0. */
static struct raft *
node(const char *id, bool prevote)
{
	struct raft_options o = { .id = id, .election_timeout_ms = ET, .max_inflight = 4,
	    .disable_prevote = !prevote, .seed = 3 };
	struct raft_config c;
	struct raft *r;
	char addr[32];

	snprintf(addr, sizeof(addr), "n%s:4002", id);
	o.address = addr;
	if (raft_new(&o, &r) != 0)
		abort();
	raft_config_init(&c);
	raft_config_add(&c, "1", "n1:4002", RAFT_VOTER);
	raft_config_add(&c, "2", "n2:4002", RAFT_VOTER);
	raft_config_add(&c, "3", "n3:4002", RAFT_VOTER);
	if (raft_bootstrap(r, &c) != 0 || raft_start(r, 0) != 0)
		abort();
	raft_config_free(&c);
	return r;
}

static struct raft_message
msg(enum raft_message_type t, const char *from, const char *to, uint64_t term)
{
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = t;
	snprintf(m.from, sizeof(m.from), "%s", from);
	snprintf(m.to, sizeof(m.to), "%s", to);
	m.term = term;
	return m;
}

static int
vote_req(struct raft *r, uint64_t now, const char *from, uint64_t term, uint64_t li,
    uint64_t lt, bool prevote, bool transfer)
{
	struct raft_message m = msg(RAFT_MSG_REQUEST_VOTE, from, raft_id(r), term);
	m.request_vote.last_log_index = li;
	m.request_vote.last_log_term = lt;
	m.request_vote.prevote = prevote;
	m.request_vote.transfer = transfer;
	return raft_recv(r, now, &m);
}

static int
vote_res(struct raft *r, uint64_t now, const char *from, uint64_t term, bool granted,
    bool prevote)
{
	struct raft_message m = msg(RAFT_MSG_REQUEST_VOTE_RESULT, from, raft_id(r), term);
	m.request_vote_result.granted = granted;
	m.request_vote_result.prevote = prevote;
	return raft_recv(r, now, &m);
}

static int
append(struct raft *r, uint64_t now, const char *from, uint64_t term, uint64_t prev,
    uint64_t prev_term, uint64_t commit, const uint64_t *terms, unsigned n)
{
	struct raft_entry es[16];
	struct raft_message m = msg(RAFT_MSG_APPEND_ENTRIES, from, raft_id(r), term);
	for (unsigned i = 0; i < n; i++)
		es[i] = (struct raft_entry){ .index = prev + 1 + i, .term = terms[i],
		    .type = RAFT_ENTRY_NORMAL, .data = "x", .len = 1 };
	m.append_entries.prev_index = prev;
	m.append_entries.prev_term = prev_term;
	m.append_entries.leader_commit = commit;
	m.append_entries.entries = es;
	m.append_entries.n_entries = n;
	m.append_entries.seq = 1;
	return raft_recv(r, now, &m);
}

static int
append_res(struct raft *r, uint64_t now, const char *from, uint64_t term, bool ok,
    uint64_t index, uint64_t last, uint64_t cterm, uint64_t cindex, uint64_t seq)
{
	struct raft_message m = msg(RAFT_MSG_APPEND_ENTRIES_RESULT, from, raft_id(r), term);
	m.append_entries_result.success = ok;
	m.append_entries_result.index = index;
	m.append_entries_result.last_index = last;
	m.append_entries_result.conflict_term = cterm;
	m.append_entries_result.conflict_index = cindex;
	m.append_entries_result.seq = seq;
	return raft_recv(r, now, &m);
}

/* Makes node 1 leader of term 2 (no pre-vote) with votes from 2; returns the time. */
static uint64_t
elect(struct raft *r, struct out *o)
{
	uint64_t t = raft_next_timeout(r);
	raft_tick(r, t);
	collect(r, o);
	vote_res(r, t, "2", raft_term(r), true, false);
	collect(r, o);
	return t;
}

/* RequestVote ---------------------------------------------------------------------------- */

UNIT_TEST(follower_grants_its_vote_and_persists_it_in_the_same_batch_before_replying)
{
	struct raft *r = node("1", false);
	struct out o;
	collect(r, &o);
	CHECK_INT_EQ(vote_req(r, 150, "2", 2, 1, 1, false, false), 0);
	collect(r, &o);
	/* currentTerm and votedFor are persistent state updated before responding (§5.1 fig 2). */
	CHECK(o.hard_state_changed);
	CHECK_INT_EQ(o.term, 2);
	CHECK_STR_EQ(o.vote, "2");
	const struct raft_message *m = find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "2");
	CHECK(m != NULL);
	CHECK(m->request_vote_result.granted);
	CHECK_INT_EQ(m->term, 2);
	raft_free(r);
}

UNIT_TEST(follower_votes_at_most_once_per_term)
{
	struct raft *r = node("1", false);
	struct out o;
	collect(r, &o);
	vote_req(r, 150, "2", 2, 1, 1, false, false);
	collect(r, &o);
	vote_req(r, 151, "3", 2, 1, 1, false, false);
	collect(r, &o);
	const struct raft_message *m = find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "3");
	CHECK(m != NULL);
	CHECK(!m->request_vote_result.granted);
	CHECK_STR_EQ(raft_voted_for(r), "2");
	/* The same candidate asking again gets the same answer. */
	vote_req(r, 152, "2", 2, 1, 1, false, false);
	collect(r, &o);
	CHECK(find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "2")->request_vote_result.granted);
	raft_free(r);
}

UNIT_TEST(vote_is_refused_to_a_candidate_whose_log_is_less_up_to_date)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t2[] = { 2 };
	collect(r, &o);
	/* Our log: 1@1, 2@2. */
	append(r, 150, "2", 2, 1, 1, 0, t2, 1);
	collect(r, &o);
	/* §5.4.1: same last term but shorter log, then older last term. */
	vote_req(r, 400, "3", 3, 1, 2, false, false);
	collect(r, &o);
	CHECK(!find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "3")->request_vote_result.granted);
	CHECK_INT_EQ(raft_term(r), 3);
	vote_req(r, 401, "3", 4, 5, 1, false, false);
	collect(r, &o);
	CHECK(!find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "3")->request_vote_result.granted);
	vote_req(r, 402, "3", 5, 2, 2, false, false);
	collect(r, &o);
	CHECK(find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "3")->request_vote_result.granted);
	raft_free(r);
}

UNIT_TEST(vote_request_with_a_stale_term_is_refused_with_the_current_term)
{
	struct raft *r = node("1", false);
	struct out o;
	collect(r, &o);
	vote_req(r, 150, "2", 5, 1, 1, false, false);
	collect(r, &o);
	vote_req(r, 400, "3", 4, 9, 9, false, false);
	collect(r, &o);
	const struct raft_message *m = find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "3");
	CHECK(m != NULL);
	CHECK(!m->request_vote_result.granted);
	CHECK_INT_EQ(m->term, 5);
	raft_free(r);
}

UNIT_TEST(follower_that_recently_heard_from_a_leader_ignores_vote_requests_unless_transferred)
{
	struct raft *r = node("1", false);
	struct out o;
	collect(r, &o);
	append(r, 150, "2", 2, 1, 1, 0, NULL, 0);
	collect(r, &o);
	/* Leader stickiness (dissertation §4.2.3): term unchanged, no answer. */
	CHECK_INT_EQ(vote_req(r, 160, "3", 3, 5, 2, false, false), 0);
	collect(r, &o);
	CHECK_INT_EQ(raft_term(r), 2);
	CHECK(find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "3") == NULL);
	/* TimeoutNow-triggered elections are allowed through. */
	CHECK_INT_EQ(vote_req(r, 161, "3", 3, 5, 2, false, true), 0);
	collect(r, &o);
	CHECK_INT_EQ(raft_term(r), 3);
	CHECK(find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "3")->request_vote_result.granted);
	raft_free(r);
}

UNIT_TEST(prevote_changes_neither_term_nor_vote)
{
	struct raft *r = node("1", true);
	struct out o;
	collect(r, &o);
	vote_req(r, 150, "2", 2, 1, 1, true, false);
	collect(r, &o);
	CHECK_INT_EQ(raft_term(r), 1);
	CHECK_STR_EQ(raft_voted_for(r), "");
	CHECK(!o.hard_state_changed);
	const struct raft_message *m = find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "2");
	CHECK(m != NULL && m->request_vote_result.granted && m->request_vote_result.prevote);
	CHECK_INT_EQ(m->term, 2);
	raft_free(r);
}

/* Elections ----------------------------------------------------------------------------- */

UNIT_TEST(follower_becomes_candidate_when_election_timeout_elapses)
{
	struct raft *r = node("1", false);
	struct out o;
	collect(r, &o);
	uint64_t t = raft_next_timeout(r);
	CHECK(t >= ET && t < 2 * ET);
	raft_tick(r, t - 1);
	CHECK_INT_EQ(raft_state(r), RAFT_FOLLOWER);
	raft_tick(r, t);
	CHECK_INT_EQ(raft_state(r), RAFT_CANDIDATE);
	CHECK_INT_EQ(raft_term(r), 2);
	collect(r, &o);
	CHECK(o.hard_state_changed);
	CHECK_STR_EQ(o.vote, "1");
	CHECK_INT_EQ(count(&o, RAFT_MSG_REQUEST_VOTE, NULL), 2);
	raft_free(r);
}

UNIT_TEST(prevote_majority_starts_the_real_election_in_the_next_term)
{
	struct raft *r = node("1", true);
	struct out o;
	collect(r, &o);
	uint64_t t = raft_next_timeout(r);
	raft_tick(r, t);
	CHECK(raft_prevoting(r));
	CHECK_INT_EQ(raft_term(r), 1);
	collect(r, &o);
	CHECK(!o.hard_state_changed);
	const struct raft_message *m = find(&o, RAFT_MSG_REQUEST_VOTE, "2");
	CHECK(m != NULL && m->request_vote.prevote);
	CHECK_INT_EQ(m->term, 2);
	vote_res(r, t + 1, "2", 2, true, true);
	CHECK(!raft_prevoting(r));
	CHECK_INT_EQ(raft_term(r), 2);
	collect(r, &o);
	m = find(&o, RAFT_MSG_REQUEST_VOTE, "3");
	CHECK(m != NULL && !m->request_vote.prevote);
	vote_res(r, t + 2, "3", 2, true, false);
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	raft_free(r);
}

UNIT_TEST(candidate_with_majority_becomes_leader_and_replicates_a_noop)
{
	struct raft *r = node("1", false);
	struct out o;
	elect(r, &o);
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	CHECK_STR_EQ(raft_leader_id(r), "1");
	CHECK_INT_EQ(o.n_entries, 1);	/* the no-op of term 2 at index 2 */
	CHECK_INT_EQ(o.last_entry_index, 2);
	CHECK_INT_EQ(count(&o, RAFT_MSG_APPEND_ENTRIES, NULL), 2);
	raft_free(r);
}

UNIT_TEST(candidate_steps_down_when_a_leader_of_its_term_appears)
{
	struct raft *r = node("1", false);
	struct out o;
	collect(r, &o);
	raft_tick(r, raft_next_timeout(r));
	CHECK_INT_EQ(raft_state(r), RAFT_CANDIDATE);
	append(r, 300, "2", 2, 1, 1, 0, NULL, 0);
	CHECK_INT_EQ(raft_state(r), RAFT_FOLLOWER);
	CHECK_STR_EQ(raft_leader_id(r), "2");
	raft_free(r);
}

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

/* Node 1 restarted with log 1@1 (configuration {1,2,3}), then the given terms from index 2. */
static struct raft *
loaded(const uint64_t *terms, unsigned n, uint64_t term)
{
	struct raft_entry es[16];
	struct raft_config c;
	void *buf;
	struct raft_options opts = { .id = "1", .address = "n1:4002", .election_timeout_ms = ET,
	    .disable_prevote = true, .seed = 1 };
	struct raft *r;

	raft_config_init(&c);
	raft_config_add(&c, "1", "n1:4002", RAFT_VOTER);
	raft_config_add(&c, "2", "n2:4002", RAFT_VOTER);
	raft_config_add(&c, "3", "n3:4002", RAFT_VOTER);
	es[0] = (struct raft_entry){ .index = 1, .term = 1, .type = RAFT_ENTRY_CONFIG };
	raft_config_encode(&c, &buf, &es[0].len);
	es[0].data = buf;
	for (unsigned i = 0; i < n; i++)
		es[i + 1] = (struct raft_entry){ .index = i + 2, .term = terms[i],
		    .type = RAFT_ENTRY_NORMAL, .data = "e", .len = 1 };
	if (raft_new(&opts, &r) != 0 || raft_load(r, term, "", NULL, es, n + 1) != 0)
		abort();
	free(buf);
	raft_config_free(&c);
	raft_start(r, 0);
	return r;
}

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

/* TimeoutNow ----------------------------------------------------------------------------- */

UNIT_TEST(timeout_now_makes_a_follower_campaign_at_once_past_leader_stickiness)
{
	struct raft *r = node("1", true);
	struct out o;
	collect(r, &o);
	append(r, 150, "2", 2, 1, 1, 0, NULL, 0);
	collect(r, &o);
	struct raft_message m = msg(RAFT_MSG_TIMEOUT_NOW, "2", "1", 2);
	CHECK_INT_EQ(raft_recv(r, 151, &m), 0);
	CHECK_INT_EQ(raft_state(r), RAFT_CANDIDATE);
	CHECK(!raft_prevoting(r));
	CHECK_INT_EQ(raft_term(r), 3);
	collect(r, &o);
	const struct raft_message *rv = find(&o, RAFT_MSG_REQUEST_VOTE, "3");
	CHECK(rv != NULL && rv->request_vote.transfer && !rv->request_vote.prevote);
	raft_free(r);
}

/* Restarts, leases and campaigning rights --------------------------------------------------- */

UNIT_TEST(restarted_node_refuses_to_vote_for_an_election_timeout)
{
	uint64_t terms[] = { 2 };
	struct raft *r = loaded(terms, 1, 2);	/* started at time 0 */
	struct out o;
	collect(r, &o);
	CHECK_INT_EQ(vote_req(r, 50, "2", 3, 9, 3, false, false), 0);
	collect(r, &o);
	CHECK_INT_EQ(raft_term(r), 2);
	CHECK(find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "2") == NULL);
	CHECK_INT_EQ(vote_req(r, ET, "2", 3, 9, 3, false, false), 0);
	collect(r, &o);
	CHECK(find(&o, RAFT_MSG_REQUEST_VOTE_RESULT, "2")->request_vote_result.granted);
	raft_free(r);
}

UNIT_TEST(lease_is_void_for_the_rest_of_the_term_once_timeout_now_is_sent)
{
	struct raft *r = node("1", false);
	struct out o;
	uint64_t t = elect(r, &o);
	raft_persisted(r, 2, 2);
	append_res(r, t + 1, "2", 2, true, 2, 2, 0, 0, 0);
	raft_tick(r, t + ET / 10);	/* a heartbeat round */
	struct raft_ready rd;
	raft_ready(r, &rd);
	uint64_t seq = 0;
	for (unsigned i = 0; i < rd.n_messages; i++)
		if (rd.messages[i].type == RAFT_MSG_APPEND_ENTRIES)
			seq = rd.messages[i].append_entries.seq;
	append_res(r, t + ET / 10 + 1, "2", 2, true, 2, 2, 0, 0, seq);
	CHECK(raft_lease_valid(r, t + ET / 10 + 2));
	/* Node 2 holds the whole log: TimeoutNow goes out at once. */
	CHECK_INT_EQ(raft_transfer_leadership(r, "2"), 0);
	collect(r, &o);
	CHECK(find(&o, RAFT_MSG_TIMEOUT_NOW, "2") != NULL);
	CHECK(!raft_lease_valid(r, t + ET / 10 + 3));
	/* Even after the transfer gives up, this term's lease stays void. */
	raft_tick(r, t + ET / 10 + 3 + ET);
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	append_res(r, t + ET / 10 + 4 + ET, "2", 2, true, 2, 2, 0, 0, seq + 1);
	CHECK(!raft_lease_valid(r, t + ET / 10 + 5 + ET));
	CHECK_INT_EQ(raft_propose(r, "ok", 2, NULL, NULL), 0);
	raft_free(r);
}

UNIT_TEST(a_voter_removed_by_an_uncommitted_change_may_still_campaign)
{
	/* Node 1 holds entry 2: configuration {2,3}, not known to be committed. It may be the
	 * only server with it, so it must be able to win (and then commit it). */
	struct raft_config c;
	struct raft_entry es[2];
	void *b1, *b2;
	struct raft_options opts = { .id = "1", .address = "n1:4002", .election_timeout_ms = ET,
	    .disable_prevote = true, .seed = 1 };
	struct raft *r;

	raft_config_init(&c);
	raft_config_add(&c, "1", "n1:4002", RAFT_VOTER);
	raft_config_add(&c, "2", "n2:4002", RAFT_VOTER);
	raft_config_add(&c, "3", "n3:4002", RAFT_VOTER);
	es[0] = (struct raft_entry){ .index = 1, .term = 1, .type = RAFT_ENTRY_CONFIG };
	raft_config_encode(&c, &b1, &es[0].len);
	es[0].data = b1;
	raft_config_free(&c);
	raft_config_init(&c);
	raft_config_add(&c, "2", "n2:4002", RAFT_VOTER);
	raft_config_add(&c, "3", "n3:4002", RAFT_VOTER);
	es[1] = (struct raft_entry){ .index = 2, .term = 2, .type = RAFT_ENTRY_CONFIG };
	raft_config_encode(&c, &b2, &es[1].len);
	es[1].data = b2;
	raft_config_free(&c);
	CHECK_INT_EQ(raft_new(&opts, &r), 0);
	CHECK_INT_EQ(raft_load(r, 2, "", NULL, es, 2), 0);
	free(b1);
	free(b2);
	CHECK(!raft_is_voter(r));
	raft_start(r, 0);
	raft_tick(r, raft_next_timeout(r));
	CHECK_INT_EQ(raft_state(r), RAFT_CANDIDATE);
	/* Votes count in the latest configuration: it needs both 2 and 3. */
	vote_res(r, 300, "2", 3, true, false);
	CHECK_INT_EQ(raft_state(r), RAFT_CANDIDATE);
	vote_res(r, 301, "3", 3, true, false);
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	/* Once the change commits, the removed leader steps down. */
	struct out o;
	collect(r, &o);
	raft_persisted(r, 3, 3);
	append_res(r, 302, "2", 3, true, 3, 3, 0, 0, 0);
	append_res(r, 303, "3", 3, true, 3, 3, 0, 0, 0);
	CHECK_INT_EQ(raft_commit_index(r), 3);
	CHECK_INT_EQ(raft_state(r), RAFT_FOLLOWER);
	/* And being outside a committed configuration, it never campaigns again. */
	for (uint64_t t = 400; t < 5000; t += 50)
		raft_tick(r, t);
	CHECK_INT_EQ(raft_state(r), RAFT_FOLLOWER);
	raft_free(r);
}

UNIT_TEST(a_lone_voter_that_followed_another_leader_waits_before_electing_itself)
{
	/* Restarted with vote for "2" in its term: "2" may still lead with a lease. */
	struct raft_config c;
	struct raft_entry e = { .index = 1, .term = 1, .type = RAFT_ENTRY_CONFIG };
	void *b;
	struct raft_options opts = { .id = "1", .address = "n1:4002", .election_timeout_ms = ET,
	    .seed = 1 };
	struct raft *r;

	raft_config_init(&c);
	raft_config_add(&c, "1", "n1:4002", RAFT_VOTER);
	raft_config_encode(&c, &b, &e.len);
	e.data = b;
	raft_config_free(&c);
	CHECK_INT_EQ(raft_new(&opts, &r), 0);
	CHECK_INT_EQ(raft_load(r, 4, "2", NULL, &e, 1), 0);
	free(b);
	raft_start(r, 1000);
	CHECK_INT_EQ(raft_state(r), RAFT_FOLLOWER);
	raft_tick(r, raft_next_timeout(r));
	CHECK_INT_EQ(raft_state(r), RAFT_LEADER);
	CHECK(raft_next_timeout(r) > 1000 + ET);
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
