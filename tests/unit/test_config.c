/* rqlited's flags: Go flag syntax, rqlite's defaults and validation, and re-exec argv round trips. */
#include "storage/storage_db.h"
#include "unit.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd/rqlited/config.h"
#include "common/duration.h"

/* Parses a literal argument list (program name added); leaves the message in err. */
#define PARSE(cfg, err, ...)						\
	config_parse((cfg), (int)(sizeof((char *[]){ "rqlited", __VA_ARGS__ }) / sizeof(char *)), \
	    (char *[]){ "rqlited", __VA_ARGS__ }, (err), sizeof(err))

/* Parse then validate; returns the first failure code. */
#define CHECKED(cfg, err, ...)						\
	(PARSE(cfg, err, __VA_ARGS__) != 0 ? -9 : config_validate((cfg), (err), sizeof(err)))

UNIT_TEST(defaults_match_rqlite)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "data"), 0);
	CHECK_STR_EQ(c.data_dir, "data");
	CHECK_STR_EQ(c.http_addr, "localhost:4001");
	CHECK_STR_EQ(c.raft_addr, "localhost:4002");
	CHECK_STR_EQ(c.http_adv_addr, "");
	CHECK_STR_EQ(c.node_id, "");
	CHECK_STR_EQ(c.disco_key, "rqlite");
	CHECK_STR_EQ(c.raft_log_level, "WARN");
	CHECK_STR_EQ(c.auth_file, "");
	CHECK_STR_EQ(c.cluster_key, "");
	CHECK(c.role == NULL);
	CHECK(!c.version && !c.help && !c.fk && !c.raft_non_voter);
	CHECK(c.raft_shutdown_stepdown);
	CHECK(c.on_disk);
	CHECK_INT_EQ(c.join_attempts, 5);
	CHECK_INT_EQ(c.bootstrap_expect, 0);
	CHECK_INT_EQ(c.db_max_ro_conns, 256);
	/* Ours: the flags' defaults are storage's defaults for entries that carry none. */
	CHECK(c.db_write_steps == STORAGE_DB_DEFAULT_WRITE_STEPS);
	CHECK(c.db_max_value_size == STORAGE_DB_DEFAULT_MAX_VALUE);
	CHECK(c.db_max_result_size == STORAGE_DB_DEFAULT_MAX_RESULT);
	CHECK(c.db_read_timeout == (int64_t)STORAGE_DB_DEFAULT_READ_TIMEOUT_MS * 1000000);
	CHECK_INT_EQ(c.write_queue_capacity, 1024);
	CHECK_INT_EQ(c.write_queue_batch_size, 128);
	CHECK_INT_EQ(c.raft_snap, 8192);
	CHECK_INT_EQ(c.raft_snap_wal_size, 4194304);
	CHECK_INT_EQ(c.join_interval, 3 * DURATION_S);
	CHECK_INT_EQ(c.bootstrap_expect_timeout, 120 * DURATION_S);
	CHECK_INT_EQ(c.raft_snap_int, 10 * DURATION_S);
	CHECK_INT_EQ(c.raft_heartbeat_timeout, DURATION_S);
	CHECK_INT_EQ(c.raft_election_timeout, DURATION_S);
	CHECK_INT_EQ(c.raft_commit_timeout, 50 * DURATION_MS);
	CHECK_INT_EQ(c.raft_leader_lease_timeout, 0);
	CHECK_INT_EQ(c.raft_apply_timeout, 10 * DURATION_S);
	CHECK_INT_EQ(c.raft_reap_node_timeout, 0);
	CHECK_INT_EQ(c.cluster_connect_timeout, 30 * DURATION_S);
	CHECK_INT_EQ(c.auto_vacuum_int, 0);
	CHECK_INT_EQ(c.auto_optimize_int, 24 * DURATION_H);
	CHECK_INT_EQ(c.write_queue_timeout, 50 * DURATION_MS);
	CHECK_INT_EQ(c.otlp_interval, 30 * DURATION_S);
	CHECK(!config_is_set(&c, "http-addr"));
	config_free(&c);
}

