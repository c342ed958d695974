/*
 * Tests for pkg/gateway/gateway_policy.c: what the gateway refuses before a request
 * enters the log, judged from the SQL text alone.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/sql_policy.h"
#include "gateway/gateway_body.h"
#include "gateway/gateway_policy.h"
#include "unit.h"

/* The verdict on a JSON body such as ["BEGIN", "INSERT …"]; "" when allowed. */
static const char *
verdict(const char *json, bool transaction)
{
	static char out[256];
	struct gateway_body b;
	char err[GATEWAY_BODY_ERR_MAX];
	const char *why;

	if (gateway_body_parse_json(json, strlen(json), &b, err, sizeof(err)) != 0) {
		snprintf(out, sizeof(out), "bad body: %s", err);
		return out;
	}
	why = gateway_policy_check(&b, transaction);
	snprintf(out, sizeof(out), "%s", why != NULL ? why : "");
	gateway_body_free(&b);
	return out;
}

#define ALLOWED(json)		CHECK_STR_EQ(verdict(json, false), "")
#define REFUSED(json, why)	CHECK_STR_EQ(verdict(json, false), why)

UNIT_TEST(attach_detach_and_vacuum_into_are_refused_wherever_they_stand)
{
	REFUSED("[\"ATTACH DATABASE '/tmp/x.db' AS x\"]", SQL_POLICY_ERR_ATTACH);
	REFUSED("[\"  attach '/tmp/x.db' as x\"]", SQL_POLICY_ERR_ATTACH);
	REFUSED("[\"/* c */ -- d\\n ATTACH ':memory:' AS m\"]", SQL_POLICY_ERR_ATTACH);
	REFUSED("[\"SELECT 1; ATTACH 'a' AS a\"]", SQL_POLICY_ERR_ATTACH);
	REFUSED("[\"INSERT INTO t VALUES(1)\", \"DETACH x\"]", SQL_POLICY_ERR_DETACH);
	REFUSED("[\"VACUUM INTO '/tmp/y.db'\"]", SQL_POLICY_ERR_VACUUM_INTO);
	REFUSED("[\"vacuum main into 'file:/tmp/y.db'\"]", SQL_POLICY_ERR_VACUUM_INTO);
	ALLOWED("[\"VACUUM\"]");
	ALLOWED("[\"SELECT 'ATTACH x' AS attach\"]");
	ALLOWED("[\"INSERT INTO t(v) VALUES('VACUUM INTO x')\"]");
}

UNIT_TEST(refused_pragmas_are_caught_in_each_form_and_reads_pass)
{
	REFUSED("[\"PRAGMA locking_mode=EXCLUSIVE\"]", SQL_POLICY_ERR_PRAGMA);
	REFUSED("[\"PRAGMA main.locking_mode = EXCLUSIVE\"]", SQL_POLICY_ERR_PRAGMA);
	REFUSED("[\"PRAGMA locking_mode(EXCLUSIVE)\"]", SQL_POLICY_ERR_PRAGMA);
	REFUSED("[\"PRAGMA hard_heap_limit=1\"]", SQL_POLICY_ERR_PRAGMA);
	REFUSED("[\"PRAGMA journal_mode(OFF)\"]", SQL_POLICY_ERR_PRAGMA);
	REFUSED("[\"PRAGMA writable_schema=ON\"]", SQL_POLICY_ERR_PRAGMA);
	REFUSED("[\"PRAGMA temp_store_directory='/tmp'\"]", SQL_POLICY_ERR_PRAGMA);
	REFUSED("[\"SELECT 1; PRAGMA wal_checkpoint\"]", SQL_POLICY_ERR_PRAGMA);
	ALLOWED("[\"PRAGMA locking_mode\"]");
	ALLOWED("[\"PRAGMA foreign_keys=ON\"]");
	ALLOWED("[\"PRAGMA table_info(t)\"]");
	ALLOWED("[\"PRAGMA main.user_version = 3\"]");
}

UNIT_TEST(refused_functions_are_caught_bare_or_quoted)
{
	REFUSED("[\"SELECT fts3_tokenizer('simple', x'4141414141414141')\"]",
	    "disallowed function: fts3_tokenizer");
	REFUSED("[\"SELECT \\\"FTS3_TOKENIZER\\\"('simple')\"]", "disallowed function: fts3_tokenizer");
	REFUSED("[\"UPDATE t SET v = load_extension('/x.so')\"]", "disallowed function: load_extension");
	ALLOWED("[\"SELECT 'fts3_tokenizer(' AS x\"]");
	ALLOWED("[\"CREATE TABLE fts3_tokenizer (x)\"]");
	ALLOWED("[\"INSERT INTO load_extension(x) VALUES(1)\"]");
	ALLOWED("[\"WITH fts3_tokenizer(x) AS (SELECT 1) SELECT x FROM fts3_tokenizer\"]");
	REFUSED("[\"SELECT f(1, fts3_tokenizer('simple'))\"]", "disallowed function: fts3_tokenizer");
}

