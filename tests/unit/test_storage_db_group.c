/*
 * Tests for pkg/storage/storage_db_group.c: a burst of write entries applied in one
 * transaction ends exactly as if each entry had been its own, readers see the burst
 * only once it ends, and foreign keys turn grouping off.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "sdb_helpers.h"
#include "storage/storage_db.h"
#include "unit.h"

/* ---- group apply ---- */

/* Appends a canonical text of o to buf, without the "t" (elapsed time) keys. */
static void
canon(const msgpack_object *o, char *buf, size_t cap)
{
	size_t n = strlen(buf);

	if (n + 64 >= cap)
		return;
	switch (o->type) {
	case MSGPACK_OBJECT_MAP:
		strcat(buf, "{");
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 1 &&
			    kv->key.via.str.ptr[0] == 't')
				continue;
			canon(&kv->key, buf, cap);
			strcat(buf, ":");
			canon(&kv->val, buf, cap);
			strcat(buf, ",");
		}
		strcat(buf, "}");
		break;
	case MSGPACK_OBJECT_ARRAY:
		strcat(buf, "[");
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			canon(&o->via.array.ptr[i], buf, cap);
			strcat(buf, ",");
		}
		strcat(buf, "]");
		break;
	case MSGPACK_OBJECT_STR:
		snprintf(buf + n, cap - n, "\"%s\"", str(o));
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(buf + n, cap - n, "%lld", ival(o));
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		strcat(buf, o->via.boolean ? "true" : "false");
		break;
	case MSGPACK_OBJECT_NIL:
		strcat(buf, "nil");
		break;
	default:
		snprintf(buf + n, cap - n, "?%d", (int)o->type);
	}
}

struct group_entry {
	unsigned kind;
	bool tx;
	unsigned to_ms;
	const char *sqls[4];
};

