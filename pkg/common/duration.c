/*
 * Go-compatible duration parsing and printing. Parsing follows time.ParseDuration's
 * grammar [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ including its overflow limits and its use
 * of a double for the fractional part (so "1.0000000001h" rounds the way Go does);
 * printing follows time.Duration.String() digit for digit.
 */
#include "duration.h"

#include <stdbool.h>
#include <string.h>

/* 1<<63: the magnitude of INT64_MIN, the largest negative duration. */
#define DURATION_MAG_LIMIT	(UINT64_C(1) << 63)

struct duration_unit {
	const char *name;
	uint64_t ns;
};

static const struct duration_unit duration_units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 },	/* U+00B5 MICRO SIGN */
	{ "\xce\xbcs", 1000 },	/* U+03BC GREEK SMALL LETTER MU */
	{ "ms", 1000000 },
	{ "s", 1000000000 },
	{ "m", UINT64_C(60) * 1000000000 },
	{ "h", UINT64_C(3600) * 1000000000 },
};

static bool
duration_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/* Integer part; fails on overflow past 1<<63 as Go's leadingInt does. */
static int
duration_leading_int(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t x = 0;

	for (; duration_isdigit(*s); s++) {
		if (x > DURATION_MAG_LIMIT / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > DURATION_MAG_LIMIT)
			return -1;
	}
	*sp = s;
	*out = x;
	return 0;
}

/* Fraction digits; extra precision beyond 63 bits is dropped, never an error. */
static void
duration_leading_fraction(const char **sp, uint64_t *out, double *scale)
{
	const char *s = *sp;
	uint64_t x = 0;
	bool overflow = false;

	*scale = 1;
	for (; duration_isdigit(*s); s++) {
		if (overflow)
			continue;
		if (x > (DURATION_MAG_LIMIT - 1) / 10) {
			overflow = true;
			continue;
		}
		uint64_t y = x * 10 + (uint64_t)(*s - '0');
		if (y > DURATION_MAG_LIMIT) {
			overflow = true;
			continue;
		}
		x = y;
		*scale *= 10;
	}
	*sp = s;
	*out = x;
}

int
duration_parse(const char *s, int64_t *ns_out)
{
	uint64_t d = 0;
	bool neg = false;

	if (s == NULL)
		return -1;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*ns_out = 0;
		return 0;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		uint64_t v, f = 0;
		double scale = 1;
		const char *start;

		if (!(*s == '.' || duration_isdigit(*s)))
			return -1;
		start = s;
		if (duration_leading_int(&s, &v) == -1)
			return -1;
		bool pre = s != start;
		bool post = false;
		if (*s == '.') {
			s++;
			start = s;
			duration_leading_fraction(&s, &f, &scale);
			post = s != start;
		}
		if (!pre && !post)
			return -1;	/* ".s", "-.s" */

		size_t ulen = 0;
		while (s[ulen] != '\0' && s[ulen] != '.' && !duration_isdigit(s[ulen]))
			ulen++;
		if (ulen == 0)
			return -1;	/* missing unit */
		const struct duration_unit *unit = NULL;
		for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
			if (strlen(duration_units[i].name) == ulen &&
			    memcmp(duration_units[i].name, s, ulen) == 0) {
				unit = &duration_units[i];
				break;
			}
		}
		if (unit == NULL)
			return -1;	/* unknown unit */
		s += ulen;

		if (v > DURATION_MAG_LIMIT / unit->ns)
			return -1;
		v *= unit->ns;
		if (f > 0) {
			/* A double keeps fractions of hours nanosecond-exact, as in Go. */
			v += (uint64_t)((double)f * ((double)unit->ns / scale));
			if (v > DURATION_MAG_LIMIT)
				return -1;
		}
		d += v;
		if (d > DURATION_MAG_LIMIT)
			return -1;
	}
	if (neg) {
		/* d ≤ 1<<63 here, so the negation is representable. */
		*ns_out = d == DURATION_MAG_LIMIT ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > DURATION_MAG_LIMIT - 1)
		return -1;
	*ns_out = (int64_t)d;
	return 0;
}

/*
 * Writes v/10^prec's fraction (".12345", trailing zeros and a bare point
 * omitted) backwards ending at *w, and returns v/10^prec.
 */
static uint64_t
duration_fmt_frac(char *buf, int *w, uint64_t v, int prec)
{
	bool print = false;

	for (int i = 0; i < prec; i++) {
		unsigned digit = (unsigned)(v % 10);
		print = print || digit != 0;
		if (print)
			buf[--*w] = (char)('0' + digit);
		v /= 10;
	}
	if (print)
		buf[--*w] = '.';
	return v;
}

static void
duration_fmt_int(char *buf, int *w, uint64_t v)
{
	if (v == 0) {
		buf[--*w] = '0';
		return;
	}
	while (v > 0) {
		buf[--*w] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
duration_format(int64_t ns, char *out, size_t len)
{
	char buf[DURATION_FMT_MAX];
	int w = (int)sizeof(buf) - 1;
	bool neg = ns < 0;
	/* Unsigned negation also handles INT64_MIN. */
	uint64_t u = neg ? UINT64_C(0) - (uint64_t)ns : (uint64_t)ns;

	buf[w] = '\0';
	if (u < (uint64_t)DURATION_S) {
		/* Below a second Go switches to ns/µs/ms with a fraction: "1.2ms". */
		int prec;

		buf[--w] = 's';
		if (u == 0) {
			buf[--w] = '0';
			goto done;
		} else if (u < (uint64_t)DURATION_US) {
			prec = 0;
			buf[--w] = 'n';
		} else if (u < (uint64_t)DURATION_MS) {
			prec = 3;
			buf[--w] = '\xb5';
			buf[--w] = '\xc2';
		} else {
			prec = 6;
			buf[--w] = 'm';
		}
		u = duration_fmt_frac(buf, &w, u, prec);
		duration_fmt_int(buf, &w, u);
	} else {
		buf[--w] = 's';
		u = duration_fmt_frac(buf, &w, u, 9);
		duration_fmt_int(buf, &w, u % 60);
		u /= 60;
		if (u > 0) {
			buf[--w] = 'm';
			duration_fmt_int(buf, &w, u % 60);
			u /= 60;
			/* Hours are the largest unit: days vary in length. */
			if (u > 0) {
				buf[--w] = 'h';
				duration_fmt_int(buf, &w, u);
			}
		}
	}
	if (neg)
		buf[--w] = '-';
done:
	if (len > 0) {
		size_t n = strlen(buf + w);
		if (n >= len)
			n = len - 1;
		memcpy(out, buf + w, n);
		out[n] = '\0';
	}
}
