/*
 * gateway_rewrite: literalises RANDOM(), RANDOMBLOB(N) and 'now' in date/time
 * functions before a statement enters the Raft log, and renders /db/sql. Works
 * on SQLite tokens and paren depth; the original text is kept and only the
 * rewritten spans are replaced (see gateway_rewrite.h for why).
 */
#include "gateway_rewrite.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "gateway_body.h"
#include "gateway_sqltok.h"
#include "json_writer.h"

/* SQLite's keywords: a bare word before `name(` that is not one is a column name. */
static const char *const rw_keywords[] = {
	"ABORT", "ACTION", "ADD", "AFTER", "ALL", "ALTER", "ALWAYS", "ANALYZE", "AND", "AS",
	"ASC", "ATTACH", "AUTOINCREMENT", "BEFORE", "BEGIN", "BETWEEN", "BY", "CASCADE",
	"CASE", "CAST", "CHECK", "COLLATE", "COLUMN", "COMMIT", "CONFLICT", "CONSTRAINT",
	"CREATE", "CROSS", "CURRENT", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP",
	"DATABASE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DELETE", "DESC", "DETACH",
	"DISTINCT", "DO", "DROP", "EACH", "ELSE", "END", "ESCAPE", "EXCEPT", "EXCLUDE",
	"EXCLUSIVE", "EXISTS", "EXPLAIN", "FAIL", "FILTER", "FIRST", "FOLLOWING", "FOR",
	"FOREIGN", "FROM", "FULL", "GENERATED", "GLOB", "GROUP", "GROUPS", "HAVING", "IF",
	"IGNORE", "IMMEDIATE", "IN", "INDEX", "INDEXED", "INITIALLY", "INNER", "INSERT",
	"INSTEAD", "INTERSECT", "INTO", "IS", "ISNULL", "JOIN", "KEY", "LAST", "LEFT", "LIKE",
	"LIMIT", "MATCH", "MATERIALIZED", "NATURAL", "NO", "NOT", "NOTHING", "NOTNULL",
	"NULL", "NULLS", "OF", "OFFSET", "ON", "OR", "ORDER", "OTHERS", "OUTER", "OVER",
	"PARTITION", "PLAN", "PRAGMA", "PRECEDING", "PRIMARY", "QUERY", "RAISE", "RANGE",
	"RECURSIVE", "REFERENCES", "REGEXP", "REINDEX", "RELEASE", "RENAME", "REPLACE",
	"RESTRICT", "RETURNING", "RIGHT", "ROLLBACK", "ROW", "ROWS", "SAVEPOINT", "SELECT",
	"SET", "TABLE", "TEMP", "TEMPORARY", "THEN", "TIES", "TO", "TRANSACTION", "TRIGGER",
	"UNBOUNDED", "UNION", "UNIQUE", "UPDATE", "USING", "VACUUM", "VALUES", "VIEW",
	"VIRTUAL", "WHEN", "WHERE", "WINDOW", "WITH", "WITHOUT",
};


static bool
rw_is_keyword(const char *s, const struct sqltok *t)
{
	for (size_t k = 0; k < sizeof(rw_keywords) / sizeof(rw_keywords[0]); k++)
		if (sqltok_is(s, t, rw_keywords[k]))
			return true;
	return false;
}

/* The name of an identifier token without its quotes (no unescaping needed here). */
static void
rw_ident_name(const char *s, const struct sqltok *t, const char **p, size_t *n)
{
	*p = s + t->start;
	*n = t->len;
	if (t->type == SQLTOK_QIDENT && t->len >= 2) {
		(*p)++;
		*n -= 2;
	}
}

static bool
rw_name_is(const char *s, const struct sqltok *t, const char *name)
{
	const char *p;
	size_t n;

	if (t->type != SQLTOK_IDENT && t->type != SQLTOK_QIDENT)
		return false;
	rw_ident_name(s, t, &p, &n);
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* 'now' as a string literal or an identifier, any case. */
static bool
rw_is_now(const char *s, const struct sqltok *t)
{
	if (t->type == SQLTOK_STRING)
		return t->len == 5 && strncasecmp(s + t->start + 1, "now", 3) == 0;
	return rw_name_is(s, t, "now");
}

struct edit {
	size_t	 start, end;	/* replaced byte range */
	char	 text[64];	/* replacement, or … */
	char	*big;		/* … a malloc'd one (blob literals) */
};

struct edits {
	struct edit	*v;
	size_t		 n, cap;
};

static struct edit *
rw_edit(struct edits *e, size_t start, size_t end)
{
	if (e->n == e->cap) {
		size_t nc = e->cap ? e->cap * 2 : 8;
		struct edit *nv = realloc(e->v, nc * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		e->v = nv;
		e->cap = nc;
	}
	memset(&e->v[e->n], 0, sizeof(e->v[0]));
	e->v[e->n].start = start;
	e->v[e->n].end = end;
	return &e->v[e->n++];
}

static void
rw_edits_free(struct edits *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].big);
	free(e->v);
}

