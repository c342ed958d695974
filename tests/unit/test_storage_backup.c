/*
 * Tests for pkg/storage/storage_backup.c: binary backups and their headers,
 * recognising and checking SQLite files, and swapping a live database for one.
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

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static long long
fsize(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The integer a query returns on a plain connection to a SQLite file. */
static long long
file_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long ret = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		ret = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return ret;
}

static bool
file_quick_check_ok(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	bool ok = false;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
	sqlite3_finalize(s);
	sqlite3_close(db);
	return ok;
}

static int
read_header(const char *path, unsigned char *h, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd == -1)
		return -1;
	r = read(fd, h, n);
	close(fd);
	return r == (ssize_t)n ? 0 : -1;
}

/* ---- binary backups ---- */

struct writer {
	const char *path;
	_Atomic bool stop;
	_Atomic int txns;
	_Atomic int errors;
};

/* Writes pairs (x, -x) in one transaction each: any consistent copy sums to zero. */
static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	sqlite3 *db = NULL;
	char sql[128];

	if (sqlite3_open_v2(w->path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		w->errors++;
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	for (int i = 1; !w->stop && i < 200000; i++) {
		snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE; INSERT INTO t(v) VALUES(%d); "
		    "INSERT INTO t(v) VALUES(-%d); COMMIT;", i, i);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			w->errors++;
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		} else {
			w->txns++;
		}
	}
	sqlite3_close(db);
	return NULL;
}

UNIT_TEST(backup_while_another_connection_writes_is_a_consistent_copy)
{
	struct storage_db *db = open_named("live.db", false);
	struct writer w = { 0 };
	pthread_t th;
	char err[256];
	int rc;

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, "
	    "pad TEXT DEFAULT (randomblob(300)))"), SQLITE_OK);
	/* Enough pages (~2000) that the copy takes several steps. */
	CHECK_INT_EQ(rw_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
	    "WHERE i < 20000) INSERT INTO t(v) SELECT 0 FROM n"), SQLITE_OK);

	w.path = tpath("live.db");
	CHECK(pthread_create(&th, NULL, writer_main, &w) == 0);
	while (w.txns < 20 && w.errors == 0)
		usleep(1000);
	rc = storage_backup_to_file(db, tpath("copy.db"), STORAGE_BACKUP_WAL, false, err, sizeof(err));
	w.stop = true;
	pthread_join(th, NULL);
	if (rc != 0)
		fprintf(stderr, "    backup: %s\n", err);
	CHECK_INT_EQ(rc, 0);
	CHECK_INT_EQ(w.errors, 0);
	CHECK(file_quick_check_ok(tpath("copy.db")));
	CHECK_INT_EQ(file_int(tpath("copy.db"), "SELECT sum(v) FROM t"), 0);
	CHECK(file_int(tpath("copy.db"), "SELECT count(*) FROM t") >= 20000 + 2 * 20);
	CHECK_INT_EQ(file_int(tpath("copy.db"), "SELECT count(*) % 2 FROM t"), 0);
	CHECK(!exists(tpath("copy.db-wal")));
	storage_db_close(db);
}

UNIT_TEST(backup_of_memory_database_has_its_rows)
{
	struct storage_db *db = open_named(":memory:", false);
	char err[256];

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT);"
	    "INSERT INTO foo(name) VALUES('fiona'),('declan')"), SQLITE_OK);
	CHECK_INT_EQ(storage_backup_to_file(db, tpath("mem.db"), STORAGE_BACKUP_DELETE, false,
	    err, sizeof(err)), 0);
	CHECK_INT_EQ(file_int(tpath("mem.db"), "SELECT count(*) FROM foo"), 2);
	CHECK_INT_EQ(storage_backup_to_file(db, tpath("memv.db"), STORAGE_BACKUP_WAL, true,
	    err, sizeof(err)), 0);
	CHECK_INT_EQ(file_int(tpath("memv.db"), "SELECT count(*) FROM foo WHERE name='declan'"), 1);
	storage_db_close(db);
}

