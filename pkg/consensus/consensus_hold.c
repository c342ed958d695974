/*
 * Requests that arrive while leadership is being established wait here instead of
 * failing (issue 15): a weak read on a leader elected a moment ago (its lease starts
 * with the first heartbeat round a quorum answers), and any write or read on a node
 * that knows no leader yet or has lost its link to the one it knows (an election in
 * progress, a leader that crashed or just left). Each
 * one waits at most CS_HOLD_ELECTIONS election timeouts, then gets the answer it would
 * have had at once (not leader / leader not found). Held messages are kept as their
 * encoded bytes and dispatched again, in arrival order, after every ready batch.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"
#include "peer_transport.h"

/* How long a request waits for a leader, in election timeouts. */
#define CS_HOLD_ELECTIONS	2
/* More held than this and new ones fail at once (a leaderless cluster under load). */
#define CS_HOLD_MAX		4096

struct held {
	struct ipc_writer frame;	/* the message, kept as a frame */
	uint64_t peer_handle;	/* a forward from a peer: its link; 0 = from our gateway */
	uint64_t deadline_ms;
	struct held *next;
};

void
cs_hold_init(struct consensus *c, cs_hold_dispatch_fn *dispatch)
{
	c->hold.dispatch = dispatch;
}

/* Whether a request of this kind would fail now only because leadership is unsettled. */
static bool
cs_hold_needed(struct consensus *c, enum ipc_type type, const struct ipc_msg *m)
{
	char level[32] = "weak", op[16] = "";

	if (raft_state(c->raft) == RAFT_LEADER) {
		if (type == IPC_PEER_FORWARD) {
			/* A follower's weak read, forwarded to us: the same lease applies. */
			(void)ipc_get_strbuf(m, "op", op, sizeof(op));
			if (strcmp(op, "read") != 0)
				return false;
		} else if (type != IPC_BARRIER) {
			return false;
		}
		(void)ipc_get_strbuf(m, "l", level, sizeof(level));
		/* linearizable waits in the core already; none never needs a leader */
		return strcmp(level, "weak") == 0 && !raft_lease_valid(c->raft, c->io->now_ms(c));
	}
	if (type == IPC_PEER_FORWARD)
		return false;	/* not ours to serve: the sender hears "not leader" */
	if (type == IPC_BARRIER) {
		(void)ipc_get_strbuf(m, "l", level, sizeof(level));
		if (strcmp(level, "none") == 0)
			return false;
	}
	/*
	 * No leader known, or the one known is going: its link is lost (nothing sent over
	 * a lost link is forwarded, so holding is safe), or it is no longer in the
	 * configuration (it removed itself, -raft-cluster-remove-shutdown, and refuses
	 * requests until an election names the next one).
	 */
	if (raft_leader_id(c->raft)[0] == '\0')
		return true;
	if (raft_config_get(raft_configuration(c->raft), raft_leader_id(c->raft)) == NULL)
		return true;
	return c->peers.pt != NULL && peer_link_down(c->peers.pt, raft_leader_address(c->raft));
}

bool
cs_hold_maybe(struct consensus *c, struct ipc_msg *m, uint64_t peer_handle)
{
	struct cs_hold *hold = &c->hold;
	struct held *h;

	if (hold->replaying || cs_stopping(c) || !cs_hold_needed(c, m->type, m))
		return false;
	if (hold->n >= CS_HOLD_MAX || (h = calloc(1, sizeof(*h))) == NULL)
		return false;
	ipc_writer_init(&h->frame);
	if (ipc_msg_save(m, &h->frame) != 0) {
		ipc_writer_destroy(&h->frame);
		free(h);
		return false;
	}
	h->peer_handle = peer_handle;
	h->deadline_ms = c->io->now_ms(c) +
	    (uint64_t)c->opts->election_timeout_ms * CS_HOLD_ELECTIONS;
	if (hold->tail != NULL)
		hold->tail->next = h;
	else
		hold->head = h;
	hold->tail = h;
	hold->n++;
	hold->held_total++;
	return true;
}

void
cs_hold_retry(struct consensus *c)
{
	struct cs_hold *hold = &c->hold;
	uint64_t now;
	struct held **pp = &hold->head, *last = NULL;

	if (hold->head == NULL || hold->replaying)
		return;
	now = c->io->now_ms(c);
	while (*pp != NULL) {
		struct held *h = *pp;
		struct ipc_msg m;

		if (ipc_decode(ipc_frame_payload(&h->frame), ipc_frame_payload_len(&h->frame),
		    &m) != IPC_OK) {
			log_warnx("a held request no longer decodes; dropped");
		} else if (now < h->deadline_ms && !cs_stopping(c) && cs_hold_needed(c, m.type, &m)) {
			ipc_msg_destroy(&m);
			last = h;
			pp = &h->next;
			continue;
		} else {
			hold->replaying = true;
			hold->dispatch(c, &m, h->peer_handle);
			hold->replaying = false;
		}
		ipc_msg_destroy(&m);
		*pp = h->next;
		ipc_writer_destroy(&h->frame);
		free(h);
		hold->n--;
	}
	hold->tail = last;
}

uint64_t
cs_hold_count(struct consensus *c)
{
	return c->hold.held_total;
}
