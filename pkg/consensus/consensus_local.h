/*
 * The gateway side: what the local gateway asks (PROPOSE, BARRIER, CONS_STATUS, and
 * the requests other parts serve), and what it is told (STATE: role, term, leader,
 * commit index and the leader lease, so it serves weak reads alone while that holds).
 */
#ifndef RQ_CONSENSUS_LOCAL_H
#define RQ_CONSENSUS_LOCAL_H

#include "consensus_base.h"
#include "raft/raft.h"

struct ipc_msg;

/* What the gateway was last told (STATE). */
struct cs_local {
	uint64_t lease_pushed_ms;	/* CLOCK_MONOTONIC ms the gateway may serve weak reads until */
	uint64_t ci_pushed;		/* commit index it was told */
	uint64_t state_pushed_ms;
	char said[RAFT_ID_MAX + 64];	/* the last "raft state" log line */
};

/* A message from our gateway. */
void cs_local_dispatch_gateway(struct consensus *c, struct ipc_msg *m);
/* A PROPOSE, BARRIER or PEER_FORWARD held while leadership settled, run again. */
void cs_local_redispatch(struct consensus *c, struct ipc_msg *m, uint64_t peer_handle);
/* Pushes STATE to the gateway. */
void cs_local_send_state(struct consensus *c);
/* Keeps the gateway's copy of the lease no longer than the core's (see the .c). */
void cs_local_push_lease(struct consensus *c);
/* Logs a "raft state …" line when role, term or leader changed. */
void cs_local_log_state(struct consensus *c, const char *leader_id);
/* CONS_STATUS → CONS_STATUS_RESULT (consensus_status.c). */
void cs_status_answer(struct consensus *c, struct ipc_msg *m);

#endif
