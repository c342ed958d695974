/*
 * Forwarding (see consensus_forward.h).
 *
 * Peer frames: PEER_FORWARD {op: propose|read|remove|stepdown, c, k, l, at, id, wait}
 * → PEER_FORWARD_RESULT {res, i, lr} or {e, ec}. Requests travel on our outbound link;
 * answers come back on the connection they arrived on. A forwarded read runs on the
 * leader: barrier (lease or read index), then QUERY → QUERY_RESULT from our storage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"
#include "ipc_cmd.h"

static uint64_t
cs_fwd_next_id(struct consensus *c)
{
	return ++c->fwd.next_id & ~CS_READ_COOKIE_BIT;
}

bool
cs_leader_addr(struct consensus *c, const char **addr)
{
	*addr = raft_leader_address(c->raft);
	return (*addr)[0] != '\0' && strcmp(*addr, c->opts->raft_adv_addr) != 0;
}

/* ---- requests to peers ------------------------------------------------------------- */

struct fwd_out *
cs_fwd_new(struct consensus *c, const struct waiter *w, enum ipc_type op_reply)
{
	struct fwd_out *f = calloc(1, sizeof(*f));

	if (f == NULL)
		fatalx("out of memory");
	f->id = cs_fwd_next_id(c);
	if (w != NULL)
		f->w = *w;
	f->op_reply = op_reply;
	f->started_ms = c->io->now_ms(c);
	f->next = c->fwd.outs;
	c->fwd.outs = f;
	return f;
}

void
cs_fwd_free(struct consensus *c, struct fwd_out *f)
{
	for (struct fwd_out **pp = &c->fwd.outs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	free(f);
}

bool
cs_fwd_send(struct consensus *c, struct fwd_out *f, const char *addr,
    const struct ipc_writer *out)
{
	if (c->io->send_peer(c, addr, out) != PEER_OK) {
		cs_fwd_free(c, f);
		return false;
	}
	return true;
}

/* Relays a peer's answer to whoever waits here, as the local reply type. */
static void
cs_fwd_relay(struct consensus *c, struct fwd_out *f, struct ipc_msg *m)
{
	struct ipc_writer *out = &c->out;

	if (f->w.kind == WAITER_NONE)
		return;
	ipc_begin(out, f->w.reply, f->w.request_id);
	ipc_copy_fields(out, m);
	ipc_finish(out);
	cs_answer(c, &f->w, out);
}

void
cs_forward_on_answer(struct consensus *c, struct ipc_msg *m)
{
	for (struct fwd_out **pp = &c->fwd.outs; *pp != NULL; pp = &(*pp)->next) {
		struct fwd_out *f = *pp;
		if (f->id != m->request_id)
			continue;
		if (f->op_reply != m->type) {
			log_warnx("answer %s to request #%llu expecting %s", ipc_type_name(m->type),
			    (unsigned long long)m->request_id, ipc_type_name(f->op_reply));
			return;
		}
		/* Unlinked before its handler runs: the handler may free other requests. */
		*pp = f->next;
		if (f->on_answer != NULL)
			f->on_answer(c, f, m);
		else
			cs_fwd_relay(c, f, m);
		free(f);
		return;
	}
	log_debug("answer #%llu for no waiting request", (unsigned long long)m->request_id);
}

void
cs_forward_link_down(struct consensus *c, const char *addr)
{
	for (struct fwd_out **pp = &c->fwd.outs; *pp != NULL;) {
		struct fwd_out *f = *pp;
		if (f->addr[0] == '\0' || strcmp(f->addr, addr) != 0 || f->on_answer != NULL) {
			pp = &f->next;
			continue;
		}
		*pp = f->next;
		cs_answer_error(c, &f->w, IPC_EC_LEADER_UNREACHABLE, NULL);
		free(f);
	}
}

/* ---- follower side --------------------------------------------------------------- */

/* Sends the gateway's request m (PROPOSE or BARRIER with its command) to the leader. */
static bool
cs_forward(struct consensus *c, struct ipc_msg *m, const char *op, enum ipc_type reply)
{
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, reply, 0 };
	struct ipc_writer *out = &c->out;
	const char *addr, *cmd;
	size_t len;
	char level[32] = "weak";
	uint64_t kind = 0, at = 0;
	struct fwd_out *f;

	if (!cs_leader_addr(c, &addr) || ipc_get_bin(m, "c", &cmd, &len) != IPC_OK)
		return false;
	(void)ipc_get_strbuf(m, "l", level, sizeof(level));
	(void)ipc_get_u64(m, "k", &kind);
	(void)ipc_get_u64(m, "at", &at);
	f = cs_fwd_new(c, &w, IPC_PEER_FORWARD_RESULT);
	f->timeout_ms = at;
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	ipc_begin(out, IPC_PEER_FORWARD, f->id);
	ipc_add_str(out, "op", op);
	ipc_add_bin(out, "c", cmd, len);
	ipc_add_str(out, "l", level);
	ipc_add_u64(out, "k", kind);
	if (at != 0)
		ipc_add_u64(out, "at", at);
	cs_auth_copy(m, out);
	ipc_finish(out);
	return cs_fwd_send(c, f, addr, out);
}