static uint64_t
rw_default_rand(void *ctx)
{
	uint64_t v = 0;

	(void)ctx;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
	}
	return v;
}

static int64_t
rw_default_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double
gateway_julian_day(int64_t unix_ns)
{
	/* rqlite's formula (Meeus) on the UTC calendar fields */
	int64_t sec = unix_ns / 1000000000, nsec = unix_ns % 1000000000;
	time_t tt;
	struct tm tm;
	int year, month, a, b;
	double frac;

	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	tt = (time_t)sec;
	gmtime_r(&tt, &tm);
	year = tm.tm_year + 1900;
	month = tm.tm_mon + 1;
	if (month <= 2) {
		year--;
		month += 12;
	}
	a = year / 100;
	b = 2 - a + a / 4;
	frac = ((double)tm.tm_hour + (double)tm.tm_min / 60 +
	    ((double)tm.tm_sec + (double)nsec / 1e9) / 3600) / 24.0;
	return floor(365.25 * (double)(year + 4716)) + floor(30.6001 * (double)(month + 1)) +
	    (double)tm.tm_mday + (double)b - 1524.5 + frac;
}

/* Significant-token index helpers: -1 when out of range. */
struct rw_call {
	size_t	 name;		/* token index of the function name */
	size_t	 open, close;	/* token indexes of ( and ) */
	size_t	 nargs;
	size_t	 arg_first[3], arg_last[3];	/* first three args' token ranges */
};

/* Finds the matching ')' and splits the top-level arguments. */
static bool
rw_scan_call(const char *s, const struct sqltoks *t, size_t open, struct rw_call *c)
{
	int depth = 0;
	size_t argstart = open + 1;

	c->open = open;
	c->nargs = 0;
	for (size_t i = open; i < t->n; i++) {
		const struct sqltok *k = &t->v[i];

		if (k->type != SQLTOK_PUNCT)
			continue;
		if (s[k->start] == '(') {
			depth++;
		} else if (s[k->start] == ')') {
			if (--depth == 0) {
				if (i > argstart || c->nargs > 0) {
					if (c->nargs < 3) {
						c->arg_first[c->nargs] = argstart;
						c->arg_last[c->nargs] = i - 1;
					}
					c->nargs++;
				}
				c->close = i;
				return true;
			}
		} else if (s[k->start] == ',' && depth == 1) {
			if (c->nargs < 3) {
				c->arg_first[c->nargs] = argstart;
				c->arg_last[c->nargs] = i - 1;
			}
			c->nargs++;
			argstart = i + 1;
		} else if (s[k->start] == ';') {
			return false;
		}
	}
	return false;
}

/* Argument k is exactly one token, and it is 'now'. */
static bool
rw_arg_is_now(const char *s, const struct sqltoks *t, const struct rw_call *c, size_t k)
{
	return c->nargs > k && k < 3 && c->arg_first[k] == c->arg_last[k] &&
	    rw_is_now(s, &t->v[c->arg_first[k]]);
}

struct rw_state {
	const char			*s;
	size_t				 n;
	const struct gateway_rewrite_opts *o;
	struct sqltoks			 t;
	struct edits			 e;
	bool				 have_jd;
	char				 jd[32];
};

static int
rw_now_edit(struct rw_state *st, size_t tokidx)
{
	struct edit *ed;
	const struct sqltok *k = &st->t.v[tokidx];

	if (!st->have_jd) {
		int64_t ns = st->o->now_ns ? st->o->now_ns(st->o->ctx) : rw_default_now(NULL);

		snprintf(st->jd, sizeof(st->jd), "%f", gateway_julian_day(ns));
		st->have_jd = true;
	}
	if ((ed = rw_edit(&st->e, k->start, k->start + k->len)) == NULL)
		return -1;
	snprintf(ed->text, sizeof(ed->text), "%s", st->jd);
	return 0;
}

