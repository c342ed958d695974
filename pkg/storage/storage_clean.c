/*
 * Fast restart. An orderly stop closes the database (SQLite folds the WAL into the
 * file) and records DATA_DIR/clean_shutdown: the applied index, size and CRC32C of the
 * file. The next start reuses the file when all of them still match, instead of
 * rebuilding it from the snapshot and the log; the record is removed at once, so a crash
 * later never reuses a file it does not describe.
 */
#include "storage_clean.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"

static int
file_crc(const char *path, uint32_t *crc, uint64_t *size)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	*crc = 0;
	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		*crc = crc32c(*crc, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	close(fd);
	return n < 0 ? -1 : 0;
}

int
storage_clean_record(const char *data_dir, const char *db_path, uint64_t applied)
{
	char rec[PATH_MAX], tmp[PATH_MAX + 8];
	uint32_t crc;
	uint64_t size;
	FILE *f;

	snprintf(rec, sizeof(rec), "%s/clean_shutdown", data_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", rec);
	if (file_crc(db_path, &crc, &size) != 0)
		return -1;
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "{\"applied_index\":%" PRIu64 ",\"size\":%" PRIu64 ",\"crc32c\":%" PRIu32 "}\n",
	    applied, size, crc);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, rec) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
storage_clean_take(const char *data_dir, const char *db_path, uint64_t *applied)
{
	char rec[PATH_MAX], wal[PATH_MAX + 8];
	uint64_t idx = 0, size = 0, fsize;
	uint32_t crc = 0, fcrc;
	struct stat st;
	FILE *f;
	int ok;

	snprintf(rec, sizeof(rec), "%s/clean_shutdown", data_dir);
	f = fopen(rec, "r");
	if (f == NULL)
		return 0;
	ok = fscanf(f, "{\"applied_index\":%" SCNu64 ",\"size\":%" SCNu64 ",\"crc32c\":%" SCNu32 "}",
	    &idx, &size, &crc) == 3;
	fclose(f);
	/* One use only: whatever happens next, this record is gone. */
	unlink(rec);
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	if (!ok || idx == 0 || (stat(wal, &st) == 0 && st.st_size > 0) ||
	    file_crc(db_path, &fcrc, &fsize) != 0 || fcrc != crc || fsize != size) {
		log_warnx("database file does not match its clean-shutdown record; rebuilding it");
		return 0;
	}
	*applied = idx;
	return 1;
}
