/*
 * storage_random: random() and randomblob() on the read-write connection, drawn from
 * a generator seeded from the entry being applied (its index and term), so every node
 * and every replay gets the same values. The gateway still turns RANDOM() and small
 * RANDOMBLOB(N) into literals as rqlite does; this covers what it cannot see or is
 * told not to touch: random() in a trigger, a DEFAULT or a view, RANDOMBLOB larger
 * than the gateway writes out, and requests with ?norwrandom. Reads keep SQLite's own
 * functions.
 */
#ifndef RQ_STORAGE_RANDOM_H
#define RQ_STORAGE_RANDOM_H

#include <stdint.h>

#include <sqlite3.h>

struct storage_random {
	uint64_t state;
};

/* Registers random() and randomblob(N) on db, drawing from r (which must outlive db). */
int storage_random_install(sqlite3 *db, struct storage_random *r);

/* Starts the sequence of the entry (index, term); the same on every node. */
void storage_random_seed(struct storage_random *r, uint64_t index, uint64_t term);

#endif
