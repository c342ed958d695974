/*
 * Moving whole databases: GET /db/backup into a file (binary or, with fmt=sql, a SQL
 * dump), POST /db/load from a SQLite file or SQL text (.restore), POST /boot of a
 * SQLite file. Backups land in FILE.tmp-<pid> and are renamed over FILE only when
 * complete, so a failed backup never leaves a truncated file behind. Uploads run
 * without the HTTP timeout, as rqlite's shell does.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
backup_is_sqlite(const unsigned char *b, size_t n)
{
	return n > 13 && memcmp(b, "SQLite format", 13) == 0;
}

int
cli_backup(struct cli *c, const char *file, bool sql, const char *tables, long long *bytes_out)
{
	struct cli_buf path = { 0 }, tmp = { 0 };
	struct cli_resp r;
	bool to_stdout = strcmp(file, "-") == 0;
	FILE *f;
	int rc = -1;

	if (sql) {
		cli_buf_puts(&path, "db/backup?fmt=sql");
		if (tables != NULL && *tables != '\0') {
			char *t = cli_http_escape(tables);

			cli_buf_printf(&path, "&tables=%s", t ? t : "");
			free(t);
		}
	} else {
		cli_buf_puts(&path, "db/backup");
	}
	if (to_stdout) {
		f = stdout;
	} else {
		cli_buf_printf(&tmp, "%s.tmp-%ld", file, (long)getpid());
		f = fopen(cli_buf_str(&tmp), "wb");
		if (f == NULL) {
			cli_err(c, "open %s: %s", cli_buf_str(&tmp), strerror(errno));
			goto out;
		}
	}
	if (cli_http_do(&c->http, "GET", cli_buf_str(&path), NULL, f, -1, &r) != 0) {
		cli_err(c, "%s", c->http.err);
		goto out_close;
	}
	cli_follow_host(c);
	if (r.status == 401) {
		cli_err(c, "unauthorized");
	} else if (r.status != 200) {
		cli_status_error(c, &r, ": ", false);
	} else {
		if (bytes_out != NULL)
			*bytes_out = r.sunk;
		rc = 0;
	}
	cli_resp_free(&r);
out_close:
	if (!to_stdout) {
		if (fclose(f) != 0 && rc == 0) {
			cli_err(c, "write %s: %s", cli_buf_str(&tmp), strerror(errno));
			rc = -1;
		}
		if (rc == 0 && rename(cli_buf_str(&tmp), file) != 0) {
			cli_err(c, "rename to %s: %s", file, strerror(errno));
			rc = -1;
		}
		if (rc != 0)
			unlink(cli_buf_str(&tmp));
	} else {
		fflush(stdout);
	}
out:
	cli_buf_free(&path);
	cli_buf_free(&tmp);
	return rc;
}

/* rqlite's checkStatus: GET /status must answer with a "store" member. */
static int
backup_check_status(struct cli *c, bool *fk_enabled)
{
	json_t *doc, *store;
	const char *fk;

	if (cli_fetch_json(c, "status", &doc) != 0)
		return -1;
	store = json_object_get(doc, "store");
	if (!json_is_object(store)) {
		json_decref(doc);
		cli_err(c, "unexpected server response: store status not found");
		return -1;
	}
	fk = json_string_value(json_object_get(json_object_get(store, "sqlite3"), "fk_constraints"));
	if (fk_enabled != NULL)
		*fk_enabled = fk != NULL && strcmp(fk, "enabled") == 0;
	json_decref(doc);
	return 0;
}

