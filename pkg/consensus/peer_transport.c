/*
 * Peer transport (see peer_transport.h): owns the Raft listener of the consensus process
 * and the transport object: the public API (sending, replying, pending bytes, link
 * state, stats, the block fault knob), accepting connections, creating and freeing the
 * whole. The parts are listed in peer_transport_int.h. The transport sends and receives
 * PEER_HELLO and PEER_HELLO_RESULT itself (peer_transport_handshake.c); every other
 * PEER_* frame is passed to the owner's callback once a link is up.
 */
#include "peer_transport_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <sodium.h>

#include "common/log.h"

void
pt_ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

bool
pt_is_blocked(const struct peer_transport *pt, const char *addr)
{
	for (const struct peer_blocked *b = pt->blocked; b != NULL; b = b->next)
		if (strcmp(b->addr, addr) == 0)
			return true;
	return false;
}

/* Public API ----------------------------------------------------------------------------- */

int
peer_send(struct peer_transport *pt, const char *addr, const struct ipc_writer *w)
{
	struct peer_out *o;
	size_t pending;

	if (w->sb.size < 5 || w->sb.size - 4 > IPC_FRAME_MAX)
		return PEER_ERR_INVAL;
	if (strnlen(addr, RAFT_ADDR_MAX) >= RAFT_ADDR_MAX || addr[0] == '\0' ||
	    strcmp(addr, pt->self_addr) == 0)
		return PEER_ERR_INVAL;
	if (pt->blocked != NULL && pt_is_blocked(pt, addr)) {
		pt->st.frames_blocked++;
		return PEER_OK;
	}
	if ((o = pt_out_find(pt, addr)) == NULL) {
		char host[RAFT_ADDR_MAX];
		int port;
		if (pt_split_addr(addr, host, sizeof(host), &port) != 0)
			return PEER_ERR_INVAL;
		if ((o = pt_out_new(pt, addr)) == NULL)
			return PEER_ERR_NOMEM;
	}
	pending = evbuffer_get_length(o->queue);
	if (o->conn != NULL)
		pending += pt_conn_pending(o->conn);
	if (pending + w->sb.size > pt->max_queue) {
		pt->st.frames_dropped++;
		log_debug("peer %s: send queue full (%zu bytes), dropping a frame", addr, pending);
		return PEER_ERR_FULL;
	}
	if (o->conn != NULL && o->conn->state == PC_UP)
		return pt_conn_write_frame(o->conn, w);
	if (evbuffer_add(o->queue, w->sb.data, w->sb.size) != 0)
		return PEER_ERR_NOMEM;
	o->queued_frames++;
	if (o->conn == NULL && !o->backing_off)
		pt_out_dial(o);
	return PEER_OK;
}

size_t
peer_pending(const struct peer_transport *pt, const char *addr)
{
	const struct peer_out *o = pt_out_find(pt, addr);
	size_t pending;

	if (o == NULL)
		return 0;
	pending = evbuffer_get_length(o->queue);
	if (o->conn != NULL)
		pending += pt_conn_pending(o->conn);
	return pending;
}

bool
peer_link_down(const struct peer_transport *pt, const char *addr)
{
	const struct peer_out *o = pt_out_find(pt, addr);

	return o != NULL && (o->conn == NULL || o->conn->dead || o->conn->state != PC_UP);
}

int
peer_reply(struct peer_conn *c, const struct ipc_writer *w)
{
	struct peer_transport *pt = c->pt;

	if (c->dead || c->state != PC_UP)
		return PEER_ERR_CLOSED;
	if (w->sb.size < 5 || w->sb.size - 4 > IPC_FRAME_MAX)
		return PEER_ERR_INVAL;
	if (pt->blocked != NULL && pt_is_blocked(pt, c->peer_addr)) {
		pt->st.frames_blocked++;
		return PEER_OK;
	}
	if (pt_conn_pending(c) + w->sb.size > pt->max_queue) {
		pt->st.frames_dropped++;
		return PEER_ERR_FULL;
	}
	return pt_conn_write_frame(c, w);
}

uint64_t
peer_conn_handle(const struct peer_conn *c)
{
	return c->handle;
}

int
peer_reply_handle(struct peer_transport *pt, uint64_t handle, const struct ipc_writer *w)
{
	for (struct peer_conn *c = pt->conns; c != NULL; c = c->next)
		if (c->handle == handle)
			return peer_reply(c, w);
	return PEER_ERR_CLOSED;
}

const char *
peer_conn_id(const struct peer_conn *c)
{
	return c->peer_id;
}

const char *
peer_conn_addr(const struct peer_conn *c)
{
	return c->peer_addr;
}

bool
peer_conn_inbound(const struct peer_conn *c)
{
	return !c->outbound;
}

void
peer_transport_forget(struct peer_transport *pt, const char *addr)
{
	struct peer_out *o = pt_out_find(pt, addr);

	if (o != NULL)
		pt_out_free(o);
}

void
peer_transport_stats(const struct peer_transport *pt, struct peer_stats *st)
{
	*st = pt->st;
	st->keyed = pt->keyed;
}

void
peer_transport_block(struct peer_transport *pt, const char *addr, bool blocked)
{
	struct peer_blocked *b;

	if (!blocked) {
		for (struct peer_blocked **p = &pt->blocked; *p != NULL; p = &(*p)->next) {
			if (strcmp((*p)->addr, addr) == 0) {
				b = *p;
				*p = b->next;
				free(b);
				log_info("peer %s: unblocked", addr);
				return;
			}
		}
		return;
	}
	if (pt_is_blocked(pt, addr) || (b = calloc(1, sizeof(*b))) == NULL)
		return;
	snprintf(b->addr, sizeof(b->addr), "%s", addr);
	b->next = pt->blocked;
	pt->blocked = b;
	log_info("peer %s: blocked (fault injection)", addr);
}

