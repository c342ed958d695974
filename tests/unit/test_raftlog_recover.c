/*
 * Opening a Raft log after a crash (pkg/raftlog/recover.c): a torn tail is cut at the
 * last valid checksum, corruption mid-log ends the log there, and the zeros of a
 * preallocated tail or a segment created but never written are no entries.
 * Each test works in its own directory under /tmp/raftlog-test.XXXXXX.
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

UNIT_TEST(torn_tail_is_cut_at_last_valid_checksum)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG, .no_preallocate = 1 };
	char base[64], dir[80], names[64][32], path[256];
	struct raftlog *log;
	int fd;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 100, 1, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);

	/* Half-written last entry: the file ends 5 bytes into entry 100's data. */
	int n = list_segments(dir, names, 64);
	CHECK(n >= 3);
	snprintf(path, sizeof(path), "%s/%.31s", dir, names[n - 1]);
	off_t size = file_size(path);
	CHECK_INT_EQ(truncate(path, size - 5), 0);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 99);
	CHECK_INT_EQ(verify_range(log, 1, 99, term_one), 0);
	/* The cut is physical: the file now ends after entry 99. */
	CHECK_INT_EQ(file_size(path), size - 32 - (off_t)entry_len(100));
	CHECK_INT_EQ(append_range(log, 100, 100, 1, 1), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);

	/* A flipped byte in entry 98's data: 98 and everything after it go. */
	size = file_size(path);
	off_t off98 = size - 2 * 32 - (off_t)entry_len(100) - (off_t)entry_len(99) -
	    (off_t)entry_len(98);
	unsigned char b;
	CHECK((fd = open(path, O_RDWR)) >= 0);
	CHECK_INT_EQ(pread(fd, &b, 1, off98), 1);
	b ^= 0x20;
	CHECK_INT_EQ(pwrite(fd, &b, 1, off98), 1);
	close(fd);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 97);
	CHECK_INT_EQ(verify_range(log, 1, 97, term_one), 0);
	raftlog_close(log);

	/* A partial header (a few bytes past the last entry) is cut too. */
	CHECK((fd = open(path, O_RDWR | O_APPEND)) >= 0);
	CHECK_INT_EQ(write(fd, "\x07\x00\x00\x00\x01", 5), 5);
	close(fd);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 97);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(corruption_mid_log_ends_the_log_and_removes_later_segments)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG };
	char base[64], dir[80], names[64][32], path[256];
	struct raftlog *log;
	int fd;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 200, 1, 20), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	int n = list_segments(dir, names, 64);
	CHECK(n >= 4);

	/* Damage the header of the second entry of the second segment. */
	uint64_t first = strtoull(names[1], NULL, 10);
	snprintf(path, sizeof(path), "%s/%.31s", dir, names[1]);
	off_t off = 32 + 32 + (off_t)entry_len(first) + 10;	/* inside its index field */
	CHECK((fd = open(path, O_RDWR)) >= 0);
	CHECK_INT_EQ(pwrite(fd, "\xff", 1, off), 1);
	close(fd);

	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), first);
	CHECK_INT_EQ(verify_range(log, 1, first, term_one), 0);
	CHECK_INT_EQ(count_segments(dir), 2);
	/* Raft re-replicates: appending resumes right after the cut. */
	CHECK_INT_EQ(append_range(log, first + 1, 200, 1, 20), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 200);
	CHECK_INT_EQ(verify_range(log, 1, 200, term_one), 0);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(zero_filled_preallocated_tail_is_not_an_entry)
{
	struct raftlog_options opts = { .segment_size = 64 * 1024 };
	char base[64], dir[80], names[4][32], path[256];
	unsigned char zeros[512] = { 0 }, junk[16];
	struct raftlog *log;
	int fd;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 10, 1, 10), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	CHECK_INT_EQ(list_segments(dir, names, 4), 1);
	snprintf(path, sizeof(path), "%s/%.31s", dir, names[0]);
	CHECK_INT_EQ(file_size(path), 64 * 1024);

	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 10);
	raftlog_close(log);

	/* Entry 10 was never written (its blocks still read as zeros). */
	off_t end = 32;
	for (uint64_t i = 1; i <= 10; i++)
		end += 32 + (off_t)entry_len(i);
	off_t off10 = end - 32 - (off_t)entry_len(10);
	CHECK((fd = open(path, O_RDWR)) >= 0);
	CHECK_INT_EQ(pwrite(fd, zeros, (size_t)(end - off10), off10), end - off10);
	/* Stray bytes far into the preallocated space are damage: cut and zeroed again. */
	memset(junk, 0xab, sizeof(junk));
	CHECK_INT_EQ(pwrite(fd, junk, sizeof(junk), 40000), (ssize_t)sizeof(junk));
	close(fd);

	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 9);
	CHECK_INT_EQ(verify_range(log, 1, 9, term_one), 0);
	CHECK_INT_EQ(file_size(path), 64 * 1024);
	CHECK((fd = open(path, O_RDONLY)) >= 0);
	CHECK_INT_EQ(pread(fd, junk, sizeof(junk), 40000), (ssize_t)sizeof(junk));
	close(fd);
	CHECK(memcmp(junk, zeros, sizeof(junk)) == 0);
	CHECK_INT_EQ(append_range(log, 10, 12, 1, 3), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 12);
	CHECK_INT_EQ(verify_range(log, 1, 12, term_one), 0);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_TEST(segment_created_but_never_written_is_dropped)
{
	struct raftlog_options opts = { .segment_size = SMALL_SEG };
	char base[64], dir[80], path[256];
	struct raftlog *log;
	int fd;

	tmpdir(base, dir);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(append_range(log, 1, 5, 1, 5), 0);
	CHECK_INT_EQ(raftlog_sync(log), 0);
	raftlog_close(log);
	/* A crash right after creating (and preallocating) the next segment. */
	snprintf(path, sizeof(path), "%s/%020d.seg", dir, 6);
	CHECK((fd = open(path, O_RDWR | O_CREAT, 0644)) >= 0);
	CHECK_INT_EQ(ftruncate(fd, SMALL_SEG), 0);
	close(fd);
	CHECK_INT_EQ(raftlog_open(dir, &opts, &log), 0);
	CHECK_INT_EQ(raftlog_last_index(log), 5);
	CHECK_INT_EQ(count_segments(dir), 1);
	raftlog_close(log);
	rm_tree(base);
}

UNIT_MAIN()
