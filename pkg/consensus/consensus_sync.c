/*
 * The log's fsync on a thread of its own, so the consensus loop keeps sending
 * AppendEntries, reading peers and taking proposals while the disk works: the leader's
 * fsync overlaps replication, and everything proposed during one fsync goes into the
 * next append (group commit).
 *
 * raftlog allows raftlog_sync() on a second thread only while the owner makes no
 * raftlog call at all, so while cs_sync_busy() the loop defers every log operation
 * (the ready batch waits; see consensus_process_ready). Completion comes back to the
 * loop through a pipe; the thread touches nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "consensus_internal.h"

static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started;
	bool busy;		/* a sync was handed to the thread and not yet collected */
	bool requested;		/* the thread has work (protected by mu) */
	bool quit;
	int result;
	uint64_t index, term;	/* what the sync makes durable */
	int pipe[2];
	struct event *done_ev;
	void (*on_done)(uint64_t index, uint64_t term);
} sy;

static void *
cs_sync_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sy.mu);
	for (;;) {
		while (!sy.requested && !sy.quit)
			pthread_cond_wait(&sy.cv, &sy.mu);
		/* A sync asked for before the stop is still done: its entries are acknowledged
		 * as durable once it returns. */
		if (!sy.requested)
			break;
		sy.requested = false;
		pthread_mutex_unlock(&sy.mu);
		sy.result = raftlog_sync(cs.log);
		(void)!write(sy.pipe[1], "x", 1);
		pthread_mutex_lock(&sy.mu);
	}
	pthread_mutex_unlock(&sy.mu);
	return NULL;
}

static void
cs_sync_done_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[16];

	(void)what; (void)arg;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
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
	if (pipe2(sy.pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("pipe");
	pthread_mutex_init(&sy.mu, NULL);
	pthread_cond_init(&sy.cv, NULL);
	if (pthread_create(&sy.thread, NULL, cs_sync_thread, NULL) != 0)
		fatalx("cannot start the log sync thread");
	sy.started = true;
	sy.done_ev = event_new(cs.role.base, sy.pipe[0], EV_READ | EV_PERSIST, cs_sync_done_cb, NULL);
	event_add(sy.done_ev, NULL);
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
	pthread_mutex_lock(&sy.mu);
	sy.requested = true;
	pthread_cond_signal(&sy.cv);
	pthread_mutex_unlock(&sy.mu);
}

/* Waits for a sync in flight (shutdown) and stops the thread. */
void
cs_sync_stop(void)
{
	if (!sy.started)
		return;
	pthread_mutex_lock(&sy.mu);
	sy.quit = true;
	pthread_cond_signal(&sy.cv);
	pthread_mutex_unlock(&sy.mu);
	pthread_join(sy.thread, NULL);
	sy.started = false;
	if (sy.busy) {
		sy.busy = false;
		if (sy.result == 0)
			sy.on_done(sy.index, sy.term);
	}
}
