/*
 * Tests for pkg/storage/storage_db.c: the connections of a database (file or memory,
 * read-write and read-only), their settings and the facts /status reports, their
 * statement caches. Commands are built as the gateway would (sdb_helpers.c).
 * Running commands is test_storage_db_exec*.c; group apply test_storage_db_group.c.
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

UNIT_MAIN()
