/*
 * gateway_render_value: one result value as rqlite writes it, with the conversions
 * rqlite's SQLite driver (mattn/go-sqlite3) makes from a column's declared type:
 * boolean, and date/datetime/timestamp from Unix seconds (or milliseconds) or from
 * text in the driver's layouts, formatted as Go's Time.MarshalText. BLOBs are base64
 * or a byte array. Sends and receives no messages.
 */
#include "gateway_render_value.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- base64 ------------------------------------------------------------- */

char *
gateway_base64(const unsigned char *p, size_t len, size_t *out_len)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = (len + 2) / 3 * 4, j = 0;
	char *out = malloc(n + 1);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[j++] = tbl[(v >> 18) & 63];
		out[j++] = tbl[(v >> 12) & 63];
		out[j++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		out[j++] = i + 2 < len ? tbl[v & 63] : '=';
	}
	out[j] = '\0';
	if (out_len != NULL)
		*out_len = j;
	return out;
}

/* ---- dates -------------------------------------------------------------- */

/* Civil date from days since 1970-01-01 (proleptic Gregorian). */
static void
rd_civil(int64_t days, int64_t *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static const char rd_year_err[] = "Time.MarshalText: year outside of range [0,9999]";

/* RFC 3339 with fractional seconds trimmed, as Go's Time.MarshalText. */
static int
rd_format_time(char *buf, size_t len, int64_t y, int mo, int d, int h, int mi, int s,
    int32_t nsec, int offset_s)
{
	int n;

	if (y < 0 || y > 9999)
		return -1;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d", (int)y, mo, d, h, mi, s);
	if (nsec > 0) {
		char f[16];
		int fl = snprintf(f, sizeof(f), "%09d", (int)nsec);

		while (fl > 0 && f[fl - 1] == '0')
			fl--;
		f[fl] = '\0';
		n += snprintf(buf + n, len - (size_t)n, ".%s", f);
	}
	if (offset_s == 0) {
		n += snprintf(buf + n, len - (size_t)n, "Z");
	} else {
		int a = offset_s < 0 ? -offset_s : offset_s;

		if (a / 3600 >= 24)
			return -2;
		n += snprintf(buf + n, len - (size_t)n, "%c%02d:%02d",
		    offset_s < 0 ? '-' : '+', a / 3600, (a / 60) % 60);
	}
	return n;
}

static int
rd_unix_to_text(int64_t sec, int32_t nsec, char *buf, size_t len)
{
	int64_t days = sec / 86400, rem = sec % 86400, y;
	int mo, d;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	rd_civil(days, &y, &mo, &d);
	return rd_format_time(buf, len, y, mo, d, (int)(rem / 3600), (int)(rem / 60 % 60),
	    (int)(rem % 60), nsec, 0);
}

static bool
rd_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
rd_days_in(int m, int64_t y)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && rd_leap(y) ? 29 : dm[m - 1];
}

static bool
rd_digits(const char *s, size_t n, size_t at, size_t cnt, int *out)
{
	int v = 0;

	if (at + cnt > n)
		return false;
	for (size_t i = 0; i < cnt; i++) {
		if (s[at + i] < '0' || s[at + i] > '9')
			return false;
		v = v * 10 + (s[at + i] - '0');
	}
	*out = v;
	return true;
}

/*
 * mattn/go-sqlite3's SQLiteTimestampFormats tried in order with Go's time.Parse
 * rules, folded into one grammar:
 *   YYYY-MM-DD
 *   YYYY-MM-DD{ |T}H[H]:MM
 *   YYYY-MM-DD{ |T}H[H]:MM:SS[{.|,}digits][±HH:MM]
 * Returns false when no layout matches (→ the zero time).
 */
static bool
rd_parse_time_text(const char *s, size_t n, int64_t *y, int *mo, int *d, int *h, int *mi,
    int *sec, int32_t *nsec, int *off)
{
	int yy, v;
	size_t i;

	*h = *mi = *sec = *off = 0;
	*nsec = 0;
	if (!rd_digits(s, n, 0, 4, &yy) || n < 10 || s[4] != '-' || s[7] != '-')
		return false;
	if (!rd_digits(s, n, 5, 2, mo) || !rd_digits(s, n, 8, 2, d))
		return false;
	*y = yy;
	if (*mo < 1 || *mo > 12)
		return false;
	if (*d < 1 || *d > rd_days_in(*mo, *y))
		return false;
	if (n == 10)
		return true;
	if (s[10] != ' ' && s[10] != 'T')
		return false;
	i = 11;
	/* stdHour: one or two digits */
	if (!rd_digits(s, n, i, 1, h))
		return false;
	i++;
	if (rd_digits(s, n, i, 1, &v)) {
		*h = *h * 10 + v;
		i++;
	}
	if (*h > 23)
		return false;
	if (i >= n || s[i] != ':' || !rd_digits(s, n, i + 1, 2, mi) || *mi > 59)
		return false;
	i += 3;
	if (i == n)
		return true;
	if (s[i] != ':' || !rd_digits(s, n, i + 1, 2, sec) || *sec > 59)
		return false;
	i += 3;
	if (i + 1 < n && (s[i] == '.' || s[i] == ',') && s[i + 1] >= '0' && s[i + 1] <= '9') {
		int nd = 0;

		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (nd < 9) {
				*nsec = *nsec * 10 + (s[i] - '0');
				nd++;
			}
			i++;
		}
		while (nd++ < 9)
			*nsec *= 10;
	}
	if (i == n)
		return true;
	/* -07:00 */
	if (n - i < 6 || s[i + 3] != ':')
		return false;
	{
		int oh, om;

		if (!rd_digits(s, n, i + 1, 2, &oh) || !rd_digits(s, n, i + 4, 2, &om))
			return false;
		if (oh > 24 || om > 60)
			return false;
		if (s[i] == '+')
			*off = (oh * 60 + om) * 60;
		else if (s[i] == '-')
			*off = -(oh * 60 + om) * 60;
		else
			return false;
	}
	return i + 6 == n;
}

