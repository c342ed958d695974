/*
 * Log replication (§5.3) on the leader: appending proposals, per-follower flow control (probe
 * one message at a time after a rejection, pipeline up to max_inflight once matched, hand over
 * to a snapshot when the entries are gone), heartbeats, and advancing the commit index by
 * counting (§5.3, §5.4.2). Also the follower's deferred acknowledgement, and the
 * raft_propose / raft_persisted / raft_applied events. Sends AppendEntries, InstallSnapshot.
 */
#include "raft/raft_int.h"

#include "common/log.h"

static bool
is_self(const struct raft *r, const struct raft_progress *pr)
{
	return strcmp(pr->id, r->id) == 0;
}

int
raft_leader_append(struct raft *r, enum raft_entry_type type, const void *data, size_t len,
    uint64_t *index)
{
	struct raft_entry src = { .index = raft_log_last_index(r) + 1, .term = r->term,
	    .type = type, .data = data, .len = len }, e;
	struct raft_config c;
	int rv;

	assert(r->state == RAFT_LEADER);
	if (type == RAFT_ENTRY_CONFIG && (rv = raft_config_decode(data, len, &c)) != RAFT_OK)
		return rv;
	if ((rv = raft_entry_copy(&e, &src)) == RAFT_OK) {
		rv = raft_log_append(r, &e);
		raft_entry_unref(&e);
	}
	if (type == RAFT_ENTRY_CONFIG) {
		/* Single-server changes take effect on append (dissertation §4.1). */
		if (rv == RAFT_OK)
			rv = raft_config_set(r, &c, src.index);
		raft_config_free(&c);
	}
	if (rv != RAFT_OK)
		return rv;
	if (index != NULL)
		*index = src.index;
	r->need_flush = true;
	return RAFT_OK;
}

static void
inflight_push(struct raft *r, struct raft_progress *pr, uint64_t last)
{
	unsigned cap = r->opts.max_inflight;
	assert(pr->inflight_count < cap);
	pr->inflight[(pr->inflight_start + pr->inflight_count) % cap] = last;
	pr->inflight_count++;
}

void
raft_inflight_free_to(struct raft *r, struct raft_progress *pr, uint64_t upto)
{
	unsigned cap = r->opts.max_inflight;
	while (pr->inflight_count > 0 && pr->inflight[pr->inflight_start] <= upto) {
		pr->inflight_start = (pr->inflight_start + 1) % cap;
		pr->inflight_count--;
	}
}

void
raft_progress_become_probe(struct raft *r, struct raft_progress *pr)
{
	(void)r;
	pr->state = PR_PROBE;
	pr->paused = false;
	pr->inflight_count = 0;
	pr->pending_snapshot = 0;
	if (pr->next <= pr->match)
		pr->next = pr->match + 1;
}

void
raft_progress_become_replicate(struct raft *r, struct raft_progress *pr)
{
	pr->state = PR_REPLICATE;
	pr->paused = false;
	pr->inflight_count = 0;
	pr->pending_snapshot = 0;
	pr->next = pr->match + 1;
	pr->last_progress = r->now;
}

static void
send_snapshot(struct raft *r, struct raft_progress *pr)
{
	struct raft_message *m;

	if (r->snap.index == 0)
		return;
	pr->state = PR_SNAPSHOT;
	pr->pending_snapshot = r->snap.index;
	pr->snapshot_sent_at = r->now;
	pr->inflight_count = 0;
	if ((m = raft_outbox_push(r, RAFT_MSG_INSTALL_SNAPSHOT, pr->id)) == NULL)
		return;
	m->install_snapshot.meta.index = r->snap.index;
	m->install_snapshot.meta.term = r->snap.term;
	m->install_snapshot.seq = r->seq;
	if (raft_config_copy(&m->install_snapshot.meta.config, &r->snap.config) != RAFT_OK)
		r->outbox.n_msgs--;	/* retried after the snapshot timeout */
	log_debug("raft %s: sending snapshot %llu to %s", r->id,
	    (unsigned long long)r->snap.index, pr->id);
}

