/*
 * Tests for pkg/gateway/gateway_pragma.c: the PRAGMAs that would break the cluster,
 * recognised the way rqlite recognises them.
 */
#include "unit.h"
#include "gateway/gateway_pragma.h"

static bool
bad(const char *s)
{
	return gateway_pragma_disallowed(s, strlen(s));
}

UNIT_TEST(breaking_pragmas_are_recognised)
{
	CHECK(bad("PRAGMA journal_mode=DELETE"));
	CHECK(bad("  pragma JOURNAL_MODE = wal"));
	CHECK(bad("PRAGMA main.journal_mode=OFF"));
	CHECK(!bad("PRAGMA journal_mode"));
	CHECK(!bad("PRAGMA a.b.journal_mode=OFF"));
	CHECK(bad("PRAGMA wal_autocheckpoint=100"));
	CHECK(!bad("PRAGMA main.wal_autocheckpoint=100"));
	CHECK(bad("PRAGMA wal_checkpoint(TRUNCATE)"));
	CHECK(bad("PRAGMA main.wal_checkpoint"));
	CHECK(bad("PRAGMA synchronous=OFF"));
	CHECK(bad("PRAGMA \xc5\xbfynchronous=OFF"));
	CHECK(bad("PRAGMA query_only=1"));
	CHECK(bad("\n\tPRAGMA\tquery_only\t=\t0"));
	CHECK(!bad("PRAGMA synchronous"));
	CHECK(!bad("PRAGMAsynchronous=OFF"));
	CHECK(!bad("PRAGMA foreign_keys=ON"));
	CHECK(!bad("SELECT 1; PRAGMA synchronous=OFF"));
	CHECK(!bad("\vPRAGMA synchronous=OFF"));
}

UNIT_MAIN()