bool
cs_forward_propose(struct consensus *c, struct ipc_msg *m)
{
	return cs_forward(c, m, "propose", IPC_PROPOSE_RESULT);
}

bool
cs_forward_read(struct consensus *c, struct ipc_msg *m)
{
	/* Without the command (old gateway) there is nothing to run remotely. */
	if (ipc_get(m, "c") == NULL)
		return false;
	return cs_forward(c, m, "read", IPC_BARRIER_RESULT);
}

/* ---- leader side ------------------------------------------------------------------- */

static struct fwd_read *
cs_fwd_read_new(struct consensus *c, const struct waiter *w, const char *cmd, size_t len,
    int kind)
{
	struct fwd_read *fr = calloc(1, sizeof(*fr));

	if (fr == NULL || (fr->cmd = malloc(len ? len : 1)) == NULL)
		fatalx("out of memory");
	memcpy(fr->cmd, cmd, len);
	fr->len = len;
	fr->kind = kind;
	fr->w = *w;
	fr->id = cs_fwd_next_id(c) | CS_READ_COOKIE_BIT;
	fr->started_ms = c->io->now_ms(c);
	fr->next = c->fwd.reads;
	c->fwd.reads = fr;
	return fr;
}

static void
cs_fwd_read_free(struct consensus *c, struct fwd_read *fr)
{
	for (struct fwd_read **pp = &c->fwd.reads; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == fr) {
			*pp = fr->next;
			break;
		}
	}
	free(fr->cmd);
	free(fr);
}

static struct fwd_read *
cs_fwd_read_find(struct consensus *c, uint64_t id)
{
	for (struct fwd_read *fr = c->fwd.reads; fr != NULL; fr = fr->next)
		if (fr->id == id)
			return fr;
	return NULL;
}

/* Runs the read on our storage once it has applied min_index; false (and answered)
 * when storage is not there. */
static bool
cs_fwd_read_query(struct consensus *c, struct fwd_read *fr, uint64_t min_index)
{
	struct ipc_writer *out = &c->out;

	ipc_begin(out, IPC_QUERY, fr->id);
	ipc_add_bin(out, "c", fr->cmd, fr->len);
	if (min_index > 0)
		ipc_add_u64(out, "mi", min_index);
	ipc_finish(out);
	if (!c->io->send_role(c, PROC_STORAGE, out)) {
		cs_answer_error(c, &fr->w, IPC_EC_STORE_NOT_OPEN, NULL);
		return false;
	}
	return true;
}

void
cs_forward_read_released(struct consensus *c, uint64_t cookie, uint64_t index, int status)
{
	struct fwd_read *fr = cs_fwd_read_find(c, cookie);

	if (fr == NULL)
		return;
	if (status != 0) {
		cs_answer_error(c, &fr->w, IPC_EC_NOT_LEADER, NULL);
		cs_fwd_read_free(c, fr);
		return;
	}
	if (!cs_fwd_read_query(c, fr, index))
		cs_fwd_read_free(c, fr);
}

