/*
 * Peer transport (see peer_transport.h): owns the Raft listener of the consensus process,
 * every TCP connection to other nodes, the per-peer send queues, reconnect back-off and
 * the handshake state machine. Sends and receives PEER_HELLO and PEER_HELLO_RESULT itself;
 * every other PEER_* frame is passed to the owner's callback once a link is up.
 *
 * Connection states (conn_set_state() checks the moves):
 *	outbound: CONNECTING → HELLO_SENT → UP
 *	inbound:  AWAIT_HELLO → (AWAIT_PROOF, keyed) → UP
 *	any → CLOSING (a refusal is being flushed) → closed; any → closed.
 */
#include "peer_transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <sodium.h>

#include "common/log.h"
#include "peer_crypto.h"

#define PEER_PROTO_VERSION	1
#define PEER_CLOSING_MS		1000	/* how long a refusal may take to flush */
#define PEER_ACCEPT_PAUSE_MS	100	/* after accept() fails, e.g. EMFILE */

enum peer_conn_state {
	PC_CONNECTING,
	PC_HELLO_SENT,
	PC_AWAIT_HELLO,
	PC_AWAIT_PROOF,
	PC_UP,
	PC_CLOSING,
};

static const char *peer_conn_state_names[] = {
	"connecting", "hello-sent", "await-hello", "await-proof", "up", "closing",
};

struct peer_out;
struct peer_conn;

/* A pending name lookup; outlives its connection if that closes first. */
struct peer_dns {
	struct peer_conn *c;		/* NULL once the connection is gone */
};

struct peer_conn {
	struct peer_conn *next;
	struct peer_transport *pt;
	struct peer_out *out;		/* outbound: our peer entry; NULL for inbound */
	struct bufferevent *bev;
	/* Frames sent while up collect here and are written at the end of the loop pass
	 * (one syscall, no epoll round first); the rest goes through the bufferevent. */
	struct evbuffer *stage;
	struct event *flush_ev;
	struct event *deadline;		/* handshake or refusal-flush bound */
	enum peer_conn_state state;
	bool outbound;			/* we dialed it (c->out may be gone by now) */
	uint64_t handle;
	char peer_id[RAFT_ID_MAX];
	char peer_addr[RAFT_ADDR_MAX];
	char remote[INET6_ADDRSTRLEN + 8];	/* inbound: ip:port */
	char name[2 * RAFT_ADDR_MAX + 80];	/* for logs */
	unsigned char nd[PEER_NONCE_BYTES], nl[PEER_NONCE_BYTES];
	unsigned char tx_key[PEER_KEY_BYTES], rx_key[PEER_KEY_BYTES];
	uint64_t tx_ctr, rx_ctr;
	bool tx_sealed, rx_sealed;
	struct peer_dns *dns;		/* outbound: name lookup in progress */
	int busy;			/* inside our read loop or a connect call: defer free */
	bool dead;
};

struct peer_out {
	struct peer_out *next;
	struct peer_transport *pt;
	char addr[RAFT_ADDR_MAX];
	char peer_id[RAFT_ID_MAX];
	struct peer_conn *conn;
	struct evbuffer *queue;		/* whole plaintext frames waiting for the handshake */
	uint64_t queued_frames;
	unsigned backoff_ms;
	bool backing_off;
	unsigned failures;		/* consecutive failed attempts, for quieter logs */
	unsigned addr_index;		/* which resolved address to try (rotates on failure) */
	struct event *retry;
};

struct peer_blocked {
	struct peer_blocked *next;
	char addr[RAFT_ADDR_MAX];
};

struct peer_transport {
	struct event_base *base;
	char self_id[RAFT_ID_MAX];
	char self_addr[RAFT_ADDR_MAX];
	unsigned char key[PEER_KEY_BYTES];
	bool keyed;
	size_t max_queue;
	unsigned connect_ms;
	peer_frame_cb *on_frame;
	peer_link_cb *on_link;
	void *arg;
	struct evconnlistener *listener;
	struct event *accept_resume;
	struct evdns_base *dns;
	struct peer_conn *conns;
	struct peer_out *outs;
	struct peer_blocked *blocked;
	uint64_t next_handle;
	struct peer_stats st;
};

static void conn_close(struct peer_conn *c, const char *reason);
static void out_dial(struct peer_out *o);

/* Helpers --------------------------------------------------------------------------------- */

