/*
 * gateway_body: JSON and text request bodies → statements, each with its parameters
 * already msgpack-encoded as storage binds them. The top-level array is walked the
 * way rqlite drives Go's streaming json.Decoder (ParseRequest), because which 400
 * text a malformed body earns depends on how far that decoder got; the values come
 * from gateway_json_reader.c. Packing statements into a command is
 * gateway_command.c. Sends and receives no messages.
 */
#include "gateway_body.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "gateway_json_reader.h"

static const char body_invalid_json[] = "invalid JSON body";
static const char body_invalid_request[] = "invalid request";
static const char body_no_statements[] = "no statements";

/* ---- JSON values → msgpack parameters ------------------------------------ */

/* json.Number.Int64: strconv.ParseInt(text, 10, 64). */
static bool
num_int64(const char *s, int64_t *out)
{
	const char *q = s;
	uint64_t acc = 0, lim;
	bool neg = false;

	if (*q == '-') {
		neg = true;
		q++;
	}
	if (*q == '\0')
		return false;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *q != '\0'; q++) {
		if (*q < '0' || *q > '9')
			return false;
		if (acc > (lim - (uint64_t)(*q - '0')) / 10)
			return false;
		acc = acc * 10 + (uint64_t)(*q - '0');
	}
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
is_trim_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* rqlite's ParseHex: x'…' / X'…' with even-length hex, surrounding spaces trimmed. */
static bool
parse_hex_blob(const char *s, size_t n, size_t *start, size_t *hexlen)
{
	size_t a = 0, b = n;

	while (a < b && is_trim_space((unsigned char)s[a]))
		a++;
	while (b > a && is_trim_space((unsigned char)s[b - 1]))
		b--;
	if (b - a < 3 || (s[a] != 'x' && s[a] != 'X'))
		return false;
	if (s[a + 1] != '\'' || s[b - 1] != '\'')
		return false;
	if ((b - a - 3) % 2 != 0)
		return false;
	for (size_t i = a + 2; i < b - 1; i++)
		if (hexval(s[i]) < 0)
			return false;
	*start = a + 2;
	*hexlen = b - a - 3;
	return true;
}

static const char *
go_type_name(const struct gateway_jv *v)
{
	switch (v->t) {
	case GATEWAY_JV_STR: return "string";
	case GATEWAY_JV_NUM: return "json.Number";
	case GATEWAY_JV_TRUE: case GATEWAY_JV_FALSE: return "bool";
	case GATEWAY_JV_NULL: return "<nil>";
	case GATEWAY_JV_ARR: return "[]interface {}";
	case GATEWAY_JV_OBJ: return "map[string]interface {}";
	}
	return "?";
}

