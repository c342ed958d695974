/*
 * The peer transport: the PEER_RAFT codec (round trips, hostile bodies, mutation fuzz),
 * frame sealing, and real links between transports in this one process over 127.0.0.1
 * (plaintext, keyed, refused, replayed, reconnecting, bounded). Every event loop here is
 * bounded in time.
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
#include "unit.h"

__attribute__((constructor)) static void
quiet_logs(void)
{
	/* Refusals are expected here; set PEER_TEST_LOG=1 to see them. */
	log_init("test", getenv("PEER_TEST_LOG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
}

/* Helpers: time and loops ---------------------------------------------------------------- */

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop for about ms milliseconds (loopexit bounds it). */
static void
spin(struct event_base *base, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

#define RUN_UNTIL(base, cond, ms) do {						\
	uint64_t run_deadline_ = now_ms() + (ms);				\
	while (!(cond) && now_ms() < run_deadline_)				\
		spin((base), 5);						\
} while (0)

/* A listening socket on 127.0.0.1:*port (0: any; *port gets the one bound). */
static int
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
static int
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
static int
peer_closed(int fd)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		return 1;
	return 0;
}

/* Nodes ------------------------------------------------------------------------------------ */

struct node {
	struct peer_transport *pt;
	int port;
	char addr[64];
	int frames;			/* delivered to the callback */
	uint64_t reqs[64];		/* request ids, in arrival order */
	enum ipc_type last_type;
	char last_peer_id[RAFT_ID_MAX];
	char last_peer_addr[RAFT_ADDR_MAX];
	bool last_inbound;
	int raft_ok;			/* PEER_RAFT frames that decoded */
	uint64_t last_term;
	int results;			/* PEER_FORWARD_RESULT frames */
	int ups, downs;
};

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
static int
node_start_opts(struct node *n, struct event_base *base, const char *id,
    const unsigned char *key, int port, size_t max_queue, unsigned connect_ms)
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
	o.on_link = node_link_cb;
	if (peer_transport_new(base, &o, node_frame_cb, n, &n->pt) != PEER_OK) {
		close(fd);
		return -1;
	}
	return peer_transport_listen(n->pt, fd);
}

static int
node_start(struct node *n, struct event_base *base, const char *id, const unsigned char *key)
{
	return node_start_opts(n, base, id, key, 0, 0, 2000);
}

static void
node_stop(struct node *n)
{
	peer_transport_free(n->pt);
	n->pt = NULL;
}

static struct peer_stats
pstats(const struct peer_transport *pt)
{
	struct peer_stats st;
	peer_transport_stats(pt, &st);
	return st;
}
#define stats(n) pstats((n).pt)

/* Frames ---------------------------------------------------------------------------------- */

static void
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

static void
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

static const unsigned char key_a[32] = "0123456789abcdef0123456789abcde";
static const unsigned char key_b[32] = "fedcba9876543210fedcba987654321";

/* Raft codec --------------------------------------------------------------------------- */

static int
round_trip(const struct raft_message *in, struct raft_message *out, struct ipc_writer *w,
    struct ipc_msg *msg)
{
	int rc;

	ipc_writer_init(w);
	if ((rc = peer_encode_raft(w, in)) != PEER_OK)
		return rc;
	if (ipc_decode(w->sb.data + 4, w->sb.size - 4, msg) != IPC_OK)
		return -100;
	if (msg->type != IPC_PEER_RAFT)
		return -101;
	return peer_decode_raft(msg, out);
}

static void
fill_header(struct raft_message *m, enum raft_message_type t)
{
	memset(m, 0, sizeof(*m));
	m->type = t;
	memset(m->from, 'f', RAFT_ID_MAX - 1);	/* the longest id there may be */
	strcpy(m->to, "node-2");
	strcpy(m->to_address, "10.0.0.2:4002");
	m->term = 0x123456789aULL;
}

