/*
 * rqlitectl: the admin CLI and interactive SQL shell. One context struct (struct cli)
 * holds the connection and the shell's settings; each cli_*.c file owns one idea.
 */
#ifndef RQ_CLI_H
#define RQ_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "cli_http.h"
#include "cli_value.h"

/* The shell's display and routing settings (rqlite's .show list). */
struct cli_settings {
	char mode[8];			/* column, csv, json, line */
	char consistency[16];		/* none, weak, linearizable, strong */
	bool timer;
	bool changes;
	bool forcewrites;
	bool blobarray;
};

struct cli {
	struct cli_http http;
	struct cli_settings set;
	FILE *out;			/* query output: stdout or the .output file */
	char *out_name;			/* "stdout" or the file name */
	bool color;			/* stdout is a terminal: ERR! in red */
	bool json;			/* admin subcommands: machine-readable output */
	bool admin;			/* errors go to stderr (subcommands), not stdout (shell) */
	bool quit;			/* .exit/.quit seen */
	char prompt_host[300];		/* host:port shown in the prompt */
};

/* Prints "ERR! <msg>" (shell: stdout, admin: stderr; with --json also {"error":…}). */
void cli_err(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies the HTTP layer's current host into the prompt after a fail-over. */
void cli_follow_host(struct cli *c);

/* Error text for an unexpected status: "server responded with<sep>404 Not Found",
 * sep being " " or ": " as rqlite words it per command, then ": <body>" when
 * with_body (or, in admin mode, whenever there is a body). */
void cli_status_error(struct cli *c, const struct cli_resp *r, const char *sep, bool with_body);

/* cli_request.c: runs one SQL statement via /db/request (or /db/execute) and prints
 * its result. 0 ok, -1 failed (message printed; per-statement SQL errors count). */
int cli_request(struct cli *c, const char *sql);
/* GET /db/query for the .tables/.schema/.indexes queries. */
int cli_query(struct cli *c, const char *sql);

/* cli_dot.c: runs a dot-command line (also "quit"/"exit"). 0 ok, -1 failed. */
int cli_dot(struct cli *c, const char *line);
/* True if the (trimmed) line is a dot-command or quit/exit. */
bool cli_is_dot(const char *line);

/* cli_info.c: GETs a JSON document (prints failures, 401 as "unauthorized"). */
int cli_fetch_json(struct cli *c, const char *path, json_t **out);
/* Prints v as rqlite's key: value tree on stdout. */
void cli_print_tree(struct cli *c, const json_t *v);
/* GET path and print it as a tree, keeping only the top-level member key if given. */
int cli_info_tree(struct cli *c, const char *path, const char *key);
/* /nodes and the Leader's ID in it (*nodes_out owns the ID; json_decref it). */
int cli_info_leader(struct cli *c, json_t **nodes_out, const char **id_out);
/* GET /readyz: *ready = (200); *body_out (malloc'd) when not NULL. */
int cli_info_ready(struct cli *c, bool *ready, char **body_out);
int cli_info_extensions(struct cli *c);
int cli_info_sysdump(struct cli *c, const char *file);

/* cli_ops.c: membership and maintenance operations. */
int cli_ops_remove(struct cli *c, const char *id);
int cli_ops_stepdown(struct cli *c, const char *id);
int cli_ops_snapshot(struct cli *c, long trailing, bool *created);
int cli_ops_reap(struct cli *c, long long *snapshots, long long *wals);

/* cli_backup.c: shared by the dot-commands and the admin subcommands. On success
 * *bytes_out (when not NULL) gets the size written or sent. */
int cli_backup(struct cli *c, const char *file, bool sql, const char *tables, long long *bytes_out);
int cli_restore(struct cli *c, const char *file, json_t **result_out);
int cli_boot(struct cli *c, const char *file);

/* cli_admin.c: `rqlitectl <subcommand> …`; returns the process exit status. */
int cli_admin(struct cli *c, int argc, char **argv);
bool cli_admin_is_command(const char *word);

/* cli_shell.c: the interactive shell (stdin a terminal), the non-interactive reader
 * (statements piped on stdin), and -e. Return the process exit status. */
int cli_shell_interactive(struct cli *c);
int cli_shell_stream(struct cli *c, FILE *in);
int cli_shell_string(struct cli *c, const char *text);

/* Fetches /status and reads X-RQLITE-VERSION; 0 ok, -1 failed (message not printed). */
int cli_server_version(struct cli *c, char *buf, size_t len, char *err, size_t errlen);

#endif