static void
ms_to_tv(unsigned ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

static bool
is_blocked(const struct peer_transport *pt, const char *addr)
{
	for (const struct peer_blocked *b = pt->blocked; b != NULL; b = b->next)
		if (strcmp(b->addr, addr) == 0)
			return true;
	return false;
}

/* A msgpack str field into buf: non-empty, fits with its NUL, no embedded NUL. */
static bool
get_name(const struct ipc_msg *m, const char *key, char *buf, size_t max)
{
	const char *s;
	size_t n;

	if (ipc_get_str(m, key, &s, &n) != IPC_OK || n == 0 || n >= max ||
	    memchr(s, '\0', n) != NULL)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static bool
get_fixed(const struct ipc_msg *m, const char *key, unsigned char *buf, size_t len)
{
	const char *p;
	size_t n;

	if (ipc_get_bin(m, key, &p, &n) != IPC_OK || n != len)
		return false;
	memcpy(buf, p, len);
	return true;
}

static void
conn_set_state(struct peer_conn *c, enum peer_conn_state s)
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

static void
set_sockopts(int fd)
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

/* Writing --------------------------------------------------------------------------------- */

/* Writes one frame's payload (msgpack bytes after the length prefix), sealing if due. */
static int
conn_write(struct peer_conn *c, const void *payload, size_t n)
{
	bool staged = c->state == PC_UP && !c->dead;
	struct evbuffer *out = staged ? c->stage : bufferevent_get_output(c->bev);
	size_t total;

	if (!c->tx_sealed) {
		unsigned char hdr[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
		    (unsigned char)(n >> 8), (unsigned char)n };
		total = 4 + n;
		if (evbuffer_expand(out, total) != 0 || evbuffer_add(out, hdr, 4) != 0 ||
		    evbuffer_add(out, payload, n) != 0)
			return PEER_ERR_NOMEM;
	} else {
		struct evbuffer_iovec v;
		total = 4 + n + PEER_SEAL_ABYTES;
		if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) != 1)
			return PEER_ERR_NOMEM;
		peer_crypto_seal(c->tx_key, c->tx_ctr++, payload, n, v.iov_base);
		v.iov_len = total;
		if (evbuffer_commit_space(out, &v, 1) != 0)
			return PEER_ERR_NOMEM;
	}
	c->pt->st.bytes_sent += total;
	c->pt->st.frames_sent++;
	if (staged)
		event_active(c->flush_ev, 0, 0);
	return PEER_OK;
}

static int
conn_write_frame(struct peer_conn *c, const struct ipc_writer *w)
{
	return conn_write(c, w->sb.data + 4, w->sb.size - 4);
}

static size_t
conn_pending(const struct peer_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) + evbuffer_get_length(c->stage);
}

/* Writes the staged frames: straight to the socket when nothing older is waiting. */
static void
conn_flush(struct peer_conn *c)
{
	struct evbuffer *bout;

	if (c->bev == NULL || evbuffer_get_length(c->stage) == 0)
		return;
	bout = bufferevent_get_output(c->bev);
	if (!c->dead && c->state == PC_UP && evbuffer_get_length(bout) == 0)
		(void)evbuffer_write(c->stage, bufferevent_getfd(c->bev));
	if (evbuffer_get_length(c->stage) > 0)
		(void)evbuffer_add_buffer(bout, c->stage);
}

static void
conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	conn_flush(arg);
}

void
peer_transport_flush(struct peer_transport *pt)
{
	for (struct peer_conn *c = pt->conns; c != NULL; c = c->next)
		conn_flush(c);
}

/* Life cycle of a connection ------------------------------------------------------------- */

static void
conn_free(struct peer_conn *c)
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

static void
out_link_down(struct peer_out *o, bool was_up, const char *reason)
{
	struct peer_transport *pt = o->pt;
	struct timeval tv;

	if (o->queued_frames > 0) {
		log_debug("peer %s: dropping %llu queued frames: %s", o->addr,
		    (unsigned long long)o->queued_frames, reason);
		pt->st.frames_dropped += o->queued_frames;
		evbuffer_drain(o->queue, evbuffer_get_length(o->queue));
		o->queued_frames = 0;
	}
	if (!was_up) {
		o->failures++;
		if (o->failures == 1)
			log_warnx("peer %s: cannot link: %s (retrying with back-off)", o->addr,
			    reason);
		else
			log_debug("peer %s: cannot link: %s", o->addr, reason);
	}
	o->backoff_ms = o->backoff_ms == 0 ? PEER_BACKOFF_MIN_MS :
	    (o->backoff_ms * 2 > PEER_BACKOFF_MAX_MS ? PEER_BACKOFF_MAX_MS : o->backoff_ms * 2);
	o->backing_off = true;
	ms_to_tv(o->backoff_ms, &tv);
	evtimer_add(o->retry, &tv);
	/* Last: the callback may send to or forget this peer. */
	if (pt->on_link != NULL)
		pt->on_link(pt, o->addr, o->peer_id, false, pt->arg);
}

