/*
 * The processes of one node. Arrays of per-process things are sized by PROC_MAX;
 * the supervisor's table of how to run each one lives in pkg/supervisor.
 */
#ifndef RQ_COMMON_PROC_H
#define RQ_COMMON_PROC_H

enum proc_id {
	PROC_SUPERVISOR,
	PROC_GATEWAY,
	PROC_CONSENSUS,
	PROC_STORAGE,
	PROC_MAX
};

/* "gateway" … ; NULL when out of range. */
const char *proc_name(enum proc_id id);
/* Inverse of proc_name; PROC_MAX when unknown. */
enum proc_id proc_from_name(const char *name);

/* Rewrites the process title shown by ps ("rqlited: gateway"). Call once, early. */
void proc_set_title(int argc, char **argv, const char *title);

/*
 * A role that exits with this status has hit an error restarting cannot fix (it
 * could not join its cluster, its configuration is unusable): the supervisor stops
 * the whole node and exits non-zero instead of restarting it.
 */
#define PROC_EXIT_FATAL 78

/* The supervisor link is always this fd in a child. */
#define PROC_SUPERVISOR_FD 3
/* Heartbeats (SV_PING → SV_PONG) have a link of their own, answered by a thread of
 * the child, so that a role busy in one long call still answers. */
#define PROC_HEARTBEAT_FD 4

#endif
