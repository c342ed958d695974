/*
 * Leader election (§5.2) with pre-vote (dissertation §9.6): becoming follower, candidate and
 * leader, the randomized election timer, and counting votes. Sends RequestVote.
 */
#include "raft/raft_int.h"

#include "common/log.h"

void
raft_reset_election_timer(struct raft *r)
{
	r->election_deadline = r->now + raft_random_timeout(r);
}

void
raft_become_follower(struct raft *r, uint64_t term, const char *leader)
{
	bool was_leader = r->state == RAFT_LEADER;

	assert(term >= r->term);
	if (term > r->term) {
		r->term = term;
		r->vote[0] = '\0';
		r->hs_dirty = true;
		r->verified = 0;
		r->ack_pending = false;
		r->last_seq = 0;
	}
	if (strcmp(r->leader, leader) != 0) {
		snprintf(r->leader, sizeof(r->leader), "%s", leader);
		r->soft_dirty = true;
	}
	if (r->state != RAFT_FOLLOWER)
		raft_set_state(r, RAFT_FOLLOWER);
	r->prevote = false;
	if (was_leader) {
		raft_reads_fail(r, RAFT_ELEADERSHIPLOST);
		r->transfer_target[0] = '\0';
		r->need_heartbeat = false;
	}
	r->soft_dirty = true;
	raft_reset_election_timer(r);
}

void
raft_become_leader(struct raft *r)
{
	uint64_t last = raft_log_last_index(r);

	raft_set_state(r, RAFT_LEADER);
	r->prevote = false;
	strcpy(r->leader, r->id);
	r->transfer_target[0] = '\0';
	r->lease_void = false;
	r->n_reads = 0;
	r->seq = 0;
	r->need_heartbeat = false;
	memset(r->seq_ring_seq, 0, sizeof(r->seq_ring_seq));
	for (unsigned i = 0; i < r->config.n; i++) {
		struct raft_progress *pr = &r->prs[i];
		pr->next = last + 1;
		pr->match = 0;
		pr->state = PR_PROBE;
		pr->paused = false;
		pr->inflight_count = 0;
		pr->acked_seq = 0;
		pr->recent = true;
		pr->last_recv = r->now;
		pr->last_progress = r->now;
	}
	r->heartbeat_deadline = r->now + r->opts.heartbeat_ms;
	r->check_quorum_deadline = r->now + r->opts.election_timeout_ms;
	/* A no-op of the new term lets the leader learn what is committed (§5.4.2, §8) and is
	 * what ReadIndex waits for. */
	uint64_t idx;
	if (raft_leader_append(r, RAFT_ENTRY_NOOP, NULL, 0, &idx) != RAFT_OK)
		idx = last + 1;
	r->noop_index = idx;
	log_debug("raft %s: leader of term %llu, no-op at %llu", r->id,
	    (unsigned long long)r->term, (unsigned long long)idx);
	raft_leader_maybe_commit(r);
}

/* Counts granted votes among voters of the configuration; wins or advances to the real vote. */
void
raft_candidate_tally(struct raft *r)
{
	unsigned granted = 0, rejected = 0, voters = raft_config_voters(&r->config);

	for (unsigned i = 0; i < r->config.n; i++) {
		if (r->config.servers[i].suffrage != RAFT_VOTER)
			continue;
		if (r->prs[i].vote_granted)
			granted++;
		else if (r->prs[i].vote_answered)
			rejected++;
	}
	if (granted >= raft_quorum(r)) {
		if (r->prevote)
			raft_campaign(r, false, false);
		else
			raft_become_leader(r);
	} else if (rejected > voters - raft_quorum(r)) {
		/* Lost: wait for a leader or the next timeout as a follower. */
		raft_become_follower(r, r->term, "");
	}
}

/* Starts an election (§5.2), or a pre-vote round that changes neither term nor vote. */
void
raft_campaign(struct raft *r, bool prevote, bool transfer)
{
	if (r->state == RAFT_LEADER)
		return;
	raft_set_state(r, RAFT_CANDIDATE);
	r->prevote = prevote;
	if (r->leader[0] != '\0') {
		r->leader[0] = '\0';
		r->soft_dirty = true;
	}
	if (!prevote) {
		r->term++;
		strcpy(r->vote, r->id);
		r->hs_dirty = true;
		r->verified = 0;
		r->ack_pending = false;
	}
	raft_reset_election_timer(r);
	for (unsigned i = 0; i < r->config.n; i++) {
		bool self = strcmp(r->prs[i].id, r->id) == 0;
		r->prs[i].vote_granted = self;
		r->prs[i].vote_answered = self;
	}
	log_debug("raft %s: %s for term %llu", r->id, prevote ? "pre-vote" : "campaign",
	    (unsigned long long)(r->term + (prevote ? 1 : 0)));
	raft_candidate_tally(r);
	if (r->state != RAFT_CANDIDATE || r->prevote != prevote)
		return;	/* already decided (a quorum of one) */
	for (unsigned i = 0; i < r->config.n; i++) {
		const struct raft_server *s = &r->config.servers[i];
		if (s->suffrage != RAFT_VOTER || strcmp(s->id, r->id) == 0)
			continue;
		struct raft_message *m = raft_outbox_push(r, RAFT_MSG_REQUEST_VOTE, s->id);
		if (m == NULL)
			continue;
		m->term = prevote ? r->term + 1 : r->term;
		m->request_vote.last_log_index = raft_log_last_index(r);
		m->request_vote.last_log_term = raft_log_last_term(r);
		m->request_vote.prevote = prevote;
		m->request_vote.transfer = transfer;
	}
}
