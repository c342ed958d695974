/*
 * Tests for pkg/storage/storage_db_exec.c and storage_db_exec_stmt.c: running a command
 * map on storage_db, statement by statement, in execute, query and request form, with
 * transactions and db_timeout, and the types and values results carry. Commands are
 * built with msgpack_pack_* as the gateway would, results decoded and checked against
 * rqlite's observable behaviour.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "sdb_helpers.h"
#include "storage/storage_db.h"
#include "unit.h"

/* ---- execute ---- */

UNIT_TEST(execute_reports_last_insert_id_and_rows_affected)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)"));
	exec1(sdb, "INSERT INTO foo(name) VALUES('fiona')", &r);
	CHECK(r.whole);
	CHECK_INT_EQ(r.rc, 0);
	CHECK_INT_EQ(nres(&r), 1);
	CHECK_INT_EQ(ival(mget(res_at(&r, 0), "li")), 1);
	CHECK_INT_EQ(ival(mget(res_at(&r, 0), "ra")), 1);
	CHECK(mget(res_at(&r, 0), "t") != NULL);
	CHECK(mget(res_at(&r, 0), "t")->type == MSGPACK_OBJECT_FLOAT64);
	CHECK(mget(res_at(&r, 0), "x") == NULL);
	CHECK(mget(r.top, "e") == NULL);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(create_table_on_fresh_database_reports_no_counts)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;

	CHECK(sdb != NULL);
	exec1(sdb, "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)", &r);
	CHECK_INT_EQ(nres(&r), 1);
	CHECK(mget(res_at(&r, 0), "li") == NULL);
	CHECK(mget(res_at(&r, 0), "ra") == NULL);
	CHECK(mget(res_at(&r, 0), "e") == NULL);
	CHECK_INT_EQ(res_at(&r, 0)->via.map.size, 1);	/* only "t" */
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(drop_after_insert_carries_stale_counts_over)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)"));
	CHECK(must(sdb, "INSERT INTO foo(name) VALUES('fiona')"));
	exec1(sdb, "DROP TABLE foo", &r);
	CHECK_INT_EQ(ival(mget(res_at(&r, 0), "li")), 1);
	CHECK_INT_EQ(ival(mget(res_at(&r, 0), "ra")), 1);
	res_free(&r);
	/* A SELECT sent to execute runs but answers in execute form, counts carried. */
	exec1(sdb, "SELECT 1", &r);
	CHECK(mget(res_at(&r, 0), "c") == NULL);
	CHECK_INT_EQ(ival(mget(res_at(&r, 0), "li")), 1);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(statement_errors_are_reported_and_processing_continues)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *sqls[] = {
		"CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)",
		"nonsense",
		"INSERT INTO bar(name) VALUES('x')",
		"INSERT INTO foo(name) VALUES('fiona')",
	};
	struct res r;

	CHECK(sdb != NULL);
	runv(sdb, 1, false, 0, false, &r, 4, sqls);
	CHECK_INT_EQ(r.rc, 0);
	CHECK_INT_EQ(nres(&r), 4);
	CHECK_STR_EQ(str(mget(res_at(&r, 1), "e")), "near \"nonsense\": syntax error");
	CHECK_STR_EQ(str(mget(res_at(&r, 2), "e")), "no such table: bar");
	CHECK(mget(res_at(&r, 1), "t") == NULL);
	CHECK_INT_EQ(ival(mget(res_at(&r, 3), "li")), 1);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(transaction_rolls_back_and_stops_at_first_error)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *sqls[] = {
		"INSERT INTO foo(id, name) VALUES(1, 'fiona')",
		"INSERT INTO foo(id, name) VALUES(2, 'declan')",
		"INSERT INTO foo(id, name) VALUES(1, 'again')",
		"INSERT INTO foo(id, name) VALUES(3, 'never')",
	};
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)"));
	runv(sdb, 1, true, 0, false, &r, 4, sqls);
	CHECK_INT_EQ(r.rc, 0);
	CHECK(mget(r.top, "e") == NULL);
	CHECK_INT_EQ(nres(&r), 3);
	CHECK_INT_EQ(ival(mget(res_at(&r, 1), "li")), 2);
	CHECK_STR_EQ(str(mget(res_at(&r, 2), "e")), "UNIQUE constraint failed: foo.id");
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 0);
	/* The connection is usable and not left inside a transaction. */
	runv(sdb, 1, true, 0, false, &r, 2, sqls);
	CHECK(mget(r.top, "e") == NULL);
	CHECK_INT_EQ(nres(&r), 2);
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 2);
	CHECK(sqlite3_get_autocommit(storage_db_rw_handle(sdb)) != 0);
	storage_db_close(sdb);
}

