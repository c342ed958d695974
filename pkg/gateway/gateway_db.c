/*
 * The data endpoints: /db/execute, /db/query, /db/request, /db/sql.
 *
 * Writes (and `strong` reads) become a command proposed to consensus (PROPOSE),
 * answered once the entry is committed and applied (PROPOSE_RESULT, from storage
 * for this node's own proposals). Other reads go to storage directly (QUERY →
 * QUERY_RESULT), after a read barrier from consensus (BARRIER → BARRIER_RESULT) for
 * `weak` without a leader lease and `linearizable` (read index, which storage waits
 * for). A /db/request whose statements storage finds not all read-only is proposed
 * through the log instead. /db/execute?queue hands its statements to the write queue
 * (gateway_queue.c); /db/sql only shows the rewriting and sends nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "gateway_internal.h"
#include "gateway_policy.h"
#include "gateway_render.h"
#include "gateway_rewrite.h"

/* The message a data request last sent; a retry sends it again. */
enum gw_db_stage {
	GW_DB_PACKED,		/* command packed, nothing sent yet */
	GW_DB_BARRIER,		/* BARRIER to consensus (weak, linearizable, freshness) */
	GW_DB_QUERY,		/* QUERY to storage */
	GW_DB_PROPOSE,		/* PROPOSE to consensus (writes, strong reads) */
};

/*
 * A linearizable read's early query (see gw_spec_start): not sent, in flight,
 * answered (kept in spec_res), or failed.
 */
enum gw_spec {
	GW_SPEC_NONE,
	GW_SPEC_PENDING,
	GW_SPEC_DONE,
	GW_SPEC_FAILED,
};

/* A data request between its steps (GW_CTX_DB). */
struct gw_db_ctx {
	enum ipc_cmd_kind kind;
	enum gw_db_stage stage;
	char *cmd;			/* packed command, sent with every step */
	size_t cmd_len;
	int64_t retries_used;		/* ?retries: extra forwarding attempts made */
	const char *barrier_level;	/* level of the last BARRIER, for a retry */
	uint64_t raft_index;		/* of the entry that answered (?raft_index) */
	/* A linearizable read on the leader: the early query's state, storage's answer
	 * and the index it had applied, and the read index the barrier confirmed. */
	enum gw_spec spec;
	char *spec_res;
	size_t spec_len;
	uint64_t spec_applied;
	uint64_t read_index;
};

static void
gw_db_ctx_free(struct gw_req *r)
{
	struct gw_db_ctx *c = r->ctx.db;

	free(c->cmd);
	free(c->spec_res);
	free(c);
}

static struct gw_db_ctx *
gw_db(const struct gw_req *r)
{
	return r->ctx_type == GW_CTX_DB ? r->ctx.db : NULL;
}

static bool
gw_is_text_plain(const struct gw_req *r)
{
	const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	return ct != NULL && strncasecmp(ct, "text/plain", 10) == 0;
}

/* Level `auto` is `none` on a read replica and `weak` on a voter (API.md §2.5), as the
 * live configuration says (rqlite's IsVoter), not the flag the node started with. */
static enum gateway_level
gw_effective_level(const struct gw_req *r)
{
	if (r->params.level == GATEWAY_LEVEL_AUTO)
		return gw.voter ? GATEWAY_LEVEL_WEAK : GATEWAY_LEVEL_NONE;
	return r->params.level;
}

static void
gw_render_opts(const struct gw_req *r, bool is_query, uint64_t raft_index,
    struct gateway_render_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->pretty = r->params.pretty;
	o->timings = r->params.timings;
	o->associative = r->params.associative;
	o->blob_array = r->params.blob_array;
	o->qualify_columns = r->params.qualify_columns;
	o->is_query = is_query;
	o->total_time = gw_elapsed(r);
	o->raft_index = r->params.raft_index ? raft_index : 0;
}

void
gw_respond_json_error(struct gw_req *r, const char *msg)
{
	struct gateway_render_opts o;
	struct json_writer jw;
	char *buf;
	size_t len;

	gw_render_opts(r, false, 0, &o);
	json_writer_init(&jw, o.pretty);
	gateway_render_error(msg, &o, &jw);
	buf = json_writer_steal(&jw, &len);
	gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", buf, len);
}

/*
 * Renders storage's result map (msgpack bytes) as the HTTP answer. served_by is the
 * Raft address of the leader that ran it when forwarded, NULL when served here.
 */
