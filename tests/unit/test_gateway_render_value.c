/*
 * Tests for pkg/gateway/gateway_render_value.c: one result value as rqlite writes it,
 * by storage class and declared type. Values are written as JSON literals in the
 * tests; a string "bin:<hex>" stands for a msgpack bin.
 */
#include <jansson.h>
#include <math.h>
#include <msgpack.h>

#include "unit.h"
#include "gateway/gateway_render.h"
#include "gateway/gateway_render_value.h"
#include "gateway/json_writer.h"

/* A JSON scalar packed as storage sends it. */
static void
pack_scalar(msgpack_packer *pk, json_t *j)
{
	const char *s;
	size_t n;

	switch (json_typeof(j)) {
	case JSON_STRING:
		s = json_string_value(j);
		n = json_string_length(j);
		if (strncmp(s, "bin:", 4) == 0) {
			unsigned char b[256];
			size_t bl = 0;

			for (size_t x = 4; x + 1 < n; x += 2) {
				unsigned int c;
				sscanf(s + x, "%2x", &c);
				b[bl++] = (unsigned char)c;
			}
			msgpack_pack_bin_with_body(pk, b, bl);
		} else {
			msgpack_pack_str_with_body(pk, s, n);
		}
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(j));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(j));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	default:
		msgpack_pack_nil(pk);
		break;
	}
}

/* The JSON scalar v written as a value of a column declared decltype: malloc'd text,
 * or "ERROR: <text>". */
static char *
value_of(const char *v, const char *decltype, bool blob_array)
{
	json_error_t je;
	json_t *j = json_loads(v, JSON_DECODE_ANY, &je);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	struct json_writer w;
	char err[GATEWAY_RENDER_ERR_MAX], *out;

	if (j == NULL) {
		fprintf(stderr, "bad test JSON: %s\n", je.text);
		return strdup("BAD TEST JSON");
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_scalar(&pk, j);
	json_decref(j);
	msgpack_unpacked_init(&up);
	msgpack_unpack_next(&up, sb.data, sb.size, NULL);
	json_writer_init(&w, false);
	if (gateway_render_value(&w, &up.data, decltype, strlen(decltype), blob_array, err,
	    sizeof(err)) == -1) {
		json_writer_free(&w);
		out = malloc(strlen(err) + 8);
		sprintf(out, "ERROR: %s", err);
	} else {
		out = json_writer_steal(&w, NULL);
	}
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return out;
}

#define CHECK_VALUE(in, decltype, expect) do {				\
	char *got_ = value_of((in), (decltype), false);			\
	int ok_ = got_ != NULL && strcmp(got_, (expect)) == 0;		\
	if (!ok_)							\
		fprintf(stderr, "    %s (%s) → %s, expected %s\n", (in),	\
		    (decltype), got_ ? got_ : "(null)", (expect));	\
	free(got_);							\
	CHECK(ok_);							\
} while (0)

UNIT_TEST(base64_pads_like_go_std_encoding)
{
	char *s;

	s = gateway_base64((const unsigned char *)"", 0, NULL);
	CHECK_STR_EQ(s, "");
	free(s);
	s = gateway_base64((const unsigned char *)"test", 4, NULL);
	CHECK_STR_EQ(s, "dGVzdA==");
	free(s);
	s = gateway_base64((const unsigned char *)"tes", 3, NULL);
	CHECK_STR_EQ(s, "dGVz");
	free(s);
	s = gateway_base64((const unsigned char *)"\xfb\xff", 2, NULL);
	CHECK_STR_EQ(s, "+/8=");
	free(s);
}

UNIT_TEST(boolean_columns_render_true_false)
{
	CHECK_VALUE("1", "boolean", "true");
	CHECK_VALUE("0", "boolean", "false");
	CHECK_VALUE("5", "boolean", "true");
	CHECK_VALUE("-1", "boolean", "false");
	CHECK_VALUE("\"yes\"", "boolean", "\"yes\"");
	CHECK_VALUE("null", "boolean", "null");
}

