/*
 * gateway_command: statements packed into the msgpack command map storage executes
 * (docs/wire-formats.md "Commands"): {k, tx, s: [[sql, args…]…], to, st, ml}. The
 * same statement arrays go into the write queue's batches (gateway_queue.c). Sends
 * and receives no messages.
 */
#include "gateway_command.h"

int
gateway_stmt_pack(const struct gateway_stmt *s, msgpack_packer *pk)
{
	if (msgpack_pack_array(pk, 1 + s->nargs) != 0 ||
	    msgpack_pack_str_with_body(pk, s->sql, s->sql_len) != 0)
		return -1;
	if (s->args_len > 0 && pk->callback(pk->data, s->args, s->args_len) != 0)
		return -1;
	return 0;
}

int
gateway_body_pack_stmts(const struct gateway_body *b, msgpack_packer *pk)
{
	if (msgpack_pack_array(pk, b->n) != 0)
		return -1;
	for (size_t i = 0; i < b->n; i++)
		if (gateway_stmt_pack(&b->stmts[i], pk) != 0)
			return -1;
	return 0;
}

unsigned
gateway_cmd_limits_count(const struct gateway_cmd_limits *lim)
{
	return lim == NULL ? 0 : (lim->steps != 0) + (lim->max_value != 0);
}

int
gateway_cmd_limits_pack(const struct gateway_cmd_limits *lim, msgpack_packer *pk)
{
	if (lim == NULL)
		return 0;
	if (lim->steps != 0 && (msgpack_pack_str_with_body(pk, "st", 2) != 0 ||
	    msgpack_pack_uint64(pk, lim->steps) != 0))
		return -1;
	if (lim->max_value != 0 && (msgpack_pack_str_with_body(pk, "ml", 2) != 0 ||
	    msgpack_pack_uint64(pk, lim->max_value) != 0))
		return -1;
	return 0;
}

int
gateway_body_pack_command(const struct gateway_body *b, enum ipc_cmd_kind kind, bool tx,
    uint64_t timeout_ms, const struct gateway_cmd_limits *lim, msgpack_packer *pk)
{
	uint32_t n = 2 + (tx ? 1 : 0) + (timeout_ms ? 1 : 0) + gateway_cmd_limits_count(lim);

	if (msgpack_pack_map(pk, n) != 0 ||
	    msgpack_pack_str_with_body(pk, "k", 1) != 0 ||
	    msgpack_pack_uint32(pk, (uint32_t)kind) != 0)
		return -1;
	if (tx && (msgpack_pack_str_with_body(pk, "tx", 2) != 0 || msgpack_pack_true(pk) != 0))
		return -1;
	if (msgpack_pack_str_with_body(pk, "s", 1) != 0 || gateway_body_pack_stmts(b, pk) != 0)
		return -1;
	if (timeout_ms && (msgpack_pack_str_with_body(pk, "to", 2) != 0 ||
	    msgpack_pack_uint64(pk, timeout_ms) != 0))
		return -1;
	return gateway_cmd_limits_pack(lim, pk);
}
