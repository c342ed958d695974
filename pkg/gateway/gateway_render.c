/*
 * gateway_render: storage's msgpack result maps → rqlite's response JSON. Owns the
 * shapes of rqlite's encoding structs (Result, Rows, AssociativeRows, Response),
 * their key order and omitempty rules; each value is written by
 * gateway_render_value.c. Sends and receives no messages.
 */
#include "gateway_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_render_value.h"

/* ---- msgpack helpers ---------------------------------------------------- */

static const msgpack_object *
rd_get(const msgpack_object *map, const char *key)
{
	size_t klen = strlen(key);

	if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;

		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
		    memcmp(k->via.str.ptr, key, klen) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

static bool
rd_int(const msgpack_object *o, int64_t *v)
{
	if (o == NULL)
		return false;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*v = (int64_t)o->via.u64;
		return true;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return true;
	}
	return false;
}

static double
rd_double(const msgpack_object *o)
{
	if (o == NULL)
		return 0;
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return o->via.f64;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return (double)o->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return (double)o->via.i64;
	default:
		return 0;
	}
}

static bool
rd_str(const msgpack_object *o, const char **p, size_t *n)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return false;
	*p = o->via.str.ptr;
	*n = o->via.str.size;
	return true;
}

static bool
rd_true(const msgpack_object *o)
{
	return o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
}

static uint32_t
rd_arrlen(const msgpack_object *o)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	return o->via.array.size;
}

/* ---- results ------------------------------------------------------------ */

static void
rd_time(struct json_writer *w, const struct gateway_render_opts *o, const msgpack_object *t)
{
	double tv;

	if (!o->timings || t == NULL)
		return;
	tv = rd_double(t);
	if (tv != 0) {
		json_writer_key(w, "time");
		json_writer_double(w, tv);
	}
}

static void
rd_error_key(struct json_writer *w, const msgpack_object *e)
{
	const char *s;
	size_t n;

	if (rd_str(e, &s, &n) && n > 0) {
		json_writer_key(w, "error");
		json_writer_string_n(w, s, n);
	}
}

static void
rd_str_array(struct json_writer *w, const msgpack_object *a)
{
	json_writer_array_begin(w);
	for (uint32_t i = 0; i < rd_arrlen(a); i++) {
		const msgpack_object *s = &a->via.array.ptr[i];

		if (s->type == MSGPACK_OBJECT_STR)
			json_writer_string_n(w, s->via.str.ptr, s->via.str.size);
		else
			json_writer_string_n(w, "", 0);
	}
	json_writer_array_end(w);
}

static void
rd_elem_str(const msgpack_object *a, uint32_t i, const char **p, size_t *n)
{
	*p = "";
	*n = 0;
	if (i < rd_arrlen(a))
		rd_str(&a->via.array.ptr[i], p, n);
}

struct rd_col {
	const char	*name;
	size_t		 len;
	uint32_t	 idx;
};

static int
rd_col_cmp(const void *a, const void *b)
{
	const struct rd_col *x = a, *y = b;
	size_t m = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->name, y->name, m);

	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/*
 * Columns sorted by name (Go sorts map keys bytewise); of duplicate names only
 * the last column survives, as later map assignments overwrite earlier ones.
 */
static struct rd_col *
rd_sorted_cols(const msgpack_object *cols, uint32_t *out_n)
{
	uint32_t n = rd_arrlen(cols), k = 0;
	struct rd_col *c;

	*out_n = 0;
	if (n == 0)
		return NULL;
	c = calloc(n, sizeof(*c));
	if (c == NULL)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		rd_elem_str(cols, i, &c[i].name, &c[i].len);
		c[i].idx = i;
	}
	qsort(c, n, sizeof(*c), rd_col_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (i + 1 < n && c[i + 1].len == c[i].len &&
		    memcmp(c[i + 1].name, c[i].name, c[i].len) == 0)
			continue;
		c[k++] = c[i];
	}
	*out_n = k;
	return c;
}

