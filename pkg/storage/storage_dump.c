/*
 * storage_dump: SQL text in and out of the storage database.
 *
 * Owns the sqlite3-shell-style dump (GET /db/backup?fmt=sql), written line by line
 * in exactly rqlite's layout, and running a SQL text as one all-or-nothing
 * transaction (the SQL path of POST /db/load).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "storage/storage_db.h"
#include "storage/storage_db_int.h"
#include "storage/storage_dump.h"


static int
exec_simple(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* ---- a small growable string ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_cstr(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Appends s as a double-quoted SQL identifier. */
static void
sb_ident(struct sbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	for (const char *q; (q = strchr(s, '"')) != NULL; s = q + 1) {
		sb_add(b, s, (size_t)(q - s));
		sb_add(b, "\"\"", 2);
	}
	sb_cstr(b, s);
	sb_add(b, "\"", 1);
}

/* ---- dump ---- */

struct dump {
	sqlite3 *db;
	FILE *out;
	char *err;
	size_t errlen;
};

static int
dump_write(struct dump *d, const void *p, size_t n)
{
	if (n > 0 && fwrite(p, 1, n, d->out) != n) {
		storage_set_err(d->err, d->errlen, "dump: write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
dump_line(struct dump *d, const void *p, size_t n)
{
	if (dump_write(d, p, n) == -1 || dump_write(d, ";\n", 2) == -1)
		return -1;
	return 0;
}

static int
dump_prepare(struct dump *d, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(d->db, sql, -1, s, NULL) != SQLITE_OK) {
		storage_set_err(d->err, d->errlen, "dump: %s", sqlite3_errmsg(d->db));
		return -1;
	}
	return 0;
}

static int
dump_step_error(struct dump *d)
{
	storage_set_err(d->err, d->errlen, "dump: %s", sqlite3_errmsg(d->db));
	return -1;
}

/*
 * Writes INSERT INTO "t" VALUES(…); for every row of table t, each value rendered by
 * quote(). The columns are those of PRAGMA table_info (generated columns excluded),
 * as rqlite builds its query.
 */
static int
dump_rows(struct dump *d, const char *table)
{
	struct sbuf q = { 0 }, prefix = { 0 };
	sqlite3_stmt *s = NULL;
	int rc, ncols = 0, ret = -1;

	sb_cstr(&q, "PRAGMA table_info(");
	sb_ident(&q, table);
	sb_cstr(&q, ")");
	if (q.oom)
		goto oom;
	if (dump_prepare(d, q.p, &s) == -1)
		goto out;
	q.len = 0;
	sb_cstr(&q, "SELECT ");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(s, 1);

		if (ncols++ > 0)
			sb_cstr(&q, ",");
		sb_cstr(&q, "quote(");
		sb_ident(&q, col ? col : "");
		sb_cstr(&q, ")");
	}
	if (rc != SQLITE_DONE) {
		dump_step_error(d);
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (ncols == 0)
		sb_cstr(&q, "NULL");	/* no columns to show: still one line per row */
	sb_cstr(&q, " FROM ");
	sb_ident(&q, table);

	sb_cstr(&prefix, "INSERT INTO ");
	sb_ident(&prefix, table);
	sb_cstr(&prefix, " VALUES(");
	if (q.oom || prefix.oom)
		goto oom;
	if (dump_prepare(d, q.p, &s) == -1)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (dump_write(d, prefix.p, prefix.len) == -1)
			goto out;
		for (int i = 0; i < ncols; i++) {
			const unsigned char *v = sqlite3_column_text(s, i);
			int n = sqlite3_column_bytes(s, i);

			if ((i > 0 && dump_write(d, ",", 1) == -1) ||
			    dump_write(d, v ? (const char *)v : "NULL", v ? (size_t)n : 4) == -1)
				goto out;
		}
		if (dump_write(d, ");\n", 3) == -1)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		dump_step_error(d);
		goto out;
	}
	ret = 0;
	goto out;
oom:
	storage_set_err(d->err, d->errlen, "dump: out of memory");
out:
	sqlite3_finalize(s);
	free(q.p);
	free(prefix.p);
	return ret;
}

static int
dump_tables(struct dump *d, const char *const *tables, size_t ntables)
{
	struct sbuf q = { 0 };
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;

	sb_cstr(&q, "SELECT \"name\", \"type\", \"sql\" FROM sqlite_master "
	    "WHERE \"sql\" NOT NULL AND type='table'");
	if (tables != NULL && ntables > 0) {
		sb_cstr(&q, " AND name IN (");
		for (size_t i = 0; i < ntables; i++)
			sb_cstr(&q, i > 0 ? ", ?" : "?");
		sb_cstr(&q, ")");
	}
	sb_cstr(&q, " ORDER BY name");
	if (q.oom) {
		storage_set_err(d->err, d->errlen, "dump: out of memory");
		goto out;
	}
	if (dump_prepare(d, q.p, &s) == -1)
		goto out;
	for (size_t i = 0; tables != NULL && i < ntables; i++)
		sqlite3_bind_text(s, (int)i + 1, tables[i], -1, SQLITE_STATIC);

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *sql = (const char *)sqlite3_column_text(s, 2);
		static const char seq[] = "DELETE FROM \"sqlite_sequence\"";
		static const char stat1[] = "ANALYZE \"sqlite_master\"";

		if (name == NULL || sql == NULL)
			continue;
		if (strcmp(name, "sqlite_sequence") == 0)
			rc = dump_line(d, seq, sizeof(seq) - 1);
		else if (strcmp(name, "sqlite_stat1") == 0)
			rc = dump_line(d, stat1, sizeof(stat1) - 1);
		else if (strncmp(name, "sqlite_", 7) == 0)
			continue;
		else
			rc = dump_line(d, sql, (size_t)sqlite3_column_bytes(s, 2));
		if (rc == -1 || dump_rows(d, name) == -1)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		dump_step_error(d);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	free(q.p);
	return ret;
}

/* Indexes, triggers and views, in sqlite_master order as rqlite (no ORDER BY). */
static int
dump_others(struct dump *d)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (dump_prepare(d, "SELECT \"name\", \"type\", \"sql\" FROM \"sqlite_master\" "
	    "WHERE \"sql\" NOT NULL AND \"type\" IN ('index', 'trigger', 'view')", &s) == -1)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(s, 2);

		if (sql != NULL && dump_line(d, sql, (size_t)sqlite3_column_bytes(s, 2)) == -1) {
			sqlite3_finalize(s);
			return -1;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return dump_step_error(d);
	return 0;
}

int
storage_dump_sql_conn(struct sqlite3 *conn, FILE *out, const char *const *tables,
    size_t ntables, char *err, size_t errlen)
{
	static const char head[] = "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n";
	struct dump d = { conn, out, err, errlen };
	bool own_tx = false;
	int ret = -1;

	if (conn == NULL || out == NULL) {
		storage_set_err(err, errlen, "dump: no connection or no output");
		return -1;
	}
	/* One read transaction: every query below sees the same snapshot. */
	if (sqlite3_get_autocommit(conn)) {
		if (exec_simple(conn, "BEGIN") != SQLITE_OK) {
			storage_set_err(err, errlen, "dump: %s", sqlite3_errmsg(conn));
			return -1;
		}
		own_tx = true;
	}
	if (dump_write(&d, head, sizeof(head) - 1) == 0 &&
	    dump_tables(&d, tables, ntables) == 0 &&
	    dump_others(&d) == 0 &&
	    dump_write(&d, "COMMIT;\n", 8) == 0)
		ret = 0;
	if (own_tx)
		exec_simple(conn, "COMMIT");
	if (ret == 0 && fflush(out) == EOF) {
		storage_set_err(err, errlen, "dump: write: %s", strerror(errno));
		ret = -1;
	}
	return ret;
}

int
storage_dump_sql(struct storage_db *db, FILE *out, const char *const *tables, size_t ntables,
    char *err, size_t errlen)
{
	return storage_dump_sql_conn(db ? storage_db_rw_handle(db) : NULL, out, tables, ntables,
	    err, errlen);
}

/* ---- load ---- */

enum stmt_kind { STMT_OTHER, STMT_PRAGMA, STMT_BEGIN, STMT_COMMIT, STMT_ROLLBACK };

/* Skips blanks and SQL comments. */
static const char *
skip_space(const char *p, const char *end)
{
	while (p < end) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') {
			p++;
		} else if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
			while (p < end && *p != '\n')
				p++;
		} else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			const char *q;

			for (q = p + 2; q + 1 < end && !(q[0] == '*' && q[1] == '/'); q++)
				;
			p = q + 1 < end ? q + 2 : end;
		} else {
			break;
		}
	}
	return p;
}

