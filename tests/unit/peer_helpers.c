/* Helpers for the peer transport's unit tests (peer_helpers.h). */
#include "peer_helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "common/log.h"
#include "unit.h"

__attribute__((constructor)) static void
quiet_logs(void)
{
	/* Refusals are expected here; set PEER_TEST_LOG=1 to see them. */
	log_init("test", getenv("PEER_TEST_LOG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
}

uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop for about ms milliseconds (loopexit bounds it). */
void
spin(struct event_base *base, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* A listening socket on 127.0.0.1:*port (0: any; *port gets the one bound). */
int
tcp_listen(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)*port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A blocking client socket connected to 127.0.0.1:port. */
int
tcp_dial(int port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 once the peer closed fd (EOF or reset), 0 while it is open. Never blocks. */
int
peer_closed(int fd)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		return 1;
	return 0;
}

static void
node_frame_cb(struct peer_transport *pt, struct peer_conn *c, struct ipc_msg *msg, void *arg)
{
	struct node *n = arg;

	(void)pt;
	if (n->frames < 64)
		n->reqs[n->frames] = msg->request_id;
	n->frames++;
	n->last_type = msg->type;
	snprintf(n->last_peer_id, sizeof(n->last_peer_id), "%s", peer_conn_id(c));
	snprintf(n->last_peer_addr, sizeof(n->last_peer_addr), "%s", peer_conn_addr(c));
	n->last_inbound = peer_conn_inbound(c);
	if (msg->type == IPC_PEER_RAFT) {
		struct raft_message m;
		if (peer_decode_raft(msg, &m) == PEER_OK) {
			n->raft_ok++;
			n->last_term = m.term;
		}
		peer_raft_message_release(&m);
	} else if (msg->type == IPC_PEER_FORWARD) {
		struct ipc_writer w;
		ipc_writer_init(&w);
		ipc_begin(&w, IPC_PEER_FORWARD_RESULT, msg->request_id);
		ipc_add_str(&w, "ok", "answered");
		ipc_finish(&w);
		peer_reply(c, &w);
		ipc_writer_destroy(&w);
	} else if (msg->type == IPC_PEER_FORWARD_RESULT) {
		n->results++;
	}
}

static void
node_link_cb(struct peer_transport *pt, const char *addr, const char *peer_id, bool up,
    void *arg)
{
	struct node *n = arg;

	(void)pt;
	(void)addr;
	(void)peer_id;
	if (up)
		n->ups++;
	else
		n->downs++;
}

/* Starts a node listening on 127.0.0.1:port (0: any). */
int
node_start_opts(struct node *n, struct event_base *base, const char *id,
    const unsigned char *key, int port, size_t max_queue, unsigned connect_ms)
{
	return node_start_limits(n, base, id, key, port, max_queue, connect_ms, 0, 0);
}

int
node_start_limits(struct node *n, struct event_base *base, const char *id,
    const unsigned char *key, int port, size_t max_queue, unsigned connect_ms,
    unsigned max_inbound, unsigned frame_stall_ms)
{
	struct peer_transport_options o;
	int fd;

	memset(n, 0, sizeof(*n));
	n->port = port;
	if ((fd = tcp_listen(&n->port)) < 0)
		return -1;
	snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%d", n->port);
	memset(&o, 0, sizeof(o));
	o.self_id = id;
	o.self_addr = n->addr;
	o.key = key;
	o.max_queue_bytes = max_queue;
	o.connect_timeout_ms = connect_ms;
	o.max_inbound = max_inbound;
	o.frame_stall_ms = frame_stall_ms;
	o.on_link = node_link_cb;
	if (peer_transport_new(base, &o, node_frame_cb, n, &n->pt) != PEER_OK) {
		close(fd);
		return -1;
	}
	return peer_transport_listen(n->pt, fd);
}

int
node_start(struct node *n, struct event_base *base, const char *id, const unsigned char *key)
{
	return node_start_opts(n, base, id, key, 0, 0, 2000);
}

void
node_stop(struct node *n)
{
	peer_transport_free(n->pt);
	n->pt = NULL;
}

struct peer_stats
pstats(const struct peer_transport *pt)
{
	struct peer_stats st;
	peer_transport_stats(pt, &st);
	return st;
}

void
make_vote(struct ipc_writer *w, uint64_t term)
{
	struct raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = RAFT_MSG_REQUEST_VOTE;
	strcpy(m.from, "1");
	strcpy(m.to, "2");
	m.term = term;
	m.request_vote.last_log_index = 5;
	if (peer_encode_raft(w, &m) != PEER_OK)
		abort();
}

void
make_forward(struct ipc_writer *w, uint64_t req, const char *marker, size_t pad)
{
	ipc_begin(w, IPC_PEER_FORWARD, req);
	ipc_add_str(w, "sql", marker);
	if (pad > 0) {
		char *p = calloc(1, pad);
		ipc_add_bin(w, "pad", p, pad);
		free(p);
	}
	ipc_finish(w);
}

const unsigned char key_a[32] = "0123456789abcdef0123456789abcde";
const unsigned char key_b[32] = "fedcba9876543210fedcba987654321";

uint64_t fuzz_state;

uint64_t
fuzz_next(void)
{
	/* xorshift64*: reproducible from the printed seed. */
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return fuzz_state * 2685821657736338717ULL;
}

void
mutate(unsigned char *buf, size_t *len, size_t cap)
{
	static const unsigned char special[] = { 0x00, 0x7f, 0x80, 0x90, 0xa0, 0xc0, 0xc1,
	    0xc4, 0xc6, 0xcf, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff };
	int n = 1 + (int)(fuzz_next() % 4);

	for (int k = 0; k < n && *len > 0; k++) {
		size_t at = fuzz_next() % *len;
		switch (fuzz_next() % 6) {
		case 0:
			buf[at] ^= (unsigned char)(1u << (fuzz_next() % 8));
			break;
		case 1:
			buf[at] = special[fuzz_next() % sizeof(special)];
			break;
		case 2:
			buf[at] = (unsigned char)fuzz_next();
			break;
		case 3:
			*len = at;			/* truncate */
			break;
		case 4: {				/* duplicate a run */
			size_t run = 1 + fuzz_next() % 16;
			if (at + run > *len)
				run = *len - at;
			if (*len + run <= cap) {
				memmove(buf + at + run, buf + at, *len - at);
				*len += run;
			}
			break;
		}
		case 5: {				/* delete a run */
			size_t run = 1 + fuzz_next() % 8;
			if (at + run > *len)
				run = *len - at;
			memmove(buf + at, buf + at + run, *len - at - run);
			*len -= run;
			break;
		}
		}
	}
}

static void
proxy_drop(struct proxy *p)
{
	if (p->a != NULL)
		bufferevent_free(p->a);
	if (p->b != NULL)
		bufferevent_free(p->b);
	p->a = p->b = NULL;
	evbuffer_drain(p->pending, evbuffer_get_length(p->pending));
	p->frames = 0;
}

static void
proxy_a_read(struct bufferevent *bev, void *arg)
{
	struct proxy *p = arg;
	unsigned char hdr[4];

	evbuffer_add_buffer(p->pending, bufferevent_get_input(bev));
	while (evbuffer_get_length(p->pending) >= 4) {
		uint32_t len;
		unsigned char *f;

		evbuffer_copyout(p->pending, hdr, 4);
		len = ipc_frame_len(hdr);
		if (evbuffer_get_length(p->pending) < 4 + (size_t)len)
			break;
		f = malloc(4 + (size_t)len);
		evbuffer_remove(p->pending, f, 4 + (size_t)len);
		p->frames++;
		if (p->frames == 3 && p->mode == PROXY_TAMPER)
			f[4 + len - 1] ^= 0x01;
		evbuffer_add(p->captured, f, 4 + (size_t)len);
		bufferevent_write(p->b, f, 4 + (size_t)len);
		if (p->frames == 3 && p->mode == PROXY_REPLAY)
			bufferevent_write(p->b, f, 4 + (size_t)len);
		if (p->frames == 3)
			p->mode = PROXY_PASS;
		free(f);
	}
}

static void
proxy_b_read(struct bufferevent *bev, void *arg)
{
	struct proxy *p = arg;
	bufferevent_write_buffer(p->a, bufferevent_get_input(bev));
}

static void
proxy_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		proxy_drop(arg);
}

static void
proxy_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct proxy *p = arg;
	struct sockaddr_in sin;

	(void)l;
	(void)sa;
	(void)salen;
	proxy_drop(p);
	p->accepted++;
	p->a = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	p->b = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)p->target_port);
	bufferevent_setcb(p->a, proxy_a_read, NULL, proxy_event, p);
	bufferevent_setcb(p->b, proxy_b_read, NULL, proxy_event, p);
	bufferevent_enable(p->a, EV_READ | EV_WRITE);
	bufferevent_enable(p->b, EV_READ | EV_WRITE);
	bufferevent_socket_connect(p->b, (struct sockaddr *)&sin, sizeof(sin));
}

