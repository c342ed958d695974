/*
 * The query string of an HTTP request, parsed and validated exactly as rqlite's
 * NewQueryParams does (API.md §1.1-1.2), so the 400 texts match byte for byte.
 *
 * Flags are enabled by the mere presence of their key, whatever the value
 * (`?transaction=false` enables transactions). Keys are case-sensitive. When a key
 * is repeated the first value counts (Go's url.Values, v[0]).
 */
#ifndef RQ_GATEWAY_PARAMS_H
#define RQ_GATEWAY_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Long enough for every 400 text this module produces. */
#define GATEWAY_PARAMS_ERR_MAX	128

#define GATEWAY_DEFAULT_TIMEOUT_NS		(INT64_C(30) * 1000000000)
#define GATEWAY_DEFAULT_LINEARIZABLE_TIMEOUT_NS	(INT64_C(10) * 1000000000)

enum gateway_level {
	GATEWAY_LEVEL_WEAK = 0,		/* default, and for unknown strings */
	GATEWAY_LEVEL_NONE,
	GATEWAY_LEVEL_LINEARIZABLE,
	GATEWAY_LEVEL_STRONG,
	GATEWAY_LEVEL_AUTO,
};

enum gateway_backup_fmt {
	GATEWAY_BACKUP_BINARY = 0,	/* default, and for unknown strings */
	GATEWAY_BACKUP_SQL,
	GATEWAY_BACKUP_DELETE,
};

struct gateway_params {
	/* flags (presence) */
	bool	pretty, timings, transaction, associative, blob_array;
	bool	qualify_columns, freshness_strict, redirect, raft_index;
	bool	queue, wait, noleader, norwrandom, norwtime, noparse;
	bool	vacuum, compress, nonvoters, sync, bypass;

	enum gateway_level	level;		/* `level`, case-insensitive */
	enum gateway_backup_fmt	fmt;		/* `fmt`, case-insensitive */

	/* durations in ns; has_* says whether the key was present */
	bool	has_timeout, has_freshness, has_db_timeout, has_linearizable_timeout;
	int64_t	timeout_ns;			/* default 30s */
	int64_t	freshness_ns;			/* default 0 */
	int64_t	db_timeout_ns;			/* default 0 = none */
	int64_t	linearizable_timeout_ns;	/* default 10s (/db/query's default) */

	bool	has_retries, has_trailing_logs;
	int64_t	retries;			/* default 0 */
	int64_t	trailing_logs;			/* default 0 */

	/* strings: NULL when absent, else URL-decoded, NUL-terminated, owned */
	char	*q;		/* never "" (that is a 400) */
	char	*key;		/* /status, /debug/vars */
	char	*ver;		/* /nodes */
	char	*tables;	/* backup fmt=sql, raw comma-separated list */
	char	*level_str;	/* raw `level` value, for logs */
};

/*
 * Parses raw_query (the part after '?', without it; NULL or "" for none) into p,
 * which need not be initialised. Returns 0, or -1 with the exact 400 body text
 * (without the trailing newline http.Error adds) in err; p is then freed and
 * zeroed. The checks run in rqlite's order: malformed query string (Go's
 * url.ParseQuery message, e.g. `invalid URL escape "%zz"`,
 * `invalid semicolon separator in query`), `freshness_strict requires freshness`,
 * `<name> is not a valid duration` for timeout, freshness, db_timeout,
 * linearizable_timeout, `<name> is not a valid integer` for retries,
 * trailing_logs, and `query parameter not set` for an empty q.
 */
int	gateway_params_parse(const char *raw_query, struct gateway_params *p,
	    char *err, size_t errlen);

/* Frees the strings of p (p itself is not freed); safe on a zeroed struct. */
void	gateway_params_free(struct gateway_params *p);

/*
 * Go's url.QueryUnescape: '+' → space, %XX → byte. Returns a malloc'd
 * NUL-terminated string (length in *out_len if non-NULL), or NULL with Go's
 * message in err on a bad escape (NULL with err[0] == 0 on allocation failure).
 */
char	*gateway_query_unescape(const char *s, size_t len, size_t *out_len,
	    char *err, size_t errlen);

const char *gateway_level_name(enum gateway_level level);

#endif