static void
gw_respond_results(struct gw_req *r, const char *res, size_t len, bool is_query,
    const char *served_by)
{
	msgpack_unpacked un;
	struct gateway_render_opts o;
	char err[GATEWAY_RENDER_ERR_MAX], *out = NULL;
	size_t off = 0, out_len = 0;

	msgpack_unpacked_init(&un);
	if (ipc_msgpack_validate(res, len) != 0 ||
	    msgpack_unpack_next(&un, res, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&un);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "malformed result from storage");
		return;
	}
	gw_render_opts(r, is_query, gw_db(r) != NULL ? gw_db(r)->raft_index : 0, &o);
	if (gateway_render_to_buffer(&un.data, &o, &out, &out_len, err, sizeof(err)) != 0) {
		msgpack_unpacked_destroy(&un);
		free(out);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
		return;
	}
	msgpack_unpacked_destroy(&un);
	gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", out, out_len);
	gw_add_header(r, "X-RQLITE-SERVED-BY", served_by != NULL ? served_by : gw.opts->http_adv_addr);
}

/* The leader's Raft address when a reply says another node ran the request. */
static const char *
gw_served_by(struct ipc_msg *m, char *buf, size_t len)
{
	if (ipc_get_strbuf(m, "lr", buf, len) != IPC_OK || strcmp(buf, gw.opts->raft_adv_addr) == 0)
		return NULL;
	return buf;
}

static void
gw_leader_not_found(struct gw_req *r)
{
	gw.counters.leader_not_found++;
	gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
}

/*
 * Parses the body into statements: text/plain is one statement (execute and query
 * only), anything else a JSON array. false when an answer (400) was given.
 */
static bool
gw_parse_body(struct gw_req *r, struct gateway_body *b, bool allow_text)
{
	char err[GATEWAY_BODY_ERR_MAX];
	int rc;

	memset(b, 0, sizeof(*b));
	if (allow_text && gw_is_text_plain(r))
		rc = gateway_body_from_sql(r->body != NULL ? r->body : "", r->body_len, b);
	else
		rc = gateway_body_parse_json(r->body != NULL ? r->body : "", r->body_len, b,
		    err, sizeof(err));
	if (rc != 0) {
		gw_respond_text(r, MHD_HTTP_BAD_REQUEST, rc == -1 && !(allow_text &&
		    gw_is_text_plain(r)) ? err : "out of memory");
		return false;
	}
	return true;
}

/*
 * Checks the statements against the policy, rewrites non-deterministic SQL if asked,
 * and packs the command into the request's new context. false when an answer was
 * given.
 */
static bool
gw_build_command(struct gw_req *r, struct gateway_body *b, enum ipc_cmd_kind kind,
    bool rewrite)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	/* Rounded up: 500us must not become 0, which means no timeout. */
	int64_t to_ms = (r->params.db_timeout_ns + 999999) / 1000000;
	const char *refused;
	struct gw_db_ctx *c;

	if ((refused = gateway_policy_check(b, r->params.transaction)) != NULL) {
		gw.counters.policy_refusals++;
		gw_respond_json_error(r, refused);
		return false;
	}
	if (rewrite && !r->params.noparse) {
		struct gateway_rewrite_opts ro;
		memset(&ro, 0, sizeof(ro));
		ro.rand = !r->params.norwrandom;
		ro.time = !r->params.norwtime;
		if (gateway_rewrite_body(b, &ro) != 0) {
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "SQL rewrite: out of memory");
			return false;
		}
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    gateway_body_pack_command(b, kind, r->params.transaction,
	    to_ms > 0 ? (uint64_t)to_ms : 0, &gw.limits, &pk) != 0) {
		free(c);
		msgpack_sbuffer_destroy(&sb);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return false;
	}
	c->kind = kind;
	c->cmd_len = sb.size;	/* release() zeroes the size */
	c->cmd = msgpack_sbuffer_release(&sb);
	msgpack_sbuffer_destroy(&sb);
	r->ctx_type = GW_CTX_DB;
	r->ctx.db = c;
	r->ctx_free = gw_db_ctx_free;
	return true;
}

/* ---- the three steps a data request can take -------------------------------------- */

static void gw_send_query(struct gw_req *r, uint64_t min_index);
static void gw_propose(struct gw_req *r);
static void gw_barrier(struct gw_req *r, const char *level);

