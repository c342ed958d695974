/*
 * Snapshot store on disk (see snapshot_store.h). Meta file layout, little-endian:
 *   "RQSNAP01" | index u64 | term u64 | size u64 | db crc32c u32 | config len u32 |
 *   config bytes | crc32c of everything before u32
 */
#include "snapshot_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "common/trash.h"

#define META_MAGIC "RQSNAP01"
#define META_FIXED (8 + 8 + 8 + 8 + 4 + 4)

/* snprintf into a path buffer; true when it did not fit (a path that long is an error). */
/* What prune and replacement move aside, for a thread to delete (see to_trash). */
#define TRASH_PREFIX "trash-"
#define PATH_FMT(buf, len, ...) ((size_t)snprintf((buf), (len), __VA_ARGS__) >= (size_t)(len))

void
snapshot_info_free(struct snapshot_info *si)
{
	if (si == NULL)
		return;
	free(si->config);
	si->config = NULL;
	si->config_len = 0;
}

static void
put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int
fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	int rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
snapshot_file_sum(const char *path, uint32_t *crc, uint64_t *size)
{
	enum { CHUNK = 1 << 20 };
	char *buf = malloc(CHUNK);	/* not static: storage sums on a helper thread */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = -1;

	*crc = 0;
	*size = 0;
	if (buf != NULL && fd != -1) {
		while ((n = read(fd, buf, CHUNK)) > 0) {
			*crc = crc32c(*crc, buf, (size_t)n);
			*size += (uint64_t)n;
		}
	}
	if (fd != -1)
		close(fd);
	free(buf);
	return n == 0 ? 0 : -1;
}

static int to_trash(const char *root, const char *name);

