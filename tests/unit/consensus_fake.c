/* The fake consensus context for unit tests (see consensus_fake.h). */
#include <stdlib.h>
#include <string.h>

#include "consensus_fake.h"

static struct cs_fake *
cs_fake_of(struct consensus *c)
{
	return (struct cs_fake *)c;	/* c is the first member */
}

static uint64_t
fake_now(struct consensus *c)
{
	return cs_fake_of(c)->now;
}

static bool
fake_record(struct cs_fake *f, enum cs_fake_dest dest, const struct ipc_writer *out,
    struct cs_fake_frame **fr)
{
	struct cs_fake_frame *s;

	if (f->n_sent == CS_FAKE_SENT_MAX)
		abort();	/* a test that sends this much is broken */
	s = &f->sent[f->n_sent];
	memset(s, 0, sizeof(*s));
	s->dest = dest;
	s->len = out->sb.size - 4;
	s->bytes = malloc(s->len);
	if (s->bytes == NULL)
		abort();
	memcpy(s->bytes, out->sb.data + 4, s->len);
	if (ipc_decode(s->bytes, s->len, &s->m) != IPC_OK)
		abort();	/* we sent a frame that does not decode */
	f->n_sent++;
	*fr = s;
	return true;
}

static bool
fake_send_role(struct consensus *c, enum proc_id to, const struct ipc_writer *out)
{
	struct cs_fake *f = cs_fake_of(c);
	struct cs_fake_frame *s;

	if (to == PROC_STORAGE && f->storage_down)
		return false;
	fake_record(f, CS_FAKE_ROLE, out, &s);
	s->role = to;
	return true;
}

static int
fake_send_peer(struct consensus *c, const char *addr, const struct ipc_writer *out)
{
	struct cs_fake *f = cs_fake_of(c);
	struct cs_fake_frame *s;

	if (f->peer_send_fails)
		return PEER_ERR_CLOSED;
	fake_record(f, CS_FAKE_PEER, out, &s);
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	return PEER_OK;
}

static int
fake_reply_peer(struct consensus *c, uint64_t handle, const struct ipc_writer *out)
{
	struct cs_fake_frame *s;

	fake_record(cs_fake_of(c), CS_FAKE_REPLY, out, &s);
	s->handle = handle;
	return PEER_OK;
}

static void
fake_schedule_ready(struct consensus *c)
{
	cs_fake_of(c)->ready_asked++;
}

static const struct cs_io fake_io = {
	.now_ms = fake_now,
	.send_role = fake_send_role,
	.send_peer = fake_send_peer,
	.reply_peer = fake_reply_peer,
	.schedule_ready = fake_schedule_ready,
};

void
cs_fake_init(struct cs_fake *f)
{
	memset(f, 0, sizeof(*f));
	f->opts.data_dir = "/nonexistent";
	f->opts.node_id = "1";
	f->opts.raft_adv_addr = "127.0.0.1:7001";
	f->opts.http_adv_addr = "127.0.0.1:4001";
	f->opts.http_api_url = "http://127.0.0.1:4001";
	f->opts.election_timeout_ms = 1000;
	f->opts.heartbeat_timeout_ms = 1000;
	f->opts.join = "";
	f->opts.join_attempts = 5;
	f->opts.join_interval_ms = 3000;
	f->opts.version = "v-test";
	f->now = 1000;
	f->c.opts = &f->opts;
	f->c.io = &fake_io;
	f->c.phase = CS_PHASE_RUNNING;
	ipc_writer_init(&f->c.out);
	f->c.raft = cs_core_new(&f->c);
}

void
cs_fake_clear(struct cs_fake *f)
{
	for (unsigned i = 0; i < f->n_sent; i++) {
		ipc_msg_destroy(&f->sent[i].m);
		free(f->sent[i].bytes);
	}
	f->n_sent = 0;
}

void
cs_fake_free(struct cs_fake *f)
{
	cs_fake_clear(f);
	cs_forward_free(&f->c);
	cs_membership_free(&f->c);
	cs_apply_free(&f->c);
	raft_free(f->c.raft);
	ipc_writer_destroy(&f->c.out);
}

