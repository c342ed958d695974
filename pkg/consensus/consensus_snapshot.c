/*
 * Snapshots and log compaction, and bringing storage or a lagging follower up to date
 * from a snapshot.
 *
 * Taking one: every -raft-snap-int, if -raft-snap entries were applied since the last
 * snapshot (or on POST /snapshot), storage copies the database (SNAPSHOT) as of the
 * last entry handed to it; the copy is published in the snapshot store with its index,
 * term and configuration; then the log records it and drops whole segments before
 * index - trailing + 1, and older snapshots go.
 *
 * Using one: a storage that is behind the snapshot (a fresh start) gets RESTORE before
 * its APPLYs; a follower the leader has compacted past receives the snapshot file in
 * PEER_SNAPSHOT chunks followed by the InstallSnapshot message (consensus_snapshot_send.c),
 * and installs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "consensus_internal.h"
#include "raftlog/snapshot_store.h"

#define SNAP_CHUNK_MAX		(1u << 20)

static struct {
	char root[PATH_MAX];
	struct snapshot_info latest;
	bool have_latest;
	struct event *timer;
	/* taking */
	bool in_progress;
	uint64_t index;
	uint64_t trailing;
	char tmp_dir[PATH_MAX];
	struct waiter user;
	/* log work that waits for the sync thread */
	bool compact_pending;
	uint64_t compact_index, compact_term, compact_trailing;
	/* receiving (follower) */
	int recv_fd;
	uint64_t recv_index, recv_term, recv_off, recv_size;
	uint32_t recv_crc;		/* the leader's sum of the whole file */
	uint32_t recv_sum;		/* ours, of the chunks as written */
	char recv_tmp[PATH_MAX];
	void *recv_cfg;
	size_t recv_cfg_len;
	uint64_t staged_index;
	/* counters */
	uint64_t num_snapshots, num_restores, num_installs;
} sn = { .recv_fd = -1 };

static uint64_t
cs_snapshot_trailing(void)
{
	/* rqlite keeps 1.25 × the threshold after each snapshot. */
	return cs.opts->snap_threshold + cs.opts->snap_threshold / 4;
}

bool
cs_snapshot_latest(uint64_t *index, uint64_t *term)
{
	if (!sn.have_latest)
		return false;
	*index = sn.latest.index;
	*term = sn.latest.term;
	return true;
}

void
cs_snapshot_counters(uint64_t *snapshots, uint64_t *restores, uint64_t *installs, int *count)
{
	*snapshots = sn.num_snapshots;
	*restores = sn.num_restores;
	*installs = sn.num_installs;
	*count = snapshot_store_count(sn.root);
}

const char *
cs_snapshot_dir(void)
{
	return sn.root;
}

/* Fills meta from the latest snapshot (config decoded); false if there is none. */
bool
cs_snapshot_meta(struct raft_snapshot_meta *meta)
{
	if (!sn.have_latest)
		return false;
	memset(meta, 0, sizeof(*meta));
	meta->index = sn.latest.index;
	meta->term = sn.latest.term;
	if (raft_config_decode(sn.latest.config, sn.latest.config_len, &meta->config) != 0)
		fatalx("snapshot %s: configuration does not decode", sn.latest.dir);
	return true;
}

void
cs_snapshot_load(void)
{
	int rc;

	snprintf(sn.root, sizeof(sn.root), "%s/snapshots", cs.opts->data_dir);
	rc = snapshot_store_latest(sn.root, &sn.latest);
	if (rc < 0)
		fatal("read snapshot store %s", sn.root);
	sn.have_latest = rc == 1;
	if (sn.have_latest)
		log_info("latest snapshot: index %" PRIu64 ", term %" PRIu64 ", %" PRIu64 " bytes",
		    sn.latest.index, sn.latest.term, sn.latest.size);
	(void)snapshot_store_prune(sn.root);
}

/* ---- restoring storage -------------------------------------------------------------- */

