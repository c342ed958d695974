/*
 * An orderly stop that first leaves the cluster in good order: a leader hands
 * leadership over (-raft-shutdown-stepdown; phase HANDING_OVER), or the node has itself
 * removed from the configuration (-raft-cluster-remove-shutdown; phase LEAVING). Both
 * are bounded in time; then the node stops (phase STOPPED).
 */
#ifndef RQ_CONSENSUS_SHUTDOWN_H
#define RQ_CONSENSUS_SHUTDOWN_H

#include "consensus_base.h"

struct cs_shutdown {
	bool removed;		/* the leader answered our removal request */
	uint64_t remove_index;	/* as leader: our removal's configuration entry */
	uint64_t deadline;
};

/* SHUTDOWN arrived: starts leaving or handing over when that applies (true: the stop
 * waits, see cs_shutdown_done); false: stop now. */
bool cs_shutdown_begin(struct consensus *c);
/* Whether a stop that waited may finish now. */
bool cs_shutdown_done(struct consensus *c, uint64_t now);

#endif
