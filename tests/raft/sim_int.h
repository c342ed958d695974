/*
 * Internals of the Raft simulator shared by its parts (sim.c: clock, network, disks and
 * stepping; sim_check.c: the safety checks; sim_fault.c: crashes, restarts, partitions,
 * snapshots). Tests use sim.h only.
 */
#ifndef RQ_TESTS_RAFT_SIM_INT_H
#define RQ_TESTS_RAFT_SIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"

struct sim_msg {
	uint64_t at;
	uint64_t order;
	unsigned from, to;
	struct raft_message m;
};

struct sim_write {
	uint64_t at;
	uint64_t truncate_from;
	struct raft_entry *e;
	unsigned n;
};

struct sim_node {
	char id[12], addr[32];
	struct raft *r;
	bool up;
	/* Durable. */
	uint64_t d_term;
	char d_vote[RAFT_ID_MAX];
	struct raft_snapshot_meta d_snap;
	uint64_t *d_snap_sm;
	struct raft_entry *d_log;
	unsigned d_n, d_cap;
	/* Volatile. */
	struct sim_write *w;
	unsigned nw, capw;
	uint64_t *staged;
	uint64_t staged_index;
	uint64_t *sm;		/* sm[i-1] = hash of the entry applied at index i */
	uint64_t sm_n, sm_cap;
	uint64_t commit_seen;	/* commits already recorded */
	uint64_t lm_checked;	/* Log Matching checked up to this index ... */
	uint64_t lm_checked_term;	/* ... whose term was this */
};

struct lm_slot {
	uint64_t index, term, hash, prev_term;
	struct lm_slot *next;
};

struct sim_readrec {
	uint64_t cookie;
	uint64_t min_index;
	unsigned released, failed;
};

struct sim {
	struct sim_config cfg;
	uint64_t rng;
	uint64_t now;
	uint64_t order;
	unsigned n;
	struct sim_node nodes[SIM_MAX_NODES];
	struct sim_msg *msgs;
	unsigned n_msgs, cap_msgs;
	bool block[SIM_MAX_NODES][SIM_MAX_NODES];
	bool failed;
	char err[1024];
	uint64_t proposals;
	unsigned long delivered[8];
	/* Invariant bookkeeping. */
	int *leader_of;			/* by term: node index + 1 */
	uint64_t *elected_prefix;
	uint64_t n_terms;
	uint64_t *gc_hash;		/* by index: committed entry's hash, 0 = unknown */
	uint64_t gc_cap, gc_max;
	struct raft_config boot;	/* what the first n_voters nodes bootstrap with */
	struct lm_slot **lm;		/* hash table of (index, term) */
	uint64_t lm_buckets;
	struct sim_readrec *reads;
	unsigned n_reads, cap_reads;
};

/* sim.c */
uint64_t sim_rnd(struct sim *s);
/* Records the first invariant failure (and prints it unless quiet); later ones are
 * ignored. */
void sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* realloc that aborts on failure (size 0 allocates one byte). */
void *sim_xrealloc(void *p, size_t n);
/* An entry's identity across logs (never 0: 0 means unknown). */
uint64_t sim_entry_hash(const struct raft_entry *e);
void sim_config_copy(struct raft_config *dst, const struct raft_config *src);
/* A new core for node i, from the simulation's options and random seed. */
struct raft *sim_node_new_core(struct sim *s, unsigned i);
/* Frees what a crash loses: the core, pending writes, staged snapshot, state machine. */
void sim_node_volatile_free(struct sim_node *n);
/* The durable log: drop entries from `from` on, drop entries up to `upto`, append one. */
void sim_durable_truncate(struct sim_node *n, uint64_t from);
void sim_durable_drop_upto(struct sim_node *n, uint64_t upto);
void sim_durable_append(struct sim *s, unsigned i, const struct raft_entry *e);
/* Processes node i's ready batches until it has none. */
void sim_drain(struct sim *s, unsigned i);

/* sim_check.c */
/* Records that the entry with hash h is committed at index; two different ones is a
 * violation of State Machine Safety. */
void sim_record_committed(struct sim *s, unsigned node, uint64_t index, uint64_t h,
    const char *what);
void sim_check_invariants(struct sim *s);

#endif
