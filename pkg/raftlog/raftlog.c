/*
 * The running log: the in-memory index of entries, buffered appends, group sync,
 * truncation at either end, reads, and the vote and snapshot records. Opening and
 * crash recovery live in recover.c, the atomic record files in record.c.
 *
 * Appends are copied into one write buffer belonging to the newest segment and handed to
 * the kernel with pwrite(2) when it fills, when a segment rolls over, or on sync. Reads of
 * entries still in the buffer are served from it, so reads never force a write.
 */
#include "raftlog_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "common/trash.h"

#define RL_VOTE_FILE		"vote"
#define RL_VOTE_MAGIC		0x52515654u	/* "RQVT" */
#define RL_SNAP_FILE		"snapshot"
#define RL_SNAP_MAGIC		0x5251534eu	/* "RQSN" */
#define RL_READ_CHUNK		(1024u * 1024)

const char *
raftlog_strerror(int code)
{
	switch (code) {
	case RAFTLOG_OK: return "success";
	case RAFTLOG_ERR_IO: return "I/O error";
	case RAFTLOG_ERR_NOMEM: return "out of memory";
	case RAFTLOG_ERR_INVAL: return "invalid argument";
	case RAFTLOG_ERR_NOT_CONTIGUOUS: return "entries do not follow the last index";
	case RAFTLOG_ERR_COMPACTED: return "index was compacted away";
	case RAFTLOG_ERR_UNAVAILABLE: return "index is beyond the end of the log";
	case RAFTLOG_ERR_CORRUPT: return "checksum mismatch or damaged file";
	case RAFTLOG_ERR_LOCKED: return "log directory is in use by another process";
	case RAFTLOG_ERR_FAILED: return "an earlier write failed; reopen the log";
	case RAFTLOG_ERR_RANGE: return "index or value out of range";
	default: return "unknown error";
	}
}

/* Logs a failed system call, keeps errno for the caller, and poisons the log for writes. */
int
rl_io_error(struct raftlog *log, const char *what, const char *name)
{
	int saved = errno;

	log_warn("raftlog: %s: %s %s", log->dir, what, name ? name : "");
	log->failed = 1;
	errno = saved;
	return RAFTLOG_ERR_IO;
}

int
rl_write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

void
rl_segment_name(char *buf, size_t size, uint64_t first)
{
	snprintf(buf, size, "%020" PRIu64 ".seg", first);
}

void
rl_encode_segment_header(unsigned char *hdr, uint64_t first)
{
	memset(hdr, 0, RL_SEG_HDR);
	memcpy(hdr, RL_SEG_MAGIC, 8);
	rl_put32(hdr + 8, RL_SEG_VERSION);
	rl_put64(hdr + 16, first);
	rl_put32(hdr + 28, crc32c(0, hdr, 28));
}

void
rl_encode_entry_header(unsigned char *hdr, const struct raftlog_entry *e)
{
	memset(hdr, 0, RL_ENT_HDR);
	rl_put32(hdr + 4, (uint32_t)e->len);
	rl_put64(hdr + 8, e->index);
	rl_put64(hdr + 16, e->term);
	hdr[24] = e->type;
	rl_put32(hdr, rl_entry_crc(hdr, e->data, e->len));
}

uint32_t
rl_entry_crc(const unsigned char *hdr, const void *data, size_t len)
{
	return crc32c(crc32c(0, hdr + 4, RL_ENT_HDR - 4), data, len);
}

/*
 * Reserves the segment's full size up front so that fdatasync after an append only has
 * to flush data, not a grown file size. Filesystems without fallocate just grow the file.
 */
int
rl_preallocate(struct raftlog *log, struct rl_segment *seg)
{
	char name[RL_SEG_NAME_LEN + 1];

	if (!log->preallocate || seg->end >= log->segment_size)
		return 0;
	if (fallocate(seg->fd, 0, (off_t)seg->end, (off_t)(log->segment_size - seg->end)) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		log->preallocate = 0;
		return 0;
	}
	rl_segment_name(name, sizeof(name), seg->first);
	return rl_io_error(log, "fallocate", name);
}

/*
 * Makes sure [0, upto) of the segment has been written, writing zeros from seg->zeroed
 * up to a step past upto (never past the segment's size). Only with preallocation on:
 * it is the second half of reserving the segment.
 */
