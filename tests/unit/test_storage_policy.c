/*
 * Tests for what client SQL may do in storage (storage_policy.c, the budget in
 * storage_db_exec_budget.c and the open-transaction rule in storage_db_exec.c): each
 * case is one a hostile or careless client can send, and the test checks the answer
 * and that the database is still whole and usable afterwards.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "sdb_helpers.h"
#include "storage/storage_db.h"
#include "unit.h"

#define INFINITE_CTE \
	"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"

/* One statement as a write (or a read, kind 2 through storage_db_query); its
 * result's error, the request's error, or "" if it had none. */
static const char *
first_err(struct storage_db *sdb, const char *sql, bool read)
{
	static char buf[512];
	struct res r;
	const msgpack_object *e;

	if (read)
		query1(sdb, sql, &r);
	else
		exec1(sdb, sql, &r);
	e = mget(res_at(&r, 0), "e");
	if (e == NULL)
		e = mget(r.top, "e");
	snprintf(buf, sizeof(buf), "%s", e == NULL ? "" : str(e));
	res_free(&r);
	return buf;
}

#define exec_err(sdb, sql)	first_err(sdb, sql, false)
#define query_err(sdb, sql)	first_err(sdb, sql, true)

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* A write with an explicit step budget (`st`). */
static void
exec_budget(struct storage_db *sdb, const char *sql, uint64_t steps, unsigned to_ms,
    struct res *r)
{
	struct cb b;

	cb_init_extra(&b, 1, false, to_ms, 1);
	lit(&b.pk, "st");
	msgpack_pack_uint64(&b.pk, steps);
	cb_begin_stmts(&b, 1);
	cb_stmt(&b, sql, 0);
	run_cb(sdb, &b, false, r);
}

UNIT_TEST(attach_and_detach_are_refused_and_create_no_file)
{
	struct storage_db *sdb = open_db(":memory:", false);
	char path[] = "/tmp/rq-attachXXXXXX", sql[128];
	int fd = mkstemp(path);

	CHECK(sdb != NULL && fd != -1);
	close(fd);
	unlink(path);
	snprintf(sql, sizeof(sql), "ATTACH DATABASE '%s' AS x", path);
	CHECK_STR_EQ(exec_err(sdb, sql), "disallowed statement: ATTACH");
	CHECK_STR_EQ(query_err(sdb, sql), "disallowed statement: ATTACH");
	CHECK(!file_exists(path));
	CHECK_STR_EQ(exec_err(sdb, "ATTACH ':memory:' AS m"), "disallowed statement: ATTACH");
	CHECK_STR_EQ(exec_err(sdb, "ATTACH '' AS m"), "disallowed statement: ATTACH");
	CHECK_STR_EQ(exec_err(sdb, "DETACH DATABASE main"), "disallowed statement: DETACH");
	CHECK(must(sdb, "CREATE TABLE t (x)"));
	storage_db_close(sdb);
}

UNIT_TEST(vacuum_into_is_refused_while_plain_vacuum_runs)
{
	char dir[] = "/tmp/rq-vacuumXXXXXX", db[128], target[160], sql[256];
	struct storage_db *sdb;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/db.sqlite", dir);
	snprintf(target, sizeof(target), "%s/copy.db", dir);
	CHECK((sdb = open_db(db, false)) != NULL);
	CHECK(must(sdb, "CREATE TABLE t (x)"));
	CHECK(must(sdb, "INSERT INTO t VALUES(1)"));
	snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", target);
	CHECK_STR_EQ(exec_err(sdb, sql), "disallowed statement: VACUUM INTO");
	CHECK(!file_exists(target));
	snprintf(sql, sizeof(sql), "VACUUM main INTO 'file:%s?mode=rwc'", target);
	CHECK_STR_EQ(exec_err(sdb, sql), "disallowed statement: VACUUM INTO");
	CHECK(!file_exists(target));
	CHECK_STR_EQ(exec_err(sdb, "VACUUM"), "");
	CHECK_INT_EQ(count_rows(sdb, "t"), 1);
	storage_db_close(sdb);
	unlink(db);
	snprintf(sql, sizeof(sql), "%s-wal", db);
	unlink(sql);
	snprintf(sql, sizeof(sql), "%s-shm", db);
	unlink(sql);
	rmdir(dir);
}

