/*
 * Whole-database endpoints: GET /db/backup (storage writes a file, we stream it),
 * POST /db/load (a SQLite file or a SQL dump, through the log so every node loads it)
 * and POST /boot (a SQLite file on a single-node cluster).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "common/log.h"
#include "gateway_internal.h"
#include "gateway_render.h"
#include "storage/storage_backup.h"

#define CMD_LOAD_FILE 5
#define CMD_LOAD_SQL 6

/* The file is made on the leader: a follower sends the client there (rqlite proxies). */
static bool
gw_follower_redirect(struct gw_req *r)
{
	if (strcmp(gw.raft_state, "Leader") == 0)
		return false;
	gw_redirect_to_leader(r, MHD_HTTP_SERVICE_UNAVAILABLE);
	return true;
}

/* ---- a follower fetches the leader's backup (rqlite proxies it) ------------------------- */

struct gw_fetch {
	struct gw_req *r;
	struct evhttp_connection *conn;
	int fd;
	char path[4096];
	bool failed;
};

static void gw_backup_stream_file(struct gw_req *r, int fd);

static void
gw_fetch_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct gw_fetch *f = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	/* Spooled to disk as it comes: a large backup never sits whole in memory. */
	if (evhttp_request_get_response_code(req) == 200 && f->fd != -1 &&
	    evbuffer_write(in, f->fd) < 0)
		f->failed = true;
}

static void
gw_fetch_done_cb(struct evhttp_request *req, void *arg)
{
	struct gw_fetch *f = arg;
	struct gw_req *r = f->r;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	if (req != NULL && code == 200 && f->fd != -1)
		while (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0)
			if (evbuffer_write(evhttp_request_get_input_buffer(req), f->fd) < 0) {
				f->failed = true;
				break;
			}
	if (r != NULL && r->aux == f) {
		r->aux = NULL;
		r->aux_free = NULL;
		if (code == 200 && !f->failed) {
			gw_backup_stream_file(r, f->fd);
			f->fd = -1;
		} else if (code == 0) {
			gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not reachable");
		} else {
			char msg[64];
			snprintf(msg, sizeof(msg), "leader answered %d", code);
			gw_respond_text(r, (unsigned)code, msg);
		}
		gw_resume_request(r);
		gw_http_kick();
	}
	if (f->fd != -1)
		close(f->fd);
	/* The connection is freed once this callback has returned. */
	evhttp_connection_free_on_completion(f->conn);
	free(f);
}

/* The request went away first: the transfer finishes into nothing. */
static void
gw_fetch_abandon(void *arg)
{
	struct gw_fetch *f = arg;
	f->r = NULL;
}

static bool
gw_backup_proxy(struct gw_req *r)
{
	char host[256], port[16], uri[4096];
	struct gw_fetch *f;
	struct evhttp_request *req;
	const char *colon = strrchr(gw.leader_api, ':');

	if (colon == NULL || (size_t)(colon - gw.leader_api) >= sizeof(host))
		return false;
	memcpy(host, gw.leader_api, (size_t)(colon - gw.leader_api));
	host[colon - gw.leader_api] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return false;
	f->r = r;
	snprintf(f->path, sizeof(f->path), "%s/backup-proxy-XXXXXX", gw.opts->data_dir);
	f->fd = mkstemp(f->path);
	if (f->fd == -1) {
		free(f);
		return false;
	}
	unlink(f->path);	/* the descriptor is all we need */
	f->conn = evhttp_connection_base_new(gw.role.base, NULL, host, (unsigned short)atoi(port));
	req = f->conn != NULL ? evhttp_request_new(gw_fetch_done_cb, f) : NULL;
	if (req == NULL) {
		if (f->conn != NULL)
			evhttp_connection_free(f->conn);
		close(f->fd);
		free(f);
		return false;
	}
	evhttp_request_set_chunked_cb(req, gw_fetch_chunk_cb);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", gw.leader_api);
	snprintf(uri, sizeof(uri), "%s?%s%snoleader", r->path,
	    r->raw_query != NULL ? r->raw_query : "",
	    r->raw_query != NULL && r->raw_query[0] != '\0' ? "&" : "");
	if (evhttp_make_request(f->conn, req, EVHTTP_REQ_GET, uri) != 0) {
		evhttp_connection_free(f->conn);
		close(f->fd);
		free(f);
		return false;
	}
	r->aux = f;
	r->aux_free = gw_fetch_abandon;
	gw_suspend_request(r);
	return true;
}

/* ---- GET /db/backup ------------------------------------------------------------------ */

static void
gw_backup_cb(struct gw_req *r, struct ipc_msg *m)
{
	char path[4096], msg[600];
	const char *e;
	size_t n;
	int fd;

	if (m == NULL) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store not open");
		return;
	}
	if (ipc_get_str(m, "e", &e, &n) == IPC_OK) {
		snprintf(msg, sizeof(msg), "%.*s", (int)n, e);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
		return;
	}
	if (ipc_get_strbuf(m, "p", path, sizeof(path)) != IPC_OK ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "backup file missing");
		return;
	}
	/* The open descriptor keeps the data; the name goes at once. */
	unlink(path);
	gw_backup_stream_file(r, fd);
}

