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


static uint64_t
cs_snapshot_trailing(struct consensus *c)
{
	/* rqlite keeps 1.25 × the threshold after each snapshot. */
	return c->opts->snap_threshold + c->opts->snap_threshold / 4;
}

void
cs_snapshot_counters(struct consensus *c, uint64_t *snapshots, uint64_t *restores,
    uint64_t *installs, int *count)
{
	struct cs_snapshot *sn = &c->snap;

	*snapshots = sn->num_snapshots;
	*restores = sn->num_restores;
	*installs = sn->num_installs;
	*count = snapshot_store_count(sn->root);
}

const char *
cs_snapshot_dir(struct consensus *c)
{
	struct cs_snapshot *sn = &c->snap;

	return sn->root;
}

/* Fills meta from the latest snapshot (config decoded); false if there is none. */
bool
cs_snapshot_meta(struct consensus *c, struct raft_snapshot_meta *meta)
{
	struct cs_snapshot *sn = &c->snap;

	if (!sn->have_latest)
		return false;
	memset(meta, 0, sizeof(*meta));
	meta->index = sn->latest.index;
	meta->term = sn->latest.term;
	if (raft_config_decode(sn->latest.config, sn->latest.config_len, &meta->config) != 0)
		fatalx("snapshot %s: configuration does not decode", sn->latest.dir);
	return true;
}

void
cs_snapshot_load(struct consensus *c)
{
	struct cs_snapshot *sn = &c->snap;
	int rc;

	snprintf(sn->root, sizeof(sn->root), "%s/snapshots", c->opts->data_dir);
	rc = snapshot_store_latest(sn->root, &sn->latest);
	if (rc < 0)
		fatal("read snapshot store %s", sn->root);
	sn->have_latest = rc == 1;
	if (sn->have_latest)
		log_info("latest snapshot: index %" PRIu64 ", term %" PRIu64 ", %" PRIu64 " bytes",
		    sn->latest.index, sn->latest.term, sn->latest.size);
	(void)snapshot_store_prune(sn->root);
}

/* ---- restoring storage -------------------------------------------------------------- */

/* Storage reported it has applied `applied`: restore it from the snapshot if it is behind
 * it. True when a RESTORE was sent (storage_sent then is the snapshot's index). */
bool
cs_snapshot_restore_storage(struct consensus *c, uint64_t applied)
{
	struct cs_snapshot *sn = &c->snap;

	if (!sn->have_latest || applied >= sn->latest.index || c->links[PROC_STORAGE] == NULL)
		return false;
	log_info("restoring storage from the snapshot at %" PRIu64, sn->latest.index);
	ipc_begin(&c->out, IPC_RESTORE, 0);
	ipc_add_str(&c->out, "p", sn->latest.db_path);
	ipc_add_u64(&c->out, "i", sn->latest.index);
	ipc_finish(&c->out);
	(void)c->io->send_role(c, PROC_STORAGE, &c->out);
	c->apply.sent = sn->latest.index;
	c->apply.applied = sn->latest.index;
	sn->num_restores++;
	return true;
}

void
cs_snapshot_on_restore_result(struct consensus *c, struct ipc_msg *m)
{
	const char *e;
	size_t n;

	if (ipc_get_str(m, "e", &e, &n) == IPC_OK)
		fatalx("storage could not restore the snapshot: %.*s", (int)n, e);
}

/* ---- taking a snapshot ---------------------------------------------------------------- */

static void
cs_snapshot_answer_user(struct consensus *c, int status, const char *e)
{
	struct cs_snapshot *sn = &c->snap;

	if (sn->user.kind == WAITER_NONE)
		return;
	if (e != NULL) {
		cs_answer_error(c, &sn->user, IPC_EC_OTHER, e);
	} else {
		ipc_begin(&c->out, sn->user.reply, sn->user.request_id);
		if (status == 204)
			ipc_add_bool(&c->out, "none", true);
		ipc_finish(&c->out);
		cs_answer(c, &sn->user, &c->out);
	}
	sn->user.kind = WAITER_NONE;
}

/* Starts a snapshot of what storage has been handed. Returns 0 started, 1 nothing new,
 * -1 impossible now (with a reason logged). */
