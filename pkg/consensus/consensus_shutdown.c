/*
 * Leaving before stopping (see consensus_shutdown.h). A follower asks the leader to
 * remove it with PEER_FORWARD {op: remove, id: ours, wait} → PEER_FORWARD_RESULT.
 */
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"

static void
cs_removed_self_answer(struct consensus *c, struct fwd_out *f, struct ipc_msg *m)
{
	(void)f;
	if (ipc_get(m, "e") != NULL)
		log_warnx("the leader did not remove this node before shutdown");
	else
		log_info("removed from the cluster");
	c->shut.removed = true;
}

/* -raft-cluster-remove-shutdown: true when the stop now waits for the removal. */
static bool
cs_shutdown_remove(struct consensus *c)
{
	const struct raft_config *cfg = raft_configuration(c->raft);
	struct ipc_writer *out = &c->out;
	const char *addr;
	uint64_t index;

	if (!c->opts->cluster_remove_shutdown || cfg->n < 2 ||
	    raft_config_get(cfg, c->opts->node_id) == NULL)
		return false;
	c->shut.deadline = c->io->now_ms(c) + 5000;
	if (raft_state(c->raft) == RAFT_LEADER) {
		/* It steps down once the change commits. */
		if (raft_remove_server(c->raft, c->opts->node_id, &index) != 0)
			return false;
		log_info("removing this node from the cluster before shutting down");
		c->shut.remove_index = index;
	} else {
		struct fwd_out *f;
		if (!cs_leader_addr(c, &addr))
			return false;
		f = cs_fwd_new(c, NULL, IPC_PEER_FORWARD_RESULT);
		f->on_answer = cs_removed_self_answer;
		ipc_begin(out, IPC_PEER_FORWARD, f->id);
		ipc_add_str(out, "op", "remove");
		ipc_add_str(out, "id", c->opts->node_id);
		ipc_add_bool(out, "wait", true);
		cs_auth_add_own(c, out);
		ipc_finish(out);
		if (!cs_fwd_send(c, f, addr, out))
			return false;
		log_info("asking the leader to remove this node before shutting down");
	}
	cs_set_phase(c, CS_PHASE_LEAVING);
	c->io->schedule_ready(c);
	return true;
}

/* -raft-shutdown-stepdown: true when the stop now waits for the transfer. */
static bool
cs_shutdown_transfer(struct consensus *c)
{
	if (!c->opts->shutdown_stepdown || raft_state(c->raft) != RAFT_LEADER ||
	    raft_config_voters(raft_configuration(c->raft)) < 2)
		return false;
	if (raft_transfer_leadership(c->raft, NULL) != 0)
		return false;
	log_info("handing leadership over before shutting down");
	cs_set_phase(c, CS_PHASE_HANDING_OVER);
	c->shut.deadline = c->io->now_ms(c) + (uint64_t)c->opts->election_timeout_ms * 2;
	c->io->schedule_ready(c);
	return true;
}

bool
cs_shutdown_begin(struct consensus *c)
{
	return cs_shutdown_remove(c) || cs_shutdown_transfer(c);
}

bool
cs_shutdown_done(struct consensus *c, uint64_t now)
{
	switch (c->phase) {
	case CS_PHASE_HANDING_OVER:
		return raft_state(c->raft) != RAFT_LEADER || now > c->shut.deadline;
	case CS_PHASE_LEAVING:
		if (c->shut.removed || now > c->shut.deadline)
			return true;
		return c->shut.remove_index != 0 &&
		    raft_commit_index(c->raft) >= c->shut.remove_index;
	default:
		return false;
	}
}
