/*
 * Tests for pkg/storage/storage_sqlfunc.c: our instr, replace, trim family and printf
 * must answer exactly as SQLite's built-ins do (differential tests against a plain
 * connection, with seeded random inputs mixing ASCII, multi-byte and broken UTF-8,
 * text and BLOBs), and must finish the inputs that make the built-ins run for minutes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "storage/storage_sqlfunc.h"
#include "unit.h"

struct pair {
	sqlite3 *plain;		/* SQLite's built-ins */
	sqlite3 *ours;		/* with storage_sqlfunc installed */
	struct storage_sqlfunc fn;
};

static bool
pair_open(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	return sqlite3_open(":memory:", &p->plain) == SQLITE_OK &&
	    sqlite3_open(":memory:", &p->ours) == SQLITE_OK &&
	    storage_sqlfunc_install(p->ours, &p->fn) == SQLITE_OK;
}

static void
pair_close(struct pair *p)
{
	sqlite3_close(p->plain);
	sqlite3_close(p->ours);
	storage_sqlfunc_free(&p->fn);
}

/* quote(<expr>) with ?1…?3 bound to the given values, or "error: …". */
static void
eval(sqlite3 *db, const char *expr, sqlite3_value **args, int nargs, char *out, size_t len)
{
	char sql[512];
	sqlite3_stmt *s;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT quote(%s)", expr);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		snprintf(out, len, "prepare: %s", sqlite3_errmsg(db));
		return;
	}
	for (int i = 0; i < nargs; i++)
		sqlite3_bind_value(s, i + 1, args[i]);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
	else
		snprintf(out, len, "error: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
}

/* A value from a tiny alphabet that makes matches, boundaries and bad UTF-8 likely. */
static sqlite3_value *
random_value(sqlite3 *db, unsigned *seed)
{
	static const char *const atoms[] = { "a", "b", "ab", "\xc3\xa9", "\xe2\x82\xac", "\x80",
	    "\xc3", " ", "%", "x", "" };
	char buf[64] = "";
	sqlite3_stmt *s;
	sqlite3_value *v;
	int kind = (int)(rand_r(seed) % 10), n = (int)(rand_r(seed) % 8);

	for (int i = 0; i < n; i++)
		strcat(buf, atoms[rand_r(seed) % (sizeof(atoms) / sizeof(atoms[0]))]);
	sqlite3_prepare_v2(db, kind == 0 ? "SELECT NULL" : kind == 1 ? "SELECT ?1 + 0" :
	    kind <= 3 ? "SELECT CAST(?1 AS BLOB)" : "SELECT ?1", -1, &s, NULL);
	sqlite3_bind_text(s, 1, buf, -1, SQLITE_TRANSIENT);
	sqlite3_step(s);
	v = sqlite3_value_dup(sqlite3_column_value(s, 0));
	sqlite3_finalize(s);
	return v;
}

/* "" if ours matched SQLite on every round, else the first mismatch. */
static const char *
differential(const char *expr, int nargs, int rounds)
{
	static char what[1400];
	struct pair p;
	unsigned seed = 12345;

	what[0] = '\0';
	if (!pair_open(&p))
		return "cannot open";
	for (int r = 0; r < rounds; r++) {
		sqlite3_value *args[3];
		char a[512], b[512];

		for (int i = 0; i < nargs; i++)
			args[i] = random_value(p.plain, &seed);
		eval(p.plain, expr, args, nargs, a, sizeof(a));
		eval(p.ours, expr, args, nargs, b, sizeof(b));
		if (strcmp(a, b) != 0 && what[0] == '\0')
			snprintf(what, sizeof(what), "%s round %d: ours %s, SQLite %s", expr, r, b, a);
		for (int i = 0; i < nargs; i++)
			sqlite3_value_free(args[i]);
	}
	pair_close(&p);
	return what;
}

UNIT_TEST(instr_answers_as_sqlite_does)
{
	CHECK_STR_EQ(differential("instr(?1, ?2)", 2, 20000), "");
}

UNIT_TEST(replace_answers_as_sqlite_does)
{
	CHECK_STR_EQ(differential("replace(?1, ?2, ?3)", 3, 20000), "");
}

