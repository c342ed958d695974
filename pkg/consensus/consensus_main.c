/*
 * The consensus process: drives the pure Raft core (pkg/raft) with a clock, the
 * durable log (pkg/raftlog) and the links to its siblings; consensus_cluster.c adds
 * the links to other nodes.
 *
 * From gateway: PROPOSE → (entry committed and applied) → PROPOSE_RESULT;
 *               BARRIER (weak: lease check; linearizable: read index) → BARRIER_RESULT;
 *               CONS_STATUS, MEMBERSHIP, NODES → their results.
 * To gateway:   STATE whenever role, term or leader changes.
 * To storage:   APPLY for each committed entry, in order, exactly once per storage
 *               incarnation (it tells us where it is with STORAGE_HELLO); QUERY for
 *               reads this node serves on behalf of followers.
 * From storage: APPLY_RESULT → raft_applied() and the waiting proposal's answer.
 *
 * Group commit: every frame that arrived in one loop iteration is handed to the core
 * before one ready batch is processed, so all proposals pending at once share one log
 * append and one fsync.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/dir_size.h"
#include "common/duration.h"
#include "common/log.h"
#include "consensus_internal.h"
#include "raftlog/snapshot_store.h"

struct consensus cs;

uint64_t
cs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void consensus_process_ready(void);
static void consensus_arm_tick(void);

/* Process the core's ready batch at the end of this loop iteration. */
void
cs_schedule_ready(void)
{
	event_active(cs.ready_ev, 0, 0);
}

void
cs_answer(const struct waiter *w)
{
	switch (w->kind) {
	case WAITER_GATEWAY:
	case WAITER_MEMBERSHIP:
		if (cs.links[PROC_GATEWAY] != NULL)
			ipc_conn_send(cs.links[PROC_GATEWAY], &cs.w);
		break;
	case WAITER_PEER:
	case WAITER_JOIN:
		(void)peer_reply_handle(cs.peers, w->peer_handle, &cs.w);
		break;
	case WAITER_NONE:
		break;
	}
}

void
cs_answer_error(const struct waiter *w, const char *e)
{
	if (w->kind == WAITER_NONE)
		return;
	ipc_begin(&cs.w, w->reply, w->request_id);
	ipc_add_str(&cs.w, "e", e);
	if (raft_leader_id(cs.raft)[0] != '\0') {
		ipc_add_str(&cs.w, "ld", raft_leader_id(cs.raft));
		ipc_add_str(&cs.w, "la", raft_leader_address(cs.raft));
	}
	ipc_finish(&cs.w);
	cs_answer(w);
}

void
cs_send_state(void)
{
	struct ipc_conn *c = cs.links[PROC_GATEWAY];

	if (c == NULL)
		return;
	ipc_begin(&cs.w, IPC_STATE, 0);
	ipc_add_str(&cs.w, "st", raft_state_name(raft_state(cs.raft)));
	ipc_add_u64(&cs.w, "t", raft_term(cs.raft));
	ipc_add_bool(&cs.w, "vo", raft_is_voter(cs.raft));
	ipc_add_str(&cs.w, "ld", raft_leader_id(cs.raft));
	ipc_add_str(&cs.w, "la", raft_leader_address(cs.raft));
	if (strcmp(cs.leader_api_for, raft_leader_id(cs.raft)) == 0)
		ipc_add_str(&cs.w, "lapi", cs.leader_api);
	ipc_add_u64(&cs.w, "ci", raft_commit_index(cs.raft));
	ipc_add_u64(&cs.w, "lu", cs.lease_pushed_ms);
	ipc_finish(&cs.w);
	ipc_conn_send(c, &cs.w);
	cs.ci_pushed = raft_commit_index(cs.raft);
	cs.state_pushed_ms = cs_now_ms();
}

/*
 * Keeps the gateway's copy of the leader lease (STATE "lu", CLOCK_MONOTONIC ms) no
 * longer than the core's, so it can serve weak reads without asking us: a lease that
 * shrank or ended (stepdown, transfer) is pushed at once, before this batch's messages
 * go out; one that grew by a quarter of its length is pushed too. The commit index
 * travels along (storage serves the read once it has applied that much) and is
 * refreshed at most every 10 ms while it moves.
 */
void
cs_push_lease(void)
{
	uint64_t now = cs_now_ms();
	uint64_t exp = raft_lease_expiry(cs.raft, now);
	/* A quarter of the lease (the core's default lease is half an election timeout). */
	uint64_t step = (uint64_t)(cs.opts->lease_timeout_ms > 0 ? cs.opts->lease_timeout_ms / 4 :
	    cs.opts->election_timeout_ms / 8);

	if (exp <= now)
		exp = 0;
	if (exp < cs.lease_pushed_ms && cs.lease_pushed_ms > now) {
		cs.lease_pushed_ms = exp;	/* shrink or revoke: now */
	} else if (exp > now && exp >= cs.lease_pushed_ms + (step > 0 ? step : 1)) {
		cs.lease_pushed_ms = exp;
	} else if (!(exp > now && raft_commit_index(cs.raft) > cs.ci_pushed &&
	    now - cs.state_pushed_ms >= 10)) {
		return;
	}
	cs_send_state();
}

void
cs_fail_uncommitted(void)
{
	/*
	 * Entries past the commit index may never commit now (a new leader may overwrite
	 * them): their clients get an error at once. An entry that does commit later is
	 * applied as usual; it was simply never acknowledged. Committed entries stay and
	 * are answered when applied, so the list stays in index order.
	 */
	uint64_t commit = raft_commit_index(cs.raft);
	struct pending **pp = &cs.pending_head;

	cs.pending_tail = NULL;
	while (*pp != NULL) {
		struct pending *p = *pp;
		if (p->index <= commit) {
			cs.pending_tail = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		cs_answer_error(&p->w, "leadership lost while committing log");
		free(p);
	}
}

void
cs_add_pending(uint64_t index, uint64_t term, const struct waiter *w)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		fatalx("out of memory");
	p->index = index;
	p->term = term;
	p->started_ms = cs_now_ms();
	p->w = *w;
	if (cs.pending_tail != NULL)
		cs.pending_tail->next = p;
	else
		cs.pending_head = p;
	cs.pending_tail = p;
}

