/*
 * The simulator's faults (see sim.h): crashing a node (a write under way may be torn),
 * restarting it from what was durable, one-way blocks, isolation and partitions,
 * dropped and duplicated messages, and snapshots taken by a node.
 */
#include "sim_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void
sim_crash(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];
	if (!n->up)
		return;
	/* The write under way may be torn: its truncation and a prefix of its entries made it
	 * to disk (the log store cuts a torn tail at the last valid checksum). */
	if (n->nw > 0 && sim_rnd(s) % 2 == 0) {
		struct sim_write *w = &n->w[0];
		unsigned keep = w->n ? (unsigned)(sim_rnd(s) % (w->n + 1)) : 0;
		if (w->truncate_from)
			sim_durable_truncate(n, w->truncate_from);
		for (unsigned k = 0; k < keep; k++)
			sim_durable_append(s, i, &w->e[k]);
	}
	sim_node_volatile_free(n);
	n->up = false;
}

void
sim_restart(struct sim *s, unsigned i)
{
	struct sim_node *n = &s->nodes[i];
	if (n->up)
		return;
	n->r = sim_node_new_core(s, i);
	int rv = raft_load(n->r, n->d_term, n->d_vote, n->d_snap.index ? &n->d_snap : NULL,
	    n->d_log, n->d_n);
	if (rv != 0) {
		sim_fail(s, "node %u: raft_load: %s", i + 1, raft_strerror(rv));
		n->up = true;
		return;
	}
	n->up = true;
	/* Like rqlited: a node without cluster state that was told to bootstrap does so. */
	if (i < s->cfg.n_voters && n->d_n == 0 && n->d_snap.index == 0 &&
	    raft_bootstrap(n->r, &s->boot) != 0)
		sim_fail(s, "node %u: bootstrap after restart failed", i + 1);
	n->sm_n = n->d_snap.index;
	n->sm_cap = n->sm_n + 64;
	n->sm = sim_xrealloc(NULL, n->sm_cap * sizeof(*n->sm));
	if (n->sm_n > 0)
		memcpy(n->sm, n->d_snap_sm, n->sm_n * sizeof(*n->sm));
	n->commit_seen = raft_commit_index(n->r);
	n->lm_checked = 0;
	n->lm_checked_term = 0;
	raft_start(n->r, s->now);
	sim_drain(s, i);
	sim_check_invariants(s);
}

void
sim_block(struct sim *s, unsigned from, unsigned to, bool blocked)
{
	s->block[from][to] = blocked;
}

void
sim_isolate(struct sim *s, unsigned i)
{
	for (unsigned j = 0; j < s->n; j++) {
		if (j == i)
			continue;
		s->block[i][j] = true;
		s->block[j][i] = true;
	}
}

void
sim_partition(struct sim *s, unsigned mask)
{
	for (unsigned i = 0; i < s->n; i++)
		for (unsigned j = 0; j < s->n; j++)
			s->block[i][j] = ((mask >> i) & 1) != ((mask >> j) & 1);
}

void
sim_heal(struct sim *s)
{
	memset(s->block, 0, sizeof(s->block));
}

void
sim_set_drop(struct sim *s, unsigned drop_pct, unsigned dup_pct)
{
	s->cfg.drop_pct = drop_pct;
	s->cfg.dup_pct = dup_pct;
}

int
sim_snapshot(struct sim *s, unsigned i, uint64_t trailing)
{
	struct sim_node *n = &s->nodes[i];
	struct raft_snapshot_meta meta;

	if (!n->up || n->sm_n <= n->d_snap.index)
		return 0;
	uint64_t idx = n->sm_n;
	int rv = raft_snapshot_taken(n->r, idx, trailing, &meta);
	if (rv != 0)
		return rv;
	raft_config_free(&n->d_snap.config);
	n->d_snap.index = meta.index;
	n->d_snap.term = meta.term;
	sim_config_copy(&n->d_snap.config, &meta.config);
	free(n->d_snap_sm);
	n->d_snap_sm = sim_xrealloc(NULL, idx * sizeof(uint64_t));
	memcpy(n->d_snap_sm, n->sm, idx * sizeof(uint64_t));
	if (idx > trailing)
		sim_durable_drop_upto(n, idx - trailing);
	return 0;
}
