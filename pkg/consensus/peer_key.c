/*
 * Reading the cluster key file given with -cluster-key: 32 raw bytes, or 64 hex digits
 * with an optional trailing newline (what `openssl rand -hex 32 > key` writes).
 */
#include "peer_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/log.h"

int
peer_load_key(const char *path, unsigned char key[32], char *err, size_t errlen)
{
	unsigned char buf[80];
	struct stat st;
	ssize_t n;
	size_t len = 0, hexlen;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cluster key %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cluster key %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_warnx("cluster key %s is accessible by group or others (mode %03o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
	/* Read one byte more than any valid file holds, to notice longer files. */
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cluster key %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len == 32) {
		memcpy(key, buf, 32);
		sodium_memzero(buf, sizeof(buf));
		return 0;
	}
	hexlen = len;
	if (hexlen > 0 && buf[hexlen - 1] == '\n')
		hexlen--;
	if (hexlen > 0 && buf[hexlen - 1] == '\r')
		hexlen--;
	if (hexlen == 64) {
		size_t bin_len = 0;
		const char *end = NULL;
		if (sodium_hex2bin(key, 32, (const char *)buf, 64, NULL, &bin_len, &end) == 0 &&
		    bin_len == 32 && end == (const char *)buf + 64) {
			sodium_memzero(buf, sizeof(buf));
			return 0;
		}
	}
	sodium_memzero(buf, sizeof(buf));
	snprintf(err, errlen, "cluster key %s: must hold exactly 32 bytes or 64 hex digits "
	    "(got %zu%s bytes)", path, len, len >= sizeof(buf) ? " or more" : "");
	return -1;
}
