/*
 * InstallSnapshot on a follower (§7): the consensus process has staged the snapshot's data;
 * the core adopts its meta, keeps log entries that follow it if the log contains the
 * snapshot's last entry, otherwise discards the whole log, and asks (rd.snapshot) for the
 * install. Receives InstallSnapshot, sends AppendEntriesResult.
 */
#include "raft/raft_int.h"

#include "common/log.h"

int
raft_recv_install_snapshot(struct raft *r, const struct raft_message *m)
{
	const struct raft_snapshot_meta *meta = &m->install_snapshot.meta;
	struct raft_config c;
	int rv;

	/* Reply immediately if term < currentTerm (§7). */
	if (m->term < r->term) {
		struct raft_message *out = raft_outbox_push(r, RAFT_MSG_APPEND_ENTRIES_RESULT,
		    m->from);
		if (out != NULL) {
			out->append_entries_result.index = meta->index;
			out->append_entries_result.last_index = raft_log_last_index(r);
		}
		return RAFT_OK;
	}
	if (r->state == RAFT_LEADER)
		return RAFT_OK;
	raft_follow(r, m, m->install_snapshot.seq);

	/* Committed entries match the leader's: a snapshot that is not newer adds nothing. */
	if (meta->index <= r->commit) {
		if (r->commit > r->verified)
			r->verified = r->commit;
		raft_follower_send_ack(r);
		return RAFT_OK;
	}
	if ((rv = raft_config_copy(&c, &meta->config)) != RAFT_OK)
		return rv;
	log_debug("raft %s: installing snapshot %llu from %s", r->id,
	    (unsigned long long)meta->index, m->from);
	if (meta->index <= raft_log_last_index(r) &&
	    raft_log_term_at(r, meta->index) == meta->term) {
		/* If an existing entry has the same index and term as the snapshot's last
		 * included entry, retain the entries following it (§7). */
		raft_log_compact(r, meta->index);
		if (r->persisted < meta->index)
			r->persisted = meta->index;
		if (r->unstable_from <= meta->index)
			r->unstable_from = meta->index + 1;
	} else {
		raft_log_reset(r, meta->index);
		r->pending_truncate = meta->index + 1;
		r->unstable_from = meta->index + 1;
		r->persisted = meta->index;
	}
	raft_config_free(&r->snap.config);
	r->snap.config = c;
	r->snap.index = meta->index;
	r->snap.term = meta->term;
	r->snapshot_install = true;
	r->commit = r->apply_handed = r->applied = meta->index;
	if (r->verified < meta->index)
		r->verified = meta->index;
	/* The snapshot's configuration, unless a later one is still in the log. */
	r->config_index = 0;
	if ((rv = raft_config_recompute(r)) != RAFT_OK)
		return rv;
	raft_follower_send_ack(r);
	return RAFT_OK;
}
