/* The storage role: owns the SQLite database and applies committed commands. */
#ifndef RQ_STORAGE_H
#define RQ_STORAGE_H

#include <stdbool.h>

/* APPLY's `ty`: the Raft entry type; only commands touch the database. */
#define STORAGE_ENTRY_COMMAND 1

struct storage_options {
	const char *data_dir;
	bool on_disk;		/* false: the database lives in memory */
	bool fk;
	int max_ro_conns;
};

/* Runs the storage process; never returns. */
void storage_main(const struct storage_options *opts) __attribute__((__noreturn__));

#endif
