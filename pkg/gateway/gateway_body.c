/*
 * gateway_body: JSON and text request bodies → statements → the msgpack command
 * map storage executes. The JSON reader imitates the way rqlite drives Go's
 * streaming json.Decoder (ParseRequest), because which 400 text a malformed body
 * earns depends on how far that decoder got.
 */
#include "gateway_body.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX_DEPTH	1000

static const char body_invalid_json[] = "invalid JSON body";
static const char body_invalid_request[] = "invalid request";
static const char body_no_statements[] = "no statements";

/* ---- a tiny JSON tree ---------------------------------------------------- */

enum jv_type { JV_STR, JV_NUM, JV_TRUE, JV_FALSE, JV_NULL, JV_ARR, JV_OBJ };

struct jv {
	enum jv_type	 t;
	char		*s;		/* STR: decoded bytes; NUM: literal text */
	size_t		 len;
	char		*key;		/* when a member of an object */
	size_t		 keylen;
	struct jv	*kids;
	size_t		 nkids;
};

static void
jv_free(struct jv *v)
{
	free(v->s);
	free(v->key);
	for (size_t i = 0; i < v->nkids; i++)
		jv_free(&v->kids[i]);
	free(v->kids);
	memset(v, 0, sizeof(*v));
}

struct bp {
	const char	*s;
	size_t		 n;
	size_t		 i;
	bool		 oom;
};

static void
bp_ws(struct bp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
	    p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

struct buf {
	char	*b;
	size_t	 len, cap;
};

static bool
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 64;
		char *nb;

		while (nc < b->len + n + 1)
			nc *= 2;
		nb = realloc(b->b, nc);
		if (nb == NULL)
			return false;
		b->b = nb;
		b->cap = nc;
	}
	memcpy(b->b + b->len, p, n);
	b->len += n;
	b->b[b->len] = '\0';
	return true;
}

static int
bp_hex4(const char *s, size_t n, size_t at, uint32_t *out)
{
	uint32_t v = 0;

	if (at + 4 > n)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		char c = s[at + k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Length of a valid UTF-8 sequence (Go's rules), 0 when invalid. */
static size_t
utf8_valid(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (c < 0xf0)
		return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
	    (p[3] & 0xc0) == 0x80 ? 4 : 0;
}

/* A string at p->i (which is '"'), decoded as Go's json unquote does. */
static int
bp_string(struct bp *p, char **out, size_t *outlen)
{
	struct buf b = { 0 };
	const char *s = p->s;

	p->i++;
	if (!buf_add(&b, "", 0))
		goto oom;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)s[p->i];

		if (c == '"') {
			p->i++;
			*out = b.b;
			*outlen = b.len;
			return 0;
		}
		if (c < 0x20)
			goto bad;
		if (c == '\\') {
			char e, u8[8];
			uint32_t cp, cp2;
			size_t ul;

			if (p->i + 1 >= p->n)
				goto bad;
			e = s[p->i + 1];
			p->i += 2;
			switch (e) {
			case '"': case '\\': case '/':
				u8[0] = e; ul = 1; break;
			case 'b': u8[0] = '\b'; ul = 1; break;
			case 'f': u8[0] = '\f'; ul = 1; break;
			case 'n': u8[0] = '\n'; ul = 1; break;
			case 'r': u8[0] = '\r'; ul = 1; break;
			case 't': u8[0] = '\t'; ul = 1; break;
			case 'u':
				if (bp_hex4(s, p->n, p->i, &cp) == -1)
					goto bad;
				p->i += 4;
				if (cp >= 0xd800 && cp < 0xe000) {
					/* a pair combines; anything else is U+FFFD */
					if (cp < 0xdc00 && p->i + 6 <= p->n && s[p->i] == '\\' &&
					    s[p->i + 1] == 'u' &&
					    bp_hex4(s, p->n, p->i + 2, &cp2) == 0 &&
					    cp2 >= 0xdc00 && cp2 < 0xe000) {
						cp = 0x10000 + ((cp - 0xd800) << 10) + (cp2 - 0xdc00);
						p->i += 6;
					} else {
						cp = 0xfffd;
					}
				}
				ul = utf8_put(u8, cp);
				break;
			default:
				goto bad;
			}
			if (!buf_add(&b, u8, ul))
				goto oom;
			continue;
		}
		if (c < 0x80) {
			size_t st = p->i;

			while (p->i < p->n && (unsigned char)s[p->i] >= 0x20 &&
			    (unsigned char)s[p->i] < 0x80 && s[p->i] != '"' && s[p->i] != '\\')
				p->i++;
			if (!buf_add(&b, s + st, p->i - st))
				goto oom;
			continue;
		}
		{
			size_t l = utf8_valid((const unsigned char *)s + p->i, p->n - p->i);

			if (l == 0) {
				if (!buf_add(&b, "\xef\xbf\xbd", 3))
					goto oom;
				p->i++;
			} else {
				if (!buf_add(&b, s + p->i, l))
					goto oom;
				p->i += l;
			}
		}
	}
bad:
	free(b.b);
	return -1;
oom:
	free(b.b);
	p->oom = true;
	return -1;
}

static bool
bp_digit(struct bp *p)
{
	return p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
bp_number(struct bp *p, struct jv *v)
{
	size_t st = p->i;

	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (!bp_digit(p))
		return -1;
	if (p->s[p->i] == '0')
		p->i++;
	else
		while (bp_digit(p))
			p->i++;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (!bp_digit(p))
			return -1;
		while (bp_digit(p))
			p->i++;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!bp_digit(p))
			return -1;
		while (bp_digit(p))
			p->i++;
	}
	v->t = JV_NUM;
	v->len = p->i - st;
	v->s = strndup(p->s + st, v->len);
	if (v->s == NULL) {
		p->oom = true;
		return -1;
	}
	return 0;
}

