/*
 * storage_db_exec_stmt: one statement text of a command, in execute form or query
 * form, and its packed result; rqlite's semantics (db/db.go on its go-sqlite3 fork),
 * statement by statement because clients see them:
 * - execute form: a statement text is prepared in a tail loop, every statement in it
 *   is stepped ONCE, positional arguments are consumed across the statements, and
 *   last_insert_id/rows_affected are read from the connection after the last one
 *   (stale values carry over); a text whose last part is only a comment reports 0/0;
 * - query form: only the last statement of a text is stepped; statements without
 *   columns are stepped once; BLOB values under a text-like declared type come back
 *   as strings, typed "text";
 * - a non-read-only statement with result columns (RETURNING) answers in query form.
 * Also which statements a group's transaction cannot hold (storage_db_group.c) and
 * which transaction control a `transaction` request refuses.
 *
 * Results are packed into the connection's scratch buffer, reused across commands (row
 * arrays get a fixed-width header patched at the end); storage_db_exec.c copies it once
 * into the caller's packer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sql_policy.h"
#include "storage/storage_db_exec_int.h"

/* ---- packing helpers ---- */

void
sdb_pack_lit(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	if (n > 0)
		msgpack_pack_str_body(pk, s, n);
}

static void
pack_strn(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_str(pk, n);
	if (n > 0)
		msgpack_pack_str_body(pk, p, n);
}

static void
pack_lower(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s), i, k;
	char buf[64];

	msgpack_pack_str(pk, n);
	for (i = 0; i < n; i += k) {
		for (k = 0; k < sizeof(buf) && i + k < n; k++) {
			char ch = s[i + k];
			buf[k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
		}
		msgpack_pack_str_body(pk, buf, k);
	}
}

static void
pack_elapsed(msgpack_packer *pk, int64_t t0)
{
	sdb_pack_lit(pk, "t");
	msgpack_pack_double(pk, (double)(sdb_now_ns() - t0) / 1e9);
}

/* A statement's error; query-form errors carry "x" so the gateway renders them so. */
int
sdb_res_error(struct sdb_req *rq, bool query_form, const char *msg)
{
	msgpack_pack_map(&rq->pk, query_form ? 2 : 1);
	if (query_form) {
		sdb_pack_lit(&rq->pk, "x");
		msgpack_pack_true(&rq->pk);
	}
	sdb_pack_lit(&rq->pk, "e");
	sdb_pack_lit(&rq->pk, msg);
	rq->nresults++;
	if (query_form)
		SDB_COUNT(rq->conn, query_errors);
	else
		SDB_COUNT(rq->conn, execution_errors);
	return -1;
}

static void
patch_u32(msgpack_sbuffer *b, size_t at, unsigned char tag, uint32_t n)
{
	unsigned char *p = (unsigned char *)b->data + at;

	p[0] = tag;
	p[1] = (unsigned char)(n >> 24);
	p[2] = (unsigned char)(n >> 16);
	p[3] = (unsigned char)(n >> 8);
	p[4] = (unsigned char)n;
}

