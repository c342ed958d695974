/*
 * Single-server membership changes (dissertation §4.1) and leadership transfer (§3.10).
 * A change is a RAFT_ENTRY_CONFIG entry that takes effect when appended; one at a time, and
 * only once the leader committed an entry of its own term (the fix for the single-server
 * change bug in dissertation §4.1 errata). Sends TimeoutNow.
 */
#include "raft/raft_int.h"

#include "common/log.h"

static int
change_allowed(const struct raft *r)
{
	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	if (r->state != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transfer_target[0] != '\0')
		return RAFT_ETRANSFER;
	if (r->commit < r->noop_index)
		return RAFT_ENOTREADY;
	if (r->config_index > r->commit)
		return RAFT_ECONFIGBUSY;
	return RAFT_OK;
}

static int
append_config(struct raft *r, const struct raft_config *c, uint64_t *index)
{
	void *buf;
	size_t len;
	int rv;

	if ((rv = raft_config_encode(c, &buf, &len)) != RAFT_OK)
		return rv;
	rv = raft_leader_append(r, RAFT_ENTRY_CONFIG, buf, len, index);
	free(buf);
	if (rv == RAFT_OK)
		raft_leader_maybe_commit(r);	/* the quorum may have shrunk */
	return rv;
}

int
raft_add_server(struct raft *r, const char *id, const char *address,
    enum raft_suffrage suffrage, uint64_t *index)
{
	struct raft_config c;
	int rv;

	if ((rv = change_allowed(r)) != RAFT_OK)
		return rv;
	if ((rv = raft_config_copy(&c, &r->config)) != RAFT_OK)
		return rv;
	if ((rv = raft_config_add(&c, id, address, suffrage)) == RAFT_OK)
		rv = append_config(r, &c, index);
	raft_config_free(&c);
	return rv;
}

int
raft_remove_server(struct raft *r, const char *id, uint64_t *index)
{
	struct raft_config c;
	int rv;

	if ((rv = change_allowed(r)) != RAFT_OK)
		return rv;
	if (id == NULL || raft_config_get(&r->config, id) == NULL)
		return RAFT_ENOTFOUND;
	raft_config_init(&c);
	for (unsigned i = 0; i < r->config.n && rv == RAFT_OK; i++) {
		const struct raft_server *s = &r->config.servers[i];
		if (strcmp(s->id, id) != 0)
			rv = raft_config_add(&c, s->id, s->address, s->suffrage);
	}
	if (rv == RAFT_OK)
		rv = append_config(r, &c, index);
	raft_config_free(&c);
	return rv;
}

int
raft_assign_suffrage(struct raft *r, const char *id, enum raft_suffrage suffrage,
    uint64_t *index)
{
	struct raft_config c;
	int rv;

	if ((rv = change_allowed(r)) != RAFT_OK)
		return rv;
	const struct raft_server *s = id != NULL ? raft_config_get(&r->config, id) : NULL;
	if (s == NULL)
		return RAFT_ENOTFOUND;
	if (s->suffrage == suffrage || (suffrage != RAFT_VOTER && suffrage != RAFT_NONVOTER))
		return RAFT_EINVAL;
	if ((rv = raft_config_copy(&c, &r->config)) != RAFT_OK)
		return rv;
	for (unsigned i = 0; i < c.n; i++)
		if (strcmp(c.servers[i].id, id) == 0)
			c.servers[i].suffrage = suffrage;
	rv = append_config(r, &c, index);
	raft_config_free(&c);
	return rv;
}

static void
send_timeout_now(struct raft *r, struct raft_progress *pr)
{
	if (raft_outbox_push(r, RAFT_MSG_TIMEOUT_NOW, pr->id) != NULL) {
		r->transfer_sent = true;
		r->lease_void = true;
		log_debug("raft %s: TimeoutNow to %s", r->id, pr->id);
	}
}

int
raft_transfer_leadership(struct raft *r, const char *id)
{
	struct raft_progress *best = NULL;

	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	if (r->state != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transfer_target[0] != '\0')
		return RAFT_ETRANSFER;
	for (unsigned i = 0; i < r->config.n; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (r->config.servers[i].suffrage != RAFT_VOTER || strcmp(pr->id, r->id) == 0)
			continue;
		if (id != NULL ? strcmp(pr->id, id) == 0 : (best == NULL || pr->match > best->match))
			best = pr;
	}
	if (best == NULL)	/* no such voter, or no other voter at all */
		return id != NULL && strcmp(id, r->id) == 0 ? RAFT_EINVAL : RAFT_ENOTFOUND;
	strcpy(r->transfer_target, best->id);
	r->transfer_deadline = r->now + r->opts.election_timeout_ms;
	r->transfer_sent = false;
	r->soft_dirty = true;
	log_debug("raft %s: transferring leadership to %s", r->id, best->id);
	raft_transfer_check(r, best);
	r->need_flush = true;
	return RAFT_OK;
}

/* Once the target holds our whole log, tell it to campaign. */
void
raft_transfer_check(struct raft *r, struct raft_progress *pr)
{
	if (r->transfer_target[0] == '\0' || r->transfer_sent ||
	    strcmp(pr->id, r->transfer_target) != 0)
		return;
	if (pr->match == raft_log_last_index(r))
		send_timeout_now(r, pr);
}

void
raft_transfer_abort(struct raft *r)
{
	r->transfer_target[0] = '\0';
	r->transfer_sent = false;
	r->soft_dirty = true;
}
