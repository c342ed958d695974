/*
 * The shell's dot-commands (rqlite's list, case-insensitive, plus bare quit/exit):
 * parsing of the line, the settings toggles, and dispatch to the info, ops and
 * backup modules. A line that starts with '.' but names no command is sent to the
 * node as SQL, as rqlite's shell does, so the user sees SQLite's own error.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const dot_help[] = {
	".backup FILE                                  Write database backup to FILE",
	".blobarray [on|off]                           Show setting, or set BLOB data display as byte arrays",
	".boot FILE                                    Boot the node using a SQLite file read from FILE",
	".changes [on|off]                             Show setting, or set display of last insert ID after writes",
	".consistency [none|weak|linearizable|strong]  Show or set read consistency level",
	".dump FILE [TABLE,TABLE...]                   Dump the database in SQL text to FILE, optionally limited to TABLEs",
	".exit                                         Exit this program",
	".expvar                                       Show expvar (Go runtime) information for connected node",
	".extensions                                   Show loaded SQLite extensions",
	".forcewrites [on|off]                         Show setting, or set all statements to be executed via /db/execute",
	".help                                         Show this message",
	".indexes                                      Show names of all indexes",
	".leader                                       Show the current cluster leader",
	".mode [column|csv|json|line]                  Show or set output mode for query results",
	".nodes [all]                                  Show connection status of voting nodes. 'all' to show all nodes",
	".output FILE                                  Send output to FILE, or stdout if FILE is omitted",
	".quit                                         Exit this program",
	".read FILE                                    Read and execute SQL statements from FILE",
	".ready                                        Show ready status for connected node",
	".remove NODEID                                Remove node NODEID from the cluster",
	".restore FILE                                 Load using SQLite file or SQL dump contained in FILE",
	".schema                                       Show CREATE statements for all tables",
	".reap                                         Request a snapshot reap on connected node",
	".show                                         Show the current values for various settings",
	".snapshot [TRAILINGLOGS]                      Request a Raft snapshot and log truncation on connected node",
	".status                                       Show status and diagnostic information for connected node",
	".stepdown [NODEID]                            Instruct the leader to stepdown, optionally specifying new Leader node",
	".sysdump FILE                                 Dump system diagnostics to FILE",
	".tables                                       List names of tables",
	".timer [on|off]                               Show setting, or set query timings on or off",
};

static int
dot_str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
dot_print_help(void)
{
	const size_t n = sizeof(dot_help) / sizeof(dot_help[0]);
	const char *sorted[sizeof(dot_help) / sizeof(dot_help[0])];

	/* rqlite sorts the lines bytewise before printing them. */
	memcpy(sorted, dot_help, sizeof(sorted));
	qsort(sorted, n, sizeof(sorted[0]), dot_str_cmp);
	for (size_t i = 0; i < n; i++)
		printf("%s\n", sorted[i]);
}

static void
dot_first_word(const char *line, char *buf, size_t len)
{
	size_t i = 0;

	for (; line[i] != '\0' && line[i] != ' ' && i + 1 < len; i++)
		buf[i] = (char)toupper((unsigned char)line[i]);
	buf[i] = '\0';
}

bool
cli_is_dot(const char *line)
{
	char w[16];

	if (line[0] == '.')
		return true;
	dot_first_word(line, w, sizeof(w));
	return strcmp(w, "QUIT") == 0 || strcmp(w, "EXIT") == 0;
}

static int
dot_toggle(struct cli *c, const char *arg, bool *flag)
{
	if (arg == NULL) {
		printf("%s\n", *flag ? "on" : "off");
		return 0;
	}
	if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
		cli_err(c, "invalid option '%s'. Use 'on' or 'off' (default)", arg);
		return -1;
	}
	*flag = strcmp(arg, "on") == 0;
	return 0;
}

static int
dot_output(struct cli *c, const char *arg)
{
	if (arg == NULL || strcmp(arg, "stdout") == 0) {
		if (c->out != stdout)
			fclose(c->out);
		c->out = stdout;
		free(c->out_name);
		c->out_name = strdup("stdout");
		return 0;
	}
	FILE *f = fopen(arg, "w");

	if (f == NULL) {
		cli_err(c, "open %s: %s", arg, strerror(errno));
		return -1;
	}
	if (c->out != stdout)
		fclose(c->out);
	c->out = f;
	free(c->out_name);
	c->out_name = strdup(arg);
	return 0;
}

