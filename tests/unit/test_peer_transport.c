/*
 * The peer transport (pkg/consensus/peer_transport*.c) over real links between
 * transports in this one process on 127.0.0.1: delivery in order both ways, sealed
 * frames replayed or tampered on the wire, reconnecting after a restart and with
 * back-off, the queue bound, the block fault knob, replies by handle, names that
 * resolve. The handshake's refusals are test_peer_transport_handshake.c. Every event
 * loop here is bounded in time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "common/log.h"
#include "consensus/peer_crypto.h"
#include "consensus/peer_raft.h"
#include "consensus/peer_transport.h"
#include "consensus/peer_transport_int.h"
#include "peer_helpers.h"
#include "unit.h"

UNIT_TEST(plaintext_link_delivers_frames_both_ways_in_order)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct proxy p;
	char dest[64];
	int failed = 0;

	CHECK(node_start(&a, base, "A", NULL) == 0);
	CHECK(node_start(&b, base, "B", NULL) == 0);
	CHECK(proxy_start(&p, base, b.port, PROXY_PASS) == 0);
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", p.port);
	exchange(base, &a, &b, dest, &failed);
	CHECK(!failed);
	CHECK(!stats(a).keyed);
	CHECK(captured_contains(&p, "secret-marker"));	/* plaintext on the wire */
	proxy_stop(&p);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