UNIT_TEST(raft_messages_of_every_type_round_trip)
{
	struct raft_message in, out;
	struct ipc_writer w;
	struct ipc_msg msg;
	struct raft_entry es[3] = {
		{ 10, 2, RAFT_ENTRY_NORMAL, "abc", 3 },
		{ 11, 3, RAFT_ENTRY_NOOP, NULL, 0 },
		{ 12, 3, RAFT_ENTRY_CONFIG, "\0\1\0\2\0", 5 },
	};
	struct raft_server servers[2] = {
		{ "1", "localhost:4002", RAFT_VOTER },
		{ "2", "localhost:4004", RAFT_NONVOTER },
	};

	fill_header(&in, RAFT_MSG_REQUEST_VOTE);
	in.request_vote = (struct raft_request_vote){ 7, 3, true, false };
	CHECK_INT_EQ(round_trip(&in, &out, &w, &msg), PEER_OK);
	CHECK_INT_EQ(out.type, RAFT_MSG_REQUEST_VOTE);
	CHECK_STR_EQ(out.from, in.from);
	CHECK_STR_EQ(out.to, "node-2");
	CHECK_STR_EQ(out.to_address, "");
	CHECK(out.term == in.term);
	CHECK(out.request_vote.last_log_index == 7 && out.request_vote.last_log_term == 3);
	CHECK(out.request_vote.prevote && !out.request_vote.transfer);
	peer_raft_message_release(&out);
	ipc_msg_destroy(&msg);
	ipc_writer_destroy(&w);

	fill_header(&in, RAFT_MSG_REQUEST_VOTE);
	in.request_vote = (struct raft_request_vote){ UINT64_MAX, UINT64_MAX - 1, false, true };
	CHECK_INT_EQ(round_trip(&in, &out, &w, &msg), PEER_OK);
	CHECK(out.request_vote.last_log_index == UINT64_MAX);
	CHECK(out.request_vote.last_log_term == UINT64_MAX - 1);
	CHECK(!out.request_vote.prevote && out.request_vote.transfer);
	peer_raft_message_release(&out);
	ipc_msg_destroy(&msg);
	ipc_writer_destroy(&w);

	fill_header(&in, RAFT_MSG_REQUEST_VOTE_RESULT);
	in.request_vote_result = (struct raft_request_vote_result){ true, true };
	CHECK_INT_EQ(round_trip(&in, &out, &w, &msg), PEER_OK);
	CHECK_INT_EQ(out.type, RAFT_MSG_REQUEST_VOTE_RESULT);
	CHECK(out.request_vote_result.granted && out.request_vote_result.prevote);
	peer_raft_message_release(&out);
	ipc_msg_destroy(&msg);
	ipc_writer_destroy(&w);

	fill_header(&in, RAFT_MSG_APPEND_ENTRIES);
	in.append_entries = (struct raft_append_entries){ 9, 2, 8, 77, es, 3 };
	CHECK_INT_EQ(round_trip(&in, &out, &w, &msg), PEER_OK);
	CHECK_INT_EQ(out.type, RAFT_MSG_APPEND_ENTRIES);
	CHECK(out.append_entries.prev_index == 9 && out.append_entries.prev_term == 2);
	CHECK(out.append_entries.leader_commit == 8 && out.append_entries.seq == 77);
	CHECK_INT_EQ(out.append_entries.n_entries, 3);
	for (int i = 0; i < 3; i++) {
		const struct raft_entry *e = &out.append_entries.entries[i];
		CHECK(e->index == es[i].index && e->term == es[i].term);
		CHECK_INT_EQ(e->type, es[i].type);
		CHECK_INT_EQ(e->len, es[i].len);
		CHECK(e->len == 0 || memcmp(e->data, es[i].data, e->len) == 0);
		/* Entry data points into the frame, not into a copy. */
		CHECK(e->len == 0 || ((const char *)e->data >= w.sb.data &&
		    (const char *)e->data + e->len <= w.sb.data + w.sb.size));
	}
	peer_raft_message_release(&out);
	CHECK(out.append_entries.entries == NULL);
	peer_raft_message_release(&out);	/* twice is harmless */
	ipc_msg_destroy(&msg);
	ipc_writer_destroy(&w);

	fill_header(&in, RAFT_MSG_APPEND_ENTRIES);	/* heartbeat */
	in.append_entries = (struct raft_append_entries){ 0, 0, 0, 1, NULL, 0 };
	CHECK_INT_EQ(round_trip(&in, &out, &w, &msg), PEER_OK);
	CHECK_INT_EQ(out.append_entries.n_entries, 0);
	CHECK(out.append_entries.entries == NULL && out.append_entries.seq == 1);
	peer_raft_message_release(&out);
	ipc_msg_destroy(&msg);
	ipc_writer_destroy(&w);

	fill_header(&in, RAFT_MSG_APPEND_ENTRIES_RESULT);
	in.append_entries_result = (struct raft_append_entries_result){ false, 9, 12, 2, 5, 77 };
	CHECK_INT_EQ(round_trip(&in, &out, &w, &msg), PEER_OK);
	CHECK_INT_EQ(out.type, RAFT_MSG_APPEND_ENTRIES_RESULT);
	CHECK(!out.append_entries_result.success && out.append_entries_result.index == 9);
	CHECK(out.append_entries_result.last_index == 12);
	CHECK(out.append_entries_result.conflict_term == 2);
	CHECK(out.append_entries_result.conflict_index == 5);
	CHECK(out.append_entries_result.seq == 77);
	peer_raft_message_release(&out);
	ipc_msg_destroy(&msg);
	ipc_writer_destroy(&w);

	fill_header(&in, RAFT_MSG_INSTALL_SNAPSHOT);
	in.install_snapshot.meta.index = 100;
	in.install_snapshot.meta.term = 4;
	in.install_snapshot.meta.config.servers = servers;
	in.install_snapshot.meta.config.n = 2;
	in.install_snapshot.seq = 5;
	CHECK_INT_EQ(round_trip(&in, &out, &w, &msg), PEER_OK);
	CHECK_INT_EQ(out.type, RAFT_MSG_INSTALL_SNAPSHOT);
	CHECK(out.install_snapshot.meta.index == 100 && out.install_snapshot.meta.term == 4);
	CHECK(out.install_snapshot.seq == 5);
	CHECK_INT_EQ(out.install_snapshot.meta.config.n, 2);
	CHECK_STR_EQ(out.install_snapshot.meta.config.servers[0].id, "1");
	CHECK_STR_EQ(out.install_snapshot.meta.config.servers[0].address, "localhost:4002");
	CHECK_INT_EQ(out.install_snapshot.meta.config.servers[0].suffrage, RAFT_VOTER);
	CHECK_STR_EQ(out.install_snapshot.meta.config.servers[1].id, "2");
	CHECK_INT_EQ(out.install_snapshot.meta.config.servers[1].suffrage, RAFT_NONVOTER);
	peer_raft_message_release(&out);
	ipc_msg_destroy(&msg);
	ipc_writer_destroy(&w);

	fill_header(&in, RAFT_MSG_TIMEOUT_NOW);
	CHECK_INT_EQ(round_trip(&in, &out, &w, &msg), PEER_OK);
	CHECK_INT_EQ(out.type, RAFT_MSG_TIMEOUT_NOW);
	CHECK(out.term == in.term);
	peer_raft_message_release(&out);
	ipc_msg_destroy(&msg);
	ipc_writer_destroy(&w);
}

