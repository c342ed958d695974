/*
 * Statements packed into the msgpack command map a log entry or a QUERY carries
 * (docs/wire-formats.md "Commands"; gateway_command.c). Every function returns 0, or
 * -1 when the packer failed (out of memory).
 */
#ifndef RQ_GATEWAY_COMMAND_H
#define RQ_GATEWAY_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "ipc_cmd.h"

#include "gateway_body.h"

/* Command kinds: IPC_CMD_* (ipc/ipc_cmd.h), the `k` of the command map. */

/*
 * The limits a write entry carries so that every node applies it alike: `st`, its
 * SQLite step budget, and `ml`, its longest string or BLOB (docs/wire-formats.md).
 * A zero field is not packed.
 */
struct gateway_cmd_limits {
	uint64_t steps;
	uint64_t max_value;
};

/*
 * Packs the command map {k: kind, tx: tx, s: [[sql, args…]…], to: timeout_ms, st, ml}
 * (`tx` only when true, `to` only when non-zero, `st`/`ml` from lim, which may be
 * NULL) into pk. Empty statements are packed too (storage skips them, as rqlite does).
 */
int	gateway_body_pack_command(const struct gateway_body *b, enum ipc_cmd_kind kind,
	    bool tx, uint64_t timeout_ms, const struct gateway_cmd_limits *lim,
	    msgpack_packer *pk);
/* How many `st`/`ml` pairs lim adds to a command map, and those pairs packed (for
 * callers that build the map themselves: the write queue, loads). */
unsigned gateway_cmd_limits_count(const struct gateway_cmd_limits *lim);
int	gateway_cmd_limits_pack(const struct gateway_cmd_limits *lim, msgpack_packer *pk);

/* One statement as the array [sql, args…] of the command's `s`. */
int	gateway_stmt_pack(const struct gateway_stmt *s, msgpack_packer *pk);
/* Every statement of b as the array `s`. */
int	gateway_body_pack_stmts(const struct gateway_body *b, msgpack_packer *pk);

#endif
