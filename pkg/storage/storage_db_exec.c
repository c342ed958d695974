/*
 * storage_db_exec: runs one command map (docs/wire-formats.md) on the connections
 * owned by storage_db.c and packs its result map.
 *
 * The semantics are rqlite's (db/db.go on top of its go-sqlite3 fork), reproduced
 * statement by statement because clients see them:
 * - execute form: a statement text is prepared in a tail loop, every statement in it
 *   is stepped ONCE, positional arguments are consumed across the statements, and
 *   last_insert_id/rows_affected are read from the connection after the last one
 *   (stale values carry over); a text whose last part is only a comment reports 0/0;
 * - query form: only the last statement of a text is stepped; statements without
 *   columns are stepped once; BLOB values under a text-like declared type (or none)
 *   come back as strings, typed "text";
 * - a non-read-only statement with result columns (RETURNING) answers in query form;
 * - transactions: BEGIN … COMMIT around the statements; on execute/request the first
 *   failing statement rolls back and stops; a failed BEGIN or COMMIT is a request
 *   error; a failed COMMIT is followed by ROLLBACK so the connection never stays in
 *   a transaction;
 * - db_timeout is one deadline for the whole command (rqlite's request context): a
 *   progress handler interrupts the running statement, later statements fail at once.
 *   For a write it is not a wall-clock deadline but a step budget (db_timeout ×
 *   STORAGE_DB_STEPS_PER_MS), and every write has one anyway (the entry's `st`), so a
 *   write stops at the same SQLite step on every node and at every replay;
 * - client SQL runs under the policy (storage_policy.h); a request may not leave a
 *   transaction open: a write that does is rolled back and answers an error, a read
 *   is simply rolled back.
 *
 * Results are packed into a scratch buffer reused across commands (row arrays get a
 * fixed-width header patched at the end), then copied once into the caller's packer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sql_policy.h"
#include "storage/storage_db_int.h"

#define ERR_QUERY_WRITE		"attempt to change database via query operation"
#define ERR_EXECUTE_TIMEOUT	"execute timeout"
#define ERR_QUERY_TIMEOUT	"query timeout"

struct sdb_cmd {
	uint64_t kind;
	bool tx;
	uint64_t to_ms;
	uint64_t steps;		/* `st`: the write's step budget; 0 = the default */
	uint64_t max_value;	/* `ml`: the write's SQLITE_LIMIT_LENGTH; 0 = the default */
	const msgpack_object *stmts;
	uint32_t nstmts;
};

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

/* ---- packing helpers ---- */

static void
pack_lit(msgpack_packer *pk, const char *s)
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
	pack_lit(pk, "t");
	msgpack_pack_double(pk, (double)(sdb_now_ns() - t0) / 1e9);
}

/* A statement's error; query-form errors carry "x" so the gateway renders them so. */
static int
res_error(struct sdb_req *rq, bool query_form, const char *msg)
{
	msgpack_pack_map(&rq->pk, query_form ? 2 : 1);
	if (query_form) {
		pack_lit(&rq->pk, "x");
		msgpack_pack_true(&rq->pk);
	}
	pack_lit(&rq->pk, "e");
	pack_lit(&rq->pk, msg);
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

/* ---- deadline, step budget, heartbeats ---- */

/*
 * Every STORAGE_DB_PROGRESS_OPS steps of any statement on the connection. The budget
 * counts only while client SQL steps (pol.stepping): what SQLite runs while preparing
 * (loading the schema, which depends on what the connection did before) is not the
 * statement's work and would differ between nodes.
 */
static int
progress_cb(void *arg)
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
static bool
out_of_time(const struct sdb_conn *c)
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
static const char *
stop_msg(struct sdb_req *rq, const char *timeout_msg)
{
	if (rq->conn->budget_hit || rq->conn->result_too_big)
		return budget_msg(rq, timeout_msg);
	snprintf(rq->msg, sizeof(rq->msg), "%s", timeout_msg);
	return rq->msg;
}

/* Copies the connection's error for rc: the policy's reason for SQLITE_AUTH, the
 * budget's or the timeout's text for an interrupt, else SQLite's message. */
static const char *
sqlite_msg(struct sdb_req *rq, int rc, const char *timeout_msg)
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
static int
client_step(struct sdb_conn *c, sqlite3_stmt *s)
{
	int rc;

	c->pol.stepping = true;
	rc = sqlite3_step(s);
	c->pol.stepping = false;
	return rc;
}

/* ---- command decoding ---- */

static bool
key_is(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	    memcmp(o->via.str.ptr, s, n) == 0;
}

static bool
is_scalar(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_BOOLEAN:
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN:
		return true;
	default:
		return false;
	}
}

