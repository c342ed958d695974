/*
 * Membership changes on the leader (see consensus_membership.h).
 *
 * In: MEMBERSHIP from our gateway, PEER_FORWARD op remove|stepdown (via forwarding),
 * PEER_JOIN. Out: MEMBERSHIP_RESULT / PEER_FORWARD_RESULT / PEER_JOIN_RESULT, {lr} or
 * {e, ec}; a follower's MEMBERSHIP goes to the leader as PEER_FORWARD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"

/* A change appended to the log, answered when it commits. */
struct config_wait {
	uint64_t index;
	struct waiter w;
	struct config_wait *next;
};

/* A join or removal that arrived while another change was in flight. */
struct membership_queued {
	struct waiter w;
	char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX];
	bool voter;
	bool remove;		/* DELETE /remove of id, not a join */
	struct membership_queued *next;
};

static void
cs_wait_config(struct consensus *c, uint64_t index, const struct waiter *w)
{
	struct config_wait *cw = calloc(1, sizeof(*cw));

	if (cw == NULL)
		fatalx("out of memory");
	cw->index = index;
	cw->w = *w;
	cw->next = c->mem.config_waits;
	c->mem.config_waits = cw;
}

static struct membership_queued *
cs_membership_enqueue(struct consensus *c, const struct waiter *w, const char *id,
    const char *addr, bool voter)
{
	struct cs_membership *mem = &c->mem;
	struct membership_queued *q;

	if (mem->queued >= CS_MEMBERSHIP_QUEUE_MAX || (q = calloc(1, sizeof(*q))) == NULL) {
		cs_answer_error(c, w, IPC_EC_OTHER, "too many membership changes waiting; retry");
		return NULL;
	}
	q->w = *w;
	snprintf(q->id, sizeof(q->id), "%s", id);
	snprintf(q->addr, sizeof(q->addr), "%s", addr);
	q->voter = voter;
	if (mem->tail != NULL)
		mem->tail->next = q;
	else
		mem->head = q;
	mem->tail = q;
	mem->queued++;
	log_info("membership change for node %s while another is in flight: queued (%u waiting)",
	    id, mem->queued);
	return q;
}

/* Removes id on the leader; false when another change is in flight (nothing answered). */
static bool
cs_remove_admit(struct consensus *c, const struct waiter *w, const char *id)
{
	uint64_t index = 0;
	int rc;

	if (raft_state(c->raft) != RAFT_LEADER) {
		cs_answer_error(c, w, IPC_EC_NOT_LEADER, NULL);
		return true;
	}
	rc = raft_remove_server(c->raft, id, &index);
	if (rc == RAFT_ECONFIGBUSY)
		return false;
	if (rc == RAFT_ENOTFOUND) {
		cs_answer_error(c, w, IPC_EC_OTHER, "node not found in cluster");
		return true;
	}
	if (rc != 0) {
		cs_answer_raft_error(c, w, rc);
		return true;
	}
	cs_wait_config(c, index, w);
	c->io->schedule_ready(c);
	return true;
}

/* The old entry of a node that comes back changed goes first; the joiner retries. */
static bool
cs_join_remove_old(struct consensus *c, const struct waiter *w, const char *old, const char *why)
{
	uint64_t index = 0;
	int rc = raft_remove_server(c->raft, old, &index);

	if (rc == RAFT_ECONFIGBUSY)
		return false;
	log_info("%s: removing %s", why, old);
	if (rc == 0) {
		c->mem.removed_before++;
		cs_answer_error(c, w, IPC_EC_OTHER, "removing old entry, retry");
	} else {
		cs_answer_raft_error(c, w, rc);
	}
	c->io->schedule_ready(c);
	return true;
}

/*
 * Admits one joiner on the leader. Returns false when a membership change is in
 * flight (nothing answered: the caller queues the request).
 */
