/*
 * Scriptable subcommands: `rqlitectl [options] <command> [args] [--json]`. Each one
 * makes its requests, prints a human line (or, with --json, exactly one JSON object
 * on stdout, {"error":…} on failure) and returns the exit status: 0 success, 1
 * failure (for `ready`: not ready), 2 usage error. keygen needs no node: it writes
 * a 32-byte cluster key for rqlited's -cluster-key.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLI_KEY_BYTES	32

struct admin_args {
	const char *pos[2];		/* positional arguments after the command */
	int npos;
	bool sql, all, force;
	const char *tables;
};

static const char *const admin_commands[] = {
	"status", "nodes", "leader", "ready", "backup", "restore", "boot", "remove",
	"stepdown", "snapshot", "reap", "keygen",
};

bool
cli_admin_is_command(const char *word)
{
	for (size_t i = 0; i < sizeof(admin_commands) / sizeof(admin_commands[0]); i++)
		if (strcmp(word, admin_commands[i]) == 0)
			return true;
	return false;
}

static int
admin_usage(const char *cmd, const char *msg)
{
	fprintf(stderr, "rqlitectl %s: %s (see rqlitectl --help)\n", cmd, msg);
	return 2;
}

/* Prints v compactly on stdout and drops the reference. */
static int
admin_json(json_t *v)
{
	struct cli_buf b = { 0 };
	int rc = 1;

	if (v != NULL) {
		cli_value_json_compact(&b, v);
		if (!b.oom) {
			printf("%s\n", cli_buf_str(&b));
			rc = 0;
		}
	}
	cli_buf_free(&b);
	json_decref(v);
	return rc;
}

static int
admin_status(struct cli *c, const struct admin_args *a)
{
	struct cli_buf path = { 0 };
	json_t *doc;
	int rc;

	if (a->npos > 1)
		return admin_usage("status", "takes at most one KEY");
	cli_buf_puts(&path, "status");
	if (a->npos == 1) {
		char *k = cli_http_escape(a->pos[0]);

		cli_buf_printf(&path, "?key=%s", k ? k : "");
		free(k);
	}
	rc = cli_fetch_json(c, cli_buf_str(&path), &doc);
	cli_buf_free(&path);
	if (rc != 0)
		return 1;
	if (c->json)
		return admin_json(doc);
	cli_print_tree(c, doc);
	json_decref(doc);
	return 0;
}

static int
admin_nodes(struct cli *c, const struct admin_args *a)
{
	json_t *doc;

	if (a->npos > 0)
		return admin_usage("nodes", "takes no arguments besides --all");
	if (cli_fetch_json(c, a->all ? "nodes?nonvoters" : "nodes", &doc) != 0)
		return 1;
	if (c->json)
		return admin_json(doc);
	cli_print_tree(c, doc);
	json_decref(doc);
	return 0;
}

static int
admin_leader(struct cli *c)
{
	json_t *nodes, *one;
	const char *id;

	if (cli_info_leader(c, &nodes, &id) != 0)
		return 1;
	if (c->json) {
		json_t *n = json_object_get(nodes, id);

		json_incref(n);
		json_decref(nodes);
		return admin_json(n);
	}
	one = json_object();
	json_object_set(one, id, json_object_get(nodes, id));
	cli_print_tree(c, one);
	json_decref(one);
	json_decref(nodes);
	return 0;
}

