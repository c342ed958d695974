/*
 * The storage process: owns the SQLite database (storage_db*.c) and what works on its
 * files: the read threads (storage_readers.c), snapshot copies (storage_snapshot.c),
 * backups and dumps (storage_backup.c, storage_dump.c, storage_load.c), loads
 * (storage_load.c, storage_load_chunks.c), maintenance entries (storage_maintenance.c)
 * and the clean-shutdown record (storage_clean.c). This file is its loop: the links,
 * the dispatch, the held results and the reads waiting for an index.
 *
 * From consensus: APPLY (committed entries, in log order) → APPLY_RESULT, and also
 *                 PROPOSE_RESULT to the gateway when the entry carries `gw` (the
 *                 gateway's own proposal); SNAPSHOT → SNAPSHOT_RESULT; RESTORE →
 *                 RESTORE_RESULT; QUERY (a follower's read this node serves as
 *                 leader) → QUERY_RESULT. STATE is ignored. On link up we send
 *                 STORAGE_HELLO with our applied index so consensus resends what we
 *                 have not applied.
 * From gateway:   QUERY (reads at none/weak/linearizable; `mi` = index that must be
 *                 applied first) → QUERY_RESULT; STORE_STATUS → STORE_STATUS_RESULT;
 *                 BACKUP → BACKUP_RESULT.
 *
 * A burst of APPLYs (what one read of the consensus link brought) shares one SQLite
 * transaction (storage_db_group.c); their results are held until it commits, at the
 * end of the burst or before any other message, and the reads that waited for those
 * entries run after it. A read runs first in the loop with a small step budget
 * (STORAGE_READ_INLINE_STEPS); one that needs more starts over on a read thread, so the
 * loop keeps applying entries while it runs. An in-memory database reads in the loop
 * only. The database file is reused at start only after a clean shutdown
 * (storage_clean.c); otherwise consensus rebuilds it from the snapshot and the log.
 */
#include "storage.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <sqlite3.h>

#include "common/log.h"
#include "common/role.h"
#include "ipc_codec.h"
#include "ipc_conn.h"
#include "storage_backup.h"
#include "storage_clean.h"
#include "storage_load_chunks.h"
#include "storage_maintenance.h"
#include "storage_readers.h"
#include "storage_snapshot.h"
#include "storage_db.h"
#include "storage_load.h"

/* Read threads at most (fewer if -db-max-ro-conns is smaller): reads are mostly CPU
 * work, and more threads only help the long ones not to queue behind each other. */
#define STORAGE_READ_THREADS	8
/* Steps a read may take in the loop before it moves to a read thread (~1 ms). */
#define STORAGE_READ_INLINE_STEPS	50000

/* A read waiting until the database has applied index `min_index`. */
struct storage_wait {
	enum proc_id from;	/* who asked: gateway, or consensus for a follower's read */
	uint64_t request_id;
	uint64_t min_index;
	char *cmd;
	size_t len;
	struct storage_wait *next;
};

struct storage {
	struct role role;
	const struct storage_options *opts;
	struct storage_db *db;
	struct ipc_conn *links[PROC_MAX];
	/* Bumped whenever a link is replaced or lost: a read's answer goes back only on
	 * the link that asked. */
	uint64_t link_gen[PROC_MAX];
	struct storage_readers *readers;	/* NULL: reads run in the loop */
	uint64_t applied_index;
	uint64_t applied_term;		/* /status store.fsm_term */
	struct timespec applied_at;	/* wall clock of the last apply: store.fsm_update_time */
	char db_path[PATH_MAX];
	struct storage_wait *waits;
	struct ipc_writer w;
	msgpack_sbuffer res;
	msgpack_packer res_pk;
	/* APPLY_RESULT frames of the entries applied in this burst, sent once the group's
	 * transaction has committed (storage_group_end). */
	msgpack_sbuffer held;
	msgpack_sbuffer held_gw;	/* PROPOSE_RESULTs for the gateway, likewise */
};

static struct storage st;

static void storage_on_query(struct ipc_conn *c, struct ipc_msg *m, enum proc_id from);

static void
storage_send_result_term(struct ipc_conn *to, enum ipc_type type, uint64_t request_id,
    uint64_t index, uint64_t term)
{
	ipc_begin(&st.w, type, request_id);
	if (index != 0)
		ipc_add_u64(&st.w, "i", index);
	if (term != 0)
		ipc_add_u64(&st.w, "t", term);
	ipc_add_bin(&st.w, "res", st.res.data, st.res.size);
	ipc_finish(&st.w);
	ipc_conn_send(to, &st.w);
}