/* ---- storage side ---------------------------------------------------------------- */

/*
 * The local gateway's proposal committed as this entry (same index, same term): storage
 * answers the gateway itself ("gw", request id; "lr", our Raft address for its header),
 * which saves a hop and a copy of the result through this process. The proposal stays
 * pending until storage's APPLY_RESULT, so a storage restarted in between gets the same
 * APPLY, with the same "gw", again.
 */
static struct pending *
consensus_direct_proposal(const struct raft_entry *e)
{
	for (struct pending *p = cs.pending_head; p != NULL && p->index <= e->index; p = p->next)
		if (p->index == e->index)
			return p->term == e->term && p->w.kind == WAITER_GATEWAY &&
			    p->w.reply == IPC_PROPOSE_RESULT ? p : NULL;
	return NULL;
}

static void
consensus_send_apply(const struct raft_entry *e)
{
	struct pending *direct = consensus_direct_proposal(e);

	ipc_begin(&cs.w, IPC_APPLY, 0);
	ipc_add_u64(&cs.w, "i", e->index);
	ipc_add_u64(&cs.w, "t", e->term);
	ipc_add_u64(&cs.w, "ty", (uint64_t)e->type);
	ipc_add_bin(&cs.w, "c", e->data != NULL ? e->data : "", e->len);
	if (e->type == RAFT_ENTRY_NORMAL && e->len < 64 && e->data != NULL)
		cs_maintenance_applied(e->data, e->len);
	if (direct != NULL) {
		ipc_add_u64(&cs.w, "gw", direct->w.request_id);
		ipc_add_str(&cs.w, "lr", cs.opts->raft_adv_addr);
		direct->direct = true;
	}
	ipc_finish(&cs.w);
	ipc_conn_send(cs.links[PROC_STORAGE], &cs.w);
	cs.storage_sent = e->index;
}

static int
consensus_resend_cb(const struct raftlog_entry *le, void *arg)
{
	struct raft_entry e = {
		.index = le->index, .term = le->term,
		.type = (enum raft_entry_type)le->type, .data = le->data, .len = le->len,
	};
	const struct raft_entry *core = raft_entry_at(cs.raft, le->index);

	(void)arg;
	/* Belt and braces: an entry on disk that the core holds with another term was
	 * replaced; applying it would apply what never committed. */
	if (core != NULL && core->term != le->term) {
		log_warnx("entry %llu on disk has term %llu, the log has %llu: not applied",
		    (unsigned long long)le->index, (unsigned long long)le->term,
		    (unsigned long long)core->term);
		return 1;	/* stop; the pump resumes after the truncation is written */
	}
	consensus_send_apply(&e);
	return 0;
}

/* Hands storage every committed entry it has not seen, reading the log when the
 * entries are no longer in the ready batch (storage restarted, or linked late). */
static void
consensus_pump_storage(const struct raft_entry *committed, unsigned n)
{
	/*
	 * Only entries the core itself would hand out for applying: committed and durable in
	 * its own log. The commit index names the core's in-memory log; while a ready batch
	 * waits for the sync thread, the log on disk can still hold entries the core has
	 * already replaced (a suffix truncation not yet written), and reading those would
	 * apply, and acknowledge, an entry that never committed.
	 */
	uint64_t commit = raft_commit_index(cs.raft);
	uint64_t persisted = raft_persisted_index(cs.raft);
	uint64_t upto = commit < persisted ? commit : persisted;

	/* A snapshot the core has taken in but this process has not installed yet covers
	 * entries the file does not hold: wait for the install (next ready batch). */
	if (upto > raftlog_last_index(cs.log))
		upto = raftlog_last_index(cs.log);

	if (cs.links[PROC_STORAGE] == NULL || !cs.storage_known || cs_sync_busy())
		return;	/* a busy log is pumped again once its sync completes */
	for (unsigned i = 0; i < n; i++) {
		if (committed[i].index == cs.storage_sent + 1)
			consensus_send_apply(&committed[i]);
	}
	if (cs.storage_sent < upto) {
		uint64_t first = raftlog_first_index(cs.log);
		uint64_t from = cs.storage_sent + 1;
		int rc;
		if (first == 0 || from < first) {
			/* Compacted away: storage catches up from the snapshot instead. */
			if (!cs_snapshot_restore_storage(cs.storage_sent)) {
				log_warnx("storage needs entry %llu but the log starts at %llu",
				    (unsigned long long)from, (unsigned long long)first);
				return;
			}
			from = cs.storage_sent + 1;
			if (from > upto)
				return;
		}
		rc = raftlog_read(cs.log, from, upto, consensus_resend_cb, NULL);
		if (rc < 0)
			log_warnx("read log [%llu, %llu]: %s; storage waits", (unsigned long long)from,
			    (unsigned long long)upto, raftlog_strerror(rc));
	}
}

/*
 * Storage may be ahead of what the core knows it applied: after consensus restarts,
 * storage still holds everything it applied, and skips entries it already has. Tell
 * the core as soon as those entries are known to be committed here.
 */
static void
consensus_sync_applied(void)
{
	uint64_t upto = cs.storage_applied < raft_commit_index(cs.raft) ?
	    cs.storage_applied : raft_commit_index(cs.raft);

	if (upto > raft_applied_index(cs.raft))
		raft_applied(cs.raft, upto);
}

