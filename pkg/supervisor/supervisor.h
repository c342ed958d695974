/*
 * The supervisor: owns the data directory lock, the listening sockets and the
 * lifecycle of the three role processes (start storage → consensus → gateway,
 * restart with back-off, stop in order on SIGTERM/SIGINT).
 */
#ifndef RQ_SUPERVISOR_H
#define RQ_SUPERVISOR_H

struct supervisor_options {
	const char *data_dir;	/* absolute */
	const char *http_addr;	/* bind addresses */
	const char *raft_addr;
	int argc;		/* the node's own command line, re-used for the roles */
	char **argv;
};

/* Runs the node; returns the process exit status. */
int supervisor_main(const struct supervisor_options *opts);

#endif
