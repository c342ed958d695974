/*
 * Snapshots (§7) as seen by the core: recording a snapshot the state machine took and
 * forgetting the log before it (keeping a tail for slow followers), and the report that a peer
 * is unreachable (a failed snapshot transfer or a broken link).
 */
#include "raft/raft_int.h"

#include "common/log.h"

int
raft_snapshot_taken(struct raft *r, uint64_t index, uint64_t trailing,
    struct raft_snapshot_meta *meta)
{
	struct raft_config c;
	int rv;

	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	if (index > r->applied || index == 0)
		return RAFT_EINVAL;
	if (index <= r->snap.index) {
		if (meta != NULL)
			*meta = r->snap;
		return index == r->snap.index ? RAFT_OK : RAFT_EINVAL;
	}
	uint64_t term = raft_log_term_at(r, index);
	if (term == 0)
		return RAFT_EINVAL;
	if ((rv = raft_config_at(r, index, &c)) != RAFT_OK)
		return rv;
	raft_config_free(&r->snap.config);
	r->snap.config = c;
	r->snap.index = index;
	r->snap.term = term;
	if (index > trailing)
		raft_log_compact(r, index - trailing);
	log_debug("raft %s: snapshot at %llu (term %llu), log starts at %llu", r->id,
	    (unsigned long long)index, (unsigned long long)term,
	    (unsigned long long)(r->log.offset + 1));
	if (meta != NULL)
		*meta = r->snap;
	return RAFT_OK;
}

int
raft_report_unreachable(struct raft *r, const char *id)
{
	struct raft_progress *pr;

	if (r->state != RAFT_LEADER || id == NULL || (pr = raft_progress_get(r, id)) == NULL)
		return RAFT_OK;
	if (pr->state != PR_PROBE) {
		raft_progress_become_probe(r, pr);
		r->need_flush = true;
	}
	return RAFT_OK;
}
