/*
 * Votes coming back to a candidate (§5.2): a majority of voters' votes wins the election;
 * a majority of pre-votes starts the real one. Receives RequestVoteResult.
 */
#include "raft/raft_int.h"

int
raft_recv_request_vote_result(struct raft *r, const struct raft_message *m)
{
	const struct raft_request_vote_result *res = &m->request_vote_result;

	if (r->state != RAFT_CANDIDATE || res->prevote != r->prevote)
		return RAFT_OK;
	if (res->prevote) {
		/* A granted pre-vote carries term+1; a refusal our term or lower (a higher one
		 * already made us follower in recv.c). */
		if (res->granted && m->term != r->term + 1)
			return RAFT_OK;
	} else if (m->term != r->term) {
		return RAFT_OK;
	}
	struct raft_progress *pr = raft_progress_get(r, m->from);
	if (pr == NULL || !raft_config_is_voter(&r->config, m->from) || pr->vote_answered)
		return RAFT_OK;
	pr->vote_answered = true;
	pr->vote_granted = res->granted;
	raft_candidate_tally(r);
	return RAFT_OK;
}
