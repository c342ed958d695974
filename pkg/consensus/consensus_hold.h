/*
 * Requests that arrive while leadership is being established wait here instead of
 * failing (consensus_hold.c).
 */
#ifndef RQ_CONSENSUS_HOLD_H
#define RQ_CONSENSUS_HOLD_H

#include "consensus_base.h"

struct ipc_msg;
struct held;

typedef void cs_hold_dispatch_fn(struct consensus *c, struct ipc_msg *m, uint64_t peer_handle);

struct cs_hold {
	struct held *head, *tail;
	unsigned n;
	bool replaying;		/* dispatching a held message: do not hold it again */
	cs_hold_dispatch_fn *dispatch;
	uint64_t held_total;	/* /debug/vars cluster.num_held_for_leader */
};

void cs_hold_init(struct consensus *c, cs_hold_dispatch_fn *dispatch);
/* Keeps m (from our gateway: peer_handle 0) when it would fail now only because no
 * leader is ready; true when kept. */
bool cs_hold_maybe(struct consensus *c, struct ipc_msg *m, uint64_t peer_handle);
/* After every ready batch: held requests whose leader is ready, or whose wait is
 * over, are dispatched again in arrival order. */
void cs_hold_retry(struct consensus *c);
uint64_t cs_hold_count(struct consensus *c);

#endif