static int
parse_cmd(const msgpack_object *o, struct sdb_cmd *c, char *err, size_t errlen)
{
	bool have_kind = false;

	memset(c, 0, sizeof(*c));
	if (o->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "malformed command: not a map");
		return -1;
	}
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		const msgpack_object *v = &o->via.map.ptr[i].val;

		if (key_is(k, "k")) {
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				goto bad_field;
			c->kind = v->via.u64;
			have_kind = true;
		} else if (key_is(k, "tx")) {
			if (v->type != MSGPACK_OBJECT_BOOLEAN)
				goto bad_field;
			c->tx = v->via.boolean;
		} else if (key_is(k, "to")) {
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				goto bad_field;
			c->to_ms = v->via.u64;
		} else if (key_is(k, "st")) {
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				goto bad_field;
			c->steps = v->via.u64;
		} else if (key_is(k, "ml")) {
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				goto bad_field;
			c->max_value = v->via.u64;
		} else if (key_is(k, "s")) {
			if (v->type == MSGPACK_OBJECT_NIL)
				continue;
			if (v->type != MSGPACK_OBJECT_ARRAY)
				goto bad_field;
			c->stmts = v->via.array.ptr;
			c->nstmts = v->via.array.size;
		} else if (k->type != MSGPACK_OBJECT_STR) {
			snprintf(err, errlen, "malformed command: key is not a string");
			return -1;
		}
		continue;
bad_field:
		snprintf(err, errlen, "malformed command: bad type for \"%.*s\"",
		    (int)k->via.str.size, k->via.str.ptr);
		return -1;
	}
	if (!have_kind) {
		snprintf(err, errlen, "malformed command: no kind");
		return -1;
	}
	for (uint32_t i = 0; i < c->nstmts; i++) {
		const msgpack_object *st = &c->stmts[i];

		if (st->type != MSGPACK_OBJECT_ARRAY || st->via.array.size == 0 ||
		    st->via.array.ptr[0].type != MSGPACK_OBJECT_STR) {
			snprintf(err, errlen, "malformed command: statement %u is not [sql, args…]", i);
			return -1;
		}
		for (uint32_t j = 1; j < st->via.array.size; j++) {
			const msgpack_object *a = &st->via.array.ptr[j];

			if (is_scalar(a))
				continue;
			if (a->type != MSGPACK_OBJECT_MAP)
				goto bad_arg;
			for (uint32_t m = 0; m < a->via.map.size; m++)
				if (a->via.map.ptr[m].key.type != MSGPACK_OBJECT_STR ||
				    !is_scalar(&a->via.map.ptr[m].val))
					goto bad_arg;
			continue;
bad_arg:
			snprintf(err, errlen, "malformed command: statement %u argument %u has an "
			    "unsupported type", i, j);
			return -1;
		}
	}
	return 0;
}