/* ?retries: a request that could not reach the leader is sent again, up to N times. */
static bool
gw_retry(struct gw_req *r, enum ipc_errcode code)
{
	struct gw_db_ctx *c = r->ctx.db;

	if (c->retries_used >= r->params.retries ||
	    (code != IPC_EC_LEADER_UNREACHABLE && code != IPC_EC_NOT_LEADER))
		return false;
	c->retries_used++;
	if (c->stage == GW_DB_BARRIER && c->barrier_level != NULL)
		gw_barrier(r, c->barrier_level);
	else
		gw_propose(r);
	return true;
}

/*
 * Errors that mean "this node is not the leader". rqlite's store turns a lost
 * leadership into ErrNotLeader for reads (strong reads through the log, and the
 * leader check of linearizable ones), so their clients get 503 "leader not found";
 * a write that loses it answers the error in the body (200), as there.
 */
static bool
gw_not_leader(const struct gw_req *r, enum ipc_errcode code)
{
	if (code == IPC_EC_NOT_LEADER)
		return true;
	return code == IPC_EC_LEADERSHIP_LOST &&
	    (r->ctx.db->kind == IPC_CMD_QUERY || r->ctx.db->stage == GW_DB_BARRIER);
}

/* An error answer (PROPOSE_RESULT, BARRIER_RESULT): retried, 503, or the error in the
 * body. False when m is not an error. */
static bool
gw_db_error(struct gw_req *r, const struct ipc_msg *m)
{
	const char *e;
	size_t elen;
	char ebuf[256];
	enum ipc_errcode code = ipc_get_error(m, &e, &elen);

	if (code == IPC_EC_NONE)
		return false;
	if (code == IPC_EC_UNAUTHORIZED) {
		/* rqlite's texts, one per endpoint (the leader's own check). */
		gw_respond_text(r, MHD_HTTP_UNAUTHORIZED,
		    r->ctx.db->kind == IPC_CMD_REQUEST ? "remote Request not authorized" :
		    r->ctx.db->kind == IPC_CMD_EXECUTE ? "remote Execute not authorized" :
		    "remote query not authorized");
		return true;
	}
	if (gw_retry(r, code))
		return true;
	if (gw_not_leader(r, code)) {
		gw_leader_not_found(r);
		return true;
	}
	snprintf(ebuf, sizeof(ebuf), "%.*s", (int)elen, e);
	gw_respond_json_error(r, ebuf);
	return true;
}

static void
gw_on_propose_result(struct gw_req *r, struct ipc_msg *m)
{
	const char *res;
	size_t len;

	if (gw_db_error(r, m))
		return;
	if (ipc_get_bin(m, "res", &res, &len) != IPC_OK) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "malformed reply from consensus");
		return;
	}
	(void)ipc_get_u64(m, "i", &r->ctx.db->raft_index);
	{
		char lr[256];
		gw_respond_results(r, res, len, r->ctx.db->kind == IPC_CMD_QUERY,
		    gw_served_by(m, lr, sizeof(lr)));
	}
}

static void
gw_propose(struct gw_req *r)
{
	struct gw_db_ctx *c = r->ctx.db;

	c->stage = GW_DB_PROPOSE;
	gw_begin(r, IPC_PROPOSE);
	ipc_add_bin(&gw.w, "c", c->cmd, c->cmd_len);
	if (gw_send_wait(r, PROC_CONSENSUS, gw_on_propose_result, r->params.timeout_ns) != 0)
		gw_leader_not_found(r);
}

static void
gw_on_query_result(struct gw_req *r, struct ipc_msg *m)
{
	const char *res;
	size_t len;
	msgpack_unpacked un;
	size_t off = 0;
	bool needs_write = false;

	if (ipc_get_bin(m, "res", &res, &len) != IPC_OK) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "malformed reply from storage");
		return;
	}
	if (r->ctx.db->kind == IPC_CMD_REQUEST) {
		/* Storage ran nothing if a statement writes: go through the log. */
		msgpack_unpacked_init(&un);
		if (ipc_msgpack_validate(res, len) == 0 &&
		    msgpack_unpack_next(&un, res, len, &off) == MSGPACK_UNPACK_SUCCESS &&
		    un.data.type == MSGPACK_OBJECT_MAP) {
			for (uint32_t i = 0; i < un.data.via.map.size; i++) {
				const msgpack_object_kv *kv = &un.data.via.map.ptr[i];
				if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 1 &&
				    kv->key.via.str.ptr[0] == 'w' && kv->val.type == MSGPACK_OBJECT_BOOLEAN)
					needs_write = kv->val.via.boolean;
			}
		}
		msgpack_unpacked_destroy(&un);
		if (needs_write) {
			gw_propose(r);
			return;
		}
	}
	gw_respond_results(r, res, len, r->ctx.db->kind == IPC_CMD_QUERY, NULL);
}

