/* freshness_strict: how long committed entries have waited to be applied here. */
#ifndef RQ_CONSENSUS_FRESHNESS_H
#define RQ_CONSENSUS_FRESHNESS_H

#include <stdint.h>

#define FRESH_SAMPLES	64

struct cs_fresh {
	uint64_t index[FRESH_SAMPLES];
	uint64_t at_ms[FRESH_SAMPLES];
	unsigned head, n;	/* oldest at head */
};

/* The leader said commit index commit at now_ms. */
void cs_fresh_heard(struct cs_fresh *fr, uint64_t commit, uint64_t now_ms);
/* How long the oldest committed entry not yet applied (after applied) has waited. */
uint64_t cs_fresh_lag_ms(struct cs_fresh *fr, uint64_t applied, uint64_t now_ms);

#endif