/* One AppendEntries (§5.3) from pr->next, or a heartbeat that only checks the matched prefix
 * and carries the commit index and heartbeat round. */
void
raft_send_append(struct raft *r, struct raft_progress *pr, bool heartbeat)
{
	uint64_t last = raft_log_last_index(r);
	uint64_t prev, prev_term;
	struct raft_message *m;

	if (heartbeat) {
		prev = pr->match;
		prev_term = raft_log_term_at(r, prev);
		if (prev_term == 0)
			prev = 0;
	} else {
		prev = pr->next - 1;
		prev_term = raft_log_term_at(r, prev);
		if ((prev != 0 && prev_term == 0) ||
		    (pr->next <= last && raft_log_get(r, pr->next) == NULL)) {
			send_snapshot(r, pr);
			return;
		}
	}
	if ((m = raft_outbox_push(r, RAFT_MSG_APPEND_ENTRIES, pr->id)) == NULL)
		return;
	m->append_entries.prev_index = prev;
	m->append_entries.prev_term = prev_term;
	m->append_entries.leader_commit = r->commit;
	m->append_entries.seq = r->seq;
	if (heartbeat)
		return;

	unsigned n = 0;
	size_t bytes = 0;
	for (uint64_t i = pr->next; i <= last && n < r->opts.max_entries_per_msg; i++) {
		const struct raft_entry *e = raft_log_get(r, i);
		if (n > 0 && bytes + e->len > r->opts.max_bytes_per_msg)
			break;
		bytes += e->len;
		n++;
	}
	if (n > 0) {
		struct raft_entry *es = malloc(n * sizeof(*es));
		if (es == NULL) {
			r->outbox.n_msgs--;
			return;
		}
		for (unsigned i = 0; i < n; i++) {
			es[i] = *raft_log_get(r, pr->next + i);
			raft_entry_ref(&es[i]);
		}
		m->append_entries.entries = es;
		m->append_entries.n_entries = n;
	}
	if (pr->state == PR_REPLICATE) {
		if (n > 0) {
			pr->next += n;
			inflight_push(r, pr, pr->next - 1);
		}
	} else {
		pr->paused = true;
	}
}

void
raft_maybe_send_append(struct raft *r, struct raft_progress *pr)
{
	if (is_self(r, pr))
		return;
	switch (pr->state) {
	case PR_PROBE:
		if (!pr->paused)
			raft_send_append(r, pr, false);
		break;
	case PR_REPLICATE:
		while (pr->state == PR_REPLICATE && pr->inflight_count < r->opts.max_inflight &&
		    pr->next <= raft_log_last_index(r))
			raft_send_append(r, pr, false);
		break;
	case PR_SNAPSHOT:
		break;
	}
}

void
raft_broadcast_append(struct raft *r)
{
	bool commit_moved = r->commit > r->commit_sent;

	for (unsigned i = 0; i < r->config.n; i++) {
		struct raft_progress *pr = &r->prs[i];
		unsigned before = r->outbox.n_msgs;
		raft_maybe_send_append(r, pr);
		/* Tell followers with nothing new to receive about the new commit index at once
		 * rather than at the next heartbeat, so their state machines keep up. */
		if (commit_moved && r->outbox.n_msgs == before && !is_self(r, pr) &&
		    pr->state == PR_REPLICATE)
			raft_send_append(r, pr, true);
	}
	r->commit_sent = r->commit;
}

