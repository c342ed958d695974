/*
 * Read-only node information, shared by the shell's dot-commands and the admin
 * subcommands: GET /status, /nodes, /debug/vars as JSON or as rqlite's key: value
 * tree, the Leader's entry from /nodes, /readyz, loaded extensions, and .sysdump
 * (status, nodes, readyz and expvar of every node into one file).
 */
#include "cli.h"
#include "cli_output.h"

#include <stdlib.h>
#include <string.h>

int
cli_fetch_json(struct cli *c, const char *path, json_t **out)
{
	struct cli_resp r;
	json_error_t jerr;

	*out = NULL;
	if (cli_http_do(&c->http, "GET", path, NULL, NULL, -1, &r) != 0) {
		cli_err(c, "%s", c->http.err);
		return -1;
	}
	cli_follow_host(c);
	if (r.status == 401) {
		cli_err(c, "unauthorized");
		cli_resp_free(&r);
		return -1;
	}
	if (r.status != 200) {
		cli_status_error(c, &r, " ", true);
		cli_resp_free(&r);
		return -1;
	}
	*out = json_loadb(r.body, r.len, JSON_DECODE_ANY, &jerr);
	cli_resp_free(&r);
	if (*out == NULL) {
		cli_err(c, "invalid JSON from server: %s", jerr.text);
		return -1;
	}
	return 0;
}

void
cli_print_tree(struct cli *c, const json_t *v)
{
	struct cli_buf b = { 0 };

	(void)c;
	if (json_is_object(v))
		cli_output_tree(&b, v, 0);
	else if (v != NULL && !json_is_null(v)) {
		cli_value_text(&b, v, "<nil>");
		cli_buf_puts(&b, "\n");
	}
	fputs(cli_buf_str(&b), stdout);
	fflush(stdout);
	cli_buf_free(&b);
}

int
cli_info_tree(struct cli *c, const char *path, const char *key)
{
	json_t *doc, *sel;

	if (cli_fetch_json(c, path, &doc) != 0)
		return -1;
	if (key != NULL && *key != '\0') {
		/* rqlite's shell keeps only the named top-level member. */
		sel = json_object();
		json_t *v = json_object_get(doc, key);

		if (v != NULL)
			json_object_set(sel, key, v);
		json_decref(doc);
		doc = sel;
	}
	cli_print_tree(c, doc);
	json_decref(doc);
	return 0;
}

int
cli_info_leader(struct cli *c, json_t **nodes_out, const char **id_out)
{
	json_t *doc, *n;
	const char *id;

	*nodes_out = NULL;
	*id_out = NULL;
	if (cli_fetch_json(c, "nodes", &doc) != 0)
		return -1;
	json_object_foreach(doc, id, n) {
		if (json_is_true(json_object_get(n, "leader"))) {
			*nodes_out = doc;
			*id_out = id;
			return 0;
		}
	}
	json_decref(doc);
	cli_err(c, "no leader found");
	return -1;
}

int
cli_info_ready(struct cli *c, bool *ready, char **body_out)
{
	struct cli_resp r;

	if (cli_http_do(&c->http, "GET", "readyz", NULL, NULL, -1, &r) != 0) {
		cli_err(c, "%s", c->http.err);
		return -1;
	}
	cli_follow_host(c);
	*ready = r.status == 200;
	if (body_out != NULL)
		*body_out = strdup(r.body ? r.body : "");
	cli_resp_free(&r);
	return 0;
}

int
cli_info_extensions(struct cli *c)
{
	struct cli_resp r;
	json_t *doc, *names;

	if (cli_http_do(&c->http, "GET", "status?key=extensions", NULL, NULL, -1, &r) != 0) {
		cli_err(c, "%s", c->http.err);
		return -1;
	}
	cli_follow_host(c);
	if (r.status == 401) {
		cli_resp_free(&r);
		cli_err(c, "unauthorized");
		return -1;
	}
	if (r.status == 404) {
		cli_resp_free(&r);
		return 0;
	}
	doc = json_loadb(r.body, r.len, 0, NULL);
	cli_resp_free(&r);
	names = json_object_get(doc, "names");
	for (size_t i = 0; i < json_array_size(names); i++)
		if (json_is_string(json_array_get(names, i)))
			printf("%s\n", json_string_value(json_array_get(names, i)));
	json_decref(doc);
	return 0;
}

static int
info_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
info_dump_url(struct cli *c, FILE *f, const char *url)
{
	struct cli_resp r;

	fprintf(f, "\n=========================================\nURL: %s\n", url);
	if (cli_http_direct(&c->http, url, &r) != 0) {
		fprintf(f, "Status: %s\n\n", c->http.err);
		return;
	}
	fprintf(f, "Status: %ld %s\n\n", r.status, r.reason);
	if (r.status == 200)
		fwrite(r.body, 1, r.len, f);
	cli_resp_free(&r);
}

int
cli_info_sysdump(struct cli *c, const char *file)
{
	static const char *const paths[] = { "/status?pretty", "/nodes?pretty", "/readyz",
	    "/debug/vars" };
	json_t *nodes, *n;
	const char **ids, *id;
	size_t nids = 0;
	FILE *f;

	if (cli_fetch_json(c, "nodes", &nodes) != 0)
		return -1;
	f = fopen(file, "w");
	if (f == NULL) {
		cli_err(c, "open %s: %m", file);
		json_decref(nodes);
		return -1;
	}
	ids = calloc(json_object_size(nodes) + 1, sizeof(*ids));
	json_object_foreach(nodes, id, n)
		if (ids != NULL)
			ids[nids++] = id;
	if (ids != NULL)
		qsort(ids, nids, sizeof(*ids), info_key_cmp);
	for (size_t i = 0; i < nids; i++) {
		const char *api = json_string_value(json_object_get(json_object_get(nodes, ids[i]),
		    "api_addr"));
		char url[1024];

		if (api == NULL || *api == '\0')
			continue;
		for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
			snprintf(url, sizeof(url), "%s%s", api, paths[k]);
			info_dump_url(c, f, url);
		}
	}
	free(ids);
	json_decref(nodes);
	if (fclose(f) != 0) {
		cli_err(c, "write %s: %m", file);
		return -1;
	}
	return 0;
}