/* Reads one keyword (letters) at p into w; returns the position after it. */
static const char *
word(const char *p, const char *end, char *w, size_t wlen)
{
	size_t n = 0;

	p = skip_space(p, end);
	while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_')) {
		if (n + 1 < wlen)
			w[n++] = *p;
		p++;
	}
	w[n] = '\0';
	return p;
}

/* What a statement does to transactions, judged by its leading keywords. */
static enum stmt_kind
stmt_kind(const char *sql, const char *end)
{
	char w[16];
	const char *p = word(sql, end, w, sizeof(w));

	if (strcasecmp(w, "PRAGMA") == 0)
		return STMT_PRAGMA;
	if (strcasecmp(w, "BEGIN") == 0)
		return STMT_BEGIN;
	if (strcasecmp(w, "COMMIT") == 0 || strcasecmp(w, "END") == 0)
		return STMT_COMMIT;
	if (strcasecmp(w, "ROLLBACK") == 0) {
		/* ROLLBACK [TRANSACTION] TO … only unwinds a savepoint. */
		p = word(p, end, w, sizeof(w));
		if (strcasecmp(w, "TRANSACTION") == 0)
			word(p, end, w, sizeof(w));
		return strcasecmp(w, "TO") == 0 ? STMT_OTHER : STMT_ROLLBACK;
	}
	return STMT_OTHER;
}

