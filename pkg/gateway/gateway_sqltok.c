/* gateway_sqltok: the gateway's SQL tokenizer (see gateway_sqltok.h). */
#include "gateway_sqltok.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool
sqltok_idchar(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

static bool
sqltok_idstart(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static int
sqltok_push(struct sqltoks *t, enum sqltok_type type, size_t start, size_t len)
{
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		struct sqltok *nv = realloc(t->v, nc * sizeof(*nv));

		if (nv == NULL)
			return -1;
		t->v = nv;
		t->cap = nc;
	}
	t->v[t->n].type = type;
	t->v[t->n].start = start;
	t->v[t->n].len = len;
	t->n++;
	return 0;
}

int
sqltok_split(const char *s, size_t n, struct sqltoks *t, char *err, size_t errlen)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t st = i;
		enum sqltok_type type;

		if (isspace(c)) {
			while (i < n && isspace((unsigned char)s[i]))
				i++;
			type = SQLTOK_SPACE;
		} else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
			type = SQLTOK_SPACE;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
			/* SQLite lets an unterminated comment run to the end */
			i += 2;
			while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/'))
				i++;
			i = i < n ? i + 2 : n;
			type = SQLTOK_SPACE;
		} else if ((c == 'x' || c == 'X') && i + 1 < n && s[i + 1] == '\'') {
			i += 2;
			while (i < n && isxdigit((unsigned char)s[i]))
				i++;
			if (i >= n || s[i] != '\'' || (i - st - 2) % 2 != 0) {
				while (i < n && s[i] != '\'')
					i++;
				if (i < n)
					i++;
				snprintf(err, errlen, "unrecognized token: \"%.*s\"",
				    (int)(i - st < 40 ? i - st : 40), s + st);
				return -1;
			}
			i++;
			type = SQLTOK_BLOB;
		} else if (c == '\'' || c == '"' || c == '`' || c == '[') {
			char close = c == '[' ? ']' : (char)c;

			i++;
			for (;;) {
				if (i >= n) {
					snprintf(err, errlen, "unterminated %s",
					    c == '\'' ? "string literal" : "quoted identifier");
					return -1;
				}
				if (s[i] == close) {
					/* doubled quote is an escape, except for [ ] */
					if (c != '[' && i + 1 < n && s[i + 1] == close) {
						i += 2;
						continue;
					}
					i++;
					break;
				}
				i++;
			}
			type = c == '\'' ? SQLTOK_STRING : SQLTOK_QIDENT;
		} else if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
			if (c == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
				i += 2;
				while (i < n && (isxdigit((unsigned char)s[i]) || s[i] == '_'))
					i++;
			} else {
				while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'))
					i++;
				if (i < n && s[i] == '.') {
					i++;
					while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'))
						i++;
				}
				if (i < n && (s[i] == 'e' || s[i] == 'E') && i + 1 < n &&
				    (isdigit((unsigned char)s[i + 1]) || ((s[i + 1] == '+' ||
				    s[i + 1] == '-') && i + 2 < n &&
				    isdigit((unsigned char)s[i + 2])))) {
					i += 2;
					while (i < n && isdigit((unsigned char)s[i]))
						i++;
				}
			}
			type = SQLTOK_NUMBER;
		} else if (sqltok_idstart(c)) {
			while (i < n && sqltok_idchar((unsigned char)s[i]))
				i++;
			type = SQLTOK_IDENT;
		} else if (c == '?' || c == ':' || c == '@' || c == '$' || c == '#') {
			i++;
			while (i < n && sqltok_idchar((unsigned char)s[i]))
				i++;
			type = SQLTOK_VARIABLE;
		} else {
			i++;
			type = SQLTOK_PUNCT;
		}
		if (type != SQLTOK_SPACE && sqltok_push(t, type, st, i - st) == -1)
			return -2;
	}
	return 0;
}


bool
sqltok_is(const char *s, const struct sqltok *t, const char *word)
{
	return t->type == SQLTOK_IDENT && strlen(word) == t->len &&
	    strncasecmp(s + t->start, word, t->len) == 0;
}