UNIT_TEST(value_flags_take_one_or_two_dashes_and_equals_or_next_argument)
{
	static const char *forms[][2] = {
		{ "-http-addr", "h:1" }, { "--http-addr", "h:1" },
		{ "-http-addr=h:1", NULL }, { "--http-addr=h:1", NULL },
	};
	for (size_t i = 0; i < 4; i++) {
		struct rqlited_config c;
		char err[256];
		char *argv[] = { "rqlited", (char *)forms[i][0], (char *)forms[i][1], "data", NULL };
		int argc = forms[i][1] != NULL ? 4 : 3;
		if (forms[i][1] == NULL)
			argv[2] = "data";
		CHECK_INT_EQ(config_parse(&c, argc, argv, err, sizeof(err)), 0);
		CHECK_STR_EQ(c.http_addr, "h:1");
		CHECK_STR_EQ(c.data_dir, "data");
		CHECK(config_is_set(&c, "http-addr"));
		config_free(&c);
	}
}

UNIT_TEST(value_after_equals_may_be_empty_or_contain_equals_and_dashes)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-http-allow-origin=", "-disco-config={\"a\":\"b=c\"}",
	    "-node-id", "-odd-id", "d"), 0);
	CHECK_STR_EQ(c.http_allow_origin, "");
	CHECK(config_is_set(&c, "http-allow-origin"));
	CHECK_STR_EQ(c.disco_config, "{\"a\":\"b=c\"}");
	CHECK_STR_EQ(c.node_id, "-odd-id");
	CHECK_STR_EQ(c.data_dir, "d");
	config_free(&c);
}

UNIT_TEST(later_flag_overrides_earlier)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-join-attempts", "2", "-join-attempts=9", "d"), 0);
	CHECK_INT_EQ(c.join_attempts, 9);
	config_free(&c);
}

UNIT_TEST(durations_in_flags_use_go_syntax)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-raft-snap-int=1.5s", "-join-interval", "2h45m",
	    "-raft-reap-node-timeout", "0.5h", "-write-queue-timeout=300ms", "-auto-vacuum-int=0", "d"), 0);
	CHECK_INT_EQ(c.raft_snap_int, 1500 * DURATION_MS);
	CHECK_INT_EQ(c.join_interval, 2 * DURATION_H + 45 * DURATION_M);
	CHECK_INT_EQ(c.raft_reap_node_timeout, 30 * DURATION_M);
	CHECK_INT_EQ(c.write_queue_timeout, 300 * DURATION_MS);
	CHECK_INT_EQ(c.auto_vacuum_int, 0);
	config_free(&c);

	CHECK_INT_EQ(PARSE(&c, err, "-raft-snap-int=10", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "invalid value \"10\" for flag -raft-snap-int: parse error");
	config_free(&c);
	CHECK_INT_EQ(PARSE(&c, err, "-join-interval", "3d", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "invalid value \"3d\" for flag -join-interval: parse error");
	config_free(&c);
}

UNIT_TEST(booleans_are_bare_or_take_a_value_after_equals)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-fk", "--raft-non-voter", "-raft-shutdown-stepdown=false",
	    "-write-queue-tx=1", "-compress-snap-transport=T", "d"), 0);
	CHECK(c.fk && c.raft_non_voter && c.write_queue_tx && c.compress_snap_transport);
	CHECK(!c.raft_shutdown_stepdown);
	config_free(&c);

	CHECK_INT_EQ(PARSE(&c, err, "-fk=true", "-fk=FALSE", "d"), 0);
	CHECK(!c.fk);
	CHECK(config_is_set(&c, "fk"));
	config_free(&c);

	CHECK_INT_EQ(PARSE(&c, err, "-fk=yes", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "invalid boolean value \"yes\" for -fk: parse error");
	config_free(&c);
	CHECK_INT_EQ(PARSE(&c, err, "--fk=", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "invalid boolean value \"\" for -fk: parse error");
	config_free(&c);
}

UNIT_TEST(boolean_followed_by_false_makes_false_the_data_directory)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-fk", "false", "data"), 0);
	CHECK(c.fk);
	CHECK_STR_EQ(c.data_dir, "false");
	CHECK_INT_EQ(c.extra_argc, 1);
	CHECK_STR_EQ(c.extra_argv[0], "data");
	CHECK_INT_EQ(config_validate(&c, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "arguments after data directory (false) are not accepted ([data])");
	config_free(&c);
}

UNIT_TEST(unknown_flag_is_reported_like_go)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-foo", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "flag provided but not defined: -foo");
	config_free(&c);
	CHECK_INT_EQ(PARSE(&c, err, "--raft-timeout=1s", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "flag provided but not defined: -raft-timeout");
	config_free(&c);
}

UNIT_TEST(value_flag_at_the_end_needs_an_argument)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-http-addr"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "flag needs an argument: -http-addr");
	config_free(&c);
}