int
rl_zero_ahead(struct raftlog *log, struct rl_segment *seg, uint64_t upto)
{
	static const unsigned char zeros[64 * 1024];
	struct iovec iov[RL_ZERO_STEP / sizeof(zeros)];
	char name[RL_SEG_NAME_LEN + 1];
	uint64_t to;

	if (!log->preallocate || seg->zeroed >= upto || seg->zeroed >= log->segment_size)
		return 0;
	to = upto + RL_ZERO_STEP;
	if (to > log->segment_size)
		to = log->segment_size;
	while (seg->zeroed < to) {
		uint64_t left = to - seg->zeroed;
		int n = 0;
		ssize_t w;

		for (; n < (int)(sizeof(iov) / sizeof(iov[0])) && left > 0; n++) {
			iov[n].iov_base = (void *)zeros;
			iov[n].iov_len = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
			left -= iov[n].iov_len;
		}
		w = pwritev(seg->fd, iov, n, (off_t)seg->zeroed);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			rl_segment_name(name, sizeof(name), seg->first);
			return rl_io_error(log, "write", name);
		}
		seg->zeroed += (uint64_t)w;
	}
	seg->dirty = 1;
	return 0;
}

/*
 * Closes segment i, drops it from the array (the index is the caller's) and moves its
 * file to the trash: unlinking 64 MiB costs ext4 tens of milliseconds, which the
 * consensus loop must not wait for. The caller fsyncs the directory and then calls
 * rl_empty_trash(). Recovery ignores trash names (they are not segment names).
 */
int
rl_remove_segment(struct raftlog *log, size_t i)
{
	char name[RL_SEG_NAME_LEN + 1], trash[RL_SEG_NAME_LEN + sizeof(RL_TRASH_SUFFIX)];
	struct rl_segment *seg = &log->segs[i];

	rl_segment_name(name, sizeof(name), seg->first);
	snprintf(trash, sizeof(trash), "%s%s", name, RL_TRASH_SUFFIX);
	if (seg->fd >= 0)
		close(seg->fd);
	memmove(&log->segs[i], &log->segs[i + 1], (log->nsegs - i - 1) * sizeof(*seg));
	log->nsegs--;
	log->dir_dirty = 1;
	if (renameat(log->dirfd, name, log->dirfd, trash) == 0) {
		log->trash = 1;
		return 0;
	}
	if (unlinkat(log->dirfd, name, 0) == -1 && errno != ENOENT)
		return rl_io_error(log, "unlink", name);
	return 0;
}

/* Deletes the removed segments' files on a detached thread (common/trash.h). */
void
rl_empty_trash(struct raftlog *log)
{
	if (!log->trash)
		return;
	log->trash = 0;
	trash_empty_async(log->dir, NULL, RL_TRASH_SUFFIX);
}

uint64_t
raftlog_first_index(const struct raftlog *log)
{
	return log->nents > 0 ? log->first : 0;
}

uint64_t
raftlog_last_index(const struct raftlog *log)
{
	return log->nents > 0 ? log->first + log->nents - 1 : log->snap_index;
}

void
raftlog_snapshot(const struct raftlog *log, uint64_t *index, uint64_t *term)
{
	*index = log->snap_index;
	*term = log->snap_term;
}

int
raftlog_term_at(struct raftlog *log, uint64_t index, uint64_t *term)
{
	if (index == 0) {
		*term = 0;
		return 0;
	}
	if (index == log->snap_index) {
		*term = log->snap_term;
		return 0;
	}
	if (index > raftlog_last_index(log))
		return RAFTLOG_ERR_UNAVAILABLE;
	if (log->nents == 0 || index < log->first)
		return RAFTLOG_ERR_COMPACTED;
	*term = log->ents[index - log->first].term;
	return 0;
}

static struct rl_segment *
rl_tail(struct raftlog *log)
{
	return log->nsegs > 0 ? &log->segs[log->nsegs - 1] : NULL;
}

/* The segment holding index (which must be in the log). */
static struct rl_segment *
rl_find_segment(struct raftlog *log, uint64_t index)
{
	size_t lo = 0, hi = log->nsegs;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (log->segs[mid].first <= index)
			lo = mid;
		else
			hi = mid;
	}
	return &log->segs[lo];
}

