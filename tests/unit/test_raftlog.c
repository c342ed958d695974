/*
 * The durable Raft log (pkg/raftlog/raftlog.c, record.c): round trips through
 * close/reopen, segments, truncation at both ends, the vote and snapshot records,
 * reads, syncing from another thread, a randomized model, removed segments.
 * Crash recovery is test_raftlog_recover.c. Each test works in its own directory
 * under /tmp/raftlog-test.XXXXXX (raftlog_helpers.c).
 */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/crc32c.h"
#include "raftlog/raftlog.h"
#include "raftlog/snapshot_store.h"
#include "raftlog_helpers.h"

UNIT_TEST(empty_log_opens_with_no_entries)
{
	char base[64], dir[80], voted[16];
	struct raftlog *log, *other;
	uint64_t term = 99;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), 0);
	CHECK_INT_EQ(raftlog_first_index(log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 0);
	CHECK_INT_EQ(raftlog_term_at(log, 0, &term), 0);
	CHECK_INT_EQ(term, 0);
	CHECK_INT_EQ(raftlog_term_at(log, 1, &term), RAFTLOG_ERR_UNAVAILABLE);
	CHECK_INT_EQ(raftlog_load_vote(log, &term, voted, sizeof(voted)), 0);
	CHECK_INT_EQ(term, 0);
	CHECK_STR_EQ(voted, "");
	CHECK_INT_EQ(raftlog_sync(log), 0);
	CHECK_INT_EQ(raftlog_read(log, 1, 1, verify_cb, NULL), RAFTLOG_ERR_UNAVAILABLE);
	/* A second opener of the same directory is refused while the first holds it. */
	CHECK_INT_EQ(raftlog_open(dir, NULL, &other), RAFTLOG_ERR_LOCKED);
	CHECK(other == NULL);
	raftlog_close(log);
	CHECK_INT_EQ(count_segments(dir), 0);

	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 0);
	CHECK_INT_EQ(raftlog_append(log, &(struct raftlog_entry){ .index = 2, .term = 1 }, 1),
	    RAFTLOG_ERR_NOT_CONTIGUOUS);
	CHECK_INT_EQ(raftlog_append(log, &(struct raftlog_entry){ .index = 1, .term = 1 }, 1), 0);
	CHECK_INT_EQ(raftlog_first_index(log), 1);
	CHECK_INT_EQ(raftlog_last_index(log), 1);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(append_sync_reopen_round_trip_across_segments)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG };
	char base[64], dir[80];
	struct raftlog *log;
	uint64_t term;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 250, 1, 7), 0);
	/* Readable before any sync, from the write buffer and from earlier segments. */
	CHECK_INT_EQ(verify_range(log, 1, 250, term_one), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	CHECK_INT_EQ(append_range(log, 251, 500, 1, 50), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	CHECK_INT_EQ(verify_range(log, 1, 500, term_one), 0);
	raftlog_close(log);
	CHECK(count_segments(dir) > 10);

	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_first_index(log), 1);
	CHECK_INT_EQ(raftlog_last_index(log), 500);
	CHECK_INT_EQ(raftlog_term_at(log, 321, &term), 0);
	CHECK_INT_EQ(term, 1);
	CHECK_INT_EQ(verify_range(log, 1, 500, term_one), 0);
	CHECK_INT_EQ(verify_range(log, 123, 124, term_one), 0);
	CHECK_INT_EQ(raftlog_read(log, 400, 501, verify_cb, NULL), RAFTLOG_ERR_UNAVAILABLE);
	CHECK_INT_EQ(raftlog_read(log, 0, 5, verify_cb, NULL), RAFTLOG_ERR_INVAL);
	/* Appending goes on after the recovered tail. */
	CHECK_INT_EQ(append_range(log, 501, 520, 1, 3), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 520);
	CHECK_INT_EQ(verify_range(log, 1, 520, term_one), 0);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(segments_are_named_by_their_first_index_and_preallocated)
{
	struct raftlog_options opts = { .segment_size = 64 * 1024 };
	char base[64], dir[80], names[8][32], path[256];
	struct raftlog *log;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 1000, 1, 64), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	int n = list_segments(dir, names, 8);
	CHECK(n >= 2);
	CHECK_STR_EQ(names[0], "00000000000000000001.seg");
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%.31s", dir, names[i]);
		CHECK_INT_EQ(file_size(path), 64 * 1024);
	}
	/* The second segment's name is the index after the first segment's last entry. */
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	uint64_t second = strtoull(names[1], NULL, 10);
	CHECK(second > 1 && second < 1000);
	CHECK_INT_EQ(verify_range(log, second - 1, second, term_one), 0);
	raftlog_close(log);
	rm_tree(base);
}

