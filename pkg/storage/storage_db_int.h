/*
 * Internals shared by storage_db.c (connections, open/close, stats), the files that run
 * commands (storage_db_exec.c and its parts, storage_db_exec_int.h) and
 * storage_db_group.c (group apply). Not for use outside pkg/storage/storage_db*.c.
 */
#ifndef RQ_STORAGE_DB_INT_H
#define RQ_STORAGE_DB_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "storage/storage_db.h"
#include "storage/storage_policy.h"
#include "storage/storage_random.h"
#include "storage/storage_sqlfunc.h"
#include "storage/storage_stmt_cache.h"

/* SQLite's busy timeout on every connection, as rqlite. */
#define STORAGE_DB_BUSY_TIMEOUT_MS	5000
/*
 * WAL frames after which a commit checkpoints (PASSIVE), as SQLite's own automatic
 * checkpoint would: letting the WAL grow until the next snapshot (up to -raft-snap-int
 * away) cost 5-17% of write throughput here (a longer WAL and wal-index, file growth
 * instead of reuse).
 */
#define STORAGE_DB_WAL_MAX_FRAMES	1000
/* Statements cached per connection. */
#define STORAGE_DB_STMT_CACHE_SIZE	256
/* VM instructions between progress-handler calls: deadline, step budget, heartbeat. */
#define STORAGE_DB_PROGRESS_OPS		1000
#define STORAGE_DB_BUSY_MS		250
/* Scratch buffers above this size are given back after a command. */
#define STORAGE_DB_SCRATCH_KEEP		(4u * 1024 * 1024)
/*
 * A write's db_timeout becomes a step budget of this many steps per millisecond (about
 * what this machine's SQLite runs), so that it interrupts a statement at the same
 * point on every node instead of at a wall-clock instant each node sees differently.
 */
#define STORAGE_DB_STEPS_PER_MS		40000ULL

/* Per-column facts of the statement being read. */
struct sdb_col {
	bool text_like;		/* declared type has text affinity for BLOB values */
	bool has_decl;
};

/* One argument: positional (name == NULL) or one key of a named-parameter map. */
struct sdb_arg {
	const char *name;
	uint32_t nlen;
	const msgpack_object *v;
};

/*
 * One connection and everything a command needs while it runs on it. A connection is
 * used by one thread at a time (the apply loop, or one reader thread); nothing here is
 * shared, except the counters, which other threads read with relaxed atomic loads.
 */
struct sdb_conn {
	sqlite3 *db;
	struct storage_stmt_cache *cache;
	bool readonly;
	bool busy;		/* handed out by sdb_ro_acquire() */
	struct storage_policy pol;
	struct storage_sqlfunc fn;	/* bounded instr/replace/trim/printf */

	msgpack_zone zone;	/* the decoded command of the current call */
	bool zone_ok;
	msgpack_sbuffer rbuf;	/* packed results of the current command */
	struct sdb_col *cols;
	size_t cols_cap;
	struct sdb_arg *args;	/* flattened arguments of the current statement */
	size_t args_cap;

	int64_t deadline_ns;	/* CLOCK_MONOTONIC; 0 = none */
	bool budget;		/* a step budget applies to this command */
	bool budget_hit;	/* ... and it ran out */
	bool budget_is_timeout;	/* ... and it came from db_timeout */
	uint64_t steps_left;
	uint64_t budget_steps;	/* as given, for the message */
	uint64_t max_result;	/* bytes of packed rows a read may return; 0 = no cap */
	bool result_too_big;

	/* Heartbeats while a statement runs (apply-loop connections only). */
	void (*busy_cb)(void *arg);
	void *busy_arg;
	int64_t busy_last_ns;

	struct storage_db_counters ctr;	/* this connection's share */
};

/* Counters are bumped by the connection's thread and summed by the apply loop. */
#define SDB_COUNT(c, field)	__atomic_fetch_add(&(c)->ctr.field, 1, __ATOMIC_RELAXED)

/* A reader slot (storage_db.h): its connection and the cache figures it last published. */
struct storage_db_reader {
	struct sdb_conn c;
	struct storage_db *owner;
	sqlite3 *live;		/* c.db once open, for other threads (atomic) */
	uint64_t cache_hits;
	uint64_t cache_misses;
};

struct storage_db {
	char *path;		/* as given */
	char *rw_dsn;		/* what sqlite3_open_v2() got */
	bool memory;
	bool fk;
	struct storage_db_limits lim;

	struct sdb_conn rw;
	struct sdb_conn *ro;	/* max_ro slots for the apply loop, opened on demand */
	int max_ro;
	struct storage_db_reader *readers;
	int nreaders;

	void (*busy_cb)(void *arg);
	void *busy_arg;

	/* The entry being applied (storage_db_entry): seeds random() for it. */
	uint64_t entry_index, entry_term;
	struct storage_random rng;

	/* Counters of reader connections that have been closed. */
	struct storage_db_counters ctr_gone;

	/* Group apply (storage_db_group.c). */
	bool group_enabled;
	bool group_open;		/* our BEGIN is in effect */
	bool group_abort;		/* the entry running cannot finish inside the group */
	bool group_pragma_ran;		/* a PRAGMA ran alone since foreign keys were read */
	bool group_fk;			/* the rw connection enforces foreign keys */
	uint32_t group_entries;
	msgpack_sbuffer group_cmds;	/* each grouped entry: u32 length, then the command */
};

int64_t sdb_now_ns(void);
/* Runs one statement that may return rows, copying the first value of the first row into
 * val (may be NULL); an SQLite result code. */
int sdb_exec_value(struct sqlite3 *db, const char *sql, char *val, size_t vallen);
/* Opens and configures one connection of sdb (read-only or the read-write one). */
int sdb_conn_open(struct storage_db *sdb, struct sdb_conn *c, bool readonly, char *err,
    size_t errlen);
void sdb_conn_close(struct storage_db *sdb, struct sdb_conn *c);
/* A read-only connection, opened if needed; NULL with err filled on failure. */
struct sdb_conn *sdb_ro_acquire(struct storage_db *sdb, char *err, size_t errlen);
void sdb_ro_release(struct storage_db *sdb, struct sdb_conn *c);

/*
 * Applies one command. With `grouped`, a command that may share the group's
 * transaction runs inside it (opened if needed), and any other command ends the group
 * first. Returns 1, having packed nothing, if the command was grouped but cannot
 * finish inside the group (sdb->group_abort); otherwise as storage_db_apply.
 */
int sdb_apply_one(struct storage_db *sdb, const char *cmd, size_t len, msgpack_packer *pk,
    bool grouped);
/* Opens the group's transaction; -1 if SQLite refused (the entry then runs alone). */
int sdb_group_open(struct storage_db *sdb);

/* Formats an error message into err (NULL or 0-length: nothing); shared by the
 * storage files. */
void storage_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
