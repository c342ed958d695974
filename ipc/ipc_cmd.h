/*
 * The commands a Raft log entry carries (docs/wire-formats.md): one list of kinds (the
 * `k` of a command map) for every role, and the small codecs that look inside a
 * command or its result without knowing the rest of its shape. The gateway packs
 * commands, storage runs them; consensus only needs the kind (for rqlite's counters)
 * and whether a unified request's trial run found a write.
 */
#ifndef RQ_IPC_CMD_H
#define RQ_IPC_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define IPC_CMD_KINDS(X)							\
	X(EXECUTE,	1, "execute")	/* writes */				\
	X(QUERY,	2, "query")	/* a read; through the log a strong read */	\
	X(REQUEST,	3, "request")	/* unified endpoint: each statement either */ \
	X(NOOP,		4, "noop")	/* the leader's first entry of a term */	\
	X(LOAD_FILE,	5, "load")	/* {k, db: bin}: replace with a SQLite file */	\
	X(LOAD_SQL,	6, "load_sql")	/* {k, sql: str}: replace with a SQL dump */	\
	X(LOAD_CHUNK,	7, "load_chunk")	/* one chunk of a large SQLite file */	\
	X(MAINTENANCE,	8, "maintenance")	/* {k, op}: VACUUM or optimize */

enum ipc_cmd_kind {
#define IPC_CMD_ENUM_(name, value, text) IPC_CMD_##name = value,
	IPC_CMD_KINDS(IPC_CMD_ENUM_)
#undef IPC_CMD_ENUM_
};

/* "execute" …, or NULL for a value outside the list. */
const char *ipc_cmd_kind_name(uint64_t kind);
/* Kinds that replace the database (load file, SQL dump, chunk). */
bool ipc_cmd_is_load(uint64_t kind);

/* The kind (`k`) of a packed command (validated here); 0 when it has none. */
uint64_t ipc_cmd_peek_kind(const char *cmd, size_t len);

/* {k: 8, op: op} into sb (initialised by the caller). */
void ipc_cmd_pack_maintenance(msgpack_sbuffer *sb, const char *op);

/* A storage result map (validated here) says {"w": true}: the unified request it ran
 * as a read holds a statement that writes and must go through the log instead. */
bool ipc_cmd_result_needs_write(const char *res, size_t len);

#endif