static void
storage_send_result(struct ipc_conn *to, enum ipc_type type, uint64_t request_id,
    uint64_t index)
{
	storage_send_result_term(to, type, request_id, index, 0);
}

static void
storage_send_query_result(struct ipc_conn *to, uint64_t request_id, uint64_t applied,
    const char *res, size_t len)
{
	/* "ai": the index the answer reflects at least, for a gateway that ran it ahead of
	 * its read index (gateway_db.c). */
	ipc_begin(&st.w, IPC_QUERY_RESULT, request_id);
	ipc_add_u64(&st.w, "ai", applied);
	ipc_add_bin(&st.w, "res", res, len);
	ipc_finish(&st.w);
	ipc_conn_send(to, &st.w);
}

/* A read thread is done: answer on the link that asked, if it is still there. */
static void
storage_read_done(const struct storage_read_done *d, void *arg)
{
	(void)arg;
	if (d->from < 0 || d->from >= PROC_MAX || st.links[d->from] == NULL ||
	    st.link_gen[d->from] != d->link_gen)
		return;
	storage_send_query_result(st.links[d->from], d->request_id, d->applied, d->res,
	    d->res_len);
}

/*
 * Reads first run here with a small step budget (most are point reads of tens of
 * steps, and a thread handoff costs two wake-ups each way); one that needs more goes
 * to a read thread and starts over there, so a long read never holds the loop.
 */
static void
storage_run_query(enum proc_id from, uint64_t request_id, const char *cmd, size_t len)
{
	struct ipc_conn *to = st.links[from];
	int rc;

	if (to == NULL)
		return;
	st.res.size = 0;
	if (st.readers != NULL) {
		rc = storage_db_query_inline(st.db, cmd, len, &st.res_pk, STORAGE_READ_INLINE_STEPS);
		if (rc == 2) {
			storage_readers_submit(st.readers, from, st.link_gen[from], request_id,
			    st.applied_index, cmd, len);
			return;
		}
	} else {
		rc = storage_db_query(st.db, cmd, len, &st.res_pk);
	}
	if (rc != 0 && st.res.size == 0) {
		msgpack_pack_map(&st.res_pk, 2);
		msgpack_pack_str_with_body(&st.res_pk, "r", 1);
		msgpack_pack_array(&st.res_pk, 0);
		msgpack_pack_str_with_body(&st.res_pk, "e", 1);
		msgpack_pack_str_with_body(&st.res_pk, "query failed", 12);
	}
	storage_send_query_result(to, request_id, st.applied_index, st.res.data, st.res.size);
}

/* Runs the reads whose index has now been applied. */
static void
storage_release_waits(void)
{
	struct storage_wait **pp = &st.waits;

	while (*pp != NULL) {
		struct storage_wait *wt = *pp;
		if (wt->min_index > st.applied_index) {
			pp = &wt->next;
			continue;
		}
		*pp = wt->next;
		if (st.links[wt->from] != NULL)
			storage_run_query(wt->from, wt->request_id, wt->cmd, wt->len);
		free(wt->cmd);
		free(wt);
	}
}

/* Reads asked by a process whose link went away will never be collected. */
static void
storage_drop_waits(enum proc_id from)
{
	struct storage_wait **pp = &st.waits;

	while (*pp != NULL) {
		struct storage_wait *wt = *pp;
		if (wt->from != from) {
			pp = &wt->next;
			continue;
		}
		*pp = wt->next;
		free(wt->cmd);
		free(wt);
	}
}

/*
 * Keeps an APPLY_RESULT until the burst's group commits. An entry that carries "gw" is
 * the local gateway's proposal: its answer (PROPOSE_RESULT) goes to the gateway from
 * here, and consensus only learns the entry was applied.
 */
