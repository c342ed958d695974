/*
 * Diagnostics endpoints: /status, /readyz, /nodes, /leader, /debug/vars. Not hot
 * paths, so they build their answers with jansson from the status maps consensus
 * and storage send (CONS_STATUS_RESULT, STORE_STATUS_RESULT).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/dir_size.h"
#include "common/duration.h"
#include "common/log.h"
#include "gateway_internal.h"

/* ---- helpers ---------------------------------------------------------------------- */

static json_t *
gw_mp_to_json(const msgpack_object *o)
{
	json_t *j;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_stringn(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return json_stringn(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_array_append_new(j, gw_mp_to_json(&o->via.array.ptr[i]));
		return j;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			char key[128];
			if (kv->key.type != MSGPACK_OBJECT_STR)
				continue;
			snprintf(key, sizeof(key), "%.*s", (int)kv->key.via.str.size,
			    kv->key.via.str.ptr);
			json_object_set_new(j, key, gw_mp_to_json(&kv->val));
		}
		return j;
	default:
		return json_null();
	}
}

/* A reply's `res` field (a msgpack map, as storage sends its status) as JSON. */
static json_t *
gw_res_to_json(const struct ipc_msg *m)
{
	const char *res;
	size_t len, off = 0;
	msgpack_unpacked un;
	json_t *j = NULL;

	if (ipc_get_bin(m, "res", &res, &len) != IPC_OK || ipc_msgpack_validate(res, len) != 0)
		return NULL;
	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, res, len, &off) == MSGPACK_UNPACK_SUCCESS)
		j = gw_mp_to_json(&un.data);
	msgpack_unpacked_destroy(&un);
	return j;
}

/* The message body of a status reply as a JSON object. */
static json_t *
gw_msg_to_json(const struct ipc_msg *m)
{
	msgpack_object o;

	o.type = MSGPACK_OBJECT_MAP;
	o.via.map = *m->body;
	return gw_mp_to_json(&o);
}

static void
gw_respond_jansson(struct gw_req *r, json_t *j)
{
	size_t flags = JSON_ENCODE_ANY | JSON_REAL_PRECISION(9) |
	    (r->no_sort ? 0 : JSON_SORT_KEYS) |
	    (r->params.pretty ? JSON_INDENT(4) : JSON_COMPACT);
	char *s = json_dumps(j, flags);

	json_decref(j);
	if (s == NULL) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", s, strlen(s));
}

/* Go's time.Time in JSON: RFC 3339 with nanoseconds, UTC. */
static void
gw_rfc3339(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09ldZ", ts->tv_nsec);
}

static void
gw_rfc3339_now(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	gw_rfc3339(&ts, buf, len);
}

static json_t *
gw_rfc3339_ms(json_int_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
	char buf[64];

	gw_rfc3339(&ts, buf, sizeof(buf));
	return json_string(buf);
}

/*
 * hashicorp/raft's last_contact: 0 on the leader; elsewhere the time since the leader
 * was last heard as a Go duration ("41.8ms"), or "never".
 */
static void
gw_status_last_contact(json_t *raft, json_t *c)
{
	const char *state = json_string_value(json_object_get(c, "state"));
	json_int_t ms = json_integer_value(json_object_get(c, "last_contact_ms"));
	char buf[DURATION_FMT_MAX];

	if (state != NULL && strcmp(state, "Leader") == 0) {
		json_object_set_new(raft, "last_contact", json_integer(0));
		return;
	}
	if (ms < 0) {
		json_object_set_new(raft, "last_contact", json_string("never"));
		return;
	}
	duration_format((int64_t)ms * 1000000, buf, sizeof(buf));
	json_object_set_new(raft, "last_contact", json_string(buf));
}

