/*
 * Loading a SQLite file too large for one log entry: the gateway proposes it as a
 * sequence of LOAD_CHUNK entries ({k:7, id, seq, off, sz, crc, last, d}), and every
 * node's storage stages the chunks in a file beside the database, then loads the whole
 * file when the last chunk is applied.
 *
 * Every node must reach the same decision from the same log, so:
 * - a snapshot is refused while a sequence is open (storage_load_chunks_busy), hence
 *   no snapshot, and no restore from one, ever starts in the middle of a sequence;
 * - a sequence is abandoned when a new one starts, or when LOAD_CHUNK_GAP entries pass
 *   without its next chunk (a leader that died mid-load), counted in log indexes, not
 *   time;
 * - a clean shutdown mid-sequence does not vouch for the database file, so the next
 *   start rebuilds from the snapshot and replays the sequence from its first chunk.
 */
#ifndef RQ_STORAGE_LOAD_CHUNKS_H
#define RQ_STORAGE_LOAD_CHUNKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ipc_cmd.h"
#include "storage_db.h"

#define LOAD_CHUNK_GAP		10000u	/* entries without a next chunk before giving up */

/*
 * Applies the chunk entry at log index `index`; packs one result map: {"r":[]} for a
 * chunk taken (and for the last one, the file loaded), or {"r":[],"e":why}.
 */
void storage_apply_load_chunk(struct storage_db *db, const char *data_dir, uint64_t index,
    const char *cmd, size_t len, msgpack_packer *pk);
/* Called for every applied entry before it runs: abandons a stalled sequence. */
void storage_load_chunks_tick(uint64_t index);
/* A sequence is open: no snapshot, no clean-shutdown record. */
bool storage_load_chunks_busy(void);
/* The database was replaced from a snapshot: any open sequence is gone. */
void storage_load_chunks_reset(void);

#endif
