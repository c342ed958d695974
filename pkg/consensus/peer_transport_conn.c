/*
 * Peer transport, a connection's life (see peer_transport_int.h for the states): creating
 * one for a dial or an accepted socket, its state machine, its handshake and refusal
 * deadlines, socket options, the bufferevent's write and connect/EOF/error events, and
 * closing it, which tells its outbound peer entry (peer_transport_dial.c).
 */
#include "peer_transport_int.h"

#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>
#include <sodium.h>

#include "common/log.h"

static const char *peer_conn_state_names[] = {
	"connecting", "hello-sent", "await-hello", "await-proof", "up", "closing",
};

static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

void
pt_conn_set_state(struct peer_conn *c, enum peer_conn_state s)
{
	bool ok;

	switch (s) {
	case PC_HELLO_SENT:	ok = c->state == PC_CONNECTING; break;
	case PC_AWAIT_PROOF:	ok = c->state == PC_AWAIT_HELLO; break;
	case PC_UP:		ok = c->state == PC_HELLO_SENT || c->state == PC_AWAIT_HELLO ||
				    c->state == PC_AWAIT_PROOF; break;
	case PC_CLOSING:	ok = c->state != PC_CLOSING; break;
	default:		ok = false; break;
	}
	if (!ok)
		fatalx("peer %s: illegal state change %s -> %s", c->name,
		    peer_conn_state_names[c->state], peer_conn_state_names[s]);
	log_debug("peer %s: %s -> %s", c->name, peer_conn_state_names[c->state],
	    peer_conn_state_names[s]);
	c->state = s;
}

void
pt_set_sockopts(int fd)
{
	int one = 1, idle = 10, intvl = 5, cnt = 3;
	unsigned user_timeout = 20000;

	if (fd < 0)
		return;
	/* Raft heartbeats are small and latency-bound. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Notice a peer that vanished without a FIN (power loss, partition). */
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* A busy link is never idle, so keepalive alone would not notice a dead peer while
	 * our frames pile up unacknowledged: give up after this long and redial. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

void
pt_conn_free(struct peer_conn *c)
{
	if (c->dns != NULL)
		c->dns->c = NULL;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->flush_ev != NULL)
		event_free(c->flush_ev);
	if (c->stage != NULL)
		evbuffer_free(c->stage);
	if (c->deadline != NULL)
		event_free(c->deadline);
	sodium_memzero(c->tx_key, sizeof(c->tx_key));
	sodium_memzero(c->rx_key, sizeof(c->rx_key));
	free(c);
}

static void
conn_unlink(struct peer_conn *c)
{
	for (struct peer_conn **p = &c->pt->conns; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			return;
		}
	}
}

void
pt_conn_close(struct peer_conn *c, const char *reason)
{
	struct peer_transport *pt = c->pt;
	struct peer_out *o = c->out;
	bool was_up = c->state == PC_UP;

	if (c->dead)
		return;
	c->dead = true;
	if (!c->outbound && pt->inbound_open > 0)
		pt->inbound_open--;
	if (c->dns != NULL) {
		c->dns->c = NULL;
		c->dns = NULL;
	}
	/* Unreachable address: the next attempt tries the next one the name resolves to. */
	if (o != NULL && c->state == PC_CONNECTING)
		o->addr_index++;
	if (was_up) {
		if (c->outbound)
			pt->st.links_out--;
		else
			pt->st.links_in--;
		log_info("peer link %s closed: %s", c->name, reason);
	} else if (!c->outbound) {
		log_debug("peer %s: closed during handshake: %s", c->name, reason);
	}
	conn_unlink(c);
	c->out = NULL;
	if (c->busy > 0)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	else
		pt_conn_free(c);
	if (o != NULL) {
		o->conn = NULL;
		pt_out_link_down(o, was_up, reason);
	}
}

/* Sends a refusal ({e: why}) and closes once it is flushed (bounded in time). */
void
pt_conn_refuse(struct peer_conn *c, enum ipc_type type, const char *why)
{
	struct ipc_writer w;
	struct timeval tv;

	ipc_writer_init(&w);
	ipc_begin(&w, type, 0);
	ipc_add_u64(&w, "v", PEER_PROTO_VERSION);
	ipc_add_str(&w, "e", why);
	ipc_finish(&w);
	(void)pt_conn_write_frame(c, &w);
	ipc_writer_destroy(&w);
	pt_conn_set_state(c, PC_CLOSING);
	bufferevent_disable(c->bev, EV_READ);
	pt_ms_to_tv(PEER_CLOSING_MS, &tv);
	evtimer_add(c->deadline, &tv);
}

static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == PC_CLOSING) {
		pt_conn_close(c, "refused");
		return;
	}
	if (c->state == PC_UP) {
		log_warnx("peer %s: a frame begun %u ms ago stopped arriving, closing", c->name,
		    c->pt->frame_stall_ms);
		c->pt->st.frames_stalled++;
		pt_conn_close(c, "frame stalled");
		return;
	}
	if (!c->outbound)
		log_warnx("peer %s: no handshake within %u ms, closing", c->name,
		    c->pt->connect_ms);
	pt_conn_close(c, c->state == PC_CONNECTING ? "connect timed out" : "handshake timed out");
}

struct peer_conn *
pt_conn_new(struct peer_transport *pt, evutil_socket_t fd, struct peer_out *o)
{
	struct peer_conn *c = calloc(1, sizeof(*c));
	struct timeval tv;

	if (c == NULL)
		return NULL;
	c->pt = pt;
	c->out = o;
	c->outbound = o != NULL;
	c->bev = bufferevent_socket_new(pt->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(pt->base, conn_deadline_cb, c);
	c->stage = evbuffer_new();
	c->flush_ev = event_new(pt->base, -1, 0, pt_conn_flush_cb, c);
	if (c->bev == NULL || c->deadline == NULL || c->stage == NULL || c->flush_ev == NULL) {
		if (c->bev == NULL && fd >= 0)
			evutil_closesocket(fd);
		pt_conn_free(c);
		return NULL;
	}
	c->handle = pt->next_handle++;
	c->state = o != NULL ? PC_CONNECTING : PC_AWAIT_HELLO;
	bufferevent_setcb(c->bev, pt_conn_read_cb, conn_write_cb, conn_event_cb, c);
	pt_ms_to_tv(pt->connect_ms, &tv);
	evtimer_add(c->deadline, &tv);
	c->next = pt->conns;
	pt->conns = c;
	return c;
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct peer_conn *c = arg;

	if (c->state == PC_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		pt_conn_close(c, "refused");
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct peer_conn *c = arg;
	char reason[160];

	if (what & BEV_EVENT_CONNECTED) {
		pt_set_sockopts(bufferevent_getfd(bev));
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		pt_conn_send_hello(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		pt_conn_close(c, "closed by peer");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		snprintf(reason, sizeof(reason), "%s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		pt_conn_close(c, reason);
	}
}