static int
admin_ready(struct cli *c)
{
	bool ready;
	char *body = NULL;

	if (cli_info_ready(c, &ready, &body) != 0)
		return 1;
	if (c->json) {
		json_t *checks = json_array();
		char *save = NULL, *line;

		for (line = strtok_r(body, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			json_array_append_new(checks, json_string(line));
		admin_json(json_pack("{s:b,s:o}", "ready", ready, "checks", checks));
	} else {
		printf("%s\n", ready ? "ready" : "not ready");
	}
	free(body);
	return ready ? 0 : 1;
}

static int
admin_backup(struct cli *c, const struct admin_args *a)
{
	long long bytes = 0;

	if (a->npos != 1)
		return admin_usage("backup", "needs exactly one FILE ('-' for stdout)");
	if (cli_backup(c, a->pos[0], a->sql || a->tables, a->tables, &bytes) != 0)
		return 1;
	if (c->json)
		return admin_json(json_pack("{s:s,s:s,s:I}", "file", a->pos[0], "format",
		    a->sql || a->tables ? "sql" : "binary", "bytes", (json_int_t)bytes));
	if (strcmp(a->pos[0], "-") != 0)
		printf("%s\n", a->sql || a->tables ? "SQL text file written successfully"
		    : "backup file written successfully");
	return 0;
}

static int
admin_restore(struct cli *c, const struct admin_args *a)
{
	json_t *res = NULL, *out;

	if (a->npos != 1)
		return admin_usage("restore", "needs exactly one FILE");
	if (cli_restore(c, a->pos[0], &res) != 0)
		return 1;
	if (!c->json) {
		json_decref(res);
		return 0;
	}
	out = json_pack("{s:b,s:s}", "restored", 1, "format", res ? "sql" : "binary");
	if (res != NULL) {
		json_object_set_new(out, "last_insert_id", json_integer(
		    json_integer_value(json_object_get(res, "last_insert_id"))));
		json_object_set_new(out, "rows_affected", json_integer(
		    json_integer_value(json_object_get(res, "rows_affected"))));
		json_decref(res);
	}
	return admin_json(out);
}

static int
admin_boot(struct cli *c, const struct admin_args *a)
{
	if (a->npos != 1)
		return admin_usage("boot", "needs exactly one FILE");
	if (cli_boot(c, a->pos[0]) != 0)
		return 1;
	if (c->json)
		return admin_json(json_pack("{s:b}", "booted", 1));
	printf("Node booted successfully.\n");
	return 0;
}

static int
admin_remove(struct cli *c, const struct admin_args *a)
{
	if (a->npos != 1)
		return admin_usage("remove", "needs exactly one node ID");
	if (cli_ops_remove(c, a->pos[0]) != 0)
		return 1;
	if (c->json)
		return admin_json(json_pack("{s:s}", "removed", a->pos[0]));
	printf("node %s removed\n", a->pos[0]);
	return 0;
}

static int
admin_stepdown(struct cli *c, const struct admin_args *a)
{
	if (a->npos > 1)
		return admin_usage("stepdown", "takes at most one node ID");
	if (cli_ops_stepdown(c, a->npos == 1 ? a->pos[0] : NULL) != 0)
		return 1;
	if (c->json)
		return admin_json(a->npos == 1
		    ? json_pack("{s:b,s:s}", "stepped_down", 1, "target", a->pos[0])
		    : json_pack("{s:b}", "stepped_down", 1));
	printf("leadership transferred\n");
	return 0;
}

static int
admin_snapshot(struct cli *c, const struct admin_args *a)
{
	long trailing = 0;
	bool created = false;

	if (a->npos > 1)
		return admin_usage("snapshot", "takes at most one TRAILING_LOGS count");
	if (a->npos == 1) {
		char *end;

		errno = 0;
		trailing = strtol(a->pos[0], &end, 10);
		if (errno != 0 || *end != '\0' || end == a->pos[0] || trailing < 0)
			return admin_usage("snapshot", "TRAILING_LOGS must be a count >= 0");
	}
	if (cli_ops_snapshot(c, trailing, &created) != 0)
		return 1;
	if (c->json)
		return admin_json(json_pack("{s:b}", "snapshot", created));
	printf("%s\n", created ? "snapshot taken" : "nothing new to snapshot");
	return 0;
}

static int
admin_reap(struct cli *c, const struct admin_args *a)
{
	long long snaps, wals;

	if (a->npos > 0)
		return admin_usage("reap", "takes no arguments");
	if (cli_ops_reap(c, &snaps, &wals) != 0)
		return 1;
	if (c->json)
		return admin_json(json_pack("{s:I,s:I}", "snapshots_reaped", (json_int_t)snaps,
		    "wals_checkpointed", (json_int_t)wals));
	printf("snapshots reaped: %lld, WALs checkpointed: %lld\n", snaps, wals);
	return 0;
}

static int
admin_keygen(struct cli *c, const struct admin_args *a)
{
	unsigned char key[CLI_KEY_BYTES];
	const char *file;
	size_t off = 0;
	int fd;

	if (a->npos != 1)
		return admin_usage("keygen", "needs exactly one FILE");
	file = a->pos[0];
	while (off < sizeof(key)) {
		ssize_t n = getrandom(key + off, sizeof(key) - off, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_err(c, "getrandom: %s", strerror(errno));
			return 1;
		}
		off += (size_t)n;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC | (a->force ? O_TRUNC : O_EXCL), 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			cli_err(c, "%s already exists (use --force to replace it)", file);
		else
			cli_err(c, "open %s: %s", file, strerror(errno));
		explicit_bzero(key, sizeof(key));
		return 1;
	}
	/* --force on an existing file keeps its old mode otherwise. */
	if (fchmod(fd, 0600) != 0 || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) != 0) {
		cli_err(c, "write %s: %s", file, strerror(errno));
		close(fd);
		explicit_bzero(key, sizeof(key));
		return 1;
	}
	explicit_bzero(key, sizeof(key));
	if (close(fd) != 0) {
		cli_err(c, "close %s: %s", file, strerror(errno));
		return 1;
	}
	if (c->json)
		return admin_json(json_pack("{s:s,s:i}", "file", file, "bytes", CLI_KEY_BYTES));
	printf("cluster key written to %s (32 bytes, mode 0600)\n", file);
	return 0;
}

int
cli_admin(struct cli *c, int argc, char **argv)
{
	struct admin_args a = { .npos = 0 };
	const char *cmd = argv[0];

	c->admin = true;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "--json") == 0 || strcmp(s, "-json") == 0) {
			c->json = true;
		} else if (strcmp(s, "--sql") == 0 && strcmp(cmd, "backup") == 0) {
			a.sql = true;
		} else if (strncmp(s, "--tables=", 9) == 0 && strcmp(cmd, "backup") == 0) {
			a.tables = s + 9;
		} else if (strcmp(s, "--all") == 0 && strcmp(cmd, "nodes") == 0) {
			a.all = true;
		} else if (strcmp(s, "--force") == 0 && strcmp(cmd, "keygen") == 0) {
			a.force = true;
		} else if (strcmp(s, "--") == 0) {
			for (i++; i < argc; i++) {
				if (a.npos == 2)
					return admin_usage(cmd, "too many arguments");
				a.pos[a.npos++] = argv[i];
			}
		} else if (s[0] == '-' && s[1] != '\0') {
			fprintf(stderr, "rqlitectl %s: unknown option %s\n", cmd, s);
			return 2;
		} else {
			if (a.npos == 2)
				return admin_usage(cmd, "too many arguments");
			a.pos[a.npos++] = s;
		}
	}
	if (strcmp(cmd, "status") == 0)
		return admin_status(c, &a);
	if (strcmp(cmd, "nodes") == 0)
		return admin_nodes(c, &a);
	if (strcmp(cmd, "leader") == 0)
		return a.npos ? admin_usage(cmd, "takes no arguments") : admin_leader(c);
	if (strcmp(cmd, "ready") == 0)
		return a.npos ? admin_usage(cmd, "takes no arguments") : admin_ready(c);
	if (strcmp(cmd, "backup") == 0)
		return admin_backup(c, &a);
	if (strcmp(cmd, "restore") == 0)
		return admin_restore(c, &a);
	if (strcmp(cmd, "boot") == 0)
		return admin_boot(c, &a);
	if (strcmp(cmd, "remove") == 0)
		return admin_remove(c, &a);
	if (strcmp(cmd, "stepdown") == 0)
		return admin_stepdown(c, &a);
	if (strcmp(cmd, "snapshot") == 0)
		return admin_snapshot(c, &a);
	if (strcmp(cmd, "reap") == 0)
		return admin_reap(c, &a);
	if (strcmp(cmd, "keygen") == 0)
		return admin_keygen(c, &a);
	return admin_usage(cmd, "unknown command");
}
