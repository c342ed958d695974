/*
 * Unit tests of elections in the Raft core (pkg/raft/election.c, recv_request_vote.c,
 * recv_request_vote_result.c, recv_timeout_now.c), driving one core with hand-made
 * messages and reading the ready batches it returns: RequestVote and pre-vote,
 * campaigns, TimeoutNow, and who may campaign after a restart or a configuration
 * change. Comments cite the paper's rule each test pins down.
 */
#include "unit.h"

#include "raft/raft.h"
#include "raft_rpc_helpers.h"

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

UNIT_MAIN()
