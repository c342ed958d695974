/*
 * The peer transport's handshake (pkg/consensus/peer_transport_handshake.c) over real
 * links in this one process on 127.0.0.1: a keyed link authenticates and seals every
 * frame; a wrong key, a key-mode mismatch, garbage, frames before PEER_HELLO, silence
 * and mutated handshakes are refused and leave the listener working. Every event
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
#include "peer_helpers.h"
#include "unit.h"

UNIT_TEST(keyed_link_authenticates_and_seals_every_frame)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct proxy p;
	char dest[64];
	int failed = 0;

	CHECK(node_start(&a, base, "A", key_a) == 0);
	CHECK(node_start(&b, base, "B", key_a) == 0);
	CHECK(proxy_start(&p, base, b.port, PROXY_PASS) == 0);
	snprintf(dest, sizeof(dest), "127.0.0.1:%d", p.port);
	exchange(base, &a, &b, dest, &failed);
	CHECK(!failed);
	CHECK(stats(a).keyed && stats(b).keyed);
	CHECK(p.frames >= 6);				/* hello, proof, then sealed frames */
	CHECK(!captured_contains(&p, "secret-marker"));
	CHECK(!captured_contains(&p, "SELECT"));
	proxy_stop(&p);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(wrong_key_is_refused_on_both_sides_and_nothing_is_delivered)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;

	CHECK(node_start(&a, base, "A", key_a) == 0);
	CHECK(node_start(&b, base, "B", key_b) == 0);
	ipc_writer_init(&w);
	make_vote(&w, 1);
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	ipc_writer_destroy(&w);
	RUN_UNTIL(base, stats(a).handshakes_refused >= 1 && stats(b).handshakes_refused >= 1,
	    2000);
	spin(base, 50);
	CHECK(stats(a).handshakes_refused >= 1);	/* the listener's proof was wrong */
	CHECK(stats(b).handshakes_refused >= 1);	/* told so by the dialer */
	CHECK_INT_EQ(b.frames, 0);
	CHECK_INT_EQ(stats(b).frames_received, 0);
	CHECK_INT_EQ(stats(a).links_out, 0);
	CHECK_INT_EQ(stats(b).links_in, 0);
	CHECK_INT_EQ(stats(b).handshakes_ok, 0);
	CHECK(a.downs >= 1 && a.ups == 0);
	CHECK(stats(a).frames_dropped >= 1);		/* the queued vote */
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

static void
check_mode_mismatch(const unsigned char *ka, const unsigned char *kb, int *failed)
{
	int *unit_failed_ = failed;
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;

	CHECK(node_start(&a, base, "A", ka) == 0);
	CHECK(node_start(&b, base, "B", kb) == 0);
	ipc_writer_init(&w);
	make_vote(&w, 1);
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	ipc_writer_destroy(&w);
	RUN_UNTIL(base, stats(a).handshakes_refused >= 1 && stats(b).handshakes_refused >= 1,
	    2000);
	CHECK(stats(a).handshakes_refused >= 1);
	CHECK(stats(b).handshakes_refused >= 1);
	CHECK_INT_EQ(b.frames, 0);
	CHECK_INT_EQ(stats(b).handshakes_ok + stats(a).handshakes_ok, 0);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(keyed_node_refuses_unkeyed_peer_and_unkeyed_node_refuses_keyed_peer)
{
	int failed = 0;

	check_mode_mismatch(NULL, key_a, &failed);	/* unkeyed dialer, keyed listener */
	CHECK(!failed);
	check_mode_mismatch(key_a, NULL, &failed);	/* keyed dialer, unkeyed listener */
	CHECK(!failed);
}

UNIT_TEST(garbage_and_frames_before_hello_close_the_connection_and_listener_keeps_working)
{
	static const char http[] = "GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;
	int fd1, fd2;

	CHECK(node_start(&a, base, "A", key_a) == 0);
	CHECK(node_start(&b, base, "B", key_a) == 0);

	CHECK((fd1 = tcp_dial(b.port)) >= 0);
	CHECK(write(fd1, http, sizeof(http) - 1) == (ssize_t)sizeof(http) - 1);
	RUN_UNTIL(base, peer_closed(fd1), 2000);
	CHECK(peer_closed(fd1));
	close(fd1);
	CHECK_INT_EQ(stats(b).frames_bad, 1);

	/* A well-formed frame, but not a PEER_HELLO. */
	ipc_writer_init(&w);
	make_vote(&w, 1);
	CHECK((fd2 = tcp_dial(b.port)) >= 0);
	CHECK(write(fd2, w.sb.data, w.sb.size) == (ssize_t)w.sb.size);
	RUN_UNTIL(base, peer_closed(fd2), 2000);
	CHECK(peer_closed(fd2));
	close(fd2);
	CHECK_INT_EQ(stats(b).frames_bad, 2);
	CHECK_INT_EQ(b.frames, 0);

	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	ipc_writer_destroy(&w);
	RUN_UNTIL(base, b.frames == 1, 2000);
	CHECK_INT_EQ(b.raft_ok, 1);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(silent_client_is_dropped_after_the_handshake_timeout)
{
	struct event_base *base = event_base_new();
	struct node b;
	int fd;
	uint64_t t0;

	CHECK(node_start_opts(&b, base, "B", key_a, 0, 0, 200) == 0);
	CHECK((fd = tcp_dial(b.port)) >= 0);
	t0 = now_ms();
	RUN_UNTIL(base, peer_closed(fd), 3000);
	CHECK(peer_closed(fd));
	CHECK(now_ms() - t0 >= 150);
	close(fd);
	node_stop(&b);
	event_base_free(base);
}

UNIT_TEST(mutated_handshakes_never_crash_the_listener)
{
	struct event_base *base = event_base_new();
	struct node a, b;
	struct ipc_writer w;
	unsigned char nonce[32] = { 1 };
	uint64_t seed = (uint64_t)time(NULL) * 7919;

	fuzz_state = seed | 1;
	CHECK(node_start(&a, base, "A", key_a) == 0);
	CHECK(node_start(&b, base, "B", key_a) == 0);
	ipc_writer_init(&w);
	for (int i = 0; i < 200; i++) {
		unsigned char buf[512];
		size_t len;
		int fd;

		ipc_begin(&w, IPC_PEER_HELLO, 0);
		ipc_add_u64(&w, "v", 1);
		ipc_add_str(&w, "id", "X");
		ipc_add_str(&w, "addr", "127.0.0.1:1");
		ipc_add_str(&w, "auth", i % 2 ? "key" : "none");
		ipc_add_bin(&w, "n", nonce, sizeof(nonce));
		ipc_finish(&w);
		len = w.sb.size;
		memcpy(buf, w.sb.data, len);
		mutate(buf + 4, &len, sizeof(buf) - 4);	/* len counts the body here */
		if ((fd = tcp_dial(b.port)) < 0)
			continue;
		/* Keep the declared length: a mismatch is part of the test. */
		(void)!write(fd, buf, len + 4 > sizeof(buf) ? sizeof(buf) : len + 4);
		close(fd);
		spin(base, 1);
	}
	RUN_UNTIL(base, stats(b).links_in == 0, 500);
	CHECK_INT_EQ(b.frames, 0);
	make_vote(&w, 9);
	CHECK_INT_EQ(peer_send(a.pt, b.addr, &w), PEER_OK);
	ipc_writer_destroy(&w);
	RUN_UNTIL(base, b.frames == 1, 2000);
	CHECK_INT_EQ(b.raft_ok, 1);
	node_stop(&a);
	node_stop(&b);
	event_base_free(base);
}

UNIT_MAIN()