UNIT_TEST(raft_encode_refuses_empty_unterminated_ids_and_unknown_types)
{
	struct raft_message m;
	struct ipc_writer w;

	ipc_writer_init(&w);
	fill_header(&m, RAFT_MSG_TIMEOUT_NOW);
	memset(m.to, 'x', RAFT_ID_MAX);		/* no NUL anywhere */
	CHECK_INT_EQ(peer_encode_raft(&w, &m), PEER_ERR_INVAL);
	fill_header(&m, RAFT_MSG_TIMEOUT_NOW);
	m.from[0] = '\0';
	CHECK_INT_EQ(peer_encode_raft(&w, &m), PEER_ERR_INVAL);
	fill_header(&m, RAFT_MSG_TIMEOUT_NOW);
	m.type = (enum raft_message_type)9;
	CHECK_INT_EQ(peer_encode_raft(&w, &m), PEER_ERR_INVAL);
	ipc_writer_destroy(&w);
}

/* A PEER_RAFT body with a valid header, for hand-made bodies. */
static void
begin_raft(struct ipc_writer *w, uint64_t type)
{
	ipc_begin(w, IPC_PEER_RAFT, 0);
	ipc_add_u64(w, "t", type);
	ipc_add_str(w, "f", "1");
	ipc_add_str(w, "to", "2");
	ipc_add_u64(w, "term", 3);
}

