/*
 * Tests for pkg/storage/storage_db_exec_cmd.c: the command map storage accepts
 * (malformed ones are request errors) and how statement arguments bind, positional,
 * numbered and named, as rqlite's go-sqlite3 binds them.
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

UNIT_MAIN()
