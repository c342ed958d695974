/*
 * AppendEntries results on the leader (§5.3): advance match/next, free pipeline slots, count
 * towards commit and heartbeat rounds, and back up quickly after a rejection using the
 * follower's conflict hints. Receives AppendEntriesResult (also the reply to InstallSnapshot).
 */
#include "raft/raft_int.h"

int
raft_recv_append_entries_result(struct raft *r, const struct raft_message *m)
{
	const struct raft_append_entries_result *res = &m->append_entries_result;
	struct raft_progress *pr;

	if (m->term != r->term || r->state != RAFT_LEADER)
		return RAFT_OK;
	if ((pr = raft_progress_get(r, m->from)) == NULL)
		return RAFT_OK;
	pr->recent = true;
	pr->last_recv = r->now;
	if (res->seq > pr->acked_seq && res->seq <= r->seq)
		pr->acked_seq = res->seq;

	if (res->success) {
		if (res->index > raft_log_last_index(r))
			return RAFT_OK;	/* nonsense from a confused peer */
		if (res->index > pr->match) {
			pr->match = res->index;
			pr->last_progress = r->now;
		}
		if (pr->next <= pr->match)
			pr->next = pr->match + 1;
		/* Free pipeline slots the acknowledgement covers. */
		raft_inflight_free_to(r, pr, pr->match);
		switch (pr->state) {
		case PR_PROBE:
			raft_progress_become_replicate(r, pr);
			break;
		case PR_SNAPSHOT:
			if (pr->match >= pr->pending_snapshot)
				raft_progress_become_replicate(r, pr);
			break;
		case PR_REPLICATE:
			break;
		}
		raft_leader_maybe_commit(r);
		if (r->state != RAFT_LEADER)
			return RAFT_OK;
		raft_transfer_check(r, pr);
	} else {
		/* Stale: that prefix is already known to match, or not the probe we wait for. */
		if (res->index < pr->match || pr->state == PR_SNAPSHOT)
			goto out;
		if (pr->state == PR_PROBE && res->index != pr->next - 1)
			goto out;
		uint64_t next;
		if (res->conflict_term != 0) {
			/* Skip the follower's whole conflicting term: resume after our last entry
			 * of that term, or at its first index if we have none. */
			uint64_t i = RAFT_MIN(res->index, raft_log_last_index(r));
			while (i > r->log.offset && raft_log_term_at(r, i) > res->conflict_term)
				i--;
			if (i > r->log.offset && raft_log_term_at(r, i) == res->conflict_term)
				next = i + 1;
			else
				next = res->conflict_index;
		} else {
			next = res->last_index + 1;
		}
		next = RAFT_MIN(next, res->index);
		next = RAFT_MAX(next, pr->match + 1);
		pr->next = next;
		raft_progress_become_probe(r, pr);
	}
out:
	raft_reads_release(r);
	r->need_flush = true;
	return RAFT_OK;
}
