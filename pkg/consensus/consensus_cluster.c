/*
 * The cluster side of the consensus process: peer links (peer_transport), Raft
 * messages in and out, requests forwarded to the leader and served for followers,
 * joining, membership changes, leadership transfer, and /nodes reachability.
 *
 * Peer frames: PEER_RAFT; PEER_FORWARD {op: propose|read|remove|stepdown, c, k, l, id}
 * → PEER_FORWARD_RESULT {res, i, lr} or {e}; PEER_JOIN {id, addr, voter} →
 * PEER_JOIN_RESULT {} or {e, la}; PEER_META → PEER_META_RESULT {id, addr, api, version}.
 * Requests travel on our outbound link; answers come back on the link they arrived on.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "consensus_internal.h"

#define CS_FWD_TIMEOUT_MS	60000	/* forgotten after this; the gateway gave up long before */
#define CS_META_TIMEOUT_MS	2000
#define CS_READ_COOKIE_BIT	(UINT64_C(1) << 63)

/* Config changes waiting to commit, answered then. */
struct config_wait {
	uint64_t index;
	struct waiter w;
	struct config_wait *next;
};
static struct config_wait *config_waits;

/* One /nodes request: a PEER_META to every other member, answered when all replied. */
struct nodes_query {
	uint64_t request_id;
	unsigned n, outstanding;
	struct nodes_entry {
		char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX], api[300], version[64], error[128];
		bool voter, reachable, self;
		double secs;
		uint64_t sent_ms;
	} *e;
	uint64_t deadline;
	struct nodes_query *next;
};

/*
 * Addresses of peers learned from their handshakes. A node that is not yet in any
 * configuration (just joining) must still answer the leader that contacts it.
 */
#define CS_ADDR_CACHE 64
static struct {
	char id[RAFT_ID_MAX];
	char addr[RAFT_ADDR_MAX];
	uint64_t seen_ms;	/* last frame from it, for reaping */
} addr_cache[CS_ADDR_CACHE];
static uint64_t reap_epoch_ms;	/* when this node last became leader */
static unsigned addr_cache_next;

static void
cs_remember_addr(const char *id, const char *addr)
{
	unsigned i;

	if (id == NULL || addr == NULL || id[0] == '\0' || addr[0] == '\0')
		return;
	for (i = 0; i < CS_ADDR_CACHE; i++) {
		if (strcmp(addr_cache[i].id, id) == 0) {
			snprintf(addr_cache[i].addr, sizeof(addr_cache[i].addr), "%s", addr);
			addr_cache[i].seen_ms = cs_now_ms();
			return;
		}
	}
	i = addr_cache_next++ % CS_ADDR_CACHE;
	snprintf(addr_cache[i].id, sizeof(addr_cache[i].id), "%s", id);
	snprintf(addr_cache[i].addr, sizeof(addr_cache[i].addr), "%s", addr);
	addr_cache[i].seen_ms = cs_now_ms();
}

static const char *
cs_lookup_addr(const char *id)
{
	for (unsigned i = 0; i < CS_ADDR_CACHE; i++)
		if (addr_cache[i].id[0] != '\0' && strcmp(addr_cache[i].id, id) == 0)
			return addr_cache[i].addr;
	return NULL;
}

static uint64_t
cs_next_id(void)
{
	return ++cs.next_id & ~CS_READ_COOKIE_BIT;
}

/* ---- outgoing requests ---------------------------------------------------------------- */

static struct fwd_out *
cs_fwd_new(const struct waiter *w, enum ipc_type op_reply)
{
	struct fwd_out *f = calloc(1, sizeof(*f));

	if (f == NULL)
		fatalx("out of memory");
	f->id = cs_next_id();
	if (w != NULL)
		f->w = *w;
	f->op_reply = op_reply;
	f->started_ms = cs_now_ms();
	f->next = cs.fwd_outs;
	cs.fwd_outs = f;
	return f;
}

static void
cs_fwd_free(struct fwd_out *f)
{
	for (struct fwd_out **pp = &cs.fwd_outs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	free(f);
}

/* Relays a peer's answer to whoever waits here, translated to the local reply type. */
static void
cs_fwd_relay(struct fwd_out *f, struct ipc_msg *m)
{
	if (f->w.kind == WAITER_NONE)
		return;
	ipc_begin(&cs.w, f->w.reply, f->w.request_id);
	for (uint32_t i = 0; i < m->body->size; i++) {
		const msgpack_object_kv *kv = &m->body->ptr[i];
		char key[16];
		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size >= sizeof(key))
			continue;
		memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
		key[kv->key.via.str.size] = '\0';
		ipc_add_key(&cs.w, key);
		msgpack_pack_object(&cs.w.pk, kv->val);
	}
	ipc_finish(&cs.w);
	cs_answer(&f->w);
}

static void
cs_on_peer_answer(struct ipc_msg *m)
{
	for (struct fwd_out **pp = &cs.fwd_outs; *pp != NULL; pp = &(*pp)->next) {
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
			f->on_answer(f, m);
		else
			cs_fwd_relay(f, m);
		free(f);
		return;
	}
	log_debug("answer #%llu for no waiting request", (unsigned long long)m->request_id);
}

/* ---- Raft messages ------------------------------------------------------------------- */

void
cs_cluster_send_messages(const struct raft_message *msgs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int rc;
		const char *to = msgs[i].to_address;
		if (cs.peers == NULL)
			return;
		if (to[0] == '\0' && (to = cs_lookup_addr(msgs[i].to)) == NULL) {
			log_debug("no address for %s; %s dropped", msgs[i].to,
			    raft_message_type_name(msgs[i].type));
			continue;
		}
		ipc_begin(&cs.w, IPC_PEER_RAFT, 0);
		rc = peer_encode_raft(&cs.w, &msgs[i]);
		if (rc != PEER_OK) {
			log_warnx("encode %s: %s", raft_message_type_name(msgs[i].type),
			    peer_strerror(rc));
			continue;
		}
		/* The snapshot's data goes first, on the same link, then the message. */
		if (msgs[i].type == RAFT_MSG_INSTALL_SNAPSHOT) {
			if (!cs_snapshot_send(to, &msgs[i], &cs.w))
				raft_report_unreachable(cs.raft, msgs[i].to);
			continue;
		}
		rc = peer_send(cs.peers, to, &cs.w);
		if (rc != PEER_OK && rc != PEER_ERR_FULL)
			log_debug("send to %s: %s", to, peer_strerror(rc));
	}
}

static void
cs_on_peer_raft(struct ipc_msg *m)
{
	struct raft_message rm;
	int rc;

	memset(&rm, 0, sizeof(rm));
	rc = peer_decode_raft(m, &rm);
	if (rc != PEER_OK) {
		log_warnx("bad Raft message from a peer: %s", peer_strerror(rc));
		peer_raft_message_release(&rm);
		return;
	}
	if (rm.type == RAFT_MSG_INSTALL_SNAPSHOT && !cs_snapshot_staged(rm.install_snapshot.meta.index)) {
		/* Its data did not arrive whole; the leader will send it again. */
		log_warnx("InstallSnapshot %llu without its data; ignored",
		    (unsigned long long)rm.install_snapshot.meta.index);
		peer_raft_message_release(&rm);
		return;
	}
	rc = raft_recv(cs.raft, cs_now_ms(), &rm);
	/* The leader's commit index as its latest AppendEntries said (/readyz?sync). */
	if (rc == 0 && rm.type == RAFT_MSG_APPEND_ENTRIES &&
	    strcmp(rm.from, raft_leader_id(cs.raft)) == 0) {
		cs.leader_commit_heard = rm.append_entries.leader_commit;
		cs_fresh_heard(cs.leader_commit_heard, cs_now_ms());
	}
	if (rc != 0 && rc != RAFT_ESHUTDOWN)
		log_debug("raft_recv %s from %s: %s", raft_message_type_name(rm.type), rm.from,
		    raft_strerror(rc));
	peer_raft_message_release(&rm);
	cs_schedule_ready();
}