/* rqlite's store.auto_vacuum, present only while -auto-vacuum-int is set. */
static void
gw_status_auto_vacuum(json_t *store, json_t *c)
{
	json_int_t last = json_integer_value(json_object_get(c, "auto_vacuum_last_ms"));
	json_t *av;

	if (json_integer_value(json_object_get(c, "auto_vacuum_ms")) <= 0)
		return;
	av = json_object();
	if (last > 0)
		json_object_set_new(av, "last_vacuum", gw_rfc3339_ms(last));
	json_object_set_new(av, "next_vacuum_after",
	    gw_rfc3339_ms(json_integer_value(json_object_get(c, "auto_vacuum_next_ms"))));
	json_object_set_new(store, "auto_vacuum", av);
}

static char *
gw_api_url(const char *hostport)
{
	char *u = NULL;
	if (asprintf(&u, "http://%s", hostport) < 0)
		return NULL;
	return u;
}

/* Fetches consensus's status, then calls next with it (NULL if consensus is down). */
static void
gw_with_cons_status(struct gw_req *r, gw_reply_fn *next)
{
	gw_begin(r, IPC_CONS_STATUS);
	if (gw_send_wait(r, PROC_CONSENSUS, next, 5000000000) != 0)
		next(r, NULL);
}

/* ---- /status ------------------------------------------------------------------------ */

static void
json_decref_void(void *j)
{
	json_decref(j);
}

static json_t *
gw_status_base(void)
{
	json_t *root = json_object();
	char now[64], up[64], host[256] = "", exe[4096] = "";
	struct timespec mono;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	duration_format((int64_t)(mono.tv_sec - gw.start_mono.tv_sec) * 1000000000 +
	    (mono.tv_nsec - gw.start_mono.tv_nsec), up, sizeof(up));
	gw_rfc3339_now(now, sizeof(now));
	gethostname(host, sizeof(host) - 1);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';

	json_object_set_new(root, "build", json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "version", gw.opts->version, "commit", "unknown", "build_time", __DATE__ " " __TIME__,
	    "compiler_toolchain", "C11", "compiler_command", "cc"));
	json_object_set_new(root, "node", json_pack("{s:s, s:s, s:s}",
	    "start_time", gw.start_time, "current_time", now, "uptime", up));
	json_object_set_new(root, "os", json_pack("{s:I, s:I, s:I, s:s, s:s}",
	    "pid", (json_int_t)getpid(), "ppid", (json_int_t)getppid(),
	    "page_size", (json_int_t)sysconf(_SC_PAGESIZE), "executable", exe, "hostname", host));
	json_object_set_new(root, "runtime", json_pack("{s:s, s:s, s:I, s:s}",
	    "GOOS", "linux", "GOARCH",
#if defined(__x86_64__)
	    "amd64",
#elif defined(__aarch64__)
	    "arm64",
#else
	    "unknown",
#endif
	    "num_cpu", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "version", "C11"));
	/* rqlite writes http.tls.enabled as a string. */
	json_object_set_new(root, "http", json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}",
	    "bind_addr", gw.opts->http_addr, "auth", "disabled",
	    "cluster", "local_node_addr", gw.opts->raft_adv_addr, "tls", "enabled", "false"));
	if (gw.opts->allow_origin != NULL && gw.opts->allow_origin[0] != '\0')
		json_object_set_new(json_object_get(root, "http"), "allow_origin",
		    json_string(gw.opts->allow_origin));
	{
		/* No extension is loaded (-extensions-path naming files is refused). */
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/extensions", gw.opts->data_dir);
		json_object_set_new(root, "extensions", json_pack("{s:s, s:[]}", "dir", dir,
		    "names"));
	}
	{
		char to[DURATION_FMT_MAX];
		duration_format(gw.opts->write_queue_timeout_ns, to, sizeof(to));
		json_object_set_new(json_object_get(root, "http"), "queue", json_pack(
		    "{s:{s:I, s:I, s:s, s:I}}", "_default",
		    "max_size", (json_int_t)gw.opts->write_queue_capacity,
		    "batch_size", (json_int_t)gw.opts->write_queue_batch_size,
		    "timeout", to,
		    "sequence_number", (json_int_t)gw_queue_written_seq()));
	}
	if (gw.opts->allow_origin != NULL && gw.opts->allow_origin[0] != '\0')
		json_object_set_new(json_object_get(root, "http"), "allow_origin",
		    json_string(gw.opts->allow_origin));
	json_object_set_new(root, "cluster", json_pack("{s:s, s:o, s:s}",
	    "addr", gw.opts->raft_adv_addr, "api_addr", json_string_nocheck(gw.opts->http_adv_addr),
	    "https", "false"));
	return root;
}