/* ---- statements ---- */

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Offset of the next statement after `off`, skipping whitespace (Go's TrimSpace). */
static size_t
skip_space(const char *sql, size_t off, size_t len)
{
	while (off < len && is_space(sql[off]))
		off++;
	return off;
}

bool
sdb_stmt_readonly(sqlite3_stmt *s)
{
	/* EXPLAIN never writes, whatever it explains. */
	return s == NULL || sqlite3_stmt_readonly(s) || sqlite3_stmt_isexplain(s) != 0;
}

/* The leading keyword of a prepared statement; its length in *n. */
static const char *
stmt_keyword(sqlite3_stmt *s, size_t *n)
{
	return storage_sql_keyword(sqlite3_sql(s), n);
}

static bool
keyword_is(const char *p, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(p, kw, n) == 0;
}

static bool
stmt_is_pragma(sqlite3_stmt *s)
{
	size_t n;
	const char *p = stmt_keyword(s, &n);

	return keyword_is(p, n, "PRAGMA");
}

/*
 * A statement that cannot run inside the group's transaction: transaction control,
 * and statements SQLite refuses or ignores inside one (VACUUM, ATTACH, DETACH, PRAGMAs
 * such as foreign_keys).
 */
static bool
stmt_breaks_group(sqlite3_stmt *s)
{
	static const char *const kw[] = { "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT",
	    "RELEASE", "VACUUM", "ATTACH", "DETACH", "PRAGMA" };
	size_t n;
	const char *p = stmt_keyword(s, &n);

	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (keyword_is(p, n, kw[i]))
			return true;
	return false;
}

/* Inside a group, a statement about to run that the group cannot hold stops the entry
 * (sdb_apply_one then undoes the group and runs the entry alone). */
static bool
group_refuses(struct sdb_req *rq, sqlite3_stmt *s)
{
	struct storage_db *sdb = rq->sdb;

	if (rq->conn->readonly)
		return false;
	if (!sdb->group_open) {
		/* It may have switched foreign keys on: the next group looks again. */
		if (sdb->group_enabled && stmt_is_pragma(s))
			sdb->group_pragma_ran = true;
		return false;
	}
	if (!stmt_breaks_group(s))
		return false;
	sdb->group_abort = true;
	return true;
}

/*
 * With `transaction` the request's own BEGIN … COMMIT is in effect: a client BEGIN,
 * COMMIT, END or ROLLBACK would fail inside it or end it early (ROLLBACK TO, SAVEPOINT
 * and RELEASE nest inside it and are fine).
 */
static bool
c_tx_control_refused(const struct sdb_req *rq, sqlite3_stmt *s)
{
	enum storage_sql_tx k;

	if (!rq->tx || s == NULL)
		return false;
	k = storage_sql_tx_kind(sqlite3_sql(s));
	return k == STORAGE_SQL_TX_BEGIN || k == STORAGE_SQL_TX_COMMIT || k == STORAGE_SQL_TX_ROLLBACK;
}

static bool
is_text_type(const char *t)
{
	static const char *const prefixes[] = {
		"varchar", "varying character", "nchar", "native character", "nvarchar", "clob",
	};

	if (strcasecmp(t, "text") == 0 || strcasecmp(t, "json") == 0)
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncasecmp(t, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static int
ensure_cols(struct sdb_conn *sdb, size_t n)
{
	if (n <= sdb->cols_cap)
		return 0;
	struct sdb_col *p = realloc(sdb->cols, n * sizeof(*p));
	if (p == NULL)
		return -1;
	sdb->cols = p;
	sdb->cols_cap = n;
	return 0;
}

static void
pack_value(msgpack_packer *pk, sqlite3_stmt *s, int i, bool text_like)
{
	const void *p;
	int n;

	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER:
		msgpack_pack_int64(pk, sqlite3_column_int64(s, i));
		break;
	case SQLITE_FLOAT:
		msgpack_pack_double(pk, sqlite3_column_double(s, i));
		break;
	case SQLITE_TEXT:
		p = sqlite3_column_text(s, i);
		n = sqlite3_column_bytes(s, i);
		pack_strn(pk, p, p ? (size_t)n : 0);
		break;
	case SQLITE_BLOB:
		p = sqlite3_column_blob(s, i);
		n = p ? sqlite3_column_bytes(s, i) : 0;
		if (text_like) {
			pack_strn(pk, p, (size_t)n);
		} else {
			msgpack_pack_bin(pk, (size_t)n);
			if (n > 0)
				msgpack_pack_bin_body(pk, p, (size_t)n);
		}
		break;
	default:
		msgpack_pack_nil(pk);
		break;
	}
}

static const char *
first_row_type(sqlite3_stmt *s, int i, bool text_like)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER:
		return "integer";
	case SQLITE_FLOAT:
		return "real";
	case SQLITE_TEXT:
		return "text";
	case SQLITE_BLOB:
		return text_like ? "text" : "blob";
	default:
		return "";
	}
}