static int
rl_flush(struct raftlog *log)
{
	struct rl_segment *tail = rl_tail(log);
	char name[RL_SEG_NAME_LEN + 1];

	if (log->wlen == 0)
		return 0;
	if (rl_zero_ahead(log, tail, tail->flushed + log->wlen) != 0)
		return RAFTLOG_ERR_IO;
	if (rl_write_all(tail->fd, log->wbuf, log->wlen, tail->flushed) == -1) {
		rl_segment_name(name, sizeof(name), tail->first);
		return rl_io_error(log, "write", name);
	}
	tail->flushed += log->wlen;
	log->wlen = 0;
	return 0;
}

static int
rl_grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * size);
	if (p == NULL)
		return RAFTLOG_ERR_NOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Starts a new newest segment whose first entry will be index. */
static int
rl_new_segment(struct raftlog *log, uint64_t index)
{
	char name[RL_SEG_NAME_LEN + 1];
	struct rl_segment *seg;
	int rc, fd;

	if ((rc = rl_flush(log)) != 0)
		return rc;
	rl_segment_name(name, sizeof(name), index);
	/* A file of that name cannot hold live entries: truncate whatever is left there. */
	fd = openat(log->dirfd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return rl_io_error(log, "create", name);
	assert(log->nsegs < log->segcap);	/* reserved by raftlog_append() */
	seg = &log->segs[log->nsegs++];
	seg->first = index;
	seg->fd = fd;
	seg->end = 0;
	seg->flushed = 0;
	seg->zeroed = 0;
	seg->dirty = 1;
	log->dir_dirty = 1;
	if ((rc = rl_preallocate(log, seg)) != 0)
		return rc;
	rl_encode_segment_header(log->wbuf, index);
	log->wlen = RL_SEG_HDR;
	seg->end = RL_SEG_HDR;
	return 0;
}

int
raftlog_append(struct raftlog *log, const struct raftlog_entry *entries, size_t n)
{
	uint64_t next = raftlog_last_index(log) + 1, term = 0, total = 0;
	int rc;

	if (log->failed)
		return RAFTLOG_ERR_FAILED;
	if (n == 0)
		return 0;
	raftlog_term_at(log, next - 1, &term);
	for (size_t i = 0; i < n; i++) {
		if (entries[i].index != next + i)
			return RAFTLOG_ERR_NOT_CONTIGUOUS;
		if (entries[i].term < term || entries[i].len > RAFTLOG_MAX_ENTRY_SIZE ||
		    (entries[i].len > 0 && entries[i].data == NULL))
			return RAFTLOG_ERR_INVAL;
		term = entries[i].term;
		total += RL_ENT_HDR + entries[i].len;
	}
	/*
	 * Reserve memory first so a failure cannot leave half the batch appended. A sealed
	 * segment plus the entry that did not fit exceed a segment, and each entry is counted
	 * at most twice that way, so the batch opens at most 2 + 2 * total / size segments.
	 */
	uint64_t rollovers = 2 + 2 * total / (log->segment_size - RL_SEG_HDR);
	if (rollovers > n)
		rollovers = n;
	if (rl_grow((void **)&log->ents, &log->entcap, log->nents + n, sizeof(*log->ents)) ||
	    rl_grow((void **)&log->segs, &log->segcap, log->nsegs + 1 + (size_t)rollovers,
	    sizeof(*log->segs)))
		return RAFTLOG_ERR_NOMEM;

	for (size_t i = 0; i < n; i++) {
		const struct raftlog_entry *e = &entries[i];
		uint64_t size = RL_ENT_HDR + e->len;
		struct rl_segment *tail = rl_tail(log);
		unsigned char *hdr;

		if (tail == NULL ||
		    (tail->end + size > log->segment_size && tail->end > RL_SEG_HDR)) {
			if ((rc = rl_new_segment(log, e->index)) != 0)
				return rc;
			tail = rl_tail(log);
		}
		if (log->wlen + size > log->wcap && (rc = rl_flush(log)) != 0)
			return rc;
		if (size <= log->wcap) {
			hdr = log->wbuf + log->wlen;
			rl_encode_entry_header(hdr, e);
			if (e->len > 0)
				memcpy(hdr + RL_ENT_HDR, e->data, e->len);
			log->wlen += size;
		} else {
			/* Bigger than the whole buffer (which is empty now): write it directly. */
			unsigned char h[RL_ENT_HDR];
			char name[RL_SEG_NAME_LEN + 1];
			rl_encode_entry_header(h, e);
			if (rl_zero_ahead(log, tail, tail->end + size) != 0)
				return RAFTLOG_ERR_IO;
			if (rl_write_all(tail->fd, h, RL_ENT_HDR, tail->end) == -1 ||
			    rl_write_all(tail->fd, e->data, e->len, tail->end + RL_ENT_HDR) == -1) {
				rl_segment_name(name, sizeof(name), tail->first);
				return rl_io_error(log, "write", name);
			}
			tail->flushed = tail->end + size;
		}
		if (log->nents == 0)
			log->first = e->index;
		log->ents[log->nents++] = (struct rl_ent){ .term = e->term, .off = tail->end,
		    .len = (uint32_t)e->len, .type = e->type };
		tail->end += size;
		tail->dirty = 1;
	}
	return 0;
}

int
raftlog_sync(struct raftlog *log)
{
	char name[RL_SEG_NAME_LEN + 1];
	int rc;

	if (log->failed)
		return RAFTLOG_ERR_FAILED;
	if ((rc = rl_flush(log)) != 0)
		return rc;
	for (size_t i = 0; i < log->nsegs; i++) {
		struct rl_segment *seg = &log->segs[i];
		if (!seg->dirty)
			continue;
		if (fdatasync(seg->fd) == -1) {
			rl_segment_name(name, sizeof(name), seg->first);
			return rl_io_error(log, "fdatasync", name);
		}
		seg->dirty = 0;
	}
	if (log->dir_dirty) {
		if (fsync(log->dirfd) == -1)
			return rl_io_error(log, "fsync", "directory");
		log->dir_dirty = 0;
		rl_empty_trash(log);
	}
	return 0;
}

int
raftlog_truncate_suffix(struct raftlog *log, uint64_t from)
{
	struct rl_segment *tail;
	int rc;

	if (log->failed)
		return RAFTLOG_ERR_FAILED;
	if (from == 0)
		return RAFTLOG_ERR_INVAL;
	if (from <= log->snap_index)
		return RAFTLOG_ERR_RANGE;
	if (log->nents == 0 || from > raftlog_last_index(log))
		return 0;

	/* Newest first, so a crash part-way leaves a shorter but contiguous log. */
	uint64_t tail_last = raftlog_last_index(log);
	while ((tail = rl_tail(log)) != NULL && tail->first >= from) {
		log->wlen = 0;	/* the buffer belonged to this segment */
		tail_last = tail->first - 1;
		if ((rc = rl_remove_segment(log, log->nsegs - 1)) != 0)
			return rc;
	}
	/* Cut inside the remaining newest segment unless from was its successor's first. */
	if (tail != NULL && from <= tail_last) {
		uint64_t off = log->ents[from - log->first].off;
		if (off >= tail->flushed) {
			log->wlen = off - tail->flushed;
		} else {
			char name[RL_SEG_NAME_LEN + 1];
			log->wlen = 0;
			rl_segment_name(name, sizeof(name), tail->first);
			/* ftruncate then re-reserve: the space after off reads back as zeros, so
			 * no stale entry can follow the new tail after a crash. */
			if (ftruncate(tail->fd, (off_t)off) == -1)
				return rl_io_error(log, "ftruncate", name);
			tail->flushed = off;
			tail->end = off;
			if (tail->zeroed > off)
				tail->zeroed = off;
			if ((rc = rl_preallocate(log, tail)) != 0)
				return rc;
		}
		tail->end = off;
		tail->dirty = 1;
	}
	log->nents = log->nsegs > 0 ? from - log->first : 0;
	return raftlog_sync(log);
}

int
raftlog_truncate_prefix(struct raftlog *log, uint64_t before)
{
	int rc, removed = 0;

	if (log->failed)
		return RAFTLOG_ERR_FAILED;
	if (before > log->snap_index + 1)
		return RAFTLOG_ERR_RANGE;
	/* Oldest first, so a crash part-way leaves a contiguous suffix. */
	while (log->nsegs >= 2 && log->segs[1].first <= before) {
		size_t drop = log->segs[1].first - log->segs[0].first;
		memmove(log->ents, log->ents + drop, (log->nents - drop) * sizeof(*log->ents));
		log->nents -= drop;
		log->first += drop;
		removed++;
		if ((rc = rl_remove_segment(log, 0)) != 0)
			return rc;
	}
	if (removed > 0) {
		if (fsync(log->dirfd) == -1)
			return rl_io_error(log, "fsync", "directory");
		log->dir_dirty = 0;
		rl_empty_trash(log);
		log_debug("raftlog: %s: removed %d segments, log starts at %" PRIu64,
		    log->dir, removed, log->first);
	}
	return 0;
}

/* Calls cb for entries [i, j] of segment seg, whose bytes are at base (file offset boff). */
static int
rl_deliver(struct raftlog *log, uint64_t i, uint64_t j, const unsigned char *base,
    uint64_t boff, int (*cb)(const struct raftlog_entry *, void *), void *arg)
{
	for (uint64_t idx = i; idx <= j; idx++) {
		const struct rl_ent *ent = &log->ents[idx - log->first];
		const unsigned char *hdr = base + (ent->off - boff);
		struct raftlog_entry e;
		int rc;

		if (rl_get32(hdr + 4) != ent->len || rl_get64(hdr + 8) != idx ||
		    rl_get64(hdr + 16) != ent->term || hdr[24] != ent->type ||
		    rl_get32(hdr) != rl_entry_crc(hdr, hdr + RL_ENT_HDR, ent->len)) {
			log_warnx("raftlog: %s: entry %" PRIu64 " fails its checksum on read",
			    log->dir, idx);
			return RAFTLOG_ERR_CORRUPT;
		}
		e.index = idx;
		e.term = ent->term;
		e.type = ent->type;
		e.data = hdr + RL_ENT_HDR;
		e.len = ent->len;
		if ((rc = cb(&e, arg)) != 0)
			return rc;
	}
	return 0;
}

int
raftlog_read(struct raftlog *log, uint64_t from, uint64_t to,
    int (*cb)(const struct raftlog_entry *, void *), void *arg)
{
	uint64_t last = raftlog_last_index(log);
	int rc;

	if (from == 0 || from > to)
		return RAFTLOG_ERR_INVAL;
	if (to > last)
		return RAFTLOG_ERR_UNAVAILABLE;
	if (log->nents == 0 || from < log->first)
		return RAFTLOG_ERR_COMPACTED;

	for (uint64_t i = from; i <= to;) {
		struct rl_segment *seg = rl_find_segment(log, i);
		uint64_t seg_last = seg == rl_tail(log) ? last : (seg + 1)->first - 1;
		const struct rl_ent *start = &log->ents[i - log->first];
		uint64_t j = i, bytes;

		if (seg_last > to)
			seg_last = to;
		if (start->off >= seg->flushed) {
			/* Still in the write buffer. */
			rc = rl_deliver(log, i, seg_last, log->wbuf, seg->flushed, cb, arg);
			if (rc != 0)
				return rc;
			i = seg_last + 1;
			continue;
		}
		/* One pread for as many on-disk entries as fit in a chunk (at least one). */
		for (;;) {
			const struct rl_ent *e = &log->ents[j - log->first];
			bytes = e->off + RL_ENT_HDR + e->len - start->off;
			if (j == seg_last || e[1].off >= seg->flushed ||
			    e[1].off + RL_ENT_HDR + e[1].len - start->off > RL_READ_CHUNK)
				break;
			j++;
		}
		if (bytes > log->rcap) {
			unsigned char *p = realloc(log->rbuf, bytes);
			if (p == NULL)
				return RAFTLOG_ERR_NOMEM;
			log->rbuf = p;
			log->rcap = bytes;
		}
		for (uint64_t got = 0; got < bytes;) {
			ssize_t r = pread(seg->fd, log->rbuf + got, bytes - got,
			    (off_t)(start->off + got));
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				int saved = r == 0 ? EIO : errno;
				log_warnx("raftlog: %s: read of entry %" PRIu64 " failed: %s",
				    log->dir, i, strerror(saved));
				errno = saved;
				return RAFTLOG_ERR_IO;
			}
			got += (uint64_t)r;
		}
		if ((rc = rl_deliver(log, i, j, log->rbuf, start->off, cb, arg)) != 0)
			return rc;
		i = j + 1;
	}
	return 0;
}