static int
cs_snapshot_start(struct consensus *c, uint64_t trailing)
{
	struct cs_snapshot *sn = &c->snap;
	char tag[32], db[PATH_MAX];

	if (sn->in_progress)
		return -1;
	if (c->links[PROC_STORAGE] == NULL || !c->apply.storage_known)
		return -1;
	if (c->apply.sent == 0 || (sn->have_latest && c->apply.sent <= sn->latest.index))
		return 1;
	snprintf(tag, sizeof(tag), "%" PRIu64, c->apply.sent);
	if (snapshot_store_begin(sn->root, tag, sn->tmp_dir, sizeof(sn->tmp_dir), db, sizeof(db)) != 0) {
		log_warn("snapshot: create %s", sn->tmp_dir);
		return -1;
	}
	sn->in_progress = true;
	sn->index = c->apply.sent;
	sn->trailing = trailing;
	/* Storage handles messages in order: the copy holds exactly the entries sent so far. */
	ipc_begin(&c->out, IPC_SNAPSHOT, 0);
	ipc_add_str(&c->out, "p", db);
	ipc_finish(&c->out);
	(void)c->io->send_role(c, PROC_STORAGE, &c->out);
	log_debug("snapshot at %" PRIu64 " started", sn->index);
	return 0;
}

/* The log part of a finished snapshot; needs the log to itself (not while it syncs). */
static void
cs_snapshot_compact(struct consensus *c)
{
	struct cs_snapshot *sn = &c->snap;
	uint64_t before;
	int rc;

	if (!sn->compact_pending || cs_sync_busy(c))
		return;
	sn->compact_pending = false;
	rc = raftlog_set_snapshot(c->log, sn->compact_index, sn->compact_term);
	if (rc != 0)
		fatalx("record snapshot in the log: %s", raftlog_strerror(rc));
	before = sn->compact_index > sn->compact_trailing ? sn->compact_index - sn->compact_trailing + 1 : 0;
	if (before > 1) {
		rc = raftlog_truncate_prefix(c->log, before);
		if (rc != 0)
			log_warnx("compact log before %" PRIu64 ": %s", before, raftlog_strerror(rc));
	}
	(void)snapshot_store_prune(sn->root);
}

void
cs_snapshot_after_sync(struct consensus *c)
{
	cs_snapshot_compact(c);
}

void
cs_snapshot_on_result(struct consensus *c, struct ipc_msg *m)
{
	struct cs_snapshot *sn = &c->snap;
	struct raft_snapshot_meta meta;
	const char *e = "no index in the answer";
	size_t n = strlen(e), cfg_len = 0;
	void *cfg = NULL;
	uint64_t index = 0, crc = 0, sz = 0;
	uint32_t crc32;
	bool have_sum;
	char err[256];
	int rc;

	if (!sn->in_progress)
		return;
	sn->in_progress = false;
	if (ipc_get_str(m, "e", &e, &n) == IPC_OK || ipc_get_u64(m, "i", &index) != IPC_OK) {
		snprintf(err, sizeof(err), "snapshot failed: %.*s", (int)n, e);
		log_warnx("%s", err);
		cs_snapshot_answer_user(c, 500, err);
		return;
	}
	if (index != sn->index)
		log_warnx("snapshot: storage copied index %" PRIu64 ", expected %" PRIu64, index, sn->index);
	/* The core gives the term and configuration at index and forgets older entries. */
	rc = raft_snapshot_taken(c->raft, index, sn->trailing, &meta);
	if (rc != 0 || raft_config_encode(&meta.config, &cfg, &cfg_len) != 0) {
		snprintf(err, sizeof(err), "snapshot at %" PRIu64 ": %s", index, raft_strerror(rc));
		log_warnx("%s", err);
		cs_snapshot_answer_user(c, 500, err);
		return;
	}
	snapshot_info_free(&sn->latest);
	/* Storage sums the copy on its own thread; otherwise the store reads it again here. */
	have_sum = ipc_get_u64(m, "crc", &crc) == IPC_OK && crc <= UINT32_MAX &&
	    ipc_get_u64(m, "sz", &sz) == IPC_OK;
	crc32 = (uint32_t)crc;
	if (snapshot_store_commit_sum(sn->root, sn->tmp_dir, index, meta.term, cfg, cfg_len,
	    have_sum ? &crc32 : NULL, sz, &sn->latest, err, sizeof(err)) != 0) {
		free(cfg);
		sn->have_latest = snapshot_store_latest(sn->root, &sn->latest) == 1;
		log_warnx("snapshot: %s", err);
		cs_snapshot_answer_user(c, 500, err);
		return;
	}
	free(cfg);
	sn->have_latest = true;
	sn->num_snapshots++;
	log_info("snapshot at index %" PRIu64 " (term %" PRIu64 ", %" PRIu64 " bytes)", index,
	    meta.term, sn->latest.size);
	sn->compact_pending = true;
	sn->compact_index = index;
	sn->compact_term = meta.term;
	sn->compact_trailing = sn->trailing;
	cs_snapshot_compact(c);
	cs_snapshot_answer_user(c, 200, NULL);
}

