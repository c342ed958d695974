/*
 * The consensus process: the Raft core (pkg/raft) driven by a clock, the durable log
 * (pkg/raftlog), and the links to its siblings and to other nodes. This file is the
 * process itself — the context, the I/O table the parts use, the timers, the sibling
 * links, start and stop; consensus_internal.h lists the parts.
 *
 * Links: gateway (consensus_local.c), storage (consensus_apply.c), peers
 * (consensus_peers.c). Timers: the core's tick, housekeeping every 100 ms (deadlines
 * of waiting requests, reaping, the stop), join rounds, snapshots, maintenance.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "consensus_internal.h"

static struct consensus cs_node;	/* the one context; everything else gets a pointer */

/* ---- the I/O table ----------------------------------------------------------------- */

static uint64_t
cs_io_now_ms(struct consensus *c)
{
	struct timespec ts;

	(void)c;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool
cs_io_send_role(struct consensus *c, enum proc_id to, const struct ipc_writer *out)
{
	return c->links[to] != NULL && ipc_conn_send(c->links[to], out) == 0;
}

static int
cs_io_send_peer(struct consensus *c, const char *addr, const struct ipc_writer *out)
{
	return c->peers.pt != NULL ? peer_send(c->peers.pt, addr, out) : PEER_ERR_INVAL;
}

static int
cs_io_reply_peer(struct consensus *c, uint64_t handle, const struct ipc_writer *out)
{
	return c->peers.pt != NULL ? peer_reply_handle(c->peers.pt, handle, out) : PEER_ERR_CLOSED;
}

/* Process the core's ready batch at the end of this loop iteration. */
static void
cs_io_schedule_ready(struct consensus *c)
{
	event_active(c->ready_ev, 0, 0);
}

static const struct cs_io cs_process_io = {
	.now_ms = cs_io_now_ms,
	.send_role = cs_io_send_role,
	.send_peer = cs_io_send_peer,
	.reply_peer = cs_io_reply_peer,
	.schedule_ready = cs_io_schedule_ready,
};

/* ---- timers -------------------------------------------------------------------------- */

static void
cs_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	cs_ready_process(arg);
}

void
cs_arm_tick(struct consensus *c)
{
	uint64_t now = c->io->now_ms(c), next = raft_next_timeout(c->raft);
	uint64_t delta = next > now ? next - now : 0;
	struct timeval tv;

	if (c->tick_ev == NULL)
		return;		/* not started yet: consensus_main arms it */
	if (delta > 1000)
		delta = 1000;
	tv.tv_sec = (time_t)(delta / 1000);
	tv.tv_usec = (suseconds_t)((delta % 1000) * 1000);
	evtimer_add(c->tick_ev, &tv);
}

static void
cs_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consensus *c = arg;

	(void)fd; (void)what;
	raft_tick(c->raft, c->io->now_ms(c));
	cs_ready_process(c);
	cs_arm_tick(c);
}

/* The log closes and the process exits (from any phase but STOPPED). */
static void
cs_stop_now(struct consensus *c)
{
	cs_set_phase(c, CS_PHASE_STOPPED);
	cs_sync_stop(c);
	raft_shutdown(c->raft);
	cs_ready_process(c);
	raftlog_close(c->log);
	c->log = NULL;
	role_exit(&c->role);
}

static void
cs_housekeeping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consensus *c = arg;
	uint64_t now = c->io->now_ms(c);

	(void)fd; (void)what;
	cs_hold_retry(c);	/* held past their deadline: answered now */
	cs_apply_expire(c, now);
	cs_peers_reap(c, now);
	cs_forward_expire(c, now);
	cs_nodes_expire(c, now);
	cs_membership_expire(c, now);
	if (cs_shutdown_done(c, now))
		cs_stop_now(c);
}

static void
cs_join_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consensus *c = arg;
	struct timeval tv;

	(void)fd; (void)what;
	switch (cs_join_round(c)) {
	case CS_JOIN_GAVE_UP:
		exit(PROC_EXIT_FATAL);
	case CS_JOIN_DONE:
		return;
	case CS_JOIN_AGAIN:
		break;
	}
	tv.tv_sec = (time_t)(c->opts->join_interval_ms / 1000);
	tv.tv_usec = (suseconds_t)((c->opts->join_interval_ms % 1000) * 1000);
	evtimer_add(c->join_ev, &tv);
}

/* With -join: rqlite's start-up checks, then the first round at once. */
static void
cs_join_start(struct consensus *c)
{
	char bad[RAFT_ADDR_MAX];

	if (c->opts->join[0] == '\0')
		return;
	if (cs_join_refused_single(c))
		exit(PROC_EXIT_FATAL);
	if (cs_join_list_serves_http(c->opts, bad, sizeof(bad))) {
		log_warnx("join address %s appears to be serving HTTP when it should be Raft", bad);
		exit(PROC_EXIT_FATAL);
	}
	c->join_ev = evtimer_new(c->role.base, cs_join_cb, c);
	cs_join_cb(-1, 0, c);
}

