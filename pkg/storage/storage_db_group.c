/*
 * Group apply: committed entries that reach storage in one burst share one SQLite
 * transaction. Each entry as its own transaction costs file-lock syscalls and at least
 * one WAL frame per entry; at 64 writers consensus hands over twenty-odd entries at a
 * time, and those commits were most of what storage did.
 *
 * The database must end exactly as if every entry had been its own transaction, on
 * every node alike:
 * - A failing statement of an entry is undone alone, by SQLite's statement journal,
 *   inside a transaction as in autocommit; the statements after it still run.
 * - A `transaction` entry becomes a savepoint of the group's transaction.
 * - Statements that control transactions or cannot run inside one (BEGIN, COMMIT,
 *   PRAGMA, VACUUM, ATTACH, ...) are never run inside a group, nor are entries with a
 *   deadline (an interrupted statement rolls back the whole transaction).
 * - SQLite may end the transaction itself: ON CONFLICT ROLLBACK, RAISE(ROLLBACK) in a
 *   trigger, an I/O error. The entry stops right after the statement that did it.
 * In the last two cases the group is undone and its entries run again one at a time
 * from the copies kept here (they are deterministic: the same state gives the same
 * results), then the entry that stopped runs alone.
 * Foreign keys turn grouping off, from the option or from a PRAGMA: their deferred
 * checks would move to the group's end.
 */
#include <stdint.h>
#include <string.h>

#include "common/log.h"
#include "storage/storage_db_int.h"

/* A group ends after this many entries or bytes of kept commands, burst or not. */
#define GROUP_MAX_ENTRIES	512
#define GROUP_MAX_BYTES		(8u * 1024 * 1024)

/* BEGIN, COMMIT or ROLLBACK on the read-write connection; an SQLite result code. */
static int
group_exec(struct storage_db *sdb, const char *sql)
{
	struct storage_stmt ss;
	int rc = storage_stmt_cache_get(sdb->rw.cache, sql, strlen(sql), &ss);

	if (rc == SQLITE_OK && ss.stmt != NULL) {
		while ((rc = sqlite3_step(ss.stmt)) == SQLITE_ROW)
			;
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	storage_stmt_cache_put(sdb->rw.cache, &ss);
	return rc;
}

static void
group_forget(struct storage_db *sdb)
{
	sdb->group_open = false;
	sdb->group_abort = false;
	sdb->group_entries = 0;
	if (sdb->group_cmds.alloc > GROUP_MAX_BYTES) {
		msgpack_sbuffer_destroy(&sdb->group_cmds);
		msgpack_sbuffer_init(&sdb->group_cmds);
	} else {
		msgpack_sbuffer_clear(&sdb->group_cmds);
	}
}

int
sdb_group_open(struct storage_db *sdb)
{
	if (sdb->group_pragma_ran) {
		char val[8] = "";

		/* PRAGMA foreign_keys=ON sent as a statement turns enforcement on. */
		sdb->group_pragma_ran = false;
		if (sdb_exec_value(sdb->rw.db, "PRAGMA foreign_keys", val, sizeof(val)) != SQLITE_OK)
			return -1;
		sdb->group_fk = strcmp(val, "0") != 0;
	}
	if (sdb->group_fk || group_exec(sdb, "BEGIN") != SQLITE_OK)
		return -1;
	sdb->group_open = true;
	sdb->group_abort = false;
	SDB_COUNT(&sdb->rw, apply_groups);
	return 0;
}

void
storage_db_group_end(struct storage_db *sdb)
{
	if (!sdb->group_open)
		return;
	if (group_exec(sdb, "COMMIT") != SQLITE_OK)
		fatalx("commit of %u applied entries: %s", sdb->group_entries,
		    sqlite3_errmsg(sdb->rw.db));
	group_forget(sdb);
}

/* Keeps an entry for a replay: u32 length, u64 index, u64 term, then the command. */
static void
group_remember(struct storage_db *sdb, const char *cmd, size_t len)
{
	uint32_t n = (uint32_t)len;

	if (msgpack_sbuffer_write(&sdb->group_cmds, (const char *)&n, sizeof(n)) != 0 ||
	    msgpack_sbuffer_write(&sdb->group_cmds, (const char *)&sdb->entry_index,
	    sizeof(uint64_t)) != 0 ||
	    msgpack_sbuffer_write(&sdb->group_cmds, (const char *)&sdb->entry_term,
	    sizeof(uint64_t)) != 0 ||
	    msgpack_sbuffer_write(&sdb->group_cmds, cmd, len) != 0)
		fatalx("out of memory");
	sdb->group_entries++;
	SDB_COUNT(&sdb->rw, grouped_entries);
}

/* Rolls the group back and runs its entries again, each in its own transaction. */
static void
group_replay(struct storage_db *sdb)
{
	msgpack_sbuffer junk;
	msgpack_packer pk;
	size_t off = 0;
	uint64_t index = sdb->entry_index, term = sdb->entry_term;

	SDB_COUNT(&sdb->rw, group_replays);
	if (!sqlite3_get_autocommit(sdb->rw.db) && group_exec(sdb, "ROLLBACK") != SQLITE_OK)
		fatalx("roll back applied entries: %s", sqlite3_errmsg(sdb->rw.db));
	sdb->group_open = false;
	sdb->group_abort = false;
	msgpack_sbuffer_init(&junk);
	msgpack_packer_init(&pk, &junk, msgpack_sbuffer_write);
	while (off + sizeof(uint32_t) + 2 * sizeof(uint64_t) <= sdb->group_cmds.size) {
		uint32_t n;

		memcpy(&n, sdb->group_cmds.data + off, sizeof(n));
		off += sizeof(n);
		memcpy(&sdb->entry_index, sdb->group_cmds.data + off, sizeof(uint64_t));
		off += sizeof(uint64_t);
		memcpy(&sdb->entry_term, sdb->group_cmds.data + off, sizeof(uint64_t));
		off += sizeof(uint64_t);
		junk.size = 0;
		(void)sdb_apply_one(sdb, sdb->group_cmds.data + off, n, &pk, false);
		off += n;
	}
	sdb->entry_index = index;	/* the entry that stopped the group runs next */
	sdb->entry_term = term;
	msgpack_sbuffer_destroy(&junk);
	log_debug("%u grouped entries replayed one by one", sdb->group_entries);
	group_forget(sdb);
}

int
storage_db_apply(struct storage_db *sdb, const char *cmd, size_t len, msgpack_packer *pk)
{
	int rc;

	if (!sdb->group_enabled)
		return sdb_apply_one(sdb, cmd, len, pk, false);
	rc = sdb_apply_one(sdb, cmd, len, pk, true);
	if (rc == 1) {
		group_replay(sdb);
		return sdb_apply_one(sdb, cmd, len, pk, false);
	}
	if (rc == 0 && sdb->group_open) {
		group_remember(sdb, cmd, len);
		if (sdb->group_entries >= GROUP_MAX_ENTRIES || sdb->group_cmds.size >= GROUP_MAX_BYTES)
			storage_db_group_end(sdb);
	}
	return rc;
}

void
storage_db_group_enable(struct storage_db *sdb, bool on)
{
	if (!on)
		storage_db_group_end(sdb);
	sdb->group_enabled = on;
	sdb->group_fk = sdb->fk;
}

uint32_t
storage_db_group_size(const struct storage_db *sdb)
{
	return sdb->group_open ? sdb->group_entries : 0;
}
