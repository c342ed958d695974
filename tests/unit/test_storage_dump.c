/*
 * Tests for pkg/storage/storage_dump.c: the SQL dump's exact text (rqlite's layout),
 * and loading SQL text into a live database as one all-or-nothing transaction.
 * Real files under a mkdtemp directory (sdb_helpers.c).
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "sdb_helpers.h"
#include "storage/storage_backup.h"
#include "storage/storage_db.h"
#include "storage/storage_dump.h"
#include "unit.h"

/* Dumps into a malloc'd string (caller frees); NULL on failure. */
static char *
dump_str(struct storage_db *db, const char *const *tables, size_t n)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL)
		return NULL;
	rc = storage_dump_sql(db, f, tables, n, err, sizeof(err));
	fclose(f);
	if (rc == -1) {
		fprintf(stderr, "    dump: %s\n", err);
		free(buf);
		return NULL;
	}
	return buf;
}

struct load_res {
	int rc;
	bool has_e;
	char e[256];
	long long li, ra;
	bool has_li, has_ra;
	int nres;
};

static void
load_sql(struct storage_db *db, const char *sql, struct load_res *r)
{
	msgpack_sbuffer out;
	msgpack_packer pk;
	msgpack_unpacked u;
	const msgpack_object *res, *o;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	r->nres = -1;
	msgpack_sbuffer_init(&out);
	msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
	r->rc = storage_load_sql(db, sql, strlen(sql), 0, 0, &pk);
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, out.data, out.size, &off) == MSGPACK_UNPACK_SUCCESS &&
	    off == out.size) {
		o = mget(&u.data, "r");
		r->nres = o && o->type == MSGPACK_OBJECT_ARRAY ? (int)o->via.array.size : -1;
		res = aget(o, 0);
		if ((o = mget(res, "e")) != NULL && o->type == MSGPACK_OBJECT_STR) {
			r->has_e = true;
			snprintf(r->e, sizeof(r->e), "%.*s", (int)o->via.str.size, o->via.str.ptr);
		}
		if ((o = mget(res, "li")) != NULL) {
			r->has_li = true;
			r->li = o->via.i64;
		}
		if ((o = mget(res, "ra")) != NULL) {
			r->has_ra = true;
			r->ra = o->via.i64;
		}
	}
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&out);
}

/* ---- SQL dump ---- */

static const char schema_sql[] =
    "CREATE TABLE foo (id integer not null primary key, name text);"
    "CREATE TABLE \"bar baz\" (a, b);"
    "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, v REAL);"
    "CREATE INDEX foo_name ON foo(name);"
    "CREATE TRIGGER seq_ins AFTER INSERT ON seq BEGIN UPDATE foo SET name = name WHERE id = NEW.id; END;"
    "CREATE VIEW v_foo AS SELECT name FROM foo;"
    "INSERT INTO foo VALUES(1,'fiona'),(2,'it''s'),(3,NULL);"
    "INSERT INTO \"bar baz\" VALUES(X'00FF10',1.5),(NULL,-2.25),('a\"b',1e300),(7,123456789012345678);"
    "INSERT INTO seq(v) VALUES(0.1),(3.0),(1e-7);";

