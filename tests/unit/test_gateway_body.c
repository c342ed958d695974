/*
 * Tests for pkg/gateway/gateway_body.c (and the JSON reader under it,
 * gateway_json_reader.c): request bodies turned into statements, with the 400 texts
 * and parameter types rqlite's gateway produces.
 */
#include <msgpack.h>

#include "unit.h"
#include "gateway/gateway_body.h"
#include "gateway/gateway_command.h"

static const char *
body_err(const char *body)
{
	static char err[GATEWAY_BODY_ERR_MAX];
	struct gateway_body b;

	if (gateway_body_parse_json(body, strlen(body), &b, err, sizeof(err)) == 0) {
		gateway_body_free(&b);
		return "OK";
	}
	return err;
}

UNIT_TEST(body_errors_follow_go_streaming_decoder)
{
	CHECK_STR_EQ(body_err(""), "invalid JSON body");
	CHECK_STR_EQ(body_err("  "), "invalid JSON body");
	CHECK_STR_EQ(body_err("nonsense"), "invalid JSON body");
	CHECK_STR_EQ(body_err("[]"), "no statements");
	CHECK_STR_EQ(body_err("[[]]"), "invalid request");
	CHECK_STR_EQ(body_err("{\"a\":1}"), "invalid request");
	CHECK_STR_EQ(body_err("\"SELECT 1\""), "invalid request");
	CHECK_STR_EQ(body_err("[\"SELECT * FROM FOO\""), "invalid JSON body");
	CHECK_STR_EQ(body_err("[[\"INSERT\", \"x\", 1]"), "invalid JSON body");
	CHECK_STR_EQ(body_err("[1,"), "invalid request");
	CHECK_STR_EQ(body_err("[[1]]"), "invalid request");
	CHECK_STR_EQ(body_err("[{}]"), "invalid request");
	CHECK_STR_EQ(body_err("[\"a\",]"), "invalid JSON body");
	CHECK_STR_EQ(body_err("[\"a\" \"b\"]"), "invalid JSON body");
	CHECK_STR_EQ(body_err("[\"a\"}"), "invalid JSON body");
	CHECK_STR_EQ(body_err("[\"a\\q\"]"), "invalid JSON body");
	CHECK_STR_EQ(body_err("[\"a\"] trailing garbage"), "OK");
	CHECK_STR_EQ(body_err("[[\"SELECT * FROM foo\"], \"SELECT * FROM bar\"]"), "OK");
	CHECK_STR_EQ(body_err("[[\"x\", {\"a\": {\"b\": 1}}]]"),
	    "unsupported type map[string]interface {}");
	CHECK_STR_EQ(body_err("[[\"x\", [1, 256]]]"), "unsupported type 256");
	CHECK_STR_EQ(body_err("[[\"x\", [1, -1]]]"), "unsupported type -1");
	CHECK_STR_EQ(body_err("[[\"x\", [1.5]]]"), "unsupported type 1.5");
	CHECK_STR_EQ(body_err("[[\"x\", [\"a\"]]]"), "unsupported type string");
	CHECK_STR_EQ(body_err("[[\"x\", [null]]]"), "unsupported type <nil>");
	CHECK_STR_EQ(body_err("[[\"x\", [[1]]]]"), "unsupported type []interface {}");
	CHECK_STR_EQ(body_err("[[\"x\", 1e400]]"), "invalid number 1e400");
}

/* Debug text like msgpack's, but bins as b'hex' (msgpack-c prints them badly). */
static size_t
obj_text(char *out, size_t len, const msgpack_object *o)
{
	size_t n = 0;

	if (o->type == MSGPACK_OBJECT_BIN) {
		n += (size_t)snprintf(out, len, "b'");
		for (uint32_t i = 0; i < o->via.bin.size; i++)
			n += (size_t)snprintf(out + n, len - n, "%02x",
			    (unsigned char)o->via.bin.ptr[i]);
		return n + (size_t)snprintf(out + n, len - n, "'");
	}
	if (o->type == MSGPACK_OBJECT_ARRAY) {
		n += (size_t)snprintf(out, len, "[");
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i > 0)
				n += (size_t)snprintf(out + n, len - n, ", ");
			n += obj_text(out + n, len - n, &o->via.array.ptr[i]);
		}
		return n + (size_t)snprintf(out + n, len - n, "]");
	}
	return (size_t)msgpack_object_print_buffer(out, len, *o);
}

/* The packed statements array as text. */
static char *
stmts_text(const char *body)
{
	char err[GATEWAY_BODY_ERR_MAX];
	struct gateway_body b;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	static char out[1024];

	if (gateway_body_parse_json(body, strlen(body), &b, err, sizeof(err)) == -1)
		return err[0] ? strcpy(out, err) : out;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	gateway_body_pack_stmts(&b, &pk);
	msgpack_unpacked_init(&up);
	msgpack_unpack_next(&up, sb.data, sb.size, NULL);
	obj_text(out, sizeof(out), &up.data);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	gateway_body_free(&b);
	return out;
}

UNIT_TEST(body_values_map_to_sqlite_types)
{
	CHECK_STR_EQ(stmts_text("[\"CREATE TABLE foo (id INTEGER)\", \"\"]"),
	    "[[\"CREATE TABLE foo (id INTEGER)\"], [\"\"]]");
	CHECK_STR_EQ(stmts_text("[[\"INSERT INTO foo(name, age) VALUES(?, ?)\", \"fiona\", 20]]"),
	    "[[\"INSERT INTO foo(name, age) VALUES(?, ?)\", \"fiona\", 20]]");
	CHECK_STR_EQ(stmts_text("[[\"q\", 20.0, 1e3, -0, true, false, null, 9223372036854775807,"
	    " 9223372036854775808]]"),
	    "[[\"q\", 20.000000, 1000.000000, 0, true, false, nil, 9223372036854775807, "
	    "9223372036854775808.000000]]");
	CHECK_STR_EQ(stmts_text("[[\"q\", \" x'DEADbeef' \", \"X''\", \"x'abc'\", [1, 2, 255], []]]"),
	    "[[\"q\", b'deadbeef', b'', \"x'abc'\", b'0102ff', b'']]");
	CHECK_STR_EQ(stmts_text("[[\"INSERT INTO foo VALUES(:name, :age)\", "
	    "{\"name\": \"fiona\", \"age\": 20}]]"),
	    "[[\"INSERT INTO foo VALUES(:name, :age)\", {\"name\"=>\"fiona\", \"age\"=>20}]]");
	CHECK_STR_EQ(stmts_text("[\"caf\\u00e9 \\ud83d\\ude00 \\ud800 \xff\"]"),
	    "[[\"caf\xc3\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbd \xef\xbf\xbd\"]]");
}

UNIT_MAIN()
