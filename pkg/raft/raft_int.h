/*
 * Private to pkg/raft: the struct raft every file of the core shares, and the internal
 * functions the files call on each other. Nothing outside pkg/raft includes this.
 */
#ifndef RQ_RAFT_INT_H
#define RQ_RAFT_INT_H

#include "raft/raft.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAFT_SEQ_RING	256	/* heartbeat rounds whose send time is remembered (lease) */

/* Entry data lives in reference-counted buffers so the log, outgoing messages and ready
 * batches can share it; data points at bytes[]. */
struct raft_buf {
	size_t refs;
	size_t len;
	_Alignas(16) unsigned char bytes[];
};

/* In-memory log: entries offset+1 .. offset+n. */
struct raft_log {
	struct raft_entry *e;
	uint64_t n, cap;
	uint64_t offset;
};

enum raft_progress_state { PR_PROBE, PR_REPLICATE, PR_SNAPSHOT };

/* What this node knows about each server of the configuration (leader: replication; candidate:
 * votes). Kept in the same order as r->config.servers. */
struct raft_progress {
	char id[RAFT_ID_MAX];
	uint64_t next;
	uint64_t match;
	enum raft_progress_state state;
	bool paused;			/* probe sent, waiting for an answer or the next heartbeat */
	uint64_t pending_snapshot;	/* PR_SNAPSHOT: index of the snapshot being sent */
	uint64_t snapshot_sent_at;
	uint64_t *inflight;		/* ring of last indexes of AppendEntries in flight */
	unsigned inflight_start, inflight_count;
	uint64_t last_recv;		/* now when a message of this term last came from it */
	bool recent;			/* heard from since the last check-quorum round */
	uint64_t acked_seq;		/* highest heartbeat round it answered in this term */
	uint64_t last_progress;		/* now when match last moved (stall detection) */
	bool vote_granted;
	bool vote_answered;
};

struct raft_pending_read {
	uint64_t cookie;
	uint64_t index;
	uint64_t seq;
};

struct raft_owned_batch {
	struct raft_message *msgs;
	unsigned n_msgs, cap_msgs;
	struct raft_entry *entries;
	unsigned n_entries;
	struct raft_entry *committed;
	unsigned n_committed;
	struct raft_read *reads;
	unsigned n_reads, cap_reads;
	struct raft_snapshot_meta snapshot;
	bool has_snapshot;
	char vote[RAFT_ID_MAX];		/* copies, so a batch outlives later events */
	char leader[RAFT_ID_MAX];
};

struct raft {
	char id[RAFT_ID_MAX];
	char address[RAFT_ADDR_MAX];
	struct raft_options opts;
	uint64_t rng;
	uint64_t now;
	bool started;
	uint64_t started_at;
	bool bootstrapped;		/* raft_bootstrap() ran in this incarnation */

	enum raft_state state;
	bool prevote;			/* candidate in its pre-vote phase */
	uint64_t term;
	char vote[RAFT_ID_MAX];
	char leader[RAFT_ID_MAX];
	bool hs_dirty;

	struct raft_log log;
	struct raft_snapshot_meta snap;	/* last snapshot taken or installed (index 0: none) */
	uint64_t commit;
	uint64_t persisted;		/* durable prefix of the in-memory log */
	uint64_t applied;		/* reported by raft_applied() */
	uint64_t apply_handed;		/* last index handed out in rd.committed */

	/* Ready bookkeeping. */
	uint64_t unstable_from;		/* first index not yet handed out for persistence */
	uint64_t pending_truncate;	/* 0 or the rd.truncate_from to hand out */
	bool snapshot_install;		/* r->snap must be handed out for installation */
	bool soft_dirty;
	bool need_flush;
	struct raft_owned_batch outbox;	/* messages and reads not yet handed out */
	struct raft_owned_batch handed;	/* what the last raft_ready() returned */

	/* Configuration: the latest one in the log. */
	struct raft_config config;
	uint64_t config_index;
	struct raft_progress *prs;	/* r->config.n of them */

	/* Timers. */
	uint64_t election_deadline;
	uint64_t heartbeat_deadline;
	uint64_t check_quorum_deadline;
	uint64_t last_leader_contact;	/* now of the last message from the current leader */
	bool ever_contacted;

	/* Follower. */
	uint64_t verified;		/* our log matches the current leader's up to here */
	bool ack_pending;		/* a success reply waits for persistence */
	uint64_t last_seq;		/* latest seq from the current leader */