static uint64_t
rw_rand(struct rw_state *st)
{
	return st->o->rand64 ? st->o->rand64(st->o->ctx) : rw_default_rand(NULL);
}

/* Decimal digits only, as strconv.Atoi would accept a NumberLit. */
static bool
rw_small_int(const char *p, size_t n, long *out)
{
	long v = 0;

	if (n == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

static bool
rw_is_punct(const char *s, const struct sqltok *k, char c)
{
	return k->type == SQLTOK_PUNCT && s[k->start] == c;
}

static int
rw_walk(struct rw_state *st, bool *returning, bool *explain)
{
	const char *s = st->s;
	struct sqltoks *t = &st->t;
	/* ORDER BY state per paren depth; terms end at LIMIT/window frame/; or ')' */
	bool ob[256] = { false };
	int depth = 0;
	size_t skip_until = 0;	/* tokens inside a call already replaced */

	*explain = t->n > 0 && sqltok_is(s, &t->v[0], "EXPLAIN");
	*returning = false;
	for (size_t i = 0; i < t->n; i++) {
		const struct sqltok *k = &t->v[i];
		bool in_ob = false;

		if (sqltok_is(s, k, "RETURNING"))
			*returning = true;
		if (rw_is_punct(s, k, '(')) {
			if (depth < 255)
				ob[++depth] = false;
			continue;
		}
		if (rw_is_punct(s, k, ')')) {
			if (depth > 0)
				depth--;
			continue;
		}
		if (rw_is_punct(s, k, ';')) {
			ob[depth] = false;
			continue;
		}
		if (sqltok_is(s, k, "ORDER") && i + 1 < t->n && sqltok_is(s, &t->v[i + 1], "BY")) {
			ob[depth] = true;
			continue;
		}
		if (sqltok_is(s, k, "LIMIT") || sqltok_is(s, k, "ROWS") ||
		    sqltok_is(s, k, "RANGE") || sqltok_is(s, k, "GROUPS") ||
		    sqltok_is(s, k, "UNION") || sqltok_is(s, k, "EXCEPT") ||
		    sqltok_is(s, k, "INTERSECT") || sqltok_is(s, k, "RETURNING")) {
			ob[depth] = false;
			continue;
		}
		if (i < skip_until)
			continue;
		if ((k->type != SQLTOK_IDENT && k->type != SQLTOK_QIDENT) || i + 1 >= t->n ||
		    !rw_is_punct(s, &t->v[i + 1], '('))
			continue;
		/* `col TYPE(…)` in a column definition is not a call */
		if (i > 0) {
			const struct sqltok *pv = &t->v[i - 1];

			if (pv->type == SQLTOK_QIDENT || (pv->type == SQLTOK_IDENT && !rw_is_keyword(s, pv)) ||
			    rw_is_punct(s, pv, '.'))
				continue;
		}
		for (int d = 0; d <= depth; d++)
			in_ob = in_ob || ob[d];

		struct rw_call c;
		if (!rw_scan_call(s, t, i + 1, &c))
			continue;
		c.name = i;
		if (st->o->time && (rw_name_is(s, k, "date") || rw_name_is(s, k, "time") ||
		    rw_name_is(s, k, "datetime") || rw_name_is(s, k, "julianday") ||
		    rw_name_is(s, k, "unixepoch"))) {
			if (rw_arg_is_now(s, t, &c, 0) && rw_now_edit(st, c.arg_first[0]) == -1)
				return -1;
		} else if (st->o->time && rw_name_is(s, k, "strftime")) {
			if (rw_arg_is_now(s, t, &c, 1) && rw_now_edit(st, c.arg_first[1]) == -1)
				return -1;
		} else if (st->o->time && rw_name_is(s, k, "timediff")) {
			if (c.nargs > 1) {
				if (rw_arg_is_now(s, t, &c, 0) &&
				    rw_now_edit(st, c.arg_first[0]) == -1)
					return -1;
				if (rw_arg_is_now(s, t, &c, 1) &&
				    rw_now_edit(st, c.arg_first[1]) == -1)
					return -1;
			}
		} else if (!in_ob && st->o->rand && rw_name_is(s, k, "random")) {
			struct edit *ed;
			size_t from = k->start, to = t->v[c.close].start + 1;
			int64_t r = (int64_t)rw_rand(st);

			if ((ed = rw_edit(&st->e, from, to)) == NULL)
				return -1;
			snprintf(ed->text, sizeof(ed->text), "%s%" PRId64 "%s",
			    r < 0 && from > 0 && s[from - 1] == '-' ? " " : "", r,
			    to < st->n && sqltok_idchar((unsigned char)s[to]) ? " " : "");
			skip_until = c.close + 1;
		} else if (!in_ob && st->o->rand && rw_name_is(s, k, "randomblob")) {
			long nb;
			struct edit *ed;
			const struct sqltok *a;

			if (c.nargs != 1 || c.arg_first[0] != c.arg_last[0])
				continue;
			a = &t->v[c.arg_first[0]];
			if (a->type != SQLTOK_NUMBER || !rw_small_int(s + a->start, a->len, &nb) ||
			    nb > GATEWAY_REWRITE_MAX_BLOB)
				continue;
			if (nb < 1)
				nb = 1;
			if ((ed = rw_edit(&st->e, k->start, t->v[c.close].start + 1)) == NULL)
				return -1;
			if ((ed->big = malloc((size_t)nb * 2 + 4)) == NULL)
				return -1;
			ed->big[0] = 'x';
			ed->big[1] = '\'';
			for (long b = 0; b < nb; b += 8) {
				uint64_t r = rw_rand(st);

				for (long q = 0; q < 8 && b + q < nb; q++) {
					static const char hx[] = "0123456789ABCDEF";
					unsigned char byte = (unsigned char)(r >> (q * 8));

					ed->big[2 + (b + q) * 2] = hx[byte >> 4];
					ed->big[3 + (b + q) * 2] = hx[byte & 15];
				}
			}
			ed->big[2 + nb * 2] = '\'';
			ed->big[3 + nb * 2] = '\0';
			skip_until = c.close + 1;
		}
	}
	return 0;
}

static int
rw_apply(struct rw_state *st, struct gateway_rewrite_result *res)
{
	size_t total = st->n + 1, at = 0, o = 0;
	char *out;

	for (size_t i = 0; i < st->e.n; i++) {
		const struct edit *ed = &st->e.v[i];

		total += strlen(ed->big ? ed->big : ed->text);
	}
	if ((out = malloc(total)) == NULL)
		return -1;
	for (size_t i = 0; i < st->e.n; i++) {
		const struct edit *ed = &st->e.v[i];
		const char *rep = ed->big ? ed->big : ed->text;
		size_t rl = strlen(rep);

		if (ed->start < at)
			continue;	/* overlapping: keep the first */
		memcpy(out + o, st->s + at, ed->start - at);
		o += ed->start - at;
		memcpy(out + o, rep, rl);
		o += rl;
		at = ed->end;
	}
	memcpy(out + o, st->s + at, st->n - at);
	o += st->n - at;
	out[o] = '\0';
	res->sql = out;
	res->sql_len = o;
	return 0;
}

static int
rw_edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int
gateway_rewrite_sql(const char *sql, size_t len, const struct gateway_rewrite_opts *o,
    struct gateway_rewrite_result *res, char *err, size_t errlen)
{
	struct rw_state st = { .s = sql, .n = len, .o = o };
	int rc;

	memset(res, 0, sizeof(*res));
	err[0] = '\0';
	rc = sqltok_split(sql, len, &st.t, err, errlen);
	if (rc == 0 && rw_walk(&st, &res->returning, &res->explain) == -1)
		rc = -2;
	if (rc == 0 && st.e.n > 0) {
		qsort(st.e.v, st.e.n, sizeof(st.e.v[0]), rw_edit_cmp);
		if (rw_apply(&st, res) == -1)
			rc = -2;
	}
	if (rc == -2)
		snprintf(err, errlen, "out of memory");
	free(st.t.v);
	rw_edits_free(&st.e);
	return rc == 0 ? 0 : -1;
}

/* needle is lower case. The first-letter test keeps the scan cheap: it runs for every
 * statement of every write, several needles each. */
static bool
rw_contains_ci(const char *s, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	char first = needle[0];

	for (size_t i = 0; i + m <= n; i++)
		if ((char)(s[i] | 0x20) == first && strncasecmp(s + i, needle, m) == 0)
			return true;
	return false;
}

bool
gateway_rewrite_wanted(const char *sql, size_t len, bool rand, bool time)
{
	static const char *const times[] = { "time(", "date(", "julianday(", "unixepoch(",
	    "timediff(" };

	if (rand && (rw_contains_ci(sql, len, "random(") ||
	    rw_contains_ci(sql, len, "randomblob(")))
		return true;
	if (time)
		for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
			if (rw_contains_ci(sql, len, times[i]))
				return true;
	return rw_contains_ci(sql, len, "returning ") || rw_contains_ci(sql, len, "explain ");
}

int
gateway_rewrite_body(struct gateway_body *b, const struct gateway_rewrite_opts *o)
{
	for (size_t i = 0; i < b->n; i++) {
		struct gateway_stmt *s = &b->stmts[i];
		struct gateway_rewrite_result res;
		char err[GATEWAY_REWRITE_ERR_MAX];

		if (s->sql_len == 0 || !gateway_rewrite_wanted(s->sql, s->sql_len, o->rand, o->time))
			continue;
		if (gateway_rewrite_sql(s->sql, s->sql_len, o, &res, err, sizeof(err)) == -1) {
			if (strcmp(err, "out of memory") == 0)
				return -1;
			continue;	/* untokenizable: left for SQLite to report */
		}
		if (res.sql != NULL)
			gateway_stmt_set_sql(s, res.sql, res.sql_len);
	}
	return 0;
}

/*
 * Without a full parser we still refuse what cannot start a statement: the first word
 * must be one SQLite knows (sqlite.org/lang.html). Returns false and writes SQLite's
 * own message for a bad first word into err.
 */
static bool
gateway_rewrite_first_word_ok(const char *sql, size_t len, char *err, size_t errlen)
{
	static const char *words[] = {
		"ALTER", "ANALYZE", "ATTACH", "BEGIN", "COMMIT", "CREATE", "DELETE", "DETACH",
		"DROP", "END", "EXPLAIN", "INSERT", "PRAGMA", "REINDEX", "RELEASE", "REPLACE",
		"ROLLBACK", "SAVEPOINT", "SELECT", "UPDATE", "UPSERT", "VACUUM", "VALUES", "WITH",
	};
	size_t k = 0, n;

	while (k < len && isspace((unsigned char)sql[k]))
		k++;
	if (k < len && (sql[k] == '(' || sql[k] == '-' || sql[k] == '/' || sql[k] == ';'))
		return true;	/* (SELECT …), comments: leave to SQLite */
	n = k;
	while (n < len && (isalnum((unsigned char)sql[n]) || sql[n] == '_'))
		n++;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n - k && strncasecmp(sql + k, words[i], n - k) == 0)
			return true;
	if (n == k)
		n = k + 1;
	snprintf(err, errlen, "near \"%.*s\": syntax error", (int)(n - k), sql + k);
	return false;
}

int
gateway_rewrite_explain(const struct gateway_body *b, const struct gateway_rewrite_opts *o,
    double time_s, struct json_writer *w)
{
	json_writer_object_begin(w);
	json_writer_key(w, "results");
	json_writer_array_begin(w);
	for (size_t i = 0; i < b->n; i++) {
		const struct gateway_stmt *s = &b->stmts[i];
		struct gateway_rewrite_result res;
		char err[GATEWAY_REWRITE_ERR_MAX];
		size_t k = 0;

		json_writer_object_begin(w);
		json_writer_key(w, "original");
		json_writer_string_n(w, s->sql, s->sql_len);
		while (k < s->sql_len && isspace((unsigned char)s->sql[k]))
			k++;
		if (k == s->sql_len) {
			json_writer_key(w, "error");
			json_writer_string(w, "empty statement");
		} else if (!gateway_rewrite_first_word_ok(s->sql, s->sql_len, err, sizeof(err))) {
			json_writer_key(w, "error");
			json_writer_string(w, err);
		} else if (gateway_rewrite_sql(s->sql, s->sql_len, o, &res, err, sizeof(err)) == -1) {
			if (strcmp(err, "out of memory") == 0)
				return -1;
			json_writer_key(w, "error");
			json_writer_string(w, err);
		} else {
			json_writer_key(w, "rewritten");
			if (res.sql != NULL)
				json_writer_string_n(w, res.sql, res.sql_len);
			else
				json_writer_string_n(w, s->sql, s->sql_len);
			free(res.sql);
		}
		json_writer_object_end(w);
	}
	json_writer_array_end(w);
	if (time_s != 0) {
		json_writer_key(w, "time");
		json_writer_double(w, time_s);
	}
	json_writer_object_end(w);
	return json_writer_failed(w) ? -1 : 0;
}