static void
storage_hold_result(struct ipc_msg *m, uint64_t index, uint64_t term)
{
	uint64_t gw_id;
	const char *lr;
	size_t lrlen;
	bool direct = ipc_get_u64(m, "gw", &gw_id) == IPC_OK &&
	    ipc_get_str(m, "lr", &lr, &lrlen) == IPC_OK;

	if (direct) {
		ipc_begin(&st.w, IPC_PROPOSE_RESULT, gw_id);
		ipc_add_u64(&st.w, "i", index);
		ipc_add_bin(&st.w, "res", st.res.data, st.res.size);
		ipc_add_strn(&st.w, "lr", lr, lrlen);
		ipc_finish(&st.w);
		if (msgpack_sbuffer_write(&st.held_gw, st.w.sb.data, st.w.sb.size) != 0)
			fatalx("out of memory");
	}
	ipc_begin(&st.w, IPC_APPLY_RESULT, m->request_id);
	ipc_add_u64(&st.w, "i", index);
	if (term != 0)
		ipc_add_u64(&st.w, "t", term);
	ipc_add_bin(&st.w, "res", st.res.data, direct ? 0 : st.res.size);
	ipc_finish(&st.w);
	if (msgpack_sbuffer_write(&st.held, st.w.sb.data, st.w.sb.size) != 0)
		fatalx("out of memory");
}

/*
 * The end of a burst of APPLYs, or something else to do: commit the group, then let
 * the results go and run the reads that waited for these entries. Anything that reads
 * through another connection, or answers anyone, comes after this.
 */
static void
storage_group_end(void)
{
	if (st.db != NULL)
		storage_db_group_end(st.db);
	if (st.held_gw.size > 0 && st.links[PROC_GATEWAY] != NULL)
		ipc_conn_send_raw(st.links[PROC_GATEWAY], st.held_gw.data, st.held_gw.size);
	st.held_gw.size = 0;
	if (st.held.size == 0)
		return;
	if (st.links[PROC_CONSENSUS] != NULL)
		ipc_conn_send_raw(st.links[PROC_CONSENSUS], st.held.data, st.held.size);
	st.held.size = 0;
	storage_release_waits();
}

static void
storage_consensus_drained(struct ipc_conn *c, void *arg)
{
	(void)c; (void)arg;
	storage_group_end();
}

static void
storage_on_apply(struct ipc_conn *c, struct ipc_msg *m)
{
	uint64_t index, type = 0, term = 0;
	const char *cmd;
	size_t len;
	int kind;

	if (ipc_get_u64(m, "i", &index) != IPC_OK || ipc_get_bin(m, "c", &cmd, &len) != IPC_OK) {
		log_warnx("APPLY without index or command, ignored");
		return;
	}
	if (index <= st.applied_index) {
		/* Consensus re-sends after a reconnect; applying twice would repeat writes. */
		log_debug("APPLY %llu already applied", (unsigned long long)index);
		return;
	}
	st.res.size = 0;
	(void)ipc_get_u64(m, "ty", &type);
	if (type != STORAGE_ENTRY_COMMAND)
		storage_db_group_end(st.db);
	/* The entry's term seeds random() for it, and goes back with the result so
	 * consensus can tell its proposal from another leader's entry at that index. */
	(void)ipc_get_u64(m, "t", &term);
	storage_db_entry(st.db, index, term);
	storage_load_chunks_tick(index);
	if (type == STORAGE_ENTRY_COMMAND && ipc_msgpack_validate(cmd, len) != 0) {
		log_warnx("entry %llu holds a malformed command; applied as a no-op",
		    (unsigned long long)index);
		msgpack_pack_map(&st.res_pk, 2);
		msgpack_pack_str_with_body(&st.res_pk, "r", 1);
		msgpack_pack_array(&st.res_pk, 0);
		msgpack_pack_str_with_body(&st.res_pk, "e", 1);
		msgpack_pack_str_with_body(&st.res_pk, "malformed command", 17);
	} else if (type != STORAGE_ENTRY_COMMAND) {
		/* No-op and configuration entries only move the applied index. */
		msgpack_pack_map(&st.res_pk, 0);
	} else if ((kind = storage_command_kind(cmd, len)) == IPC_CMD_LOAD_FILE ||
	    kind == IPC_CMD_LOAD_SQL) {
		storage_db_group_end(st.db);
		(void)storage_apply_load(st.db, st.opts->data_dir, cmd, len, &st.res_pk);
	} else if (kind == IPC_CMD_MAINTENANCE) {
		storage_db_group_end(st.db);	/* VACUUM cannot run inside a transaction */
		(void)storage_maintenance_apply(st.db, cmd, len, &st.res_pk);
	} else if (kind == IPC_CMD_LOAD_CHUNK) {
		storage_db_group_end(st.db);
		storage_apply_load_chunk(st.db, st.opts->data_dir, index, cmd, len, &st.res_pk);
	} else if (storage_db_apply(st.db, cmd, len, &st.res_pk) != 0 && st.res.size == 0) {
		msgpack_pack_map(&st.res_pk, 2);
		msgpack_pack_str_with_body(&st.res_pk, "r", 1);
		msgpack_pack_array(&st.res_pk, 0);
		msgpack_pack_str_with_body(&st.res_pk, "e", 1);
		msgpack_pack_str_with_body(&st.res_pk, "apply failed", 12);
	}
	st.applied_index = index;
	st.applied_term = term;
	clock_gettime(CLOCK_REALTIME, &st.applied_at);
	storage_hold_result(m, index, term);
}