static void
check_meddled_frame_refused(enum proxy_mode mode, int *failed)
{
	int *unit_failed_ = failed;
	struct event_base *base = event_base_new();
	struct node a, b;
	struct proxy p;
	struct ipc_writer w;
	char dest[64];
	int want = mode == PROXY_REPLAY ? 1 : 0;

	CHECK(node_start(&a, base, "A", key_a) == 0);
	CHECK(node_start(&b, base, "B", key_a) == 0);
	CHECK(proxy_start(&p, base, b.port, mode) == 0);
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", p.port);
	ipc_writer_init(&w);
	make_vote(&w, 7);
	CHECK_INT_EQ(peer_send(a.pt, dest, &w), PEER_OK);
	RUN_UNTIL(base, stats(b).frames_bad >= 1 && stats(a).links_out == 0, 2000);
	CHECK_INT_EQ(stats(b).frames_bad, 1);
	/* Replay: the original is delivered, its copy is not. Tamper: nothing is. */
	CHECK_INT_EQ(b.frames, want);
	CHECK_INT_EQ(stats(b).links_in, 0);
	CHECK_INT_EQ(stats(a).links_out, 0);
	/* The dialer reconnects (fresh keys, fresh counters) and traffic flows again. */
	RUN_UNTIL(base, (peer_send(a.pt, dest, &w), b.frames > want), 3000);
	CHECK(b.frames > want);
	CHECK(stats(a).dials >= 2);
	CHECK_INT_EQ(stats(b).frames_bad, 1);
	ipc_writer_destroy(&w);
	proxy_stop(&p);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(replayed_sealed_frame_fails_authentication_and_closes_the_link)
{
	int failed = 0;
	check_meddled_frame_refused(PROXY_REPLAY, &failed);
	CHECK(!failed);
}

UNIT_TEST(tampered_sealed_frame_fails_authentication_and_closes_the_link)
{
	int failed = 0;
	check_meddled_frame_refused(PROXY_TAMPER, &failed);
	CHECK(!failed);
}

UNIT_TEST(link_comes_back_after_the_listener_restarts)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;
	int port;

	CHECK(node_start(&a, base, "A", key_a) == 0);
	CHECK(node_start(&b, base, "B", key_a) == 0);
	ipc_writer_init(&w);
	make_vote(&w, 1);
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	RUN_UNTIL(base, b.frames == 1, 2000);
	CHECK_INT_EQ(b.frames, 1);
	CHECK_INT_EQ(a.ups, 1);

	port = b.port;
	node_stop(&b);
	RUN_UNTIL(base, a.downs >= 1, 2000);
	CHECK(a.downs >= 1);
	CHECK_INT_EQ(stats(a).links_out, 0);
	CHECK(node_start_opts(&b, base, "B", key_a, port, 0, 2000) == 0);
	RUN_UNTIL(base, (peer_send(a.pt, b.addr, &w), b.frames >= 1), 3000);
	CHECK(b.frames >= 1);
	CHECK_INT_EQ(a.ups, 2);
	CHECK_INT_EQ(stats(a).links_out, 1);
	CHECK(stats(a).dials >= 2);
	ipc_writer_destroy(&w);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(unreachable_peer_is_redialed_with_exponential_back_off)
{
	struct event_base *base = event_base_new();
	struct node a;
	struct ipc_writer w;
	char dest[64];
	int port = 0, fd = tcp_listen(&port);
	uint64_t t0;

	CHECK(fd >= 0);
	close(fd);				/* nobody listens there now */
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", port);
	CHECK(node_start(&a, base, "A", NULL) == 0);
	ipc_writer_init(&w);
	make_vote(&w, 1);
	t0 = now_ms();
	/* Attempts at about 0, 50, 150, 350, 750 ms: four within 600 ms. */
	while (now_ms() - t0 < 600) {
		CHECK_INT_EQ(peer_send(a.pt, dest, &w), PEER_OK);
		spin(base, 10);
	}
	CHECK(stats(a).dials >= 3 && stats(a).dials <= 5);
	CHECK_INT_EQ(a.downs, stats(a).dials);
	CHECK(stats(a).frames_dropped >= 1);
	CHECK_INT_EQ(peer_send(a.pt, a.addr, &w), PEER_ERR_INVAL);	/* ourselves */
	CHECK_INT_EQ(peer_send(a.pt, "no-port", &w), PEER_ERR_INVAL);
	CHECK_INT_EQ(peer_send(a.pt, "host:99999", &w), PEER_ERR_INVAL);
	ipc_writer_destroy(&w);
	node_stop(&a);
	event_base_free(base);
}

UNIT_TEST(send_queue_bound_drops_and_counts_frames)
{
	struct event_base *base = event_base_new();
	struct node a;
	struct ipc_writer w;
	char dest[64];
	int port = 0, fd = tcp_listen(&port), ok = 0, rc = PEER_OK;
	size_t bound = 64 * 1024;

	/* A listener that never accepts: TCP connects, the handshake never finishes. */
	CHECK(fd >= 0);
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", port);
	CHECK(node_start_opts(&a, base, "A", NULL, 0, bound, 5000) == 0);
	ipc_writer_init(&w);
	make_forward(&w, 1, "x", 10000);
	CHECK_INT_EQ(peer_send(a.pt, dest, &w), PEER_OK);
	ok++;
	spin(base, 100);
	while (ok < 100 && (rc = peer_send(a.pt, dest, &w)) == PEER_OK)
		ok++;
	CHECK_INT_EQ(rc, PEER_ERR_FULL);
	CHECK_INT_EQ(ok, (int)(bound / w.sb.size));
	CHECK_INT_EQ(stats(a).frames_dropped, 1);
	CHECK_INT_EQ(peer_send(a.pt, dest, &w), PEER_ERR_FULL);
	CHECK_INT_EQ(stats(a).frames_dropped, 2);
	/* Forgetting the peer discards its queue. */
	peer_transport_forget(a.pt, dest);
	CHECK_INT_EQ(stats(a).frames_dropped, 2 + ok);
	ipc_writer_destroy(&w);
	node_stop(&a);
	close(fd);
	event_base_free(base);
}

UNIT_TEST(blocked_address_drops_traffic_both_ways_until_cleared)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;

	CHECK(node_start(&a, base, "A", NULL) == 0);
	CHECK(node_start(&b, base, "B", NULL) == 0);
	ipc_writer_init(&w);
	make_vote(&w, 1);
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	RUN_UNTIL(base, b.frames == 1, 2000);
	CHECK_INT_EQ(b.frames, 1);

	peer_transport_block(a.pt, b.addr, true);	/* sender side */
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	spin(base, 100);
	CHECK_INT_EQ(b.frames, 1);
	CHECK_INT_EQ(stats(a).frames_blocked, 1);
	peer_transport_block(a.pt, b.addr, false);

	peer_transport_block(b.pt, a.addr, true);	/* receiver side */
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	RUN_UNTIL(base, stats(b).frames_blocked == 1, 2000);
	CHECK_INT_EQ(stats(b).frames_blocked, 1);
	CHECK_INT_EQ(b.frames, 1);
	peer_transport_block(b.pt, a.addr, false);

	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	RUN_UNTIL(base, b.frames == 2, 2000);
	CHECK_INT_EQ(b.frames, 2);
	CHECK_INT_EQ(stats(a).links_out, 1);		/* the link itself never dropped */
	CHECK_INT_EQ(a.ups, 1);
	ipc_writer_destroy(&w);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(reply_by_handle_fails_once_the_connection_is_gone)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;

	CHECK(node_start(&a, base, "A", key_a) == 0);
	CHECK(node_start(&b, base, "B", key_a) == 0);
	ipc_writer_init(&w);
	make_vote(&w, 1);
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	RUN_UNTIL(base, stats(b).links_in == 1, 2000);
	CHECK_INT_EQ(stats(b).links_in, 1);
	CHECK_INT_EQ(peer_reply_handle(b.pt, 12345, &w), PEER_ERR_CLOSED);
	peer_transport_forget(a.pt, b.addr);
	CHECK_INT_EQ(stats(a).links_out, 0);
	RUN_UNTIL(base, stats(b).links_in == 0, 2000);
	CHECK_INT_EQ(stats(b).links_in, 0);
	CHECK_INT_EQ(peer_reply_handle(b.pt, 1, &w), PEER_ERR_CLOSED);
	ipc_writer_destroy(&w);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(hostname_address_is_resolved_and_dialed)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;
	char dest[64];

	CHECK(node_start(&a, base, "A", NULL) == 0);
	CHECK(node_start(&b, base, "B", NULL) == 0);
	snprintf(dest, sizeof(dest), "localhost:%d", b.port);
	ipc_writer_init(&w);
	make_vote(&w, 3);
	/* localhost may resolve to ::1 first; B listens on 127.0.0.1 only. */
	RUN_UNTIL(base, (peer_send(a.pt, dest, &w), b.frames >= 1), 3000);
	CHECK(b.frames >= 1);
	ipc_writer_destroy(&w);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

/* A raw client that completes the plaintext handshake as node "X"; the listener's answer
 * is read and dropped. */
static int
raw_hello(struct event_base *base, int port)
{
	struct ipc_writer w;
	char buf[512];
	int fd = tcp_dial(port);

	if (fd < 0)
		return -1;
	ipc_writer_init(&w);
	ipc_begin(&w, IPC_PEER_HELLO, 0);
	ipc_add_u64(&w, "v", PEER_PROTO_VERSION);
	ipc_add_str(&w, "id", "X");
	ipc_add_str(&w, "addr", "127.0.0.1:1");
	ipc_add_str(&w, "auth", "none");
	ipc_finish(&w);
	if (write(fd, w.sb.data, w.sb.size) != (ssize_t)w.sb.size)
		fd = -1;
	ipc_writer_destroy(&w);
	spin(base, 100);
	if (fd >= 0)
		(void)recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	return fd;
}

UNIT_TEST(a_frame_begun_and_not_finished_closes_the_link_after_the_stall_bound)
{
	struct event_base *base = event_base_new();
	struct node b;
	struct ipc_writer w;
	int whole, half;
	uint64_t t0;

	CHECK(node_start_limits(&b, base, "B", NULL, 0, 0, 2000, 0, 300) == 0);
	CHECK((whole = raw_hello(base, b.port)) >= 0);
	CHECK((half = raw_hello(base, b.port)) >= 0);
	ipc_writer_init(&w);
	make_vote(&w, 3);
	CHECK(write(whole, w.sb.data, w.sb.size) == (ssize_t)w.sb.size);
	CHECK(write(half, w.sb.data, w.sb.size / 2) == (ssize_t)(w.sb.size / 2));
	t0 = now_ms();
	RUN_UNTIL(base, peer_closed(half), 3000);
	CHECK(peer_closed(half));
	CHECK(now_ms() - t0 >= 250);
	CHECK_INT_EQ(stats(b).frames_stalled, 1);
	/* The link whose frames arrive whole stays, long after the bound. */
	spin(base, 400);
	CHECK(!peer_closed(whole));
	CHECK_INT_EQ(b.raft_ok, 1);
	ipc_writer_destroy(&w);
	close(whole);
	close(half);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(inbound_connections_past_the_cap_are_closed_at_once_and_counted)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;
	int fds[6];

	CHECK(node_start_limits(&b, base, "B", NULL, 0, 0, 5000, 4, 0) == 0);
	CHECK(node_start(&a, base, "A", NULL) == 0);
	for (int i = 0; i < 6; i++) {
		CHECK((fds[i] = tcp_dial(b.port)) >= 0);
		spin(base, 20);
	}
	spin(base, 100);
	for (int i = 0; i < 4; i++)
		CHECK(!peer_closed(fds[i]));
	CHECK(peer_closed(fds[4]) && peer_closed(fds[5]));
	CHECK_INT_EQ(stats(b).conns_refused, 2);
	/* Room again once some go: a real peer gets through. */
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	spin(base, 100);
	ipc_writer_init(&w);
	make_vote(&w, 1);
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	RUN_UNTIL(base, b.raft_ok == 1, 2000);
	CHECK_INT_EQ(b.raft_ok, 1);
	ipc_writer_destroy(&w);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_MAIN()
