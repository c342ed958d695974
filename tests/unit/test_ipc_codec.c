/* The frame codec: round trips, and malformed input rejected without crashing. */
#include <stdlib.h>

#include "ipc_codec.h"
#include "unit.h"

static int
decode_frame(const struct ipc_writer *w, struct ipc_msg *m)
{
	return ipc_decode(w->sb.data + 4, w->sb.size - 4, m);
}

UNIT_TEST(frame_round_trips_every_field_type)
{
	struct ipc_writer w;
	struct ipc_msg m;
	uint64_t u;
	int64_t i;
	double d;
	bool b;
	const char *s;
	size_t n;
	char buf[16];

	ipc_writer_init(&w);
	ipc_begin(&w, IPC_PROPOSE, 42);
	ipc_add_u64(&w, "u", UINT64_MAX);
	ipc_add_i64(&w, "i", -7);
	ipc_add_f64(&w, "d", 1.5);
	ipc_add_bool(&w, "b", true);
	ipc_add_str(&w, "s", "hello");
	ipc_add_bin(&w, "c", "\0\1\2", 3);
	ipc_finish(&w);
	CHECK_INT_EQ(ipc_frame_len((const unsigned char *)w.sb.data), w.sb.size - 4);
	CHECK_INT_EQ(decode_frame(&w, &m), IPC_OK);
	CHECK_INT_EQ(m.type, IPC_PROPOSE);
	CHECK_INT_EQ(m.request_id, 42);
	CHECK(ipc_get_u64(&m, "u", &u) == IPC_OK && u == UINT64_MAX);
	CHECK(ipc_get_i64(&m, "i", &i) == IPC_OK && i == -7);
	CHECK(ipc_get_f64(&m, "d", &d) == IPC_OK && d == 1.5);
	CHECK(ipc_get_bool(&m, "b", &b) == IPC_OK && b);
	CHECK(ipc_get_str(&m, "s", &s, &n) == IPC_OK && n == 5 && memcmp(s, "hello", 5) == 0);
	CHECK(ipc_get_bin(&m, "c", &s, &n) == IPC_OK && n == 3 && s[2] == 2);
	CHECK(ipc_get_strbuf(&m, "s", buf, 4) == IPC_OK);
	CHECK_STR_EQ(buf, "hel");
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
}

UNIT_TEST(missing_and_mistyped_fields_are_reported_not_assumed)
{
	struct ipc_writer w;
	struct ipc_msg m;
	uint64_t u;
	const char *s;
	size_t n;

	ipc_writer_init(&w);
	ipc_begin(&w, IPC_APPLY, 1);
	ipc_add_str(&w, "i", "not a number");
	ipc_finish(&w);
	CHECK_INT_EQ(decode_frame(&w, &m), IPC_OK);
	CHECK_INT_EQ(ipc_get_u64(&m, "i", &u), IPC_ERR_FIELD);
	CHECK_INT_EQ(ipc_get_u64(&m, "absent", &u), IPC_ERR_NOKEY);
	CHECK_INT_EQ(ipc_get_bin(&m, "i", &s, &n), IPC_ERR_FIELD);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);
}

UNIT_TEST(writer_is_reusable_after_begin)
{
	struct ipc_writer w;
	struct ipc_msg m;
	uint64_t u;

	ipc_writer_init(&w);
	for (int k = 0; k < 3; k++) {
		ipc_begin(&w, IPC_STATE, (uint64_t)k);
		ipc_add_u64(&w, "t", (uint64_t)k * 10);
		ipc_finish(&w);
		CHECK_INT_EQ(decode_frame(&w, &m), IPC_OK);
		CHECK(ipc_get_u64(&m, "t", &u) == IPC_OK && u == (uint64_t)k * 10);
		CHECK_INT_EQ(m.body->size, 1);
		ipc_msg_destroy(&m);
	}
	ipc_writer_destroy(&w);
}