static void
consensus_on_apply_result(struct ipc_msg *m)
{
	uint64_t index;
	const char *res;
	size_t len;

	if (ipc_get_u64(m, "i", &index) != IPC_OK || ipc_get_bin(m, "res", &res, &len) != IPC_OK) {
		log_warnx("APPLY_RESULT without index or result");
		return;
	}
	if (index > cs.storage_applied)
		cs.storage_applied = index;
	if (index > raft_applied_index(cs.raft))
		raft_applied(cs.raft, index);
	while (cs.pending_head != NULL && cs.pending_head->index <= index) {
		struct pending *p = cs.pending_head;
		uint64_t t = 0;
		cs.pending_head = p->next;
		if (cs.pending_head == NULL)
			cs.pending_tail = NULL;
		if (p->index == index) {
			/* Committed with the term we proposed it in, or another leader's entry
			 * took its place. */
			(void)ipc_get_u64(m, "t", &t);
			if (p->direct && t == p->term && p->w.kind == WAITER_GATEWAY) {
				/* storage has answered the gateway */
			} else if (t != p->term) {
				cs_answer_error(&p->w, "leadership lost while committing log");
			} else {
				ipc_begin(&cs.w, p->w.reply, p->w.request_id);
				ipc_add_u64(&cs.w, "i", index);
				ipc_add_bin(&cs.w, "res", res, len);
				ipc_add_str(&cs.w, "lr", cs.opts->raft_adv_addr);
				ipc_finish(&cs.w);
				cs_answer(&p->w);
			}
		} else {
			cs_answer_error(&p->w, "leadership lost while committing log");
		}
		free(p);
	}
	cs_schedule_ready();
}

static void
consensus_dispatch_storage(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	uint64_t applied;

	(void)c; (void)arg;
	if (cs.log == NULL)
		return;		/* stopping: the log is closed */
	switch (m->type) {
	case IPC_STORAGE_HELLO:
		if (ipc_get_u64(m, "i", &applied) != IPC_OK)
			applied = 0;
		log_info("storage has applied up to %llu", (unsigned long long)applied);
		cs.storage_applied = applied;
		consensus_sync_applied();
		cs.storage_sent = applied;
		cs.storage_known = 1;
		(void)cs_snapshot_restore_storage(applied);
		consensus_pump_storage(NULL, 0);
		break;
	case IPC_APPLY_RESULT:
		consensus_on_apply_result(m);
		break;
	case IPC_SNAPSHOT_RESULT:
		cs_snapshot_on_result(m);
		break;
	case IPC_RESTORE_RESULT:
		cs_snapshot_on_restore_result(m);
		break;
	case IPC_QUERY_RESULT:
		if (!cs_cluster_on_query_result(m))
			log_debug("QUERY_RESULT for no waiting read");
		break;
	default:
		log_warnx("unexpected %s from storage", ipc_type_name(m->type));
	}
}

bool
cs_storage_query(struct fwd_read *fr, uint64_t min_index)
{
	if (cs.links[PROC_STORAGE] == NULL) {
		cs_answer_error(&fr->w, "store not open");
		return false;
	}
	ipc_begin(&cs.w, IPC_QUERY, fr->id);
	ipc_add_bin(&cs.w, "c", fr->cmd, fr->len);
	if (min_index > 0)
		ipc_add_u64(&cs.w, "mi", min_index);
	ipc_finish(&cs.w);
	ipc_conn_send(cs.links[PROC_STORAGE], &cs.w);
	return true;
}

/* ---- gateway side ---------------------------------------------------------------- */

static void
consensus_on_propose(struct ipc_msg *m)
{
	const char *cmd;
	size_t len;
	uint64_t index, term;
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_PROPOSE_RESULT, 0 };
	int rc;

	if (ipc_get_bin(m, "c", &cmd, &len) != IPC_OK) {
		cs_answer_error(&w, "invalid proposal");
		return;
	}
	if (cs_hold_maybe(m, 0))
		return;		/* no leader yet: it waits for one (consensus_hold.c) */
	(void)ipc_get_u64(m, "at", &w.apply_timeout_ms);
	rc = raft_propose(cs.raft, cmd, len, &index, &term);
	if (rc == RAFT_ENOTLEADER && cs_cluster_forward_propose(m))
		return;
	if (rc != 0) {
		cs_answer_error(&w, rc == RAFT_ENOTLEADER ? "not leader" : raft_strerror(rc));
		return;
	}
	cs.n_proposals++;
	cs_add_pending(index, term, &w);
	cs_schedule_ready();
}

static void
consensus_on_barrier(struct ipc_msg *m)
{
	char level[32] = "weak";
	uint64_t now = cs_now_ms();
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_BARRIER_RESULT, 0 };
	int rc;

	if (cs_hold_maybe(m, 0))
		return;		/* leadership is being established (consensus_hold.c) */
	(void)ipc_get_strbuf(m, "l", level, sizeof(level));
	if (strcmp(level, "none") == 0) {
		/* A local read with a staleness bound: the leader itself is never stale. */
		uint64_t fr = 0;
		bool strict = false;
		int64_t contact = raft_last_contact(cs.raft, now);
		(void)ipc_get_u64(m, "fr", &fr);
		(void)ipc_get_bool(m, "fs", &strict);
		if (raft_state(cs.raft) != RAFT_LEADER && fr > 0 &&
		    ((contact < 0 || (uint64_t)contact > fr) ||
		    (strict && cs_fresh_lag_ms(cs.storage_applied, now) > fr))) {
			cs_answer_error(&w, "stale read");
			return;
		}
		ipc_begin(&cs.w, IPC_BARRIER_RESULT, m->request_id);
		ipc_finish(&cs.w);
		cs_answer(&w);
		return;
	}
	if (raft_state(cs.raft) != RAFT_LEADER) {
		if (!cs_cluster_forward_read(m))
			cs_answer_error(&w, "not leader");
		return;
	}
	if (strcmp(level, "linearizable") == 0) {
		rc = raft_read_index(cs.raft, now, m->request_id);
		if (rc != 0)
			cs_answer_error(&w, raft_strerror(rc));
		cs_schedule_ready();
		return;
	}
	if (!raft_lease_valid(cs.raft, now)) {
		cs_answer_error(&w, "not leader");
		return;
	}
	/* Storage serves the read once it has applied everything committed so far, so a
	 * read right after a restart never sees a database still being rebuilt. */
	ipc_begin(&cs.w, IPC_BARRIER_RESULT, m->request_id);
	ipc_add_u64(&cs.w, "i", raft_commit_index(cs.raft));
	ipc_finish(&cs.w);
	cs_answer(&w);
}