UNIT_TEST(backup_header_says_wal_or_delete_as_asked)
{
	struct storage_db *db = open_named("hdr.db", false);
	unsigned char h[100];
	char err[256];
	const char *cases[4] = { "wal.db", "delete.db", "walv.db", "deletev.db" };

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT);"
	    "INSERT INTO foo(name) VALUES('fiona')"), SQLITE_OK);
	for (int i = 0; i < 4; i++) {
		enum storage_backup_mode m = i % 2 == 0 ? STORAGE_BACKUP_WAL : STORAGE_BACKUP_DELETE;
		int want = m == STORAGE_BACKUP_WAL ? 2 : 1;

		CHECK_INT_EQ(storage_backup_to_file(db, tpath(cases[i]), m, i >= 2, err,
		    sizeof(err)), 0);
		CHECK_INT_EQ(read_header(tpath(cases[i]), h, sizeof(h)), 0);
		CHECK(memcmp(h, "SQLite format 3", 16) == 0);
		CHECK_INT_EQ(h[18], want);
		CHECK_INT_EQ(h[19], want);
		CHECK(storage_is_sqlite_header(h, sizeof(h)));
		CHECK(!exists(tpath("wal.db-wal")));
		CHECK(!exists(tpath("wal.db-shm")));
		CHECK_INT_EQ(file_int(tpath(cases[i]), "SELECT count(*) FROM foo"), 1);
	}
	storage_db_close(db);
}

UNIT_TEST(backup_overwrites_an_existing_file_and_its_stale_wal)
{
	struct storage_db *db = open_named("ow.db", false);
	char err[256];
	FILE *f;

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE a (x); INSERT INTO a VALUES(7)"), SQLITE_OK);
	f = fopen(tpath("ow-copy.db"), "w");
	CHECK(f != NULL);
	fputs("old junk that is not a database", f);
	fclose(f);
	f = fopen(tpath("ow-copy.db-wal"), "w");
	CHECK(f != NULL);
	fputs("stale wal", f);
	fclose(f);
	CHECK_INT_EQ(storage_backup_to_file(db, tpath("ow-copy.db"), STORAGE_BACKUP_WAL, true,
	    err, sizeof(err)), 0);
	CHECK_INT_EQ(file_int(tpath("ow-copy.db"), "SELECT x FROM a"), 7);
	CHECK(!exists(tpath("ow-copy.db-wal")));
	CHECK_INT_EQ(storage_backup_to_file(db, tpath("no/such/dir.db"), STORAGE_BACKUP_WAL,
	    false, err, sizeof(err)), -1);
	CHECK(strstr(err, "no/such/dir.db") != NULL);
	storage_db_close(db);
}

UNIT_TEST(vacuum_backup_is_smaller_after_deletes)
{
	struct storage_db *db = open_named("vac.db", false);
	char err[256];

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB);"
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) "
	    "INSERT INTO t(pad) SELECT randomblob(500) FROM n;"
	    "DELETE FROM t WHERE id > 100"), SQLITE_OK);
	CHECK_INT_EQ(storage_backup_to_file(db, tpath("plain.db"), STORAGE_BACKUP_WAL, false,
	    err, sizeof(err)), 0);
	CHECK_INT_EQ(storage_backup_to_file(db, tpath("vacuumed.db"), STORAGE_BACKUP_WAL, true,
	    err, sizeof(err)), 0);
	CHECK(fsize(tpath("vacuumed.db")) > 0);
	CHECK(fsize(tpath("vacuumed.db")) * 4 < fsize(tpath("plain.db")));
	CHECK_INT_EQ(file_int(tpath("vacuumed.db"), "SELECT count(*) FROM t"), 100);
	CHECK_INT_EQ(file_int(tpath("plain.db"), "SELECT count(*) FROM t"), 100);
	storage_db_close(db);
}

/* ---- recognising and loading SQLite files ---- */

