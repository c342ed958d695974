/*
 * storage_random: entry-seeded random() and randomblob() (see storage_random.h).
 * The generator is SplitMix64: a counter stepped by the golden ratio and mixed; one
 * state word, fast, and the same sequence from the same seed on every machine.
 */
#include "storage_random.h"

#include <stddef.h>


static uint64_t
next64(struct storage_random *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
storage_random_seed(struct storage_random *r, uint64_t index, uint64_t term)
{
	r->state = index ^ (term << 40) ^ 0x5eed5eed5eed5eedULL;
	(void)next64(r);
}

/* As SQLite's random(): any 64-bit value, never INT64_MIN. */
static void
fn_random(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	int64_t v = (int64_t)next64(sqlite3_user_data(ctx));

	(void)argc;
	(void)argv;
	if (v < 0)
		v = -(v & INT64_MAX);
	sqlite3_result_int64(ctx, v);
}

/* As SQLite's randomblob(N): at least one byte; "string or blob too big" past the limit. */
static void
fn_randomblob(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct storage_random *r = sqlite3_user_data(ctx);
	sqlite3_int64 n = sqlite3_value_int64(argv[0]);
	unsigned char *p;

	(void)argc;
	if (n < 1)
		n = 1;
	if (n > sqlite3_limit(sqlite3_context_db_handle(ctx), SQLITE_LIMIT_LENGTH, -1)) {
		sqlite3_result_error_toobig(ctx);
		return;
	}
	if ((p = sqlite3_malloc64((sqlite3_uint64)n)) == NULL) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	for (sqlite3_int64 i = 0; i < n; i += 8) {
		uint64_t w = next64(r);

		/* Byte by byte: the same bytes whatever the machine's byte order. */
		for (sqlite3_int64 k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (unsigned char)(w >> (8 * k));
	}
	sqlite3_result_blob64(ctx, p, (sqlite3_uint64)n, sqlite3_free);
}

int
storage_random_install(sqlite3 *db, struct storage_random *r)
{
	int rc;

	storage_random_seed(r, 0, 0);
	if ((rc = sqlite3_create_function(db, "random", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS, r,
	    fn_random, NULL, NULL)) != SQLITE_OK)
		return rc;
	return sqlite3_create_function(db, "randomblob", 1, SQLITE_UTF8 | SQLITE_INNOCUOUS, r,
	    fn_randomblob, NULL, NULL);
}