static void
status_duration(const char *key, int64_t ms)
{
	char buf[DURATION_FMT_MAX];

	duration_format(ms * 1000000, buf, sizeof(buf));
	ipc_add_str(&cs.w, key, buf);
}

/* The keys of rqlite's /status store section that come from here, in its formats. */
static void
consensus_status_rqlite(msgpack_packer *pk)
{
	const struct raft_config *cfg = raft_configuration(cs.raft);
	char path[PATH_MAX], **names = NULL;
	int n;
	msgpack_sbuffer lc;

	status_duration("apply_timeout", cs.opts->apply_timeout_ms);
	status_duration("heartbeat_timeout", cs.opts->heartbeat_timeout_ms);
	status_duration("election_timeout", cs.opts->election_timeout_ms);
	status_duration("commit_timeout", cs.opts->commit_timeout_ms);
	status_duration("snapshot_interval", cs.opts->snap_interval_ms);
	status_duration("reap_timeout", cs.opts->reap_voter_ms);
	status_duration("reap_read_only_timeout", cs.opts->reap_nonvoter_ms);
	ipc_add_u64(&cs.w, "dir_size", dir_size(cs.opts->data_dir));
	snprintf(path, sizeof(path), "%s/raft", cs.opts->data_dir);
	ipc_add_u64(&cs.w, "log_size", dir_size(path));
	ipc_add_u64(&cs.w, "snapshot_dir_size", dir_size(cs_snapshot_dir()));
	n = snapshot_store_names(cs_snapshot_dir(), &names);
	ipc_add_key(&cs.w, "snapshot_ids");
	msgpack_pack_array(pk, (size_t)n);
	for (int i = 0; i < n; i++)
		msgpack_pack_str_with_body(pk, names[i], strlen(names[i]));
	snapshot_store_names_free(names, n);
	/* hashicorp/raft's Stats() prints the configuration with Go's %+v. */
	msgpack_sbuffer_init(&lc);
	msgpack_sbuffer_write(&lc, "[", 1);
	for (unsigned i = 0; i < cfg->n; i++) {
		const struct raft_server *s = &cfg->servers[i];
		char one[RAFT_ID_MAX + RAFT_ADDR_MAX + 48];
		int len = snprintf(one, sizeof(one), "%s{Suffrage:%s ID:%s Address:%s}",
		    i > 0 ? " " : "", s->suffrage == RAFT_VOTER ? "Voter" : "Nonvoter", s->id,
		    s->address);
		msgpack_sbuffer_write(&lc, one, (size_t)len < sizeof(one) ? (size_t)len :
		    sizeof(one) - 1);
	}
	msgpack_sbuffer_write(&lc, "]", 1);
	ipc_add_key(&cs.w, "latest_configuration");
	msgpack_pack_str_with_body(pk, lc.data, lc.size);
	msgpack_sbuffer_destroy(&lc);
}