static int
rd_date_value(struct json_writer *w, const msgpack_object *v, char *err, size_t errlen)
{
	char buf[64];
	int n;

	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		int64_t x = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
		    (int64_t)v->via.u64 : v->via.i64;

		if (x > 1000000000000LL || x < -1000000000000LL) {
			/* Go multiplies by 1e6 in int64 and lets it wrap. */
			int64_t ns = (int64_t)((uint64_t)x * 1000000u);
			int64_t sec = ns / 1000000000, frac = ns % 1000000000;

			if (frac < 0) {
				frac += 1000000000;
				sec--;
			}
			n = rd_unix_to_text(sec, (int32_t)frac, buf, sizeof(buf));
		} else {
			n = rd_unix_to_text(x, 0, buf, sizeof(buf));
		}
	} else if (v->type == MSGPACK_OBJECT_STR) {
		const char *s = v->via.str.ptr;
		size_t sl = v->via.str.size;
		int64_t y;
		int mo, d, h, mi, sec, off;
		int32_t ns;

		if (sl > 0 && s[sl - 1] == 'Z')
			sl--;
		if (rd_parse_time_text(s, sl, &y, &mo, &d, &h, &mi, &sec, &ns, &off))
			n = rd_format_time(buf, sizeof(buf), y, mo, d, h, mi, sec, ns, off);
		else
			n = snprintf(buf, sizeof(buf), "0001-01-01T00:00:00Z");
	} else {
		return 1;	/* not converted */
	}
	if (n == -1) {
		snprintf(err, errlen, "%s", rd_year_err);
		return -1;
	}
	if (n == -2) {
		snprintf(err, errlen, "Time.MarshalText: timezone hour outside of range [0,23]");
		return -1;
	}
	json_writer_string_n(w, buf, (size_t)n);
	return 0;
}

static bool
rd_type_is(const char *t, size_t tl, const char *want)
{
	return t != NULL && strlen(want) == tl && memcmp(t, want, tl) == 0;
}

int
gateway_render_value(struct json_writer *w, const msgpack_object *v, const char *decltype,
    size_t decltype_len, bool blob_array, char *err, size_t errlen)
{
	bool is_date = rd_type_is(decltype, decltype_len, "date") ||
	    rd_type_is(decltype, decltype_len, "datetime") ||
	    rd_type_is(decltype, decltype_len, "timestamp");

	if (is_date) {
		int r = rd_date_value(w, v, err, errlen);

		if (r <= 0)
			return r;
	}
	switch (v->type) {
	case MSGPACK_OBJECT_NIL:
		json_writer_null(w);
		return 0;
	case MSGPACK_OBJECT_BOOLEAN:
		json_writer_bool(w, v->via.boolean);
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (rd_type_is(decltype, decltype_len, "boolean"))
			json_writer_bool(w, v->via.u64 > 0 && v->via.u64 <= INT64_MAX);
		else
			json_writer_uint(w, v->via.u64);
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		if (rd_type_is(decltype, decltype_len, "boolean"))
			json_writer_bool(w, false);
		else
			json_writer_int(w, v->via.i64);
		return 0;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		json_writer_double(w, v->via.f64);
		return 0;
	case MSGPACK_OBJECT_STR:
		json_writer_string_n(w, v->via.str.ptr, v->via.str.size);
		return 0;
	case MSGPACK_OBJECT_BIN:
		if (blob_array) {
			const unsigned char *p = (const unsigned char *)v->via.bin.ptr;

			json_writer_array_begin(w);
			for (uint32_t i = 0; i < v->via.bin.size; i++)
				json_writer_int(w, p[i]);
			json_writer_array_end(w);
		} else {
			size_t bl = 0;
			char *b = gateway_base64((const unsigned char *)v->via.bin.ptr,
			    v->via.bin.size, &bl);

			if (b == NULL) {
				w->oom = true;
				return 0;
			}
			json_writer_string_n(w, b, bl);
			free(b);
		}
		return 0;
	default:
		snprintf(err, errlen, "unsupported value type %d", (int)v->type);
		return -1;
	}
}
