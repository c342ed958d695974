/*
 * /nodes and node meta (see consensus_nodes.h). Sends PEER_META → PEER_META_RESULT
 * {id, addr, api, version, ci, boot, ex}; answers NODES with NODES_RESULT {leader_id,
 * nodes: [{id, addr, voter, reachable, api, version, time, error}]}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"

/* One /nodes request: a PEER_META to every other member, answered when all replied. */
struct nodes_query {
	uint64_t request_id;
	unsigned n, outstanding;
	struct nodes_entry {
		char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX], api[CS_API_MAX], version[64], error[128];
		bool voter, reachable, self;
		double secs;
		uint64_t sent_ms;
	} *e;
	uint64_t deadline;
	struct nodes_query *next;
};

static void
cs_nodes_pack(struct ipc_writer *out, const struct nodes_query *nq, const char *leader_id)
{
	ipc_add_str(out, "leader_id", leader_id);
	ipc_add_key(out, "nodes");
	ipc_pack_array(out, nq->n);
	for (unsigned i = 0; i < nq->n; i++) {
		const struct nodes_entry *e = &nq->e[i];
		ipc_pack_map(out, e->reachable ? 8 : 6);
		ipc_pack_kv_str(out, "id", e->id);
		ipc_pack_kv_str(out, "addr", e->addr);
		ipc_pack_kv_bool(out, "voter", e->voter);
		ipc_pack_kv_bool(out, "reachable", e->reachable);
		ipc_pack_kv_str(out, "api", e->api);
		if (e->reachable) {
			ipc_pack_kv_str(out, "version", e->version);
			ipc_pack_kv_f64(out, "time", e->secs);
		}
		ipc_pack_kv_str(out, "error", e->error);
	}
}

static cs_fwd_answer_fn cs_nodes_answer;

static void
cs_nodes_finish(struct consensus *c, struct nodes_query *nq)
{
	struct waiter w = { WAITER_GATEWAY, nq->request_id, 0, IPC_NODES_RESULT, 0 };

	ipc_begin(&c->out, IPC_NODES_RESULT, nq->request_id);
	cs_nodes_pack(&c->out, nq, raft_leader_id(c->raft));
	ipc_finish(&c->out);
	cs_answer(c, &w, &c->out);
	/* Late answers must not find this query (its memory goes now). */
	for (struct fwd_out *f = c->fwd.outs, *next; f != NULL; f = next) {
		next = f->next;
		if (f->on_answer == cs_nodes_answer && f->arg == nq)
			cs_fwd_free(c, f);
	}
	for (struct nodes_query **pp = &c->nodes.queries; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == nq) {
			*pp = nq->next;
			break;
		}
	}
	free(nq->e);
	free(nq);
}

static void
cs_nodes_answer(struct consensus *c, struct fwd_out *f, struct ipc_msg *m)
{
	struct nodes_query *nq = f->arg;
	struct nodes_entry *e;

	e = &nq->e[f->slot];
	e->reachable = true;
	e->secs = (double)(c->io->now_ms(c) - e->sent_ms) / 1000.0;
	(void)ipc_get_strbuf(m, "api", e->api, sizeof(e->api));
	(void)ipc_get_strbuf(m, "version", e->version, sizeof(e->version));
	e->error[0] = '\0';
	if (--nq->outstanding == 0)
		cs_nodes_finish(c, nq);
}

