/*
 * The gateway side (see consensus_local.h).
 *
 * From gateway: PROPOSE {c, at} → (entry committed and applied) → PROPOSE_RESULT
 * {i, res, lr} or {e, ec}; BARRIER {l, c, k, fr, fs} (weak: lease check; linearizable:
 * read index; none: staleness check) → BARRIER_RESULT {i} or {e, ec}; CONS_STATUS,
 * MEMBERSHIP, NODES, FAULT, SNAPSHOT_NOW, REAP → their results.
 * To gateway: STATE {st, t, vo, ld, la, lapi, ci, lu}.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"

void
cs_local_send_state(struct consensus *c)
{
	struct ipc_writer *out = &c->out;
	const char *api = cs_nodes_leader_api(c);

	ipc_begin(out, IPC_STATE, 0);
	ipc_add_str(out, "st", raft_state_name(raft_state(c->raft)));
	ipc_add_u64(out, "t", raft_term(c->raft));
	ipc_add_bool(out, "vo", raft_is_voter(c->raft));
	ipc_add_str(out, "ld", raft_leader_id(c->raft));
	ipc_add_str(out, "la", raft_leader_address(c->raft));
	if (api != NULL)
		ipc_add_str(out, "lapi", api);
	ipc_add_u64(out, "ci", raft_commit_index(c->raft));
	ipc_add_u64(out, "lu", c->local.lease_pushed_ms);
	ipc_finish(out);
	if (!c->io->send_role(c, PROC_GATEWAY, out))
		return;
	c->local.ci_pushed = raft_commit_index(c->raft);
	c->local.state_pushed_ms = c->io->now_ms(c);
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
cs_local_push_lease(struct consensus *c)
{
	struct cs_local *l = &c->local;
	uint64_t now = c->io->now_ms(c);
	uint64_t exp = raft_lease_expiry(c->raft, now);
	/* A quarter of the lease (the core's default lease is half an election timeout). */
	uint64_t step = (uint64_t)(c->opts->lease_timeout_ms > 0 ? c->opts->lease_timeout_ms / 4 :
	    c->opts->election_timeout_ms / 8);

	if (exp <= now)
		exp = 0;
	if (exp < l->lease_pushed_ms && l->lease_pushed_ms > now) {
		l->lease_pushed_ms = exp;	/* shrink or revoke: now */
	} else if (exp > now && exp >= l->lease_pushed_ms + (step > 0 ? step : 1)) {
		l->lease_pushed_ms = exp;
	} else if (!(exp > now && raft_commit_index(c->raft) > l->ci_pushed &&
	    now - l->state_pushed_ms >= 10)) {
		return;
	}
	cs_local_send_state(c);
}

void
cs_local_log_state(struct consensus *c, const char *leader_id)
{
	char now[sizeof(c->local.said)];

	/* A membership change also reports soft state; say only what changed. */
	snprintf(now, sizeof(now), "raft state %s, term %llu, leader \"%s\"",
	    raft_state_name(raft_state(c->raft)), (unsigned long long)raft_term(c->raft),
	    leader_id != NULL ? leader_id : "");
	if (strcmp(now, c->local.said) != 0) {
		log_info("%s", now);
		memcpy(c->local.said, now, sizeof(c->local.said));
	}
}

static void
cs_local_propose(struct consensus *c, struct ipc_msg *m)
{
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_PROPOSE_RESULT, 0 };
	const char *cmd;
	size_t len;
	uint64_t index, term;
	int rc;

	if (ipc_get_bin(m, "c", &cmd, &len) != IPC_OK) {
		cs_answer_error(c, &w, IPC_EC_INVALID, "invalid proposal");
		return;
	}
	if (cs_hold_maybe(c, m, 0))
		return;		/* no leader yet: it waits for one (consensus_hold.c) */
	(void)ipc_get_u64(m, "at", &w.apply_timeout_ms);
	rc = raft_propose(c->raft, cmd, len, &index, &term);
	if (rc == RAFT_ENOTLEADER && cs_forward_propose(c, m))
		return;
	if (rc != 0) {
		cs_answer_raft_error(c, &w, rc);
		return;
	}
	c->stats.proposals++;
	cs_apply_add_pending(c, index, term, &w);
	c->io->schedule_ready(c);
}

