/*
 * Reads without the log: ReadIndex for linearizable reads (dissertation §6.4) and the leader
 * lease for weak reads (§6.4.1). Both rest on heartbeat rounds: every AppendEntries carries the
 * leader's round number (seq), followers echo it, and the leader remembers when each round
 * was sent.
 */
#include "raft/raft_int.h"

void
raft_seq_record(struct raft *r, uint64_t seq)
{
	r->seq_ring_seq[seq % RAFT_SEQ_RING] = seq;
	r->seq_ring_time[seq % RAFT_SEQ_RING] = r->now;
}

/* When round seq was sent, or false if it is too old to remember. */
static bool
seq_time(const struct raft *r, uint64_t seq, uint64_t *t)
{
	if (seq == 0 || r->seq_ring_seq[seq % RAFT_SEQ_RING] != seq)
		return false;
	*t = r->seq_ring_time[seq % RAFT_SEQ_RING];
	return true;
}

static unsigned
acks_for(const struct raft *r, uint64_t seq)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->config.n; i++) {
		if (r->config.servers[i].suffrage != RAFT_VOTER)
			continue;
		if (strcmp(r->prs[i].id, r->id) == 0 || r->prs[i].acked_seq >= seq)
			n++;
	}
	return n;
}

int
raft_read_index(struct raft *r, uint64_t now, uint64_t cookie)
{
	if (r->state == RAFT_SHUTDOWN)
		return RAFT_ESHUTDOWN;
	if (r->state != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (now > r->now)
		r->now = now;
	if (r->n_reads == r->cap_reads) {
		unsigned cap = r->cap_reads ? r->cap_reads * 2 : 16;
		struct raft_pending_read *p = realloc(r->reads, cap * sizeof(*p));
		if (p == NULL)
			return RAFT_ENOMEM;
		r->reads = p;
		r->cap_reads = cap;
	}
	/* The round that confirms this read must be sent after it arrived: the next one. Many
	 * reads arriving before the next raft_ready() share that round. */
	r->reads[r->n_reads++] = (struct raft_pending_read){ cookie, r->commit, r->seq + 1 };
	r->need_heartbeat = true;
	r->need_flush = true;
	return RAFT_OK;
}

/* Releases reads, oldest first, whose round a quorum answered, once an entry of this term is
 * committed (before that the leader may not know the latest commit index). */
void
raft_reads_release(struct raft *r)
{
	unsigned done = 0;

	if (r->state != RAFT_LEADER || r->commit < r->noop_index)
		return;
	while (done < r->n_reads) {
		struct raft_pending_read *p = &r->reads[done];
		if (p->seq > r->seq && raft_config_voters(&r->config) > 1)
			break;	/* its round has not been sent yet */
		if (acks_for(r, p->seq) < raft_quorum(r))
			break;
		if (raft_outbox_read(r, p->cookie, RAFT_MAX(p->index, r->noop_index), 0) != RAFT_OK)
			break;
		done++;
	}
	if (done > 0) {
		memmove(r->reads, r->reads + done, (r->n_reads - done) * sizeof(*r->reads));
		r->n_reads -= done;
	}
}

void
raft_reads_fail(struct raft *r, int status)
{
	for (unsigned i = 0; i < r->n_reads; i++)
		raft_outbox_read(r, r->reads[i].cookie, 0, status);
	r->n_reads = 0;
}

static int
cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

bool
raft_lease_valid(const struct raft *r, uint64_t now)
{
	return now < raft_lease_expiry(r, now);
}

uint64_t
raft_lease_expiry(const struct raft *r, uint64_t now)
{
	uint64_t t[r->config.n + 1];
	unsigned n = 0;

	/* A transfer target is told to campaign at once, and voters waive leader stickiness for
	 * it whenever its request arrives: after TimeoutNow no lease is safe in this term. */
	if (r->state != RAFT_LEADER || r->transfer_target[0] != '\0' || r->lease_void)
		return 0;
	for (unsigned i = 0; i < r->config.n; i++) {
		if (r->config.servers[i].suffrage != RAFT_VOTER)
			continue;
		if (strcmp(r->prs[i].id, r->id) == 0)
			t[n++] = now;
		else if (seq_time(r, r->prs[i].acked_seq, &t[n]))
			n++;
	}
	if (n < raft_quorum(r))
		return 0;
	qsort(t, n, sizeof(t[0]), cmp_desc);
	/* The lease runs from when the round that a quorum acknowledged was sent. */
	uint64_t start = t[raft_quorum(r) - 1];
	return start + r->opts.lease_ms;
}