static void
pack_lit(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void
pack_error(msgpack_packer *pk, const char *msg)
{
	msgpack_pack_map(pk, 1);
	pack_lit(pk, "r");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 1);
	pack_lit(pk, "e");
	pack_lit(pk, msg);
}

int
storage_load_sql(struct storage_db *db, const char *sql, size_t len, uint64_t steps,
    uint64_t max_value, msgpack_packer *pk)
{
	sqlite3 *rw = db ? storage_db_rw_handle(db) : NULL;
	const char *p = sql, *end;
	bool own_tx = false, text_tx = false, last_empty = false, any = false;
	char msg[512] = "";
	int fk = -1, ret = -1;
	sqlite3_int64 li, ra;

	if (rw == NULL || (sql == NULL && len > 0) || len > INT32_MAX) {
		pack_error(pk, rw == NULL ? "no database" : sql == NULL ? "no SQL text" :
		    "SQL text too large");
		return -1;
	}
	if (len == 0) {		/* rqlite skips an empty statement: no result at all */
		msgpack_pack_map(pk, 1);
		pack_lit(pk, "r");
		msgpack_pack_array(pk, 0);
		return 0;
	}
	end = sql + len;
	if (!sqlite3_get_autocommit(rw)) {
		pack_error(pk, "cannot start a transaction within a transaction");
		return -1;
	}
	{
		sqlite3_stmt *s;

		if (sqlite3_prepare_v2(rw, "PRAGMA foreign_keys", -1, &s, NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW)
				fk = sqlite3_column_int(s, 0);
			sqlite3_finalize(s);
		}
	}

	/* A dump is client SQL: the policy and the entry's step budget apply. */
	storage_db_client_begin(db, steps, max_value);
	while (p < end) {
		sqlite3_stmt *s = NULL;
		const char *tail = NULL;
		enum stmt_kind k;
		int rc;

		rc = storage_db_client_prepare(db, p, (int)(end - p), &s, &tail);
		if (rc != SQLITE_OK) {
			storage_db_client_error(db, msg, sizeof(msg));
			goto fail;
		}
		if (tail == NULL || tail <= p)
			tail = end;
		if (s == NULL) {	/* only blanks or comments */
			last_empty = true;
			p = tail;
			continue;
		}
		last_empty = false;
		any = true;
		k = stmt_kind(p, tail);
		p = tail;

		/* A text's own BEGIN … COMMIT becomes our single transaction. */
		if (k == STMT_BEGIN && own_tx && !text_tx) {
			text_tx = true;
			sqlite3_finalize(s);
			continue;
		}
		if (k == STMT_COMMIT && own_tx) {
			sqlite3_finalize(s);
			if (!text_tx) {
				snprintf(msg, sizeof(msg), "cannot commit - no transaction is active");
				goto fail;
			}
			text_tx = false;
			continue;
		}
		/* Leading pragmas (foreign_keys above all) only work outside a transaction. */
		if (k != STMT_PRAGMA && sqlite3_get_autocommit(rw)) {
			if (exec_simple(rw, "BEGIN IMMEDIATE") != SQLITE_OK) {
				snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(rw));
				sqlite3_finalize(s);
				goto fail;
			}
			own_tx = true;
			if (k == STMT_BEGIN) {
				text_tx = true;
				sqlite3_finalize(s);
				continue;
			}
		}
		while ((rc = storage_db_client_step(db, s)) == SQLITE_ROW)
			;
		if (rc != SQLITE_DONE) {
			storage_db_client_error(db, msg, sizeof(msg));
			sqlite3_finalize(s);
			goto fail;
		}
		sqlite3_finalize(s);
		if (k == STMT_ROLLBACK) {	/* the text gave up its own work */
			own_tx = text_tx = false;
		}
	}
	li = sqlite3_last_insert_rowid(rw);
	ra = sqlite3_changes64(rw);
	if (!sqlite3_get_autocommit(rw) && exec_simple(rw, "COMMIT") != SQLITE_OK) {
		snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(rw));
		goto fail;
	}
	/*
	 * rqlite's driver reports the result of the last prepare: blanks or a comment
	 * after the final ';' (as every dump has) give 0 and 0, so nothing is sent.
	 */
	if (last_empty || !any)
		li = ra = 0;
	msgpack_pack_map(pk, 1);
	pack_lit(pk, "r");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, (li != 0) + (ra != 0));
	if (li != 0) {
		pack_lit(pk, "li");
		msgpack_pack_int64(pk, li);
	}
	if (ra != 0) {
		pack_lit(pk, "ra");
		msgpack_pack_int64(pk, ra);
	}
	ret = 0;
	goto out;

fail:
	if (!sqlite3_get_autocommit(rw))
		exec_simple(rw, "ROLLBACK");
	pack_error(pk, msg);
out:
	storage_db_client_end(db);
	if (fk >= 0) {
		char q[32];

		snprintf(q, sizeof(q), "PRAGMA foreign_keys=%d", fk);
		exec_simple(rw, q);
	}
	return ret;
}
