/*
 * Splitting shell input into SQL statements. Lines are fed one at a time; a
 * statement ends at a ';' outside quotes ('…', "…", `…`, […]) and comments (-- to
 * the end of the line, and C-style block comments), except inside CREATE TRIGGER …
 * END, where only the ';' after END ends it (as sqlite3_complete()). Pure; no I/O.
 */
#ifndef RQ_CLI_SQL_H
#define RQ_CLI_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "cli_value.h"

struct cli_sql {
	struct cli_buf text;		/* the unfinished statement, lines joined by '\n' */
	char quote;			/* closing quote char we are inside, or 0 */
	bool block_comment;
	bool content;			/* text holds something other than blanks and comments */
	int nwords;			/* words seen in this statement (only the first 3 matter) */
	bool create, temp;		/* the statement so far reads CREATE [TEMP] */
	bool trigger;			/* CREATE [TEMP|TEMPORARY] TRIGGER */
	bool last_was_end;		/* the last token was the word END */
	char word[16];			/* the word being scanned (truncated) */
	size_t wlen;
	bool in_word;
};

/* Called with each complete statement (trimmed, ending in ';'). A non-zero return
 * is counted by cli_sql_feed. */
typedef int (*cli_sql_cb)(void *arg, const char *stmt);

void cli_sql_init(struct cli_sql *s);
void cli_sql_free(struct cli_sql *s);
/* Drops any unfinished statement (Ctrl-C). */
void cli_sql_reset(struct cli_sql *s);

/* Feeds one line (no newline). Returns how many callbacks returned non-zero. */
int cli_sql_feed(struct cli_sql *s, const char *line, cli_sql_cb cb, void *arg);

/* True while an unfinished statement with real content is waiting for its ';'. */
bool cli_sql_pending(const struct cli_sql *s);

/* Takes the unfinished statement (trimmed, malloc'd; NULL if nothing but blanks or
 * comments) and resets. For end of input, where a missing ';' is forgiven. */
char *cli_sql_take(struct cli_sql *s);

#endif
