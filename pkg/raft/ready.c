/*
 * Ready batches: the outbox where events leave messages and read results, and raft_ready(),
 * which flushes pending replication and hands everything out in the order the persistence
 * contract in raft.h requires. What a batch points to stays referenced until the next call.
 */
#include "raft/raft_int.h"

void
raft_message_release(struct raft_message *m)
{
	if (m->type == RAFT_MSG_APPEND_ENTRIES) {
		struct raft_entry *es = (struct raft_entry *)(uintptr_t)m->append_entries.entries;
		for (unsigned i = 0; i < m->append_entries.n_entries; i++)
			raft_entry_unref(&es[i]);
		free(es);
		m->append_entries.entries = NULL;
		m->append_entries.n_entries = 0;
	} else if (m->type == RAFT_MSG_INSTALL_SNAPSHOT) {
		raft_config_free(&m->install_snapshot.meta.config);
	}
}

void
raft_batch_free(struct raft_owned_batch *b)
{
	for (unsigned i = 0; i < b->n_msgs; i++)
		raft_message_release(&b->msgs[i]);
	free(b->msgs);
	for (unsigned i = 0; i < b->n_entries; i++)
		raft_entry_unref(&b->entries[i]);
	free(b->entries);
	for (unsigned i = 0; i < b->n_committed; i++)
		raft_entry_unref(&b->committed[i]);
	free(b->committed);
	free(b->reads);
	raft_config_free(&b->snapshot.config);
	memset(b, 0, sizeof(*b));
}

/* NULL when out of memory: the message is dropped, which Raft tolerates like a lost packet. */
struct raft_message *
raft_outbox_push(struct raft *r, enum raft_message_type type, const char *to)
{
	struct raft_owned_batch *b = &r->outbox;

	if (b->n_msgs == b->cap_msgs) {
		unsigned cap = b->cap_msgs ? b->cap_msgs * 2 : 16;
		struct raft_message *m = realloc(b->msgs, cap * sizeof(*m));
		if (m == NULL)
			return NULL;
		b->msgs = m;
		b->cap_msgs = cap;
	}
	struct raft_message *m = &b->msgs[b->n_msgs++];
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->term = r->term;
	strcpy(m->from, r->id);
	snprintf(m->to, sizeof(m->to), "%s", to);
	const struct raft_server *s = raft_config_get(&r->config, to);
	if (s != NULL)
		strcpy(m->to_address, s->address);
	return m;
}

int
raft_outbox_read(struct raft *r, uint64_t cookie, uint64_t index, int status)
{
	struct raft_owned_batch *b = &r->outbox;

	if (b->n_reads == b->cap_reads) {
		unsigned cap = b->cap_reads ? b->cap_reads * 2 : 16;
		struct raft_read *rd = realloc(b->reads, cap * sizeof(*rd));
		if (rd == NULL)
			return RAFT_ENOMEM;
		b->reads = rd;
		b->cap_reads = cap;
	}
	b->reads[b->n_reads++] = (struct raft_read){ cookie, index, status };
	return RAFT_OK;
}

static uint64_t
apply_limit(const struct raft *r)
{
	return RAFT_MIN(r->commit, r->persisted);
}

bool
raft_has_ready(const struct raft *r)
{
	return r->need_flush || r->hs_dirty || r->soft_dirty || r->snapshot_install ||
	    r->pending_truncate != 0 || r->unstable_from <= raft_log_last_index(r) ||
	    r->outbox.n_msgs > 0 || r->outbox.n_reads > 0 ||
	    apply_limit(r) > r->apply_handed;
}

static int
copy_range(const struct raft *r, uint64_t from, uint64_t to, struct raft_entry **out,
    unsigned *n)
{
	*out = NULL;
	*n = 0;
	if (to < from)
		return RAFT_OK;
	struct raft_entry *es = malloc((to - from + 1) * sizeof(*es));
	if (es == NULL)
		return RAFT_ENOMEM;
	for (uint64_t i = from; i <= to; i++) {
		es[i - from] = *raft_log_get(r, i);
		raft_entry_ref(&es[i - from]);
	}
	*out = es;
	*n = (unsigned)(to - from + 1);
	return RAFT_OK;
}

int
raft_ready(struct raft *r, struct raft_ready *rd)
{
	struct raft_owned_batch *h = &r->handed;
	int rv;

	raft_batch_free(h);
	memset(rd, 0, sizeof(*rd));

	if (r->need_flush && r->state == RAFT_LEADER) {
		if (r->need_heartbeat)
			raft_broadcast_heartbeat(r);
		raft_broadcast_append(r);
		raft_reads_release(r);
	}
	r->need_flush = false;

	if (r->snapshot_install) {
		if ((rv = raft_config_copy(&h->snapshot.config, &r->snap.config)) != RAFT_OK)
			return rv;
		h->snapshot.index = r->snap.index;
		h->snapshot.term = r->snap.term;
		h->has_snapshot = true;
		rd->snapshot = &h->snapshot;
		r->snapshot_install = false;
	}
	if (r->hs_dirty) {
		rd->hard_state_changed = true;
		r->hs_dirty = false;
	}
	rd->term = r->term;
	strcpy(h->vote, r->vote);
	rd->vote = h->vote;

	uint64_t last = raft_log_last_index(r);
	if ((rv = copy_range(r, r->unstable_from, last, &h->entries, &h->n_entries)) != RAFT_OK)
		return rv;
	rd->truncate_from = r->pending_truncate;
	rd->entries = h->entries;
	rd->n_entries = h->n_entries;
	r->pending_truncate = 0;
	r->unstable_from = last + 1;

	/* Messages and reads: move the outbox. */
	h->msgs = r->outbox.msgs;
	h->n_msgs = r->outbox.n_msgs;
	h->cap_msgs = r->outbox.cap_msgs;
	h->reads = r->outbox.reads;
	h->n_reads = r->outbox.n_reads;
	h->cap_reads = r->outbox.cap_reads;
	r->outbox.msgs = NULL;
	r->outbox.n_msgs = r->outbox.cap_msgs = 0;
	r->outbox.reads = NULL;
	r->outbox.n_reads = r->outbox.cap_reads = 0;
	rd->messages = h->msgs;
	rd->n_messages = h->n_msgs;
	rd->reads = h->reads;
	rd->n_reads = h->n_reads;

	uint64_t lim = apply_limit(r);
	if (lim > r->apply_handed) {
		rv = copy_range(r, r->apply_handed + 1, lim, &h->committed, &h->n_committed);
		if (rv != RAFT_OK)
			return rv;
		r->apply_handed = lim;
	}
	rd->committed = h->committed;
	rd->n_committed = h->n_committed;

	rd->soft_state_changed = r->soft_dirty;
	r->soft_dirty = false;
	rd->state = r->state;
	strcpy(h->leader, r->leader);
	rd->leader_id = h->leader;
	return RAFT_OK;
}