int
snapshot_store_begin(const char *root, const char *tag, char *tmp_dir, size_t dirlen,
    char *db_path, size_t pathlen)
{
	if (mkdir(root, 0755) == -1 && errno != EEXIST)
		return -1;
	/* A leftover of a crash with the same tag is stale. */
	if (PATH_FMT(tmp_dir, dirlen, "%s/tmp-%s", root, tag) ||
	    PATH_FMT(db_path, pathlen, "%s/db.sqlite", tmp_dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(db_path);
	if (mkdir(tmp_dir, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
snapshot_store_commit(const char *root, const char *tmp_dir, uint64_t index, uint64_t term,
    const void *config, size_t config_len, struct snapshot_info *si, char *err, size_t errlen)
{
	return snapshot_store_commit_sum(root, tmp_dir, index, term, config, config_len, NULL, 0,
	    si, err, errlen);
}

int
snapshot_store_commit_sum(const char *root, const char *tmp_dir, uint64_t index, uint64_t term,
    const void *config, size_t config_len, const uint32_t *known_crc, uint64_t known_size,
    struct snapshot_info *si, char *err, size_t errlen)
{
	char db[SNAPSHOT_PATH_MAX], meta[SNAPSHOT_PATH_MAX], final[SNAPSHOT_PATH_MAX], name[24];
	unsigned char *buf;
	size_t len = META_FIXED + config_len + 4;
	uint32_t crc;
	uint64_t size;
	int fd;

	if (PATH_FMT(db, sizeof(db), "%s/db.sqlite", tmp_dir) ||
	    PATH_FMT(meta, sizeof(meta), "%s/meta", tmp_dir) ||
	    PATH_FMT(name, sizeof(name), "%020" PRIu64, index) ||
	    PATH_FMT(final, sizeof(final), "%s/%s", root, name)) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	if (fsync_path(db, O_RDONLY) == -1) {
		snprintf(err, errlen, "sync %s: %s", db, strerror(errno));
		return -1;
	}
	if (known_crc != NULL) {
		struct stat st;
		/* The writer summed what it wrote; the size still has to agree. */
		if (stat(db, &st) == -1 || (uint64_t)st.st_size != known_size) {
			snprintf(err, errlen, "%s is not the %" PRIu64 " bytes its writer summed", db,
			    known_size);
			return -1;
		}
		crc = *known_crc;
		size = known_size;
	} else if (snapshot_file_sum(db, &crc, &size) == -1) {
		snprintf(err, errlen, "read %s: %s", db, strerror(errno));
		return -1;
	}
	buf = malloc(len);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(buf, META_MAGIC, 8);
	put64(buf + 8, index);
	put64(buf + 16, term);
	put64(buf + 24, size);
	put32(buf + 32, crc);
	put32(buf + 36, (uint32_t)config_len);
	if (config_len > 0)
		memcpy(buf + META_FIXED, config, config_len);
	put32(buf + META_FIXED + config_len, crc32c(0, buf, META_FIXED + config_len));
	fd = open(meta, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, buf, len) != (ssize_t)len || fsync(fd) == -1) {
		snprintf(err, errlen, "write %s: %s", meta, strerror(errno));
		if (fd != -1)
			close(fd);
		free(buf);
		return -1;
	}
	close(fd);
	free(buf);
	/* The same snapshot received again (a transfer repeated after a restart): the new
	 * copy replaces the old one, which goes to the trash like a pruned one. */
	if (access(final, F_OK) == 0 && to_trash(root, name) == 0)
		trash_empty_async(root, TRASH_PREFIX, NULL);
	if (fsync_path(tmp_dir, O_RDONLY | O_DIRECTORY) == -1 ||
	    rename(tmp_dir, final) == -1 || fsync_path(root, O_RDONLY | O_DIRECTORY) == -1) {
		snprintf(err, errlen, "publish snapshot %s: %s", final, strerror(errno));
		return -1;
	}
	if (si != NULL) {
		memset(si, 0, sizeof(*si));
		si->index = index;
		si->term = term;
		si->size = size;
		si->crc = crc;
		if (PATH_FMT(si->dir, sizeof(si->dir), "%s", final) ||
		    PATH_FMT(si->db_path, sizeof(si->db_path), "%s/db.sqlite", final)) {
			snprintf(err, errlen, "path too long");
			return -1;
		}
		if (config_len > 0) {
			si->config = malloc(config_len);
			if (si->config == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			memcpy(si->config, config, config_len);
			si->config_len = config_len;
		}
	}
	return 0;
}

/* Reads and verifies one snapshot directory; 0 valid, -1 not. */
static int
snapshot_load_dir(const char *dir, struct snapshot_info *si)
{
	char meta[SNAPSHOT_PATH_MAX];
	unsigned char *buf = NULL;
	struct stat st;
	uint32_t crc, clen;
	uint64_t size;
	int fd;

	memset(si, 0, sizeof(*si));
	if (PATH_FMT(meta, sizeof(meta), "%s/meta", dir))
		return -1;
	fd = open(meta, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || st.st_size < META_FIXED + 4 || st.st_size > (1 << 24) ||
	    (buf = malloc((size_t)st.st_size)) == NULL ||
	    read(fd, buf, (size_t)st.st_size) != st.st_size) {
		close(fd);
		free(buf);
		return -1;
	}
	close(fd);
	clen = get32(buf + 36);
	if (memcmp(buf, META_MAGIC, 8) != 0 || (uint64_t)META_FIXED + clen + 4 != (uint64_t)st.st_size ||
	    get32(buf + META_FIXED + clen) != crc32c(0, buf, META_FIXED + clen)) {
		log_warnx("snapshot %s: meta does not verify", dir);
		free(buf);
		return -1;
	}
	si->index = get64(buf + 8);
	si->term = get64(buf + 16);
	si->size = get64(buf + 24);
	si->crc = get32(buf + 32);
	if (PATH_FMT(si->dir, sizeof(si->dir), "%s", dir) ||
	    PATH_FMT(si->db_path, sizeof(si->db_path), "%s/db.sqlite", dir)) {
		free(buf);
		return -1;
	}
	if (snapshot_file_sum(si->db_path, &crc, &size) == -1 || crc != si->crc || size != si->size) {
		log_warnx("snapshot %s: database does not verify", dir);
		free(buf);
		return -1;
	}
	if (clen > 0) {
		si->config = malloc(clen);
		if (si->config == NULL) {
			free(buf);
			return -1;
		}
		memcpy(si->config, buf + META_FIXED, clen);
		si->config_len = clen;
	}
	free(buf);
	return 0;
}

/* Published snapshot directory names, newest (highest index) first. */
static int
snapshot_list(const char *root, char ***names_out)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char **names = NULL;
	int n = 0;

	*names_out = NULL;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		char **nn;
		if (strlen(de->d_name) != 20 || strspn(de->d_name, "0123456789") != 20)
			continue;
		nn = realloc(names, (size_t)(n + 1) * sizeof(*names));
		if (nn == NULL)
			break;
		names = nn;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	/* Fixed-width names sort numerically; newest first. */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) < 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	*names_out = names;
	return n;
}

static void
snapshot_list_free(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
snapshot_store_latest(const char *root, struct snapshot_info *si)
{
	char **names, dir[SNAPSHOT_PATH_MAX];
	int n = snapshot_list(root, &names), found = 0;

	if (n < 0)
		return -1;
	for (int i = 0; i < n && !found; i++) {
		if (PATH_FMT(dir, sizeof(dir), "%s/%s", root, names[i]))
			continue;
		if (snapshot_load_dir(dir, si) == 0)
			found = 1;
		else
			snapshot_info_free(si);
	}
	snapshot_list_free(names, n);
	return found;
}

/*
 * Deleting a snapshot of a large database takes tens of milliseconds of unlink,
 * measured at 31 ms for 55 MB here; in the consensus loop that stalled every request.
 * So prune only renames what goes to "trash-<name>", which is instant and ignored by
 * everything that lists snapshots, and a detached thread deletes the trash
 * (common/trash.h). Trash a crash leaves behind is deleted by the next prune.
 */
/* Moves root/name to the trash; 0 on success. */
static int
to_trash(const char *root, const char *name)
{
	char from[SNAPSHOT_PATH_MAX], to[SNAPSHOT_PATH_MAX];

	if (PATH_FMT(from, sizeof(from), "%s/%s", root, name) ||
	    PATH_FMT(to, sizeof(to), "%s/" TRASH_PREFIX "%s", root, name))
		return -1;
	if (rename(from, to) == 0)
		return 0;
	/* A trash entry of that name is left from before: delete it here, then retry. */
	if (errno == ENOTEMPTY || errno == EEXIST) {
		trash_remove_now(to);
		return rename(from, to);
	}
	return -1;
}

int
snapshot_store_prune(const char *root)
{
	char **names, dir[SNAPSHOT_PATH_MAX];
	int n = snapshot_list(root, &names), removed = 0, kept = 0, trash = 0;
	DIR *d;
	struct dirent *de;

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		struct snapshot_info si;
		memset(&si, 0, sizeof(si));
		if (PATH_FMT(dir, sizeof(dir), "%s/%s", root, names[i]))
			continue;
		if (!kept && snapshot_load_dir(dir, &si) == 0) {
			kept = 1;	/* the newest valid one stays */
			snapshot_info_free(&si);
			continue;
		}
		snapshot_info_free(&si);
		if (kept && to_trash(root, names[i]) == 0)
			removed++;
	}
	snapshot_list_free(names, n);
	d = opendir(root);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "tmp-", 4) == 0)
				(void)to_trash(root, de->d_name);
			if (strncmp(de->d_name, TRASH_PREFIX, strlen(TRASH_PREFIX)) == 0)
				trash = 1;
		}
		closedir(d);
	}
	(void)fsync_path(root, O_RDONLY | O_DIRECTORY);
	if (removed > 0 || trash)
		trash_empty_async(root, TRASH_PREFIX, NULL);
	return removed;
}

int
snapshot_store_count(const char *root)
{
	char **names;
	int n = snapshot_list(root, &names);

	if (n > 0)
		snapshot_list_free(names, n);
	return n;
}

int
snapshot_store_names(const char *root, char ***names)
{
	int n = snapshot_list(root, names);

	if (n <= 0)
		*names = NULL;
	return n < 0 ? 0 : n;
}

void
snapshot_store_names_free(char **names, int n)
{
	if (names != NULL)
		snapshot_list_free(names, n);
}
