/*
 * Tests for pkg/storage/storage_db*: commands are built with msgpack_pack_* as the
 * gateway would, results decoded and checked against rqlite's observable behaviour.
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

/* ---- binding ---- */

UNIT_TEST(positional_arguments_bind_in_order_including_numbered)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct cb b;
	struct res r;
	const msgpack_object *row;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (a, b, c, d, e, f)"));
	cb_init(&b, 1, false, 0, 2);
	cb_stmt(&b, "INSERT INTO foo VALUES(?, ?, ?, ?, ?, ?)", 6);
	msgpack_pack_int64(&b.pk, -7);
	lit(&b.pk, "fiona");
	msgpack_pack_double(&b.pk, 2.5);
	msgpack_pack_nil(&b.pk);
	msgpack_pack_true(&b.pk);
	msgpack_pack_uint64(&b.pk, UINT64_MAX);	/* too big for INTEGER: REAL */
	cb_stmt(&b, "INSERT INTO foo(a, b) VALUES(?2, ?1)", 2);
	msgpack_pack_int(&b.pk, 1);
	msgpack_pack_int(&b.pk, 2);
	run_cb(sdb, &b, false, &r);
	CHECK_INT_EQ(nres(&r), 2);
	CHECK(mget(res_at(&r, 0), "e") == NULL);
	CHECK(mget(res_at(&r, 1), "e") == NULL);
	res_free(&r);

	query1(sdb, "SELECT a, b, c, d, e, typeof(f) FROM foo ORDER BY rowid", &r);
	row = aget(mget(res_at(&r, 0), "v"), 0);
	CHECK_INT_EQ(ival(aget(row, 0)), -7);
	CHECK_STR_EQ(str(aget(row, 1)), "fiona");
	CHECK(aget(row, 2)->type == MSGPACK_OBJECT_FLOAT64 && aget(row, 2)->via.f64 == 2.5);
	CHECK(aget(row, 3)->type == MSGPACK_OBJECT_NIL);
	CHECK_INT_EQ(ival(aget(row, 4)), 1);
	CHECK_STR_EQ(str(aget(row, 5)), "real");
	CHECK_INT_EQ(ival(cell(res_at(&r, 0), 1, 0)), 2);
	CHECK_INT_EQ(ival(cell(res_at(&r, 0), 1, 1)), 1);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(named_arguments_bind_with_colon_at_and_dollar)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct cb b;
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (name TEXT, age INTEGER)"));
	cb_init(&b, 1, false, 0, 3);
	cb_stmt(&b, "INSERT INTO foo(name, age) VALUES(:name, :age)", 1);
	msgpack_pack_map(&b.pk, 2);
	lit(&b.pk, "name");
	lit(&b.pk, "colon");
	lit(&b.pk, "age");
	msgpack_pack_int(&b.pk, 1);
	cb_stmt(&b, "INSERT INTO foo(name, age) VALUES(@name, @age)", 1);
	msgpack_pack_map(&b.pk, 2);
	lit(&b.pk, "age");
	msgpack_pack_int(&b.pk, 2);
	lit(&b.pk, "name");
	lit(&b.pk, "at");
	cb_stmt(&b, "INSERT INTO foo(name, age) VALUES($name, $age)", 1);
	msgpack_pack_map(&b.pk, 2);
	lit(&b.pk, "name");
	lit(&b.pk, "dollar");
	lit(&b.pk, "age");
	msgpack_pack_int(&b.pk, 3);
	run_cb(sdb, &b, false, &r);
	CHECK_INT_EQ(nres(&r), 3);
	for (uint32_t i = 0; i < 3; i++)
		CHECK(mget(res_at(&r, i), "e") == NULL);
	res_free(&r);

	/* Named parameters in a read too. */
	cb_init(&b, 2, false, 0, 1);
	cb_stmt(&b, "SELECT name FROM foo WHERE age >= :min ORDER BY age", 1);
	msgpack_pack_map(&b.pk, 1);
	lit(&b.pk, "min");
	msgpack_pack_int(&b.pk, 1);
	run_cb(sdb, &b, true, &r);
	CHECK_INT_EQ(alen(mget(res_at(&r, 0), "v")), 3);
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 0, 0)), "colon");
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 1, 0)), "at");
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 2, 0)), "dollar");
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(too_few_arguments_is_a_statement_error_with_rqlite_text)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct cb b;
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (a, b)"));
	cb_init(&b, 1, false, 0, 2);
	cb_stmt(&b, "INSERT INTO foo VALUES(?, ?)", 1);
	msgpack_pack_int(&b.pk, 1);
	cb_stmt(&b, "INSERT INTO foo VALUES(?, ?)", 3);	/* extra arguments are ignored */
	msgpack_pack_int(&b.pk, 1);
	msgpack_pack_int(&b.pk, 2);
	msgpack_pack_int(&b.pk, 3);
	run_cb(sdb, &b, false, &r);
	CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")),
	    "not enough args to execute query: want 2 got 1");
	CHECK(mget(res_at(&r, 1), "e") == NULL);
	CHECK_INT_EQ(ival(mget(res_at(&r, 1), "ra")), 1);
	res_free(&r);

	cb_init(&b, 2, false, 0, 1);
	cb_stmt(&b, "SELECT ?, ?, ?", 1);
	msgpack_pack_int(&b.pk, 1);
	run_cb(sdb, &b, true, &r);
	CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")),
	    "not enough args to execute query: want 3 got 1");
	CHECK(mget(res_at(&r, 0), "x") != NULL);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(blob_arguments_bind_as_blobs_and_read_back_as_bin)
{
	struct storage_db *sdb = open_db(":memory:", false);
	static const char bytes[] = { (char)0xde, (char)0xad, (char)0xbe, (char)0xef };
	struct cb b;
	struct res r;
	const msgpack_object *v;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY, data BLOB)"));
	cb_init(&b, 1, false, 0, 2);
	cb_stmt(&b, "INSERT INTO foo(id, data) VALUES(1, ?)", 1);
	msgpack_pack_bin(&b.pk, 4);
	msgpack_pack_bin_body(&b.pk, bytes, 4);
	cb_stmt(&b, "INSERT INTO foo(id, data) VALUES(2, ?)", 1);
	msgpack_pack_bin(&b.pk, 0);
	run_cb(sdb, &b, false, &r);
	CHECK(mget(res_at(&r, 0), "e") == NULL && mget(res_at(&r, 1), "e") == NULL);
	res_free(&r);

	query1(sdb, "SELECT data, typeof(data) FROM foo ORDER BY id", &r);
	CHECK_STR_EQ(str(aget(mget(res_at(&r, 0), "ty"), 0)), "blob");
	v = cell(res_at(&r, 0), 0, 0);
	CHECK(v != NULL && v->type == MSGPACK_OBJECT_BIN);
	CHECK_INT_EQ(v->via.bin.size, 4);
	CHECK(memcmp(v->via.bin.ptr, bytes, 4) == 0);
	v = cell(res_at(&r, 0), 1, 0);
	CHECK(v != NULL && v->type == MSGPACK_OBJECT_BIN);
	CHECK_INT_EQ(v->via.bin.size, 0);
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 1, 1)), "blob");
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