bool
cs_forward_on_query_result(struct consensus *c, struct ipc_msg *m)
{
	struct fwd_read *fr = cs_fwd_read_find(c, m->request_id);
	struct ipc_writer *out = &c->out;
	const char *res;
	size_t len;

	if (fr == NULL)
		return false;
	if (ipc_get_bin(m, "res", &res, &len) != IPC_OK) {
		cs_answer_error(c, &fr->w, IPC_EC_OTHER, "malformed result from storage");
	} else if (fr->kind == IPC_CMD_REQUEST && ipc_cmd_result_needs_write(res, len)) {
		/* A unified request that writes goes through the log here, on the leader. */
		uint64_t index, term;
		int rc = raft_propose(c->raft, fr->cmd, fr->len, &index, &term);
		if (rc != 0) {
			cs_answer_raft_error(c, &fr->w, rc);
		} else {
			struct waiter w = fr->w;
			w.reply = IPC_PEER_FORWARD_RESULT;
			cs_apply_add_pending(c, index, term, &w);
			c->io->schedule_ready(c);
		}
	} else {
		ipc_begin(out, fr->w.reply, fr->w.request_id);
		ipc_add_bin(out, "res", res, len);
		ipc_add_str(out, "lr", c->opts->raft_adv_addr);
		ipc_finish(out);
		cs_answer(c, &fr->w, out);
	}
	cs_fwd_read_free(c, fr);
	return true;
}

void
cs_forward_serve(struct consensus *c, uint64_t peer_handle, struct ipc_msg *m)
{
	struct cs_cluster_counters *n = &c->fwd.served;
	char op[16] = "";
	uint64_t kind = 0;

	(void)ipc_get_strbuf(m, "op", op, sizeof(op));
	(void)ipc_get_u64(m, "k", &kind);
	if (strcmp(op, "remove") == 0)
		n->remove_node++;
	else if (strcmp(op, "stepdown") == 0)
		n->stepdown++;
	else if (kind == IPC_CMD_QUERY)
		n->query++;
	else if (kind == IPC_CMD_REQUEST)
		n->request++;
	else if (ipc_cmd_is_load(kind))
		n->load++;
	else
		n->execute++;
	if (cs_hold_maybe(c, m, peer_handle))
		return;		/* our lease is not established yet (consensus_hold.c) */
	cs_forward_serve_now(c, peer_handle, m);
}

/*
 * -auth on the leader: what a forwarded request needs, as rqlite's cluster service
 * asks it (a unified request needs both query and execute). False: answered.
 */
static bool
cs_forward_authorized(struct consensus *c, const struct waiter *w, const struct ipc_msg *m,
    const char *op, const char *cmd, size_t len)
{
	enum auth_perm perm = AUTH_PERM_EXECUTE, also = AUTH_PERM_MAX;
	uint64_t kind;

	if (c->auth == NULL)
		return true;
	/* The permission follows what the command is, not what the sender says it is. */
	kind = cmd != NULL ? ipc_cmd_peek_kind(cmd, len) : 0;

	if (strcmp(op, "remove") == 0)
		perm = AUTH_PERM_REMOVE;
	else if (strcmp(op, "stepdown") == 0)
		perm = AUTH_PERM_LEADER_OPS;
	else if (kind == IPC_CMD_QUERY)
		perm = AUTH_PERM_QUERY;
	else if (kind == IPC_CMD_REQUEST)
		also = AUTH_PERM_QUERY;
	else if (ipc_cmd_is_load(kind))
		perm = AUTH_PERM_LOAD;
	if (cs_auth_allowed(c, m, perm, also))
		return true;
	cs_answer_error(c, w, IPC_EC_UNAUTHORIZED, NULL);
	return false;
}

