/*
 * storage_sqlfunc: SQL functions whose built-in form can spend minutes inside one
 * SQLite step, where neither the step budget nor a deadline can stop it, replaced on
 * every connection by forms that give the same answers in bounded time:
 *
 *   instr(X, Y), replace(X, Y, Z)
 *       SQLite compares the pattern at every position (quadratic: a 32 MB value and a
 *       16 MB pattern take hours); ours search with memmem(3), which is linear.
 *   trim/ltrim/rtrim(X, Y)
 *       SQLite tries every character of Y at every position; ours look up a table
 *       when Y holds single-byte characters, and otherwise stop with an error past a
 *       fixed amount of work (the same on every node).
 *   printf/format(F, …)
 *       a width or precision of 2^31 makes SQLite loop two billion times before it
 *       fails with "string or blob too big"; ours fail at once when a width, or a
 *       precision that makes output, exceeds the connection's length limit, and
 *       otherwise let SQLite's own printf (on a private in-memory connection) format.
 */
#ifndef RQ_STORAGE_SQLFUNC_H
#define RQ_STORAGE_SQLFUNC_H

#include <sqlite3.h>

/* Most character comparisons one trim() may make when Y holds multi-byte characters. */
#define STORAGE_SQLFUNC_TRIM_WORK	50000000LL
/* printf() arguments SQLite accepts (SQLITE_MAX_FUNCTION_ARG). */
#define STORAGE_SQLFUNC_MAX_ARGS	127

/* Per-connection state: the private connection printf() delegates to. */
struct storage_sqlfunc {
	sqlite3 *fmt_db;
	sqlite3_stmt *fmt_stmt[STORAGE_SQLFUNC_MAX_ARGS + 1];
};

/* Registers the functions on db; f must outlive it. An SQLite result code. */
int storage_sqlfunc_install(sqlite3 *db, struct storage_sqlfunc *f);

/* Frees what printf() opened; call after closing db. */
void storage_sqlfunc_free(struct storage_sqlfunc *f);

#endif
