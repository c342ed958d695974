/* Helpers for the storage engine's unit tests (sdb_helpers.h). */
#include "sdb_helpers.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

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

/* ---- database files under one temporary directory ---- */

static char tmpdir[64];	/* made on first use, removed at exit */

const char *
tpath(const char *name)
{
	static char ring[8][256];
	static int next;
	char *b = ring[next++ % 8];

	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_storage_files.XXXXXX");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
	}
	snprintf(b, 256, "%s/%s", tmpdir, name);
	return b;
}

__attribute__((destructor)) static void
remove_tmpdir(void)
{
	DIR *d;
	struct dirent *e;
	char p[512];

	if (tmpdir[0] == '\0' || (d = opendir(tmpdir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

/* Opens a fresh database at tpath(name) (name ":memory:" for memory). */
struct storage_db *
open_named(const char *name, bool fk)
{
	struct storage_db_options o = { 0 };
	struct storage_db *db = NULL;
	char err[256];
	const char *p = strcmp(name, ":memory:") == 0 ? name : tpath(name);

	if (p != name) {
		char s[300];

		unlink(p);
		snprintf(s, sizeof(s), "%s-wal", p);
		unlink(s);
		snprintf(s, sizeof(s), "%s-shm", p);
		unlink(s);
	}
	o.path = p;
	o.fk = fk;
	o.max_ro_conns = 2;
	if (storage_db_open(&o, &db, err, sizeof(err)) == -1) {
		fprintf(stderr, "open %s: %s\n", p, err);
		return NULL;
	}
	return db;
}

int
rw_exec(struct storage_db *db, const char *sql)
{
	char *e = NULL;
	int rc = sqlite3_exec(storage_db_rw_handle(db), sql, NULL, NULL, &e);

	if (rc != SQLITE_OK)
		fprintf(stderr, "    exec %s: %s\n", sql, e ? e : "?");
	sqlite3_free(e);
	return rc;
}

/*
 * Runs one query through storage_db_query (so on a read-only connection) and
 * returns the integer in its first row's first column; -1 on any failure.
 */
long long
ro_int(struct storage_db *db, const char *sql)
{
	msgpack_sbuffer cmd, out;
	msgpack_packer pk;
	msgpack_unpacked u;
	const msgpack_object *v;
	size_t off = 0;
	long long ret = -1;

	msgpack_sbuffer_init(&cmd);
	msgpack_packer_init(&pk, &cmd, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	lit(&pk, "k");
	msgpack_pack_unsigned_int(&pk, 2);
	lit(&pk, "s");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 1);
	lit(&pk, sql);
	msgpack_sbuffer_init(&out);
	msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
	storage_db_query(db, cmd.data, cmd.size, &pk);
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, out.data, out.size, &off) == MSGPACK_UNPACK_SUCCESS) {
		v = aget(aget(mget(aget(mget(&u.data, "r"), 0), "v"), 0), 0);
		if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			ret = (long long)v->via.u64;
		else if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
			ret = v->via.i64;
	}
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&cmd);
	msgpack_sbuffer_destroy(&out);
	return ret;
}
