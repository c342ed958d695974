/*
 * ipc_conn over a real socketpair: frames arrive whole and in order however the
 * bytes are split on the wire, a frame bigger than the read buffer still arrives, and
 * a frame over the limit, garbage or the peer closing ends the link with a reason.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "ipc_conn.h"
#include "unit.h"

struct sink {
	uint64_t ids[4096];
	size_t sizes[4096];
	unsigned n, drained;
	int closed;
	char reason[64];
};

static void
on_msg(struct ipc_conn *c, struct ipc_msg *msg, void *arg)
{
	struct sink *s = arg;
	const char *p;
	size_t n = 0;

	(void)c;
	if (s->n < 4096) {
		(void)ipc_get_bin(msg, "d", &p, &n);
		s->ids[s->n] = msg->request_id;
		s->sizes[s->n] = n;
	}
	s->n++;
}

static void
on_close(struct ipc_conn *c, const char *reason, void *arg)
{
	struct sink *s = arg;

	(void)c;
	s->closed = 1;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static void
on_drained(struct ipc_conn *c, void *arg)
{
	(void)c;
	((struct sink *)arg)->drained++;
}

/* One frame: request id `id` with a blob of `size` bytes. */
static void
frame(struct ipc_writer *w, uint64_t id, size_t size)
{
	static char blob[1 << 20];

	ipc_writer_reset(w);
	ipc_begin(w, IPC_QUERY, id);
	ipc_add_bin(w, "d", blob, size);
	ipc_finish(w);
}

/* Writes all of p to the (blocking) peer end. */
static void
put(int fd, const void *p, size_t n)
{
	const char *q = p;

	while (n > 0) {
		ssize_t k = write(fd, q, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		q += k;
		n -= (size_t)k;
	}
}

#define PUMP(base, cond) do {							\
	for (int pump_i_ = 0; pump_i_ < 3000 && !(cond); pump_i_++) {		\
		struct timeval tv_ = { 0, 1000 };				\
		event_base_loopexit((base), &tv_);				\
		event_base_dispatch(base);					\
	}									\
} while (0)

#define PUMP_ONCE(base) do {							\
	struct timeval tv_ = { 0, 1000 };					\
	event_base_loopexit((base), &tv_);					\
	event_base_dispatch(base);						\
} while (0)

struct rig {
	struct event_base *base;
	struct ipc_conn *c;
	int peer;
	struct sink s;
};

static int
rig_open(struct rig *r)
{
	int sv[2];

	memset(r, 0, sizeof(*r));
	log_init("test", LOG_LEVEL_ERROR);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	r->base = event_base_new();
	r->c = ipc_conn_new(r->base, sv[0], "test", on_msg, on_close, &r->s);
	ipc_conn_set_drained(r->c, on_drained);
	r->peer = sv[1];
	return r->c == NULL ? -1 : 0;
}

static void
rig_close(struct rig *r)
{
	if (!r->s.closed)
		ipc_conn_free(r->c);
	if (r->peer >= 0)
		close(r->peer);
	event_base_free(r->base);
}

UNIT_TEST(link_frames_arrive_whole_and_in_order_however_the_bytes_are_split)
{
	struct rig r;
	struct ipc_writer w;
	char *all = NULL;
	size_t len = 0, off = 0;
	unsigned i;

	CHECK(rig_open(&r) == 0);
	ipc_writer_init(&w);
	/* 300 frames of varied sizes, one spanning several read buffers. */
	for (i = 0; i < 300; i++) {
		size_t size = i == 150 ? 200000 : (i * 37) % 900;

		frame(&w, i + 1, size);
		all = realloc(all, len + w.sb.size);
		memcpy(all + len, w.sb.data, w.sb.size);
		len += w.sb.size;
	}
	/* Split points: single bytes, a header torn in two, then big slices. */
	for (i = 0; off < len; i++) {
		size_t step = i < 40 ? 1 : i < 80 ? 3 : 5000 + (i * 7919) % 70000;

		if (step > len - off)
			step = len - off;
		put(r.peer, all + off, step);
		off += step;
		PUMP_ONCE(r.base);
	}
	PUMP(r.base, r.s.n >= 300);
	CHECK_INT_EQ(r.s.n, 300);
	for (i = 0; i < 300; i++) {
		CHECK_INT_EQ(r.s.ids[i], i + 1);
		CHECK_INT_EQ(r.s.sizes[i], i == 150 ? 200000 : (i * 37) % 900);
	}
	CHECK(r.s.drained > 0);
	CHECK(!r.s.closed);
	free(all);
	ipc_writer_destroy(&w);
	rig_close(&r);
}

