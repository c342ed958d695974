/*
 * gateway_policy: refuses a request whose SQL storage would refuse (common/sql_policy.h),
 * before it is proposed, so that a refused write never enters the Raft log:
 *   ATTACH, DETACH, VACUUM … INTO, the refused PRAGMAs (`= v` and `(v)` forms),
 *   fts3_tokenizer() and load_extension() calls, and transaction control that would
 *   outlive the request: a BEGIN or SAVEPOINT its own statements do not end, or any
 *   BEGIN/COMMIT/END/ROLLBACK in a request made with `transaction` (whose own
 *   transaction they would break).
 * rqlite's own PRAGMA rules (gateway_pragma.c, its regular expressions) come first.
 * Statements are judged from their tokens (gateway_sqltok.h), across every statement
 * of the request in order; text that does not tokenize is left to SQLite, and storage
 * checks everything again with its authorizer, so this is the early answer, not the
 * only guard.
 */
#ifndef RQ_GATEWAY_POLICY_H
#define RQ_GATEWAY_POLICY_H

#include <stdbool.h>

struct gateway_body;

/* NULL if the request may go ahead, else the error to answer (a static string). */
const char *gateway_policy_check(const struct gateway_body *b, bool transaction);

#endif
