/*
 * Membership changes asked over HTTP: POST /leader (the leader steps down, optionally
 * to a named node) and DELETE /remove (a node leaves the configuration). Both are a
 * MEMBERSHIP message to consensus (op "stepdown" or "remove"), which runs it on the
 * leader, and MEMBERSHIP_RESULT carries the outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gateway_internal.h"

/* Answer of a MEMBERSHIP request (remove, stepdown); prefix names the operation. */
static void
gw_membership_cb(struct gw_req *r, struct ipc_msg *m)
{
	const char *e;
	size_t n;
	char msg[512];

	if (m == NULL || (ipc_get_str(m, "e", &e, &n) == IPC_OK &&
	    ((n == 16 && memcmp(e, "leader not found", 16) == 0) ||
	     (n == 10 && memcmp(e, "not leader", 10) == 0)))) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
		return;
	}
	if (ipc_get_str(m, "e", &e, &n) == IPC_OK) {
		snprintf(msg, sizeof(msg), "%s%.*s", r->aux_buf[0] != NULL ? r->aux_buf[0] : "",
		    (int)n, e);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
		return;
	}
	gw_respond_empty(r, MHD_HTTP_OK);
	{
		/* Served by the leader: its Raft address when that is another node. */
		char lr[256];
		if (ipc_get_strbuf(m, "lr", lr, sizeof(lr)) == IPC_OK &&
		    strcmp(lr, gw.opts->raft_adv_addr) != 0)
			gw_add_header(r, "X-RQLITE-SERVED-BY", lr);
		else
			gw_add_header(r, "X-RQLITE-SERVED-BY", gw.opts->http_adv_addr);
	}
}

static void
gw_membership(struct gw_req *r, const char *op, const char *id, bool wait)
{
	gw_begin(r, IPC_MEMBERSHIP);
	ipc_add_str(&gw.w, "op", op);
	ipc_add_str(&gw.w, "id", id != NULL ? id : "");
	ipc_add_bool(&gw.w, "wait", wait);
	if (gw_send_wait(r, PROC_CONSENSUS, gw_membership_cb, r->params.timeout_ns) != 0)
		gw_membership_cb(r, NULL);
}

/* POST /leader: the leader steps down, to the node named by {"id": …} if given. */
void
gw_handle_stepdown(struct gw_req *r)
{
	if (r->body_len > 0) {
		/* rqlite reads {"id": …} only for exactly this content type. */
		const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_TYPE);
		if (ct != NULL && strcmp(ct, "application/json") == 0) {
			json_error_t jerr;
			json_t *j = json_loadb(r->body, r->body_len, 0, &jerr);
			if (j == NULL) {
				char msg[256];
				snprintf(msg, sizeof(msg), "invalid JSON: %s", jerr.text);
				gw_respond_text(r, MHD_HTTP_BAD_REQUEST, msg);
				return;
			}
			if (json_is_string(json_object_get(j, "id")))
				r->aux_buf[1] = strdup(json_string_value(json_object_get(j, "id")));
			json_decref(j);
		}
	}
	/* Without wait a follower does nothing (as rqlite): the leader is elsewhere. */
	if (!r->params.wait && strcmp(gw.raft_state, "Leader") != 0) {
		gw_respond_empty(r, MHD_HTTP_OK);
		return;
	}
	r->aux_buf[0] = strdup("stepdown: ");
	gw_membership(r, "stepdown", r->aux_buf[1], r->params.wait);
}

void
gw_handle_remove(struct gw_req *r)
{
	json_t *j, *id;

	/* Exactly {"id": "<node id>"}; anything else is a bad request. */
	j = r->body != NULL ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	id = j != NULL ? json_object_get(j, "id") : NULL;
	if (j == NULL || !json_is_object(j) || json_object_size(j) != 1 || !json_is_string(id)) {
		json_decref(j);
		gw_respond_empty(r, MHD_HTTP_BAD_REQUEST);
		return;
	}
	if (r->params.redirect && strcmp(gw.raft_state, "Leader") != 0 && gw.leader_api[0] != '\0') {
		json_decref(j);
		gw_redirect_to_leader(r, MHD_HTTP_SERVICE_UNAVAILABLE);
		return;
	}
	r->aux_buf[1] = strdup(json_string_value(id));
	json_decref(j);
	gw_membership(r, "remove", r->aux_buf[1], true);
}