static void
gw_send_query(struct gw_req *r, uint64_t min_index)
{
	struct gw_db_ctx *c = r->ctx.db;

	c->stage = GW_DB_QUERY;
	gw_begin(r, IPC_QUERY);
	ipc_add_bin(&gw.w, "c", c->cmd, c->cmd_len);
	if (min_index > 0)
		ipc_add_u64(&gw.w, "mi", min_index);
	if (gw_send_wait(r, PROC_STORAGE, gw_on_query_result,
	    r->params.level == GATEWAY_LEVEL_LINEARIZABLE && c->kind == IPC_CMD_QUERY ?
	    r->params.linearizable_timeout_ns : r->params.timeout_ns) != 0)
		gw_respond_json_error(r, "store not open");
}

/*
 * A linearizable read on the leader sends its query to storage at once, alongside the
 * BARRIER that confirms the read index R, instead of after it: the two round trips
 * overlap. Storage says which index it had applied (A) when it ran the query. The
 * answer stands if the barrier succeeds and A >= R: every write acknowledged before the
 * request arrived has an index <= R, the state at A holds only committed entries, and
 * the barrier's heartbeat round, begun after the request arrived, proves this node was
 * still leader. Otherwise the query runs again as before, held until R is applied.
 */
/* Takes storage's answer: A in spec_applied, the result kept in spec_res. */
static bool
gw_spec_take(struct gw_db_ctx *c, struct ipc_msg *m)
{
	const char *res;
	size_t len;

	if (m == NULL || ipc_get_u64(m, "ai", &c->spec_applied) != IPC_OK ||
	    ipc_get_bin(m, "res", &res, &len) != IPC_OK || (c->spec_res = malloc(len ? len : 1)) == NULL)
		return false;
	memcpy(c->spec_res, res, len);
	c->spec_len = len;
	return true;
}

static void
gw_on_spec_result(struct gw_req *r, struct ipc_msg *m)
{
	r->ctx.db->spec = gw_spec_take(r->ctx.db, m) ? GW_SPEC_DONE : GW_SPEC_FAILED;
}

/* The barrier has answered R and storage's answer came after it: used as it is, no copy. */
static void
gw_on_spec_late(struct gw_req *r, struct ipc_msg *m)
{
	uint64_t applied;
	const char *res;
	size_t len;

	if (ipc_get_u64(m, "ai", &applied) == IPC_OK && applied >= r->ctx.db->read_index &&
	    ipc_get_bin(m, "res", &res, &len) == IPC_OK) {
		gw.counters.linearizable_early++;
		gw_respond_results(r, res, len, true, NULL);
		return;
	}
	gw.counters.linearizable_redone++;
	gw_send_query(r, r->ctx.db->read_index);
}

static void
gw_spec_start(struct gw_req *r)
{
	struct gw_db_ctx *c = r->ctx.db;

	if (c->kind != IPC_CMD_QUERY || r->params.freshness_ns > 0 ||
	    strcmp(gw.raft_state, "Leader") != 0 || r->on_reply == NULL)
		return;
	free(c->spec_res);
	c->spec_res = NULL;
	gw_begin_side(r, IPC_QUERY);
	ipc_add_bin(&gw.w, "c", c->cmd, c->cmd_len);
	c->spec = gw_send_side(r, gw_on_spec_result) == 0 ? GW_SPEC_PENDING : GW_SPEC_NONE;
}

/* The barrier answered read index R: use the speculative answer if it can stand. */
static void
gw_spec_finish(struct gw_req *r, uint64_t index)
{
	struct gw_db_ctx *c = r->ctx.db;
	enum gw_spec spec = c->spec;

	c->spec = GW_SPEC_NONE;
	c->read_index = index;
	if (spec == GW_SPEC_PENDING) {
		gw_wait_side(r, gw_on_spec_late, r->params.linearizable_timeout_ns);
		return;
	}
	if (spec == GW_SPEC_DONE && c->spec_applied >= index) {
		gw.counters.linearizable_early++;
		gw_respond_results(r, c->spec_res, c->spec_len, true, NULL);
		return;
	}
	gw.counters.linearizable_redone++;
	gw_send_query(r, index);
}

