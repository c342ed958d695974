/*
 * The SQLite engine of the storage process: owns the database connections and
 * turns one msgpack command map (docs/wire-formats.md) into one msgpack result map.
 *
 * One read-write connection applies committed commands in log order; a small pool
 * of read-only connections (SQLITE_OPEN_READONLY + PRAGMA query_only) serves reads in
 * the caller's thread, and reader slots (below) serve reads on other threads. Every
 * connection has its own prepared-statement cache.
 *
 * Apart from the reader slots, each used by one thread at a time, callers must not use
 * one struct storage_db from two threads at once.
 */
#ifndef RQ_STORAGE_DB_H
#define RQ_STORAGE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ipc_cmd.h"

/*
 * Limits on client SQL. A write entry carries its own step budget and value-size limit
 * (`st`, `ml`, set by the gateway that proposed it) so that every node applies it with
 * the same ones; an entry without them gets the defaults below, never a node's flags.
 * Reads use the node's own limits.
 */
#define STORAGE_DB_DEFAULT_WRITE_STEPS	250000000ULL
#define STORAGE_DB_DEFAULT_MAX_VALUE	(32ULL * 1024 * 1024)
#define STORAGE_DB_DEFAULT_READ_TIMEOUT_MS 25000ULL
#define STORAGE_DB_DEFAULT_MAX_RESULT	(32ULL * 1024 * 1024)
/* Results larger than this cannot cross a link (IPC_FRAME_MAX less headroom). */
#define STORAGE_DB_RESULT_HARD_MAX	(60ULL * 1024 * 1024)

struct storage_db_limits {
	uint64_t read_timeout_ms;	/* reads without a shorter db_timeout; 0 = none */
	uint64_t max_value;		/* reads: longest string or BLOB (SQLITE_LIMIT_LENGTH) */
	uint64_t max_result;		/* reads: bytes of rows one read may return */
};

struct storage_db_options {
	/*
	 * A file path, or ":memory:". An in-memory database is opened as the shared-cache
	 * URI "file:rqlite-<pid>-<n>?mode=memory&cache=shared" so the read-only connections
	 * see the read-write connection's data; it lives as long as the storage_db.
	 */
	const char *path;
	bool fk;		/* PRAGMA foreign_keys on every connection */
	int max_ro_conns;	/* read-only pool of the apply loop; <= 0 means 1 */
	int readers;		/* reader slots (storage_db_reader), one per reader thread */
	struct storage_db_limits lim;	/* max_value, max_result 0: the defaults */
	/* Called now and then (≥ every STORAGE_DB_BUSY_MS) while a statement runs, so a
	 * long statement does not starve the process's heartbeats. May be NULL. */
	void (*busy_cb)(void *arg);
	void *busy_arg;
};

struct storage_db;
struct sqlite3_stmt;

/* Counters for tests, /status and /debug/vars. */
struct storage_db_counters {
	uint64_t cache_hits;		/* statement cache, all connections */
	uint64_t cache_misses;
	uint64_t executions;		/* statements run in execute form */
	uint64_t execution_errors;
	uint64_t queries;		/* statements run in query form */
	uint64_t query_errors;
	uint64_t execute_transactions;
	uint64_t query_transactions;
	uint64_t request_transactions;
	uint64_t apply_groups;		/* SQLite transactions that held grouped entries */
	uint64_t grouped_entries;	/* entries applied inside one */
	uint64_t group_replays;		/* groups undone and replayed one entry at a time */
};

/*
 * Opens (creating if needed) the database: WAL mode (file databases), synchronous=OFF,
 * busy_timeout 5000 ms and foreign_keys per opts->fk on every connection. The
 * read-only connections are opened on first use. On failure returns -1 with a
 * message in err (if errlen > 0) and *out untouched.
 */
int storage_db_open(const struct storage_db_options *opts, struct storage_db **out,
    char *err, size_t errlen);

/* Finalizes every cached statement and closes every connection. NULL is a no-op. */
void storage_db_close(struct storage_db *sdb);

/*
 * Applies one committed command, in log order. Kinds 1 and 3 run on the read-write
 * connection; kind 2 (a strong read) runs on a read-only connection so writes are
 * refused exactly as for other reads; kind 4 packs an empty map.
 * Always packs exactly one map into pk: {"r":[result, …]} plus "e" on a request-level
 * error. Returns 0 if the command was well formed (per-statement errors included),
 * -1 if it was rejected as malformed or of an unknown kind (a map with "e" is still
 * packed). Reads cmd only during the call.
 */
int storage_db_apply(struct storage_db *sdb, const char *cmd, size_t len, msgpack_packer *pk);

