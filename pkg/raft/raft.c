/*
 * The core's life cycle (new, load, bootstrap, start, shutdown, free), the one place state
 * changes (raft_set_state), time (raft_tick), the error table and the /status getters.
 */
#include "raft/raft_int.h"

#include <inttypes.h>

#include "common/log.h"

const char *
raft_strerror(int code)
{
	switch (code) {
#define RAFT_ERR_STR_(name, val, str) case val: return str;
	RAFT_ERRORS(RAFT_ERR_STR_)
#undef RAFT_ERR_STR_
	}
	return "unknown raft error";
}

const char *
raft_state_name(enum raft_state s)
{
	switch (s) {
	case RAFT_FOLLOWER: return "Follower";
	case RAFT_CANDIDATE: return "Candidate";
	case RAFT_LEADER: return "Leader";
	case RAFT_SHUTDOWN: return "Shutdown";
	}
	return "Unknown";
}

const char *
raft_message_type_name(enum raft_message_type t)
{
	switch (t) {
	case RAFT_MSG_REQUEST_VOTE: return "RequestVote";
	case RAFT_MSG_REQUEST_VOTE_RESULT: return "RequestVoteResult";
	case RAFT_MSG_APPEND_ENTRIES: return "AppendEntries";
	case RAFT_MSG_APPEND_ENTRIES_RESULT: return "AppendEntriesResult";
	case RAFT_MSG_INSTALL_SNAPSHOT: return "InstallSnapshot";
	case RAFT_MSG_TIMEOUT_NOW: return "TimeoutNow";
	}
	return "Unknown";
}

/* Legal moves: follower → candidate → leader → follower, candidate → follower, and anything
 * → shutdown. Staying put is allowed (a new term as follower, a new campaign). */
void
raft_set_state(struct raft *r, enum raft_state next)
{
	static const bool legal[4][4] = {
		/* to:     F      C      L      S */
		/* F */ { true,  true,  false, true },
		/* C */ { true,  true,  true,  true },
		/* L */ { true,  false, false, true },
		/* S */ { false, false, false, true },
	};
	enum raft_state prev = r->state;

	assert(legal[prev][next]);
	if (!legal[prev][next])
		return;
	if (prev != next)
		log_debug("raft %s: %s -> %s (term %" PRIu64 ")", r->id, raft_state_name(prev),
		    raft_state_name(next), r->term);
	r->state = next;
	r->soft_dirty = true;
}

/* xorshift64*: deterministic for a given seed, which the simulator relies on. */
uint64_t
raft_random_timeout(struct raft *r)
{
	uint64_t x = r->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->rng = x;
	uint64_t t = r->opts.election_timeout_ms;
	return t + (x * 2685821657736338717ULL) % t;
}

unsigned
raft_quorum(const struct raft *r)
{
	return raft_config_voters(&r->config) / 2 + 1;
}

bool
raft_self_is_voter(const struct raft *r)
{
	return raft_config_is_voter(&r->config, r->id);
}

