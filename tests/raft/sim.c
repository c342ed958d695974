/*
 * The Raft simulator (see sim.h): owns the virtual clock, the simulated network and disks,
 * each node's durable state and state machine, and stepping: sim_step() fires the earliest
 * event and then runs the safety checks (sim_check.c). It plays the consensus process's
 * part of the persistence contract in raft.h exactly: snapshot install and hard state
 * synchronously, entries asynchronously in batch order, messages before the entries are
 * durable, committed entries applied in order. Crashes, restarts, partitions and
 * snapshots are sim_fault.c.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t
sim_rnd(struct sim *s)
{
	uint64_t x = s->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 2685821657736338717ULL;
}

static uint64_t
rnd_range(struct sim *s, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + sim_rnd(s) % (hi - lo + 1);
}

void
sim_fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;
	if (s->failed)
		return;
	s->failed = true;
	int k = snprintf(s->err, sizeof(s->err), "t=%" PRIu64 ": ", s->now);
	va_start(ap, fmt);
	vsnprintf(s->err + k, sizeof(s->err) - (size_t)k, fmt, ap);
	va_end(ap);
	if (!s->cfg.quiet)
		fprintf(stderr, "    sim: %s\n", s->err);
}

void *
sim_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		abort();
	return q;
}

uint64_t
sim_entry_hash(const struct raft_entry *e)
{
	uint64_t h = 1469598103934665603ULL;
	h = (h ^ e->term) * 1099511628211ULL;
	h = (h ^ (uint64_t)e->type) * 1099511628211ULL;
	for (size_t i = 0; i < e->len; i++)
		h = (h ^ ((const unsigned char *)e->data)[i]) * 1099511628211ULL;
	return h | 1;	/* never 0: 0 means unknown */
}

static void
entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len > 0) {
		void *d = sim_xrealloc(NULL, src->len);
		memcpy(d, src->data, src->len);
		dst->data = d;
	}
}

static void
entry_free(struct raft_entry *e)
{
	free((void *)(uintptr_t)e->data);
	e->data = NULL;
}

void
sim_config_copy(struct raft_config *dst, const struct raft_config *src)
{
	if (raft_config_copy(dst, src) != 0)
		abort();
}

static void
msg_copy(struct raft_message *dst, const struct raft_message *src)
{
	*dst = *src;
	if (src->type == RAFT_MSG_APPEND_ENTRIES && src->append_entries.n_entries > 0) {
		unsigned n = src->append_entries.n_entries;
		struct raft_entry *es = sim_xrealloc(NULL, n * sizeof(*es));
		for (unsigned i = 0; i < n; i++)
			entry_copy(&es[i], &src->append_entries.entries[i]);
		dst->append_entries.entries = es;
	} else if (src->type == RAFT_MSG_INSTALL_SNAPSHOT) {
		sim_config_copy(&dst->install_snapshot.meta.config, &src->install_snapshot.meta.config);
	}
}

static void
msg_free(struct raft_message *m)
{
	if (m->type == RAFT_MSG_APPEND_ENTRIES && m->append_entries.n_entries > 0) {
		struct raft_entry *es = (struct raft_entry *)(uintptr_t)m->append_entries.entries;
		for (unsigned i = 0; i < m->append_entries.n_entries; i++)
			entry_free(&es[i]);
		free(es);
	} else if (m->type == RAFT_MSG_INSTALL_SNAPSHOT) {
		raft_config_free(&m->install_snapshot.meta.config);
	}
}

/* Nodes --------------------------------------------------------------------------------- */

struct raft *
sim_node_new_core(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];
	struct raft_options o = {
		.id = n->id, .address = n->addr,
		.election_timeout_ms = s->cfg.election_timeout_ms,
		.heartbeat_ms = s->cfg.heartbeat_ms,
		.max_inflight = s->cfg.max_inflight,
		.max_entries_per_msg = 16,
		.disable_prevote = s->cfg.disable_prevote,
		.seed = sim_rnd(s),
	};
	struct raft *r;
	if (raft_new(&o, &r) != 0)
		abort();
	return r;
}

static struct sim_node *
node_of(struct sim *s, const char *id)
{
	int k = atoi(id);
	if (k < 1 || (unsigned)k > s->n)
		return NULL;
	return &s->nodes[k - 1];
}

void
sim_durable_truncate(struct sim_node *n, uint64_t from)
{
	while (n->d_n > 0 && n->d_log[n->d_n - 1].index >= from)
		entry_free(&n->d_log[--n->d_n]);
}

