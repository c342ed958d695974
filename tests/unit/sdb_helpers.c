/* Helpers for the storage engine's unit tests (sdb_helpers.h). */
#include "sdb_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- command building ---- */

void
lit(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void
cb_init_extra(struct cb *b, unsigned kind, bool tx, unsigned to_ms, unsigned extra)
{
	msgpack_sbuffer_init(&b->sb);
	msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
	msgpack_pack_map(&b->pk, 2 + extra + (tx ? 1 : 0) + (to_ms ? 1 : 0));
	lit(&b->pk, "k");
	msgpack_pack_unsigned_int(&b->pk, kind);
	if (tx) {
		lit(&b->pk, "tx");
		msgpack_pack_true(&b->pk);
	}
	if (to_ms) {
		lit(&b->pk, "to");
		msgpack_pack_unsigned_int(&b->pk, to_ms);
	}
}

void
cb_begin_stmts(struct cb *b, unsigned nstmts)
{
	lit(&b->pk, "s");
	msgpack_pack_array(&b->pk, nstmts);
}

void
cb_init(struct cb *b, unsigned kind, bool tx, unsigned to_ms, unsigned nstmts)
{
	cb_init_extra(b, kind, tx, to_ms, 0);
	cb_begin_stmts(b, nstmts);
}

/* A statement [sql, …nargs…]; the caller packs the arguments next. */
void
cb_stmt(struct cb *b, const char *sql, unsigned nargs)
{
	msgpack_pack_array(&b->pk, 1 + nargs);
	lit(&b->pk, sql);
}

/* ---- result decoding ---- */

void
run_cb(struct storage_db *sdb, struct cb *b, bool read, struct res *r)
{
	msgpack_packer pk;
	size_t off = 0;

	msgpack_sbuffer_init(&r->out);
	msgpack_packer_init(&pk, &r->out, msgpack_sbuffer_write);
	r->rc = read ? storage_db_query(sdb, b->sb.data, b->sb.size, &pk) :
	    storage_db_apply(sdb, b->sb.data, b->sb.size, &pk);
	msgpack_sbuffer_destroy(&b->sb);
	msgpack_unpacked_init(&r->u);
	r->whole = msgpack_unpack_next(&r->u, r->out.data, r->out.size, &off) ==
	    MSGPACK_UNPACK_SUCCESS && off == r->out.size;
	r->top = &r->u.data;
}

void
res_free(struct res *r)
{
	msgpack_unpacked_destroy(&r->u);
	msgpack_sbuffer_destroy(&r->out);
}

const msgpack_object *
mget(const msgpack_object *m, const char *key)
{
	size_t n = strlen(key);

	if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, key, n) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

const msgpack_object *
aget(const msgpack_object *a, uint32_t i)
{
	if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY || i >= a->via.array.size)
		return NULL;
	return &a->via.array.ptr[i];
}

long
alen(const msgpack_object *a)
{
	return a != NULL && a->type == MSGPACK_OBJECT_ARRAY ? (long)a->via.array.size : -1;
}

/* A NUL-terminated copy of a str (or bin) object; "(not a string)" otherwise. */
const char *
str(const msgpack_object *o)
{
	static char ring[8][512];
	static int next;
	char *b = ring[next++ % 8];
	const char *p;
	size_t n;

	if (o == NULL)
		return "(absent)";
	if (o->type == MSGPACK_OBJECT_STR) {
		p = o->via.str.ptr;
		n = o->via.str.size;
	} else {
		return "(not a string)";
	}
	if (n >= 512)
		n = 511;
	memcpy(b, p, n);
	b[n] = '\0';
	return b;
}

long long
ival(const msgpack_object *o)
{
	if (o == NULL)
		return -999999;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (long long)o->via.u64;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return o->via.i64;
	return -999998;
}

const msgpack_object *
res_at(const struct res *r, uint32_t i)
{
	return aget(mget(r->top, "r"), i);
}

long
nres(const struct res *r)
{
	return alen(mget(r->top, "r"));
}

/* rows[row][col] of a query-form result */
const msgpack_object *
cell(const msgpack_object *res, uint32_t row, uint32_t col)
{
	return aget(aget(mget(res, "v"), row), col);
}

/* ---- shortcuts ---- */

struct storage_db *
open_db_lim(const char *path, bool fk, const struct storage_db_limits *lim)
{
	struct storage_db_options o = { .path = path, .fk = fk, .max_ro_conns = 1 };
	struct storage_db *sdb = NULL;
	char err[256];

	if (lim != NULL)
		o.lim = *lim;
	if (storage_db_open(&o, &sdb, err, sizeof(err)) == -1) {
		fprintf(stderr, "open: %s\n", err);
		return NULL;
	}
	return sdb;
}

struct storage_db *
open_db(const char *path, bool fk)
{
	return open_db_lim(path, fk, NULL);
}

/* Runs statements without arguments. */
void
runv(struct storage_db *sdb, unsigned kind, bool tx, unsigned to, bool read,
    struct res *r, unsigned n, const char *const *sqls)
{
	struct cb b;

	cb_init(&b, kind, tx, to, n);
	for (unsigned i = 0; i < n; i++)
		cb_stmt(&b, sqls[i], 0);
	run_cb(sdb, &b, read, r);
}

void
exec1(struct storage_db *sdb, const char *sql, struct res *r)
{
	runv(sdb, 1, false, 0, false, r, 1, &sql);
}

void
query1(struct storage_db *sdb, const char *sql, struct res *r)
{
	runv(sdb, 2, false, 0, true, r, 1, &sql);
}

/* Runs one statement and checks it did not fail; returns false (and says why) if it did. */
bool
must(struct storage_db *sdb, const char *sql)
{
	struct res r;
	bool ok;

	exec1(sdb, sql, &r);
	ok = r.rc == 0 && nres(&r) == 1 && mget(res_at(&r, 0), "e") == NULL;
	if (!ok)
		fprintf(stderr, "    %s: %s\n", sql, str(mget(res_at(&r, 0), "e")));
	res_free(&r);
	return ok;
}

long long
count_rows(struct storage_db *sdb, const char *table)
{
	char sql[128];
	struct res r;
	long long n;

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
	query1(sdb, sql, &r);
	n = ival(cell(res_at(&r, 0), 0, 0));
	res_free(&r);
	return n;
}

