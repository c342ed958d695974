/*
 * POST /db/load and POST /boot: a whole database replaced through the log, so every
 * node loads it. The body is sniffed: a SQLite file is proposed as one LOAD entry
 * (kind 5) or, past GW_LOAD_CHUNK, as LOAD_CHUNK entries (gateway_load_chunks.c); a
 * SQL dump as one LOAD_SQL entry (kind 6) run like an execute. PROPOSE →
 * PROPOSE_RESULT. /boot is a SQLite file on a single-node cluster: it first asks
 * consensus for the configuration (CONS_STATUS → CONS_STATUS_RESULT).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_internal.h"
#include "gateway_load.h"
#include "gateway_render.h"
#include "storage/storage_backup.h"

bool
gw_load_result_failed(const char *res, size_t len, char *ebuf, size_t elen)
{
	msgpack_unpacked un;
	size_t off = 0;
	bool failed = true;

	snprintf(ebuf, elen, "the load failed");
	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, res, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    un.data.type == MSGPACK_OBJECT_MAP) {
		failed = false;
		for (uint32_t i = 0; i < un.data.via.map.size; i++) {
			const msgpack_object_kv *kv = &un.data.via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 1 &&
			    kv->key.via.str.ptr[0] == 'e') {
				failed = true;
				if (kv->val.type == MSGPACK_OBJECT_STR)
					snprintf(ebuf, elen, "%.*s", (int)kv->val.via.str.size,
					    kv->val.via.str.ptr);
			}
		}
	}
	msgpack_unpacked_destroy(&un);
	return failed;
}

static void
gw_load_cb(struct gw_req *r, struct ipc_msg *m)
{
	const char *res, *e;
	size_t len, n;
	char msg[600];

	if (m == NULL) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
		return;
	}
	if (ipc_get_str(m, "e", &e, &n) == IPC_OK) {
		if (ipc_get_error(m, NULL, NULL) == IPC_EC_UNAUTHORIZED) {
			gw_respond_text(r, MHD_HTTP_UNAUTHORIZED, "remote load not authorized");
			return;
		}
		if (ipc_get_error(m, NULL, NULL) == IPC_EC_NOT_LEADER) {
			gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
			return;
		}
		snprintf(msg, sizeof(msg), "%.*s", (int)n, e);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
		return;
	}
	if (ipc_get_bin(m, "res", &res, &len) != IPC_OK || ipc_msgpack_validate(res, len) != 0) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "malformed reply");
		return;
	}
	if (r->ctx.load->kind == IPC_CMD_LOAD_SQL) {
		/* Rendered like an execute: {"results":[{…}]} or a statement error. */
		struct gateway_render_opts o;
		msgpack_unpacked un;
		size_t off = 0;
		char err[GATEWAY_RENDER_ERR_MAX], *out = NULL;
		size_t out_len = 0;

		memset(&o, 0, sizeof(o));
		o.pretty = r->params.pretty;
		o.timings = r->params.timings;
		msgpack_unpacked_init(&un);
		if (msgpack_unpack_next(&un, res, len, &off) != MSGPACK_UNPACK_SUCCESS ||
		    gateway_render_to_buffer(&un.data, &o, &out, &out_len, err, sizeof(err)) != 0) {
			msgpack_unpacked_destroy(&un);
			free(out);
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "malformed reply");
			return;
		}
		msgpack_unpacked_destroy(&un);
		gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", out, out_len);
		return;
	}
	/* A SQLite file: the result map carries an error, or nothing. */
	{
		char ebuf[600];

		if (gw_load_result_failed(res, len, ebuf, sizeof(ebuf))) {
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, ebuf);
		} else if (r->ctx.load->route == GW_LOAD_ROUTE_BOOT) {
			gw_respond_empty(r, MHD_HTTP_OK);
		} else {
			char *ok = strdup("{\"results\":[]}");
			gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", ok,
			    ok != NULL ? strlen(ok) : 0);
		}
	}
}