void
sim_durable_drop_upto(struct sim_node *n, uint64_t upto)
{
	unsigned k = 0;
	while (k < n->d_n && n->d_log[k].index <= upto)
		entry_free(&n->d_log[k++]);
	if (k > 0) {
		memmove(n->d_log, n->d_log + k, (n->d_n - k) * sizeof(*n->d_log));
		n->d_n -= k;
	}
}

void
sim_durable_append(struct sim *s, unsigned i, const struct raft_entry *e)
{
	struct sim_node *n = &s->nodes[i];
	sim_durable_truncate(n, e->index);
	uint64_t expect = n->d_n > 0 ? n->d_log[n->d_n - 1].index + 1 : n->d_snap.index + 1;
	if (e->index != expect) {
		sim_fail(s, "node %u: durable log would get a hole: %" PRIu64 " after %" PRIu64,
		    i + 1, e->index, expect - 1);
		return;
	}
	if (n->d_n == n->d_cap) {
		n->d_cap = n->d_cap ? n->d_cap * 2 : 64;
		n->d_log = sim_xrealloc(n->d_log, n->d_cap * sizeof(*n->d_log));
	}
	entry_copy(&n->d_log[n->d_n++], e);
}

/* A write reaches the disk; then the core hears about it. */
static void
complete_write(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];
	struct sim_write w = n->w[0];

	if (n->nw > 1)
		memmove(n->w, n->w + 1, (n->nw - 1) * sizeof(*n->w));
	n->nw--;
	if (w.truncate_from)
		sim_durable_truncate(n, w.truncate_from);
	for (unsigned k = 0; k < w.n; k++)
		sim_durable_append(s, i, &w.e[k]);
	if (w.n > 0 && raft_persisted(n->r, w.e[w.n - 1].index, w.e[w.n - 1].term) != 0)
		sim_fail(s, "node %u: raft_persisted failed", i + 1);
	for (unsigned k = 0; k < w.n; k++)
		entry_free(&w.e[k]);
	free(w.e);
}

static struct sim_readrec *
read_rec(struct sim *s, uint64_t cookie)
{
	for (unsigned k = 0; k < s->n_reads; k++)
		if (s->reads[k].cookie == cookie)
			return &s->reads[k];
	return NULL;
}

static void
send_msg(struct sim *s, unsigned from, const struct raft_message *m)
{
	struct sim_node *to = node_of(s, m->to);
	if (to == NULL)
		return;
	unsigned copies = 1;
	if (s->cfg.drop_pct && sim_rnd(s) % 100 < s->cfg.drop_pct)
		return;
	if (s->cfg.dup_pct && sim_rnd(s) % 100 < s->cfg.dup_pct)
		copies = 2;
	for (unsigned c = 0; c < copies; c++) {
		if (s->n_msgs == s->cap_msgs) {
			s->cap_msgs = s->cap_msgs ? s->cap_msgs * 2 : 256;
			s->msgs = sim_xrealloc(s->msgs, s->cap_msgs * sizeof(*s->msgs));
		}
		struct sim_msg *sm = &s->msgs[s->n_msgs++];
		sm->at = s->now + rnd_range(s, s->cfg.net_min_ms, s->cfg.net_max_ms);
		sm->order = s->order++;
		sm->from = from;
		sm->to = (unsigned)(to - s->nodes);
		msg_copy(&sm->m, m);
	}
}

