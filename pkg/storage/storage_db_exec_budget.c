/*
 * storage_db_exec_budget: what bounds a command while it runs, and the errors it ends
 * with. The progress handler counts a write's step budget (the same on every node),
 * watches a read's wall-clock deadline, and calls the heartbeat while a statement runs
 * long; the messages say which limit stopped a statement. Also the client-SQL calls
 * that SQL dumps loaded through the log use to run under the same policy and budget.
 */
#include <stdio.h>

#include "storage/storage_db_exec_int.h"

/* ---- deadline, step budget, heartbeats ---- */

/*
 * Every STORAGE_DB_PROGRESS_OPS steps of any statement on the connection. The budget
 * counts only while client SQL steps (pol.stepping): what SQLite runs while preparing
 * (loading the schema, which depends on what the connection did before) is not the
 * statement's work and would differ between nodes.
 */
int
sdb_progress_cb(void *arg)
{
	struct sdb_conn *c = arg;
	int64_t now;

	if (c->budget && c->pol.stepping) {
		if (c->steps_left <= STORAGE_DB_PROGRESS_OPS) {
			c->steps_left = 0;
			c->budget_hit = true;
			return 1;
		}
		c->steps_left -= STORAGE_DB_PROGRESS_OPS;
	}
	if (c->busy_cb == NULL && c->deadline_ns == 0)
		return 0;
	now = sdb_now_ns();
	if (c->busy_cb != NULL && now - c->busy_last_ns >= STORAGE_DB_BUSY_MS * 1000000LL) {
		c->busy_last_ns = now;
		c->busy_cb(c->busy_arg);
	}
	return c->deadline_ns != 0 && now >= c->deadline_ns;
}

static bool
deadline_passed(const struct sdb_conn *c)
{
	return c->deadline_ns != 0 && sdb_now_ns() >= c->deadline_ns;
}

/* The command may not start another statement: its time or its budget is spent. */
bool
sdb_out_of_time(const struct sdb_conn *c)
{
	return c->budget_hit || c->result_too_big || deadline_passed(c);
}

/* The error for a command whose budget ran out. */
static const char *
budget_msg(struct sdb_req *rq, const char *timeout_msg)
{
	if (rq->conn->result_too_big)
		snprintf(rq->msg, sizeof(rq->msg), "query result too large: more than %llu bytes "
		    "(-db-max-result-size)", (unsigned long long)rq->conn->max_result);
	else if (rq->conn->budget_is_timeout)
		snprintf(rq->msg, sizeof(rq->msg), "%s", timeout_msg);
	else
		snprintf(rq->msg, sizeof(rq->msg), "write exceeded its budget of %llu SQLite steps "
		    "(-db-write-steps)", (unsigned long long)rq->conn->budget_steps);
	return rq->msg;
}

/* Why the command stops before its next statement. */
const char *
sdb_stop_msg(struct sdb_req *rq, const char *timeout_msg)
{
	if (rq->conn->budget_hit || rq->conn->result_too_big)
		return budget_msg(rq, timeout_msg);
	snprintf(rq->msg, sizeof(rq->msg), "%s", timeout_msg);
	return rq->msg;
}

/* Copies the connection's error for rc: the policy's reason for SQLITE_AUTH, the
 * budget's or the timeout's text for an interrupt, else SQLite's message. */
const char *
sdb_sqlite_msg(struct sdb_req *rq, int rc, const char *timeout_msg)
{
	struct sdb_conn *c = rq->conn;

	if ((rc & 0xff) == SQLITE_INTERRUPT && (c->budget_hit || c->result_too_big))
		return budget_msg(rq, timeout_msg);
	if ((rc & 0xff) == SQLITE_INTERRUPT && deadline_passed(c))
		snprintf(rq->msg, sizeof(rq->msg), "%s", timeout_msg);
	else if ((rc & 0xff) == SQLITE_AUTH || c->pol.denied != NULL)
		snprintf(rq->msg, sizeof(rq->msg), "%s", storage_policy_message(&c->pol, c->db));
	else
		snprintf(rq->msg, sizeof(rq->msg), "%s", sqlite3_errmsg(c->db));
	return rq->msg;
}

/* Steps client SQL: the budget counts and the policy knows it runs. */
int
sdb_client_step(struct sdb_conn *c, sqlite3_stmt *s)
{
	int rc;

	c->pol.stepping = true;
	rc = sqlite3_step(s);
	c->pol.stepping = false;
	return rc;
}

/* ---- client SQL outside storage_db_apply (SQL dumps) ---- */

void
storage_db_client_begin(struct storage_db *sdb, uint64_t steps, uint64_t max_value)
{
	struct sdb_conn *cn = &sdb->rw;

	if (max_value == 0)
		max_value = STORAGE_DB_DEFAULT_MAX_VALUE;
	storage_random_seed(&sdb->rng, sdb->entry_index, sdb->entry_term);
	sqlite3_limit(cn->db, SQLITE_LIMIT_LENGTH, max_value > INT32_MAX ? INT32_MAX : (int)max_value);

	cn->budget = true;
	cn->budget_hit = cn->budget_is_timeout = false;
	cn->steps_left = cn->budget_steps = steps != 0 ? steps : STORAGE_DB_DEFAULT_WRITE_STEPS;
	cn->deadline_ns = 0;
	cn->busy_last_ns = sdb_now_ns();
	sqlite3_progress_handler(cn->db, STORAGE_DB_PROGRESS_OPS, sdb_progress_cb, cn);
}

int
storage_db_client_prepare(struct storage_db *sdb, const char *sql, int len, sqlite3_stmt **out,
    const char **tail)
{
	int rc;

	sdb->rw.pol.enforce = true;
	rc = sqlite3_prepare_v2(sdb->rw.db, sql, len, out, tail);
	sdb->rw.pol.enforce = false;
	return rc;
}

int
storage_db_client_step(struct storage_db *sdb, sqlite3_stmt *s)
{
	int rc;

	if (sdb->rw.budget_hit)
		return SQLITE_INTERRUPT;
	sdb->rw.pol.enforce = true;
	rc = sdb_client_step(&sdb->rw, s);
	sdb->rw.pol.enforce = false;
	return rc;
}

const char *
storage_db_client_error(struct storage_db *sdb, char *buf, size_t len)
{
	struct sdb_req rq = { .sdb = sdb, .conn = &sdb->rw };

	sdb_sqlite_msg(&rq, sdb->rw.budget_hit ? SQLITE_INTERRUPT : sqlite3_errcode(sdb->rw.db),
	    ERR_EXECUTE_TIMEOUT);
	snprintf(buf, len, "%s", rq.msg);
	return buf;
}

void
storage_db_client_end(struct storage_db *sdb)
{
	sqlite3_progress_handler(sdb->rw.db, 0, NULL, NULL);
	sdb->rw.budget = sdb->rw.budget_hit = false;
	sdb->rw.pol.enforce = false;
}
