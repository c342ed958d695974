/*
 * RequestVote and pre-vote requests (§5.2, §5.4.1, dissertation §9.6). Receives
 * RequestVote, sends RequestVoteResult.
 */
#include "raft/raft_int.h"

static void
reply(struct raft *r, const struct raft_message *m, bool granted)
{
	struct raft_message *out = raft_outbox_push(r, RAFT_MSG_REQUEST_VOTE_RESULT, m->from);
	if (out == NULL)
		return;
	/* A granted pre-vote answers in the term the candidate asked about, so the candidate can
	 * tell it from a stale one; anything else carries our term. */
	out->term = granted && m->request_vote.prevote ? m->term : r->term;
	out->request_vote_result.granted = granted;
	out->request_vote_result.prevote = m->request_vote.prevote;
}

int
raft_recv_request_vote(struct raft *r, const struct raft_message *m)
{
	const struct raft_request_vote *rv = &m->request_vote;
	uint64_t my_term = raft_log_last_term(r), my_index = raft_log_last_index(r);
	bool sticky = !rv->transfer && raft_in_lease(r);

	/* Reply false if term < currentTerm (§5.1). */
	if (m->term < r->term) {
		reply(r, m, false);
		return RAFT_OK;
	}
	/* Grant only if the candidate's log is at least as up-to-date as ours (§5.4.1). */
	bool up_to_date = rv->last_log_term > my_term ||
	    (rv->last_log_term == my_term && rv->last_log_index >= my_index);

	if (rv->prevote) {
		bool can = m->term > r->term ||
		    ((r->vote[0] == '\0' || strcmp(r->vote, m->from) == 0) && r->leader[0] == '\0');
		reply(r, m, up_to_date && can && !sticky);
		return RAFT_OK;
	}
	/* Here m->term == r->term: recv.c adopted a higher term. At most one vote per term. */
	bool granted = up_to_date && r->state == RAFT_FOLLOWER &&
	    (r->vote[0] == '\0' || strcmp(r->vote, m->from) == 0);
	if (granted) {
		if (strcmp(r->vote, m->from) != 0) {
			snprintf(r->vote, sizeof(r->vote), "%s", m->from);
			r->hs_dirty = true;
		}
		raft_reset_election_timer(r);
	}
	reply(r, m, granted);
	return RAFT_OK;
}
