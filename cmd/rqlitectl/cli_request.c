/*
 * Running SQL from the shell: statements go one per request to /db/request (or
 * /db/execute with .forcewrites on), and the helper queries of .tables, .schema and
 * .indexes go to GET /db/query with the .consistency level. Results print in the
 * current mode; execute results as "N row(s) affected", as rqlite's shell does.
 */
#include "cli.h"
#include "cli_output.h"

#include <stdlib.h>
#include <string.h>

/* Parses a 200 answer into its one result; prints the failure and returns NULL. */
static json_t *
request_single_result(struct cli *c, const struct cli_resp *r, json_t **doc_out)
{
	json_error_t jerr;
	json_t *doc, *results, *err;

	*doc_out = NULL;
	if (r->status != 200) {
		cli_status_error(c, r, " ", true);
		return NULL;
	}
	doc = json_loadb(r->body, r->len, 0, &jerr);
	if (doc == NULL || !json_is_object(doc)) {
		cli_err(c, "invalid response from server: %s", doc ? "not an object" : jerr.text);
		json_decref(doc);
		return NULL;
	}
	err = json_object_get(doc, "error");
	if (json_is_string(err) && json_string_length(err) > 0) {
		cli_err(c, "%s", json_string_value(err));
		json_decref(doc);
		return NULL;
	}
	results = json_object_get(doc, "results");
	if (json_array_size(results) != 1) {
		cli_err(c, "unexpected results length: %zu", json_array_size(results));
		json_decref(doc);
		return NULL;
	}
	*doc_out = doc;
	return json_array_get(results, 0);
}

static double
request_time(const json_t *res)
{
	return json_number_value(json_object_get(res, "time"));
}

static void
request_print(struct cli *c, struct cli_buf *b)
{
	if (b->p != NULL)
		fputs(b->p, c->out);
	fflush(c->out);
	cli_buf_free(b);
}

int
cli_request(struct cli *c, const char *sql)
{
	struct cli_resp r;
	struct cli_body body = { .ctype = "application/json" };
	struct cli_buf out = { 0 };
	json_t *stmt, *doc, *res, *err;
	char *text;
	char path[64];
	int rc = 0;

	stmt = json_pack("[s]", sql);
	text = stmt ? json_dumps(stmt, JSON_COMPACT) : NULL;
	json_decref(stmt);
	if (text == NULL) {
		cli_err(c, "statement is not valid UTF-8");
		return -1;
	}
	body.data = text;
	body.len = strlen(text);
	snprintf(path, sizeof(path), "%s%s", c->set.forcewrites ? "db/execute" : "db/request",
	    c->set.timer ? "?timings" : "");
	if (cli_http_do(&c->http, "POST", path, &body, NULL, -1, &r) != 0) {
		cli_err(c, "%s", c->http.err);
		free(text);
		return -1;
	}
	free(text);
	cli_follow_host(c);
	res = request_single_result(c, &r, &doc);
	cli_resp_free(&r);
	if (res == NULL)
		return -1;

	err = json_object_get(res, "error");
	if (json_is_string(err) && json_string_length(err) > 0) {
		fprintf(c->out, "Error: %s\n", json_string_value(err));
		fflush(c->out);
		json_decref(doc);
		return -1;
	}
	if (json_object_get(res, "columns") || json_object_get(res, "types") ||
	    json_object_get(res, "values")) {
		cli_output_table(&out, json_object_get(res, "columns"),
		    json_object_get(res, "values"), c->set.mode);
		if (c->set.timer)
			cli_buf_printf(&out, "Run Time: %f seconds\n", request_time(res));
	} else {
		json_int_t n = json_integer_value(json_object_get(res, "rows_affected"));

		if (c->set.timer)
			cli_buf_printf(&out, "%" JSON_INTEGER_FORMAT " %s affected (%f sec)\n", n,
			    n > 1 ? "rows" : "row", request_time(res));
		else
			cli_buf_printf(&out, "%" JSON_INTEGER_FORMAT " %s affected\n", n,
			    n > 1 ? "rows" : "row");
		if (c->set.changes)
			cli_buf_printf(&out, "last insert ID: %" JSON_INTEGER_FORMAT "\n",
			    json_integer_value(json_object_get(res, "last_insert_id")));
	}
	request_print(c, &out);
	json_decref(doc);
	return rc;
}

int
cli_query(struct cli *c, const char *sql)
{
	struct cli_resp r;
	struct cli_buf path = { 0 }, out = { 0 };
	json_t *doc, *res, *err;
	char *q = cli_http_escape(sql), *level = cli_http_escape(c->set.consistency);

	/* Keys sorted, as Go's url.Values.Encode writes them. */
	cli_buf_printf(&path, "db/query?%slevel=%s&q=%s%s", c->set.blobarray ? "blob_array=&" : "",
	    level ? level : "weak", q ? q : "", c->set.timer ? "&timings=" : "");
	free(q);
	free(level);
	if (path.oom || cli_http_do(&c->http, "GET", cli_buf_str(&path), NULL, NULL, -1, &r) != 0) {
		cli_err(c, "%s", path.oom ? "out of memory" : c->http.err);
		cli_buf_free(&path);
		return -1;
	}
	cli_buf_free(&path);
	cli_follow_host(c);
	res = request_single_result(c, &r, &doc);
	cli_resp_free(&r);
	if (res == NULL)
		return -1;
	err = json_object_get(res, "error");
	if (json_is_string(err) && json_string_length(err) > 0) {
		cli_err(c, "%s", json_string_value(err));
		json_decref(doc);
		return -1;
	}
	cli_output_table(&out, json_object_get(res, "columns"), json_object_get(res, "values"),
	    c->set.mode);
	if (c->set.timer)
		cli_buf_printf(&out, "Run Time: %f seconds\n", request_time(res));
	request_print(c, &out);
	json_decref(doc);
	return 0;
}