int
raft_new(const struct raft_options *opts, struct raft **out)
{
	if (opts == NULL || opts->id == NULL || opts->address == NULL || opts->id[0] == '\0')
		return RAFT_EINVAL;
	if (strlen(opts->id) >= RAFT_ID_MAX || strlen(opts->address) >= RAFT_ADDR_MAX)
		return RAFT_ETOOBIG;
	struct raft *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return RAFT_ENOMEM;
	strcpy(r->id, opts->id);
	strcpy(r->address, opts->address);
	r->opts = *opts;
	r->opts.id = r->id;
	r->opts.address = r->address;
	if (r->opts.election_timeout_ms == 0)
		r->opts.election_timeout_ms = 1000;
	if (r->opts.heartbeat_ms == 0)
		r->opts.heartbeat_ms = RAFT_MAX(r->opts.election_timeout_ms / 10, 1);
	if (r->opts.lease_ms == 0)
		r->opts.lease_ms = r->opts.election_timeout_ms / 2;
	if (r->opts.lease_ms > r->opts.election_timeout_ms)
		r->opts.lease_ms = r->opts.election_timeout_ms;
	if (r->opts.max_inflight == 0)
		r->opts.max_inflight = 64;
	if (r->opts.max_entries_per_msg == 0)
		r->opts.max_entries_per_msg = 512;
	if (r->opts.max_bytes_per_msg == 0)
		r->opts.max_bytes_per_msg = 1 << 20;
	/* Mix the id in so nodes sharing a seed still draw different timeouts. */
	uint64_t h = 1469598103934665603ULL ^ opts->seed;
	for (const char *p = r->id; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	r->rng = h ? h : 0x9e3779b97f4a7c15ULL;
	r->state = RAFT_FOLLOWER;
	raft_log_init(&r->log);
	raft_config_init(&r->config);
	raft_config_init(&r->snap.config);
	r->unstable_from = 1;
	*out = r;
	return RAFT_OK;
}

void
raft_free(struct raft *r)
{
	if (r == NULL)
		return;
	raft_batch_free(&r->outbox);
	raft_batch_free(&r->handed);
	raft_log_close(&r->log);
	for (unsigned i = 0; i < r->config.n; i++)
		free(r->prs[i].inflight);
	free(r->prs);
	raft_config_free(&r->config);
	raft_config_free(&r->snap.config);
	free(r->reads);
	free(r);
}

int
raft_load(struct raft *r, uint64_t term, const char *vote,
    const struct raft_snapshot_meta *snapshot, const struct raft_entry *entries, unsigned n)
{
	int rv;

	if (r->started || r->term != 0 || raft_log_last_index(r) != 0)
		return RAFT_EBADSTATE;
	if (vote != NULL && strlen(vote) >= RAFT_ID_MAX)
		return RAFT_ETOOBIG;
	uint64_t first = n > 0 ? entries[0].index : 0;
	for (unsigned i = 0; i < n; i++) {
		if (entries[i].index != first + i || entries[i].term > term ||
		    (i > 0 && entries[i].term < entries[i - 1].term))
			return RAFT_EINVAL;
	}
	if (snapshot != NULL && snapshot->index > 0) {
		if (n > 0 && (first > snapshot->index + 1 || entries[n - 1].index < snapshot->index))
			return RAFT_EINVAL;
		raft_config_free(&r->snap.config);
		r->snap.index = snapshot->index;
		r->snap.term = snapshot->term;
		if ((rv = raft_config_copy(&r->snap.config, &snapshot->config)) != RAFT_OK)
			return rv;
		r->log.offset = snapshot->index;
	} else if (n > 0 && first != 1) {
		return RAFT_EINVAL;
	}
	if (n > 0)
		r->log.offset = first - 1;
	for (unsigned i = 0; i < n; i++) {
		struct raft_entry e;
		if ((rv = raft_entry_copy(&e, &entries[i])) != RAFT_OK)
			return rv;
		rv = raft_log_append(r, &e);
		raft_entry_unref(&e);
		if (rv != RAFT_OK)
			return rv;
	}
	r->term = term;
	snprintf(r->vote, sizeof(r->vote), "%s", vote ? vote : "");
	r->commit = r->applied = r->apply_handed = r->snap.index;
	r->persisted = raft_log_last_index(r);
	r->unstable_from = r->persisted + 1;
	return raft_config_recompute(r);
}

int
raft_bootstrap(struct raft *r, const struct raft_config *config)
{
	void *buf;
	size_t len;
	int rv;

	/* No log and no snapshot is no cluster state, even if a term and vote were persisted
	 * before the first entries reached the disk. */
	if (r->started || raft_log_last_index(r) != 0 || r->snap.index != 0)
		return RAFT_EBADSTATE;
	if (config == NULL || raft_config_voters(config) == 0)
		return RAFT_EINVAL;
	if ((rv = raft_config_encode(config, &buf, &len)) != RAFT_OK)
		return rv;
	struct raft_entry src = { .index = 1, .term = 1, .type = RAFT_ENTRY_CONFIG,
	    .data = buf, .len = len }, e;
	rv = raft_entry_copy(&e, &src);
	free(buf);
	if (rv != RAFT_OK)
		return rv;
	rv = raft_log_append(r, &e);
	raft_entry_unref(&e);
	if (rv != RAFT_OK)
		return rv;
	if (r->term == 0) {
		r->term = 1;
		r->hs_dirty = true;
	}
	r->bootstrapped = true;
	return raft_config_set(r, config, 1);
}

int
raft_start(struct raft *r, uint64_t now)
{
	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	if (r->started)
		return RAFT_EBADSTATE;
	r->started = true;
	r->now = now;
	r->started_at = now;
	r->soft_dirty = true;
	raft_reset_election_timer(r);
	/* A lone voter has nobody to wait for (§5.2 with a quorum of one) — unless it may have
	 * helped elect a leader of its current term (voted for it, or followed it), whose lease
	 * could still count on it: then it waits out an election timeout like everybody. */
	if (raft_self_is_voter(r) && raft_config_voters(&r->config) == 1 &&
	    (r->bootstrapped || strcmp(r->vote, r->id) == 0))
		raft_campaign(r, false, false);
	return RAFT_OK;
}

void
raft_shutdown(struct raft *r)
{
	if (r->state == RAFT_SHUTDOWN)
		return;
	raft_reads_fail(r, RAFT_ESHUTDOWN);
	raft_set_state(r, RAFT_SHUTDOWN);
}

static void
leader_tick(struct raft *r, uint64_t now)
{
	if (r->transfer_target[0] != '\0' && now >= r->transfer_deadline) {
		log_debug("raft %s: leadership transfer to %s timed out", r->id, r->transfer_target);
		raft_transfer_abort(r);
	}
	/* Check quorum (§6.2): a leader cut off from a majority for an election timeout steps
	 * down so clients can find the real leader. */
	if (now >= r->check_quorum_deadline) {
		r->check_quorum_deadline = now + r->opts.election_timeout_ms;
		unsigned n = 0;
		for (unsigned i = 0; i < r->config.n; i++) {
			struct raft_progress *pr = &r->prs[i];
			if (r->config.servers[i].suffrage != RAFT_VOTER)
				continue;
			if (strcmp(pr->id, r->id) == 0 || pr->recent)
				n++;
			pr->recent = false;
		}
		if (!r->opts.disable_check_quorum && n < raft_quorum(r)) {
			log_debug("raft %s: lost contact with a quorum, stepping down", r->id);
			raft_become_follower(r, r->term, "");
			return;
		}
	}
	if (now >= r->heartbeat_deadline) {
		r->heartbeat_deadline = now + r->opts.heartbeat_ms;
		raft_broadcast_heartbeat(r);
	}
}

int
raft_tick(struct raft *r, uint64_t now)
{
	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	if (now > r->now)
		r->now = now;
	now = r->now;
	if (!r->started)
		return RAFT_OK;
	switch (r->state) {
	case RAFT_LEADER:
		leader_tick(r, now);
		break;
	case RAFT_FOLLOWER:
	case RAFT_CANDIDATE:
		if (now >= r->election_deadline) {
			log_debug("raft %s: election timeout at %" PRIu64 ", leader '%s' last heard at %"
			    PRIu64, r->id, now, r->leader, r->last_leader_contact);
			if (raft_may_campaign(r))
				raft_campaign(r, !r->opts.disable_prevote, false);
			else
				raft_reset_election_timer(r);
		}
		break;
	case RAFT_SHUTDOWN:
		break;
	}
	return RAFT_OK;
}

uint64_t
raft_next_timeout(const struct raft *r)
{
	if (r->state == RAFT_LEADER) {
		uint64_t t = RAFT_MIN(r->heartbeat_deadline, r->check_quorum_deadline);
		if (r->transfer_target[0] != '\0')
			t = RAFT_MIN(t, r->transfer_deadline);
		return t;
	}
	if (r->state == RAFT_SHUTDOWN || !r->started)
		return UINT64_MAX;
	return r->election_deadline;
}

enum raft_state raft_state(const struct raft *r) { return r->state; }
bool raft_prevoting(const struct raft *r) { return r->state == RAFT_CANDIDATE && r->prevote; }
const char *raft_id(const struct raft *r) { return r->id; }
const char *raft_address(const struct raft *r) { return r->address; }
uint64_t raft_term(const struct raft *r) { return r->term; }
const char *raft_voted_for(const struct raft *r) { return r->vote; }
const char *raft_leader_id(const struct raft *r) { return r->leader; }
uint64_t raft_commit_index(const struct raft *r) { return r->commit; }
uint64_t raft_applied_index(const struct raft *r) { return r->applied; }
uint64_t raft_persisted_index(const struct raft *r) { return r->persisted; }
uint64_t raft_last_index(const struct raft *r) { return raft_log_last_index(r); }
uint64_t raft_last_term(const struct raft *r) { return raft_log_last_term(r); }
uint64_t raft_snapshot_index(const struct raft *r) { return r->snap.index; }
uint64_t raft_snapshot_term(const struct raft *r) { return r->snap.term; }
const struct raft_config *raft_configuration(const struct raft *r) { return &r->config; }
uint64_t raft_configuration_index(const struct raft *r) { return r->config_index; }
bool raft_is_voter(const struct raft *r) { return raft_self_is_voter(r); }

const char *
raft_leader_address(const struct raft *r)
{
	if (r->leader[0] == '\0')
		return "";
	const struct raft_server *s = raft_config_get(&r->config, r->leader);
	return s != NULL ? s->address : "";
}

int64_t
raft_last_contact(const struct raft *r, uint64_t now)
{
	if (r->state == RAFT_LEADER)
		return 0;
	if (!r->ever_contacted)
		return -1;
	return now > r->last_leader_contact ? (int64_t)(now - r->last_leader_contact) : 0;
}

const struct raft_entry *
raft_entry_at(const struct raft *r, uint64_t index)
{
	return raft_log_get(r, index);
}