UNIT_TEST(malformed_flag_names_are_bad_syntax)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "---fk", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "bad flag syntax: ---fk");
	config_free(&c);
	CHECK_INT_EQ(PARSE(&c, err, "-=x", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "bad flag syntax: -=x");
	config_free(&c);
}

UNIT_TEST(integer_flags_follow_strconv_rules)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-raft-snap=0x10", "-raft-snap-wal-size=1_000_000",
	    "-join-attempts=010", "-bootstrap-expect=+3", "-db-max-ro-conns=-1", "d"), 0);
	CHECK_INT_EQ(c.raft_snap, 16);
	CHECK_INT_EQ(c.raft_snap_wal_size, 1000000);
	CHECK_INT_EQ(c.join_attempts, 8);
	CHECK_INT_EQ(c.bootstrap_expect, 3);
	CHECK_INT_EQ(c.db_max_ro_conns, -1);
	config_free(&c);

	static const char *bad[][2] = {
		{ "-raft-snap=x", "invalid value \"x\" for flag -raft-snap: parse error" },
		{ "-raft-snap=-1", "invalid value \"-1\" for flag -raft-snap: parse error" },
		{ "-raft-snap=", "invalid value \"\" for flag -raft-snap: parse error" },
		{ "-raft-snap=1__0", "invalid value \"1__0\" for flag -raft-snap: parse error" },
		{ "-raft-snap=08", "invalid value \"08\" for flag -raft-snap: parse error" },
		{ "-raft-snap=18446744073709551616",
		    "invalid value \"18446744073709551616\" for flag -raft-snap: value out of range" },
		{ "-join-attempts=1.5", "invalid value \"1.5\" for flag -join-attempts: parse error" },
		{ "-join-attempts=99999999999",
		    "invalid value \"99999999999\" for flag -join-attempts: value out of range" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT_EQ(PARSE(&c, err, (char *)bad[i][0], "d"), CONFIG_ERR_SYNTAX);
		CHECK_STR_EQ(err, bad[i][1]);
		config_free(&c);
	}
}

UNIT_TEST(double_dash_ends_flags_and_single_dash_is_positional)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-fk", "--", "-data"), 0);
	CHECK(c.fk);
	CHECK_STR_EQ(c.data_dir, "-data");
	CHECK_INT_EQ(c.extra_argc, 0);
	config_free(&c);

	CHECK_INT_EQ(PARSE(&c, err, "-"), 0);
	CHECK_STR_EQ(c.data_dir, "-");
	config_free(&c);
}

UNIT_TEST(flags_stop_at_the_first_positional_argument)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "data", "-fk", "-http-addr", "x:1"), 0);
	CHECK(!c.fk);
	CHECK_STR_EQ(c.http_addr, "localhost:4001");
	CHECK_INT_EQ(c.extra_argc, 3);
	CHECK_INT_EQ(config_validate(&c, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "arguments after data directory (data) are not accepted ([-fk -http-addr x:1])");
	config_free(&c);
}

UNIT_TEST(help_flags_stop_parsing_and_ask_for_usage)
{
	static const char *forms[] = { "-h", "-help", "--help", "--h", "-h=1" };
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct rqlited_config c;
		char err[256];
		CHECK_INT_EQ(PARSE(&c, err, "-fk", (char *)forms[i], "-no-such-flag"), 0);
		CHECK(c.help);
		CHECK(c.fk);
		config_free(&c);
	}
}

UNIT_TEST(version_needs_no_data_directory)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-version"), 0);
	CHECK(c.version);
	CHECK_STR_EQ(c.data_dir, "");
	config_free(&c);
}

UNIT_TEST(no_arguments_at_all_is_missing_data_path)
{
	struct rqlited_config c;
	char err[256];
	char *argv[] = { "rqlited", NULL };

	CHECK_INT_EQ(config_parse(&c, 1, argv, err, sizeof(err)), CONFIG_ERR_NOARGS);
	CHECK_STR_EQ(err, "missing required argument: DataPath");
	config_free(&c);
}

