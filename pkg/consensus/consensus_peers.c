/*
 * Peer links (see consensus_peers.h). In: PEER_RAFT (to the core), PEER_FORWARD,
 * PEER_JOIN, PEER_META, PEER_SNAPSHOT and the answers PEER_*_RESULT, each handed to
 * the part that owns it. Out: PEER_RAFT for each message of a ready batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"

static void
cs_peers_remember(struct consensus *c, const char *id, const char *addr)
{
	struct cs_peers *p = &c->peers;
	unsigned i;

	if (id == NULL || addr == NULL || id[0] == '\0' || addr[0] == '\0')
		return;
	for (i = 0; i < CS_ADDR_CACHE; i++) {
		if (strcmp(p->addrs[i].id, id) == 0) {
			snprintf(p->addrs[i].addr, sizeof(p->addrs[i].addr), "%s", addr);
			p->addrs[i].seen_ms = c->io->now_ms(c);
			return;
		}
	}
	i = p->addrs_next++ % CS_ADDR_CACHE;
	snprintf(p->addrs[i].id, sizeof(p->addrs[i].id), "%s", id);
	snprintf(p->addrs[i].addr, sizeof(p->addrs[i].addr), "%s", addr);
	p->addrs[i].seen_ms = c->io->now_ms(c);
}

static const char *
cs_peers_lookup(struct consensus *c, const char *id)
{
	for (unsigned i = 0; i < CS_ADDR_CACHE; i++)
		if (c->peers.addrs[i].id[0] != '\0' && strcmp(c->peers.addrs[i].id, id) == 0)
			return c->peers.addrs[i].addr;
	return NULL;
}

/* ---- Raft messages ------------------------------------------------------------------ */

void
cs_peers_send_messages(struct consensus *c, const struct raft_message *msgs, unsigned n)
{
	struct ipc_writer *out = &c->out;

	for (unsigned i = 0; i < n; i++) {
		const char *to = msgs[i].to_address;
		int rc;

		if (c->peers.pt == NULL)
			return;
		if (to[0] == '\0' && (to = cs_peers_lookup(c, msgs[i].to)) == NULL) {
			log_debug("no address for %s; %s dropped", msgs[i].to,
			    raft_message_type_name(msgs[i].type));
			continue;
		}
		ipc_begin(out, IPC_PEER_RAFT, 0);
		rc = peer_encode_raft(out, &msgs[i]);
		if (rc != PEER_OK) {
			log_warnx("encode %s: %s", raft_message_type_name(msgs[i].type),
			    peer_strerror(rc));
			continue;
		}
		/* The snapshot's data goes first, on the same link, then the message. */
		if (msgs[i].type == RAFT_MSG_INSTALL_SNAPSHOT) {
			if (!cs_snapshot_send(c, to, &msgs[i], out))
				raft_report_unreachable(c->raft, msgs[i].to);
			continue;
		}
		rc = c->io->send_peer(c, to, out);
		if (rc != PEER_OK && rc != PEER_ERR_FULL)
			log_debug("send to %s: %s", to, peer_strerror(rc));
	}
}

static void
cs_peers_on_raft(struct consensus *c, struct ipc_msg *m)
{
	struct raft_message rm;
	uint64_t now = c->io->now_ms(c);
	int rc;

	memset(&rm, 0, sizeof(rm));
	rc = peer_decode_raft(m, &rm);
	if (rc != PEER_OK) {
		log_warnx("bad Raft message from a peer: %s", peer_strerror(rc));
		peer_raft_message_release(&rm);
		return;
	}
	if (rm.type == RAFT_MSG_INSTALL_SNAPSHOT &&
	    !cs_snapshot_staged(c, rm.install_snapshot.meta.index)) {
		/* Its data did not arrive whole; the leader will send it again. */
		log_warnx("InstallSnapshot %llu without its data; ignored",
		    (unsigned long long)rm.install_snapshot.meta.index);
		peer_raft_message_release(&rm);
		return;
	}
	rc = raft_recv(c->raft, now, &rm);
	/* The leader's commit index as its latest AppendEntries said (/readyz?sync). */
	if (rc == 0 && rm.type == RAFT_MSG_APPEND_ENTRIES &&
	    strcmp(rm.from, raft_leader_id(c->raft)) == 0) {
		c->leader_commit_heard = rm.append_entries.leader_commit;
		cs_fresh_heard(&c->fresh, c->leader_commit_heard, now);
	}
	if (rc != 0 && rc != RAFT_ESHUTDOWN)
		log_debug("raft_recv %s from %s: %s", raft_message_type_name(rm.type), rm.from,
		    raft_strerror(rc));
	peer_raft_message_release(&rm);
	c->io->schedule_ready(c);
}

/* ---- the transport's callbacks ---------------------------------------------------- */

static void
cs_peers_on_frame(struct peer_transport *pt, struct peer_conn *pc, struct ipc_msg *m, void *arg)
{
	struct consensus *c = arg;

	(void)pt;
	if (!ipc_link_accepts(m->type, IPC_END_PEER, IPC_END_PEER)) {
		log_warnx("unexpected %s from peer %s", ipc_type_name(m->type), peer_conn_addr(pc));
		return;
	}
	cs_peers_remember(c, peer_conn_id(pc), peer_conn_addr(pc));
	switch (m->type) {
	case IPC_PEER_RAFT:
		cs_peers_on_raft(c, m);
		break;
	case IPC_PEER_FORWARD:
		cs_forward_serve(c, peer_conn_handle(pc), m);
		break;
	case IPC_PEER_JOIN:
		cs_membership_serve_join(c, peer_conn_handle(pc), m);
		break;
	case IPC_PEER_META:
		cs_nodes_serve_meta(c, peer_conn_handle(pc), m);
		break;
	case IPC_PEER_SNAPSHOT:
		cs_snapshot_on_chunk(c, m);
		break;
	case IPC_PEER_FORWARD_RESULT:
	case IPC_PEER_JOIN_RESULT:
	case IPC_PEER_META_RESULT:
		cs_forward_on_answer(c, m);
		break;
	default:
		log_warnx("unexpected %s from peer %s", ipc_type_name(m->type), peer_conn_addr(pc));
	}
}