/* level=none with a staleness bound: true when this node's data is fresh enough. */
static bool
cs_local_fresh(struct consensus *c, const struct ipc_msg *m, uint64_t now)
{
	uint64_t fr = 0;
	bool strict = false;
	int64_t contact = raft_last_contact(c->raft, now);

	(void)ipc_get_u64(m, "fr", &fr);
	(void)ipc_get_bool(m, "fs", &strict);
	/* The leader itself is never stale. */
	if (raft_state(c->raft) == RAFT_LEADER || fr == 0)
		return true;
	if (contact < 0 || (uint64_t)contact > fr)
		return false;
	return !strict || cs_fresh_lag_ms(&c->fresh, c->apply.applied, now) <= fr;
}

static void
cs_local_barrier(struct consensus *c, struct ipc_msg *m)
{
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_BARRIER_RESULT, 0 };
	struct ipc_writer *out = &c->out;
	char level[32] = "weak";
	uint64_t now = c->io->now_ms(c);
	int rc;

	if (cs_hold_maybe(c, m, 0))
		return;		/* leadership is being established (consensus_hold.c) */
	(void)ipc_get_strbuf(m, "l", level, sizeof(level));
	if (strcmp(level, "none") == 0) {
		if (!cs_local_fresh(c, m, now)) {
			cs_answer_error(c, &w, IPC_EC_STALE_READ, NULL);
			return;
		}
		ipc_begin(out, IPC_BARRIER_RESULT, m->request_id);
		ipc_finish(out);
		cs_answer(c, &w, out);
		return;
	}
	if (raft_state(c->raft) != RAFT_LEADER) {
		if (!cs_forward_read(c, m))
			cs_answer_error(c, &w, IPC_EC_NOT_LEADER, NULL);
		return;
	}
	if (strcmp(level, "linearizable") == 0) {
		rc = raft_read_index(c->raft, now, m->request_id);
		if (rc != 0)
			cs_answer_raft_error(c, &w, rc);
		c->io->schedule_ready(c);
		return;
	}
	if (!raft_lease_valid(c->raft, now)) {
		cs_answer_error(c, &w, IPC_EC_NOT_LEADER, NULL);
		return;
	}
	/* Storage serves the read once it has applied everything committed so far, so a
	 * read right after a restart never sees a database still being rebuilt. */
	ipc_begin(out, IPC_BARRIER_RESULT, m->request_id);
	ipc_add_u64(out, "i", raft_commit_index(c->raft));
	ipc_finish(out);
	cs_answer(c, &w, out);
}

void
cs_local_redispatch(struct consensus *c, struct ipc_msg *m, uint64_t peer_handle)
{
	if (m->type == IPC_PEER_FORWARD)
		cs_forward_serve_now(c, peer_handle, m);
	else if (m->type == IPC_PROPOSE)
		cs_local_propose(c, m);
	else if (m->type == IPC_BARRIER)
		cs_local_barrier(c, m);
}

void
cs_local_dispatch_gateway(struct consensus *c, struct ipc_msg *m)
{
	switch (m->type) {
	case IPC_PROPOSE:
		cs_local_propose(c, m);
		break;
	case IPC_BARRIER:
		cs_local_barrier(c, m);
		break;
	case IPC_CONS_STATUS:
		cs_status_answer(c, m);
		break;
	case IPC_MEMBERSHIP:
		cs_membership_request(c, m);
		break;
	case IPC_NODES:
		cs_nodes_request(c, m);
		break;
	case IPC_FAULT:
		cs_peers_fault(c, m);
		break;
	case IPC_SNAPSHOT_NOW:
		cs_snapshot_user(c, m);
		break;
	case IPC_REAP:
		cs_snapshot_reap(c, m);
		break;
	default:
		log_warnx("unexpected %s from gateway", ipc_type_name(m->type));
	}
}