static void
conn_close(struct peer_conn *c, const char *reason)
{
	struct peer_transport *pt = c->pt;
	struct peer_out *o = c->out;
	bool was_up = c->state == PC_UP;

	if (c->dead)
		return;
	c->dead = true;
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
		conn_free(c);
	if (o != NULL) {
		o->conn = NULL;
		out_link_down(o, was_up, reason);
	}
}

/* Sends a refusal ({e: why}) and closes once it is flushed (bounded in time). */
static void
conn_refuse(struct peer_conn *c, enum ipc_type type, const char *why)
{
	struct ipc_writer w;
	struct timeval tv;

	ipc_writer_init(&w);
	ipc_begin(&w, type, 0);
	ipc_add_u64(&w, "v", PEER_PROTO_VERSION);
	ipc_add_str(&w, "e", why);
	ipc_finish(&w);
	(void)conn_write_frame(c, &w);
	ipc_writer_destroy(&w);
	conn_set_state(c, PC_CLOSING);
	bufferevent_disable(c->bev, EV_READ);
	ms_to_tv(PEER_CLOSING_MS, &tv);
	evtimer_add(c->deadline, &tv);
}

static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state == PC_CLOSING) {
		conn_close(c, "refused");
		return;
	}
	if (!c->outbound)
		log_warnx("peer %s: no handshake within %u ms, closing", c->name,
		    c->pt->connect_ms);
	conn_close(c, c->state == PC_CONNECTING ? "connect timed out" : "handshake timed out");
}

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static struct peer_conn *
conn_new(struct peer_transport *pt, evutil_socket_t fd, struct peer_out *o)
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
	c->flush_ev = event_new(pt->base, -1, 0, conn_flush_cb, c);
	if (c->bev == NULL || c->deadline == NULL || c->stage == NULL || c->flush_ev == NULL) {
		if (c->bev == NULL && fd >= 0)
			evutil_closesocket(fd);
		conn_free(c);
		return NULL;
	}
	c->handle = pt->next_handle++;
	c->state = o != NULL ? PC_CONNECTING : PC_AWAIT_HELLO;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	ms_to_tv(pt->connect_ms, &tv);
	evtimer_add(c->deadline, &tv);
	c->next = pt->conns;
	pt->conns = c;
	return c;
}

/* Handshake --------------------------------------------------------------------------------- */

static void
conn_up(struct peer_conn *c)
{
	struct peer_transport *pt = c->pt;
	struct peer_out *o = c->out;

	conn_set_state(c, PC_UP);
	evtimer_del(c->deadline);
	pt->st.handshakes_ok++;
	if (!c->outbound) {
		pt->st.links_in++;
		snprintf(c->name, sizeof(c->name), "from %s (%s)", c->peer_addr, c->peer_id);
		log_info("peer link %s up%s", c->name, c->rx_sealed ? ", authenticated" : "");
		return;
	}
	pt->st.links_out++;
	snprintf(o->peer_id, sizeof(o->peer_id), "%s", c->peer_id);
	snprintf(c->name, sizeof(c->name), "to %s (%s)", o->addr, c->peer_id);
	log_info("peer link %s up%s", c->name, c->tx_sealed ? ", authenticated" : "");
	o->backoff_ms = 0;
	o->failures = 0;
	/* Flush what queued while connecting, in order. */
	while (evbuffer_get_length(o->queue) >= 4) {
		unsigned char hdr[4];
		uint32_t len;
		unsigned char *p;

		evbuffer_copyout(o->queue, hdr, 4);
		len = ipc_frame_len(hdr);
		p = evbuffer_pullup(o->queue, 4 + (ev_ssize_t)len);
		if (p == NULL || conn_write(c, p + 4, len) != PEER_OK)
			break;
		evbuffer_drain(o->queue, 4 + (size_t)len);
		o->queued_frames--;
	}
	if (o->queued_frames > 0) {	/* out of memory above: the rest is lost */
		pt->st.frames_dropped += o->queued_frames;
		evbuffer_drain(o->queue, evbuffer_get_length(o->queue));
		o->queued_frames = 0;
	}
	if (pt->on_link != NULL)
		pt->on_link(pt, o->addr, o->peer_id, true, pt->arg);
}

