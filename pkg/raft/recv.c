/*
 * The entry point for peer messages: validation of untrusted fields, the term rules every RPC
 * shares (§5.1: a higher term turns us into a follower, a lower one marks the sender stale), and
 * the switch to one handler per message type.
 */
#include "raft/raft_int.h"

#include "common/log.h"

/* Leader stickiness (dissertation §4.2.3): a server that heard from a leader within the minimum
 * election timeout neither updates its term nor votes. It also underpins the leader lease. */
bool
raft_in_lease(const struct raft *r)
{
	if (r->opts.disable_check_quorum)
		return false;
	if (r->state == RAFT_LEADER)
		return true;
	/* After a restart we may have forgotten a live leader whose lease counts on us. */
	if (r->now < r->started_at + r->opts.election_timeout_ms)
		return true;
	return r->leader[0] != '\0' && r->now - r->last_leader_contact < r->opts.election_timeout_ms;
}

static int
validate(const struct raft_message *m)
{
	if (m->from[0] == '\0' || memchr(m->from, '\0', RAFT_ID_MAX) == NULL ||
	    memchr(m->to, '\0', RAFT_ID_MAX) == NULL)
		return RAFT_EINVAL;
	switch (m->type) {
	case RAFT_MSG_APPEND_ENTRIES: {
		const struct raft_append_entries *ae = &m->append_entries;
		uint64_t prev_term = ae->prev_term;
		if (ae->n_entries > 0 && ae->entries == NULL)
			return RAFT_EINVAL;
		if (ae->prev_term > m->term || (ae->prev_index == 0 && ae->prev_term != 0))
			return RAFT_EINVAL;
		for (unsigned i = 0; i < ae->n_entries; i++) {
			const struct raft_entry *e = &ae->entries[i];
			if (e->index != ae->prev_index + 1 + i || e->term < prev_term ||
			    e->term > m->term || e->term == 0 || (e->len > 0 && e->data == NULL))
				return RAFT_EINVAL;
			if (e->type != RAFT_ENTRY_NORMAL && e->type != RAFT_ENTRY_NOOP &&
			    e->type != RAFT_ENTRY_CONFIG)
				return RAFT_EINVAL;
			if (e->type == RAFT_ENTRY_CONFIG) {
				struct raft_config c;
				if (raft_config_decode(e->data, e->len, &c) != RAFT_OK)
					return RAFT_EINVAL;
				raft_config_free(&c);
			}
			prev_term = e->term;
		}
		return RAFT_OK;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT: {
		const struct raft_snapshot_meta *s = &m->install_snapshot.meta;
		if (s->index == 0 || s->term == 0 || s->term > m->term ||
		    (s->config.n > 0 && s->config.servers == NULL))
			return RAFT_EINVAL;
		for (unsigned i = 0; i < s->config.n; i++)
			if (memchr(s->config.servers[i].id, '\0', RAFT_ID_MAX) == NULL ||
			    memchr(s->config.servers[i].address, '\0', RAFT_ADDR_MAX) == NULL)
				return RAFT_EINVAL;
		return RAFT_OK;
	}
	case RAFT_MSG_REQUEST_VOTE:
	case RAFT_MSG_REQUEST_VOTE_RESULT:
	case RAFT_MSG_APPEND_ENTRIES_RESULT:
	case RAFT_MSG_TIMEOUT_NOW:
		return RAFT_OK;
	}
	return RAFT_EINVAL;
}

int
raft_recv(struct raft *r, uint64_t now, const struct raft_message *m)
{
	int rv;

	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	if (!r->started)
		return RAFT_EBADSTATE;
	if ((rv = validate(m)) != RAFT_OK) {
		log_debug("raft %s: invalid %s", r->id, raft_message_type_name(m->type));
		return rv;
	}
	if (strcmp(m->to, r->id) != 0 || strcmp(m->from, r->id) == 0)
		return RAFT_OK;
	if (now > r->now)
		r->now = now;

	if (m->term > r->term) {
		bool prevote_req = m->type == RAFT_MSG_REQUEST_VOTE && m->request_vote.prevote;
		bool prevote_ok = m->type == RAFT_MSG_REQUEST_VOTE_RESULT &&
		    m->request_vote_result.prevote && m->request_vote_result.granted;
		if (m->type == RAFT_MSG_REQUEST_VOTE && !prevote_req &&
		    !m->request_vote.transfer && raft_in_lease(r)) {
			log_debug("raft %s: ignoring vote request from %s: leader %s is alive",
			    r->id, m->from, r->leader);
			return RAFT_OK;
		}
		if (!prevote_req && !prevote_ok) {
			bool from_leader = m->type == RAFT_MSG_APPEND_ENTRIES ||
			    m->type == RAFT_MSG_INSTALL_SNAPSHOT || m->type == RAFT_MSG_TIMEOUT_NOW;
			raft_become_follower(r, m->term, from_leader ? m->from : "");
		}
	}

	switch (m->type) {
	case RAFT_MSG_REQUEST_VOTE:
		return raft_recv_request_vote(r, m);
	case RAFT_MSG_REQUEST_VOTE_RESULT:
		return raft_recv_request_vote_result(r, m);
	case RAFT_MSG_APPEND_ENTRIES:
		return raft_recv_append_entries(r, m);
	case RAFT_MSG_APPEND_ENTRIES_RESULT:
		return raft_recv_append_entries_result(r, m);
	case RAFT_MSG_INSTALL_SNAPSHOT:
		return raft_recv_install_snapshot(r, m);
	case RAFT_MSG_TIMEOUT_NOW:
		return raft_recv_timeout_now(r, m);
	}
	return RAFT_EINVAL;
}
