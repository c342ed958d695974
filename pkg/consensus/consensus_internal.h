/*
 * What the consensus process's files share: its one context struct and the helpers
 * between the local side (consensus_main.c: gateway, storage, the ready batch) and
 * the cluster side (consensus_cluster.c: peers, forwarding, joining, membership).
 */
#ifndef RQ_CONSENSUS_INTERNAL_H
#define RQ_CONSENSUS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/role.h"
#include "consensus.h"
#include "ipc_codec.h"
#include "ipc_conn.h"
#include "peer_transport.h"
#include "raft/raft.h"
#include "raftlog/raftlog.h"

/* Who waits for the outcome of a log entry or a read. */
enum waiter_kind { WAITER_NONE, WAITER_GATEWAY, WAITER_PEER, WAITER_JOIN, WAITER_MEMBERSHIP };

struct waiter {
	enum waiter_kind kind;
	uint64_t request_id;	/* gateway request id, or the peer's request id */
	uint64_t peer_handle;	/* WAITER_PEER/WAITER_JOIN: connection to answer on */
	enum ipc_type reply;	/* message type of the answer */
	/* A proposal's own apply timeout (PROPOSE "at", ms): a load of a large file takes
	 * longer to apply than -raft-apply-timeout allows. 0: that flag. */
	uint64_t apply_timeout_ms;
};

/* A proposal waiting for its entry to be applied. */
struct pending {
	uint64_t index, term;
	uint64_t started_ms;
	bool direct;		/* storage answers the gateway itself (consensus_send_apply) */
	struct waiter w;
	struct pending *next;
};

/* A read served here for a follower: barrier, then a QUERY to our storage. */
struct fwd_read {
	uint64_t id;		/* our cookie / storage request id */
	int kind;		/* command kind (2 query, 3 request) */
	char *cmd;
	size_t len;
	struct waiter w;
	uint64_t started_ms;
	struct fwd_read *next;
};

/* A request we sent to the leader (or another node), waiting for its answer. */
struct fwd_out {
	uint64_t id;		/* request id on the peer link */
	struct waiter w;	/* who gets the answer here */
	enum ipc_type op_reply;	/* PEER_*_RESULT expected */
	uint64_t started_ms;
	uint64_t timeout_ms;	/* forgotten after this (at least CS_FWD_TIMEOUT_MS) */
	void (*on_answer)(struct fwd_out *f, struct ipc_msg *m);	/* NULL: relay */
	void *arg;
	bool followed;		/* a join already redirected once */
	char addr[RAFT_ADDR_MAX];	/* where it went, "" if not recorded */
	struct fwd_out *next;
};

struct consensus {
	struct role role;
	const struct consensus_options *opts;
	struct raft *raft;
	struct raftlog *log;
	struct peer_transport *peers;
	struct ipc_conn *links[PROC_MAX];
	struct event *tick_ev;
	struct event *ready_ev;
	struct event *housekeeping_ev;
	struct pending *pending_head, *pending_tail;
	struct fwd_read *fwd_reads;
	struct fwd_out *fwd_outs;
	uint64_t next_id;
	uint64_t storage_sent;
	uint64_t storage_applied;	/* highest index storage says it has applied */
	uint64_t leader_commit_heard;	/* leader_commit of the leader's latest AppendEntries */
	/* Counters for /debug/vars: how well group commit works. */
	uint64_t n_appends;		/* log appends (one per ready batch with entries) */
	uint64_t n_entries;		/* entries appended */
	uint64_t n_fsyncs;		/* log fsyncs (one per append) */
	uint64_t n_proposals;		/* proposals accepted as leader */
	int storage_known;
	/* What the gateway was last told (STATE): it serves weak reads alone until lease_ms */
	uint64_t lease_pushed_ms, ci_pushed, state_pushed_ms;
	struct ipc_writer w;
	int stopping;
	bool has_state;		/* the log or vote existed at start */
	bool keyed;
	/* joining */
	bool joined;
	int join_round;
	unsigned join_next;
	uint64_t join_started_ms;
	struct event *join_ev;
	/* what we know about the leader's HTTP API, for redirects */
	char leader_api[300];
	char leader_api_for[RAFT_ID_MAX];
	/* stepdown and shutdown */
	struct waiter stepdown_waiter;
	uint64_t stepdown_deadline;
	bool shutdown_after_transfer;
	bool shutdown_after_remove;
	bool shutdown_removed;
	uint64_t shutdown_remove_index;
	uint64_t shutdown_deadline;
	/* /nodes fan-out */
	struct nodes_query *nodes_queries;
};

extern struct consensus cs;

