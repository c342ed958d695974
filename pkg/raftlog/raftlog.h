/*
 * The durable Raft log of one node: a directory holding
 *
 *   00000000000000000001.seg …  log segments, each named by the index of its first entry
 *                               (20 decimal digits), preallocated to the segment size
 *                               and filled with zeros a step (1 MiB) ahead of the appends
 *   vote                        current term and vote (replaced atomically)
 *   snapshot                    index and term of the latest snapshot (replaced atomically)
 *   LOCK                        flock()ed while the log is open
 *
 * Each entry on disk is a 32-byte header (CRC32C, length, index, term, type) followed by
 * its data. Recovery on open verifies every entry and cuts the log at the first entry that
 * is torn, corrupt, out of sequence or whose term goes backwards.
 *
 * Index bookkeeping. The log holds entries [first_index, last_index]. A snapshot recorded
 * with raftlog_set_snapshot() covers every index <= snapshot index S; the log always
 * satisfies first_index <= S + 1 (or is empty), so entries S+1 … last are always present.
 * When the log holds no entries, raftlog_first_index() is 0 and raftlog_last_index() is S
 * (0 without a snapshot); the next append must then be S + 1.
 *
 * Threads. A struct raftlog is not locked internally. Every function must be called by one
 * thread at a time; the single exception the design needs is that raftlog_sync() may run on
 * a second thread while the owning thread makes no raftlog call at all until the sync
 * returns (hand the log over and back with a mutex/condvar, which also orders memory).
 *
 * Errors. Functions return 0 or a negative RAFTLOG_ERR_* code; raftlog_strerror() names it.
 * On RAFTLOG_ERR_IO, errno holds the cause and a line was logged with log_warn(). After a
 * failed write, fdatasync or truncate the on-disk state is unknown (a failed fsync cannot be
 * retried safely), so the log turns RAFTLOG_ERR_FAILED for every later change: close it and
 * reopen (recovery), or exit.
 */
#ifndef RQ_RAFTLOG_H
#define RQ_RAFTLOG_H

#include <stddef.h>
#include <stdint.h>

enum raftlog_err {
	RAFTLOG_OK = 0,
	RAFTLOG_ERR_IO = -1,		/* a system call failed; see errno */
	RAFTLOG_ERR_NOMEM = -2,
	RAFTLOG_ERR_INVAL = -3,		/* bad argument (term going backwards, oversize entry, …) */
	RAFTLOG_ERR_NOT_CONTIGUOUS = -4,/* append does not start at last_index + 1 */
	RAFTLOG_ERR_COMPACTED = -5,	/* index below the first entry (and not the snapshot's) */
	RAFTLOG_ERR_UNAVAILABLE = -6,	/* index beyond the last entry */
	RAFTLOG_ERR_CORRUPT = -7,	/* checksum mismatch reading back, bad vote/snapshot file */
	RAFTLOG_ERR_LOCKED = -8,	/* another process holds the log directory */
	RAFTLOG_ERR_FAILED = -9,	/* an earlier write/sync failed; close and reopen */
	RAFTLOG_ERR_RANGE = -10		/* request would drop entries covered by no snapshot, or
					   the value does not fit the caller's buffer */
};

/* What raftlog_open() accepts. Zero fields (or a NULL pointer) mean the default. */
struct raftlog_options {
	uint64_t segment_size;		/* bytes per segment file; default 64 MiB, minimum 4 KiB */
	size_t write_buffer_size;	/* appends are gathered up to this much per write(2); 1 MiB */
	int no_preallocate;		/* 1: don't fallocate or zero segments ahead (tests, odd filesystems) */
};

#define RAFTLOG_DEFAULT_SEGMENT_SIZE	(64ull * 1024 * 1024)
#define RAFTLOG_DEFAULT_BUFFER_SIZE	(1024u * 1024)
#define RAFTLOG_MAX_ENTRY_SIZE		(1024u * 1024 * 1024)	/* data bytes per entry */
#define RAFTLOG_MAX_VOTED_FOR		1024			/* bytes, excluding the NUL */

/*
 * One log entry. For raftlog_append() the caller owns data and may reuse it on return (it is
 * copied). In a raftlog_read() callback, data points into the log's scratch buffer and is valid
 * only until the callback returns. type is opaque to this module.
 */
struct raftlog_entry {
	uint64_t index;
	uint64_t term;
	uint8_t type;
	const void *data;
	size_t len;
};

struct raftlog;

/*
 * Creates dir if missing, locks it, loads vote and snapshot records and recovers the
 * segments (cutting a torn or corrupt tail, logged with log_warnx). On success *out is a new
 * log the caller frees with raftlog_close().
 */
