/*
 * The gateway role: rqlite's HTTP API on libmicrohttpd, driven from a libevent loop.
 * It holds no database or Raft state: every request becomes messages to consensus
 * (writes, read barriers, status) and storage (reads, status).
 */
#ifndef RQ_GATEWAY_H
#define RQ_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

struct gateway_options {
	const char *node_id;
	const char *http_addr;		/* bind, for /status */
	const char *http_adv_addr;	/* advertised host:port */
	const char *raft_adv_addr;
	const char *allow_origin;	/* "" for none */
	const char *auth_file;		/* -auth, "" for none */
	const char *http_cert, *http_key;	/* -http-cert/-http-key: HTTPS; "" for HTTP */
	const char *http_ca_cert;	/* -http-ca-cert: verifies clients' certificates */
	bool http_verify_client;	/* -http-verify-client: mutual TLS */
	const char *http_verify_cn;	/* -http-verify-common-name, "" for any */
	const char *data_dir;
	const char *version;		/* X-RQLITE-VERSION */
	bool non_voter;
	int64_t apply_timeout_ns;
	int write_queue_capacity;
	int write_queue_batch_size;
	int64_t write_queue_timeout_ns;
	bool write_queue_tx;
	uint64_t write_steps;		/* `st` of every write this node proposes */
	uint64_t max_value;		/* `ml`, likewise */
};

void gateway_main(const struct gateway_options *opts) __attribute__((__noreturn__));

#endif
