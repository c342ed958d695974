/*
 * What this node knows of the others: /nodes (a PEER_META to every member, answered
 * once all replied or the timeout passed), PEER_META served for others, and the
 * leader's HTTP address learned for ?redirect.
 */
#ifndef RQ_CONSENSUS_NODES_H
#define RQ_CONSENSUS_NODES_H

#include "consensus_base.h"
#include "raft/raft.h"

#define CS_META_TIMEOUT_MS	2000
#define CS_API_MAX		300

struct ipc_msg;
struct nodes_query;

struct cs_nodes {
	struct nodes_query *queries;
	/* the leader's HTTP API (host:port), and which leader that was for */
	char leader_api[CS_API_MAX];
	char leader_api_for[RAFT_ID_MAX];
};

/* NODES from our gateway {to: timeout ms}. */
void cs_nodes_request(struct consensus *c, struct ipc_msg *m);
/* PEER_META from peer_handle: who we are. */
void cs_nodes_serve_meta(struct consensus *c, uint64_t peer_handle, struct ipc_msg *m);
/* Role or leader changed: learn the new leader's HTTP address (pushed in STATE). */
void cs_nodes_learn_leader_api(struct consensus *c);
/* The leader's API address when known for the current leader, else NULL. */
const char *cs_nodes_leader_api(struct consensus *c);
/* Queries past their deadline are answered with what they have. */
void cs_nodes_expire(struct consensus *c, uint64_t now);

#endif