int
proxy_start(struct proxy *p, struct event_base *base, int target_port, enum proxy_mode mode)
{
	int fd;

	memset(p, 0, sizeof(*p));
	p->base = base;
	p->target_port = target_port;
	p->mode = mode;
	p->pending = evbuffer_new();
	p->captured = evbuffer_new();
	if ((fd = tcp_listen(&p->port)) < 0)
		return -1;
	evutil_make_socket_nonblocking(fd);
	p->l = evconnlistener_new(base, proxy_accept, p, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	return p->l != NULL ? 0 : -1;
}

void
proxy_stop(struct proxy *p)
{
	proxy_drop(p);
	evconnlistener_free(p->l);
	evbuffer_free(p->pending);
	evbuffer_free(p->captured);
}

bool
captured_contains(struct proxy *p, const char *s)
{
	size_t n = evbuffer_get_length(p->captured);
	const unsigned char *d = evbuffer_pullup(p->captured, -1);
	return n > 0 && memmem(d, n, s, strlen(s)) != NULL;
}

/* A sends three forwards (queued while dialing, delivered in order) and a raft message;
 * B answers the forwards on the same link. */
void
exchange(struct event_base *base, struct node *a, struct node *b, const char *dest, int *failed)
{
	int *unit_failed_ = failed;
	struct ipc_writer w;

	ipc_writer_init(&w);
	for (uint64_t i = 1; i <= 3; i++) {
		make_forward(&w, i, "SELECT 'secret-marker'", 0);
		CHECK_INT_EQ(peer_send(a->pt, dest, &w), PEER_OK);
	}
	make_vote(&w, 42);
	CHECK_INT_EQ(peer_send(a->pt, dest, &w), PEER_OK);
	ipc_writer_destroy(&w);
	RUN_UNTIL(base, b->frames >= 4 && a->results >= 3, 3000);
	CHECK_INT_EQ(b->frames, 4);
	CHECK(b->reqs[0] == 1 && b->reqs[1] == 2 && b->reqs[2] == 3);
	CHECK_INT_EQ(b->raft_ok, 1);
	CHECK(b->last_term == 42);
	CHECK_STR_EQ(b->last_peer_id, "A");
	CHECK_STR_EQ(b->last_peer_addr, a->addr);
	CHECK(b->last_inbound);
	CHECK_INT_EQ(a->results, 3);
	CHECK_STR_EQ(a->last_peer_id, "B");
	CHECK(!a->last_inbound);
	CHECK_INT_EQ(a->ups, 1);
	CHECK_INT_EQ(stats(*a).links_out, 1);
	CHECK_INT_EQ(stats(*b).links_in, 1);
	CHECK_INT_EQ(stats(*a).handshakes_ok, 1);
	CHECK_INT_EQ(stats(*b).handshakes_ok, 1);
	CHECK_INT_EQ(stats(*b).frames_bad, 0);
	CHECK(stats(*a).bytes_sent > 0 && stats(*a).bytes_sent == stats(*b).bytes_received);
}
