/*
 * Queued writes (/db/execute?queue, API.md §3.3). Requests are answered at once with a
 * sequence number; their statements are merged into batches of at most
 * -write-queue-batch-size requests that are proposed as one execute command each, in
 * order, one batch in flight at a time. A batch goes out when it is full or
 * -write-queue-timeout has passed since its first request; a batch that fails for want
 * of a leader is retried every second. `wait` holds the HTTP answer until the batch
 * holding the request is committed.
 *
 * At most -write-queue-capacity requests are queued. Past that a request blocks, as
 * rqlite's does: its statements are parked with the suspended connection and it is
 * admitted (and answered) in arrival order as batches are written. Memory stays bounded
 * by the connection limit, and a burst costs latency instead of errors.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "gateway_internal.h"
#include "gateway_pragma.h"
#include "gateway_render.h"
#include "gateway_rewrite.h"

#define GW_QUEUE_RETRY_MS 1000

struct gw_batch {
	msgpack_sbuffer stmts;		/* packed statements, back to back */
	uint32_t nstmts;
	uint32_t nreqs;
	uint64_t last_seq;
	struct gw_batch *next;		/* in the ready FIFO or the free list */
};

/* A request that found the queue full, with its statements, waiting to be admitted. */
struct gw_parked {
	struct gw_req *r;
	msgpack_sbuffer stmts;
	uint32_t nstmts;
	struct gw_parked *next;
};

/* A request waiting (with `wait`) for its sequence number to be written. */
struct gw_waiter {
	struct gw_req *r;
	uint64_t seq;
	struct event *timer;
	struct gw_waiter *next;
};

static struct {
	struct gw_batch *filling;	/* taking requests; never NULL after init */
	struct gw_batch *ready, *ready_tail;	/* full, waiting their turn */
	struct gw_batch *flight;	/* proposed (in_flight) or failed, to retry */
	struct gw_batch *free;
	uint64_t depth;			/* requests in filling + ready + flight */
	struct gw_parked *parked, *parked_tail;
	bool in_flight;
	struct gw_req *flush_req;	/* the internal request carrying the batch */
	struct event *flush_timer;
	bool timer_armed;
	uint64_t next_seq;
	uint64_t written_seq;
	/* rqlite's expvar "queue": statements in and out, timer and `wait` flushes. */
	uint64_t objects_rx, objects_tx, num_timeout, num_flush;
	struct gw_waiter *waiters;
} q;

static void gw_queue_flush(void);
static void gw_queue_admit_parked(void);

static struct gw_batch *
gw_batch_get(void)
{
	struct gw_batch *b = q.free;

	if (b != NULL) {
		q.free = b->next;
	} else {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			fatalx("out of memory");
		msgpack_sbuffer_init(&b->stmts);
	}
	b->stmts.size = 0;
	b->nstmts = 0;
	b->nreqs = 0;
	b->next = NULL;
	return b;
}

static void
gw_batch_put(struct gw_batch *b)
{
	b->next = q.free;
	q.free = b;
}

/* The filling batch is full (or must go now): it joins the ready FIFO. */
static void
gw_batch_close(void)
{
	struct gw_batch *b = q.filling;

	if (b->nreqs == 0)
		return;
	if (q.ready_tail != NULL)
		q.ready_tail->next = b;
	else
		q.ready = b;
	q.ready_tail = b;
	q.filling = gw_batch_get();
}

static void
gw_parked_free(struct gw_parked *p)
{
	msgpack_sbuffer_destroy(&p->stmts);
	free(p);
}

uint64_t
gw_queue_written_seq(void)
{
	return q.written_seq;
}

static void
gw_waiter_free(struct gw_waiter *wt)
{
	event_free(wt->timer);
	free(wt);
}

static void
gw_queue_release_waiters(void)
{
	struct gw_waiter **pp = &q.waiters;

	while (*pp != NULL) {
		struct gw_waiter *wt = *pp;
		if (wt->seq > q.written_seq) {
			pp = &wt->next;
			continue;
		}
		*pp = wt->next;
		wt->r->queue_waiting = false;
		gw_respond_queued(wt->r, wt->seq);
		gw_resume_request(wt->r);
		gw_waiter_free(wt);
	}
	gw_http_kick();
}

static void
gw_waiter_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_waiter *wt = arg;

	(void)fd; (void)what;
	for (struct gw_waiter **pp = &q.waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == wt) {
			*pp = wt->next;
			break;
		}
	}
	wt->r->queue_waiting = false;
	gw_respond_text(wt->r, MHD_HTTP_REQUEST_TIMEOUT, "queue wait timeout");
	gw_resume_request(wt->r);
	gw_waiter_free(wt);
	gw_http_kick();
}

