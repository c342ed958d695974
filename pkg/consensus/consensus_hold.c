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

#include <msgpack.h>

#include "common/log.h"
#include "consensus_internal.h"
#include "peer_transport.h"

/* How long a request waits for a leader, in election timeouts. */
#define CS_HOLD_ELECTIONS	2
/* More held than this and new ones fail at once (a leaderless cluster under load). */
#define CS_HOLD_MAX		4096

struct held {
	msgpack_sbuffer frame;	/* the message as ipc_decode() takes it */
	uint64_t peer_handle;	/* a forward from a peer: its link; 0 = from our gateway */
	uint64_t deadline_ms;
	struct held *next;
};

static struct {
	struct held *head, *tail;
	unsigned n;
	bool replaying;		/* dispatching a held message: do not hold it again */
	cs_hold_dispatch_fn *dispatch;
	uint64_t held_total;
} hold;

void
cs_hold_init(cs_hold_dispatch_fn *dispatch)
{
	hold.dispatch = dispatch;
}

/* Whether a request of this kind would fail now only because leadership is unsettled. */
static bool
cs_hold_needed(enum ipc_type type, const struct ipc_msg *m)
{
	char level[32] = "weak", op[16] = "";

	if (raft_state(cs.raft) == RAFT_LEADER) {
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
		return strcmp(level, "weak") == 0 && !raft_lease_valid(cs.raft, cs_now_ms());
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
	if (raft_leader_id(cs.raft)[0] == '\0')
		return true;
	if (raft_config_get(raft_configuration(cs.raft), raft_leader_id(cs.raft)) == NULL)
		return true;
	return cs.peers != NULL && peer_link_down(cs.peers, raft_leader_address(cs.raft));
}

bool
cs_hold_maybe(struct ipc_msg *m, uint64_t peer_handle)
{
	struct held *h;
	msgpack_packer pk;

	if (hold.replaying || cs.stopping || !cs_hold_needed(m->type, m))
		return false;
	if (hold.n >= CS_HOLD_MAX || (h = calloc(1, sizeof(*h))) == NULL)
		return false;
	msgpack_sbuffer_init(&h->frame);
	msgpack_packer_init(&pk, &h->frame, msgpack_sbuffer_write);
	if (msgpack_pack_object(&pk, m->un.data) != 0) {
		msgpack_sbuffer_destroy(&h->frame);
		free(h);
		return false;
	}
	h->peer_handle = peer_handle;
	h->deadline_ms = cs_now_ms() +
	    (uint64_t)cs.opts->election_timeout_ms * CS_HOLD_ELECTIONS;
	if (hold.tail != NULL)
		hold.tail->next = h;
	else
		hold.head = h;
	hold.tail = h;
	hold.n++;
	hold.held_total++;
	return true;
}

void
cs_hold_retry(void)
{
	uint64_t now;
	struct held **pp = &hold.head, *last = NULL;

	if (hold.head == NULL || hold.replaying)
		return;
	now = cs_now_ms();
	while (*pp != NULL) {
		struct held *h = *pp;
		struct ipc_msg m;

		if (ipc_decode(h->frame.data, h->frame.size, &m) != IPC_OK) {
			log_warnx("a held request no longer decodes; dropped");
		} else if (now < h->deadline_ms && !cs.stopping && cs_hold_needed(m.type, &m)) {
			ipc_msg_destroy(&m);
			last = h;
			pp = &h->next;
			continue;
		} else {
			hold.replaying = true;
			hold.dispatch(&m, h->peer_handle);
			hold.replaying = false;
		}
		ipc_msg_destroy(&m);
		*pp = h->next;
		msgpack_sbuffer_destroy(&h->frame);
		free(h);
		hold.n--;
	}
	hold.tail = last;
}

uint64_t
cs_hold_count(void)
{
	return hold.held_total;
}
