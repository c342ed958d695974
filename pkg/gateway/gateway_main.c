/*
 * The gateway process skeleton: links to consensus and storage with a dispatcher per
 * peer, the HTTP listener, and the state consensus pushes (STATE: role, leader, term,
 * commit index, leader lease, voter), which handlers read for redirects, weak reads
 * and /readyz. Every *_RESULT goes to the request waiting for it (gateway_wait.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "gateway_internal.h"

struct gateway gw;

static void
gw_on_state(struct ipc_msg *m)
{
	uint64_t v;

	(void)ipc_get_strbuf(m, "st", gw.raft_state, sizeof(gw.raft_state));
	(void)ipc_get_strbuf(m, "ld", gw.leader_id, sizeof(gw.leader_id));
	(void)ipc_get_strbuf(m, "la", gw.leader_addr, sizeof(gw.leader_addr));
	gw.leader_api[0] = '\0';
	(void)ipc_get_strbuf(m, "lapi", gw.leader_api, sizeof(gw.leader_api));
	if (ipc_get_u64(m, "t", &v) == IPC_OK)
		gw.term = v;
	if (ipc_get_u64(m, "ci", &v) == IPC_OK)
		gw.commit_index = v;
	gw.lease_until_ms = ipc_get_u64(m, "lu", &v) == IPC_OK ? v : 0;
	(void)ipc_get_bool(m, "vo", &gw.voter);
}

static void
gw_dispatch_consensus(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c; (void)arg;
	switch (m->type) {
	case IPC_STATE:
		gw_on_state(m);
		break;
	case IPC_PROPOSE_RESULT:
	case IPC_BARRIER_RESULT:
	case IPC_CONS_STATUS_RESULT:
	case IPC_MEMBERSHIP_RESULT:
	case IPC_NODES_RESULT:
	case IPC_FAULT_RESULT:
	case IPC_SNAPSHOT_NOW_RESULT:
	case IPC_REAP_RESULT:
		gw_dispatch_reply(m, PROC_CONSENSUS);
		break;
	default:
		log_warnx("unexpected %s from consensus", ipc_type_name(m->type));
	}
}

static void
gw_dispatch_storage(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)c; (void)arg;
	switch (m->type) {
	case IPC_QUERY_RESULT:
	case IPC_STORE_STATUS_RESULT:
	case IPC_BACKUP_RESULT:
	case IPC_PROPOSE_RESULT:	/* a proposal made here, applied (consensus_send_apply) */
		gw_dispatch_reply(m, PROC_STORAGE);
		break;
	default:
		log_warnx("unexpected %s from storage", ipc_type_name(m->type));
	}
}

static void
gw_link_closed(struct ipc_conn *c, const char *reason, void *arg)
{
	enum proc_id peer = (enum proc_id)(intptr_t)arg;

	log_info("link to %s closed: %s", proc_name(peer), reason);
	if (gw.links[peer] != c)
		return;
	gw.links[peer] = NULL;
	if (peer == PROC_CONSENSUS)
		gw.leader_id[0] = '\0';
	gw_fail_waiting(peer, peer == PROC_CONSENSUS ? "consensus process restarting" :
	    "store not open");
}

static void
gw_on_link(enum proc_id peer, int fd, void *ctx)
{
	ipc_msg_cb *cb;

	(void)ctx;
	if (peer == PROC_CONSENSUS)
		cb = gw_dispatch_consensus;
	else if (peer == PROC_STORAGE)
		cb = gw_dispatch_storage;
	else {
		log_warnx("link to %s not expected", proc_name(peer));
		close(fd);
		return;
	}
	if (gw.links[peer] != NULL) {
		ipc_conn_free(gw.links[peer]);
		gw.links[peer] = NULL;
		/* Replies to requests sent on the old link will never come. */
		gw_fail_waiting(peer, peer == PROC_CONSENSUS ? "consensus process restarting" :
		    "store not open");
	}
	gw.links[peer] = ipc_conn_new(gw.role.base, fd, proc_name(peer), cb, gw_link_closed,
	    (void *)(intptr_t)peer);
	if (gw.links[peer] != NULL)
		ipc_conn_set_ends(gw.links[peer], IPC_END_GW,
		    peer == PROC_CONSENSUS ? IPC_END_CS : IPC_END_ST);
}

static void
gw_on_listen(const char *name, int fd, void *ctx)
{
	(void)ctx;
	if (strcmp(name, "http") != 0 || gw.mhd != NULL) {
		log_warnx("listener %s not expected", name);
		close(fd);
		return;
	}
	gw_queue_init();
	gw_auth_init();
	if (gw_http_start(fd) != 0)
		fatalx("cannot start the HTTP server");
	log_info("node HTTP API available at %s://%s", gw_tls_enabled() ? "https" : "http",
	    gw.opts->http_adv_addr);
	role_ready(&gw.role);
}

static void
gw_on_shutdown(void *ctx)
{
	(void)ctx;
	gw_http_stop();	/* exits the loop once drained */
}

static void
gw_on_reload(void *ctx)
{
	(void)ctx;
	gw_auth_reload();
}

static const struct role_ops gateway_ops = {
	.id = PROC_GATEWAY,
	.on_link = gw_on_link,
	.on_listen = gw_on_listen,
	.on_shutdown = gw_on_shutdown,
	.on_reload = gw_on_reload,
};

void
gateway_main(const struct gateway_options *opts)
{
	struct timespec ts;
	struct tm tm;

	memset(&gw, 0, sizeof(gw));
	gw.opts = opts;
	gw.voter = !opts->non_voter;	/* until consensus says */
	gw.limits.steps = opts->write_steps;
	gw.limits.max_value = opts->max_value;
	clock_gettime(CLOCK_MONOTONIC, &gw.start_mono);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(gw.start_time, sizeof(gw.start_time), "%Y-%m-%dT%H:%M:%SZ", &tm);
	role_init(&gw.role, &gateway_ops, &gw);
	ipc_writer_init(&gw.w);
	role_run(&gw.role);
}