static bool
cs_join_admit(struct consensus *c, const struct waiter *w, const char *id, const char *addr,
    bool voter)
{
	const struct raft_config *cfg = raft_configuration(c->raft);
	const struct raft_server *s;
	uint64_t index = 0;
	int rc;

	if (raft_state(c->raft) != RAFT_LEADER) {
		cs_answer_error(c, w, IPC_EC_NOT_LEADER, NULL);
		return true;
	}
	/* Another id at this address: that node was replaced; its entry goes first. */
	for (unsigned i = 0; i < cfg->n; i++) {
		if (strcmp(cfg->servers[i].address, addr) == 0 && strcmp(cfg->servers[i].id, id) != 0) {
			char old[RAFT_ID_MAX], why[RAFT_ID_MAX * 2 + RAFT_ADDR_MAX + 32];
			snprintf(old, sizeof(old), "%s", cfg->servers[i].id);	/* the removal frees cfg */
			snprintf(why, sizeof(why), "node %s joins at %s, where %s was", id, addr, old);
			return cs_join_remove_old(c, w, old, why);
		}
	}
	s = raft_config_get(cfg, id);
	if (s != NULL && strcmp(s->address, addr) == 0 && (s->suffrage == RAFT_VOTER) == voter) {
		/* Rejoining with the same id and address changes nothing. */
		c->mem.ignored++;
		ipc_begin(&c->out, IPC_PEER_JOIN_RESULT, w->request_id);
		ipc_finish(&c->out);
		cs_answer(c, w, &c->out);
		return true;
	}
	if (s != NULL) {
		/* Changed address or suffrage. */
		char why[RAFT_ID_MAX + RAFT_ADDR_MAX + 64];
		snprintf(why, sizeof(why), "node %s rejoins with address %s", id, addr);
		return cs_join_remove_old(c, w, id, why);
	}
	rc = raft_add_server(c->raft, id, addr, voter ? RAFT_VOTER : RAFT_NONVOTER, &index);
	if (rc == RAFT_ECONFIGBUSY)
		return false;
	if (rc != 0) {
		cs_answer_raft_error(c, w, rc);
		return true;
	}
	log_info("adding node %s at %s as a %s", id, addr, voter ? "voter" : "non-voter");
	cs_wait_config(c, index, w);
	c->io->schedule_ready(c);
	return true;
}

/* After a membership change commits: queued changes go ahead, in order, while they can. */
static void
cs_membership_queue_run(struct consensus *c)
{
	struct cs_membership *mem = &c->mem;

	while (mem->head != NULL) {
		struct membership_queued *q = mem->head;
		if (!(q->remove ? cs_remove_admit(c, &q->w, q->id) :
		    cs_join_admit(c, &q->w, q->id, q->addr, q->voter)))
			return;		/* the change just made is in flight now */
		mem->head = q->next;
		if (mem->head == NULL)
			mem->tail = NULL;
		mem->queued--;
		free(q);
	}
}

void
cs_membership_committed(struct consensus *c, uint64_t commit_index)
{
	struct config_wait **pp = &c->mem.config_waits;

	while (*pp != NULL) {
		struct config_wait *cw = *pp;
		if (cw->index > commit_index) {
			pp = &cw->next;
			continue;
		}
		*pp = cw->next;
		cs_answer_done(c, &cw->w);
		free(cw);
	}
	cs_membership_queue_run(c);
}

void
cs_membership_leadership_lost(struct consensus *c)
{
	while (c->mem.config_waits != NULL) {
		struct config_wait *cw = c->mem.config_waits;
		c->mem.config_waits = cw->next;
		cs_answer_error(c, &cw->w, IPC_EC_LEADERSHIP_LOST, NULL);
		free(cw);
	}
}

static void
cs_membership_remove(struct consensus *c, const struct waiter *w, const char *id)
{
	struct membership_queued *q;

	if (c->mem.head == NULL && cs_remove_admit(c, w, id))
		return;
	if ((q = cs_membership_enqueue(c, w, id, "", false)) != NULL)
		q->remove = true;
}

static void
cs_membership_stepdown(struct consensus *c, const struct waiter *w, const char *id, bool wait)
{
	int rc;

	if (id[0] != '\0') {
		if (strcmp(id, c->opts->node_id) == 0) {
			cs_answer_error(c, w, IPC_EC_OTHER, "cannot step down to the current Leader");
			return;
		}
		if (raft_config_get(raft_configuration(c->raft), id) == NULL) {
			cs_answer_error(c, w, IPC_EC_OTHER, "node not found in cluster");
			return;
		}
	}
	rc = raft_transfer_leadership(c->raft, id[0] != '\0' ? id : NULL);
	if (rc != 0) {
		cs_answer_raft_error(c, w, rc);
		return;
	}
	c->io->schedule_ready(c);
	if (!wait) {
		cs_answer_done(c, w);
		return;
	}
	c->mem.stepdown = *w;
	c->mem.stepdown_deadline = c->io->now_ms(c) +
	    2 * (uint64_t)c->opts->election_timeout_ms + 1000;
}