/* The HTTP request went away while waiting (connection closed). */
void
gw_queue_forget(struct gw_req *r)
{
	for (struct gw_parked **pp = &q.parked, *prev = NULL; *pp != NULL;
	    prev = *pp, pp = &(*pp)->next) {
		if ((*pp)->r == r) {
			struct gw_parked *p = *pp;
			*pp = p->next;
			if (q.parked_tail == p)
				q.parked_tail = prev;
			gw_parked_free(p);
			return;
		}
	}
	for (struct gw_waiter **pp = &q.waiters; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->r == r) {
			struct gw_waiter *wt = *pp;
			*pp = wt->next;
			gw_waiter_free(wt);
			return;
		}
	}
}

/* Shutting down: waiters are told their write may not have landed yet. */
void
gw_queue_fail_all(void)
{
	while (q.parked != NULL) {
		struct gw_parked *p = q.parked;
		q.parked = p->next;
		p->r->queue_waiting = false;
		gw_respond_text(p->r, MHD_HTTP_SERVICE_UNAVAILABLE, "node is shutting down");
		gw_resume_request(p->r);
		gw_parked_free(p);
	}
	q.parked_tail = NULL;
	while (q.waiters != NULL) {
		struct gw_waiter *wt = q.waiters;
		q.waiters = wt->next;
		wt->r->queue_waiting = false;
		gw_respond_text(wt->r, MHD_HTTP_SERVICE_UNAVAILABLE, "node is shutting down");
		gw_resume_request(wt->r);
		gw_waiter_free(wt);
	}
}

static void
gw_queue_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	q.timer_armed = false;
	q.num_timeout++;
	gw_queue_flush();
}

static void
gw_queue_arm(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (q.timer_armed)
		return;
	q.timer_armed = true;
	evtimer_add(q.flush_timer, &tv);
}

static void
gw_queue_propose_cb(struct gw_req *r, struct ipc_msg *m)
{
	(void)r;
	if (ipc_get(m, "e") != NULL) {
		/* No leader or leadership lost: the batch stays and is tried again. */
		q.in_flight = false;
		gw_queue_arm(GW_QUEUE_RETRY_MS);
		return;
	}
	/* Statement errors are dropped, as rqlite does for queued writes. */
	q.written_seq = q.flight->last_seq;
	q.depth -= q.flight->nreqs;
	gw_batch_put(q.flight);
	q.flight = NULL;
	q.in_flight = false;
	gw_queue_admit_parked();
	gw_queue_release_waiters();
	if (q.ready != NULL || q.filling->nreqs > 0)
		gw_queue_flush();
}

/* Timeouts and dead links of the internal request come here instead of an HTTP answer. */
static void
gw_queue_failed(struct gw_req *r, const char *why)
{
	(void)r;
	log_debug("queued batch not written (%s); retrying", why);
	q.in_flight = false;
	gw_queue_arm(GW_QUEUE_RETRY_MS);
}

static void
gw_queue_flush(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct gw_batch *b;

	if (q.in_flight)
		return;
	if (q.flight == NULL) {
		/* Called by the timer, a full batch or `wait`: a partial batch goes too. */
		if (q.ready == NULL)
			gw_batch_close();
		if ((b = q.ready) == NULL)
			return;
		q.ready = b->next;
		if (q.ready == NULL)
			q.ready_tail = NULL;
		b->next = NULL;
		q.flight = b;
		q.objects_tx += b->nstmts;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, (gw.opts->write_queue_tx ? 3 : 2) + gateway_cmd_limits_count(&gw.limits));
	(void)gateway_cmd_limits_pack(&gw.limits, &pk);
	msgpack_pack_str_with_body(&pk, "k", 1);
	msgpack_pack_uint32(&pk, IPC_CMD_EXECUTE);
	if (gw.opts->write_queue_tx) {
		msgpack_pack_str_with_body(&pk, "tx", 2);
		msgpack_pack_true(&pk);
	}
	msgpack_pack_str_with_body(&pk, "s", 1);
	msgpack_pack_array(&pk, q.flight->nstmts);
	msgpack_sbuffer_write(&sb, q.flight->stmts.data, q.flight->stmts.size);

	gw_begin(q.flush_req, IPC_PROPOSE);
	ipc_add_bin(&gw.w, "c", sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	q.in_flight = true;
	if (gw_send_wait(q.flush_req, PROC_CONSENSUS, gw_queue_propose_cb, 0) != 0) {
		q.in_flight = false;
		gw_queue_arm(GW_QUEUE_RETRY_MS);
	}
}

static void
gw_queue_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	q.timer_armed = false;
	gw_queue_flush();
}

