/*
 * Helpers for the storage engine's unit tests: build a command as the gateway packs
 * it, run it through storage_db, decode the result map; database files in a
 * temporary directory.
 */
#ifndef RQ_TEST_SDB_HELPERS_H
#define RQ_TEST_SDB_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "storage/storage_db.h"

struct cb {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

struct res {
	msgpack_sbuffer out;
	msgpack_unpacked u;
	const msgpack_object *top;
	int rc;
	bool whole;		/* exactly one msgpack object was packed */
};

void lit(msgpack_packer *pk, const char *s);
/* Starts {"k":kind,["tx":true,]["to":ms,]"s":[ …nstmts… ]}. */
void cb_init(struct cb *b, unsigned kind, bool tx, unsigned to_ms, unsigned nstmts);
/* The same with extra top-level keys first: the caller packs `extra` key/value pairs
 * right after this call returns, then the statements go after cb_begin_stmts(). */
void cb_init_extra(struct cb *b, unsigned kind, bool tx, unsigned to_ms, unsigned extra);
void cb_begin_stmts(struct cb *b, unsigned nstmts);
/* A statement [sql, …nargs…]; the caller packs the arguments next. */
void cb_stmt(struct cb *b, const char *sql, unsigned nargs);
void run_cb(struct storage_db *sdb, struct cb *b, bool read, struct res *r);
void res_free(struct res *r);
const msgpack_object *mget(const msgpack_object *m, const char *key);
const msgpack_object *aget(const msgpack_object *a, uint32_t i);
long alen(const msgpack_object *a);
/* A NUL-terminated copy of a str object; "(absent)" or "(not a string)" otherwise. */
const char *str(const msgpack_object *o);
long long ival(const msgpack_object *o);
const msgpack_object *res_at(const struct res *r, uint32_t i);
long nres(const struct res *r);
/* rows[row][col] of a query-form result */
const msgpack_object *cell(const msgpack_object *res, uint32_t row, uint32_t col);
struct storage_db *open_db(const char *path, bool fk);
/* The same with limits (NULL: the defaults). */
struct storage_db *open_db_lim(const char *path, bool fk, const struct storage_db_limits *lim);
/* Runs statements without arguments. */
void runv(struct storage_db *sdb, unsigned kind, bool tx, unsigned to, bool read,
    struct res *r, unsigned n, const char *const *sqls);
void exec1(struct storage_db *sdb, const char *sql, struct res *r);
void query1(struct storage_db *sdb, const char *sql, struct res *r);
/* Runs one statement and checks it did not fail; false (and says why) if it did. */
bool must(struct storage_db *sdb, const char *sql);
long long count_rows(struct storage_db *sdb, const char *table);

/* Database files, in one directory made on first use and removed at exit. */
/* name's path in that directory (one of 8 rotating buffers). */
const char *tpath(const char *name);
/* Opens a fresh database at tpath(name) (name ":memory:" for memory). */
struct storage_db *open_named(const char *name, bool fk);
/* Runs sql on the read-write connection directly; an SQLite result code. */
int rw_exec(struct storage_db *db, const char *sql);
/* The integer in the first row's first column of a read through storage_db_query
 * (so on a read-only connection); -1 on any failure. */
long long ro_int(struct storage_db *db, const char *sql);

#endif