/* Storage reported it has applied `applied`: restore it from the snapshot if it is behind
 * it. True when a RESTORE was sent (storage_sent then is the snapshot's index). */
bool
cs_snapshot_restore_storage(uint64_t applied)
{
	if (!sn.have_latest || applied >= sn.latest.index || cs.links[PROC_STORAGE] == NULL)
		return false;
	log_info("restoring storage from the snapshot at %" PRIu64, sn.latest.index);
	ipc_begin(&cs.w, IPC_RESTORE, 0);
	ipc_add_str(&cs.w, "p", sn.latest.db_path);
	ipc_add_u64(&cs.w, "i", sn.latest.index);
	ipc_finish(&cs.w);
	ipc_conn_send(cs.links[PROC_STORAGE], &cs.w);
	cs.storage_sent = sn.latest.index;
	cs.storage_applied = sn.latest.index;
	sn.num_restores++;
	return true;
}

void
cs_snapshot_on_restore_result(struct ipc_msg *m)
{
	const char *e;
	size_t n;

	if (ipc_get_str(m, "e", &e, &n) == IPC_OK)
		fatalx("storage could not restore the snapshot: %.*s", (int)n, e);
}

/* ---- taking a snapshot ---------------------------------------------------------------- */

static void
cs_snapshot_answer_user(int status, const char *e)
{
	if (sn.user.kind == WAITER_NONE)
		return;
	if (e != NULL) {
		cs_answer_error(&sn.user, e);
	} else {
		ipc_begin(&cs.w, sn.user.reply, sn.user.request_id);
		if (status == 204)
			ipc_add_bool(&cs.w, "none", true);
		ipc_finish(&cs.w);
		cs_answer(&sn.user);
	}
	sn.user.kind = WAITER_NONE;
}

/* Starts a snapshot of what storage has been handed. Returns 0 started, 1 nothing new,
 * -1 impossible now (with a reason logged). */
static int
cs_snapshot_start(uint64_t trailing)
{
	char tag[32], db[PATH_MAX];

	if (sn.in_progress)
		return -1;
	if (cs.links[PROC_STORAGE] == NULL || !cs.storage_known)
		return -1;
	if (cs.storage_sent == 0 || (sn.have_latest && cs.storage_sent <= sn.latest.index))
		return 1;
	snprintf(tag, sizeof(tag), "%" PRIu64, cs.storage_sent);
	if (snapshot_store_begin(sn.root, tag, sn.tmp_dir, sizeof(sn.tmp_dir), db, sizeof(db)) != 0) {
		log_warn("snapshot: create %s", sn.tmp_dir);
		return -1;
	}
	sn.in_progress = true;
	sn.index = cs.storage_sent;
	sn.trailing = trailing;
	/* Storage handles messages in order: the copy holds exactly the entries sent so far. */
	ipc_begin(&cs.w, IPC_SNAPSHOT, 0);
	ipc_add_str(&cs.w, "p", db);
	ipc_finish(&cs.w);
	ipc_conn_send(cs.links[PROC_STORAGE], &cs.w);
	log_debug("snapshot at %" PRIu64 " started", sn.index);
	return 0;
}

/* The log part of a finished snapshot; needs the log to itself (not while it syncs). */
static void
cs_snapshot_compact(void)
{
	uint64_t before;
	int rc;

	if (!sn.compact_pending || cs_sync_busy())
		return;
	sn.compact_pending = false;
	rc = raftlog_set_snapshot(cs.log, sn.compact_index, sn.compact_term);
	if (rc != 0)
		fatalx("record snapshot in the log: %s", raftlog_strerror(rc));
	before = sn.compact_index > sn.compact_trailing ? sn.compact_index - sn.compact_trailing + 1 : 0;
	if (before > 1) {
		rc = raftlog_truncate_prefix(cs.log, before);
		if (rc != 0)
			log_warnx("compact log before %" PRIu64 ": %s", before, raftlog_strerror(rc));
	}
	(void)snapshot_store_prune(sn.root);
}