UNIT_TEST(a_transaction_the_request_does_not_end_is_refused)
{
	REFUSED("[\"BEGIN\", \"INSERT INTO t VALUES(1)\"]", SQL_POLICY_ERR_TX_OPEN);
	REFUSED("[\"BEGIN; INSERT INTO t VALUES(1);\"]", SQL_POLICY_ERR_TX_OPEN);
	REFUSED("[\"SAVEPOINT a\", \"INSERT INTO t VALUES(1)\"]", SQL_POLICY_ERR_TX_OPEN);
	REFUSED("[\"BEGIN\", \"SAVEPOINT a\", \"RELEASE a\"]", SQL_POLICY_ERR_TX_OPEN);
	REFUSED("[\"SAVEPOINT a\", \"SAVEPOINT b\", \"RELEASE b\"]", SQL_POLICY_ERR_TX_OPEN);
	REFUSED("[\"SAVEPOINT a\", \"ROLLBACK TO a\"]", SQL_POLICY_ERR_TX_OPEN);
	REFUSED("[\"BEGIN\", \"COMMIT\", \"BEGIN IMMEDIATE TRANSACTION\"]", SQL_POLICY_ERR_TX_OPEN);
	ALLOWED("[\"BEGIN\", \"INSERT INTO t VALUES(1)\", \"COMMIT\"]");
	ALLOWED("[\"BEGIN; INSERT INTO t VALUES(1); END TRANSACTION;\"]");
	ALLOWED("[\"BEGIN\", \"INSERT INTO t VALUES(1)\", \"ROLLBACK\"]");
	ALLOWED("[\"SAVEPOINT a\", \"SAVEPOINT b\", \"RELEASE SAVEPOINT a\"]");
	ALLOWED("[\"SAVEPOINT \\\"A\\\"\", \"ROLLBACK TRANSACTION TO a\", \"RELEASE a\"]");
	ALLOWED("[\"BEGIN\", \"SAVEPOINT a\", \"COMMIT\"]");
	ALLOWED("[\"COMMIT\"]");	/* fails in SQLite; leaves nothing open */
	ALLOWED("[\"RELEASE nothing\"]");
}

UNIT_TEST(trigger_bodies_are_one_statement_whatever_their_semicolons_and_ends)
{
	ALLOWED("[\"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = CASE WHEN "
	    "new.v > 1 THEN 1 ELSE 0 END; DELETE FROM u; END; INSERT INTO t VALUES(1)\"]");
	ALLOWED("[\"CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END\"]");
	/* A statement after the body is judged on its own. */
	REFUSED("[\"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; BEGIN\"]",
	    SQL_POLICY_ERR_TX_OPEN);
	REFUSED("[\"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; ATTACH 'x' AS y\"]",
	    SQL_POLICY_ERR_ATTACH);
}

UNIT_TEST(with_transaction_no_statement_may_begin_or_end_one)
{
	CHECK_STR_EQ(verdict("[\"BEGIN\", \"COMMIT\"]", true), SQL_POLICY_ERR_TX_IN_TX);
	CHECK_STR_EQ(verdict("[\"INSERT INTO t VALUES(1)\", \"ROLLBACK\"]", true),
	    SQL_POLICY_ERR_TX_IN_TX);
	CHECK_STR_EQ(verdict("[\"END\"]", true), SQL_POLICY_ERR_TX_IN_TX);
	CHECK_STR_EQ(verdict("[\"SAVEPOINT a\", \"INSERT INTO t VALUES(1)\"]", true), "");
	CHECK_STR_EQ(verdict("[\"SAVEPOINT a\", \"ROLLBACK TO a\", \"RELEASE a\"]", true), "");
}

UNIT_TEST(explained_statements_are_not_run_so_they_change_no_transaction)
{
	ALLOWED("[\"EXPLAIN BEGIN\"]");
	ALLOWED("[\"EXPLAIN QUERY PLAN SELECT 1\"]");
	REFUSED("[\"EXPLAIN ATTACH 'x' AS y\"]", SQL_POLICY_ERR_ATTACH);
}

UNIT_TEST(text_that_does_not_tokenize_is_left_to_sqlite)
{
	ALLOWED("[\"SELECT 'unterminated\"]");
	ALLOWED("[\"BEGIN\", \"COMMIT 'unterminated\"]");	/* cannot tell: storage decides */
	/* A SELECT cannot end the transaction, broken or not. */
	REFUSED("[\"BEGIN\", \"SELECT 'unterminated\"]", SQL_POLICY_ERR_TX_OPEN);
	ALLOWED("[\"\"]");
}

UNIT_MAIN()