static void
gw_on_barrier_result(struct gw_req *r, struct ipc_msg *m)
{
	uint64_t index = 0;

	if (gw_db_error(r, m))
		return;
	if (ipc_get(m, "res") != NULL) {
		/* A follower's read, run on the leader. */
		const char *res;
		size_t len;
		char lr[256];
		if (ipc_get_bin(m, "res", &res, &len) != IPC_OK) {
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "malformed reply");
			return;
		}
		gw_respond_results(r, res, len, r->ctx.db->kind == IPC_CMD_QUERY,
		    gw_served_by(m, lr, sizeof(lr)));
		return;
	}
	(void)ipc_get_u64(m, "i", &index);
	if (r->ctx.db->spec != GW_SPEC_NONE) {
		gw_spec_finish(r, index);
		return;
	}
	gw_send_query(r, index);
}

static void
gw_barrier(struct gw_req *r, const char *level)
{
	struct gw_db_ctx *c = r->ctx.db;

	c->stage = GW_DB_BARRIER;
	c->barrier_level = level;
	gw_begin(r, IPC_BARRIER);
	ipc_add_str(&gw.w, "l", level);
	/* The command travels along: on a follower consensus runs it on the leader. */
	ipc_add_bin(&gw.w, "c", c->cmd, c->cmd_len);
	ipc_add_u64(&gw.w, "k", (uint64_t)c->kind);
	if (r->params.freshness_ns > 0) {
		/* Whole milliseconds, at least one: a shorter freshness still asks. */
		uint64_t ms = (uint64_t)(r->params.freshness_ns / 1000000);
		ipc_add_u64(&gw.w, "fr", ms > 0 ? ms : 1);
		if (r->params.freshness_strict)
			ipc_add_bool(&gw.w, "fs", true);
	}
	if (gw_send_wait(r, PROC_CONSENSUS, gw_on_barrier_result, r->params.timeout_ns) != 0)
		gw_leader_not_found(r);
}

/*
 * ?redirect on a node that is not the leader: 301 to the leader's API with the same
 * path and query string. true when answered.
 */
static bool
gw_maybe_redirect(struct gw_req *r)
{
	if (!r->params.redirect || strcmp(gw.raft_state, "Leader") == 0)
		return false;
	/* rqlite answers 500 when no leader is known here (503 when forwarding). */
	gw_redirect_to_leader(r, MHD_HTTP_INTERNAL_SERVER_ERROR);
	return true;
}

/*
 * A weak read on the leader while the lease consensus pushed holds goes straight to
 * storage: the lease is exactly what the barrier would check (consensus withdraws it
 * before anything that ends it takes effect), and the hop is a third of the read.
 */