UNIT_TEST(failed_commit_is_a_request_error_and_rolls_back)
{
	struct storage_db *sdb = open_db(":memory:", true);
	const char *sqls[] = { "INSERT INTO child(id, pid) VALUES(1, 42)" };
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE parent (id INTEGER PRIMARY KEY)"));
	CHECK(must(sdb, "CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER "
	    "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"));
	runv(sdb, 1, true, 0, false, &r, 1, sqls);
	CHECK_INT_EQ(r.rc, 0);
	CHECK_STR_EQ(str(mget(r.top, "e")), "FOREIGN KEY constraint failed");
	CHECK_INT_EQ(nres(&r), 0);
	res_free(&r);
	CHECK(sqlite3_get_autocommit(storage_db_rw_handle(sdb)) != 0);
	CHECK_INT_EQ(count_rows(sdb, "child"), 0);
	storage_db_close(sdb);
}

UNIT_TEST(begin_inside_a_transaction_request_is_refused_and_rolls_back)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *sqls[] = { "CREATE TABLE t (x)", "BEGIN", "INSERT INTO t VALUES(1)" };
	struct res r;

	CHECK(sdb != NULL);
	runv(sdb, 1, true, 0, false, &r, 3, sqls);
	CHECK_INT_EQ(nres(&r), 2);
	CHECK_STR_EQ(str(mget(res_at(&r, 1), "e")), "disallowed statement: BEGIN, COMMIT, "
	    "END or ROLLBACK in a request with transaction");
	res_free(&r);
	CHECK(sqlite3_get_autocommit(storage_db_rw_handle(sdb)) != 0);
	query1(sdb, "SELECT name FROM sqlite_schema WHERE name = 't'", &r);
	CHECK(mget(res_at(&r, 0), "v") == NULL);	/* the CREATE was rolled back too */
	res_free(&r);
	storage_db_close(sdb);
}

/* ---- forms of results ---- */

UNIT_TEST(returning_clause_answers_rows_from_execute)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;
	const msgpack_object *r0;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)"));
	CHECK(must(sdb, "INSERT INTO foo(name) VALUES('fiona')"));
	exec1(sdb, "INSERT INTO foo(name) VALUES('declan') RETURNING *", &r);
	r0 = res_at(&r, 0);
	CHECK(mget(r0, "x") != NULL);
	CHECK(mget(r0, "li") == NULL);
	CHECK_STR_EQ(str(aget(mget(r0, "c"), 0)), "id");
	CHECK_STR_EQ(str(aget(mget(r0, "c"), 1)), "name");
	CHECK_STR_EQ(str(aget(mget(r0, "ty"), 0)), "integer");
	CHECK_STR_EQ(str(aget(mget(r0, "ty"), 1)), "text");
	CHECK_INT_EQ(ival(cell(r0, 0, 0)), 2);
	CHECK_STR_EQ(str(cell(r0, 0, 1)), "declan");
	res_free(&r);
	/* Every returned row, and the write really happened. */
	exec1(sdb, "UPDATE foo SET name = upper(name) RETURNING id", &r);
	CHECK_INT_EQ(alen(mget(res_at(&r, 0), "v")), 2);
	res_free(&r);
	query1(sdb, "SELECT name FROM foo WHERE id = 1", &r);
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 0, 0)), "FIONA");
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(request_through_log_answers_each_statement_in_its_own_form)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *sqls[] = {
		"CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)",
		"INSERT INTO foo(name) VALUES('fiona')",
		"SELECT * FROM foo",
		"SELECT * FROM bar",
		"-----",
	};
	struct res r;

	CHECK(sdb != NULL);
	runv(sdb, 3, false, 0, false, &r, 5, sqls);
	CHECK_INT_EQ(nres(&r), 5);
	CHECK(mget(res_at(&r, 0), "x") == NULL);
	CHECK_INT_EQ(ival(mget(res_at(&r, 1), "li")), 1);
	CHECK(mget(res_at(&r, 2), "x") != NULL);
	CHECK_STR_EQ(str(cell(res_at(&r, 2), 0, 1)), "fiona");
	/* Fails to prepare: execute-form error. */
	CHECK_STR_EQ(str(mget(res_at(&r, 3), "e")), "no such table: bar");
	CHECK(mget(res_at(&r, 3), "x") == NULL);
	/* A comment-only statement is an empty query-form result, as rqlite's `{}`. */
	CHECK(mget(res_at(&r, 4), "c") == NULL && mget(res_at(&r, 4), "e") == NULL);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(request_transaction_stops_at_error_but_not_at_prepare_failure)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *sqls[] = {
		"INSERT INTO foo(id) VALUES(1)",
		"SELECT * FROM nosuch",
		"INSERT INTO foo(id) VALUES(2)",
		"INSERT INTO foo(id) VALUES(2)",
		"INSERT INTO foo(id) VALUES(3)",
	};
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY)"));
	runv(sdb, 3, true, 0, false, &r, 5, sqls);
	CHECK_INT_EQ(nres(&r), 4);
	CHECK_STR_EQ(str(mget(res_at(&r, 1), "e")), "no such table: nosuch");
	CHECK_STR_EQ(str(mget(res_at(&r, 3), "e")), "UNIQUE constraint failed: foo.id");
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 0);
	storage_db_close(sdb);
}

