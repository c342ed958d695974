/*
 * gateway_policy: the statement policy applied before the log (see gateway_policy.h).
 *
 * A text may hold several statements separated by ';'. A CREATE TRIGGER's body holds
 * semicolons of its own: it runs from BEGIN to the END that closes no CASE, and
 * only a ';' after that ends the statement.
 *
 * Transactions are followed as SQLite runs them: BEGIN opens one; SAVEPOINT opens one
 * when none is open and pushes its name; RELEASE pops back to the newest savepoint of
 * that name and, if that empties the stack of a transaction a SAVEPOINT opened, ends
 * it; ROLLBACK TO keeps the transaction; COMMIT, END and ROLLBACK end it. What ends up
 * open when the request's last statement has run is what the request would leave
 * behind. A statement SQLite would reject (BEGIN inside a transaction, RELEASE of an
 * unknown name) changes nothing here, as it changes nothing there.
 */
#include "gateway_policy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sql_policy.h"
#include "gateway_body.h"
#include "gateway_pragma.h"
#include "gateway_sqltok.h"

#define TX_NAMES_MAX	32
#define TX_NAME_MAX	64

struct tx_state {
	bool open;
	bool by_begin;		/* BEGIN opened it: releasing every savepoint leaves it open */
	bool lost;		/* deeper or longer than we follow: storage decides */
	int depth;
	char names[TX_NAMES_MAX][TX_NAME_MAX];
};

static bool
is_punct(const char *s, const struct sqltok *t, char c)
{
	return t->type == SQLTOK_PUNCT && s[t->start] == c;
}

/* A name token (bare or quoted) as a lower-case string without its quotes. */
static bool
name_of(const char *s, const struct sqltok *t, char *out, size_t outlen)
{
	const char *p = s + t->start;
	size_t n = t->len;

	if (t->type == SQLTOK_QIDENT || t->type == SQLTOK_STRING) {
		if (n < 2)
			return false;
		p++;
		n -= 2;
	} else if (t->type != SQLTOK_IDENT) {
		return false;
	}
	if (n + 1 > outlen)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)p[i]);
	out[n] = '\0';
	return true;
}

/* Index one past the statement starting at token a. */
static size_t
stmt_end(const char *s, const struct sqltoks *tk, size_t a)
{
	bool trigger = false, in_body = false;
	int cases = 0;
	size_t i = a;

	if (a < tk->n && sqltok_is(s, &tk->v[a], "CREATE")) {
		size_t k = a + 1;

		if (k < tk->n && (sqltok_is(s, &tk->v[k], "TEMP") ||
		    sqltok_is(s, &tk->v[k], "TEMPORARY")))
			k++;
		trigger = k < tk->n && sqltok_is(s, &tk->v[k], "TRIGGER");
	}
	for (; i < tk->n; i++) {
		const struct sqltok *t = &tk->v[i];

		if (!in_body && is_punct(s, t, ';'))
			return i;
		if (!trigger)
			continue;
		if (!in_body && sqltok_is(s, t, "BEGIN")) {
			in_body = true;
		} else if (in_body && sqltok_is(s, t, "CASE")) {
			cases++;
		} else if (in_body && sqltok_is(s, t, "END")) {
			if (cases > 0)
				cases--;
			else
				in_body = false;
		}
	}
	return i;
}

/*
 * name( is a call unless it names a table or a CTE: after TABLE, INTO, ON, … or
 * followed by (…) AS. A miss is harmless (storage's authorizer sees every call); a
 * refused table name would not be.
 */
static bool
is_call(const char *s, const struct sqltoks *tk, size_t a, size_t b, size_t i)
{
	static const char *const not_after[] = { "TABLE", "EXISTS", "INTO", "ON", "REFERENCES",
	    "INDEX", "VIEW", "TRIGGER", "UPDATE", "FROM", "JOIN", "WITH", "RECURSIVE" };
	int depth = 0;

	if (i > a)
		for (size_t k = 0; k < sizeof(not_after) / sizeof(not_after[0]); k++)
			if (sqltok_is(s, &tk->v[i - 1], not_after[k]))
				return false;
	for (size_t j = i + 1; j < b; j++) {
		if (is_punct(s, &tk->v[j], '('))
			depth++;
		else if (is_punct(s, &tk->v[j], ')') && --depth == 0)
			return !(j + 1 < b && sqltok_is(s, &tk->v[j + 1], "AS"));
	}
	return true;
}

