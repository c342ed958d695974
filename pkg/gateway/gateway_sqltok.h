/*
 * gateway_sqltok: SQLite's tokenizer, reduced to what the gateway needs to look at
 * statements before they enter the log (the rewriter, gateway_rewrite.c, and the
 * statement policy, gateway_policy.c): strings with '' escapes, "ident", [ident],
 * `ident`, -- and block comments (kept out of the token list), x'..' blobs, numbers,
 * variables and punctuation.
 */
#ifndef RQ_GATEWAY_SQLTOK_H
#define RQ_GATEWAY_SQLTOK_H

#include <stdbool.h>
#include <stddef.h>

enum sqltok_type {
	SQLTOK_SPACE,	/* whitespace and comments */
	SQLTOK_STRING,	/* '…' */
	SQLTOK_IDENT,	/* bare word (keyword or identifier) */
	SQLTOK_QIDENT,	/* "…", […], `…` */
	SQLTOK_BLOB,	/* x'…' */
	SQLTOK_NUMBER,
	SQLTOK_VARIABLE,	/* ? ?NNN :name @name $name */
	SQLTOK_PUNCT,	/* anything else, one or two characters */
};

struct sqltok {
	enum sqltok_type	type;
	size_t		start;
	size_t		len;
};

struct sqltoks {
	struct sqltok	*v;
	size_t		 n, cap;
};

/*
 * Splits s[0..n) into tokens (whitespace and comments are dropped). Returns 0, -1
 * when the text cannot be tokenized (unterminated string, quoted identifier or blob;
 * a bad blob literal) with a message in err, or -2 when out of memory. t starts
 * zeroed; free t->v afterwards whatever the result.
 */
int	sqltok_split(const char *s, size_t n, struct sqltoks *t, char *err, size_t errlen);

/* A character that may continue an identifier. */
bool	sqltok_idchar(unsigned char c);

/* t is the bare word `word`, any case. */
bool	sqltok_is(const char *s, const struct sqltok *t, const char *word);

#endif