static void
consensus_on_status(struct ipc_conn *c, struct ipc_msg *m)
{
	const struct raft_config *cfg = raft_configuration(cs.raft);
	msgpack_packer *pk = &cs.w.pk;
	uint64_t now = cs_now_ms();
	int64_t contact = raft_last_contact(cs.raft, now);
	struct peer_stats ps;

	memset(&ps, 0, sizeof(ps));
	if (cs.peers != NULL)
		peer_transport_stats(cs.peers, &ps);
	ipc_begin(&cs.w, IPC_CONS_STATUS_RESULT, m->request_id);
	ipc_add_str(&cs.w, "state", raft_state_name(raft_state(cs.raft)));
	ipc_add_u64(&cs.w, "term", raft_term(cs.raft));
	ipc_add_bool(&cs.w, "voter", raft_is_voter(cs.raft));
	ipc_add_u64(&cs.w, "commit_index", raft_commit_index(cs.raft));
	/* On the leader its own; elsewhere as the leader's latest AppendEntries said. */
	ipc_add_u64(&cs.w, "leader_commit_index", raft_state(cs.raft) == RAFT_LEADER ?
	    raft_commit_index(cs.raft) : cs.leader_commit_heard);
	ipc_add_u64(&cs.w, "applied_index", raft_applied_index(cs.raft));
	ipc_add_u64(&cs.w, "last_log_index", raft_last_index(cs.raft));
	ipc_add_u64(&cs.w, "last_log_term", raft_last_term(cs.raft));
	ipc_add_u64(&cs.w, "last_snapshot_index", raft_snapshot_index(cs.raft));
	ipc_add_u64(&cs.w, "last_snapshot_term", raft_snapshot_term(cs.raft));
	ipc_add_u64(&cs.w, "latest_configuration_index", raft_configuration_index(cs.raft));
	ipc_add_i64(&cs.w, "last_contact_ms", contact);
	ipc_add_str(&cs.w, "leader_id", raft_leader_id(cs.raft));
	ipc_add_str(&cs.w, "leader_addr", raft_leader_address(cs.raft));
	ipc_add_str(&cs.w, "node_id", cs.opts->node_id);
	ipc_add_str(&cs.w, "addr", cs.opts->raft_adv_addr);
	ipc_add_u64(&cs.w, "fsm_pending", raft_commit_index(cs.raft) - raft_applied_index(cs.raft));
	ipc_add_str(&cs.w, "peer_auth", cs.keyed ? "enabled" : "disabled");
	ipc_add_u64(&cs.w, "peer_handshakes_refused", ps.handshakes_refused);
	ipc_add_u64(&cs.w, "peer_frames_bad", ps.frames_bad);
	ipc_add_u64(&cs.w, "peer_links_out", ps.links_out);
	ipc_add_u64(&cs.w, "peer_links_in", ps.links_in);
	{
		uint64_t ns, nr, ni;
		int count;
		cs_snapshot_counters(&ns, &nr, &ni, &count);
		ipc_add_u64(&cs.w, "num_snapshots", ns);
		ipc_add_u64(&cs.w, "num_restores", nr);
		ipc_add_u64(&cs.w, "num_installs", ni);
		ipc_add_u64(&cs.w, "snapshot_count", count > 0 ? (uint64_t)count : 0);
		ipc_add_str(&cs.w, "snapshot_dir", cs_snapshot_dir());
		ipc_add_u64(&cs.w, "snapshot_threshold", cs.opts->snap_threshold);
	}
	cs_maintenance_status(&cs.w);
	consensus_status_rqlite(pk);
	{
		uint64_t ignored, removed;
		cs_cluster_join_counters(&ignored, &removed);
		ipc_add_u64(&cs.w, "num_ignored_joins", ignored);
		ipc_add_u64(&cs.w, "num_removed_before_joins", removed);
	}
	{
		struct cs_cluster_counters cc;
		cs_cluster_counters(&cc);
		ipc_add_key(&cs.w, "cluster");
		msgpack_pack_map(pk, 9);
#define CS_CTR_(name, v) \
		msgpack_pack_str_with_body(pk, name, strlen(name)); msgpack_pack_uint64(pk, v);
		CS_CTR_("num_join_req", cc.join)
		CS_CTR_("num_execute_req", cc.execute)
		CS_CTR_("num_query_req", cc.query)
		CS_CTR_("num_request_req", cc.request)
		CS_CTR_("num_load_req", cc.load)
		CS_CTR_("num_remove_node_req", cc.remove_node)
		CS_CTR_("num_stepdown_req", cc.stepdown)
		CS_CTR_("num_get_node_api_req", cc.get_node_api)
		CS_CTR_("num_held_for_leader", cs_hold_count())
#undef CS_CTR_
	}
	ipc_add_u64(&cs.w, "log_appends", cs.n_appends);
	ipc_add_u64(&cs.w, "log_entries", cs.n_entries);
	ipc_add_u64(&cs.w, "log_fsyncs", cs.n_fsyncs);
	ipc_add_u64(&cs.w, "proposals", cs.n_proposals);
	ipc_add_key(&cs.w, "nodes");
	msgpack_pack_array(pk, cfg->n);
	for (unsigned i = 0; i < cfg->n; i++) {
		const struct raft_server *s = &cfg->servers[i];
		msgpack_pack_map(pk, 3);
		msgpack_pack_str_with_body(pk, "id", 2);
		msgpack_pack_str_with_body(pk, s->id, strlen(s->id));
		msgpack_pack_str_with_body(pk, "addr", 4);
		msgpack_pack_str_with_body(pk, s->address, strlen(s->address));
		msgpack_pack_str_with_body(pk, "suffrage", 8);
		if (s->suffrage == RAFT_VOTER)
			msgpack_pack_str_with_body(pk, "voter", 5);
		else
			msgpack_pack_str_with_body(pk, "nonvoter", 8);
	}
	ipc_finish(&cs.w);
	ipc_conn_send(c, &cs.w);
}

/* A request held while leadership settled, dispatched again (consensus_hold.c). */
static void
consensus_redispatch(struct ipc_msg *m, uint64_t peer_handle)
{
	if (m->type == IPC_PEER_FORWARD)
		cs_cluster_serve_forward(peer_handle, m);
	else if (m->type == IPC_PROPOSE)
		consensus_on_propose(m);
	else if (m->type == IPC_BARRIER)
		consensus_on_barrier(m);
}

static void
consensus_dispatch_gateway(struct ipc_conn *c, struct ipc_msg *m, void *arg)
{
	(void)arg;
	if (cs.log == NULL)
		return;		/* stopping: the log is closed */
	switch (m->type) {
	case IPC_PROPOSE:
		consensus_on_propose(m);
		break;
	case IPC_BARRIER:
		consensus_on_barrier(m);
		break;
	case IPC_CONS_STATUS:
		consensus_on_status(c, m);
		break;
	case IPC_MEMBERSHIP:
		cs_cluster_membership(m);
		break;
	case IPC_NODES:
		cs_cluster_nodes(m);
		break;
	case IPC_FAULT:
		cs_cluster_fault(m);
		break;
	case IPC_SNAPSHOT_NOW:
		cs_snapshot_user(m);
		break;
	case IPC_REAP:
		cs_snapshot_reap(m);
		break;
	default:
		log_warnx("unexpected %s from gateway", ipc_type_name(m->type));
	}
}

/* ---- the ready batch ------------------------------------------------------------- */

/* Steps 2 and 3 of the ready batch, without the fsync of the entries (the caller starts it). */
static void
consensus_persist(const struct raft_ready *rd)
{
	int rc;

	if (rd->hard_state_changed) {
		rc = raftlog_save_vote(cs.log, rd->term, rd->vote != NULL ? rd->vote : "");
		if (rc != 0)
			fatalx("save term and vote: %s", raftlog_strerror(rc));
	}
	if (rd->truncate_from != 0) {
		rc = raftlog_truncate_suffix(cs.log, rd->truncate_from);
		if (rc != 0)
			fatalx("truncate log from %llu: %s",
			    (unsigned long long)rd->truncate_from, raftlog_strerror(rc));
	}
	if (rd->n_entries > 0) {
		struct raftlog_entry le[64];
		unsigned done = 0;
		while (done < rd->n_entries) {
			unsigned k = 0;
			for (; k < 64 && done + k < rd->n_entries; k++) {
				const struct raft_entry *e = &rd->entries[done + k];
				le[k].index = e->index;
				le[k].term = e->term;
				le[k].type = (uint8_t)e->type;
				le[k].data = e->data;
				le[k].len = e->len;
			}
			rc = raftlog_append(cs.log, le, k);
			if (rc != 0)
				fatalx("append to log: %s", raftlog_strerror(rc));
			done += k;
		}
	}
}