void
cs_membership_do(struct consensus *c, const struct waiter *w, const char *op, const char *id,
    bool wait)
{
	if (raft_state(c->raft) != RAFT_LEADER)
		cs_answer_error(c, w, IPC_EC_NOT_LEADER, NULL);
	else if (strcmp(op, "remove") == 0)
		cs_membership_remove(c, w, id);
	else
		cs_membership_stepdown(c, w, id, wait);
}

void
cs_membership_request(struct consensus *c, struct ipc_msg *m)
{
	struct waiter w = { WAITER_MEMBERSHIP, m->request_id, 0, IPC_MEMBERSHIP_RESULT, 0 };
	struct ipc_writer *out = &c->out;
	char op[16] = "", id[RAFT_ID_MAX] = "";
	bool wait = false;
	const char *addr;
	struct fwd_out *f;

	(void)ipc_get_strbuf(m, "op", op, sizeof(op));
	(void)ipc_get_strbuf(m, "id", id, sizeof(id));
	(void)ipc_get_bool(m, "wait", &wait);
	if (raft_state(c->raft) == RAFT_LEADER) {
		cs_membership_do(c, &w, op, id, wait);
		return;
	}
	if (!cs_leader_addr(c, &addr)) {
		cs_answer_error(c, &w, IPC_EC_LEADER_NOT_FOUND, NULL);
		return;
	}
	f = cs_fwd_new(c, &w, IPC_PEER_FORWARD_RESULT);
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	ipc_begin(out, IPC_PEER_FORWARD, f->id);
	ipc_add_str(out, "op", op);
	ipc_add_str(out, "id", id);
	ipc_add_bool(out, "wait", wait);
	cs_auth_copy(m, out);
	ipc_finish(out);
	if (!cs_fwd_send(c, f, addr, out))
		cs_answer_error(c, &w, IPC_EC_LEADER_UNREACHABLE, NULL);
}

void
cs_membership_serve_join(struct consensus *c, uint64_t peer_handle, struct ipc_msg *m)
{
	struct waiter w = { WAITER_JOIN, m->request_id, peer_handle, IPC_PEER_JOIN_RESULT, 0 };
	char id[RAFT_ID_MAX] = "", addr[RAFT_ADDR_MAX] = "";
	bool voter = true;

	c->fwd.served.join++;
	if (ipc_get_strbuf(m, "id", id, sizeof(id)) != IPC_OK ||
	    ipc_get_strbuf(m, "addr", addr, sizeof(addr)) != IPC_OK || id[0] == '\0') {
		cs_answer_error(c, &w, IPC_EC_INVALID, "invalid join request");
		return;
	}
	(void)ipc_get_bool(m, "voter", &voter);
	/* rqlite: a voter needs "join", a non-voter "join-read-only" (or its alias). */
	if (!cs_auth_allowed(c, m, voter ? AUTH_PERM_JOIN : AUTH_PERM_JOIN_READ_ONLY,
	    AUTH_PERM_MAX)) {
		log_warnx("join of node %s refused: not authorized", id);
		cs_answer_error(c, &w, IPC_EC_UNAUTHORIZED, NULL);
		return;
	}
	if (c->mem.head != NULL && raft_state(c->raft) != RAFT_LEADER)
		cs_membership_queue_run(c);	/* leadership lost: each queued one hears "not leader" */
	if (c->mem.head != NULL || !cs_join_admit(c, &w, id, addr, voter))
		cs_membership_enqueue(c, &w, id, addr, voter);
}

void
cs_membership_free(struct consensus *c)
{
	while (c->mem.config_waits != NULL) {
		struct config_wait *cw = c->mem.config_waits;
		c->mem.config_waits = cw->next;
		free(cw);
	}
	while (c->mem.head != NULL) {
		struct membership_queued *q = c->mem.head;
		c->mem.head = q->next;
		free(q);
	}
	c->mem.tail = NULL;
	c->mem.queued = 0;
}

void
cs_membership_expire(struct consensus *c, uint64_t now)
{
	struct cs_membership *mem = &c->mem;

	if (mem->stepdown.kind == WAITER_NONE ||
	    (raft_state(c->raft) == RAFT_LEADER && now <= mem->stepdown_deadline))
		return;
	if (raft_state(c->raft) != RAFT_LEADER)
		cs_answer_done(c, &mem->stepdown);
	else
		cs_answer_error(c, &mem->stepdown, IPC_EC_TIMEOUT, "leadership transfer timed out");
	mem->stepdown.kind = WAITER_NONE;
}
