/*
 * json_writer: the JSON bytes of every gateway response. Owns Go-compatible string
 * escaping, number formatting and MarshalIndent-style layout; knows nothing of
 * rqlite's response shapes (gateway_render.c does).
 */
#include "json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char json_hex[] = "0123456789abcdef";

void
json_writer_init(struct json_writer *w, bool pretty)
{
	memset(w, 0, sizeof(*w));
	w->pretty = pretty;
}

void
json_writer_free(struct json_writer *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

char *
json_writer_steal(struct json_writer *w, size_t *len)
{
	char *b = w->buf;

	if (len != NULL)
		*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	w->depth = 0;
	w->after_key = false;
	return b;
}

bool
json_writer_failed(const struct json_writer *w)
{
	return w->oom || w->bad_number;
}

static bool
jw_reserve(struct json_writer *w, size_t n)
{
	size_t need, ncap;
	char *nb;

	if (w->oom)
		return false;
	need = w->len + n + 1;
	if (need <= w->cap)
		return true;
	ncap = w->cap ? w->cap : 256;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(w->buf, ncap);
	if (nb == NULL) {
		w->oom = true;
		return false;
	}
	w->buf = nb;
	w->cap = ncap;
	return true;
}

static void
jw_put(struct json_writer *w, const char *s, size_t n)
{
	if (!jw_reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void
jw_putc(struct json_writer *w, char c)
{
	if (!jw_reserve(w, 1))
		return;
	w->buf[w->len++] = c;
	w->buf[w->len] = '\0';
}

static void
jw_newline(struct json_writer *w, int depth)
{
	jw_putc(w, '\n');
	for (int i = 0; i < depth; i++)
		jw_put(w, "    ", 4);
}

/* Separator and indentation before a value or a key. */
static void
jw_before(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->nonempty[w->depth - 1])
		jw_putc(w, ',');
	w->nonempty[w->depth - 1] = true;
	if (w->pretty)
		jw_newline(w, w->depth);
}

static void
jw_open(struct json_writer *w, char c)
{
	jw_before(w);
	jw_putc(w, c);
	if (w->depth < JSON_WRITER_MAX_DEPTH) {
		w->nonempty[w->depth] = false;
		w->depth++;
	}
}

static void
jw_close(struct json_writer *w, char c)
{
	if (w->depth == 0)
		return;
	w->depth--;
	if (w->pretty && w->nonempty[w->depth])
		jw_newline(w, w->depth);
	jw_putc(w, c);
}

void json_writer_object_begin(struct json_writer *w) { jw_open(w, '{'); }
void json_writer_object_end(struct json_writer *w) { jw_close(w, '}'); }
void json_writer_array_begin(struct json_writer *w) { jw_open(w, '['); }
void json_writer_array_end(struct json_writer *w) { jw_close(w, ']'); }

/*
 * Length of the valid UTF-8 sequence at p (as Go's utf8.DecodeRune accepts it:
 * no overlongs, no surrogates, nothing above U+10FFFF), or 0 if invalid.
 */
static size_t
jw_utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0];

	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		if (n < 2 || (p[1] & 0xc0) != 0x80)
			return 0;
		*cp = ((uint32_t)(c & 0x1f) << 6) | (p[1] & 0x3f);
		return 2;
	}
	if (c < 0xf0) {
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		if (n < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
			return 0;
		*cp = ((uint32_t)(c & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) |
		    (p[2] & 0x3f);
		return 3;
	}
	{
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (n < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		*cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
		    ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
		return 4;
	}
}

void
json_writer_escape(struct json_writer *w, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0;

	while (i < len) {
		unsigned char b = p[i];

		if (b < 0x80) {
			char esc[6];
			size_t en = 2;

			if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' &&
			    b != '&') {
				i++;
				continue;
			}
			jw_put(w, s + start, i - start);
			esc[0] = '\\';
			switch (b) {
			case '"': case '\\': esc[1] = (char)b; break;
			case '\b': esc[1] = 'b'; break;
			case '\f': esc[1] = 'f'; break;
			case '\n': esc[1] = 'n'; break;
			case '\r': esc[1] = 'r'; break;
			case '\t': esc[1] = 't'; break;
			default:
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = json_hex[b >> 4];
				esc[5] = json_hex[b & 0xf];
				en = 6;
			}
			jw_put(w, esc, en);
			i++;
			start = i;
			continue;
		}
		uint32_t cp = 0;
		size_t n = jw_utf8_len(p + i, len - i, &cp);
		if (n == 0) {
			jw_put(w, s + start, i - start);
			jw_put(w, "\\ufffd", 6);
			i++;
			start = i;
			continue;
		}
		if (cp == 0x2028 || cp == 0x2029) {
			jw_put(w, s + start, i - start);
			jw_put(w, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
			i += n;
			start = i;
			continue;
		}
		i += n;
	}
	jw_put(w, s + start, i - start);
}

void
json_writer_key_n(struct json_writer *w, const char *key, size_t len)
{
	jw_before(w);
	jw_putc(w, '"');
	json_writer_escape(w, key, len);
	if (w->pretty)
		jw_put(w, "\": ", 3);
	else
		jw_put(w, "\":", 2);
	w->after_key = true;
}

void
json_writer_key(struct json_writer *w, const char *key)
{
	json_writer_key_n(w, key, strlen(key));
}

void
json_writer_string_n(struct json_writer *w, const char *s, size_t len)
{
	jw_before(w);
	jw_putc(w, '"');
	json_writer_escape(w, s, len);
	jw_putc(w, '"');
}

void
json_writer_string(struct json_writer *w, const char *s)
{
	json_writer_string_n(w, s, strlen(s));
}

void
json_writer_int(struct json_writer *w, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);

	jw_before(w);
	jw_put(w, b, (size_t)n);
}

void
json_writer_uint(struct json_writer *w, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRIu64, v);

	jw_before(w);
	jw_put(w, b, (size_t)n);
}