#define CHECK_DATE(in, out) do {					\
	char *d_ = value_of((in), "datetime", false);			\
	int ok_ = strcmp(d_, (out)) == 0;				\
	if (!ok_)							\
		fprintf(stderr, "    %s → %s, expected %s\n", in, d_, out);	\
	free(d_);							\
	CHECK(ok_);							\
} while (0)

UNIT_TEST(date_columns_render_rfc3339)
{
	CHECK_DATE("0", "\"1970-01-01T00:00:00Z\"");
	CHECK_DATE("1076716800", "\"2004-02-14T00:00:00Z\"");
	CHECK_DATE("-1", "\"1969-12-31T23:59:59Z\"");
	/* milliseconds beyond 1e12 */
	CHECK_DATE("1634931572016", "\"2021-10-22T19:39:32.016Z\"");
	CHECK_DATE("\"2004-02-14\"", "\"2004-02-14T00:00:00Z\"");
	CHECK_DATE("\"2021-10-22 19:39:32.016087\"", "\"2021-10-22T19:39:32.016087Z\"");
	CHECK_DATE("\"2021-10-22T19:39:32.100Z\"", "\"2021-10-22T19:39:32.1Z\"");
	CHECK_DATE("\"2021-10-22 19:39:32.000\"", "\"2021-10-22T19:39:32Z\"");
	CHECK_DATE("\"2021-10-22 19:39\"", "\"2021-10-22T19:39:00Z\"");
	CHECK_DATE("\"2021-10-22T19:39\"", "\"2021-10-22T19:39:00Z\"");
	CHECK_DATE("\"2021-10-22 9:39:01\"", "\"2021-10-22T09:39:01Z\"");
	CHECK_DATE("\"2021-10-22 19:39:32+05:30\"", "\"2021-10-22T19:39:32+05:30\"");
	CHECK_DATE("\"2021-10-22 19:39:32.5-07:00\"", "\"2021-10-22T19:39:32.5-07:00\"");
	CHECK_DATE("\"2021-10-22 19:39:32+00:00\"", "\"2021-10-22T19:39:32Z\"");
	CHECK_DATE("\"2021-10-22 19:39:32,25\"", "\"2021-10-22T19:39:32.25Z\"");
	CHECK_DATE("\"2021-10-22 19:39:32.1234567891\"", "\"2021-10-22T19:39:32.123456789Z\"");
	/* unparseable → Go's zero time */
	CHECK_DATE("\"not a date\"", "\"0001-01-01T00:00:00Z\"");
	CHECK_DATE("\"2021-02-30\"", "\"0001-01-01T00:00:00Z\"");
	CHECK_DATE("\"2021-10-22 24:00:00\"", "\"0001-01-01T00:00:00Z\"");
	CHECK_DATE("\"2021-10-22 19:39+01:00\"", "\"0001-01-01T00:00:00Z\"");
	CHECK_DATE("\"2021-10-22 19:39:32 \"", "\"0001-01-01T00:00:00Z\"");
	CHECK_DATE("\"\"", "\"0001-01-01T00:00:00Z\"");
	CHECK_DATE("\"2020-02-29\"", "\"2020-02-29T00:00:00Z\"");
	/* reals and blobs are not converted */
	CHECK_DATE("1.5", "1.5");
}

UNIT_TEST(infinite_reals_fail_the_response_as_go_does)
{
	/* jansson cannot express Inf, so that value is built directly. */
	struct json_writer w;
	msgpack_object v = { .type = MSGPACK_OBJECT_FLOAT64, .via.f64 = INFINITY };
	char err[64];

	CHECK_VALUE("1.5", "real", "1.5");
	json_writer_init(&w, false);
	gateway_render_value(&w, &v, "real", 4, false, err, sizeof(err));
	CHECK(json_writer_failed(&w));
	CHECK_STR_EQ(w.bad_text, "+Inf");
	json_writer_free(&w);
}

UNIT_MAIN()