void
cs_snapshot_after_sync(void)
{
	cs_snapshot_compact();
}

void
cs_snapshot_on_result(struct ipc_msg *m)
{
	struct raft_snapshot_meta meta;
	const char *e = "no index in the answer";
	size_t n = strlen(e), cfg_len = 0;
	void *cfg = NULL;
	uint64_t index = 0, crc = 0, sz = 0;
	uint32_t crc32;
	bool have_sum;
	char err[256];
	int rc;

	if (!sn.in_progress)
		return;
	sn.in_progress = false;
	if (ipc_get_str(m, "e", &e, &n) == IPC_OK || ipc_get_u64(m, "i", &index) != IPC_OK) {
		snprintf(err, sizeof(err), "snapshot failed: %.*s", (int)n, e);
		log_warnx("%s", err);
		cs_snapshot_answer_user(500, err);
		return;
	}
	if (index != sn.index)
		log_warnx("snapshot: storage copied index %" PRIu64 ", expected %" PRIu64, index, sn.index);
	/* The core gives the term and configuration at index and forgets older entries. */
	rc = raft_snapshot_taken(cs.raft, index, sn.trailing, &meta);
	if (rc != 0 || raft_config_encode(&meta.config, &cfg, &cfg_len) != 0) {
		snprintf(err, sizeof(err), "snapshot at %" PRIu64 ": %s", index, raft_strerror(rc));
		log_warnx("%s", err);
		cs_snapshot_answer_user(500, err);
		return;
	}
	snapshot_info_free(&sn.latest);
	/* Storage sums the copy on its own thread; otherwise the store reads it again here. */
	have_sum = ipc_get_u64(m, "crc", &crc) == IPC_OK && crc <= UINT32_MAX &&
	    ipc_get_u64(m, "sz", &sz) == IPC_OK;
	crc32 = (uint32_t)crc;
	if (snapshot_store_commit_sum(sn.root, sn.tmp_dir, index, meta.term, cfg, cfg_len,
	    have_sum ? &crc32 : NULL, sz, &sn.latest, err, sizeof(err)) != 0) {
		free(cfg);
		sn.have_latest = snapshot_store_latest(sn.root, &sn.latest) == 1;
		log_warnx("snapshot: %s", err);
		cs_snapshot_answer_user(500, err);
		return;
	}
	free(cfg);
	sn.have_latest = true;
	sn.num_snapshots++;
	log_info("snapshot at index %" PRIu64 " (term %" PRIu64 ", %" PRIu64 " bytes)", index,
	    meta.term, sn.latest.size);
	sn.compact_pending = true;
	sn.compact_index = index;
	sn.compact_term = meta.term;
	sn.compact_trailing = sn.trailing;
	cs_snapshot_compact();
	cs_snapshot_answer_user(200, NULL);
}

static void
cs_snapshot_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t since;

	(void)fd; (void)what; (void)arg;
	since = cs.storage_sent - (sn.have_latest ? sn.latest.index : 0);
	if (cs.opts->snap_threshold > 0 && since >= cs.opts->snap_threshold) {
		(void)cs_snapshot_start(cs_snapshot_trailing());
		return;
	}
	/* -raft-snap-wal-size: a large SQLite WAL also calls for a snapshot (storage folds
	 * the WAL into the database after it). Only its size is looked at, never opened. */
	if (cs.opts->on_disk && cs.opts->snap_wal_size > 0 && since > 0) {
		char wal[PATH_MAX];
		struct stat st;
		snprintf(wal, sizeof(wal), "%s/db.sqlite-wal", cs.opts->data_dir);
		if (stat(wal, &st) == 0 && (uint64_t)st.st_size >= cs.opts->snap_wal_size)
			(void)cs_snapshot_start(cs_snapshot_trailing());
	}
}

