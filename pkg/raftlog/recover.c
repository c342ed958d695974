/*
 * Opening a log directory: locking it, loading the vote and snapshot records, and crash
 * recovery of the segments. Every entry is checked (header sanity, index sequence, terms
 * that never go backwards, CRC32C); the first entry that fails ends the log. Bytes after it
 * that are not the zeros of preallocation are logged and cut, later segments are removed,
 * so what remains is exactly the entries that are known good. Raft re-replicates the rest.
 */
#include "raftlog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define RL_SCAN_CHUNK (1024u * 1024)

/* A sliding window over one segment file, refilled by pread. */
struct rl_scan {
	int fd;
	uint64_t size;
	unsigned char *buf;
	size_t cap;
	uint64_t boff;
	size_t blen;
};

/* Points at file bytes [off, off+need), or NULL with *rc = 0 if the file is shorter. */
static const unsigned char *
rl_scan_get(struct rl_scan *s, uint64_t off, size_t need, int *rc)
{
	*rc = 0;
	if (off + need > s->size)
		return NULL;
	if (off >= s->boff && off + need <= s->boff + s->blen)
		return s->buf + (off - s->boff);
	size_t want = need > RL_SCAN_CHUNK ? need : RL_SCAN_CHUNK;
	if (want > s->size - off)
		want = (size_t)(s->size - off);
	if (want > s->cap) {
		unsigned char *p = realloc(s->buf, want);
		if (p == NULL) {
			*rc = RAFTLOG_ERR_NOMEM;
			return NULL;
		}
		s->buf = p;
		s->cap = want;
	}
	s->boff = off;
	s->blen = 0;
	while (s->blen < want) {
		ssize_t r = pread(s->fd, s->buf + s->blen, want - s->blen,
		    (off_t)(off + s->blen));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			*rc = RAFTLOG_ERR_IO;
			return NULL;
		}
		s->blen += (size_t)r;
	}
	return s->buf;
}

/* 1 if every byte of [off, size) is zero (the untouched preallocated tail). */
static int
rl_scan_all_zero(struct rl_scan *s, uint64_t off, int *rc)
{
	while (off < s->size) {
		size_t n = s->size - off > RL_SCAN_CHUNK ? RL_SCAN_CHUNK : (size_t)(s->size - off);
		const unsigned char *p = rl_scan_get(s, off, n, rc);
		if (p == NULL)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (p[i] != 0)
				return 0;
		off += n;
	}
	return 1;
}

static int
rl_parse_segment_name(const char *name, uint64_t *first)
{
	uint64_t v = 0;

	if (strlen(name) != RL_SEG_NAME_LEN || strcmp(name + 20, ".seg") != 0)
		return -1;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*first = v;
	return v == 0 ? -1 : 0;
}

