/*
 * The shell's input loops. Interactive (stdin is a terminal): libedit line editing
 * with emacs keys, history in ~/.rqlite_history, a "host:port> " prompt and a
 * "...> " continuation prompt while a statement waits for its ';', Ctrl-C cancels
 * the input so far (or the request in flight), Ctrl-D on an empty line leaves.
 * Non-interactive (a pipe, a file, -e): the same splitting, no prompt or banner,
 * and the exit status says whether every statement and command succeeded.
 */
#include "cli.h"
#include "cli_history.h"
#include "cli_sql.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <histedit.h>

struct shell {
	struct cli *c;
	struct cli_sql sql;
	int failures;
	bool cancelled;
	char prompt[320];
};

static int
shell_stmt_cb(void *arg, const char *stmt)
{
	struct shell *sh = arg;

	return cli_request(sh->c, stmt);
}

/* One input line: a dot-command when no statement is open, else SQL text. */
static void
shell_line(struct shell *sh, const char *line)
{
	const char *t = line;
	char *trim;
	size_t n;

	while (isspace((unsigned char)*t))
		t++;
	if (!cli_sql_pending(&sh->sql)) {
		if (*t == '\0')
			return;
		if (cli_is_dot(t)) {
			n = strlen(t);
			while (n > 0 && isspace((unsigned char)t[n - 1]))
				n--;
			trim = strndup(t, n);
			if (trim == NULL || cli_dot(sh->c, trim) != 0)
				sh->failures++;
			free(trim);
			return;
		}
	}
	sh->failures += cli_sql_feed(&sh->sql, line, shell_stmt_cb, sh);
}

/* End of input: a last statement without its ';' still runs. */
static void
shell_finish(struct shell *sh)
{
	char *rest = cli_sql_take(&sh->sql);

	if (rest != NULL && cli_request(sh->c, rest) != 0)
		sh->failures++;
	free(rest);
}

int
cli_shell_stream(struct cli *c, FILE *in)
{
	struct shell sh = { .c = c };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	cli_sql_init(&sh.sql);
	while (!c->quit && (n = getline(&line, &cap, in)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		shell_line(&sh, line);
	}
	if (!c->quit)
		shell_finish(&sh);
	free(line);
	cli_sql_free(&sh.sql);
	return sh.failures > 0 ? 1 : 0;
}

int
cli_shell_string(struct cli *c, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	if (f == NULL) {
		cli_err(c, "fmemopen: %s", strerror(errno));
		return 1;
	}
	rc = cli_shell_stream(c, f);
	fclose(f);
	return rc;
}

static char *
shell_prompt_cb(EditLine *el)
{
	struct shell *sh = NULL;
	size_t w;

	el_get(el, EL_CLIENTDATA, &sh);
	if (!cli_sql_pending(&sh->sql)) {
		snprintf(sh->prompt, sizeof(sh->prompt), "%s> ", sh->c->prompt_host);
	} else {
		/* "...> " right-aligned under the main prompt, like sqlite3's. */
		w = strlen(sh->c->prompt_host) + 2;
		if (w < 5)
			w = 5;
		snprintf(sh->prompt, sizeof(sh->prompt), "%*s", (int)w, "...> ");
	}
	return sh->prompt;
}

/* Ctrl-C: move to the end of the line, then finish through shell_cancel_end_cb so
 * the "^C" lands after what was typed. */
static unsigned char
shell_cancel_cb(EditLine *el, int ch)
{
	(void)ch;
	el_push(el, "\005\035");	/* ^E (end of line), then ^] */
	return CC_NORM;
}

static unsigned char
shell_cancel_end_cb(EditLine *el, int ch)
{
	struct shell *sh = NULL;

	(void)ch;
	el_get(el, EL_CLIENTDATA, &sh);
	sh->cancelled = true;
	/* el_gets returns NULL (read as EOF) for an empty line: leave it something. */
	el_insertstr(el, " ");
	fputs("^C\n", stdout);
	fflush(stdout);
	return CC_NEWLINE;
}

static void
shell_sigint(int sig)
{
	(void)sig;
	cli_http_interrupt = 1;
	/* The terminal echoed "^C"; the error message goes on the next line. */
	(void)!write(STDOUT_FILENO, "\n", 1);
}

int
cli_shell_interactive(struct cli *c)
{
	struct shell sh = { .c = c };
	struct cli_history hist_file = { 0 };
	struct sigaction sa = { 0 }, old_sa;
	char *hpath = cli_history_path();
	EditLine *el;
	History *hist;
	HistEvent ev;
	bool eof = false;

	cli_sql_init(&sh.sql);
	el = el_init("rqlitectl", stdin, stdout, stderr);
	hist = history_init();
	if (el == NULL || hist == NULL) {
		cli_err(c, "cannot initialise line editing");
		if (el != NULL)
			el_end(el);
		if (hist != NULL)
			history_end(hist);
		free(hpath);
		return 1;
	}
	history(hist, &ev, H_SETSIZE, 1000);
	el_set(el, EL_CLIENTDATA, &sh);
	el_set(el, EL_EDITOR, "emacs");
	el_set(el, EL_PROMPT, shell_prompt_cb);
	el_set(el, EL_HIST, history, hist);
	/* Ctrl-C reaches us as a key while editing, so it can cancel the input. */
	el_set(el, EL_SETTY, "-d", "-isig", NULL);
	el_set(el, EL_ADDFN, "rq-cancel", "Cancel the current input", shell_cancel_cb);
	el_set(el, EL_ADDFN, "rq-cancel-end", "Finish cancelling the input", shell_cancel_end_cb);
	el_set(el, EL_BIND, "^C", "rq-cancel", NULL);
	el_set(el, EL_BIND, "^]", "rq-cancel-end", NULL);
	el_source(el, NULL);

	if (hpath != NULL && cli_history_load(&hist_file, hpath) == 0)
		for (size_t i = 0; i < hist_file.n; i++)
			history(hist, &ev, H_ENTER, hist_file.lines[i]);

	/* Outside line editing, Ctrl-C interrupts the request in flight. */
	sa.sa_handler = shell_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_sa);

	while (!c->quit) {
		const char *in;
		char *line;
		int count = 0;
		size_t n;

		sh.cancelled = false;
		in = el_gets(el, &count);
		if (in == NULL) {
			if (count < 0 && errno == EINTR)
				continue;
			eof = true;
			break;
		}
		if (sh.cancelled) {
			cli_sql_reset(&sh.sql);
			continue;
		}
		line = strdup(in);
		if (line == NULL)
			break;
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		{
			const char *t = line;

			while (isspace((unsigned char)*t))
				t++;
			if (*t != '\0') {
				history(hist, &ev, H_ENTER, t);
				cli_history_add(&hist_file, t);
			}
		}
		cli_http_interrupt = 0;
		shell_line(&sh, line);
		free(line);
	}
	sigaction(SIGINT, &old_sa, NULL);
	if (eof)
		fputs("\n", stdout);

	if (hpath != NULL)
		(void)cli_history_save(&hist_file, hpath, cli_history_size());
	printf("bye~\n");
	fflush(stdout);
	cli_history_free(&hist_file);
	free(hpath);
	history_end(hist);
	el_end(el);
	cli_sql_free(&sh.sql);
	return 0;
}