/* Calls of refused functions anywhere in the statement. */
static const char *
check_functions(const char *s, const struct sqltoks *tk, size_t a, size_t b)
{
	char name[TX_NAME_MAX];
	const char *why;

	for (size_t i = a; i + 1 < b; i++) {
		const struct sqltok *t = &tk->v[i];

		if ((t->type != SQLTOK_IDENT && t->type != SQLTOK_QIDENT) ||
		    !is_punct(s, &tk->v[i + 1], '(') || !is_call(s, tk, a, b, i))
			continue;
		if (name_of(s, t, name, sizeof(name)) &&
		    (why = sql_policy_function_refused(name, strlen(name))) != NULL)
			return why;
	}
	return NULL;
}

/* PRAGMA [schema.]name [= v | (v)] */
static const char *
check_pragma(const char *s, const struct sqltoks *tk, size_t a, size_t b)
{
	size_t i = a + 1;
	bool set;

	if (i + 2 < b && is_punct(s, &tk->v[i + 1], '.'))
		i += 2;		/* schema. */
	if (i >= b || tk->v[i].type != SQLTOK_IDENT)
		return NULL;
	set = i + 1 < b && (is_punct(s, &tk->v[i + 1], '=') || is_punct(s, &tk->v[i + 1], '('));
	return sql_policy_pragma_refused(s + tk->v[i].start, tk->v[i].len, set) ?
	    SQL_POLICY_ERR_PRAGMA : NULL;
}

static void
tx_push(struct tx_state *tx, const char *name)
{
	if (tx->depth >= TX_NAMES_MAX) {
		tx->lost = true;
		return;
	}
	snprintf(tx->names[tx->depth++], TX_NAME_MAX, "%s", name);
}

/* RELEASE name (ROLLBACK TO name with keep): pops back to the newest such savepoint. */
static void
tx_unwind(struct tx_state *tx, const char *name, bool keep)
{
	for (int d = tx->depth - 1; d >= 0; d--) {
		if (strcmp(tx->names[d], name) != 0)
			continue;
		tx->depth = keep ? d + 1 : d;
		if (tx->depth == 0 && !tx->by_begin)
			tx->open = false;
		return;
	}
}

/* One statement's effect on the request's transaction; an error if refused. */
static const char *
check_tx(const char *s, const struct sqltoks *tk, size_t a, size_t b, bool transaction,
    struct tx_state *tx)
{
	const struct sqltok *k = &tk->v[a];
	char name[TX_NAME_MAX];
	size_t i = a + 1;

	if (sqltok_is(s, k, "BEGIN") || sqltok_is(s, k, "COMMIT") || sqltok_is(s, k, "END")) {
		if (transaction)
			return SQL_POLICY_ERR_TX_IN_TX;
		if (sqltok_is(s, k, "BEGIN")) {
			if (!tx->open) {
				tx->open = tx->by_begin = true;
				tx->depth = 0;
			}
		} else {
			tx->open = false;
			tx->depth = 0;
		}
		return NULL;
	}
	if (sqltok_is(s, k, "ROLLBACK")) {
		if (i < b && sqltok_is(s, &tk->v[i], "TRANSACTION"))
			i++;
		if (i < b && sqltok_is(s, &tk->v[i], "TO")) {
			i++;
			if (i < b && sqltok_is(s, &tk->v[i], "SAVEPOINT"))
				i++;
			if (i < b && name_of(s, &tk->v[i], name, sizeof(name)))
				tx_unwind(tx, name, true);
			else
				tx->lost = true;
			return NULL;
		}
		if (transaction)
			return SQL_POLICY_ERR_TX_IN_TX;
		tx->open = false;
		tx->depth = 0;
		return NULL;
	}
	if (sqltok_is(s, k, "SAVEPOINT")) {
		if (i >= b || !name_of(s, &tk->v[i], name, sizeof(name))) {
			tx->lost = true;
			return NULL;
		}
		if (!tx->open) {
			tx->open = true;
			tx->by_begin = false;
		}
		tx_push(tx, name);
		return NULL;
	}
	if (sqltok_is(s, k, "RELEASE")) {
		if (i < b && sqltok_is(s, &tk->v[i], "SAVEPOINT"))
			i++;
		if (i < b && name_of(s, &tk->v[i], name, sizeof(name)))
			tx_unwind(tx, name, false);
		else
			tx->lost = true;
	}
	return NULL;
}

/* One statement, tokens [a, b). */
static const char *
check_stmt(const char *s, const struct sqltoks *tk, size_t a, size_t b, bool transaction,
    struct tx_state *tx)
{
	const char *why;
	bool explain = false;