static void
gw_status_send(struct gw_req *r, json_t *root)
{
	json_t *sel = root;

	gw.counters.num_status++;
	if (r->params.key != NULL && r->params.key[0] != '\0') {
		char *path = strdup(r->params.key), *save = NULL;
		/* rqlite's getSubJSON: the walk stops at the first value that is not an
		 * object and answers it (?key=store.nodes.0 gives the nodes list). */
		for (char *k = strtok_r(path, ".", &save); k != NULL && sel != NULL &&
		    json_is_object(sel); k = strtok_r(NULL, ".", &save))
			sel = json_object_get(sel, k);
		free(path);
		sel = sel != NULL ? json_incref(sel) : json_object();
		json_decref(root);
		/* rqlite answers a sub-selection compactly. */
		r->params.pretty = false;
		gw_respond_jansson(r, sel);
		return;
	}
	gw_respond_jansson(r, root);
}

static void
gw_status_store_cb(struct gw_req *r, struct ipc_msg *m)
{
	json_t *root = r->aux;
	json_t *store = json_object_get(root, "store");
	json_t *st = m != NULL ? gw_res_to_json(m) : NULL;
	json_t *sqlite = st != NULL ? json_object_get(st, "sqlite3") : NULL;

	r->aux = NULL;
	if (store != NULL && st != NULL) {
		json_object_set(store, "db_applied_index", json_object_get(st, "applied_index"));
		json_object_set(store, "fsm_index", json_object_get(st, "applied_index"));
		json_object_set(store, "on_disk", json_object_get(st, "on_disk"));
		if (sqlite != NULL) {
			char fr[32];
			dir_size_friendly((uint64_t)json_integer_value(json_object_get(sqlite,
			    "db_size")), fr, sizeof(fr));
			json_object_set_new(sqlite, "db_size_friendly", json_string(fr));
			json_object_set(store, "sqlite3", sqlite);
		}
		json_object_set(store, "fsm_term", json_object_get(st, "applied_term"));
		json_object_set(store, "fsm_update_time", json_object_get(st, "applied_at"));
		json_object_set_new(store, "db_conf", json_pack("{s:O}", "fk_constraints",
		    json_object_get(st, "fk")));
		json_object_set_new(store, "ready", json_true());
	}
	json_decref(st);
	gw_status_send(r, root);
}

static int
gw_id_cmp(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "id"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "id"));
	return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

