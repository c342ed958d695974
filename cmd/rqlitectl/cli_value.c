/*
 * Rendering of decoded JSON values the way rqlite's Go shell shows them. rqlite
 * decodes with json.Decoder.UseNumber, so numbers keep the server's text; our
 * server writes them in Go's form, so formatting the parsed double Go's way gives
 * the same text back.
 */
#include "cli_value.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cli_buf_add(struct cli_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
cli_buf_puts(struct cli_buf *b, const char *s)
{
	cli_buf_add(b, s, strlen(s));
}

void
cli_buf_printf(struct cli_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		cli_buf_add(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);

	if (big == NULL) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	cli_buf_add(b, big, (size_t)n);
	free(big);
}

void
cli_buf_free(struct cli_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

const char *
cli_buf_str(const struct cli_buf *b)
{
	return b->p ? b->p : "";
}

void
cli_value_format_real(double v, char *buf, size_t len)
{
	char e[40], digits[24];
	int prec, exp10, nd = 0;
	bool neg;
	const char *p;

	if (v != v || v - v != 0) {	/* NaN, ±Inf: never in valid JSON */
		snprintf(buf, len, "%g", v);
		return;
	}
	if (v == 0) {
		snprintf(buf, len, "%s", signbit(v) ? "-0" : "0");
		return;
	}
	/* Shortest precision that reads back to the same double. */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	neg = e[0] == '-';
	for (p = e + neg; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	exp10 = atoi(p + 1);

	double a = v < 0 ? -v : v;
	struct cli_buf b = { 0 };

	if (neg)
		cli_buf_puts(&b, "-");
	if (a < 1e-6 || a >= 1e21) {
		cli_buf_add(&b, digits, 1);
		if (nd > 1) {
			cli_buf_puts(&b, ".");
			cli_buf_puts(&b, digits + 1);
		}
		/* Go writes at least two exponent digits, then encoding/json trims "e-07"
		 * to "e-7" (only for negative exponents). */
		if (exp10 < 0)
			cli_buf_printf(&b, "e-%d", -exp10);
		else
			cli_buf_printf(&b, "e+%02d", exp10);
	} else if (exp10 < 0) {
		cli_buf_puts(&b, "0.");
		for (int i = -1; i > exp10; i--)
			cli_buf_puts(&b, "0");
		cli_buf_puts(&b, digits);
	} else if (nd <= exp10 + 1) {
		cli_buf_puts(&b, digits);
		for (int i = nd; i <= exp10; i++)
			cli_buf_puts(&b, "0");
	} else {
		cli_buf_add(&b, digits, (size_t)exp10 + 1);
		cli_buf_puts(&b, ".");
		cli_buf_puts(&b, digits + exp10 + 1);
	}
	snprintf(buf, len, "%s", cli_buf_str(&b));
	cli_buf_free(&b);
}

static int
value_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **
cli_value_sorted_keys(const json_t *obj, size_t *n_out)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys, *k;
	json_t *v;

	*n_out = 0;
	if (n == 0 || (keys = malloc(n * sizeof(*keys))) == NULL)
		return NULL;
	json_object_foreach((json_t *)obj, k, v) {
		(void)v;
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), value_key_cmp);
	*n_out = n;
	return keys;
}

void
cli_value_text(struct cli_buf *b, const json_t *v, const char *null_text)
{
	char num[40];

	switch (json_typeof(v)) {
	case JSON_STRING:
		cli_buf_add(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		cli_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		cli_value_format_real(json_real_value(v), num, sizeof(num));
		cli_buf_puts(b, num);
		break;
	case JSON_TRUE:
		cli_buf_puts(b, "true");
		break;
	case JSON_FALSE:
		cli_buf_puts(b, "false");
		break;
	case JSON_NULL:
		cli_buf_puts(b, null_text);
		break;
	case JSON_ARRAY:
		cli_buf_puts(b, "[");
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				cli_buf_puts(b, " ");
			/* Inside composites Go prints a nil interface as <nil>. */
			cli_value_text(b, json_array_get(v, i), "<nil>");
		}
		cli_buf_puts(b, "]");
		break;
	case JSON_OBJECT: {
		size_t n;
		const char **keys = cli_value_sorted_keys(v, &n);

		cli_buf_puts(b, "map[");
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				cli_buf_puts(b, " ");
			cli_buf_puts(b, keys[i]);
			cli_buf_puts(b, ":");
			cli_value_text(b, json_object_get(v, keys[i]), "<nil>");
		}
		cli_buf_puts(b, "]");
		free(keys);
		break;
	}
	}
}