/* Flattens a statement's arguments into c->args, maps expanded key by key. */
static int
flatten_args(struct sdb_conn *sdb, const msgpack_object *st, size_t *nargs)
{
	size_t n = 0, k = 0;

	for (uint32_t j = 1; j < st->via.array.size; j++) {
		const msgpack_object *a = &st->via.array.ptr[j];
		n += a->type == MSGPACK_OBJECT_MAP ? a->via.map.size : 1;
	}
	if (n > sdb->args_cap) {
		struct sdb_arg *p = realloc(sdb->args, n * sizeof(*p));
		if (p == NULL)
			return -1;
		sdb->args = p;
		sdb->args_cap = n;
	}
	for (uint32_t j = 1; j < st->via.array.size; j++) {
		const msgpack_object *a = &st->via.array.ptr[j];

		if (a->type != MSGPACK_OBJECT_MAP) {
			sdb->args[k++] = (struct sdb_arg){ NULL, 0, a };
			continue;
		}
		for (uint32_t m = 0; m < a->via.map.size; m++)
			sdb->args[k++] = (struct sdb_arg){ a->via.map.ptr[m].key.via.str.ptr,
			    a->via.map.ptr[m].key.via.str.size, &a->via.map.ptr[m].val };
	}
	*nargs = n;
	return 0;
}

/* ---- binding (rqlite's go-sqlite3 rules) ---- */