static void
add_ae_fields(struct ipc_writer *w, uint64_t prev)
{
	ipc_add_u64(w, "pi", prev);
	ipc_add_u64(w, "pt", 1);
	ipc_add_u64(w, "lc", 0);
	ipc_add_u64(w, "seq", 0);
}

static void
pack_entry(struct ipc_writer *w, uint64_t index, uint64_t type)
{
	msgpack_pack_array(&w->pk, 4);
	msgpack_pack_uint64(&w->pk, index);
	msgpack_pack_uint64(&w->pk, 1);
	msgpack_pack_uint64(&w->pk, type);
	msgpack_pack_bin(&w->pk, 1);
	msgpack_pack_bin_body(&w->pk, "x", 1);
}

static int
decode_written(struct ipc_writer *w)
{
	struct ipc_msg msg;
	struct raft_message m;
	int rc;

	ipc_finish(w);
	if (ipc_decode(w->sb.data + 4, w->sb.size - 4, &msg) != IPC_OK) {
		ipc_msg_destroy(&msg);
		return -100;
	}
	rc = peer_decode_raft(&msg, &m);
	peer_raft_message_release(&m);
	ipc_msg_destroy(&msg);
	return rc;
}

UNIT_TEST(raft_decode_rejects_missing_mistyped_and_out_of_range_fields)
{
	struct ipc_writer w;
	char longid[RAFT_ID_MAX + 1];

	memset(longid, 'i', RAFT_ID_MAX);
	longid[RAFT_ID_MAX] = '\0';
	ipc_writer_init(&w);

	/* The valid baseline decodes. */
	begin_raft(&w, RAFT_MSG_TIMEOUT_NOW);
	CHECK_INT_EQ(decode_written(&w), PEER_OK);

	ipc_begin(&w, IPC_PEER_RAFT, 0);			/* no term */
	ipc_add_u64(&w, "t", RAFT_MSG_TIMEOUT_NOW);
	ipc_add_str(&w, "f", "1");
	ipc_add_str(&w, "to", "2");
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_FIELD);

	ipc_begin(&w, IPC_PEER_RAFT, 0);			/* from as bin */
	ipc_add_u64(&w, "t", RAFT_MSG_TIMEOUT_NOW);
	ipc_add_bin(&w, "f", "1", 1);
	ipc_add_str(&w, "to", "2");
	ipc_add_u64(&w, "term", 3);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_FIELD);

	ipc_begin(&w, IPC_PEER_RAFT, 0);			/* empty from */
	ipc_add_u64(&w, "t", RAFT_MSG_TIMEOUT_NOW);
	ipc_add_str(&w, "f", "");
	ipc_add_str(&w, "to", "2");
	ipc_add_u64(&w, "term", 3);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);

	ipc_begin(&w, IPC_PEER_RAFT, 0);			/* to one byte too long */
	ipc_add_u64(&w, "t", RAFT_MSG_TIMEOUT_NOW);
	ipc_add_str(&w, "f", "1");
	ipc_add_str(&w, "to", longid);
	ipc_add_u64(&w, "term", 3);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);

	ipc_begin(&w, IPC_PEER_RAFT, 0);			/* NUL inside an id */
	ipc_add_u64(&w, "t", RAFT_MSG_TIMEOUT_NOW);
	ipc_add_strn(&w, "f", "a\0b", 3);
	ipc_add_str(&w, "to", "2");
	ipc_add_u64(&w, "term", 3);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);

	begin_raft(&w, 0);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);
	begin_raft(&w, 7);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);

	begin_raft(&w, RAFT_MSG_REQUEST_VOTE);		/* prevote as an integer */
	ipc_add_u64(&w, "li", 1);
	ipc_add_u64(&w, "lt", 1);
	ipc_add_u64(&w, "pv", 1);
	ipc_add_bool(&w, "tr", false);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_FIELD);

	begin_raft(&w, RAFT_MSG_APPEND_ENTRIES);		/* no entries array */
	add_ae_fields(&w, 5);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_FIELD);

	begin_raft(&w, RAFT_MSG_APPEND_ENTRIES);		/* contiguous: accepted */
	add_ae_fields(&w, 5);
	ipc_add_key(&w, "e");
	msgpack_pack_array(&w.pk, 2);
	pack_entry(&w, 6, RAFT_ENTRY_NORMAL);
	pack_entry(&w, 7, RAFT_ENTRY_NORMAL);
	CHECK_INT_EQ(decode_written(&w), PEER_OK);

	begin_raft(&w, RAFT_MSG_APPEND_ENTRIES);		/* a gap */
	add_ae_fields(&w, 5);
	ipc_add_key(&w, "e");
	msgpack_pack_array(&w.pk, 2);
	pack_entry(&w, 6, RAFT_ENTRY_NORMAL);
	pack_entry(&w, 8, RAFT_ENTRY_NORMAL);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_ORDER);

	begin_raft(&w, RAFT_MSG_APPEND_ENTRIES);		/* not after prev_index */
	add_ae_fields(&w, 5);
	ipc_add_key(&w, "e");
	msgpack_pack_array(&w.pk, 1);
	pack_entry(&w, 7, RAFT_ENTRY_NORMAL);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_ORDER);

	begin_raft(&w, RAFT_MSG_APPEND_ENTRIES);		/* index would wrap */
	add_ae_fields(&w, UINT64_MAX);
	ipc_add_key(&w, "e");
	msgpack_pack_array(&w.pk, 1);
	pack_entry(&w, 0, RAFT_ENTRY_NORMAL);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_ORDER);

	begin_raft(&w, RAFT_MSG_APPEND_ENTRIES);		/* unknown entry type */
	add_ae_fields(&w, 5);
	ipc_add_key(&w, "e");
	msgpack_pack_array(&w.pk, 1);
	pack_entry(&w, 6, 9);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);

	begin_raft(&w, RAFT_MSG_APPEND_ENTRIES);		/* entry of three fields */
	add_ae_fields(&w, 5);
	ipc_add_key(&w, "e");
	msgpack_pack_array(&w.pk, 1);
	msgpack_pack_array(&w.pk, 3);
	msgpack_pack_uint64(&w.pk, 6);
	msgpack_pack_uint64(&w.pk, 1);
	msgpack_pack_uint64(&w.pk, 1);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_FIELD);

	begin_raft(&w, RAFT_MSG_APPEND_ENTRIES);		/* data as str */
	add_ae_fields(&w, 5);
	ipc_add_key(&w, "e");
	msgpack_pack_array(&w.pk, 1);
	msgpack_pack_array(&w.pk, 4);
	msgpack_pack_uint64(&w.pk, 6);
	msgpack_pack_uint64(&w.pk, 1);
	msgpack_pack_uint64(&w.pk, 1);
	msgpack_pack_str(&w.pk, 1);
	msgpack_pack_str_body(&w.pk, "x", 1);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_FIELD);

	begin_raft(&w, RAFT_MSG_INSTALL_SNAPSHOT);		/* suffrage 2 */
	ipc_add_u64(&w, "si", 1);
	ipc_add_u64(&w, "st", 1);
	ipc_add_u64(&w, "seq", 1);
	ipc_add_key(&w, "c");
	msgpack_pack_array(&w.pk, 1);
	msgpack_pack_array(&w.pk, 3);
	msgpack_pack_str(&w.pk, 1);
	msgpack_pack_str_body(&w.pk, "1", 1);
	msgpack_pack_str(&w.pk, 1);
	msgpack_pack_str_body(&w.pk, "a", 1);
	msgpack_pack_uint64(&w.pk, 2);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);

	begin_raft(&w, RAFT_MSG_INSTALL_SNAPSHOT);		/* server id too long */
	ipc_add_u64(&w, "si", 1);
	ipc_add_u64(&w, "st", 1);
	ipc_add_u64(&w, "seq", 1);
	ipc_add_key(&w, "c");
	msgpack_pack_array(&w.pk, 1);
	msgpack_pack_array(&w.pk, 3);
	msgpack_pack_str(&w.pk, RAFT_ID_MAX);
	msgpack_pack_str_body(&w.pk, longid, RAFT_ID_MAX);
	msgpack_pack_str(&w.pk, 1);
	msgpack_pack_str_body(&w.pk, "a", 1);
	msgpack_pack_uint64(&w.pk, 0);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);

	ipc_begin(&w, IPC_PEER_META, 0);			/* not a PEER_RAFT frame */
	ipc_add_u64(&w, "t", RAFT_MSG_TIMEOUT_NOW);
	CHECK_INT_EQ(decode_written(&w), PEER_ERR_RANGE);

	ipc_writer_destroy(&w);
}