/*
 * Steps a bound statement and packs its query-form result. Returns SQLITE_OK, or the
 * failing SQLite code with nothing packed (the partial result is cut off).
 */
static int
pack_rows(struct sdb_req *rq, sqlite3_stmt *s, int64_t t0)
{
	struct sdb_conn *sdb = rq->conn;
	msgpack_packer *pk = &rq->pk;
	size_t mark = sdb->rbuf.size, vat;
	int ncols, rc, i;
	uint32_t nrows = 0;
	bool has_rows;

	rc = sdb_client_step(sdb, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	/*
	 * Columns are read after the first step: a cached statement whose schema
	 * changed is re-prepared by that step and may have gained columns.
	 */
	ncols = sqlite3_column_count(s);
	if (ncols > 0 && ensure_cols(sdb, (size_t)ncols) == -1)
		return SQLITE_NOMEM;
	for (i = 0; i < ncols; i++) {
		const char *d = sqlite3_column_decltype(s, i);
		sdb->cols[i].has_decl = d != NULL && *d != '\0';
		/*
		 * Only a declared text type turns a BLOB into text. rqlite also treats an
		 * empty declared type as text, which garbles any non-UTF-8 bytes of an
		 * expression or untyped column (x'deadbeef', randomblob()); issue 15 chose
		 * type "blob" and base64 there so that clients get their bytes back.
		 */
		sdb->cols[i].text_like = sdb->cols[i].has_decl && is_text_type(d);
	}
	has_rows = ncols > 0 && rc == SQLITE_ROW;

	msgpack_pack_map(pk, (ncols > 0 ? 3 : 0) + (has_rows ? 1 : 0) + 2);
	if (ncols > 0) {
		sdb_pack_lit(pk, "c");
		msgpack_pack_array(pk, (size_t)ncols);
		for (i = 0; i < ncols; i++)
			sdb_pack_lit(pk, sqlite3_column_name(s, i));
		sdb_pack_lit(pk, "q");
		msgpack_pack_array(pk, (size_t)ncols);
		for (i = 0; i < ncols; i++) {
			const char *name = sqlite3_column_name(s, i);
			const char *tbl = sqlite3_column_table_name(s, i);

			if (tbl == NULL || *tbl == '\0') {
				sdb_pack_lit(pk, name);
				continue;
			}
			size_t tn = strlen(tbl), nn = strlen(name);
			msgpack_pack_str(pk, tn + 1 + nn);
			msgpack_pack_str_body(pk, tbl, tn);
			msgpack_pack_str_body(pk, ".", 1);
			if (nn > 0)
				msgpack_pack_str_body(pk, name, nn);
		}
		sdb_pack_lit(pk, "ty");
		msgpack_pack_array(pk, (size_t)ncols);
		for (i = 0; i < ncols; i++) {
			if (sdb->cols[i].has_decl)
				pack_lower(pk, sqlite3_column_decltype(s, i));
			else if (has_rows)
				sdb_pack_lit(pk, first_row_type(s, i, sdb->cols[i].text_like));
			else
				sdb_pack_lit(pk, "");
		}
	}
	if (has_rows) {
		static const char hdr[5];

		sdb_pack_lit(pk, "v");
		vat = sdb->rbuf.size;
		msgpack_sbuffer_write(&sdb->rbuf, hdr, sizeof(hdr));	/* array32, patched */
		do {
			msgpack_pack_array(pk, (size_t)ncols);
			for (i = 0; i < ncols; i++)
				pack_value(pk, s, i, sdb->cols[i].text_like);
			nrows++;
			if (sdb->max_result != 0 && sdb->rbuf.size > sdb->max_result) {
				/* Neither this process nor the gateway holds more than this. */
				sdb->result_too_big = true;
				rc = SQLITE_INTERRUPT;
				break;
			}
		} while ((rc = sdb_client_step(sdb, s)) == SQLITE_ROW);
		if (rc != SQLITE_DONE) {
			sdb->rbuf.size = mark;
			return rc;
		}
		patch_u32(&sdb->rbuf, vat, 0xdd, nrows);
	}
	sdb_pack_lit(pk, "x");
	msgpack_pack_true(pk);
	pack_elapsed(pk, t0);
	rq->nresults++;
	return SQLITE_OK;
}

/*
 * A statement in query form (rqlite's Query): only the last statement of the text is
 * stepped. With `refuse`, a statement that would write is not run.
 * Returns 0, or -1 if the result is an error.
 */
int
sdb_run_query(struct sdb_req *rq, const char *sql, size_t len, const struct sdb_arg *args,
    size_t nargs, bool refuse)
{
	struct storage_stmt_cache *cache = rq->conn->cache;
	struct storage_stmt ss;
	int64_t t0 = sdb_now_ns();
	size_t start = 0, off = 0, next, na;
	int rc;

	SDB_COUNT(rq->conn, queries);
	for (;;) {
		if (sdb_out_of_time(rq->conn))
			return sdb_res_error(rq, true, sdb_stop_msg(rq, ERR_QUERY_TIMEOUT));
		rc = storage_stmt_cache_get(cache, sql + off, len - off, &ss);
		if (rc != SQLITE_OK)
			return sdb_res_error(rq, true, sdb_sqlite_msg(rq, rc, ERR_QUERY_TIMEOUT));
		na = ss.stmt ? (size_t)sqlite3_bind_parameter_count(ss.stmt) : 0;
		if (nargs - start < na) {
			storage_stmt_cache_put(cache, &ss);
			snprintf(rq->msg, sizeof(rq->msg),
			    "not enough args to execute query: want %zu got %zu", na, nargs - start);
			return sdb_res_error(rq, true, rq->msg);
		}
		next = skip_space(sql, off + ss.used, len);
		if (next >= len || ss.used == 0)
			break;
		/* Earlier statements of the text are prepared, never stepped. */
		start += na;
		storage_stmt_cache_put(cache, &ss);
		off = next;
	}
	if (ss.stmt == NULL) {
		msgpack_pack_map(&rq->pk, 2);
		sdb_pack_lit(&rq->pk, "x");
		msgpack_pack_true(&rq->pk);
		pack_elapsed(&rq->pk, t0);
		rq->nresults++;
		return 0;
	}
	if ((rc = sdb_bind_args(ss.stmt, args, nargs, start, na)) != SQLITE_OK) {
		sdb_sqlite_msg(rq, rc, ERR_QUERY_TIMEOUT);
		storage_stmt_cache_put(cache, &ss);
		return sdb_res_error(rq, true, rq->msg);
	}
	/* A PRAGMA that only reads (journal_mode, table_info…) is not "read-only" to
	 * SQLite, but runs fine on the query_only connection, as in rqlite; one that
	 * writes fails there with SQLITE_READONLY, mapped below. */
	if (refuse && !sdb_stmt_readonly(ss.stmt) && !stmt_is_pragma(ss.stmt)) {
		storage_stmt_cache_put(cache, &ss);
		return sdb_res_error(rq, true, ERR_QUERY_WRITE);
	}
	if (group_refuses(rq, ss.stmt)) {
		storage_stmt_cache_put(cache, &ss);
		return -1;
	}
	if (c_tx_control_refused(rq, ss.stmt)) {
		storage_stmt_cache_put(cache, &ss);
		return sdb_res_error(rq, true, SQL_POLICY_ERR_TX_IN_TX);
	}
	if ((rc = pack_rows(rq, ss.stmt, t0)) != SQLITE_OK) {
		if (refuse && (rc & 0xff) == SQLITE_READONLY)
			snprintf(rq->msg, sizeof(rq->msg), "%s", ERR_QUERY_WRITE);
		else
			sdb_sqlite_msg(rq, rc, ERR_QUERY_TIMEOUT);
		storage_stmt_cache_put(cache, &ss);
		return sdb_res_error(rq, true, rq->msg);
	}
	storage_stmt_cache_put(cache, &ss);
	return 0;
}

/*
 * A statement in execute form (rqlite's Execute). Returns 0, or -1 if the result is
 * an error.
 */
int
sdb_run_exec(struct sdb_req *rq, const char *sql, size_t len, const struct sdb_arg *args,
    size_t nargs)
{
	sqlite3 *db = rq->conn->db;
	struct storage_stmt_cache *cache = rq->conn->cache;
	struct storage_stmt ss;
	int64_t t0 = sdb_now_ns(), li = 0, ra = 0;
	size_t start = 0, off = 0, na, used;
	bool have_res = false;
	int rc;

	SDB_COUNT(rq->conn, executions);
	for (;;) {
		if (sdb_out_of_time(rq->conn))
			return sdb_res_error(rq, false, sdb_stop_msg(rq, ERR_EXECUTE_TIMEOUT));
		rc = storage_stmt_cache_get(cache, sql + off, len - off, &ss);
		if (rc != SQLITE_OK)
			return sdb_res_error(rq, false, sdb_sqlite_msg(rq, rc, ERR_EXECUTE_TIMEOUT));
		used = ss.used;
		have_res = false;
		if (ss.stmt != NULL) {
			bool last = skip_space(sql, off + used, len) >= len;

			na = (size_t)sqlite3_bind_parameter_count(ss.stmt);
			if (nargs - start < na) {
				storage_stmt_cache_put(cache, &ss);
				snprintf(rq->msg, sizeof(rq->msg),
				    "not enough args to execute query: want %zu got %zu", na, nargs);
				return sdb_res_error(rq, false, rq->msg);
			}
			if ((rc = sdb_bind_args(ss.stmt, args, nargs, start, na)) != SQLITE_OK) {
				sdb_sqlite_msg(rq, rc, ERR_EXECUTE_TIMEOUT);
				storage_stmt_cache_put(cache, &ss);
				return sdb_res_error(rq, false, rq->msg);
			}
			if (group_refuses(rq, ss.stmt)) {
				storage_stmt_cache_put(cache, &ss);
				return -1;
			}
			if (last && !sdb_stmt_readonly(ss.stmt) && sqlite3_column_count(ss.stmt) > 0) {
				/* RETURNING: rows instead of counts. */
				rc = pack_rows(rq, ss.stmt, t0);
				if (rc != SQLITE_OK)
					sdb_sqlite_msg(rq, rc, ERR_QUERY_TIMEOUT);
				storage_stmt_cache_put(cache, &ss);
				return rc == SQLITE_OK ? 0 : sdb_res_error(rq, false, rq->msg);
			}
			if (c_tx_control_refused(rq, ss.stmt)) {
				storage_stmt_cache_put(cache, &ss);
				return sdb_res_error(rq, false, SQL_POLICY_ERR_TX_IN_TX);
			}
			rc = sdb_client_step(rq->conn, ss.stmt);
			if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
				sdb_sqlite_msg(rq, rc, ERR_EXECUTE_TIMEOUT);
				storage_stmt_cache_put(cache, &ss);
				return sdb_res_error(rq, false, rq->msg);
			}
			li = sqlite3_last_insert_rowid(db);
			ra = sqlite3_changes64(db);
			have_res = true;
			start += na;
		}
		storage_stmt_cache_put(cache, &ss);
		off = skip_space(sql, off + used, len);
		if (off >= len || used == 0)
			break;
	}
	if (!have_res)
		li = ra = 0;	/* the reference reports 0/0 when the text ends in a comment */
	msgpack_pack_map(&rq->pk, (li != 0) + (ra != 0) + 1);
	if (li != 0) {
		sdb_pack_lit(&rq->pk, "li");
		msgpack_pack_int64(&rq->pk, li);
	}
	if (ra != 0) {
		sdb_pack_lit(&rq->pk, "ra");
		msgpack_pack_int64(&rq->pk, ra);
	}
	pack_elapsed(&rq->pk, t0);
	rq->nresults++;
	return 0;
}