UNIT_TEST(missing_data_directory_is_fatal_at_validation)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(CHECKED(&c, err, "-fk"), -1);
	CHECK_STR_EQ(err, "fatal: data directory path is required");
	config_free(&c);
	CHECK_INT_EQ(CHECKED(&c, err, "  "), -1);
	CHECK_STR_EQ(err, "fatal: data directory path is required");
	config_free(&c);
}

UNIT_TEST(data_directory_is_made_absolute_and_clean)
{
	struct rqlited_config c;
	char err[256], cwd[PATH_MAX], want[PATH_MAX + 32];

	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_INT_EQ(CHECKED(&c, err, " foo/./bar/../baz/ "), 0);
	snprintf(want, sizeof(want), "%s/foo/baz", strcmp(cwd, "/") == 0 ? "" : cwd);
	CHECK_STR_EQ(c.data_dir, want);
	CHECK_INT_EQ(config_validate(&c, err, sizeof(err)), 0);	/* idempotent */
	CHECK_STR_EQ(c.data_dir, want);
	config_free(&c);

	CHECK_INT_EQ(CHECKED(&c, err, "//tmp//x/./y/.."), 0);
	CHECK_STR_EQ(c.data_dir, "/tmp/x");
	config_free(&c);
	CHECK_INT_EQ(CHECKED(&c, err, "/../.."), 0);
	CHECK_STR_EQ(c.data_dir, "/");
	config_free(&c);
}

UNIT_TEST(node_id_and_advertised_addresses_default_from_bind_addresses)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(CHECKED(&c, err, "/d"), 0);
	CHECK_STR_EQ(c.http_adv_addr, "localhost:4001");
	CHECK_STR_EQ(c.raft_adv_addr, "localhost:4002");
	CHECK_STR_EQ(c.node_id, "localhost:4002");
	config_free(&c);

	CHECK_INT_EQ(CHECKED(&c, err, "-raft-addr=0.0.0.0:5002", "-raft-adv-addr", "10.0.0.1:5002",
	    "-http-addr=:5001", "/d"), 0);
	CHECK_STR_EQ(c.node_id, "10.0.0.1:5002");
	CHECK_STR_EQ(c.http_adv_addr, ":5001");
	config_free(&c);

	CHECK_INT_EQ(CHECKED(&c, err, "-node-id", "n1", "/d"), 0);
	CHECK_STR_EQ(c.node_id, "n1");
	config_free(&c);
}

struct validate_case {
	const char *args[5];
	const char *msg;
};