UNIT_TEST(unknown_type_and_wrong_shapes_are_rejected)
{
	/* [999, 1, {}] */
	static const char unknown[] = "\x93\xcd\x03\xe7\x01\x80";
	/* [1, 1, []] : body not a map */
	static const char notmap[] = "\x93\x01\x01\x90";
	/* [1, 1] */
	static const char short_arr[] = "\x92\x01\x01";
	/* "x" */
	static const char notarray[] = "\xa1x";
	/* [1, 1, {} ] followed by a trailing byte */
	static const char trailing[] = "\x93\x01\x01\x80\x00";
	/* truncated str */
	static const char truncated[] = "\x93\x01\x01\x81\xa5" "ab";
	struct ipc_msg m;

	CHECK_INT_EQ(ipc_decode(unknown, sizeof(unknown) - 1, &m), IPC_ERR_TYPE);
	ipc_msg_destroy(&m);
	CHECK_INT_EQ(ipc_decode(notmap, sizeof(notmap) - 1, &m), IPC_ERR_SHAPE);
	ipc_msg_destroy(&m);
	CHECK_INT_EQ(ipc_decode(short_arr, sizeof(short_arr) - 1, &m), IPC_ERR_SHAPE);
	ipc_msg_destroy(&m);
	CHECK_INT_EQ(ipc_decode(notarray, sizeof(notarray) - 1, &m), IPC_ERR_SHAPE);
	ipc_msg_destroy(&m);
	CHECK_INT_EQ(ipc_decode(trailing, sizeof(trailing) - 1, &m), IPC_ERR_MSGPACK);
	ipc_msg_destroy(&m);
	CHECK_INT_EQ(ipc_decode(truncated, sizeof(truncated) - 1, &m), IPC_ERR_MSGPACK);
	ipc_msg_destroy(&m);
	CHECK_INT_EQ(ipc_decode("", 0, &m), IPC_ERR_MSGPACK);
	ipc_msg_destroy(&m);
}

/* Random mutations of a valid frame: decoding must fail cleanly or succeed, never crash
 * (run under ASan/UBSan by scripts/test). */
UNIT_TEST(mutated_frames_never_crash_the_decoder)
{
	struct ipc_writer w;
	unsigned seed = 12345;
	int ok = 0, bad = 0;

	ipc_writer_init(&w);
	ipc_begin(&w, IPC_APPLY, 7);
	ipc_add_u64(&w, "i", 99);
	ipc_add_bin(&w, "c", "0123456789abcdef", 16);
	ipc_add_str(&w, "s", "a string of some length");
	ipc_finish(&w);
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = w.sb.size - 4;
		char *copy = malloc(len);
		struct ipc_msg m;
		int flips = 1 + (int)(rand_r(&seed) % 4);
		memcpy(copy, w.sb.data + 4, len);
		for (int k = 0; k < flips; k++)
			copy[rand_r(&seed) % len] = (char)rand_r(&seed);
		if (rand_r(&seed) % 3 == 0)
			len = rand_r(&seed) % len;
		if (ipc_decode(copy, len, &m) == IPC_OK) {
			const char *s;
			size_t n;
			uint64_t u;
			(void)ipc_get_bin(&m, "c", &s, &n);
			(void)ipc_get_u64(&m, "i", &u);
			ok++;
		} else {
			bad++;
		}
		ipc_msg_destroy(&m);
		free(copy);
	}
	CHECK(bad > 0);
	ipc_writer_destroy(&w);
}

UNIT_TEST(forged_container_counts_are_rejected_before_allocation)
{
	/* [1, 1, array32 claiming 4 billion elements] */
	static const char forged[] = "\x93\x01\x01\xdd\xff\xff\xff\xff\x00";
	/* a map16 claiming 1000 pairs with 2 bytes left */
	static const char forged_map[] = "\xde\x03\xe8\x01\x02";
	struct ipc_msg m;

	CHECK_INT_EQ(ipc_decode(forged, sizeof(forged) - 1, &m), IPC_ERR_MSGPACK);
	ipc_msg_destroy(&m);
	CHECK_INT_EQ(ipc_msgpack_validate(forged_map, sizeof(forged_map) - 1), -1);
	CHECK_INT_EQ(ipc_msgpack_validate("\xc1", 1), -1);
	CHECK_INT_EQ(ipc_msgpack_validate("\x91\x01", 2), 0);
	CHECK_INT_EQ(ipc_msgpack_validate("\xd9\x03" "abc", 5), 0);
	CHECK_INT_EQ(ipc_msgpack_validate("\xd9\x04" "abc", 5), -1);
}

UNIT_TEST(every_catalogue_type_has_a_name)
{
	for (unsigned t = 1; t < IPC_TYPE_MAX; t++)
		CHECK(strcmp(ipc_type_name(t), "unknown") != 0);
	CHECK_STR_EQ(ipc_type_name(IPC_TYPE_MAX), "unknown");
	CHECK_STR_EQ(ipc_type_name(IPC_PROPOSE), "PROPOSE");
}