/* ---- forwarding: follower side -------------------------------------------------------- */

static bool
cs_leader_addr(const char **addr)
{
	*addr = raft_leader_address(cs.raft);
	return (*addr)[0] != '\0' && strcmp(*addr, cs.opts->raft_adv_addr) != 0 && cs.peers != NULL;
}

/* Sends the gateway's request m (PROPOSE or BARRIER with its command) to the leader. */
static bool
cs_forward(struct ipc_msg *m, const char *op, enum ipc_type reply)
{
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, reply, 0 };
	const char *addr, *cmd;
	size_t len;
	char level[32] = "weak";
	uint64_t kind = 0, at = 0;
	struct fwd_out *f;

	if (!cs_leader_addr(&addr) || ipc_get_bin(m, "c", &cmd, &len) != IPC_OK)
		return false;
	(void)ipc_get_strbuf(m, "l", level, sizeof(level));
	(void)ipc_get_u64(m, "k", &kind);
	(void)ipc_get_u64(m, "at", &at);
	f = cs_fwd_new(&w, IPC_PEER_FORWARD_RESULT);
	f->timeout_ms = at;
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	ipc_begin(&cs.w, IPC_PEER_FORWARD, f->id);
	ipc_add_str(&cs.w, "op", op);
	ipc_add_bin(&cs.w, "c", cmd, len);
	ipc_add_str(&cs.w, "l", level);
	ipc_add_u64(&cs.w, "k", kind);
	if (at != 0)
		ipc_add_u64(&cs.w, "at", at);
	ipc_finish(&cs.w);
	if (peer_send(cs.peers, addr, &cs.w) != PEER_OK) {
		cs_fwd_free(f);
		return false;
	}
	return true;
}

bool
cs_cluster_forward_propose(struct ipc_msg *m)
{
	return cs_forward(m, "propose", IPC_PROPOSE_RESULT);
}

bool
cs_cluster_forward_read(struct ipc_msg *m)
{
	/* Without the command (old gateway) there is nothing to run remotely. */
	if (ipc_get(m, "c") == NULL)
		return false;
	return cs_forward(m, "read", IPC_BARRIER_RESULT);
}

/* ---- forwarding: leader side ------------------------------------------------------------- */

static struct cs_cluster_counters ctr;

static struct fwd_read *
cs_fwd_read_new(const struct waiter *w, const char *cmd, size_t len, int kind)
{
	struct fwd_read *fr = calloc(1, sizeof(*fr));

	if (fr == NULL || (fr->cmd = malloc(len ? len : 1)) == NULL)
		fatalx("out of memory");
	memcpy(fr->cmd, cmd, len);
	fr->len = len;
	fr->kind = kind;
	fr->w = *w;
	fr->id = cs_next_id() | CS_READ_COOKIE_BIT;
	fr->started_ms = cs_now_ms();
	fr->next = cs.fwd_reads;
	cs.fwd_reads = fr;
	return fr;
}

static void
cs_fwd_read_free(struct fwd_read *fr)
{
	for (struct fwd_read **pp = &cs.fwd_reads; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == fr) {
			*pp = fr->next;
			break;
		}
	}
	free(fr->cmd);
	free(fr);
}

static struct fwd_read *
cs_fwd_read_find(uint64_t id)
{
	for (struct fwd_read *fr = cs.fwd_reads; fr != NULL; fr = fr->next)
		if (fr->id == id)
			return fr;
	return NULL;
}

void
cs_cluster_on_read_released(uint64_t cookie, uint64_t index, int status)
{
	struct fwd_read *fr = cs_fwd_read_find(cookie);

	if (fr == NULL)
		return;
	if (status != 0) {
		cs_answer_error(&fr->w, "not leader");
		cs_fwd_read_free(fr);
		return;
	}
	if (!cs_storage_query(fr, index))
		cs_fwd_read_free(fr);
}

/* True if res (a storage result map) says a statement writes: {"w": true}. */
static bool
cs_result_needs_write(const char *res, size_t len)
{
	msgpack_unpacked un;
	size_t off = 0;
	bool w = false;

	if (ipc_msgpack_validate(res, len) != 0)
		return false;
	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, res, len, &off) == MSGPACK_UNPACK_SUCCESS &&
	    un.data.type == MSGPACK_OBJECT_MAP) {
		for (uint32_t i = 0; i < un.data.via.map.size; i++) {
			const msgpack_object_kv *kv = &un.data.via.map.ptr[i];
			if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 1 &&
			    kv->key.via.str.ptr[0] == 'w' && kv->val.type == MSGPACK_OBJECT_BOOLEAN)
				w = kv->val.via.boolean;
		}
	}
	msgpack_unpacked_destroy(&un);
	return w;
}

bool
cs_cluster_on_query_result(struct ipc_msg *m)
{
	struct fwd_read *fr = cs_fwd_read_find(m->request_id);
	const char *res;
	size_t len;

	if (fr == NULL)
		return false;
	if (ipc_get_bin(m, "res", &res, &len) != IPC_OK) {
		cs_answer_error(&fr->w, "malformed result from storage");
	} else if (fr->kind == 3 && cs_result_needs_write(res, len)) {
		/* A unified request that writes goes through the log here, on the leader. */
		uint64_t index, term;
		int rc = raft_propose(cs.raft, fr->cmd, fr->len, &index, &term);
		if (rc != 0) {
			cs_answer_error(&fr->w, rc == RAFT_ENOTLEADER ? "not leader" : raft_strerror(rc));
		} else {
			struct waiter w = fr->w;
			w.reply = IPC_PEER_FORWARD_RESULT;
			cs_add_pending(index, term, &w);
			cs_schedule_ready();
		}
	} else {
		ipc_begin(&cs.w, fr->w.reply, fr->w.request_id);
		ipc_add_bin(&cs.w, "res", res, len);
		ipc_add_str(&cs.w, "lr", cs.opts->raft_adv_addr);
		ipc_finish(&cs.w);
		cs_answer(&fr->w);
	}
	cs_fwd_read_free(fr);
	return true;
}

static void
cs_serve_forward(struct peer_conn *c, struct ipc_msg *m)
{
	char op[16] = "";
	uint64_t kind = 0;

	(void)ipc_get_strbuf(m, "op", op, sizeof(op));
	(void)ipc_get_u64(m, "k", &kind);
	if (strcmp(op, "remove") == 0)
		ctr.remove_node++;
	else if (strcmp(op, "stepdown") == 0)
		ctr.stepdown++;
	else if (kind == 2)
		ctr.query++;
	else if (kind == 3)
		ctr.request++;
	else if (kind >= 5 && kind <= 7)
		ctr.load++;
	else
		ctr.execute++;
	if (cs_hold_maybe(m, peer_conn_handle(c)))
		return;		/* our lease is not established yet (consensus_hold.c) */
	cs_cluster_serve_forward(peer_conn_handle(c), m);
}