UNIT_TEST(is_sqlite_header_checks_magic_and_page_size)
{
	unsigned char h[100] = "SQLite format 3";

	h[16] = 0x10;		/* 4096 */
	h[17] = 0x00;
	h[18] = h[19] = 2;
	h[21] = 64;
	h[22] = h[23] = 32;
	CHECK(storage_is_sqlite_header(h, sizeof(h)));
	CHECK(storage_is_sqlite_header(h, 16));
	CHECK(!storage_is_sqlite_header(h, 15));
	CHECK(!storage_is_sqlite_header("SQLite format 3", 15));
	CHECK(!storage_is_sqlite_header("PRAGMA foreign_keys=OFF;\nBEGIN", 30));
	CHECK(!storage_is_sqlite_header(NULL, 0));
	h[16] = 0x00;
	h[17] = 0x01;		/* 1 = 65536 */
	CHECK(storage_is_sqlite_header(h, sizeof(h)));
	h[16] = 0x0f;		/* 3840: not a power of two */
	h[17] = 0x00;
	CHECK(!storage_is_sqlite_header(h, sizeof(h)));
	h[16] = 0x10;
	h[18] = 3;
	CHECK(!storage_is_sqlite_header(h, sizeof(h)));
	h[18] = 1;
	h[21] = 65;
	CHECK(!storage_is_sqlite_header(h, sizeof(h)));
	h[21] = 64;
	h[15] = 'x';
	CHECK(!storage_is_sqlite_header(h, sizeof(h)));
}

/* Copies the first n bytes of a file (n < 0: all) to another. */
static int
copy_prefix(const char *from, const char *to, long long n)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[4096];
	size_t k;
	int ret = 0;

	if (in == NULL || out == NULL)
		ret = -1;
	while (ret == 0 && (n < 0 || n > 0) &&
	    (k = fread(buf, 1, n < 0 || n > (long long)sizeof(buf) ? sizeof(buf) : (size_t)n, in)) > 0) {
		if (fwrite(buf, 1, k, out) != k)
			ret = -1;
		if (n > 0)
			n -= (long long)k;
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	return ret;
}

/* A source database file with n rows in table src, in the given journal mode. */
static int
make_source(const char *name, int n, enum storage_backup_mode mode)
{
	struct storage_db *db = open_named(name[0] == ':' ? name : "mk.db", false);
	char sql[256], err[256];
	int rc;

	if (db == NULL)
		return -1;
	snprintf(sql, sizeof(sql), "CREATE TABLE src (id INTEGER PRIMARY KEY, pad BLOB);"
	    "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM k WHERE i < %d) "
	    "INSERT INTO src(pad) SELECT randomblob(200) FROM k", n);
	rc = rw_exec(db, sql) == SQLITE_OK ? 0 : -1;
	if (rc == 0)
		rc = storage_backup_to_file(db, tpath("source.db"), mode, false, err, sizeof(err));
	storage_db_close(db);
	return rc;
}

