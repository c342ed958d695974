/*
 * storage_policy: the SQLite authorizer and connection settings that keep client SQL
 * inside the database file (see storage_policy.h).
 *
 * VACUUM is allowed, VACUUM INTO is not, and SQLite only tells them apart while the
 * statement runs: both attach a scratch database from inside sqlite3_step(), plain
 * VACUUM with an empty file name and VACUUM INTO with its target. So an ATTACH seen
 * while preparing is always refused, and one seen while stepping is allowed only with
 * an empty name (a client's own ATTACH '' would have been refused at its prepare).
 */
#include "storage_policy.h"

#include <string.h>
#include <strings.h>

#include "common/sql_policy.h"

static int
deny(struct storage_policy *p, const char *why)
{
	p->denied = why;
	return SQLITE_DENY;
}

static int
policy_authorize(void *arg, int action, const char *a1, const char *a2, const char *db,
    const char *trigger)
{
	struct storage_policy *p = arg;
	const char *why;

	(void)db;
	(void)trigger;
	if (!p->enforce)
		return SQLITE_OK;
	switch (action) {
	case SQLITE_ATTACH:
		if (p->stepping && a1 != NULL && a1[0] == '\0')
			return SQLITE_OK;	/* VACUUM's scratch copy */
		return deny(p, p->stepping ? SQL_POLICY_ERR_VACUUM_INTO : SQL_POLICY_ERR_ATTACH);
	case SQLITE_DETACH:
		return p->stepping ? SQLITE_OK : deny(p, SQL_POLICY_ERR_DETACH);
	case SQLITE_PRAGMA:
		if (a1 != NULL && sql_policy_pragma_refused(a1, strlen(a1), a2 != NULL))
			return deny(p, SQL_POLICY_ERR_PRAGMA);
		return SQLITE_OK;
	case SQLITE_FUNCTION:
		if (a2 != NULL && (why = sql_policy_function_refused(a2, strlen(a2))) != NULL)
			return deny(p, why);
		return SQLITE_OK;
	case SQLITE_SAVEPOINT:
		if (a2 != NULL && strcasecmp(a2, STORAGE_POLICY_SAVEPOINT) == 0)
			return deny(p, SQL_POLICY_ERR_SAVEPOINT);
		return SQLITE_OK;
	case SQLITE_READ:
		if (a1 != NULL && strcasecmp(a1, "sqlite_stmt") == 0)
			return deny(p, SQL_POLICY_ERR_STMT_TABLE);
		return SQLITE_OK;
	default:
		return SQLITE_OK;
	}
}

int
storage_policy_install(sqlite3 *db, struct storage_policy *p)
{
	int rc, on;

	memset(p, 0, sizeof(*p));
	if ((rc = sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on)) != SQLITE_OK ||
	    (rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, &on)) != SQLITE_OK ||
	    (rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &on)) != SQLITE_OK)
		return rc;
	sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, STORAGE_POLICY_EXPR_DEPTH);
	sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, STORAGE_POLICY_LIKE_PATTERN);
	sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, STORAGE_POLICY_COMPOUND_SELECT);
	sqlite3_limit(db, SQLITE_LIMIT_VDBE_OP, STORAGE_POLICY_VDBE_OP);
	return sqlite3_set_authorizer(db, policy_authorize, p);
}

const char *
storage_policy_message(struct storage_policy *p, sqlite3 *db)
{
	const char *why = p->denied;

	p->denied = NULL;
	return why != NULL ? why : sqlite3_errmsg(db);
}