	/* Leader. */
	uint64_t noop_index;		/* first entry of this term */
	uint64_t commit_sent;		/* commit index last broadcast */
	uint64_t seq;			/* heartbeat round */
	bool need_heartbeat;		/* a read asked for a fresh round */
	uint64_t seq_ring_seq[RAFT_SEQ_RING];
	uint64_t seq_ring_time[RAFT_SEQ_RING];
	struct raft_pending_read *reads;
	unsigned n_reads, cap_reads;
	char transfer_target[RAFT_ID_MAX];	/* "" when none */
	uint64_t transfer_deadline;
	bool transfer_sent;
	bool lease_void;		/* TimeoutNow was sent in this term */
};

/* raft.c */
void raft_set_state(struct raft *r, enum raft_state next);
uint64_t raft_random_timeout(struct raft *r);
unsigned raft_quorum(const struct raft *r);
bool raft_self_is_voter(const struct raft *r);

/* log.c */
void raft_entry_ref(const struct raft_entry *e);
void raft_entry_unref(struct raft_entry *e);
int raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src);	/* new buffer */
void raft_log_init(struct raft_log *l);
void raft_log_close(struct raft_log *l);
uint64_t raft_log_last_index(const struct raft *r);
uint64_t raft_log_last_term(const struct raft *r);
uint64_t raft_log_term_at(const struct raft *r, uint64_t index);	/* 0: unknown */
struct raft_entry *raft_log_get(const struct raft *r, uint64_t index);	/* NULL if absent */
int raft_log_append(struct raft *r, const struct raft_entry *e);	/* takes a new reference */
void raft_log_truncate(struct raft *r, uint64_t from);		/* drops from.. */
void raft_log_compact(struct raft *r, uint64_t upto);		/* drops ..upto */
void raft_log_reset(struct raft *r, uint64_t offset);		/* drops everything */

/* config.c */
struct raft_progress *raft_progress_get(struct raft *r, const char *id);
int raft_config_set(struct raft *r, const struct raft_config *c, uint64_t index);
int raft_config_recompute(struct raft *r);
bool raft_config_is_voter(const struct raft_config *c, const char *id);
int raft_config_at(const struct raft *r, uint64_t index, struct raft_config *out);
bool raft_may_campaign(const struct raft *r);

/* ready.c */
struct raft_message *raft_outbox_push(struct raft *r, enum raft_message_type type,
    const char *to);
void raft_message_release(struct raft_message *m);
void raft_batch_free(struct raft_owned_batch *b);
int raft_outbox_read(struct raft *r, uint64_t cookie, uint64_t index, int status);

/* election.c */
void raft_become_follower(struct raft *r, uint64_t term, const char *leader);
void raft_campaign(struct raft *r, bool prevote, bool transfer);
void raft_become_leader(struct raft *r);
void raft_reset_election_timer(struct raft *r);
void raft_candidate_tally(struct raft *r);

/* replication.c */
void raft_send_append(struct raft *r, struct raft_progress *pr, bool heartbeat);
void raft_maybe_send_append(struct raft *r, struct raft_progress *pr);
void raft_broadcast_append(struct raft *r);
void raft_broadcast_heartbeat(struct raft *r);
void raft_leader_maybe_commit(struct raft *r);
void raft_progress_become_probe(struct raft *r, struct raft_progress *pr);
void raft_progress_become_replicate(struct raft *r, struct raft_progress *pr);
void raft_follower_send_ack(struct raft *r);
void raft_inflight_free_to(struct raft *r, struct raft_progress *pr, uint64_t upto);
int raft_leader_append(struct raft *r, enum raft_entry_type type, const void *data, size_t len,
    uint64_t *index);

/* read.c */
void raft_reads_release(struct raft *r);
void raft_reads_fail(struct raft *r, int status);
void raft_seq_record(struct raft *r, uint64_t seq);

/* membership.c */
void raft_transfer_check(struct raft *r, struct raft_progress *pr);
void raft_transfer_abort(struct raft *r);

/* recv_*.c */
bool raft_in_lease(const struct raft *r);
void raft_follow(struct raft *r, const struct raft_message *m, uint64_t seq);
int raft_recv_request_vote(struct raft *r, const struct raft_message *m);
int raft_recv_request_vote_result(struct raft *r, const struct raft_message *m);
int raft_recv_append_entries(struct raft *r, const struct raft_message *m);
int raft_recv_append_entries_result(struct raft *r, const struct raft_message *m);
int raft_recv_install_snapshot(struct raft *r, const struct raft_message *m);
int raft_recv_timeout_now(struct raft *r, const struct raft_message *m);

#define RAFT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RAFT_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