UNIT_TEST(trim_ltrim_and_rtrim_answer_as_sqlite_does)
{
	CHECK_STR_EQ(differential("trim(?1, ?2)", 2, 20000), "");
	CHECK_STR_EQ(differential("ltrim(?1, ?2)", 2, 20000), "");
	CHECK_STR_EQ(differential("rtrim(?1, ?2)", 2, 20000), "");
	CHECK_STR_EQ(differential("trim(?1)", 1, 2000), "");
}

UNIT_TEST(printf_answers_as_sqlite_does)
{
	static const char *const exprs[] = {
		"printf('%d|%5s|%-5s|%.2f|%x|%c|%q|%Q|%w', 42, 'ab', 'cd', 3.14159, 255, 'xyz', "
		    "'it''s', NULL, 'a\"b')",
		"printf('%*d|%-*d|%.*s|%.*c', 6, 7, 4, 8, 2, 'abcdef', 3, 'z')",
		"printf('%lld %llx %,d %!.3g %e %%', 9223372036854775807, 255, 1234567, 1e10, 0.5)",
		"printf('%s %s %s', 1)", "printf(NULL, 1)", "printf('%y %d', 1, 2)", "printf()",
		"format('%05d|%+d|% d|%#x', 42, 42, 42, 42)", "printf('%.*c', -3, 'q')",
		"printf('%*.*c', 10, 3, 'w')", "printf('%c', '')", "printf('%.5c', '\xc3\xa9')",
		"printf('%.3s', 'abcdef')", "printf('%z', 'zz')", "printf('%n%d', 5)",
	};
	struct pair p;
	char a[512], b[512];

	CHECK(pair_open(&p));
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		eval(p.plain, exprs[i], NULL, 0, a, sizeof(a));
		eval(p.ours, exprs[i], NULL, 0, b, sizeof(b));
		CHECK_STR_EQ(b, a);
	}
	pair_close(&p);
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

UNIT_TEST(inputs_that_take_the_builtins_minutes_finish_in_seconds)
{
	static const char *const exprs[] = {
		/* 8 MB haystack, 4 MB needle: the built-in compares ~1.6e13 bytes. */
		"instr(printf('%.*c', 8000000, 'a'), printf('%.*c', 4000000, 'a') || 'b')",
		"length(replace(printf('%.*c', 8000000, 'a'), printf('%.*c', 4000000, 'a') || 'b', 'x'))",
		"length(trim(printf('%.*c', 8000000, 'a'), printf('%.*c', 100000, 'b') || 'a'))",
		"length(printf('%.*c', 2147483647, 'x'))",
		"length(format('%.2000000000c', 'x'))",
	};
	static const char *const expect[] = { "0", "8000000", "0", "error: string or blob too big",
		"error: string or blob too big" };
	struct pair p;
	char out[256];

	CHECK(pair_open(&p));
	sqlite3_limit(p.ours, SQLITE_LIMIT_LENGTH, 32 * 1024 * 1024);
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		struct timespec t0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		eval(p.ours, exprs[i], NULL, 0, out, sizeof(out));
		CHECK_STR_EQ(out, expect[i]);
		CHECK(seconds_since(&t0) < 5.0);
	}
	pair_close(&p);
}

UNIT_TEST(a_trim_set_character_of_256_bytes_does_not_hang)
{
	struct pair p;
	char set[300], expr[400], out[256];

	/* A lead byte and 255 continuation bytes: SQLite stores its length as 0 and loops. */
	set[0] = (char)0xc3;
	memset(set + 1, 0x80, 255);
	set[256] = 'a';
	set[257] = '\0';
	CHECK(pair_open(&p));
	snprintf(expr, sizeof(expr), "trim('aab', ?1)");
	{
		sqlite3_stmt *s;
		sqlite3_value *v;

		sqlite3_prepare_v2(p.ours, "SELECT ?1", -1, &s, NULL);
		sqlite3_bind_text(s, 1, set, -1, SQLITE_TRANSIENT);
		sqlite3_step(s);
		v = sqlite3_value_dup(sqlite3_column_value(s, 0));
		sqlite3_finalize(s);
		eval(p.ours, expr, &v, 1, out, sizeof(out));
		sqlite3_value_free(v);
	}
	CHECK_STR_EQ(out, "'b'");
	pair_close(&p);
}

UNIT_MAIN()
