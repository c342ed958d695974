/*
 * The skeleton every role process shares: event base, the supervisor link on fd 3
 * (links to siblings and listening sockets arrive over it), heartbeats, signals,
 * readiness. A role fills in role_ops and calls role_run().
 */
#ifndef RQ_COMMON_ROLE_H
#define RQ_COMMON_ROLE_H

#include <stdbool.h>

#include <event2/event.h>

#include "proc.h"

struct role_ops {
	enum proc_id id;
	/* A new link to sibling `peer` (replaces any previous one). Takes ownership of fd. */
	void (*on_link)(enum proc_id peer, int fd, void *ctx);
	/* A listening socket named "http" or "raft". Takes ownership of fd. */
	void (*on_listen)(const char *name, int fd, void *ctx);
	/* Orderly stop requested; call role_exit() when done (may be at once). */
	void (*on_shutdown)(void *ctx);
	/*
	 * Answer heartbeats from a thread of their own, for a role that makes long calls
	 * (storage). Otherwise the loop answers them: a second thread would make every
	 * malloc in the process take glibc's arena lock.
	 */
	bool heartbeat_thread;
	/* SIGHUP (the supervisor passes its own on): reread files such as -auth. NULL:
	 * the signal is ignored. */
	void (*on_reload)(void *ctx);
};

struct role {
	const struct role_ops *ops;
	void *ctx;
	struct event_base *base;
	struct event *sv_ev;
	struct event *sigterm_ev;
	struct event *sighup_ev;
	struct event *tick_ev;		/* marks progress while the loop runs */
	struct event *hb_ev;		/* heartbeats answered by the loop */
	int sv_fd;
	int ready_sent;
};

/* Sets up the event base and the supervisor link; returns the base to build on. */
struct event_base *role_init(struct role *r, const struct role_ops *ops, void *ctx);
/* Tells the supervisor this role is serving. */
void role_ready(struct role *r);
/* Runs the loop until role_exit(); never returns. */
void role_run(struct role *r) __attribute__((__noreturn__));
/*
 * Heartbeats are answered by a thread of their own (on PROC_HEARTBEAT_FD), so a role
 * busy in one long call (a slow statement, a restore) is not taken for hung. Each
 * SV_PONG says how long the role has gone without progress: the loop marks progress
 * every 100 ms, and a long call marks it with role_progress() as it goes. The
 * supervisor reports a busy role and kills only one that stops answering or makes
 * no progress for minutes.
 */
void role_progress(struct role *r);
/* Leaves the loop; role_run then exits the process with status 0. */
void role_exit(struct role *r);

#endif
