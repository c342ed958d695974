/*
 * The simulator's safety checks (see sim.h), run after every step: Election Safety,
 * Log Matching (inductively, over every log ever seen), Leader Completeness, State
 * Machine Safety, commit indexes that never go back, and leases held only while no newer
 * leader exists; and the statistics and state dumps that explain a failed seed.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Invariant bookkeeping ------------------------------------------------------------------ */

static void
grow_terms(struct sim *s, uint64_t term)
{
	if (term < s->n_terms)
		return;
	uint64_t n = (term + 1) * 2;
	s->leader_of = sim_xrealloc(s->leader_of, n * sizeof(*s->leader_of));
	s->elected_prefix = sim_xrealloc(s->elected_prefix, n * sizeof(*s->elected_prefix));
	for (uint64_t i = s->n_terms; i < n; i++) {
		s->leader_of[i] = 0;
		s->elected_prefix[i] = 0;
	}
	s->n_terms = n;
}

static void
grow_gc(struct sim *s, uint64_t index)
{
	if (index < s->gc_cap)
		return;
	uint64_t n = (index + 1) * 2;
	s->gc_hash = sim_xrealloc(s->gc_hash, n * sizeof(*s->gc_hash));
	memset(s->gc_hash + s->gc_cap, 0, (n - s->gc_cap) * sizeof(*s->gc_hash));
	s->gc_cap = n;
}

/* Records that the entry with hash h is committed at index; two different ones is a
 * violation of State Machine Safety. */
void
sim_record_committed(struct sim *s, unsigned node, uint64_t index, uint64_t h, const char *what)
{
	grow_gc(s, index);
	if (s->gc_hash[index] != 0 && s->gc_hash[index] != h) {
		sim_fail(s, "State Machine Safety: node %u %s a different entry at index %" PRIu64,
		    node + 1, what, index);
		return;
	}
	s->gc_hash[index] = h;
	if (index > s->gc_max)
		s->gc_max = index;
}

static uint64_t
term_at(struct raft *r, uint64_t index)
{
	const struct raft_entry *e = raft_entry_at(r, index);
	if (e != NULL)
		return e->term;
	if (index == raft_snapshot_index(r))
		return raft_snapshot_term(r);
	return index == 0 ? 0 : UINT64_MAX;	/* unknown */
}

/* Log Matching, inductively: every (index, term) pair names one entry and one predecessor
 * term across all logs ever seen. */
static void
lm_check(struct sim *s, unsigned node, uint64_t index, uint64_t term, uint64_t h,
    uint64_t prev_term)
{
	uint64_t b = (index * 31 + term) % s->lm_buckets;
	for (struct lm_slot *p = s->lm[b]; p != NULL; p = p->next) {
		if (p->index != index || p->term != term)
			continue;
		if (p->hash != h)
			sim_fail(s, "Log Matching: node %u holds a different entry at %" PRIu64
			    " term %" PRIu64, node + 1, index, term);
		else if (prev_term != UINT64_MAX && p->prev_term != UINT64_MAX &&
		    p->prev_term != prev_term)
			sim_fail(s, "Log Matching: node %u entry %" PRIu64 " term %" PRIu64
			    " follows term %" PRIu64 ", elsewhere %" PRIu64, node + 1, index, term,
			    prev_term, p->prev_term);
		else if (p->prev_term == UINT64_MAX)
			p->prev_term = prev_term;
		return;
	}
	struct lm_slot *p = sim_xrealloc(NULL, sizeof(*p));
	*p = (struct lm_slot){ index, term, h, prev_term, s->lm[b] };
	s->lm[b] = p;
}

static void
check_node_log(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];
	struct raft *r = n->r;
	uint64_t last = raft_last_index(r);

	/* Restart from the committed prefix if the log changed under the watermark. */
	if (n->lm_checked > last || term_at(r, n->lm_checked) != n->lm_checked_term)
		n->lm_checked = raft_commit_index(r) < last ? raft_commit_index(r) : last;
	uint64_t from = n->lm_checked + 1;
	if (from <= raft_snapshot_index(r))
		from = raft_snapshot_index(r) + 1;
	for (uint64_t idx = from; idx <= last; idx++) {
		const struct raft_entry *e = raft_entry_at(r, idx);
		if (e == NULL)
			continue;
		lm_check(s, i, idx, e->term, sim_entry_hash(e), term_at(r, idx - 1));
	}
	n->lm_checked = last;
	n->lm_checked_term = term_at(r, last);
}

