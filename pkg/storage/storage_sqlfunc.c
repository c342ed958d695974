/*
 * storage_sqlfunc: bounded-time forms of instr, replace, trim and printf (see
 * storage_sqlfunc.h). Each follows the built-in one of SQLite 3.40 (func.c,
 * printf.c) value for value: the same conversions of their arguments in the same
 * order, the same NULL and empty cases, the same errors.
 */
#include "storage_sqlfunc.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int
length_limit(sqlite3_context *ctx)
{
	return sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1);
}

/* ---- instr(X, Y) ---- */

static void
fn_instr(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *hay, *needle, *at;
	sqlite3_value *c1 = NULL, *c2 = NULL;
	int th = sqlite3_value_type(argv[0]), tn = sqlite3_value_type(argv[1]);
	int nh, nn, n = 1;
	bool text;

	(void)argc;
	if (th == SQLITE_NULL || tn == SQLITE_NULL)
		return;
	nh = sqlite3_value_bytes(argv[0]);
	nn = sqlite3_value_bytes(argv[1]);
	if (nn > 0) {
		if (th == SQLITE_BLOB && tn == SQLITE_BLOB) {
			hay = sqlite3_value_blob(argv[0]);
			needle = sqlite3_value_blob(argv[1]);
			text = false;
		} else if (th != SQLITE_BLOB && tn != SQLITE_BLOB) {
			hay = sqlite3_value_text(argv[0]);
			needle = sqlite3_value_text(argv[1]);
			text = true;
		} else {
			c1 = sqlite3_value_dup(argv[0]);
			hay = sqlite3_value_text(c1);
			nh = sqlite3_value_bytes(c1);
			c2 = sqlite3_value_dup(argv[1]);
			needle = sqlite3_value_text(c2);
			nn = sqlite3_value_bytes(c2);
			text = true;
		}
		if (needle == NULL || (nh > 0 && hay == NULL)) {
			sqlite3_result_error_nomem(ctx);
			goto out;
		}
		/*
		 * SQLite tries the character boundaries of the text from the left and counts
		 * them; memmem finds the same first match in linear time, skipping a match
		 * that starts inside a character.
		 */
		n = 0;
		for (const unsigned char *p = hay; nn <= nh - (p - hay); p = at + 1) {
			at = memmem(p, (size_t)(nh - (p - hay)), needle, (size_t)nn);
			if (at == NULL)
				break;
			if (text && at > hay && (at[0] & 0xc0) == 0x80)
				continue;
			n = 1;
			if (!text) {
				n += (int)(at - hay);
			} else {
				for (const unsigned char *q = hay + 1; q <= at; q++)
					n += (q[0] & 0xc0) != 0x80;
			}
			break;
		}
	}
	sqlite3_result_int(ctx, n);
out:
	sqlite3_value_free(c1);
	sqlite3_value_free(c2);
}

/* ---- replace(X, Y, Z) ---- */

