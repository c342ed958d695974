/*
 * Reading and writing ~/.rqlite_history. libedit keeps the in-memory list for the
 * arrow keys; this file owns the on-disk form, which stays rqlite's plain one so
 * that rqlite's shell and rqlitectl can share a history file.
 */
#include "cli_history.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *
cli_history_path(void)
{
	const char *home = getenv("HOME");
	char *p;

	if (home == NULL || *home == '\0')
		return NULL;
	if (asprintf(&p, "%s/.rqlite_history", home) < 0)
		return NULL;
	return p;
}

int
cli_history_size(void)
{
	const char *s = getenv("RQLITE_HISTFILESIZE");
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return CLI_HISTORY_DEFAULT_SIZE;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v > 1000000 || v < -1000000)
		return CLI_HISTORY_DEFAULT_SIZE;
	return (int)v;
}

static bool
history_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

void
cli_history_add(struct cli_history *h, const char *line)
{
	if (history_blank(line))
		return;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		char **nl = realloc(h->lines, cap * sizeof(*nl));

		if (nl == NULL)
			return;
		h->lines = nl;
		h->cap = cap;
	}
	if ((h->lines[h->n] = strdup(line)) != NULL)
		h->n++;
}

int
cli_history_load(struct cli_history *h, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		cli_history_add(h, line);
	}
	free(line);
	fclose(f);
	return 0;
}

int
cli_history_save(const struct cli_history *h, const char *path, int max)
{
	size_t *keep, nkeep = 0, from;
	FILE *f;
	int fd, rc = 0;

	if (max <= 0) {
		if (unlink(path) != 0 && errno != ENOENT)
			return -1;
		return 0;
	}
	keep = calloc(h->n + 1, sizeof(*keep));
	if (keep == NULL)
		return -1;
	for (size_t i = 0; i < h->n; i++) {
		if (history_blank(h->lines[i]))
			continue;
		if (nkeep > 0 && strcmp(h->lines[keep[nkeep - 1]], h->lines[i]) == 0)
			continue;
		keep[nkeep++] = i;
	}
	from = nkeep > (size_t)max ? nkeep - (size_t)max : 0;
	/* History can hold credentials typed into statements: owner-only. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		free(keep);
		return -1;
	}
	for (size_t i = from; i < nkeep; i++)
		fprintf(f, i + 1 < nkeep ? "%s\n" : "%s", h->lines[keep[i]]);
	if (fclose(f) != 0)
		rc = -1;
	free(keep);
	return rc;
}

void
cli_history_free(struct cli_history *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->lines[i]);
	free(h->lines);
	memset(h, 0, sizeof(*h));
}