static void
cs_peers_on_link(struct peer_transport *pt, const char *addr, const char *peer_id, bool up,
    void *arg)
{
	struct consensus *c = arg;

	(void)pt;
	if (!up && peer_id != NULL && peer_id[0] != '\0')
		raft_report_unreachable(c->raft, peer_id);
	if (!up && addr != NULL) {
		cs_snapshot_send_link_down(c, addr);
		cs_forward_link_down(c, addr);
	}
	log_debug("peer link %s (%s) %s", addr, peer_id != NULL ? peer_id : "?", up ? "up" : "down");
}

void
cs_peers_init(struct consensus *c, int raft_listen_fd)
{
	struct peer_transport_options po;
	unsigned char key[32];
	char err[256];
	int rc;

	memset(&po, 0, sizeof(po));
	po.self_id = c->opts->node_id;
	po.self_addr = c->opts->raft_adv_addr;
	po.connect_timeout_ms = (unsigned)c->opts->connect_timeout_ms;
	po.on_link = cs_peers_on_link;
	if (c->opts->cluster_key_file != NULL && c->opts->cluster_key_file[0] != '\0') {
		if (peer_load_key(c->opts->cluster_key_file, key, err, sizeof(err)) != 0)
			fatalx("cluster key %s: %s", c->opts->cluster_key_file, err);
		po.key = key;
		c->peers.keyed = true;
	}	/* without a key the transport says so, once */
	rc = peer_transport_new(c->role.base, &po, cs_peers_on_frame, c, &c->peers.pt);
	if (rc != PEER_OK)
		fatalx("peer transport: %s", peer_strerror(rc));
	rc = peer_transport_listen(c->peers.pt, raft_listen_fd);
	if (rc != PEER_OK)
		fatalx("listen for peers: %s", peer_strerror(rc));
}

/* ---- reaping, faults --------------------------------------------------------------- */

void
cs_peers_on_state_change(struct consensus *c)
{
	bool leader = raft_state(c->raft) == RAFT_LEADER;

	/* Reaping measures silence from this node's election on. */
	if (leader && !c->peers.was_leader)
		c->peers.reap_epoch_ms = c->io->now_ms(c);
	c->peers.was_leader = leader;
}

void
cs_peers_reap(struct consensus *c, uint64_t now)
{
	const struct raft_config *cfg = raft_configuration(c->raft);
	uint64_t index;

	if (raft_state(c->raft) != RAFT_LEADER ||
	    (c->opts->reap_voter_ms <= 0 && c->opts->reap_nonvoter_ms <= 0))
		return;
	for (unsigned i = 0; i < cfg->n; i++) {
		const struct raft_server *s = &cfg->servers[i];
		int64_t limit = s->suffrage == RAFT_VOTER ? c->opts->reap_voter_ms :
		    c->opts->reap_nonvoter_ms;
		uint64_t seen = c->peers.reap_epoch_ms;
		char id[RAFT_ID_MAX];

		if (limit <= 0 || strcmp(s->id, c->opts->node_id) == 0)
			continue;
		for (unsigned k = 0; k < CS_ADDR_CACHE; k++)
			if (strcmp(c->peers.addrs[k].id, s->id) == 0 && c->peers.addrs[k].seen_ms > seen)
				seen = c->peers.addrs[k].seen_ms;
		if (now - seen <= (uint64_t)limit)
			continue;
		snprintf(id, sizeof(id), "%s", s->id);	/* the removal frees cfg */
		if (raft_remove_server(c->raft, id, &index) == 0) {
			log_warnx("reaping node %s: not heard from for %llu ms", id,
			    (unsigned long long)(now - seen));
			c->io->schedule_ready(c);
		}
		return;	/* one change at a time */
	}
}

/*
 * FAULT {block: "a,b", unblock: "c"}: cut or heal this node's links to those Raft
 * addresses, in both directions, while the node keeps running — a real partition.
 * Refused unless built with --enable-debug.
 */
void
cs_peers_fault(struct consensus *c, struct ipc_msg *m)
{
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_FAULT_RESULT, 0 };
	static const char *keys[] = { "block", "unblock" };

#ifndef RQ_DEBUG
	(void)keys;
	cs_answer_error(c, &w, IPC_EC_INVALID, "fault injection needs a debug build");
	return;
#else
	for (int k = 0; k < 2; k++) {
		char list[4096], *save = NULL, *a;
		if (ipc_get_strbuf(m, keys[k], list, sizeof(list)) != IPC_OK || c->peers.pt == NULL)
			continue;
		for (a = strtok_r(list, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
			log_warnx("fault injection: %s %s", k == 0 ? "blocking" : "unblocking", a);
			peer_transport_block(c->peers.pt, a, k == 0);
		}
	}
	ipc_begin(&c->out, IPC_FAULT_RESULT, m->request_id);
	ipc_finish(&c->out);
	cs_answer(c, &w, &c->out);
#endif
}