static void
process_ready(struct sim *s, unsigned i, const struct raft_ready *rd)
{
	struct sim_node *n = &s->nodes[i];

	/* 1. Snapshot install, after the writes queued before it. */
	if (rd->snapshot != NULL) {
		while (n->nw > 0 && !s->failed)
			complete_write(s, i);
		if (n->staged == NULL || n->staged_index != rd->snapshot->index) {
			sim_fail(s, "node %u asked to install snapshot %" PRIu64 " that was not staged",
			    i + 1, rd->snapshot->index);
			return;
		}
		raft_config_free(&n->d_snap.config);
		n->d_snap.index = rd->snapshot->index;
		n->d_snap.term = rd->snapshot->term;
		sim_config_copy(&n->d_snap.config, &rd->snapshot->config);
		free(n->d_snap_sm);
		n->d_snap_sm = n->staged;
		n->staged = NULL;
		sim_durable_drop_upto(n, rd->snapshot->index);
		n->sm_cap = rd->snapshot->index + 16;
		n->sm = sim_xrealloc(n->sm, n->sm_cap * sizeof(*n->sm));
		memcpy(n->sm, n->d_snap_sm, rd->snapshot->index * sizeof(*n->sm));
		n->sm_n = rd->snapshot->index;
	}
	/* 2. Hard state, synchronously. */
	if (rd->hard_state_changed) {
		if (rd->term < n->d_term)
			sim_fail(s, "node %u: term went back on disk", i + 1);
		n->d_term = rd->term;
		snprintf(n->d_vote, sizeof(n->d_vote), "%s", rd->vote);
	}
	/* 3. Entries, asynchronously but in order. */
	if (rd->truncate_from != 0 || rd->n_entries > 0) {
		uint64_t at = s->now + rnd_range(s, s->cfg.disk_min_ms, s->cfg.disk_max_ms);
		if (n->nw > 0 && n->w[n->nw - 1].at > at)
			at = n->w[n->nw - 1].at;
		if (n->nw == n->capw) {
			n->capw = n->capw ? n->capw * 2 : 16;
			n->w = sim_xrealloc(n->w, n->capw * sizeof(*n->w));
		}
		struct sim_write *w = &n->w[n->nw++];
		w->at = at;
		w->truncate_from = rd->truncate_from;
		w->n = rd->n_entries;
		w->e = sim_xrealloc(NULL, (rd->n_entries + 1) * sizeof(*w->e));
		for (unsigned k = 0; k < rd->n_entries; k++)
			entry_copy(&w->e[k], &rd->entries[k]);
	}
	/* 4. Messages. */
	for (unsigned k = 0; k < rd->n_messages; k++) {
		if (strcmp(rd->messages[k].from, n->id) != 0)
			sim_fail(s, "node %u sent a message from %s", i + 1, rd->messages[k].from);
		send_msg(s, i, &rd->messages[k]);
	}
	/* 5. Apply. */
	for (unsigned k = 0; k < rd->n_committed && !s->failed; k++) {
		const struct raft_entry *e = &rd->committed[k];
		if (e->index != n->sm_n + 1) {
			sim_fail(s, "node %u applies %" PRIu64 " after %" PRIu64, i + 1, e->index, n->sm_n);
			return;
		}
		uint64_t h = sim_entry_hash(e);
		sim_record_committed(s, i, e->index, h, "applied");
		if (n->sm_n == n->sm_cap) {
			n->sm_cap = n->sm_cap ? n->sm_cap * 2 : 64;
			n->sm = sim_xrealloc(n->sm, n->sm_cap * sizeof(*n->sm));
		}
		n->sm[n->sm_n++] = h;
		if (raft_applied(n->r, e->index) != 0)
			sim_fail(s, "node %u: raft_applied(%" PRIu64 ") failed", i + 1, e->index);
	}
	/* 6. Reads. */
	for (unsigned k = 0; k < rd->n_reads; k++) {
		struct sim_readrec *rr = read_rec(s, rd->reads[k].cookie);
		if (rr == NULL) {
			sim_fail(s, "node %u released unknown read %" PRIu64, i + 1, rd->reads[k].cookie);
			continue;
		}
		if (rd->reads[k].status != 0) {
			rr->failed++;
			continue;
		}
		rr->released++;
		if (rd->reads[k].index < rr->min_index)
			sim_fail(s, "linearizability: read %" PRIu64 " released at index %" PRIu64
			    " but %" PRIu64 " was committed when it was asked", rr->cookie,
			    rd->reads[k].index, rr->min_index);
	}
}

void
sim_drain(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];
	struct raft_ready rd;

	while (n->up && !s->failed && raft_has_ready(n->r)) {
		if (raft_ready(n->r, &rd) != 0) {
			sim_fail(s, "node %u: raft_ready failed", i + 1);
			return;
		}
		process_ready(s, i, &rd);
	}
}

