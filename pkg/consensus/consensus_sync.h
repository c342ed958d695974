/* The log's fsync at the end of a ready batch (consensus_sync.c). */
#ifndef RQ_CONSENSUS_SYNC_H
#define RQ_CONSENSUS_SYNC_H

#include "consensus_base.h"

struct event;

struct cs_sync {
	bool busy;		/* a sync was made and its completion not yet delivered */
	int result;
	uint64_t index, term;	/* what the sync made durable */
	struct event *done_ev;
};

void cs_sync_init(struct consensus *c);
bool cs_sync_busy(struct consensus *c);
/* Flushes every link, then syncs the log; completion (cs_ready_synced) comes from the
 * loop once the ready batch has unwound. */
void cs_sync_start(struct consensus *c, uint64_t index, uint64_t term);
/* Shutdown: a sync made but not yet reported is reported now. */
void cs_sync_stop(struct consensus *c);

#endif