void
cs_nodes_request(struct consensus *c, struct ipc_msg *m)
{
	const struct raft_config *cfg = raft_configuration(c->raft);
	struct nodes_query *nq = calloc(1, sizeof(*nq));
	uint64_t timeout_ms = 0;

	if (nq == NULL || (nq->e = calloc(cfg->n + 1, sizeof(*nq->e))) == NULL)
		fatalx("out of memory");
	(void)ipc_get_u64(m, "to", &timeout_ms);
	if (timeout_ms == 0 || timeout_ms > CS_FWD_TIMEOUT_MS)
		timeout_ms = CS_META_TIMEOUT_MS;
	nq->request_id = m->request_id;
	nq->n = cfg->n;
	nq->deadline = c->io->now_ms(c) + timeout_ms;
	nq->next = c->nodes.queries;
	c->nodes.queries = nq;
	for (unsigned i = 0; i < cfg->n; i++) {
		struct nodes_entry *e = &nq->e[i];
		struct fwd_out *f;

		snprintf(e->id, sizeof(e->id), "%s", cfg->servers[i].id);
		snprintf(e->addr, sizeof(e->addr), "%s", cfg->servers[i].address);
		e->voter = cfg->servers[i].suffrage == RAFT_VOTER;
		if (strcmp(e->id, c->opts->node_id) == 0) {
			e->self = e->reachable = true;
			snprintf(e->api, sizeof(e->api), "%s", c->opts->http_api_url);
			snprintf(e->version, sizeof(e->version), "%s", c->opts->version);
			e->secs = 0.000001;
			continue;
		}
		snprintf(e->error, sizeof(e->error), "timeout waiting for node to respond");
		f = cs_fwd_new(c, NULL, IPC_PEER_META_RESULT);
		f->on_answer = cs_nodes_answer;
		f->arg = nq;
		f->slot = i;
		e->sent_ms = c->io->now_ms(c);
		ipc_begin(&c->out, IPC_PEER_META, f->id);
		ipc_finish(&c->out);
		if (cs_fwd_send(c, f, e->addr, &c->out))
			nq->outstanding++;
	}
	if (nq->outstanding == 0)
		cs_nodes_finish(c, nq);
}

void
cs_nodes_serve_meta(struct consensus *c, uint64_t peer_handle, struct ipc_msg *m)
{
	struct waiter w = { WAITER_PEER, m->request_id, peer_handle, IPC_PEER_META_RESULT, 0 };
	struct ipc_writer *out = &c->out;

	c->fwd.served.get_node_api++;
	ipc_begin(out, IPC_PEER_META_RESULT, m->request_id);
	ipc_add_str(out, "id", c->opts->node_id);
	ipc_add_str(out, "addr", c->opts->raft_adv_addr);
	ipc_add_str(out, "api", c->opts->http_api_url);
	ipc_add_str(out, "version", c->opts->version);
	ipc_add_u64(out, "ci", raft_commit_index(c->raft));
	ipc_add_bool(out, "boot", cs_join_waiting_to_boot(c) &&
	    cs_auth_allowed(c, m, AUTH_PERM_JOIN, AUTH_PERM_MAX));
	ipc_add_u64(out, "ex", (uint64_t)c->opts->bootstrap_expect);
	ipc_finish(out);
	cs_answer(c, &w, out);
}

static void
cs_leader_meta_answer(struct consensus *c, struct fwd_out *f, struct ipc_msg *m)
{
	char id[RAFT_ID_MAX] = "";

	(void)f;
	if (ipc_get_strbuf(m, "id", id, sizeof(id)) != IPC_OK)
		return;
	snprintf(c->nodes.leader_api_for, sizeof(c->nodes.leader_api_for), "%s", id);
	(void)ipc_get_strbuf(m, "api", c->nodes.leader_api, sizeof(c->nodes.leader_api));
	cs_local_send_state(c);
}

void
cs_nodes_learn_leader_api(struct consensus *c)
{
	const char *addr;
	struct fwd_out *f;

	if (strcmp(c->nodes.leader_api_for, raft_leader_id(c->raft)) == 0)
		return;
	if (raft_state(c->raft) == RAFT_LEADER) {
		snprintf(c->nodes.leader_api_for, sizeof(c->nodes.leader_api_for), "%s",
		    c->opts->node_id);
		snprintf(c->nodes.leader_api, sizeof(c->nodes.leader_api), "%s",
		    c->opts->http_api_url);
		return;
	}
	if (!cs_leader_addr(c, &addr))
		return;
	f = cs_fwd_new(c, NULL, IPC_PEER_META_RESULT);
	f->on_answer = cs_leader_meta_answer;
	ipc_begin(&c->out, IPC_PEER_META, f->id);
	ipc_finish(&c->out);
	(void)cs_fwd_send(c, f, addr, &c->out);
}

const char *
cs_nodes_leader_api(struct consensus *c)
{
	return strcmp(c->nodes.leader_api_for, raft_leader_id(c->raft)) == 0 ?
	    c->nodes.leader_api : NULL;
}

void
cs_nodes_expire(struct consensus *c, uint64_t now)
{
	for (struct nodes_query *nq = c->nodes.queries, *next; nq != NULL; nq = next) {
		next = nq->next;
		if (now >= nq->deadline)
			cs_nodes_finish(c, nq);
	}
}