/* A new array of the same objects, sorted by "id" (rqlite lists nodes that way). */
static json_t *
gw_sorted_by_id(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = calloc(n + 1, sizeof(*v)), *out = json_array();

	for (size_t i = 0; v != NULL && i < n; i++)
		v[i] = json_array_get(arr, i);
	if (v != NULL)
		qsort(v, n, sizeof(*v), gw_id_cmp);
	for (size_t i = 0; v != NULL && i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

static void
gw_status_cons_cb(struct gw_req *r, struct ipc_msg *m)
{
	json_t *root = gw_status_base();
	json_t *c, *store, *raft;

	if (m == NULL) {
		json_object_set_new(root, "store", json_pack("{s:b}", "open", 0));
		gw_status_send(r, root);
		return;
	}
	c = gw_msg_to_json(m);
	raft = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:I}",
	    "state", json_object_get(c, "state"), "term", json_object_get(c, "term"),
	    "voter", json_object_get(c, "voter"),
	    "commit_index", json_object_get(c, "commit_index"),
	    "applied_index", json_object_get(c, "applied_index"),
	    "last_log_index", json_object_get(c, "last_log_index"),
	    "last_log_term", json_object_get(c, "last_log_term"),
	    "last_snapshot_index", json_object_get(c, "last_snapshot_index"),
	    "last_snapshot_term", json_object_get(c, "last_snapshot_term"),
	    "fsm_pending", json_object_get(c, "fsm_pending"),
	    "num_peers", (json_int_t)(json_array_size(json_object_get(c, "nodes")) > 0 ?
	    json_array_size(json_object_get(c, "nodes")) - 1 : 0));
	json_object_set(raft, "latest_configuration_index",
	    json_object_get(c, "latest_configuration_index"));
	gw_status_last_contact(raft, c);
	json_object_set(raft, "latest_configuration", json_object_get(c, "latest_configuration"));
	json_object_set(raft, "log_size", json_object_get(c, "log_size"));
	{
		char fr[32];
		dir_size_friendly((uint64_t)json_integer_value(json_object_get(c, "log_size")), fr,
		    sizeof(fr));
		json_object_set_new(raft, "log_size_friendly", json_string(fr));
	}
	json_object_set(raft, "peer_auth", json_object_get(c, "peer_auth"));
	json_object_set(raft, "peer_handshakes_refused", json_object_get(c, "peer_handshakes_refused"));
	store = json_pack("{s:b, s:O, s:O, s:{s:O, s:O}, s:o, s:o, s:s, s:b}",
	    "open", 1, "node_id", json_object_get(c, "node_id"), "addr", json_object_get(c, "addr"),
	    "leader", "node_id", json_object_get(c, "leader_id"),
	    "addr", json_object_get(c, "leader_addr"),
	    "nodes", gw_sorted_by_id(json_object_get(c, "nodes")), "raft", raft,
	    "dir", gw.opts->data_dir, "ready", 0);
	json_object_set_new(store, "snapshot_store", json_pack("{s:O, s:O, s:O}",
	    "dir", json_object_get(c, "snapshot_dir"),
	    "dir_size", json_object_get(c, "snapshot_dir_size"),
	    "snapshots", json_object_get(c, "snapshot_ids")));
	{
		static const char *const same[] = {
			"apply_timeout", "heartbeat_timeout", "election_timeout", "commit_timeout",
			"snapshot_threshold", "snapshot_interval", "reap_timeout",
			"reap_read_only_timeout", "dir_size",
		};
		char fr[32];
		for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
			json_object_set(store, same[i], json_object_get(c, same[i]));
		dir_size_friendly((uint64_t)json_integer_value(json_object_get(c, "dir_size")), fr,
		    sizeof(fr));
		json_object_set_new(store, "dir_size_friendly", json_string(fr));
	}
	json_object_set(store, "num_snapshots", json_object_get(c, "num_snapshots"));
	json_object_set(store, "num_restores", json_object_get(c, "num_restores"));
	json_object_set(store, "num_installs", json_object_get(c, "num_installs"));
	gw_status_auto_vacuum(store, c);
	json_object_set_new(root, "store", store);
	json_decref(c);
	r->aux = root;
	r->aux_free = json_decref_void;
	gw_begin(r, IPC_STORE_STATUS);
	if (gw_send_wait(r, PROC_STORAGE, gw_status_store_cb, 5000000000) != 0)
		gw_status_store_cb(r, NULL);
}

void
gw_handle_status(struct gw_req *r)
{
	gw_with_cons_status(r, gw_status_cons_cb);
}

/* ---- /readyz ------------------------------------------------------------------------ */

static void
gw_readyz_text(struct gw_req *r, unsigned status, const char *text)
{
	char *b = strdup(text);
	gw_respond(r, status, "text/plain; charset=utf-8", b, b != NULL ? strlen(b) : 0);
}