void
json_writer_bool(struct json_writer *w, bool v)
{
	jw_before(w);
	if (v)
		jw_put(w, "true", 4);
	else
		jw_put(w, "false", 5);
}

void
json_writer_null(struct json_writer *w)
{
	jw_before(w);
	jw_put(w, "null", 4);
}

void
json_writer_raw(struct json_writer *w, const char *json, size_t len)
{
	jw_before(w);
	jw_put(w, json, len);
}

void
json_writer_double(struct json_writer *w, double v)
{
	char b[40];
	int n = json_format_double(v, b);

	if (n < 0) {
		if (!w->bad_number)
			snprintf(w->bad_text, sizeof(w->bad_text), "%s",
			    isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
		w->bad_number = true;
		json_writer_null(w);
		return;
	}
	jw_before(w);
	jw_put(w, b, (size_t)n);
}

void
json_writer_mark(const struct json_writer *w, struct json_writer_mark *m)
{
	m->len = w->len;
	m->depth = w->depth;
	m->after_key = w->after_key;
	m->nonempty_top = w->depth > 0 ? w->nonempty[w->depth - 1] : false;
	m->nonempty_parent = false;
}

void
json_writer_rewind(struct json_writer *w, const struct json_writer_mark *m)
{
	if (m->len <= w->len) {
		w->len = m->len;
		if (w->buf != NULL)
			w->buf[w->len] = '\0';
	}
	w->depth = m->depth;
	w->after_key = m->after_key;
	if (w->depth > 0)
		w->nonempty[w->depth - 1] = m->nonempty_top;
}

/*
 * Shortest decimal digits that read back as v (Go's strconv 'g' -1 digits):
 * digits in d (no dot, no sign), returns the count and the decimal exponent of
 * the first digit in *exp10 (v = 0.d1d2… × 10^(exp10+1)). Tries printf's
 * correctly rounded digits at each precision; next to a power of two the
 * rounding interval is lopsided, so the neighbours of the printed digits are
 * tried too, as Go's shortest search would find them.
 */
static int
jw_shortest_digits(double v, char *d, int *exp10)
{
	char tmp[64], cand[64];

	for (int prec = 0; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
		if (strtod(tmp, NULL) == v)
			goto found;
		if (prec == 0)
			continue;
		/* Neighbours: last digit ±1 (carrying), same exponent. */
		for (int delta = -1; delta <= 1; delta += 2) {
			char *e = strchr(tmp, 'e');
			size_t mlen = (size_t)(e - tmp);
			int i;

			memcpy(cand, tmp, mlen);
			for (i = (int)mlen - 1; i >= 0; i--) {
				if (cand[i] == '.')
					continue;
				if (delta > 0) {
					if (cand[i] == '9') {
						cand[i] = '0';
						continue;
					}
					cand[i]++;
				} else {
					if (cand[i] == '0') {
						cand[i] = '9';
						continue;
					}
					cand[i]--;
				}
				break;
			}
			if (i < 0 || cand[0] == '0')
				continue;	/* would change the exponent: skip */
			memcpy(cand + mlen, e, strlen(e) + 1);
			if (strtod(cand, NULL) == v) {
				memcpy(tmp, cand, strlen(cand) + 1);
				goto found;
			}
		}
	}
	snprintf(tmp, sizeof(tmp), "%.16e", v);
found:;
	int n = 0;
	char *p = tmp;
	if (*p == '-')
		p++;
	for (; *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			d[n++] = *p;
	*exp10 = atoi(p + 1);
	while (n > 1 && d[n - 1] == '0')
		n--;
	d[n] = '\0';
	return n;
}

int
json_format_double(double v, char *buf)
{
	char d[32];
	int n, e, len = 0;
	double a;

	if (isnan(v) || isinf(v))
		return -1;
	if (v == 0) {
		if (signbit(v)) {
			memcpy(buf, "-0", 3);
			return 2;
		}
		memcpy(buf, "0", 2);
		return 1;
	}
	n = jw_shortest_digits(v, d, &e);
	if (v < 0)
		buf[len++] = '-';
	a = fabs(v);
	if (a < 1e-6 || a >= 1e21) {
		/* 'e' format, exponent at least two digits, then Go trims e-0X. */
		buf[len++] = d[0];
		if (n > 1) {
			buf[len++] = '.';
			memcpy(buf + len, d + 1, (size_t)n - 1);
			len += n - 1;
		}
		buf[len++] = 'e';
		buf[len++] = e < 0 ? '-' : '+';
		int ae = e < 0 ? -e : e;
		if (ae >= 100) {
			len += sprintf(buf + len, "%d", ae);
		} else if (ae >= 10 || e > 0) {
			buf[len++] = (char)('0' + ae / 10);
			buf[len++] = (char)('0' + ae % 10);
		} else {
			/* negative single-digit exponent: Go writes e-07 then trims to e-7 */
			buf[len++] = (char)('0' + ae);
		}
		buf[len] = '\0';
		return len;
	}
	/* 'f' format with the shortest digits */
	int decpt = e + 1;
	if (decpt <= 0) {
		buf[len++] = '0';
		buf[len++] = '.';
		for (int i = 0; i < -decpt; i++)
			buf[len++] = '0';
		memcpy(buf + len, d, (size_t)n);
		len += n;
	} else if (decpt >= n) {
		memcpy(buf + len, d, (size_t)n);
		len += n;
		for (int i = 0; i < decpt - n; i++)
			buf[len++] = '0';
	} else {
		memcpy(buf + len, d, (size_t)decpt);
		len += decpt;
		buf[len++] = '.';
		memcpy(buf + len, d + decpt, (size_t)(n - decpt));
		len += n - decpt;
	}
	buf[len] = '\0';
	return len;
}
