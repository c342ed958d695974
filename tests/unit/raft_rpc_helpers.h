/*
 * Helpers for the unit tests that drive one Raft core with hand-made messages and read
 * the ready batches it returns (test_raft_election.c, test_raft_replication.c).
 */
#ifndef RQ_TEST_RAFT_RPC_HELPERS_H
#define RQ_TEST_RAFT_RPC_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"

#define ET 100	/* election timeout used throughout */

/* What the ready batches of one step held. */
struct out {
	unsigned n;
	struct raft_message m[32];	/* entries pointers are not valid, see first/n_entries */
	uint64_t first_index[32];
	bool hard_state_changed;
	uint64_t term;
	char vote[RAFT_ID_MAX];
	uint64_t truncate_from;
	unsigned n_entries;
	uint64_t last_entry_index;
	unsigned n_committed;
	bool snapshot;
	uint64_t snapshot_index;
};

/* Drains every ready batch into *o (cleared first). */
void collect(struct raft *r, struct out *o);
/* The first message of type t (to `to`, or anyone when NULL), or NULL; how many. */
const struct raft_message *find(const struct out *o, enum raft_message_type t, const char *to);
unsigned count(const struct out *o, enum raft_message_type t, const char *to);
/* Node `id` of the voters {1,2,3}, bootstrapped and started at time 0. */
struct raft *node(const char *id, bool prevote);
/* Node 1 restarted with log 1@1 (configuration {1,2,3}), then the given terms from index 2. */
struct raft *loaded(const uint64_t *terms, unsigned n, uint64_t term);
/* Makes node 1 leader of term 2 (no pre-vote) with votes from 2; returns the time. */
uint64_t elect(struct raft *r, struct out *o);

/* Hand-made messages, received by r at time now; raft_recv's result. */
struct raft_message msg(enum raft_message_type t, const char *from, const char *to,
    uint64_t term);
int vote_req(struct raft *r, uint64_t now, const char *from, uint64_t term, uint64_t li,
    uint64_t lt, bool prevote, bool transfer);
int vote_res(struct raft *r, uint64_t now, const char *from, uint64_t term, bool granted,
    bool prevote);
/* AppendEntries of n entries with the given terms after (prev, prev_term). */
int append(struct raft *r, uint64_t now, const char *from, uint64_t term, uint64_t prev,
    uint64_t prev_term, uint64_t commit, const uint64_t *terms, unsigned n);
int append_res(struct raft *r, uint64_t now, const char *from, uint64_t term, bool ok,
    uint64_t index, uint64_t last, uint64_t cterm, uint64_t cindex, uint64_t seq);

#endif
