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

/* Answers a MEMBERSHIP request; prefix names the operation in an error's text. */
static void
gw_membership_answer(struct gw_req *r, struct ipc_msg *m, const char *prefix)
{
	const char *e;
	size_t n;
	char msg[512];
	enum ipc_errcode code = m != NULL ? ipc_get_error(m, &e, &n) : IPC_EC_LEADER_NOT_FOUND;

	if (code == IPC_EC_UNAUTHORIZED) {
		gw_respond_text(r, MHD_HTTP_UNAUTHORIZED, prefix[0] != '\0' ?
		    "remote stepdown not authorized" : "remote remove node not authorized");
		return;
	}
	if (code == IPC_EC_LEADER_NOT_FOUND || code == IPC_EC_NOT_LEADER) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
		return;
	}
	if (code != IPC_EC_NONE) {
		snprintf(msg, sizeof(msg), "%s%.*s", prefix, (int)n, e);
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
gw_stepdown_cb(struct gw_req *r, struct ipc_msg *m)
{
	gw_membership_answer(r, m, "stepdown: ");
}

static void
gw_remove_cb(struct gw_req *r, struct ipc_msg *m)
{
	gw_membership_answer(r, m, "");
}

/* Sends MEMBERSHIP {op, id, wait}; id is copied into the frame. */
static void
gw_membership(struct gw_req *r, const char *op, const char *id, bool wait, gw_reply_fn *cb)
{
	gw_begin(r, IPC_MEMBERSHIP);
	ipc_add_str(&gw.w, "op", op);
	ipc_add_str(&gw.w, "id", id != NULL ? id : "");
	ipc_add_bool(&gw.w, "wait", wait);
	if (gw_send_wait(r, PROC_CONSENSUS, cb, r->params.timeout_ns) != 0)
		cb(r, NULL);
}

/* POST /leader: the leader steps down, to the node named by {"id": …} if given. */
void
gw_handle_stepdown(struct gw_req *r)
{
	json_t *j = NULL;
	const char *id = NULL;

	if (r->body_len > 0) {
		/* rqlite reads {"id": …} only for exactly this content type. */
		const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_TYPE);
		if (ct != NULL && strcmp(ct, "application/json") == 0) {
			json_error_t jerr;
			if ((j = json_loadb(r->body, r->body_len, 0, &jerr)) == NULL) {
				char msg[256];
				snprintf(msg, sizeof(msg), "invalid JSON: %s", jerr.text);
				gw_respond_text(r, MHD_HTTP_BAD_REQUEST, msg);
				return;
			}
			id = json_string_value(json_object_get(j, "id"));	/* NULL unless a string */
		}
	}
	/* Without wait a follower does nothing (as rqlite): the leader is elsewhere. */
	if (!r->params.wait && strcmp(gw.raft_state, "Leader") != 0)
		gw_respond_empty(r, MHD_HTTP_OK);
	else
		gw_membership(r, "stepdown", id, r->params.wait, gw_stepdown_cb);
	json_decref(j);
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
	gw_membership(r, "remove", json_string_value(id), true, gw_remove_cb);
	json_decref(j);
}
