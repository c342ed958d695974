/*
 * storage_db: the SQLite connections of the storage process.
 *
 * Owns one read-write connection (applies the log) and a small pool of read-only
 * connections (SQLITE_OPEN_READONLY + PRAGMA query_only) opened on first use, each
 * with its own statement cache; opening, configuring and closing them; and the facts
 * /status reports about them. Running commands lives in storage_db_exec.c (with
 * storage_db_exec_cmd.c, storage_db_exec_stmt.c and storage_db_exec_budget.c).
 *
 * ":memory:" becomes a named shared-cache in-memory database so that separate
 * read-only connections see the same data; the read-write connection keeps it alive.
 */
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "storage/storage_db_int.h"

int64_t
sdb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
storage_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * After each commit to the WAL: a passive checkpoint once the WAL holds
 * STORAGE_DB_WAL_MAX_FRAMES (PASSIVE never waits for readers). Ours rather than
 * SQLite's, so that PRAGMA wal_autocheckpoint reads 0 as in rqlite.
 */
static int
sdb_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)arg;
	if (frames >= STORAGE_DB_WAL_MAX_FRAMES)
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

/* Runs one pragma-like statement that may return a row; copies its first value. */
int
sdb_exec_value(sqlite3 *db, const char *sql, char *val, size_t vallen)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (val && vallen)
		val[0] = '\0';
	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (val && vallen && val[0] == '\0' && sqlite3_column_count(s) > 0) {
			const unsigned char *t = sqlite3_column_text(s, 0);
			snprintf(val, vallen, "%s", t ? (const char *)t : "");
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Adds one connection's counters into out (relaxed loads: its thread may be running). */
static void
counters_add(struct storage_db_counters *out, const struct storage_db_counters *c)
{
	const uint64_t *src = (const uint64_t *)c;
	uint64_t *dst = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void
sdb_conn_close(struct storage_db *sdb, struct sdb_conn *c)
{
	if (c->zone_ok) {
		msgpack_zone_destroy(&c->zone);
		msgpack_sbuffer_destroy(&c->rbuf);
		c->zone_ok = false;
	}
	free(c->cols);
	free(c->args);
	c->cols = NULL;
	c->args = NULL;
	c->cols_cap = c->args_cap = 0;
	if (c->db == NULL)
		return;
	/* Keep what it counted: /status sums every connection, open or gone. */
	counters_add(&sdb->ctr_gone, &c->ctr);
	memset(&c->ctr, 0, sizeof(c->ctr));
	storage_stmt_cache_free(c->cache);
	c->cache = NULL;
	if (sqlite3_close(c->db) != SQLITE_OK)
		log_warnx("%s: %s", __func__, sqlite3_errmsg(c->db));
	c->db = NULL;
	storage_sqlfunc_free(&c->fn);
}

/* Opens and configures one connection. */
int
sdb_conn_open(struct storage_db *sdb, struct sdb_conn *c, bool readonly, char *err,
    size_t errlen)
{
	int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
	char sql[64], val[32];
	int rc;

	flags |= readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	rc = sqlite3_open_v2(sdb->rw_dsn, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		storage_set_err(err, errlen, "open %s: %s", sdb->path,
		    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		goto fail;
	}
	c->readonly = readonly;
	sqlite3_busy_timeout(c->db, STORAGE_DB_BUSY_TIMEOUT_MS);
	if ((rc = storage_policy_install(c->db, &c->pol)) != SQLITE_OK ||
	    (rc = storage_sqlfunc_install(c->db, &c->fn)) != SQLITE_OK)
		goto fail_msg;
	if (readonly)
		sqlite3_limit(c->db, SQLITE_LIMIT_LENGTH, (int)sdb->lim.max_value);
	else if ((rc = storage_random_install(c->db, &sdb->rng)) != SQLITE_OK)
		goto fail_msg;

	if (!readonly && !sdb->memory) {
		rc = sdb_exec_value(c->db, "PRAGMA journal_mode=WAL", val, sizeof(val));
		if (rc != SQLITE_OK || strcmp(val, "wal") != 0) {
			storage_set_err(err, errlen, "enable WAL on %s: %s", sdb->path,
			    rc != SQLITE_OK ? sqlite3_errmsg(c->db) : val);
			goto fail;
		}
	}
	snprintf(sql, sizeof(sql), "PRAGMA foreign_keys=%s", sdb->fk ? "ON" : "OFF");
	if ((rc = sdb_exec_value(c->db, sql, NULL, 0)) != SQLITE_OK ||
	    (rc = sdb_exec_value(c->db, "PRAGMA synchronous=OFF", NULL, 0)) != SQLITE_OK)
		goto fail_msg;
	/*
	 * rqlite turns SQLite's automatic checkpoint off and checkpoints itself; so do we:
	 * storage_snapshot.c folds the WAL after each snapshot and the hook below every
	 * STORAGE_DB_WAL_MAX_FRAMES. Readers never commit; they report 0 too.
	 */
	if ((rc = sdb_exec_value(c->db, "PRAGMA wal_autocheckpoint=0", NULL, 0)) != SQLITE_OK)
		goto fail_msg;
	if (!readonly && !sdb->memory)
		sqlite3_wal_hook(c->db, sdb_wal_hook, NULL);
	if (!readonly && !sdb->memory) {
		/*
		 * Touch the database in WAL mode now so the -wal and -shm files exist
		 * before any read-only connection (which cannot create them) opens.
		 */
		if ((rc = sdb_exec_value(c->db, "BEGIN IMMEDIATE", NULL, 0)) != SQLITE_OK ||
		    (rc = sdb_exec_value(c->db, "ROLLBACK", NULL, 0)) != SQLITE_OK)
			goto fail_msg;
	}
	if (readonly &&
	    (rc = sdb_exec_value(c->db, "PRAGMA query_only=1", NULL, 0)) != SQLITE_OK)
		goto fail_msg;

	if ((c->cache = storage_stmt_cache_new(c->db, STORAGE_DB_STMT_CACHE_SIZE)) == NULL) {
		storage_set_err(err, errlen, "statement cache: out of memory");
		goto fail;
	}
	if (!c->zone_ok) {
		if (!msgpack_zone_init(&c->zone, 8192)) {
			storage_set_err(err, errlen, "out of memory");
			goto fail;
		}
		msgpack_sbuffer_init(&c->rbuf);
		c->zone_ok = true;
	}
	return 0;

fail_msg:
	storage_set_err(err, errlen, "configure %s: %s", sdb->path, sqlite3_errmsg(c->db));
fail:
	storage_stmt_cache_free(c->cache);
	c->cache = NULL;
	if (c->db) {
		sqlite3_close(c->db);
		c->db = NULL;
	}
	storage_sqlfunc_free(&c->fn);
	return -1;
}

int
storage_db_open(const struct storage_db_options *opts, struct storage_db **out,
    char *err, size_t errlen)
{
	static unsigned memory_seq;
	struct storage_db *sdb;
	char dsn[96];

	if (opts == NULL || opts->path == NULL || opts->path[0] == '\0') {
		storage_set_err(err, errlen, "no database path");
		return -1;
	}
	if ((sdb = calloc(1, sizeof(*sdb))) == NULL) {
		storage_set_err(err, errlen, "out of memory");
		return -1;
	}
	sdb->fk = opts->fk;
	sdb->memory = strcmp(opts->path, ":memory:") == 0;
	sdb->max_ro = opts->max_ro_conns > 0 ? opts->max_ro_conns : 1;
	sdb->busy_cb = opts->busy_cb;
	sdb->busy_arg = opts->busy_arg;
	sdb->lim = opts->lim;
	if (sdb->lim.max_value == 0 || sdb->lim.max_value > INT32_MAX)
		sdb->lim.max_value = sdb->lim.max_value == 0 ? STORAGE_DB_DEFAULT_MAX_VALUE : INT32_MAX;
	if (sdb->lim.max_result == 0 || sdb->lim.max_result > STORAGE_DB_RESULT_HARD_MAX)
		sdb->lim.max_result = sdb->lim.max_result == 0 ? STORAGE_DB_DEFAULT_MAX_RESULT :
		    STORAGE_DB_RESULT_HARD_MAX;
	sdb->nreaders = opts->readers > 0 ? opts->readers : 0;
	sdb->path = strdup(opts->path);
	if (sdb->memory) {
		/* Unique per process and per open, so tests can hold several. */
		snprintf(dsn, sizeof(dsn), "file:rqlite-%ld-%u?mode=memory&cache=shared",
		    (long)getpid(), ++memory_seq);
		sdb->rw_dsn = strdup(dsn);
	} else {
		sdb->rw_dsn = strdup(opts->path);
	}
	sdb->ro = calloc((size_t)sdb->max_ro, sizeof(*sdb->ro));
	sdb->readers = calloc((size_t)sdb->nreaders + 1, sizeof(*sdb->readers));
	if (sdb->path == NULL || sdb->rw_dsn == NULL || sdb->ro == NULL || sdb->readers == NULL) {
		free(sdb->path);
		free(sdb->rw_dsn);
		free(sdb->ro);
		free(sdb->readers);
		free(sdb);
		storage_set_err(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < sdb->nreaders; i++)
		sdb->readers[i].owner = sdb;
	msgpack_sbuffer_init(&sdb->group_cmds);

	sdb->rw.busy_cb = sdb->busy_cb;
	sdb->rw.busy_arg = sdb->busy_arg;
	if (sdb_conn_open(sdb, &sdb->rw, false, err, errlen) == -1) {
		storage_db_close(sdb);
		return -1;
	}
	*out = sdb;
	return 0;
}

void
storage_db_close(struct storage_db *sdb)
{
	if (sdb == NULL)
		return;
	if (sdb->rw.db != NULL)
		storage_db_group_end(sdb);
	for (int i = 0; i < sdb->nreaders; i++)
		sdb_conn_close(sdb, &sdb->readers[i].c);
	for (int i = 0; i < sdb->max_ro; i++)
		sdb_conn_close(sdb, &sdb->ro[i]);
	sdb_conn_close(sdb, &sdb->rw);	/* last: it keeps an in-memory database alive */
	msgpack_sbuffer_destroy(&sdb->group_cmds);
	free(sdb->readers);
	free(sdb->ro);
	free(sdb->rw_dsn);
	free(sdb->path);
	free(sdb);
}

struct sdb_conn *
sdb_ro_acquire(struct storage_db *sdb, char *err, size_t errlen)
{
	struct sdb_conn *spare = NULL;

	for (int i = 0; i < sdb->max_ro; i++) {
		struct sdb_conn *c = &sdb->ro[i];

		if (c->db != NULL && !c->busy) {
			c->busy = true;
			return c;
		}
		if (c->db == NULL && spare == NULL)
			spare = c;
	}
	if (spare == NULL) {
		storage_set_err(err, errlen, "no read-only connection available");
		return NULL;
	}
	spare->busy_cb = sdb->busy_cb;
	spare->busy_arg = sdb->busy_arg;
	if (sdb_conn_open(sdb, spare, true, err, errlen) == -1)
		return NULL;
	spare->busy = true;
	return spare;
}

void
sdb_ro_release(struct storage_db *sdb, struct sdb_conn *c)
{
	(void)sdb;
	if (c != NULL)
		c->busy = false;
}

void
storage_db_counters(const struct storage_db *sdb, struct storage_db_counters *out)
{
	uint64_t h, m;

	memset(out, 0, sizeof(*out));
	counters_add(out, &sdb->ctr_gone);
	counters_add(out, &sdb->rw.ctr);
	for (int i = 0; i < sdb->max_ro; i++)
		counters_add(out, &sdb->ro[i].ctr);
	for (int i = 0; i < sdb->nreaders; i++)
		counters_add(out, &sdb->readers[i].c.ctr);
	/* Statement caches: the apply loop's own (readers' caches are theirs alone). */
	out->cache_hits = out->cache_misses = 0;
	if (sdb->rw.cache) {
		storage_stmt_cache_stats(sdb->rw.cache, &h, &m, NULL);
		out->cache_hits += h;
		out->cache_misses += m;
	}
	for (int i = 0; i < sdb->max_ro; i++) {
		if (sdb->ro[i].cache == NULL)
			continue;
		storage_stmt_cache_stats(sdb->ro[i].cache, &h, &m, NULL);
		out->cache_hits += h;
		out->cache_misses += m;
	}
	for (int i = 0; i < sdb->nreaders; i++) {
		out->cache_hits += __atomic_load_n(&sdb->readers[i].cache_hits, __ATOMIC_RELAXED);
		out->cache_misses += __atomic_load_n(&sdb->readers[i].cache_misses, __ATOMIC_RELAXED);
	}
}

void
storage_db_entry(struct storage_db *sdb, uint64_t index, uint64_t term)
{
	sdb->entry_index = index;
	sdb->entry_term = term;
}

void
storage_db_progress(struct storage_db *sdb)
{
	if (sdb != NULL && sdb->busy_cb != NULL)
		sdb->busy_cb(sdb->busy_arg);
}

struct storage_db_reader *
storage_db_reader(struct storage_db *sdb, int i)
{
	return i >= 0 && i < sdb->nreaders ? &sdb->readers[i] : NULL;
}

struct sqlite3 *
storage_db_rw_handle(struct storage_db *sdb)
{
	return sdb->rw.db;
}

const char *
storage_db_path(const struct storage_db *sdb)
{
	return sdb->path;
}

/* ---- /status ---- */

static void
pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static int64_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* rqlite's sqlite3.mem_stats: these PRAGMAs of the read-write connection, as numbers. */
static void
pack_mem_stats(msgpack_packer *pk, sqlite3 *db)
{
	static const char *const names[] = {
		"max_page_count", "page_count", "page_size", "hard_heap_limit",
		"soft_heap_limit", "cache_size", "freelist_count",
	};
	char sql[64], val[32];

	msgpack_pack_map(pk, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(sql, sizeof(sql), "PRAGMA %s", names[i]);
		pack_cstr(pk, names[i]);
		val[0] = '\0';
		(void)sdb_exec_value(db, sql, val, sizeof(val));
		msgpack_pack_int64(pk, strtoll(val, NULL, 10));
	}
}

/* rqlite's sqlite3.last_modified: the newer mtime of the database file and its WAL, as
 * Go writes a time (RFC 3339, nanoseconds, UTC). false if neither can be read. */
static bool
last_modified(const char *db, const char *wal, char *buf, size_t len)
{
	struct stat a, b;
	bool ha = stat(db, &a) == 0, hb = stat(wal, &b) == 0;
	struct timespec t;
	struct tm tm;
	size_t n;

	if (!ha && !hb)
		return false;
	t = ha ? a.st_mtim : b.st_mtim;
	if (ha && hb && (b.st_mtim.tv_sec > t.tv_sec ||
	    (b.st_mtim.tv_sec == t.tv_sec && b.st_mtim.tv_nsec > t.tv_nsec)))
		t = b.st_mtim;
	gmtime_r(&t.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09ldZ", t.tv_nsec);
	return true;
}

static const char *const stats_pragmas[] = {
	"synchronous", "journal_mode", "foreign_keys", "wal_autocheckpoint", "busy_timeout",
};

/* A pragma that cannot be read is packed as "". */
static void
pack_pragmas(msgpack_packer *pk, sqlite3 *db)
{
	char sql[64], val[64];
	size_t n = sizeof(stats_pragmas) / sizeof(stats_pragmas[0]);

	msgpack_pack_map(pk, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "PRAGMA %s", stats_pragmas[i]);
		if (db == NULL || sdb_exec_value(db, sql, val, sizeof(val)) != SQLITE_OK)
			val[0] = '\0';
		pack_cstr(pk, stats_pragmas[i]);
		pack_cstr(pk, val);
	}
}

int
storage_db_stats(struct storage_db *sdb, msgpack_packer *pk)
{
	struct sdb_conn *ro;
	char val[32], walpath[4096], rodsn[160], mod[64];
	bool have_mod;
	int64_t db_size = 0;
	int ncopts = 0, ret = 0;
	const char *o;

	ro = sdb_ro_acquire(sdb, NULL, 0);
	if (sdb_exec_value(sdb->rw.db,
	    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
	    val, sizeof(val)) == SQLITE_OK)
		db_size = strtoll(val, NULL, 10);
	else
		ret = -1;
	while (sqlite3_compileoption_get(ncopts) != NULL)
		ncopts++;
	snprintf(walpath, sizeof(walpath), "%s-wal", sdb->path);
	snprintf(rodsn, sizeof(rodsn), "%s (read-only, query_only)", sdb->rw_dsn);

	if (ro == NULL)
		ret = -1;
	have_mod = !sdb->memory && last_modified(sdb->path, walpath, mod, sizeof(mod));
	msgpack_pack_map(pk, (ret == 0 ? 12 : 13) + (have_mod ? 1 : 0));
	pack_cstr(pk, "extensions");
	msgpack_pack_array(pk, 0);	/* none is loaded (-extensions-path is refused) */
	pack_cstr(pk, "mem_stats");
	pack_mem_stats(pk, sdb->rw.db);
	if (have_mod) {
		pack_cstr(pk, "last_modified");
		pack_cstr(pk, mod);
	}
	pack_cstr(pk, "version");
	pack_cstr(pk, sqlite3_libversion());
	pack_cstr(pk, "compile_options");
	msgpack_pack_array(pk, (size_t)ncopts);
	for (int i = 0; (o = sqlite3_compileoption_get(i)) != NULL; i++)
		pack_cstr(pk, o);
	pack_cstr(pk, "db_size");
	msgpack_pack_int64(pk, db_size);
	pack_cstr(pk, "size");
	msgpack_pack_int64(pk, sdb->memory ? 0 : file_size(sdb->path));
	pack_cstr(pk, "wal_size");
	msgpack_pack_int64(pk, sdb->memory ? 0 : file_size(walpath));
	pack_cstr(pk, "path");
	pack_cstr(pk, sdb->path);
	pack_cstr(pk, "rw_dsn");
	pack_cstr(pk, sdb->rw_dsn);
	pack_cstr(pk, "ro_dsn");
	pack_cstr(pk, rodsn);
	pack_cstr(pk, "pragmas");
	msgpack_pack_map(pk, 2);
	pack_cstr(pk, "rw");
	pack_pragmas(pk, sdb->rw.db);
	pack_cstr(pk, "ro");
	pack_pragmas(pk, ro ? ro->db : NULL);
	pack_cstr(pk, "transaction");
	msgpack_pack_map(pk, 2);
	pack_cstr(pk, "rw");
	if (sqlite3_get_autocommit(sdb->rw.db))
		msgpack_pack_false(pk);
	else
		msgpack_pack_true(pk);
	pack_cstr(pk, "ro");
	if (ro == NULL || sqlite3_get_autocommit(ro->db))
		msgpack_pack_false(pk);
	else
		msgpack_pack_true(pk);
	if (ret != 0) {
		pack_cstr(pk, "error");
		pack_cstr(pk, ro == NULL ? "no read-only connection" :
		    "cannot read the database size");
	}
	sdb_ro_release(sdb, ro);
	return 0;
}