static const struct validate_case validate_cases[] = {
	{ { "-http-addr=h:1", "-raft-addr=h:1" }, "fatal: HTTP and Raft addresses must differ" },
	{ { "-http-addr=http://h:1" }, "fatal: HTTP options should not include protocol (http:// or https://)" },
	{ { "-http-adv-addr=HTTPS://h:1" }, "fatal: HTTP options should not include protocol (http:// or https://)" },
	{ { "-http-addr=localhost" }, "fatal: HTTP bind address not valid" },
	{ { "-http-addr=::1:4001" }, "fatal: HTTP bind address not valid" },
	{ { "-http-adv-addr=h" }, "fatal: HTTP advertised HTTP address not valid" },
	{ { "-http-addr=0.0.0.0:4001" },
	    "fatal: advertised HTTP address is not routable (0.0.0.0), specify it via -http-addr or -http-adv-addr" },
	{ { "-raft-addr=h" }, "fatal: raft bind address not valid" },
	{ { "-raft-addr=h:x" }, "fatal: raft bind port not valid" },
	{ { "-raft-addr=h:" }, "fatal: raft bind port not valid" },
	{ { "-raft-adv-addr=[h" }, "fatal: raft advertised address not valid" },
	{ { "-raft-addr=[::]:4002" },
	    "fatal: advertised Raft address is not routable (::), specify it via -raft-addr or -raft-adv-addr" },
	{ { "-raft-adv-addr=h:99x" }, "fatal: raft advertised port is not valid" },
	{ { "-http-adv-addr=h:1", "-raft-adv-addr=h:1" }, "fatal: advertised HTTP and Raft addresses must differ" },
	{ { "-http-cert=c" }, "fatal: either both -http-cert and -http-key must be set, or neither" },
	{ { "-node-key=k" }, "fatal: either both -node-cert and -node-key must be set, or neither" },
	{ { "-http-verify-common-name=cn" }, "fatal: -http-verify-common-name requires -http-verify-client" },
	{ { "-node-verify-common-name=cn" }, "fatal: -node-verify-common-name requires -node-verify-client" },
	{ { "-bootstrap-expect=3", "-raft-non-voter" }, "fatal: bootstrapping only applicable to voting nodes" },
	{ { "-join=h:1,nope" }, "fatal: nope is an invalid join address" },
	{ { "-join=localhost:4002" }, "fatal: node cannot join with itself unless bootstrapping" },
	{ { "-join=127.0.0.1:4002,127.0.0.1:4002", "-raft-addr=127.0.0.1:4002" },
	    "fatal: node cannot join with itself unless bootstrapping" },
	{ { "-join=h:1", "-auto-restore=f" }, "fatal: auto-restoring cannot be used when joining a cluster" },
	{ { "-join=h:1", "-disco-mode=dns" }, "fatal: disco mode cannot be used when also explicitly joining a cluster" },
	{ { "-cdc-config=stdout", "-raft-non-voter" }, "fatal: CDC cannot be enabled on non-voting nodes" },
	{ { "-otlp-cert=c" }, "fatal: either both -otlp-cert and -otlp-key must be set, or neither" },
	{ { "-otlp-insecure" }, "fatal: OTLP options require -otlp-endpoint" },
	{ { "-otlp-endpoint=http://c:4317" }, "fatal: -otlp-endpoint must not include a protocol scheme" },
	{ { "-otlp-endpoint=c" }, "fatal: -otlp-endpoint is not a valid address" },
	{ { "-otlp-endpoint=c:1", "-otlp-interval=0s" }, "fatal: -otlp-interval must be greater than zero" },
	{ { "-otlp-endpoint=c:1", "-otlp-insecure", "-otlp-no-verify" },
	    "fatal: -otlp-insecure cannot be used with other OTLP TLS options" },
	{ { "-disco-mode=consul-kv", "-bootstrap-expect=3" }, "fatal: bootstrapping not applicable when using consul-kv" },
	{ { "-disco-mode=dns-srv" }, "fatal: bootstrap-expect value required when using dns-srv with a voting node" },
	{ { "-disco-mode=zk" }, "fatal: disco mode must be one of consul-kv, etcd-kv, dns, or dns-srv" },
	{ { "-extensions-path=/no/such/ext.so" }, "fatal: extension path does not exist: /no/such/ext.so" },
	{ { "-raft-reap-node-timeout=0s" }, "fatal: -raft-reap-node-timeout must be greater than 0" },
	{ { "-raft-reap-read-only-node-timeout=-1m" },
	    "fatal: -raft-reap-read-only-node-timeout must be greater than 0" },
	{ { "-db-write-steps=0" }, "fatal: -db-write-steps must be at least 10000" },
	{ { "-db-max-value-size=10" },
	    "fatal: -db-max-value-size must be between 1024 and 1000000000 bytes" },
	{ { "-db-max-value-size=2000000000" },
	    "fatal: -db-max-value-size must be between 1024 and 1000000000 bytes" },
	{ { "-db-max-result-size=100000000" },
	    "fatal: -db-max-result-size must be between 1024 and 62914560 bytes" },
	{ { "-db-read-timeout=-1s" }, "fatal: -db-read-timeout must not be negative" },
};

static int validate_args(const char *const *args, char *err, size_t errlen);

UNIT_TEST(a_join_list_naming_this_node_among_others_is_valid)
{
	/* One -join list for every node of a cluster: each skips its own address. */
	static const char *const args[] = { "-join=h:1,localhost:4002,h:3", NULL };
	char err[256] = "";

	CHECK_INT_EQ(validate_args(args, err, sizeof(err)), 0);
}

static int
validate_args(const char *const *args, char *err, size_t errlen)
{
	char *argv[8] = { "rqlited" };
	int argc = 1, rc;
	struct rqlited_config c;

	for (int i = 0; i < 5 && args[i] != NULL; i++)
		argv[argc++] = (char *)args[i];
	argv[argc++] = "/d";
	rc = config_parse(&c, argc, argv, err, errlen);
	if (rc == 0)
		rc = config_validate(&c, err, errlen);
	config_free(&c);
	return rc;
}

