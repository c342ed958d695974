/*
 * The storage side: committed entries go to storage in order, exactly once per
 * storage incarnation, and proposals wait here until storage has applied their entry.
 */
#ifndef RQ_CONSENSUS_APPLY_H
#define RQ_CONSENSUS_APPLY_H

#include "consensus_base.h"

struct ipc_msg;
struct raft_entry;

/* A proposal waiting for its entry to be applied. */
struct pending {
	uint64_t index, term;
	uint64_t started_ms;
	bool direct;		/* storage answers the gateway itself (see consensus_apply.c) */
	struct waiter w;
	struct pending *next;
};

struct cs_apply {
	struct pending *head, *tail;	/* in index order */
	uint64_t sent;		/* highest index handed to this storage */
	uint64_t applied;	/* highest index storage says it has applied */
	bool storage_known;	/* its STORAGE_HELLO said where it is */
};

void cs_apply_add_pending(struct consensus *c, uint64_t index, uint64_t term,
    const struct waiter *w);
/* Leadership lost: proposals not yet committed fail now and are forgotten. */
void cs_apply_fail_uncommitted(struct consensus *c);
/* Hands storage the newly committed entries, or reads them from the log when they
 * are no longer in the ready batch (storage restarted, or linked late). */
void cs_apply_pump(struct consensus *c, const struct raft_entry *committed, unsigned n);
/* Tells the core what storage applied before this process (re)started. */
void cs_apply_sync_applied(struct consensus *c);
/* A message from storage (STORAGE_HELLO, APPLY_RESULT, SNAPSHOT_RESULT, …). */
void cs_apply_dispatch_storage(struct consensus *c, struct ipc_msg *m);
/* -raft-apply-timeout: proposals not applied in time answer "timeout". */
void cs_apply_expire(struct consensus *c, uint64_t now);
/* The gateway's link was replaced: nobody waits for those answers any more. */
void cs_apply_forget_gateway(struct consensus *c);
/* Frees every proposal still waiting, unanswered (unit tests; a process just exits). */
void cs_apply_free(struct consensus *c);

#endif
