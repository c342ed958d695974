/*
 * The log's fsync, run by the consensus loop itself at the end of a ready batch.
 *
 * Before it blocks, the loop writes out everything the batch sent (AppendEntries to
 * followers, answers to the gateway, entries to storage), so the followers' fsyncs
 * run while ours does: the leader's fsync still overlaps replication. Whatever arrives
 * during the fsync (proposals, acknowledgements) waits in the socket buffers and goes
 * into the next ready batch as one append and one fsync (group commit).
 *
 * This used to be a thread of its own. The loop could not use the log while the
 * thread synced, so it gained nothing but reading sockets a little earlier, and each
 * handoff cost two wake-ups (condition variable there, pipe back); on these virtual
 * machines a wake-up costs tens of microseconds, several times over per write.
 *
 * Completion is delivered through a deferred event rather than a direct call, so the
 * ready loop that started the sync unwinds first; cs_sync_busy() is true until then
 * and keeps the loop off the log meanwhile.
 */
#include "common/log.h"
#include "consensus_internal.h"

static void
cs_sync_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consensus *c = arg;
	struct cs_sync *sy = &c->sync;

	(void)fd; (void)what;
	if (!sy->busy)
		return;
	sy->busy = false;
	if (sy->result != 0)
		fatalx("sync log: %s", raftlog_strerror(sy->result));
	cs_ready_synced(c, sy->index, sy->term);
}

void
cs_sync_init(struct consensus *c)
{
	struct cs_sync *sy = &c->sync;

	sy->done_ev = event_new(c->role.base, -1, 0, cs_sync_done_cb, c);
	if (sy->done_ev == NULL)
		fatalx("out of memory");
}

bool
cs_sync_busy(struct consensus *c)
{
	return c->sync.busy;
}

void
cs_sync_start(struct consensus *c, uint64_t index, uint64_t term)
{
	struct cs_sync *sy = &c->sync;

	sy->index = index;
	sy->term = term;
	sy->busy = true;
	if (c->peers.pt != NULL)
		peer_transport_flush(c->peers.pt);
	for (int i = 0; i < PROC_MAX; i++)
		ipc_conn_flush(c->links[i]);
	sy->result = raftlog_sync(c->log);
	event_active(sy->done_ev, 0, 0);
}

/* Shutdown: a sync made but not yet reported is reported now. */
void
cs_sync_stop(struct consensus *c)
{
	struct cs_sync *sy = &c->sync;

	if (sy->busy) {
		sy->busy = false;
		if (sy->result == 0)
			cs_ready_synced(c, sy->index, sy->term);
	}
}