UNIT_TEST(validation_messages_match_rqlite)
{
	for (size_t i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]); i++) {
		char err[512] = "";
		if (validate_args(validate_cases[i].args, err, sizeof(err)) != -1)
			UNIT_FAIL_("%s: accepted, want \"%s\"", validate_cases[i].args[0], validate_cases[i].msg);
		CHECK_STR_EQ(err, validate_cases[i].msg);
	}
}

UNIT_TEST(valid_unusual_configurations_pass_validation)
{
	static const char *ok[][5] = {
		{ "-join=localhost:4002,h:2", "-bootstrap-expect=2" },	/* itself allowed when bootstrapping */
		{ "-disco-mode=dns", "-bootstrap-expect=3" },
		{ "-disco-mode=dns", "-raft-non-voter" },
		{ "-disco-mode=etcd-kv" },
		{ "-raft-reap-node-timeout=1h", "-raft-reap-read-only-node-timeout=30s" },
		{ "-http-addr=[::1]:4001", "-raft-addr=[::1]:4002" },
		{ "-http-addr=:4001", "-raft-addr=:4002" },
		{ "-otlp-endpoint=c:4317", "-otlp-insecure" },
		{ "-extensions-path=/" },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char err[512] = "";
		if (validate_args(ok[i], err, sizeof(err)) != 0)
			UNIT_FAIL_("%s rejected: %s", ok[i][0], err);
	}
}

UNIT_TEST(in_memory_database_is_chosen_by_mem_or_on_disk_false)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-mem", "d"), 0);
	CHECK(!c.on_disk);
	config_free(&c);
	CHECK_INT_EQ(PARSE(&c, err, "-on-disk=false", "d"), 0);
	CHECK(!c.on_disk);
	config_free(&c);
	CHECK_INT_EQ(PARSE(&c, err, "-mem", "-mem=false", "d"), 0);
	CHECK(c.on_disk);
	config_free(&c);
}

UNIT_TEST(role_flag_accepts_only_the_three_roles)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-P", "storage", "d"), 0);
	CHECK_STR_EQ(c.role, "storage");
	config_free(&c);
	CHECK_INT_EQ(PARSE(&c, err, "-P=bogus", "d"), CONFIG_ERR_SYNTAX);
	CHECK_STR_EQ(err, "invalid value \"bogus\" for flag -P: must be gateway, consensus or storage");
	config_free(&c);
}

UNIT_TEST(unsupported_features_name_the_first_flag_set)
{
	static const char *flags[][2] = {
		{ "-node-cert=c", "-node-cert" }, { "-node-key=k", "-node-key" },
		{ "-node-ca-cert=ca", "-node-ca-cert" },
		{ "-disco-mode=dns", "-disco-mode" }, { "-auto-backup=b", "-auto-backup" },
		{ "-auto-restore=r", "-auto-restore" }, { "-cdc-config=stdout", "-cdc-config" },
		{ "-extensions-path=/x", "-extensions-path" }, { "-otlp-endpoint=c:1", "-otlp-endpoint" },
		{ "-cpu-profile=p", "-cpu-profile" }, { "-mem-profile=p", "-mem-profile" },
		{ "-trace-profile=p", "-trace-profile" },
		{ "-raft-remove-shutdown", "-raft-remove-shutdown" },
		{ "-node-no-verify", "-node-no-verify" }, { "-node-verify-client", "-node-verify-client" },
		{ "-node-verify-server-name=h", "-node-verify-server-name" },
		{ "-node-verify-common-name=c", "-node-verify-common-name" },
		{ "-otlp-insecure", "-otlp-insecure" }, { "-otlp-ca-cert=c", "-otlp-ca-cert" },
		{ "-extensions-path=.", "-extensions-path" },
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct rqlited_config c;
		char err[256];
		CHECK_INT_EQ(PARSE(&c, err, (char *)flags[i][0], "d"), 0);
		CHECK_INT_EQ(config_unsupported(&c, err, sizeof(err)), -1);
		if (strstr(err, flags[i][1]) == NULL)
			UNIT_FAIL_("%s: message \"%s\" does not name it", flags[i][0], err);
		config_free(&c);
	}

	struct rqlited_config c;
	char err[256];
	CHECK_INT_EQ(PARSE(&c, err, "-auth=a", "-node-cert=c", "d"), 0);
	CHECK_INT_EQ(config_unsupported(&c, err, sizeof(err)), -1);
	CHECK_STR_EQ(err, "flag -node-cert is not supported by this rqlited yet");
	config_free(&c);

	/* -auth and -join-as exist now: accepted here, checked against the file at start. */
	CHECK_INT_EQ(PARSE(&c, err, "-auth=a.json", "-join-as=u", "d"), 0);
	CHECK_INT_EQ(config_unsupported(&c, err, sizeof(err)), 0);
	config_free(&c);
}

