/*
 * TimeoutNow (dissertation §3.10): the leader chose us as its successor and brought our log up
 * to date; campaign at once, skipping pre-vote, and ask voters to ignore leader stickiness.
 */
#include "raft/raft_int.h"

#include "common/log.h"

int
raft_recv_timeout_now(struct raft *r, const struct raft_message *m)
{
	if (m->term != r->term || r->state != RAFT_FOLLOWER || !raft_may_campaign(r))
		return RAFT_OK;
	log_debug("raft %s: TimeoutNow from %s", r->id, m->from);
	raft_campaign(r, false, true);
	return RAFT_OK;
}
