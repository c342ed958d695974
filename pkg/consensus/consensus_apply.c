/*
 * The storage side (see consensus_apply.h).
 *
 * To storage: APPLY {i, t, ty, c[, gw, lr]} for each committed entry, in order.
 * From storage: STORAGE_HELLO {i} (where it is after a start), APPLY_RESULT {i, t, res}
 * → the waiting proposal's answer, SNAPSHOT_RESULT/RESTORE_RESULT (snapshots),
 * QUERY_RESULT (a read served for a follower).
 *
 * The local gateway's proposal committed as this entry (same index, same term):
 * storage answers the gateway itself ("gw", request id; "lr", our Raft address for its
 * header), which saves a hop and a copy of the result through this process. The
 * proposal stays pending until storage's APPLY_RESULT, so a storage restarted in
 * between gets the same APPLY, with the same "gw", again.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"

void
cs_apply_add_pending(struct consensus *c, uint64_t index, uint64_t term, const struct waiter *w)
{
	struct cs_apply *a = &c->apply;
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		fatalx("out of memory");
	p->index = index;
	p->term = term;
	p->started_ms = c->io->now_ms(c);
	p->w = *w;
	if (a->tail != NULL)
		a->tail->next = p;
	else
		a->head = p;
	a->tail = p;
}

void
cs_apply_fail_uncommitted(struct consensus *c)
{
	/*
	 * Entries past the commit index may never commit now (a new leader may overwrite
	 * them): their clients get an error at once. An entry that does commit later is
	 * applied as usual; it was simply never acknowledged. Committed entries stay and
	 * are answered when applied, so the list stays in index order.
	 */
	uint64_t commit = raft_commit_index(c->raft);
	struct pending **pp = &c->apply.head;

	c->apply.tail = NULL;
	while (*pp != NULL) {
		struct pending *p = *pp;
		if (p->index <= commit) {
			c->apply.tail = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		cs_answer_error(c, &p->w, IPC_EC_LEADERSHIP_LOST, NULL);
		free(p);
	}
}

static struct pending *
cs_apply_direct_proposal(struct consensus *c, const struct raft_entry *e)
{
	for (struct pending *p = c->apply.head; p != NULL && p->index <= e->index; p = p->next)
		if (p->index == e->index)
			return p->term == e->term && p->w.kind == WAITER_GATEWAY &&
			    p->w.reply == IPC_PROPOSE_RESULT ? p : NULL;
	return NULL;
}

static void
cs_apply_send(struct consensus *c, const struct raft_entry *e)
{
	struct pending *direct = cs_apply_direct_proposal(c, e);
	struct ipc_writer *out = &c->out;

	ipc_begin(out, IPC_APPLY, 0);
	ipc_add_u64(out, "i", e->index);
	ipc_add_u64(out, "t", e->term);
	ipc_add_u64(out, "ty", (uint64_t)e->type);
	ipc_add_bin(out, "c", e->data != NULL ? e->data : "", e->len);
	if (e->type == RAFT_ENTRY_NORMAL && e->len < 64 && e->data != NULL)
		cs_maintenance_applied(c, e->data, e->len);
	if (direct != NULL) {
		ipc_add_u64(out, "gw", direct->w.request_id);
		ipc_add_str(out, "lr", c->opts->raft_adv_addr);
		direct->direct = true;
	}
	ipc_finish(out);
	(void)c->io->send_role(c, PROC_STORAGE, out);
	c->apply.sent = e->index;
}

static int
cs_apply_resend_cb(const struct raftlog_entry *le, void *arg)
{
	struct consensus *c = arg;
	struct raft_entry e = {
		.index = le->index, .term = le->term,
		.type = (enum raft_entry_type)le->type, .data = le->data, .len = le->len,
	};
	const struct raft_entry *core = raft_entry_at(c->raft, le->index);

	/* Belt and braces: an entry on disk that the core holds with another term was
	 * replaced; applying it would apply what never committed. */
	if (core != NULL && core->term != le->term) {
		log_warnx("entry %llu on disk has term %llu, the log has %llu: not applied",
		    (unsigned long long)le->index, (unsigned long long)le->term,
		    (unsigned long long)core->term);
		return 1;	/* stop; the pump resumes after the truncation is written */
	}
	cs_apply_send(c, &e);
	return 0;
}