UNIT_TEST(extensions_path_of_empty_directories_loads_nothing_and_starts)
{
	char d1[] = "/tmp/rq-ext-XXXXXX", d2[] = "/tmp/rq-ext-XXXXXX", both[80], arg[100];
	struct rqlited_config c;
	char err[256];

	CHECK(mkdtemp(d1) != NULL && mkdtemp(d2) != NULL);
	snprintf(both, sizeof(both), "%s,%s", d1, d2);
	snprintf(arg, sizeof(arg), "-extensions-path=%s", both);
	CHECK_INT_EQ(PARSE(&c, err, arg, "d"), 0);
	CHECK_INT_EQ(config_unsupported(&c, err, sizeof(err)), 0);
	config_free(&c);
	/* A file in one of them is an extension to load: not supported yet. */
	snprintf(arg, sizeof(arg), "%s/ext.so", d2);
	FILE *f = fopen(arg, "w");
	CHECK(f != NULL);
	fclose(f);
	snprintf(arg, sizeof(arg), "-extensions-path=%s", both);
	CHECK_INT_EQ(PARSE(&c, err, arg, "d"), 0);
	CHECK_INT_EQ(config_unsupported(&c, err, sizeof(err)), -1);
	config_free(&c);
	/* A path that does not exist is not an empty directory either. */
	CHECK_INT_EQ(PARSE(&c, err, "-extensions-path=/nonexistent-rq-ext", "d"), 0);
	CHECK_INT_EQ(config_unsupported(&c, err, sizeof(err)), -1);
	config_free(&c);
	snprintf(arg, sizeof(arg), "%s/ext.so", d2);
	unlink(arg);
	rmdir(d1);
	rmdir(d2);
}

UNIT_TEST(supported_flags_pass_the_unsupported_check)
{
	struct rqlited_config c;
	char err[256];

	CHECK_INT_EQ(PARSE(&c, err, "-cluster-key=/k", "-bootstrap-expect=3", "-join=h:1,h:2",
	    "-raft-non-voter", "-http-allow-origin=*",
	    "-fk", "-mem", "-http-verify-client=false", "-auth=", "-raft-snap=100", "d"), 0);
	CHECK_STR_EQ(c.cluster_key, "/k");
	CHECK_INT_EQ(config_unsupported(&c, err, sizeof(err)), 0);
	config_free(&c);
}

static void
check_round_trip(int *unit_failed_, int argc, char **argv, const char *role)
{
	struct rqlited_config a, b;
	char err[256];
	char **child;
	int n;

	if (config_parse(&a, argc, argv, err, sizeof(err)) != 0 ||
	    config_validate(&a, err, sizeof(err)) != 0)
		UNIT_FAIL_("setup: %s", err);
	n = config_to_argv(&a, role, &child);
	CHECK(n > 0);
	CHECK(child[n] == NULL);
	CHECK_STR_EQ(child[n - 2], "--");
	CHECK_INT_EQ(config_parse(&b, n, child, err, sizeof(err)), 0);
	/* An explicit role wins; otherwise the config's own role (if any) is kept. */
	if (role != NULL)
		CHECK_STR_EQ(b.role, role);
	else if (a.role != NULL)
		CHECK_STR_EQ(b.role, a.role);
	else
		CHECK(b.role == NULL);
	free(b.role);
	b.role = a.role != NULL ? strdup(a.role) : NULL;
	CHECK(config_equal(&a, &b));
	/* Spot checks that do not rely on config_equal. */
	CHECK_STR_EQ(b.data_dir, a.data_dir);
	CHECK_STR_EQ(b.node_id, a.node_id);
	CHECK_STR_EQ(b.http_adv_addr, a.http_adv_addr);
	CHECK_INT_EQ(b.on_disk, a.on_disk);
	CHECK_INT_EQ(b.raft_snap_int, a.raft_snap_int);
	CHECK_INT_EQ(b.raft_reap_node_timeout, a.raft_reap_node_timeout);
	/* The child validates the same and stays equal. */
	CHECK_INT_EQ(config_validate(&b, err, sizeof(err)), 0);
	CHECK(config_equal(&a, &b));
	config_argv_free(child);
	config_free(&a);
	config_free(&b);
}

