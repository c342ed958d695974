/*
 * Query parameters, request bodies and disallowed PRAGMAs: the 400 texts and
 * commands rqlite's gateway produces.
 */
#include <msgpack.h>

#include "unit.h"
#include "gateway/gateway_body.h"
#include "gateway/gateway_command.h"
#include "gateway/gateway_params.h"
#include "gateway/gateway_pragma.h"

static const char *
params_err(const char *q)
{
	static char err[GATEWAY_PARAMS_ERR_MAX];
	struct gateway_params p;

	if (gateway_params_parse(q, &p, err, sizeof(err)) == 0) {
		gateway_params_free(&p);
		return "OK";
	}
	return err;
}

UNIT_TEST(params_flags_are_enabled_by_presence)
{
	struct gateway_params p;
	char err[GATEWAY_PARAMS_ERR_MAX];

	CHECK_INT_EQ(gateway_params_parse("pretty&transaction=false&timings=0&level=STRONG"
	    "&q=SELECT%20*%20FROM+foo&q=second", &p, err, sizeof(err)), 0);
	CHECK(p.pretty && p.transaction && p.timings && !p.associative && !p.queue);
	CHECK_INT_EQ(p.level, GATEWAY_LEVEL_STRONG);
	CHECK_STR_EQ(p.q, "SELECT * FROM foo");
	CHECK_INT_EQ(p.timeout_ns, 30000000000LL);
	CHECK_INT_EQ(p.linearizable_timeout_ns, 10000000000LL);
	CHECK(!p.has_timeout);
	gateway_params_free(&p);

	CHECK_INT_EQ(gateway_params_parse("level=bogus&timeout=1.5s&db_timeout=100ms&retries=-3"
	    "&fmt=SQL", &p, err, sizeof(err)), 0);
	CHECK_INT_EQ(p.level, GATEWAY_LEVEL_WEAK);
	CHECK_INT_EQ(p.timeout_ns, 1500000000LL);
	CHECK_INT_EQ(p.db_timeout_ns, 100000000LL);
	CHECK_INT_EQ(p.retries, -3);
	CHECK_INT_EQ(p.fmt, GATEWAY_BACKUP_SQL);
	gateway_params_free(&p);

	CHECK_INT_EQ(gateway_params_parse(NULL, &p, err, sizeof(err)), 0);
	CHECK(p.q == NULL && p.level == GATEWAY_LEVEL_WEAK);
	gateway_params_free(&p);
}

UNIT_TEST(params_errors_match_rqlite_texts)
{
	CHECK_STR_EQ(params_err("freshness_strict"), "freshness_strict requires freshness");
	CHECK_STR_EQ(params_err("freshness_strict&freshness=1s"), "OK");
	CHECK_STR_EQ(params_err("timeout=abc"), "timeout is not a valid duration");
	CHECK_STR_EQ(params_err("freshness=5"), "freshness is not a valid duration");
	CHECK_STR_EQ(params_err("db_timeout="), "db_timeout is not a valid duration");
	CHECK_STR_EQ(params_err("linearizable_timeout=1x"),
	    "linearizable_timeout is not a valid duration");
	CHECK_STR_EQ(params_err("retries=1.5"), "retries is not a valid integer");
	CHECK_STR_EQ(params_err("trailing_logs=x"), "trailing_logs is not a valid integer");
	CHECK_STR_EQ(params_err("q="), "query parameter not set");
	CHECK_STR_EQ(params_err("q"), "query parameter not set");
	CHECK_STR_EQ(params_err("q=%zz"), "invalid URL escape \"%zz\"");
	CHECK_STR_EQ(params_err("a=%4"), "invalid URL escape \"%4\"");
	CHECK_STR_EQ(params_err("a=1;b=2"), "invalid semicolon separator in query");
	/* the query string error comes before the others */
	CHECK_STR_EQ(params_err("timeout=x&b=%"), "invalid URL escape \"%\"");
	/* durations are checked before integers and q */
	CHECK_STR_EQ(params_err("q=&retries=x&timeout=x"), "timeout is not a valid duration");
}

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

UNIT_TEST(command_map_carries_kind_transaction_timeout_and_limits)
{
	struct gateway_cmd_limits lim = { .steps = 1000000, .max_value = 4096 };
	struct gateway_body b;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	char out[512];

	CHECK_INT_EQ(gateway_body_from_sql("SELECT 1", 8, &b), 0);
	CHECK_INT_EQ(gateway_body_count_nonempty(&b), 1);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	CHECK_INT_EQ(gateway_body_pack_command(&b, GATEWAY_CMD_EXECUTE, true, 250, &lim, &pk), 0);
	msgpack_unpacked_init(&up);
	msgpack_unpack_next(&up, sb.data, sb.size, NULL);
	msgpack_object_print_buffer(out, sizeof(out), up.data);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	gateway_body_free(&b);
	CHECK_STR_EQ(out, "{\"k\"=>1, \"tx\"=>true, \"s\"=>[[\"SELECT 1\"]], \"to\"=>250, "
	    "\"st\"=>1000000, \"ml\"=>4096}");
}

static bool
bad(const char *s)
{
	return gateway_pragma_disallowed(s, strlen(s));
}

UNIT_TEST(breaking_pragmas_are_recognised)
{
	CHECK(bad("PRAGMA journal_mode=DELETE"));
	CHECK(bad("  pragma JOURNAL_MODE = wal"));
	CHECK(bad("PRAGMA main.journal_mode=OFF"));
	CHECK(!bad("PRAGMA journal_mode"));
	CHECK(!bad("PRAGMA a.b.journal_mode=OFF"));
	CHECK(bad("PRAGMA wal_autocheckpoint=100"));
	CHECK(!bad("PRAGMA main.wal_autocheckpoint=100"));
	CHECK(bad("PRAGMA wal_checkpoint(TRUNCATE)"));
	CHECK(bad("PRAGMA main.wal_checkpoint"));
	CHECK(bad("PRAGMA synchronous=OFF"));
	CHECK(bad("PRAGMA \xc5\xbfynchronous=OFF"));
	CHECK(bad("PRAGMA query_only=1"));
	CHECK(bad("\n\tPRAGMA\tquery_only\t=\t0"));
	CHECK(!bad("PRAGMA synchronous"));
	CHECK(!bad("PRAGMAsynchronous=OFF"));
	CHECK(!bad("PRAGMA foreign_keys=ON"));
	CHECK(!bad("SELECT 1; PRAGMA synchronous=OFF"));
	CHECK(!bad("\vPRAGMA synchronous=OFF"));
}

UNIT_MAIN()
