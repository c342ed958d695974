/*
 * Emptying trash on a detached thread (see trash.h).
 */
#include "common/trash.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct trash_job {
	char *dir, *prefix, *suffix;
};

static int
trash_matches(const char *name, const char *prefix, const char *suffix)
{
	size_t n = strlen(name);

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	if (prefix != NULL && strncmp(name, prefix, strlen(prefix)) == 0)
		return 1;
	return suffix != NULL && n > strlen(suffix) && strcmp(name + n - strlen(suffix), suffix) == 0;
}

/* Unlinks name in dirfd; a directory is emptied (one level) and removed. */
static void
trash_remove(int dirfd, const char *name)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (unlinkat(dirfd, name, 0) == 0)
		return;
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			(void)unlinkat(fd, de->d_name, 0);
	closedir(d);
	(void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

void
trash_remove_now(const char *path)
{
	trash_remove(AT_FDCWD, path);
}

void
trash_empty(const char *dir, const char *prefix, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (trash_matches(de->d_name, prefix, suffix))
			trash_remove(dirfd(d), de->d_name);
	closedir(d);
}

static void
trash_job_free(struct trash_job *j)
{
	free(j->dir);
	free(j->prefix);
	free(j->suffix);
	free(j);
}

static void *
trash_thread(void *arg)
{
	struct trash_job *j = arg;

	trash_empty(j->dir, j->prefix, j->suffix);
	trash_job_free(j);
	return NULL;
}

void
trash_empty_async(const char *dir, const char *prefix, const char *suffix)
{
	struct trash_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	int rc = -1;

	if (j == NULL || (j->dir = strdup(dir)) == NULL ||
	    (prefix != NULL && (j->prefix = strdup(prefix)) == NULL) ||
	    (suffix != NULL && (j->suffix = strdup(suffix)) == NULL)) {
		if (j != NULL)
			trash_job_free(j);
		trash_empty(dir, prefix, suffix);
		return;
	}
	if (pthread_attr_init(&attr) == 0) {
		(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		rc = pthread_create(&t, &attr, trash_thread, j);
		pthread_attr_destroy(&attr);
	}
	if (rc != 0)
		trash_thread(j);
}