/* Dialer: TCP is up, introduce ourselves. */
static void
conn_send_hello(struct peer_conn *c)
{
	struct peer_transport *pt = c->pt;
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_begin(&w, IPC_PEER_HELLO, 0);
	ipc_add_u64(&w, "v", PEER_PROTO_VERSION);
	ipc_add_str(&w, "id", pt->self_id);
	ipc_add_str(&w, "addr", pt->self_addr);
	ipc_add_str(&w, "auth", pt->keyed ? "key" : "none");
	if (pt->keyed) {
		peer_crypto_random(c->nd, sizeof(c->nd));
		ipc_add_bin(&w, "n", c->nd, sizeof(c->nd));
	}
	ipc_finish(&w);
	(void)conn_write_frame(c, &w);
	ipc_writer_destroy(&w);
	conn_set_state(c, PC_HELLO_SENT);
}

static bool
auth_field(const struct ipc_msg *m, bool *keyed)
{
	const char *s;
	size_t n;

	if (ipc_get_str(m, "auth", &s, &n) != IPC_OK)
		return false;
	if (n == 3 && memcmp(s, "key", 3) == 0)
		*keyed = true;
	else if (n == 4 && memcmp(s, "none", 4) == 0)
		*keyed = false;
	else
		return false;
	return true;
}

static const char *
mode_mismatch(bool we_keyed)
{
	return we_keyed ?
	    "cluster key mismatch: this node requires a cluster key (-cluster-key) and the other has none" :
	    "cluster key mismatch: this node has no cluster key and the other uses one";
}

/* Listener: the dialer's first frame. */
static void
conn_on_hello(struct peer_conn *c, const struct ipc_msg *m)
{
	struct peer_transport *pt = c->pt;
	struct ipc_writer w;
	uint64_t v;
	bool keyed;
	unsigned char mac[PEER_MAC_BYTES];

	if (m->type != IPC_PEER_HELLO) {
		log_warnx("peer %s: %s before the handshake, closing", c->name,
		    ipc_type_name(m->type));
		pt->st.frames_bad++;
		conn_close(c, "no handshake");
		return;
	}
	if (ipc_get_u64(m, "v", &v) != IPC_OK || v != PEER_PROTO_VERSION) {
		log_warnx("peer %s: refusing handshake: unsupported protocol version", c->name);
		pt->st.handshakes_refused++;
		conn_refuse(c, IPC_PEER_HELLO_RESULT, "unsupported peer protocol version");
		return;
	}
	if (!get_name(m, "id", c->peer_id, sizeof(c->peer_id)) ||
	    !get_name(m, "addr", c->peer_addr, sizeof(c->peer_addr)) || !auth_field(m, &keyed)) {
		log_warnx("peer %s: malformed PEER_HELLO, closing", c->name);
		pt->st.frames_bad++;
		conn_refuse(c, IPC_PEER_HELLO_RESULT, "malformed hello");
		return;
	}
	snprintf(c->name, sizeof(c->name), "from %s (%s, %s)", c->peer_addr, c->peer_id,
	    c->remote);
	if (keyed != pt->keyed) {
		log_warnx("peer %s: refusing: %s", c->name, mode_mismatch(pt->keyed));
		pt->st.handshakes_refused++;
		conn_refuse(c, IPC_PEER_HELLO_RESULT, mode_mismatch(!pt->keyed));
		return;
	}
	ipc_writer_init(&w);
	ipc_begin(&w, IPC_PEER_HELLO_RESULT, m->request_id);
	ipc_add_u64(&w, "v", PEER_PROTO_VERSION);
	ipc_add_str(&w, "id", pt->self_id);
	ipc_add_str(&w, "auth", pt->keyed ? "key" : "none");
	if (pt->keyed) {
		if (!get_fixed(m, "n", c->nd, sizeof(c->nd))) {
			ipc_writer_destroy(&w);
			log_warnx("peer %s: PEER_HELLO without a valid nonce, closing", c->name);
			pt->st.frames_bad++;
			conn_refuse(c, IPC_PEER_HELLO_RESULT, "malformed hello");
			return;
		}
		peer_crypto_random(c->nl, sizeof(c->nl));
		peer_crypto_proof(pt->key, PEER_ROLE_LISTENER, c->nd, c->nl, c->peer_id,
		    c->peer_addr, pt->self_id, mac);
		peer_crypto_session_keys(pt->key, c->nd, c->nl, c->rx_key, c->tx_key);
		ipc_add_bin(&w, "n", c->nl, sizeof(c->nl));
		ipc_add_bin(&w, "mac", mac, sizeof(mac));
	}
	ipc_finish(&w);
	(void)conn_write_frame(c, &w);
	ipc_writer_destroy(&w);
	if (pt->keyed) {
		/* Nothing goes to the dialer before its proof, but all that follows is sealed. */
		c->tx_sealed = true;
		conn_set_state(c, PC_AWAIT_PROOF);
	} else {
		conn_up(c);
	}
}

