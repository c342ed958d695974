/*
 * The consensus process's context: one struct made of each part's own state, passed
 * to every function (no globals). Only files under pkg/consensus and the unit tests
 * of its parts include this.
 *
 * The parts, and who calls whom (down the list, never up):
 *   consensus_main.c        the process: links, timers, the I/O table, start and stop
 *   consensus_ready.c       the ready batch: log writes, messages, commits, reads
 *   consensus_local.c       the gateway's requests and the STATE it is sent
 *   consensus_status.c      CONS_STATUS
 *   consensus_peers.c       peer links: Raft messages, which frame goes where, reaping
 *   consensus_forward.c     requests that need the leader, both sides
 *   consensus_membership.c  joins, removals, stepdown on the leader
 *   consensus_join.c        joining a cluster, -bootstrap-expect
 *   consensus_nodes.c       /nodes, node meta, the leader's HTTP address
 *   consensus_shutdown.c    leaving before stopping
 *   consensus_apply.c       committed entries to storage, proposals waiting for them
 *   consensus_snapshot*.c   snapshots taken, restored, received, sent
 *   consensus_hold.c        requests waiting for a leader
 *   consensus_maintenance.c automatic VACUUM/optimize
 *   consensus_core.c        making, loading and bootstrapping the Raft core
 *   consensus_sync.c        the log fsync; consensus_freshness.c freshness_strict
 *   consensus_waiter.c, consensus_phase.c   answers; the node's phase
 */
#ifndef RQ_CONSENSUS_INTERNAL_H
#define RQ_CONSENSUS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/auth.h"
#include "common/role.h"
#include "consensus.h"
#include "consensus_apply.h"
#include "consensus_base.h"
#include "consensus_forward.h"
#include "consensus_freshness.h"
#include "consensus_hold.h"
#include "consensus_join.h"
#include "consensus_local.h"
#include "consensus_maintenance.h"
#include "consensus_membership.h"
#include "consensus_nodes.h"
#include "consensus_peers.h"
#include "consensus_shutdown.h"
#include "consensus_snapshot.h"
#include "consensus_sync.h"
#include "ipc_codec.h"
#include "ipc_conn.h"
#include "ipc_errcode.h"
#include "peer_raft.h"
#include "peer_transport.h"
#include "raft/raft.h"
#include "raftlog/raftlog.h"

/* Counters for /debug/vars: how well group commit works. */
struct cs_stats {
	uint64_t appends;	/* log appends (one per ready batch with entries) */
	uint64_t entries;	/* entries appended */
	uint64_t fsyncs;	/* log fsyncs (one per append) */
	uint64_t proposals;	/* proposals accepted as leader */
};

struct consensus {
	const struct consensus_options *opts;
	const struct cs_io *io;
	struct raft *raft;
	struct raftlog *log;		/* NULL once stopping has closed it */
	/* The frame being built. Every function that sends builds in it and passes it
	 * on explicitly; nothing keeps a frame across calls. */
	struct ipc_writer out;
	enum cs_phase phase;
	bool has_state;			/* the log or a snapshot existed at start */
	uint64_t leader_commit_heard;	/* leader_commit of the leader's latest AppendEntries */
	struct cs_stats stats;
	struct auth_store *auth;	/* -auth (consensus_auth.c); NULL: no checks */
	const char *join_pass;		/* -join-as user's password, from auth */
	/* each part's own state */
	struct cs_apply apply;
	struct cs_local local;
	struct cs_forward fwd;
	struct cs_membership mem;
	struct cs_join join;
	struct cs_nodes nodes;
	struct cs_peers peers;
	struct cs_shutdown shut;
	struct cs_snapshot snap;
	struct cs_hold hold;
	struct cs_maintenance maint;
	struct cs_sync sync;
	struct cs_fresh fresh;
	/* the process (consensus_main.c) */
	struct role role;
	struct ipc_conn *links[PROC_MAX];
	struct cs_link_ctx {		/* what a sibling link's callbacks get */
		struct consensus *c;
		enum proc_id peer;
	} link_ctx[PROC_MAX];
	struct event *tick_ev, *ready_ev, *housekeeping_ev, *join_ev;
};

/* consensus_core.c */
struct raft *cs_core_new(struct consensus *c);
/* Opens the log and loads the core from it (and the newest snapshot); bootstraps a
 * new node that joins nobody as a one-node cluster. */
void cs_core_open(struct consensus *c);
/* Replaces a core that has no state with one bootstrapped with cfg; 0 or -1. */
int cs_core_bootstrap(struct consensus *c, const struct raft_config *cfg);

/* consensus_ready.c */
void cs_ready_process(struct consensus *c);
void cs_ready_synced(struct consensus *c, uint64_t index, uint64_t term);

/* consensus_main.c: the tick timer follows the core's next timeout. */
void cs_arm_tick(struct consensus *c);

/* consensus_auth.c */
void cs_auth_init(struct consensus *c);
void cs_auth_reload(struct consensus *c);
/* Whether the credentials m carries ("u", "p") grant perm (and also, unless
 * AUTH_PERM_MAX). True when auth is off. */
bool cs_auth_allowed(struct consensus *c, const struct ipc_msg *m, enum auth_perm perm,
    enum auth_perm also);
/* Copies m's credentials into the frame being built (a request passed on). */
void cs_auth_copy(const struct ipc_msg *m, struct ipc_writer *out);
/* Adds this node's own credentials (-join-as) to the frame being built. */
void cs_auth_add_own(struct consensus *c, struct ipc_writer *out);

/* consensus_recovery.c: raft/peers.json; 1 when a configuration was forced. */
int cs_recover_peers_json(struct consensus *c);

#endif
