/*
 * Snapshot copies on a helper thread (see storage_snapshot.h).
 *
 * Why: a snapshot copies the whole database; done in the loop it stalled every write
 * and read for the length of the copy, which grows with the database (about 60 ms for
 * 10 MB here, over half a second for the tables a long benchmark leaves). The thread
 * touches only its own two connections (the pinned reader and the copy), so SQLite's
 * multi-thread mode is enough.
 */
#include "storage_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "raftlog/snapshot_store.h"
#include "storage_backup.h"

/* How much nicer than the loop the copying thread runs. */
#define SNAPSHOT_NICE	10

static struct {
	bool running;
	pthread_t thread;
	sqlite3 *src;			/* pinned read snapshot, owned by the thread */
	char path[PATH_MAX];
	char dbpath[PATH_MAX];		/* the live database, for the checkpoint */
	uint64_t index, request_id;
	storage_snapshot_done_fn *done;
	int rc;
	char err[512];
	bool summed;
	uint32_t crc;
	uint64_t size;
	int pipe[2];
	struct event *done_ev;
} sj = { .pipe = { -1, -1 } };

/* Debug builds: tests stretch the copy to show the loop does not wait for it. */
static void
sj_debug_delay(void)
{
#ifdef RQ_DEBUG
	const char *ms = getenv("RQLITE_DEBUG_SNAPSHOT_DELAY_MS");

	if (ms != NULL && atoi(ms) > 0)
		usleep((useconds_t)atoi(ms) * 1000);
#endif
}

/*
 * The copy is background work: on a busy node it must not take CPU from the loop
 * that answers requests (with all nodes of a cluster snapshotting at about the same
 * index, three copies otherwise share two cores with every request). Linux applies
 * a nice value to one thread when given its thread id.
 */
static void
sj_lower_priority(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	int nice_now;

	errno = 0;
	nice_now = getpriority(PRIO_PROCESS, (id_t)tid);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)tid,
		    nice_now + SNAPSHOT_NICE > 19 ? 19 : nice_now + SNAPSHOT_NICE);
}

/*
 * Copies the WAL's frames into the database file here, off the loop. Every write made
 * while the copy ran is in the WAL, which the pinned reader kept from being folded in:
 * tens of MB under heavy writes. The loop's TRUNCATE checkpoint after the snapshot
 * then only has the frames written since and the truncation left to do, instead of
 * stalling every request for the whole fold (W3t c=4: up to 150 ms). PASSIVE never
 * waits for the writer or readers; durability does not depend on this file (a crash
 * rebuilds it from the snapshot and the log), hence synchronous=OFF as on the loop's.
 */
static void
sj_checkpoint(void)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(sj.dbpath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) ==
	    SQLITE_OK &&
	    sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL) == SQLITE_OK)
		(void)sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	sqlite3_close(db);
}

static void *
sj_thread(void *arg)
{
	(void)arg;
	sj_lower_priority();
	sj_debug_delay();
	sj.rc = storage_backup_conn_to_file(sj.src, sj.path, STORAGE_BACKUP_WAL, false, sj.err,
	    sizeof(sj.err));
	/* Summed here so consensus need not read the copy again in its loop. */
	sj.summed = sj.rc == 0 && snapshot_file_sum(sj.path, &sj.crc, &sj.size) == 0;
	/* Closing ends the read transaction the loop opened. */
	if (sqlite3_close(sj.src) != SQLITE_OK)
		log_warnx("snapshot: close the reader: %s", sqlite3_errmsg(sj.src));
	sj.src = NULL;
	if (sj.rc == 0)
		sj_checkpoint();
	(void)!write(sj.pipe[1], "x", 1);
	return NULL;
}

static void
sj_finish(bool report)
{
	char buf[8];

	pthread_join(sj.thread, NULL);
	while (read(sj.pipe[0], buf, sizeof(buf)) > 0)
		;
	sj.running = false;
	if (!report)
		return;
	if (sj.rc != 0)
		log_warnx("snapshot to %s: %s", sj.path, sj.err);
	sj.done(sj.request_id, sj.index, sj.rc == 0 ? NULL : sj.err,
	    sj.summed ? &sj.crc : NULL, sj.size);
}

static void
sj_done_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	if (sj.running)
		sj_finish(true);
}

/* A read-only connection holding a read snapshot of the database file, or NULL. */
static sqlite3 *
sj_pin(struct storage_db *db, char *err, size_t errlen)
{
	const char *fname = sqlite3_db_filename(storage_db_rw_handle(db), "main");
	sqlite3 *src = NULL;

	if (sqlite3_open_v2(fname, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "snapshot: open %s: %s", fname,
		    src ? sqlite3_errmsg(src) : "out of memory");
		sqlite3_close(src);
		return NULL;
	}
	sqlite3_busy_timeout(src, 5000);
	/* The first read fixes the snapshot: everything applied so far, nothing later. */
	if (sqlite3_exec(src, "BEGIN; SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "snapshot: read snapshot: %s", sqlite3_errmsg(src));
		sqlite3_close(src);
		return NULL;
	}
	return src;
}

int
storage_snapshot_start(struct event_base *base, struct storage_db *db, const char *path,
    uint64_t index, uint64_t request_id, storage_snapshot_done_fn *done)
{
	const char *fname = sqlite3_db_filename(storage_db_rw_handle(db), "main");
	char err[512];

	if (sj.running)
		return -1;
	if (fname == NULL || fname[0] == '\0') {
		/* In memory: only the read-write connection reaches it. */
		int rc = storage_backup_to_file(db, path, STORAGE_BACKUP_WAL, false, err, sizeof(err));
		if (rc != 0)
			log_warnx("snapshot to %s: %s", path, err);
		done(request_id, index, rc == 0 ? NULL : err, NULL, 0);
		return 0;
	}
	if (sj.done_ev == NULL) {
		if (pipe2(sj.pipe, O_NONBLOCK | O_CLOEXEC) == -1)
			fatal("pipe");
		sj.done_ev = event_new(base, sj.pipe[0], EV_READ | EV_PERSIST, sj_done_cb, NULL);
		if (sj.done_ev == NULL || event_add(sj.done_ev, NULL) != 0)
			fatalx("snapshot: cannot watch the helper thread");
	}
	if ((sj.src = sj_pin(db, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		done(request_id, index, err, NULL, 0);
		return 0;
	}
	snprintf(sj.path, sizeof(sj.path), "%s", path);
	snprintf(sj.dbpath, sizeof(sj.dbpath), "%s", fname);
	sj.index = index;
	sj.request_id = request_id;
	sj.done = done;
	sj.rc = -1;
	sj.summed = false;
	sj.err[0] = '\0';
	if (pthread_create(&sj.thread, NULL, sj_thread, NULL) != 0) {
		sqlite3_close(sj.src);
		sj.src = NULL;
		done(request_id, index, "snapshot: cannot start the copy thread", NULL, 0);
		return 0;
	}
	sj.running = true;
	return 0;
}

bool
storage_snapshot_running(void)
{
	return sj.running;
}

void
storage_snapshot_wait(void)
{
	if (sj.running)
		sj_finish(false);
}