void
cs_cluster_counters(struct cs_cluster_counters *out)
{
	*out = ctr;
}

void
cs_cluster_serve_forward(uint64_t peer_handle, struct ipc_msg *m)
{
	struct waiter w = { WAITER_PEER, m->request_id, peer_handle, IPC_PEER_FORWARD_RESULT, 0 };
	char op[16] = "", level[32] = "weak", id[RAFT_ID_MAX] = "";
	const char *cmd = NULL;
	size_t len = 0;
	uint64_t kind = 0, index, term;
	int rc;

	(void)ipc_get_strbuf(m, "op", op, sizeof(op));
	(void)ipc_get_strbuf(m, "l", level, sizeof(level));
	(void)ipc_get_strbuf(m, "id", id, sizeof(id));
	(void)ipc_get_u64(m, "k", &kind);
	(void)ipc_get_bin(m, "c", &cmd, &len);
	(void)ipc_get_u64(m, "at", &w.apply_timeout_ms);
	if (raft_state(cs.raft) != RAFT_LEADER) {
		cs_answer_error(&w, "not leader");
		return;
	}
	if (strcmp(op, "propose") == 0 && cmd != NULL) {
		rc = raft_propose(cs.raft, cmd, len, &index, &term);
		if (rc != 0) {
			cs_answer_error(&w, rc == RAFT_ENOTLEADER ? "not leader" : raft_strerror(rc));
			return;
		}
		cs.n_proposals++;
		cs_add_pending(index, term, &w);
		cs_schedule_ready();
	} else if (strcmp(op, "read") == 0 && cmd != NULL && ipc_msgpack_validate(cmd, len) == 0) {
		struct fwd_read *fr = cs_fwd_read_new(&w, cmd, len, (int)kind);
		if (strcmp(level, "linearizable") == 0) {
			rc = raft_read_index(cs.raft, cs_now_ms(), fr->id);
			if (rc != 0) {
				cs_answer_error(&w, raft_strerror(rc));
				cs_fwd_read_free(fr);
			}
			cs_schedule_ready();
		} else if (!raft_lease_valid(cs.raft, cs_now_ms())) {
			cs_answer_error(&w, "not leader");
			cs_fwd_read_free(fr);
		} else if (!cs_storage_query(fr, raft_commit_index(cs.raft))) {
			cs_fwd_read_free(fr);
		}
	} else if (strcmp(op, "remove") == 0 || strcmp(op, "stepdown") == 0) {
		/* Handled like a local MEMBERSHIP request, answered on this link. */
		bool wait = false;
		(void)ipc_get_bool(m, "wait", &wait);
		cs_membership_do(&w, op, id, wait);
	} else {
		cs_answer_error(&w, "unknown forwarded operation");
	}
}

/* ---- membership ------------------------------------------------------------------------- */


static void
cs_wait_config(uint64_t index, const struct waiter *w)
{
	struct config_wait *cw = calloc(1, sizeof(*cw));

	if (cw == NULL)
		fatalx("out of memory");
	cw->index = index;
	cw->w = *w;
	cw->next = config_waits;
	config_waits = cw;
}

static void cs_join_queue_run(void);

void
cs_cluster_config_committed(uint64_t commit_index)
{
	struct config_wait **pp = &config_waits;

	while (*pp != NULL) {
		struct config_wait *cw = *pp;
		if (cw->index > commit_index) {
			pp = &cw->next;
			continue;
		}
		*pp = cw->next;
		ipc_begin(&cs.w, cw->w.reply, cw->w.request_id);
		ipc_add_str(&cs.w, "lr", cs.opts->raft_adv_addr);
		ipc_finish(&cs.w);
		cs_answer(&cw->w);
		free(cw);
	}
	cs_join_queue_run();
}

static void cs_membership_remove(const struct waiter *w, const char *id);

void
cs_membership_do(const struct waiter *w, const char *op, const char *id, bool wait)
{
	int rc;

	if (raft_state(cs.raft) != RAFT_LEADER) {
		cs_answer_error(w, "not leader");
		return;
	}
	if (strcmp(op, "remove") == 0) {
		cs_membership_remove(w, id);
		return;
	}
	/* stepdown */
	if (id[0] != '\0') {
		if (strcmp(id, cs.opts->node_id) == 0) {
			cs_answer_error(w, "cannot step down to the current Leader");
			return;
		}
		if (raft_config_get(raft_configuration(cs.raft), id) == NULL) {
			cs_answer_error(w, "node not found in cluster");
			return;
		}
	}
	rc = raft_transfer_leadership(cs.raft, id[0] != '\0' ? id : NULL);
	if (rc != 0) {
		cs_answer_error(w, raft_strerror(rc));
		return;
	}
	cs_schedule_ready();
	if (!wait) {
		ipc_begin(&cs.w, w->reply, w->request_id);
		ipc_add_str(&cs.w, "lr", cs.opts->raft_adv_addr);
		ipc_finish(&cs.w);
		cs_answer(w);
		return;
	}
	cs.stepdown_waiter = *w;
	cs.stepdown_deadline = cs_now_ms() + 2 * (uint64_t)cs.opts->election_timeout_ms + 1000;
}

void
cs_cluster_membership(struct ipc_msg *m)
{
	struct waiter w = { WAITER_MEMBERSHIP, m->request_id, 0, IPC_MEMBERSHIP_RESULT, 0 };
	char op[16] = "", id[RAFT_ID_MAX] = "";
	bool wait = false;
	const char *addr;
	struct fwd_out *f;

	(void)ipc_get_strbuf(m, "op", op, sizeof(op));
	(void)ipc_get_strbuf(m, "id", id, sizeof(id));
	(void)ipc_get_bool(m, "wait", &wait);
	if (raft_state(cs.raft) == RAFT_LEADER) {
		cs_membership_do(&w, op, id, wait);
		return;
	}
	if (!cs_leader_addr(&addr)) {
		cs_answer_error(&w, "leader not found");
		return;
	}
	f = cs_fwd_new(&w, IPC_PEER_FORWARD_RESULT);
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	ipc_begin(&cs.w, IPC_PEER_FORWARD, f->id);
	ipc_add_str(&cs.w, "op", op);
	ipc_add_str(&cs.w, "id", id);
	ipc_add_bool(&cs.w, "wait", wait);
	ipc_finish(&cs.w);
	if (peer_send(cs.peers, addr, &cs.w) != PEER_OK) {
		cs_fwd_free(f);
		cs_answer_error(&w, "leader not reachable");
	}
}

/* ---- joining: member side ------------------------------------------------------------- */

/*
 * Joins that arrive while another membership change is in flight wait here, in order,
 * and go ahead as each change commits (rqlite's leader serialises them the same way);
 * before, the second of two nodes joining together was refused and waited a whole
 * -join-interval.
 */
#define CS_JOIN_QUEUE_MAX 64
struct join_queued {
	struct waiter w;
	char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX];
	bool voter;
	bool remove;		/* DELETE /remove of id, not a join */
	struct join_queued *next;
};
static struct {
	struct join_queued *head, *tail;
	unsigned n;
	uint64_t ignored, removed_before;	/* rqlite's num_ignored_joins, num_removed_before_joins */
} jq;