static void
cs_snapshot_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consensus *c = arg;
	struct cs_snapshot *sn = &c->snap;
	uint64_t since;

	(void)fd; (void)what;
	since = c->apply.sent - (sn->have_latest ? sn->latest.index : 0);
	if (c->opts->snap_threshold > 0 && since >= c->opts->snap_threshold) {
		(void)cs_snapshot_start(c, cs_snapshot_trailing(c));
		return;
	}
	/* -raft-snap-wal-size: a large SQLite WAL also calls for a snapshot (storage folds
	 * the WAL into the database after it). Only its size is looked at, never opened. */
	if (c->opts->on_disk && c->opts->snap_wal_size > 0 && since > 0) {
		char wal[PATH_MAX];
		struct stat st;
		snprintf(wal, sizeof(wal), "%s/db.sqlite-wal", c->opts->data_dir);
		if (stat(wal, &st) == 0 && (uint64_t)st.st_size >= c->opts->snap_wal_size)
			(void)cs_snapshot_start(c, cs_snapshot_trailing(c));
	}
}

void
cs_snapshot_init(struct consensus *c)
{
	struct cs_snapshot *sn = &c->snap;
	struct timeval tv;
	int64_t ms = c->opts->snap_interval_ms > 0 ? c->opts->snap_interval_ms : 10000;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	sn->timer = event_new(c->role.base, -1, EV_PERSIST, cs_snapshot_timer_cb, c);
	event_add(sn->timer, &tv);
}

/* POST /snapshot */
void
cs_snapshot_user(struct consensus *c, struct ipc_msg *m)
{
	struct cs_snapshot *sn = &c->snap;
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_SNAPSHOT_NOW_RESULT, 0 };
	uint64_t tl = 0;
	int rc;

	if (sn->user.kind != WAITER_NONE || sn->in_progress) {
		cs_answer_error(c, &w, IPC_EC_OTHER, "snapshot already in progress");
		return;
	}
	(void)ipc_get_u64(m, "tl", &tl);
	rc = cs_snapshot_start(c, tl > 0 ? tl : cs_snapshot_trailing(c));
	if (rc == 1) {
		sn->user = w;
		cs_snapshot_answer_user(c, 204, NULL);
	} else if (rc < 0) {
		cs_answer_error(c, &w, IPC_EC_OTHER, "cannot snapshot now");
	} else {
		sn->user = w;
	}
}

/* POST /reap */
void
cs_snapshot_reap(struct consensus *c, struct ipc_msg *m)
{
	struct cs_snapshot *sn = &c->snap;
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_REAP_RESULT, 0 };
	int n = snapshot_store_prune(sn->root);

	ipc_begin(&c->out, IPC_REAP_RESULT, m->request_id);
	ipc_add_u64(&c->out, "n", n > 0 ? (uint64_t)n : 0);
	ipc_finish(&c->out);
	cs_answer(c, &w, &c->out);
}

/* The newest published snapshot, or NULL; valid until the next snapshot or install. */
const struct snapshot_info *
cs_snapshot_current(struct consensus *c)
{
	struct cs_snapshot *sn = &c->snap;

	return sn->have_latest ? &sn->latest : NULL;
}

/* ---- receiving a snapshot (follower) ---------------------------------------------------- */

