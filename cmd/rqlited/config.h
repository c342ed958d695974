/*
 * rqlited's command line: every flag of rqlite's rqlited (same names, defaults and
 * Go `flag` package syntax), plus a few of ours (-cluster-key, -on-disk/-mem, and the
 * private -P role flag the supervisor uses when it re-executes itself as a role).
 *
 * Typical use in main():
 *
 *	char err[512];
 *	int rc = config_parse(&cfg, argc, argv, err, sizeof(err));
 *	if (rc == CONFIG_ERR_NOARGS)   "failed to parse command-line flags: <err>", exit 1
 *	if (rc == CONFIG_ERR_SYNTAX)   "<err>\n" then config_usage(stderr), exit 2
 *	if (cfg.help)                  config_usage(stderr), exit 0
 *	if (cfg.version)               print the version line, exit 0
 *	if (config_validate(&cfg, err, sizeof(err)) == -1)  "<err>\n" on stderr, exit 1
 *	if (config_unsupported(&cfg, err, sizeof(err)) == -1)  report err, exit 1
 *	config_free(&cfg);             always, also after a failed parse
 */
#ifndef RQ_CMD_RQLITED_CONFIG_H
#define RQ_CMD_RQLITED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Upper bound on the number of flags; config.c checks its table fits. */
#define CONFIG_FLAGS_MAX	96

/* Return codes of config_parse(). */
#define CONFIG_ERR_SYNTAX	(-1)	/* Go's flag package would print err and usage, exit 2 */
#define CONFIG_ERR_NOARGS	(-2)	/* no arguments at all: rqlite exits 1 without usage */

/*
 * Strings are never NULL (empty when unset) except `role`, which is NULL in the
 * supervisor. Durations are nanoseconds. All strings are owned by the config.
 */
struct rqlited_config {
	/* Positional argument; "" when missing. Made absolute by config_validate(). */
	char *data_dir;
	/* Arguments after the data directory, kept so config_validate() can reject them. */
	int extra_argc;
	char **extra_argv;

	bool version;			/* -version */
	bool help;			/* -h, -help: parsing stopped there */
	char *role;			/* -P gateway|consensus|storage; NULL = supervisor */

	/* Node identity and HTTP API. */
	char *node_id;			/* defaults to raft_adv_addr in config_validate() */
	char *http_addr;
	char *http_adv_addr;		/* defaults to http_addr in config_validate() */
	char *http_allow_origin;
	char *http_cert;
	char *http_key;
	char *http_ca_cert;
	bool http_verify_client;
	char *http_verify_common_name;
	char *auth_file;		/* -auth */

	/* Inter-node. */
	char *raft_addr;
	char *raft_adv_addr;		/* defaults to raft_addr in config_validate() */
	char *node_cert;
	char *node_key;
	char *node_ca_cert;
	bool node_no_verify;
	bool node_verify_client;
	char *node_verify_server_name;
	char *node_verify_common_name;
	char *cluster_key;		/* ours: key file authenticating peer links */
	int64_t cluster_connect_timeout;
	bool compress_snap_transport;

	/* Joining and discovery. */
	char *join;			/* comma-separated Raft addresses */
	int join_attempts;
	int64_t join_interval;
	char *join_as;
	int bootstrap_expect;
	int64_t bootstrap_expect_timeout;
	char *disco_mode;
	char *disco_key;
	char *disco_config;

	/* Raft. */
	bool raft_non_voter;
	char *raft_log_level;
	uint64_t raft_snap;
	uint64_t raft_snap_wal_size;
	uint64_t raft_log_segment_size;	/* ours: bytes per log segment */
	int64_t raft_snap_int;
	int64_t raft_heartbeat_timeout;
	int64_t raft_election_timeout;
	int64_t raft_commit_timeout;
	int64_t raft_leader_lease_timeout;
	int64_t raft_apply_timeout;
	bool raft_remove_shutdown;
	bool raft_cluster_remove_shutdown;
	bool raft_shutdown_stepdown;
	int64_t raft_reap_node_timeout;
	int64_t raft_reap_read_only_node_timeout;

