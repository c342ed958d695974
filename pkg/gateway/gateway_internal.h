/*
 * What the gateway's files share: the process context, the in-flight request, and
 * the helpers to answer it. Only files under pkg/gateway include this.
 */
#ifndef RQ_GATEWAY_INTERNAL_H
#define RQ_GATEWAY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <microhttpd.h>
#include <msgpack.h>

#include "common/auth.h"
#include "common/role.h"
#include "gateway.h"
#include "gateway_command.h"
#include "gateway_params.h"
#include "ipc_codec.h"
#include "ipc_conn.h"
#include "ipc_errcode.h"

/* Largest request body we read; a larger one gets 413 (before we read it, when the
 * client sends Content-Length). Bounded by the largest frame between processes. */
#define GW_BODY_MAX	(32u * 1024 * 1024)
/* /db/load and /boot take a SQLite file up to this size; past GW_BODY_MAX it is spooled
 * to a file and proposed in chunks. A load needs about five times its size free in the
 * data directory while it runs (spool, log, staged copy, database, snapshot). */
#define GW_LOAD_MAX	(64ull * 1024 * 1024 * 1024)

/* Counters shown in /debug/vars under "http" (rqlite's names). */
#define GW_COUNTERS(X)	X(executions) X(queued_executions) X(queries) X(requests) X(num_status) \
	X(num_readyz) X(leader_not_found) X(sql_analyze) X(backups) X(loads) \
	X(boot) X(user_snapshots) X(user_reaps) X(auth_ok) X(auth_fail) \
	X(linearizable_early) X(linearizable_redone) X(policy_refusals) \
	X(execute_stmts_rx) X(query_stmts_rx) X(request_stmts_rx) \
	X(queued_executions_num_stmts_rx) X(tls_client_refused)

struct gw_counters {
#define GW_COUNTER_FIELD_(n) uint64_t n;
	GW_COUNTERS(GW_COUNTER_FIELD_)
#undef GW_COUNTER_FIELD_
};

/* A request's method as the route table sees it (gateway_route.c). */
enum gw_method {
	GW_GET = 1 << 0,
	GW_POST = 1 << 1,
	GW_DELETE = 1 << 2,
	GW_OTHER = 1 << 3,		/* HEAD, PUT, PATCH, … */
	GW_ANY = GW_GET | GW_POST | GW_DELETE | GW_OTHER,
};

struct gw_req;
/* Called with a reply to the message the request is waiting for. */
typedef void gw_reply_fn(struct gw_req *r, struct ipc_msg *m);

/*
 * What one handler family keeps between the steps of a request. Each family defines
 * its context in its own file; a request holds at most one, set by the handler, and
 * ctx_free ends it when the request ends (answered, timed out, or the client went
 * away). The tag says which member of ctx is live.
 */
enum gw_ctx_type {
	GW_CTX_NONE,
	GW_CTX_DB,		/* /db/execute, /db/query, /db/request (gateway_db.c) */
	GW_CTX_LOAD,		/* /db/load, /boot (gateway_load.h) */
	GW_CTX_BACKUP,		/* /db/backup fetched from the leader (gateway_backup.c) */
	GW_CTX_STATUS,		/* /status, /debug/vars (gateway_status.c) */
};

struct gw_db_ctx;
struct gw_load_ctx;
struct gw_backup_fetch;
struct gw_status_ctx;

struct gw_req {
	struct MHD_Connection *conn;
	const char *method;
	enum gw_method verb;		/* set by the router */
	const char *path;		/* owned by MHD for the request's life */
	char *raw_query;		/* undecoded, after '?'; owned */
	struct gateway_params params;
	bool params_ok;			/* params parsed (and to be freed) */
	struct timespec started;
	/* Basic credentials (gateway_auth.c), read when first needed; MHD's strings. */
	bool auth_read;
	char *auth_user, *auth_pass;

	/* The body. */
	char *body;
	size_t body_len, body_cap;
	bool too_big;
	/* A load body past GW_BODY_MAX: all of it in an unlinked file, and only its first
	 * bytes in body (enough to sniff). See gateway_spool.c. */
	bool spooled;
	int spool_fd;
	uint64_t body_total;		/* bytes received, in memory or spooled */
	uint32_t body_crc;		/* CRC32C of the whole body (load and boot only) */

	/* The answer. */
	bool handled;			/* the route handler ran */
	struct MHD_Response *response;	/* answer ready to queue */
	unsigned status;
	/* Internal requests (conn == NULL, e.g. the write queue's batches) get their
	 * failures here instead of an HTTP answer. */
	void (*internal_fail)(struct gw_req *r, const char *why);

