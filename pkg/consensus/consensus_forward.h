/*
 * Requests that need the leader. On a follower: a gateway's PROPOSE, BARRIER (with
 * its read command) or MEMBERSHIP goes to the leader as PEER_FORWARD, and the answer
 * comes back to the gateway (struct fwd_out). On the leader: a PEER_FORWARD is served
 * here — a proposal through the log, a read after a barrier on our storage (struct
 * fwd_read), remove/stepdown through membership — and answered on its connection.
 * Any request this node sends to a peer (joins, meta queries) is a fwd_out too.
 */
#ifndef RQ_CONSENSUS_FORWARD_H
#define RQ_CONSENSUS_FORWARD_H

#include "consensus_base.h"
#include "raft/raft.h"

#define CS_FWD_TIMEOUT_MS	60000	/* forgotten after this; the gateway gave up long before */
#define CS_READ_COOKIE_BIT	(UINT64_C(1) << 63)	/* read index cookies of fwd_reads */

struct ipc_msg;

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

struct fwd_out;
/* Called with the peer's answer; the fwd_out is freed when it returns. */
typedef void cs_fwd_answer_fn(struct consensus *c, struct fwd_out *f, struct ipc_msg *m);

/* A request we sent to the leader (or another node), waiting for its answer. */
struct fwd_out {
	uint64_t id;		/* request id on the peer link */
	struct waiter w;	/* who gets the answer here */
	enum ipc_type op_reply;	/* PEER_*_RESULT expected */
	uint64_t started_ms;
	uint64_t timeout_ms;	/* forgotten after this (at least CS_FWD_TIMEOUT_MS) */
	cs_fwd_answer_fn *on_answer;	/* NULL: relay to w */
	void *arg;
	unsigned slot;		/* the caller's own index (the /nodes entry) */
	bool followed;		/* a join already redirected once */
	char addr[RAFT_ADDR_MAX];	/* where it went, "" if not recorded */
	struct fwd_out *next;
};

/* rqlite's expvar "cluster" map: requests this node served for other nodes. */
struct cs_cluster_counters {
	uint64_t join, execute, query, request, load, remove_node, stepdown, get_node_api;
};

struct cs_forward {
	struct fwd_out *outs;
	struct fwd_read *reads;
	uint64_t next_id;
	struct cs_cluster_counters served;
};

/* The leader's Raft address when it is another node we can reach; false otherwise. */
bool cs_leader_addr(struct consensus *c, const char **addr);

/* ---- requests to peers ---- */
/* A request to a peer (w: who gets the answer, or NULL); send it with cs_fwd_send. */
struct fwd_out *cs_fwd_new(struct consensus *c, const struct waiter *w, enum ipc_type op_reply);
/* Sends the finished frame in out (begun with f->id) to addr; on failure frees f, false. */
bool cs_fwd_send(struct consensus *c, struct fwd_out *f, const char *addr,
    const struct ipc_writer *out);
void cs_fwd_free(struct consensus *c, struct fwd_out *f);
/* A PEER_*_RESULT arrived: hands it to the request that waits for it. */
void cs_forward_on_answer(struct consensus *c, struct ipc_msg *m);
/* The link to addr went down: relayed requests sent there are answered "leader not
 * reachable" now (a write may still have committed; it was not acknowledged). */
void cs_forward_link_down(struct consensus *c, const char *addr);

/* ---- follower side ---- */
/* The gateway's PROPOSE / BARRIER m, sent to the leader; false when it could not be. */
bool cs_forward_propose(struct consensus *c, struct ipc_msg *m);
bool cs_forward_read(struct consensus *c, struct ipc_msg *m);

/* ---- leader side ---- */
/* A PEER_FORWARD from peer_handle: counted, held while our leadership settles, served. */
void cs_forward_serve(struct consensus *c, uint64_t peer_handle, struct ipc_msg *m);
/* Serves it now (also what a held PEER_FORWARD runs when released). */
void cs_forward_serve_now(struct consensus *c, uint64_t peer_handle, struct ipc_msg *m);
/* The read index of a fwd_read (cookie) is known: its QUERY goes to storage. */
void cs_forward_read_released(struct consensus *c, uint64_t cookie, uint64_t index, int status);
/* storage's QUERY_RESULT for a fwd_read; false when it is not one. */
bool cs_forward_on_query_result(struct consensus *c, struct ipc_msg *m);

/* Requests that never got an answer are dropped, reads answered "timeout". */
void cs_forward_expire(struct consensus *c, uint64_t now);
/* The gateway's link was replaced: nobody waits for relayed answers any more. */
void cs_forward_forget_gateway(struct consensus *c);
/* Frees every request still waiting, unanswered (unit tests; a process just exits). */
void cs_forward_free(struct consensus *c);

#endif