/* Listener, keyed: the dialer's proof (or its refusal of ours). */
static void
conn_on_proof(struct peer_conn *c, const struct ipc_msg *m)
{
	struct peer_transport *pt = c->pt;
	unsigned char mac[PEER_MAC_BYTES], want[PEER_MAC_BYTES];
	char why[128];

	if (m->type != IPC_PEER_HELLO) {
		log_warnx("peer %s: %s before the handshake completed, closing", c->name,
		    ipc_type_name(m->type));
		pt->st.frames_bad++;
		conn_close(c, "no handshake");
		return;
	}
	if (ipc_get_strbuf(m, "e", why, sizeof(why)) == IPC_OK) {
		log_warnx("peer %s refused our key proof: %s", c->name, why);
		pt->st.handshakes_refused++;
		conn_close(c, "refused by peer");
		return;
	}
	if (!get_fixed(m, "mac", mac, sizeof(mac))) {
		log_warnx("peer %s: malformed key proof, closing", c->name);
		pt->st.frames_bad++;
		conn_close(c, "malformed proof");
		return;
	}
	peer_crypto_proof(pt->key, PEER_ROLE_DIALER, c->nd, c->nl, c->peer_id, c->peer_addr,
	    pt->self_id, want);
	if (peer_crypto_proof_cmp(mac, want) != 0) {
		log_warnx("peer %s: refusing: wrong key proof (cluster keys differ?)", c->name);
		pt->st.handshakes_refused++;
		conn_close(c, "wrong key proof");
		return;
	}
	c->rx_sealed = true;
	conn_up(c);
}

/* Dialer: the listener's answer. */
static void
conn_on_hello_result(struct peer_conn *c, const struct ipc_msg *m)
{
	struct peer_transport *pt = c->pt;
	struct peer_out *o = c->out;
	unsigned char mac[PEER_MAC_BYTES], want[PEER_MAC_BYTES];
	char why[256];
	uint64_t v;
	bool keyed;

	if (m->type != IPC_PEER_HELLO_RESULT) {
		log_warnx("peer %s: %s instead of PEER_HELLO_RESULT, closing", c->name,
		    ipc_type_name(m->type));
		pt->st.frames_bad++;
		conn_close(c, "bad handshake");
		return;
	}
	if (ipc_get_strbuf(m, "e", why, sizeof(why)) == IPC_OK) {
		log_warnx("peer %s refused us: %s", c->name, why);
		pt->st.handshakes_refused++;
		conn_close(c, "refused by peer");
		return;
	}
	if (ipc_get_u64(m, "v", &v) != IPC_OK || v != PEER_PROTO_VERSION ||
	    !get_name(m, "id", c->peer_id, sizeof(c->peer_id)) || !auth_field(m, &keyed)) {
		log_warnx("peer %s: malformed PEER_HELLO_RESULT, closing", c->name);
		pt->st.frames_bad++;
		conn_close(c, "malformed hello result");
		return;
	}
	if (keyed != pt->keyed) {
		log_warnx("peer %s: refusing: %s", c->name, mode_mismatch(pt->keyed));
		pt->st.handshakes_refused++;
		conn_close(c, "cluster key mismatch");
		return;
	}
	if (pt->keyed) {
		if (!get_fixed(m, "n", c->nl, sizeof(c->nl)) ||
		    !get_fixed(m, "mac", mac, sizeof(mac))) {
			log_warnx("peer %s: malformed PEER_HELLO_RESULT, closing", c->name);
			pt->st.frames_bad++;
			conn_close(c, "malformed hello result");
			return;
		}
		peer_crypto_proof(pt->key, PEER_ROLE_LISTENER, c->nd, c->nl, pt->self_id,
		    pt->self_addr, c->peer_id, want);
		if (peer_crypto_proof_cmp(mac, want) != 0) {
			log_warnx("peer %s (%s): refusing: wrong key proof (cluster keys differ?)",
			    o->addr, c->peer_id);
			pt->st.handshakes_refused++;
			conn_refuse(c, IPC_PEER_HELLO, "wrong key proof from listener: "
			    "cluster keys differ");
			return;
		}
		peer_crypto_proof(pt->key, PEER_ROLE_DIALER, c->nd, c->nl, pt->self_id,
		    pt->self_addr, c->peer_id, mac);
		peer_crypto_session_keys(pt->key, c->nd, c->nl, c->tx_key, c->rx_key);

		struct ipc_writer w;
		ipc_writer_init(&w);
		ipc_begin(&w, IPC_PEER_HELLO, 0);
		ipc_add_bin(&w, "mac", mac, sizeof(mac));
		ipc_finish(&w);
		(void)conn_write_frame(c, &w);
		ipc_writer_destroy(&w);
		c->tx_sealed = c->rx_sealed = true;
	}
	conn_up(c);
}