/* The query form of one result; returns -1 with err on a value that cannot render. */
static int
rd_rows(struct json_writer *w, const msgpack_object *r, const struct gateway_render_opts *o,
    char *err, size_t errlen)
{
	const msgpack_object *cols = rd_get(r, "c"), *types = rd_get(r, "ty");
	const msgpack_object *vals = rd_get(r, "v");
	uint32_t ncols, nrows = rd_arrlen(vals);

	if (o->qualify_columns && rd_arrlen(rd_get(r, "q")) == rd_arrlen(cols))
		cols = rd_get(r, "q");
	ncols = rd_arrlen(cols);
	if (ncols != rd_arrlen(types)) {
		snprintf(err, errlen, "types and columns are different lengths");
		return -1;
	}
	json_writer_object_begin(w);
	if (!o->associative) {
		if (ncols > 0) {
			json_writer_key(w, "columns");
			rd_str_array(w, cols);
			json_writer_key(w, "types");
			rd_str_array(w, types);
		}
		if (nrows > 0) {
			json_writer_key(w, "values");
			json_writer_array_begin(w);
			for (uint32_t i = 0; i < nrows; i++) {
				const msgpack_object *row = &vals->via.array.ptr[i];

				if (row->type != MSGPACK_OBJECT_ARRAY) {
					json_writer_null(w);
					continue;
				}
				json_writer_array_begin(w);
				for (uint32_t j = 0; j < row->via.array.size; j++) {
					const char *t;
					size_t tl;

					rd_elem_str(types, j, &t, &tl);
					if (gateway_render_value(w, &row->via.array.ptr[j], t, tl,
					    o->blob_array, err, errlen) == -1)
						return -1;
				}
				json_writer_array_end(w);
			}
			json_writer_array_end(w);
		}
	} else {
		uint32_t nsorted = 0;
		struct rd_col *sc = rd_sorted_cols(cols, &nsorted);

		if (ncols > 0 && sc == NULL) {
			w->oom = true;
			return 0;
		}
		if (nsorted > 0) {
			json_writer_key(w, "types");
			json_writer_object_begin(w);
			for (uint32_t k = 0; k < nsorted; k++) {
				const char *t;
				size_t tl;

				rd_elem_str(types, sc[k].idx, &t, &tl);
				json_writer_key_n(w, sc[k].name, sc[k].len);
				json_writer_string_n(w, t, tl);
			}
			json_writer_object_end(w);
		}
		json_writer_key(w, "rows");
		json_writer_array_begin(w);
		for (uint32_t i = 0; i < nrows; i++) {
			const msgpack_object *row = &vals->via.array.ptr[i];

			json_writer_object_begin(w);
			for (uint32_t k = 0; k < nsorted; k++) {
				const char *t;
				size_t tl;

				json_writer_key_n(w, sc[k].name, sc[k].len);
				if (row->type != MSGPACK_OBJECT_ARRAY ||
				    sc[k].idx >= row->via.array.size) {
					json_writer_null(w);
					continue;
				}
				rd_elem_str(types, sc[k].idx, &t, &tl);
				if (gateway_render_value(w, &row->via.array.ptr[sc[k].idx], t, tl,
				    o->blob_array, err, errlen) == -1) {
					free(sc);
					return -1;
				}
			}
			json_writer_object_end(w);
		}
		json_writer_array_end(w);
		free(sc);
	}
	rd_error_key(w, rd_get(r, "e"));
	rd_time(w, o, rd_get(r, "t"));
	json_writer_object_end(w);
	return 0;
}

/* A query-form result that failed while its rows were converted. */
static void
rd_rows_error(struct json_writer *w, const struct gateway_render_opts *o, const char *msg)
{
	json_writer_object_begin(w);
	if (o->associative) {
		json_writer_key(w, "rows");
		json_writer_array_begin(w);
		json_writer_array_end(w);
	}
	json_writer_key(w, "error");
	json_writer_string(w, msg);
	json_writer_object_end(w);
}