	/* Waiting for another process (gateway_wait.c). */
	bool suspended;
	uint64_t wait_id;
	enum ipc_type wait_type;	/* request sent; answered by ipc_reply_type(wait_type) */
	enum proc_id wait_peer;
	gw_reply_fn *on_reply;
	struct event *timeout_ev;
	/* On timeout call on_reply with NULL (it answers in its own format) instead of
	 * answering {"error":"timeout"}: /readyz answers in plain text. */
	bool reply_on_timeout;
	/* A second message in flight at the same time (gw_send_side): its id, or 0. */
	uint64_t side_id;
	gw_reply_fn *on_side_reply;
	bool queue_waiting;		/* parked in the write queue, or waiting for its batch */

	/* The handler family's context (see enum gw_ctx_type). */
	enum gw_ctx_type ctx_type;
	union {
		struct gw_db_ctx *db;
		struct gw_load_ctx *load;
		struct gw_backup_fetch *backup;
		struct gw_status_ctx *status;
	} ctx;
	void (*ctx_free)(struct gw_req *r);
};

struct gateway {
	struct role role;
	const struct gateway_options *opts;
	struct gateway_cmd_limits limits;	/* carried by every write this node proposes */
	struct auth_store *auth;		/* -auth; NULL: authentication off */
	struct MHD_Daemon *mhd;
	struct event *mhd_ev;
	struct event *mhd_timer;
	struct event *mhd_kick;		/* run MHD later in this loop pass */
	struct ipc_conn *links[PROC_MAX];
	struct ipc_writer w;
	uint64_t next_id;
	struct gw_req **waiting;	/* ring indexed by request id */
	size_t waiting_mask;
	/* from consensus STATE */
	char raft_state[16];
	bool voter;		/* in the live configuration, as consensus last said */
	char leader_id[256];
	char leader_addr[256];
	char leader_api[300];		/* leader's HTTP host:port, for ?redirect */
	uint64_t term;
	uint64_t commit_index;
	/* Consensus's leader lease as last pushed (CLOCK_MONOTONIC ms; 0 = none): until
	 * then a weak read needs no barrier. */
	uint64_t lease_until_ms;
	struct gw_counters counters;
	int n_suspended;		/* connections waiting for another process */
	struct event *drain_timer;	/* orderly stop in progress */
	struct timespec stop_started;
	char start_time[40];
	struct timespec start_mono;
};

extern struct gateway gw;

/*
 * Answers (gateway_http.c; the JSON ones in gateway_db.c). The core queues the answer
 * once the handler returns, or when a suspended request is resumed.
 */
void gw_respond(struct gw_req *r, unsigned status, const char *content_type,
    char *body, size_t len);			/* takes ownership of body (malloc'd) */
void gw_respond_text(struct gw_req *r, unsigned status, const char *text);	/* text + "\n" */
void gw_respond_empty(struct gw_req *r, unsigned status);
void gw_respond_json_error(struct gw_req *r, const char *msg);	/* 200 {"results":[],"error":msg} */
/* {"results":[],"sequence_number":seq} */
void gw_respond_queued(struct gw_req *r, uint64_t seq);
void gw_add_header(struct gw_req *r, const char *name, const char *value);
/* 301 to the leader's API (same path and query); unknown_status if no leader is known. */
void gw_redirect_to_leader(struct gw_req *r, unsigned unknown_status);
/* Seconds since the request arrived. */
double gw_elapsed(const struct gw_req *r);
/* Suspends/resumes the HTTP connection of r (no-ops for internal requests). */
void gw_suspend_request(struct gw_req *r);
void gw_resume_request(struct gw_req *r);

/* Waiting for other processes (gateway_wait.c). */
int gw_wait_init(void);
/* Starts a frame of type in gw.w for request r (allocates its request id). */
void gw_begin(struct gw_req *r, enum ipc_type type);
/* Sends the frame in gw.w to peer and waits for its reply; 0, or -1 if the link is down
 * (the caller answers). timeout_ns 0 means the default. */
int gw_send_wait(struct gw_req *r, enum proc_id peer, gw_reply_fn *on_reply, int64_t timeout_ns);
/*
 * A side message: the frame begun with gw_begin_side() goes to storage while r waits for
 * something else; on_side gets storage's answer (or NULL if storage went away). Only one
 * side message at a time. Returns -1 if it could not be sent.
 */
