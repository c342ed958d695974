/*
 * Maintenance entries: the automatic VACUUM and optimize the leader proposes
 * (consensus_maintenance.c), applied by every node at the same log index.
 */
#ifndef RQ_STORAGE_MAINTENANCE_H
#define RQ_STORAGE_MAINTENANCE_H

#include <stddef.h>

#include <msgpack.h>

#include "ipc_cmd.h"

struct storage_db;

/* {k: 8, op: "vacuum" | "optimize"} */

/*
 * Runs the command's operation on the read-write connection; packs {"r": []} or
 * {"r": [], "e": why}. "optimize" is rqlite's PRAGMA optimize made deterministic:
 * SQLite 3.40's choice depends on what the connection queried since it opened, which
 * differs between nodes, so here a table with indexes is analysed when one of its
 * indexes has no statistics or it has grown 25 times since they were gathered.
 */
int storage_maintenance_apply(struct storage_db *db, const char *cmd, size_t len,
    msgpack_packer *pk);

#endif