/* The copy for SNAPSHOT is made (or failed): answer consensus. */
static void
storage_snapshot_done(uint64_t request_id, uint64_t index, const char *err, const uint32_t *crc,
    uint64_t size)
{
	ipc_begin(&st.w, IPC_SNAPSHOT_RESULT, request_id);
	if (err != NULL) {
		ipc_add_str(&st.w, "e", err);
	} else {
		ipc_add_u64(&st.w, "i", index);
		if (crc != NULL) {
			ipc_add_u64(&st.w, "crc", *crc);
			ipc_add_u64(&st.w, "sz", size);
		}
		/* The copy holds everything up to index: fold the WAL into the database file
		 * now, so it does not keep growing between snapshots. */
		if (st.db != NULL)
			(void)sqlite3_wal_checkpoint_v2(storage_db_rw_handle(st.db), NULL,
			    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	ipc_finish(&st.w);
	if (st.links[PROC_CONSENSUS] != NULL)
		ipc_conn_send(st.links[PROC_CONSENSUS], &st.w);
}

/* SNAPSHOT {p}: a consistent copy of the database as of the last applied entry, made
 * without holding up later entries (storage_snapshot.c). */
static void
storage_on_snapshot(struct ipc_conn *c, struct ipc_msg *m)
{
	char path[PATH_MAX];
	const char *refuse = NULL;

	if (ipc_get_strbuf(m, "p", path, sizeof(path)) != IPC_OK)
		refuse = "snapshot without a path";
	else if (storage_load_chunks_busy())
		refuse = "a chunked load is in progress";	/* could not be resumed from */
	else if (storage_snapshot_start(st.role.base, st.db, path, st.applied_index,
	    m->request_id, storage_snapshot_done) != 0)
		refuse = "a snapshot is already being copied";
	if (refuse != NULL) {
		ipc_begin(&st.w, IPC_SNAPSHOT_RESULT, m->request_id);
		ipc_add_str(&st.w, "e", refuse);
		ipc_finish(&st.w);
		ipc_conn_send(c, &st.w);
	}
}

/* RESTORE {p, i}: the database becomes the snapshot file p, which holds entries up to i. */
static void
storage_on_restore(struct ipc_conn *c, struct ipc_msg *m)
{
	char path[PATH_MAX], err[512];
	uint64_t index;

	ipc_begin(&st.w, IPC_RESTORE_RESULT, m->request_id);
	if (ipc_get_strbuf(m, "p", path, sizeof(path)) != IPC_OK ||
	    ipc_get_u64(m, "i", &index) != IPC_OK) {
		ipc_add_str(&st.w, "e", "restore without a path or index");
	} else if (storage_load_file(st.db, path, err, sizeof(err)) != 0) {
		log_warnx("restore from %s: %s", path, err);
		ipc_add_str(&st.w, "e", err);
	} else {
		log_info("database restored from the snapshot at %llu", (unsigned long long)index);
		storage_load_chunks_reset();
		st.applied_index = index;
		ipc_add_u64(&st.w, "i", index);
	}
	ipc_finish(&st.w);
	ipc_conn_send(c, &st.w);
	storage_release_waits();
}

static void
storage_dispatch_consensus(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)arg;
	if (st.db == NULL)
		return;		/* stopping: the database is closed */
	if (m->type != IPC_APPLY)
		storage_group_end();
	switch (m->type) {
	case IPC_APPLY:
		storage_on_apply(c, m);
		break;
	case IPC_SNAPSHOT:
		storage_on_snapshot(c, m);
		break;
	case IPC_RESTORE:
		storage_on_restore(c, m);
		break;
	case IPC_QUERY:
		/* A read this node serves as leader on behalf of a follower. */
		storage_on_query(c, m, PROC_CONSENSUS);
		break;
	case IPC_STATE:
		break;
	default:
		log_warnx("unexpected %s from consensus", ipc_type_name(m->type));
	}
}

static void
storage_on_query(struct ipc_conn *c, struct ipc_msg *m, enum proc_id from)
{
	const char *cmd;
	size_t len;
	uint64_t min_index = 0;
	struct storage_wait *wt;

	if (ipc_get_bin(m, "c", &cmd, &len) != IPC_OK || ipc_msgpack_validate(cmd, len) != 0) {
		log_warnx("QUERY without a valid command");
		st.res.size = 0;
		msgpack_pack_map(&st.res_pk, 2);
		msgpack_pack_str_with_body(&st.res_pk, "r", 1);
		msgpack_pack_array(&st.res_pk, 0);
		msgpack_pack_str_with_body(&st.res_pk, "e", 1);
		msgpack_pack_str_with_body(&st.res_pk, "malformed command", 17);
		storage_send_result(c, IPC_QUERY_RESULT, m->request_id, 0);
		return;
	}
	(void)ipc_get_u64(m, "mi", &min_index);
	if (min_index <= st.applied_index) {
		storage_run_query(from, m->request_id, cmd, len);
		return;
	}
	wt = calloc(1, sizeof(*wt));
	if (wt == NULL || (wt->cmd = malloc(len ? len : 1)) == NULL)
		fatalx("out of memory");
	memcpy(wt->cmd, cmd, len);
	wt->len = len;
	wt->request_id = m->request_id;
	wt->from = from;
	wt->min_index = min_index;
	wt->next = st.waits;
	st.waits = wt;
}

static void
storage_on_status(struct ipc_conn *c, struct ipc_msg *m)
{
	struct storage_db_counters dc;

	storage_db_counters(st.db, &dc);
	st.res.size = 0;
	msgpack_pack_map(&st.res_pk, 7);
	{
		/* Go's zero time when nothing was applied by this process yet. */
		char at[64] = "0001-01-01T00:00:00Z";
		struct tm tm;
		if (st.applied_at.tv_sec != 0) {
			size_t n;
			gmtime_r(&st.applied_at.tv_sec, &tm);
			n = strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%S", &tm);
			snprintf(at + n, sizeof(at) - n, ".%09ldZ", st.applied_at.tv_nsec);
		}
		msgpack_pack_str_with_body(&st.res_pk, "applied_term", 12);
		msgpack_pack_uint64(&st.res_pk, st.applied_term);
		msgpack_pack_str_with_body(&st.res_pk, "applied_at", 10);
		msgpack_pack_str_with_body(&st.res_pk, at, strlen(at));
		msgpack_pack_str_with_body(&st.res_pk, "fk", 2);
		if (st.opts->fk)
			msgpack_pack_true(&st.res_pk);
		else
			msgpack_pack_false(&st.res_pk);
	}
	msgpack_pack_str_with_body(&st.res_pk, "db", 2);
	msgpack_pack_map(&st.res_pk, 12);
#define STORAGE_COUNTER_(n) \
	msgpack_pack_str_with_body(&st.res_pk, #n, strlen(#n)); \
	msgpack_pack_uint64(&st.res_pk, dc.n);
	STORAGE_COUNTER_(executions) STORAGE_COUNTER_(execution_errors)
	STORAGE_COUNTER_(queries) STORAGE_COUNTER_(query_errors)
	STORAGE_COUNTER_(execute_transactions) STORAGE_COUNTER_(query_transactions)
	STORAGE_COUNTER_(request_transactions) STORAGE_COUNTER_(cache_hits)
	STORAGE_COUNTER_(cache_misses) STORAGE_COUNTER_(apply_groups)
	STORAGE_COUNTER_(grouped_entries) STORAGE_COUNTER_(group_replays)
#undef STORAGE_COUNTER_
	msgpack_pack_str_with_body(&st.res_pk, "applied_index", 13);
	msgpack_pack_uint64(&st.res_pk, st.applied_index);
	msgpack_pack_str_with_body(&st.res_pk, "on_disk", 7);
	if (st.opts->on_disk)
		msgpack_pack_true(&st.res_pk);
	else
		msgpack_pack_false(&st.res_pk);
	msgpack_pack_str_with_body(&st.res_pk, "sqlite3", 7);
	(void)storage_db_stats(st.db, &st.res_pk);	/* always packs one map */
	storage_send_result(c, IPC_STORE_STATUS_RESULT, m->request_id, 0);
}

/* BACKUP {f: binary|sql|delete, vacuum, compress, tables: "a,b"} → BACKUP_RESULT {p} */
static void
storage_on_backup(struct ipc_conn *c, struct ipc_msg *m)
{
	struct storage_backup_req req;
	char fmt[16] = "binary", tables[4096] = "", path[PATH_MAX], err[512];
	const char *names[256];
	size_t n = 0;

	memset(&req, 0, sizeof(req));
	req.dir = st.opts->data_dir;
	(void)ipc_get_strbuf(m, "f", fmt, sizeof(fmt));
	(void)ipc_get_bool(m, "vacuum", &req.vacuum);
	(void)ipc_get_bool(m, "compress", &req.compress);
	req.fmt = strcmp(fmt, "sql") == 0 ? STORAGE_BACKUP_FMT_SQL :
	    strcmp(fmt, "delete") == 0 ? STORAGE_BACKUP_FMT_DELETE : STORAGE_BACKUP_FMT_BINARY;
	if (ipc_get_strbuf(m, "tables", tables, sizeof(tables)) == IPC_OK && tables[0] != '\0') {
		char *save = NULL;
		for (char *t = strtok_r(tables, ",", &save); t != NULL && n < 256;
		    t = strtok_r(NULL, ",", &save))
			names[n++] = t;
		req.tables = names;
		req.ntables = n;
	}
	ipc_begin(&st.w, IPC_BACKUP_RESULT, m->request_id);
	if (storage_backup_request(st.db, &req, path, sizeof(path), err, sizeof(err)) != 0)
		ipc_add_str(&st.w, "e", err);
	else
		ipc_add_str(&st.w, "p", path);
	ipc_finish(&st.w);
	ipc_conn_send(c, &st.w);
}

static void
storage_dispatch_gateway(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)arg;
	if (st.db == NULL)
		return;		/* stopping: the database is closed */
	storage_group_end();
	switch (m->type) {
	case IPC_QUERY:
		storage_on_query(c, m, PROC_GATEWAY);
		break;
	case IPC_STORE_STATUS:
		storage_on_status(c, m);
		break;
	case IPC_BACKUP:
		storage_on_backup(c, m);
		break;
	default:
		log_warnx("unexpected %s from gateway", ipc_type_name(m->type));
	}
}

static void
storage_link_closed(struct ipc_conn *c, const char *reason, void *arg)
{
	enum proc_id peer = (enum proc_id)(intptr_t)arg;

	log_info("link to %s closed: %s", proc_name(peer), reason);
	if (peer == PROC_CONSENSUS)
		storage_group_end();	/* before the link goes: the results still can */
	if (st.links[peer] == c) {
		st.links[peer] = NULL;
		st.link_gen[peer]++;
	}
	storage_drop_waits(peer);
}

static void
storage_on_link(enum proc_id peer, int fd, void *ctx)
{
	ipc_msg_cb *cb;

	(void)ctx;
	if (peer == PROC_CONSENSUS)
		cb = storage_dispatch_consensus;
	else if (peer == PROC_GATEWAY)
		cb = storage_dispatch_gateway;
	else {
		log_warnx("link to %s not expected", proc_name(peer));
		close(fd);
		return;
	}
	if (peer == PROC_CONSENSUS)
		storage_group_end();
	if (st.links[peer] != NULL)
		ipc_conn_free(st.links[peer]);
	st.link_gen[peer]++;
	storage_drop_waits(peer);
	st.links[peer] = ipc_conn_new(st.role.base, fd, proc_name(peer), cb,
	    storage_link_closed, (void *)(intptr_t)peer);
	if (st.links[peer] != NULL)
		ipc_conn_set_ends(st.links[peer], IPC_END_ST,
		    peer == PROC_CONSENSUS ? IPC_END_CS : IPC_END_GW);
	if (peer == PROC_CONSENSUS && st.links[peer] != NULL)
		ipc_conn_set_drained(st.links[peer], storage_consensus_drained);
	if (peer == PROC_CONSENSUS && st.links[peer] != NULL) {
		ipc_begin(&st.w, IPC_STORAGE_HELLO, 0);
		ipc_add_u64(&st.w, "i", st.applied_index);
		ipc_finish(&st.w);
		ipc_conn_send(st.links[peer], &st.w);
	}
}

static void
storage_on_listen(const char *name, int fd, void *ctx)
{
	(void)ctx;
	log_warnx("listener %s not expected", name);
	close(fd);
}

static void
storage_on_shutdown(void *ctx)
{
	(void)ctx;
	/* Closing folds the WAL into the file; then the file can be reused at start. */
	storage_group_end();
	storage_snapshot_wait();
	storage_readers_free(st.readers);
	st.readers = NULL;
	storage_db_close(st.db);
	st.db = NULL;
	if (st.opts->on_disk && st.applied_index > 0 && !storage_load_chunks_busy() &&
	    storage_clean_record(st.opts->data_dir, st.db_path, st.applied_index) != 0)
		log_warn("record clean shutdown");
	role_exit(&st.role);
}

static const struct role_ops storage_ops = {
	.id = PROC_STORAGE,
	.on_link = storage_on_link,
	.on_listen = storage_on_listen,
	.on_shutdown = storage_on_shutdown,
	.heartbeat_thread = true,	/* restores and statements can be long */
};

static void
storage_remove_db_files(const char *path)
{
	static const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
		if (unlink(p) == -1 && errno != ENOENT)
			fatal("remove %s", p);
	}
}