static uint64_t
term_split_40(uint64_t index)
{
	return index < 40 ? 1 : 2;
}

static uint64_t
term_split_90(uint64_t index)
{
	return index < 40 ? 1 : index < 90 ? 2 : 3;
}

/*
 * 1 if some extent of the file that starts below `end` is still "unwritten"
 * (reserved by fallocate, never written), 0 if none is, -1 if the filesystem cannot
 * say (no FIEMAP, e.g. tmpfs).
 */
static int
unwritten_below(const char *path, uint64_t end)
{
	struct {
		struct fiemap fm;
		struct fiemap_extent ext[64];
	} q;
	int fd = open(path, O_RDONLY), rc = 0;

	if (fd == -1)
		return -1;
	memset(&q, 0, sizeof(q));
	q.fm.fm_length = end;
	q.fm.fm_flags = FIEMAP_FLAG_SYNC;
	q.fm.fm_extent_count = 64;
	if (ioctl(fd, FS_IOC_FIEMAP, &q.fm) != 0) {
		close(fd);
		return -1;
	}
	for (unsigned i = 0; i < q.fm.fm_mapped_extents; i++)
		if (q.ext[i].fe_logical < end && (q.ext[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN))
			rc = 1;
	close(fd);
	return rc;
}

UNIT_TEST(appends_land_on_blocks_already_written_so_fdatasync_allocates_nothing)
{
	struct raftlog_options opts = { .segment_size = 8 * 1024 * 1024 };
	char base[64], dir[80], path[256];
	struct raftlog *log;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	/* About 3 MiB in small synced batches: several steps of zeros ahead. */
	for (uint64_t i = 1; i <= 12000; i += 20) {
		CHECK_INT_EQ(append_range(log, i, i + 19, 1, 20), 0);
		CHECK_INT_EQ(raftlog_sync(log), 0);
	}
	snprintf(path, sizeof(path), "%s/00000000000000000001.seg", dir);
	CHECK_INT_EQ(file_size(path), 8 * 1024 * 1024);
	/* Everything up to a step past the last entry has been written, not just reserved. */
	int un = unwritten_below(path, 3u * 1024 * 1024);
	if (un >= 0)
		CHECK_INT_EQ(un, 0);
	else
		fprintf(stderr, "    (this filesystem has no FIEMAP: extent check not possible)\n");

	/* A cut inside the zeroed area, then new terms, survive a reopen. */
	CHECK_INT_EQ(raftlog_truncate_suffix(log, 6000), 0);
	CHECK_INT_EQ(append_range(log, 6000, 12000, 2, 50), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 12000);
	CHECK_INT_EQ(verify_range(log, 1, 12000, term_split_6000), 0);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(truncate_suffix_then_append_new_terms)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG };
	char base[64], dir[80];
	struct raftlog *log;
	uint64_t term;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 100, 1, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	int before = count_segments(dir);
	CHECK_INT_EQ(raftlog_truncate_suffix(log, 101), 0);	/* past the end: no-op */
	CHECK_INT_EQ(raftlog_last_index(log), 100);
	CHECK_INT_EQ(raftlog_truncate_suffix(log, 40), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 39);
	CHECK(count_segments(dir) < before);
	CHECK_INT_EQ(raftlog_term_at(log, 40, &term), RAFTLOG_ERR_UNAVAILABLE);
	CHECK_INT_EQ(raftlog_append(log, &(struct raftlog_entry){ .index = 40, .term = 0 }, 1),
	    RAFTLOG_ERR_INVAL);	/* terms never go backwards */
	CHECK_INT_EQ(append_range(log, 40, 100, 2, 10), 0);
	CHECK_INT_EQ(verify_range(log, 1, 100, term_split_40), 0);

	/* Truncating entries that are still only in the write buffer. */
	CHECK_INT_EQ(raftlog_truncate_suffix(log, 90), 0);
	CHECK_INT_EQ(append_range(log, 90, 95, 3, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	CHECK_INT_EQ(verify_range(log, 1, 95, term_split_90), 0);
	raftlog_close(log);

	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 95);
	CHECK_INT_EQ(raftlog_term_at(log, 39, &term), 0);
	CHECK_INT_EQ(term, 1);
	CHECK_INT_EQ(raftlog_term_at(log, 40, &term), 0);
	CHECK_INT_EQ(term, 2);
	CHECK_INT_EQ(raftlog_term_at(log, 95, &term), 0);
	CHECK_INT_EQ(term, 3);
	CHECK_INT_EQ(verify_range(log, 1, 95, term_split_90), 0);

	/* Truncating everything leaves an empty log that starts again at 1. */
	CHECK_INT_EQ(raftlog_truncate_suffix(log, 1), 0);
	CHECK_INT_EQ(raftlog_first_index(log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 0);
	CHECK_INT_EQ(count_segments(dir), 0);
	CHECK_INT_EQ(append_range(log, 1, 3, 4, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 3);
	CHECK_INT_EQ(raftlog_term_at(log, 3, &term), 0);
	CHECK_INT_EQ(term, 4);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(truncate_suffix_at_a_segment_boundary_survives_reopen)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG };
	char base[64], dir[80], names[64][32];
	struct raftlog *log;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 100, 1, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	int n = list_segments(dir, names, 64);
	CHECK(n >= 3);
	uint64_t boundary = strtoull(names[2], NULL, 10);
	CHECK_INT_EQ(raftlog_truncate_suffix(log, boundary), 0);
	CHECK_INT_EQ(count_segments(dir), 2);
	CHECK_INT_EQ(raftlog_last_index(log), boundary - 1);
	CHECK_INT_EQ(append_range(log, boundary, boundary + 5, 2, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), boundary + 5);
	uint64_t term;
	CHECK_INT_EQ(raftlog_term_at(log, boundary, &term), 0);
	CHECK_INT_EQ(term, 2);
	CHECK_INT_EQ(raftlog_term_at(log, boundary - 1, &term), 0);
	CHECK_INT_EQ(term, 1);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(truncate_prefix_removes_old_segments)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG };
	char base[64], dir[80];
	struct raftlog *log;
	uint64_t term, si, st;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 300, 1, 30), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	int before = count_segments(dir);
	/* Without a snapshot covering them, entries may not be dropped. */
	CHECK_INT_EQ(raftlog_truncate_prefix(log, 201), RAFTLOG_ERR_RANGE);
	CHECK_INT_EQ(raftlog_set_snapshot(log, 200, 1), 0);
	raftlog_snapshot(log, &si, &st);
	CHECK_INT_EQ(si, 200);
	CHECK_INT_EQ(st, 1);
	CHECK_INT_EQ(raftlog_first_index(log), 1);	/* the log was kept */
	CHECK_INT_EQ(raftlog_truncate_prefix(log, 202), RAFTLOG_ERR_RANGE);
	CHECK_INT_EQ(raftlog_truncate_prefix(log, 201), 0);
	uint64_t first = raftlog_first_index(log);
	CHECK(first > 150 && first <= 201);
	CHECK(count_segments(dir) < before);
	CHECK_INT_EQ(raftlog_last_index(log), 300);
	CHECK_INT_EQ(raftlog_term_at(log, 1, &term), RAFTLOG_ERR_COMPACTED);
	CHECK_INT_EQ(raftlog_read(log, 1, 10, verify_cb, NULL), RAFTLOG_ERR_COMPACTED);
	CHECK_INT_EQ(verify_range(log, first, 300, term_one), 0);
	CHECK_INT_EQ(raftlog_truncate_suffix(log, 200), RAFTLOG_ERR_RANGE);
	raftlog_close(log);

	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_first_index(log), first);
	CHECK_INT_EQ(raftlog_last_index(log), 300);
	CHECK_INT_EQ(raftlog_term_at(log, 200, &term), 0);
	CHECK_INT_EQ(term, 1);
	CHECK_INT_EQ(verify_range(log, first, 300, term_one), 0);
	raftlog_close(log);
	rm_tree(base);
}

