/* Process names and titles (see proc.h). */
#include "proc.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

static const char *proc_names[PROC_MAX] = {
	[PROC_SUPERVISOR] = "rqlited",
	[PROC_GATEWAY] = "gateway",
	[PROC_CONSENSUS] = "consensus",
	[PROC_STORAGE] = "storage",
};

const char *
proc_name(enum proc_id id)
{
	if ((unsigned)id >= PROC_MAX)
		return NULL;
	return proc_names[id];
}

enum proc_id
proc_from_name(const char *name)
{
	for (int i = 0; i < PROC_MAX; i++)
		if (strcmp(proc_names[i], name) == 0)
			return (enum proc_id)i;
	return PROC_MAX;
}

void
proc_set_title(int argc, char **argv, const char *title)
{
	char comm[16];
	char *end;
	size_t room, n;

	/* The short name (ps -o comm, top) and, where the argv area allows, the full
	 * command line (ps -ef). argv strings are contiguous; we reuse their space and
	 * leave the environment alone so getenv() keeps working. */
	snprintf(comm, sizeof(comm), "%s", title);
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (argc < 1)
		return;
	end = argv[argc - 1] + strlen(argv[argc - 1]);
	room = (size_t)(end - argv[0]);
	n = strlen(title);
	if (n > room)
		n = room;
	memcpy(argv[0], title, n);
	memset(argv[0] + n, 0, room - n + 1);
}