/* Answers r with the whole file behind fd (from its start); takes fd. */
static void
gw_backup_stream_file(struct gw_req *r, int fd)
{
	struct MHD_Response *resp;
	struct stat st;

	if (fstat(fd, &st) == -1 || lseek(fd, 0, SEEK_SET) == -1 ||
	    (resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd)) == NULL) {
		close(fd);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "backup stream failed");
		return;
	}
	MHD_add_response_header(resp, "X-RQLITE-VERSION", gw.opts->version);
	MHD_add_response_header(resp, "Access-Control-Allow-Methods", "OPTIONS, GET, POST");
	MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Content-Type");
	MHD_add_response_header(resp, "Content-Type", r->params.fmt == GATEWAY_BACKUP_SQL &&
	    !r->params.compress ? "application/sql" : "application/octet-stream");
	MHD_add_response_header(resp, "X-RQLITE-SERVED-BY", gw.opts->http_adv_addr);
	r->response = resp;
	r->status = MHD_HTTP_OK;
}

void
gw_handle_backup(struct gw_req *r)
{
	gw.counters.backups++;
	if (r->params.vacuum && r->params.fmt != GATEWAY_BACKUP_BINARY) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "invalid backup format");
		return;
	}
	if (!r->params.noleader && strcmp(gw.raft_state, "Leader") != 0) {
		/* The backup is the leader's: fetch it from there (or 301 with ?redirect). */
		if (r->params.redirect || gw.leader_api[0] == '\0' || !gw_backup_proxy(r))
			(void)gw_follower_redirect(r);
		return;
	}
	gw_begin(r, IPC_BACKUP);
	ipc_add_str(&gw.w, "f", r->params.fmt == GATEWAY_BACKUP_SQL ? "sql" :
	    r->params.fmt == GATEWAY_BACKUP_DELETE ? "delete" : "binary");
	ipc_add_bool(&gw.w, "vacuum", r->params.vacuum);
	ipc_add_bool(&gw.w, "compress", r->params.compress);
	if (r->params.tables != NULL)
		ipc_add_str(&gw.w, "tables", r->params.tables);
	if (gw_send_wait(r, PROC_STORAGE, gw_backup_cb, r->params.timeout_ns) != 0)
		gw_backup_cb(r, NULL);
}

/* ---- POST /db/load and /boot ---------------------------------------------------------- */

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
		if (n == 10 && memcmp(e, "not leader", 10) == 0) {
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
	if (r->kind == CMD_LOAD_SQL) {
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
		} else if (r->stage == 99) {
			gw_respond_empty(r, MHD_HTTP_OK);	/* /boot */
		} else {
			char *ok = strdup("{\"results\":[]}");
			gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", ok,
			    ok != NULL ? strlen(ok) : 0);
		}
	}
}

/* Proposes the load command for the request's body. */
static void
gw_load_propose(struct gw_req *r, bool binary)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, binary ? 2 : 2 + gateway_cmd_limits_count(&gw.limits));
	if (!binary)
		(void)gateway_cmd_limits_pack(&gw.limits, &pk);	/* a dump is client SQL */
	msgpack_pack_str_with_body(&pk, "k", 1);
	msgpack_pack_uint32(&pk, binary ? CMD_LOAD_FILE : CMD_LOAD_SQL);
	if (binary) {
		msgpack_pack_str_with_body(&pk, "db", 2);
		msgpack_pack_bin_with_body(&pk, r->body, r->body_len);
	} else {
		msgpack_pack_str_with_body(&pk, "sql", 3);
		msgpack_pack_str_with_body(&pk, r->body != NULL ? r->body : "", r->body_len);
	}
	r->kind = binary ? CMD_LOAD_FILE : CMD_LOAD_SQL;
	gw_begin(r, IPC_PROPOSE);
	ipc_add_bin(&gw.w, "c", sb.data, sb.size);
	/* Loading a large file takes longer than -raft-apply-timeout: ?timeout rules. */
	ipc_add_u64(&gw.w, "at", (uint64_t)(r->params.timeout_ns / 1000000));
	msgpack_sbuffer_destroy(&sb);
	if (gw_send_wait(r, PROC_CONSENSUS, gw_load_cb, r->params.timeout_ns) != 0)
		gw_load_cb(r, NULL);
}

/* A SQLite file bigger than one chunk goes through the log in chunks. */
static void
gw_load_file_or_sql(struct gw_req *r, bool binary)
{
	if (binary && r->body_total > GW_LOAD_CHUNK) {
		r->kind = CMD_LOAD_FILE;
		gw_load_chunks_start(r, gw_load_cb);
		return;
	}
	gw_load_propose(r, binary);
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
	if (r->params.redirect && strcmp(gw.raft_state, "Leader") != 0 && gw_follower_redirect(r))
		return;
	gw_load_file_or_sql(r, binary);
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
	r->stage = 99;
	gw_load_file_or_sql(r, true);
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