struct sim *
sim_new(uint64_t seed, const struct sim_config *cfg)
{
	struct sim *s = sim_xrealloc(NULL, sizeof(*s));
	struct raft_config c;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	if (s->cfg.election_timeout_ms == 0)
		s->cfg.election_timeout_ms = 100;
	if (s->cfg.max_inflight == 0)
		s->cfg.max_inflight = 8;
	if (s->cfg.net_max_ms == 0) {
		s->cfg.net_min_ms = 1;
		s->cfg.net_max_ms = 5;
	}
	if (s->cfg.disk_max_ms == 0)
		s->cfg.disk_max_ms = 2;
	if (s->cfg.n_nodes > SIM_MAX_NODES)
		s->cfg.n_nodes = SIM_MAX_NODES;
	s->rng = seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
	s->n = s->cfg.n_nodes;
	s->lm_buckets = 4099;
	s->lm = sim_xrealloc(NULL, s->lm_buckets * sizeof(*s->lm));
	memset(s->lm, 0, s->lm_buckets * sizeof(*s->lm));
	raft_config_init(&c);
	raft_config_init(&s->boot);
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];
		snprintf(n->id, sizeof(n->id), "%u", i + 1);
		snprintf(n->addr, sizeof(n->addr), "node%u:4002", i + 1);
		raft_config_init(&n->d_snap.config);
		if (i < s->cfg.n_voters)
			raft_config_add(&c, n->id, n->addr, RAFT_VOTER);
	}
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];
		n->r = sim_node_new_core(s, i);
		n->up = true;
		if (i < s->cfg.n_voters && raft_bootstrap(n->r, &c) != 0)
			abort();
		raft_start(n->r, 0);
	}
	sim_config_copy(&s->boot, &c);
	raft_config_free(&c);
	for (unsigned i = 0; i < s->n; i++)
		sim_drain(s, i);
	sim_check_invariants(s);
	return s;
}

void
sim_node_volatile_free(struct sim_node *n)
{
	raft_free(n->r);
	n->r = NULL;
	for (unsigned k = 0; k < n->nw; k++) {
		for (unsigned j = 0; j < n->w[k].n; j++)
			entry_free(&n->w[k].e[j]);
		free(n->w[k].e);
	}
	free(n->w);
	n->w = NULL;
	n->nw = n->capw = 0;
	free(n->staged);
	n->staged = NULL;
	free(n->sm);
	n->sm = NULL;
	n->sm_n = n->sm_cap = 0;
}

void
sim_free(struct sim *s)
{
	if (s == NULL)
		return;
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];
		sim_node_volatile_free(n);
		for (unsigned k = 0; k < n->d_n; k++)
			entry_free(&n->d_log[k]);
		free(n->d_log);
		free(n->d_snap_sm);
		raft_config_free(&n->d_snap.config);
	}
	for (unsigned k = 0; k < s->n_msgs; k++)
		msg_free(&s->msgs[k].m);
	free(s->msgs);
	for (uint64_t b = 0; b < s->lm_buckets; b++) {
		struct lm_slot *p = s->lm[b];
		while (p != NULL) {
			struct lm_slot *q = p->next;
			free(p);
			p = q;
		}
	}
	free(s->lm);
	raft_config_free(&s->boot);
	free(s->leader_of);
	free(s->elected_prefix);
	free(s->gc_hash);
	free(s->reads);
	free(s);
}

struct raft *sim_raft(struct sim *s, unsigned i) { return s->nodes[i].up ? s->nodes[i].r : NULL; }

unsigned sim_n(const struct sim *s) { return s->n; }

uint64_t sim_now(const struct sim *s) { return s->now; }

bool sim_ok(const struct sim *s) { return !s->failed; }

const char *sim_error(const struct sim *s) { return s->err; }

bool sim_up(const struct sim *s, unsigned i) { return s->nodes[i].up; }

uint64_t sim_applied(const struct sim *s, unsigned i) { return s->nodes[i].up ? s->nodes[i].sm_n : 0; }

uint64_t sim_max_commit(const struct sim *s) { return s->gc_max; }

unsigned long sim_delivered(const struct sim *s, enum raft_message_type t) { return s->delivered[t & 7]; }

static void
deliver(struct sim *s, unsigned k)
{
	struct sim_msg m = s->msgs[k];
	struct sim_node *to = &s->nodes[m.to];

	s->msgs[k] = s->msgs[--s->n_msgs];
	if (!to->up || s->block[m.from][m.to])
		goto out;
	if (m.m.type == RAFT_MSG_INSTALL_SNAPSHOT) {
		/* The sender's consensus process streams the snapshot from its store. */
		struct sim_node *from = &s->nodes[m.from];
		uint64_t idx = m.m.install_snapshot.meta.index;
		if (from->d_snap.index != idx)
			goto out;	/* replaced meanwhile: the transfer fails */
		free(to->staged);
		to->staged = sim_xrealloc(NULL, idx * sizeof(uint64_t));
		memcpy(to->staged, from->d_snap_sm, idx * sizeof(uint64_t));
		to->staged_index = idx;
	}
	s->delivered[m.m.type & 7]++;
	int rv = raft_recv(to->r, s->now, &m.m);
	if (rv != 0)
		sim_fail(s, "node %u: raft_recv(%s from %u): %s", m.to + 1,
		    raft_message_type_name(m.m.type), m.from + 1, raft_strerror(rv));
	sim_drain(s, m.to);
out:
	msg_free(&m.m);
}