static uint64_t fuzz_state;

static uint64_t
fuzz_next(void)
{
	/* xorshift64*: reproducible from the printed seed. */
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return fuzz_state * 2685821657736338717ULL;
}

static void
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

UNIT_TEST(raft_decode_survives_random_mutations_of_valid_frames)
{
	struct raft_entry es[2] = {
		{ 4, 2, RAFT_ENTRY_NORMAL, "insert into t values (1)", 24 },
		{ 5, 2, RAFT_ENTRY_CONFIG, "\x01\x02", 2 },
	};
	struct raft_server servers[2] = {
		{ "1", "a:1", RAFT_VOTER }, { "2", "b:2", RAFT_NONVOTER },
	};
	struct ipc_writer w[6];
	struct raft_message m;
	uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
	int decoded = 0;

	fuzz_state = seed | 1;
	for (int t = 0; t < 6; t++) {
		fill_header(&m, (enum raft_message_type)(t + 1));
		strcpy(m.from, "n1");
		if (t + 1 == RAFT_MSG_APPEND_ENTRIES)
			m.append_entries = (struct raft_append_entries){ 3, 1, 3, 9, es, 2 };
		if (t + 1 == RAFT_MSG_INSTALL_SNAPSHOT) {
			m.install_snapshot.meta.config.servers = servers;
			m.install_snapshot.meta.config.n = 2;
		}
		ipc_writer_init(&w[t]);
		CHECK_INT_EQ(peer_encode_raft(&w[t], &m), PEER_OK);
	}
	for (int i = 0; i < 30000; i++) {
		const struct ipc_writer *src = &w[i % 6];
		size_t len = src->sb.size - 4, cap = len + 64;
		unsigned char *buf = malloc(cap);
		struct ipc_msg msg;

		memcpy(buf, src->sb.data + 4, len);
		mutate(buf, &len, cap);
		/* Shrink to the exact length so ASan sees any overread. */
		unsigned char *exact = malloc(len ? len : 1);
		memcpy(exact, buf, len);
		free(buf);
		if (ipc_decode((const char *)exact, len, &msg) == IPC_OK &&
		    msg.type == IPC_PEER_RAFT && peer_decode_raft(&msg, &m) == PEER_OK) {
			decoded++;
			if (strlen(m.from) == 0 || strlen(m.from) >= RAFT_ID_MAX ||
			    strlen(m.to) == 0 || strlen(m.to) >= RAFT_ID_MAX) {
				fprintf(stderr, "    fuzz seed %llu\n", (unsigned long long)seed);
				CHECK(!"decoded ids out of bounds");
			}
			if (m.type == RAFT_MSG_APPEND_ENTRIES) {
				for (unsigned k = 0; k < m.append_entries.n_entries; k++) {
					const struct raft_entry *e = &m.append_entries.entries[k];
					if (e->index != m.append_entries.prev_index + 1 + k ||
					    (e->len > 0 && ((const unsigned char *)e->data < exact ||
					    (const unsigned char *)e->data + e->len > exact + len))) {
						fprintf(stderr, "    fuzz seed %llu\n",
						    (unsigned long long)seed);
						CHECK(!"decoded entries out of bounds");
					}
				}
			}
			peer_raft_message_release(&m);
		}
		ipc_msg_destroy(&msg);
		free(exact);
	}
	CHECK(decoded > 0);	/* some mutations leave a valid message: the check ran */
	for (int t = 0; t < 6; t++)
		ipc_writer_destroy(&w[t]);
}

