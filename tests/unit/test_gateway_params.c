/*
 * Tests for pkg/gateway/gateway_params.c: query strings parsed and refused with the
 * 400 texts rqlite's gateway produces.
 */
#include "unit.h"
#include "gateway/gateway_params.h"

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

UNIT_MAIN()
