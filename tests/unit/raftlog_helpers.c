/* Helpers for the raftlog and snapshot store unit tests (raftlog_helpers.h). */
#include "raftlog_helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/* A fresh directory; the log lives in DIR/raft (so raftlog_open must create it). */
void
tmpdir(char *base, char *logdir)
{
	strcpy(base, "/tmp/raftlog-test.XXXXXX");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	sprintf(logdir, "%s/raft", base);
}

void
rm_tree(const char *base)
{
	char logdir[256], path[512];
	struct dirent *de;
	DIR *d;

	snprintf(logdir, sizeof(logdir), "%s/raft", base);
	if ((d = opendir(logdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", logdir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(logdir);
	rmdir(base);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Segment file names in dir, ascending; returns how many. */
int
list_segments(const char *dir, char names[][32], int max)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && l < 32 && strcmp(de->d_name + l - 4, ".seg") == 0 && n < max)
			memcpy(names[n++], de->d_name, l + 1);
	}
	closedir(d);
	qsort(names, (size_t)n, 32, cmp_name);
	return n;
}

int
count_segments(const char *dir)
{
	char names[256][32];
	return list_segments(dir, names, 256);
}

off_t
file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Deterministic content for entry (index, term): length 1..300. */
size_t
entry_len(uint64_t index)
{
	return 1 + (size_t)((index * 37) % 300);
}

void
entry_fill(unsigned char *buf, uint64_t index, uint64_t term)
{
	size_t n = entry_len(index);
	for (size_t k = 0; k < n; k++)
		buf[k] = (unsigned char)(index * 13 + term * 101 + k * 7);
}

/* Appends [from, to] with the given term, batch entries per call. */
int
append_range(struct raftlog *log, uint64_t from, uint64_t to, uint64_t term, size_t batch)
{
	static unsigned char bufs[64][512];
	struct raftlog_entry es[64];

	if (batch > 64)
		batch = 64;
	for (uint64_t i = from; i <= to;) {
		size_t n = 0;
		for (; n < batch && i <= to; n++, i++) {
			entry_fill(bufs[n], i, term);
			es[n] = (struct raftlog_entry){ .index = i, .term = term,
			    .type = (uint8_t)(i % 3), .data = bufs[n], .len = entry_len(i) };
		}
		int rc = raftlog_append(log, es, n);
		if (rc != 0)
			return rc;
	}
	return 0;
}

uint64_t
term_split_6000(uint64_t index)
{
	return index < 6000 ? 1 : 2;
}

uint64_t
term_one(uint64_t index)
{
	(void)index;
	return 1;
}

int
verify_cb(const struct raftlog_entry *e, void *arg)
{
	struct verify *v = arg;
	unsigned char want[512];
	uint64_t term = v->term_of(e->index);

	if (e->index != v->next || e->term != term || e->type != e->index % 3 ||
	    e->len != entry_len(e->index))
		return 1000;
	entry_fill(want, e->index, term);
	if (memcmp(want, e->data, e->len) != 0)
		return 1001;
	v->next++;
	v->count++;
	return 0;
}

/* Reads [from, to] and checks every entry's content; returns the read's result. */
int
verify_range(struct raftlog *log, uint64_t from, uint64_t to, uint64_t (*term_of)(uint64_t))
{
	struct verify v = { from, term_of, 0 };
	int rc = raftlog_read(log, from, to, verify_cb, &v);
	if (rc == 0 && v.count != to - from + 1)
		return 1002;
	return rc;
}

/* Entries of dir whose name starts with prefix (if given) and ends with suffix (if given). */
int
count_named(const char *dir, const char *prefix, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), sl = suffix ? strlen(suffix) : 0;

		n += (prefix == NULL || strncmp(de->d_name, prefix, strlen(prefix)) == 0) &&
		    (suffix == NULL || (l > sl && strcmp(de->d_name + l - sl, suffix) == 0));
	}
	closedir(d);
	return n;
}

__attribute__((constructor)) static void
quiet_logs(void)
{
	log_init("test_raftlog", LOG_LEVEL_WARN);
}