/* Sealing ----------------------------------------------------------------------------------- */

UNIT_TEST(sealed_frame_opens_only_with_its_key_counter_and_bytes)
{
	static const char text[] = "a raft message";
	unsigned char frame[4 + sizeof(text) + PEER_SEAL_ABYTES], copy[sizeof(frame)];
	size_t clen = sizeof(text) + PEER_SEAL_ABYTES;

	CHECK_INT_EQ(peer_crypto_init(), 0);
	peer_crypto_seal(key_a, 5, text, sizeof(text), frame);
	CHECK_INT_EQ(ipc_frame_len(frame), clen);
	CHECK(memmem(frame, sizeof(frame), "raft", 4) == NULL);

	memcpy(copy, frame, sizeof(frame));
	CHECK_INT_EQ(peer_crypto_open(key_a, 5, copy, clen), 0);
	CHECK(memcmp(copy + 4, text, sizeof(text)) == 0);

	memcpy(copy, frame, sizeof(frame));		/* replayed later: counter moved on */
	CHECK_INT_EQ(peer_crypto_open(key_a, 6, copy, clen), -1);
	memcpy(copy, frame, sizeof(frame));		/* reordered: an earlier counter */
	CHECK_INT_EQ(peer_crypto_open(key_a, 4, copy, clen), -1);
	memcpy(copy, frame, sizeof(frame));		/* another session's key */
	CHECK_INT_EQ(peer_crypto_open(key_b, 5, copy, clen), -1);
	memcpy(copy, frame, sizeof(frame));		/* tampered ciphertext */
	copy[10] ^= 1;
	CHECK_INT_EQ(peer_crypto_open(key_a, 5, copy, clen), -1);
	memcpy(copy, frame, sizeof(frame));		/* tampered length prefix (AD) */
	copy[0] ^= 0x80;
	CHECK_INT_EQ(peer_crypto_open(key_a, 5, copy, clen), -1);
	CHECK_INT_EQ(peer_crypto_open(key_a, 5, copy, 3), -1);	/* shorter than a tag */
}