static const char schema_dump[] =
    "PRAGMA foreign_keys=OFF;\n"
    "BEGIN TRANSACTION;\n"
    "CREATE TABLE \"bar baz\" (a, b);\n"
    "INSERT INTO \"bar baz\" VALUES(X'00FF10',1.5);\n"
    "INSERT INTO \"bar baz\" VALUES(NULL,-2.25);\n"
    "INSERT INTO \"bar baz\" VALUES('a\"b',1.0e+300);\n"
    "INSERT INTO \"bar baz\" VALUES(7,123456789012345678);\n"
    "CREATE TABLE foo (id integer not null primary key, name text);\n"
    "INSERT INTO \"foo\" VALUES(1,'fiona');\n"
    "INSERT INTO \"foo\" VALUES(2,'it''s');\n"
    "INSERT INTO \"foo\" VALUES(3,NULL);\n"
    "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, v REAL);\n"
    "INSERT INTO \"seq\" VALUES(1,0.1);\n"
    "INSERT INTO \"seq\" VALUES(2,3.0);\n"
    "INSERT INTO \"seq\" VALUES(3,1.0e-07);\n"
    "DELETE FROM \"sqlite_sequence\";\n"
    "INSERT INTO \"sqlite_sequence\" VALUES('seq',3);\n"
    "CREATE INDEX foo_name ON foo(name);\n"
    "CREATE TRIGGER seq_ins AFTER INSERT ON seq BEGIN UPDATE foo SET name = name WHERE id = NEW.id; END;\n"
    "CREATE VIEW v_foo AS SELECT name FROM foo;\n"
    "COMMIT;\n";

UNIT_TEST(dump_matches_rqlite_text_exactly)
{
	struct storage_db *db = open_named("dump.db", false);
	char *d;

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, schema_sql), SQLITE_OK);
	d = dump_str(db, NULL, 0);
	CHECK(d != NULL);
	if (strcmp(d, schema_dump) != 0)
		fprintf(stderr, "    got:\n%s", d);
	CHECK_STR_EQ(d, schema_dump);
	free(d);
	storage_db_close(db);
}

UNIT_TEST(dump_of_empty_database_is_just_the_transaction)
{
	struct storage_db *db = open_named(":memory:", false);
	char *d;

	CHECK(db != NULL);
	d = dump_str(db, NULL, 0);
	CHECK_STR_EQ(d, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCOMMIT;\n");
	free(d);
	storage_db_close(db);
}

UNIT_TEST(dump_writes_sqlite_stat1_as_analyze)
{
	struct storage_db *db = open_named(":memory:", false);
	char *d;

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE a (x); CREATE INDEX ax ON a(x);"
	    "INSERT INTO a VALUES(1),(1),(2); ANALYZE"), SQLITE_OK);
	d = dump_str(db, NULL, 0);
	CHECK_STR_EQ(d,
	    "PRAGMA foreign_keys=OFF;\n"
	    "BEGIN TRANSACTION;\n"
	    "CREATE TABLE a (x);\n"
	    "INSERT INTO \"a\" VALUES(1);\n"
	    "INSERT INTO \"a\" VALUES(1);\n"
	    "INSERT INTO \"a\" VALUES(2);\n"
	    "ANALYZE \"sqlite_master\";\n"
	    "INSERT INTO \"sqlite_stat1\" VALUES('a','ax','3 2');\n"
	    "CREATE INDEX ax ON a(x);\n"
	    "COMMIT;\n");
	free(d);
	storage_db_close(db);
}

UNIT_TEST(dump_tables_filter_limits_only_the_table_section)
{
	struct storage_db *db = open_named(":memory:", false);
	const char *const only[] = { "seq", "foo", "nosuch" };
	char *d;

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, schema_sql), SQLITE_OK);
	d = dump_str(db, only, 3);
	CHECK_STR_EQ(d,
	    "PRAGMA foreign_keys=OFF;\n"
	    "BEGIN TRANSACTION;\n"
	    "CREATE TABLE foo (id integer not null primary key, name text);\n"
	    "INSERT INTO \"foo\" VALUES(1,'fiona');\n"
	    "INSERT INTO \"foo\" VALUES(2,'it''s');\n"
	    "INSERT INTO \"foo\" VALUES(3,NULL);\n"
	    "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT, v REAL);\n"
	    "INSERT INTO \"seq\" VALUES(1,0.1);\n"
	    "INSERT INTO \"seq\" VALUES(2,3.0);\n"
	    "INSERT INTO \"seq\" VALUES(3,1.0e-07);\n"
	    "CREATE INDEX foo_name ON foo(name);\n"
	    "CREATE TRIGGER seq_ins AFTER INSERT ON seq BEGIN UPDATE foo SET name = name WHERE id = NEW.id; END;\n"
	    "CREATE VIEW v_foo AS SELECT name FROM foo;\n"
	    "COMMIT;\n");
	free(d);
	storage_db_close(db);
}