int raftlog_open(const char *dir, const struct raftlog_options *opts, struct raftlog **out);

/* Writes out buffered appends (without fsync), closes every file and frees the log. NULL ok. */
void raftlog_close(struct raftlog *log);

uint64_t raftlog_first_index(const struct raftlog *log);	/* 0 when no entries */
uint64_t raftlog_last_index(const struct raftlog *log);	/* snapshot index when no entries */

/* The latest snapshot recorded with raftlog_set_snapshot(); both 0 when none. */
void raftlog_snapshot(const struct raftlog *log, uint64_t *index, uint64_t *term);

/*
 * Term of the entry at index, from memory (no I/O). Index 0 has term 0; the snapshot index
 * has the snapshot's term. Otherwise RAFTLOG_ERR_COMPACTED or RAFTLOG_ERR_UNAVAILABLE.
 */
int raftlog_term_at(struct raftlog *log, uint64_t index, uint64_t *term);

/*
 * Appends n entries; entries[0].index must be raftlog_last_index() + 1, indexes must be
 * contiguous and terms must not decrease (RAFTLOG_ERR_NOT_CONTIGUOUS / RAFTLOG_ERR_INVAL, in
 * which case nothing was appended). Data is copied into a memory buffer written out in large
 * write(2)s; nothing is durable until raftlog_sync() returns. Entries are visible to
 * raftlog_term_at() and raftlog_read() immediately.
 */
int raftlog_append(struct raftlog *log, const struct raftlog_entry *entries, size_t n);

/*
 * Makes everything appended so far durable: writes the buffer, fdatasyncs every segment
 * written since the last sync and fsyncs the directory if segments were created. See the
 * thread rule at the top.
 */
int raftlog_sync(struct raftlog *log);

/*
 * Drops entries >= from_index (a Raft conflict); durable when it returns (entries before
 * from_index that were not yet synced are synced too). from_index > last_index is a no-op.
 * from_index <= snapshot index is RAFTLOG_ERR_RANGE (those entries are committed).
 */
int raftlog_truncate_suffix(struct raftlog *log, uint64_t from_index);

/*
 * Compaction: removes whole segments whose entries are all < before_index (the segment that
 * holds before_index, and the newest segment, stay). before_index must be <= snapshot index
 * + 1, else RAFTLOG_ERR_RANGE. Entries below before_index may therefore still be readable.
 */
int raftlog_truncate_prefix(struct raftlog *log, uint64_t before_index);

/*
 * Calls cb for each entry in [from, to], in order (from <= to, both within
 * [first_index, last_index], else RAFTLOG_ERR_COMPACTED / RAFTLOG_ERR_UNAVAILABLE /
 * RAFTLOG_ERR_INVAL). Each entry's CRC is checked again (RAFTLOG_ERR_CORRUPT). If cb returns
 * non-zero the read stops and that value is returned; return a positive value (e.g. "batch
 * full") to tell it apart from RAFTLOG_ERR_*. cb must not call raftlog functions.
 */
int raftlog_read(struct raftlog *log, uint64_t from, uint64_t to,
    int (*cb)(const struct raftlog_entry *entry, void *arg), void *arg);

/*
 * Term and vote. Saving writes vote.tmp, fsyncs it, renames it over vote and fsyncs the
 * directory, so a crash leaves either the old or the new record. voted_for is a NUL-terminated
 * node ID of at most RAFTLOG_MAX_VOTED_FOR bytes; "" means no vote. Loading returns the
 * cached record (term 0 and "" if none was ever saved); RAFTLOG_ERR_RANGE if voted_for does
 * not fit in len bytes including the NUL.
 */
int raftlog_save_vote(struct raftlog *log, uint64_t term, const char *voted_for);
int raftlog_load_vote(struct raftlog *log, uint64_t *term, char *voted_for, size_t len);

/*
 * Records durably (same atomic replace as the vote) that a snapshot covers every entry up to
 * index, whose term is term. Following Raft §7: if the log holds an entry at index with this
 * term, the log is kept (compact it later with raftlog_truncate_prefix()); otherwise the whole
 * log is discarded and the next append must be index + 1 (a follower installing a leader's
 * snapshot). index below the current snapshot index is RAFTLOG_ERR_RANGE.
 */
int raftlog_set_snapshot(struct raftlog *log, uint64_t index, uint64_t term);

/* Static English text for a RAFTLOG_ERR_* code (or "unknown error"). */
const char *raftlog_strerror(int code);

#endif