/* ---- links ----------------------------------------------------------------------------- */

static void
cs_forget_gateway_waiters(struct consensus *c)
{
	cs_apply_forget_gateway(c);
	cs_forward_forget_gateway(c);
}

static void
cs_dispatch_gateway(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct consensus *c = ((struct cs_link_ctx *)arg)->c;

	(void)conn;
	if (c->log == NULL)
		return;		/* stopping: the log is closed */
	cs_local_dispatch_gateway(c, m);
}

static void
cs_dispatch_storage(struct ipc_conn *conn, struct ipc_msg *m, void *arg)
{
	struct consensus *c = ((struct cs_link_ctx *)arg)->c;

	(void)conn;
	if (c->log == NULL)
		return;		/* stopping: the log is closed */
	cs_apply_dispatch_storage(c, m);
}

static void
cs_link_closed(struct ipc_conn *conn, const char *reason, void *arg)
{
	struct cs_link_ctx *lc = arg;
	struct consensus *c = lc->c;
	enum proc_id peer = lc->peer;

	log_info("link to %s closed: %s", proc_name(peer), reason);
	if (c->links[peer] != conn)
		return;
	c->links[peer] = NULL;
	if (peer == PROC_STORAGE)
		c->apply.storage_known = false;
	if (peer == PROC_GATEWAY)
		cs_forget_gateway_waiters(c);
}

static void
cs_on_link(enum proc_id peer, int fd, void *ctx)
{
	struct consensus *c = ctx;
	ipc_msg_cb *cb;

	if (peer == PROC_GATEWAY)
		cb = cs_dispatch_gateway;
	else if (peer == PROC_STORAGE)
		cb = cs_dispatch_storage;
	else {
		log_warnx("link to %s not expected", proc_name(peer));
		close(fd);
		return;
	}
	if (c->links[peer] != NULL) {
		ipc_conn_free(c->links[peer]);
		c->links[peer] = NULL;
		if (peer == PROC_GATEWAY)
			cs_forget_gateway_waiters(c);
	}
	if (peer == PROC_STORAGE)
		c->apply.storage_known = false;	/* until its HELLO says where it is */
	c->link_ctx[peer] = (struct cs_link_ctx){ c, peer };
	c->links[peer] = ipc_conn_new(c->role.base, fd, proc_name(peer), cb, cs_link_closed,
	    &c->link_ctx[peer]);
	if (c->links[peer] != NULL)
		ipc_conn_set_ends(c->links[peer], IPC_END_CS,
		    peer == PROC_GATEWAY ? IPC_END_GW : IPC_END_ST);
	if (peer == PROC_GATEWAY)
		cs_local_send_state(c);
}

static void
cs_on_listen(const char *name, int fd, void *ctx)
{
	struct consensus *c = ctx;

	if (strcmp(name, "raft") != 0) {
		log_warnx("listener %s not expected", name);
		close(fd);
		return;
	}
	cs_peers_init(c, fd);
	cs_join_start(c);
	c->io->schedule_ready(c);
}

static void
cs_on_shutdown(void *ctx)
{
	struct consensus *c = ctx;

	if (cs_stopping(c))
		return;
	/* A leader hands over (or the node leaves) first, so the cluster does not wait an
	 * election timeout. */
	if (cs_shutdown_begin(c))
		return;
	cs_stop_now(c);
}

static void
cs_on_reload(void *ctx)
{
	cs_auth_reload(ctx);
}

static const struct role_ops consensus_ops = {
	.id = PROC_CONSENSUS,
	.on_link = cs_on_link,
	.on_listen = cs_on_listen,
	.on_shutdown = cs_on_shutdown,
	.on_reload = cs_on_reload,
};

void
consensus_main(const struct consensus_options *opts)
{
	struct consensus *c = &cs_node;
	struct timeval hk = { 0, 100000 };

	memset(c, 0, sizeof(*c));
	c->opts = opts;
	c->io = &cs_process_io;
	c->snap.recv_fd = -1;
	c->phase = opts->join[0] != '\0' ? CS_PHASE_JOINING : CS_PHASE_RUNNING;
	role_init(&c->role, &consensus_ops, c);
	ipc_writer_init(&c->out);
	cs_auth_init(c);
	cs_core_open(c);
	c->ready_ev = event_new(c->role.base, -1, 0, cs_ready_cb, c);
	c->tick_ev = evtimer_new(c->role.base, cs_tick_cb, c);
	c->housekeeping_ev = event_new(c->role.base, -1, EV_PERSIST, cs_housekeeping_cb, c);
	cs_sync_init(c);
	cs_snapshot_init(c);
	cs_maintenance_init(c);
	cs_hold_init(c, cs_local_redispatch);
	event_add(c->housekeeping_ev, &hk);
	if (raft_start(c->raft, c->io->now_ms(c)) != 0)
		fatalx("raft_start failed");
	cs_ready_process(c);
	cs_arm_tick(c);
	role_ready(&c->role);
	role_run(&c->role);
}
