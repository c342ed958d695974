/*
 * Tests for pkg/gateway/gateway_render.c: storage's result maps rendered as the bytes
 * rqlite's Go encoder produces. Result maps are written as JSON in the tests and
 * converted to msgpack with jansson; a string "bin:<hex>" stands for a msgpack bin.
 */
#include <jansson.h>
#include <msgpack.h>

#include "unit.h"
#include "gateway/gateway_render.h"
#include "gateway/json_writer.h"

static void
pack_json(msgpack_packer *pk, json_t *j)
{
	size_t i;
	const char *k;
	json_t *v;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(j));
		json_object_foreach(j, k, v) {
			msgpack_pack_str_with_body(pk, k, strlen(k));
			pack_json(pk, v);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(j));
		json_array_foreach(j, i, v)
			pack_json(pk, v);
		break;
	case JSON_STRING: {
		const char *s = json_string_value(j);
		size_t n = json_string_length(j);

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
	}
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
	case JSON_NULL:
		msgpack_pack_nil(pk);
		break;
	}
}

/* Renders the result map given as JSON; returns malloc'd output or the error text. */
static char *
render(const char *resjson, struct gateway_render_opts o)
{
	json_error_t je;
	json_t *j = json_loads(resjson, JSON_DECODE_ANY, &je);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	char err[GATEWAY_RENDER_ERR_MAX], *out = NULL;
	size_t len;

	if (j == NULL) {
		fprintf(stderr, "bad test JSON: %s\n", je.text);
		return strdup("BAD TEST JSON");
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_json(&pk, j);
	json_decref(j);
	msgpack_unpacked_init(&up);
	msgpack_unpack_next(&up, sb.data, sb.size, NULL);
	if (gateway_render_to_buffer(&up.data, &o, &out, &len, err, sizeof(err)) == -1) {
		out = malloc(strlen(err) + 8);
		sprintf(out, "ERROR: %s", err);
	}
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return out;
}

#define CHECK_RENDER(res, opts, expect) do {				\
	char *got_ = render((res), (opts));				\
	int ok_ = got_ != NULL && strcmp(got_, (expect)) == 0;		\
	if (!ok_) {							\
		fprintf(stderr, "    got:    %s\n    expect: %s\n",	\
		    got_ ? got_ : "(null)", (expect));			\
	}								\
	free(got_);							\
	CHECK(ok_);							\
} while (0)

/* ---- rendering ---------------------------------------------------------- */

static const struct gateway_render_opts plain = { 0 };

UNIT_TEST(execute_results_omit_zero_fields)
{
	struct gateway_render_opts t = { .timings = true, .total_time = 0.0152 };

	CHECK_RENDER("{\"r\":[{\"li\":1,\"ra\":1}]}", plain,
	    "{\"results\":[{\"last_insert_id\":1,\"rows_affected\":1}]}");
	CHECK_RENDER("{\"r\":[{}]}", plain, "{\"results\":[{}]}");
	CHECK_RENDER("{\"r\":[{\"li\":1,\"ra\":1,\"t\":0.00886}]}", t,
	    "{\"results\":[{\"last_insert_id\":1,\"rows_affected\":1,\"time\":0.00886}],"
	    "\"time\":0.0152}");
	/* no time without ?timings even if storage sent one */
	CHECK_RENDER("{\"r\":[{\"li\":1,\"ra\":1,\"t\":0.00886}]}", plain,
	    "{\"results\":[{\"last_insert_id\":1,\"rows_affected\":1}]}");
	CHECK_RENDER("{\"r\":[]}", plain, "{\"results\":[]}");
}

UNIT_TEST(statement_errors_render_only_the_message)
{
	struct gateway_render_opts a = { .associative = true };

	CHECK_RENDER("{\"r\":[{\"e\":\"near \\\"nonsense\\\": syntax error\"}]}", plain,
	    "{\"results\":[{\"error\":\"near \\\"nonsense\\\": syntax error\"}]}");
	CHECK_RENDER("{\"r\":[{\"e\":\"no such table: bar\"}]}", a,
	    "{\"results\":[{\"error\":\"no such table: bar\"}]}");
}