static void
fn_replace(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *str, *pat, *rep, *at, *p;
	int nstr, npat, nrep;
	int64_t count = 0, nout;
	unsigned char *out, *o;

	(void)argc;
	if ((str = sqlite3_value_text(argv[0])) == NULL)
		return;
	nstr = sqlite3_value_bytes(argv[0]);
	if ((pat = sqlite3_value_text(argv[1])) == NULL)
		return;
	if (pat[0] == 0) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	npat = sqlite3_value_bytes(argv[1]);
	if ((rep = sqlite3_value_text(argv[2])) == NULL)
		return;
	nrep = sqlite3_value_bytes(argv[2]);
	/* Non-overlapping matches from the left, as SQLite's scan finds them. */
	for (p = str; (at = memmem(p, (size_t)(nstr - (p - str)), pat, (size_t)npat)) != NULL;
	    p = at + npat)
		count++;
	nout = nstr + count * ((int64_t)nrep - npat);
	if (nout > length_limit(ctx)) {
		sqlite3_result_error_toobig(ctx);
		return;
	}
	if ((out = sqlite3_malloc64((uint64_t)nout + 1)) == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	o = out;
	for (p = str; (at = memmem(p, (size_t)(nstr - (p - str)), pat, (size_t)npat)) != NULL;
	    p = at + npat) {
		memcpy(o, p, (size_t)(at - p));
		o += at - p;
		memcpy(o, rep, (size_t)nrep);
		o += nrep;
	}
	memcpy(o, p, (size_t)(nstr - (p - str)));
	o += nstr - (p - str);
	*o = 0;
	sqlite3_result_text64(ctx, (char *)out, (uint64_t)(o - out), sqlite3_free, SQLITE_UTF8);
}

/* ---- trim/ltrim/rtrim(X, Y) ---- */

/* SQLITE_SKIP_UTF8: a lead byte (0xc0 and up) takes every continuation byte after it. */
static const unsigned char *
skip_utf8(const unsigned char *z)
{
	if (*(z++) >= 0xc0)
		while ((*z & 0xc0) == 0x80)
			z++;
	return z;
}

static void
fn_trim(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	enum { MAX_CHARS = 4096 };
	const unsigned char *in, *set, *z, *chars[MAX_CHARS];
	unsigned char lens[MAX_CHARS];
	int flags = (int)(intptr_t)sqlite3_user_data(ctx), nin, nchars = 0;
	bool single = true, table[256] = { false };
	long long work = 0;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	if ((in = sqlite3_value_text(argv[0])) == NULL)
		return;
	nin = sqlite3_value_bytes(argv[0]);
	if ((set = sqlite3_value_text(argv[1])) == NULL)
		return;
	/*
	 * The set's characters, first occurrence of each (a repeat never matches where
	 * its first did not). SQLite keeps each length in a byte: a "character" of 256
	 * bytes (a lead byte and 255 continuation bytes) has length 0 there and makes
	 * SQLite loop forever; it is left out here.
	 */
	for (z = set; *z != 0; ) {
		const unsigned char *c = z;
		unsigned char len;
		int i;

		z = skip_utf8(z);
		len = (unsigned char)(z - c);
		if (len == 0)
			continue;
		for (i = 0; i < nchars; i++)
			if (lens[i] == len && memcmp(chars[i], c, len) == 0)
				break;
		if (i < nchars)
			continue;
		if (nchars == MAX_CHARS) {
			sqlite3_result_error(ctx, "trim(): too many characters in the set", -1);
			return;
		}
		chars[nchars] = c;
		lens[nchars++] = len;
		if (len == 1)
			table[c[0]] = true;
		else
			single = false;
	}
	if (nchars > 0 && single) {
		if (flags & 1)
			while (nin > 0 && table[in[0]]) {
				in++;
				nin--;
			}
		if (flags & 2)
			while (nin > 0 && table[in[nin - 1]])
				nin--;
	} else if (nchars > 0) {
		if (flags & 1) {
			while (nin > 0) {
				int i, len = 0;

				for (i = 0; i < nchars; i++) {
					len = lens[i];
					if (len <= nin && memcmp(in, chars[i], (size_t)len) == 0)
						break;
				}
				work += i + 1;
				if (i >= nchars)
					break;
				in += len;
				nin -= len;
				if (work > STORAGE_SQLFUNC_TRIM_WORK)
					goto too_much;
			}
		}
		if (flags & 2) {
			while (nin > 0) {
				int i, len = 0;

				for (i = 0; i < nchars; i++) {
					len = lens[i];
					if (len <= nin && memcmp(&in[nin - len], chars[i], (size_t)len) == 0)
						break;
				}
				work += i + 1;
				if (i >= nchars)
					break;
				nin -= len;
				if (work > STORAGE_SQLFUNC_TRIM_WORK)
					goto too_much;
			}
		}
	}
	sqlite3_result_text(ctx, (const char *)in, nin, SQLITE_TRANSIENT);
	return;
too_much:
	sqlite3_result_error(ctx, "trim(): character set too large for this string", -1);
}

/* ---- printf/format(F, …) ---- */

/*
 * True if SQLite's printf would loop for a long time and then fail for size: a %c
 * whose precision (its repeat count) exceeds the length limit. SQLite fails fast on
 * every other oversized width or precision. Follows printf.c's parse of flags, width
 * and precision, and which conversions take an argument, to read `*` values.
 */
static bool
printf_too_big(sqlite3_context *ctx, const unsigned char *f, int argc, sqlite3_value **argv)
{
	int64_t limit = length_limit(ctx);
	int used = 1;	/* argv[0] is the format */

	for (; *f != 0; f++) {
		int64_t precision = -1;
		unsigned char c;
		bool done = false;

		if (*f != '%')
			continue;
		if ((c = *++f) == 0)
			break;
		do {
			switch (c) {
			case '-': case '+': case ' ': case '#': case '!': case '0': case ',':
				break;
			case 'l':
				c = *++f;
				if (c == 'l')
					c = *++f;
				done = true;
				break;
			case '1': case '2': case '3': case '4': case '5': case '6': case '7':
			case '8': case '9':
				while ((c = *++f) >= '0' && c <= '9')
					;
				if (c != '.' && c != 'l')
					done = true;
				else
					f--;
				break;
			case '*':
				if (used < argc)
					used++;
				if ((c = f[1]) != '.' && c != 'l') {
					c = *++f;
					done = true;
				}
				break;
			case '.':
				c = *++f;
				if (c == '*') {
					int p = used < argc ? (int)sqlite3_value_int64(argv[used++]) : 0;

					precision = p < 0 ? (p >= -2147483647 ? -(int64_t)p : -1) : p;
					c = *++f;
				} else {
					unsigned px = 0;

					while (c >= '0' && c <= '9') {
						px = px * 10 + (unsigned)(c - '0');
						c = *++f;
					}
					precision = px & 0x7fffffff;
				}
				if (c == 'l')
					--f;
				else
					done = true;
				break;
			default:
				done = true;
				break;
			}
		} while (!done && (c = *++f) != 0);
		if (c == 0)
			break;
		if (c == 'c' && precision > limit)
			return true;
		if (strchr("diuxXofeEgGcszqQwp", c) != NULL) {
			if (used < argc)
				used++;
		} else if (c != '%' && c != 'n') {
			break;	/* SQLite stops at an unknown conversion */
		}
	}
	return false;
}

static void
fn_printf(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct storage_sqlfunc *fs = sqlite3_user_data(ctx);
	const unsigned char *f;
	sqlite3_stmt *s;
	int rc;

	if (argc < 1 || argc > STORAGE_SQLFUNC_MAX_ARGS)
		return;
	if ((f = sqlite3_value_text(argv[0])) != NULL && printf_too_big(ctx, f, argc, argv)) {
		sqlite3_result_error_toobig(ctx);
		return;
	}
	if (fs->fmt_db == NULL && sqlite3_open_v2(":memory:", &fs->fmt_db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(fs->fmt_db);
		fs->fmt_db = NULL;
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if ((s = fs->fmt_stmt[argc]) == NULL) {
		char sql[16 + 6 * STORAGE_SQLFUNC_MAX_ARGS] = "SELECT printf(?1";
		size_t n = strlen(sql);

		for (int i = 2; i <= argc; i++)
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, ",?%d", i);
		snprintf(sql + n, sizeof(sql) - n, ")");
		if (sqlite3_prepare_v3(fs->fmt_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
		    SQLITE_OK) {
			sqlite3_result_error(ctx, sqlite3_errmsg(fs->fmt_db), -1);
			return;
		}
		fs->fmt_stmt[argc] = s;
	}
	sqlite3_limit(fs->fmt_db, SQLITE_LIMIT_LENGTH, length_limit(ctx));
	for (int i = 0; i < argc; i++)
		sqlite3_bind_value(s, i + 1, argv[i]);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		sqlite3_result_value(ctx, sqlite3_column_value(s, 0));
	else if (rc == SQLITE_TOOBIG)
		sqlite3_result_error_toobig(ctx);
	else if (rc == SQLITE_NOMEM)
		sqlite3_result_error_nomem(ctx);
	else
		sqlite3_result_error(ctx, sqlite3_errmsg(fs->fmt_db), -1);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

int
storage_sqlfunc_install(sqlite3 *db, struct storage_sqlfunc *f)
{
	const int fl = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
	int rc;

	memset(f, 0, sizeof(*f));
	if ((rc = sqlite3_create_function(db, "instr", 2, fl, NULL, fn_instr, NULL, NULL)) ||
	    (rc = sqlite3_create_function(db, "replace", 3, fl, NULL, fn_replace, NULL, NULL)) ||
	    (rc = sqlite3_create_function(db, "ltrim", 2, fl, (void *)1, fn_trim, NULL, NULL)) ||
	    (rc = sqlite3_create_function(db, "rtrim", 2, fl, (void *)2, fn_trim, NULL, NULL)) ||
	    (rc = sqlite3_create_function(db, "trim", 2, fl, (void *)3, fn_trim, NULL, NULL)) ||
	    (rc = sqlite3_create_function(db, "printf", -1, fl, f, fn_printf, NULL, NULL)) ||
	    (rc = sqlite3_create_function(db, "format", -1, fl, f, fn_printf, NULL, NULL)))
		return rc;
	return SQLITE_OK;
}

void
storage_sqlfunc_free(struct storage_sqlfunc *f)
{
	for (int i = 0; i <= STORAGE_SQLFUNC_MAX_ARGS; i++) {
		sqlite3_finalize(f->fmt_stmt[i]);
		f->fmt_stmt[i] = NULL;
	}
	sqlite3_close(f->fmt_db);
	f->fmt_db = NULL;
}
