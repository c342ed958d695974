/*
 * PRAGMAs that would break rqlite's control of the database (API.md §3.1): a
 * request containing any of them is refused as a whole with
 * {"results":[],"error":"disallowed pragma"}.
 */
#ifndef RQ_GATEWAY_PRAGMA_H
#define RQ_GATEWAY_PRAGMA_H

#include <stdbool.h>
#include <stddef.h>

#define GATEWAY_PRAGMA_ERROR	"disallowed pragma"

/*
 * True when sql (len bytes, need not be NUL-terminated) starts, after optional
 * whitespace and case-insensitively, with one of
 *   PRAGMA [schema.]journal_mode =      PRAGMA wal_autocheckpoint =
 *   PRAGMA [schema.]wal_checkpoint…     PRAGMA [schema.]synchronous =
 *   PRAGMA [schema.]query_only =
 * exactly as rqlite's regular expressions match: whitespace is [ \t\n\f\r], a
 * schema is [0-9A-Za-z_]+, and case folding includes Go's (?i) folds of 's' to
 * U+017F and 'k' to U+212A. Read forms (`PRAGMA journal_mode`) are allowed.
 */
bool	gateway_pragma_disallowed(const char *sql, size_t len);

#endif