static int
copy_file(const char *from, const char *to)
{
	char buf[8192];
	ssize_t n;
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -1;
	close(in);
	close(out);
	return 0;
}

UNIT_TEST(installed_snapshot_replaces_a_conflicting_log)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG };
	char base[64], dir[80], names[64][32], saved[64][256], path[256];
	struct raftlog *log;
	uint64_t term;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 50, 1, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	/* Keep copies of the segments to fake a crash before they were removed. */
	int n = list_segments(dir, names, 64);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%.31s", dir, names[i]);
		snprintf(saved[i], sizeof(saved[i]), "%s/%.31s.keep", base, names[i]);
		CHECK_INT_EQ(copy_file(path, saved[i]), 0);
	}

	CHECK_INT_EQ(raftlog_set_snapshot(log, 100, 3), 0);
	CHECK_INT_EQ(raftlog_first_index(log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 100);
	CHECK_INT_EQ(count_segments(dir), 0);
	CHECK_INT_EQ(raftlog_term_at(log, 100, &term), 0);
	CHECK_INT_EQ(term, 3);
	CHECK_INT_EQ(raftlog_term_at(log, 99, &term), RAFTLOG_ERR_COMPACTED);
	CHECK_INT_EQ(raftlog_set_snapshot(log, 99, 3), RAFTLOG_ERR_RANGE);
	CHECK_INT_EQ(append_range(log, 50, 50, 3, 1), RAFTLOG_ERR_NOT_CONTIGUOUS);
	CHECK_INT_EQ(append_range(log, 101, 110, 3, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);

	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_first_index(log), 101);
	CHECK_INT_EQ(raftlog_last_index(log), 110);
	CHECK_INT_EQ(raftlog_term_at(log, 100, &term), 0);
	CHECK_INT_EQ(term, 3);
	raftlog_close(log);

	/* Crash between recording the snapshot and removing the old segments: the stale
	 * entries (ending before the snapshot) are dropped on open. */
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%.31s", dir, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%020d.seg", dir, 101);
	unlink(path);
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%.31s", dir, names[i]);
		CHECK_INT_EQ(copy_file(saved[i], path), 0);
		unlink(saved[i]);
	}
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_first_index(log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 100);
	CHECK_INT_EQ(count_segments(dir), 0);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(vote_save_load_is_atomic_and_ignores_leftover_tmp)
{
	char base[64], dir[80], path[256], voted[64];
	struct raftlog *log;
	uint64_t term;
	int fd;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), 0);
	CHECK_INT_EQ(raftlog_save_vote(log, 5, "node-a"), 0);
	CHECK_INT_EQ(raftlog_load_vote(log, &term, voted, sizeof(voted)), 0);
	CHECK_INT_EQ(term, 5);
	CHECK_STR_EQ(voted, "node-a");
	CHECK_INT_EQ(raftlog_load_vote(log, &term, voted, 6), RAFTLOG_ERR_RANGE);
	raftlog_close(log);

	/* A crash mid-save leaves vote.tmp: it must neither win nor break opening. */
	snprintf(path, sizeof(path), "%s/vote.tmp", dir);
	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	CHECK_INT_EQ(write(fd, "RQVT\x10\x00", 6), 6);
	close(fd);
	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), 0);
	CHECK_INT_EQ(raftlog_load_vote(log, &term, voted, sizeof(voted)), 0);
	CHECK_INT_EQ(term, 5);
	CHECK_STR_EQ(voted, "node-a");
	CHECK(access(path, F_OK) != 0);
	CHECK_INT_EQ(raftlog_save_vote(log, 6, ""), 0);
	raftlog_close(log);

	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), 0);
	CHECK_INT_EQ(raftlog_load_vote(log, &term, voted, sizeof(voted)), 0);
	CHECK_INT_EQ(term, 6);
	CHECK_STR_EQ(voted, "");
	raftlog_close(log);

	/* A damaged vote file is refused rather than read as "no vote". */
	snprintf(path, sizeof(path), "%s/vote", dir);
	CHECK((fd = open(path, O_RDWR)) >= 0);
	CHECK_INT_EQ(pwrite(fd, "\x07", 1, 8), 1);
	close(fd);
	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), RAFTLOG_ERR_CORRUPT);
	rm_tree(base);
}

