/*
 * Binary copies of the storage database: hot backups and snapshots into a file
 * (API.md §5.1 fmt=binary/delete, vacuum; §6), checking that a file is a SQLite
 * database, and swapping the whole live database for such a file (§5.2 load,
 * §5.3 boot, snapshot restore).
 *
 * Like storage_db, these functions are single-threaded with respect to one
 * struct storage_db: the caller must not apply commands on it during the call.
 */
#ifndef RQ_STORAGE_BACKUP_H
#define RQ_STORAGE_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

struct sqlite3;
struct storage_db;

/* The journal mode written into the copy's header (bytes 18/19). */
enum storage_backup_mode {
	STORAGE_BACKUP_WAL = 1,		/* 2/2: rqlite's binary backups and snapshots */
	STORAGE_BACKUP_DELETE = 2,	/* 1/1: rqlite's fmt=delete */
};

/*
 * Pages copied per sqlite3_backup_step(); the copy is flushed after each step, so this
 * is also how much a log fdatasync may find queued ahead of it on the disk. 64 (256 KiB
 * of 4 KiB pages) against 256: p99 of strong reads during snapshots 15 -> 9-11 ms.
 */
#define STORAGE_BACKUP_STEP_PAGES	64
/* Pages per step when a file replaces the live database (progress between steps). */
#define STORAGE_LOAD_STEP_PAGES	4096

/*
 * Writes a consistent copy of the live database into the file `path`: created, or
 * truncated if it exists (its -wal/-journal siblings are removed), fsynced together
 * with its directory, and left with no -wal/-shm beside it. The copy comes from one
 * read snapshot: for a file database a private read-only connection is used, so in
 * WAL mode writers on other connections are never blocked; a ":memory:" database is
 * copied from the read-write connection. With vacuum, `VACUUM INTO` makes a compacted
 * copy instead of the page-by-page online backup. mode sets the copy's journal mode.
 * Returns 0, or -1 with a message in err (if errlen > 0); on failure `path` may hold a
 * partial file, which the caller removes.
 */
int storage_backup_to_file(struct storage_db *db, const char *path, enum storage_backup_mode mode,
    bool vacuum, char *err, size_t errlen);

/*
 * The same from any open connection `src` (schema "main"), for callers that run the
 * copy on their own connection (e.g. in a helper thread).
 */
int storage_backup_conn_to_file(struct sqlite3 *src, const char *path,
    enum storage_backup_mode mode, bool vacuum, char *err, size_t errlen);

/*
 * True if p starts with a plausible SQLite database header: the 16-byte magic
 * "SQLite format 3\0" and, when at least 100 bytes are given, a valid page size
 * (a power of two in 512..65536, stored as 1 for 65536), file format versions 1 or 2
 * (bytes 18/19) and the fixed payload fractions 64/32/32 (bytes 21..23).
 * rqlite's own check (IsValidSQLiteData) is only the magic; use this one to sniff a
 * /db/load body with len >= 16.
 */
bool storage_is_sqlite_header(const void *p, size_t len);

/*
 * Checks that the file at path is a usable SQLite database: a good header (above),
 * a size that is a whole number of pages, and SQLite can open it read-only without
 * touching it (immutable: no -wal/-shm/-journal is created or read) and
 * `PRAGMA quick_check` answers "ok". Returns 0, or -1 with the reason in err.
 */
int storage_validate_file(const char *path, char *err, size_t errlen);

/*
 * Replaces the whole live database with the SQLite file at `path`. The file is
 * opened immutable and never written; it is checked again here as
 * storage_validate_file does (the backup API would copy damaged pages verbatim), so
 * calling that first only serves to refuse early. The online backup API copies it
 * into the read-write connection in one write transaction, so the read-only
 * connections see the new content at their next read and, on any error, the old data
 * stays exactly as it was. A file whose page size differs from the live database's
 * is first copied with the live page size by VACUUM INTO into a temporary file beside
 * `path` (so that directory must be writable). Afterwards a file database is in WAL
 * mode again and every connection keeps its pragmas (foreign_keys, synchronous,
 * busy_timeout…); cached prepared statements re-prepare themselves.
 * Returns 0, or -1 with a message in err.
 */
int storage_load_file(struct storage_db *db, const char *path, char *err, size_t errlen);

#endif
