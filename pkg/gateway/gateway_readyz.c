/*
 * /readyz: whether this node can serve. Plain text, one line per check, as rqlite's.
 * It needs a known leader (from consensus's STATE) and storage answering SELECT 1
 * (QUERY → QUERY_RESULT); with ?sync, consensus's status first (CONS_STATUS →
 * CONS_STATUS_RESULT) for the leader's commit index, which storage must have applied
 * before it answers. A timeout is a 503 in the same text format.
 */
#include <stdlib.h>
#include <string.h>

#include "gateway_internal.h"

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
