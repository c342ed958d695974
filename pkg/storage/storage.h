/* The storage role: owns the SQLite database and applies committed commands. */
#ifndef RQ_STORAGE_H
#define RQ_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

/* APPLY's `ty`: the Raft entry type; only commands touch the database. */
#define STORAGE_ENTRY_COMMAND 1

struct storage_options {
	const char *data_dir;
	bool on_disk;		/* false: the database lives in memory */
	bool fk;
	int max_ro_conns;
	uint64_t read_timeout_ms;	/* reads without a shorter db_timeout; 0 = none */
	uint64_t max_value;		/* reads: SQLITE_LIMIT_LENGTH */
	uint64_t max_result;		/* reads: bytes of rows one read may return */
};

/* Runs the storage process; never returns. */
void storage_main(const struct storage_options *opts) __attribute__((__noreturn__));

#endif