static struct join_queued *
cs_join_enqueue(const struct waiter *w, const char *id, const char *addr, bool voter)
{
	struct join_queued *q;

	if (jq.n >= CS_JOIN_QUEUE_MAX || (q = calloc(1, sizeof(*q))) == NULL) {
		cs_answer_error(w, "too many membership changes waiting; retry");
		return NULL;
	}
	q->w = *w;
	snprintf(q->id, sizeof(q->id), "%s", id);
	snprintf(q->addr, sizeof(q->addr), "%s", addr);
	q->voter = voter;
	if (jq.tail != NULL)
		jq.tail->next = q;
	else
		jq.head = q;
	jq.tail = q;
	jq.n++;
	log_info("membership change for node %s while another is in flight: queued (%u waiting)",
	    id, jq.n);
	return q;
}

/* Removes id on the leader; false when another change is in flight (nothing answered). */
static bool
cs_remove_admit(const struct waiter *w, const char *id)
{
	uint64_t index = 0;
	int rc;

	if (raft_state(cs.raft) != RAFT_LEADER) {
		cs_answer_error(w, "not leader");
		return true;
	}
	rc = raft_remove_server(cs.raft, id, &index);
	if (rc == RAFT_ECONFIGBUSY)
		return false;
	if (rc != 0) {
		cs_answer_error(w, rc == RAFT_ENOTFOUND ? "node not found in cluster" :
		    raft_strerror(rc));
		return true;
	}
	cs_wait_config(index, w);
	cs_schedule_ready();
	return true;
}

static void
cs_membership_remove(const struct waiter *w, const char *id)
{
	struct join_queued *q;

	if (jq.head == NULL && cs_remove_admit(w, id))
		return;
	if ((q = cs_join_enqueue(w, id, "", false)) != NULL)
		q->remove = true;
}

/*
 * Admits one joiner on the leader. Returns false when a membership change is in
 * flight (nothing answered: the caller queues the request).
 */
static bool
cs_join_admit(const struct waiter *wp, const char *id, const char *addr, bool voter)
{
	struct waiter w = *wp;
	const struct raft_server *s;
	uint64_t index = 0;
	int rc;

	if (raft_state(cs.raft) != RAFT_LEADER) {
		cs_answer_error(&w, "not leader");
		return true;
	}
	{
		/* Another id at this address: that node was replaced; its entry goes first. */
		const struct raft_config *cfg = raft_configuration(cs.raft);
		for (unsigned i = 0; i < cfg->n; i++) {
			if (strcmp(cfg->servers[i].address, addr) == 0 &&
			    strcmp(cfg->servers[i].id, id) != 0) {
				char old[RAFT_ID_MAX];
				snprintf(old, sizeof(old), "%s", cfg->servers[i].id);
				rc = raft_remove_server(cs.raft, old, &index);
				if (rc == RAFT_ECONFIGBUSY)
					return false;
				log_info("node %s joins at %s, where %s was: removing %s", id, addr,
				    old, old);
				if (rc == 0)
					jq.removed_before++;
				cs_answer_error(&w, rc == 0 ? "removing old entry, retry" :
				    raft_strerror(rc));
				cs_schedule_ready();
				return true;
			}
		}
	}
	s = raft_config_get(raft_configuration(cs.raft), id);
	if (s != NULL && strcmp(s->address, addr) == 0 &&
	    (s->suffrage == RAFT_VOTER) == voter) {
		/* Rejoining with the same id and address changes nothing. */
		jq.ignored++;
		ipc_begin(&cs.w, IPC_PEER_JOIN_RESULT, w.request_id);
		ipc_finish(&cs.w);
		cs_answer(&w);
		return true;
	}
	if (s != NULL) {
		/* Changed address or suffrage: the old entry goes first; the joiner retries. */
		rc = raft_remove_server(cs.raft, id, &index);
		if (rc == RAFT_ECONFIGBUSY)
			return false;
		log_info("node %s rejoins with address %s: removing its old entry", id, addr);
		if (rc == 0)
			jq.removed_before++;
		cs_answer_error(&w, rc == 0 ? "removing old entry, retry" : raft_strerror(rc));
		cs_schedule_ready();
		return true;
	}
	rc = raft_add_server(cs.raft, id, addr, voter ? RAFT_VOTER : RAFT_NONVOTER, &index);
	if (rc == RAFT_ECONFIGBUSY)
		return false;
	if (rc != 0) {
		cs_answer_error(&w, raft_strerror(rc));
		return true;
	}
	log_info("adding node %s at %s as a %s", id, addr, voter ? "voter" : "non-voter");
	cs_wait_config(index, &w);
	cs_schedule_ready();
	return true;
}

/* After a membership change commits: the queued joins go ahead, in order, while they can. */
static void
cs_join_queue_run(void)
{
	while (jq.head != NULL) {
		struct join_queued *q = jq.head;
		if (!(q->remove ? cs_remove_admit(&q->w, q->id) :
		    cs_join_admit(&q->w, q->id, q->addr, q->voter)))
			return;		/* the change just made is in flight now */
		jq.head = q->next;
		if (jq.head == NULL)
			jq.tail = NULL;
		jq.n--;
		free(q);
	}
}

void
cs_cluster_join_counters(uint64_t *ignored, uint64_t *removed_before)
{
	*ignored = jq.ignored;
	*removed_before = jq.removed_before;
}

static void
cs_serve_join(struct peer_conn *c, struct ipc_msg *m)
{
	struct waiter w = { WAITER_JOIN, m->request_id, peer_conn_handle(c), IPC_PEER_JOIN_RESULT, 0 };
	char id[RAFT_ID_MAX] = "", addr[RAFT_ADDR_MAX] = "";
	bool voter = true;

	ctr.join++;
	if (ipc_get_strbuf(m, "id", id, sizeof(id)) != IPC_OK ||
	    ipc_get_strbuf(m, "addr", addr, sizeof(addr)) != IPC_OK || id[0] == '\0') {
		cs_answer_error(&w, "invalid join request");
		return;
	}
	(void)ipc_get_bool(m, "voter", &voter);
	if (jq.head != NULL && raft_state(cs.raft) != RAFT_LEADER)
		cs_join_queue_run();	/* leadership lost: each queued joiner hears "not leader" */
	if (jq.head != NULL || !cs_join_admit(&w, id, addr, voter))
		cs_join_enqueue(&w, id, addr, voter);
}

/* ---- joining: joiner side ----------------------------------------------------------- */

static void cs_join_try(void);
static void cs_boot_probe(void);
static unsigned boot_n;

static void
cs_join_answer(struct fwd_out *f, struct ipc_msg *m)
{
	char la[RAFT_ADDR_MAX] = "";
	const char *e;
	size_t n;

	if (cs.joined)
		return;
	if (ipc_get_str(m, "e", &e, &n) != IPC_OK) {
		cs.joined = true;
		log_info("joined the cluster");
		return;
	}
	/* Only "not leader" is worth asking the named leader at once; any other refusal
	 * waits for the next round (asking again at once would spin). */
	if (n == 10 && memcmp(e, "not leader", 10) == 0 &&
	    ipc_get_strbuf(m, "la", la, sizeof(la)) == IPC_OK && la[0] != '\0' &&
	    strcmp(la, cs.opts->raft_adv_addr) != 0 && !f->followed) {
		/* Not the leader: ask the leader it named. */
		struct fwd_out *g = cs_fwd_new(NULL, IPC_PEER_JOIN_RESULT);
		g->on_answer = cs_join_answer;
		g->followed = true;
		ipc_begin(&cs.w, IPC_PEER_JOIN, g->id);
		ipc_add_str(&cs.w, "id", cs.opts->node_id);
		ipc_add_str(&cs.w, "addr", cs.opts->raft_adv_addr);
		ipc_add_bool(&cs.w, "voter", !cs.opts->non_voter);
		ipc_finish(&cs.w);
		if (peer_send(cs.peers, la, &cs.w) != PEER_OK)
			cs_fwd_free(g);
		return;
	}
	log_info("join refused: %.*s", (int)n, e);
}

