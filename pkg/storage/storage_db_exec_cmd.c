/*
 * storage_db_exec_cmd: the command map a write entry or a read carries
 * (docs/wire-formats.md) as storage_db_exec.c receives it: checking its shape and
 * fields before anything runs (a malformed command is a request error, never a crash),
 * flattening each statement's arguments, and binding them by position and by name as
 * rqlite's go-sqlite3 does.
 */
#include <stdlib.h>
#include <string.h>

#include "storage/storage_db_exec_int.h"

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

int
sdb_parse_cmd(const msgpack_object *o, struct sdb_cmd *c, char *err, size_t errlen)
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
int
sdb_flatten_args(struct sdb_conn *sdb, const msgpack_object *st, size_t *nargs)
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
		return SQLITE_MISMATCH;	/* refused by sdb_parse_cmd already */
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
int
sdb_bind_args(sqlite3_stmt *s, const struct sdb_arg *args, size_t nargs, size_t start, size_t na)
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
