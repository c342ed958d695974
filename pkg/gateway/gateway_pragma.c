/*
 * gateway_pragma: recognises the PRAGMAs rqlite refuses (its BreakingPragmas
 * regular expressions), by hand rather than with a regex engine.
 */
#include "gateway_pragma.h"

#include <string.h>

/* Go's regexp \s: [\t\n\f\r ] (no \v). */
static bool
pr_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool
pr_word(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '_';
}

/*
 * Case-insensitive match of the lower-case ASCII word at s[*i], with Go's (?i)
 * folds: 's' also matches U+017F (ſ) and 'k' U+212A (Kelvin sign).
 */
static bool
pr_word_at(const char *s, size_t n, size_t *i, const char *word)
{
	size_t j = *i;

	for (const char *w = word; *w != '\0'; w++) {
		if (j < n && (s[j] == *w || (s[j] >= 'A' && s[j] <= 'Z' &&
		    (s[j] | 0x20) == *w))) {
			j++;
			continue;
		}
		if (*w == 's' && j + 1 < n && (unsigned char)s[j] == 0xc5 &&
		    (unsigned char)s[j + 1] == 0xbf) {
			j += 2;
			continue;
		}
		if (*w == 'k' && j + 2 < n && (unsigned char)s[j] == 0xe2 &&
		    (unsigned char)s[j + 1] == 0x84 && (unsigned char)s[j + 2] == 0xaa) {
			j += 3;
			continue;
		}
		return false;
	}
	*i = j;
	return true;
}

/* name then \s*=  (or just name when no_eq) */
static bool
pr_name_eq(const char *s, size_t n, size_t i, const char *name, bool no_eq)
{
	if (!pr_word_at(s, n, &i, name))
		return false;
	if (no_eq)
		return true;
	while (i < n && pr_space(s[i]))
		i++;
	return i < n && s[i] == '=';
}

bool
gateway_pragma_disallowed(const char *s, size_t n)
{
	static const struct {
		const char	*name;
		bool		 schema_ok;
		bool		 no_eq;
	} rules[] = {
		{ "journal_mode", true, false },
		{ "wal_autocheckpoint", false, false },
		{ "wal_checkpoint", true, true },
		{ "synchronous", true, false },
		{ "query_only", true, false },
	};
	size_t i = 0, after;

	while (i < n && pr_space(s[i]))
		i++;
	if (!pr_word_at(s, n, &i, "pragma"))
		return false;
	if (i >= n || !pr_space(s[i]))
		return false;
	while (i < n && pr_space(s[i]))
		i++;
	after = i;
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		size_t j;

		if (pr_name_eq(s, n, after, rules[r].name, rules[r].no_eq))
			return true;
		if (!rules[r].schema_ok)
			continue;
		/* (\w+\.)? — the schema is a run of word characters then a dot */
		j = after;
		while (j < n && pr_word(s[j]))
			j++;
		if (j > after && j < n && s[j] == '.' &&
		    pr_name_eq(s, n, j + 1, rules[r].name, rules[r].no_eq))
			return true;
	}
	return false;
}