UNIT_TEST(pragmas_that_change_locking_journal_heap_or_files_are_refused_in_every_form)
{
	static const char *const refused[] = {
		"PRAGMA locking_mode=EXCLUSIVE", "PRAGMA main.locking_mode = exclusive",
		"PRAGMA locking_mode(EXCLUSIVE)", "PRAGMA hard_heap_limit=1",
		"PRAGMA soft_heap_limit=1", "PRAGMA journal_mode=OFF", "PRAGMA journal_mode(DELETE)",
		"PRAGMA synchronous=FULL", "PRAGMA wal_autocheckpoint=1", "PRAGMA wal_checkpoint",
		"PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA query_only=1", "PRAGMA writable_schema=1",
		"PRAGMA schema_version=99", "PRAGMA temp_store_directory='/tmp'",
		"PRAGMA data_store_directory='/tmp'", "PRAGMA max_page_count=1",
		"PRAGMA mmap_size=1000000000",
	};
	static const char *const allowed[] = {
		"PRAGMA locking_mode", "PRAGMA journal_mode", "PRAGMA synchronous",
		"PRAGMA foreign_keys=ON", "PRAGMA foreign_keys=OFF", "PRAGMA user_version=7",
		"PRAGMA cache_size=-4000", "PRAGMA table_info(t)", "PRAGMA integrity_check",
		"PRAGMA optimize",
	};
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE t (x)"));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char got[600], want[600];

		snprintf(got, sizeof(got), "%s -> %s", refused[i], exec_err(sdb, refused[i]));
		snprintf(want, sizeof(want), "%s -> disallowed pragma", refused[i]);
		CHECK_STR_EQ(got, want);
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		char got[600], want[600];

		snprintf(got, sizeof(got), "%s -> %s", allowed[i], exec_err(sdb, allowed[i]));
		snprintf(want, sizeof(want), "%s -> ", allowed[i]);
		CHECK_STR_EQ(got, want);
	}
	/* The table-valued form runs a PRAGMA too; the read form stays allowed. */
	query1(sdb, "SELECT * FROM pragma_locking_mode", &r);
	CHECK_STR_EQ(str(cell(res_at(&r, 0), 0, 0)), "normal");
	res_free(&r);
	CHECK(must(sdb, "INSERT INTO t VALUES(1)"));
	CHECK_INT_EQ(count_rows(sdb, "t"), 1);
	storage_db_close(sdb);
}

UNIT_TEST(writable_schema_cannot_corrupt_the_schema)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct res r;
	const char *sqls[] = { "PRAGMA writable_schema=1",
	    "UPDATE sqlite_master SET sql = 'CREATE TABLE t (' WHERE name = 't'" };

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE t (x)"));
	runv(sdb, 1, false, 0, false, &r, 2, sqls);
	CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), "disallowed pragma");
	CHECK(mget(res_at(&r, 1), "e") != NULL);	/* sqlite_master is read-only */
	res_free(&r);
	CHECK(must(sdb, "INSERT INTO t VALUES(1)"));
	CHECK_INT_EQ(count_rows(sdb, "t"), 1);
	storage_db_close(sdb);
}

UNIT_TEST(fts3_tokenizer_and_load_extension_are_refused)
{
	struct storage_db *sdb = open_db(":memory:", false);

	CHECK(sdb != NULL);
	CHECK_STR_EQ(exec_err(sdb, "SELECT fts3_tokenizer('simple', x'4141414141414141')"),
	    "disallowed function: fts3_tokenizer");
	CHECK_STR_EQ(query_err(sdb, "SELECT hex(fts3_tokenizer('simple'))"),
	    "disallowed function: fts3_tokenizer");
	CHECK_STR_EQ(exec_err(sdb, "SELECT load_extension('/tmp/x.so')"),
	    "disallowed function: load_extension");
	/* FTS itself still works, with its built-in tokenizers. */
	CHECK(must(sdb, "CREATE VIRTUAL TABLE f USING fts4(body, tokenize=porter)"));
	CHECK(must(sdb, "INSERT INTO f VALUES('running dogs')"));
	CHECK_INT_EQ(count_rows(sdb, "f WHERE f MATCH 'run'"), 1);
	storage_db_close(sdb);
}

UNIT_TEST(sqlite_stmt_and_internal_savepoint_names_are_refused)
{
	struct storage_db *sdb = open_db(":memory:", false);

	CHECK(sdb != NULL);
	CHECK_STR_EQ(query_err(sdb, "SELECT sql FROM sqlite_stmt"), "disallowed table: sqlite_stmt");
	CHECK_STR_EQ(exec_err(sdb, "SAVEPOINT rqlite_entry"), "disallowed savepoint name");
	CHECK_STR_EQ(exec_err(sdb, "RELEASE RQLITE_ENTRY"), "disallowed savepoint name");
	storage_db_close(sdb);
}

