/*
 * The PEER_RAFT codec (pkg/consensus/peer_raft.c): every Raft message type round
 * trips, the encoder refuses what it cannot carry, the decoder refuses missing,
 * mistyped and out-of-range fields, and survives random mutations of valid frames.
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

UNIT_MAIN()