static void
consensus_synced(uint64_t index, uint64_t term)
{
	raft_persisted(cs.raft, index, term);
	cs_snapshot_after_sync();		/* compaction waits for the log to be free */
	consensus_pump_storage(NULL, 0);	/* what was skipped while the log was busy */
	cs_schedule_ready();
}

static void
consensus_deliver_reads(const struct raft_ready *rd)
{
	for (unsigned i = 0; i < rd->n_reads; i++) {
		const struct raft_read *rr = &rd->reads[i];
		struct waiter w = { WAITER_GATEWAY, rr->cookie, 0, IPC_BARRIER_RESULT, 0 };

		if (rr->cookie & (UINT64_C(1) << 63)) {
			/* A read we serve for a follower. */
			cs_cluster_on_read_released(rr->cookie, rr->index, rr->status);
			continue;
		}
		if (rr->status != 0) {
			cs_answer_error(&w, rr->status == RAFT_ELEADERSHIPLOST ? "leadership lost" :
			    raft_strerror(rr->status));
			continue;
		}
		ipc_begin(&cs.w, IPC_BARRIER_RESULT, rr->cookie);
		ipc_add_u64(&cs.w, "i", rr->index);
		ipc_finish(&cs.w);
		cs_answer(&w);
	}
}

static void
consensus_process_ready(void)
{
	struct raft_ready rd;
	int rounds = 0;

	/* While the log syncs, the core keeps collecting; its next batch goes out when the
	 * sync completes, as one append and one fsync (group commit). */
	while (!cs_sync_busy() && raft_has_ready(cs.raft) && rounds++ < 1000) {
		if (raft_ready(cs.raft, &rd) != 0)
			break;
		if (rd.snapshot != NULL)
			cs_snapshot_install(rd.snapshot);
		/* Term and vote reach disk before any message of this batch is sent. */
		consensus_persist(&rd);
		/* A lease this batch ended is withdrawn from the gateway before, e.g., a
		 * TimeoutNow goes out. */
		cs_push_lease();
		/* Newly committed entries go to storage first: their clients wait on them,
		 * while the messages (commit notices, new entries) are for other nodes. */
		consensus_pump_storage(rd.committed, rd.n_committed);
		consensus_sync_applied();
		/* The entries' fsync (cs_sync_start below) runs after these messages left. */
		cs_cluster_send_messages(rd.messages, rd.n_messages);
		if (rd.n_committed > 0)
			cs_cluster_config_committed(raft_commit_index(cs.raft));
		consensus_deliver_reads(&rd);
		if (rd.soft_state_changed) {
			static char said[RAFT_ID_MAX + 64];
			char now[sizeof(said)];

			/* A membership change also reports soft state; say only what changed. */
			snprintf(now, sizeof(now), "raft state %s, term %llu, leader \"%s\"",
			    raft_state_name(rd.state), (unsigned long long)raft_term(cs.raft),
			    rd.leader_id != NULL ? rd.leader_id : "");
			if (strcmp(now, said) != 0) {
				log_info("%s", now);
				memcpy(said, now, sizeof(said));
			}
			cs_cluster_on_state_change();
			cs_send_state();
		}
		if (rd.n_entries > 0) {
			cs.n_appends++;
			cs.n_fsyncs++;
			cs.n_entries += rd.n_entries;
			cs_sync_start(rd.entries[rd.n_entries - 1].index,
			    rd.entries[rd.n_entries - 1].term);
		}
	}
	if (cs.raft != NULL && cs.links[PROC_GATEWAY] != NULL)
		cs_push_lease();
	/* A leader known or a lease gained: held requests go ahead. */
	if (cs.raft != NULL)
		cs_hold_retry();
	/* A new role (leader: heartbeats) may need the timer sooner than it was set. */
	if (cs.raft != NULL && cs.tick_ev != NULL && raft_state(cs.raft) != RAFT_SHUTDOWN)
		consensus_arm_tick();
}

static void
consensus_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	consensus_process_ready();
}

static void
consensus_arm_tick(void)
{
	uint64_t now = cs_now_ms(), next = raft_next_timeout(cs.raft);
	uint64_t delta = next > now ? next - now : 0;
	struct timeval tv;

	if (delta > 1000)
		delta = 1000;
	tv.tv_sec = (time_t)(delta / 1000);
	tv.tv_usec = (suseconds_t)((delta % 1000) * 1000);
	evtimer_add(cs.tick_ev, &tv);
}

static void
consensus_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	raft_tick(cs.raft, cs_now_ms());
	consensus_process_ready();
	consensus_arm_tick();
}

static void
consensus_housekeeping_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = cs_now_ms();

	(void)fd; (void)what; (void)arg;
	cs_hold_retry();	/* held past their deadline: answered now */
	/* -raft-apply-timeout: a proposal not applied by then is reported as timed out
	 * (it may still commit later; it was not acknowledged). */
	if (cs.opts->apply_timeout_ms > 0) {
		for (struct pending *p = cs.pending_head; p != NULL; p = p->next) {
			uint64_t to = p->w.apply_timeout_ms != 0 ? p->w.apply_timeout_ms :
			    (uint64_t)cs.opts->apply_timeout_ms;

			if (p->w.kind != WAITER_NONE && now - p->started_ms > to) {
				cs_answer_error(&p->w, "timeout");
				p->w.kind = WAITER_NONE;
			}
		}
	}
	cs_cluster_housekeeping();
	if ((cs.shutdown_after_transfer &&
	    (raft_state(cs.raft) != RAFT_LEADER || cs_now_ms() > cs.shutdown_deadline)) ||
	    (cs.shutdown_after_remove && cs_cluster_removal_done())) {
		cs.shutdown_after_transfer = false;
		cs.shutdown_after_remove = false;
		cs_sync_stop();
		raft_shutdown(cs.raft);
		consensus_process_ready();
		raftlog_close(cs.log);
		cs.log = NULL;
		role_exit(&cs.role);
	}
}