UNIT_TEST(key_proofs_are_bound_to_direction_session_and_ids)
{
	unsigned char nd[32], nl[32], nl2[32], p[32], q[32], d2l[32], l2d[32];

	CHECK_INT_EQ(peer_crypto_init(), 0);
	peer_crypto_random(nd, 32);
	peer_crypto_random(nl, 32);
	peer_crypto_random(nl2, 32);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl, "1", "a:1", "2", p);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl, "1", "a:1", "2", q);
	CHECK_INT_EQ(peer_crypto_proof_cmp(p, q), 0);
	peer_crypto_proof(key_a, PEER_ROLE_DIALER, nd, nl, "1", "a:1", "2", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl2, "1", "a:1", "2", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl, "1", "a:1", "3", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);
	peer_crypto_proof(key_a, PEER_ROLE_LISTENER, nd, nl, "1a", ":1", "2", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);	/* ids are length-prefixed */
	peer_crypto_proof(key_b, PEER_ROLE_LISTENER, nd, nl, "1", "a:1", "2", q);
	CHECK(peer_crypto_proof_cmp(p, q) != 0);
	peer_crypto_session_keys(key_a, nd, nl, d2l, l2d);
	CHECK(memcmp(d2l, l2d, 32) != 0);
}

/* A proxy between a dialer and a listener, to watch and meddle ---------------------------- */

