/*
 * Request bodies: kept in memory up to GW_BODY_MAX; a /db/load or /boot body may go on
 * to GW_LOAD_MAX, and past GW_BODY_MAX it moves to an unlinked file in the data
 * directory, so a large SQLite file never sits whole in the gateway's memory. Only its
 * first GW_SPOOL_HEAD bytes stay in r->body, for sniffing the format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "gateway_internal.h"

#define GW_SPOOL_HEAD	4096

bool
gw_body_is_load(const struct gw_req *r)
{
	return r->path != NULL && (strcmp(r->path, "/db/load") == 0 || strcmp(r->path, "/boot") == 0);
}

static int
gw_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Moves what is in memory to a new unlinked file and keeps only the head in memory. */
static int
gw_spool_begin(struct gw_req *r)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/load-upload-XXXXXX", gw.opts->data_dir);
	if ((fd = mkstemp(path)) == -1) {
		log_warn("mkstemp %s", path);
		return -1;
	}
	unlink(path);
	if (gw_write_all(fd, r->body, r->body_len) != 0) {
		log_warn("spool a load body");
		close(fd);
		return -1;
	}
	r->spool_fd = fd;
	r->spooled = true;
	if (r->body_len > GW_SPOOL_HEAD) {
		char *head = realloc(r->body, GW_SPOOL_HEAD + 1);
		if (head != NULL) {
			r->body = head;
			r->body_cap = GW_SPOOL_HEAD + 1;
		}
		r->body_len = GW_SPOOL_HEAD;
		r->body[r->body_len] = '\0';
	}
	return 0;
}

static int
gw_body_grow(struct gw_req *r, size_t need)
{
	size_t cap = r->body_cap ? r->body_cap : 4096;
	char *nb;

	if (need <= r->body_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if ((nb = realloc(r->body, cap)) == NULL)
		return -1;
	r->body = nb;
	r->body_cap = cap;
	return 0;
}

int
gw_body_append(struct gw_req *r, const char *data, size_t n)
{
	if (gw_body_is_load(r))
		r->body_crc = crc32c(r->body_crc, data, n);
	r->body_total += n;
	if (!r->spooled && r->body_len + n > GW_BODY_MAX && gw_spool_begin(r) != 0)
		return -1;
	if (r->spooled) {
		if (gw_write_all(r->spool_fd, data, n) != 0) {
			log_warn("spool a load body");
			return -1;
		}
		return 0;
	}
	if (gw_body_grow(r, r->body_len + n + 1) != 0)
		return -1;
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

int
gw_body_read(const struct gw_req *r, uint64_t off, void *buf, size_t n)
{
	if (off + n > r->body_total)
		return -1;
	if (!r->spooled) {
		memcpy(buf, r->body + off, n);
		return 0;
	}
	while (n > 0) {
		ssize_t got = pread(r->spool_fd, buf, n, (off_t)off);
		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			return -1;
		}
		buf = (char *)buf + got;
		off += (uint64_t)got;
		n -= (size_t)got;
	}
	return 0;
}

void
gw_body_release(struct gw_req *r)
{
	if (r->spooled)
		close(r->spool_fd);
	r->spooled = false;
	free(r->body);
	r->body = NULL;
}