	/* Database. */
	bool on_disk;			/* ours: false (-on-disk=false or -mem) = in-memory SQLite */
	bool fk;
	int db_max_ro_conns;
	uint64_t db_write_steps;	/* ours: step budget of one write entry */
	uint64_t db_max_value_size;	/* ours: SQLITE_LIMIT_LENGTH */
	uint64_t db_max_result_size;	/* ours: bytes of rows one read may return */
	int64_t db_read_timeout;	/* ours: ns; 0 = reads run until done */
	int64_t auto_vacuum_int;
	int64_t auto_optimize_int;
	char *extensions_path;		/* comma-separated */

	/* Queued writes. */
	int write_queue_capacity;
	int write_queue_batch_size;
	int64_t write_queue_timeout;
	bool write_queue_tx;

	/* Backup, CDC, metrics, profiling. */
	char *auto_backup;
	char *auto_restore;
	char *cdc_config;
	char *otlp_endpoint;
	int64_t otlp_interval;
	bool otlp_insecure;
	bool otlp_no_verify;
	char *otlp_ca_cert;
	char *otlp_cert;
	char *otlp_key;
	char *cpu_profile;
	char *mem_profile;
	char *trace_profile;

	/* Which flags appeared on the command line (Go's FlagSet.Visit), by table index. */
	bool set[CONFIG_FLAGS_MAX];
};

/* Fills cfg with every default (no flags set). Release with config_free(). */
void config_init(struct rqlited_config *cfg);

/*
 * Initialises cfg with the defaults, then parses argv (argv[0] is the program name)
 * with Go's flag package rules: `-flag v`, `--flag v`, `-flag=v`, bare booleans and
 * `-b=false` (`-b false` ends the flags, "false" being the data directory), `--` ends
 * the flags, flags stop at the first positional argument, `-h`/`-help` stop parsing and
 * set cfg->help. The first positional is the data directory, the rest go to extra_argv.
 * Returns 0, CONFIG_ERR_SYNTAX with Go's message in err (e.g. `flag provided but not
 * defined: -foo`, `invalid value "x" for flag -raft-snap: parse error`), or
 * CONFIG_ERR_NOARGS when argc < 2 (`missing required argument: DataPath`).
 * cfg always needs config_free() afterwards.
 */
int config_parse(struct rqlited_config *cfg, int argc, char **argv, char *err, size_t errlen);

/*
 * rqlite's post-parse checks, in rqlite's order: explicitly set reap timeouts must be
 * > 0, no arguments after the data directory, data directory present (then made
 * absolute), TLS flags in pairs, address rules (API.md §4.1), join, CDC, OTLP and
 * discovery consistency. Fills the defaults that depend on other flags (advertised
 * addresses, node ID). Returns 0, or -1 with the complete line rqlite prints on stderr
 * before exiting 1 (it starts "fatal: " except for the extra-arguments message).
 * Safe to call more than once.
 */
int config_validate(struct rqlited_config *cfg, char *err, size_t errlen);

/*
 * Returns -1 with a message naming the first flag that is set but that this build
 * cannot honour yet, 0 when everything requested is supported.
 */
int config_unsupported(const struct rqlited_config *cfg, char *err, size_t errlen);

/* -h output: rqlite's banner and usage line, then every public flag like Go's PrintDefaults. */
void config_usage(FILE *out);

/* True if the flag (name without '-') was given on the command line. */
bool config_is_set(const struct rqlited_config *cfg, const char *name);

/* True if both configs hold the same data directory, role and flag values. */
bool config_equal(const struct rqlited_config *a, const struct rqlited_config *b);

void config_free(struct rqlited_config *cfg);

/*
 * Serialises cfg to a NULL-terminated argv ("rqlited", "-P=<role>", "-flag=value"…,
 * "--", data_dir) that config_parse() turns back into an equal config, so role
 * processes see exactly the supervisor's configuration. Flags are emitted when set
 * or different from their default; role overrides cfg->role (both may be NULL).
 * Returns argc and the new array in *argv_out (free with config_argv_free()), or -1.
 */
int config_to_argv(const struct rqlited_config *cfg, const char *role, char ***argv_out);
void config_argv_free(char **argv);

#endif
