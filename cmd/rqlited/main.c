/*
 * rqlited: one node. Without -P this process is the supervisor; with -P <role> it is
 * one of the role processes the supervisor re-executes (same flags, same binary), so
 * every role starts from a clean image and can be started alone by a test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/auth.h"
#include "common/log.h"
#include "common/proc.h"
#include "config.h"
#include "consensus/consensus.h"
#include "consensus/peer_transport.h"
#include "gateway/gateway.h"
#include "storage/storage.h"
#include "supervisor/supervisor.h"

#ifndef RQLITED_VERSION
#define RQLITED_VERSION "v" PACKAGE_VERSION
#endif

static struct rqlited_config cfg;

static void
run_role(enum proc_id id, int argc, char **argv)
{
	char title[64];

	snprintf(title, sizeof(title), "rqlited: %s", proc_name(id));
	proc_set_title(argc, argv, title);
	switch (id) {
	case PROC_STORAGE: {
		static struct storage_options so;
		so.data_dir = cfg.data_dir;
		so.on_disk = cfg.on_disk;
		so.fk = cfg.fk;
		so.max_ro_conns = cfg.db_max_ro_conns;
		so.read_timeout_ms = (uint64_t)cfg.db_read_timeout / 1000000;
		so.max_value = cfg.db_max_value_size;
		so.max_result = cfg.db_max_result_size;
		storage_main(&so);
		break;
	}
	case PROC_CONSENSUS: {
		static struct consensus_options co;
		co.data_dir = cfg.data_dir;
		co.node_id = cfg.node_id;
		co.raft_adv_addr = cfg.raft_adv_addr;
		co.http_adv_addr = cfg.http_adv_addr;
		{
			/* As rqlite advertises it: the scheme says whether the API is HTTPS. */
			static char url[512];
			snprintf(url, sizeof(url), "%s://%s", cfg.http_cert[0] != '\0' ? "https" :
			    "http", cfg.http_adv_addr);
			co.http_api_url = url;
		}
		co.election_timeout_ms = cfg.raft_election_timeout / 1000000;
		co.heartbeat_timeout_ms = cfg.raft_heartbeat_timeout / 1000000;
		co.lease_timeout_ms = cfg.raft_leader_lease_timeout / 1000000;
		co.non_voter = cfg.raft_non_voter;
		co.join = cfg.join;
		co.join_attempts = cfg.join_attempts;
		co.join_interval_ms = cfg.join_interval / 1000000;
		co.bootstrap_expect = cfg.bootstrap_expect;
		co.bootstrap_expect_timeout_ms = cfg.bootstrap_expect_timeout / 1000000;
		co.cluster_key_file = cfg.cluster_key;
		co.auth_file = cfg.auth_file;
		co.join_as = cfg.join_as;
		co.version = RQLITED_VERSION;
		co.shutdown_stepdown = cfg.raft_shutdown_stepdown;
		co.cluster_remove_shutdown = cfg.raft_cluster_remove_shutdown;
		co.reap_voter_ms = cfg.raft_reap_node_timeout / 1000000;
		co.reap_nonvoter_ms = cfg.raft_reap_read_only_node_timeout / 1000000;
		co.connect_timeout_ms = cfg.cluster_connect_timeout / 1000000;
		co.snap_threshold = cfg.raft_snap;
		co.snap_interval_ms = cfg.raft_snap_int / 1000000;
		co.auto_vacuum_ms = cfg.auto_vacuum_int / 1000000;
		co.commit_timeout_ms = cfg.raft_commit_timeout / 1000000;
		co.compress_snap_transport = cfg.compress_snap_transport;
		co.auto_optimize_ms = cfg.auto_optimize_int / 1000000;
		co.snap_wal_size = cfg.raft_snap_wal_size;
		co.log_segment_size = cfg.raft_log_segment_size;
		co.on_disk = cfg.on_disk;
		co.apply_timeout_ms = cfg.raft_apply_timeout / 1000000;
		consensus_main(&co);
		break;
	}
	case PROC_GATEWAY: {
		static struct gateway_options go;
		go.node_id = cfg.node_id;
		go.http_addr = cfg.http_addr;
		go.http_adv_addr = cfg.http_adv_addr;
		go.raft_adv_addr = cfg.raft_adv_addr;
		go.allow_origin = cfg.http_allow_origin;
		go.auth_file = cfg.auth_file;
		go.http_cert = cfg.http_cert;
		go.http_key = cfg.http_key;
		go.http_ca_cert = cfg.http_ca_cert;
		go.http_verify_client = cfg.http_verify_client;
		go.http_verify_cn = cfg.http_verify_common_name;
		go.data_dir = cfg.data_dir;
		go.version = RQLITED_VERSION;
		go.non_voter = cfg.raft_non_voter;
		go.apply_timeout_ns = cfg.raft_apply_timeout;
		go.write_queue_capacity = cfg.write_queue_capacity;
		go.write_queue_batch_size = cfg.write_queue_batch_size;
		go.write_queue_timeout_ns = cfg.write_queue_timeout;
		go.write_queue_tx = cfg.write_queue_tx;
		go.write_steps = cfg.db_write_steps;
		go.max_value = cfg.db_max_value_size;
		gateway_main(&go);
		break;
	}
	default:
		fatalx("unknown role");
	}
}