UNIT_TEST(foreign_keys_follow_the_option)
{
	for (int fk = 0; fk < 2; fk++) {
		struct storage_db *sdb = open_db(":memory:", fk);
		struct res r;

		CHECK(sdb != NULL);
		CHECK(must(sdb, "CREATE TABLE parent (id INTEGER PRIMARY KEY)"));
		CHECK(must(sdb, "CREATE TABLE child (id INTEGER PRIMARY KEY, "
		    "pid INTEGER REFERENCES parent(id))"));
		exec1(sdb, "INSERT INTO child(id, pid) VALUES(1, 42)", &r);
		if (fk)
			CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), "FOREIGN KEY constraint failed");
		else
			CHECK(mget(res_at(&r, 0), "e") == NULL);
		res_free(&r);
		query1(sdb, "PRAGMA foreign_keys", &r);
		CHECK_INT_EQ(ival(cell(res_at(&r, 0), 0, 0)), fk);
		CHECK_STR_EQ(str(aget(mget(res_at(&r, 0), "ty"), 0)), "integer");
		res_free(&r);
		storage_db_close(sdb);
	}
}

UNIT_TEST(memory_database_is_visible_to_read_only_connection_and_private_per_open)
{
	struct storage_db *a = open_db(":memory:", false);
	struct storage_db *b = open_db(":memory:", false);
	struct res r;

	CHECK(a != NULL && b != NULL);
	CHECK(must(a, "CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT)"));
	CHECK(must(a, "INSERT INTO foo(name) VALUES('fiona')"));
	query1(a, "SELECT name FROM foo", &r);
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 0, 0)), "fiona");
	res_free(&r);
	CHECK(must(a, "INSERT INTO foo(name) VALUES('declan')"));
	CHECK_INT_EQ(count_rows(a, "foo"), 2);
	query1(b, "SELECT name FROM foo", &r);
	CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), "no such table: foo");
	res_free(&r);
	storage_db_close(a);
	storage_db_close(b);
}