int
raftlog_save_vote(struct raftlog *log, uint64_t term, const char *voted_for)
{
	unsigned char buf[8 + RAFTLOG_MAX_VOTED_FOR];
	size_t n;
	int rc;

	if (voted_for == NULL)
		voted_for = "";
	n = strlen(voted_for);
	if (n > RAFTLOG_MAX_VOTED_FOR)
		return RAFTLOG_ERR_INVAL;
	rl_put64(buf, term);
	memcpy(buf + 8, voted_for, n);
	if ((rc = rl_record_write(log->dirfd, RL_VOTE_FILE, RL_VOTE_MAGIC, buf, 8 + n)) != 0)
		return rc;
	log->vote_term = term;
	memcpy(log->voted_for, voted_for, n + 1);
	return 0;
}

int
raftlog_load_vote(struct raftlog *log, uint64_t *term, char *voted_for, size_t len)
{
	size_t n = strlen(log->voted_for);

	if (n + 1 > len)
		return RAFTLOG_ERR_RANGE;
	*term = log->vote_term;
	memcpy(voted_for, log->voted_for, n + 1);
	return 0;
}

/* Called by recover.c on open. */
int
rl_load_records(struct raftlog *log)
{
	unsigned char buf[8 + RAFTLOG_MAX_VOTED_FOR];
	size_t n;
	int rc;

	unlinkat(log->dirfd, RL_VOTE_FILE ".tmp", 0);
	unlinkat(log->dirfd, RL_SNAP_FILE ".tmp", 0);

	rc = rl_record_read(log->dirfd, RL_VOTE_FILE, RL_VOTE_MAGIC, buf, sizeof(buf), &n);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (n < 8)
			return RAFTLOG_ERR_CORRUPT;
		log->vote_term = rl_get64(buf);
		memcpy(log->voted_for, buf + 8, n - 8);
		log->voted_for[n - 8] = '\0';
	}
	rc = rl_record_read(log->dirfd, RL_SNAP_FILE, RL_SNAP_MAGIC, buf, sizeof(buf), &n);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		if (n != 16)
			return RAFTLOG_ERR_CORRUPT;
		log->snap_index = rl_get64(buf);
		log->snap_term = rl_get64(buf + 8);
	}
	return 0;
}

