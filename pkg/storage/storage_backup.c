/*
 * storage_backup: binary copies of the storage database.
 *
 * Owns hot backups and snapshot copies into a file (SQLite online backup API, or
 * VACUUM INTO), recognising and checking SQLite files, and swapping the whole live
 * database for such a file. Files handed to us are opened immutable and read-only,
 * so checking or loading them never creates -wal/-shm files beside them nor
 * replays a journal into them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "storage/storage_backup.h"
#include "storage/storage_db.h"
#include "storage/storage_db_int.h"

/* Retries of a busy backup step, 10 ms apart, before giving up. */
#define BACKUP_BUSY_RETRIES	500

static const char sqlite_magic[16] = "SQLite format 3";	/* with its NUL */


static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* fsyncs path, and its directory so that a newly created name is durable too. */
static int
fsync_path_and_dir(const char *path, char *err, size_t errlen)
{
	char *dir, *slash;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fsync(fd) == -1) {
		storage_set_err(err, errlen, "fsync %s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	if ((dir = strdup(path)) == NULL) {
		storage_set_err(err, errlen, "out of memory");
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 || fsync(fd) == -1) {
		storage_set_err(err, errlen, "fsync %s: %s", dir, strerror(errno));
		if (fd != -1)
			close(fd);
		free(dir);
		return -1;
	}
	close(fd);
	free(dir);
	return 0;
}

/*
 * Empties (or creates) the target and removes journal siblings a previous file of
 * that name may have left, which SQLite would otherwise replay into our copy.
 */