uint64_t cs_now_ms(void);
void cs_push_lease(void);
void cs_schedule_ready(void);
void cs_send_state(void);
/* Answers a waiter with the frame in cs.w (finished by the caller). */
void cs_answer(const struct waiter *w);
/* Answers a waiter with an error e (adds leader hints when known). */
void cs_answer_error(const struct waiter *w, const char *e);
void cs_add_pending(uint64_t index, uint64_t term, const struct waiter *w);
/* Runs a read command on our storage for a waiter (after the barrier); false (and the
 * waiter answered) when storage is not there. */
bool cs_storage_query(struct fwd_read *fr, uint64_t min_index);
/* Leadership lost: proposals not yet committed get an error now and are forgotten. */
void cs_fail_uncommitted(void);

/* consensus_cluster.c */
void cs_cluster_init(int raft_listen_fd);
void cs_cluster_send_messages(const struct raft_message *msgs, unsigned n);
void cs_cluster_on_state_change(void);
void cs_cluster_housekeeping(void);
/* Gateway requests that may need the leader; true when handled (forwarded or answered). */
bool cs_cluster_forward_propose(struct ipc_msg *m);
bool cs_cluster_forward_read(struct ipc_msg *m);
void cs_cluster_membership(struct ipc_msg *m);
/* op "remove" or "stepdown" on the leader, answered to w (when committed / transferred). */
void cs_membership_do(const struct waiter *w, const char *op, const char *id, bool wait);
void cs_cluster_nodes(struct ipc_msg *m);
/* Debug builds: drop all traffic with the listed peer addresses (a partition). */
void cs_cluster_fault(struct ipc_msg *m);
void cs_cluster_on_read_released(uint64_t cookie, uint64_t index, int status);
bool cs_cluster_on_query_result(struct ipc_msg *m);
void cs_cluster_start_join(void);
void cs_cluster_config_committed(uint64_t commit_index);
void cs_cluster_join_counters(uint64_t *ignored, uint64_t *removed_before);
void cs_cluster_serve_forward(uint64_t peer_handle, struct ipc_msg *m);
/* rqlite's expvar "cluster" map: requests this node served for other nodes. */
struct cs_cluster_counters {
	uint64_t join, execute, query, request, load, remove_node, stepdown, get_node_api;
};
void cs_cluster_counters(struct cs_cluster_counters *out);
bool cs_cluster_shutdown_transfer(void);
bool cs_cluster_removal_done(void);

/* consensus_freshness.c */
void cs_fresh_heard(uint64_t commit, uint64_t now_ms);
uint64_t cs_fresh_lag_ms(uint64_t applied, uint64_t now_ms);

/* consensus_hold.c */
typedef void cs_hold_dispatch_fn(struct ipc_msg *m, uint64_t peer_handle);
void cs_hold_init(cs_hold_dispatch_fn *dispatch);
bool cs_hold_maybe(struct ipc_msg *m, uint64_t peer_handle);
void cs_hold_retry(void);
uint64_t cs_hold_count(void);

/* consensus_maintenance.c */
void cs_maintenance_init(void);
void cs_maintenance_applied(const void *cmd, size_t len);
void cs_maintenance_status(struct ipc_writer *w);

/* consensus_snapshot.c */
void cs_snapshot_load(void);
void cs_snapshot_init(void);
bool cs_snapshot_meta(struct raft_snapshot_meta *meta);
bool cs_snapshot_latest(uint64_t *index, uint64_t *term);
bool cs_snapshot_restore_storage(uint64_t applied);
void cs_snapshot_on_restore_result(struct ipc_msg *m);
void cs_snapshot_on_result(struct ipc_msg *m);
void cs_snapshot_after_sync(void);
void cs_snapshot_user(struct ipc_msg *m);
void cs_snapshot_reap(struct ipc_msg *m);
void cs_snapshot_on_chunk(struct ipc_msg *m);
bool cs_snapshot_staged(uint64_t index);
void cs_snapshot_install(const struct raft_snapshot_meta *meta);
void cs_snapshot_counters(uint64_t *snapshots, uint64_t *restores, uint64_t *installs, int *count);
const char *cs_snapshot_dir(void);
struct snapshot_info;
const struct snapshot_info *cs_snapshot_current(void);
/* consensus_snapshot_send.c */
bool cs_snapshot_send(const char *to, const struct raft_message *msg, const struct ipc_writer *w);
void cs_snapshot_send_link_down(const char *addr);

/* consensus_recovery.c: raft/peers.json; 1 when a configuration was forced. */
int cs_recover_peers_json(void);

/* consensus_sync.c: the log fsync on its own thread. */
void cs_sync_init(void (*on_done)(uint64_t index, uint64_t term));
bool cs_sync_busy(void);
void cs_sync_start(uint64_t index, uint64_t term);
void cs_sync_stop(void);

/* consensus_main.c: replaces a core that has no state with one bootstrapped with cfg. */
int cs_raft_bootstrap(const struct raft_config *cfg);

#endif