struct big_check {
	const unsigned char *want;
	size_t want_len;
	size_t len;
	int same;
};

static int
big_check_cb(const struct raftlog_entry *e, void *arg)
{
	struct big_check *c = arg;

	c->len = e->len;
	c->same = e->len == c->want_len && memcmp(e->data, c->want, e->len) == 0;
	return 0;
}

UNIT_TEST(large_entries_span_the_write_buffer_and_segment_size)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG, .write_buffer_size = 4096 };
	char base[64], dir[80];
	struct raftlog *log;
	size_t big = 100000;
	unsigned char *data = malloc(big);

	CHECK(data != NULL);
	for (size_t i = 0; i < big; i++)
		data[i] = (unsigned char)(i * 31 + 7);
	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 3, 1, 3), 0);
	struct raftlog_entry e = { .index = 4, .term = 1, .data = data, .len = big };
	CHECK_INT_EQ(raftlog_append(log, &e, 1), 0);
	CHECK_INT_EQ(append_range(log, 5, 8, 1, 3), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);

	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 8);
	CHECK_INT_EQ(verify_range(log, 1, 3, term_one), 0);
	CHECK_INT_EQ(verify_range(log, 5, 8, term_one), 0);
	struct big_check got = { data, big, 0, 0 };
	int rc = raftlog_read(log, 4, 4, big_check_cb, &got);
	CHECK_INT_EQ(rc, 0);
	CHECK_INT_EQ(got.len, big);
	CHECK(got.same);
	raftlog_close(log);
	free(data);
	rm_tree(base);
}