/* rqlite's .read: every line that is not blank and not a "--" comment is one
 * statement. */
static int
dot_read(struct cli *c, const char *file)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (f == NULL) {
		cli_err(c, "open %s: %s", file, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *s = line, *e = line + n;

		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0' || strncmp(s, "--", 2) == 0)
			continue;
		if (cli_request(c, s) != 0)
			rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

static int
dot_dump(struct cli *c, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *file, *tok;
	struct cli_buf tables = { 0 };
	int rc;

	if (copy == NULL)
		return -1;
	file = strtok_r(copy, " \t", &save);
	/* Everything after the file name is a comma-separated table list. */
	while ((tok = strtok_r(NULL, " \t,", &save)) != NULL) {
		if (tables.len > 0)
			cli_buf_puts(&tables, ",");
		cli_buf_puts(&tables, tok);
	}
	rc = cli_backup(c, file, true, cli_buf_str(&tables), NULL);
	if (rc == 0)
		printf("SQL text file written successfully\n");
	cli_buf_free(&tables);
	free(copy);
	return rc;
}

static int
dot_leader(struct cli *c)
{
	json_t *nodes, *one;
	const char *id;

	if (cli_info_leader(c, &nodes, &id) != 0)
		return -1;
	one = json_object();
	json_object_set(one, id, json_object_get(nodes, id));
	cli_print_tree(c, one);
	json_decref(one);
	json_decref(nodes);
	return 0;
}

static int
dot_snapshot(struct cli *c, const char *arg)
{
	long n = 0;

	if (arg != NULL) {
		char *end;

		errno = 0;
		n = strtol(arg, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (errno != 0 || end == arg || *end != '\0' || n < 0) {
			cli_err(c, "invalid trailing logs value: %s", arg);
			return -1;
		}
	}
	return cli_ops_snapshot(c, n, NULL);
}

static const char *
dot_require(struct cli *c, const char *arg, const char *msg)
{
	if (arg == NULL)
		cli_err(c, "%s", msg);
	return arg;
}

int
cli_dot(struct cli *c, const char *line)
{
	char cmd[32];
	const char *sp = strchr(line, ' ');
	const char *arg = sp != NULL && sp[1] != '\0' ? sp + 1 : NULL;
	const char *a;

	dot_first_word(line, cmd, sizeof(cmd));
	if (strcmp(cmd, ".CHANGES") == 0)
		return dot_toggle(c, arg, &c->set.changes);
	if (strcmp(cmd, ".TIMER") == 0)
		return dot_toggle(c, arg, &c->set.timer);
	if (strcmp(cmd, ".FORCEWRITES") == 0)
		return dot_toggle(c, arg, &c->set.forcewrites);
	if (strcmp(cmd, ".BLOBARRAY") == 0)
		return dot_toggle(c, arg, &c->set.blobarray);
	if (strcmp(cmd, ".CONSISTENCY") == 0) {
		if (arg == NULL) {
			printf("%s\n", c->set.consistency);
			return 0;
		}
		if (strcmp(arg, "none") != 0 && strcmp(arg, "weak") != 0 &&
		    strcmp(arg, "linearizable") != 0 && strcmp(arg, "strong") != 0) {
			cli_err(c, "invalid consistency '%s'. Use 'none', 'weak', 'linearizable', or 'strong'", arg);
			return -1;
		}
		snprintf(c->set.consistency, sizeof(c->set.consistency), "%s", arg);
		return 0;
	}
	if (strcmp(cmd, ".MODE") == 0) {
		if (arg == NULL) {
			printf("%s\n", c->set.mode);
			return 0;
		}
		if (strcmp(arg, "column") != 0 && strcmp(arg, "csv") != 0 &&
		    strcmp(arg, "json") != 0 && strcmp(arg, "line") != 0) {
			cli_err(c, "invalid mode '%s'. Use 'column', 'csv', 'json', or 'line'", arg);
			return -1;
		}
		snprintf(c->set.mode, sizeof(c->set.mode), "%s", arg);
		return 0;
	}
	if (strcmp(cmd, ".TABLES") == 0)
		return cli_query(c, "SELECT name FROM sqlite_master WHERE type=\"table\" ORDER BY name ASC");
	if (strcmp(cmd, ".INDEXES") == 0)
		return cli_query(c, "SELECT sql FROM sqlite_master WHERE type=\"index\"");
	if (strcmp(cmd, ".SCHEMA") == 0)
		return cli_query(c, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid ASC");
	if (strcmp(cmd, ".EXTENSIONS") == 0)
		return cli_info_extensions(c);
	if (strcmp(cmd, ".STATUS") == 0)
		return cli_info_tree(c, "status", arg);
	if (strcmp(cmd, ".EXPVAR") == 0)
		return cli_info_tree(c, "debug/vars", arg);
	if (strcmp(cmd, ".NODES") == 0)
		return cli_info_tree(c, arg != NULL ? "nodes?nonvoters" : "nodes", NULL);
	if (strcmp(cmd, ".LEADER") == 0)
		return dot_leader(c);
	if (strcmp(cmd, ".READY") == 0) {
		bool ready;

		if (cli_info_ready(c, &ready, NULL) != 0)
			return -1;
		printf("%s\n", ready ? "ready" : "not ready");
		return 0;
	}
	if (strcmp(cmd, ".REMOVE") == 0) {
		if ((a = dot_require(c, arg, "please specify a node ID to remove")) == NULL)
			return -1;
		return cli_ops_remove(c, a);
	}
	if (strcmp(cmd, ".BACKUP") == 0) {
		if ((a = dot_require(c, arg, "please specify an output file for the backup")) == NULL)
			return -1;
		if (cli_backup(c, a, false, NULL, NULL) != 0)
			return -1;
		printf("backup file written successfully\n");
		return 0;
	}
	if (strcmp(cmd, ".RESTORE") == 0) {
		if ((a = dot_require(c, arg, "please specify an input file to restore from")) == NULL)
			return -1;
		return cli_restore(c, a, NULL);
	}
	if (strcmp(cmd, ".BOOT") == 0) {
		if ((a = dot_require(c, arg, "please specify an input file to boot with")) == NULL)
			return -1;
		if (cli_boot(c, a) != 0)
			return -1;
		printf("Node booted successfully.\n");
		return 0;
	}
	if (strcmp(cmd, ".SYSDUMP") == 0) {
		if ((a = dot_require(c, arg, "please specify an output file for the sysdump")) == NULL)
			return -1;
		return cli_info_sysdump(c, a);
	}
	if (strcmp(cmd, ".DUMP") == 0) {
		if ((a = dot_require(c, arg, "please specify an output file for the SQL text")) == NULL)
			return -1;
		return dot_dump(c, a);
	}
	if (strcmp(cmd, ".HELP") == 0) {
		dot_print_help();
		return 0;
	}
	if (strcmp(cmd, ".QUIT") == 0 || strcmp(cmd, ".EXIT") == 0 ||
	    strcmp(cmd, "QUIT") == 0 || strcmp(cmd, "EXIT") == 0) {
		c->quit = true;
		return 0;
	}
	if (strcmp(cmd, ".REAP") == 0) {
		long long snaps, wals;

		if (cli_ops_reap(c, &snaps, &wals) != 0)
			return -1;
		printf("snapshots reaped: %lld, WALs checkpointed: %lld\n", snaps, wals);
		return 0;
	}
	if (strcmp(cmd, ".READ") == 0) {
		if ((a = dot_require(c, arg, "please specify an input file to read from")) == NULL)
			return -1;
		return dot_read(c, a);
	}
	if (strcmp(cmd, ".OUTPUT") == 0)
		return dot_output(c, arg);
	if (strcmp(cmd, ".SHOW") == 0) {
		printf("  blobarray: %s\n", c->set.blobarray ? "on" : "off");
		printf("  changes: %s\n", c->set.changes ? "on" : "off");
		printf("  consistency: %s\n", c->set.consistency);
		printf("  forcewrites: %s\n", c->set.forcewrites ? "on" : "off");
		printf("  mode: %s\n", c->set.mode);
		printf("  output: %s\n", c->out_name ? c->out_name : "stdout");
		printf("  timer: %s\n", c->set.timer ? "on" : "off");
		return 0;
	}
	if (strcmp(cmd, ".SNAPSHOT") == 0)
		return dot_snapshot(c, arg);
	if (strcmp(cmd, ".STEPDOWN") == 0)
		return cli_ops_stepdown(c, arg);
	return cli_request(c, line);
}
