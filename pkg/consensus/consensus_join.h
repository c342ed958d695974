/*
 * Joining a cluster (the joiner's side): with -join, each round sends PEER_JOIN to
 * every listed address (but our own) until one answers yes, following a "not leader"
 * answer to the leader it names once; -join-attempts rounds, -join-interval apart.
 * With -bootstrap-expect N, fresh nodes instead ask each other (PEER_META) and, once N
 * know each other, all bootstrap the same configuration.
 */
#ifndef RQ_CONSENSUS_JOIN_H
#define RQ_CONSENSUS_JOIN_H

#include "consensus_base.h"
#include "raft/raft.h"

#define CS_BOOT_MAX 16

struct ipc_msg;

struct cs_join {
	int round;
	uint64_t started_ms;
	/* -bootstrap-expect: the other fresh nodes found so far */
	struct { char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX]; } boot_seen[CS_BOOT_MAX];
	unsigned boot_n;
};

enum cs_join_step {
	CS_JOIN_AGAIN,		/* asked; try again after -join-interval */
	CS_JOIN_DONE,		/* a member now (or stopping): no more rounds */
	CS_JOIN_GAVE_UP,	/* out of attempts (or bootstrap-expect timed out), logged */
};

/* Whether the -join list's addresses (but ours) answer HTTP: rqlite's start-up check
 * for an API port given by mistake. Blocks up to a second per address. */
bool cs_join_list_serves_http(const struct consensus_options *opts, char *bad, size_t len);
/* A node that is the only member of its own cluster cannot join another (rqlite). */
bool cs_join_refused_single(struct consensus *c);
/* One round of asking; the caller arms the next one or exits. */
enum cs_join_step cs_join_round(struct consensus *c);
/* Whether this node waits to bootstrap with others (answers PEER_META "boot"). */
bool cs_join_waiting_to_boot(struct consensus *c);

#endif
