/*
 * The shell's command history file, ~/.rqlite_history, in rqlite's format: one
 * command per line, no trailing newline, blank entries dropped, runs of the same
 * command kept once, at most RQLITE_HISTFILESIZE (default 100) newest entries;
 * a size of 0 or less means no history file (it is deleted).
 */
#ifndef RQ_CLI_HISTORY_H
#define RQ_CLI_HISTORY_H

#include <stddef.h>

#define CLI_HISTORY_DEFAULT_SIZE	100

struct cli_history {
	char **lines;
	size_t n, cap;
};

/* $HOME/.rqlite_history in a malloc'd string, or NULL when HOME is unset or empty. */
char *cli_history_path(void);
/* RQLITE_HISTFILESIZE when it parses as an integer, else the default. */
int cli_history_size(void);

/* Appends the file's non-blank lines; a missing file is not an error. 0 / -1. */
int cli_history_load(struct cli_history *h, const char *path);
/* Appends one entry (ignored when blank). */
void cli_history_add(struct cli_history *h, const char *line);
/* Writes the newest max entries (after dropping blanks and adjacent repeats), or
 * deletes the file when max <= 0. 0 / -1. */
int cli_history_save(const struct cli_history *h, const char *path, int max);
void cli_history_free(struct cli_history *h);

#endif