/* Reading --------------------------------------------------------------------------------- */

static bool
type_allowed(const struct peer_conn *c, enum ipc_type t)
{
	if (!c->outbound)
		return t == IPC_PEER_RAFT || t == IPC_PEER_FORWARD || t == IPC_PEER_JOIN ||
		    t == IPC_PEER_META || t == IPC_PEER_SNAPSHOT;
	return t == IPC_PEER_FORWARD_RESULT || t == IPC_PEER_JOIN_RESULT ||
	    t == IPC_PEER_META_RESULT;
}

static void
conn_dispatch(struct peer_conn *c, struct ipc_msg *m)
{
	struct peer_transport *pt = c->pt;

	switch (c->state) {
	case PC_AWAIT_HELLO:
		conn_on_hello(c, m);
		return;
	case PC_AWAIT_PROOF:
		conn_on_proof(c, m);
		return;
	case PC_HELLO_SENT:
		conn_on_hello_result(c, m);
		return;
	case PC_UP:
		break;
	default:
		return;
	}
	if (!type_allowed(c, m->type)) {
		log_warnx("peer %s: unexpected %s on an %s link, closing", c->name,
		    ipc_type_name(m->type), c->outbound ? "outbound" : "inbound");
		pt->st.frames_bad++;
		conn_close(c, "unexpected message");
		return;
	}
	if (pt->blocked != NULL && is_blocked(pt, c->peer_addr)) {
		pt->st.frames_blocked++;
		return;
	}
	pt->st.frames_received++;
	pt->on_frame(pt, c, m, pt->arg);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct peer_conn *c = arg;
	struct peer_transport *pt = c->pt;
	struct evbuffer *in = bufferevent_get_input(bev);

	c->busy++;
	while (!c->dead && c->state != PC_CLOSING) {
		size_t avail = evbuffer_get_length(in);
		unsigned char hdr[4], *frame;
		const char *payload;
		uint32_t len;
		size_t plen;
		struct ipc_msg msg;
		int rc;

		if (avail < 4)
			break;
		evbuffer_copyout(in, hdr, 4);
		len = ipc_frame_len(hdr);
		/* An unauthenticated peer may not make us buffer a big frame. */
		if (c->state != PC_UP && len > PEER_HELLO_MAX) {
			if (memcmp(hdr, "GET ", 4) == 0 || memcmp(hdr, "POST", 4) == 0 ||
			    memcmp(hdr, "HEAD", 4) == 0 || memcmp(hdr, "PUT ", 4) == 0)
				log_warnx("peer %s: an HTTP request on the Raft port, closing (is an "
				    "HTTP address given where a Raft address belongs, as in -join?)",
				    c->name);
			else
				log_warnx("peer %s: handshake frame of %u bytes, closing", c->name, len);
			pt->st.frames_bad++;
			conn_close(c, "bad handshake frame");
			break;
		}
		if ((c->rx_sealed && (len < PEER_SEAL_ABYTES ||
		    len > IPC_FRAME_MAX + PEER_SEAL_ABYTES)) || (!c->rx_sealed && len > IPC_FRAME_MAX)) {
			log_warnx("peer %s: frame length %u out of bounds, closing", c->name, len);
			pt->st.frames_bad++;
			conn_close(c, "frame too big");
			break;
		}
		if (avail < 4 + (size_t)len)
			break;
		frame = evbuffer_pullup(in, 4 + (ev_ssize_t)len);
		if (frame == NULL) {
			conn_close(c, "out of memory");
			break;
		}
		pt->st.bytes_received += 4 + (uint64_t)len;
		payload = (const char *)frame + 4;
		plen = len;
		if (c->rx_sealed) {
			if (peer_crypto_open(c->rx_key, c->rx_ctr, frame, len) != 0) {
				log_warnx("peer %s: frame %llu fails authentication (tampered, "
				    "replayed or reordered), closing", c->name,
				    (unsigned long long)c->rx_ctr);
				pt->st.frames_bad++;
				conn_close(c, "authentication failed");
				break;
			}
			c->rx_ctr++;
			plen -= PEER_SEAL_ABYTES;
		}
		rc = ipc_decode(payload, plen, &msg);
		if (rc != IPC_OK) {
			log_warnx("peer %s: bad frame (%s), closing", c->name, ipc_strerror(rc));
			ipc_msg_destroy(&msg);
			pt->st.frames_bad++;
			conn_close(c, ipc_strerror(rc));
			break;
		}
		conn_dispatch(c, &msg);
		ipc_msg_destroy(&msg);
		if (!c->dead)
			evbuffer_drain(in, 4 + (size_t)len);
	}
	if (--c->busy == 0 && c->dead)
		conn_free(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct peer_conn *c = arg;

	if (c->state == PC_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c, "refused");
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct peer_conn *c = arg;
	char reason[160];

	if (what & BEV_EVENT_CONNECTED) {
		set_sockopts(bufferevent_getfd(bev));
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		conn_send_hello(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		conn_close(c, "closed by peer");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		snprintf(reason, sizeof(reason), "%s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_close(c, reason);
	}
}

/* Outbound peers ------------------------------------------------------------------------ */

/* Splits "host:port" or "[v6]:port"; the port must be a number in 1..65535. */
static int
split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hl;
	char *end;
	long p;

	if (colon == NULL || colon == addr)
		return -1;
	hl = (size_t)(colon - addr);
	if (addr[0] == '[') {
		if (hl < 3 || addr[hl - 1] != ']')
			return -1;
		h = addr + 1;
		hl -= 2;
	}
	if (hl >= hostlen)
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

static struct evdns_base *
dns_base(struct peer_transport *pt)
{
	if (pt->dns != NULL)
		return pt->dns;
	pt->dns = evdns_base_new(pt->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (pt->dns == NULL) {
		/* No usable resolv.conf: names from /etc/hosts still work. */
		pt->dns = evdns_base_new(pt->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (pt->dns != NULL)
			(void)evdns_base_load_hosts(pt->dns, NULL);
	}
	return pt->dns;
}

/* Connects c to sa; a failure may be reported from inside the call, so c stays alive
 * (busy) until it returns. */
static void
conn_connect(struct peer_conn *c, const struct sockaddr *sa, int salen)
{
	c->busy++;
	if (bufferevent_socket_connect(c->bev, sa, salen) != 0 && !c->dead)
		conn_close(c, strerror(errno));
	if (--c->busy == 0 && c->dead)
		conn_free(c);
}

/*
 * A name resolved. A name may map to several addresses (localhost: ::1 and 127.0.0.1)
 * of which the peer listens on one, so each attempt takes the next in turn.
 */
static void
dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct peer_dns *d = arg;
	struct peer_conn *c = d->c;
	const struct evutil_addrinfo *ai;
	char reason[160];
	unsigned n = 0;

	free(d);
	if (c == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	c->dns = NULL;
	if (result != 0 || res == NULL || c->out == NULL) {
		snprintf(reason, sizeof(reason), "cannot resolve: %s",
		    result != 0 ? evutil_gai_strerror(result) : "no address");
		if (res != NULL)
			evutil_freeaddrinfo(res);
		conn_close(c, reason);
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	ai = res;
	for (unsigned i = c->out->addr_index % n; i > 0; i--)
		ai = ai->ai_next;
	conn_connect(c, ai->ai_addr, (int)ai->ai_addrlen);
	evutil_freeaddrinfo(res);
}

static void
out_dial(struct peer_out *o)
{
	struct peer_transport *pt = o->pt;
	struct sockaddr_storage ss;
	int sslen = (int)sizeof(ss), port;
	char host[RAFT_ADDR_MAX], portstr[8];
	struct evutil_addrinfo hints;
	struct peer_dns *d;
	struct peer_conn *c;

	if ((c = conn_new(pt, -1, o)) == NULL) {
		out_link_down(o, false, "out of memory");
		return;
	}
	o->conn = c;
	snprintf(c->peer_addr, sizeof(c->peer_addr), "%s", o->addr);
	snprintf(c->name, sizeof(c->name), "to %s", o->addr);
	pt->st.dials++;
	if (evutil_parse_sockaddr_port(o->addr, (struct sockaddr *)&ss, &sslen) == 0) {
		conn_connect(c, (struct sockaddr *)&ss, sslen);
		return;
	}
	if (split_addr(o->addr, host, sizeof(host), &port) != 0 || dns_base(pt) == NULL ||
	    (d = calloc(1, sizeof(*d))) == NULL) {
		conn_close(c, "cannot resolve the address");
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	snprintf(portstr, sizeof(portstr), "%d", port);
	d->c = c;
	c->dns = d;
	/* The callback may run before this returns; it owns d from here on. */
	c->busy++;
	(void)evdns_getaddrinfo(pt->dns, host, portstr, &hints, dns_cb, d);
	if (--c->busy == 0 && c->dead)
		conn_free(c);
}

static void
out_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_out *o = arg;

	(void)fd;
	(void)what;
	o->backing_off = false;
	/* Dial lazily: only when somebody still wants to talk to this peer. */
	if (o->conn == NULL && o->queued_frames > 0)
		out_dial(o);
}

static struct peer_out *
out_find(const struct peer_transport *pt, const char *addr)
{
	for (struct peer_out *o = pt->outs; o != NULL; o = o->next)
		if (strcmp(o->addr, addr) == 0)
			return o;
	return NULL;
}

static struct peer_out *
out_new(struct peer_transport *pt, const char *addr)
{
	struct peer_out *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->pt = pt;
	snprintf(o->addr, sizeof(o->addr), "%s", addr);
	o->queue = evbuffer_new();
	o->retry = evtimer_new(pt->base, out_retry_cb, o);
	if (o->queue == NULL || o->retry == NULL) {
		if (o->queue != NULL)
			evbuffer_free(o->queue);
		if (o->retry != NULL)
			event_free(o->retry);
		free(o);
		return NULL;
	}
	o->next = pt->outs;
	pt->outs = o;
	return o;
}

static void
out_free(struct peer_out *o)
{
	struct peer_transport *pt = o->pt;

	for (struct peer_out **p = &pt->outs; *p != NULL; p = &(*p)->next) {
		if (*p == o) {
			*p = o->next;
			break;
		}
	}
	if (o->conn != NULL) {
		struct peer_conn *c = o->conn;
		c->out = NULL;
		o->conn = NULL;
		conn_close(c, "peer forgotten");
	}
	pt->st.frames_dropped += o->queued_frames;
	evbuffer_free(o->queue);
	event_free(o->retry);
	free(o);
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
	if (pt->blocked != NULL && is_blocked(pt, addr)) {
		pt->st.frames_blocked++;
		return PEER_OK;
	}
	if ((o = out_find(pt, addr)) == NULL) {
		char host[RAFT_ADDR_MAX];
		int port;
		if (split_addr(addr, host, sizeof(host), &port) != 0)
			return PEER_ERR_INVAL;
		if ((o = out_new(pt, addr)) == NULL)
			return PEER_ERR_NOMEM;
	}
	pending = evbuffer_get_length(o->queue);
	if (o->conn != NULL)
		pending += conn_pending(o->conn);
	if (pending + w->sb.size > pt->max_queue) {
		pt->st.frames_dropped++;
		log_debug("peer %s: send queue full (%zu bytes), dropping a frame", addr, pending);
		return PEER_ERR_FULL;
	}
	if (o->conn != NULL && o->conn->state == PC_UP)
		return conn_write_frame(o->conn, w);
	if (evbuffer_add(o->queue, w->sb.data, w->sb.size) != 0)
		return PEER_ERR_NOMEM;
	o->queued_frames++;
	if (o->conn == NULL && !o->backing_off)
		out_dial(o);
	return PEER_OK;
}

size_t
peer_pending(const struct peer_transport *pt, const char *addr)
{
	const struct peer_out *o = out_find(pt, addr);
	size_t pending;

	if (o == NULL)
		return 0;
	pending = evbuffer_get_length(o->queue);
	if (o->conn != NULL)
		pending += conn_pending(o->conn);
	return pending;
}

bool
peer_link_down(const struct peer_transport *pt, const char *addr)
{
	const struct peer_out *o = out_find(pt, addr);

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
	if (pt->blocked != NULL && is_blocked(pt, c->peer_addr)) {
		pt->st.frames_blocked++;
		return PEER_OK;
	}
	if (conn_pending(c) + w->sb.size > pt->max_queue) {
		pt->st.frames_dropped++;
		return PEER_ERR_FULL;
	}
	return conn_write_frame(c, w);
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
	struct peer_out *o = out_find(pt, addr);

	if (o != NULL)
		out_free(o);
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
	if (is_blocked(pt, addr) || (b = calloc(1, sizeof(*b))) == NULL)
		return;
	snprintf(b->addr, sizeof(b->addr), "%s", addr);
	b->next = pt->blocked;
	pt->blocked = b;
	log_info("peer %s: blocked (fault injection)", addr);
}

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
	set_sockopts(fd);
	if ((c = conn_new(pt, fd, NULL)) == NULL) {
		log_warnx("peer: out of memory accepting from %s:%d", ip, port);
		return;
	}
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
	ms_to_tv(PEER_ACCEPT_PAUSE_MS, &tv);
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
		out_free(pt->outs);
	while (pt->conns != NULL) {
		struct peer_conn *c = pt->conns;
		pt->conns = c->next;
		conn_free(c);
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
