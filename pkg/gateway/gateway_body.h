/*
 * HTTP request bodies (API.md §1.3) turned into statements. Packing them into the
 * msgpack command map of docs/wire-formats.md is gateway_command.h; the two are
 * separate steps so the gateway can check and rewrite each statement's SQL
 * (gateway_policy.h, gateway_rewrite.h) in between:
 *
 *   struct gateway_body b;
 *   if (gateway_body_parse_json(body, len, &b, err, sizeof(err)) == -1)
 *           → 400 with err
 *   gateway_rewrite_body(&b, &rw_opts);
 *   gateway_body_pack_command(&b, IPC_CMD_EXECUTE, tx, to_ms, &limits, &pk);
 *   gateway_body_free(&b);
 *
 * The JSON is read with a small parser of our own (gateway_json_reader.h), walked
 * as Go's streaming json.Decoder is by rqlite's ParseRequest, so that which of the
 * three 400 texts a bad body gets matches rqlite (`[1,` is `invalid request`, not
 * invalid JSON, because the decoder rejects the element before it sees the
 * truncation), data after the closing `]` is ignored as Go ignores it, \u0000
 * inside strings is kept, invalid UTF-8 in strings becomes U+FFFD, and integers
 * beyond int64 become REAL instead of failing (jansson does none of these).
 */
#ifndef RQ_GATEWAY_BODY_H
#define RQ_GATEWAY_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_BODY_ERR_MAX	128

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

#endif
