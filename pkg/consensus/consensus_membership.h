/*
 * Membership changes on the leader: joins (PEER_JOIN from a joining node), removals
 * (DELETE /remove, local or forwarded), leadership transfer (stepdown). One change is
 * in flight at a time; the others wait in one queue, in order, as rqlite's leader
 * serialises them. Each is answered when its configuration entry commits.
 */
#ifndef RQ_CONSENSUS_MEMBERSHIP_H
#define RQ_CONSENSUS_MEMBERSHIP_H

#include "consensus_base.h"

#define CS_MEMBERSHIP_QUEUE_MAX 64

struct ipc_msg;
struct config_wait;
struct membership_queued;

struct cs_membership {
	struct config_wait *config_waits;	/* changes appended, answered at commit */
	struct membership_queued *head, *tail;	/* changes waiting for the one in flight */
	unsigned queued;
	uint64_t ignored;		/* rqlite's num_ignored_joins: rejoins changing nothing */
	uint64_t removed_before;	/* num_removed_before_joins: old entries removed first */
	struct waiter stepdown;		/* a stepdown that waits for the transfer */
	uint64_t stepdown_deadline;
};

/* MEMBERSHIP from our gateway {op: remove|stepdown, id, wait}: done here when we lead,
 * else forwarded to the leader. */
void cs_membership_request(struct consensus *c, struct ipc_msg *m);
/* op "remove" or "stepdown" on the leader, answered to w (when committed/transferred). */
void cs_membership_do(struct consensus *c, const struct waiter *w, const char *op,
    const char *id, bool wait);
/* PEER_JOIN {id, addr, voter} from peer_handle. */
void cs_membership_serve_join(struct consensus *c, uint64_t peer_handle, struct ipc_msg *m);
/* The commit index moved: changes up to it are answered; queued ones go ahead. */
void cs_membership_committed(struct consensus *c, uint64_t commit_index);
/* We are no longer leader: changes not yet committed may never be; they fail now. */
void cs_membership_leadership_lost(struct consensus *c);
/* A stepdown that waited: answered when leadership moved, or failed at its deadline. */
void cs_membership_expire(struct consensus *c, uint64_t now);
/* Frees every change still waiting, unanswered (unit tests; a process just exits). */
void cs_membership_free(struct consensus *c);

#endif