/*
 * -bootstrap-expect N: every fresh node asks the listed addresses who they are; the
 * nodes that are also waiting to bootstrap answer "boot". Once a node knows N-1 such
 * others, it bootstraps the configuration of those N voters, sorted by id — every node
 * computes the same one, so they all write the identical first entry.
 */
#define CS_BOOT_MAX 16
static struct { char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX]; } boot_seen[CS_BOOT_MAX];

static bool
cs_waiting_to_boot(void)
{
	return cs.opts->bootstrap_expect > 1 && !cs.has_state && raft_last_index(cs.raft) == 0;
}

static int
cs_boot_cmp(const void *a, const void *b)
{
	return strcmp(((const struct raft_server *)a)->id, ((const struct raft_server *)b)->id);
}

static void
cs_boot_maybe(void)
{
	struct raft_config cfg;
	struct raft_server *sv;
	unsigned n = 0, want = (unsigned)cs.opts->bootstrap_expect;

	if (!cs_waiting_to_boot() || boot_n + 1 < want)
		return;
	sv = calloc(want, sizeof(*sv));
	if (sv == NULL)
		fatalx("out of memory");
	snprintf(sv[n].id, sizeof(sv[n].id), "%s", cs.opts->node_id);
	snprintf(sv[n].address, sizeof(sv[n].address), "%s", cs.opts->raft_adv_addr);
	n++;
	for (unsigned i = 0; i < boot_n && n < want; i++, n++) {
		/* Same sizes: both are RAFT_ID_MAX / RAFT_ADDR_MAX, NUL-terminated. */
		memcpy(sv[n].id, boot_seen[i].id, sizeof(sv[n].id));
		memcpy(sv[n].address, boot_seen[i].addr, sizeof(sv[n].address));
	}
	qsort(sv, n, sizeof(*sv), cs_boot_cmp);
	raft_config_init(&cfg);
	for (unsigned i = 0; i < n; i++)
		raft_config_add(&cfg, sv[i].id, sv[i].address, RAFT_VOTER);
	free(sv);
	if (cs_raft_bootstrap(&cfg) == 0) {
		log_info("bootstrap-expect %d: bootstrapped a cluster of %u voters", want, n);
		cs.joined = true;
		cs.has_state = true;
	}
	raft_config_free(&cfg);
}

static void
cs_boot_answer(struct fwd_out *f, struct ipc_msg *m)
{
	char id[RAFT_ID_MAX] = "", addr[RAFT_ADDR_MAX] = "";
	bool boot = false;
	uint64_t expect = 0;

	(void)f;
	(void)ipc_get_strbuf(m, "id", id, sizeof(id));
	(void)ipc_get_strbuf(m, "addr", addr, sizeof(addr));
	(void)ipc_get_bool(m, "boot", &boot);
	(void)ipc_get_u64(m, "ex", &expect);
	if (!boot || id[0] == '\0' || strcmp(id, cs.opts->node_id) == 0)
		return;
	if (expect != (uint64_t)cs.opts->bootstrap_expect)
		log_warnx("node %s expects %llu nodes, we expect %d", id,
		    (unsigned long long)expect, cs.opts->bootstrap_expect);
	for (unsigned i = 0; i < boot_n; i++)
		if (strcmp(boot_seen[i].id, id) == 0)
			return;
	if (boot_n < CS_BOOT_MAX) {
		snprintf(boot_seen[boot_n].id, sizeof(boot_seen[boot_n].id), "%s", id);
		snprintf(boot_seen[boot_n].addr, sizeof(boot_seen[boot_n].addr), "%s", addr);
		boot_n++;
	}
	cs_boot_maybe();
}

static void
cs_boot_probe(void)
{
	char list[4096], *save = NULL, *a;

	snprintf(list, sizeof(list), "%s", cs.opts->join);
	for (a = strtok_r(list, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
		struct fwd_out *f;
		while (*a == ' ')
			a++;
		if (*a == '\0' || strcmp(a, cs.opts->raft_adv_addr) == 0)
			continue;
		f = cs_fwd_new(NULL, IPC_PEER_META_RESULT);
		f->on_answer = cs_boot_answer;
		ipc_begin(&cs.w, IPC_PEER_META, f->id);
		ipc_finish(&cs.w);
		if (peer_send(cs.peers, a, &cs.w) != PEER_OK)
			cs_fwd_free(f);
	}
}

/* One join address per call; a round is all of them, then -join-interval. */
static void
cs_join_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	cs_join_try();
}

static void
cs_join_try(void)
{
	char list[4096], *save = NULL, *a;
	unsigned k = 0;
	struct timeval tv;

	if (cs.joined || cs.stopping)
		return;
	/* A node already in a configuration with a leader has nothing left to ask. */
	if (cs.has_state && raft_leader_id(cs.raft)[0] != '\0' &&
	    raft_config_get(raft_configuration(cs.raft), cs.opts->node_id) != NULL) {
		cs.joined = true;
		return;
	}
	if (cs.opts->bootstrap_expect > 1 && !cs.has_state) {
		cs_boot_probe();
		if (cs.joined)
			return;
		if (cs_now_ms() - cs.join_started_ms > (uint64_t)cs.opts->bootstrap_expect_timeout_ms) {
			log_warnx("bootstrap-expect %d: only found %u of the nodes in time",
			    cs.opts->bootstrap_expect, boot_n + 1);
			exit(PROC_EXIT_FATAL);
		}
	} else if (cs.join_round >= cs.opts->join_attempts) {
		if (cs.has_state) {
			log_warnx("could not reach the join addresses; carrying on with the existing state");
			cs.joined = true;
			return;
		}
		log_warnx("failed to join cluster at %s after %d attempts", cs.opts->join,
		    cs.opts->join_attempts);
		exit(PROC_EXIT_FATAL);
	}
	snprintf(list, sizeof(list), "%s", cs.opts->join);
	for (a = strtok_r(list, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
		struct fwd_out *f;
		while (*a == ' ')
			a++;
		if (strcmp(a, cs.opts->raft_adv_addr) == 0 || *a == '\0')
			continue;
		f = cs_fwd_new(NULL, IPC_PEER_JOIN_RESULT);
		f->on_answer = cs_join_answer;
		ipc_begin(&cs.w, IPC_PEER_JOIN, f->id);
		ipc_add_str(&cs.w, "id", cs.opts->node_id);
		ipc_add_str(&cs.w, "addr", cs.opts->raft_adv_addr);
		ipc_add_bool(&cs.w, "voter", !cs.opts->non_voter);
		ipc_finish(&cs.w);
		if (peer_send(cs.peers, a, &cs.w) != PEER_OK)
			cs_fwd_free(f);
		k++;
	}
	cs.join_round++;
	tv.tv_sec = (time_t)(cs.opts->join_interval_ms / 1000);
	tv.tv_usec = (suseconds_t)((cs.opts->join_interval_ms % 1000) * 1000);
	evtimer_add(cs.join_ev, &tv);
	(void)k;
}

/*
 * rqlite's start-up check: a join address that answers HTTP is somebody's API port given
 * by mistake. Asked once, with a short bounded wait, before the first join.
 */
static bool
cs_addr_serves_http(const char *addr)
{
	char host[256], port[32], buf[8];
	struct addrinfo hints, *res = NULL;
	struct pollfd pfd;
	int fd, ok = 0;
	static const char probe[] = "GET / HTTP/1.0\r\n\r\n";

	if (net_split_hostport(addr, host, sizeof(host), port, sizeof(port)) != 0)
		return false;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return false;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (connect(fd, res->ai_addr, res->ai_addrlen) == 0 || errno == EINPROGRESS)) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 500) == 1 && (pfd.revents & POLLOUT) &&
		    send(fd, probe, sizeof(probe) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(probe) - 1)) {
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 500) == 1 && recv(fd, buf, 5, 0) == 5 &&
			    memcmp(buf, "HTTP/", 5) == 0)
				ok = 1;
		}
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return ok;
}

