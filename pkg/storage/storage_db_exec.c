/*
 * storage_db_exec: runs one command map (docs/wire-formats.md) on the connections
 * owned by storage_db.c and packs its result map: storage_db_apply()'s entries
 * (through sdb_apply_one, from storage_db_group.c), reads in the loop and on the read
 * threads. This file owns the command as a whole; decoding and binding are
 * storage_db_exec_cmd.c, one statement is storage_db_exec_stmt.c, the limits are
 * storage_db_exec_budget.c.
 *
 * The semantics are rqlite's (db/db.go on top of its go-sqlite3 fork):
 * - transactions: BEGIN … COMMIT around the statements; on execute/request the first
 *   failing statement rolls back and stops; a failed BEGIN or COMMIT is a request
 *   error; a failed COMMIT is followed by ROLLBACK so the connection never stays in
 *   a transaction; inside a group a `transaction` entry is a savepoint instead;
 * - db_timeout is one deadline for the whole command (rqlite's request context): a
 *   progress handler interrupts the running statement, later statements fail at once.
 *   For a write it is not a wall-clock deadline but a step budget (db_timeout ×
 *   STORAGE_DB_STEPS_PER_MS), and every write has one anyway (the entry's `st`), so a
 *   write stops at the same SQLite step on every node and at every replay;
 * - client SQL runs under the policy (storage_policy.h); a request may not leave a
 *   transaction open: a write that does is rolled back and answers an error, a read
 *   is simply rolled back.
 */
#include <stdio.h>
#include <string.h>

#include "common/sql_policy.h"
#include "storage/storage_db_exec_int.h"