/* A long statement is running: it is progress (role.h). */
static void
storage_busy_cb(void *arg)
{
	(void)arg;
	role_progress(&st.role);
}

void
storage_main(const struct storage_options *opts)
{
	struct storage_db_options dbo;
	char path[PATH_MAX], err[512];

	memset(&st, 0, sizeof(st));
	st.opts = opts;
	role_init(&st.role, &storage_ops, &st);
	ipc_writer_init(&st.w);
	msgpack_sbuffer_init(&st.res);
	msgpack_packer_init(&st.res_pk, &st.res, msgpack_sbuffer_write);
	msgpack_sbuffer_init(&st.held);
	msgpack_sbuffer_init(&st.held_gw);

	memset(&dbo, 0, sizeof(dbo));
	if (opts->on_disk) {
		snprintf(path, sizeof(path), "%s/db.sqlite", opts->data_dir);
		snprintf(st.db_path, sizeof(st.db_path), "%s", path);
		/* Reused only if a clean shutdown vouches for it; otherwise rebuilt from the
		 * snapshot and the log. */
		if (storage_clean_take(opts->data_dir, path, &st.applied_index)) {
			log_info("reusing the database file of the last clean shutdown (index %llu)",
			    (unsigned long long)st.applied_index);
		} else {
			st.applied_index = 0;
			storage_remove_db_files(path);
		}
		dbo.path = path;
	} else {
		dbo.path = ":memory:";
	}
	dbo.fk = opts->fk;
	dbo.busy_cb = storage_busy_cb;
	dbo.max_ro_conns = opts->max_ro_conns;
	/* A file database reads on threads; the apply loop keeps a small pool of its own
	 * for strong reads (entries in the log) and /status. */
	if (opts->on_disk)
		dbo.readers = opts->max_ro_conns < STORAGE_READ_THREADS ?
		    (opts->max_ro_conns > 0 ? opts->max_ro_conns : 1) : STORAGE_READ_THREADS;
	dbo.lim.read_timeout_ms = opts->read_timeout_ms;
	dbo.lim.max_value = opts->max_value;
	dbo.lim.max_result = opts->max_result;
	if (storage_db_open(&dbo, &st.db, err, sizeof(err)) != 0)
		fatalx("open database %s: %s", dbo.path, err);
	if (dbo.readers > 0 &&
	    (st.readers = storage_readers_new(st.role.base, st.db, dbo.readers, storage_read_done,
	    NULL)) == NULL)
		log_warn("read threads: reads run in the apply loop");
	/* RQLITE_NO_GROUP_APPLY=1 gives every entry its own transaction again, to compare. */
	storage_db_group_enable(st.db, getenv("RQLITE_NO_GROUP_APPLY") == NULL);
	log_info("database %s open", dbo.path);
	role_ready(&st.role);
	role_run(&st.role);
}