/* ---- links and life cycle -------------------------------------------------------- */

static void
consensus_forget_gateway_waiters(void)
{
	for (struct pending *p = cs.pending_head; p != NULL; p = p->next)
		if (p->w.kind == WAITER_GATEWAY || p->w.kind == WAITER_MEMBERSHIP)
			p->w.kind = WAITER_NONE;
	for (struct fwd_out *f = cs.fwd_outs; f != NULL; f = f->next)
		if (f->w.kind == WAITER_GATEWAY || f->w.kind == WAITER_MEMBERSHIP)
			f->w.kind = WAITER_NONE;
}

static void
consensus_link_closed(struct ipc_conn *c, const char *reason, void *arg)
{
	enum proc_id peer = (enum proc_id)(intptr_t)arg;

	log_info("link to %s closed: %s", proc_name(peer), reason);
	if (cs.links[peer] != c)
		return;
	cs.links[peer] = NULL;
	if (peer == PROC_STORAGE)
		cs.storage_known = 0;
	if (peer == PROC_GATEWAY)
		consensus_forget_gateway_waiters();
}

static void
consensus_on_link(enum proc_id peer, int fd, void *ctx)
{
	ipc_msg_cb *cb;

	(void)ctx;
	if (peer == PROC_GATEWAY)
		cb = consensus_dispatch_gateway;
	else if (peer == PROC_STORAGE)
		cb = consensus_dispatch_storage;
	else {
		log_warnx("link to %s not expected", proc_name(peer));
		close(fd);
		return;
	}
	if (cs.links[peer] != NULL) {
		ipc_conn_free(cs.links[peer]);
		cs.links[peer] = NULL;
		if (peer == PROC_GATEWAY)
			consensus_forget_gateway_waiters();
	}
	if (peer == PROC_STORAGE)
		cs.storage_known = 0;	/* until its HELLO says where it is */
	cs.links[peer] = ipc_conn_new(cs.role.base, fd, proc_name(peer), cb,
	    consensus_link_closed, (void *)(intptr_t)peer);
	if (peer == PROC_GATEWAY)
		cs_send_state();
}

static void
consensus_on_listen(const char *name, int fd, void *ctx)
{
	(void)ctx;
	if (strcmp(name, "raft") != 0) {
		log_warnx("listener %s not expected", name);
		close(fd);
		return;
	}
	cs_cluster_init(fd);
}

static void
consensus_on_shutdown(void *ctx)
{
	(void)ctx;
	if (cs.stopping)
		return;
	cs.stopping = 1;
	/* A leader hands over first, so the cluster does not wait an election timeout. */
	if (cs_cluster_shutdown_transfer())
		return;
	cs_sync_stop();
	raft_shutdown(cs.raft);
	consensus_process_ready();
	raftlog_close(cs.log);
	cs.log = NULL;
	role_exit(&cs.role);
}

static const struct role_ops consensus_ops = {
	.id = PROC_CONSENSUS,
	.on_link = consensus_on_link,
	.on_listen = consensus_on_listen,
	.on_shutdown = consensus_on_shutdown,
};

/* Entries read from the log for raft_load(); data copied out of the read buffer. */
struct load_buf {
	struct raft_entry *entries;
	unsigned n, cap;
};

static int
consensus_load_cb(const struct raftlog_entry *le, void *arg)
{
	struct load_buf *lb = arg;
	void *data = NULL;

	if (lb->n == lb->cap) {
		unsigned cap = lb->cap ? lb->cap * 2 : 1024;
		struct raft_entry *ne = realloc(lb->entries, cap * sizeof(*ne));
		if (ne == NULL)
			fatalx("out of memory loading the log");
		lb->entries = ne;
		lb->cap = cap;
	}
	if (le->len > 0) {
		data = malloc(le->len);
		if (data == NULL)
			fatalx("out of memory loading the log");
		memcpy(data, le->data, le->len);
	}
	lb->entries[lb->n++] = (struct raft_entry){
		.index = le->index, .term = le->term,
		.type = (enum raft_entry_type)le->type, .data = data, .len = le->len,
	};
	return 0;
}

static struct raft *
consensus_new_raft(void)
{
	struct raft_options ro;
	struct raft *r;
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.id = cs.opts->node_id;
	ro.address = cs.opts->raft_adv_addr;
	ro.election_timeout_ms = (unsigned)cs.opts->election_timeout_ms;
	ro.heartbeat_ms = (unsigned)cs.opts->heartbeat_timeout_ms / 10;
	ro.lease_ms = (unsigned)cs.opts->lease_timeout_ms;
	ro.seed = (uint64_t)getpid() ^ cs_now_ms();
	rc = raft_new(&ro, &r);
	if (rc != 0)
		fatalx("raft_new: %s", raft_strerror(rc));
	return r;
}