UNIT_TEST(to_argv_then_parse_gives_an_identical_config)
{
	char *plain[] = { "rqlited", "data" };
	check_round_trip(unit_failed_, 2, plain, "storage");
	if (*unit_failed_)
		return;

	char *busy[] = { "rqlited", "-mem", "-fk", "-raft-shutdown-stepdown=false",
		"-http-addr", "127.0.0.1:5001", "-raft-adv-addr=10.0.0.1:5002",
		"-node-id=node one = first", "-raft-snap-int=1.000000001s", "-raft-snap=0x20",
		"-join-interval=-1.5h", "-raft-reap-node-timeout=25h1m", "-http-allow-origin=",
		"-disco-config", "{\"name\": \"x\"}", "-cluster-key=/etc/rq.key", "-raft-log-level=DEBUG",
		"-db-max-ro-conns=0", "-write-queue-capacity=7", "-raft-snap-wal-size=0",
		"-auto-optimize-int=0h", "-P=gateway", "--", "-odd dir" };
	check_round_trip(unit_failed_, (int)(sizeof(busy) / sizeof(busy[0])), busy, "consensus");
	if (*unit_failed_)
		return;
	check_round_trip(unit_failed_, (int)(sizeof(busy) / sizeof(busy[0])), busy, NULL);
	if (*unit_failed_)
		return;
	check_round_trip(unit_failed_, 2, plain, NULL);
}

UNIT_TEST(config_equal_notices_a_changed_value)
{
	struct rqlited_config a, b;
	char err[256];

	CHECK_INT_EQ(PARSE(&a, err, "d"), 0);
	CHECK_INT_EQ(PARSE(&b, err, "d"), 0);
	CHECK(config_equal(&a, &b));
	b.write_queue_timeout++;
	CHECK(!config_equal(&a, &b));
	b.write_queue_timeout--;
	b.on_disk = false;
	CHECK(!config_equal(&a, &b));
	config_free(&a);
	config_free(&b);
}

UNIT_TEST(usage_lists_every_flag_with_go_style_defaults)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	config_usage(f);
	fclose(f);
	CHECK(strstr(buf, "Usage: rqlited [flags] <data directory>\n") != NULL);
	CHECK(strstr(buf, "\n  -http-addr string\n    \t") != NULL);
	CHECK(strstr(buf, "(default \"localhost:4001\")\n") != NULL);
	CHECK(strstr(buf, "\n  -bootstrap-expect-timeout duration\n") != NULL);
	CHECK(strstr(buf, " (default 2m0s)\n") != NULL);
	CHECK(strstr(buf, " (default 24h0m0s)\n") != NULL);
	CHECK(strstr(buf, " (default 50ms)\n") != NULL);
	CHECK(strstr(buf, "\n  -raft-snap uint\n") != NULL);
	CHECK(strstr(buf, " (default 8192)\n") != NULL);
	CHECK(strstr(buf, "\n  -fk\n    \t") != NULL);
	CHECK(strstr(buf, "\n  -cluster-key string\n") != NULL);
	CHECK(strstr(buf, "\n  -P") == NULL);
	/* Alphabetical, like Go's VisitAll. */
	CHECK(strstr(buf, "-auth ") < strstr(buf, "-write-queue-tx"));
	/* Zero defaults are not printed. */
	CHECK(strstr(buf, "(default 0") == NULL);
	CHECK(strstr(buf, "(default false)") == NULL);
	CHECK(strstr(buf, "(default \"\")") == NULL);
	free(buf);
}

UNIT_MAIN()
