/*
 * Cluster operations, shared by the dot-commands and the admin subcommands:
 * DELETE /remove, POST /leader?wait=true (stepdown), POST /snapshot, POST /reap.
 * Error texts follow rqlite's shell ("server responded with …").
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Sends the request; prints transport failures and 401. 0 = got an answer in r. */
static int
ops_send(struct cli *c, const char *method, const char *path, const struct cli_body *body,
    struct cli_resp *r)
{
	if (cli_http_do(&c->http, method, path, body, NULL, -1, r) != 0) {
		cli_err(c, "%s", c->http.err);
		return -1;
	}
	cli_follow_host(c);
	if (r->status == 401) {
		cli_err(c, "unauthorized");
		cli_resp_free(r);
		return -1;
	}
	return 0;
}

static char *
ops_id_body(const char *id)
{
	json_t *o = json_pack("{s:s}", "id", id);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

int
cli_ops_remove(struct cli *c, const char *id)
{
	struct cli_resp r;
	struct cli_body body = { 0 };
	char *js = ops_id_body(id);
	int rc;

	if (js == NULL) {
		cli_err(c, "node ID is not valid UTF-8");
		return -1;
	}
	body.data = js;
	body.len = strlen(js);
	rc = ops_send(c, "DELETE", "remove", &body, &r);
	free(js);
	if (rc != 0)
		return -1;
	if (r.status != 200) {
		cli_status_error(c, &r, ": ", false);
		rc = -1;
	}
	cli_resp_free(&r);
	return rc;
}

int
cli_ops_stepdown(struct cli *c, const char *id)
{
	struct cli_resp r;
	struct cli_body body = { 0 };
	char *js = NULL;
	int rc;

	if (id != NULL && *id != '\0') {
		js = ops_id_body(id);
		if (js == NULL) {
			cli_err(c, "node ID is not valid UTF-8");
			return -1;
		}
		body.data = js;
		body.len = strlen(js);
		body.ctype = "application/json";
	}
	rc = ops_send(c, "POST", "leader?wait=true", &body, &r);
	free(js);
	if (rc != 0)
		return -1;
	if (r.status != 200) {
		cli_status_error(c, &r, " ", false);
		rc = -1;
	}
	cli_resp_free(&r);
	return rc;
}

int
cli_ops_snapshot(struct cli *c, long trailing, bool *created)
{
	struct cli_resp r;
	char path[64];
	int rc = 0;

	snprintf(path, sizeof(path), "snapshot?trailing_logs=%ld", trailing);
	if (ops_send(c, "POST", path, NULL, &r) != 0)
		return -1;
	if (r.status != 200 && r.status != 204) {
		cli_status_error(c, &r, " ", false);
		rc = -1;
	}
	if (created != NULL)
		*created = r.status == 200;
	cli_resp_free(&r);
	return rc;
}

int
cli_ops_reap(struct cli *c, long long *snapshots, long long *wals)
{
	struct cli_resp r;
	json_t *doc;

	if (ops_send(c, "POST", "reap", NULL, &r) != 0)
		return -1;
	if (r.status != 200) {
		cli_status_error(c, &r, " ", false);
		cli_resp_free(&r);
		return -1;
	}
	doc = json_loadb(r.body, r.len, 0, NULL);
	cli_resp_free(&r);
	if (!json_is_object(doc)) {
		json_decref(doc);
		cli_err(c, "failed to decode response: not a JSON object");
		return -1;
	}
	*snapshots = json_integer_value(json_object_get(doc, "snapshots_reaped"));
	*wals = json_integer_value(json_object_get(doc, "wals_checkpointed"));
	json_decref(doc);
	return 0;
}
