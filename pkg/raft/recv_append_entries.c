/*
 * AppendEntries on a follower (§5.3): the consistency check on (prev_index, prev_term), fast
 * back-up hints on rejection, removing conflicting entries, appending, and following the
 * leader's commit index. Success replies wait until the entries are durable (raft_persisted).
 * Receives AppendEntries, sends AppendEntriesResult.
 */
#include "raft/raft_int.h"

#include "common/log.h"

static void
reject(struct raft *r, const struct raft_message *m, uint64_t conflict_term,
    uint64_t conflict_index)
{
	struct raft_message *out = raft_outbox_push(r, RAFT_MSG_APPEND_ENTRIES_RESULT, m->from);
	if (out == NULL)
		return;
	out->append_entries_result.success = false;
	out->append_entries_result.index = m->append_entries.prev_index;
	out->append_entries_result.last_index = raft_log_last_index(r);
	out->append_entries_result.conflict_term = conflict_term;
	out->append_entries_result.conflict_index = conflict_index;
	out->append_entries_result.seq = m->append_entries.seq;
}

/* Called for a leader message of the current term: we follow its sender. */
void
raft_follow(struct raft *r, const struct raft_message *m, uint64_t seq)
{
	/* A candidate that hears from the leader of its term returns to follower (§5.2). */
	if (r->state == RAFT_CANDIDATE)
		raft_become_follower(r, r->term, m->from);
	if (strcmp(r->leader, m->from) != 0) {
		snprintf(r->leader, sizeof(r->leader), "%s", m->from);
		r->soft_dirty = true;
	}
	r->last_leader_contact = r->now;
	r->ever_contacted = true;
	if (seq > r->last_seq)
		r->last_seq = seq;
	raft_reset_election_timer(r);
}

/* Drops our entries from index on; they never reached a majority of this leader's voters. */
static void
truncate_from(struct raft *r, uint64_t index)
{
	assert(index > r->commit);
	raft_log_truncate(r, index);
	if (index < r->unstable_from) {
		r->pending_truncate = r->pending_truncate ? RAFT_MIN(r->pending_truncate, index) : index;
		r->unstable_from = index;
	}
	if (r->persisted >= index)
		r->persisted = index - 1;
	if (r->verified >= index)
		r->verified = index - 1;
	if (r->config_index >= index)
		r->config_index = 0;	/* recomputed once the new entries are in */
}

int
raft_recv_append_entries(struct raft *r, const struct raft_message *m)
{
	const struct raft_append_entries *ae = &m->append_entries;
	const struct raft_entry *es = ae->entries;
	unsigned n = ae->n_entries;
	uint64_t prev = ae->prev_index;
	uint64_t last_new = prev + n;
	bool config_changed = false;
	int rv;

	/* Reply false if term < currentTerm (§5.1): the stale leader learns our term. */
	if (m->term < r->term) {
		reject(r, m, 0, 0);
		return RAFT_OK;
	}
	if (r->state == RAFT_LEADER) {
		log_warnx("raft %s: AppendEntries from %s in own term %llu", r->id, m->from,
		    (unsigned long long)r->term);
		return RAFT_OK;
	}
	raft_follow(r, m, ae->seq);

	/* Committed entries match the leader's (Leader Completeness, §5.4): skip them. */
	if (prev < r->commit) {
		uint64_t skip = RAFT_MIN(r->commit - prev, (uint64_t)n);
		es += skip;
		n -= (unsigned)skip;
		prev += skip;
	} else {
		uint64_t last = raft_log_last_index(r);
		/* Reply false if the log has no entry at prevLogIndex whose term matches
		 * prevLogTerm (§5.3), with hints so the leader can skip a whole term (§5.3, end). */
		if (prev > last) {
			reject(r, m, 0, last + 1);
			return RAFT_OK;
		}
		uint64_t t = raft_log_term_at(r, prev);
		if (t != ae->prev_term) {
			uint64_t ci = prev;
			while (ci - 1 > r->commit && ci - 1 > r->log.offset &&
			    raft_log_term_at(r, ci - 1) == t)
				ci--;
			reject(r, m, t, ci);
			return RAFT_OK;
		}
	}

	/* If an existing entry conflicts with a new one (same index, different terms), delete
	 * it and all that follow (§5.3); append any new entries not already in the log. */
	for (unsigned i = 0; i < n; i++) {
		const struct raft_entry *e = &es[i];
		if (e->index <= raft_log_last_index(r)) {
			if (raft_log_term_at(r, e->index) == e->term)
				continue;
			log_debug("raft %s: truncating log from %llu", r->id,
			    (unsigned long long)e->index);
			if (r->config_index >= e->index)
				config_changed = true;
			truncate_from(r, e->index);
		}
		struct raft_entry c;
		if ((rv = raft_entry_copy(&c, e)) != RAFT_OK)
			return rv;
		rv = raft_log_append(r, &c);
		raft_entry_unref(&c);
		if (rv != RAFT_OK)
			return rv;
		if (e->type == RAFT_ENTRY_CONFIG)
			config_changed = true;
	}
	if (config_changed && (rv = raft_config_recompute(r)) != RAFT_OK)
		return rv;

	if (last_new > r->verified)
		r->verified = last_new;
	/* If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
	 * entry) (§5.3): everything up to verified matches the leader's log. */
	uint64_t c = RAFT_MIN(ae->leader_commit, r->verified);
	if (c > r->commit)
		r->commit = c;

	if (ae->n_entries == 0 || r->persisted >= last_new)
		raft_follower_send_ack(r);
	else
		r->ack_pending = true;
	return RAFT_OK;
}
