/*
 * One-shot operator commands to this node's consensus: POST /snapshot (SNAPSHOT_NOW:
 * take a snapshot now), POST /reap (REAP: drop every snapshot but the newest) and POST
 * /debug/fault (FAULT: block or unblock peers, for tests; consensus refuses it outside
 * debug builds). None is forwarded to the leader; each answers from its *_RESULT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_internal.h"

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

/* ---- /debug/fault --------------------------------------------------------------------- */

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