UNIT_TEST(file_database_uses_wal_and_reports_its_pragmas)
{
	char dir[] = "/tmp/rq-dbtestXXXXXX", path[128], wal[140], shm[140];
	struct storage_db *sdb;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	const msgpack_object *rw, *ro;
	size_t off = 0;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/db.sqlite", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	sdb = open_db(path, true);
	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY)"));
	CHECK(must(sdb, "INSERT INTO foo(id) VALUES(1)"));
	CHECK_INT_EQ(count_rows(sdb, "foo"), 1);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	CHECK_INT_EQ(storage_db_stats(sdb, &pk), 0);
	msgpack_unpacked_init(&u);
	CHECK(msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS);
	CHECK(off == sb.size);
	CHECK_STR_EQ(str(mget(&u.data, "version")), sqlite3_libversion());
	CHECK_STR_EQ(str(mget(&u.data, "path")), path);
	CHECK(ival(mget(&u.data, "db_size")) >= 4096);
	CHECK(ival(mget(&u.data, "wal_size")) > 0);
	CHECK(alen(mget(&u.data, "compile_options")) > 0);
	rw = mget(mget(&u.data, "pragmas"), "rw");
	ro = mget(mget(&u.data, "pragmas"), "ro");
	CHECK_STR_EQ(str(mget(rw, "journal_mode")), "wal");
	CHECK_STR_EQ(str(mget(ro, "journal_mode")), "wal");
	CHECK_STR_EQ(str(mget(rw, "synchronous")), "0");
	CHECK_STR_EQ(str(mget(rw, "foreign_keys")), "1");
	CHECK_STR_EQ(str(mget(ro, "foreign_keys")), "1");
	CHECK_STR_EQ(str(mget(rw, "busy_timeout")), "5000");
	CHECK_STR_EQ(str(mget(ro, "busy_timeout")), "5000");
	CHECK(mget(rw, "wal_autocheckpoint") != NULL);
	CHECK(mget(&u.data, "error") == NULL);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);

	storage_db_close(sdb);
	/* Reopening sees the data. */
	sdb = open_db(path, true);
	CHECK(sdb != NULL);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 1);
	storage_db_close(sdb);
	unlink(wal);
	unlink(shm);
	unlink(path);
	rmdir(dir);
}

UNIT_TEST(repeated_statement_is_prepared_once)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct storage_db_counters c0, c1;
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY, v)"));
	storage_db_counters(sdb, &c0);
	for (int i = 0; i < 10000; i++) {
		struct cb b;

		cb_init(&b, 1, false, 0, 1);
		cb_stmt(&b, "INSERT INTO foo(v) VALUES(?)", 1);
		msgpack_pack_int(&b.pk, i);
		run_cb(sdb, &b, false, &r);
		if (mget(res_at(&r, 0), "e") != NULL || ival(mget(res_at(&r, 0), "li")) != i + 1) {
			res_free(&r);
			CHECK(!"insert failed");
		}
		res_free(&r);
	}
	storage_db_counters(sdb, &c1);
	CHECK_INT_EQ(c1.cache_misses - c0.cache_misses, 1);
	CHECK_INT_EQ(c1.cache_hits - c0.cache_hits, 9999);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 10000);
	storage_db_close(sdb);
}

