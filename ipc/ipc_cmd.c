/* The command catalogue and its small codecs (see ipc_cmd.h). */
#include <string.h>

#include "ipc_cmd.h"
#include "ipc_codec.h"

const char *
ipc_cmd_kind_name(uint64_t kind)
{
	switch (kind) {
#define IPC_CMD_NAME_(name, value, text) case value: return text;
	IPC_CMD_KINDS(IPC_CMD_NAME_)
#undef IPC_CMD_NAME_
	}
	return NULL;
}

bool
ipc_cmd_is_load(uint64_t kind)
{
	return kind == IPC_CMD_LOAD_FILE || kind == IPC_CMD_LOAD_SQL || kind == IPC_CMD_LOAD_CHUNK;
}

void
ipc_cmd_pack_maintenance(msgpack_sbuffer *sb, const char *op)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "k", 1);
	msgpack_pack_uint32(&pk, IPC_CMD_MAINTENANCE);
	msgpack_pack_str_with_body(&pk, "op", 2);
	msgpack_pack_str_with_body(&pk, op, strlen(op));
}

uint64_t
ipc_cmd_peek_kind(const char *cmd, size_t len)
{
	msgpack_unpacked un;
	size_t off = 0;
	uint64_t k = 0;

	if (ipc_msgpack_validate(cmd, len) != 0)
		return 0;
	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, cmd, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    un.data.type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < un.data.via.map.size; i++) {
			const msgpack_object_kv *kv = &un.data.via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 1 &&
			    kv->key.via.str.ptr[0] == 'k' &&
			    kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				k = kv->val.via.u64;
		}
	}
	msgpack_unpacked_destroy(&un);
	return k;
}

bool
ipc_cmd_result_needs_write(const char *res, size_t len)
{
	msgpack_unpacked un;
	size_t off = 0;
	bool w = false;

	if (ipc_msgpack_validate(res, len) != 0)
		return false;
	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, res, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    un.data.type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < un.data.via.map.size; i++) {
			const msgpack_object_kv *kv = &un.data.via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 1 &&
			    kv->key.via.str.ptr[0] == 'w' && kv->val.type == MSGPACK_OBJECT_BOOLEAN)
				w = kv->val.via.boolean;
		}
	}
	msgpack_unpacked_destroy(&un);
	return w;
}
