/*
 * HTTP request bodies (API.md §1.3) turned into statements, and statements packed
 * into the msgpack command map of docs/wire-formats.md ({k, tx, s, to}).
 *
 * Parsing and packing are two steps so the gateway can rewrite each statement's
 * SQL (gateway_rewrite.h) in between:
 *
 *   struct gateway_body b;
 *   if (gateway_body_parse_json(body, len, &b, err, sizeof(err)) == -1)
 *           → 400 with err
 *   gateway_rewrite_body(&b, &rw_opts);
 *   gateway_body_pack_command(&b, GATEWAY_CMD_EXECUTE, tx, to_ms, &sbuf);
 *   gateway_body_free(&b);
 *
 * The JSON is read with a small parser of our own that follows Go's streaming
 * json.Decoder as rqlite's ParseRequest uses it, so that which of the three 400
 * texts a bad body gets matches rqlite (`[1,` is `invalid request`, not invalid
 * JSON, because the decoder rejects the element before it sees the truncation),
 * data after the closing `]` is ignored as Go ignores it, \u0000 inside strings
 * is kept, invalid UTF-8 in strings becomes U+FFFD, and integers beyond int64
 * become REAL instead of failing (jansson does none of these).
 */
#ifndef RQ_GATEWAY_BODY_H
#define RQ_GATEWAY_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define GATEWAY_BODY_ERR_MAX	128

/* Command kinds, the `k` of the command map (docs/wire-formats.md). Kind 8
 * (maintenance) is proposed by consensus, never by the gateway. */
enum gateway_cmd_kind {
	GATEWAY_CMD_EXECUTE = 1,
	GATEWAY_CMD_QUERY = 2,
	GATEWAY_CMD_REQUEST = 3,
	GATEWAY_CMD_NOOP = 4,
	GATEWAY_CMD_LOAD_FILE = 5,	/* {k, db: bin}: a SQLite file (gateway_load.c) */
	GATEWAY_CMD_LOAD_SQL = 6,	/* {k, sql: str}: a SQL dump */
	GATEWAY_CMD_LOAD_CHUNK = 7,	/* one chunk of a SQLite file (gateway_load_chunks.c) */
};

struct gateway_stmt {
	char	*sql;		/* NUL-terminated, owned; may contain NULs from \u0000 */
	size_t	 sql_len;	/* 0 = empty statement: storage skips it, no result */
	char	*args;		/* the arguments, already msgpack-encoded back to back; owned */
	size_t	 args_len;
	uint32_t nargs;		/* number of msgpack objects in args */
};

struct gateway_body {
	struct gateway_stmt	*stmts;
	size_t			 n;
	size_t			 cap;
};

/*
 * Parses a JSON request body. Returns 0, or -1 with the 400 text in err (b is then
 * empty): `invalid JSON body` (not JSON, truncated, empty or whitespace-only body),
 * `invalid request` (top level not an array, an element neither string nor array,
 * a parameter array empty or not starting with a string), `no statements` (`[]`),
 * `unsupported type <T>` (a parameter Go could not bind: T is Go's %T, e.g.
 * `unsupported type map[string]interface {}`, or the number's text for a bad
 * byte-array element, e.g. `unsupported type 256`), or `out of memory`.
 * Scalars: an integer literal fitting int64 → int, any other number → float,
 * true/false → bool, null → nil, a string `x'<even hex>'` (spaces trimmed, either
 * case of x) → bin, other strings → str, an array of integers 0..255 → bin;
 * an object → one map argument (named parameters).
 */
int	gateway_body_parse_json(const char *body, size_t len, struct gateway_body *b,
	    char *err, size_t errlen);

/* One statement with no arguments (text/plain bodies, GET ?q=). 0 or -1 (ENOMEM). */
int	gateway_body_from_sql(const char *sql, size_t len, struct gateway_body *b);

void	gateway_body_free(struct gateway_body *b);

/* Statements that will produce a result (sql_len > 0). */
size_t	gateway_body_count_nonempty(const struct gateway_body *b);

/* Replaces a statement's SQL; takes ownership of sql (malloc'd, NUL-terminated). */
void	gateway_stmt_set_sql(struct gateway_stmt *s, char *sql, size_t len);

/*
 * The limits a write entry carries so that every node applies it alike: `st`, its
 * SQLite step budget, and `ml`, its longest string or BLOB (docs/wire-formats.md).
 * A zero field is not packed.
 */
struct gateway_cmd_limits {
	uint64_t steps;
	uint64_t max_value;
};

/*
 * Packs the command map {k: kind, tx: tx, s: [[sql, args…]…], to: timeout_ms, st, ml}
 * (`tx` only when true, `to` only when non-zero, `st`/`ml` from lim, which may be
 * NULL) into pk. Empty statements are packed too (storage skips them, as rqlite does).
 */
int	gateway_body_pack_command(const struct gateway_body *b, enum gateway_cmd_kind kind,
	    bool tx, uint64_t timeout_ms, const struct gateway_cmd_limits *lim,
	    msgpack_packer *pk);
/* Packs the `st`/`ml` pairs of lim (as many as gateway_cmd_limits_count says). */
unsigned gateway_cmd_limits_count(const struct gateway_cmd_limits *lim);
int	gateway_cmd_limits_pack(const struct gateway_cmd_limits *lim, msgpack_packer *pk);

/* Packs just the statements array (the `s` value). */
/* One statement as the array [sql, args…] of the command's `s`. */
int	gateway_stmt_pack(const struct gateway_stmt *s, msgpack_packer *pk);
int	gateway_body_pack_stmts(const struct gateway_body *b, msgpack_packer *pk);

#endif
