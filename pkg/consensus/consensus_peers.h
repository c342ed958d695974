/*
 * The peer transport as the rest of consensus sees it: the links to other nodes
 * (peer_transport), Raft messages out and in, which peer frame goes to which part,
 * the addresses peers told us in their handshakes, reaping silent nodes, and the
 * debug builds' partitions.
 */
#ifndef RQ_CONSENSUS_PEERS_H
#define RQ_CONSENSUS_PEERS_H

#include "consensus_base.h"
#include "raft/raft.h"

#define CS_ADDR_CACHE 64

struct ipc_msg;
struct peer_transport;

struct cs_peers {
	struct peer_transport *pt;	/* NULL until the Raft listener arrives */
	bool keyed;			/* -cluster-key: links authenticated and sealed */
	/* Addresses of peers learned from their handshakes: a node that is not yet in
	 * any configuration (just joining) must still answer the leader that calls it. */
	struct {
		char id[RAFT_ID_MAX];
		char addr[RAFT_ADDR_MAX];
		uint64_t seen_ms;	/* last frame from it, for reaping */
	} addrs[CS_ADDR_CACHE];
	unsigned addrs_next;
	bool was_leader;
	uint64_t reap_epoch_ms;		/* when this node last became leader */
};

/* The Raft listener arrived: the transport starts (loads -cluster-key). */
void cs_peers_init(struct consensus *c, int raft_listen_fd);
/* Sends a ready batch's messages (an InstallSnapshot after its data). */
void cs_peers_send_messages(struct consensus *c, const struct raft_message *msgs, unsigned n);
/* Role changed: the reaping clock restarts when we become leader. */
void cs_peers_on_state_change(struct consensus *c);
/* -raft-reap-*-timeout: the leader removes one node silent for that long. */
void cs_peers_reap(struct consensus *c, uint64_t now);
/* FAULT {block, unblock} (debug builds): cut or heal links to those addresses. */
void cs_peers_fault(struct consensus *c, struct ipc_msg *m);

#endif