UNIT_TEST(a_write_that_leaves_a_transaction_open_is_rolled_back_with_an_error)
{
	struct storage_db *sdb = open_db(":memory:", false);
	const char *begin[] = { "BEGIN", "INSERT INTO t VALUES(1)" };
	const char *savepoint[] = { "SAVEPOINT a", "INSERT INTO t VALUES(2)" };
	const char *closed[] = { "BEGIN", "INSERT INTO t VALUES(3)", "COMMIT",
	    "SAVEPOINT b", "INSERT INTO t VALUES(4)", "RELEASE b" };
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE t (x)"));
	runv(sdb, 1, false, 0, false, &r, 2, begin);
	CHECK_STR_EQ(str(mget(r.top, "e")), "transaction left open: a request must end every "
	    "BEGIN or SAVEPOINT it starts");
	CHECK_INT_EQ(nres(&r), 0);
	res_free(&r);
	CHECK(sqlite3_get_autocommit(storage_db_rw_handle(sdb)) != 0);
	runv(sdb, 3, false, 0, false, &r, 2, savepoint);
	CHECK(mget(r.top, "e") != NULL);
	res_free(&r);
	CHECK(sqlite3_get_autocommit(storage_db_rw_handle(sdb)) != 0);
	CHECK_INT_EQ(count_rows(sdb, "t"), 0);
	/* Transactions the request ends itself are fine. */
	runv(sdb, 1, false, 0, false, &r, 6, closed);
	CHECK(mget(r.top, "e") == NULL);
	CHECK_INT_EQ(nres(&r), 6);
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "t"), 2);
	storage_db_close(sdb);
}

UNIT_TEST(a_read_that_leaves_a_transaction_open_does_not_pin_an_old_snapshot)
{
	char dir[] = "/tmp/rq-readtxXXXXXX", db[128], p[160];
	const char *sqls[] = { "BEGIN", "SELECT count(*) FROM t" };
	struct storage_db *sdb;
	struct res r;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(db, sizeof(db), "%s/db.sqlite", dir);
	CHECK((sdb = open_db(db, false)) != NULL);
	CHECK(must(sdb, "CREATE TABLE t (x)"));
	runv(sdb, 2, false, 0, true, &r, 2, sqls);
	res_free(&r);
	CHECK(must(sdb, "INSERT INTO t VALUES(1)"));
	/* The same (only) read-only connection must see the new row. */
	CHECK_INT_EQ(count_rows(sdb, "t"), 1);
	storage_db_close(sdb);
	unlink(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
	rmdir(dir);
}

UNIT_TEST(a_runaway_write_stops_at_its_step_budget_with_the_same_error_every_time)
{
	char first[512] = "";

	for (int run = 0; run < 2; run++) {
		struct storage_db *sdb = open_db(":memory:", false);
		struct res r;
		char sql[256];

		CHECK(sdb != NULL);
		CHECK(must(sdb, "CREATE TABLE t (x)"));
		CHECK(must(sdb, "INSERT INTO t VALUES(1)"));
		snprintf(sql, sizeof(sql), "UPDATE t SET x = 2 WHERE (%s) = 0", INFINITE_CTE);
		exec_budget(sdb, sql, 2000000, 0, &r);
		CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")),
		    "write exceeded its budget of 2000000 SQLite steps (-db-write-steps)");
		if (run == 0)
			snprintf(first, sizeof(first), "%s", str(mget(res_at(&r, 0), "e")));
		else
			CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), first);
		res_free(&r);
		/* db_timeout on a write is a budget too, answered as rqlite words it. */
		exec_budget(sdb, sql, 2000000000, 5, &r);
		CHECK_STR_EQ(str(mget(res_at(&r, 0), "e")), "execute timeout");
		res_free(&r);
		/* The node goes on: the next write runs with a fresh budget. */
		CHECK(must(sdb, "UPDATE t SET x = 3"));
		query1(sdb, "SELECT x FROM t", &r);
		CHECK_INT_EQ(ival(cell(res_at(&r, 0), 0, 0)), 3);
		res_free(&r);
		storage_db_close(sdb);
	}
}