static int
bind_value(sqlite3_stmt *s, int idx, const msgpack_object *v)
{
	/* Values point into the command buffer; bindings are cleared before it goes. */
	switch (v->type) {
	case MSGPACK_OBJECT_NIL:
		return sqlite3_bind_null(s, idx);
	case MSGPACK_OBJECT_BOOLEAN:
		return sqlite3_bind_int(s, idx, v->via.boolean ? 1 : 0);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (v->via.u64 > (uint64_t)INT64_MAX)
			return sqlite3_bind_double(s, idx, (double)v->via.u64);
		return sqlite3_bind_int64(s, idx, (sqlite3_int64)v->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return sqlite3_bind_int64(s, idx, v->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return sqlite3_bind_double(s, idx, v->via.f64);
	case MSGPACK_OBJECT_STR:
		return sqlite3_bind_text64(s, idx, v->via.str.size ? v->via.str.ptr : "",
		    v->via.str.size, SQLITE_STATIC, SQLITE_UTF8);
	case MSGPACK_OBJECT_BIN:
		if (v->via.bin.size == 0)
			return sqlite3_bind_zeroblob(s, idx, 0);
		return sqlite3_bind_blob64(s, idx, v->via.bin.ptr, v->via.bin.size, SQLITE_STATIC);
	default:
		return SQLITE_MISMATCH;	/* refused by parse_cmd already */
	}
}

/* A named argument binds to whichever of :name, @name and $name the SQL uses. */
static int
bind_named(sqlite3_stmt *s, const struct sdb_arg *a)
{
	static const char prefixes[] = ":@$";
	char buf[256], *name = buf;
	int rc = SQLITE_OK;

	if ((size_t)a->nlen + 2 > sizeof(buf) && (name = malloc((size_t)a->nlen + 2)) == NULL)
		return SQLITE_NOMEM;
	memcpy(name + 1, a->name, a->nlen);
	name[a->nlen + 1] = '\0';
	for (int p = 0; p < 3 && rc == SQLITE_OK; p++) {
		int idx;

		name[0] = prefixes[p];
		if ((idx = sqlite3_bind_parameter_index(s, name)) > 0)
			rc = bind_value(s, idx, a->v);
	}
	if (name != buf)
		free(name);
	return rc;
}

/*
 * Binds the window args[start, start+na) by position (renumbered from 1) and every
 * named argument outside it by name, exactly as the reference driver does.
 */
static int
bind_args(sqlite3_stmt *s, const struct sdb_arg *args, size_t nargs, size_t start, size_t na)
{
	int ord = 0, rc = SQLITE_OK;

	if (na == 0)
		return SQLITE_OK;
	for (size_t i = start; i < start + na && rc == SQLITE_OK; i++) {
		ord++;
		rc = args[i].name ? bind_named(s, &args[i]) : bind_value(s, ord, args[i].v);
	}
	for (size_t i = 0; i < nargs && rc == SQLITE_OK; i++)
		if ((i < start || i >= na) && args[i].name != NULL)
			rc = bind_named(s, &args[i]);
	return rc;
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

static bool
stmt_readonly(sqlite3_stmt *s)
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

	rc = client_step(sdb, s);
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
		pack_lit(pk, "c");
		msgpack_pack_array(pk, (size_t)ncols);
		for (i = 0; i < ncols; i++)
			pack_lit(pk, sqlite3_column_name(s, i));
		pack_lit(pk, "q");
		msgpack_pack_array(pk, (size_t)ncols);
		for (i = 0; i < ncols; i++) {
			const char *name = sqlite3_column_name(s, i);
			const char *tbl = sqlite3_column_table_name(s, i);

			if (tbl == NULL || *tbl == '\0') {
				pack_lit(pk, name);
				continue;
			}
			size_t tn = strlen(tbl), nn = strlen(name);
			msgpack_pack_str(pk, tn + 1 + nn);
			msgpack_pack_str_body(pk, tbl, tn);
			msgpack_pack_str_body(pk, ".", 1);
			if (nn > 0)
				msgpack_pack_str_body(pk, name, nn);
		}
		pack_lit(pk, "ty");
		msgpack_pack_array(pk, (size_t)ncols);
		for (i = 0; i < ncols; i++) {
			if (sdb->cols[i].has_decl)
				pack_lower(pk, sqlite3_column_decltype(s, i));
			else if (has_rows)
				pack_lit(pk, first_row_type(s, i, sdb->cols[i].text_like));
			else
				pack_lit(pk, "");
		}
	}
	if (has_rows) {
		static const char hdr[5];

		pack_lit(pk, "v");
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
		} while ((rc = client_step(sdb, s)) == SQLITE_ROW);
		if (rc != SQLITE_DONE) {
			sdb->rbuf.size = mark;
			return rc;
		}
		patch_u32(&sdb->rbuf, vat, 0xdd, nrows);
	}
	pack_lit(pk, "x");
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
static int
run_query(struct sdb_req *rq, const char *sql, size_t len, const struct sdb_arg *args,
    size_t nargs, bool refuse)
{
	struct storage_stmt_cache *cache = rq->conn->cache;
	struct storage_stmt ss;
	int64_t t0 = sdb_now_ns();
	size_t start = 0, off = 0, next, na;
	int rc;

	SDB_COUNT(rq->conn, queries);
	for (;;) {
		if (out_of_time(rq->conn))
			return res_error(rq, true, stop_msg(rq, ERR_QUERY_TIMEOUT));
		rc = storage_stmt_cache_get(cache, sql + off, len - off, &ss);
		if (rc != SQLITE_OK)
			return res_error(rq, true, sqlite_msg(rq, rc, ERR_QUERY_TIMEOUT));
		na = ss.stmt ? (size_t)sqlite3_bind_parameter_count(ss.stmt) : 0;
		if (nargs - start < na) {
			storage_stmt_cache_put(cache, &ss);
			snprintf(rq->msg, sizeof(rq->msg),
			    "not enough args to execute query: want %zu got %zu", na, nargs - start);
			return res_error(rq, true, rq->msg);
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
		pack_lit(&rq->pk, "x");
		msgpack_pack_true(&rq->pk);
		pack_elapsed(&rq->pk, t0);
		rq->nresults++;
		return 0;
	}
	if ((rc = bind_args(ss.stmt, args, nargs, start, na)) != SQLITE_OK) {
		sqlite_msg(rq, rc, ERR_QUERY_TIMEOUT);
		storage_stmt_cache_put(cache, &ss);
		return res_error(rq, true, rq->msg);
	}
	/* A PRAGMA that only reads (journal_mode, table_info…) is not "read-only" to
	 * SQLite, but runs fine on the query_only connection, as in rqlite; one that
	 * writes fails there with SQLITE_READONLY, mapped below. */
	if (refuse && !stmt_readonly(ss.stmt) && !stmt_is_pragma(ss.stmt)) {
		storage_stmt_cache_put(cache, &ss);
		return res_error(rq, true, ERR_QUERY_WRITE);
	}
	if (group_refuses(rq, ss.stmt)) {
		storage_stmt_cache_put(cache, &ss);
		return -1;
	}
	if (c_tx_control_refused(rq, ss.stmt)) {
		storage_stmt_cache_put(cache, &ss);
		return res_error(rq, true, SQL_POLICY_ERR_TX_IN_TX);
	}
	if ((rc = pack_rows(rq, ss.stmt, t0)) != SQLITE_OK) {
		if (refuse && (rc & 0xff) == SQLITE_READONLY)
			snprintf(rq->msg, sizeof(rq->msg), "%s", ERR_QUERY_WRITE);
		else
			sqlite_msg(rq, rc, ERR_QUERY_TIMEOUT);
		storage_stmt_cache_put(cache, &ss);
		return res_error(rq, true, rq->msg);
	}
	storage_stmt_cache_put(cache, &ss);
	return 0;
}

/*
 * A statement in execute form (rqlite's Execute). Returns 0, or -1 if the result is
 * an error.
 */
static int
run_exec(struct sdb_req *rq, const char *sql, size_t len, const struct sdb_arg *args,
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
		if (out_of_time(rq->conn))
			return res_error(rq, false, stop_msg(rq, ERR_EXECUTE_TIMEOUT));
		rc = storage_stmt_cache_get(cache, sql + off, len - off, &ss);
		if (rc != SQLITE_OK)
			return res_error(rq, false, sqlite_msg(rq, rc, ERR_EXECUTE_TIMEOUT));
		used = ss.used;
		have_res = false;
		if (ss.stmt != NULL) {
			bool last = skip_space(sql, off + used, len) >= len;

			na = (size_t)sqlite3_bind_parameter_count(ss.stmt);
			if (nargs - start < na) {
				storage_stmt_cache_put(cache, &ss);
				snprintf(rq->msg, sizeof(rq->msg),
				    "not enough args to execute query: want %zu got %zu", na, nargs);
				return res_error(rq, false, rq->msg);
			}
			if ((rc = bind_args(ss.stmt, args, nargs, start, na)) != SQLITE_OK) {
				sqlite_msg(rq, rc, ERR_EXECUTE_TIMEOUT);
				storage_stmt_cache_put(cache, &ss);
				return res_error(rq, false, rq->msg);
			}
			if (group_refuses(rq, ss.stmt)) {
				storage_stmt_cache_put(cache, &ss);
				return -1;
			}
			if (last && !stmt_readonly(ss.stmt) && sqlite3_column_count(ss.stmt) > 0) {
				/* RETURNING: rows instead of counts. */
				rc = pack_rows(rq, ss.stmt, t0);
				if (rc != SQLITE_OK)
					sqlite_msg(rq, rc, ERR_QUERY_TIMEOUT);
				storage_stmt_cache_put(cache, &ss);
				return rc == SQLITE_OK ? 0 : res_error(rq, false, rq->msg);
			}
			if (c_tx_control_refused(rq, ss.stmt)) {
				storage_stmt_cache_put(cache, &ss);
				return res_error(rq, false, SQL_POLICY_ERR_TX_IN_TX);
			}
			rc = client_step(rq->conn, ss.stmt);
			if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
				sqlite_msg(rq, rc, ERR_EXECUTE_TIMEOUT);
				storage_stmt_cache_put(cache, &ss);
				return res_error(rq, false, rq->msg);
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
		pack_lit(&rq->pk, "li");
		msgpack_pack_int64(&rq->pk, li);
	}
	if (ra != 0) {
		pack_lit(&rq->pk, "ra");
		msgpack_pack_int64(&rq->pk, ra);
	}
	pack_elapsed(&rq->pk, t0);
	rq->nresults++;
	return 0;
}

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
		if (flatten_args(cn, st, &nargs) == -1) {
			req_fail(rq, "out of memory");
			break;
		}
		if (mode == MODE_QUERY) {
			run_query(rq, sql, len, cn->args, nargs, refuse);
			continue;
		}
		if (mode == MODE_EXECUTE) {
			r = run_exec(rq, sql, len, cn->args, nargs);
		} else {
			struct storage_stmt ss;
			int rc = storage_stmt_cache_get(cn->cache, sql, len, &ss);
			bool ro;

			if (rc != SQLITE_OK) {
				/* Fails to prepare: an error in execute form, never aborts. */
				res_error(rq, false, sqlite_msg(rq, rc, ERR_EXECUTE_TIMEOUT));
				continue;
			}
			ro = stmt_readonly(ss.stmt);
			storage_stmt_cache_put(cn->cache, &ss);
			r = ro ? run_query(rq, sql, len, cn->args, nargs, false) :
			    run_exec(rq, sql, len, cn->args, nargs);
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
		ro = stmt_readonly(ss.stmt);
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
	pack_lit(out, "r");
	msgpack_pack_array(out, 0);
	pack_lit(out, "e");
	pack_lit(out, msg);
}

static void
req_finish(struct sdb_req *rq, msgpack_packer *out)
{
	struct sdb_conn *cn = rq->conn;

	if (rq->failed || cn == NULL) {
		pack_top_error(out, rq->failed ? rq->err : "no connection");
	} else {
		msgpack_pack_map(out, 1);
		pack_lit(out, "r");
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
	sqlite3_progress_handler(cn->db, STORAGE_DB_PROGRESS_OPS, progress_cb, cn);
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
	if (parse_cmd(&o, c, err, sizeof(err)) == -1) {
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
	return (c->kind == STORAGE_CMD_EXECUTE || c->kind == STORAGE_CMD_REQUEST) && c->to_ms == 0;
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
	case STORAGE_CMD_EXECUTE:
	case STORAGE_CMD_REQUEST:
		req_start(&rq, sdb, &sdb->rw, &c);
		run_statements(&rq, &c, c.kind == STORAGE_CMD_EXECUTE ? MODE_EXECUTE :
		    MODE_REQUEST, false);
		break;
	case STORAGE_CMD_QUERY:
		/* A strong read: the reference runs it on a read-only connection too. */
		if ((ro = sdb_ro_acquire(sdb, err, sizeof(err))) == NULL) {
			pack_top_error(pk, err);
			msgpack_zone_clear(&sdb->rw.zone);
			return 0;
		}
		req_start(&rq, sdb, ro, &c);
		run_statements(&rq, &c, MODE_QUERY, true);
		break;
	case STORAGE_CMD_NOOP:
		msgpack_pack_map(pk, 0);
		msgpack_zone_clear(&sdb->rw.zone);
		return 0;
	default:
		if (c.kind == STORAGE_CMD_LOAD)
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
	if (c.kind != STORAGE_CMD_QUERY && c.kind != STORAGE_CMD_REQUEST) {
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
	if (c.kind == STORAGE_CMD_REQUEST && request_needs_log(&rq, &c)) {
		msgpack_pack_map(pk, 1);
		pack_lit(pk, "w");
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
	sqlite3_progress_handler(cn->db, STORAGE_DB_PROGRESS_OPS, progress_cb, cn);
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
	rc = client_step(&sdb->rw, s);
	sdb->rw.pol.enforce = false;
	return rc;
}

const char *
storage_db_client_error(struct storage_db *sdb, char *buf, size_t len)
{
	struct sdb_req rq = { .sdb = sdb, .conn = &sdb->rw };

	sqlite_msg(&rq, sdb->rw.budget_hit ? SQLITE_INTERRUPT : sqlite3_errcode(sdb->rw.db),
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
