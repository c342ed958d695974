/*
 * Rewriting of RANDOM(), RANDOMBLOB(N) and 'now' with a fixed clock and a
 * counting random source, and the /db/sql rendering.
 */
#include "unit.h"
#include "gateway/gateway_body.h"
#include "gateway/gateway_rewrite.h"
#include "gateway/json_writer.h"

static uint64_t
fixed_rand(void *ctx)
{
	uint64_t *v = ctx;

	return (*v)++;
}

static int64_t
fixed_now(void *ctx)
{
	(void)ctx;
	/* 2026-02-08T10:42:13.5Z */
	return INT64_C(1770547333500000000);
}

static char *
rw(const char *sql, bool rand, bool time)
{
	static char out[1024];
	uint64_t seed = 954556320032354600ULL;
	struct gateway_rewrite_opts o = { .rand = rand, .time = time, .rand64 = fixed_rand,
	    .now_ns = fixed_now, .ctx = &seed };
	struct gateway_rewrite_result r;
	char err[GATEWAY_REWRITE_ERR_MAX];

	if (gateway_rewrite_sql(sql, strlen(sql), &o, &r, err, sizeof(err)) == -1) {
		snprintf(out, sizeof(out), "ERROR: %s", err);
		return out;
	}
	snprintf(out, sizeof(out), "%s", r.sql ? r.sql : sql);
	free(r.sql);
	return out;
}

UNIT_TEST(julian_day_matches_sqlite)
{
	char b[32];

	/* SELECT julianday('2026-02-08T10:42:13.5') = 2461079.946... */
	snprintf(b, sizeof(b), "%f", gateway_julian_day(INT64_C(1770547333500000000)));
	CHECK_STR_EQ(b, "2461079.945990");
	snprintf(b, sizeof(b), "%f", gateway_julian_day(0));
	CHECK_STR_EQ(b, "2440587.500000");
}

UNIT_TEST(random_becomes_a_literal_outside_order_by)
{
	CHECK_STR_EQ(rw("INSERT INTO foo(v) VALUES(RANDOM())", true, true),
	    "INSERT INTO foo(v) VALUES(954556320032354600)");
	CHECK_STR_EQ(rw("SELECT random(), Random ( )", true, true),
	    "SELECT 954556320032354600, 954556320032354601");
	CHECK_STR_EQ(rw("SELECT * FROM foo ORDER BY random()", true, true),
	    "SELECT * FROM foo ORDER BY random()");
	CHECK_STR_EQ(rw("INSERT INTO t SELECT random() FROM f ORDER BY random() LIMIT random()",
	    true, true),
	    "INSERT INTO t SELECT 954556320032354600 FROM f ORDER BY random() LIMIT "
	    "954556320032354601");
	CHECK_STR_EQ(rw("SELECT (SELECT x FROM a ORDER BY random()), random()", true, true),
	    "SELECT (SELECT x FROM a ORDER BY random()), 954556320032354600");
	CHECK_STR_EQ(rw("SELECT random()", false, true), "SELECT random()");
	/* strings, comments and quoted identifiers are not calls */
	CHECK_STR_EQ(rw("SELECT 'random()', \"random\" -- random()\n, /* random() */ 1", true,
	    true), "SELECT 'random()', \"random\" -- random()\n, /* random() */ 1");
	/* a type name in a column definition is not a call */
	CHECK_STR_EQ(rw("CREATE TABLE t (x random(5), y DATE('now'))", true, true),
	    "CREATE TABLE t (x random(5), y DATE('now'))");
	CHECK_STR_EQ(rw("SELECT random()AS r", true, true), "SELECT 954556320032354600 AS r");
}

static uint64_t
neg_rand(void *ctx)
{
	(void)ctx;
	return (uint64_t)INT64_C(-5);
}

UNIT_TEST(negative_random_literal_never_forms_a_comment)
{
	struct gateway_rewrite_opts o = { .rand = true, .rand64 = neg_rand };
	struct gateway_rewrite_result r;
	char err[64];
	const char *sql = "SELECT 1-random()";

	CHECK_INT_EQ(gateway_rewrite_sql(sql, strlen(sql), &o, &r, err, sizeof(err)), 0);
	CHECK_STR_EQ(r.sql, "SELECT 1- -5");
	free(r.sql);
}

UNIT_TEST(randomblob_of_a_literal_becomes_a_blob)
{
	CHECK_STR_EQ(rw("INSERT INTO foo(v) VALUES(RANDOMBLOB(4))", true, true),
	    "INSERT INTO foo(v) VALUES(x'28F1A165')");
	CHECK_STR_EQ(rw("SELECT randomblob(0)", true, true), "SELECT x'28'");
	CHECK_STR_EQ(rw("SELECT randomblob(16)", true, true),
	    "SELECT x'28F1A165EA433F0D29F1A165EA433F0D'");
	CHECK_STR_EQ(rw("SELECT randomblob(n), randomblob(1+1), randomblob(0x10)", true, true),
	    "SELECT randomblob(n), randomblob(1+1), randomblob(0x10)");
}