UNIT_TEST(validate_file_accepts_a_backup_and_refuses_truncated_or_foreign_files)
{
	char err[256];
	FILE *f;

	CHECK_INT_EQ(make_source("mk", 500, STORAGE_BACKUP_WAL), 0);
	CHECK_INT_EQ(storage_validate_file(tpath("source.db"), err, sizeof(err)), 0);
	/* Checking a WAL-mode file leaves nothing beside it. */
	CHECK(!exists(tpath("source.db-wal")));
	CHECK(!exists(tpath("source.db-shm")));

	CHECK_INT_EQ(copy_prefix(tpath("source.db"), tpath("trunc.db"), 10000), 0);
	CHECK_INT_EQ(storage_validate_file(tpath("trunc.db"), err, sizeof(err)), -1);
	CHECK(strstr(err, "truncated") != NULL);
	CHECK_INT_EQ(copy_prefix(tpath("source.db"), tpath("trunc2.db"), 4096 * 4), 0);
	CHECK_INT_EQ(storage_validate_file(tpath("trunc2.db"), err, sizeof(err)), -1);
	CHECK(strstr(err, "truncated") != NULL);

	f = fopen(tpath("text.sql"), "w");
	CHECK(f != NULL);
	fputs("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCOMMIT;\n", f);
	fclose(f);
	CHECK_INT_EQ(storage_validate_file(tpath("text.sql"), err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "invalid SQLite data");
	CHECK_INT_EQ(storage_validate_file(tpath("does-not-exist"), err, sizeof(err)), -1);

	/* A good header over a corrupted body fails quick_check. */
	CHECK_INT_EQ(copy_prefix(tpath("source.db"), tpath("corrupt.db"), -1), 0);
	{
		int fd = open(tpath("corrupt.db"), O_WRONLY);
		char junk[4096];

		CHECK(fd != -1);
		memset(junk, 0xa5, sizeof(junk));
		CHECK(pwrite(fd, junk, sizeof(junk), 4096 * 3) == (ssize_t)sizeof(junk));
		close(fd);
	}
	CHECK_INT_EQ(storage_validate_file(tpath("corrupt.db"), err, sizeof(err)), -1);
}

static void
check_load_replaces(const char *live, enum storage_backup_mode srcmode, int *unit_failed_)
{
	struct storage_db *db = open_named(live, true);
	char err[256];

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE old (x); INSERT INTO old VALUES(1)"), SQLITE_OK);
	/* Readers have the old schema cached and a statement prepared. */
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM old"), 1);
	CHECK_INT_EQ(make_source("mk", 300, srcmode), 0);
	if (storage_load_file(db, tpath("source.db"), err, sizeof(err)) != 0)
		fprintf(stderr, "    load: %s\n", err);
	CHECK_INT_EQ(storage_load_file(db, tpath("source.db"), err, sizeof(err)), 0);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM src"), 300);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM sqlite_master WHERE name='old'"), 0);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM old"), -1);
	if (live[0] != ':') {
		char mode[16] = "";
		sqlite3_stmt *s;

		CHECK(sqlite3_prepare_v2(storage_db_rw_handle(db), "PRAGMA journal_mode", -1, &s,
		    NULL) == SQLITE_OK);
		if (sqlite3_step(s) == SQLITE_ROW)
			snprintf(mode, sizeof(mode), "%s", sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
		CHECK_STR_EQ(mode, "wal");
	}
	/* Pragmas of the connections survive. */
	CHECK_INT_EQ(ro_int(db, "PRAGMA foreign_keys"), 1);
	CHECK_INT_EQ(ro_int(db, "PRAGMA busy_timeout"), 5000);
	/* And the live database takes writes. */
	CHECK_INT_EQ(rw_exec(db, "INSERT INTO src(pad) VALUES(NULL)"), SQLITE_OK);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM src"), 301);
	/* The source file was not touched. */
	CHECK(!exists(tpath("source.db-wal")));
	CHECK(!exists(tpath("source.db-shm")));
	storage_db_close(db);
}

UNIT_TEST(load_file_replaces_a_file_database_and_readers_see_it)
{
	check_load_replaces("load-live.db", STORAGE_BACKUP_WAL, unit_failed_);
}

UNIT_TEST(load_file_of_a_delete_mode_file_keeps_the_live_database_in_wal)
{
	check_load_replaces("load-live2.db", STORAGE_BACKUP_DELETE, unit_failed_);
}

UNIT_TEST(load_file_replaces_a_memory_database_and_readers_see_it)
{
	check_load_replaces(":memory:", STORAGE_BACKUP_WAL, unit_failed_);
}

