/*
 * rqlited's flags: one table describes every flag (name, type, field, default, help);
 * the parser (config_parse.c), the usage text, the comparison and the re-exec argv
 * (config_print.c) and the refused flags (config_unsupported.c) are all driven by it.
 * This file owns the table, the defaults, looking a flag up and freeing a config.
 */
#include "config_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define F(name, type, field, def, help)	\
	{ name, CONFIG_##type, offsetof(struct rqlited_config, field), def, help, 0 }
#define FX(name, type, field, def, help, fl)	\
	{ name, CONFIG_##type, offsetof(struct rqlited_config, field), def, help, fl }

/* Sorted by name, the order Go's PrintDefaults uses. */
const struct config_flag config_flags[] = {
	FX("P", ROLE, role, "", "role process to run (internal)", CONFIG_F_HIDDEN | CONFIG_F_NOSERIAL),
	F("auth", STRING, auth_file, "", "Path to the credentials and permissions file. Empty: no authentication"),
	F("auto-backup", STRING, auto_backup, "", "Path to the automatic backup configuration. Empty: no automatic backups"),
	F("auto-optimize-int", DURATION, auto_optimize_int, "24h", "Interval between automatic 'PRAGMA optimize' runs. 0h disables them"),
	F("auto-restore", STRING, auto_restore, "", "Path to the automatic restore configuration. Empty: no automatic restore"),
	F("auto-vacuum-int", DURATION, auto_vacuum_int, "0s", "Interval between automatic VACUUMs. Zero disables them"),
	F("bootstrap-expect", INT, bootstrap_expect, "0", "Number of nodes that must be present before a cluster bootstraps"),
	F("bootstrap-expect-timeout", DURATION, bootstrap_expect_timeout, "120s", "Longest time the bootstrap process may take"),
	F("cdc-config", STRING, cdc_config, "", "CDC HTTP endpoint, or path to a CDC configuration file. Empty: CDC off"),
	F("cluster-connect-timeout", DURATION, cluster_connect_timeout, "30s", "Timeout for the first connection to another node"),
	F("cluster-key", STRING, cluster_key, "", "Path to a 32-byte key file authenticating and sealing node-to-node links. Empty: plaintext links"),
	F("compress-snap-transport", BOOL, compress_snap_transport, "false", "Compress snapshots sent between nodes"),
	F("cpu-profile", STRING, cpu_profile, "", "Path to write CPU profiling data to"),
	F("db-max-result-size", UINT64, db_max_result_size, "33554432", "Most bytes of rows one read may return; larger results answer an error (ours)"),
	F("db-max-ro-conns", INT, db_max_ro_conns, "256", "Most read-only database connections open at once"),
	F("db-max-value-size", UINT64, db_max_value_size, "33554432", "Longest string or BLOB, and largest row, a statement may make (ours)"),
	F("db-read-timeout", DURATION, db_read_timeout, "25s", "Longest a read may run when it gives no shorter db_timeout; below the default HTTP timeout. 0s: no limit (ours)"),
	F("db-write-steps", UINT64, db_write_steps, "250000000", "Most SQLite steps one write request may take; the same on every node (ours)"),
	F("disco-config", STRING, disco_config, "", "Discovery configuration, or path to a file holding it"),
	F("disco-key", STRING, disco_key, "rqlite", "Key prefix used in the discovery service"),
	F("disco-mode", STRING, disco_mode, "", "Node discovery mode: dns, dns-srv, consul-kv or etcd-kv. Empty: no discovery"),
	F("extensions-path", STRING, extensions_path, "", "Comma-separated paths of SQLite extensions (files, directories, zip or tar.gz archives)"),
	F("fk", BOOL, fk, "false", "Enforce SQLite foreign key constraints"),
	F("http-addr", STRING, http_addr, "localhost:4001", "Address the HTTP API listens on. Set a certificate and key for HTTPS"),
	F("http-adv-addr", STRING, http_adv_addr, "", "HTTP address advertised to other nodes. Empty: the HTTP bind address"),
	F("http-allow-origin", STRING, http_allow_origin, "", "Access-Control-Allow-Origin header value for HTTP responses"),
	F("http-ca-cert", STRING, http_ca_cert, "", "Path to the X.509 CA certificate used for HTTPS"),
	F("http-cert", STRING, http_cert, "", "Path to the X.509 certificate for HTTPS"),
	F("http-key", STRING, http_key, "", "Path to the X.509 private key for HTTPS"),
	F("http-verify-client", BOOL, http_verify_client, "false", "Require client certificates on HTTPS (mutual TLS)"),
	F("http-verify-common-name", STRING, http_verify_common_name, "", "Common Name required in client certificates. Empty: any"),
	F("join", STRING, join, "", "Comma-separated host:port Raft addresses of nodes to join a cluster through"),
	F("join-as", STRING, join_as, "", "User from the auth file to join as. Empty: join anonymously"),
	F("join-attempts", INT, join_attempts, "5", "How many rounds of join attempts to make"),
	F("join-interval", DURATION, join_interval, "3s", "Pause between rounds of join attempts"),
	F("mem", BOOL_NOT, on_disk, "false", "Keep the SQLite database in memory (same as -on-disk=false)"),
	F("mem-profile", STRING, mem_profile, "", "Path to write memory profiling data to"),
	F("node-ca-cert", STRING, node_ca_cert, "", "Path to the X.509 CA certificate for node-to-node TLS"),
	F("node-cert", STRING, node_cert, "", "Path to the X.509 certificate for node-to-node TLS"),
	F("node-id", STRING, node_id, "", "Unique, permanent ID of this node. Empty: the advertised Raft address"),
	F("node-key", STRING, node_key, "", "Path to the X.509 private key for node-to-node TLS"),
	F("node-no-verify", BOOL, node_no_verify, "false", "Do not verify certificates presented by other nodes"),
	F("node-verify-client", BOOL, node_verify_client, "false", "Require certificates from connecting nodes (mutual TLS)"),
	F("node-verify-common-name", STRING, node_verify_common_name, "", "Common Name required in certificates of connecting nodes. Empty: any"),
	F("node-verify-server-name", STRING, node_verify_server_name, "", "Host name expected in certificates returned by other nodes"),
	F("on-disk", BOOL, on_disk, "true", "Keep the SQLite database in a file in the data directory; false keeps it in memory"),
	F("otlp-ca-cert", STRING, otlp_ca_cert, "", "Path to the X.509 CA certificate for the OpenTelemetry collector"),
	F("otlp-cert", STRING, otlp_cert, "", "Path to the X.509 certificate for mutual TLS with the OpenTelemetry collector"),
	F("otlp-endpoint", STRING, otlp_endpoint, "", "host:port of an OpenTelemetry collector to push metrics to. Empty: no push"),
	F("otlp-insecure", BOOL, otlp_insecure, "false", "Talk plaintext gRPC to the OpenTelemetry collector"),
	F("otlp-interval", DURATION, otlp_interval, "30s", "Interval between metric pushes to the OpenTelemetry collector"),
	F("otlp-key", STRING, otlp_key, "", "Path to the X.509 private key for mutual TLS with the OpenTelemetry collector"),
	F("otlp-no-verify", BOOL, otlp_no_verify, "false", "Do not verify the OpenTelemetry collector's certificate"),
	F("raft-addr", STRING, raft_addr, "localhost:4002", "Address the inter-node (Raft) port listens on"),
	F("raft-adv-addr", STRING, raft_adv_addr, "", "Raft address advertised to other nodes. Empty: the Raft bind address"),
	F("raft-apply-timeout", DURATION, raft_apply_timeout, "10s", "Longest wait for a log entry to be applied"),
	F("raft-cluster-remove-shutdown", BOOL, raft_cluster_remove_shutdown, "false", "Remove this node from the cluster on graceful shutdown"),
	F("raft-commit-timeout", DURATION, raft_commit_timeout, "50ms", "Raft commit timeout"),
	F("raft-election-timeout", DURATION, raft_election_timeout, "1s", "Raft election timeout"),
	F("raft-heartbeat-timeout", DURATION, raft_heartbeat_timeout, "1s", "Raft heartbeat timeout"),
	F("raft-leader-lease-timeout", DURATION, raft_leader_lease_timeout, "0s", "Raft leader lease timeout. 0s: the Raft default"),
	F("raft-log-level", STRING, raft_log_level, "WARN", "Lowest level logged by the Raft module"),
	F("raft-non-voter", BOOL, raft_non_voter, "false", "Run as a non-voting node (read replica)"),
	F("raft-reap-node-timeout", DURATION, raft_reap_node_timeout, "0h", "Remove voting nodes unreachable for this long. Unset: never"),
	F("raft-reap-read-only-node-timeout", DURATION, raft_reap_read_only_node_timeout, "0h", "Remove non-voting nodes unreachable for this long. Unset: never"),
	F("raft-remove-shutdown", BOOL, raft_remove_shutdown, "false", "Shut Raft down when this node is removed from the cluster"),
	F("raft-shutdown-stepdown", BOOL, raft_shutdown_stepdown, "true", "Give up leadership before shutting down"),
	F("raft-snap", UINT64, raft_snap, "8192", "Log entries since the last snapshot that trigger a new one"),
	F("raft-snap-int", DURATION, raft_snap_int, "10s", "How often the snapshot thresholds are checked"),
	F("raft-snap-wal-size", UINT64, raft_snap_wal_size, "4194304", "SQLite WAL size in bytes that triggers a snapshot. 0 disables this trigger"),
	F("raft-log-segment-size", UINT64, raft_log_segment_size, "67108864", "Bytes per Raft log segment file; compaction removes whole segments (ours)"),
	F("trace-profile", STRING, trace_profile, "", "Path to write execution trace data to"),
	FX("version", BOOL, version, "false", "Print version information and exit", CONFIG_F_NOSERIAL),
	F("write-queue-batch-size", INT, write_queue_batch_size, "128", "Batch size of the queued-writes queue"),
	F("write-queue-capacity", INT, write_queue_capacity, "1024", "Capacity of the queued-writes queue"),
	F("write-queue-timeout", DURATION, write_queue_timeout, "50ms", "Longest wait before a partial batch of queued writes is written"),
	F("write-queue-tx", BOOL, write_queue_tx, "false", "Wrap each batch of queued writes in a transaction"),
};

#undef F
#undef FX

#define CONFIG_NFLAGS	(sizeof(config_flags) / sizeof(config_flags[0]))

_Static_assert(sizeof(config_flags) / sizeof(config_flags[0]) <= CONFIG_FLAGS_MAX,
    "raise CONFIG_FLAGS_MAX");

const size_t config_nflags = CONFIG_NFLAGS;

void *
config_field(struct rqlited_config *cfg, const struct config_flag *f)
{
	return (char *)cfg + f->offset;
}

const void *
config_cfield(const struct rqlited_config *cfg, const struct config_flag *f)
{
	return (const char *)cfg + f->offset;
}

char *
config_strdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

void
config_set_str(char **field, const char *value)
{
	char *p = config_strdup(value);
	free(*field);
	*field = p;
}

void
config_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const struct config_flag *
config_lookup(const char *name, size_t len, size_t *idx)
{
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		if (strlen(config_flags[i].name) == len &&
		    memcmp(config_flags[i].name, name, len) == 0) {
			if (idx != NULL)
				*idx = i;
			return &config_flags[i];
		}
	}
	return NULL;
}

void
config_init(struct rqlited_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = config_strdup("");
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		const struct config_flag *f = &config_flags[i];
		/* An alias must not overwrite the default of the flag it shadows. */
		if (f->type == CONFIG_BOOL_NOT || f->type == CONFIG_ROLE)
			continue;
		if (config_set(cfg, f, f->def) != NULL)
			fatalx("%s: bad default for -%s", __func__, f->name);
	}
}

void
config_free(struct rqlited_config *cfg)
{
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		const struct config_flag *f = &config_flags[i];
		if (f->type == CONFIG_STRING || f->type == CONFIG_ROLE) {
			char **p = config_field(cfg, f);
			free(*p);
			*p = NULL;
		}
	}
	free(cfg->data_dir);
	cfg->data_dir = NULL;
	for (int i = 0; i < cfg->extra_argc; i++)
		free(cfg->extra_argv[i]);
	free(cfg->extra_argv);
	cfg->extra_argv = NULL;
	cfg->extra_argc = 0;
}

bool
config_is_set(const struct rqlited_config *cfg, const char *name)
{
	size_t idx;

	if (config_lookup(name, strlen(name), &idx) == NULL)
		return false;
	return cfg->set[idx];
}