/* Every way an entry can leave, end or be refused by a shared transaction. */
static const struct group_entry group_entries[] = {
	{ 1, false, 0, { "CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT UNIQUE, v INTEGER)" } },
	{ 1, false, 0, { "CREATE TABLE r (id INTEGER PRIMARY KEY, x UNIQUE ON CONFLICT ROLLBACK)" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(1, 'a', 1)" } },
	/* a statement error undoes only that statement */
	{ 1, false, 0, { "INSERT INTO foo VALUES(2, 'b', 1)", "INSERT INTO foo VALUES(2, 'dup', 1)",
	    "INSERT INTO foo VALUES(3, 'c', 1)" } },
	/* a failed transaction entry undoes only itself */
	{ 1, true, 0, { "INSERT INTO foo VALUES(4, 'd', 1)", "INSERT INTO foo VALUES(4, 'e', 1)",
	    "INSERT INTO foo VALUES(5, 'never', 1)" } },
	{ 1, false, 0, { "INSERT INTO r(x) VALUES(1)" } },
	/* ON CONFLICT ROLLBACK ends SQLite's transaction: the group must be replayed */
	{ 1, false, 0, { "INSERT INTO foo VALUES(6, 'f', 1)", "INSERT INTO r(x) VALUES(1)",
	    "INSERT INTO foo VALUES(7, 'g', 1)" } },
	{ 1, false, 0, { "INSERT OR ROLLBACK INTO foo(id, name) VALUES(1, 'x')" } },
	{ 1, false, 0, { "CREATE TRIGGER no99 BEFORE INSERT ON foo WHEN NEW.v = 99 "
	    "BEGIN SELECT RAISE(ROLLBACK, 'no 99'); END" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(8, 'h', 1)", "INSERT INTO foo VALUES(9, 'i', 99)",
	    "INSERT INTO foo VALUES(10, 'j', 1)" } },
	/* transaction control in the text, behind comments too */
	{ 1, false, 0, { "BEGIN; INSERT INTO foo VALUES(11, 'k', 1); COMMIT" } },
	{ 1, false, 0, { "/* c */ -- x\n PRAGMA user_version = 7", "INSERT INTO foo VALUES(12, 'l', 1)" } },
	{ 1, true, 0, { "INSERT INTO foo VALUES(13, 'm', 1)", "UPDATE foo SET v = v + 1" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(14, 'n', 1) RETURNING id, name" } },
	{ 1, false, 5000, { "INSERT INTO foo VALUES(15, 'o', 1)" } },
	{ 3, false, 0, { "SELECT COUNT(*) FROM foo", "INSERT INTO foo VALUES(16, 'p', 1)" } },
	/* an explicit transaction across entries */
	{ 1, false, 0, { "BEGIN" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(17, 'q', 1)" } },
	{ 1, false, 0, { "COMMIT" } },
	{ 1, false, 0, { "INSERT OR FAIL INTO foo VALUES(18, 'r', 1)", "INSERT OR FAIL INTO foo VALUES(18, 's', 1)" } },
	/* OR ROLLBACK inside a transaction entry */
	{ 1, true, 0, { "INSERT INTO foo VALUES(19, 's', 1)", "UPDATE OR ROLLBACK foo SET name = 'a' WHERE id = 2" } },
	{ 1, false, 0, { "DELETE FROM foo WHERE id = 3", "INSERT INTO foo VALUES(20, 't', 1)" } },
	{ 1, false, 0, { "VACUUM" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(21, 'u', 1)" } },
	/* foreign keys switched on by a statement: deferred checks stay per entry */
	{ 1, false, 0, { "PRAGMA foreign_keys = ON" } },
	{ 1, false, 0, { "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
	    "CREATE TABLE child (id INTEGER PRIMARY KEY, pid REFERENCES parent(id) "
	    "DEFERRABLE INITIALLY DEFERRED)" } },
	{ 1, false, 0, { "INSERT INTO child VALUES(1, 42)" } },
	{ 1, false, 0, { "INSERT INTO parent VALUES(1)", "INSERT INTO child VALUES(2, 1)" } },
	{ 1, false, 0, { "INSERT INTO child VALUES(3, 43)" } },
	{ 1, false, 0, { "/* off again */ PRAGMA foreign_keys = OFF" } },
	{ 1, false, 0, { "INSERT INTO child VALUES(4, 44)" } },
	{ 1, false, 0, { "INSERT INTO foo VALUES(22, 'v', 1)" } },
};

static void
group_apply(struct storage_db *sdb, const struct group_entry *e, char *out, size_t cap)
{
	unsigned n = 0;
	struct res r;

	while (n < 4 && e->sqls[n] != NULL)
		n++;
	runv(sdb, e->kind, e->tx, e->to_ms, false, &r, n, e->sqls);
	out[0] = '\0';
	canon(r.top, out, cap);
	res_free(&r);
}

static void
group_contents(struct storage_db *sdb, char *out, size_t cap)
{
	const char *sqls[] = { "SELECT * FROM foo ORDER BY id", "SELECT * FROM r ORDER BY id",
	    "PRAGMA user_version", "SELECT name FROM sqlite_master ORDER BY name",
	    "SELECT * FROM child ORDER BY id" };
	struct res r;

	runv(sdb, 2, false, 0, true, &r, 5, sqls);
	out[0] = '\0';
	canon(r.top, out, cap);
	res_free(&r);
}

UNIT_TEST(grouped_entries_end_as_if_each_were_its_own_transaction)
{
	static char want[8192], got[8192];
	const size_t n = sizeof(group_entries) / sizeof(group_entries[0]);
	const unsigned bursts[] = { 1, 3, 100 };

	for (size_t b = 0; b < sizeof(bursts) / sizeof(bursts[0]); b++) {
		struct storage_db *alone = open_db(":memory:", false);
		struct storage_db *grouped = open_db(":memory:", false);
		struct storage_db_counters ctr;

		CHECK(alone != NULL && grouped != NULL);
		storage_db_group_enable(grouped, true);
		for (size_t i = 0; i < n; i++) {
			group_apply(alone, &group_entries[i], want, sizeof(want));
			group_apply(grouped, &group_entries[i], got, sizeof(got));
			if (strcmp(want, got) != 0)
				UNIT_FAIL_("burst %u, entry %zu: %s\n      alone:   %s\n      grouped: %s",
				    bursts[b], i, group_entries[i].sqls[0], want, got);
			if ((i + 1) % bursts[b] == 0)
				storage_db_group_end(grouped);
		}
		storage_db_group_end(grouped);
		CHECK(sqlite3_get_autocommit(storage_db_rw_handle(grouped)) != 0);
		group_contents(alone, want, sizeof(want));
		group_contents(grouped, got, sizeof(got));
		CHECK_STR_EQ(got, want);
		storage_db_counters(grouped, &ctr);
		if (bursts[b] > 1)
			CHECK(ctr.group_replays >= 3);	/* the ROLLBACKs above */
		storage_db_close(alone);
		storage_db_close(grouped);
	}
}

UNIT_TEST(a_burst_of_writes_is_one_transaction_seen_by_readers_once_ended)
{
	struct storage_db *sdb = open_db(":memory:", false);
	struct storage_db_counters ctr;

	CHECK(sdb != NULL);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY)"));
	storage_db_group_enable(sdb, true);
	for (int i = 0; i < 10; i++)
		CHECK(must(sdb, "INSERT INTO foo DEFAULT VALUES"));
	CHECK_INT_EQ(storage_db_group_size(sdb), 10);
	storage_db_group_end(sdb);
	CHECK_INT_EQ(storage_db_group_size(sdb), 0);
	CHECK_INT_EQ(count_rows(sdb, "foo"), 10);
	storage_db_counters(sdb, &ctr);
	CHECK_INT_EQ(ctr.apply_groups, 1);
	CHECK_INT_EQ(ctr.grouped_entries, 10);
	CHECK_INT_EQ(ctr.group_replays, 0);
	storage_db_close(sdb);
}

UNIT_TEST(foreign_keys_keep_every_entry_in_its_own_transaction)
{
	struct storage_db *sdb = open_db(":memory:", true);
	struct storage_db_counters ctr;

	CHECK(sdb != NULL);
	storage_db_group_enable(sdb, true);
	CHECK(must(sdb, "CREATE TABLE foo (id INTEGER PRIMARY KEY)"));
	CHECK(must(sdb, "INSERT INTO foo VALUES(1)"));
	CHECK_INT_EQ(storage_db_group_size(sdb), 0);
	storage_db_counters(sdb, &ctr);
	CHECK_INT_EQ(ctr.grouped_entries, 0);
	storage_db_close(sdb);
}

UNIT_MAIN()
