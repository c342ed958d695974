/*
 * GET /nodes and GET /leader: the cluster's members as rqlite lists them, with
 * whether each answered. Consensus contacts every node (NODES → NODES_RESULT, ?timeout
 * bounding the round) and this file renders its list: /nodes as a map by id (or,
 * ?ver=2, an array), /leader as the leader's entry alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "gateway_internal.h"
#include "gateway_jansson.h"

static char *
gw_api_url(const char *hostport)
{
	char *u = NULL;

	/* Nodes advertise a URL ("https://…"); older ones a bare host:port. */
	if (strstr(hostport, "://") != NULL)
		return strdup(hostport);
	if (asprintf(&u, "http://%s", hostport) < 0)
		return NULL;
	return u;
}

/*
 * One node's object as /nodes shows it, keys in rqlite's struct order, from an entry of
 * consensus's NODES_RESULT (id, addr, voter, reachable, api, version, time, error).
 */
static json_t *
gw_node_json(json_t *n, const char *leader_id)
{
	const char *id = json_string_value(json_object_get(n, "id"));
	const char *api = json_string_value(json_object_get(n, "api"));
	const char *version = json_string_value(json_object_get(n, "version"));
	const char *error = json_string_value(json_object_get(n, "error"));
	bool reachable = json_is_true(json_object_get(n, "reachable"));
	json_t *o = json_object();
	char *url = api != NULL && api[0] != '\0' ? gw_api_url(api) : NULL;

	json_object_set_new(o, "id", json_string(id != NULL ? id : ""));
	json_object_set_new(o, "api_addr", json_string(url != NULL ? url : ""));
	json_object_set(o, "addr", json_object_get(n, "addr"));
	json_object_set_new(o, "version", json_string(version != NULL ? version : ""));
	json_object_set(o, "voter", json_object_get(n, "voter"));
	json_object_set_new(o, "reachable", json_boolean(reachable));
	json_object_set_new(o, "leader", json_boolean(id != NULL && leader_id != NULL &&
	    strcmp(id, leader_id) == 0));
	if (reachable) {
		double secs = json_number_value(json_object_get(n, "time"));
		char took[DURATION_FMT_MAX];
		/* Go's omitempty: no round trip measured (this node), no keys. */
		if (secs > 0) {
			duration_format((int64_t)(secs * 1e9), took, sizeof(took));
			json_object_set_new(o, "time", json_real(secs));
			json_object_set_new(o, "time_s", json_string(took));
		}
	} else {
		json_object_set_new(o, "error", json_string(error != NULL && error[0] != '\0' ?
		    error : "node not reachable"));
	}
	free(url);
	return o;
}

/* Asks consensus to contact every node, then calls next (m NULL if consensus is down). */
static void
gw_with_nodes(struct gw_req *r, gw_reply_fn *next)
{
	int64_t to = r->params.has_timeout ? r->params.timeout_ns : 2000000000;

	gw_begin(r, IPC_NODES);
	ipc_add_u64(&gw.w, "to", (uint64_t)(to / 1000000));
	if (gw_send_wait(r, PROC_CONSENSUS, next, to + 5000000000) != 0)
		next(r, NULL);
}

static void
gw_nodes_cb(struct gw_req *r, struct ipc_msg *m)
{
	json_t *c, *nodes, *out, *n, **objs;
	const char *leader;
	bool v2 = r->params.ver != NULL && strcmp(r->params.ver, "2") == 0;
	size_t i, k = 0;

	if (m == NULL) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store not open");
		return;
	}
	c = gw_msg_to_json(m);
	nodes = json_object_get(c, "nodes");
	leader = json_string_value(json_object_get(c, "leader_id"));
	objs = calloc(json_array_size(nodes) + 1, sizeof(*objs));
	if (objs == NULL) {
		json_decref(c);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	json_array_foreach(nodes, i, n) {
		if (!r->params.nonvoters && !json_is_true(json_object_get(n, "voter")))
			continue;
		objs[k++] = gw_node_json(n, leader);
	}
	/* Map keys sorted like Go's map encoding; values keep their struct order. */
	qsort(objs, k, sizeof(*objs), gw_json_id_cmp);
	out = v2 ? json_array() : json_object();
	for (size_t j = 0; j < k; j++) {
		if (v2)
			json_array_append_new(out, objs[j]);
		else
			json_object_set_new(out, json_string_value(json_object_get(objs[j], "id")),
			    objs[j]);
	}
	free(objs);
	json_decref(c);
	if (v2)
		out = json_pack("{s:o}", "nodes", out);
	gw_respond_jansson(r, out, r->params.pretty ? GW_JSON_PRETTY : 0);
}

void
gw_handle_nodes(struct gw_req *r)
{
	gw_with_nodes(r, gw_nodes_cb);
}

static void
gw_leader_get_cb(struct gw_req *r, struct ipc_msg *m)
{
	json_t *c, *n;
	const char *leader;
	size_t i;

	if (m == NULL) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
		return;
	}
	c = gw_msg_to_json(m);
	leader = json_string_value(json_object_get(c, "leader_id"));
	if (leader != NULL && leader[0] != '\0') {
		json_array_foreach(json_object_get(c, "nodes"), i, n) {
			const char *id = json_string_value(json_object_get(n, "id"));
			if (id != NULL && strcmp(id, leader) == 0) {
				json_t *o = gw_node_json(n, leader);
				json_decref(c);
				gw_respond_jansson(r, o, r->params.pretty ? GW_JSON_PRETTY : 0);
				return;
			}
		}
	}
	json_decref(c);
	gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
}

void
gw_handle_leader(struct gw_req *r)
{
	gw_with_nodes(r, gw_leader_get_cb);
}
