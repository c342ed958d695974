/*
 * What every part of the consensus process shares, below the parts themselves: the
 * I/O table, who waits for an answer, and the node's phase. The context itself
 * (struct consensus) is in consensus_internal.h, which includes each part's header.
 *
 * Every function takes the context; none reads a global. I/O that leaves the process
 * goes through c->io, so a unit test can run forwarding, membership and joining
 * against a real Raft core and a fake of this table (tests/unit/test_consensus_*.c).
 */
#ifndef RQ_CONSENSUS_BASE_H
#define RQ_CONSENSUS_BASE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/proc.h"
#include "ipc_codec.h"
#include "ipc_errcode.h"

struct consensus;

/* The process's outside world (consensus_main.c; a fake in unit tests). */
struct cs_io {
	uint64_t (*now_ms)(struct consensus *c);	/* CLOCK_MONOTONIC */
	/* Sends the finished frame in out to a sibling role; false when its link is down. */
	bool (*send_role)(struct consensus *c, enum proc_id to, const struct ipc_writer *out);
	/* Sends on our outbound link to a peer's Raft address: PEER_OK or a PEER_ERR_*. */
	int (*send_peer)(struct consensus *c, const char *addr, const struct ipc_writer *out);
	/* Answers on the peer connection a request arrived on (its handle). */
	int (*reply_peer)(struct consensus *c, uint64_t handle, const struct ipc_writer *out);
	/* The core has work: run a ready batch at the end of this loop pass. */
	void (*schedule_ready)(struct consensus *c);
};

/* ---- who waits for an answer (consensus_waiter.c) ---------------------------------- */

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

/* Sends the finished frame in out to whoever w names (nothing for WAITER_NONE). */
void cs_answer(struct consensus *c, const struct waiter *w, const struct ipc_writer *out);
/* Answers w with an error: code, and text (the code's own text when NULL), plus the
 * leader's id and address when one is known (for redirects). */
void cs_answer_error(struct consensus *c, const struct waiter *w, enum ipc_errcode code,
    const char *text);
/* Answers w with the error of a Raft core call (RAFT_ENOTLEADER → not leader). */
void cs_answer_raft_error(struct consensus *c, const struct waiter *w, int rc);
/* Answers w with an empty success frame that names this node ("lr"). */
void cs_answer_done(struct consensus *c, const struct waiter *w);

/* ---- the node's phase (consensus_phase.c) ------------------------------------------- */

/*
 * JOINING   started with -join (or -bootstrap-expect): asking the listed nodes
 * RUNNING   a member (or a node with no join list)
 * HANDING_OVER  stopping: the leader transfers leadership first (-raft-shutdown-stepdown)
 * LEAVING   stopping: waiting to be removed (-raft-cluster-remove-shutdown)
 * STOPPED   stopping: the log is closed, the process exits
 */
#define CS_PHASES(X) X(JOINING) X(RUNNING) X(HANDING_OVER) X(LEAVING) X(STOPPED)

enum cs_phase {
#define CS_PHASE_ENUM_(n) CS_PHASE_##n,
	CS_PHASES(CS_PHASE_ENUM_)
#undef CS_PHASE_ENUM_
	CS_PHASE_MAX
};

const char *cs_phase_name(enum cs_phase p);
/* Whether from → to is a legal move (the table in consensus_phase.c). */
bool cs_phase_move_ok(enum cs_phase from, enum cs_phase to);
/* Moves the node to phase to, logging it; an illegal move is a bug (fatalx). */
void cs_set_phase(struct consensus *c, enum cs_phase to);
/* HANDING_OVER, LEAVING or STOPPED. */
bool cs_stopping(const struct consensus *c);

#endif