void gw_begin_side(struct gw_req *r, enum ipc_type type);
int gw_send_side(struct gw_req *r, gw_reply_fn *on_side);
/* The side message becomes what r waits for, with a timeout, as after gw_send_wait. */
void gw_wait_side(struct gw_req *r, gw_reply_fn *on_reply, int64_t timeout_ns);
/* r is going away: whatever it waits for is forgotten (a late answer is dropped). */
void gw_wait_release(struct gw_req *r);
/* A reply from consensus or storage, to the request waiting for it (if any). */
void gw_dispatch_reply(struct ipc_msg *m, enum proc_id from);
/* A sibling went away: everything waiting on it is answered with why. */
void gw_fail_waiting(enum proc_id peer, const char *why);

/* Request bodies (gateway_spool.c): a load's past GW_BODY_MAX is spooled to a file. */
bool gw_body_is_load(const struct gw_req *r);
/* Appends upload data to r's body, spooling past GW_BODY_MAX; 0 or -1 (disk error). */
int gw_body_append(struct gw_req *r, const char *data, size_t n);
/* Copies n body bytes at off into buf; 0 or -1. */
int gw_body_read(const struct gw_req *r, uint64_t off, void *buf, size_t n);
void gw_body_release(struct gw_req *r);

/* The write queue (gateway_queue.c). */
void gw_queue_init(void);
void gw_queue_submit(struct gw_req *r, struct gateway_body *b);
void gw_queue_forget(struct gw_req *r);
void gw_queue_fail_all(void);
uint64_t gw_queue_written_seq(void);
uint64_t gw_queue_depth(void);
void gw_queue_stats(uint64_t *rx, uint64_t *tx, uint64_t *timeouts, uint64_t *flushes);

/* Asks consensus for its status (CONS_STATUS), then calls next with the answer, or
 * with NULL if consensus is down (gateway_status.c). */
void gw_with_cons_status(struct gw_req *r, gw_reply_fn *next);

/* Route handlers, called by the router with params parsed and the method checked. */
void gw_handle_execute(struct gw_req *r);	/* gateway_db.c */
void gw_handle_query(struct gw_req *r);
void gw_handle_request(struct gw_req *r);
void gw_handle_sql(struct gw_req *r);
void gw_handle_backup(struct gw_req *r);	/* gateway_backup.c */
void gw_handle_load(struct gw_req *r);		/* gateway_load.c */
void gw_handle_boot(struct gw_req *r);
void gw_handle_status(struct gw_req *r);	/* gateway_status.c */
void gw_handle_debug_vars(struct gw_req *r);
void gw_handle_readyz(struct gw_req *r);	/* gateway_readyz.c */
void gw_handle_nodes(struct gw_req *r);		/* gateway_nodes.c */
void gw_handle_leader(struct gw_req *r);
void gw_handle_stepdown(struct gw_req *r);	/* gateway_membership.c */
void gw_handle_remove(struct gw_req *r);
void gw_handle_snapshot(struct gw_req *r);	/* gateway_ops.c */
void gw_handle_reap(struct gw_req *r);
void gw_handle_fault(struct gw_req *r);

/* Runs the handler of r's route, or answers 404/400/405 (gateway_route.c). */
void gw_route(struct gw_req *r);

/* The MHD side (gateway_http.c). */
int gw_http_start(int listen_fd);
void gw_http_stop(void);
void gw_http_kick(void);

/* Authentication (gateway_auth.c). */
void gw_auth_init(void);
void gw_auth_reload(void);
bool gw_auth_enabled(void);
/* Whether r's credentials grant perm (and also, unless AUTH_PERM_MAX); counted. */
bool gw_auth_check(struct gw_req *r, enum auth_perm perm, enum auth_perm also);
/* Adds r's credentials ("u", "p") to a frame that may be forwarded to the leader. */
void gw_auth_add_credentials(struct gw_req *r, struct ipc_writer *w);
void gw_auth_release(struct gw_req *r);

/* HTTPS (gateway_tls.c). */
int gw_tls_init(char *err, size_t len);
bool gw_tls_enabled(void);
/* Whether the connection's client certificate passes -http-verify-client (and CN). */
bool gw_tls_client_ok(struct MHD_Connection *conn);
uint64_t gw_tls_reloads(void);
unsigned gw_tls_daemon_flags(void);
void *gw_tls_cert_callback(void);	/* gnutls_certificate_retrieve_function2 * */
const char *gw_tls_trust_pem(void);	/* the CA for client certificates, or NULL */
struct json_t;
struct json_t *gw_tls_status(void);	/* /status http.tls */

#endif