void
cs_cluster_start_join(void)
{
	char list[4096], *save = NULL, *a;

	if (cs.opts->join[0] == '\0')
		return;
	if (cs.has_state) {
		/* As rqlite: a node that is its own one-node cluster cannot merge into another. */
		const struct raft_config *cfg = raft_configuration(cs.raft);
		if (cfg->n == 1 && strcmp(cfg->servers[0].id, cs.opts->node_id) == 0) {
			log_warnx("node is the only node in a single-node cluster, joining other "
			    "clusters not supported");
			exit(PROC_EXIT_FATAL);
		}
	}
	snprintf(list, sizeof(list), "%s", cs.opts->join);
	for (a = strtok_r(list, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
		while (*a == ' ')
			a++;
		if (*a != '\0' && strcmp(a, cs.opts->raft_adv_addr) != 0 && cs_addr_serves_http(a)) {
			log_warnx("join address %s appears to be serving HTTP when it should be Raft", a);
			exit(PROC_EXIT_FATAL);
		}
	}
	cs.join_started_ms = cs_now_ms();
	cs.join_ev = evtimer_new(cs.role.base, cs_join_cb, NULL);
	cs_join_try();
}

/* ---- node meta, /nodes and redirects ---------------------------------------------------- */

static void
cs_serve_meta(struct peer_conn *c, struct ipc_msg *m)
{
	struct waiter w = { WAITER_PEER, m->request_id, peer_conn_handle(c), IPC_PEER_META_RESULT, 0 };

	ctr.get_node_api++;
	ipc_begin(&cs.w, IPC_PEER_META_RESULT, m->request_id);
	ipc_add_str(&cs.w, "id", cs.opts->node_id);
	ipc_add_str(&cs.w, "addr", cs.opts->raft_adv_addr);
	ipc_add_str(&cs.w, "api", cs.opts->http_adv_addr);
	ipc_add_str(&cs.w, "version", cs.opts->version);
	ipc_add_u64(&cs.w, "ci", raft_commit_index(cs.raft));
	ipc_add_bool(&cs.w, "boot", cs_waiting_to_boot());
	ipc_add_u64(&cs.w, "ex", (uint64_t)cs.opts->bootstrap_expect);
	ipc_finish(&cs.w);
	cs_answer(&w);
}

static void
cs_leader_meta_answer(struct fwd_out *f, struct ipc_msg *m)
{
	char id[RAFT_ID_MAX] = "";

	(void)f;
	if (ipc_get_strbuf(m, "id", id, sizeof(id)) != IPC_OK)
		return;
	snprintf(cs.leader_api_for, sizeof(cs.leader_api_for), "%s", id);
	(void)ipc_get_strbuf(m, "api", cs.leader_api, sizeof(cs.leader_api));
	cs_send_state();
}

void
cs_cluster_on_state_change(void)
{
	static bool was_leader;
	const char *addr;

	/* Reaping measures silence from this node's election on. */
	if (raft_state(cs.raft) == RAFT_LEADER && !was_leader)
		reap_epoch_ms = cs_now_ms();
	was_leader = raft_state(cs.raft) == RAFT_LEADER;

	if (raft_state(cs.raft) != RAFT_LEADER) {
		cs_fail_uncommitted();
		/* Membership changes not yet committed may never be. */
		while (config_waits != NULL) {
			struct config_wait *cw = config_waits;
			config_waits = cw->next;
			cs_answer_error(&cw->w, "leadership lost while committing log");
			free(cw);
		}
	}
	/* Learn the new leader's HTTP address, for ?redirect. */
	if (strcmp(cs.leader_api_for, raft_leader_id(cs.raft)) == 0)
		return;
	if (raft_state(cs.raft) == RAFT_LEADER) {
		snprintf(cs.leader_api_for, sizeof(cs.leader_api_for), "%s", cs.opts->node_id);
		snprintf(cs.leader_api, sizeof(cs.leader_api), "%s", cs.opts->http_adv_addr);
		return;
	}
	if (cs_leader_addr(&addr)) {
		struct fwd_out *f = cs_fwd_new(NULL, IPC_PEER_META_RESULT);
		f->on_answer = cs_leader_meta_answer;
		ipc_begin(&cs.w, IPC_PEER_META, f->id);
		ipc_finish(&cs.w);
		if (peer_send(cs.peers, addr, &cs.w) != PEER_OK)
			cs_fwd_free(f);
	}
}

static void cs_nodes_answer(struct fwd_out *f, struct ipc_msg *m);

static void
cs_nodes_finish(struct nodes_query *nq)
{
	msgpack_packer *pk = &cs.w.pk;
	struct waiter w = { WAITER_GATEWAY, nq->request_id, 0, IPC_NODES_RESULT, 0 };

	ipc_begin(&cs.w, IPC_NODES_RESULT, nq->request_id);
	ipc_add_str(&cs.w, "leader_id", raft_leader_id(cs.raft));
	ipc_add_key(&cs.w, "nodes");
	msgpack_pack_array(pk, nq->n);
	for (unsigned i = 0; i < nq->n; i++) {
		struct nodes_entry *e = &nq->e[i];
		msgpack_pack_map(pk, e->reachable ? 8 : 6);
		msgpack_pack_str_with_body(pk, "id", 2);
		msgpack_pack_str_with_body(pk, e->id, strlen(e->id));
		msgpack_pack_str_with_body(pk, "addr", 4);
		msgpack_pack_str_with_body(pk, e->addr, strlen(e->addr));
		msgpack_pack_str_with_body(pk, "voter", 5);
		if (e->voter)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		msgpack_pack_str_with_body(pk, "reachable", 9);
		if (e->reachable)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		msgpack_pack_str_with_body(pk, "api", 3);
		msgpack_pack_str_with_body(pk, e->api, strlen(e->api));
		if (e->reachable) {
			msgpack_pack_str_with_body(pk, "version", 7);
			msgpack_pack_str_with_body(pk, e->version, strlen(e->version));
			msgpack_pack_str_with_body(pk, "time", 4);
			msgpack_pack_double(pk, e->secs);
		}
		msgpack_pack_str_with_body(pk, "error", 5);
		msgpack_pack_str_with_body(pk, e->error, strlen(e->error));
	}
	ipc_finish(&cs.w);
	cs_answer(&w);
	/* Late answers must not find this query (its memory goes now). */
	for (struct fwd_out *f = cs.fwd_outs, *next; f != NULL; f = next) {
		next = f->next;
		if (f->on_answer == cs_nodes_answer && f->arg == nq)
			cs_fwd_free(f);
	}
	for (struct nodes_query **pp = &cs.nodes_queries; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == nq) {
			*pp = nq->next;
			break;
		}
	}
	free(nq->e);
	free(nq);
}

