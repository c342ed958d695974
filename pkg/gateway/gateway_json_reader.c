/*
 * JSON read as Go's encoding/json reads it, for request bodies (gateway_body.c): a
 * small tree of values whose strings are decoded as Go unquotes them (\u0000 kept,
 * invalid UTF-8 and lone surrogates become U+FFFD) and whose numbers keep their
 * literal text (json.Number), so the caller decides int64 or float as rqlite does.
 * Also the token-level steps (whitespace, one value, one string) the body parser
 * uses to walk the top-level array as Go's streaming Decoder does. Sends and receives
 * no messages.
 */
#include "gateway_json_reader.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
gateway_jv_free(struct gateway_jv *v)
{
	free(v->s);
	free(v->key);
	for (size_t i = 0; i < v->nkids; i++)
		gateway_jv_free(&v->kids[i]);
	free(v->kids);
	memset(v, 0, sizeof(*v));
}

void
gateway_jreader_ws(struct gateway_jreader *p)
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
jr_hex4(const char *s, size_t n, size_t at, uint32_t *out)
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

int
gateway_jreader_string(struct gateway_jreader *p, char **out, size_t *outlen)
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
				if (jr_hex4(s, p->n, p->i, &cp) == -1)
					goto bad;
				p->i += 4;
				if (cp >= 0xd800 && cp < 0xe000) {
					/* a pair combines; anything else is U+FFFD */
					if (cp < 0xdc00 && p->i + 6 <= p->n && s[p->i] == '\\' &&
					    s[p->i + 1] == 'u' &&
					    jr_hex4(s, p->n, p->i + 2, &cp2) == 0 &&
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
jr_digit(struct gateway_jreader *p)
{
	return p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
jr_number(struct gateway_jreader *p, struct gateway_jv *v)
{
	size_t st = p->i;

	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (!jr_digit(p))
		return -1;
	if (p->s[p->i] == '0')
		p->i++;
	else
		while (jr_digit(p))
			p->i++;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (!jr_digit(p))
			return -1;
		while (jr_digit(p))
			p->i++;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!jr_digit(p))
			return -1;
		while (jr_digit(p))
			p->i++;
	}
	v->t = GATEWAY_JV_NUM;
	v->len = p->i - st;
	v->s = strndup(p->s + st, v->len);
	if (v->s == NULL) {
		p->oom = true;
		return -1;
	}
	return 0;
}

int
gateway_jreader_push(struct gateway_jreader *p, struct gateway_jv *v, size_t *cap,
    struct gateway_jv **slot)
{
	if (v->nkids == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct gateway_jv *nk = realloc(v->kids, nc * sizeof(*nk));

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
jr_container(struct gateway_jreader *p, struct gateway_jv *v, int depth, bool obj)
{
	size_t cap = 0;
	char close = obj ? '}' : ']';

	v->t = obj ? GATEWAY_JV_OBJ : GATEWAY_JV_ARR;
	p->i++;
	gateway_jreader_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		return 0;
	}
	for (;;) {
		struct gateway_jv *k;

		if (gateway_jreader_push(p, v, &cap, &k) == -1)
			return -1;
		gateway_jreader_ws(p);
		if (obj) {
			if (p->i >= p->n || p->s[p->i] != '"')
				return -1;
			if (gateway_jreader_string(p, &k->key, &k->keylen) == -1)
				return -1;
			gateway_jreader_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return -1;
			p->i++;
			gateway_jreader_ws(p);
		}
		if (gateway_jreader_value(p, k, depth + 1) == -1)
			return -1;
		gateway_jreader_ws(p);
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
jr_literal(struct gateway_jreader *p, const char *lit, enum gateway_jv_type t,
    struct gateway_jv *v)
{
	size_t l = strlen(lit);

	if (p->n - p->i < l || memcmp(p->s + p->i, lit, l) != 0)
		return -1;
	p->i += l;
	v->t = t;
	return 0;
}

int
gateway_jreader_value(struct gateway_jreader *p, struct gateway_jv *v, int depth)
{
	if (depth > GATEWAY_JSON_MAX_DEPTH || p->i >= p->n)
		return -1;
	switch (p->s[p->i]) {
	case '"':
		v->t = GATEWAY_JV_STR;
		return gateway_jreader_string(p, &v->s, &v->len);
	case '[':
		return jr_container(p, v, depth, false);
	case '{':
		return jr_container(p, v, depth, true);
	case 't':
		return jr_literal(p, "true", GATEWAY_JV_TRUE, v);
	case 'f':
		return jr_literal(p, "false", GATEWAY_JV_FALSE, v);
	case 'n':
		return jr_literal(p, "null", GATEWAY_JV_NULL, v);
	default:
		return jr_number(p, v);
	}
}