static void
check_load_refused(const char *live, int *unit_failed_)
{
	struct storage_db *db = open_named(live, false);
	char err[256];
	FILE *f;

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE old (x); INSERT INTO old VALUES(1),(2)"), SQLITE_OK);
	CHECK_INT_EQ(make_source("mk", 500, STORAGE_BACKUP_WAL), 0);

	CHECK_INT_EQ(copy_prefix(tpath("source.db"), tpath("trunc.db"), 10000), 0);
	CHECK_INT_EQ(storage_load_file(db, tpath("trunc.db"), err, sizeof(err)), -1);
	CHECK(strstr(err, "truncated") != NULL);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM old"), 2);

	/* Cut at a page boundary: the header says there is more, SQLite refuses it. */
	CHECK_INT_EQ(copy_prefix(tpath("source.db"), tpath("trunc2.db"), 4096 * 4), 0);
	CHECK_INT_EQ(storage_load_file(db, tpath("trunc2.db"), err, sizeof(err)), -1);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM old"), 2);

	f = fopen(tpath("text.sql"), "w");
	CHECK(f != NULL);
	fputs("this is not a database at all, not even close to one; it is text\n", f);
	for (int i = 0; i < 100; i++)
		fputs("padding padding padding padding padding padding padding\n", f);
	fclose(f);
	CHECK_INT_EQ(storage_load_file(db, tpath("text.sql"), err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "invalid SQLite data");
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM old"), 2);
	CHECK_INT_EQ(rw_exec(db, "INSERT INTO old VALUES(3)"), SQLITE_OK);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM old"), 3);
	storage_db_close(db);
}

UNIT_TEST(load_file_refuses_truncated_or_foreign_file_and_old_data_survives)
{
	check_load_refused("refuse-live.db", unit_failed_);
}

UNIT_TEST(load_file_into_memory_refuses_truncated_file_and_old_data_survives)
{
	check_load_refused(":memory:", unit_failed_);
}

UNIT_TEST(load_file_with_a_corrupt_page_fails_and_old_data_survives)
{
	struct storage_db *db = open_named("corrupt-live.db", false);
	char err[256];
	char junk[4096];
	int fd;

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE old (x); INSERT INTO old VALUES(1)"), SQLITE_OK);
	CHECK_INT_EQ(make_source("mk", 500, STORAGE_BACKUP_WAL), 0);
	/* Page 1 garbled beyond the header: the schema cannot be read. */
	fd = open(tpath("source.db"), O_WRONLY);
	CHECK(fd != -1);
	memset(junk, 0xa5, sizeof(junk));
	CHECK(pwrite(fd, junk, sizeof(junk) - 100, 100) == (ssize_t)sizeof(junk) - 100);
	close(fd);
	CHECK_INT_EQ(storage_load_file(db, tpath("source.db"), err, sizeof(err)), -1);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM old"), 1);
	storage_db_close(db);
}

static void
check_load_page_size(const char *live, int *unit_failed_)
{
	struct storage_db *db = open_named(live, false);
	sqlite3 *s = NULL;
	char err[256];

	CHECK(db != NULL);
	CHECK_INT_EQ(rw_exec(db, "CREATE TABLE old (x); INSERT INTO old VALUES(1)"), SQLITE_OK);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM old"), 1);
	unlink(tpath("ps.db"));
	CHECK(sqlite3_open(tpath("ps.db"), &s) == SQLITE_OK);
	CHECK(sqlite3_exec(s, "PRAGMA page_size=1024; CREATE TABLE big (x); "
	    "INSERT INTO big VALUES(1),(2)", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(s);
	if (storage_load_file(db, tpath("ps.db"), err, sizeof(err)) != 0)
		fprintf(stderr, "    load: %s\n", err);
	CHECK_INT_EQ(storage_load_file(db, tpath("ps.db"), err, sizeof(err)), 0);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM big"), 2);
	CHECK_INT_EQ(ro_int(db, "PRAGMA page_size"), 4096);
	CHECK_INT_EQ(ro_int(db, "SELECT count(*) FROM sqlite_master WHERE name='old'"), 0);
	/* The temporary resized copy is gone. */
	CHECK_INT_EQ(system("ls /tmp/test_storage_backup.*/ps.db.pgsz.* >/dev/null 2>&1"), 512);
	storage_db_close(db);
}

UNIT_TEST(load_file_with_another_page_size_replaces_a_file_database)
{
	check_load_page_size("ps-live.db", unit_failed_);
}

UNIT_TEST(load_file_with_another_page_size_replaces_a_memory_database)
{
	check_load_page_size(":memory:", unit_failed_);
}

UNIT_MAIN()