int
cs_raft_bootstrap(const struct raft_config *cfg)
{
	struct raft *r;
	int rc;

	if (raft_last_index(cs.raft) != 0)
		return -1;
	/* The core refuses to bootstrap once started; a fresh one loses nothing here but
	 * the term and vote, which it must keep (a vote given in a term stands). */
	r = consensus_new_raft();
	{
		char vote[RAFTLOG_MAX_VOTED_FOR + 1];
		uint64_t term = 0;
		if (raftlog_load_vote(cs.log, &term, vote, sizeof(vote)) == 0 && term > 0 &&
		    (rc = raft_load(r, term, vote, NULL, NULL, 0)) != 0) {
			log_warnx("bootstrap: %s", raft_strerror(rc));
			raft_free(r);
			return -1;
		}
	}
	rc = raft_bootstrap(r, cfg);
	if (rc != 0) {
		log_warnx("bootstrap: %s", raft_strerror(rc));
		raft_free(r);
		return -1;
	}
	raft_free(cs.raft);
	cs.raft = r;
	if (raft_start(cs.raft, cs_now_ms()) != 0)
		fatalx("raft_start failed");
	cs_schedule_ready();
	evtimer_del(cs.tick_ev);
	consensus_arm_tick();
	return 0;
}

static void
consensus_open_log(void)
{
	char dir[PATH_MAX], vote[RAFTLOG_MAX_VOTED_FOR + 1];
	struct load_buf lb = { 0 };
	struct raft_snapshot_meta meta;
	bool have_snap;
	uint64_t term, first, last;
	int rc;

	snprintf(dir, sizeof(dir), "%s/raft", cs.opts->data_dir);
	{
		struct raftlog_options lo;
		memset(&lo, 0, sizeof(lo));
		lo.segment_size = cs.opts->log_segment_size;
		rc = raftlog_open(dir, &lo, &cs.log);
	}
	if (rc != 0)
		fatalx("open Raft log in %s: %s", dir, raftlog_strerror(rc));
	rc = raftlog_load_vote(cs.log, &term, vote, sizeof(vote));
	if (rc != 0)
		fatalx("load term and vote: %s", raftlog_strerror(rc));
	cs.raft = consensus_new_raft();
	cs_snapshot_load();
	(void)cs_recover_peers_json();
	have_snap = cs_snapshot_meta(&meta);
	if (have_snap) {
		/* A snapshot received from the leader may be newer than what the log records
		 * (a restart between staging it and installing it): record it now. Raft §7:
		 * the log is kept only if it holds the snapshot's last entry with its term. */
		uint64_t s_idx, s_term;
		raftlog_snapshot(cs.log, &s_idx, &s_term);
		if (meta.index > s_idx) {
			rc = raftlog_set_snapshot(cs.log, meta.index, meta.term);
			if (rc != 0)
				fatalx("record snapshot %llu in the log: %s",
				    (unsigned long long)meta.index, raftlog_strerror(rc));
		}
	}
	first = raftlog_first_index(cs.log);
	last = raftlog_last_index(cs.log);
	if (have_snap && first > meta.index + 1)
		fatalx("the log starts at %llu but the newest valid snapshot ends at %llu: "
		    "this node cannot recover on its own (restore it from a backup or rejoin "
		    "with a fresh data directory)", (unsigned long long)first,
		    (unsigned long long)meta.index);
	if (have_snap && first == 0 && last > meta.index)
		first = last;	/* unreachable: an empty log reports the snapshot index */
	if (first != 0) {
		rc = raftlog_read(cs.log, first, last, consensus_load_cb, &lb);
		if (rc != 0)
			fatalx("read log: %s", raftlog_strerror(rc));
	}
	/* State means entries or a snapshot: a term saved just before a crash that lost
	 * the first entries is not a cluster to rejoin. */
	cs.has_state = lb.n > 0 || have_snap;
	if (cs.has_state || term > 0) {
		rc = raft_load(cs.raft, term, vote, have_snap ? &meta : NULL, lb.entries, lb.n);
		if (rc != 0)
			fatalx("load Raft state: %s", raft_strerror(rc));
		log_info("loaded term %llu, %u log entries%s", (unsigned long long)term, lb.n,
		    have_snap ? " and a snapshot" : "");
	}
	if (have_snap)
		raft_config_free(&meta.config);
	if (!cs.has_state && cs.opts->join[0] == '\0' && cs.opts->bootstrap_expect <= 1) {
		struct raft_config cfg;
		if (cs.opts->non_voter)
			fatalx("a new read replica (-raft-non-voter) needs -join to find a cluster");
		raft_config_init(&cfg);
		raft_config_add(&cfg, cs.opts->node_id, cs.opts->raft_adv_addr, RAFT_VOTER);
		rc = raft_bootstrap(cs.raft, &cfg);
		raft_config_free(&cfg);
		if (rc != 0)
			fatalx("bootstrap: %s", raft_strerror(rc));
		log_info("bootstrapped a single-node cluster as %s", cs.opts->node_id);
	} else if (!cs.has_state) {
		log_info("no Raft state yet; waiting to join a cluster");
	}
	for (unsigned i = 0; i < lb.n; i++)
		free((void *)lb.entries[i].data);
	free(lb.entries);
}

void
consensus_main(const struct consensus_options *opts)
{
	struct timeval hk = { 0, 100000 };

	memset(&cs, 0, sizeof(cs));
	cs.opts = opts;
	role_init(&cs.role, &consensus_ops, &cs);
	ipc_writer_init(&cs.w);
	consensus_open_log();
	cs.ready_ev = event_new(cs.role.base, -1, 0, consensus_ready_cb, NULL);
	cs.tick_ev = evtimer_new(cs.role.base, consensus_tick_cb, NULL);
	cs.housekeeping_ev = event_new(cs.role.base, -1, EV_PERSIST, consensus_housekeeping_cb, NULL);
	cs_sync_init(consensus_synced);
	cs_snapshot_init();
	cs_maintenance_init();
	cs_hold_init(consensus_redispatch);
	event_add(cs.housekeeping_ev, &hk);
	if (raft_start(cs.raft, cs_now_ms()) != 0)
		fatalx("raft_start failed");
	consensus_process_ready();
	consensus_arm_tick();
	role_ready(&cs.role);
	role_run(&cs.role);
}