/* Storage's own BEGIN/COMMIT/ROLLBACK: never interrupted, never checked by the policy. */
static int
tx_exec(struct sdb_req *rq, const char *sql)
{
	struct sdb_conn *sdb = rq->conn;
	struct storage_stmt ss;
	int64_t deadline = sdb->deadline_ns;
	bool enforce = sdb->pol.enforce;
	int rc;

	sdb->deadline_ns = 0;
	sdb->pol.enforce = false;
	rc = storage_stmt_cache_get(rq->conn->cache, sql, strlen(sql), &ss);
	if (rc == SQLITE_OK && ss.stmt != NULL) {
		while ((rc = sqlite3_step(ss.stmt)) == SQLITE_ROW)
			;
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		snprintf(rq->msg, sizeof(rq->msg), "%s", sqlite3_errmsg(rq->conn->db));
	storage_stmt_cache_put(rq->conn->cache, &ss);
	sdb->deadline_ns = deadline;
	sdb->pol.enforce = enforce;
	return rc;
}

static void
req_fail(struct sdb_req *rq, const char *msg)
{
	rq->failed = true;
	snprintf(rq->err, sizeof(rq->err), "%s", msg);
}

/* Inside a group a `transaction` entry is a savepoint of the group's transaction. */
static int
tx_begin(struct sdb_req *rq)
{
	if (tx_exec(rq, rq->sdb->group_open ? "SAVEPOINT " STORAGE_POLICY_SAVEPOINT : "BEGIN") !=
	    SQLITE_OK) {
		req_fail(rq, rq->msg);
		return -1;
	}
	return 0;
}

static void
tx_rollback(struct sdb_req *rq)
{
	/* Either may fail if SQLite already rolled back: nothing left to undo then. */
	if (rq->sdb->group_open) {
		tx_exec(rq, "ROLLBACK TO " STORAGE_POLICY_SAVEPOINT);
		tx_exec(rq, "RELEASE " STORAGE_POLICY_SAVEPOINT);
	} else {
		tx_exec(rq, "ROLLBACK");
	}
}

static void
tx_commit(struct sdb_req *rq)
{
	if (tx_exec(rq, rq->sdb->group_open ? "RELEASE " STORAGE_POLICY_SAVEPOINT : "COMMIT") !=
	    SQLITE_OK) {
		req_fail(rq, rq->msg);
		/* SQLite may keep the transaction open after a failed COMMIT. */
		tx_rollback(rq);
	}
}

enum stmt_mode { MODE_EXECUTE, MODE_QUERY, MODE_REQUEST };

/*
 * A request must not outlive itself: a transaction its statements opened and did not
 * end (a BEGIN without COMMIT, an unreleased SAVEPOINT, a COMMIT that failed) is
 * rolled back now. A write that did so answers an error instead of its results, the
 * same on every node; a read just lets go of its snapshot.
 */
static void
end_open_transaction(struct sdb_req *rq)
{
	struct sdb_conn *cn = rq->conn;

	if (sqlite3_get_autocommit(cn->db) || (rq->sdb->group_open && !cn->readonly))
		return;
	tx_exec(rq, "ROLLBACK");
	if (!cn->readonly && !rq->failed)
		req_fail(rq, SQL_POLICY_ERR_TX_OPEN);
}

/*
 * Runs every statement of the command in one mode. Execute and request stop at the
 * first error inside a transaction; queries never stop.
 */
static void
run_statements(struct sdb_req *rq, const struct sdb_cmd *c, enum stmt_mode mode, bool refuse)
{
	struct storage_db *sdb = rq->sdb;
	struct sdb_conn *cn = rq->conn;
	bool in_tx = false;

	rq->tx = c->tx;
	if (c->tx) {
		if (tx_begin(rq) == -1)
			return;
		in_tx = true;
		if (mode == MODE_EXECUTE)
			SDB_COUNT(cn, execute_transactions);
		else if (mode == MODE_QUERY)
			SDB_COUNT(cn, query_transactions);
		else
			SDB_COUNT(cn, request_transactions);
	}
	cn->pol.enforce = true;
	for (uint32_t i = 0; i < c->nstmts; i++) {
		const msgpack_object *st = &c->stmts[i];
		const char *sql = st->via.array.ptr[0].via.str.ptr;
		size_t len = st->via.array.ptr[0].via.str.size, nargs;
		int r;

		if (len == 0)
			continue;	/* only truly empty text is skipped, as the reference */
		if (sdb_flatten_args(cn, st, &nargs) == -1) {
			req_fail(rq, "out of memory");
			break;
		}
		if (mode == MODE_QUERY) {
			sdb_run_query(rq, sql, len, cn->args, nargs, refuse);
			continue;
		}
		if (mode == MODE_EXECUTE) {
			r = sdb_run_exec(rq, sql, len, cn->args, nargs);
		} else {
			struct storage_stmt ss;
			int rc = storage_stmt_cache_get(cn->cache, sql, len, &ss);
			bool ro;

			if (rc != SQLITE_OK) {
				/* Fails to prepare: an error in execute form, never aborts. */
				sdb_res_error(rq, false, sdb_sqlite_msg(rq, rc, ERR_EXECUTE_TIMEOUT));
				continue;
			}
			ro = sdb_stmt_readonly(ss.stmt);
			storage_stmt_cache_put(cn->cache, &ss);
			r = ro ? sdb_run_query(rq, sql, len, cn->args, nargs, false) :
			    sdb_run_exec(rq, sql, len, cn->args, nargs);
		}
		if (sdb->group_open && !cn->readonly &&
		    (sdb->group_abort || sqlite3_get_autocommit(cn->db))) {
			/* Refused, or SQLite ended the group's transaction itself (ON CONFLICT
			 * ROLLBACK, RAISE(ROLLBACK), an interrupt, an I/O error): what ran is
			 * undone. */
			sdb->group_abort = true;
			cn->pol.enforce = false;
			return;
		}
		if (r == -1 && in_tx) {
			tx_rollback(rq);
			in_tx = false;
			break;
		}
	}
	cn->pol.enforce = false;
	if (in_tx && !rq->failed)
		tx_commit(rq);
	if (sdb->group_open && !cn->readonly && sqlite3_get_autocommit(cn->db))
		sdb->group_abort = true;	/* the savepoint's end took the group with it */
	end_open_transaction(rq);
}

/* Kind 3 as a read: does any statement need the log? */
static bool
request_needs_log(struct sdb_req *rq, const struct sdb_cmd *c)
{
	for (uint32_t i = 0; i < c->nstmts; i++) {
		const msgpack_object *sql = &c->stmts[i].via.array.ptr[0];
		struct storage_stmt ss;
		bool ro;

		if (sql->via.str.size == 0)
			continue;
		if (storage_stmt_cache_get(rq->conn->cache, sql->via.str.ptr, sql->via.str.size,
		    &ss) != SQLITE_OK)
			return true;
		ro = sdb_stmt_readonly(ss.stmt);
		storage_stmt_cache_put(rq->conn->cache, &ss);
		if (!ro)
			return true;
	}
	return false;
}

/* ---- entry points ---- */

static void
pack_top_error(msgpack_packer *out, const char *msg)
{
	msgpack_pack_map(out, 2);
	sdb_pack_lit(out, "r");
	msgpack_pack_array(out, 0);
	sdb_pack_lit(out, "e");
	sdb_pack_lit(out, msg);
}

static void
req_finish(struct sdb_req *rq, msgpack_packer *out)
{
	struct sdb_conn *cn = rq->conn;

	if (rq->failed || cn == NULL) {
		pack_top_error(out, rq->failed ? rq->err : "no connection");
	} else {
		msgpack_pack_map(out, 1);
		sdb_pack_lit(out, "r");
		msgpack_pack_array(out, rq->nresults);
		if (cn->rbuf.size > 0)
			out->callback(out->data, cn->rbuf.data, cn->rbuf.size);
	}
	if (cn == NULL)
		return;
	sqlite3_progress_handler(cn->db, 0, NULL, NULL);
	cn->deadline_ns = 0;
	cn->budget = cn->budget_hit = cn->result_too_big = false;
	if (cn->readonly)
		sdb_ro_release(rq->sdb, cn);
	if (cn->rbuf.alloc > STORAGE_DB_SCRATCH_KEEP) {
		msgpack_sbuffer_destroy(&cn->rbuf);
		msgpack_sbuffer_init(&cn->rbuf);
	} else {
		msgpack_sbuffer_clear(&cn->rbuf);
	}
}

/*
 * Sets the connection up for one command. Writes (the read-write connection) get a
 * step budget and a value-size limit from the command itself, so every node uses the
 * same ones; db_timeout becomes a smaller budget. Reads get a wall-clock deadline:
 * db_timeout or the node's read timeout, whichever is shorter, and the node's size
 * limits.
 */
static void
req_start(struct sdb_req *rq, struct storage_db *sdb, struct sdb_conn *cn,
    const struct sdb_cmd *c)
{
	rq->sdb = sdb;
	rq->conn = cn;
	msgpack_sbuffer_clear(&cn->rbuf);
	msgpack_packer_init(&rq->pk, &cn->rbuf, msgpack_sbuffer_write);
	cn->busy_last_ns = sdb_now_ns();
	cn->deadline_ns = 0;
	cn->budget = cn->budget_hit = cn->budget_is_timeout = cn->result_too_big = false;
	cn->max_result = 0;
	if (!cn->readonly) {
		uint64_t steps = c->steps != 0 ? c->steps : STORAGE_DB_DEFAULT_WRITE_STEPS;

		storage_random_seed(&sdb->rng, sdb->entry_index, sdb->entry_term);
		uint64_t ml = c->max_value != 0 ? c->max_value : STORAGE_DB_DEFAULT_MAX_VALUE;

		if (c->to_ms > 0 && c->to_ms < steps / STORAGE_DB_STEPS_PER_MS) {
			steps = c->to_ms * STORAGE_DB_STEPS_PER_MS;
			cn->budget_is_timeout = true;
		}
		cn->budget = true;
		cn->steps_left = cn->budget_steps = steps;
		sqlite3_limit(cn->db, SQLITE_LIMIT_LENGTH, ml > INT32_MAX ? INT32_MAX : (int)ml);
	} else {
		uint64_t ms = sdb->lim.read_timeout_ms;

		if (c->to_ms > 0 && (ms == 0 || c->to_ms < ms))
			ms = c->to_ms;
		if (ms > 86400000ULL * 365)
			ms = 86400000ULL * 365;
		if (ms > 0)
			cn->deadline_ns = sdb_now_ns() + (int64_t)ms * 1000000;
		cn->max_result = sdb->lim.max_result;
	}
	sqlite3_progress_handler(cn->db, STORAGE_DB_PROGRESS_OPS, sdb_progress_cb, cn);
}

/* Decodes cmd into the connection's zone; on failure packs the top-level error. */
static int
decode(struct sdb_conn *cn, const char *cmd, size_t len, struct sdb_cmd *c,
    msgpack_packer *pk)
{
	msgpack_object o;
	size_t off = 0;
	char err[256];
	msgpack_unpack_return ur;

	msgpack_zone_clear(&cn->zone);
	if (cmd == NULL || len == 0) {
		pack_top_error(pk, "malformed command: empty");
		return -1;
	}
	ur = msgpack_unpack(cmd, len, &off, &cn->zone, &o);
	if (ur != MSGPACK_UNPACK_SUCCESS) {
		pack_top_error(pk, ur == MSGPACK_UNPACK_EXTRA_BYTES ?
		    "malformed command: trailing bytes" : "malformed command: bad msgpack");
		msgpack_zone_clear(&cn->zone);
		return -1;
	}
	if (sdb_parse_cmd(&o, c, err, sizeof(err)) == -1) {
		pack_top_error(pk, err);
		msgpack_zone_clear(&cn->zone);
		return -1;
	}
	return 0;
}

/* Cleans up after a request whose results are thrown away (the group was undone). */
static void
req_abandon(struct sdb_req *rq)
{
	msgpack_sbuffer junk;
	msgpack_packer pk;

	msgpack_sbuffer_init(&junk);
	msgpack_packer_init(&pk, &junk, msgpack_sbuffer_write);
	req_finish(rq, &pk);
	msgpack_sbuffer_destroy(&junk);
}

/* Entries that may share the group's transaction: writes without a db_timeout. */
static bool
cmd_groupable(const struct sdb_cmd *c)
{
	return (c->kind == IPC_CMD_EXECUTE || c->kind == IPC_CMD_REQUEST) && c->to_ms == 0;
}

int
sdb_apply_one(struct storage_db *sdb, const char *cmd, size_t len, msgpack_packer *pk,
    bool grouped)
{
	struct sdb_req rq = { 0 };
	struct sdb_cmd c;
	struct sdb_conn *ro;
	char err[256];

	/* The command lives in the read-write connection's zone whichever runs it. */
	if (decode(&sdb->rw, cmd, len, &c, pk) == -1)
		return -1;
	if (grouped && cmd_groupable(&c)) {
		if (!sdb->group_open && sdb_group_open(sdb) == -1)
			grouped = false;
	} else {
		grouped = false;
		if (sdb->group_open)
			storage_db_group_end(sdb);	/* zone untouched: c stays valid */
	}
	switch (c.kind) {
	case IPC_CMD_EXECUTE:
	case IPC_CMD_REQUEST:
		req_start(&rq, sdb, &sdb->rw, &c);
		run_statements(&rq, &c, c.kind == IPC_CMD_EXECUTE ? MODE_EXECUTE :
		    MODE_REQUEST, false);
		break;
	case IPC_CMD_QUERY:
		/* A strong read: the reference runs it on a read-only connection too. */
		if ((ro = sdb_ro_acquire(sdb, err, sizeof(err))) == NULL) {
			pack_top_error(pk, err);
			msgpack_zone_clear(&sdb->rw.zone);
			return 0;
		}
		req_start(&rq, sdb, ro, &c);
		run_statements(&rq, &c, MODE_QUERY, true);
		break;
	case IPC_CMD_NOOP:
		msgpack_pack_map(pk, 0);
		msgpack_zone_clear(&sdb->rw.zone);
		return 0;
	default:
		if (c.kind == IPC_CMD_LOAD_FILE)
			snprintf(err, sizeof(err), "load commands are not supported");
		else
			snprintf(err, sizeof(err), "unknown command kind %llu",
			    (unsigned long long)c.kind);
		pack_top_error(pk, err);
		msgpack_zone_clear(&sdb->rw.zone);
		return -1;
	}
	if (grouped && sdb->group_abort) {
		req_abandon(&rq);
		msgpack_zone_clear(&sdb->rw.zone);
		return 1;
	}
	req_finish(&rq, pk);
	msgpack_zone_clear(&sdb->rw.zone);
	return 0;
}

/*
 * A read on connection cn, which belongs to the calling thread for the call. With
 * inline_steps, gives up once the read has taken that many steps: returns 2 and packs
 * nothing (a read writes nothing, so it can simply run again elsewhere).
 */
static int
query_on(struct storage_db *sdb, struct sdb_conn *cn, const char *cmd, size_t len,
    msgpack_packer *pk, uint64_t inline_steps)
{
	struct sdb_req rq = { 0 };
	struct sdb_cmd c;
	char err[80];

	if (decode(cn, cmd, len, &c, pk) == -1) {
		if (cn->busy)
			sdb_ro_release(sdb, cn);
		return -1;
	}
	if (c.kind != IPC_CMD_QUERY && c.kind != IPC_CMD_REQUEST) {
		snprintf(err, sizeof(err), "command kind %llu cannot be run as a read",
		    (unsigned long long)c.kind);
		pack_top_error(pk, err);
		msgpack_zone_clear(&cn->zone);
		if (cn->busy)
			sdb_ro_release(sdb, cn);
		return -1;
	}
	req_start(&rq, sdb, cn, &c);
	if (inline_steps > 0) {
		cn->budget = true;
		cn->steps_left = cn->budget_steps = inline_steps;
	}
	if (c.kind == IPC_CMD_REQUEST && request_needs_log(&rq, &c)) {
		msgpack_pack_map(pk, 1);
		sdb_pack_lit(pk, "w");
		msgpack_pack_true(pk);
		rq.nresults = 0;
		msgpack_sbuffer_clear(&cn->rbuf);
		req_abandon(&rq);
		msgpack_zone_clear(&cn->zone);
		return 0;
	}
	run_statements(&rq, &c, MODE_QUERY, true);
	if (inline_steps > 0 && cn->budget_hit) {
		req_abandon(&rq);
		msgpack_zone_clear(&cn->zone);
		return 2;
	}
	req_finish(&rq, pk);
	msgpack_zone_clear(&cn->zone);
	return 0;
}

int
storage_db_query_inline(struct storage_db *sdb, const char *cmd, size_t len,
    msgpack_packer *pk, uint64_t steps)
{
	struct sdb_conn *cn;
	char err[256];

	if ((cn = sdb_ro_acquire(sdb, err, sizeof(err))) == NULL) {
		pack_top_error(pk, err);
		return 0;
	}
	return query_on(sdb, cn, cmd, len, pk, steps);
}

int
storage_db_query(struct storage_db *sdb, const char *cmd, size_t len, msgpack_packer *pk)
{
	return storage_db_query_inline(sdb, cmd, len, pk, 0);
}

int
storage_db_reader_query(struct storage_db_reader *r, const char *cmd, size_t len,
    msgpack_packer *pk)
{
	struct storage_db *sdb = r->owner;
	char err[256];
	uint64_t h, m;
	int rc;

	if (r->c.db == NULL) {
		if (sdb_conn_open(sdb, &r->c, true, err, sizeof(err)) == -1) {
			pack_top_error(pk, err);
			return 0;
		}
		__atomic_store_n(&r->live, r->c.db, __ATOMIC_RELEASE);
	}
	rc = query_on(sdb, &r->c, cmd, len, pk, 0);
	storage_stmt_cache_stats(r->c.cache, &h, &m, NULL);
	__atomic_store_n(&r->cache_hits, h, __ATOMIC_RELAXED);
	__atomic_store_n(&r->cache_misses, m, __ATOMIC_RELAXED);
	return rc;
}

void
storage_db_reader_interrupt(struct storage_db_reader *r)
{
	sqlite3 *db = __atomic_load_n(&r->live, __ATOMIC_ACQUIRE);

	if (db != NULL)
		sqlite3_interrupt(db);
}