static int
stop_after_three_cb(const struct raftlog_entry *e, void *arg)
{
	uint64_t *seen = arg;
	(void)e;
	return ++*seen == 3 ? 7 : 0;
}

UNIT_TEST(read_stops_when_the_callback_returns_nonzero)
{
	char base[64], dir[80];
	struct raftlog *log;
	uint64_t seen = 0;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 10, 1, 10), 0);
	CHECK_INT_EQ(raftlog_read(log, 2, 10, stop_after_three_cb, &seen), 7);
	CHECK_INT_EQ(seen, 3);
	raftlog_close(log);
	rm_tree(base);
}

static void *
sync_thread(void *arg)
{
	static int rc;
	rc = raftlog_sync(arg);
	return &rc;
}

UNIT_TEST(sync_may_run_on_a_second_thread)
{
	char base[64], dir[80];
	struct raftlog *log;
	pthread_t t;
	void *res;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 100, 1, 20), 0);
	CHECK_INT_EQ(pthread_create(&t, NULL, sync_thread, log), 0);
	CHECK_INT_EQ(pthread_join(t, &res), 0);
	CHECK_INT_EQ(*(int *)res, 0);
	raftlog_close(log);
	CHECK_INT_EQ(raftlog_open(dir, NULL, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 100);
	raftlog_close(log);
	rm_tree(base);
}

