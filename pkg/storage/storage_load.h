/* Whole-database commands of the storage process: load (via the log) and backup. */
#ifndef RQ_STORAGE_LOAD_H
#define RQ_STORAGE_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "ipc_cmd.h"
#include "storage_db.h"


/* The value under string key `key` in a msgpack map, or NULL (also when map is not one). */
const msgpack_object *storage_map_get(const msgpack_object *map, const char *key);
/* The command's kind (`k`), or -1 if it has none. cmd must already be validated. */
int storage_command_kind(const char *cmd, size_t len);
/* Applies a load command; packs one result map (execute-style, or {"r":[],"e":…}). */
int storage_apply_load(struct storage_db *db, const char *data_dir, const char *cmd, size_t len,
    msgpack_packer *pk);

enum storage_backup_fmt { STORAGE_BACKUP_FMT_BINARY, STORAGE_BACKUP_FMT_SQL, STORAGE_BACKUP_FMT_DELETE };

struct storage_backup_req {
	const char *dir;		/* where the file is made (the data directory) */
	enum storage_backup_fmt fmt;
	bool vacuum, compress;
	const char *const *tables;	/* fmt sql: NULL = all */
	size_t ntables;
};

/* Writes the backup into a new file under req->dir; its name in path. The caller (the
 * gateway, which streams it) removes it. 0 or -1 with err. */
int storage_backup_request(struct storage_db *db, const struct storage_backup_req *req, char *path,
    size_t pathlen, char *err, size_t errlen);

#endif