/* rqlite's makeParameter for one value. */
static int
pack_param(msgpack_packer *pk, const struct gateway_jv *v, char *err, size_t errlen)
{
	switch (v->t) {
	case GATEWAY_JV_NUM: {
		int64_t i;

		if (num_int64(v->s, &i))
			return msgpack_pack_int64(pk, i);
		double d = strtod(v->s, NULL);
		if (isinf(d)) {
			snprintf(err, errlen, "invalid number %s", v->s);
			return -1;
		}
		return msgpack_pack_double(pk, d);
	}
	case GATEWAY_JV_STR: {
		size_t st, hl;

		if (parse_hex_blob(v->s, v->len, &st, &hl)) {
			if (msgpack_pack_bin(pk, hl / 2) != 0)
				return -1;
			for (size_t k = 0; k < hl; k += 2) {
				char byte = (char)(hexval(v->s[st + k]) << 4 |
				    hexval(v->s[st + k + 1]));

				if (msgpack_pack_bin_body(pk, &byte, 1) != 0)
					return -1;
			}
			return 0;
		}
		return msgpack_pack_str_with_body(pk, v->s, v->len);
	}
	case GATEWAY_JV_TRUE:
		return msgpack_pack_true(pk);
	case GATEWAY_JV_FALSE:
		return msgpack_pack_false(pk);
	case GATEWAY_JV_NULL:
		return msgpack_pack_nil(pk);
	case GATEWAY_JV_ARR: {
		unsigned char *bytes = malloc(v->nkids ? v->nkids : 1);
		int rc;

		if (bytes == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (size_t k = 0; k < v->nkids; k++) {
			const struct gateway_jv *e = &v->kids[k];
			int64_t i;

			if (e->t != GATEWAY_JV_NUM) {
				snprintf(err, errlen, "unsupported type %s", go_type_name(e));
				free(bytes);
				return -1;
			}
			if (!num_int64(e->s, &i) || (uint64_t)i > 255) {
				snprintf(err, errlen, "unsupported type %s", e->s);
				free(bytes);
				return -1;
			}
			bytes[k] = (unsigned char)i;
		}
		rc = msgpack_pack_bin_with_body(pk, bytes, v->nkids);
		free(bytes);
		return rc;
	}
	case GATEWAY_JV_OBJ:
		snprintf(err, errlen, "unsupported type %s", go_type_name(v));
		return -1;
	}
	return -1;
}

/* ---- statements ------------------------------------------------------------ */

static struct gateway_stmt *
body_add(struct gateway_body *b)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 8;
		struct gateway_stmt *ns = realloc(b->stmts, nc * sizeof(*ns));

		if (ns == NULL)
			return NULL;
		b->stmts = ns;
		b->cap = nc;
	}
	memset(&b->stmts[b->n], 0, sizeof(b->stmts[0]));
	return &b->stmts[b->n++];
}

void
gateway_body_free(struct gateway_body *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->stmts[i].sql);
		free(b->stmts[i].args);
	}
	free(b->stmts);
	memset(b, 0, sizeof(*b));
}

int
gateway_body_from_sql(const char *sql, size_t len, struct gateway_body *b)
{
	struct gateway_stmt *s;

	memset(b, 0, sizeof(*b));
	if ((s = body_add(b)) == NULL || (s->sql = malloc(len + 1)) == NULL) {
		gateway_body_free(b);
		return -1;
	}
	memcpy(s->sql, sql, len);
	s->sql[len] = '\0';
	s->sql_len = len;
	return 0;
}

size_t
gateway_body_count_nonempty(const struct gateway_body *b)
{
	size_t c = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->stmts[i].sql_len > 0)
			c++;
	return c;
}

void
gateway_stmt_set_sql(struct gateway_stmt *s, char *sql, size_t len)
{
	free(s->sql);
	s->sql = sql;
	s->sql_len = len;
}

