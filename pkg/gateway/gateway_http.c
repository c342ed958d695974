/*
 * libmicrohttpd inside the gateway's libevent loop, and the life of a request on it.
 * MHD runs in external-epoll mode: its epoll fd is one libevent read event plus a
 * timer from MHD_get_timeout. A request is made when MHD sees its URI, takes its body,
 * is routed (gateway_route.c) once the body is complete, and is freed when MHD is
 * done with the connection's request. One that needs another process is suspended,
 * and resumed when the reply arrives or its timeout fires (gateway_wait.c); the
 * access handler then queues the answer. Also the answer helpers (gw_respond*) and
 * the orderly stop. Sends no messages itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "gateway_internal.h"

static void gw_http_arm(void);

double
gw_elapsed(const struct gw_req *r)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - r->started.tv_sec) +
	    (double)(now.tv_nsec - r->started.tv_nsec) / 1e9;
}

/* ---- answers ---------------------------------------------------------------- */

static void
gw_common_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-RQLITE-VERSION", gw.opts->version);
	MHD_add_response_header(resp, "Access-Control-Allow-Methods", "OPTIONS, GET, POST");
	if (gw_auth_enabled()) {
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
		    "Content-Type, Authorization");
		MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
		MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"rqlite\"");
	} else {
		MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Content-Type");
	}
	if (gw.opts->allow_origin != NULL && gw.opts->allow_origin[0] != '\0')
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", gw.opts->allow_origin);
}

void
gw_respond(struct gw_req *r, unsigned status, const char *content_type, char *body, size_t len)
{
	struct MHD_Response *resp;

	if (r->conn == NULL) {
		/* An internal request has nobody to answer: report the failure. */
		free(body);
		if (r->internal_fail != NULL)
			r->internal_fail(r, status == MHD_HTTP_OK ? "request failed" : "unavailable");
		return;
	}
	if (r->response != NULL) {
		free(body);
		return;
	}
	resp = MHD_create_response_from_buffer(len, body != NULL ? body : (char *)"",
	    body != NULL ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(body);
		return;
	}
	gw_common_headers(resp);
	if (content_type != NULL)
		MHD_add_response_header(resp, "Content-Type", content_type);
	r->response = resp;
	r->status = status;
}

void
gw_add_header(struct gw_req *r, const char *name, const char *value)
{
	if (r->response != NULL)
		MHD_add_response_header(r->response, name, value);
}

void
gw_respond_text(struct gw_req *r, unsigned status, const char *text)
{
	size_t n = strlen(text);
	char *b = malloc(n + 2);

	if (b == NULL)
		return;
	memcpy(b, text, n);
	b[n] = '\n';
	b[n + 1] = '\0';
	gw_respond(r, status, "text/plain; charset=utf-8", b, n + 1);
	gw_add_header(r, "X-Content-Type-Options", "nosniff");
}

void
gw_respond_empty(struct gw_req *r, unsigned status)
{
	gw_respond(r, status, NULL, NULL, 0);
}

/*
 * 301 to the same path and query string on the leader's HTTP API. Without a known
 * leader: `unknown_status` with "leader not found". Always answers.
 */
void
gw_redirect_to_leader(struct gw_req *r, unsigned unknown_status)
{
	char *loc = NULL;

	if (gw.leader_api[0] == '\0') {
		gw.counters.leader_not_found++;
		gw_respond_text(r, unknown_status, "leader not found");
		return;
	}
	if (asprintf(&loc, "%s%s%s%s%s", strstr(gw.leader_api, "://") != NULL ? "" : "http://",
	    gw.leader_api, r->path,
	    r->raw_query != NULL && r->raw_query[0] != '\0' ? "?" : "",
	    r->raw_query != NULL ? r->raw_query : "") < 0) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	gw_respond_empty(r, MHD_HTTP_MOVED_PERMANENTLY);
	gw_add_header(r, "Location", loc);
	free(loc);
}

/* ---- suspended connections ---------------------------------------------------- */

void
gw_resume_request(struct gw_req *r)
{
	if (r->suspended && r->conn != NULL) {
		r->suspended = false;
		gw.n_suspended--;
		MHD_resume_connection(r->conn);
	}
}