static unsigned char *
backup_read_file(struct cli *c, const char *file, size_t *len)
{
	FILE *f = fopen(file, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL) {
		cli_err(c, "open %s: %s", file, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 65536 + 64 > cap) {
			unsigned char *nb;

			cap = cap ? cap * 2 : 65536 + 64;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				cli_err(c, "read %s: out of memory", file);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, 65536, f);

		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		cli_err(c, "read %s: %s", file, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

int
cli_restore(struct cli *c, const char *file, json_t **result_out)
{
	struct cli_body body = { 0 };
	struct cli_resp r;
	unsigned char *data;
	size_t len;
	bool fk = false, binary;
	json_t *doc, *res;

	if (result_out != NULL)
		*result_out = NULL;
	if (backup_check_status(c, &fk) != 0)
		return -1;
	data = backup_read_file(c, file, &len);
	if (data == NULL)
		return -1;
	binary = backup_is_sqlite(data, len);
	if (!binary) {
		/* A dump starts with PRAGMA foreign_keys=OFF; put the node's setting back. */
		const char *tail = fk ? "PRAGMA foreign_keys=ON;" : "PRAGMA foreign_keys=OFF;";

		memcpy(data + len, tail, strlen(tail));	/* read_file left >= 64 spare bytes */
		len += strlen(tail);
	}
	body.data = data;
	body.len = len;
	body.ctype = binary ? "application/octet-stream" : "text/plain";
	if (cli_http_do(&c->http, "POST", "db/load", &body, NULL, 0, &r) != 0) {
		cli_err(c, "%s", c->http.err);
		free(data);
		return -1;
	}
	free(data);
	cli_follow_host(c);
	if (r.status == 401 || r.status != 200) {
		if (r.status == 401)
			cli_err(c, "unauthorized");
		else
			cli_status_error(c, &r, ": ", false);
		cli_resp_free(&r);
		return -1;
	}
	doc = json_loadb(r.body, r.len, 0, NULL);
	cli_resp_free(&r);
	if (doc == NULL) {
		cli_err(c, "invalid JSON from server");
		return -1;
	}
	if (!binary) {
		json_t *results = json_object_get(doc, "results");
		const char *err;

		if (json_array_size(results) < 1) {
			cli_err(c, "unexpected results length: %zu", json_array_size(results));
			json_decref(doc);
			return -1;
		}
		res = json_array_get(results, 0);
		err = json_string_value(json_object_get(res, "error"));
		if (err != NULL && *err != '\0') {
			if (c->json)
				cli_err(c, "%s", err);
			else
				printf("Error: %s\n", err);
			json_decref(doc);
			return -1;
		}
		if (!c->json) {
			printf("last inserted ID: %" JSON_INTEGER_FORMAT "\n",
			    json_integer_value(json_object_get(res, "last_insert_id")));
			printf("rows affected: %" JSON_INTEGER_FORMAT "\n",
			    json_integer_value(json_object_get(res, "rows_affected")));
		}
		if (result_out != NULL)
			*result_out = json_incref(res);
	}
	if (!c->json)
		printf("Database restored successfully.\n");
	json_decref(doc);
	return 0;
}

int
cli_boot(struct cli *c, const char *file)
{
	struct cli_body body = { .ctype = "application/octet-stream" };
	struct cli_resp r;
	unsigned char head[16];
	struct stat st;
	FILE *f;
	int rc = -1;

	if (backup_check_status(c, NULL) != 0)
		return -1;
	f = fopen(file, "rb");
	if (f == NULL || fread(head, 1, sizeof(head), f) != sizeof(head) ||
	    !backup_is_sqlite(head, sizeof(head)) || fstat(fileno(f), &st) != 0) {
		if (f != NULL)
			fclose(f);
		cli_err(c, "%s is not a valid SQLite file", file);
		return -1;
	}
	body.fp = f;
	body.fsize = (long long)st.st_size;
	if (cli_http_do(&c->http, "POST", "boot", &body, NULL, 0, &r) != 0) {
		cli_err(c, "%s", c->http.err);
		fclose(f);
		return -1;
	}
	fclose(f);
	cli_follow_host(c);
	if (r.status == 401) {
		cli_err(c, "unauthorized");
	} else if (r.status != 200) {
		if (r.len > 0)
			cli_err(c, "boot failed, status code: %ld %s, %s", r.status, r.reason, r.body);
		else
			cli_err(c, "boot failed, status code: %ld %s", r.status, r.reason);
	} else {
		rc = 0;
	}
	cli_resp_free(&r);
	return rc;
}