void
gw_queue_init(void)
{
	struct timespec ts;

	q.filling = gw_batch_get();
	q.flush_timer = evtimer_new(gw.role.base, gw_queue_timer_cb, NULL);
	(void)gw_queue_retry_cb;
	q.flush_req = calloc(1, sizeof(*q.flush_req));
	if (q.flush_req == NULL)
		fatalx("out of memory");
	q.flush_req->internal_fail = gw_queue_failed;
	/* rqlite starts sequence numbers at the node's start time in nanoseconds. */
	clock_gettime(CLOCK_REALTIME, &ts);
	q.next_seq = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
gw_queue_depth(void)
{
	return q.depth;
}

void
gw_queue_stats(uint64_t *rx, uint64_t *tx, uint64_t *timeouts, uint64_t *flushes)
{
	*rx = q.objects_rx;
	*tx = q.objects_tx;
	*timeouts = q.num_timeout;
	*flushes = q.num_flush;
}

/* Answers r now, or registers it to be answered once its write is committed (`wait`). */
static void
gw_queue_answer(struct gw_req *r, uint64_t seq)
{
	struct gw_waiter *wt;
	struct timeval tv = {
		(time_t)(r->params.timeout_ns / 1000000000),
		(suseconds_t)((r->params.timeout_ns % 1000000000) / 1000),
	};

	if (!r->params.wait) {
		gw_respond_queued(r, seq);
		return;
	}
	if ((wt = calloc(1, sizeof(*wt))) == NULL) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	wt->r = r;
	wt->seq = seq;
	wt->timer = evtimer_new(gw.role.base, gw_waiter_timeout_cb, wt);
	evtimer_add(wt->timer, &tv);
	wt->next = q.waiters;
	q.waiters = wt;
	r->queue_waiting = true;
	gw_suspend_request(r);
}

/* Counts one request's statements (already packed in the filling batch) in; its seq. */
static uint64_t
gw_queue_take(uint32_t nstmts)
{
	uint64_t seq = q.next_seq++;

	q.filling->nstmts += nstmts;
	q.objects_rx += nstmts;
	q.filling->nreqs++;
	q.filling->last_seq = seq;
	q.depth++;
	if (q.filling->nreqs >= (uint32_t)gw.opts->write_queue_batch_size)
		gw_batch_close();
	return seq;
}

/* Batches were written: blocked requests come in, oldest first, while there is room. */
static void
gw_queue_admit_parked(void)
{
	while (q.parked != NULL && q.depth < (uint64_t)gw.opts->write_queue_capacity) {
		struct gw_parked *p = q.parked;
		struct gw_req *r = p->r;
		uint64_t seq;

		q.parked = p->next;
		if (q.parked == NULL)
			q.parked_tail = NULL;
		msgpack_sbuffer_write(&q.filling->stmts, p->stmts.data, p->stmts.size);
		seq = gw_queue_take(p->nstmts);
		gw_parked_free(p);
		r->queue_waiting = false;
		/* Still suspended from parking: with `wait` it stays so until written. */
		gw_queue_answer(r, seq);
		if (!r->params.wait)
			gw_resume_request(r);
	}
	if (q.filling->nreqs > 0 || q.ready != NULL)
		gw_queue_arm((int)(gw.opts->write_queue_timeout_ns / 1000000));
	gw_http_kick();
}

/* The queue is full: r waits, suspended, with its statements, until there is room. */
static void
gw_queue_park(struct gw_req *r, struct gateway_body *b)
{
	struct gw_parked *p = calloc(1, sizeof(*p));
	msgpack_packer pk;

	if (p == NULL) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "queue full, retry later");
		return;
	}
	msgpack_sbuffer_init(&p->stmts);
	msgpack_packer_init(&pk, &p->stmts, msgpack_sbuffer_write);
	for (size_t i = 0; i < b->n; i++) {
		if (b->stmts[i].sql_len == 0)
			continue;
		if (gateway_stmt_pack(&b->stmts[i], &pk) != 0) {
			gw_parked_free(p);
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
			return;
		}
		p->nstmts++;
	}
	p->r = r;
	if (q.parked_tail != NULL)
		q.parked_tail->next = p;
	else
		q.parked = p;
	q.parked_tail = p;
	r->queue_waiting = true;	/* so a closed connection unparks it */
	gw_suspend_request(r);
	gw_queue_flush();
}

/*
 * Queues the statements of b for request r and answers it (now, or once written with
 * `wait`). An empty body with `wait` is a flush barrier. A full queue parks r.
 */
void
gw_queue_submit(struct gw_req *r, struct gateway_body *b)
{
	msgpack_packer pk;
	size_t mark = q.filling->stmts.size;
	uint32_t nstmts = 0;
	uint64_t seq;

	if (q.parked != NULL || q.depth >= (uint64_t)gw.opts->write_queue_capacity) {
		gw_queue_park(r, b);
		return;
	}
	msgpack_packer_init(&pk, &q.filling->stmts, msgpack_sbuffer_write);
	for (size_t i = 0; i < b->n; i++) {
		if (b->stmts[i].sql_len == 0)
			continue;
		if (gateway_stmt_pack(&b->stmts[i], &pk) != 0) {
			q.filling->stmts.size = mark;
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
			return;
		}
		nstmts++;
	}
	seq = gw_queue_take(nstmts);
	if (q.ready != NULL)
		gw_queue_flush();
	else
		gw_queue_arm((int)(gw.opts->write_queue_timeout_ns / 1000000));
	gw_queue_answer(r, seq);
	/* `wait` asks for the batch now rather than at the next timer. */
	if (r->params.wait) {
		q.num_flush++;
		gw_queue_flush();
	}
}
