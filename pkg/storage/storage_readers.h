/*
 * storage_readers: reads served on a pool of threads, each with its own read-only
 * connection (a storage_db reader slot), so that a long read holds up neither the
 * entries being applied nor other reads. WAL lets readers and the one writer run at
 * once; each read sees the database as last committed when it starts, which is at
 * least what was committed when it was submitted.
 *
 * The apply loop submits a read and later gets its packed result map back through
 * the done callback, on the loop's own thread (an eventfd wakes it). Not for an
 * in-memory database: its shared cache makes readers and the writer lock each other
 * out with SQLITE_LOCKED instead of reading older pages.
 */
#ifndef RQ_STORAGE_READERS_H
#define RQ_STORAGE_READERS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "storage_db.h"

struct storage_read_done {
	int from;		/* as submitted: who asked */
	uint64_t link_gen;	/* as submitted: which link of theirs */
	uint64_t request_id;
	uint64_t applied;	/* applied index when submitted ("ai") */
	const char *res;	/* the packed result map; valid during the callback */
	size_t res_len;
};

typedef void storage_read_done_cb(const struct storage_read_done *d, void *arg);

struct storage_readers;

/*
 * Starts nthreads threads using reader slots 0…nthreads-1 of db. Returns NULL (with
 * errno) if nothing could be started.
 */
struct storage_readers *storage_readers_new(struct event_base *base, struct storage_db *db,
    int nthreads, storage_read_done_cb *done, void *arg);

/* Queues a read; cmd is copied. */
void storage_readers_submit(struct storage_readers *rs, int from, uint64_t link_gen,
    uint64_t request_id, uint64_t applied, const char *cmd, size_t len);

/* Reads queued or running. */
unsigned storage_readers_pending(const struct storage_readers *rs);

/*
 * Interrupts the reads running, stops the threads and frees everything; results not
 * yet delivered are dropped.
 */
void storage_readers_free(struct storage_readers *rs);

#endif
