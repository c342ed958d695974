/*
 * /status and /debug/vars: this node's state as rqlite's two diagnostics documents.
 * Both ask consensus for its status (CONS_STATUS → CONS_STATUS_RESULT), then storage
 * for its own (STORE_STATUS → STORE_STATUS_RESULT), and answer from the two maps:
 * /status with rqlite's keys and types (?key selects a part), /debug/vars in expvar's
 * layout with the gateway's counters.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/dir_size.h"
#include "common/duration.h"
#include "gateway_internal.h"
#include "gateway_jansson.h"

/* ---- helpers ---------------------------------------------------------------------- */

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

/* Fetches consensus's status, then calls next with it (NULL if consensus is down). */
void
gw_with_cons_status(struct gw_req *r, gw_reply_fn *next)
{
	gw_begin(r, IPC_CONS_STATUS);
	if (gw_send_wait(r, PROC_CONSENSUS, next, 5000000000) != 0)
		next(r, NULL);
}

/*
 * What /status and /debug/vars keep between consensus's answer and storage's
 * (GW_CTX_STATUS): for /status the document built from consensus's map, for
 * /debug/vars consensus's map itself.
 */
struct gw_status_ctx {
	json_t *doc;
};

static void
gw_status_ctx_free(struct gw_req *r)
{
	json_decref(r->ctx.status->doc);
	free(r->ctx.status);
}

/* Keeps doc (taken) with r; -1 (doc freed) when out of memory. */
static int
gw_status_keep(struct gw_req *r, json_t *doc)
{
	struct gw_status_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		json_decref(doc);
		return -1;
	}
	c->doc = doc;
	r->ctx_type = GW_CTX_STATUS;
	r->ctx.status = c;
	r->ctx_free = gw_status_ctx_free;
	return 0;
}

/* The kept document, still owned by r (NULL if none). */
static json_t *
gw_status_kept(const struct gw_req *r)
{
	return r->ctx_type == GW_CTX_STATUS ? r->ctx.status->doc : NULL;
}

/* ---- /status ------------------------------------------------------------------------ */

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
	json_object_set_new(root, "http", json_pack("{s:s, s:s, s:{s:s}, s:o}",
	    "bind_addr", gw.opts->http_addr, "auth", gw_auth_enabled() ? "enabled" : "disabled",
	    "cluster", "local_node_addr", gw.opts->raft_adv_addr, "tls", gw_tls_status()));
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
	json_object_set_new(root, "cluster", json_pack("{s:s, s:o, s:s}",
	    "addr", gw.opts->raft_adv_addr, "api_addr", json_string_nocheck(gw.opts->http_adv_addr),
	    "https", gw_tls_enabled() ? "true" : "false"));
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
		gw_respond_jansson(r, sel, GW_JSON_SORTED);
		return;
	}
	gw_respond_jansson(r, root, GW_JSON_SORTED | (r->params.pretty ? GW_JSON_PRETTY : 0));
}

static void
gw_status_store_cb(struct gw_req *r, struct ipc_msg *m)
{
	json_t *root = json_incref(gw_status_kept(r));
	json_t *store = json_object_get(root, "store");
	json_t *st = m != NULL ? gw_res_to_json(m) : NULL;
	json_t *sqlite = st != NULL ? json_object_get(st, "sqlite3") : NULL;

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

/* A new array of the same objects, sorted by "id" (rqlite lists nodes that way). */
static json_t *
gw_sorted_by_id(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = calloc(n + 1, sizeof(*v)), *out = json_array();

	for (size_t i = 0; v != NULL && i < n; i++)
		v[i] = json_array_get(arr, i);
	if (v != NULL)
		qsort(v, n, sizeof(*v), gw_json_id_cmp);
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
	json_object_set(raft, "peer_conns_refused", json_object_get(c, "peer_conns_refused"));
	json_object_set(raft, "peer_frames_stalled", json_object_get(c, "peer_frames_stalled"));
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
	if (gw_status_keep(r, root) != 0) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	gw_begin(r, IPC_STORE_STATUS);
	if (gw_send_wait(r, PROC_STORAGE, gw_status_store_cb, 5000000000) != 0)
		gw_status_store_cb(r, NULL);
}

void
gw_handle_status(struct gw_req *r)
{
	gw_with_cons_status(r, gw_status_cons_cb);
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
		json_t *c = gw_status_kept(r);	/* consensus's status, fetched first */
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
	/* Without consensus (or memory), /debug/vars still answers storage's part. */
	if (m != NULL)
		(void)gw_status_keep(r, gw_msg_to_json(m));
	gw_begin(r, IPC_STORE_STATUS);
	if (gw_send_wait(r, PROC_STORAGE, gw_debug_vars_cb, 5000000000) != 0)
		gw_debug_vars_cb(r, NULL);
}

void
gw_handle_debug_vars(struct gw_req *r)
{
	gw_with_cons_status(r, gw_debug_vars_cons_cb);
}