UNIT_TEST(now_in_date_functions_becomes_a_julian_day)
{
	CHECK_STR_EQ(rw("INSERT INTO t VALUES(datetime('now'))", true, true),
	    "INSERT INTO t VALUES(datetime(2461079.945990))");
	CHECK_STR_EQ(rw("SELECT date('NOW', '+1 day'), time(now), julianday(\"now\"), "
	    "unixepoch([Now])", true, true),
	    "SELECT date(2461079.945990, '+1 day'), time(2461079.945990), "
	    "julianday(2461079.945990), unixepoch(2461079.945990)");
	CHECK_STR_EQ(rw("SELECT strftime('%s', 'now'), strftime('now')", true, true),
	    "SELECT strftime('%s', 2461079.945990), strftime('now')");
	CHECK_STR_EQ(rw("SELECT timediff('now', 'now'), timediff('now')", true, true),
	    "SELECT timediff(2461079.945990, 2461079.945990), timediff('now')");
	/* only a bare 'now' argument */
	CHECK_STR_EQ(rw("SELECT date('now' || ''), date(('now')), date('now ')", true, true),
	    "SELECT date('now' || ''), date(('now')), date('now ')");
	CHECK_STR_EQ(rw("SELECT datetime('now')", true, false), "SELECT datetime('now')");
	/* time rewriting is not limited by ORDER BY */
	CHECK_STR_EQ(rw("SELECT 1 ORDER BY date('now')", true, true),
	    "SELECT 1 ORDER BY date(2461079.945990)");
}

UNIT_TEST(untokenizable_statements_are_errors)
{
	CHECK_STR_EQ(rw("SELECT 'random()", true, true), "ERROR: unterminated string literal");
	CHECK_STR_EQ(rw("SELECT \"x", true, true), "ERROR: unterminated quoted identifier");
	CHECK_STR_EQ(rw("SELECT x'abc', random()", true, true),
	    "ERROR: unrecognized token: \"x'abc'\"");
	CHECK_STR_EQ(rw("SELECT 'it''s', random() /* open", true, true),
	    "SELECT 'it''s', 954556320032354600 /* open");
}

UNIT_TEST(prefilter_uses_rqlite_substrings)
{
	CHECK(gateway_rewrite_wanted("SELECT RANDOMBLOB(1)", 20, true, false));
	CHECK(!gateway_rewrite_wanted("SELECT RANDOM()", 15, false, true));
	CHECK(gateway_rewrite_wanted("SELECT strftime('%s','now')", 27, false, true));
	CHECK(gateway_rewrite_wanted("INSERT INTO t VALUES(1) RETURNING *", 35, false, false));
	CHECK(!gateway_rewrite_wanted("SELECT date ('now')", 19, true, true));
}

UNIT_TEST(returning_and_explain_are_detected)
{
	struct gateway_rewrite_opts o = { 0 };
	struct gateway_rewrite_result r;
	char err[64];
	const char *a = "INSERT INTO t VALUES(1) RETURNING *", *b = "explain SELECT 'returning'";

	CHECK_INT_EQ(gateway_rewrite_sql(a, strlen(a), &o, &r, err, sizeof(err)), 0);
	CHECK(r.returning && !r.explain && r.sql == NULL);
	CHECK_INT_EQ(gateway_rewrite_sql(b, strlen(b), &o, &r, err, sizeof(err)), 0);
	CHECK(!r.returning && r.explain);
}

UNIT_TEST(db_sql_lists_original_and_rewritten)
{
	struct gateway_body b;
	char err[64];
	const char *body = "[\"INSERT INTO foo(v) VALUES(RANDOM())\", \"SELECT 1\", \"SELECT 'x\"]";
	uint64_t seed = 954556320032354600ULL;
	struct gateway_rewrite_opts o = { .rand = true, .time = true, .rand64 = fixed_rand,
	    .now_ns = fixed_now, .ctx = &seed };
	struct json_writer w;
	char *out;

	CHECK_INT_EQ(gateway_body_parse_json(body, strlen(body), &b, err, sizeof(err)), 0);
	json_writer_init(&w, false);
	CHECK_INT_EQ(gateway_rewrite_explain(&b, &o, 0, &w), 0);
	out = json_writer_steal(&w, NULL);
	CHECK_STR_EQ(out, "{\"results\":[{\"original\":\"INSERT INTO foo(v) VALUES(RANDOM())\","
	    "\"rewritten\":\"INSERT INTO foo(v) VALUES(954556320032354600)\"},"
	    "{\"original\":\"SELECT 1\",\"rewritten\":\"SELECT 1\"},"
	    "{\"original\":\"SELECT 'x\",\"error\":\"unterminated string literal\"}]}");
	free(out);

	/* gateway_rewrite_body rewrites in place and leaves broken SQL alone */
	seed = 1;
	CHECK_INT_EQ(gateway_rewrite_body(&b, &o), 0);
	CHECK_STR_EQ(b.stmts[0].sql, "INSERT INTO foo(v) VALUES(1)");
	CHECK_STR_EQ(b.stmts[2].sql, "SELECT 'x");
	gateway_body_free(&b);
}

UNIT_MAIN()
