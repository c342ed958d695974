/*
 * Queued writes (/db/execute?queue, API.md §3.3). Requests are answered at once with a
 * sequence number; their statements are merged into batches that are proposed as one
 * execute command each, in order, one batch in flight at a time. A batch goes out when
 * -write-queue-batch-size requests are queued or -write-queue-timeout has passed since
 * its first request; a batch that fails for want of a leader is retried every second.
 * `wait` holds the HTTP answer until the batch holding the request is committed.
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
};

/* A request waiting (with `wait`) for its sequence number to be written. */
struct gw_waiter {
	struct gw_req *r;
	uint64_t seq;
	struct event *timer;
	struct gw_waiter *next;
};

static struct {
	struct gw_batch pending;	/* filling */
	struct gw_batch flight;		/* proposed, not yet committed */
	bool in_flight;
	struct gw_req *flush_req;	/* the internal request carrying the batch */
	struct event *flush_timer;
	bool timer_armed;
	uint64_t next_seq;
	uint64_t written_seq;
	struct gw_waiter *waiters;
} q;

static void gw_queue_flush(void);

static void
gw_batch_reset(struct gw_batch *b)
{
	b->stmts.size = 0;
	b->nstmts = 0;
	b->nreqs = 0;
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
	q.written_seq = q.flight.last_seq;
	gw_batch_reset(&q.flight);
	q.in_flight = false;
	gw_queue_release_waiters();
	if (q.pending.nreqs > 0)
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
	struct gw_batch tmp;

	if (q.in_flight)
		return;
	if (q.flight.nreqs == 0) {
		if (q.pending.nreqs == 0)
			return;
		/* Move the filling batch into flight (swap buffers, no copy). */
		tmp = q.flight;
		q.flight = q.pending;
		q.pending = tmp;
		gw_batch_reset(&q.pending);
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, gw.opts->write_queue_tx ? 3 : 2);
	msgpack_pack_str_with_body(&pk, "k", 1);
	msgpack_pack_uint32(&pk, GATEWAY_CMD_EXECUTE);
	if (gw.opts->write_queue_tx) {
		msgpack_pack_str_with_body(&pk, "tx", 2);
		msgpack_pack_true(&pk);
	}
	msgpack_pack_str_with_body(&pk, "s", 1);
	msgpack_pack_array(&pk, q.flight.nstmts);
	msgpack_sbuffer_write(&sb, q.flight.stmts.data, q.flight.stmts.size);

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

	msgpack_sbuffer_init(&q.pending.stmts);
	msgpack_sbuffer_init(&q.flight.stmts);
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
	return q.pending.nreqs + q.flight.nreqs;
}

/*
 * Queues the statements of b for request r and answers it (now, or once written with
 * `wait`). An empty body with `wait` is a flush barrier.
 */
void
gw_queue_submit(struct gw_req *r, struct gateway_body *b)
{
	msgpack_packer pk;
	uint64_t seq;

	if (gw_queue_depth() >= (uint64_t)gw.opts->write_queue_capacity) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "queue full, retry later");
		return;
	}
	msgpack_packer_init(&pk, &q.pending.stmts, msgpack_sbuffer_write);
	for (size_t i = 0; i < b->n; i++) {
		if (b->stmts[i].sql_len == 0)
			continue;
		if (gateway_stmt_pack(&b->stmts[i], &pk) != 0) {
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
			return;
		}
		q.pending.nstmts++;
	}
	seq = q.next_seq++;
	q.pending.nreqs++;
	q.pending.last_seq = seq;
	if (q.pending.nreqs >= (uint32_t)gw.opts->write_queue_batch_size)
		gw_queue_flush();
	else
		gw_queue_arm((int)(gw.opts->write_queue_timeout_ns / 1000000));

	if (!r->params.wait) {
		gw_respond_queued(r, seq);
		return;
	}
	{
		struct gw_waiter *wt = calloc(1, sizeof(*wt));
		struct timeval tv = {
			(time_t)(r->params.timeout_ns / 1000000000),
			(suseconds_t)((r->params.timeout_ns % 1000000000) / 1000),
		};
		if (wt == NULL) {
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
		/* `wait` asks for the batch now rather than at the next timer. */
		gw_queue_flush();
	}
}