static void
gw_readyz_db_cb(struct gw_req *r, struct ipc_msg *m)
{
	const char *res;
	size_t len;

	if (m == NULL || ipc_get_bin(m, "res", &res, &len) != IPC_OK) {
		/* With sync, storage holds SELECT 1 until it has applied the leader's commit
		 * index: no answer in time means this node is not caught up. */
		if (r->params.sync)
			gw_readyz_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "[+]node ok\n[+]leader ok\n"
			    "[+]store ok\n[+]sync timeout waiting for commit index");
		else
			gw_readyz_text(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "[+]node ok\n[+]leader ok\n[+]store not ready");
		return;
	}
	gw_readyz_text(r, MHD_HTTP_OK, r->params.sync ?
	    "[+]node ok\n[+]leader ok\n[+]store ok\n[+]sync ok\n[+]db ok" :
	    "[+]node ok\n[+]leader ok\n[+]store ok\n[+]db ok");
}

static const char gw_select1[] = "\x83\xa1k\x02\xa2tx\xc2\xa1s\x91\x91\xa8SELECT 1";

/*
 * SELECT 1 in storage, held there until it has applied min_index. rqlite waits for its
 * Raft commit index to reach the leader's; waiting for the applied index is a little
 * stricter and means a read at level none right after sees the leader's data.
 */
static void
gw_readyz_query(struct gw_req *r, uint64_t min_index)
{
	gw_begin(r, IPC_QUERY);
	ipc_add_bin(&gw.w, "c", gw_select1, sizeof(gw_select1) - 1);
	if (min_index > 0)
		ipc_add_u64(&gw.w, "mi", min_index);
	if (gw_send_wait(r, PROC_STORAGE, gw_readyz_db_cb, r->params.timeout_ns) != 0)
		gw_readyz_db_cb(r, NULL);
}

/* ?sync: the leader's commit index as this node last heard it, then the held query. */
static void
gw_readyz_sync_cb(struct gw_req *r, struct ipc_msg *m)
{
	uint64_t lci = 0;

	if (m == NULL || ipc_get_u64(m, "leader_commit_index", &lci) != IPC_OK) {
		gw_readyz_text(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "[+]node ok\n[+]leader ok\n[+]store not ready");
		return;
	}
	gw_readyz_query(r, lci > 0 ? lci : 1);
}

void
gw_handle_readyz(struct gw_req *r)
{
	gw.counters.num_readyz++;
	r->reply_on_timeout = true;
	if (r->params.noleader) {
		gw_readyz_text(r, MHD_HTTP_OK, "[+]node ok");
		return;
	}
	if (gw.leader_id[0] == '\0') {
		gw_readyz_text(r, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "[+]node ok\n[+]leader does not exist");
		return;
	}
	if (r->params.sync)
		gw_with_cons_status(r, gw_readyz_sync_cb);
	else
		gw_readyz_query(r, 0);
}

/* ---- /nodes and /leader ---------------------------------------------------------------- */

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

/* Map keys sorted like Go's map encoding; values keep their struct order. */
static int
gw_node_cmp(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "id"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "id"));
	return strcmp(x != NULL ? x : "", y != NULL ? y : "");
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
	qsort(objs, k, sizeof(*objs), gw_node_cmp);
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
	r->no_sort = true;
	gw_respond_jansson(r, out);
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
				r->no_sort = true;
				gw_respond_jansson(r, o);
				return;
			}
		}
	}
	json_decref(c);
	gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "leader not found");
}

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

