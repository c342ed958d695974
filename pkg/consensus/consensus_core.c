/*
 * The Raft core's life in this process: made from the flags, loaded from the log and
 * the newest snapshot at start, bootstrapped as a one-node cluster when the node is
 * new and joins nobody, or later with the configuration -bootstrap-expect found.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "consensus_internal.h"

struct raft *
cs_core_new(struct consensus *c)
{
	struct raft_options ro;
	struct raft *r;
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.id = c->opts->node_id;
	ro.address = c->opts->raft_adv_addr;
	ro.election_timeout_ms = (unsigned)c->opts->election_timeout_ms;
	ro.heartbeat_ms = (unsigned)c->opts->heartbeat_timeout_ms / 10;
	ro.lease_ms = (unsigned)c->opts->lease_timeout_ms;
	ro.seed = (uint64_t)getpid() ^ c->io->now_ms(c);
	rc = raft_new(&ro, &r);
	if (rc != 0)
		fatalx("raft_new: %s", raft_strerror(rc));
	return r;
}

int
cs_core_bootstrap(struct consensus *c, const struct raft_config *cfg)
{
	char vote[RAFTLOG_MAX_VOTED_FOR + 1];
	uint64_t term = 0;
	struct raft *r;
	int rc;

	if (raft_last_index(c->raft) != 0)
		return -1;
	/* The core refuses to bootstrap once started; a fresh one loses nothing here but
	 * the term and vote, which it must keep (a vote given in a term stands). */
	r = cs_core_new(c);
	if (c->log != NULL && raftlog_load_vote(c->log, &term, vote, sizeof(vote)) == 0 &&
	    term > 0 && (rc = raft_load(r, term, vote, NULL, NULL, 0)) != 0) {
		log_warnx("bootstrap: %s", raft_strerror(rc));
		raft_free(r);
		return -1;
	}
	rc = raft_bootstrap(r, cfg);
	if (rc != 0) {
		log_warnx("bootstrap: %s", raft_strerror(rc));
		raft_free(r);
		return -1;
	}
	raft_free(c->raft);
	c->raft = r;
	if (raft_start(c->raft, c->io->now_ms(c)) != 0)
		fatalx("raft_start failed");
	c->io->schedule_ready(c);	/* the batch re-arms the tick for the new core */
	return 0;
}

/* Entries read from the log for raft_load(); data copied out of the read buffer. */
struct load_buf {
	struct raft_entry *entries;
	unsigned n, cap;
};

static int
cs_core_load_cb(const struct raftlog_entry *le, void *arg)
{
	struct load_buf *lb = arg;
	void *data = NULL;

	if (lb->n == lb->cap) {
		unsigned cap = lb->cap ? lb->cap * 2 : 1024;
		struct raft_entry *ne = realloc(lb->entries, cap * sizeof(*ne));
		if (ne == NULL)
			fatalx("out of memory loading the log");
		lb->entries = ne;
		lb->cap = cap;
	}
	if (le->len > 0) {
		data = malloc(le->len);
		if (data == NULL)
			fatalx("out of memory loading the log");
		memcpy(data, le->data, le->len);
	}
	lb->entries[lb->n++] = (struct raft_entry){
		.index = le->index, .term = le->term,
		.type = (enum raft_entry_type)le->type, .data = data, .len = le->len,
	};
	return 0;
}

/* A snapshot received from the leader may be newer than what the log records (a
 * restart between staging it and installing it): record it now. Raft §7: the log is
 * kept only if it holds the snapshot's last entry with its term. */
static void
cs_core_record_snapshot(struct consensus *c, const struct raft_snapshot_meta *meta)
{
	uint64_t s_idx, s_term;
	int rc;

	raftlog_snapshot(c->log, &s_idx, &s_term);
	if (meta->index <= s_idx)
		return;
	rc = raftlog_set_snapshot(c->log, meta->index, meta->term);
	if (rc != 0)
		fatalx("record snapshot %llu in the log: %s", (unsigned long long)meta->index,
		    raftlog_strerror(rc));
}

static void
cs_core_bootstrap_single(struct consensus *c)
{
	struct raft_config cfg;
	int rc;

	if (c->opts->non_voter)
		fatalx("a new read replica (-raft-non-voter) needs -join to find a cluster");
	raft_config_init(&cfg);
	raft_config_add(&cfg, c->opts->node_id, c->opts->raft_adv_addr, RAFT_VOTER);
	rc = raft_bootstrap(c->raft, &cfg);
	raft_config_free(&cfg);
	if (rc != 0)
		fatalx("bootstrap: %s", raft_strerror(rc));
	log_info("bootstrapped a single-node cluster as %s", c->opts->node_id);
}

void
cs_core_open(struct consensus *c)
{
	char dir[PATH_MAX], vote[RAFTLOG_MAX_VOTED_FOR + 1];
	struct raftlog_options lo;
	struct load_buf lb = { 0 };
	struct raft_snapshot_meta meta;
	bool have_snap;
	uint64_t term, first, last;
	int rc;

	snprintf(dir, sizeof(dir), "%s/raft", c->opts->data_dir);
	memset(&lo, 0, sizeof(lo));
	lo.segment_size = c->opts->log_segment_size;
	rc = raftlog_open(dir, &lo, &c->log);
	if (rc != 0)
		fatalx("open Raft log in %s: %s", dir, raftlog_strerror(rc));
	rc = raftlog_load_vote(c->log, &term, vote, sizeof(vote));
	if (rc != 0)
		fatalx("load term and vote: %s", raftlog_strerror(rc));
	c->raft = cs_core_new(c);
	cs_snapshot_load(c);
	(void)cs_recover_peers_json(c);
	have_snap = cs_snapshot_meta(c, &meta);
	if (have_snap)
		cs_core_record_snapshot(c, &meta);
	first = raftlog_first_index(c->log);
	last = raftlog_last_index(c->log);
	if (have_snap && first > meta.index + 1)
		fatalx("the log starts at %llu but the newest valid snapshot ends at %llu: "
		    "this node cannot recover on its own (restore it from a backup or rejoin "
		    "with a fresh data directory)", (unsigned long long)first,
		    (unsigned long long)meta.index);
	if (have_snap && first == 0 && last > meta.index)
		first = last;	/* unreachable: an empty log reports the snapshot index */
	if (first != 0) {
		rc = raftlog_read(c->log, first, last, cs_core_load_cb, &lb);
		if (rc != 0)
			fatalx("read log: %s", raftlog_strerror(rc));
	}
	/* State means entries or a snapshot: a term saved just before a crash that lost
	 * the first entries is not a cluster to rejoin. */
	c->has_state = lb.n > 0 || have_snap;
	if (c->has_state || term > 0) {
		rc = raft_load(c->raft, term, vote, have_snap ? &meta : NULL, lb.entries, lb.n);
		if (rc != 0)
			fatalx("load Raft state: %s", raft_strerror(rc));
		log_info("loaded term %llu, %u log entries%s", (unsigned long long)term, lb.n,
		    have_snap ? " and a snapshot" : "");
	}
	if (have_snap)
		raft_config_free(&meta.config);
	if (!c->has_state && c->opts->join[0] == '\0' && c->opts->bootstrap_expect <= 1)
		cs_core_bootstrap_single(c);
	else if (!c->has_state)
		log_info("no Raft state yet; waiting to join a cluster");
	for (unsigned i = 0; i < lb.n; i++)
		free((void *)lb.entries[i].data);
	free(lb.entries);
}