/* The listener and the transport --------------------------------------------------------- */

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct peer_transport *pt = arg;
	struct peer_conn *c;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	(void)l;
	(void)salen;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		evutil_inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		evutil_inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
	}
	if (pt->inbound_open >= pt->max_inbound) {
		/* Logged once per 64 so a flood cannot fill the log either. */
		if (pt->st.conns_refused++ % 64 == 0)
			log_warnx("peer: %u inbound connections open, closing the one from %s:%d "
			    "(%llu refused so far)", pt->inbound_open, ip, port,
			    (unsigned long long)pt->st.conns_refused);
		evutil_closesocket(fd);
		return;
	}
	pt_set_sockopts(fd);
	if ((c = pt_conn_new(pt, fd, NULL)) == NULL) {
		log_warnx("peer: out of memory accepting from %s:%d", ip, port);
		return;
	}
	pt->inbound_open++;
	snprintf(c->remote, sizeof(c->remote), "%s:%d", ip, port);
	snprintf(c->name, sizeof(c->name), "from %s", c->remote);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("peer %s: accepted", c->name);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_transport *pt = arg;

	(void)fd;
	(void)what;
	if (pt->listener != NULL)
		evconnlistener_enable(pt->listener);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct peer_transport *pt = arg;
	struct timeval tv;

	log_warnx("peer: accept: %s; pausing the listener",
	    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	/* EMFILE and friends would otherwise spin the loop. */
	evconnlistener_disable(l);
	pt_ms_to_tv(PEER_ACCEPT_PAUSE_MS, &tv);
	evtimer_add(pt->accept_resume, &tv);
}

int
peer_transport_listen(struct peer_transport *pt, int listen_fd)
{
	if (pt->listener != NULL || listen_fd < 0)
		return PEER_ERR_INVAL;
	evutil_make_socket_nonblocking(listen_fd);
	pt->listener = evconnlistener_new(pt->base, accept_cb, pt,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
	if (pt->listener == NULL)
		return PEER_ERR_SYS;
	evconnlistener_set_error_cb(pt->listener, accept_error_cb);
	return PEER_OK;
}

int
peer_transport_new(struct event_base *base, const struct peer_transport_options *opts,
    peer_frame_cb *on_frame, void *arg, struct peer_transport **out)
{
	struct peer_transport *pt;

	*out = NULL;
	if (base == NULL || opts == NULL || on_frame == NULL || opts->self_id == NULL ||
	    opts->self_addr == NULL || opts->self_id[0] == '\0' || opts->self_addr[0] == '\0' ||
	    strlen(opts->self_id) >= RAFT_ID_MAX || strlen(opts->self_addr) >= RAFT_ADDR_MAX)
		return PEER_ERR_INVAL;
	if (peer_crypto_init() != 0)
		return PEER_ERR_SYS;
	if ((pt = calloc(1, sizeof(*pt))) == NULL)
		return PEER_ERR_NOMEM;
	pt->base = base;
	snprintf(pt->self_id, sizeof(pt->self_id), "%s", opts->self_id);
	snprintf(pt->self_addr, sizeof(pt->self_addr), "%s", opts->self_addr);
	if (opts->key != NULL) {
		memcpy(pt->key, opts->key, PEER_KEY_BYTES);
		pt->keyed = true;
	} else {
		log_warnx("no cluster key: peer links are neither authenticated nor encrypted "
		    "(use -cluster-key)");
	}
	pt->max_queue = opts->max_queue_bytes ? opts->max_queue_bytes : PEER_DEFAULT_QUEUE;
	pt->connect_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms :
	    PEER_DEFAULT_CONNECT_MS;
	pt->max_inbound = opts->max_inbound ? opts->max_inbound : PEER_DEFAULT_MAX_INBOUND;
	pt->frame_stall_ms = opts->frame_stall_ms ? opts->frame_stall_ms :
	    PEER_DEFAULT_FRAME_STALL_MS;
	pt->on_frame = on_frame;
	pt->on_link = opts->on_link;
	pt->arg = arg;
	pt->next_handle = 1;
	pt->accept_resume = evtimer_new(base, accept_resume_cb, pt);
	if (pt->accept_resume == NULL) {
		free(pt);
		return PEER_ERR_NOMEM;
	}
	*out = pt;
	return PEER_OK;
}

void
peer_transport_free(struct peer_transport *pt)
{
	if (pt == NULL)
		return;
	pt->on_link = NULL;
	while (pt->outs != NULL)
		pt_out_free(pt->outs);
	while (pt->conns != NULL) {
		struct peer_conn *c = pt->conns;
		pt->conns = c->next;
		pt_conn_free(c);
	}
	while (pt->blocked != NULL) {
		struct peer_blocked *b = pt->blocked;
		pt->blocked = b->next;
		free(b);
	}
	if (pt->listener != NULL)
		evconnlistener_free(pt->listener);
	event_free(pt->accept_resume);
	if (pt->dns != NULL)
		evdns_base_free(pt->dns, 1);	/* runs pending lookups' callbacks: frees them */
	sodium_memzero(pt->key, sizeof(pt->key));
	free(pt);
}