void
cli_value_json_string(struct cli_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	cli_buf_puts(b, "\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];

		switch (c) {
		case '"': cli_buf_puts(b, "\\\""); continue;
		case '\\': cli_buf_puts(b, "\\\\"); continue;
		case '\n': cli_buf_puts(b, "\\n"); continue;
		case '\r': cli_buf_puts(b, "\\r"); continue;
		case '\t': cli_buf_puts(b, "\\t"); continue;
		default: break;
		}
		if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			snprintf(esc, sizeof(esc), "\\u00%c%c", hex[c >> 4], hex[c & 15]);
			cli_buf_puts(b, esc);
		} else if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			cli_buf_puts(b, (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 2;
		} else {
			cli_buf_add(b, (const char *)&s[i], 1);
		}
	}
	cli_buf_puts(b, "\"");
}

static void
value_newline(struct cli_buf *b, const char *indent, int depth)
{
	cli_buf_puts(b, "\n");
	for (int i = 0; i < depth; i++)
		cli_buf_puts(b, indent);
}

void
cli_value_json_indent(struct cli_buf *b, const json_t *v, const char *indent, int depth)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		cli_value_json_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_NULL:
		cli_buf_puts(b, "null");
		break;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			cli_buf_puts(b, "[]");
			break;
		}
		cli_buf_puts(b, "[");
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				cli_buf_puts(b, ",");
			value_newline(b, indent, depth + 1);
			cli_value_json_indent(b, json_array_get(v, i), indent, depth + 1);
		}
		value_newline(b, indent, depth);
		cli_buf_puts(b, "]");
		break;
	case JSON_OBJECT: {
		size_t n;
		const char **keys = cli_value_sorted_keys(v, &n);

		if (n == 0) {
			cli_buf_puts(b, "{}");
			break;
		}
		cli_buf_puts(b, "{");
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				cli_buf_puts(b, ",");
			value_newline(b, indent, depth + 1);
			cli_value_json_string(b, keys[i], strlen(keys[i]));
			cli_buf_puts(b, ": ");
			cli_value_json_indent(b, json_object_get(v, keys[i]), indent, depth + 1);
		}
		value_newline(b, indent, depth);
		cli_buf_puts(b, "}");
		free(keys);
		break;
	}
	default:
		cli_value_text(b, v, "null");
		break;
	}
}

void
cli_value_json_compact(struct cli_buf *b, const json_t *v)
{
	const char *k;
	json_t *m;
	bool first = true;

	switch (json_typeof(v)) {
	case JSON_STRING:
		cli_value_json_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_NULL:
		cli_buf_puts(b, "null");
		break;
	case JSON_ARRAY:
		cli_buf_puts(b, "[");
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				cli_buf_puts(b, ",");
			cli_value_json_compact(b, json_array_get(v, i));
		}
		cli_buf_puts(b, "]");
		break;
	case JSON_OBJECT:
		cli_buf_puts(b, "{");
		json_object_foreach((json_t *)v, k, m) {
			if (!first)
				cli_buf_puts(b, ",");
			first = false;
			cli_value_json_string(b, k, strlen(k));
			cli_buf_puts(b, ":");
			cli_value_json_compact(b, m);
		}
		cli_buf_puts(b, "}");
		break;
	default:
		cli_value_text(b, v, "null");
		break;
	}
}
