/*
 * Snapshot copies of the database that do not stop the storage loop.
 *
 * For a database file, the read snapshot is pinned on a private read-only connection
 * in the loop (so it holds exactly the entries applied so far), then a helper thread
 * copies it page by page while the loop goes on applying entries and serving reads: in
 * WAL mode the writer never waits for that reader. The result comes back to the loop
 * through a pipe. A ":memory:" database is only reachable from the read-write
 * connection, so it is copied in the loop, as before.
 */
#ifndef RQ_STORAGE_SNAPSHOT_H
#define RQ_STORAGE_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "storage_db.h"

/* err is NULL on success; crc (NULL if not summed) and size describe the copy. Called
 * from the event loop. */
typedef void storage_snapshot_done_fn(uint64_t request_id, uint64_t index, const char *err,
    const uint32_t *crc, uint64_t size);

/*
 * Copies db as of now (the caller's applied index `index`) into path. Returns 0 when
 * the copy was started or made; done is then called exactly once (maybe before this
 * returns). -1 when a copy is already running (done is not called).
 */
int storage_snapshot_start(struct event_base *base, struct storage_db *db, const char *path,
    uint64_t index, uint64_t request_id, storage_snapshot_done_fn *done);
bool storage_snapshot_running(void);
/* Shutdown: waits for a running copy; its result is dropped. */
void storage_snapshot_wait(void);

#endif
