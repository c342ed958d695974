/*
 * The shell's statement splitter: a small lexer that tracks quotes, comments and the
 * first words of a statement so that a ';' ends a statement only where SQLite would
 * see the end of one. Multi-line input accumulates until then.
 */
#include "cli_sql.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
cli_sql_init(struct cli_sql *s)
{
	memset(s, 0, sizeof(*s));
}

void
cli_sql_free(struct cli_sql *s)
{
	cli_buf_free(&s->text);
	memset(s, 0, sizeof(*s));
}

static void
sql_new_statement(struct cli_sql *s)
{
	s->text.len = 0;
	if (s->text.p != NULL)
		s->text.p[0] = '\0';
	s->quote = 0;
	s->block_comment = false;
	s->content = false;
	s->nwords = 0;
	s->create = false;
	s->temp = false;
	s->trigger = false;
	s->last_was_end = false;
	s->wlen = 0;
	s->in_word = false;
}

void
cli_sql_reset(struct cli_sql *s)
{
	sql_new_statement(s);
}

static bool
sql_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* A word just ended: advance the CREATE [TEMP] TRIGGER recogniser and END tracking. */
static void
sql_end_word(struct cli_sql *s)
{
	const char *w = s->word;

	if (!s->in_word)
		return;
	s->in_word = false;
	s->word[s->wlen < sizeof(s->word) ? s->wlen : sizeof(s->word) - 1] = '\0';
	s->nwords++;
	if (s->nwords == 1) {
		s->create = strcasecmp(w, "CREATE") == 0;
	} else if (s->nwords == 2 && s->create) {
		if (strcasecmp(w, "TEMP") == 0 || strcasecmp(w, "TEMPORARY") == 0)
			s->temp = true;
		else
			s->trigger = strcasecmp(w, "TRIGGER") == 0;
	} else if (s->nwords == 3 && s->create && s->temp) {
		s->trigger = strcasecmp(w, "TRIGGER") == 0;
	}
	s->last_was_end = strcasecmp(w, "END") == 0;
	s->wlen = 0;
}

static char *
sql_trimmed(const char *p, size_t n)
{
	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	return strndup(p, n);
}

int
cli_sql_feed(struct cli_sql *s, const char *line, cli_sql_cb cb, void *arg)
{
	int failures = 0;
	bool line_comment = false;
	size_t start;

	/* Blanks and comments left after the last ';' belong to no statement. */
	if (!cli_sql_pending(s))
		sql_new_statement(s);
	if (s->text.len > 0)
		cli_buf_add(&s->text, "\n", 1);
	start = s->text.len;
	cli_buf_puts(&s->text, line);
	if (s->text.oom)
		return 1;

	/* Scan the new part; text before `start` was scanned by earlier calls. */
	for (size_t i = start; i < s->text.len; i++) {
		char c = s->text.p[i];
		char next = i + 1 < s->text.len ? s->text.p[i + 1] : '\0';

		if (line_comment)
			break;	/* the rest of this line is a comment */
		if (s->block_comment) {
			if (c == '*' && next == '/') {
				s->block_comment = false;
				i++;
			}
			continue;
		}
		if (s->quote) {
			if (c == s->quote)
				s->quote = 0;
			continue;
		}
		if (sql_word_char(c)) {
			if (!s->in_word) {
				s->in_word = true;
				s->wlen = 0;
			}
			if (s->wlen < sizeof(s->word) - 1)
				s->word[s->wlen] = c;
			s->wlen++;
			s->content = true;
			continue;
		}
		sql_end_word(s);
		if (c == '-' && next == '-') {
			line_comment = true;
			continue;
		}
		if (c == '/' && next == '*') {
			s->block_comment = true;
			i++;
			continue;
		}
		if (isspace((unsigned char)c))
			continue;
		if (c == ';') {
			if (s->trigger && !s->last_was_end) {
				s->last_was_end = false;
				continue;	/* a ';' inside the trigger body */
			}
			if (s->content) {
				char *stmt = sql_trimmed(s->text.p, i + 1);

				if (stmt == NULL || cb(arg, stmt) != 0)
					failures++;
				free(stmt);
			}
			/* Keep what follows the ';' on this line as a new statement. */
			size_t rest = s->text.len - (i + 1);

			sql_new_statement(s);
			memmove(s->text.p, s->text.p + i + 1, rest);
			s->text.len = rest;
			s->text.p[rest] = '\0';
			i = (size_t)-1;
			continue;
		}
		s->last_was_end = false;
		s->content = true;
		if (c == '\'' || c == '"' || c == '`')
			s->quote = c;
		else if (c == '[')
			s->quote = ']';
	}
	sql_end_word(s);
	return failures;
}

bool
cli_sql_pending(const struct cli_sql *s)
{
	return s->content || s->quote != 0 || s->block_comment;
}

char *
cli_sql_take(struct cli_sql *s)
{
	char *stmt = NULL;

	if (s->content)
		stmt = sql_trimmed(cli_buf_str(&s->text), s->text.len);
	sql_new_statement(s);
	return stmt;
}