void
cs_fake_run(struct cs_fake *f)
{
	struct consensus *c = &f->c;
	struct raft_ready rd;

	for (int rounds = 0; rounds < 100 && raft_has_ready(c->raft); rounds++) {
		if (raft_ready(c->raft, &rd) != 0)
			break;
		cs_peers_send_messages(c, rd.messages, rd.n_messages);
		if (rd.n_entries > 0)
			raft_persisted(c->raft, rd.entries[rd.n_entries - 1].index,
			    rd.entries[rd.n_entries - 1].term);
		if (rd.n_committed > 0) {
			raft_applied(c->raft, rd.committed[rd.n_committed - 1].index);
			cs_membership_committed(c, raft_commit_index(c->raft));
		}
		for (unsigned i = 0; i < rd.n_reads; i++)
			if (rd.reads[i].cookie & CS_READ_COOKIE_BIT)
				cs_forward_read_released(c, rd.reads[i].cookie, rd.reads[i].index,
				    rd.reads[i].status);
		if (rd.soft_state_changed && raft_state(c->raft) != RAFT_LEADER)
			cs_membership_leadership_lost(c);
	}
}

void
cs_fake_lead(struct cs_fake *f)
{
	struct raft_config cfg;

	raft_config_init(&cfg);
	raft_config_add(&cfg, f->opts.node_id, f->opts.raft_adv_addr, RAFT_VOTER);
	if (raft_bootstrap(f->c.raft, &cfg) != 0 || raft_start(f->c.raft, f->now) != 0)
		abort();
	raft_config_free(&cfg);
	cs_fake_run(f);
	for (int i = 0; i < 100 && raft_state(f->c.raft) != RAFT_LEADER; i++) {
		f->now += 500;
		raft_tick(f->c.raft, f->now);
		cs_fake_run(f);
	}
	if (raft_state(f->c.raft) != RAFT_LEADER)
		abort();
	/* The leader's no-op has committed; nothing of the election stays recorded. */
	cs_fake_clear(f);
}

void
cs_fake_follow(struct cs_fake *f)
{
	struct raft_config cfg;
	struct raft_message ae;

	raft_config_init(&cfg);
	raft_config_add(&cfg, f->opts.node_id, f->opts.raft_adv_addr, RAFT_VOTER);
	raft_config_add(&cfg, "2", "127.0.0.1:7002", RAFT_VOTER);
	if (raft_bootstrap(f->c.raft, &cfg) != 0 || raft_start(f->c.raft, f->now) != 0)
		abort();
	raft_config_free(&cfg);
	cs_fake_run(f);
	memset(&ae, 0, sizeof(ae));
	ae.type = RAFT_MSG_APPEND_ENTRIES;
	snprintf(ae.from, sizeof(ae.from), "2");
	snprintf(ae.to, sizeof(ae.to), "%s", f->opts.node_id);
	ae.term = 2;
	ae.append_entries.prev_index = raft_last_index(f->c.raft);
	ae.append_entries.prev_term = raft_last_term(f->c.raft);
	ae.append_entries.leader_commit = raft_last_index(f->c.raft);
	if (raft_recv(f->c.raft, f->now, &ae) != 0)
		abort();
	cs_fake_run(f);
	if (strcmp(raft_leader_id(f->c.raft), "2") != 0)
		abort();
	cs_fake_clear(f);
}

struct cs_fake_frame *
cs_fake_sent(struct cs_fake *f, unsigned index)
{
	return index < f->n_sent ? &f->sent[index] : NULL;
}

struct cs_fake_frame *
cs_fake_last(struct cs_fake *f, enum ipc_type type)
{
	for (unsigned i = f->n_sent; i-- > 0;)
		if (f->sent[i].m.type == type)
			return &f->sent[i];
	return NULL;
}

void
cs_fake_msg(struct ipc_msg *m, struct ipc_writer *w, enum ipc_type type, uint64_t id,
    void (*fill)(struct ipc_writer *w, void *arg), void *arg)
{
	ipc_writer_init(w);
	ipc_begin(w, type, id);
	if (fill != NULL)
		fill(w, arg);
	ipc_finish(w);
	if (ipc_decode(w->sb.data + 4, w->sb.size - 4, m) != IPC_OK)
		abort();
}