/*
 * -auth, -join-as and the HTTPS files, checked before any role starts (each role reads the file
 * itself): a file that does not parse, or a -join-as user it does not hold in plain
 * text, stops the node here with one message instead of a role dying at every restart.
 */
static int
check_file_flags(void)
{
	struct auth_store *a = NULL;
	char err[512];

	if (cfg.join_as[0] != '\0' && cfg.auth_file[0] == '\0') {
		fprintf(stderr, "fatal: -join-as needs -auth (the user's password is read from it)\n");
		return -1;
	}
	if (cfg.http_verify_client && cfg.http_ca_cert[0] == '\0') {
		fprintf(stderr, "fatal: -http-verify-client needs -http-ca-cert (the CA that signs "
		    "client certificates)\n");
		return -1;
	}
	for (const char *const *f = (const char *const[]){ cfg.http_cert, cfg.http_key,
	    cfg.http_ca_cert, NULL }; *f != NULL; f++) {
		if ((*f)[0] != '\0' && access(*f, R_OK) != 0) {
			fprintf(stderr, "fatal: %s: %s\n", *f, strerror(errno));
			return -1;
		}
	}
	if (cfg.auth_file[0] == '\0')
		return 0;
	if (auth_store_load(cfg.auth_file, &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "fatal: -auth: %s\n", err);
		return -1;
	}
	if (cfg.join_as[0] != '\0' && auth_plain_password(a, cfg.join_as) == NULL) {
		fprintf(stderr, "fatal: -join-as: %s has no user %s with a plain-text password\n",
		    cfg.auth_file, cfg.join_as);
		auth_store_free(a);
		return -1;
	}
	auth_store_free(a);
	return 0;
}

int
main(int argc, char **argv)
{
	char err[1024];
	enum log_level level = LOG_LEVEL_INFO;
	enum proc_id role = PROC_SUPERVISOR;
	int rc;

	rc = config_parse(&cfg, argc, argv, err, sizeof(err));
	if (rc == CONFIG_ERR_SYNTAX || rc == CONFIG_ERR_NOARGS) {
		fprintf(stderr, "%s\n", err);
		config_usage(stderr);
		config_free(&cfg);
		return 2;
	}
	if (cfg.help) {
		config_usage(stderr);
		config_free(&cfg);
		return 0;
	}
	if (cfg.version) {
		printf("rqlited %s linux %s C11 sqlite%s\n", RQLITED_VERSION,
#if defined(__x86_64__)
		    "amd64",
#elif defined(__aarch64__)
		    "arm64",
#else
		    "unknown",
#endif
		    sqlite3_libversion());
		config_free(&cfg);
		return 0;
	}
	if (cfg.data_dir[0] == '\0') {
		fprintf(stderr, "fatal: no data directory set\n");
		config_usage(stderr);
		config_free(&cfg);
		return 2;
	}
	if (config_validate(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		config_free(&cfg);
		return 1;
	}
	if (config_unsupported(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "fatal: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	if (cfg.raft_log_level[0] != '\0')
		(void)log_level_parse(cfg.raft_log_level, &level);
	/* The Raft log level defaults to WARN in rqlite; our process logs are more useful
	 * at INFO, so only an explicit DEBUG raises it and ERROR lowers it. */
	if (level == LOG_LEVEL_WARN)
		level = LOG_LEVEL_INFO;
	if (cfg.role != NULL) {
		role = proc_from_name(cfg.role);
		if (role == PROC_MAX || role == PROC_SUPERVISOR) {
			fprintf(stderr, "fatal: unknown role %s\n", cfg.role);
			return 2;
		}
		log_init(proc_name(role), level);
		run_role(role, argc, argv);
	}
	log_init("rqlited", level);
	if (cfg.cluster_key[0] != '\0') {
		/* Checked before any role starts: consensus would otherwise die on it at
		 * every restart while the node looked up to its service manager. */
		unsigned char key[32];
		char kerr[512];

		if (peer_load_key(cfg.cluster_key, key, kerr, sizeof(kerr)) != 0) {
			fprintf(stderr, "fatal: -cluster-key: %s\n", kerr);	/* kerr names the file */
			config_free(&cfg);
			return 1;
		}
		sodium_memzero(key, sizeof(key));
	}
	if (check_file_flags() != 0) {
		config_free(&cfg);
		return 1;
	}
	{
		struct supervisor_options so = {
			.data_dir = cfg.data_dir,
			.http_addr = cfg.http_addr,
			.raft_addr = cfg.raft_addr,
			.argc = argc,
			.argv = argv,
		};
		rc = supervisor_main(&so);
	}
	config_free(&cfg);
	return rc;
}