void
cs_forward_serve_now(struct consensus *c, uint64_t peer_handle, struct ipc_msg *m)
{
	struct waiter w = { WAITER_PEER, m->request_id, peer_handle, IPC_PEER_FORWARD_RESULT, 0 };
	char op[16] = "", level[32] = "weak", id[RAFT_ID_MAX] = "";
	const char *cmd = NULL;
	size_t len = 0;
	uint64_t kind = 0, index, term, now = c->io->now_ms(c);
	int rc;

	(void)ipc_get_strbuf(m, "op", op, sizeof(op));
	(void)ipc_get_strbuf(m, "l", level, sizeof(level));
	(void)ipc_get_strbuf(m, "id", id, sizeof(id));
	(void)ipc_get_u64(m, "k", &kind);
	(void)ipc_get_bin(m, "c", &cmd, &len);
	(void)ipc_get_u64(m, "at", &w.apply_timeout_ms);
	if (raft_state(c->raft) != RAFT_LEADER) {
		cs_answer_error(c, &w, IPC_EC_NOT_LEADER, NULL);
		return;
	}
	if (!cs_forward_authorized(c, &w, m, op, cmd, len))
		return;
	if (strcmp(op, "propose") == 0 && cmd != NULL) {
		rc = raft_propose(c->raft, cmd, len, &index, &term);
		if (rc != 0) {
			cs_answer_raft_error(c, &w, rc);
			return;
		}
		c->stats.proposals++;
		cs_apply_add_pending(c, index, term, &w);
		c->io->schedule_ready(c);
	} else if (strcmp(op, "read") == 0 && cmd != NULL && ipc_msgpack_validate(cmd, len) == 0) {
		struct fwd_read *fr = cs_fwd_read_new(c, &w, cmd, len, (int)kind);
		if (strcmp(level, "linearizable") == 0) {
			rc = raft_read_index(c->raft, now, fr->id);
			if (rc != 0) {
				cs_answer_raft_error(c, &w, rc);
				cs_fwd_read_free(c, fr);
			}
			c->io->schedule_ready(c);
		} else if (!raft_lease_valid(c->raft, now)) {
			cs_answer_error(c, &w, IPC_EC_NOT_LEADER, NULL);
			cs_fwd_read_free(c, fr);
		} else if (!cs_fwd_read_query(c, fr, raft_commit_index(c->raft))) {
			cs_fwd_read_free(c, fr);
		}
	} else if (strcmp(op, "remove") == 0 || strcmp(op, "stepdown") == 0) {
		/* Handled like a local MEMBERSHIP request, answered on this link. */
		bool wait = false;
		(void)ipc_get_bool(m, "wait", &wait);
		cs_membership_do(c, &w, op, id, wait);
	} else {
		cs_answer_error(c, &w, IPC_EC_INVALID, "unknown forwarded operation");
	}
}

/* ---- housekeeping ----------------------------------------------------------------- */

void
cs_forward_expire(struct consensus *c, uint64_t now)
{
	for (struct fwd_out *f = c->fwd.outs, *next; f != NULL; f = next) {
		next = f->next;
		if (now - f->started_ms > (f->timeout_ms > CS_FWD_TIMEOUT_MS ? f->timeout_ms :
		    CS_FWD_TIMEOUT_MS))
			cs_fwd_free(c, f);
	}
	for (struct fwd_read *fr = c->fwd.reads, *next; fr != NULL; fr = next) {
		next = fr->next;
		if (now - fr->started_ms > CS_FWD_TIMEOUT_MS) {
			cs_answer_error(c, &fr->w, IPC_EC_TIMEOUT, NULL);
			cs_fwd_read_free(c, fr);
		}
	}
}

void
cs_forward_free(struct consensus *c)
{
	while (c->fwd.outs != NULL)
		cs_fwd_free(c, c->fwd.outs);
	while (c->fwd.reads != NULL)
		cs_fwd_read_free(c, c->fwd.reads);
}

void
cs_forward_forget_gateway(struct consensus *c)
{
	for (struct fwd_out *f = c->fwd.outs; f != NULL; f = f->next)
		if (f->w.kind == WAITER_GATEWAY || f->w.kind == WAITER_MEMBERSHIP)
			f->w.kind = WAITER_NONE;
}