static int
rl_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Segment first indexes found in the directory, ascending. */
static int
rl_list_segments(struct raftlog *log, uint64_t **out, size_t *n)
{
	size_t cap = 0;
	uint64_t *v = NULL, first;
	struct dirent *de;
	DIR *d;
	int fd;

	*n = 0;
	if ((fd = dup(log->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return rl_io_error(log, "list", "directory");
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (rl_parse_segment_name(de->d_name, &first) != 0)
			continue;
		if (*n == cap) {
			uint64_t *p = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (p == NULL) {
				free(v);
				closedir(d);
				return RAFTLOG_ERR_NOMEM;
			}
			v = p;
		}
		v[(*n)++] = first;
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), rl_cmp_u64);
	*out = v;
	return 0;
}

struct rl_scan_state {
	uint64_t expected;	/* next index, 0 before the first entry */
	uint64_t term;		/* term of the last good entry */
};

/*
 * Reads one segment's entries into the index. Returns 0 and sets *end to the offset after
 * the last good entry and *why to the reason scanning stopped early (NULL at a clean end).
 */
static int
rl_scan_segment(struct raftlog *log, struct rl_scan *s, uint64_t first,
    struct rl_scan_state *st, uint64_t *end, char *why, size_t whylen)
{
	const unsigned char *h;
	uint64_t off = RL_SEG_HDR;
	int rc;

	why[0] = '\0';
	h = rl_scan_get(s, 0, RL_SEG_HDR, &rc);
	if (h == NULL && rc != 0)
		return rc;
	unsigned char chk[RL_SEG_HDR];
	rl_encode_segment_header(chk, first);
	if (h == NULL || memcmp(h, chk, RL_SEG_HDR) != 0) {
		/* Zeros here mean a crash between creating the file and the first write. */
		*end = 0;
		if (!rl_scan_all_zero(s, 0, &rc))
			snprintf(why, whylen, "no valid segment header");
		return rc;
	}
	for (;;) {
		h = rl_scan_get(s, off, RL_ENT_HDR, &rc);
		if (h == NULL) {
			if (rc == 0 && off < s->size)
				snprintf(why, whylen, "partial entry header");
			break;
		}
		uint32_t len = rl_get32(h + 4);
		uint64_t index = rl_get64(h + 8), term = rl_get64(h + 16);
		uint64_t want = st->expected ? st->expected : first;
		if (len > RAFTLOG_MAX_ENTRY_SIZE || off + RL_ENT_HDR + len > s->size) {
			snprintf(why, whylen, "entry length %" PRIu32 " runs past the end", len);
			break;
		}
		if (index != want) {
			snprintf(why, whylen, "index %" PRIu64 ", expected %" PRIu64, index, want);
			break;
		}
		if (term < st->term) {
			snprintf(why, whylen, "term %" PRIu64 " after term %" PRIu64, term, st->term);
			break;
		}
		/* Re-fetch with the data so header and data sit in one window. */
		h = rl_scan_get(s, off, RL_ENT_HDR + len, &rc);
		if (h == NULL)
			break;
		if (rl_get32(h) != rl_entry_crc(h, h + RL_ENT_HDR, len)) {
			snprintf(why, whylen, "checksum mismatch at index %" PRIu64, index);
			break;
		}
		if (log->nents == log->entcap) {
			size_t ncap = log->entcap ? log->entcap * 2 : 1024;
			struct rl_ent *p = realloc(log->ents, ncap * sizeof(*p));
			if (p == NULL)
				return RAFTLOG_ERR_NOMEM;
			log->ents = p;
			log->entcap = ncap;
		}
		if (log->nents == 0)
			log->first = index;
		log->ents[log->nents++] = (struct rl_ent){ .term = term, .off = off, .len = len,
		    .type = h[24] };
		st->expected = index + 1;
		st->term = term;
		off += RL_ENT_HDR + len;
	}
	*end = off;
	if (rc != 0)
		return rc;
	/* A stop on zeros is just the preallocated tail; anything else is damage. */
	if (why[0] != '\0' && rl_scan_all_zero(s, off, &rc))
		why[0] = '\0';
	return rc;
}

/* Removes segment files that can no longer be part of the log. */
static int
rl_unlink_segment(struct raftlog *log, uint64_t first, const char *reason)
{
	char name[RL_SEG_NAME_LEN + 1];

	rl_segment_name(name, sizeof(name), first);
	log_warnx("raftlog: %s: removing segment %s: %s", log->dir, name, reason);
	log->dir_dirty = 1;
	if (unlinkat(log->dirfd, name, 0) == -1 && errno != ENOENT)
		return rl_io_error(log, "unlink", name);
	return 0;
}

/* Drops the entries if they cannot follow the recorded snapshot (crash mid-install). */
static int
rl_check_snapshot(struct raftlog *log)
{
	uint64_t last = log->first + log->nents - 1;
	const char *why = NULL;

	if (log->snap_index == 0 || log->nents == 0)
		return 0;
	if (log->first > log->snap_index + 1)
		why = "gap after the snapshot";
	else if (last < log->snap_index)
		why = "log ends before the snapshot";
	else if (log->first <= log->snap_index &&
	    log->ents[log->snap_index - log->first].term != log->snap_term)
		why = "term at the snapshot index differs";
	if (why == NULL)
		return 0;
	log_warnx("raftlog: %s: discarding log [%" PRIu64 ", %" PRIu64 "]: %s %" PRIu64
	    " (term %" PRIu64 ")", log->dir, log->first, last, why, log->snap_index,
	    log->snap_term);
	return rl_discard_all(log);
}

int
rl_recover(struct raftlog *log)
{
	struct rl_scan_state st = { 0, 0 };
	struct rl_scan s = { .fd = -1 };
	char name[RL_SEG_NAME_LEN + 1], why[128];
	uint64_t *firsts = NULL, end;
	size_t nfirsts;
	int rc, cut = 0, cut_fd = -1;

	if ((rc = rl_list_segments(log, &firsts, &nfirsts)) != 0)
		return rc;
	if ((log->segs = calloc(nfirsts + 1, sizeof(*log->segs))) == NULL) {
		free(firsts);
		return RAFTLOG_ERR_NOMEM;
	}
	log->segcap = nfirsts + 1;

	for (size_t k = 0; k < nfirsts; k++) {
		uint64_t first = firsts[k];
		struct stat sb;
		int fd;

		if (cut) {
			if ((rc = rl_unlink_segment(log, first, "after the end of the log")) != 0)
				goto out;
			continue;
		}
		if (st.expected != 0 && first != st.expected) {
			snprintf(why, sizeof(why), "starts at %" PRIu64 ", expected %" PRIu64,
			    first, st.expected);
			cut = 1;
			if ((rc = rl_unlink_segment(log, first, why)) != 0)
				goto out;
			continue;
		}
		rl_segment_name(name, sizeof(name), first);
		if ((fd = openat(log->dirfd, name, O_RDWR | O_CLOEXEC)) == -1 ||
		    fstat(fd, &sb) == -1) {
			rc = rl_io_error(log, "open", name);
			if (fd != -1)
				close(fd);
			goto out;
		}
		s.fd = fd;
		s.size = (uint64_t)sb.st_size;
		s.boff = 0;
		s.blen = 0;
		size_t before = log->nents;
		rc = rl_scan_segment(log, &s, first, &st, &end, why, sizeof(why));
		if (rc != 0) {
			if (rc == RAFTLOG_ERR_IO)
				rl_io_error(log, "read", name);
			close(fd);
			goto out;
		}
		if (why[0] != '\0') {
			log_warnx("raftlog: %s: %s: cutting %" PRIu64 " bytes at offset %" PRIu64
			    " after index %" PRIu64 ": %s", log->dir, name, s.size - end, end,
			    st.expected ? st.expected - 1 : 0, why);
			cut = 1;
		}
		if (log->nents == before) {
			/* Nothing good in it (e.g. a crash right after creating it). */
			close(fd);
			if (why[0] == '\0')
				log_info("raftlog: %s: removing empty segment %s", log->dir, name);
			log->dir_dirty = 1;
			if (unlinkat(log->dirfd, name, 0) == -1 && errno != ENOENT) {
				rc = rl_io_error(log, "unlink", name);
				goto out;
			}
			continue;
		}
		if (why[0] != '\0') {
			if (ftruncate(fd, (off_t)end) == -1) {
				rc = rl_io_error(log, "ftruncate", name);
				close(fd);
				goto out;
			}
			cut_fd = fd;
		}
		log->segs[log->nsegs++] = (struct rl_segment){ .first = first, .fd = fd,
		    .end = end, .flushed = end, .dirty = 0, .zeroed = end };
	}

	if ((rc = rl_check_snapshot(log)) != 0)
		goto out;
	if (log->nsegs > 0) {
		struct rl_segment *tail = &log->segs[log->nsegs - 1];
		if ((rc = rl_preallocate(log, tail)) != 0)
			goto out;
		if (tail->fd == cut_fd || log->preallocate)
			tail->dirty = 1;
	}
	/* Make the cuts durable before anything new is written after them. */
	for (size_t i = 0; i < log->nsegs; i++) {
		if (log->segs[i].dirty && fdatasync(log->segs[i].fd) == -1) {
			rl_segment_name(name, sizeof(name), log->segs[i].first);
			rc = rl_io_error(log, "fdatasync", name);
			goto out;
		}
		log->segs[i].dirty = 0;
	}
	if (log->dir_dirty) {
		if (fsync(log->dirfd) == -1) {
			rc = rl_io_error(log, "fsync", "directory");
			goto out;
		}
		log->dir_dirty = 0;
	}
	if (log->nents > 0)
		log_info("raftlog: %s: recovered entries [%" PRIu64 ", %" PRIu64 "] in %zu "
		    "segments", log->dir, log->first, log->first + log->nents - 1, log->nsegs);
out:
	free(s.buf);
	free(firsts);
	return rc;
}

static int
rl_mkdirs(const char *dir)
{
	char *p, *path = strdup(dir);

	if (path == NULL)
		return RAFTLOG_ERR_NOMEM;
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			int saved = errno;
			log_warn("raftlog: mkdir %s", path);
			free(path);
			errno = saved;
			return RAFTLOG_ERR_IO;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(path);
	return 0;
}

int
raftlog_open(const char *dir, const struct raftlog_options *opts, struct raftlog **out)
{
	struct raftlog_options o = { 0 };
	struct raftlog *log;
	int rc;

	*out = NULL;
	if (opts != NULL)
		o = *opts;
	if (o.segment_size == 0)
		o.segment_size = RAFTLOG_DEFAULT_SEGMENT_SIZE;
	if (o.write_buffer_size == 0)
		o.write_buffer_size = RAFTLOG_DEFAULT_BUFFER_SIZE;
	if (o.write_buffer_size < RL_MIN_SEGMENT_SIZE)
		o.write_buffer_size = RL_MIN_SEGMENT_SIZE;
	if (dir == NULL || dir[0] == '\0' || o.segment_size < RL_MIN_SEGMENT_SIZE)
		return RAFTLOG_ERR_INVAL;
	if ((rc = rl_mkdirs(dir)) != 0)
		return rc;

	if ((log = calloc(1, sizeof(*log))) == NULL)
		return RAFTLOG_ERR_NOMEM;
	log->dirfd = -1;
	log->lockfd = -1;
	log->segment_size = o.segment_size;
	log->preallocate = !o.no_preallocate;
	log->wcap = o.write_buffer_size;
	if ((log->dir = strdup(dir)) == NULL || (log->wbuf = malloc(log->wcap)) == NULL) {
		rc = RAFTLOG_ERR_NOMEM;
		goto fail;
	}
	if ((log->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		rc = rl_io_error(log, "open", "directory");
		goto fail;
	}
	if ((log->lockfd = openat(log->dirfd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		rc = rl_io_error(log, "open", "LOCK");
		goto fail;
	}
	if (flock(log->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			log_warnx("raftlog: %s: locked by another process", dir);
			rc = RAFTLOG_ERR_LOCKED;
		} else {
			rc = rl_io_error(log, "flock", "LOCK");
		}
		goto fail;
	}
	if ((rc = rl_load_records(log)) != 0 || (rc = rl_recover(log)) != 0)
		goto fail;
	log->failed = 0;
	log->trash = 1;		/* whatever a crash left in the trash goes now */
	rl_empty_trash(log);
	*out = log;
	return 0;
fail:
	raftlog_close(log);
	return rc;
}

void
raftlog_close(struct raftlog *log)
{
	if (log == NULL)
		return;
	if (log->wlen > 0 && log->nsegs > 0 && !log->failed) {
		struct rl_segment *tail = &log->segs[log->nsegs - 1];
		if (rl_write_all(tail->fd, log->wbuf, log->wlen, tail->flushed) == -1)
			log_warn("raftlog: %s: write on close", log->dir);
	}
	for (size_t i = 0; i < log->nsegs; i++)
		close(log->segs[i].fd);
	if (log->lockfd != -1)
		close(log->lockfd);
	if (log->dirfd != -1)
		close(log->dirfd);
	free(log->segs);
	free(log->ents);
	free(log->wbuf);
	free(log->rbuf);
	free(log->dir);
	free(log);
}
