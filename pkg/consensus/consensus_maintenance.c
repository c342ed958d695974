/*
 * Automatic VACUUM and PRAGMA optimize (-auto-vacuum-int, -auto-optimize-int).
 *
 * rqlite runs them on each node by itself before a snapshot. Here the leader proposes
 * them as log entries, so every node runs them at the same log index. Why: VACUUM
 * renumbers the rowids of tables without an INTEGER PRIMARY KEY, and ANALYZE changes
 * query plans (hence the order in which `INSERT … SELECT` assigns rowids); run at a
 * different moment on each node, either would let the replicas drift apart.
 *
 * When each task last ran is known on every node: each committed maintenance entry is
 * recognised by its exact bytes as it goes to storage (cs_maintenance_applied). The
 * times survive restarts in DATA_DIR/maintenance. A task never run counts its interval
 * from when it was first enabled on this node, as rqlite does.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "common/log.h"
#include "consensus_internal.h"
#include "ipc_cmd.h"

/* How often the leader looks whether a task is due, at most. */
#define MAINT_CHECK_MAX_MS	60000
#define MAINT_CHECK_MIN_MS	100


static int64_t
maint_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* {k: 8, op: name}: storage_maintenance.c runs it. */
static void
maint_build(struct maint_task *t)
{
	msgpack_sbuffer_init(&t->cmd);
	ipc_cmd_pack_maintenance(&t->cmd, t->name);
}

/* The times file: one "NAME_base MS" and "NAME_last MS" line per task. */
static void
maint_load(struct cs_maintenance *mt)
{
	FILE *f = fopen(mt->path, "r");
	char key[64];
	long long v;

	if (f == NULL) {
		if (errno != ENOENT)
			log_warnx("maintenance: %s: %s", mt->path, strerror(errno));
		return;
	}
	while (fscanf(f, "%63s %lld", key, &v) == 2) {
		for (size_t i = 0; i < MAINT_NTASKS; i++) {
			struct maint_task *t = &mt->tasks[i];
			size_t n = strlen(t->name);
			if (strncmp(key, t->name, n) != 0 || key[n] != '_')
				continue;
			if (strcmp(key + n, "_base") == 0)
				t->base_ms = v;
			else if (strcmp(key + n, "_last") == 0)
				t->last_ms = v;
		}
	}
	fclose(f);
}

/* Written whole to a temporary file, then renamed over the old one. */
static void
maint_save(struct cs_maintenance *mt)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	bool ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", mt->path);
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warnx("maintenance: %s: %s", tmp, strerror(errno));
		return;
	}
	for (size_t i = 0; i < MAINT_NTASKS; i++)
		fprintf(f, "%s_base %" PRId64 "\n%s_last %" PRId64 "\n", mt->tasks[i].name,
		    mt->tasks[i].base_ms, mt->tasks[i].name, mt->tasks[i].last_ms);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, mt->path) != 0) {
		log_warnx("maintenance: save %s: %s", mt->path, strerror(errno));
		(void)unlink(tmp);
	}
}

static void
maint_tick(evutil_socket_t fd, short what, void *arg)
{
	struct consensus *c = arg;
	struct cs_maintenance *mt = &c->maint;
	int64_t now = maint_wall_ms();
	bool changed = false;

	(void)fd; (void)what;
	if (raft_state(c->raft) != RAFT_LEADER)
		return;
	for (size_t i = 0; i < MAINT_NTASKS; i++) {
		struct maint_task *t = &mt->tasks[i];
		int64_t from = t->last_ms > 0 ? t->last_ms : t->base_ms;
		uint64_t index, term;

		if (t->interval_ms <= 0 || now - from < t->interval_ms)
			continue;
		if (raft_propose(c->raft, t->cmd.data, t->cmd.size, &index, &term) != 0)
			continue;	/* not ready to lead yet: the next tick tries again */
		log_info("automatic %s proposed at index %" PRIu64 " (every %" PRId64 " ms)",
		    t->name, index, t->interval_ms);
		/* Counted as run now, so the ticks until it commits do not propose it again;
		 * the commit sets the time on every node. */
		t->last_ms = now;
		t->proposed++;
		changed = true;
		c->stats.proposals++;
		c->io->schedule_ready(c);
	}
	if (changed)
		maint_save(mt);
}

void
cs_maintenance_init(struct consensus *c)
{
	struct cs_maintenance *mt = &c->maint;
	int64_t now = maint_wall_ms(), check = MAINT_CHECK_MAX_MS;
	bool any = false;

	snprintf(mt->path, sizeof(mt->path), "%s/maintenance", c->opts->data_dir);
	mt->tasks[0].name = "vacuum";
	mt->tasks[1].name = "optimize";
	mt->tasks[0].interval_ms = c->opts->auto_vacuum_ms > 0 ? c->opts->auto_vacuum_ms : 0;
	mt->tasks[1].interval_ms = c->opts->auto_optimize_ms > 0 ? c->opts->auto_optimize_ms : 0;
	maint_load(mt);
	for (size_t i = 0; i < MAINT_NTASKS; i++) {
		struct maint_task *t = &mt->tasks[i];
		maint_build(t);
		if (t->interval_ms == 0) {
			t->base_ms = t->last_ms = 0;	/* off: forget, as rqlite does */
			continue;
		}
		any = true;
		if (t->last_ms == 0 && t->base_ms == 0)
			t->base_ms = now;
		if (t->interval_ms / 4 < check)
			check = t->interval_ms / 4;
	}
	maint_save(mt);
	if (!any)
		return;
	if (check < MAINT_CHECK_MIN_MS)
		check = MAINT_CHECK_MIN_MS;
	struct timeval tv = { (time_t)(check / 1000), (suseconds_t)(check % 1000) * 1000 };
	mt->timer = event_new(c->role.base, -1, EV_PERSIST, maint_tick, c);
	if (mt->timer == NULL || event_add(mt->timer, &tv) != 0)
		fatalx("maintenance: cannot arm the timer");
}

void
cs_maintenance_applied(struct consensus *c, const void *cmd, size_t len)
{
	struct cs_maintenance *mt = &c->maint;

	for (size_t i = 0; i < MAINT_NTASKS; i++) {
		struct maint_task *t = &mt->tasks[i];
		if (len != t->cmd.size || memcmp(cmd, t->cmd.data, len) != 0)
			continue;
		t->last_ms = maint_wall_ms();
		if (t->interval_ms > 0)
			maint_save(mt);
	}
}

void
cs_maintenance_status(struct consensus *c, struct ipc_writer *w)
{
	const struct maint_task *v = &c->maint.tasks[0], *o = &c->maint.tasks[1];

	ipc_add_i64(w, "auto_vacuum_ms", v->interval_ms);
	ipc_add_i64(w, "auto_vacuum_last_ms", v->last_ms);
	ipc_add_i64(w, "auto_vacuum_next_ms",
	    v->interval_ms > 0 ? (v->last_ms > 0 ? v->last_ms : v->base_ms) + v->interval_ms : 0);
	ipc_add_u64(w, "num_auto_vacuums", v->proposed);
	ipc_add_u64(w, "num_auto_optimizes", o->proposed);
}