void
cs_apply_pump(struct consensus *c, const struct raft_entry *committed, unsigned n)
{
	/*
	 * Only entries the core itself would hand out for applying: committed and durable in
	 * its own log. The commit index names the core's in-memory log; while a ready batch
	 * waits for the sync, the log on disk can still hold entries the core has already
	 * replaced (a suffix truncation not yet written), and reading those would apply,
	 * and acknowledge, an entry that never committed.
	 */
	struct cs_apply *a = &c->apply;
	uint64_t commit = raft_commit_index(c->raft);
	uint64_t persisted = raft_persisted_index(c->raft);
	uint64_t upto = commit < persisted ? commit : persisted;

	/* A snapshot the core has taken in but this process has not installed yet covers
	 * entries the file does not hold: wait for the install (next ready batch). */
	if (upto > raftlog_last_index(c->log))
		upto = raftlog_last_index(c->log);

	if (c->links[PROC_STORAGE] == NULL || !a->storage_known || cs_sync_busy(c))
		return;	/* a busy log is pumped again once its sync completes */
	for (unsigned i = 0; i < n; i++) {
		if (committed[i].index == a->sent + 1)
			cs_apply_send(c, &committed[i]);
	}
	if (a->sent < upto) {
		uint64_t first = raftlog_first_index(c->log);
		uint64_t from = a->sent + 1;
		int rc;
		if (first == 0 || from < first) {
			/* Compacted away: storage catches up from the snapshot instead. */
			if (!cs_snapshot_restore_storage(c, a->sent)) {
				log_warnx("storage needs entry %llu but the log starts at %llu",
				    (unsigned long long)from, (unsigned long long)first);
				return;
			}
			from = a->sent + 1;
			if (from > upto)
				return;
		}
		rc = raftlog_read(c->log, from, upto, cs_apply_resend_cb, c);
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
void
cs_apply_sync_applied(struct consensus *c)
{
	uint64_t upto = c->apply.applied < raft_commit_index(c->raft) ?
	    c->apply.applied : raft_commit_index(c->raft);

	if (upto > raft_applied_index(c->raft))
		raft_applied(c->raft, upto);
}

/* Answers the proposal of entry index with storage's result res. */
static void
cs_apply_answer(struct consensus *c, struct pending *p, uint64_t t, const char *res, size_t len)
{
	struct ipc_writer *out = &c->out;

	if (p->direct && t == p->term && p->w.kind == WAITER_GATEWAY)
		return;		/* storage has answered the gateway */
	if (t != p->term) {
		/* Another leader's entry took its place. */
		cs_answer_error(c, &p->w, IPC_EC_LEADERSHIP_LOST, NULL);
		return;
	}
	ipc_begin(out, p->w.reply, p->w.request_id);
	ipc_add_u64(out, "i", p->index);
	ipc_add_bin(out, "res", res, len);
	ipc_add_str(out, "lr", c->opts->raft_adv_addr);
	ipc_finish(out);
	cs_answer(c, &p->w, out);
}

static void
cs_apply_on_result(struct consensus *c, struct ipc_msg *m)
{
	struct cs_apply *a = &c->apply;
	uint64_t index, t = 0;
	const char *res;
	size_t len;

	if (ipc_get_u64(m, "i", &index) != IPC_OK || ipc_get_bin(m, "res", &res, &len) != IPC_OK) {
		log_warnx("APPLY_RESULT without index or result");
		return;
	}
	(void)ipc_get_u64(m, "t", &t);
	if (index > a->applied)
		a->applied = index;
	if (index > raft_applied_index(c->raft))
		raft_applied(c->raft, index);
	while (a->head != NULL && a->head->index <= index) {
		struct pending *p = a->head;
		a->head = p->next;
		if (a->head == NULL)
			a->tail = NULL;
		if (p->index == index)
			cs_apply_answer(c, p, t, res, len);
		else
			cs_answer_error(c, &p->w, IPC_EC_LEADERSHIP_LOST, NULL);
		free(p);
	}
	c->io->schedule_ready(c);
}

void
cs_apply_dispatch_storage(struct consensus *c, struct ipc_msg *m)
{
	uint64_t applied;

	switch (m->type) {
	case IPC_STORAGE_HELLO:
		if (ipc_get_u64(m, "i", &applied) != IPC_OK)
			applied = 0;
		log_info("storage has applied up to %llu", (unsigned long long)applied);
		c->apply.applied = applied;
		cs_apply_sync_applied(c);
		c->apply.sent = applied;
		c->apply.storage_known = true;
		(void)cs_snapshot_restore_storage(c, applied);
		cs_apply_pump(c, NULL, 0);
		break;
	case IPC_APPLY_RESULT:
		cs_apply_on_result(c, m);
		break;
	case IPC_SNAPSHOT_RESULT:
		cs_snapshot_on_result(c, m);
		break;
	case IPC_RESTORE_RESULT:
		cs_snapshot_on_restore_result(c, m);
		break;
	case IPC_QUERY_RESULT:
		if (!cs_forward_on_query_result(c, m))
			log_debug("QUERY_RESULT for no waiting read");
		break;
	default:
		log_warnx("unexpected %s from storage", ipc_type_name(m->type));
	}
}

void
cs_apply_expire(struct consensus *c, uint64_t now)
{
	/* -raft-apply-timeout: a proposal not applied by then is reported as timed out
	 * (it may still commit later; it was not acknowledged). */
	if (c->opts->apply_timeout_ms <= 0)
		return;
	for (struct pending *p = c->apply.head; p != NULL; p = p->next) {
		uint64_t to = p->w.apply_timeout_ms != 0 ? p->w.apply_timeout_ms :
		    (uint64_t)c->opts->apply_timeout_ms;

		if (p->w.kind != WAITER_NONE && now - p->started_ms > to) {
			cs_answer_error(c, &p->w, IPC_EC_TIMEOUT, NULL);
			p->w.kind = WAITER_NONE;
		}
	}
}

void
cs_apply_free(struct consensus *c)
{
	while (c->apply.head != NULL) {
		struct pending *p = c->apply.head;
		c->apply.head = p->next;
		free(p);
	}
	c->apply.tail = NULL;
}

void
cs_apply_forget_gateway(struct consensus *c)
{
	for (struct pending *p = c->apply.head; p != NULL; p = p->next)
		if (p->w.kind == WAITER_GATEWAY || p->w.kind == WAITER_MEMBERSHIP)
			p->w.kind = WAITER_NONE;
}