/* Drops every entry and segment file; the next append starts after the snapshot. */
int
rl_discard_all(struct raftlog *log)
{
	int rc;

	log->wlen = 0;
	while (log->nsegs > 0)
		if ((rc = rl_remove_segment(log, log->nsegs - 1)) != 0)
			return rc;
	log->nents = 0;
	if (fsync(log->dirfd) == -1)
		return rl_io_error(log, "fsync", "directory");
	log->dir_dirty = 0;
	rl_empty_trash(log);
	return 0;
}

int
raftlog_set_snapshot(struct raftlog *log, uint64_t index, uint64_t term)
{
	unsigned char buf[16];
	uint64_t have;
	int keep, rc;

	if (log->failed)
		return RAFTLOG_ERR_FAILED;
	if (index == 0)
		return RAFTLOG_ERR_INVAL;
	if (index < log->snap_index)
		return RAFTLOG_ERR_RANGE;
	/* Raft §7: keep the log if it already has the snapshot's last entry. */
	keep = raftlog_term_at(log, index, &have) == 0 && have == term;
	rl_put64(buf, index);
	rl_put64(buf + 8, term);
	/* Record first: if we crash before the segments go, recovery drops them. */
	if ((rc = rl_record_write(log->dirfd, RL_SNAP_FILE, RL_SNAP_MAGIC, buf, 16)) != 0) {
		log->failed = 1;
		return rc;
	}
	log->snap_index = index;
	log->snap_term = term;
	if (!keep && log->nents > 0) {
		log_info("raftlog: %s: snapshot at %" PRIu64 " (term %" PRIu64 ") replaces "
		    "log [%" PRIu64 ", %" PRIu64 "]", log->dir, index, term, log->first,
		    log->first + log->nents - 1);
		return rl_discard_all(log);
	}
	return 0;
}
