/*
 * A bounded LRU cache of prepared statements for one SQLite connection, keyed by
 * the exact SQL text. Only text that holds a single statement (trailing whitespace
 * allowed) and is at most STORAGE_STMT_CACHE_MAX_KEY bytes is cached; anything else
 * is prepared for one use and finalized when released.
 *
 * Usage: storage_stmt_cache_get() checks a statement out; storage_stmt_cache_put()
 * resets it, clears its bindings and returns it (or finalizes a one-use statement).
 * At most a few statements may be checked out at once; a checked-out statement is
 * never evicted.
 */
#ifndef RQ_STORAGE_STMT_CACHE_H
#define RQ_STORAGE_STMT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define STORAGE_STMT_CACHE_MAX_KEY	(64 * 1024)

struct storage_stmt_cache;

/* A checked-out statement. */
struct storage_stmt {
	sqlite3_stmt *stmt;	/* NULL when the text holds only whitespace/comments */
	size_t used;		/* bytes of the text this statement consumed (up to its tail) */
	void *entry_;		/* private: the cache entry, NULL for a one-use statement */
};

/* capacity: most statements kept (at least 4). Returns NULL on allocation failure. */
struct storage_stmt_cache *storage_stmt_cache_new(sqlite3 *db, unsigned capacity);
/* Finalizes every statement; none may be checked out. NULL is a no-op. */
void storage_stmt_cache_free(struct storage_stmt_cache *c);
/* Finalizes every statement not checked out (e.g. before closing or restoring). */
void storage_stmt_cache_clear(struct storage_stmt_cache *c);

/*
 * Prepares (or finds) the first statement of sql[0..len). Returns an SQLite result
 * code; on anything but SQLITE_OK, out->stmt is NULL and sqlite3_errmsg() of the
 * connection explains. sql need not be NUL-terminated.
 */
int storage_stmt_cache_get(struct storage_stmt_cache *c, const char *sql, size_t len,
    struct storage_stmt *out);
/* Resets the statement and clears its bindings; safe on a NULL out->stmt. */
void storage_stmt_cache_put(struct storage_stmt_cache *c, struct storage_stmt *s);

/* The leading keyword of a NUL-terminated SQL text, past whitespace and comments; its
 * length in *n (0 if there is none). */
const char *storage_sql_keyword(const char *sql, size_t *n);

/* What a statement does to transactions, from its leading keywords. */
enum storage_sql_tx {
	STORAGE_SQL_TX_NONE,
	STORAGE_SQL_TX_BEGIN,
	STORAGE_SQL_TX_COMMIT,		/* COMMIT or END */
	STORAGE_SQL_TX_ROLLBACK,	/* ROLLBACK, not ROLLBACK TO */
	STORAGE_SQL_TX_ROLLBACK_TO,
	STORAGE_SQL_TX_SAVEPOINT,
	STORAGE_SQL_TX_RELEASE,
};
enum storage_sql_tx storage_sql_tx_kind(const char *sql);

void storage_stmt_cache_stats(const struct storage_stmt_cache *c, uint64_t *hits,
    uint64_t *misses, unsigned *size);

#endif