void
gw_suspend_request(struct gw_req *r)
{
	if (!r->suspended && r->conn != NULL) {
		r->suspended = true;
		gw.n_suspended++;
		MHD_suspend_connection(r->conn);
	}
}

/* ---- MHD callbacks -------------------------------------------------------------- */

static void *
gw_uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct gw_req *r = calloc(1, sizeof(*r));
	const char *q;

	(void)cls;
	if (r == NULL)
		return NULL;
	r->conn = conn;
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	q = strchr(uri, '?');
	/* Kept raw: MHD splits and unescapes arguments its own way, and rqlite's 400
	 * texts for malformed escapes come from parsing the raw string. */
	r->raw_query = strdup(q != NULL ? q + 1 : "");
	return r;
}

static enum MHD_Result
gw_access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct gw_req *r = *con_cls;
	enum MHD_Result ret;

	(void)cls; (void)version;
	if (r == NULL)
		return MHD_NO;
	if (r->method == NULL) {
		const char *cl;

		/* -http-verify-client: no request is served on a connection whose client
		 * certificate does not verify; the connection is closed. */
		if (!gw_tls_client_ok(conn))
			return MHD_NO;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		r->method = method;
		r->path = url;
		if (cl != NULL && strtoull(cl, NULL, 10) > (gw_body_is_load(r) ? GW_LOAD_MAX : GW_BODY_MAX))
			r->too_big = true;
		if (!r->too_big)
			return MHD_YES;	/* body (if any) comes next */
	}
	if (*upload_data_size > 0) {
		uint64_t limit = gw_body_is_load(r) ? GW_LOAD_MAX : GW_BODY_MAX;
		if (!r->too_big && r->body_total + *upload_data_size <= limit) {
			if (gw_body_append(r, upload_data, *upload_data_size) != 0)
				return MHD_NO;
		} else {
			r->too_big = true;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!r->handled) {
		r->handled = true;
		if (r->too_big) {
			gw_respond_text(r, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
		} else {
			gw_route(r);
		}
	}
	if (r->response == NULL) {
		if (!r->suspended) {
			/* A handler that neither answered nor waits: a bug, not a hang. */
			log_warnx("%s %s: no answer", r->method, r->path);
			gw_respond_empty(r, MHD_HTTP_INTERNAL_SERVER_ERROR);
		} else {
			return MHD_YES;
		}
	}
	ret = MHD_queue_response(conn, r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return ret;
}

static void
gw_completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct gw_req *r = *con_cls;

	(void)cls; (void)conn; (void)toe;
	if (r == NULL)
		return;
	gw_wait_release(r);
	if (r->ctx_free != NULL)
		r->ctx_free(r);
	if (r->queue_waiting)
		gw_queue_forget(r);
	if (r->timeout_ev != NULL)
		event_free(r->timeout_ev);
	if (r->response != NULL)
		MHD_destroy_response(r->response);
	if (r->params_ok)
		gateway_params_free(&r->params);
	gw_body_release(r);
	gw_auth_release(r);
	free(r->raw_query);
	free(r);
	*con_cls = NULL;
}

/* ---- the loop glue ---------------------------------------------------------------- */

/*
 * MHD moves a connection one state per pass (send the answer, reset for the next
 * request, read it), and says so with a zero timeout. Those passes run here back to
 * back: going round the libevent loop for each would cost two more epoll_waits per
 * request. The cap keeps other events (replies from consensus and storage) served.
 */
#define GW_MHD_PASSES 4

static void
gw_http_run(void)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (gw.mhd == NULL)
		return;		/* stopped; an event queued before that may still fire */
	for (int pass = 0; pass < GW_MHD_PASSES; pass++) {
		MHD_run(gw.mhd);
		if (MHD_get_timeout(gw.mhd, &ms) != MHD_YES || ms != 0)
			break;
	}
	gw_http_arm();
}

static void
gw_mhd_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	gw_http_run();
}

