/*
 * A deterministic simulator for the Raft core: an in-memory cluster of cores, a virtual clock,
 * a network that delays, drops, duplicates, reorders and partitions messages, disks whose
 * writes complete later (and are lost by a crash), and crash/restart that keeps only what was
 * durable. sim_step() fires the earliest event (a delivery, a finished write, a timer) and then
 * checks Raft's safety properties:
 *
 *   Election Safety       at most one leader per term;
 *   Log Matching          same index and term in two logs ⇒ identical prefixes;
 *   Leader Completeness   a leader's log holds every entry committed before its election;
 *   State Machine Safety  no two nodes apply different entries at one index;
 *   plus: a linearizable read never releases an index below what was committed when it was
 *   asked, and no two leaders hold a valid lease at once while a newer one leads.
 *
 * Everything is a function of the seed, so a failure is reproduced by rerunning its seed.
 */
#ifndef RQ_TESTS_RAFT_SIM_H
#define RQ_TESTS_RAFT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define SIM_MAX_NODES 9

struct sim;

struct sim_config {
	unsigned n_nodes;		/* nodes created (ids "1".."n") */
	unsigned n_voters;		/* the first n_voters bootstrap as voters; others start empty */
	unsigned election_timeout_ms;	/* default 100 */
	unsigned heartbeat_ms;		/* default election/10 */
	unsigned max_inflight;		/* default 8 */
	unsigned net_min_ms, net_max_ms;/* delivery delay range; default 1..5 */
	unsigned drop_pct, dup_pct;	/* default 0 */
	unsigned disk_min_ms, disk_max_ms;	/* write latency; default 0..2 */
	bool disable_prevote;
	bool quiet;			/* do not print the failure */
};

struct sim *sim_new(uint64_t seed, const struct sim_config *cfg);
void sim_free(struct sim *s);

/* The cores can be reached directly for assertions; NULL while crashed. */
struct raft *sim_raft(struct sim *s, unsigned i);
unsigned sim_n(const struct sim *s);
uint64_t sim_now(const struct sim *s);

/* Fires the earliest event (never beyond `until`), then checks the invariants.
 * Returns false once an invariant failed (see sim_error). */
bool sim_step(struct sim *s, uint64_t until);
bool sim_run_until(struct sim *s, uint64_t t);
bool sim_run_for(struct sim *s, uint64_t ms);
/* Runs until pred(s, arg) holds or `ms` pass; returns pred's final value (and false on a
 * failed invariant). */
bool sim_run_until_pred(struct sim *s, uint64_t ms, bool (*pred)(struct sim *, void *), void *arg);
bool sim_ok(const struct sim *s);
const char *sim_error(const struct sim *s);

/* Index of the up leader with the highest term, or -1. */
int sim_leader(struct sim *s);
/* Proposes a unique command on node i (any state); returns raft_propose()'s code. */
int sim_propose(struct sim *s, unsigned i, uint64_t *index);
/* Asks node i for a linearizable read; releases are checked against the commit index known
 * anywhere at this moment. */
int sim_read(struct sim *s, unsigned i, uint64_t cookie);
/* How many reads with this cookie were released with status 0 / with an error. */
unsigned sim_reads_released(const struct sim *s, uint64_t cookie);
unsigned sim_reads_failed(const struct sim *s, uint64_t cookie);
/* Highest index applied by node i's state machine (0 while down). */
uint64_t sim_applied(const struct sim *s, unsigned i);
/* Highest commit index any node has reached. */
uint64_t sim_max_commit(const struct sim *s);

void sim_crash(struct sim *s, unsigned i);
void sim_restart(struct sim *s, unsigned i);
bool sim_up(const struct sim *s, unsigned i);
/* Blocks messages from → to (one way). */
void sim_block(struct sim *s, unsigned from, unsigned to, bool blocked);
void sim_isolate(struct sim *s, unsigned i);
/* Nodes with bit i set in mask end up on one side, the rest on the other. */
void sim_partition(struct sim *s, unsigned mask);
void sim_heal(struct sim *s);
void sim_set_drop(struct sim *s, unsigned drop_pct, unsigned dup_pct);
/* Takes a snapshot on node i at its applied index, keeping `trailing` entries. */
int sim_snapshot(struct sim *s, unsigned i, uint64_t trailing);
/* Counts messages of a type delivered so far. */
unsigned long sim_delivered(const struct sim *s, enum raft_message_type t);

/* One line of statistics (commits, highest term, messages by type) for verbose runs. */
void sim_describe(const struct sim *s, char *buf, size_t len);

/* Prints every node's state to stderr (debugging a failed seed). */
void sim_dump(const struct sim *s);

#endif
