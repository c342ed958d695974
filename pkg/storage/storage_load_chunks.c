/*
 * Staging a SQLite file that arrives as LOAD_CHUNK log entries, then loading it
 * (storage_load_chunks.h has the rules that keep every node's decision the same).
 *
 * The staging file is not fsynced: after a crash the database is rebuilt from a
 * snapshot taken outside any sequence, and the log replays the sequence from its first
 * chunk, rewriting the file.
 */
#include "storage_load_chunks.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "storage_backup.h"
#include "storage_load.h"

static struct {
	bool open;
	int fd;
	uint64_t id, next_seq, off, size, last_index;
	uint32_t want_crc, crc;
	char path[PATH_MAX];
} lc = { .fd = -1 };

static void
lc_close(const char *why)
{
	if (!lc.open)
		return;
	if (why != NULL)
		log_warnx("chunked load %" PRIu64 " abandoned at %" PRIu64 " of %" PRIu64 " bytes: %s",
		    lc.id, lc.off, lc.size, why);
	close(lc.fd);
	unlink(lc.path);
	lc.fd = -1;
	lc.open = false;
}

/* The value under key when it has the given type, else NULL. */
static const msgpack_object *
lc_get(const msgpack_object *map, const char *key, msgpack_object_type type)
{
	const msgpack_object *v = storage_map_get(map, key);

	return v != NULL && v->type == type ? v : NULL;
}

static void
lc_result(msgpack_packer *pk, const char *e)
{
	msgpack_pack_map(pk, e != NULL ? 2 : 1);
	msgpack_pack_str_with_body(pk, "r", 1);
	msgpack_pack_array(pk, 0);
	if (e != NULL) {
		msgpack_pack_str_with_body(pk, "e", 1);
		msgpack_pack_str_with_body(pk, e, strlen(e));
	}
}

/* Opens a new staging file for sequence id; false (with the result packed) on failure. */
static bool
lc_begin(const char *data_dir, uint64_t id, uint64_t size, uint32_t crc, msgpack_packer *pk)
{
	if (lc.open)
		lc_close("a new load started");
	snprintf(lc.path, sizeof(lc.path), "%s/load-chunks.part", data_dir);
	lc.fd = open(lc.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (lc.fd == -1) {
		log_warn("open %s", lc.path);
		lc_result(pk, "the load failed: cannot stage the file");
		return false;
	}
	lc.open = true;
	lc.id = id;
	lc.next_seq = 0;
	lc.off = 0;
	lc.size = size;
	lc.want_crc = crc;
	lc.crc = 0;
	return true;
}

void
storage_apply_load_chunk(struct storage_db *db, const char *data_dir, uint64_t index,
    const char *cmd, size_t len, msgpack_packer *pk)
{
	const msgpack_object *id, *seq, *off, *sz, *crc, *last, *d;
	msgpack_unpacked un;
	size_t pos = 0;
	char err[512];

	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, cmd, len, &pos) != MSGPACK_UNPACK_SUCCESS ||
	    un.data.type != MSGPACK_OBJECT_MAP ||
	    (id = lc_get(&un.data, "id", MSGPACK_OBJECT_POSITIVE_INTEGER)) == NULL ||
	    (seq = lc_get(&un.data, "seq", MSGPACK_OBJECT_POSITIVE_INTEGER)) == NULL ||
	    (off = lc_get(&un.data, "off", MSGPACK_OBJECT_POSITIVE_INTEGER)) == NULL ||
	    (sz = lc_get(&un.data, "sz", MSGPACK_OBJECT_POSITIVE_INTEGER)) == NULL ||
	    (crc = lc_get(&un.data, "crc", MSGPACK_OBJECT_POSITIVE_INTEGER)) == NULL ||
	    (last = lc_get(&un.data, "last", MSGPACK_OBJECT_BOOLEAN)) == NULL ||
	    (d = lc_get(&un.data, "d", MSGPACK_OBJECT_BIN)) == NULL) {
		lc_result(pk, "malformed load command");
		goto out;
	}
	if (seq->via.u64 == 0 && !lc_begin(data_dir, id->via.u64, sz->via.u64,
	    (uint32_t)crc->via.u64, pk))
		goto out;
	if (!lc.open || id->via.u64 != lc.id || seq->via.u64 != lc.next_seq ||
	    off->via.u64 != lc.off || sz->via.u64 != lc.size ||
	    lc.off + d->via.bin.size > lc.size) {
		/* Its earlier chunks were not applied here (the sequence was abandoned or
		 * replaced): the whole load fails alike on every node. */
		lc_close("a chunk out of sequence");
		lc_result(pk, "the load failed: chunk out of sequence");
		goto out;
	}
	if (pwrite(lc.fd, d->via.bin.ptr, d->via.bin.size, (off_t)lc.off) !=
	    (ssize_t)d->via.bin.size) {
		log_warn("write %s", lc.path);
		lc_close("cannot write the staging file");
		lc_result(pk, "the load failed: cannot stage the file");
		goto out;
	}
	lc.crc = crc32c(lc.crc, d->via.bin.ptr, d->via.bin.size);
	lc.off += d->via.bin.size;
	lc.next_seq++;
	lc.last_index = index;
	if (!last->via.boolean) {
		lc_result(pk, NULL);
		goto out;
	}
	if (lc.off != lc.size || lc.crc != lc.want_crc) {
		lc_close("size or checksum mismatch");
		lc_result(pk, "the load failed: the file arrived damaged");
		goto out;
	}
	if (storage_load_file(db, lc.path, err, sizeof(err)) != 0) {
		log_warnx("load: %s", err);
		lc_result(pk, err);
	} else {
		log_info("loaded a %" PRIu64 "-byte SQLite file from %" PRIu64 " chunks", lc.size,
		    lc.next_seq);
		lc_result(pk, NULL);
	}
	lc_close(NULL);
out:
	msgpack_unpacked_destroy(&un);
}

void
storage_load_chunks_tick(uint64_t index)
{
	if (lc.open && index > lc.last_index + LOAD_CHUNK_GAP)
		lc_close("no next chunk within the gap");
}

bool
storage_load_chunks_busy(void)
{
	return lc.open;
}

void
storage_load_chunks_reset(void)
{
	lc_close("the database was restored from a snapshot");
}