UNIT_TEST(request_level_error_gives_empty_results)
{
	struct gateway_render_opts o = { 0 };
	struct json_writer w;
	char *s;

	CHECK_RENDER("{\"r\":[],\"e\":\"disallowed pragma\"}", plain,
	    "{\"results\":[],\"error\":\"disallowed pragma\"}");
	json_writer_init(&w, false);
	gateway_render_error("stale read", &o, &w);
	s = json_writer_steal(&w, NULL);
	CHECK_STR_EQ(s, "{\"results\":[],\"error\":\"stale read\"}");
	free(s);
}

UNIT_TEST(associative_execute_results_carry_rows_null)
{
	struct gateway_render_opts a = { .associative = true };

	CHECK_RENDER("{\"r\":[{\"li\":99,\"ra\":1}]}", a,
	    "{\"results\":[{\"last_insert_id\":99,\"rows_affected\":1,\"rows\":null}]}");
	CHECK_RENDER("{\"r\":[{}]}", a, "{\"results\":[{\"rows\":null}]}");
}

UNIT_TEST(query_results_have_columns_types_values)
{
	struct gateway_render_opts t = { .timings = true, .is_query = true };

	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"id\",\"name\",\"age\"],"
	    "\"ty\":[\"integer\",\"text\",\"integer\"],\"v\":[[1,\"fiona\",20]],\"t\":0.015}]}", t,
	    "{\"results\":[{\"columns\":[\"id\",\"name\",\"age\"],"
	    "\"types\":[\"integer\",\"text\",\"integer\"],\"values\":[[1,\"fiona\",20]],"
	    "\"time\":0.015}]}");
	/* zero rows: values omitted */
	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"id\",\"name\"],\"ty\":[\"integer\",\"text\"],"
	    "\"v\":[]}]}", plain,
	    "{\"results\":[{\"columns\":[\"id\",\"name\"],\"types\":[\"integer\",\"text\"]}]}");
	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"COUNT(*)\"],\"ty\":[\"integer\"],"
	    "\"v\":[[200]]}]}", plain,
	    "{\"results\":[{\"columns\":[\"COUNT(*)\"],\"types\":[\"integer\"],"
	    "\"values\":[[200]]}]}");
	/* a query error keeps the query shape */
	CHECK_RENDER("{\"r\":[{\"x\":true,\"e\":\"no such table: bar\"}]}", plain,
	    "{\"results\":[{\"error\":\"no such table: bar\"}]}");
	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"a\"],\"ty\":[\"integer\",\"text\"]}]}", plain,
	    "ERROR: types and columns are different lengths");
}

UNIT_TEST(values_render_by_storage_class)
{
	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"a\",\"b\",\"c\",\"d\",\"e\"],"
	    "\"ty\":[\"\",\"real\",\"blob\",\"text\",\"integer\"],"
	    "\"v\":[[null,20.0,\"bin:DEADBEEF\",\"<x>\",-9223372036854775807]]}]}", plain,
	    "{\"results\":[{\"columns\":[\"a\",\"b\",\"c\",\"d\",\"e\"],"
	    "\"types\":[\"\",\"real\",\"blob\",\"text\",\"integer\"],"
	    "\"values\":[[null,20,\"3q2+7w==\",\"\\u003cx\\u003e\",-9223372036854775807]]}]}");
}

UNIT_TEST(blob_array_renders_bytes_as_integers)
{
	struct gateway_render_opts o = { .blob_array = true };

	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"b\",\"e\"],\"ty\":[\"blob\",\"blob\"],"
	    "\"v\":[[\"bin:DEADBEEF\",\"bin:\"]]}]}", o,
	    "{\"results\":[{\"columns\":[\"b\",\"e\"],\"types\":[\"blob\",\"blob\"],"
	    "\"values\":[[[222,173,190,239],[]]]}]}");
}

UNIT_TEST(dates_outside_year_9999_fail_the_statement)
{
	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"d\"],\"ty\":[\"timestamp\"],"
	    "\"v\":[[999999999999]]}]}", plain,
	    "{\"results\":[{\"error\":\"Time.MarshalText: year outside of range [0,9999]\"}]}");
}