UNIT_TEST(dump_fails_cleanly_on_a_closed_stream)
{
	struct storage_db *db = open_named(":memory:", false);
	char err[256] = "";
	FILE *f = fopen("/dev/full", "w");

	CHECK(db != NULL);
	CHECK(f != NULL);
	CHECK_INT_EQ(rw_exec(db, schema_sql), SQLITE_OK);
	setvbuf(f, NULL, _IONBF, 0);
	CHECK_INT_EQ(storage_dump_sql(db, f, NULL, 0, err, sizeof(err)), -1);
	CHECK(strstr(err, "write") != NULL);
	fclose(f);
	/* The read transaction was ended: the database still takes writes. */
	CHECK_INT_EQ(rw_exec(db, "INSERT INTO foo VALUES(9,'x')"), SQLITE_OK);
	storage_db_close(db);
}

/* ---- loading SQL text ---- */

UNIT_TEST(dump_loaded_into_empty_database_dumps_identically)
{
	struct storage_db *src = open_named("rt-src.db", false);
	struct storage_db *dst = open_named("rt-dst.db", true);
	struct load_res r;
	char *d1, *d2;

	CHECK(src != NULL && dst != NULL);
	CHECK_INT_EQ(rw_exec(src, schema_sql), SQLITE_OK);
	d1 = dump_str(src, NULL, 0);
	CHECK(d1 != NULL);
	load_sql(dst, d1, &r);
	if (r.has_e)
		fprintf(stderr, "    load: %s\n", r.e);
	CHECK_INT_EQ(r.rc, 0);
	CHECK(!r.has_e);
	/* A dump ends with "\n" after its last ';': rqlite reports 0 and 0, so nothing. */
	CHECK_INT_EQ(r.nres, 1);
	CHECK(!r.has_li && !r.has_ra);
	d2 = dump_str(dst, NULL, 0);
	CHECK(d2 != NULL);
	CHECK_STR_EQ(d2, d1);
	CHECK_INT_EQ(ro_int(dst, "SELECT count(*) FROM \"bar baz\""), 4);
	/* The load's PRAGMA foreign_keys=OFF did not outlive it. */
	CHECK_INT_EQ(ro_int(dst, "PRAGMA foreign_keys"), 1);
	free(d1);
	free(d2);
	storage_db_close(src);
	storage_db_close(dst);
}

UNIT_TEST(load_sql_reports_last_insert_id_and_rows_affected_of_last_statement)
{
	struct storage_db *db = open_named(":memory:", false);
	struct load_res r;

	CHECK(db != NULL);
	load_sql(db, "CREATE TABLE a (id INTEGER PRIMARY KEY, x); INSERT INTO a(x) VALUES(1),(2),(3);"
	    "UPDATE a SET x = x + 1 WHERE id > 1;", &r);
	CHECK_INT_EQ(r.rc, 0);
	CHECK_INT_EQ(r.nres, 1);
	CHECK(r.has_li && r.has_ra);
	CHECK_INT_EQ(r.li, 3);
	CHECK_INT_EQ(r.ra, 2);
	load_sql(db, "", &r);
	CHECK_INT_EQ(r.rc, 0);
	CHECK_INT_EQ(r.nres, 0);
	load_sql(db, "  \n-- nothing\n", &r);
	CHECK_INT_EQ(r.rc, 0);
	CHECK_INT_EQ(r.nres, 1);
	CHECK(!r.has_li && !r.has_ra && !r.has_e);
	{
		/* The text is not NUL-terminated: only len bytes are read. */
		static const char text[] = "INSERT INTO a(x) VALUES(9);INSERT INTO a(x) VALUES(10)";
		char *exact = malloc(sizeof(text) - 1);
		msgpack_sbuffer out;
		msgpack_packer pk;

		CHECK(exact != NULL);
		memcpy(exact, text, sizeof(text) - 1);
		msgpack_sbuffer_init(&out);
		msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
		CHECK_INT_EQ(storage_load_sql(db, exact, sizeof(text) - 1 - 5, 0, 0, &pk), -1);
		free(exact);
		msgpack_sbuffer_destroy(&out);
		CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM a"), 3);
	}
	storage_db_close(db);
}