static bool
gw_lease_held(void)
{
	struct timespec ts;
	uint64_t now;

	if (gw.lease_until_ms == 0 || strcmp(gw.raft_state, "Leader") != 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return now < gw.lease_until_ms;
}

/* Runs a read command (kind query or request) at the request's level. */
static void
gw_read(struct gw_req *r)
{
	if (gw_effective_level(r) != GATEWAY_LEVEL_NONE && gw_maybe_redirect(r))
		return;
	switch (gw_effective_level(r)) {
	case GATEWAY_LEVEL_NONE:
		/* With freshness, consensus says whether the leader was heard from recently
		 * enough (API.md §2.1); without it, no other process is involved. */
		if (r->params.freshness_ns > 0)
			gw_barrier(r, "none");
		else
			gw_send_query(r, 0);
		break;
	case GATEWAY_LEVEL_LINEARIZABLE:
		gw_barrier(r, "linearizable");
		gw_spec_start(r);
		break;
	case GATEWAY_LEVEL_STRONG:
		gw_propose(r);
		break;
	default:
		if (gw_lease_held())
			gw_send_query(r, gw.commit_index);
		else
			gw_barrier(r, "weak");
		break;
	}
}

/* ---- handlers --------------------------------------------------------------------- */

void
gw_respond_queued(struct gw_req *r, uint64_t seq)
{
	struct gateway_render_opts o;
	struct json_writer jw;
	char *buf;
	size_t len;

	gw_render_opts(r, false, 0, &o);
	o.sequence_number = (int64_t)seq;
	json_writer_init(&jw, o.pretty);
	if (gateway_render_response(NULL, &o, &jw, NULL, 0) != 0) {
		json_writer_free(&jw);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	buf = json_writer_steal(&jw, &len);
	gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", buf, len);
}

/* /db/execute?queue: answered before the write is replicated (API.md §3.3). */
static void
gw_execute_queued(struct gw_req *r)
{
	struct gateway_body b;
	char err[GATEWAY_BODY_ERR_MAX];

	gw.counters.queued_executions++;
	if (!r->params.noleader && gw.leader_id[0] == '\0') {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
		return;
	}
	memset(&b, 0, sizeof(b));
	if (gw_is_text_plain(r)) {
		if (gateway_body_from_sql(r->body != NULL ? r->body : "", r->body_len, &b) != 0) {
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
			return;
		}
	} else if (gateway_body_parse_json(r->body != NULL ? r->body : "", r->body_len, &b,
	    err, sizeof(err)) != 0) {
		/* An empty request with `wait` is a flush barrier. */
		bool empty = strcmp(err, "no statements") == 0 || r->body_len == 0;
		if (!(empty && r->params.wait)) {
			gw_respond_text(r, MHD_HTTP_BAD_REQUEST, err);
			return;
		}
		memset(&b, 0, sizeof(b));
	}
	gw.counters.execute_stmts_rx += b.n;
	gw.counters.queued_executions_num_stmts_rx += b.n;
	{
		/* Queued requests share an entry, inside one transaction with -write-queue-tx:
		 * each must still end what it opens. */
		const char *refused = gateway_policy_check(&b, gw.opts->write_queue_tx);

		if (refused != NULL) {
			gw.counters.policy_refusals++;
			gateway_body_free(&b);
			gw_respond_json_error(r, refused);
			return;
		}
	}
	if (!r->params.noparse) {
		struct gateway_rewrite_opts ro;
		memset(&ro, 0, sizeof(ro));
		ro.rand = !r->params.norwrandom;
		ro.time = !r->params.norwtime;
		(void)gateway_rewrite_body(&b, &ro);
	}
	gw_queue_submit(r, &b);
	gateway_body_free(&b);
}

void
gw_handle_execute(struct gw_req *r)
{
	struct gateway_body b;

	gw.counters.executions++;
	if (r->params.queue) {
		gw_execute_queued(r);
		return;
	}
	if (!gw_parse_body(r, &b, true))
		return;
	gw.counters.execute_stmts_rx += b.n;
	if (gw_maybe_redirect(r)) {
		gateway_body_free(&b);
		return;
	}
	if (gw_build_command(r, &b, IPC_CMD_EXECUTE, true))
		gw_propose(r);
	gateway_body_free(&b);
}

void
gw_handle_query(struct gw_req *r)
{
	struct gateway_body b;
	bool ok;

	memset(&b, 0, sizeof(b));
	if (r->verb == GW_GET) {
		const char *q = r->params.q != NULL ? r->params.q : "";
		ok = gateway_body_from_sql(q, strlen(q), &b) == 0;
		if (!ok)
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	} else {
		ok = gw_parse_body(r, &b, true);
	}
	gw.counters.queries++;
	if (!ok)
		return;
	gw.counters.query_stmts_rx += b.n;
	/* Only strong reads enter the log, so only they are made deterministic. */
	if (gw_build_command(r, &b, IPC_CMD_QUERY,
	    gw_effective_level(r) == GATEWAY_LEVEL_STRONG))
		gw_read(r);
	gateway_body_free(&b);
}

void
gw_handle_request(struct gw_req *r)
{
	struct gateway_body b;

	gw.counters.requests++;
	if (!gw_parse_body(r, &b, false))
		return;
	gw.counters.request_stmts_rx += b.n;
	if (gw_build_command(r, &b, IPC_CMD_REQUEST, true))
		gw_read(r);
	gateway_body_free(&b);
}

void
gw_handle_sql(struct gw_req *r)
{
	struct gateway_body b;
	struct gateway_rewrite_opts ro;
	struct json_writer jw;
	char *out;
	size_t len;

	memset(&b, 0, sizeof(b));
	if (r->verb == GW_GET) {
		if (r->params.q == NULL) {
			gw_respond_text(r, MHD_HTTP_BAD_REQUEST, "query not specified");
			return;
		}
		if (gateway_body_from_sql(r->params.q, strlen(r->params.q), &b) != 0) {
			gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
			return;
		}
	} else if (!gw_parse_body(r, &b, false)) {
		return;
	}
	gw.counters.sql_analyze++;
	memset(&ro, 0, sizeof(ro));
	ro.rand = !r->params.norwrandom;
	ro.time = !r->params.norwtime;
	json_writer_init(&jw, r->params.pretty);
	gateway_rewrite_explain(&b, &ro, r->params.timings ? gw_elapsed(r) : 0, &jw);
	gateway_body_free(&b);
	out = json_writer_steal(&jw, &len);
	gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", out, len);
}
