/* Helpers for the unit tests of the Raft core's RPCs (raft_rpc_helpers.h). */
#include "raft_rpc_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Drains every ready batch into *o (cleared first). */
void
collect(struct raft *r, struct out *o)
{
	struct raft_ready rd;
	memset(o, 0, sizeof(*o));
	while (raft_has_ready(r)) {
		if (raft_ready(r, &rd) != 0)
			abort();
		if (rd.hard_state_changed) {
			o->hard_state_changed = true;
			o->term = rd.term;
			snprintf(o->vote, sizeof(o->vote), "%s", rd.vote);
		}
		if (rd.truncate_from)
			o->truncate_from = rd.truncate_from;
		o->n_entries += rd.n_entries;
		if (rd.n_entries)
			o->last_entry_index = rd.entries[rd.n_entries - 1].index;
		o->n_committed += rd.n_committed;
		if (rd.snapshot) {
			o->snapshot = true;
			o->snapshot_index = rd.snapshot->index;
		}
		for (unsigned i = 0; i < rd.n_messages && o->n < 32; i++) {
			o->m[o->n] = rd.messages[i];
			o->first_index[o->n] = rd.messages[i].type == RAFT_MSG_APPEND_ENTRIES &&
			    rd.messages[i].append_entries.n_entries ?
			    rd.messages[i].append_entries.entries[0].index : 0;
			o->n++;
		}
	}
}

const struct raft_message *
find(const struct out *o, enum raft_message_type t, const char *to)
{
	for (unsigned i = 0; i < o->n; i++)
		if (o->m[i].type == t && (to == NULL || strcmp(o->m[i].to, to) == 0))
			return &o->m[i];
	return NULL;
}

unsigned
count(const struct out *o, enum raft_message_type t, const char *to)
{
	unsigned c = 0;
	for (unsigned i = 0; i < o->n; i++)
		if (o->m[i].type == t && (to == NULL || strcmp(o->m[i].to, to) == 0))
			c++;
	return c;
}

/* Node `id` of the voters {1,2,3}, bootstrapped and started at time 0. */
struct raft *
node(const char *id, bool prevote)
{
	struct raft_options o = { .id = id, .election_timeout_ms = ET, .max_inflight = 4,
	    .disable_prevote = !prevote, .seed = 3 };
	struct raft_config c;
	struct raft *r;
	char addr[32];

	snprintf(addr, sizeof(addr), "n%s:4002", id);
	o.address = addr;
	if (raft_new(&o, &r) != 0)
		abort();
	raft_config_init(&c);
	raft_config_add(&c, "1", "n1:4002", RAFT_VOTER);
	raft_config_add(&c, "2", "n2:4002", RAFT_VOTER);
	raft_config_add(&c, "3", "n3:4002", RAFT_VOTER);
	if (raft_bootstrap(r, &c) != 0 || raft_start(r, 0) != 0)
		abort();
	raft_config_free(&c);
	return r;
}

struct raft_message
msg(enum raft_message_type t, const char *from, const char *to, uint64_t term)
{
	struct raft_message m;
	memset(&m, 0, sizeof(m));
	m.type = t;
	snprintf(m.from, sizeof(m.from), "%s", from);
	snprintf(m.to, sizeof(m.to), "%s", to);
	m.term = term;
	return m;
}

int
vote_req(struct raft *r, uint64_t now, const char *from, uint64_t term, uint64_t li,
    uint64_t lt, bool prevote, bool transfer)
{
	struct raft_message m = msg(RAFT_MSG_REQUEST_VOTE, from, raft_id(r), term);
	m.request_vote.last_log_index = li;
	m.request_vote.last_log_term = lt;
	m.request_vote.prevote = prevote;
	m.request_vote.transfer = transfer;
	return raft_recv(r, now, &m);
}

int
vote_res(struct raft *r, uint64_t now, const char *from, uint64_t term, bool granted,
    bool prevote)
{
	struct raft_message m = msg(RAFT_MSG_REQUEST_VOTE_RESULT, from, raft_id(r), term);
	m.request_vote_result.granted = granted;
	m.request_vote_result.prevote = prevote;
	return raft_recv(r, now, &m);
}

int
append(struct raft *r, uint64_t now, const char *from, uint64_t term, uint64_t prev,
    uint64_t prev_term, uint64_t commit, const uint64_t *terms, unsigned n)
{
	struct raft_entry es[16];
	struct raft_message m = msg(RAFT_MSG_APPEND_ENTRIES, from, raft_id(r), term);
	for (unsigned i = 0; i < n; i++)
		es[i] = (struct raft_entry){ .index = prev + 1 + i, .term = terms[i],
		    .type = RAFT_ENTRY_NORMAL, .data = "x", .len = 1 };
	m.append_entries.prev_index = prev;
	m.append_entries.prev_term = prev_term;
	m.append_entries.leader_commit = commit;
	m.append_entries.entries = es;
	m.append_entries.n_entries = n;
	m.append_entries.seq = 1;
	return raft_recv(r, now, &m);
}

int
append_res(struct raft *r, uint64_t now, const char *from, uint64_t term, bool ok,
    uint64_t index, uint64_t last, uint64_t cterm, uint64_t cindex, uint64_t seq)
{
	struct raft_message m = msg(RAFT_MSG_APPEND_ENTRIES_RESULT, from, raft_id(r), term);
	m.append_entries_result.success = ok;
	m.append_entries_result.index = index;
	m.append_entries_result.last_index = last;
	m.append_entries_result.conflict_term = cterm;
	m.append_entries_result.conflict_index = cindex;
	m.append_entries_result.seq = seq;
	return raft_recv(r, now, &m);
}

/* Makes node 1 leader of term 2 (no pre-vote) with votes from 2; returns the time. */
uint64_t
elect(struct raft *r, struct out *o)
{
	uint64_t t = raft_next_timeout(r);
	raft_tick(r, t);
	collect(r, o);
	vote_res(r, t, "2", raft_term(r), true, false);
	collect(r, o);
	return t;
}

/* Node 1 restarted with log 1@1 (configuration {1,2,3}), then the given terms from index 2. */
struct raft *
loaded(const uint64_t *terms, unsigned n, uint64_t term)
{
	struct raft_entry es[16];
	struct raft_config c;
	void *buf;
	struct raft_options opts = { .id = "1", .address = "n1:4002", .election_timeout_ms = ET,
	    .disable_prevote = true, .seed = 1 };
	struct raft *r;

	raft_config_init(&c);
	raft_config_add(&c, "1", "n1:4002", RAFT_VOTER);
	raft_config_add(&c, "2", "n2:4002", RAFT_VOTER);
	raft_config_add(&c, "3", "n3:4002", RAFT_VOTER);
	es[0] = (struct raft_entry){ .index = 1, .term = 1, .type = RAFT_ENTRY_CONFIG };
	raft_config_encode(&c, &buf, &es[0].len);
	es[0].data = buf;
	for (unsigned i = 0; i < n; i++)
		es[i + 1] = (struct raft_entry){ .index = i + 2, .term = terms[i],
		    .type = RAFT_ENTRY_NORMAL, .data = "e", .len = 1 };
	if (raft_new(&opts, &r) != 0 || raft_load(r, term, "", NULL, es, n + 1) != 0)
		abort();
	free(buf);
	raft_config_free(&c);
	raft_start(r, 0);
	return r;
}
