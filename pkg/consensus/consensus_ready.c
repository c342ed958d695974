/*
 * The ready batch: everything the Raft core decided since the last one, turned into
 * I/O in the order that keeps it safe — a received snapshot installed, term and vote
 * and entries written, the lease withdrawn if it ended, committed entries to storage,
 * messages to peers, read barriers released, state to the gateway, then one fsync of
 * the entries (consensus_sync.c).
 *
 * Group commit: every frame that arrived in one loop iteration is handed to the core
 * before one ready batch is processed, so all proposals pending at once share one log
 * append and one fsync.
 */
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"

/* Term, vote and entries to the log, without the fsync of the entries. */
static void
cs_ready_persist(struct consensus *c, const struct raft_ready *rd)
{
	int rc;

	if (rd->hard_state_changed) {
		rc = raftlog_save_vote(c->log, rd->term, rd->vote != NULL ? rd->vote : "");
		if (rc != 0)
			fatalx("save term and vote: %s", raftlog_strerror(rc));
	}
	if (rd->truncate_from != 0) {
		rc = raftlog_truncate_suffix(c->log, rd->truncate_from);
		if (rc != 0)
			fatalx("truncate log from %llu: %s",
			    (unsigned long long)rd->truncate_from, raftlog_strerror(rc));
	}
	for (unsigned done = 0; done < rd->n_entries;) {
		struct raftlog_entry le[64];
		unsigned k = 0;
		for (; k < 64 && done + k < rd->n_entries; k++) {
			const struct raft_entry *e = &rd->entries[done + k];
			le[k].index = e->index;
			le[k].term = e->term;
			le[k].type = (uint8_t)e->type;
			le[k].data = e->data;
			le[k].len = e->len;
		}
		rc = raftlog_append(c->log, le, k);
		if (rc != 0)
			fatalx("append to log: %s", raftlog_strerror(rc));
		done += k;
	}
}

/* The entries' fsync finished. */
void
cs_ready_synced(struct consensus *c, uint64_t index, uint64_t term)
{
	raft_persisted(c->raft, index, term);
	cs_snapshot_after_sync(c);	/* compaction waits for the log to be free */
	cs_apply_pump(c, NULL, 0);	/* what was skipped while the log was busy */
	c->io->schedule_ready(c);
}

static void
cs_ready_deliver_reads(struct consensus *c, const struct raft_ready *rd)
{
	struct ipc_writer *out = &c->out;

	for (unsigned i = 0; i < rd->n_reads; i++) {
		const struct raft_read *rr = &rd->reads[i];
		struct waiter w = { WAITER_GATEWAY, rr->cookie, 0, IPC_BARRIER_RESULT, 0 };

		if (rr->cookie & CS_READ_COOKIE_BIT) {
			/* A read we serve for a follower. */
			cs_forward_read_released(c, rr->cookie, rr->index, rr->status);
			continue;
		}
		if (rr->status != 0) {
			cs_answer_raft_error(c, &w, rr->status);
			continue;
		}
		ipc_begin(out, IPC_BARRIER_RESULT, rr->cookie);
		ipc_add_u64(out, "i", rr->index);
		ipc_finish(out);
		cs_answer(c, &w, out);
	}
}

/* The role or the leader changed. */
static void
cs_ready_state_changed(struct consensus *c, const struct raft_ready *rd)
{
	cs_local_log_state(c, rd->leader_id);
	cs_peers_on_state_change(c);
	if (raft_state(c->raft) != RAFT_LEADER) {
		cs_apply_fail_uncommitted(c);
		cs_membership_leadership_lost(c);
	}
	cs_nodes_learn_leader_api(c);
	cs_local_send_state(c);
}

void
cs_ready_process(struct consensus *c)
{
	struct raft_ready rd;
	int rounds = 0;

	/* While the log syncs, the core keeps collecting; its next batch goes out when the
	 * sync completes, as one append and one fsync (group commit). */
	while (!cs_sync_busy(c) && raft_has_ready(c->raft) && rounds++ < 1000) {
		if (raft_ready(c->raft, &rd) != 0)
			break;
		if (rd.snapshot != NULL)
			cs_snapshot_install(c, rd.snapshot);
		/* Term and vote reach disk before any message of this batch is sent. */
		cs_ready_persist(c, &rd);
		/* A lease this batch ended is withdrawn from the gateway before, e.g., a
		 * TimeoutNow goes out. */
		cs_local_push_lease(c);
		/* Newly committed entries go to storage first: their clients wait on them,
		 * while the messages (commit notices, new entries) are for other nodes. */
		cs_apply_pump(c, rd.committed, rd.n_committed);
		cs_apply_sync_applied(c);
		/* The entries' fsync (cs_sync_start below) runs after these messages left. */
		cs_peers_send_messages(c, rd.messages, rd.n_messages);
		if (rd.n_committed > 0)
			cs_membership_committed(c, raft_commit_index(c->raft));
		cs_ready_deliver_reads(c, &rd);
		if (rd.soft_state_changed)
			cs_ready_state_changed(c, &rd);
		if (rd.n_entries > 0) {
			c->stats.appends++;
			c->stats.fsyncs++;
			c->stats.entries += rd.n_entries;
			cs_sync_start(c, rd.entries[rd.n_entries - 1].index,
			    rd.entries[rd.n_entries - 1].term);
		}
	}
	if (c->links[PROC_GATEWAY] != NULL)
		cs_local_push_lease(c);
	/* A leader known or a lease gained: held requests go ahead. */
	cs_hold_retry(c);
	/* A new role (leader: heartbeats) may need the timer sooner than it was set. */
	if (raft_state(c->raft) != RAFT_SHUTDOWN)
		cs_arm_tick(c);
}