static int bp_value(struct bp *p, struct jv *v, int depth);

static int
bp_push(struct bp *p, struct jv *v, size_t *cap, struct jv **slot)
{
	if (v->nkids == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct jv *nk = realloc(v->kids, nc * sizeof(*nk));

		if (nk == NULL) {
			p->oom = true;
			return -1;
		}
		v->kids = nk;
		*cap = nc;
	}
	*slot = &v->kids[v->nkids];
	memset(*slot, 0, sizeof(**slot));
	v->nkids++;
	return 0;
}

static int
bp_container(struct bp *p, struct jv *v, int depth, bool obj)
{
	size_t cap = 0;
	char close = obj ? '}' : ']';

	v->t = obj ? JV_OBJ : JV_ARR;
	p->i++;
	bp_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		return 0;
	}
	for (;;) {
		struct jv *k;

		if (bp_push(p, v, &cap, &k) == -1)
			return -1;
		bp_ws(p);
		if (obj) {
			if (p->i >= p->n || p->s[p->i] != '"')
				return -1;
			if (bp_string(p, &k->key, &k->keylen) == -1)
				return -1;
			bp_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return -1;
			p->i++;
			bp_ws(p);
		}
		if (bp_value(p, k, depth + 1) == -1)
			return -1;
		bp_ws(p);
		if (p->i >= p->n)
			return -1;
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] == close) {
			p->i++;
			return 0;
		}
		return -1;
	}
}

static int
bp_literal(struct bp *p, const char *lit, enum jv_type t, struct jv *v)
{
	size_t l = strlen(lit);

	if (p->n - p->i < l || memcmp(p->s + p->i, lit, l) != 0)
		return -1;
	p->i += l;
	v->t = t;
	return 0;
}

/* One complete JSON value at p->i (whitespace already skipped). */
static int
bp_value(struct bp *p, struct jv *v, int depth)
{
	if (depth > BODY_MAX_DEPTH || p->i >= p->n)
		return -1;
	switch (p->s[p->i]) {
	case '"':
		v->t = JV_STR;
		return bp_string(p, &v->s, &v->len);
	case '[':
		return bp_container(p, v, depth, false);
	case '{':
		return bp_container(p, v, depth, true);
	case 't':
		return bp_literal(p, "true", JV_TRUE, v);
	case 'f':
		return bp_literal(p, "false", JV_FALSE, v);
	case 'n':
		return bp_literal(p, "null", JV_NULL, v);
	default:
		return bp_number(p, v);
	}
}

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
go_type_name(const struct jv *v)
{
	switch (v->t) {
	case JV_STR: return "string";
	case JV_NUM: return "json.Number";
	case JV_TRUE: case JV_FALSE: return "bool";
	case JV_NULL: return "<nil>";
	case JV_ARR: return "[]interface {}";
	case JV_OBJ: return "map[string]interface {}";
	}
	return "?";
}