	if (a < b && sqltok_is(s, &tk->v[a], "EXPLAIN")) {
		explain = true;
		a++;
		if (a + 1 < b && sqltok_is(s, &tk->v[a], "QUERY") && sqltok_is(s, &tk->v[a + 1], "PLAN"))
			a += 2;
	}
	if (a >= b)
		return NULL;
	if ((why = check_functions(s, tk, a, b)) != NULL)
		return why;
	if (sqltok_is(s, &tk->v[a], "ATTACH"))
		return SQL_POLICY_ERR_ATTACH;
	if (sqltok_is(s, &tk->v[a], "DETACH"))
		return SQL_POLICY_ERR_DETACH;
	if (sqltok_is(s, &tk->v[a], "VACUUM")) {
		for (size_t i = a + 1; i < b; i++)
			if (sqltok_is(s, &tk->v[i], "INTO"))
				return SQL_POLICY_ERR_VACUUM_INTO;
		return NULL;
	}
	if (sqltok_is(s, &tk->v[a], "PRAGMA"))
		return check_pragma(s, tk, a, b);
	return explain ? NULL : check_tx(s, tk, a, b, transaction, tx);
}

static bool
word_at(const char *s, size_t n, size_t i, const char *w)
{
	size_t k = strlen(w);

	return i + k <= n && strncasecmp(s + i, w, k) == 0;
}

/*
 * Most statements are one INSERT, UPDATE or SELECT: nothing here can apply to a text
 * without a ';' whose first word is none of the keywords we judge and which names
 * neither refused function. This look costs a pass over the bytes; tokenizing costs
 * an allocation and a pass per token, on every statement of every request.
 */
static bool
needs_look(const char *s, size_t n)
{
	static const char *const first[] = { "ATTACH", "DETACH", "VACUUM", "PRAGMA", "BEGIN",
	    "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "EXPLAIN" };
	size_t i = 0, k;

	if (memchr(s, ';', n) != NULL)
		return true;
	for (size_t j = 0; j < n; j++)
		if ((s[j] == 'f' || s[j] == 'F' || s[j] == 'l' || s[j] == 'L') &&
		    (word_at(s, n, j, "fts3_tokenizer") || word_at(s, n, j, "load_extension")))
			return true;
	for (;;) {	/* past blanks and comments to the first word */
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		if (i + 1 < n && s[i] == '-' && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (i + 1 < n && s[i] == '/' && s[i + 1] == '*') {
			for (i += 2; i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'); i++)
				;
			i = i + 1 < n ? i + 2 : n;
		} else {
			break;
		}
	}
	for (k = 0; i + k < n && sqltok_idchar((unsigned char)s[i + k]); k++)
		;
	for (size_t w = 0; w < sizeof(first) / sizeof(first[0]); w++)
		if (strlen(first[w]) == k && strncasecmp(s + i, first[w], k) == 0)
			return true;
	return false;
}

const char *
gateway_policy_check(const struct gateway_body *b, bool transaction)
{
	struct tx_state tx;
	struct sqltoks tk;
	char err[128];
	const char *why = NULL;

	/* rqlite's own refusals first, with its exact rules (gateway_pragma.c). */
	for (size_t n = 0; n < b->n; n++)
		if (gateway_pragma_disallowed(b->stmts[n].sql, b->stmts[n].sql_len))
			return GATEWAY_PRAGMA_ERROR;
	memset(&tx, 0, sizeof(tx));
	memset(&tk, 0, sizeof(tk));
	for (size_t n = 0; n < b->n && why == NULL; n++) {
		const char *s = b->stmts[n].sql;

		tk.n = 0;
		if (b->stmts[n].sql_len != 0 && !needs_look(s, b->stmts[n].sql_len))
			continue;
		if (b->stmts[n].sql_len == 0 ||
		    sqltok_split(s, b->stmts[n].sql_len, &tk, err, sizeof(err)) != 0) {
			tx.lost = tx.lost || b->stmts[n].sql_len != 0;
			continue;	/* SQLite will say what is wrong with it */
		}
		for (size_t a = 0; a < tk.n && why == NULL; ) {
			size_t e = stmt_end(s, &tk, a);

			why = check_stmt(s, &tk, a, e, transaction, &tx);
			a = e + 1;
		}
	}
	free(tk.v);
	if (why == NULL && !transaction && tx.open && !tx.lost)
		why = SQL_POLICY_ERR_TX_OPEN;
	return why;
}