static int
prepare_target(const char *path, char *err, size_t errlen)
{
	static const char *const sfx[] = { "-wal", "-shm", "-journal" };
	char sib[PATH_MAX];
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
		storage_set_err(err, errlen, "create %s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if ((size_t)snprintf(sib, sizeof(sib), "%s%s", path, sfx[i]) >= sizeof(sib)) {
			storage_set_err(err, errlen, "path too long: %s", path);
			return -1;
		}
		if (unlink(sib) == -1 && errno != ENOENT) {
			storage_set_err(err, errlen, "remove %s: %s", sib, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Opens the finished copy and sets its journal mode, which SQLite writes into the header. */
static int
set_copy_mode(const char *path, enum storage_backup_mode mode, char *err, size_t errlen)
{
	const char *want = mode == STORAGE_BACKUP_WAL ? "wal" : "delete";
	char sql[40], val[16];
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		storage_set_err(err, errlen, "open copy %s: %s", path,
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	snprintf(sql, sizeof(sql), "PRAGMA journal_mode=%s", want);
	rc = sdb_exec_value(db, sql, val, sizeof(val));
	if (rc != SQLITE_OK || strcmp(val, want) != 0) {
		storage_set_err(err, errlen, "set journal_mode=%s on %s: %s", want, path,
		    rc != SQLITE_OK ? sqlite3_errmsg(db) : val);
		sqlite3_close(db);
		return -1;
	}
	/* Closing the only connection checkpoints and removes the -wal and -shm files. */
	if (sqlite3_close(db) != SQLITE_OK) {
		storage_set_err(err, errlen, "close copy %s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int
vacuum_into(sqlite3 *src, const char *path, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (!sqlite3_get_autocommit(src)) {
		storage_set_err(err, errlen, "vacuum: a transaction is open on the source connection");
		return -1;
	}
	rc = sqlite3_prepare_v2(src, "VACUUM INTO ?", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, path, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(s);
	}
	if (rc != SQLITE_DONE) {
		storage_set_err(err, errlen, "vacuum into %s: %s", path, sqlite3_errmsg(src));
		sqlite3_finalize(s);
		return -1;
	}
	sqlite3_finalize(s);
	return 0;
}

/*
 * Pushes what the copy has written so far to disk and waits for it. Without this the
 * kernel collects the whole copy (tens of MB for a large table) and flushes it at the
 * final fsync, and every log fdatasync queued on the same disk waits behind that
 * flood: 100 ms and more of stall per snapshot. Flushing step by step keeps at most a
 * step's worth ahead of the log's fsyncs. Errors are left to the final fsync.
 */
static void
backup_pace(const char *path, int *fd)
{
	if (path == NULL)
		return;
	if (*fd < 0 && (*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	(void)sync_file_range(*fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
	    SYNC_FILE_RANGE_WAIT_AFTER);
}

/*
 * Steps a backup to its end, waiting out short busy spells; with a pace_path, flushes
 * the target after each step; with a db, tells its owner about the progress.
 */
static int
backup_run(sqlite3_backup *bk, int step_pages, const char *pace_path, struct storage_db *db)
{
	int rc, busy = 0, pace_fd = -1;

	for (;;) {
		rc = sqlite3_backup_step(bk, step_pages);
		if (rc == SQLITE_OK) {
			backup_pace(pace_path, &pace_fd);
			if (db != NULL)
				storage_db_progress(db);
			continue;
		}
		if (rc == SQLITE_DONE) {
			rc = SQLITE_OK;
			break;
		}
		if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && ++busy < BACKUP_BUSY_RETRIES) {
			sleep_ms(10);
			continue;
		}
		break;
	}
	if (pace_fd >= 0)
		close(pace_fd);
	return rc;
}

static int
online_backup(sqlite3 *src, const char *path, char *err, size_t errlen)
{
	sqlite3_backup *bk;
	sqlite3 *dst = NULL;
	bool own_tx = false;
	int rc;

	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		storage_set_err(err, errlen, "open %s: %s", path, dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	sqlite3_busy_timeout(dst, 5000);

	/*
	 * Pin one read snapshot of the source for the whole copy: the backup then never
	 * restarts when another connection writes between steps, and in WAL mode that
	 * writer is not blocked at all.
	 */
	if (sqlite3_get_autocommit(src)) {
		if ((rc = sdb_exec_value(src, "BEGIN", NULL, 0)) != SQLITE_OK ||
		    (rc = sdb_exec_value(src, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, 0)) != SQLITE_OK) {
			storage_set_err(err, errlen, "backup: read snapshot: %s", sqlite3_errmsg(src));
			if (!sqlite3_get_autocommit(src))
				sdb_exec_value(src, "ROLLBACK", NULL, 0);
			sqlite3_close(dst);
			return -1;
		}
		own_tx = true;
	}
	if ((bk = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		storage_set_err(err, errlen, "backup to %s: %s", path, sqlite3_errmsg(dst));
		rc = SQLITE_ERROR;
	} else {
		rc = backup_run(bk, STORAGE_BACKUP_STEP_PAGES, path, NULL);
		if (sqlite3_backup_finish(bk) != SQLITE_OK && rc == SQLITE_OK)
			rc = sqlite3_errcode(dst);
		if (rc != SQLITE_OK)
			storage_set_err(err, errlen, "backup to %s: %s", path, sqlite3_errstr(rc));
	}
	if (own_tx)
		sdb_exec_value(src, "COMMIT", NULL, 0);
	if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK) {
		storage_set_err(err, errlen, "close %s: %s", path, sqlite3_errmsg(dst));
		rc = SQLITE_ERROR;
	}
	return rc == SQLITE_OK ? 0 : -1;
}

int
storage_backup_conn_to_file(struct sqlite3 *src, const char *path, enum storage_backup_mode mode,
    bool vacuum, char *err, size_t errlen)
{
	if (src == NULL || path == NULL || path[0] == '\0') {
		storage_set_err(err, errlen, "backup: no source or no path");
		return -1;
	}
	if (mode != STORAGE_BACKUP_WAL && mode != STORAGE_BACKUP_DELETE) {
		storage_set_err(err, errlen, "backup: unknown mode %d", (int)mode);
		return -1;
	}
	if (prepare_target(path, err, errlen) == -1)
		return -1;
	if (vacuum) {
		if (vacuum_into(src, path, err, errlen) == -1)
			return -1;
	} else if (online_backup(src, path, err, errlen) == -1) {
		return -1;
	}
	if (set_copy_mode(path, mode, err, errlen) == -1)
		return -1;
	return fsync_path_and_dir(path, err, errlen);
}

int
storage_backup_to_file(struct storage_db *db, const char *path, enum storage_backup_mode mode,
    bool vacuum, char *err, size_t errlen)
{
	sqlite3 *rw = db ? storage_db_rw_handle(db) : NULL, *src = NULL;
	const char *fname;
	int rc;

	fname = rw ? sqlite3_db_filename(rw, "main") : NULL;
	if (fname == NULL || fname[0] == '\0')	/* in memory: only this connection reaches it */
		return storage_backup_conn_to_file(rw, path, mode, vacuum, err, errlen);

	rc = sqlite3_open_v2(fname, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		storage_set_err(err, errlen, "backup: open %s: %s", fname,
		    src ? sqlite3_errmsg(src) : sqlite3_errstr(rc));
		sqlite3_close(src);
		return -1;
	}
	sqlite3_busy_timeout(src, 5000);
	rc = storage_backup_conn_to_file(src, path, mode, vacuum, err, errlen);
	if (sqlite3_close(src) != SQLITE_OK)
		log_warnx("%s: close %s: %s", __func__, fname, sqlite3_errmsg(src));
	return rc;
}

/* ---- recognising SQLite files ---- */

static uint32_t
be16(const unsigned char *b)
{
	return (uint32_t)b[0] << 8 | b[1];
}

static uint32_t
be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The page size from a header, or 0 if it is not a valid one. */
static uint32_t
header_page_size(const unsigned char *h)
{
	uint32_t ps = be16(h + 16);

	if (ps == 1)
		return 65536;
	if (ps < 512 || ps > 32768 || (ps & (ps - 1)) != 0)
		return 0;
	return ps;
}

bool
storage_is_sqlite_header(const void *p, size_t len)
{
	const unsigned char *h = p;

	if (p == NULL || len < sizeof(sqlite_magic) || memcmp(h, sqlite_magic, sizeof(sqlite_magic)) != 0)
		return false;
	if (len < 100)
		return true;
	return header_page_size(h) != 0 &&
	    (h[18] == 1 || h[18] == 2) && (h[19] == 1 || h[19] == 2) &&
	    h[21] == 64 && h[22] == 32 && h[23] == 32;
}

/*
 * Header and size checks that need no SQLite: a whole number of pages, and at least
 * as many as the header says when its page count is valid (change counter at 24
 * equals version-valid-for at 92), so a truncated upload is refused by name.
 */
static int
check_file_shape(const char *path, char *err, size_t errlen)
{
	unsigned char h[100];
	struct stat st;
	uint32_t ps, npages;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		storage_set_err(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		storage_set_err(err, errlen, "stat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n != (ssize_t)sizeof(h) || !storage_is_sqlite_header(h, sizeof(h))) {
		storage_set_err(err, errlen, "invalid SQLite data");
		return -1;
	}
	ps = header_page_size(h);
	npages = be32(h + 28);
	if (st.st_size % ps != 0) {
		storage_set_err(err, errlen, "SQLite file is truncated (%lld bytes, page size %u)",
		    (long long)st.st_size, ps);
		return -1;
	}
	if (npages != 0 && memcmp(h + 24, h + 92, 4) == 0 &&
	    (uint64_t)st.st_size < (uint64_t)npages * ps) {
		storage_set_err(err, errlen, "SQLite file is truncated (%lld of %llu bytes)",
		    (long long)st.st_size, (unsigned long long)npages * ps);
		return -1;
	}
	return 0;
}

/* Opens path read-only and immutable: SQLite neither writes it nor looks for journals. */
static int
open_immutable(const char *path, sqlite3 **out, char *err, size_t errlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	char *uri, *q;
	sqlite3 *db = NULL;
	int rc;

	if ((uri = malloc(n * 3 + 32)) == NULL) {
		storage_set_err(err, errlen, "out of memory");
		return -1;
	}
	q = uri + sprintf(uri, "file:");
	for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
		/* The URI's own delimiters must not be read as part of the path. */
		if (*s == '%' || *s == '?' || *s == '#' || *s <= ' ' || *s >= 0x7f) {
			*q++ = '%';
			*q++ = hex[*s >> 4];
			*q++ = hex[*s & 15];
		} else {
			*q++ = (char)*s;
		}
	}
	strcpy(q, "?immutable=1");
	rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
	    NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		storage_set_err(err, errlen, "open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

/* Checking a large file takes a while: it is progress. */
static int
load_progress_cb(void *arg)
{
	storage_db_progress(arg);
	return 0;
}

/* PRAGMA quick_check on an open connection; 0 if it answers "ok". */
static int
quick_check(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	char val[256];
	int rc;

	rc = sdb_exec_value(db, "PRAGMA quick_check(1)", val, sizeof(val));
	if (rc != SQLITE_OK) {
		storage_set_err(err, errlen, "check %s: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if (strcmp(val, "ok") != 0) {
		storage_set_err(err, errlen, "check %s: %s", path, val);
		return -1;
	}
	return 0;
}

int
storage_validate_file(const char *path, char *err, size_t errlen)
{
	sqlite3 *db;
	int rc;

	if (check_file_shape(path, err, errlen) == -1 || open_immutable(path, &db, err, errlen) == -1)
		return -1;
	rc = quick_check(db, path, err, errlen);
	sqlite3_close(db);
	return rc;
}

/* ---- replacing the live database ---- */

static int
page_size(sqlite3 *db)
{
	char val[16];

	if (sdb_exec_value(db, "PRAGMA page_size", val, sizeof(val)) != SQLITE_OK)
		return -1;
	return atoi(val);
}

/*
 * The backup API cannot copy into a WAL or in-memory database whose page size
 * differs from the source's, and neither can change its page size while readers are
 * attached. So the source is copied by VACUUM INTO into a temporary file beside it
 * (the immutable source ignores PRAGMA page_size), which a plain VACUUM then rebuilds
 * with the live page size; *src then reads that copy, unlinked once done.
 */
static int
resize_source(sqlite3 **src, const char *path, int pgsz, char *err, size_t errlen)
{
	char *tmp, sql[48], val[16];
	sqlite3 *db = NULL;
	int fd, rc;

	if (asprintf(&tmp, "%s.pgsz.XXXXXX", path) == -1) {
		storage_set_err(err, errlen, "out of memory");
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		storage_set_err(err, errlen, "load: temporary copy beside %s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	close(fd);
	if (vacuum_into(*src, tmp, err, errlen) == -1)
		goto fail;
	rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	snprintf(sql, sizeof(sql), "PRAGMA page_size=%d", pgsz);
	if (rc != SQLITE_OK ||
	    sdb_exec_value(db, "PRAGMA journal_mode=DELETE", val, sizeof(val)) != SQLITE_OK ||
	    sdb_exec_value(db, sql, NULL, 0) != SQLITE_OK ||
	    sdb_exec_value(db, "VACUUM", NULL, 0) != SQLITE_OK || page_size(db) != pgsz) {
		storage_set_err(err, errlen, "load: page size %d copy of %s: %s", pgsz, path,
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		goto fail;
	}
	unlink(tmp);	/* the open connection keeps reading it */
	free(tmp);
	sqlite3_close(*src);
	*src = db;
	return 0;
fail:
	unlink(tmp);
	free(tmp);
	return -1;
}

int
storage_load_file(struct storage_db *db, const char *path, char *err, size_t errlen)
{
	sqlite3 *rw = db ? storage_db_rw_handle(db) : NULL, *src;
	const char *fname;
	sqlite3_backup *bk;
	char val[16];
	int rc, live_pgsz;

	if (rw == NULL || path == NULL) {
		storage_set_err(err, errlen, "load: no database or no path");
		return -1;
	}
	if (!sqlite3_get_autocommit(rw)) {
		storage_set_err(err, errlen, "load: a transaction is open on the database");
		return -1;
	}
	if (check_file_shape(path, err, errlen) == -1 || open_immutable(path, &src, err, errlen) == -1)
		return -1;
	/*
	 * The backup API copies pages without reading them as b-trees, so a damaged
	 * file would be installed as is: check it first, whatever the caller did.
	 */
	sqlite3_progress_handler(src, 100000, load_progress_cb, db);
	rc = quick_check(src, path, err, errlen);
	sqlite3_progress_handler(src, 0, NULL, NULL);
	if (rc == -1)
		goto fail;
	if ((live_pgsz = page_size(rw)) <= 0) {
		storage_set_err(err, errlen, "load: page size: %s", sqlite3_errmsg(rw));
		goto fail;
	}
	if (page_size(src) != live_pgsz && resize_source(&src, path, live_pgsz, err, errlen) == -1)
		goto fail;

	/*
	 * The copy is one write transaction on the live database, whatever the number of
	 * steps (the backup keeps the destination's transaction open until the last one):
	 * readers keep seeing the old pages until it commits, and any error (an I/O error,
	 * a full disk) rolls the whole copy back. Steps of STORAGE_LOAD_STEP_PAGES let the
	 * process report progress while a large file goes in.
	 */
	if ((bk = sqlite3_backup_init(rw, "main", src, "main")) == NULL) {
		storage_set_err(err, errlen, "load %s: %s", path, sqlite3_errmsg(rw));
		goto fail;
	}
	rc = backup_run(bk, STORAGE_LOAD_STEP_PAGES, NULL, db);
	if (sqlite3_backup_finish(bk) != SQLITE_OK && rc == SQLITE_OK)
		rc = sqlite3_errcode(rw);
	if (rc != SQLITE_OK) {
		/* The source's message is the informative one for a bad file. */
		const char *m = sqlite3_errcode(src) != SQLITE_OK ? sqlite3_errmsg(src) :
		    sqlite3_errstr(rc);

		storage_set_err(err, errlen, "load %s: %s", path, m);
		goto fail;
	}
	sqlite3_close(src);

	/* The copied header may name another journal mode; a file database stays in WAL. */
	fname = sqlite3_db_filename(rw, "main");
	if (fname != NULL && fname[0] != '\0') {
		rc = sdb_exec_value(rw, "PRAGMA journal_mode=WAL", val, sizeof(val));
		if (rc != SQLITE_OK || strcmp(val, "wal") != 0) {
			storage_set_err(err, errlen, "load: re-enable WAL: %s",
			    rc != SQLITE_OK ? sqlite3_errmsg(rw) : val);
			return -1;
		}
	}
	return 0;
fail:
	sqlite3_close(src);
	return -1;
}