/* rqlite's makeParameter for one value. */
static int
pack_param(msgpack_packer *pk, const struct jv *v, char *err, size_t errlen)
{
	switch (v->t) {
	case JV_NUM: {
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
	case JV_STR: {
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
	case JV_TRUE:
		return msgpack_pack_true(pk);
	case JV_FALSE:
		return msgpack_pack_false(pk);
	case JV_NULL:
		return msgpack_pack_nil(pk);
	case JV_ARR: {
		unsigned char *bytes = malloc(v->nkids ? v->nkids : 1);
		int rc;

		if (bytes == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		for (size_t k = 0; k < v->nkids; k++) {
			const struct jv *e = &v->kids[k];
			int64_t i;

			if (e->t != JV_NUM) {
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
	case JV_OBJ:
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
body_param_stmt(struct gateway_body *b, struct jv *items, char *err, size_t errlen)
{
	struct gateway_stmt *s;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (items->nkids == 0 || items->kids[0].t != JV_STR) {
		snprintf(err, errlen, "%s", body_invalid_request);
		return -1;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	uint32_t nargs = 0;
	for (size_t k = 1; k < items->nkids; k++) {
		struct jv *it = &items->kids[k];

		if (it->t == JV_OBJ) {
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
	struct bp p = { .s = body, .n = len };
	bool first = true;
	const char *msg = body_invalid_json;

	memset(b, 0, sizeof(*b));
	bp_ws(&p);
	if (p.i >= p.n)
		goto fail;
	if (p.s[p.i] != '[') {
		struct jv v = { 0 };

		/* Go's Token(): '{' is a delimiter; a scalar is decoded first */
		if (p.s[p.i] == '{' || bp_value(&p, &v, 0) == 0)
			msg = body_invalid_request;
		jv_free(&v);
		goto fail;
	}
	p.i++;
	for (;;) {
		char c;

		bp_ws(&p);
		if (p.i >= p.n)
			goto fail;		/* More() false, then Token() hits EOF */
		c = p.s[p.i];
		if (c == ']' || c == '}')
			break;
		if (!first) {
			if (c != ',')
				goto fail;
			p.i++;
			bp_ws(&p);
			if (p.i >= p.n || p.s[p.i] == ']' || p.s[p.i] == '}')
				goto fail;
			c = p.s[p.i];
		}
		first = false;
		if (c == '"') {
			struct gateway_stmt *s;
			char *sql;
			size_t sl;

			if (bp_string(&p, &sql, &sl) == -1)
				goto fail_oom;
			if ((s = body_add(b)) == NULL) {
				free(sql);
				p.oom = true;
				goto fail_oom;
			}
			s->sql = sql;
			s->sql_len = sl;
		} else if (c == '[') {
			struct jv items = { 0 };
			size_t cap = 0;
			bool ifirst = true;

			items.t = JV_ARR;
			p.i++;
			for (;;) {
				struct jv *k;

				bp_ws(&p);
				if (p.i >= p.n || p.s[p.i] == '}') {
					jv_free(&items);
					goto fail;
				}
				if (p.s[p.i] == ']') {
					p.i++;
					break;
				}
				if (!ifirst) {
					if (p.s[p.i] != ',') {
						jv_free(&items);
						goto fail;
					}
					p.i++;
					bp_ws(&p);
				}
				ifirst = false;
				if (bp_push(&p, &items, &cap, &k) == -1 ||
				    bp_value(&p, k, 1) == -1) {
					jv_free(&items);
					goto fail_oom;
				}
			}
			err[0] = '\0';
			if (body_param_stmt(b, &items, err, errlen) == -1) {
				jv_free(&items);
				gateway_body_free(b);
				return -1;
			}
			jv_free(&items);
		} else {
			struct jv v = { 0 };

			/* Token() decodes a scalar before ParseRequest rejects it */
			if (c == '{' || bp_value(&p, &v, 1) == 0)
				msg = body_invalid_request;
			jv_free(&v);
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

int
gateway_stmt_pack(const struct gateway_stmt *s, msgpack_packer *pk)
{
	if (msgpack_pack_array(pk, 1 + s->nargs) != 0 ||
	    msgpack_pack_str_with_body(pk, s->sql, s->sql_len) != 0)
		return -1;
	if (s->args_len > 0 && pk->callback(pk->data, s->args, s->args_len) != 0)
		return -1;
	return 0;
}

int
gateway_body_pack_stmts(const struct gateway_body *b, msgpack_packer *pk)
{
	if (msgpack_pack_array(pk, b->n) != 0)
		return -1;
	for (size_t i = 0; i < b->n; i++)
		if (gateway_stmt_pack(&b->stmts[i], pk) != 0)
			return -1;
	return 0;
}

unsigned
gateway_cmd_limits_count(const struct gateway_cmd_limits *lim)
{
	return lim == NULL ? 0 : (lim->steps != 0) + (lim->max_value != 0);
}

int
gateway_cmd_limits_pack(const struct gateway_cmd_limits *lim, msgpack_packer *pk)
{
	if (lim == NULL)
		return 0;
	if (lim->steps != 0 && (msgpack_pack_str_with_body(pk, "st", 2) != 0 ||
	    msgpack_pack_uint64(pk, lim->steps) != 0))
		return -1;
	if (lim->max_value != 0 && (msgpack_pack_str_with_body(pk, "ml", 2) != 0 ||
	    msgpack_pack_uint64(pk, lim->max_value) != 0))
		return -1;
	return 0;
}

int
gateway_body_pack_command(const struct gateway_body *b, enum gateway_cmd_kind kind, bool tx,
    uint64_t timeout_ms, const struct gateway_cmd_limits *lim, msgpack_packer *pk)
{
	uint32_t n = 2 + (tx ? 1 : 0) + (timeout_ms ? 1 : 0) + gateway_cmd_limits_count(lim);

	if (msgpack_pack_map(pk, n) != 0 ||
	    msgpack_pack_str_with_body(pk, "k", 1) != 0 ||
	    msgpack_pack_uint32(pk, (uint32_t)kind) != 0)
		return -1;
	if (tx && (msgpack_pack_str_with_body(pk, "tx", 2) != 0 || msgpack_pack_true(pk) != 0))
		return -1;
	if (msgpack_pack_str_with_body(pk, "s", 1) != 0 || gateway_body_pack_stmts(b, pk) != 0)
		return -1;
	if (timeout_ms && (msgpack_pack_str_with_body(pk, "to", 2) != 0 ||
	    msgpack_pack_uint64(pk, timeout_ms) != 0))
		return -1;
	return gateway_cmd_limits_pack(lim, pk);
}
