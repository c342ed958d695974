/*
 * Commands that replace or export the whole database, outside storage_db's statement
 * engine: LOAD entries from the log (a SQLite file, or a SQL dump run as one
 * transaction) and BACKUP requests from the gateway (a file it streams to the client).
 *
 * Command kinds (docs/wire-formats.md): 5 = load a SQLite file {k:5, db: bin};
 * 6 = load a SQL dump {k:6, sql: str, st, ml}, under the entry's step budget and
 * value-size limit as any write.
 */
#include "storage_load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/log.h"
#include "ipc_codec.h"
#include "storage_backup.h"
#include "storage_dump.h"

const msgpack_object *
storage_map_get(const msgpack_object *map, const char *key)
{
	size_t n = strlen(key);

	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
		    memcmp(kv->key.via.str.ptr, key, n) == 0)
			return &kv->val;
	}
	return NULL;
}

static void
pack_error(msgpack_packer *pk, const char *e)
{
	msgpack_pack_map(pk, 2);
	msgpack_pack_str_with_body(pk, "r", 1);
	msgpack_pack_array(pk, 0);
	msgpack_pack_str_with_body(pk, "e", 1);
	msgpack_pack_str_with_body(pk, e, strlen(e));
}

int
storage_command_kind(const char *cmd, size_t len)
{
	/* A command map starts with its kind: {"k": n, …} (gateway_body_pack_command). */
	msgpack_unpacked un;
	size_t off = 0;
	int kind = -1;
	const msgpack_object *k;

	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, cmd, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    (k = storage_map_get(&un.data, "k")) != NULL && k->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    k->via.u64 < 256)
		kind = (int)k->via.u64;
	msgpack_unpacked_destroy(&un);
	return kind;
}

int
storage_apply_load(struct storage_db *db, const char *data_dir, const char *cmd, size_t len,
    msgpack_packer *pk)
{
	msgpack_unpacked un;
	const msgpack_object *v;
	size_t off = 0;
	char path[PATH_MAX], err[512];
	int rc = -1;

	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, cmd, len, &off) != MSGPACK_UNPACK_SUCCESS) {
		pack_error(pk, "malformed load command");
		goto out;
	}
	if ((v = storage_map_get(&un.data, "sql")) != NULL && v->type == MSGPACK_OBJECT_STR) {
		const msgpack_object *st = storage_map_get(&un.data, "st");
		const msgpack_object *ml = storage_map_get(&un.data, "ml");

		rc = storage_load_sql(db, v->via.str.ptr, v->via.str.size,
		    st != NULL && st->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? st->via.u64 : 0,
		    ml != NULL && ml->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? ml->via.u64 : 0, pk);
		rc = 0;		/* statement errors are in the result */
		goto out;
	}
	if ((v = storage_map_get(&un.data, "db")) == NULL || v->type != MSGPACK_OBJECT_BIN) {
		pack_error(pk, "malformed load command");
		goto out;
	}
	/* The backup API loads from a file: stage the bytes beside the database. */
	snprintf(path, sizeof(path), "%s/load-XXXXXX", data_dir);
	{
		int fd = mkstemp(path);
		if (fd == -1 || write(fd, v->via.bin.ptr, v->via.bin.size) != (ssize_t)v->via.bin.size) {
			if (fd != -1) {
				close(fd);
				unlink(path);
			}
			pack_error(pk, "the load failed: cannot stage the file");
			goto out;
		}
		close(fd);
	}
	if (storage_load_file(db, path, err, sizeof(err)) != 0) {
		log_warnx("load: %s", err);
		pack_error(pk, err);
	} else {
		msgpack_pack_map(pk, 1);
		msgpack_pack_str_with_body(pk, "r", 1);
		msgpack_pack_array(pk, 0);
		rc = 0;
	}
	unlink(path);
out:
	msgpack_unpacked_destroy(&un);
	return rc;
}

/* gzip (best speed, as rqlite) of src into dst. */
static int
gzip_file(const char *src, const char *dst, char *err, size_t errlen)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC);
	gzFile out = gzopen(dst, "wb1");
	ssize_t n = 0;
	int rc = 0;

	if (in == -1 || out == NULL) {
		snprintf(err, errlen, "compress: %s", strerror(errno));
		rc = -1;
	}
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (gzwrite(out, buf, (unsigned)n) != (int)n)
			rc = -1;
	if (n < 0)
		rc = -1;
	if (in != -1)
		close(in);
	if (out != NULL && gzclose(out) != Z_OK)
		rc = -1;
	if (rc != 0 && err[0] == '\0')
		snprintf(err, errlen, "compress failed");
	return rc;
}

int
storage_backup_request(struct storage_db *db, const struct storage_backup_req *req, char *path,
    size_t pathlen, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int rc;

	err[0] = '\0';
	snprintf(tmp, sizeof(tmp), "%s/backup-XXXXXX", req->dir);
	{
		int fd = mkstemp(tmp);
		if (fd == -1) {
			snprintf(err, errlen, "backup: %s", strerror(errno));
			return -1;
		}
		close(fd);
	}
	if (req->fmt == STORAGE_BACKUP_FMT_SQL) {
		FILE *f = fopen(tmp, "w");
		if (f == NULL) {
			snprintf(err, errlen, "backup: %s", strerror(errno));
			unlink(tmp);
			return -1;
		}
		rc = storage_dump_sql(db, f, req->tables, req->ntables, err, errlen);
		if (fclose(f) != 0 && rc == 0) {
			snprintf(err, errlen, "backup: %s", strerror(errno));
			rc = -1;
		}
	} else {
		rc = storage_backup_to_file(db, tmp, req->fmt == STORAGE_BACKUP_FMT_DELETE ?
		    STORAGE_BACKUP_DELETE : STORAGE_BACKUP_WAL, req->vacuum, err, errlen);
	}
	if (rc != 0) {
		unlink(tmp);
		return -1;
	}
	if (req->compress) {
		char gz[PATH_MAX + 4];
		snprintf(gz, sizeof(gz), "%s.gz", tmp);
		rc = gzip_file(tmp, gz, err, errlen);
		unlink(tmp);
		if (rc != 0) {
			unlink(gz);
			return -1;
		}
		if ((size_t)snprintf(path, pathlen, "%s", gz) >= pathlen) {
			unlink(gz);
			snprintf(err, errlen, "backup: path too long");
			return -1;
		}
		return 0;
	}
	snprintf(path, pathlen, "%s", tmp);
	return 0;
}
