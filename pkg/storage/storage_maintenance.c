/* Maintenance entries: VACUUM and a deterministic optimize (see storage_maintenance.h). */
#include "storage_maintenance.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/log.h"
#include "storage_db.h"

/* Re-analysed once it holds this many times the rows its statistics counted (rqlite's
 * SQLite: "25 times larger than the last analysis"). */
#define OPTIMIZE_GROWTH	25

static void
maint_pack(msgpack_packer *pk, const char *err)
{
	msgpack_pack_map(pk, err != NULL ? 2 : 1);
	msgpack_pack_str_with_body(pk, "r", 1);
	msgpack_pack_array(pk, 0);
	if (err != NULL) {
		msgpack_pack_str_with_body(pk, "e", 1);
		msgpack_pack_str_with_body(pk, err, strlen(err));
	}
}

/* The first integer of a query with one text parameter, or def. */
static int64_t
maint_int(sqlite3 *db, const char *sql, const char *arg, int64_t def)
{
	sqlite3_stmt *s = NULL;
	int64_t v = def;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (arg != NULL)
			sqlite3_bind_text(s, 1, arg, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
			v = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	return v;
}

/* Whether table t needs ANALYZE: an index without statistics, or 25 times the rows. */
static bool
maint_table_needs_analyze(sqlite3 *db, const char *t, bool have_stat1)
{
	int64_t unanalysed, counted, rows;
	char *sql;

	if (!have_stat1)
		return true;
	unanalysed = maint_int(db,
	    "SELECT count(*) FROM pragma_index_list(?1) AS il WHERE NOT EXISTS "
	    "(SELECT 1 FROM sqlite_stat1 AS s WHERE s.tbl = ?1 AND s.idx = il.name)", t, 1);
	if (unanalysed > 0)
		return true;
	counted = maint_int(db, "SELECT max(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = ?1",
	    t, 0);
	sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", t);
	rows = sql != NULL ? maint_int(db, sql, NULL, 0) : 0;
	sqlite3_free(sql);
	return counted <= 0 ? rows > 0 : rows >= counted * OPTIMIZE_GROWTH;
}

static int
maint_optimize(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc;
	bool have_stat1 = maint_int(db,
	    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'",
	    NULL, 0) > 0;

	/* Tables with at least one index, in name order: the same order on every node. */
	rc = sqlite3_prepare_v2(db,
	    "SELECT t.name FROM sqlite_schema AS t WHERE t.type = 'table' AND "
	    "t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND EXISTS (SELECT 1 FROM sqlite_schema AS i "
	    "WHERE i.type = 'index' AND i.tbl_name = t.name) ORDER BY t.name", -1, &s, NULL);
	while (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
		if (n == cap) {
			char **p = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*p));
			if (p == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			names = p;
		}
		if ((names[n] = strdup((const char *)sqlite3_column_text(s, 0))) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		n++;
	}
	sqlite3_finalize(s);
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		if (!maint_table_needs_analyze(db, names[i], have_stat1))
			continue;
		char *sql = sqlite3_mprintf("ANALYZE \"%w\"", names[i]);
		rc = sql != NULL ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
		sqlite3_free(sql);
		have_stat1 = true;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "optimize: %s", sqlite3_errmsg(db));
	return rc;
}

int
storage_maintenance_apply(struct storage_db *db, const char *cmd, size_t len,
    msgpack_packer *pk)
{
	sqlite3 *h = storage_db_rw_handle(db);
	msgpack_unpacked un;
	size_t off = 0;
	char op[16] = "", err[512] = "";
	int rc = SQLITE_OK;

	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, cmd, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    un.data.type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < un.data.via.map.size; i++) {
			const msgpack_object *k = &un.data.via.map.ptr[i].key;
			const msgpack_object *v = &un.data.via.map.ptr[i].val;
			if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 2 &&
			    memcmp(k->via.str.ptr, "op", 2) == 0 && v->type == MSGPACK_OBJECT_STR &&
			    v->via.str.size < sizeof(op)) {
				memcpy(op, v->via.str.ptr, v->via.str.size);
				op[v->via.str.size] = '\0';
			}
		}
	}
	msgpack_unpacked_destroy(&un);

	if (strcmp(op, "vacuum") == 0) {
		if ((rc = sqlite3_exec(h, "VACUUM", NULL, NULL, NULL)) != SQLITE_OK)
			snprintf(err, sizeof(err), "vacuum: %s", sqlite3_errmsg(h));
	} else if (strcmp(op, "optimize") == 0) {
		rc = maint_optimize(h, err, sizeof(err));
	} else {
		snprintf(err, sizeof(err), "unknown maintenance operation");
		rc = SQLITE_ERROR;
	}
	if (rc != SQLITE_OK)
		log_warnx("automatic %s: %s", op[0] ? op : "maintenance", err);
	else
		log_info("automatic %s done", op);
	maint_pack(pk, rc == SQLITE_OK ? NULL : err);
	return rc == SQLITE_OK ? 0 : -1;
}