static void
cs_nodes_answer(struct fwd_out *f, struct ipc_msg *m)
{
	struct nodes_query *nq = f->arg;
	unsigned i = (unsigned)f->w.request_id;	/* the entry's slot */
	struct nodes_entry *e;

	for (struct nodes_query *q = cs.nodes_queries; q != NULL; q = q->next)
		if (q == nq)
			goto found;
	return;
found:
	e = &nq->e[i];
	e->reachable = true;
	e->secs = (double)(cs_now_ms() - e->sent_ms) / 1000.0;
	(void)ipc_get_strbuf(m, "api", e->api, sizeof(e->api));
	(void)ipc_get_strbuf(m, "version", e->version, sizeof(e->version));
	e->error[0] = '\0';
	if (--nq->outstanding == 0)
		cs_nodes_finish(nq);
}

void
cs_cluster_nodes(struct ipc_msg *m)
{
	const struct raft_config *cfg = raft_configuration(cs.raft);
	struct nodes_query *nq = calloc(1, sizeof(*nq));
	uint64_t timeout_ms = 0;

	if (nq == NULL || (nq->e = calloc(cfg->n + 1, sizeof(*nq->e))) == NULL)
		fatalx("out of memory");
	(void)ipc_get_u64(m, "to", &timeout_ms);
	if (timeout_ms == 0 || timeout_ms > CS_FWD_TIMEOUT_MS)
		timeout_ms = CS_META_TIMEOUT_MS;
	nq->request_id = m->request_id;
	nq->n = cfg->n;
	nq->deadline = cs_now_ms() + timeout_ms;
	nq->next = cs.nodes_queries;
	cs.nodes_queries = nq;
	for (unsigned i = 0; i < cfg->n; i++) {
		struct nodes_entry *e = &nq->e[i];
		snprintf(e->id, sizeof(e->id), "%s", cfg->servers[i].id);
		snprintf(e->addr, sizeof(e->addr), "%s", cfg->servers[i].address);
		e->voter = cfg->servers[i].suffrage == RAFT_VOTER;
		if (strcmp(e->id, cs.opts->node_id) == 0) {
			e->self = e->reachable = true;
			snprintf(e->api, sizeof(e->api), "%s", cs.opts->http_adv_addr);
			snprintf(e->version, sizeof(e->version), "%s", cs.opts->version);
			e->secs = 0.000001;
			continue;
		}
		snprintf(e->error, sizeof(e->error), "timeout waiting for node to respond");
		if (cs.peers != NULL) {
			struct fwd_out *f = cs_fwd_new(NULL, IPC_PEER_META_RESULT);
			f->on_answer = cs_nodes_answer;
			f->arg = nq;
			f->w.request_id = i;
			e->sent_ms = cs_now_ms();
			ipc_begin(&cs.w, IPC_PEER_META, f->id);
			ipc_finish(&cs.w);
			if (peer_send(cs.peers, e->addr, &cs.w) == PEER_OK)
				nq->outstanding++;
			else
				cs_fwd_free(f);
		}
	}
	if (nq->outstanding == 0)
		cs_nodes_finish(nq);
}

/* ---- fault injection (tests) ---------------------------------------------------------- */

/*
 * FAULT {block: "a,b", unblock: "c"}: cut or heal this node's links to those Raft
 * addresses, in both directions, while the node keeps running — a real partition.
 * Refused unless built with --enable-debug.
 */
void
cs_cluster_fault(struct ipc_msg *m)
{
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_FAULT_RESULT, 0 };
	static const char *keys[] = { "block", "unblock" };

#ifndef RQ_DEBUG
	(void)keys;
	cs_answer_error(&w, "fault injection needs a debug build");
	return;
#else
	for (int k = 0; k < 2; k++) {
		char list[4096], *save = NULL, *a;
		if (ipc_get_strbuf(m, keys[k], list, sizeof(list)) != IPC_OK || cs.peers == NULL)
			continue;
		for (a = strtok_r(list, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
			log_warnx("fault injection: %s %s", k == 0 ? "blocking" : "unblocking", a);
			peer_transport_block(cs.peers, a, k == 0);
		}
	}
	ipc_begin(&cs.w, IPC_FAULT_RESULT, m->request_id);
	ipc_finish(&cs.w);
	cs_answer(&w);
#endif
}

/* ---- the transport and housekeeping -------------------------------------------------- */

static void
cs_on_peer_frame(struct peer_transport *pt, struct peer_conn *c, struct ipc_msg *m, void *arg)
{
	(void)pt; (void)arg;
	cs_remember_addr(peer_conn_id(c), peer_conn_addr(c));
	switch (m->type) {
	case IPC_PEER_RAFT:
		cs_on_peer_raft(m);
		break;
	case IPC_PEER_FORWARD:
		cs_serve_forward(c, m);
		break;
	case IPC_PEER_JOIN:
		cs_serve_join(c, m);
		break;
	case IPC_PEER_META:
		cs_serve_meta(c, m);
		break;
	case IPC_PEER_SNAPSHOT:
		cs_snapshot_on_chunk(m);
		break;
	case IPC_PEER_FORWARD_RESULT:
	case IPC_PEER_JOIN_RESULT:
	case IPC_PEER_META_RESULT:
		cs_on_peer_answer(m);
		break;
	default:
		log_warnx("unexpected %s from peer %s", ipc_type_name(m->type), peer_conn_addr(c));
	}
}

static void
cs_on_peer_link(struct peer_transport *pt, const char *addr, const char *peer_id, bool up,
    void *arg)
{
	(void)pt; (void)arg;
	if (!up && peer_id != NULL && peer_id[0] != '\0')
		raft_report_unreachable(cs.raft, peer_id);
	if (!up && addr != NULL) {
		cs_snapshot_send_link_down(addr);
		/* Requests forwarded there will not be answered: their clients hear it now
		 * (a write may still have committed; it was not acknowledged). */
		for (struct fwd_out **pp = &cs.fwd_outs; *pp != NULL;) {
			struct fwd_out *f = *pp;
			if (f->addr[0] == '\0' || strcmp(f->addr, addr) != 0 || f->on_answer != NULL) {
				pp = &f->next;
				continue;
			}
			*pp = f->next;
			cs_answer_error(&f->w, "leader not reachable");
			free(f);
		}
	}
	log_debug("peer link %s (%s) %s", addr, peer_id != NULL ? peer_id : "?", up ? "up" : "down");
}

