/*
 * storage_readers: the read threads of the storage process (see storage_readers.h).
 *
 * One mutex guards both queues: reads waiting for a thread (FIFO) and results
 * waiting for the apply loop. A thread takes the oldest read, runs it on its own
 * reader slot without the lock, and queues the result; the first result queued since
 * the loop last looked writes the eventfd, and the loop delivers every result queued
 * by then. Signals are blocked in the threads so that the loop alone sees them.
 */
#include "storage_readers.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <msgpack.h>

#include "common/log.h"

struct read_job {
	struct read_job *next;
	struct storage_read_done d;
	char *cmd;
	size_t cmd_len;
	msgpack_sbuffer res;
};

struct reader_thread {
	struct storage_readers *rs;
	struct storage_db_reader *slot;
	pthread_t tid;
	bool started;
};

struct storage_readers {
	struct storage_db *db;
	storage_read_done_cb *done;
	void *arg;
	int efd;
	struct event *ev;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
	struct read_job *waiting, **wait_tail;	/* waiting for a thread */
	struct read_job *out, **out_tail;	/* results for the loop */
	bool out_signalled;
	unsigned pending;			/* submitted, not yet delivered */

	int nthreads;
	struct reader_thread *threads;
};

static void
job_free(struct read_job *j)
{
	if (j == NULL)
		return;
	free(j->cmd);
	msgpack_sbuffer_destroy(&j->res);
	free(j);
}

static void
job_run(struct reader_thread *t, struct read_job *j)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, &j->res, msgpack_sbuffer_write);
	if (storage_db_reader_query(t->slot, j->cmd, j->cmd_len, &pk) != 0 && j->res.size == 0) {
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str_with_body(&pk, "r", 1);
		msgpack_pack_array(&pk, 0);
		msgpack_pack_str_with_body(&pk, "e", 1);
		msgpack_pack_str_with_body(&pk, "query failed", 12);
	}
	free(j->cmd);
	j->cmd = NULL;
}

static void *
reader_main(void *arg)
{
	struct reader_thread *t = arg;
	struct storage_readers *rs = t->rs;

	pthread_mutex_lock(&rs->mu);
	for (;;) {
		struct read_job *j;
		bool wake;

		while (!rs->stopping && rs->waiting == NULL)
			pthread_cond_wait(&rs->cv, &rs->mu);
		if (rs->stopping)
			break;
		j = rs->waiting;
		rs->waiting = j->next;
		if (rs->waiting == NULL)
			rs->wait_tail = &rs->waiting;
		pthread_mutex_unlock(&rs->mu);

		job_run(t, j);

		pthread_mutex_lock(&rs->mu);
		j->next = NULL;
		*rs->out_tail = j;
		rs->out_tail = &j->next;
		wake = !rs->out_signalled;
		rs->out_signalled = true;
		if (wake) {
			uint64_t one = 1;
			/* A full counter is still readable: the loop wakes either way. */
			(void)!write(rs->efd, &one, sizeof(one));
		}
	}
	pthread_mutex_unlock(&rs->mu);
	return NULL;
}

/* The loop's side: deliver every result queued so far. */
static void
readers_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct storage_readers *rs = arg;
	struct read_job *list;
	uint64_t n;

	(void)what;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&rs->mu);
	list = rs->out;
	rs->out = NULL;
	rs->out_tail = &rs->out;
	rs->out_signalled = false;
	pthread_mutex_unlock(&rs->mu);
	while (list != NULL) {
		struct read_job *j = list;

		list = j->next;
		j->d.res = j->res.data;
		j->d.res_len = j->res.size;
		rs->pending--;
		rs->done(&j->d, rs->arg);
		job_free(j);
	}
}

struct storage_readers *
storage_readers_new(struct event_base *base, struct storage_db *db, int nthreads,
    storage_read_done_cb *done, void *arg)
{
	struct storage_readers *rs;
	sigset_t all, old;

	if (nthreads <= 0 || (rs = calloc(1, sizeof(*rs))) == NULL)
		return NULL;
	rs->db = db;
	rs->done = done;
	rs->arg = arg;
	rs->wait_tail = &rs->waiting;
	rs->out_tail = &rs->out;
	pthread_mutex_init(&rs->mu, NULL);
	pthread_cond_init(&rs->cv, NULL);
	rs->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rs->threads = calloc((size_t)nthreads, sizeof(*rs->threads));
	if (rs->efd == -1 || rs->threads == NULL ||
	    (rs->ev = event_new(base, rs->efd, EV_READ | EV_PERSIST, readers_wake_cb, rs)) == NULL ||
	    event_add(rs->ev, NULL) != 0)
		goto fail;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < nthreads; i++) {
		struct reader_thread *t = &rs->threads[i];

		t->rs = rs;
		if ((t->slot = storage_db_reader(db, i)) == NULL ||
		    pthread_create(&t->tid, NULL, reader_main, t) != 0)
			break;
		t->started = true;
		rs->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rs->nthreads == 0)
		goto fail;
	if (rs->nthreads < nthreads)
		log_warnx("only %d of %d read threads started", rs->nthreads, nthreads);
	return rs;
fail:
	storage_readers_free(rs);
	return NULL;
}

void
storage_readers_submit(struct storage_readers *rs, int from, uint64_t link_gen,
    uint64_t request_id, uint64_t applied, const char *cmd, size_t len)
{
	struct read_job *j = calloc(1, sizeof(*j));

	if (j == NULL || (j->cmd = malloc(len ? len : 1)) == NULL)
		fatalx("out of memory");
	memcpy(j->cmd, cmd, len);
	j->cmd_len = len;
	j->d.from = from;
	j->d.link_gen = link_gen;
	j->d.request_id = request_id;
	j->d.applied = applied;
	msgpack_sbuffer_init(&j->res);
	rs->pending++;
	pthread_mutex_lock(&rs->mu);
	*rs->wait_tail = j;
	rs->wait_tail = &j->next;
	pthread_cond_signal(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
}

unsigned
storage_readers_pending(const struct storage_readers *rs)
{
	return rs->pending;
}

void
storage_readers_free(struct storage_readers *rs)
{
	struct read_job *j;

	if (rs == NULL)
		return;
	pthread_mutex_lock(&rs->mu);
	rs->stopping = true;
	pthread_cond_broadcast(&rs->cv);
	pthread_mutex_unlock(&rs->mu);
	for (int i = 0; i < rs->nthreads; i++)
		if (rs->threads[i].slot != NULL)
			storage_db_reader_interrupt(rs->threads[i].slot);
	for (int i = 0; i < rs->nthreads; i++)
		if (rs->threads[i].started)
			pthread_join(rs->threads[i].tid, NULL);
	while ((j = rs->waiting) != NULL) {
		rs->waiting = j->next;
		job_free(j);
	}
	while ((j = rs->out) != NULL) {
		rs->out = j->next;
		job_free(j);
	}
	if (rs->ev != NULL)
		event_free(rs->ev);
	if (rs->efd != -1)
		close(rs->efd);
	pthread_cond_destroy(&rs->cv);
	pthread_mutex_destroy(&rs->mu);
	free(rs->threads);
	free(rs);
}