void
gw_handle_leader(struct gw_req *r)
{
	gw_with_nodes(r, gw_leader_get_cb);
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

/* ---- /snapshot and /reap ------------------------------------------------------------- */

static void
gw_snapshot_cb(struct gw_req *r, struct ipc_msg *m)
{
	const char *e;
	size_t n;
	char msg[300];
	bool none = false;

	if (m == NULL) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store not open");
		return;
	}
	if (ipc_get_str(m, "e", &e, &n) == IPC_OK) {
		snprintf(msg, sizeof(msg), "%.*s", (int)n, e);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
		return;
	}
	(void)ipc_get_bool(m, "none", &none);
	gw_respond_empty(r, none ? MHD_HTTP_NO_CONTENT : MHD_HTTP_OK);
}

/* POST /snapshot?trailing_logs=N: snapshot this node now (never forwarded). */
void
gw_handle_snapshot(struct gw_req *r)
{
	gw.counters.user_snapshots++;
	gw_begin(r, IPC_SNAPSHOT_NOW);
	if (r->params.has_trailing_logs && r->params.trailing_logs > 0)
		ipc_add_u64(&gw.w, "tl", (uint64_t)r->params.trailing_logs);
	if (gw_send_wait(r, PROC_CONSENSUS, gw_snapshot_cb, 0) != 0)
		gw_snapshot_cb(r, NULL);
}

static void
gw_reap_cb(struct gw_req *r, struct ipc_msg *m)
{
	uint64_t n = 0;
	char body[128];

	if (m == NULL) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "store not open");
		return;
	}
	(void)ipc_get_u64(m, "n", &n);
	/* Every snapshot here is a full copy: there are no WAL files to fold in. */
	snprintf(body, sizeof(body), "{\"snapshots_reaped\":%llu,\"wals_checkpointed\":0}",
	    (unsigned long long)n);
	gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", strdup(body), strlen(body));
}

/* POST /reap: drop every snapshot but the newest. */
void
gw_handle_reap(struct gw_req *r)
{
	gw.counters.user_reaps++;
	gw_begin(r, IPC_REAP);
	if (gw_send_wait(r, PROC_CONSENSUS, gw_reap_cb, 0) != 0)
		gw_reap_cb(r, NULL);
}

/* ---- /debug/fault (debug builds): partitions for tests ---------------------------------- */

static void
gw_fault_cb(struct gw_req *r, struct ipc_msg *m)
{
	const char *e;
	size_t n;
	char msg[256];

	if (m == NULL) {
		gw_respond_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "consensus not running");
		return;
	}
	if (ipc_get_str(m, "e", &e, &n) == IPC_OK) {
		snprintf(msg, sizeof(msg), "%.*s", (int)n, e);
		gw_respond_text(r, MHD_HTTP_FORBIDDEN, msg);
		return;
	}
	gw_respond_empty(r, MHD_HTTP_OK);
}

/* POST /debug/fault?block=raftaddr,…  or ?unblock=… */
void
gw_handle_fault(struct gw_req *r)
{
	const char *block = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "block");
	const char *unblock = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "unblock");

	gw_begin(r, IPC_FAULT);
	if (block != NULL)
		ipc_add_str(&gw.w, "block", block);
	if (unblock != NULL)
		ipc_add_str(&gw.w, "unblock", unblock);
	if (gw_send_wait(r, PROC_CONSENSUS, gw_fault_cb, 0) != 0)
		gw_fault_cb(r, NULL);
}

/* ---- /debug/vars ---------------------------------------------------------------------- */

