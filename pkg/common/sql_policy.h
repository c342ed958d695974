/*
 * sql_policy: the statements, PRAGMAs and functions client SQL may not use, and the
 * messages that say so. One list for the gateway (which refuses a request before it
 * enters the Raft log) and storage (whose SQLite authorizer refuses it again, for
 * entries already in a log and for what only SQLite can see, such as a PRAGMA run
 * by a pragma_*() table or the ATTACH inside VACUUM INTO).
 */
#ifndef RQ_COMMON_SQL_POLICY_H
#define RQ_COMMON_SQL_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* rqlite's own text for its refused PRAGMAs; ours use it too. */
#define SQL_POLICY_ERR_PRAGMA		"disallowed pragma"
#define SQL_POLICY_ERR_ATTACH		"disallowed statement: ATTACH"
#define SQL_POLICY_ERR_DETACH		"disallowed statement: DETACH"
#define SQL_POLICY_ERR_VACUUM_INTO	"disallowed statement: VACUUM INTO"
#define SQL_POLICY_ERR_TX_IN_TX \
	"disallowed statement: BEGIN, COMMIT, END or ROLLBACK in a request with transaction"
#define SQL_POLICY_ERR_TX_OPEN \
	"transaction left open: a request must end every BEGIN or SAVEPOINT it starts"
#define SQL_POLICY_ERR_SAVEPOINT	"disallowed savepoint name"
#define SQL_POLICY_ERR_STMT_TABLE	"disallowed table: sqlite_stmt"

/*
 * True if PRAGMA name[0..len) (any case) may not be run: `set` when it is given a
 * value (`= v` or `(v)`), false for the plain read form. wal_checkpoint is refused
 * in both forms, as rqlite does.
 */
bool sql_policy_pragma_refused(const char *name, size_t len, bool set);

/* The "disallowed function: NAME" message if function name[0..len) is refused,
 * else NULL. */
const char *sql_policy_function_refused(const char *name, size_t len);

#endif