void
cs_snapshot_init(void)
{
	struct timeval tv;
	int64_t ms = cs.opts->snap_interval_ms > 0 ? cs.opts->snap_interval_ms : 10000;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	sn.timer = event_new(cs.role.base, -1, EV_PERSIST, cs_snapshot_timer_cb, NULL);
	event_add(sn.timer, &tv);
}

/* POST /snapshot */
void
cs_snapshot_user(struct ipc_msg *m)
{
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_SNAPSHOT_NOW_RESULT, 0 };
	uint64_t tl = 0;
	int rc;

	if (sn.user.kind != WAITER_NONE || sn.in_progress) {
		cs_answer_error(&w, "snapshot already in progress");
		return;
	}
	(void)ipc_get_u64(m, "tl", &tl);
	rc = cs_snapshot_start(tl > 0 ? tl : cs_snapshot_trailing());
	if (rc == 1) {
		sn.user = w;
		cs_snapshot_answer_user(204, NULL);
	} else if (rc < 0) {
		cs_answer_error(&w, "cannot snapshot now");
	} else {
		sn.user = w;
	}
}

/* POST /reap */
void
cs_snapshot_reap(struct ipc_msg *m)
{
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_REAP_RESULT, 0 };
	int n = snapshot_store_prune(sn.root);

	ipc_begin(&cs.w, IPC_REAP_RESULT, m->request_id);
	ipc_add_u64(&cs.w, "n", n > 0 ? (uint64_t)n : 0);
	ipc_finish(&cs.w);
	cs_answer(&w);
}

/* The newest published snapshot, or NULL; valid until the next snapshot or install. */
const struct snapshot_info *
cs_snapshot_current(void)
{
	return sn.have_latest ? &sn.latest : NULL;
}

/* ---- receiving a snapshot (follower) ---------------------------------------------------- */

static void
cs_snapshot_recv_abort(const char *why)
{
	log_warnx("snapshot transfer dropped: %s", why);
	if (sn.recv_fd != -1)
		close(sn.recv_fd);
	sn.recv_fd = -1;
	free(sn.recv_cfg);
	sn.recv_cfg = NULL;
}

/*
 * A chunk sent compressed (-compress-snap-transport on the sender): "dz" inflates to
 * exactly "n" bytes, at most SNAP_CHUNK_MAX, or the chunk is malformed.
 */
static bool
cs_snapshot_inflate(const struct ipc_msg *m, const char **d, size_t *n)
{
	static unsigned char raw[SNAP_CHUNK_MAX];
	const char *z;
	size_t zl;
	uint64_t want;
	uLongf got = sizeof(raw);

	if (ipc_get_bin(m, "dz", &z, &zl) != IPC_OK || ipc_get_u64(m, "n", &want) != IPC_OK ||
	    want > sizeof(raw) ||
	    uncompress(raw, &got, (const Bytef *)z, (uLong)zl) != Z_OK || got != want)
		return false;
	*d = (const char *)raw;
	*n = (size_t)got;
	return true;
}

