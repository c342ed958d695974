/* The consensus role: Raft core, durable log, peers, and the order of commits. */
#ifndef RQ_CONSENSUS_H
#define RQ_CONSENSUS_H

#include <stdbool.h>
#include <stdint.h>

struct consensus_options {
	const char *data_dir;
	const char *node_id;
	const char *raft_adv_addr;
	const char *http_adv_addr;	/* "host:port", for /status and /nodes */
	const char *http_api_url;	/* "http(s)://host:port": what others are told */
	int64_t election_timeout_ms;
	int64_t heartbeat_timeout_ms;
	int64_t lease_timeout_ms;	/* 0: Raft default */
	bool non_voter;
	const char *join;		/* comma-separated Raft addresses, "" for none */
	int join_attempts;
	int64_t join_interval_ms;
	int bootstrap_expect;
	int64_t bootstrap_expect_timeout_ms;
	const char *cluster_key_file;	/* "" for plaintext peer links */
	const char *auth_file;		/* -auth: checks forwarded requests and joins; "" none */
	const char *join_as;		/* -join-as: our credentials for joins and removal */
	const char *version;
	bool shutdown_stepdown;
	bool cluster_remove_shutdown;	/* -raft-cluster-remove-shutdown */
	int64_t reap_voter_ms;		/* -raft-reap-node-timeout, 0 = off */
	int64_t reap_nonvoter_ms;	/* -raft-reap-read-only-node-timeout, 0 = off */
	int64_t connect_timeout_ms;
	uint64_t snap_threshold;	/* -raft-snap: entries between snapshots */
	int64_t snap_interval_ms;	/* -raft-snap-int */
	uint64_t snap_wal_size;		/* -raft-snap-wal-size: also snapshot past this WAL size */
	uint64_t log_segment_size;	/* -raft-log-segment-size */
	bool on_disk;			/* a WAL file exists only for an on-disk database */
	int64_t apply_timeout_ms;	/* -raft-apply-timeout: longest wait for a commit */
	bool compress_snap_transport;	/* zlib-compress snapshot chunks sent to followers */
	int64_t commit_timeout_ms;	/* -raft-commit-timeout: reported; commits go out at once */
	int64_t auto_vacuum_ms;		/* -auto-vacuum-int, 0 = off */
	int64_t auto_optimize_ms;	/* -auto-optimize-int, 0 = off */
};

void consensus_main(const struct consensus_options *opts) __attribute__((__noreturn__));

#endif