UNIT_TEST(the_default_budget_stops_an_infinite_write_without_one)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct timespec t0, t1;
	char sql[256];

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE t (x)"));
	snprintf(sql, sizeof(sql), "INSERT INTO t %s", INFINITE_CTE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_STR_EQ(exec_err(sdb, sql),
	    "write exceeded its budget of 250000000 SQLite steps (-db-write-steps)");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 120);
	CHECK_INT_EQ(count_rows(sdb, "t"), 0);
	storage_db_close(sdb);
}

UNIT_TEST(a_write_value_over_the_entrys_size_limit_fails_cleanly)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct cb b;
	struct res r;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE t (x)"));
	cb_init_extra(&b, 1, false, 0, 1);
	lit(&b.pk, "ml");
	msgpack_pack_uint64(&b.pk, 1000);
	cb_begin_stmts(&b, 2);
	cb_stmt(&b, "INSERT INTO t VALUES(zeroblob(900))", 0);
	cb_stmt(&b, "INSERT INTO t VALUES(zeroblob(1001))", 0);
	run_cb(sdb, &b, false, &r);
	CHECK(mget(res_at(&r, 0), "e") == NULL);
	CHECK_STR_EQ(str(mget(res_at(&r, 1), "e")), "string or blob too big");
	res_free(&r);
	CHECK_INT_EQ(count_rows(sdb, "t"), 1);
	storage_db_close(sdb);
}

static struct storage_db *
open_limited(const char *path, uint64_t read_timeout_ms, uint64_t max_result)
{
	struct storage_db_limits lim = { .read_timeout_ms = read_timeout_ms,
	    .max_result = max_result };

	return open_db_lim(path, false, &lim);
}

UNIT_TEST(a_read_without_db_timeout_stops_at_the_nodes_read_timeout)
{
	struct storage_db *sdb = open_limited(":memory:", 200, 0);
	struct timespec t0, t1;

	CHECK(sdb != NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_STR_EQ(query_err(sdb, INFINITE_CTE), "query timeout");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec - t0.tv_sec < 10);
	CHECK_STR_EQ(query_err(sdb, "SELECT 1"), "");
	storage_db_close(sdb);
}

UNIT_TEST(a_read_result_over_the_size_cap_answers_an_error_not_the_rows)
{
	struct storage_db *sdb = open_limited(":memory:", 0, 100000);
	struct res r;

	CHECK(sdb != NULL);
	CHECK_STR_EQ(query_err(sdb, "SELECT hex(zeroblob(200000))"),
	    "query result too large: more than 100000 bytes (-db-max-result-size)");
	query1(sdb, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100) "
	    "SELECT x FROM c", &r);
	CHECK(mget(res_at(&r, 0), "e") == NULL);
	CHECK_INT_EQ(alen(mget(res_at(&r, 0), "v")), 100);
	res_free(&r);
	storage_db_close(sdb);
}
#define CHECK_SOFT_MUST(sdb, sql) (void)must(sdb, sql)

/* Applies one write as entry (index, term) and returns its stored values. */
static void
apply_random(struct storage_db *sdb, uint64_t index, uint64_t term, char *out, size_t len)
{
	struct res r;

	storage_db_entry(sdb, index, term);
	CHECK_SOFT_MUST(sdb, "INSERT INTO t VALUES(random(), randomblob(40000))");
	query1(sdb, "SELECT a, hex(substr(b, 39990)) FROM t ORDER BY rowid DESC LIMIT 1", &r);
	snprintf(out, len, "%lld %s", ival(cell(res_at(&r, 0), 0, 0)), str(cell(res_at(&r, 0), 0, 1)));
	res_free(&r);
}

UNIT_TEST(random_values_in_writes_are_the_same_on_every_node_and_at_every_replay)
{
	char a[128], b[128], c[128];
	struct storage_db *n1 = open_db(":memory:", false), *n2 = open_db(":memory:", false);

	CHECK(n1 != NULL && n2 != NULL);
	CHECK(must(n1, "CREATE TABLE t (a, b)"));
	CHECK(must(n2, "CREATE TABLE t (a, b)"));
	apply_random(n1, 7, 2, a, sizeof(a));
	apply_random(n2, 7, 2, b, sizeof(b));
	CHECK_STR_EQ(a, b);
	apply_random(n1, 8, 2, c, sizeof(c));
	CHECK(strcmp(a, c) != 0);
	storage_db_close(n1);
	storage_db_close(n2);
}

UNIT_MAIN()
