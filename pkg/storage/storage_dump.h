/*
 * SQL text in and out of the storage database: the sqlite3-shell-style dump served
 * by GET /db/backup?fmt=sql (API.md §5.1) and the SQL-text path of POST /db/load
 * (§5.2).
 */
#ifndef RQ_STORAGE_DUMP_H
#define RQ_STORAGE_DUMP_H

#include <stddef.h>
#include <stdio.h>

#include <msgpack.h>

struct sqlite3;
struct storage_db;

/*
 * Writes the dump to out, one line at a time (never the whole database in memory),
 * byte for byte as rqlite's db.Dump:
 *
 *   PRAGMA foreign_keys=OFF;
 *   BEGIN TRANSACTION;
 *   <per table, in name order: its CREATE statement;  then one
 *    INSERT INTO "t" VALUES(<quote(col)>,…); per row>
 *   <every index, trigger and view definition, in sqlite_master order>
 *   COMMIT;
 *
 * sqlite_sequence is written as DELETE FROM "sqlite_sequence"; plus its rows,
 * sqlite_stat1 as ANALYZE "sqlite_master"; plus its rows, other sqlite_* tables are
 * skipped. Values are rendered by SQLite's quote(). tables (ntables names, NULL or 0 =
 * all) limits the table section only. The whole dump reads one snapshot: it runs in a
 * read transaction on the read-write connection (the caller applies nothing during
 * the call). Returns 0, or -1 with a message in err (out then holds a partial dump).
 */
int storage_dump_sql(struct storage_db *db, FILE *out, const char *const *tables, size_t ntables,
    char *err, size_t errlen);

/* The same from any connection (e.g. a private read-only one in a helper thread). */
int storage_dump_sql_conn(struct sqlite3 *conn, FILE *out, const char *const *tables,
    size_t ntables, char *err, size_t errlen);

/*
 * Runs a SQL text (many statements, e.g. a dump) on the read-write connection as one
 * transaction. Leading PRAGMA statements run first, outside the transaction (so a
 * dump's PRAGMA foreign_keys=OFF takes effect, as in rqlite); then BEGIN IMMEDIATE,
 * every other statement in order — the text's own BEGIN [TRANSACTION] and
 * COMMIT/END are absorbed into this one transaction — and COMMIT. On the first error
 * everything is rolled back (rqlite's RollbackOnError). foreign_keys is restored to
 * its value before the call, so the node's -fk setting survives a load.
 *
 * Packs exactly one map into pk, as storage_db_apply would for one execute statement:
 * {"r":[{"li":…,"ra":…}]} with the last statement's last_insert_rowid/changes (both
 * absent, i.e. {}, when the text ends with whitespace or a comment after its last
 * statement, as rqlite's driver reports), or {"r":[{"e":"<sqlite message>"}]}.
 * Returns 0 if the text ran, -1 if it failed (the error map is still packed).
 */
int storage_load_sql(struct storage_db *db, const char *sql, size_t len, uint64_t steps,
    uint64_t max_value, msgpack_packer *pk);

#endif