UNIT_TEST(a_saved_message_decodes_again_as_it_arrived)
{
	struct ipc_writer w, saved;
	struct ipc_msg m, again;
	const char *p;
	size_t n;
	uint64_t v;

	ipc_writer_init(&w);
	ipc_writer_init(&saved);
	ipc_begin(&w, IPC_BARRIER, 77);
	ipc_add_str(&w, "l", "weak");
	ipc_add_u64(&w, "fr", 1234567);
	ipc_add_bin(&w, "c", "\x81\xa1k\x02", 4);
	ipc_finish(&w);
	CHECK(ipc_decode(w.sb.data + 4, w.sb.size - 4, &m) == IPC_OK);
	CHECK(ipc_msg_save(&m, &saved) == 0);
	ipc_msg_destroy(&m);
	ipc_writer_destroy(&w);	/* the saved copy stands alone */
	CHECK_INT_EQ(ipc_frame_len((const unsigned char *)saved.sb.data), saved.sb.size - 4);
	CHECK(ipc_decode(ipc_frame_payload(&saved), ipc_frame_payload_len(&saved), &again) == IPC_OK);
	CHECK_INT_EQ(again.type, IPC_BARRIER);
	CHECK_INT_EQ(again.request_id, 77);
	CHECK(ipc_get_u64(&again, "fr", &v) == IPC_OK && v == 1234567);
	CHECK(ipc_get_bin(&again, "c", &p, &n) == IPC_OK && n == 4 && p[3] == 2);
	ipc_msg_destroy(&again);
	ipc_writer_destroy(&saved);
}

UNIT_TEST(every_request_is_answered_along_the_link_it_came_by)
{
	static const enum ipc_end ends[] = {
		IPC_END_SV, IPC_END_GW, IPC_END_CS, IPC_END_ST, IPC_END_PEER,
	};
	unsigned requests = 0;

	for (unsigned t = 1; t < IPC_TYPE_MAX; t++) {
		enum ipc_type r = ipc_reply_type(t);
		unsigned links = 0;

		for (unsigned a = 0; a < 5; a++) {
			for (unsigned b = 0; b < 5; b++) {
				if (!ipc_link_accepts(t, ends[a], ends[b]))
					continue;
				links++;
				/* Whoever receives a request can send its reply back. */
				if (r != IPC_NONE && !ipc_link_accepts(r, ends[b], ends[a]))
					UNIT_FAIL_("%s from %s: its reply %s cannot go back", ipc_type_name(t),
					    ipc_end_name(ends[a]), ipc_type_name(r));
			}
		}
		if (links == 0)
			UNIT_FAIL_("%s travels on no link", ipc_type_name(t));
		if (r != IPC_NONE) {
			requests++;
			CHECK(ipc_reply_type(r) == IPC_NONE);	/* answers are not requests */
		}
	}
	CHECK(requests >= 15);
	CHECK_INT_EQ(ipc_reply_type(IPC_PROPOSE), IPC_PROPOSE_RESULT);
	CHECK_INT_EQ(ipc_reply_type(IPC_SV_PING), IPC_SV_PONG);
	CHECK_INT_EQ(ipc_reply_type(IPC_STATE), IPC_NONE);
	CHECK_INT_EQ(ipc_reply_type(IPC_TYPE_MAX + 3), IPC_NONE);
}

UNIT_TEST(each_link_accepts_only_what_its_sender_may_send)
{
	CHECK(ipc_link_accepts(IPC_PROPOSE, IPC_END_GW, IPC_END_CS));
	CHECK(!ipc_link_accepts(IPC_PROPOSE, IPC_END_ST, IPC_END_CS));
	CHECK(!ipc_link_accepts(IPC_APPLY, IPC_END_GW, IPC_END_ST));	/* only consensus applies */
	CHECK(ipc_link_accepts(IPC_PROPOSE_RESULT, IPC_END_ST, IPC_END_GW));
	CHECK(!ipc_link_accepts(IPC_PROPOSE_RESULT, IPC_END_PEER, IPC_END_GW));
	CHECK(!ipc_link_accepts(IPC_SV_SHUTDOWN, IPC_END_PEER, IPC_END_PEER));
	CHECK(ipc_link_accepts(IPC_SV_SHUTDOWN, IPC_END_SV, IPC_END_ST));
	CHECK(!ipc_link_accepts(IPC_NONE, IPC_END_GW, IPC_END_CS));
	CHECK(!ipc_link_accepts(IPC_TYPE_MAX, IPC_END_GW, IPC_END_CS));
}

UNIT_MAIN()