static int
rd_result(struct json_writer *w, const msgpack_object *r, const struct gateway_render_opts *o,
    char *err, size_t errlen)
{
	const msgpack_object *e = rd_get(r, "e");
	const char *es;
	size_t el;
	bool has_err = rd_str(e, &es, &el) && el > 0;
	bool query_form = o->is_query || rd_true(rd_get(r, "x")) ||
	    rd_get(r, "c") != NULL || rd_get(r, "v") != NULL;

	if (r->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "malformed result");
		return -1;
	}
	if (query_form) {
		struct json_writer_mark m;
		char verr[GATEWAY_RENDER_ERR_MAX];

		json_writer_mark(w, &m);
		verr[0] = '\0';
		if (rd_rows(w, r, o, verr, sizeof(verr)) == 0)
			return 0;
		if (strcmp(verr, "types and columns are different lengths") == 0) {
			snprintf(err, errlen, "%s", verr);
			return -1;
		}
		/* rqlite fails the statement when a value cannot be marshalled. */
		json_writer_rewind(w, &m);
		rd_rows_error(w, o, verr);
		return 0;
	}
	json_writer_object_begin(w);
	if (has_err) {
		/* rqlite's ExecuteQueryResponse_Error: only the message */
		json_writer_key(w, "error");
		json_writer_string_n(w, es, el);
		json_writer_object_end(w);
		return 0;
	}
	{
		int64_t li = 0, ra = 0;

		rd_int(rd_get(r, "li"), &li);
		rd_int(rd_get(r, "ra"), &ra);
		if (li != 0) {
			json_writer_key(w, "last_insert_id");
			json_writer_int(w, li);
		}
		if (ra != 0) {
			json_writer_key(w, "rows_affected");
			json_writer_int(w, ra);
		}
	}
	rd_time(w, o, rd_get(r, "t"));
	if (o->associative) {
		json_writer_key(w, "rows");
		json_writer_null(w);
	}
	json_writer_object_end(w);
	return 0;
}

static void
rd_trailer(struct json_writer *w, const struct gateway_render_opts *o)
{
	if (o->timings && o->total_time != 0) {
		json_writer_key(w, "time");
		json_writer_double(w, o->total_time);
	}
	if (o->sequence_number != 0) {
		json_writer_key(w, "sequence_number");
		json_writer_int(w, o->sequence_number);
	}
	if (o->raft_index != 0) {
		json_writer_key(w, "raft_index");
		json_writer_uint(w, o->raft_index);
	}
}

void
gateway_render_error(const char *msg, const struct gateway_render_opts *o,
    struct json_writer *w)
{
	json_writer_object_begin(w);
	json_writer_key(w, "results");
	json_writer_array_begin(w);
	json_writer_array_end(w);
	if (msg != NULL && msg[0] != '\0') {
		json_writer_key(w, "error");
		json_writer_string(w, msg);
	}
	rd_trailer(w, o);
	json_writer_object_end(w);
}

static void
rd_nan_err(struct json_writer *w, char *err, size_t errlen)
{
	if (w->oom)
		snprintf(err, errlen, "out of memory");
	else
		snprintf(err, errlen, "json: error calling MarshalJSON for type "
		    "*http.DBResults: json: unsupported value: %s", w->bad_text);
}

int
gateway_render_response(const msgpack_object *res, const struct gateway_render_opts *o,
    struct json_writer *w, char *err, size_t errlen)
{
	const msgpack_object *e, *r;
	const char *es;
	size_t el;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (res == NULL || res->type == MSGPACK_OBJECT_NIL) {
		gateway_render_error(NULL, o, w);
		goto out;
	}
	if (res->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "malformed result: not a map");
		return -1;
	}
	e = rd_get(res, "e");
	if (rd_str(e, &es, &el) && el > 0) {
		char *msg = strndup(es, el);

		if (msg == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		gateway_render_error(msg, o, w);
		free(msg);
		goto out;
	}
	r = rd_get(res, "r");
	if (r != NULL && r->type != MSGPACK_OBJECT_ARRAY && r->type != MSGPACK_OBJECT_NIL) {
		snprintf(err, errlen, "malformed result: r is not an array");
		return -1;
	}
	json_writer_object_begin(w);
	json_writer_key(w, "results");
	json_writer_array_begin(w);
	for (uint32_t i = 0; i < rd_arrlen(r); i++) {
		if (rd_result(w, &r->via.array.ptr[i], o, err, errlen) == -1)
			return -1;
	}
	json_writer_array_end(w);
	rd_trailer(w, o);
	json_writer_object_end(w);
out:
	if (json_writer_failed(w)) {
		rd_nan_err(w, err, errlen);
		return -1;
	}
	return 0;
}

int
gateway_render_to_buffer(const msgpack_object *res, const struct gateway_render_opts *o,
    char **out, size_t *out_len, char *err, size_t errlen)
{
	struct json_writer w;

	json_writer_init(&w, o->pretty);
	if (gateway_render_response(res, o, &w, err, errlen) == -1) {
		json_writer_free(&w);
		return -1;
	}
	*out = json_writer_steal(&w, out_len);
	return 0;
}
