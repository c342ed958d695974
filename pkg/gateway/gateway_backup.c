/*
 * GET /db/backup: the database as a SQLite file, a SQL dump or DELETE-mode file.
 * Storage writes the file (BACKUP → BACKUP_RESULT names it) and this file streams it
 * from an open descriptor. The backup is the leader's: a follower fetches it from the
 * leader's HTTP API (libevent's evhttp client, spooled to an unlinked file) and
 * streams that, as rqlite proxies it, or answers 301 with ?redirect.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "gateway_internal.h"

/* ---- a follower fetches the leader's backup (rqlite proxies it) ------------------------- */

/*
 * The fetch outlives its request when the client goes away first (GW_CTX_BACKUP: the
 * request only points at it): it then finishes into nothing and frees itself.
 */
struct gw_backup_fetch {
	struct gw_req *r;		/* NULL once the request is gone */
	struct evhttp_connection *conn;
	int fd;
	char path[4096];
	bool failed;
};

static void gw_backup_stream_file(struct gw_req *r, int fd);

static void
gw_fetch_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct gw_backup_fetch *f = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	/* Spooled to disk as it comes: a large backup never sits whole in memory. */
	if (evhttp_request_get_response_code(req) == 200 && f->fd != -1 &&
	    evbuffer_write(in, f->fd) < 0)
		f->failed = true;
}

static void
gw_fetch_done_cb(struct evhttp_request *req, void *arg)
{
	struct gw_backup_fetch *f = arg;
	struct gw_req *r = f->r;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	if (req != NULL && code == 200 && f->fd != -1)
		while (evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0)
			if (evbuffer_write(evhttp_request_get_input_buffer(req), f->fd) < 0) {
				f->failed = true;
				break;
			}
	if (r != NULL && r->ctx_type == GW_CTX_BACKUP && r->ctx.backup == f) {
		r->ctx_type = GW_CTX_NONE;
		r->ctx.backup = NULL;
		r->ctx_free = NULL;
		if (code == 200 && !f->failed) {
			gw_backup_stream_file(r, f->fd);
			f->fd = -1;
		} else if (code == 0) {
			gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not reachable");
		} else if (code == MHD_HTTP_UNAUTHORIZED) {
			gw_respond_text(r, MHD_HTTP_UNAUTHORIZED, "remote backup not authorized");
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
gw_fetch_abandon(struct gw_req *r)
{
	r->ctx.backup->r = NULL;
}

static bool
gw_backup_proxy(struct gw_req *r)
{
	char host[256], port[16], uri[4096];
	struct gw_backup_fetch *f;
	struct evhttp_request *req;
	const char *api = gw.leader_api, *colon;

	/* An HTTPS leader is not proxied (the fetch speaks plain HTTP): the caller
	 * redirects the client there instead. */
	if (strncmp(api, "https://", 8) == 0)
		return false;
	if (strncmp(api, "http://", 7) == 0)
		api += 7;
	colon = strrchr(api, ':');
	if (colon == NULL || (size_t)(colon - api) >= sizeof(host))
		return false;
	memcpy(host, api, (size_t)(colon - api));
	host[colon - api] = '\0';
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
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", api);
	{
		/* The caller's own Authorization, checked again by the leader. */
		const char *a = r->conn != NULL ? MHD_lookup_connection_value(r->conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) : NULL;
		if (a != NULL && gw_auth_enabled())
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Authorization", a);
	}
	snprintf(uri, sizeof(uri), "%s?%s%snoleader", r->path,
	    r->raw_query != NULL ? r->raw_query : "",
	    r->raw_query != NULL && r->raw_query[0] != '\0' ? "&" : "");
	if (evhttp_make_request(f->conn, req, EVHTTP_REQ_GET, uri) != 0) {
		evhttp_connection_free(f->conn);
		close(f->fd);
		free(f);
		return false;
	}
	r->ctx_type = GW_CTX_BACKUP;
	r->ctx.backup = f;
	r->ctx_free = gw_fetch_abandon;
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
			gw_redirect_to_leader(r, MHD_HTTP_SERVICE_UNAVAILABLE);
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