/*
 * Group apply: while enabled, the write entries given to storage_db_apply run inside one
 * SQLite transaction until storage_db_group_end(), so a burst of entries costs one
 * commit instead of one each. The database ends exactly as if every entry had been
 * its own transaction (see storage_db_group.c for how). Nothing may read through
 * another connection, and no result may leave the process, before the group ends.
 * Disabled when foreign keys are enforced (deferred checks would move to the end).
 */
void storage_db_group_enable(struct storage_db *sdb, bool on);
/* Commits the open group, if any. A failed COMMIT is fatal: the process exits and
 * is rebuilt from the snapshot and the log, before any of the group's results left. */
void storage_db_group_end(struct storage_db *sdb);
/* Entries applied since the group opened (0 when none is open). */
uint32_t storage_db_group_size(const struct storage_db *sdb);

/*
 * Runs a read (kind 2 or 3) that did not go through the log, on a read-only connection.
 * Kind 3: if any statement is not read-only (or fails to prepare), runs nothing and
 * packs {"w":true}; otherwise behaves as kind 2 (every result in query form).
 * Kind 2: a statement that would write gets
 * {"e":"attempt to change database via query operation"}.
 * Same packing and return contract as storage_db_apply; other kinds are rejected.
 */
int storage_db_query(struct storage_db *sdb, const char *cmd, size_t len, msgpack_packer *pk);

/*
 * storage_db_query() in the caller's thread for a read expected to be short: if it
 * takes more than `steps` SQLite steps it is stopped, nothing is packed and 2 is
 * returned, so the caller can run it on a reader instead (a point read takes tens of
 * steps; a handoff to a thread costs two wake-ups). steps 0: no such budget.
 */
int storage_db_query_inline(struct storage_db *sdb, const char *cmd, size_t len,
    msgpack_packer *pk, uint64_t steps);

/*
 * Packs one map of facts for /status (API.md §10.1, store.sqlite3): "version",
 * "compile_options", "db_size" (page_count*page_size), "size" (file bytes, 0 in
 * memory), "wal_size", "path", "rw_dsn", "ro_dsn", "pragmas":{"rw":{…},"ro":{…}}
 * with synchronous, journal_mode, foreign_keys, wal_autocheckpoint, busy_timeout as
 * strings (rqlite scans them as strings too), and "transaction":{"rw":bool,"ro":bool}.
 * Always packs exactly one map and returns 0; facts that could not be read are
 * zero/"" and an "error" key says why.
 */
int storage_db_stats(struct storage_db *sdb, msgpack_packer *pk);

/*
 * Readers: read-only connections for reads served off the apply loop. Slot i (0 ≤ i <
 * opts.readers) belongs to one thread at a time, which opens its connection on first
 * use; storage_db_close() closes them, so every user must have stopped first.
 * storage_db_reader_query() has storage_db_query()'s contract. Never on an in-memory
 * database: its shared cache would make a read and a write lock each other out.
 */
struct storage_db_reader;
struct storage_db_reader *storage_db_reader(struct storage_db *sdb, int i);
int storage_db_reader_query(struct storage_db_reader *r, const char *cmd, size_t len,
    msgpack_packer *pk);
/* Interrupts the read running on slot r, if any; callable from any thread. */
void storage_db_reader_interrupt(struct storage_db_reader *r);

/*
 * Client SQL stepped outside storage_db_apply() on the read-write connection (a SQL
 * dump loaded through the log): between storage_db_client_begin() (the entry's step
 * budget and value-size limit; 0 = the default) and storage_db_client_end(), statements prepared with
 * storage_db_client_prepare() and stepped with storage_db_client_step() run under the
 * policy and the budget; storage_db_client_error() words the last failure.
 */
void storage_db_client_begin(struct storage_db *sdb, uint64_t steps, uint64_t max_value);
int storage_db_client_prepare(struct storage_db *sdb, const char *sql, int len,
    struct sqlite3_stmt **out, const char **tail);
int storage_db_client_step(struct storage_db *sdb, struct sqlite3_stmt *s);
const char *storage_db_client_error(struct storage_db *sdb, char *buf, size_t len);
void storage_db_client_end(struct storage_db *sdb);

/*
 * Names the log entry the next storage_db_apply() (or client SQL) belongs to: random()
 * and randomblob() on the read-write connection are drawn from a sequence seeded by it,
 * the same on every node (storage_random.h). 0, 0 for work that is no entry.
 */
void storage_db_entry(struct storage_db *sdb, uint64_t index, uint64_t term);

/* Tells the owner (opts.busy_cb) that a long call is making progress. */
void storage_db_progress(struct storage_db *sdb);

/* Sums every connection's counters (callable while readers run). */
void storage_db_counters(const struct storage_db *sdb, struct storage_db_counters *out);

/* The read-write connection, for snapshot/backup code in the storage process. */
struct sqlite3 *storage_db_rw_handle(struct storage_db *sdb);

/* The path given at open (":memory:" stays ":memory:"). */
const char *storage_db_path(const struct storage_db *sdb);

#endif
