/*
 * Tests for pkg/gateway/gateway_command.c: the command map a log entry carries
 * (docs/wire-formats.md).
 */
#include <msgpack.h>

#include "unit.h"
#include "gateway/gateway_body.h"
#include "gateway/gateway_command.h"

UNIT_TEST(command_map_carries_kind_transaction_timeout_and_limits)
{
	struct gateway_cmd_limits lim = { .steps = 1000000, .max_value = 4096 };
	struct gateway_body b;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	char out[512];

	CHECK_INT_EQ(gateway_body_from_sql("SELECT 1", 8, &b), 0);
	CHECK_INT_EQ(gateway_body_count_nonempty(&b), 1);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	CHECK_INT_EQ(gateway_body_pack_command(&b, IPC_CMD_EXECUTE, true, 250, &lim, &pk), 0);
	msgpack_unpacked_init(&up);
	msgpack_unpack_next(&up, sb.data, sb.size, NULL);
	msgpack_object_print_buffer(out, sizeof(out), up.data);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	gateway_body_free(&b);
	CHECK_STR_EQ(out, "{\"k\"=>1, \"tx\"=>true, \"s\"=>[[\"SELECT 1\"]], \"to\"=>250, "
	    "\"st\"=>1000000, \"ml\"=>4096}");
}

UNIT_MAIN()