/* Proposes the load command for the request's body. */
static void
gw_load_propose(struct gw_req *r)
{
	bool binary = r->ctx.load->kind == IPC_CMD_LOAD_FILE;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, binary ? 2 : 2 + gateway_cmd_limits_count(&gw.limits));
	if (!binary)
		(void)gateway_cmd_limits_pack(&gw.limits, &pk);	/* a dump is client SQL */
	msgpack_pack_str_with_body(&pk, "k", 1);
	msgpack_pack_uint32(&pk, r->ctx.load->kind);
	if (binary) {
		msgpack_pack_str_with_body(&pk, "db", 2);
		msgpack_pack_bin_with_body(&pk, r->body, r->body_len);
	} else {
		msgpack_pack_str_with_body(&pk, "sql", 3);
		msgpack_pack_str_with_body(&pk, r->body != NULL ? r->body : "", r->body_len);
	}
	gw_begin(r, IPC_PROPOSE);
	ipc_add_bin(&gw.w, "c", sb.data, sb.size);
	/* Loading a large file takes longer than -raft-apply-timeout: ?timeout rules. */
	ipc_add_u64(&gw.w, "at", (uint64_t)(r->params.timeout_ns / 1000000));
	msgpack_sbuffer_destroy(&sb);
	if (gw_send_wait(r, PROC_CONSENSUS, gw_load_cb, r->params.timeout_ns) != 0)
		gw_load_cb(r, NULL);
}

static void
gw_load_ctx_free(struct gw_req *r)
{
	free(r->ctx.load);
}

/*
 * Loads the body (a SQLite file if binary, else a SQL dump) for the route that asked.
 * A SQLite file bigger than one chunk goes through the log in chunks.
 */
static void
gw_load_file_or_sql(struct gw_req *r, enum gw_load_route route, bool binary)
{
	struct gw_load_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	c->route = route;
	c->kind = binary ? IPC_CMD_LOAD_FILE : IPC_CMD_LOAD_SQL;
	r->ctx_type = GW_CTX_LOAD;
	r->ctx.load = c;
	r->ctx_free = gw_load_ctx_free;
	if (binary && r->body_total > GW_LOAD_CHUNK)
		gw_load_chunks_start(r, gw_load_cb);
	else
		gw_load_propose(r);
}

void
gw_handle_load(struct gw_req *r)
{
	bool binary;

	gw.counters.loads++;
	/* Sniffed, as rqlite does: the content type is not consulted. */
	binary = r->body_len >= 13 && memcmp(r->body, "SQLite format", 13) == 0;
	if (binary && !storage_is_sqlite_header(r->body, r->body_len)) {
		gw_respond_text(r, MHD_HTTP_BAD_REQUEST, "invalid SQLite data");
		return;
	}
	if (!binary && r->spooled) {
		/* A dump runs as one transaction in one log entry. */
		gw_respond_text(r, MHD_HTTP_CONTENT_TOO_LARGE,
		    "SQL dump too large (at most 32 MiB); load a SQLite file instead");
		return;
	}
	if (r->params.redirect && strcmp(gw.raft_state, "Leader") != 0) {
		/* The file is loaded through the leader: send the client there. */
		gw_redirect_to_leader(r, MHD_HTTP_SERVICE_UNAVAILABLE);
		return;
	}
	gw_load_file_or_sql(r, GW_LOAD_ROUTE_LOAD, binary);
}

static void
gw_boot_status_cb(struct gw_req *r, struct ipc_msg *m)
{
	const msgpack_object *nodes = m != NULL ? ipc_get(m, "nodes") : NULL;

	if (nodes == NULL || nodes->type != MSGPACK_OBJECT_ARRAY) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store not open");
		return;
	}
	if (nodes->via.array.size != 1) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not single-node");
		return;
	}
	gw_load_file_or_sql(r, GW_LOAD_ROUTE_BOOT, true);
}

void
gw_handle_boot(struct gw_req *r)
{
	gw.counters.boot++;
	if (!storage_is_sqlite_header(r->body != NULL ? r->body : "", r->body_len)) {
		gw_respond_text(r, MHD_HTTP_BAD_REQUEST, "invalid SQLite data");
		return;
	}
	if (strcmp(gw.raft_state, "Leader") != 0) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not leader");
		return;
	}
	/* Booting is for a one-node cluster: ask consensus for the configuration first. */
	gw_begin(r, IPC_CONS_STATUS);
	if (gw_send_wait(r, PROC_CONSENSUS, gw_boot_status_cb, 5000000000) != 0)
		gw_boot_status_cb(r, NULL);
}
