/*
 * Answers to whoever waits for the outcome of a request: the local gateway (on its
 * link) or a peer (on the connection its request arrived on). Sends GATEWAY's and
 * peers' *_RESULT frames; the frame is built by the caller, errors are built here.
 */
#include <stdio.h>

#include "consensus_internal.h"

void
cs_answer(struct consensus *c, const struct waiter *w, const struct ipc_writer *out)
{
	switch (w->kind) {
	case WAITER_GATEWAY:
	case WAITER_MEMBERSHIP:
		(void)c->io->send_role(c, PROC_GATEWAY, out);
		break;
	case WAITER_PEER:
	case WAITER_JOIN:
		(void)c->io->reply_peer(c, w->peer_handle, out);
		break;
	case WAITER_NONE:
		break;
	}
}

void
cs_answer_error(struct consensus *c, const struct waiter *w, enum ipc_errcode code,
    const char *text)
{
	struct ipc_writer *out = &c->out;

	if (w->kind == WAITER_NONE)
		return;
	ipc_begin(out, w->reply, w->request_id);
	ipc_add_error(out, code, text);
	if (c->raft != NULL && raft_leader_id(c->raft)[0] != '\0') {
		ipc_add_str(out, "ld", raft_leader_id(c->raft));
		ipc_add_str(out, "la", raft_leader_address(c->raft));
	}
	ipc_finish(out);
	cs_answer(c, w, out);
}

void
cs_answer_raft_error(struct consensus *c, const struct waiter *w, int rc)
{
	enum ipc_errcode code = IPC_EC_OTHER;

	if (rc == RAFT_ENOTLEADER)
		code = IPC_EC_NOT_LEADER;
	else if (rc == RAFT_ELEADERSHIPLOST)
		code = IPC_EC_LEADERSHIP_LOST;
	cs_answer_error(c, w, code, raft_strerror(rc));
}

void
cs_answer_done(struct consensus *c, const struct waiter *w)
{
	struct ipc_writer *out = &c->out;

	ipc_begin(out, w->reply, w->request_id);
	ipc_add_str(out, "lr", c->opts->raft_adv_addr);
	ipc_finish(out);
	cs_answer(c, w, out);
}