/* The model for the randomized test: the term of every index ever in the log. */
static uint64_t model_terms[20000];

static uint64_t
term_model(uint64_t index)
{
	return model_terms[index];
}

static uint64_t model_rng;

static uint32_t
model_rand(uint32_t n)
{
	model_rng ^= model_rng >> 12;
	model_rng ^= model_rng << 25;
	model_rng ^= model_rng >> 27;
	return (uint32_t)((model_rng * 0x2545F4914F6CDD1Dull) >> 33) % n;
}

UNIT_TEST(random_operations_match_a_model_across_reopens)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG, .write_buffer_size = 4096 };
	uint64_t seed = (uint64_t)time(NULL), last = 0, snap = 0, snap_term = 0, term = 1, t;
	char base[64], dir[80];
	struct raftlog *log;

	if (getenv("RAFTLOG_SEED") != NULL)
		seed = strtoull(getenv("RAFTLOG_SEED"), NULL, 10);
	model_rng = seed | 1;
	printf("    seed %" PRIu64 " (set RAFTLOG_SEED to repeat)\n", seed);
	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	for (int step = 0; step < 3000; step++) {
		uint32_t op = model_rand(100);
		if (op < 55 && last < 19000) {
			uint64_t k = 1 + model_rand(30);
			if (model_rand(10) == 0)
				term++;
			CHECK_INT_EQ(append_range(log, last + 1, last + k, term, 1 + model_rand(20)), 0);
			for (uint64_t i = last + 1; i <= last + k; i++)
				model_terms[i] = term;
			last += k;
		} else if (op < 70) {
			CHECK_INT_EQ(raftlog_sync(log), 0);
		} else if (op < 80 && last > snap) {
			uint64_t from = snap + 1 + model_rand((uint32_t)(last - snap + 1));
			term++;
			CHECK_INT_EQ(raftlog_truncate_suffix(log, from), 0);
			if (from <= last)
				last = from - 1;
		} else if (op < 86 && last > snap) {
			/* Local snapshot and compaction, keeping a random tail. */
			uint64_t at = snap + 1 + model_rand((uint32_t)(last - snap));
			uint64_t keep = model_rand(40);
			CHECK_INT_EQ(raftlog_set_snapshot(log, at, model_terms[at]), 0);
			snap = at;
			snap_term = model_terms[at];
			CHECK_INT_EQ(raftlog_truncate_prefix(log, at + 1 > keep ? at + 1 - keep : 1), 0);
		} else if (op < 88 && last < 18900) {
			/* A leader's snapshot from beyond our log replaces it. */
			uint64_t at = last + 1 + model_rand(50);
			term++;
			CHECK_INT_EQ(raftlog_set_snapshot(log, at, term), 0);
			snap = last = at;
			snap_term = model_terms[at] = term;
		} else if (op < 95) {
			CHECK_INT_EQ(raftlog_sync(log), 0);
			raftlog_close(log);
			CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
		}
		/* Invariants after every step. */
		CHECK_INT_EQ(raftlog_last_index(log), last);
		uint64_t first = raftlog_first_index(log);
		if (last > snap) {
			CHECK(first >= 1 && first <= snap + 1);
		} else {
			CHECK(first == 0 || first <= snap + 1);
		}
		CHECK_INT_EQ(raftlog_term_at(log, snap, &t), 0);
		CHECK_INT_EQ(t, snap == 0 ? 0 : snap_term);
		if (last > snap) {
			uint64_t i = snap + 1 + model_rand((uint32_t)(last - snap));
			CHECK_INT_EQ(raftlog_term_at(log, i, &t), 0);
			CHECK_INT_EQ(t, model_terms[i]);
		}
		if (step % 50 == 0 && first != 0)
			CHECK_INT_EQ(verify_range(log, first, last, term_model), 0);
	}
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), last);
	if (raftlog_first_index(log) != 0)
		CHECK_INT_EQ(verify_range(log, raftlog_first_index(log), last, term_model), 0);
	raftlog_close(log);
	rm_tree(base);
}