UNIT_TEST(request_as_read_answers_w_when_a_statement_writes)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *writes[] = { "SELECT * FROM foo", "INSERT INTO foo(id) VALUES(1)" };
	const char *broken[] = { "SELECT * FROM nosuch" };
	const char *reads[] = { "SELECT COUNT(*) FROM foo", "EXPLAIN INSERT INTO foo(id) VALUES(9)" };
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY)"));
	runv(sdb, 3, false, 0, true, &r, 2, writes);
	CHECK_INT_EQ(r.rc, 0);
	CHECK(mget(r.top, "w") != NULL && mget(r.top, "w")->type == MSGPACK_OBJECT_BOOLEAN &&
	    mget(r.top, "w")->via.boolean);
	CHECK(mget(r.top, "r") == NULL);
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 0);	/* nothing ran */

	runv(sdb, 3, false, 0, true, &r, 1, broken);
	CHECK(mget(r.top, "w") != NULL);
	res_free(&r);

	/* All read-only (EXPLAIN counts as read-only): answered directly, query form. */
	runv(sdb, 3, false, 0, true, &r, 2, reads);
	CHECK(mget(r.top, "w") == NULL);
	CHECK_INT_EQ(nres(&r), 2);
	CHECK_INT_EQ(ival(cell(res_at(&r, 0), 0, 0)), 0);
	CHECK(mget(res_at(&r, 1), "x") != NULL && mget(res_at(&r, 1), "e") == NULL);
	CHECK(alen(mget(res_at(&r, 1), "v")) > 0);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(write_via_query_is_refused)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *refused[] = {
		"CREATE TABLE temp.qux (id INTEGER NOT NULL PRIMARY KEY, name TEXT)",
		"INSERT INTO foo(name) VALUES('fiona')",
		"INSERT INTO foo(name) VALUES('fiona') RETURNING *",
		"UPDATE foo SET name='fiona' WHERE id=1",
		"DELETE FROM foo WHERE id=1",
		"DROP TABLE foo",
	};
	const char *pragma = "PRAGMA foreign_keys = ON";
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)"));
	for (int via_log = 0; via_log < 2; via_log++) {
		runv(sdb, 2, false, 0, !via_log, &r, 6, refused);
		CHECK_INT_EQ(nres(&r), 6);
		for (uint32_t i = 0; i < 6; i++) {
			CHECK_STR_EQ(str(mget(res_at(&r, i), "e")),
			    "attempt to change database via query operation");
			CHECK(mget(res_at(&r, i), "x") != NULL);
		}
		res_free(&r);
	}
	CHECK_INT_EQ(count_rows(sdb, "foo"), 0);
	/* rqlite's Test_DB_QueryReadOnly: this pragma is allowed and answers {}. */
	query1(sdb, pragma, &r);
	CHECK(mget(res_at(&r, 0), "e") == NULL && mget(res_at(&r, 0), "c") == NULL);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(declared_types_are_lower_cased_verbatim_and_missing_ones_come_from_first_row)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;
	const msgpack_object *ty;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY, name VARCHAR(500), "
	    "ts DATETIME, n NUMERIC)"));
	query1(sdb, "SELECT * FROM foo", &r);
	ty = mget(res_at(&r, 0), "ty");
	CHECK_STR_EQ(str(aget(ty, 0)), "integer");
	CHECK_STR_EQ(str(aget(ty, 1)), "varchar(500)");
	CHECK_STR_EQ(str(aget(ty, 2)), "datetime");
	CHECK_STR_EQ(str(aget(ty, 3)), "numeric");
	CHECK(mget(res_at(&r, 0), "v") == NULL);	/* no rows: values omitted */
	CHECK(mget(res_at(&r, 0), "x") != NULL);
	res_free(&r);

	query1(sdb, "SELECT COUNT(*), 1.5, 'a', NULL, x'00', 7 UNION ALL SELECT 1, 2, 3, 4, 5, NULL", &r);
	ty = mget(res_at(&r, 0), "ty");
	CHECK_STR_EQ(str(aget(ty, 0)), "integer");
	CHECK_STR_EQ(str(aget(ty, 1)), "real");
	CHECK_STR_EQ(str(aget(ty, 2)), "text");
	CHECK_STR_EQ(str(aget(ty, 3)), "");		/* first row NULL, even if later rows are not */
	CHECK_STR_EQ(str(aget(ty, 4)), "blob");
	CHECK_STR_EQ(str(aget(ty, 5)), "integer");
	CHECK_INT_EQ(alen(mget(res_at(&r, 0), "v")), 2);
	CHECK_INT_EQ(ival(cell(res_at(&r, 0), 1, 3)), 4);
	res_free(&r);

	query1(sdb, "SELECT 1 + id FROM foo", &r);	/* expression, no rows */
	CHECK_STR_EQ(str(aget(mget(res_at(&r, 0), "ty"), 0)), "");
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(qualified_names_use_the_origin_table)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;
	const msgpack_object *q;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT)"));
	CHECK(must(sdb, "CREATE TABLE t2 (id INTEGER PRIMARY KEY)"));
	query1(sdb, "SELECT t1.id, t1.name AS who, t2.id, 1 + 1 FROM t1, t2", &r);
	q = mget(res_at(&r, 0), "q");
	CHECK_INT_EQ(alen(q), 4);
	CHECK_STR_EQ(str(aget(q, 0)), "t1.id");
	CHECK_STR_EQ(str(aget(q, 1)), "t1.who");
	CHECK_STR_EQ(str(aget(q, 2)), "t2.id");
	CHECK_STR_EQ(str(aget(q, 3)), "1 + 1");
	CHECK_STR_EQ(str(aget(mget(res_at(&r, 0), "c"), 1)), "who");
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(blob_reads_as_text_only_under_a_declared_text_type)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;
	const msgpack_object *v;

	CHECK(sdb != NULL);
	/* An expression has no declared type: its BLOB stays bytes (issue 15). */
	query1(sdb, "SELECT x'53514C697465'", &r);
	CHECK_STR_EQ(str(aget(mget(res_at(&r, 0), "ty"), 0)), "blob");
	v = cell(res_at(&r, 0), 0, 0);
	CHECK(v->type == MSGPACK_OBJECT_BIN && v->via.bin.size == 6 &&
	    memcmp(v->via.bin.ptr, "SQLite", 6) == 0);
	res_free(&r);
	/* A declared text type reads it as text, as rqlite does. */
	CHECK(must(sdb, "CREATE TABLE tx (v varchar(10))"));
	CHECK(must(sdb, "INSERT INTO tx(v) VALUES(x'53514C697465')"));
	query1(sdb, "SELECT v FROM tx", &r);
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 0, 0)), "SQLite");
	res_free(&r);
	/* Text stored in a BLOB column comes back by storage class: a string. */
	CHECK(must(sdb, "CREATE TABLE foo (data blob)"));
	CHECK(must(sdb, "INSERT INTO foo(data) VALUES('fiona')"));
	query1(sdb, "SELECT data FROM foo", &r);
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 0, 0)), "fiona");
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(db_timeout_interrupts_a_long_statement)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
	    "SELECT COUNT(*) FROM c";
	const char *sqls[] = { slow, "SELECT 1" };
	const char *wsqls[] = { "INSERT INTO foo SELECT x FROM (WITH RECURSIVE c(x) AS "
	    "(SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c)", "INSERT INTO foo VALUES(1)" };
	struct res r;
	int64_t t0;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (x)"));
	runv(sdb, 2, false, 100, true, &r, 2, sqls);
	CHECK_INT_EQ(nres(&r), 2);
	CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), "query timeout");
	/* One deadline for the whole command: what follows fails at once. */
	CHECK_STR_EQ(str(mget(res_at(&r, 1), "e")), "query timeout");
	res_free(&r);

	t0 = (int64_t)time(NULL);
	runv(sdb, 1, false, 100, false, &r, 2, wsqls);
	CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), "execute timeout");
	CHECK_STR_EQ(str(mget(res_at(&r, 1), "e")), "execute timeout");
	CHECK((int64_t)time(NULL) - t0 < 5);
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 0);

	/* Without a timeout the next command runs normally. */
	query1(sdb, "SELECT 42", &r);
	CHECK_INT_EQ(ival(cell(res_at(&r, 0), 0, 0)), 42);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(multi_statement_text_executes_all_and_reports_the_last)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct cb b;
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY, v)"));
	exec1(sdb, "INSERT INTO foo(v) VALUES(1); INSERT INTO foo(v) VALUES(2);\n"
	    "INSERT INTO foo(v) VALUES(3);  ", &r);
	CHECK_INT_EQ(nres(&r), 1);
	CHECK_INT_EQ(ival(mget(res_at(&r, 0), "li")), 3);
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 3);

	/* Positional arguments are consumed statement by statement. */
	cb_init(&b, 1, false, 0, 1);
	cb_stmt(&b, "INSERT INTO foo(v) VALUES(?); INSERT INTO foo(v) VALUES(?)", 2);
	msgpack_pack_int(&b.pk, 10);
	msgpack_pack_int(&b.pk, 20);
	run_cb(sdb, &b, false, &r);
	CHECK(mget(res_at(&r, 0), "e") == NULL);
	res_free(&r);
	query1(sdb, "SELECT v FROM foo WHERE id > 3 ORDER BY id", &r);
	CHECK_INT_EQ(ival(cell(res_at(&r, 0), 0, 0)), 10);
	CHECK_INT_EQ(ival(cell(res_at(&r, 0), 1, 0)), 20);
	res_free(&r);

	/* A text ending in a comment reports no counts (the reference's 0/0). */
	exec1(sdb, "INSERT INTO foo(v) VALUES(6); -- trailing", &r);
	CHECK(mget(res_at(&r, 0), "li") == NULL && mget(res_at(&r, 0), "e") == NULL);
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 6);

	/* An error stops the text; earlier statements stay done. */
	exec1(sdb, "INSERT INTO foo(v) VALUES(7); nonsense; INSERT INTO foo(v) VALUES(8)", &r);
	CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), "near \"nonsense\": syntax error");
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 7);

	/* A query returns only the last statement's rows. */
	query1(sdb, "SELECT 1; SELECT v FROM foo ORDER BY id LIMIT 2", &r);
	CHECK_STR_EQ(str(aget(mget(res_at(&r, 0), "c"), 0)), "v");
	CHECK_INT_EQ(alen(mget(res_at(&r, 0), "v")), 2);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(empty_statements_are_skipped_and_comments_give_empty_results)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *sqls[] = { "", "SELECT 1", "", "  ", "/* only a comment */" };
	struct res r;

	CHECK(sdb != NULL);
	runv(sdb, 1, false, 0, false, &r, 5, sqls);
	CHECK_INT_EQ(nres(&r), 3);
	CHECK(mget(res_at(&r, 1), "e") == NULL);
	CHECK(mget(res_at(&r, 2), "e") == NULL);
	res_free(&r);
	runv(sdb, 2, false, 0, true, &r, 5, sqls);
	CHECK_INT_EQ(nres(&r), 3);
	CHECK(mget(res_at(&r, 2), "c") == NULL && mget(res_at(&r, 2), "x") != NULL);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(noop_packs_an_empty_map)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct cb b;
	struct res r;

	CHECK(sdb != NULL);
	cb_init(&b, 4, false, 0, 0);
	run_cb(sdb, &b, false, &r);
	CHECK_INT_EQ(r.rc, 0);
	CHECK(r.whole);
	CHECK(r.top->type == MSGPACK_OBJECT_MAP && r.top->via.map.size == 0);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(query_transaction_does_not_stop_at_errors)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *sqls[] = { "SELECT * FROM nosuch", "SELECT 2" };
	struct res r;

	CHECK(sdb != NULL);
	runv(sdb, 2, true, 0, true, &r, 2, sqls);
	CHECK(mget(r.top, "e") == NULL);
	CHECK_INT_EQ(nres(&r), 2);
	CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), "no such table: nosuch");
	CHECK_INT_EQ(ival(cell(res_at(&r, 1), 0, 0)), 2);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(many_rows_round_trip)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;
	const msgpack_object *v;

	CHECK(sdb != NULL);
	query1(sdb, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 70000) "
	    "SELECT x, 'row ' || x FROM c", &r);
	CHECK(r.whole);
	v = mget(res_at(&r, 0), "v");
	CHECK_INT_EQ(alen(v), 70000);
	CHECK_INT_EQ(ival(aget(aget(v, 69999), 0)), 70000);
	CHECK_STR_EQ(str(aget(aget(v, 69999), 1)), "row 70000");
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_MAIN()
