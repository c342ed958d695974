/* Automatic VACUUM and optimize proposed by the leader (consensus_maintenance.c). */
#ifndef RQ_CONSENSUS_MAINTENANCE_H
#define RQ_CONSENSUS_MAINTENANCE_H

#include <limits.h>

#include <msgpack.h>

#include "consensus_base.h"

struct event;

struct maint_task {
	const char *name;		/* in the times file, the log and the entry */
	int64_t interval_ms;		/* 0: off */
	int64_t base_ms, last_ms;	/* wall clock; 0 = not set */
	uint64_t proposed;		/* by this node */
	msgpack_sbuffer cmd;		/* the entry's exact bytes */
};

#define MAINT_NTASKS	2

struct cs_maintenance {
	struct maint_task tasks[MAINT_NTASKS];	/* vacuum, optimize */
	char path[PATH_MAX];
	struct event *timer;
};

void cs_maintenance_init(struct consensus *c);
/* An entry goes to storage: a maintenance entry records when its task ran. */
void cs_maintenance_applied(struct consensus *c, const void *cmd, size_t len);
void cs_maintenance_status(struct consensus *c, struct ipc_writer *out);

#endif
