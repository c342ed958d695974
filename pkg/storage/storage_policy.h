/*
 * storage_policy: what client SQL may do on the storage process's connections.
 *
 * Every statement of a write is replicated through the log and runs again on every
 * node and at every replay, so a statement that wedges, corrupts or escapes storage
 * does so everywhere and for good. The policy refuses, with a message naming the
 * reason, whatever reaches outside the database file or changes how the connection
 * locks, journals, syncs or allocates:
 * - ATTACH and DETACH (and so VACUUM INTO, which attaches its target);
 * - PRAGMAs that set locking, journal, sync, checkpoint, heap, schema-writing,
 *   directory or page-count state (the list is common/sql_policy.c);
 * - fts3_tokenizer() (its two-argument form installs a C function pointer) and
 *   load_extension();
 * - the sqlite_stmt table (other clients' statements on a shared connection);
 * - savepoints named like the ones storage uses for itself.
 * It also switches on SQLITE_DBCONFIG_DEFENSIVE (no writable_schema, no writes to
 * sqlite_dbpage or virtual-table shadow tables) and switches off the FTS3
 * tokenizer and extension loading, and caps expression depth, LIKE pattern length,
 * compound selects and program size at fixed values (the same on every node).
 *
 * The authorizer enforces the policy only while `enforce` is set, i.e. while client
 * SQL is prepared or run; storage's own statements (journal mode, its transactions,
 * backups and dumps) are never checked.
 */
#ifndef RQ_STORAGE_POLICY_H
#define RQ_STORAGE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

/* Fixed limits (sqlite3_limit) on every connection, identical on every node. */
#define STORAGE_POLICY_EXPR_DEPTH	1000
#define STORAGE_POLICY_LIKE_PATTERN	1000
#define STORAGE_POLICY_COMPOUND_SELECT	500
#define STORAGE_POLICY_VDBE_OP		25000000
/* The savepoint storage wraps a grouped `transaction` entry in. */
#define STORAGE_POLICY_SAVEPOINT	"rqlite_entry"

struct storage_policy {
	bool enforce;		/* client SQL is being prepared or run */
	bool stepping;		/* inside sqlite3_step() of client SQL */
	const char *denied;	/* why the authorizer last refused (static text) */
};

/*
 * Configures one connection: defensive mode, FTS3 tokenizer and extension loading
 * off, the fixed limits, and the authorizer (state in *p, which must outlive the
 * connection). Returns an SQLite result code.
 */
int storage_policy_install(sqlite3 *db, struct storage_policy *p);

/*
 * The message for a statement that failed with SQLITE_AUTH: the policy's reason, or
 * SQLite's text when the refusal was not ours. Clears the remembered reason.
 */
const char *storage_policy_message(struct storage_policy *p, sqlite3 *db);

#endif