static void
gw_http_arm(void)
{
	MHD_UNSIGNED_LONG_LONG ms;
	struct timeval tv;

	if (MHD_get_timeout(gw.mhd, &ms) == MHD_YES) {
		if (ms > 1000)
			ms = 1000;
		tv.tv_sec = (time_t)(ms / 1000);
		tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
		evtimer_add(gw.mhd_timer, &tv);
	} else {
		tv.tv_sec = 1;
		tv.tv_usec = 0;
		evtimer_add(gw.mhd_timer, &tv);
	}
}

/*
 * Something changed outside MHD (a connection resumed): let it run in this loop pass,
 * after the callback that resumed it. An active event does that; a zero timer would
 * wait for one more epoll_wait.
 */
void
gw_http_kick(void)
{
	if (gw.mhd_kick != NULL && gw.mhd != NULL)
		event_active(gw.mhd_kick, EV_TIMEOUT, 1);
}

int
gw_http_start(int listen_fd)
{
	const union MHD_DaemonInfo *info;

	if (gw_wait_init() != 0)
		return -1;
	struct MHD_OptionItem opts[8];
	unsigned n = 0;
	char err[512];

	if (gw_tls_init(err, sizeof(err)) != 0)
		fatalx("HTTPS: %s", err);
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK,
	    (intptr_t)gw_uri_log_cb, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
	    (intptr_t)gw_completed_cb, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, 120, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, 4096, NULL };
	if (gw_tls_enabled()) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
		    (void *)gw_tls_cert_callback() };
		if (gw_tls_trust_pem() != NULL)
			opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
			    (void *)gw_tls_trust_pem() };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	gw.mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
	    gw_tls_daemon_flags(), 0, NULL, NULL, gw_access_cb, NULL,
	    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (gw.mhd == NULL)
		return -1;
	info = MHD_get_daemon_info(gw.mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL)
		return -1;
	gw.mhd_ev = event_new(gw.role.base, info->epoll_fd, EV_READ | EV_PERSIST, gw_mhd_cb, NULL);
	gw.mhd_timer = evtimer_new(gw.role.base, gw_mhd_cb, NULL);
	gw.mhd_kick = event_new(gw.role.base, -1, 0, gw_mhd_cb, NULL);
	event_add(gw.mhd_ev, NULL);
	gw_http_arm();
	return 0;
}

/*
 * Orderly stop: no new connections, requests in flight get up to GW_DRAIN_MS to be
 * answered normally (consensus and storage are still running: the supervisor stops the
 * gateway first), then whatever is left is answered with an error. MHD must not be
 * stopped with a connection suspended, so everything is resumed and run once first.
 */
#define GW_DRAIN_MS 5000

static void
gw_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, 20000 };
	struct timespec now;
	long waited;

	(void)fd; (void)what; (void)arg;
	clock_gettime(CLOCK_MONOTONIC, &now);
	waited = (now.tv_sec - gw.stop_started.tv_sec) * 1000 +
	    (now.tv_nsec - gw.stop_started.tv_nsec) / 1000000;
	if (gw.n_suspended > 0 && waited < GW_DRAIN_MS) {
		evtimer_add(gw.drain_timer, &tv);
		return;
	}
	if (gw.n_suspended > 0) {
		log_warnx("%d requests still waiting after %d ms; answering them with an error",
		    gw.n_suspended, GW_DRAIN_MS);
		gw_fail_waiting(PROC_CONSENSUS, "node is shutting down");
		gw_fail_waiting(PROC_STORAGE, "node is shutting down");
		gw_queue_fail_all();
	}
	/* Let MHD send what was just answered before it goes. */
	for (int i = 0; i < 5; i++)
		MHD_run(gw.mhd);
	event_del(gw.mhd_ev);
	evtimer_del(gw.mhd_timer);
	event_del(gw.mhd_kick);
	MHD_stop_daemon(gw.mhd);
	gw.mhd = NULL;
	role_exit(&gw.role);
}

void
gw_http_stop(void)
{
	MHD_socket ls;

	if (gw.mhd == NULL) {
		role_exit(&gw.role);
		return;
	}
	if (gw.drain_timer != NULL)
		return;
	ls = MHD_quiesce_daemon(gw.mhd);
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	clock_gettime(CLOCK_MONOTONIC, &gw.stop_started);
	gw.drain_timer = evtimer_new(gw.role.base, gw_drain_cb, NULL);
	gw_drain_cb(-1, 0, NULL);
}