bool
sim_step(struct sim *s, uint64_t until)
{
	enum { EV_NONE, EV_WRITE, EV_MSG, EV_TICK } kind = EV_NONE;
	uint64_t best = UINT64_MAX, best_order = UINT64_MAX;
	unsigned who = 0;

	if (s->failed)
		return false;
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];
		if (!n->up)
			continue;
		if (n->nw > 0 && n->w[0].at < best) {
			best = n->w[0].at;
			kind = EV_WRITE;
			who = i;
		}
	}
	for (unsigned k = 0; k < s->n_msgs; k++) {
		if (s->msgs[k].at < best || (s->msgs[k].at == best && kind == EV_MSG &&
		    s->msgs[k].order < best_order)) {
			best = s->msgs[k].at;
			best_order = s->msgs[k].order;
			kind = EV_MSG;
			who = k;
		}
	}
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];
		if (!n->up)
			continue;
		uint64_t t = raft_next_timeout(n->r);
		if (t < best) {
			best = t;
			kind = EV_TICK;
			who = i;
		}
	}
	if (kind == EV_NONE || best > until) {
		if (until > s->now)
			s->now = until;
		return true;
	}
	if (best > s->now)
		s->now = best;
	switch (kind) {
	case EV_WRITE:
		complete_write(s, who);
		sim_drain(s, who);
		break;
	case EV_MSG:
		deliver(s, who);
		break;
	case EV_TICK:
		raft_tick(s->nodes[who].r, s->now);
		sim_drain(s, who);
		if (raft_next_timeout(s->nodes[who].r) <= s->now && !s->failed)
			sim_fail(s, "node %u: timer does not advance", who + 1);
		break;
	case EV_NONE:
		break;
	}
	if (!s->failed)
		sim_check_invariants(s);
	return !s->failed;
}

bool
sim_run_until(struct sim *s, uint64_t t)
{
	while (s->now < t && !s->failed)
		sim_step(s, t);
	return !s->failed;
}

bool
sim_run_for(struct sim *s, uint64_t ms)
{
	return sim_run_until(s, s->now + ms);
}

bool
sim_run_until_pred(struct sim *s, uint64_t ms, bool (*pred)(struct sim *, void *), void *arg)
{
	uint64_t end = s->now + ms;
	while (!s->failed && !pred(s, arg) && s->now < end)
		sim_step(s, end);
	return !s->failed && pred(s, arg);
}

int
sim_leader(struct sim *s)
{
	int best = -1;
	for (unsigned i = 0; i < s->n; i++) {
		struct sim_node *n = &s->nodes[i];
		if (n->up && raft_state(n->r) == RAFT_LEADER &&
		    (best < 0 || raft_term(n->r) > raft_term(s->nodes[best].r)))
			best = (int)i;
	}
	return best;
}

int
sim_propose(struct sim *s, unsigned i, uint64_t *index)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "cmd-%" PRIu64, ++s->proposals);
	if (!s->nodes[i].up)
		return RAFT_ESHUTDOWN;
	int rv = raft_propose(s->nodes[i].r, buf, (size_t)len, index, NULL);
	sim_drain(s, i);
	return rv;
}

int
sim_read(struct sim *s, unsigned i, uint64_t cookie)
{
	if (!s->nodes[i].up)
		return RAFT_ESHUTDOWN;
	int rv = raft_read_index(s->nodes[i].r, s->now, cookie);
	if (rv == 0) {
		if (s->n_reads == s->cap_reads) {
			s->cap_reads = s->cap_reads ? s->cap_reads * 2 : 16;
			s->reads = sim_xrealloc(s->reads, s->cap_reads * sizeof(*s->reads));
		}
		s->reads[s->n_reads++] = (struct sim_readrec){ cookie, s->gc_max, 0, 0 };
	}
	sim_drain(s, i);
	return rv;
}

unsigned
sim_reads_released(const struct sim *s, uint64_t cookie)
{
	for (unsigned k = 0; k < s->n_reads; k++)
		if (s->reads[k].cookie == cookie)
			return s->reads[k].released;
	return 0;
}

unsigned
sim_reads_failed(const struct sim *s, uint64_t cookie)
{
	for (unsigned k = 0; k < s->n_reads; k++)
		if (s->reads[k].cookie == cookie)
			return s->reads[k].failed;
	return 0;
}
