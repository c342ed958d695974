/*
 * Small record files (the vote, the snapshot marker) that must never be seen half
 * written: the new content goes to NAME.tmp, is fsynced, renamed over NAME and the
 * directory is fsynced. Layout: u32 magic, u32 payload length, payload, u32 CRC32C of all
 * the bytes before it. A leftover NAME.tmp (crash before the rename) is never read.
 */
#include "raftlog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"

#define RL_RECORD_MAX 4096

static int
rl_record_fail(const char *what, const char *name, int fd)
{
	int saved = errno;

	log_warn("raftlog: %s %s", what, name);
	if (fd >= 0)
		close(fd);
	errno = saved;
	return RAFTLOG_ERR_IO;
}

int
rl_record_write(int dirfd, const char *name, uint32_t magic, const void *payload, size_t len)
{
	unsigned char buf[RL_RECORD_MAX];
	char tmp[64];
	size_t n = 8 + len + 4;
	int fd;

	if (n > sizeof(buf))
		return RAFTLOG_ERR_INVAL;
	rl_put32(buf, magic);
	rl_put32(buf + 4, (uint32_t)len);
	if (len > 0)
		memcpy(buf + 8, payload, len);
	rl_put32(buf + 8 + len, crc32c(0, buf, 8 + len));

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return rl_record_fail("create", tmp, -1);
	if (rl_write_all(fd, buf, n, 0) == -1)
		return rl_record_fail("write", tmp, fd);
	if (fsync(fd) == -1)
		return rl_record_fail("fsync", tmp, fd);
	if (close(fd) == -1)
		return rl_record_fail("close", tmp, -1);
	if (renameat(dirfd, tmp, dirfd, name) == -1)
		return rl_record_fail("rename to", name, -1);
	if (fsync(dirfd) == -1)
		return rl_record_fail("fsync directory for", name, -1);
	return 0;
}

int
rl_record_read(int dirfd, const char *name, uint32_t magic, void *payload, size_t cap,
    size_t *len)
{
	unsigned char buf[RL_RECORD_MAX + 1];
	size_t n = 0;
	ssize_t r;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 1;
		return rl_record_fail("open", name, -1);
	}
	while (n < sizeof(buf)) {
		r = pread(fd, buf + n, sizeof(buf) - n, (off_t)n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return rl_record_fail("read", name, fd);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);

	if (n < 12 || rl_get32(buf) != magic) {
		log_warnx("raftlog: %s: bad header (%zu bytes)", name, n);
		return RAFTLOG_ERR_CORRUPT;
	}
	size_t plen = rl_get32(buf + 4);
	if (plen > cap || 8 + plen + 4 != n ||
	    rl_get32(buf + 8 + plen) != crc32c(0, buf, 8 + plen)) {
		log_warnx("raftlog: %s: bad length or checksum", name);
		return RAFTLOG_ERR_CORRUPT;
	}
	if (plen > 0)
		memcpy(payload, buf + 8, plen);
	*len = plen;
	return 0;
}
