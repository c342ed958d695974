/*
 * The snapshot store (pkg/raftlog/snapshot_store.c): committing a staged snapshot
 * with the writer's checksum, and pruning old snapshots and what a crash left behind.
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

/* Writes `len` bytes of a fake database into a new staging directory of root. */
static void
stage_db(const char *root, const char *tag, char *tmp_dir, const char *data, size_t len)
{
	char db[SNAPSHOT_PATH_MAX];
	int fd;

	if (snapshot_store_begin(root, tag, tmp_dir, SNAPSHOT_PATH_MAX, db, sizeof(db)) != 0 ||
	    (fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, data, len) != (ssize_t)len) {
		perror("stage a snapshot");
		exit(2);
	}
	close(fd);
}

UNIT_TEST(snapshot_commit_with_the_writers_sum_verifies_like_a_computed_one)
{
	static const char data[] = "SQLite format 3 and some pages";
	char base[64], root[80], tmp[SNAPSHOT_PATH_MAX], err[256];
	uint32_t crc = crc32c(0, data, sizeof(data)), bad = crc ^ 1;
	struct snapshot_info si;

	tmpdir(base, root);
	/* The right sum: published and found valid (latest() re-reads the file). */
	stage_db(root, "a", tmp, data, sizeof(data));
	CHECK_INT_EQ(snapshot_store_commit_sum(root, tmp, 10, 2, "cfg", 3, &crc, sizeof(data),
	    NULL, err, sizeof(err)), 0);
	memset(&si, 0, sizeof(si));
	CHECK_INT_EQ(snapshot_store_latest(root, &si), 1);
	CHECK_INT_EQ(si.index, 10);
	CHECK_INT_EQ(si.crc, crc);
	CHECK_INT_EQ(si.size, sizeof(data));
	snapshot_info_free(&si);
	/* A size that disagrees with the file is refused outright. */
	stage_db(root, "b", tmp, data, sizeof(data));
	CHECK_INT_EQ(snapshot_store_commit_sum(root, tmp, 20, 2, "cfg", 3, &crc, sizeof(data) + 1,
	    NULL, err, sizeof(err)), -1);
	/* A wrong sum gets published but never trusted: the newest valid one is still 10. */
	stage_db(root, "c", tmp, data, sizeof(data));
	CHECK_INT_EQ(snapshot_store_commit_sum(root, tmp, 30, 2, "cfg", 3, &bad, sizeof(data),
	    NULL, err, sizeof(err)), 0);
	memset(&si, 0, sizeof(si));
	CHECK_INT_EQ(snapshot_store_latest(root, &si), 1);
	CHECK_INT_EQ(si.index, 10);
	snapshot_info_free(&si);
	rm_tree(base);
}

static int
count_prefixed(const char *dir, const char *prefix)
{
	return count_named(dir, prefix, NULL);
}

UNIT_TEST(prune_keeps_the_newest_snapshot_and_old_ones_and_leftovers_disappear)
{
	static const char data[] = "SQLite format 3 and some pages";
	char base[64], root[80], tmp[SNAPSHOT_PATH_MAX], err[256], junk[SNAPSHOT_PATH_MAX + 16];
	uint32_t crc = crc32c(0, data, sizeof(data));
	struct snapshot_info si;
	int fd;

	tmpdir(base, root);
	for (uint64_t i = 1; i <= 3; i++) {
		char tag[8];

		snprintf(tag, sizeof(tag), "t%d", (int)i);
		stage_db(root, tag, tmp, data, sizeof(data));
		CHECK_INT_EQ(snapshot_store_commit_sum(root, tmp, 10 * i, 2, "cfg", 3, &crc,
		    sizeof(data), NULL, err, sizeof(err)), 0);
	}
	/* What a crash mid-deletion leaves: a trash directory with a file in it. */
	snprintf(junk, sizeof(junk), "%s/trash-00000000000000000001", root);
	CHECK(mkdir(junk, 0755) == 0);
	strcat(junk, "/db.sqlite");
	CHECK((fd = open(junk, O_WRONLY | O_CREAT, 0644)) >= 0);
	close(fd);
	/* And a staging directory a crash left half written. */
	stage_db(root, "dead", tmp, data, 3);

	CHECK_INT_EQ(snapshot_store_count(root), 3);
	CHECK_INT_EQ(snapshot_store_prune(root), 2);
	/* At once: only the newest is listed, and it is whole. */
	CHECK_INT_EQ(snapshot_store_count(root), 1);
	CHECK_INT_EQ(count_prefixed(root, "tmp-"), 0);
	memset(&si, 0, sizeof(si));
	CHECK_INT_EQ(snapshot_store_latest(root, &si), 1);
	CHECK_INT_EQ(si.index, 30);
	snapshot_info_free(&si);
	/* Soon: the deleted ones and the leftovers are gone from the disk too. */
	for (int i = 0; i < 200 && count_prefixed(root, "trash-") > 0; i++)
		usleep(10 * 1000);
	CHECK_INT_EQ(count_prefixed(root, "trash-"), 0);
	CHECK_INT_EQ(count_prefixed(root, ""), 3);	/* ".", ".." and the snapshot */

	/* The same snapshot received again replaces the old copy; the old one goes too. */
	{
		static const char again[] = "SQLite format 3 and other pages";
		uint32_t crc2 = crc32c(0, again, sizeof(again));

		stage_db(root, "again", tmp, again, sizeof(again));
		CHECK_INT_EQ(snapshot_store_commit_sum(root, tmp, 30, 2, "cfg", 3, &crc2,
		    sizeof(again), NULL, err, sizeof(err)), 0);
		memset(&si, 0, sizeof(si));
		CHECK_INT_EQ(snapshot_store_latest(root, &si), 1);
		CHECK_INT_EQ(si.index, 30);
		CHECK_INT_EQ(si.crc, crc2);
		snapshot_info_free(&si);
		for (int i = 0; i < 200 && count_prefixed(root, "trash-") > 0; i++)
			usleep(10 * 1000);
		CHECK_INT_EQ(count_prefixed(root, ""), 3);
	}
	rm_tree(base);
}

UNIT_MAIN()