static void
cs_snapshot_recv_abort(struct consensus *c, const char *why)
{
	struct cs_snapshot *sn = &c->snap;

	log_warnx("snapshot transfer dropped: %s", why);
	if (sn->recv_fd != -1)
		close(sn->recv_fd);
	sn->recv_fd = -1;
	free(sn->recv_cfg);
	sn->recv_cfg = NULL;
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
cs_snapshot_on_chunk(struct consensus *c, struct ipc_msg *m)
{
	struct cs_snapshot *sn = &c->snap;
	uint64_t index, term, off, size, crc;
	const char *d, *cfg;
	size_t n, cfg_len;
	char db[PATH_MAX], tag[32], err[256];

	if (ipc_get_u64(m, "i", &index) != IPC_OK || ipc_get_u64(m, "t", &term) != IPC_OK ||
	    ipc_get_u64(m, "off", &off) != IPC_OK || ipc_get_u64(m, "sz", &size) != IPC_OK ||
	    ipc_get_u64(m, "crc", &crc) != IPC_OK ||
	    (ipc_get_bin(m, "d", &d, &n) != IPC_OK && !cs_snapshot_inflate(m, &d, &n)) ||
	    n > SNAP_CHUNK_MAX) {
		cs_snapshot_recv_abort(c, "malformed chunk");
		return;
	}
	if (off == 0) {
		if (sn->recv_fd != -1)
			cs_snapshot_recv_abort(c, "superseded by a new transfer");
		if (ipc_get_bin(m, "cfg", &cfg, &cfg_len) != IPC_OK || cfg_len > (1u << 20)) {
			cs_snapshot_recv_abort(c, "first chunk without a configuration");
			return;
		}
		snprintf(tag, sizeof(tag), "recv-%" PRIu64, index);
		if (snapshot_store_begin(sn->root, tag, sn->recv_tmp, sizeof(sn->recv_tmp), db,
		    sizeof(db)) != 0 ||
		    (sn->recv_fd = open(db, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1) {
			cs_snapshot_recv_abort(c, "cannot create the staging file");
			return;
		}
		sn->recv_cfg = malloc(cfg_len ? cfg_len : 1);
		if (sn->recv_cfg == NULL)
			fatalx("out of memory");
		memcpy(sn->recv_cfg, cfg, cfg_len);
		sn->recv_cfg_len = cfg_len;
		sn->recv_index = index;
		sn->recv_term = term;
		sn->recv_size = size;
		sn->recv_crc = (uint32_t)crc;
		sn->recv_sum = 0;
		sn->recv_off = 0;
	}
	if (sn->recv_fd == -1 || index != sn->recv_index || off != sn->recv_off || off + n > sn->recv_size) {
		cs_snapshot_recv_abort(c, "chunk out of order");
		return;
	}
	if (write(sn->recv_fd, d, n) != (ssize_t)n) {
		cs_snapshot_recv_abort(c, "write failed");
		return;
	}
	/* Summed as it arrives, so the last chunk does not mean re-reading the whole file. */
	sn->recv_sum = crc32c(sn->recv_sum, d, n);
	sn->recv_off += n;
	if (sn->recv_off < sn->recv_size)
		return;
	close(sn->recv_fd);
	sn->recv_fd = -1;
	/* Checked before publishing: a damaged copy never enters the store. */
	if (sn->recv_sum != sn->recv_crc) {
		cs_snapshot_recv_abort(c, "checksum mismatch");
		return;
	}
	if (snapshot_store_commit_sum(sn->root, sn->recv_tmp, sn->recv_index, sn->recv_term,
	    sn->recv_cfg, sn->recv_cfg_len, &sn->recv_sum, sn->recv_size, NULL, err,
	    sizeof(err)) != 0) {
		cs_snapshot_recv_abort(c, err);
		return;
	}
	free(sn->recv_cfg);
	sn->recv_cfg = NULL;
	sn->staged_index = sn->recv_index;
	log_info("received the snapshot at %" PRIu64, sn->staged_index);
}

/* An InstallSnapshot may reach the core only once its data is staged here. */
bool
cs_snapshot_staged(struct consensus *c, uint64_t index)
{
	struct cs_snapshot *sn = &c->snap;
	struct snapshot_info si;

	if (sn->staged_index == index)
		return true;
	/* Received before a restart: the store already holds it, verified. */
	memset(&si, 0, sizeof(si));
	if (snapshot_store_latest(sn->root, &si) == 1 && si.index == index)
		sn->staged_index = index;
	snapshot_info_free(&si);
	return sn->staged_index == index;
}

/* Ready batch step 1 on a follower: make the received snapshot current. */
void
cs_snapshot_install(struct consensus *c, const struct raft_snapshot_meta *meta)
{
	struct cs_snapshot *sn = &c->snap;
	struct snapshot_info si;
	int rc;

	memset(&si, 0, sizeof(si));
	if (snapshot_store_latest(sn->root, &si) != 1 || si.index != meta->index)
		fatalx("snapshot %" PRIu64 " to install is not in the store", meta->index);
	snapshot_info_free(&sn->latest);
	sn->latest = si;
	sn->have_latest = true;
	rc = raftlog_set_snapshot(c->log, meta->index, meta->term);
	if (rc != 0)
		fatalx("record installed snapshot: %s", raftlog_strerror(rc));
	sn->num_installs++;
	log_info("installed the snapshot at %" PRIu64, meta->index);
	if (c->links[PROC_STORAGE] != NULL && c->apply.storage_known)
		(void)cs_snapshot_restore_storage(c, 0);
	else
		c->apply.sent = meta->index;	/* its HELLO will ask for the restore */
	(void)snapshot_store_prune(sn->root);
}