UNIT_TEST(load_sql_with_a_bad_statement_rolls_back_everything)
{
	struct storage_db *db = open_named("badload.db", false);
	struct load_res r;

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE keep (x); INSERT INTO keep VALUES(1)"), SQLITE_OK);

	/* A dump-shaped text: BEGIN … COMMIT around the failure. */
	load_sql(db, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE n (y);\n"
	    "INSERT INTO n VALUES(1);\nDELETE FROM keep;\nINSERT INTO nosuch VALUES(2);\n"
	    "INSERT INTO n VALUES(3);\nCOMMIT;\n", &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK(r.has_e);
	CHECK_STR_EQ(r.e, "no such table: nosuch");
	CHECK_INT_EQ(r.nres, 1);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM keep"), 1);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM sqlite_master WHERE name='n'"), 0);

	/* No BEGIN in the text: still one transaction. */
	load_sql(db, "INSERT INTO keep VALUES(2); INSERT INTO keep VALUES(3); SELEKT 1;", &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK(strstr(r.e, "syntax error") != NULL);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM keep"), 1);

	/* A constraint failure at the end. */
	load_sql(db, "CREATE TABLE u (x UNIQUE); INSERT INTO u VALUES(1); INSERT INTO u VALUES(1)", &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK_STR_EQ(r.e, "UNIQUE constraint failed: u.x");
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM sqlite_master WHERE name='u'"), 0);

	/* A stray COMMIT cannot commit half the work. */
	load_sql(db, "INSERT INTO keep VALUES(4); COMMIT; INSERT INTO nosuch VALUES(1);", &r);
	CHECK_INT_EQ(r.rc, -1);
	CHECK_STR_EQ(r.e, "cannot commit - no transaction is active");
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM keep"), 1);

	/* And the connection is usable afterwards, outside any transaction. */
	CHECK(sqlite3_get_autocommit(storage_db_rw_handle(db)));
	load_sql(db, "INSERT INTO keep VALUES(5);", &r);
	CHECK_INT_EQ(r.rc, 0);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM keep"), 2);
	storage_db_close(db);
}

UNIT_TEST(load_sql_with_foreign_keys_on_loads_a_dump_in_name_order)
{
	struct storage_db *src = open_named(":memory:", false);
	struct storage_db *dst = open_named(":memory:", true);
	struct load_res r;
	char *d;

	CHECK(src != NULL && dst != NULL);
	/* The child sorts before its parent, so it is inserted first. */
	CHECK_INT_EQ(rw_exec(src, "CREATE TABLE b_parent (id INTEGER PRIMARY KEY);"
	    "CREATE TABLE a_child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES b_parent(id));"
	    "INSERT INTO b_parent VALUES(1); INSERT INTO a_child VALUES(1, 1);"), SQLITE_OK);
	d = dump_str(src, NULL, 0);
	CHECK(d != NULL);
	load_sql(dst, d, &r);
	CHECK_INT_EQ(r.rc, 0);
	CHECK_INT_EQ(ro_int(dst, "SELECT count(*) FROM a_child"), 1);
	CHECK_INT_EQ(ro_int(dst, "PRAGMA foreign_keys"), 1);
	free(d);
	storage_db_close(src);
	storage_db_close(dst);
}

UNIT_MAIN()