void
sim_check_invariants(struct sim *s)
{
	uint64_t prefix = s->gc_max;

	for (unsigned i = 0; i < s->n && !s->failed; i++) {
		struct sim_node *n = &s->nodes[i];
		if (!n->up || raft_state(n->r) != RAFT_LEADER)
			continue;
		uint64_t t = raft_term(n->r);
		grow_terms(s, t);
		if (s->leader_of[t] == 0) {
			s->leader_of[t] = (int)i + 1;
			s->elected_prefix[t] = prefix;
			/* Leader Completeness (§5.4): every entry committed before this election. */
			for (uint64_t idx = raft_snapshot_index(n->r) + 1; idx <= prefix; idx++) {
				const struct raft_entry *e = raft_entry_at(n->r, idx);
				if (s->gc_hash[idx] == 0)
					continue;
				if (e == NULL || sim_entry_hash(e) != s->gc_hash[idx]) {
					sim_fail(s, "Leader Completeness: leader %u of term %" PRIu64
					    " lacks committed entry %" PRIu64, i + 1, t, idx);
					break;
				}
			}
		} else if (s->leader_of[t] != (int)i + 1) {
			sim_fail(s, "Election Safety: nodes %d and %u both lead term %" PRIu64,
			    s->leader_of[t], i + 1, t);
		}
		/* A lease is only valid while no newer leader exists. */
		if (raft_lease_valid(n->r, s->now)) {
			for (unsigned j = 0; j < s->n; j++) {
				if (j != i && s->nodes[j].up &&
				    raft_state(s->nodes[j].r) == RAFT_LEADER &&
				    raft_term(s->nodes[j].r) > t)
					sim_fail(s, "lease: node %u holds a lease in term %" PRIu64
					    " while node %u leads term %" PRIu64, i + 1, t, j + 1,
					    raft_term(s->nodes[j].r));
			}
		}
	}
	for (unsigned i = 0; i < s->n && !s->failed; i++) {
		struct sim_node *n = &s->nodes[i];
		if (!n->up)
			continue;
		check_node_log(s, i);
		uint64_t c = raft_commit_index(n->r);
		if (c < n->commit_seen) {
			sim_fail(s, "node %u commit index went back from %" PRIu64 " to %" PRIu64,
			    i + 1, n->commit_seen, c);
			break;
		}
		for (uint64_t idx = n->commit_seen + 1; idx <= c && !s->failed; idx++) {
			const struct raft_entry *e = raft_entry_at(n->r, idx);
			if (e != NULL)
				sim_record_committed(s, i, idx, sim_entry_hash(e), "committed");
		}
		n->commit_seen = c;
	}
}

void
sim_describe(const struct sim *s, char *buf, size_t len)
{
	uint64_t top = 0;
	for (uint64_t t = 0; t < s->n_terms; t++)
		if (s->leader_of[t])
			top = t;
	snprintf(buf, len, "n=%u commit=%" PRIu64 " leader-terms=%" PRIu64 " RV=%lu AE=%lu AER=%lu"
	    " IS=%lu TN=%lu reads=%u", s->n, s->gc_max, top,
	    s->delivered[RAFT_MSG_REQUEST_VOTE], s->delivered[RAFT_MSG_APPEND_ENTRIES],
	    s->delivered[RAFT_MSG_APPEND_ENTRIES_RESULT], s->delivered[RAFT_MSG_INSTALL_SNAPSHOT],
	    s->delivered[RAFT_MSG_TIMEOUT_NOW], s->n_reads);
}

void
sim_dump(const struct sim *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		const struct sim_node *n = &s->nodes[i];
		if (!n->up) {
			fprintf(stderr, "    node %u: down (term %" PRIu64 ", %u durable entries)\n",
			    i + 1, n->d_term, n->d_n);
			continue;
		}
		struct raft *r = n->r;
		const struct raft_config *c = raft_configuration(r);
		char cs[256] = "";
		size_t k = 0;
		for (unsigned j = 0; j < c->n && k < sizeof(cs) - 16; j++)
			k += (size_t)snprintf(cs + k, sizeof(cs) - k, "%s%s ", c->servers[j].id,
			    c->servers[j].suffrage == RAFT_VOTER ? "" : "(nv)");
		fprintf(stderr, "    node %u: %s%s term %" PRIu64 " vote '%s' leader '%s' commit %"
		    PRIu64 " persisted %" PRIu64 " last %" PRIu64 "/%" PRIu64 " snap %" PRIu64
		    " applied %" PRIu64 " config@%" PRIu64 " [%s] next-timeout %" PRIu64 "\n",
		    i + 1, raft_state_name(raft_state(r)), raft_prevoting(r) ? "(pre)" : "",
		    raft_term(r), raft_voted_for(r), raft_leader_id(r), raft_commit_index(r),
		    raft_persisted_index(r), raft_last_index(r), raft_last_term(r),
		    raft_snapshot_index(r), n->sm_n, raft_configuration_index(r), cs,
		    raft_next_timeout(r));
	}
	fprintf(stderr, "    %u messages in flight, now %" PRIu64 "\n", s->n_msgs, s->now);
}