void
cs_snapshot_on_chunk(struct ipc_msg *m)
{
	uint64_t index, term, off, size, crc;
	const char *d, *cfg;
	size_t n, cfg_len;
	char db[PATH_MAX], tag[32], err[256];

	if (ipc_get_u64(m, "i", &index) != IPC_OK || ipc_get_u64(m, "t", &term) != IPC_OK ||
	    ipc_get_u64(m, "off", &off) != IPC_OK || ipc_get_u64(m, "sz", &size) != IPC_OK ||
	    ipc_get_u64(m, "crc", &crc) != IPC_OK ||
	    (ipc_get_bin(m, "d", &d, &n) != IPC_OK && !cs_snapshot_inflate(m, &d, &n)) ||
	    n > SNAP_CHUNK_MAX) {
		cs_snapshot_recv_abort("malformed chunk");
		return;
	}
	if (off == 0) {
		if (sn.recv_fd != -1)
			cs_snapshot_recv_abort("superseded by a new transfer");
		if (ipc_get_bin(m, "cfg", &cfg, &cfg_len) != IPC_OK || cfg_len > (1u << 20)) {
			cs_snapshot_recv_abort("first chunk without a configuration");
			return;
		}
		snprintf(tag, sizeof(tag), "recv-%" PRIu64, index);
		if (snapshot_store_begin(sn.root, tag, sn.recv_tmp, sizeof(sn.recv_tmp), db,
		    sizeof(db)) != 0 ||
		    (sn.recv_fd = open(db, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
			cs_snapshot_recv_abort("cannot create the staging file");
			return;
		}
		sn.recv_cfg = malloc(cfg_len ? cfg_len : 1);
		if (sn.recv_cfg == NULL)
			fatalx("out of memory");
		memcpy(sn.recv_cfg, cfg, cfg_len);
		sn.recv_cfg_len = cfg_len;
		sn.recv_index = index;
		sn.recv_term = term;
		sn.recv_size = size;
		sn.recv_crc = (uint32_t)crc;
		sn.recv_sum = 0;
		sn.recv_off = 0;
	}
	if (sn.recv_fd == -1 || index != sn.recv_index || off != sn.recv_off || off + n > sn.recv_size) {
		cs_snapshot_recv_abort("chunk out of order");
		return;
	}
	if (write(sn.recv_fd, d, n) != (ssize_t)n) {
		cs_snapshot_recv_abort("write failed");
		return;
	}
	/* Summed as it arrives, so the last chunk does not mean re-reading the whole file. */
	sn.recv_sum = crc32c(sn.recv_sum, d, n);
	sn.recv_off += n;
	if (sn.recv_off < sn.recv_size)
		return;
	close(sn.recv_fd);
	sn.recv_fd = -1;
	/* Checked before publishing: a damaged copy never enters the store. */
	if (sn.recv_sum != sn.recv_crc) {
		cs_snapshot_recv_abort("checksum mismatch");
		return;
	}
	if (snapshot_store_commit_sum(sn.root, sn.recv_tmp, sn.recv_index, sn.recv_term,
	    sn.recv_cfg, sn.recv_cfg_len, &sn.recv_sum, sn.recv_size, NULL, err,
	    sizeof(err)) != 0) {
		cs_snapshot_recv_abort(err);
		return;
	}
	free(sn.recv_cfg);
	sn.recv_cfg = NULL;
	sn.staged_index = sn.recv_index;
	log_info("received the snapshot at %" PRIu64, sn.staged_index);
}

/* An InstallSnapshot may reach the core only once its data is staged here. */
bool
cs_snapshot_staged(uint64_t index)
{
	struct snapshot_info si;

	if (sn.staged_index == index)
		return true;
	/* Received before a restart: the store already holds it, verified. */
	memset(&si, 0, sizeof(si));
	if (snapshot_store_latest(sn.root, &si) == 1 && si.index == index)
		sn.staged_index = index;
	snapshot_info_free(&si);
	return sn.staged_index == index;
}

/* Ready batch step 1 on a follower: make the received snapshot current. */
void
cs_snapshot_install(const struct raft_snapshot_meta *meta)
{
	struct snapshot_info si;
	int rc;

	memset(&si, 0, sizeof(si));
	if (snapshot_store_latest(sn.root, &si) != 1 || si.index != meta->index)
		fatalx("snapshot %" PRIu64 " to install is not in the store", meta->index);
	snapshot_info_free(&sn.latest);
	sn.latest = si;
	sn.have_latest = true;
	rc = raftlog_set_snapshot(cs.log, meta->index, meta->term);
	if (rc != 0)
		fatalx("record installed snapshot: %s", raftlog_strerror(rc));
	sn.num_installs++;
	log_info("installed the snapshot at %" PRIu64, meta->index);
	if (cs.links[PROC_STORAGE] != NULL && cs.storage_known)
		(void)cs_snapshot_restore_storage(0);
	else
		cs.storage_sent = meta->index;	/* its HELLO will ask for the restore */
	(void)snapshot_store_prune(sn.root);
}