static void
gw_debug_vars_cb(struct gw_req *r, struct ipc_msg *m)
{
	json_t *vars = json_object(), *http = json_object(), *cmdline = json_array();
	json_t *st = m != NULL ? gw_res_to_json(m) : NULL;
	const char *key;
	json_t *v;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

#define GW_COUNTER_JSON_(n) json_object_set_new(http, #n, json_integer((json_int_t)gw.counters.n));
	GW_COUNTERS(GW_COUNTER_JSON_)
#undef GW_COUNTER_JSON_
	json_object_set_new(vars, "http", http);
	if (st != NULL && json_object_get(st, "db") != NULL)
		json_object_set(vars, "db", json_object_get(st, "db"));
	{
		json_t *c = r->aux;	/* consensus's status, fetched first */
		json_t *store = json_object();
		json_object_set_new(store, "fsm_index", json_integer(st != NULL ?
		    json_integer_value(json_object_get(st, "applied_index")) : 0));
		if (c != NULL) {
			json_object_set(store, "num_snapshots", json_object_get(c, "num_snapshots"));
			json_object_set(store, "num_restores", json_object_get(c, "num_restores"));
			json_object_set(store, "num_installs", json_object_get(c, "num_installs"));
			json_object_set(store, "num_auto_vacuums", json_object_get(c, "num_auto_vacuums"));
			json_object_set(store, "num_ignored_joins", json_object_get(c, "num_ignored_joins"));
			json_object_set(vars, "cluster", json_object_get(c, "cluster"));
			json_object_set(store, "num_removed_before_joins",
			    json_object_get(c, "num_removed_before_joins"));
			json_object_set(store, "num_auto_optimizes",
			    json_object_get(c, "num_auto_optimizes"));
			/* Group commit at work: entries per append and fsyncs per proposal. */
			json_object_set_new(vars, "raft", json_pack("{s:O, s:O, s:O, s:O}",
			    "log_appends", json_object_get(c, "log_appends"),
			    "log_entries", json_object_get(c, "log_entries"),
			    "log_fsyncs", json_object_get(c, "log_fsyncs"),
			    "proposals", json_object_get(c, "proposals")));
		}
		json_object_set_new(vars, "store", store);
	}
	{
		uint64_t rx, tx, to, fl;
		gw_queue_stats(&rx, &tx, &to, &fl);
		json_object_set_new(vars, "queue", json_pack("{s:I, s:I, s:I, s:I, s:I}",
		    "depth", (json_int_t)gw_queue_depth(), "objects_rx", (json_int_t)rx,
		    "objects_tx", (json_int_t)tx, "num_timeout", (json_int_t)to,
		    "num_flush", (json_int_t)fl));
	}
	json_decref(st);
	/*
	 * expvar's cmdline is the node's command line: the supervisor's (our parent). This
	 * process's own argv area holds its title ("rqlited: gateway"), not arguments.
	 */
	{
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)getppid());
		f = fopen(path, "r");
	}
	if (f != NULL) {
		char arg[4096];
		size_t n = 0;
		int ch;
		while ((ch = fgetc(f)) != EOF) {
			if (ch == '\0' || n == sizeof(arg) - 1) {
				arg[n] = '\0';
				json_array_append_new(cmdline, json_string(arg));
				n = 0;
			} else {
				arg[n++] = (char)ch;
			}
		}
		fclose(f);
	}
	json_object_set_new(vars, "cmdline", cmdline);

	/* expvar's layout: one top-level entry per line. */
	f = open_memstream(&out, &len);
	if (f == NULL) {
		json_decref(vars);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	fputs("{\n", f);
	{
		bool first = true;
		json_object_foreach(vars, key, v) {
			char *s;
			if (r->params.key != NULL && strcmp(r->params.key, key) != 0)
				continue;
			s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
			fprintf(f, "%s\"%s\": %s", first ? "" : ",\n", key, s != NULL ? s : "null");
			free(s);
			first = false;
		}
	}
	fputs("\n}\n", f);
	fclose(f);
	json_decref(vars);
	gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", out, len);
}

static void
gw_debug_vars_cons_cb(struct gw_req *r, struct ipc_msg *m)
{
	if (m != NULL) {
		r->aux = gw_msg_to_json(m);
		r->aux_free = json_decref_void;
	}
	gw_begin(r, IPC_STORE_STATUS);
	if (gw_send_wait(r, PROC_STORAGE, gw_debug_vars_cb, 5000000000) != 0)
		gw_debug_vars_cb(r, NULL);
}

void
gw_handle_debug_vars(struct gw_req *r)
{
	gw_with_cons_status(r, gw_debug_vars_cons_cb);
}
