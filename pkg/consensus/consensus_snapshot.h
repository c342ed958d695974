/*
 * Snapshots: taking them (storage copies the database) and compacting the log,
 * restoring storage from one, receiving one from the leader (consensus_snapshot.c), and
 * sending one to a follower (consensus_snapshot_send.c).
 */
#ifndef RQ_CONSENSUS_SNAPSHOT_H
#define RQ_CONSENSUS_SNAPSHOT_H

#include <limits.h>

#include "consensus_base.h"
#include "raft/raft.h"
#include "raftlog/snapshot_store.h"

#define SNAP_SENDS_MAX		4		/* concurrent transfers to followers */

struct event;
struct ipc_msg;

/* One transfer to a follower (consensus_snapshot_send.c). */
struct snap_send {
	bool active;
	char to[RAFT_ADDR_MAX];
	int fd;
	uint64_t index, term, size, crc, off;
	void *cfg;
	size_t cfg_len;
	struct ipc_writer msg;		/* the InstallSnapshot frame to send after the data */
	bool msg_init;
	uint64_t started_ms;
	uint64_t wire;			/* bytes of chunk data sent (compressed or not) */
	/* after completion: repeats of the message alone are enough for a while */
	uint64_t done_index, done_ms;
};

struct cs_snapshot {
	char root[PATH_MAX];
	struct snapshot_info latest;
	bool have_latest;
	struct event *timer;
	/* taking */
	bool in_progress;
	uint64_t index;
	uint64_t trailing;
	char tmp_dir[PATH_MAX];
	struct waiter user;		/* POST /snapshot waiting for it */
	/* log work that waits for the sync */
	bool compact_pending;
	uint64_t compact_index, compact_term, compact_trailing;
	/* receiving (follower) */
	int recv_fd;
	uint64_t recv_index, recv_term, recv_off, recv_size;
	uint32_t recv_crc;		/* the leader's sum of the whole file */
	uint32_t recv_sum;		/* ours, of the chunks as written */
	char recv_tmp[PATH_MAX];
	void *recv_cfg;
	size_t recv_cfg_len;
	uint64_t staged_index;
	/* sending (leader) */
	struct snap_send sends[SNAP_SENDS_MAX];
	struct event *pump;
	/* counters */
	uint64_t num_snapshots, num_restores, num_installs;
};

/* At start: the store's newest snapshot (before the core is loaded). */
void cs_snapshot_load(struct consensus *c);
/* The snapshot timer (-raft-snap-int). */
void cs_snapshot_init(struct consensus *c);
/* Fills meta from the latest snapshot (config decoded); false if there is none. */
bool cs_snapshot_meta(struct consensus *c, struct raft_snapshot_meta *meta);
/* Storage has applied `applied`: restore it from the snapshot if it is behind it. True
 * when a RESTORE was sent (c->apply.sent then is the snapshot's index). */
bool cs_snapshot_restore_storage(struct consensus *c, uint64_t applied);
void cs_snapshot_on_restore_result(struct consensus *c, struct ipc_msg *m);
void cs_snapshot_on_result(struct consensus *c, struct ipc_msg *m);
/* The log is free again: compaction that waited runs now. */
void cs_snapshot_after_sync(struct consensus *c);
/* POST /snapshot (SNAPSHOT_NOW), POST /reap (REAP). */
void cs_snapshot_user(struct consensus *c, struct ipc_msg *m);
void cs_snapshot_reap(struct consensus *c, struct ipc_msg *m);
/* PEER_SNAPSHOT: a chunk of a snapshot the leader sends. */
void cs_snapshot_on_chunk(struct consensus *c, struct ipc_msg *m);
/* An InstallSnapshot may reach the core only once its data is staged here. */
bool cs_snapshot_staged(struct consensus *c, uint64_t index);
/* Ready batch step 1 on a follower: make the received snapshot current. */
void cs_snapshot_install(struct consensus *c, const struct raft_snapshot_meta *meta);
void cs_snapshot_counters(struct consensus *c, uint64_t *snapshots, uint64_t *restores,
    uint64_t *installs, int *count);
const char *cs_snapshot_dir(struct consensus *c);
/* The newest published snapshot, or NULL; valid until the next snapshot or install. */
const struct snapshot_info *cs_snapshot_current(struct consensus *c);

/* consensus_snapshot_send.c: sends the data, then the InstallSnapshot frame in w, to
 * `to`; false when nothing can be sent (the core retries). */
bool cs_snapshot_send(struct consensus *c, const char *to, const struct raft_message *msg,
    const struct ipc_writer *w);
/* The outbound link to addr went down: transfers to it stop. */
void cs_snapshot_send_link_down(struct consensus *c, const char *addr);

#endif