UNIT_TEST(link_burst_of_many_frames_in_one_write_is_handed_over_then_drained_once)
{
	struct rig r;
	struct ipc_writer w;
	char buf[64 * 1024];
	size_t len = 0;
	unsigned i;

	CHECK(rig_open(&r) == 0);
	ipc_writer_init(&w);
	for (i = 0; i < 500; i++) {
		frame(&w, 1000 + i, 16);
		CHECK(len + w.sb.size <= sizeof(buf));
		memcpy(buf + len, w.sb.data, w.sb.size);
		len += w.sb.size;
	}
	put(r.peer, buf, len);
	PUMP(r.base, r.s.n >= 500);
	CHECK_INT_EQ(r.s.n, 500);
	CHECK_INT_EQ(r.s.ids[499], 1499);
	/* The whole burst fits one read: one end-of-burst call for all of it. */
	CHECK_INT_EQ(r.s.drained, 1);
	ipc_writer_destroy(&w);
	rig_close(&r);
}

UNIT_TEST(a_link_with_ends_drops_what_its_sender_may_not_send_and_stays_up)
{
	struct rig r;
	struct ipc_writer w;

	CHECK(rig_open(&r) == 0);
	/* This end is storage, the other the gateway: a QUERY may come, an APPLY may not. */
	ipc_conn_set_ends(r.c, IPC_END_ST, IPC_END_GW);
	ipc_writer_init(&w);
	ipc_begin(&w, IPC_APPLY, 7);
	ipc_finish(&w);
	put(r.peer, w.sb.data, w.sb.size);
	frame(&w, 8, 4);
	put(r.peer, w.sb.data, w.sb.size);
	PUMP(r.base, r.s.n >= 1);
	PUMP_ONCE(r.base);
	CHECK_INT_EQ(r.s.n, 1);
	CHECK_INT_EQ(r.s.ids[0], 8);
	CHECK(!r.s.closed);
	ipc_writer_destroy(&w);
	rig_close(&r);
}

UNIT_TEST(link_closes_on_oversized_frame_garbage_and_peer_close)
{
	struct rig r;
	unsigned char huge[4] = { 0xff, 0xff, 0xff, 0xff };
	unsigned char bad[8] = { 0, 0, 0, 4, 0xc1, 0xc1, 0xc1, 0xc1 };

	CHECK(rig_open(&r) == 0);
	put(r.peer, huge, sizeof(huge));
	PUMP(r.base, r.s.closed);
	CHECK(r.s.closed);
	CHECK_STR_EQ(r.s.reason, "frame too big");
	rig_close(&r);

	CHECK(rig_open(&r) == 0);
	put(r.peer, bad, sizeof(bad));
	PUMP(r.base, r.s.closed);
	CHECK(r.s.closed);
	CHECK_INT_EQ(r.s.n, 0);
	rig_close(&r);

	CHECK(rig_open(&r) == 0);
	close(r.peer);
	r.peer = -1;
	PUMP(r.base, r.s.closed);
	CHECK(r.s.closed);
	CHECK_STR_EQ(r.s.reason, "closed by peer");
	rig_close(&r);
}

UNIT_MAIN()
