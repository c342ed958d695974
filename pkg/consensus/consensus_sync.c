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

static struct {
	bool busy;		/* a sync was made and its completion not yet delivered */
	int result;
	uint64_t index, term;	/* what the sync made durable */
	struct event *done_ev;
	void (*on_done)(uint64_t index, uint64_t term);
} sy;

static void
cs_sync_done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	if (!sy.busy)
		return;
	sy.busy = false;
	if (sy.result != 0)
		fatalx("sync log: %s", raftlog_strerror(sy.result));
	sy.on_done(sy.index, sy.term);
}

void
cs_sync_init(void (*on_done)(uint64_t index, uint64_t term))
{
	sy.on_done = on_done;
	sy.done_ev = event_new(cs.role.base, -1, 0, cs_sync_done_cb, NULL);
	if (sy.done_ev == NULL)
		fatalx("out of memory");
}

bool
cs_sync_busy(void)
{
	return sy.busy;
}

void
cs_sync_start(uint64_t index, uint64_t term)
{
	sy.index = index;
	sy.term = term;
	sy.busy = true;
	if (cs.peers != NULL)
		peer_transport_flush(cs.peers);
	for (int i = 0; i < PROC_MAX; i++)
		ipc_conn_flush(cs.links[i]);
	sy.result = raftlog_sync(cs.log);
	event_active(sy.done_ev, 0, 0);
}

/* Shutdown: a sync made but not yet reported is reported now. */
void
cs_sync_stop(void)
{
	if (sy.busy) {
		sy.busy = false;
		if (sy.result == 0)
			sy.on_done(sy.index, sy.term);
	}
}