void
cs_cluster_init(int raft_listen_fd)
{
	struct peer_transport_options po;
	unsigned char key[32];
	char err[256];
	int rc;

	memset(&po, 0, sizeof(po));
	po.self_id = cs.opts->node_id;
	po.self_addr = cs.opts->raft_adv_addr;
	po.connect_timeout_ms = (unsigned)cs.opts->connect_timeout_ms;
	po.on_link = cs_on_peer_link;
	if (cs.opts->cluster_key_file != NULL && cs.opts->cluster_key_file[0] != '\0') {
		if (peer_load_key(cs.opts->cluster_key_file, key, err, sizeof(err)) != 0)
			fatalx("cluster key %s: %s", cs.opts->cluster_key_file, err);
		po.key = key;
		cs.keyed = true;
	}	/* without a key the transport says so, once */
	rc = peer_transport_new(cs.role.base, &po, cs_on_peer_frame, NULL, &cs.peers);
	if (rc != PEER_OK)
		fatalx("peer transport: %s", peer_strerror(rc));
	rc = peer_transport_listen(cs.peers, raft_listen_fd);
	if (rc != PEER_OK)
		fatalx("listen for peers: %s", peer_strerror(rc));
	cs_cluster_start_join();
	cs_schedule_ready();
}

/*
 * -raft-reap-node-timeout / -raft-reap-read-only-node-timeout: the leader removes a node
 * it has not heard from for that long (the clock starts again at each election).
 */
static void
cs_reap(uint64_t now)
{
	const struct raft_config *cfg = raft_configuration(cs.raft);
	uint64_t index;

	if (raft_state(cs.raft) != RAFT_LEADER ||
	    (cs.opts->reap_voter_ms <= 0 && cs.opts->reap_nonvoter_ms <= 0))
		return;
	for (unsigned i = 0; i < cfg->n; i++) {
		const struct raft_server *s = &cfg->servers[i];
		int64_t limit = s->suffrage == RAFT_VOTER ? cs.opts->reap_voter_ms :
		    cs.opts->reap_nonvoter_ms;
		uint64_t seen = reap_epoch_ms;
		if (limit <= 0 || strcmp(s->id, cs.opts->node_id) == 0)
			continue;
		for (unsigned k = 0; k < CS_ADDR_CACHE; k++)
			if (strcmp(addr_cache[k].id, s->id) == 0 && addr_cache[k].seen_ms > seen)
				seen = addr_cache[k].seen_ms;
		if (now - seen <= (uint64_t)limit)
			continue;
		{
			/* Copied: removing the server frees the configuration s points into. */
			char id[RAFT_ID_MAX];
			snprintf(id, sizeof(id), "%s", s->id);
			if (raft_remove_server(cs.raft, id, &index) == 0) {
				log_warnx("reaping node %s: not heard from for %llu ms", id,
				    (unsigned long long)(now - seen));
				cs_schedule_ready();
			}
		}
		return;	/* one change at a time */
	}
}

void
cs_cluster_housekeeping(void)
{
	uint64_t now = cs_now_ms();

	cs_reap(now);

	/* Requests to peers that never answered (the peer died). */
	for (struct fwd_out *f = cs.fwd_outs, *next; f != NULL; f = next) {
		next = f->next;
		if (now - f->started_ms > (f->timeout_ms > CS_FWD_TIMEOUT_MS ? f->timeout_ms :
		    CS_FWD_TIMEOUT_MS))
			cs_fwd_free(f);
	}
	for (struct nodes_query *nq = cs.nodes_queries, *next; nq != NULL; nq = next) {
		next = nq->next;
		if (now >= nq->deadline)
			cs_nodes_finish(nq);
	}
	for (struct fwd_read *fr = cs.fwd_reads, *next; fr != NULL; fr = next) {
		next = fr->next;
		if (now - fr->started_ms > CS_FWD_TIMEOUT_MS) {
			cs_answer_error(&fr->w, "timeout");
			cs_fwd_read_free(fr);
		}
	}
	if (cs.stepdown_waiter.kind != WAITER_NONE &&
	    (raft_state(cs.raft) != RAFT_LEADER || now > cs.stepdown_deadline)) {
		if (raft_state(cs.raft) != RAFT_LEADER) {
			ipc_begin(&cs.w, cs.stepdown_waiter.reply, cs.stepdown_waiter.request_id);
			ipc_add_str(&cs.w, "lr", cs.opts->raft_adv_addr);
			ipc_finish(&cs.w);
			cs_answer(&cs.stepdown_waiter);
		} else {
			cs_answer_error(&cs.stepdown_waiter, "leadership transfer timed out");
		}
		cs.stepdown_waiter.kind = WAITER_NONE;
	}
}

static void
cs_removed_self_answer(struct fwd_out *f, struct ipc_msg *m)
{
	(void)f;
	if (ipc_get(m, "e") != NULL)
		log_warnx("the leader did not remove this node before shutdown");
	else
		log_info("removed from the cluster");
	cs.shutdown_removed = true;
}

/*
 * -raft-cluster-remove-shutdown: on an orderly stop the node leaves the configuration
 * first (asking the leader, or removing itself when it leads: it then steps down once
 * the change commits). True when the stop now waits for that, bounded in time.
 */
static bool
cs_cluster_shutdown_remove(void)
{
	const struct raft_config *cfg = raft_configuration(cs.raft);
	const char *addr;
	uint64_t index;

	if (!cs.opts->cluster_remove_shutdown || cfg->n < 2 ||
	    raft_config_get(cfg, cs.opts->node_id) == NULL)
		return false;
	cs.shutdown_deadline = cs_now_ms() + 5000;
	if (raft_state(cs.raft) == RAFT_LEADER) {
		if (raft_remove_server(cs.raft, cs.opts->node_id, &index) != 0)
			return false;
		log_info("removing this node from the cluster before shutting down");
		cs.shutdown_remove_index = index;
	} else {
		struct fwd_out *f;
		if (!cs_leader_addr(&addr))
			return false;
		f = cs_fwd_new(NULL, IPC_PEER_FORWARD_RESULT);
		f->on_answer = cs_removed_self_answer;
		ipc_begin(&cs.w, IPC_PEER_FORWARD, f->id);
		ipc_add_str(&cs.w, "op", "remove");
		ipc_add_str(&cs.w, "id", cs.opts->node_id);
		ipc_add_bool(&cs.w, "wait", true);
		ipc_finish(&cs.w);
		if (peer_send(cs.peers, addr, &cs.w) != PEER_OK) {
			cs_fwd_free(f);
			return false;
		}
		log_info("asking the leader to remove this node before shutting down");
	}
	cs.shutdown_after_remove = true;
	cs_schedule_ready();
	return true;
}

/* The removal asked for at shutdown is done (or it is time to give up on it). */
bool
cs_cluster_removal_done(void)
{
	if (cs.shutdown_removed || cs_now_ms() > cs.shutdown_deadline)
		return true;
	return cs.shutdown_remove_index != 0 &&
	    raft_commit_index(cs.raft) >= cs.shutdown_remove_index;
}

bool
cs_cluster_shutdown_transfer(void)
{
	const struct raft_config *cfg = raft_configuration(cs.raft);

	if (cs_cluster_shutdown_remove())
		return true;
	if (!cs.opts->shutdown_stepdown || raft_state(cs.raft) != RAFT_LEADER ||
	    raft_config_voters(cfg) < 2)
		return false;
	if (raft_transfer_leadership(cs.raft, NULL) != 0)
		return false;
	log_info("handing leadership over before shutting down");
	cs.shutdown_after_transfer = true;
	cs.shutdown_deadline = cs_now_ms() + (uint64_t)cs.opts->election_timeout_ms * 2;
	cs_schedule_ready();
	return true;
}