UNIT_TEST(cached_query_sees_columns_added_by_a_schema_change)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT)"));
	CHECK(must(sdb, "INSERT INTO foo(name) VALUES('fiona')"));
	query1(sdb, "SELECT * FROM foo", &r);
	CHECK_INT_EQ(alen(mget(res_at(&r, 0), "c")), 2);
	res_free(&r);
	CHECK(must(sdb, "ALTER TABLE foo ADD COLUMN age INTEGER DEFAULT 20"));
	query1(sdb, "SELECT * FROM foo", &r);
	CHECK_INT_EQ(alen(mget(res_at(&r, 0), "c")), 3);
	CHECK_STR_EQ(str(aget(mget(res_at(&r, 0), "ty"), 2)), "integer");
	CHECK_INT_EQ(alen(aget(mget(res_at(&r, 0), "v"), 0)), 3);
	CHECK_INT_EQ(ival(cell(res_at(&r, 0), 0, 2)), 20);
	res_free(&r);
	storage_db_close(sdb);
}

UNIT_TEST(malformed_commands_are_rejected_with_a_request_error)
{
	struct storage_db *sdb = open_db(":memory:", false);
	static const char garbage[] = { (char)0xc1, 0x00, 0x01 };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct cb b;
	struct res r;

	CHECK(sdb != NULL);
	/* Not msgpack at all. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	CHECK_INT_EQ(storage_db_apply(sdb, garbage, sizeof(garbage), &pk), -1);
	CHECK_INT_EQ(storage_db_apply(sdb, NULL, 0, &pk), -1);
	msgpack_sbuffer_destroy(&sb);

	/* Truncated command. */
	cb_init(&b, 1, false, 0, 1);
	cb_stmt(&b, "SELECT 1", 0);
	b.sb.size -= 3;
	run_cb(sdb, &b, false, &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK(r.whole);
	CHECK_STR_EQ(str(mget(r.top, "e")), "malformed command: bad msgpack");
	CHECK_INT_EQ(nres(&r), 0);
	res_free(&r);

	/* Unknown kind, and kinds that cannot be reads. */
	cb_init(&b, 9, false, 0, 0);
	run_cb(sdb, &b, false, &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK_STR_EQ(str(mget(r.top, "e")), "unknown command kind 9");
	res_free(&r);
	cb_init(&b, 1, false, 0, 0);
	run_cb(sdb, &b, true, &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK(mget(r.top, "e") != NULL);
	res_free(&r);

	/* A statement that is not [sql, …], and an argument of an unsupported type. */
	cb_init(&b, 1, false, 0, 1);
	msgpack_pack_int(&b.pk, 5);
	run_cb(sdb, &b, false, &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK(mget(r.top, "e") != NULL);
	res_free(&r);
	cb_init(&b, 1, false, 0, 1);
	cb_stmt(&b, "SELECT ?", 1);
	msgpack_pack_array(&b.pk, 0);
	run_cb(sdb, &b, false, &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK(mget(r.top, "e") != NULL);
	res_free(&r);

	/* Trailing bytes after the map. */
	cb_init(&b, 1, false, 0, 0);
	msgpack_pack_nil(&b.pk);
	run_cb(sdb, &b, false, &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK_STR_EQ(str(mget(r.top, "e")), "malformed command: trailing bytes");
	res_free(&r);

	/* The engine still works. */
	CHECK(must(sdb, "SELECT 1"));
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

/* ---- group apply ---- */

/* Appends a canonical text of o to buf, without the "t" (elapsed time) keys. */
static void
canon(const msgpack_object *o, char *buf, size_t cap)
{
	size_t n = strlen(buf);

	if (n + 64 >= cap)
		return;
	switch (o->type) {
	case MSGPACK_OBJECT_MAP:
		strcat(buf, "{");
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 1 &&
			    kv->key.via.str.ptr[0] == 't')
				continue;
			canon(&kv->key, buf, cap);
			strcat(buf, ":");
			canon(&kv->val, buf, cap);
			strcat(buf, ",");
		}
		strcat(buf, "}");
		break;
	case MSGPACK_OBJECT_ARRAY:
		strcat(buf, "[");
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			canon(&o->via.array.ptr[i], buf, cap);
			strcat(buf, ",");
		}
		strcat(buf, "]");
		break;
	case MSGPACK_OBJECT_STR:
		snprintf(buf + n, cap - n, "\"%s\"", str(o));
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(buf + n, cap - n, "%lld", ival(o));
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		strcat(buf, o->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_NIL:
		strcat(buf, "nil");
		break;
	default:
		snprintf(buf + n, cap - n, "?%d", (int)o->type);
	}
}

struct group_entry {
	unsigned kind;
	bool tx;
	unsigned to_ms;
	const char *sqls[4];
};

/* Every way an entry can leave, end or be refused by a shared transaction. */
static const struct group_entry group_entries[] = {
	{ 1, false, 0, { "CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT UNIQUE, v INTEGER)" } },
	{ 1, false, 0, { "CREATE TABLE r (id INTEGER PRIMARY KEY, x UNIQUE ON CONFLICT ROLLBACK)" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(1, 'a', 1)" } },
	/* a statement error undoes only that statement */
	{ 1, false, 0, { "INSERT INTO foo VALUES(2, 'b', 1)", "INSERT INTO foo VALUES(2, 'dup', 1)",
	    "INSERT INTO foo VALUES(3, 'c', 1)" } },
	/* a failed transaction entry undoes only itself */
	{ 1, true, 0, { "INSERT INTO foo VALUES(4, 'd', 1)", "INSERT INTO foo VALUES(4, 'e', 1)",
	    "INSERT INTO foo VALUES(5, 'never', 1)" } },
	{ 1, false, 0, { "INSERT INTO r(x) VALUES(1)" } },
	/* ON CONFLICT ROLLBACK ends SQLite's transaction: the group must be replayed */
	{ 1, false, 0, { "INSERT INTO foo VALUES(6, 'f', 1)", "INSERT INTO r(x) VALUES(1)",
	    "INSERT INTO foo VALUES(7, 'g', 1)" } },
	{ 1, false, 0, { "INSERT OR ROLLBACK INTO foo(id, name) VALUES(1, 'x')" } },
	{ 1, false, 0, { "CREATE TRIGGER no99 BEFORE INSERT ON foo WHEN NEW.v = 99 "
	    "BEGIN SELECT RAISE(ROLLBACK, 'no 99'); END" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(8, 'h', 1)", "INSERT INTO foo VALUES(9, 'i', 99)",
	    "INSERT INTO foo VALUES(10, 'j', 1)" } },
	/* transaction control in the text, behind comments too */
	{ 1, false, 0, { "BEGIN; INSERT INTO foo VALUES(11, 'k', 1); COMMIT" } },
	{ 1, false, 0, { "/* c */ -- x\n PRAGMA user_version = 7", "INSERT INTO foo VALUES(12, 'l', 1)" } },
	{ 1, true, 0, { "INSERT INTO foo VALUES(13, 'm', 1)", "UPDATE foo SET v = v + 1" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(14, 'n', 1) RETURNING id, name" } },
	{ 1, false, 5000, { "INSERT INTO foo VALUES(15, 'o', 1)" } },
	{ 3, false, 0, { "SELECT COUNT(*) FROM foo", "INSERT INTO foo VALUES(16, 'p', 1)" } },
	/* an explicit transaction across entries */
	{ 1, false, 0, { "BEGIN" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(17, 'q', 1)" } },
	{ 1, false, 0, { "COMMIT" } },
	{ 1, false, 0, { "INSERT OR FAIL INTO foo VALUES(18, 'r', 1)", "INSERT OR FAIL INTO foo VALUES(18, 's', 1)" } },
	/* OR ROLLBACK inside a transaction entry */
	{ 1, true, 0, { "INSERT INTO foo VALUES(19, 's', 1)", "UPDATE OR ROLLBACK foo SET name = 'a' WHERE id = 2" } },
	{ 1, false, 0, { "DELETE FROM foo WHERE id = 3", "INSERT INTO foo VALUES(20, 't', 1)" } },
	{ 1, false, 0, { "VACUUM" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(21, 'u', 1)" } },
	/* foreign keys switched on by a statement: deferred checks stay per entry */
	{ 1, false, 0, { "PRAGMA foreign_keys = ON" } },
	{ 1, false, 0, { "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
	    "CREATE TABLE child (id INTEGER PRIMARY KEY, pid REFERENCES parent(id) "
	    "DEFERRABLE INITIALLY DEFERRED)" } },
	{ 1, false, 0, { "INSERT INTO child VALUES(1, 42)" } },
	{ 1, false, 0, { "INSERT INTO parent VALUES(1)", "INSERT INTO child VALUES(2, 1)" } },
	{ 1, false, 0, { "INSERT INTO child VALUES(3, 43)" } },
	{ 1, false, 0, { "/* off again */ PRAGMA foreign_keys = OFF" } },
	{ 1, false, 0, { "INSERT INTO child VALUES(4, 44)" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(22, 'v', 1)" } },
};

static void
group_apply(struct storage_db *sdb, const struct group_entry *e, char *out, size_t cap)
{
	unsigned n = 0;
	struct res r;

	while (n < 4 && e->sqls[n] != NULL)
		n++;
	runv(sdb, e->kind, e->tx, e->to_ms, false, &r, n, e->sqls);
	out[0] = '\0';
	canon(r.top, out, cap);
	res_free(&r);
}

static void
group_contents(struct storage_db *sdb, char *out, size_t cap)
{
	const char *sqls[] = { "SELECT * FROM foo ORDER BY id", "SELECT * FROM r ORDER BY id",
	    "PRAGMA user_version", "SELECT name FROM sqlite_master ORDER BY name",
	    "SELECT * FROM child ORDER BY id" };
	struct res r;

	runv(sdb, 2, false, 0, true, &r, 5, sqls);
	out[0] = '\0';
	canon(r.top, out, cap);
	res_free(&r);
}

UNIT_TEST(grouped_entries_end_as_if_each_were_its_own_transaction)
{
	static char want[8192], got[8192];
	const size_t n = sizeof(group_entries) / sizeof(group_entries[0]);
	const unsigned bursts[] = { 1, 3, 100 };

	for (size_t b = 0; b < sizeof(bursts) / sizeof(bursts[0]); b++) {
		struct storage_db *alone = open_db(":memory:", false);
		struct storage_db *grouped = open_db(":memory:", false);
		struct storage_db_counters ctr;

		CHECK(alone != NULL && grouped != NULL);
		storage_db_group_enable(grouped, true);
		for (size_t i = 0; i < n; i++) {
			group_apply(alone, &group_entries[i], want, sizeof(want));
			group_apply(grouped, &group_entries[i], got, sizeof(got));
			if (strcmp(want, got) != 0)
				UNIT_FAIL_("burst %u, entry %zu: %s\n      alone:   %s\n      grouped: %s",
				    bursts[b], i, group_entries[i].sqls[0], want, got);
			if ((i + 1) % bursts[b] == 0)
				storage_db_group_end(grouped);
		}
		storage_db_group_end(grouped);
		CHECK(sqlite3_get_autocommit(storage_db_rw_handle(grouped)) != 0);
		group_contents(alone, want, sizeof(want));
		group_contents(grouped, got, sizeof(got));
		CHECK_STR_EQ(got, want);
		storage_db_counters(grouped, &ctr);
		if (bursts[b] > 1)
			CHECK(ctr.group_replays >= 3);	/* the ROLLBACKs above */
		storage_db_close(alone);
		storage_db_close(grouped);
	}
}

UNIT_TEST(a_burst_of_writes_is_one_transaction_seen_by_readers_once_ended)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct storage_db_counters ctr;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY)"));
	storage_db_group_enable(sdb, true);
	for (int i = 0; i < 10; i++)
		CHECK(must(sdb, "INSERT INTO foo DEFAULT VALUES"));
	CHECK_INT_EQ(storage_db_group_size(sdb), 10);
	storage_db_group_end(sdb);
	CHECK_INT_EQ(storage_db_group_size(sdb), 0);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 10);
	storage_db_counters(sdb, &ctr);
	CHECK_INT_EQ(ctr.apply_groups, 1);
	CHECK_INT_EQ(ctr.grouped_entries, 10);
	CHECK_INT_EQ(ctr.group_replays, 0);
	storage_db_close(sdb);
}

UNIT_TEST(foreign_keys_keep_every_entry_in_its_own_transaction)
{
	struct storage_db *sdb = open_db(":memory:", true);
	struct storage_db_counters ctr;

	CHECK(sdb != NULL);
	storage_db_group_enable(sdb, true);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY)"));
	CHECK(must(sdb, "INSERT INTO foo VALUES(1)"));
	CHECK_INT_EQ(storage_db_group_size(sdb), 0);
	storage_db_counters(sdb, &ctr);
	CHECK_INT_EQ(ctr.grouped_entries, 0);
	storage_db_close(sdb);
}

UNIT_MAIN()
