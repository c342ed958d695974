/*
 * Internals shared by the files that run one command on a storage_db connection:
 * storage_db_exec.c (the request: transactions, the statement loop, entry points),
 * storage_db_exec_cmd.c (decoding the command map, binding arguments),
 * storage_db_exec_stmt.c (one statement in execute or query form, packing its
 * result) and storage_db_exec_budget.c (deadline, step budget, the errors they give).
 * Not for use outside pkg/storage/storage_db*.c.
 */
#ifndef RQ_STORAGE_DB_EXEC_INT_H
#define RQ_STORAGE_DB_EXEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "storage/storage_db_int.h"

#define ERR_QUERY_WRITE		"attempt to change database via query operation"
#define ERR_EXECUTE_TIMEOUT	"execute timeout"
#define ERR_QUERY_TIMEOUT	"query timeout"

/* A decoded command map (docs/wire-formats.md); points into the connection's zone. */
struct sdb_cmd {
	uint64_t kind;
	bool tx;
	uint64_t to_ms;
	uint64_t steps;		/* `st`: the write's step budget; 0 = the default */
	uint64_t max_value;	/* `ml`: the write's SQLITE_LIMIT_LENGTH; 0 = the default */
	const msgpack_object *stmts;
	uint32_t nstmts;
};

/* One command running on one connection. */
struct sdb_req {
	struct storage_db *sdb;
	struct sdb_conn *conn;
	msgpack_packer pk;	/* into conn->rbuf */
	uint32_t nresults;
	bool tx;		/* the command has `transaction`: storage's BEGIN is in effect */
	bool failed;		/* request-level error in err */
	char err[1024];
	char msg[1024];		/* the current statement's error */
};

/* storage_db_exec_cmd.c */
/* Checks the command map's shape and fills c; -1 with a message in err. */
int sdb_parse_cmd(const msgpack_object *o, struct sdb_cmd *c, char *err, size_t errlen);
/* Flattens a statement's arguments into conn->args, maps expanded key by key. */
int sdb_flatten_args(struct sdb_conn *sdb, const msgpack_object *st, size_t *nargs);
/* Binds args[start, start+na) by position and every named argument by name. */
int sdb_bind_args(sqlite3_stmt *s, const struct sdb_arg *args, size_t nargs, size_t start,
    size_t na);

/* storage_db_exec_budget.c */
/* The progress handler installed for every command (deadline, budget, heartbeats). */
int sdb_progress_cb(void *arg);
/* The command may not start another statement: its time or its budget is spent. */
bool sdb_out_of_time(const struct sdb_conn *c);
/* Why the command stops before its next statement (into rq->msg). */
const char *sdb_stop_msg(struct sdb_req *rq, const char *timeout_msg);
/* The connection's error for rc, worded for the client (into rq->msg). */
const char *sdb_sqlite_msg(struct sdb_req *rq, int rc, const char *timeout_msg);
/* Steps client SQL: the budget counts and the policy knows it runs. */
int sdb_client_step(struct sdb_conn *c, sqlite3_stmt *s);

/* storage_db_exec_stmt.c */
void sdb_pack_lit(msgpack_packer *pk, const char *s);
/* Packs a statement's error as its result; always returns -1. */
int sdb_res_error(struct sdb_req *rq, bool query_form, const char *msg);
/* The statement cannot write (EXPLAIN counts as read-only; NULL too). */
bool sdb_stmt_readonly(sqlite3_stmt *s);
/* One statement text in query form (rqlite's Query); 0, or -1 if its result is an error. */
int sdb_run_query(struct sdb_req *rq, const char *sql, size_t len, const struct sdb_arg *args,
    size_t nargs, bool refuse);
/* One statement text in execute form (rqlite's Execute); 0, or -1 if its result is an
 * error. */
int sdb_run_exec(struct sdb_req *rq, const char *sql, size_t len, const struct sdb_arg *args,
    size_t nargs);

#endif
