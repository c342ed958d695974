/*
 * freshness_strict for level=none reads on a follower (rqlite's IsStaleRead, strict
 * part): besides the leader having been heard from within `freshness`, the node must
 * not be serving data that misses entries known to be committed for longer than
 * `freshness`. rqlite compares the leader's append time of the last applied entry with
 * the local apply time; our entries carry no time, so this keeps, by local clock, when
 * each commit index was first heard from the leader, and measures how long the oldest
 * committed entry storage has not applied yet has been waiting.
 */
#include <stdint.h>

#include "consensus_freshness.h"


void
cs_fresh_heard(struct cs_fresh *fr, uint64_t commit, uint64_t now_ms)
{
	unsigned last;

	if (fr->n > 0) {
		last = (fr->head + fr->n - 1) % FRESH_SAMPLES;
		if (commit <= fr->index[last])
			return;		/* nothing new committed */
	}
	if (fr->n == FRESH_SAMPLES) {
		/* Full: the oldest goes; the next oldest then stands for it (a later time,
		 * so a lag can only look shorter by at most one sample's spacing). */
		fr->head = (fr->head + 1) % FRESH_SAMPLES;
		fr->n--;
	}
	last = (fr->head + fr->n) % FRESH_SAMPLES;
	fr->index[last] = commit;
	fr->at_ms[last] = now_ms;
	fr->n++;
}

uint64_t
cs_fresh_lag_ms(struct cs_fresh *fr, uint64_t applied, uint64_t now_ms)
{
	/* Samples storage has caught up with are forgotten. */
	while (fr->n > 0 && fr->index[fr->head] <= applied) {
		fr->head = (fr->head + 1) % FRESH_SAMPLES;
		fr->n--;
	}
	if (fr->n == 0)
		return 0;
	return now_ms > fr->at_ms[fr->head] ? now_ms - fr->at_ms[fr->head] : 0;
}
