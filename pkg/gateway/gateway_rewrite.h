/*
 * Non-deterministic SQL made deterministic before it enters the Raft log
 * (API.md §3.4), so every node applies the same values:
 *   RANDOM()            → a random int64 literal (not inside ORDER BY terms)
 *   RANDOMBLOB(N)       → x'<max(N,1) random bytes in upper-case hex>' when N is
 *                         an integer literal (not inside ORDER BY terms)
 *   date/time/datetime/julianday/unixepoch('now', …), strftime(fmt, 'now', …),
 *   timediff('now', 'now')
 *                       → the current time as a Julian-day literal with 6
 *                         decimals, computed in UTC, one timestamp per statement.
 * 'now' may be a string literal or an identifier ("now", [now], `now`, now), any case.
 *
 * Unlike rqlite we do not parse to an AST and re-serialise: a SQLite-compatible
 * tokenizer (strings with '' escapes, "ident", [ident], `ident`, -- and block
 * comments, x'..' blobs, numbers, punctuation) and a paren-depth tracker find the
 * calls, and the literals are spliced into the original text, which is otherwise
 * kept byte for byte (rqlite would print `INSERT INTO "foo" ("v") VALUES (…)`; we
 * print `INSERT INTO foo(v) VALUES(…)`). Anything not understood is left as is.
 * The pre-filter is rqlite's: a statement is examined only if its lower-cased
 * text contains random( or randomblob( (rand on), time( date( julianday(
 * unixepoch( timediff( (time on), "returning " or "explain ".
 */
#ifndef RQ_GATEWAY_REWRITE_H
#define RQ_GATEWAY_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gateway_body;
struct json_writer;

#define GATEWAY_REWRITE_ERR_MAX		128
/* Larger RANDOMBLOB(N) literals are left for SQLite to evaluate (memory bound). */
#define GATEWAY_REWRITE_MAX_BLOB	(1024 * 1024)

struct gateway_rewrite_opts {
	bool	rand;		/* !norwrandom */
	bool	time;		/* !norwtime */
	/* Randomness and clock; NULL = getrandom(2) / clock_gettime(CLOCK_REALTIME). */
	uint64_t (*rand64)(void *ctx);			/* one random 64-bit value */
	int64_t	 (*now_ns)(void *ctx);			/* Unix time in ns */
	void	*ctx;
};

struct gateway_rewrite_result {
	char	*sql;		/* malloc'd rewritten text, or NULL when unchanged */
	size_t	 sql_len;
	bool	 returning;	/* a RETURNING keyword outside strings/comments */
	bool	 explain;	/* the statement starts with EXPLAIN */
};

/*
 * Rewrites one statement. Returns 0 (res->sql NULL when nothing changed), or -1
 * when the text cannot be tokenized (unterminated string, quoted identifier,
 * blob or block comment; bad blob literal) with a message in err — the caller
 * then keeps the original text, as rqlite does for unparseable SQL — or -1 with
 * err "out of memory".
 */
int	gateway_rewrite_sql(const char *sql, size_t len, const struct gateway_rewrite_opts *o,
	    struct gateway_rewrite_result *res, char *err, size_t errlen);

/* rqlite's pre-filter; true when the statement needs a look. */
bool	gateway_rewrite_wanted(const char *sql, size_t len, bool rand, bool time);

/*
 * Rewrites every statement of b in place (untokenizable ones are left alone).
 * Returns 0, or -1 on allocation failure.
 */
int	gateway_rewrite_body(struct gateway_body *b, const struct gateway_rewrite_opts *o);

/*
 * The /db/sql response: {"results":[{"original":…,"rewritten":…}|{"original":…,
 * "error":…}…]} plus "time" when time_s > 0 (the caller passes 0 without ?timings).
 * Every statement is tokenized (no pre-filter), "rewritten" is the text after
 * rewriting (the original when nothing changed); an empty statement is an error.
 */
int	gateway_rewrite_explain(const struct gateway_body *b, const struct gateway_rewrite_opts *o,
	    double time_s, struct json_writer *w);

/* Julian day number of a Unix time in ns, as SQLite's julianday() computes it. */
double	gateway_julian_day(int64_t unix_ns);

#endif