static double
now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

UNIT_TEST(throughput_of_grouped_appends_is_reported)
{
	struct raftlog_options opts = { .segment_size = 8 * 1024 * 1024 };
	enum { BATCH = 100, SYNCS = 200, SIZE = 100 };
	static unsigned char data[BATCH][SIZE];
	struct raftlog_entry es[BATCH];
	char base[64], dir[80];
	struct raftlog *log;
	uint64_t index = 1;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	double t0 = now_seconds();
	for (int s = 0; s < SYNCS; s++) {
		for (int i = 0; i < BATCH; i++, index++)
			es[i] = (struct raftlog_entry){ .index = index, .term = 1,
			    .data = data[i], .len = SIZE };
		CHECK_INT_EQ(raftlog_append(log, es, BATCH), 0);
		CHECK_INT_EQ(raftlog_sync(log), 0);
	}
	double dt = now_seconds() - t0;
	printf("    %d entries of %d bytes in %d syncs: %.0f entries/s, %.0f syncs/s\n",
	    BATCH * SYNCS, SIZE, SYNCS, BATCH * SYNCS / dt, SYNCS / dt);
	raftlog_close(log);

	t0 = now_seconds();
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	printf("    reopen and verify of %" PRIu64 " entries: %.3f s\n",
	    raftlog_last_index(log), now_seconds() - t0);
	CHECK_INT_EQ(raftlog_last_index(log), BATCH * SYNCS);
	raftlog_close(log);
	rm_tree(base);
}

static int
count_suffixed(const char *dir, const char *suffix)
{
	return count_named(dir, NULL, suffix);
}

UNIT_TEST(removed_segments_leave_the_disk_soon_and_leftover_trash_goes_at_open)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG };
	char base[64], dir[80], junk[128];
	struct raftlog *log;
	int fd, before;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 400, 1, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	before = count_segments(dir);
	CHECK_INT_EQ(raftlog_set_snapshot(log, 300, 1), 0);
	CHECK_INT_EQ(raftlog_truncate_prefix(log, 301), 0);
	/* At once: the segments are gone from the log's own listing. */
	CHECK(count_segments(dir) < before);
	CHECK_INT_EQ(verify_range(log, raftlog_first_index(log), 400, term_one), 0);
	/* Soon: their files are gone from the disk too. */
	for (int i = 0; i < 200 && count_suffixed(dir, ".trash") > 0; i++)
		usleep(10 * 1000);
	CHECK_INT_EQ(count_suffixed(dir, ".trash"), 0);
	raftlog_close(log);

	/* A crash between the rename and the delete leaves trash: the next open clears it,
	 * and it is never taken for a segment. */
	snprintf(junk, sizeof(junk), "%s/00000000000000000001.seg.trash", dir);
	CHECK((fd = open(junk, O_WRONLY | O_CREAT, 0644)) >= 0);
	CHECK(write(fd, "not a segment", 13) == 13);
	close(fd);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 400);
	for (int i = 0; i < 200 && count_suffixed(dir, ".trash") > 0; i++)
		usleep(10 * 1000);
	CHECK_INT_EQ(count_suffixed(dir, ".trash"), 0);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_MAIN()