/* A parameterized statement: items[0] is the SQL, the rest its parameters. */
static int
body_param_stmt(struct gateway_body *b, struct gateway_jv *items, char *err, size_t errlen)
{
	struct gateway_stmt *s;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (items->nkids == 0 || items->kids[0].t != GATEWAY_JV_STR) {
		snprintf(err, errlen, "%s", body_invalid_request);
		return -1;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint32_t nargs = 0;
	for (size_t k = 1; k < items->nkids; k++) {
		struct gateway_jv *it = &items->kids[k];

		if (it->t == GATEWAY_JV_OBJ) {
			if (msgpack_pack_map(&pk, it->nkids) != 0)
				goto oom;
			for (size_t m = 0; m < it->nkids; m++) {
				if (msgpack_pack_str_with_body(&pk, it->kids[m].key,
				    it->kids[m].keylen) != 0)
					goto oom;
				err[0] = '\0';
				if (pack_param(&pk, &it->kids[m], err, errlen) != 0)
					goto fail;
			}
		} else {
			err[0] = '\0';
			if (pack_param(&pk, it, err, errlen) != 0)
				goto fail;
		}
		nargs++;
	}
	if ((s = body_add(b)) == NULL)
		goto oom;
	s->sql = items->kids[0].s;
	s->sql_len = items->kids[0].len;
	items->kids[0].s = NULL;
	s->args = sb.data;
	s->args_len = sb.size;
	s->nargs = nargs;
	return 0;
fail:
	if (err[0] != '\0') {
		msgpack_sbuffer_destroy(&sb);
		return -1;
	}
oom:
	msgpack_sbuffer_destroy(&sb);
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
gateway_body_parse_json(const char *body, size_t len, struct gateway_body *b, char *err,
    size_t errlen)
{
	struct gateway_jreader p = { .s = body, .n = len };
	bool first = true;
	const char *msg = body_invalid_json;

	memset(b, 0, sizeof(*b));
	gateway_jreader_ws(&p);
	if (p.i >= p.n)
		goto fail;
	if (p.s[p.i] != '[') {
		struct gateway_jv v = { 0 };

		/* Go's Token(): '{' is a delimiter; a scalar is decoded first */
		if (p.s[p.i] == '{' || gateway_jreader_value(&p, &v, 0) == 0)
			msg = body_invalid_request;
		gateway_jv_free(&v);
		goto fail;
	}
	p.i++;
	for (;;) {
		char c;

		gateway_jreader_ws(&p);
		if (p.i >= p.n)
			goto fail;		/* More() false, then Token() hits EOF */
		c = p.s[p.i];
		if (c == ']' || c == '}')
			break;
		if (!first) {
			if (c != ',')
				goto fail;
			p.i++;
			gateway_jreader_ws(&p);
			if (p.i >= p.n || p.s[p.i] == ']' || p.s[p.i] == '}')
				goto fail;
			c = p.s[p.i];
		}
		first = false;
		if (c == '"') {
			struct gateway_stmt *s;
			char *sql;
			size_t sl;

			if (gateway_jreader_string(&p, &sql, &sl) == -1)
				goto fail_oom;
			if ((s = body_add(b)) == NULL) {
				free(sql);
				p.oom = true;
				goto fail_oom;
			}
			s->sql = sql;
			s->sql_len = sl;
		} else if (c == '[') {
			struct gateway_jv items = { 0 };
			size_t cap = 0;
			bool ifirst = true;

			items.t = GATEWAY_JV_ARR;
			p.i++;
			for (;;) {
				struct gateway_jv *k;

				gateway_jreader_ws(&p);
				if (p.i >= p.n || p.s[p.i] == '}') {
					gateway_jv_free(&items);
					goto fail;
				}
				if (p.s[p.i] == ']') {
					p.i++;
					break;
				}
				if (!ifirst) {
					if (p.s[p.i] != ',') {
						gateway_jv_free(&items);
						goto fail;
					}
					p.i++;
					gateway_jreader_ws(&p);
				}
				ifirst = false;
				if (gateway_jreader_push(&p, &items, &cap, &k) == -1 ||
				    gateway_jreader_value(&p, k, 1) == -1) {
					gateway_jv_free(&items);
					goto fail_oom;
				}
			}
			err[0] = '\0';
			if (body_param_stmt(b, &items, err, errlen) == -1) {
				gateway_jv_free(&items);
				gateway_body_free(b);
				return -1;
			}
			gateway_jv_free(&items);
		} else {
			struct gateway_jv v = { 0 };

			/* Token() decodes a scalar before ParseRequest rejects it */
			if (c == '{' || gateway_jreader_value(&p, &v, 1) == 0)
				msg = body_invalid_request;
			gateway_jv_free(&v);
			if (p.oom)
				goto fail_oom;
			goto fail;
		}
	}
	/* the closing token must be ']' (a '}' is a syntax error) */
	if (p.s[p.i] != ']')
		goto fail;
	if (b->n == 0) {
		msg = body_no_statements;
		goto fail;
	}
	return 0;
fail_oom:
	if (p.oom)
		msg = "out of memory";
fail:
	gateway_body_free(b);
	snprintf(err, errlen, "%s", msg);
	return -1;
}