void
raft_broadcast_heartbeat(struct raft *r)
{
	uint64_t stall = r->opts.election_timeout_ms;

	r->seq++;
	r->need_heartbeat = false;
	raft_seq_record(r, r->seq);
	for (unsigned i = 0; i < r->config.n; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (is_self(r, pr))
			continue;
		switch (pr->state) {
		case PR_PROBE:
			/* The probe doubles as the heartbeat; a lost one is retried here. */
			pr->paused = false;
			raft_send_append(r, pr, false);
			continue;
		case PR_SNAPSHOT:
			if (r->now - pr->snapshot_sent_at >= 5 * stall) {
				raft_progress_become_probe(r, pr);
				raft_send_append(r, pr, false);
				continue;
			}
			break;
		case PR_REPLICATE:
			/* The tail of a pipeline was lost: nothing would ever be rejected. */
			if (pr->inflight_count > 0 && r->now - pr->last_progress >= stall) {
				raft_progress_become_probe(r, pr);
				raft_send_append(r, pr, false);
				continue;
			}
			break;
		}
		raft_send_append(r, pr, true);
	}
}

static int
cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* §5.3/§5.4.2: an index stored on a majority of voters is committed, but only an entry of the
 * current term is committed by counting. The leader counts itself up to its durable index. */
void
raft_leader_maybe_commit(struct raft *r)
{
	uint64_t m[r->config.n + 1];
	unsigned n = 0;

	if (r->state != RAFT_LEADER)
		return;
	for (unsigned i = 0; i < r->config.n; i++) {
		if (r->config.servers[i].suffrage != RAFT_VOTER)
			continue;
		m[n++] = is_self(r, &r->prs[i]) ? r->persisted : r->prs[i].match;
	}
	if (n == 0)
		return;
	qsort(m, n, sizeof(m[0]), cmp_desc);
	uint64_t idx = m[raft_quorum(r) - 1];
	if (idx > r->commit && raft_log_term_at(r, idx) == r->term) {
		r->commit = idx;
		r->need_flush = true;
		raft_reads_release(r);
	}
	/* A leader removed (or demoted) by a committed change steps down. */
	if (r->commit >= r->config_index && !raft_self_is_voter(r)) {
		log_debug("raft %s: no longer a voter, stepping down", r->id);
		raft_become_follower(r, r->term, "");
	}
}

/* Follower: acknowledge what is both durable and known to match the leader. */
void
raft_follower_send_ack(struct raft *r)
{
	struct raft_message *m;

	r->ack_pending = r->persisted < r->verified;
	if (r->state != RAFT_FOLLOWER || r->leader[0] == '\0')
		return;
	if ((m = raft_outbox_push(r, RAFT_MSG_APPEND_ENTRIES_RESULT, r->leader)) == NULL)
		return;
	m->append_entries_result.success = true;
	m->append_entries_result.index = RAFT_MIN(r->persisted, r->verified);
	m->append_entries_result.last_index = raft_log_last_index(r);
	m->append_entries_result.seq = r->last_seq;
}

int
raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index, uint64_t *term)
{
	uint64_t idx;
	int rv;

	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	if (r->state != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transfer_target[0] != '\0')
		return RAFT_ETRANSFER;
	if (len > 0 && data == NULL)
		return RAFT_EINVAL;
	if ((rv = raft_leader_append(r, RAFT_ENTRY_NORMAL, data, len, &idx)) != RAFT_OK)
		return rv;
	if (index != NULL)
		*index = idx;
	if (term != NULL)
		*term = r->term;
	return RAFT_OK;
}

int
raft_persisted(struct raft *r, uint64_t index, uint64_t term)
{
	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	/* Stale reports about entries that were overwritten since are ignored: by Log Matching
	 * an (index, term) pair still present names the same prefix. */
	if (index <= r->persisted || index > raft_log_last_index(r) ||
	    index >= r->unstable_from || raft_log_term_at(r, index) != term)
		return RAFT_OK;
	r->persisted = index;
	if (r->state == RAFT_LEADER)
		raft_leader_maybe_commit(r);
	else if (r->ack_pending)
		raft_follower_send_ack(r);
	return RAFT_OK;
}

int
raft_applied(struct raft *r, uint64_t index)
{
	if (index > r->apply_handed)
		return RAFT_EINVAL;
	if (index > r->applied)
		r->applied = index;
	return RAFT_OK;
}