enum proxy_mode { PROXY_PASS, PROXY_REPLAY, PROXY_TAMPER };

struct proxy {
	struct event_base *base;
	struct evconnlistener *l;
	int port, target_port;
	struct bufferevent *a, *b;	/* a: from the dialer; b: to the listener */
	struct evbuffer *pending;	/* a → b bytes not yet a whole frame */
	struct evbuffer *captured;	/* everything a → b */
	enum proxy_mode mode;		/* applied to frame 3 (the first sealed one), once */
	int frames;
	int accepted;
};

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

static int
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

static void
proxy_stop(struct proxy *p)
{
	proxy_drop(p);
	evconnlistener_free(p->l);
	evbuffer_free(p->pending);
	evbuffer_free(p->captured);
}

static bool
captured_contains(struct proxy *p, const char *s)
{
	size_t n = evbuffer_get_length(p->captured);
	const unsigned char *d = evbuffer_pullup(p->captured, -1);
	return n > 0 && memmem(d, n, s, strlen(s)) != NULL;
}

/* Links ------------------------------------------------------------------------------------ */

/* A sends three forwards (queued while dialing, delivered in order) and a raft message;
 * B answers the forwards on the same link. */
static void
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

/* Key files ------------------------------------------------------------------------------- */

static int
write_file(const char *path, const void *p, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	if (write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	fchmod(fd, mode);
	return close(fd);
}

UNIT_TEST(key_file_holds_32_raw_bytes_or_64_hex_digits)
{
	char dir[] = "/tmp/peer_key_XXXXXX", path[64], err[256];
	unsigned char key[32], raw[33] = { 0 };
	static const char hex[] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/key", dir);
	for (int i = 0; i < 32; i++)
		raw[i] = (unsigned char)(0xa0 + i);

	CHECK(write_file(path, raw, 32, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), 0);
	CHECK(memcmp(key, raw, 32) == 0);

	CHECK(write_file(path, hex, 64, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), 0);
	for (int i = 0; i < 32; i++)
		CHECK_INT_EQ(key[i], i);

	CHECK(write_file(path, "000102030405060708090A0B0C0D0E0F"
	    "101112131415161718191A1B1C1D1E1F\n", 65, 0644) == 0);	/* warns: mode */
	memset(key, 0, 32);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), 0);
	CHECK_INT_EQ(key[31], 31);

	CHECK(write_file(path, raw, 31, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	CHECK(strstr(err, "32 bytes") != NULL);
	CHECK(write_file(path, raw, 33, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	CHECK(write_file(path, "zz0102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f\n", 65, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	CHECK(write_file(path, hex, 63, 0600) == 0);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	unlink(path);
	CHECK_INT_EQ(peer_load_key(path, key, err, sizeof(err)), -1);
	CHECK(strstr(err, "No such file") != NULL);
	rmdir(dir);
}

UNIT_MAIN()