UNIT_TEST(associative_rows_have_sorted_keys_and_collapse_duplicates)
{
	struct gateway_render_opts a = { .associative = true, .timings = true };

	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"id\",\"name\",\"age\"],"
	    "\"ty\":[\"integer\",\"text\",\"integer\"],\"v\":[[1,\"fiona\",20]],\"t\":0.000173}]}", a,
	    "{\"results\":[{\"types\":{\"age\":\"integer\",\"id\":\"integer\",\"name\":\"text\"},"
	    "\"rows\":[{\"age\":20,\"id\":1,\"name\":\"fiona\"}],\"time\":0.000173}]}");
	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"id\",\"id\",\"B\"],"
	    "\"ty\":[\"integer\",\"text\",\"real\"],\"v\":[[1,\"x\",2.5]]}]}", a,
	    "{\"results\":[{\"types\":{\"B\":\"real\",\"id\":\"text\"},"
	    "\"rows\":[{\"B\":2.5,\"id\":\"x\"}]}]}");
	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"id\"],\"ty\":[\"integer\"],\"v\":[]}]}", a,
	    "{\"results\":[{\"types\":{\"id\":\"integer\"},\"rows\":[]}]}");
	CHECK_RENDER("{\"r\":[{\"x\":true,\"e\":\"no such table: foo\"}]}", a,
	    "{\"results\":[{\"rows\":[],\"error\":\"no such table: foo\"}]}");
}

UNIT_TEST(qualified_column_names_replace_plain_ones)
{
	struct gateway_render_opts q = { .qualify_columns = true };

	CHECK_RENDER("{\"r\":[{\"x\":true,\"c\":[\"id\",\"name\",\"id\"],"
	    "\"q\":[\"t1.id\",\"t1.name\",\"t2.id\"],\"ty\":[\"integer\",\"text\",\"integer\"],"
	    "\"v\":[]}]}", q,
	    "{\"results\":[{\"columns\":[\"t1.id\",\"t1.name\",\"t2.id\"],"
	    "\"types\":[\"integer\",\"text\",\"integer\"]}]}");
}

UNIT_TEST(top_level_keys_follow_rqlite_struct_order)
{
	struct gateway_render_opts o = { .timings = true, .total_time = 0.5, .raft_index = 6,
	    .sequence_number = 0 };
	struct gateway_render_opts qd = { .sequence_number = 1653314298877648934LL };

	CHECK_RENDER("{\"r\":[{\"li\":3,\"ra\":1}]}", o,
	    "{\"results\":[{\"last_insert_id\":3,\"rows_affected\":1}],\"time\":0.5,"
	    "\"raft_index\":6}");
	CHECK_RENDER("null", qd, "{\"results\":[],\"sequence_number\":1653314298877648934}");
}

UNIT_TEST(unified_results_mix_execute_and_query_forms)
{
	CHECK_RENDER("{\"r\":[{\"li\":1,\"ra\":1},{\"x\":true,\"c\":[\"id\"],\"ty\":[\"integer\"],"
	    "\"v\":[[1]]},{\"e\":\"near \\\"x\\\": syntax error\"}]}", plain,
	    "{\"results\":[{\"last_insert_id\":1,\"rows_affected\":1},"
	    "{\"columns\":[\"id\"],\"types\":[\"integer\"],\"values\":[[1]]},"
	    "{\"error\":\"near \\\"x\\\": syntax error\"}]}");
}

UNIT_TEST(pretty_response_is_indented_like_go)
{
	struct gateway_render_opts p = { .pretty = true, .timings = true, .total_time = 0.0152 };

	CHECK_RENDER("{\"r\":[{\"li\":1,\"ra\":1,\"t\":0.00886}]}", p,
	    "{\n    \"results\": [\n        {\n            \"last_insert_id\": 1,\n"
	    "            \"rows_affected\": 1,\n            \"time\": 0.00886\n        }\n"
	    "    ],\n    \"time\": 0.0152\n}");
	p.timings = false;
	CHECK_RENDER("{\"r\":[]}", p, "{\n    \"results\": []\n}");
}

UNIT_MAIN()
