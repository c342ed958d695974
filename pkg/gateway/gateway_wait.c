/*
 * Requests waiting for another process. A request sends a message (gw_begin,
 * gw_send_wait) and is suspended until the answer comes back: answers find their
 * request by id in a ring of slots, must be of the type that follows the request's in
 * the catalogue (ipc_msg.h), and come from the peer it was sent to (or from storage
 * for a PROPOSE made here, which storage answers once applied). A timeout answers the
 * request if nothing comes; a sibling that goes away fails everything waiting on it.
 * One side message to storage may be in flight beside the main wait (the
 * linearizable read's early QUERY, gateway_db.c). Receives every *_RESULT the
 * gateway's dispatchers pass on (gateway_main.c).
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "gateway_internal.h"

#define GW_WAITING_SLOTS 65536	/* requests in flight to other processes at once */

int
gw_wait_init(void)
{
	/* Ids start somewhere new in every incarnation, so a reply meant for the
	 * previous gateway never matches a request of this one. */
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	gw.next_id = ((uint64_t)ts.tv_sec << 24) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
	gw.waiting_mask = GW_WAITING_SLOTS - 1;
	gw.waiting = calloc(GW_WAITING_SLOTS, sizeof(*gw.waiting));
	return gw.waiting != NULL ? 0 : -1;
}

void
gw_begin(struct gw_req *r, enum ipc_type type)
{
	r->wait_id = ++gw.next_id;
	r->wait_type = type;
	ipc_begin(&gw.w, type, r->wait_id);
	/* What consensus may forward to the leader carries the caller's credentials,
	 * checked again there (-auth). */
	if (type == IPC_PROPOSE || type == IPC_BARRIER || type == IPC_MEMBERSHIP)
		gw_auth_add_credentials(r, &gw.w);
}

static void
gw_unwait(struct gw_req *r)
{
	struct gw_req **slot = &gw.waiting[r->wait_id & gw.waiting_mask];

	if (r->on_reply != NULL && *slot == r)
		*slot = NULL;
	r->on_reply = NULL;
	if (r->timeout_ev != NULL)
		evtimer_del(r->timeout_ev);
}

static void
gw_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_req *r = arg;
	gw_reply_fn *fn = r->reply_on_timeout ? r->on_reply : NULL;

	(void)fd; (void)what;
	gw_unwait(r);
	if (fn != NULL)
		fn(r, NULL);
	else
		gw_respond_json_error(r, "timeout");
	if (r->response != NULL) {
		gw_resume_request(r);
		gw_http_kick();
	}
}

/* r's slot already holds it: record what it waits for, start its timeout, suspend it. */
static void
gw_arm_wait(struct gw_req *r, enum proc_id peer, gw_reply_fn *on_reply, int64_t timeout_ns)
{
	struct timeval tv;

	r->wait_peer = peer;
	r->on_reply = on_reply;
	if (timeout_ns <= 0)
		timeout_ns = GATEWAY_DEFAULT_TIMEOUT_NS;
	if (r->timeout_ev == NULL)
		r->timeout_ev = evtimer_new(gw.role.base, gw_timeout_cb, r);
	tv.tv_sec = (time_t)(timeout_ns / 1000000000);
	tv.tv_usec = (suseconds_t)((timeout_ns % 1000000000) / 1000);
	evtimer_add(r->timeout_ev, &tv);
	gw_suspend_request(r);
}

int
gw_send_wait(struct gw_req *r, enum proc_id peer, gw_reply_fn *on_reply, int64_t timeout_ns)
{
	struct gw_req **slot = &gw.waiting[r->wait_id & gw.waiting_mask];

	ipc_finish(&gw.w);
	if (gw.links[peer] == NULL || *slot != NULL)
		return -1;
	if (ipc_conn_send(gw.links[peer], &gw.w) != 0)
		return -1;
	*slot = r;
	gw_arm_wait(r, peer, on_reply, timeout_ns);
	return 0;
}

void
gw_begin_side(struct gw_req *r, enum ipc_type type)
{
	r->side_id = ++gw.next_id;
	ipc_begin(&gw.w, type, r->side_id);
}

int
gw_send_side(struct gw_req *r, gw_reply_fn *on_side)
{
	struct gw_req **slot = &gw.waiting[r->side_id & gw.waiting_mask];

	ipc_finish(&gw.w);
	if (gw.links[PROC_STORAGE] == NULL || *slot != NULL ||
	    ipc_conn_send(gw.links[PROC_STORAGE], &gw.w) != 0) {
		r->side_id = 0;
		return -1;
	}
	*slot = r;
	r->on_side_reply = on_side;
	return 0;
}

static void
gw_side_unwait(struct gw_req *r)
{
	struct gw_req **slot = &gw.waiting[r->side_id & gw.waiting_mask];

	if (r->side_id != 0 && *slot == r)
		*slot = NULL;
	r->side_id = 0;
	r->on_side_reply = NULL;
}

void
gw_wait_side(struct gw_req *r, gw_reply_fn *on_reply, int64_t timeout_ns)
{
	r->wait_id = r->side_id;
	r->wait_type = IPC_QUERY;
	r->side_id = 0;		/* the slot stays: it now holds the main wait */
	r->on_side_reply = NULL;
	gw_arm_wait(r, PROC_STORAGE, on_reply, timeout_ns);
}

void
gw_dispatch_reply(struct ipc_msg *m, enum proc_id from)
{
	struct gw_req *r = gw.waiting[m->request_id & gw.waiting_mask];
	gw_reply_fn *fn;

	if (r != NULL && r->side_id == m->request_id && r->side_id != 0 &&
	    from == PROC_STORAGE && m->type == IPC_QUERY_RESULT) {
		fn = r->on_side_reply;
		gw_side_unwait(r);
		fn(r, m);
		if (r->response != NULL) {
			gw_resume_request(r);
			gw_http_kick();
		}
		return;
	}

	/* Every answer type directly follows its request type in the catalogue; a late
	 * answer to another request (e.g. one sent before a restart) is dropped. A proposal
	 * made here is answered by storage once applied (consensus_send_apply). */
	if (r == NULL || r->wait_id != m->request_id ||
	    (r->wait_peer != from && !(from == PROC_STORAGE && r->wait_type == IPC_PROPOSE)) ||
	    m->type != ipc_reply_type(r->wait_type)) {
		log_debug("reply %s #%llu for no waiting request", ipc_type_name(m->type),
		    (unsigned long long)m->request_id);
		return;
	}
	fn = r->on_reply;
	gw_unwait(r);
	fn(r, m);
	/* The handler either answered or sent the next message. */
	if (r->response != NULL) {
		gw_resume_request(r);
		gw_http_kick();
	}
}

/* A sibling went away: everything waiting on it gets an error now. */
void
gw_fail_waiting(enum proc_id peer, const char *why)
{
	for (size_t i = 0; i <= gw.waiting_mask; i++) {
		struct gw_req *r = gw.waiting[i];
		if (r != NULL && peer == PROC_STORAGE && r->side_id != 0 &&
		    (r->side_id & gw.waiting_mask) == i) {
			gw_reply_fn *fn = r->on_side_reply;
			gw_side_unwait(r);
			fn(r, NULL);
			continue;
		}
		if (r == NULL || r->wait_peer != peer)
			continue;
		gw_unwait(r);
		gw_respond_json_error(r, why);
		gw_resume_request(r);
	}
	gw_http_kick();
}

/* r is going away: it waits for nothing any more. */
void
gw_wait_release(struct gw_req *r)
{
	gw_unwait(r);
	gw_side_unwait(r);
}
