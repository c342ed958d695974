/*
 * CONS_STATUS → CONS_STATUS_RESULT: this process's part of /status and /debug/vars,
 * with the keys of rqlite's store section in its formats (durations as Go prints them,
 * the configuration as hashicorp/raft's Stats() does).
 */
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "common/dir_size.h"
#include "common/duration.h"
#include "consensus_internal.h"
#include "raftlog/snapshot_store.h"

static void
cs_status_duration(struct ipc_writer *out, const char *key, int64_t ms)
{
	char buf[DURATION_FMT_MAX];

	duration_format(ms * 1000000, buf, sizeof(buf));
	ipc_add_str(out, key, buf);
}

/* hashicorp/raft's Stats() prints the configuration with Go's %+v. */
static void
cs_status_configuration(struct ipc_writer *out, const struct raft_config *cfg)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (f == NULL)
		return;
	fputc('[', f);
	for (unsigned i = 0; i < cfg->n; i++) {
		const struct raft_server *sv = &cfg->servers[i];
		fprintf(f, "%s{Suffrage:%s ID:%s Address:%s}", i > 0 ? " " : "",
		    sv->suffrage == RAFT_VOTER ? "Voter" : "Nonvoter", sv->id, sv->address);
	}
	fputc(']', f);
	if (fclose(f) == 0)
		ipc_add_strn(out, "latest_configuration", s, len);
	free(s);
}

/* The keys of rqlite's /status store section that come from here, in its formats. */
static void
cs_status_rqlite(struct consensus *c, struct ipc_writer *out)
{
	const char *snaps = cs_snapshot_dir(c);
	char path[PATH_MAX], **names = NULL;
	int n;

	cs_status_duration(out, "apply_timeout", c->opts->apply_timeout_ms);
	cs_status_duration(out, "heartbeat_timeout", c->opts->heartbeat_timeout_ms);
	cs_status_duration(out, "election_timeout", c->opts->election_timeout_ms);
	cs_status_duration(out, "commit_timeout", c->opts->commit_timeout_ms);
	cs_status_duration(out, "snapshot_interval", c->opts->snap_interval_ms);
	cs_status_duration(out, "reap_timeout", c->opts->reap_voter_ms);
	cs_status_duration(out, "reap_read_only_timeout", c->opts->reap_nonvoter_ms);
	ipc_add_u64(out, "dir_size", dir_size(c->opts->data_dir));
	snprintf(path, sizeof(path), "%s/raft", c->opts->data_dir);
	ipc_add_u64(out, "log_size", dir_size(path));
	ipc_add_u64(out, "snapshot_dir_size", dir_size(snaps));
	n = snapshot_store_names(snaps, &names);
	ipc_add_key(out, "snapshot_ids");
	ipc_pack_array(out, n > 0 ? (uint32_t)n : 0);
	for (int i = 0; i < n; i++)
		ipc_pack_str(out, names[i]);
	snapshot_store_names_free(names, n);
	cs_status_configuration(out, raft_configuration(c->raft));
}

static void
cs_status_counters(struct consensus *c, struct ipc_writer *out)
{
	const struct cs_cluster_counters *cc = &c->fwd.served;
	uint64_t ns, nr, ni;
	int count;

	cs_snapshot_counters(c, &ns, &nr, &ni, &count);
	ipc_add_u64(out, "num_snapshots", ns);
	ipc_add_u64(out, "num_restores", nr);
	ipc_add_u64(out, "num_installs", ni);
	ipc_add_u64(out, "snapshot_count", count > 0 ? (uint64_t)count : 0);
	ipc_add_str(out, "snapshot_dir", cs_snapshot_dir(c));
	ipc_add_u64(out, "snapshot_threshold", c->opts->snap_threshold);
	cs_maintenance_status(c, out);
	cs_status_rqlite(c, out);
	ipc_add_u64(out, "num_ignored_joins", c->mem.ignored);
	ipc_add_u64(out, "num_removed_before_joins", c->mem.removed_before);
	ipc_add_key(out, "cluster");
	ipc_pack_map(out, 9);
	ipc_pack_kv_u64(out, "num_join_req", cc->join);
	ipc_pack_kv_u64(out, "num_execute_req", cc->execute);
	ipc_pack_kv_u64(out, "num_query_req", cc->query);
	ipc_pack_kv_u64(out, "num_request_req", cc->request);
	ipc_pack_kv_u64(out, "num_load_req", cc->load);
	ipc_pack_kv_u64(out, "num_remove_node_req", cc->remove_node);
	ipc_pack_kv_u64(out, "num_stepdown_req", cc->stepdown);
	ipc_pack_kv_u64(out, "num_get_node_api_req", cc->get_node_api);
	ipc_pack_kv_u64(out, "num_held_for_leader", cs_hold_count(c));
	ipc_add_u64(out, "log_appends", c->stats.appends);
	ipc_add_u64(out, "log_entries", c->stats.entries);
	ipc_add_u64(out, "log_fsyncs", c->stats.fsyncs);
	ipc_add_u64(out, "proposals", c->stats.proposals);
}

void
cs_status_answer(struct consensus *c, struct ipc_msg *m)
{
	const struct raft_config *cfg = raft_configuration(c->raft);
	struct waiter w = { WAITER_GATEWAY, m->request_id, 0, IPC_CONS_STATUS_RESULT, 0 };
	struct ipc_writer *out = &c->out;
	uint64_t now = c->io->now_ms(c);
	struct peer_stats ps;

	memset(&ps, 0, sizeof(ps));
	if (c->peers.pt != NULL)
		peer_transport_stats(c->peers.pt, &ps);
	ipc_begin(out, IPC_CONS_STATUS_RESULT, m->request_id);
	ipc_add_str(out, "state", raft_state_name(raft_state(c->raft)));
	ipc_add_u64(out, "term", raft_term(c->raft));
	ipc_add_bool(out, "voter", raft_is_voter(c->raft));
	ipc_add_u64(out, "commit_index", raft_commit_index(c->raft));
	/* On the leader its own; elsewhere as the leader's latest AppendEntries said. */
	ipc_add_u64(out, "leader_commit_index", raft_state(c->raft) == RAFT_LEADER ?
	    raft_commit_index(c->raft) : c->leader_commit_heard);
	ipc_add_u64(out, "applied_index", raft_applied_index(c->raft));
	ipc_add_u64(out, "last_log_index", raft_last_index(c->raft));
	ipc_add_u64(out, "last_log_term", raft_last_term(c->raft));
	ipc_add_u64(out, "last_snapshot_index", raft_snapshot_index(c->raft));
	ipc_add_u64(out, "last_snapshot_term", raft_snapshot_term(c->raft));
	ipc_add_u64(out, "latest_configuration_index", raft_configuration_index(c->raft));
	ipc_add_i64(out, "last_contact_ms", raft_last_contact(c->raft, now));
	ipc_add_str(out, "leader_id", raft_leader_id(c->raft));
	ipc_add_str(out, "leader_addr", raft_leader_address(c->raft));
	ipc_add_str(out, "node_id", c->opts->node_id);
	ipc_add_str(out, "addr", c->opts->raft_adv_addr);
	ipc_add_u64(out, "fsm_pending", raft_commit_index(c->raft) - raft_applied_index(c->raft));
	ipc_add_str(out, "peer_auth", c->peers.keyed ? "enabled" : "disabled");
	ipc_add_u64(out, "peer_handshakes_refused", ps.handshakes_refused);
	ipc_add_u64(out, "peer_frames_bad", ps.frames_bad);
	ipc_add_u64(out, "peer_conns_refused", ps.conns_refused);
	ipc_add_u64(out, "peer_frames_stalled", ps.frames_stalled);
	ipc_add_u64(out, "peer_links_out", ps.links_out);
	ipc_add_u64(out, "peer_links_in", ps.links_in);
	cs_status_counters(c, out);
	ipc_add_key(out, "nodes");
	ipc_pack_array(out, cfg->n);
	for (unsigned i = 0; i < cfg->n; i++) {
		const struct raft_server *s = &cfg->servers[i];
		ipc_pack_map(out, 3);
		ipc_pack_kv_str(out, "id", s->id);
		ipc_pack_kv_str(out, "addr", s->address);
		ipc_pack_kv_str(out, "suffrage", s->suffrage == RAFT_VOTER ? "voter" : "nonvoter");
	}
	ipc_finish(out);
	cs_answer(c, &w, out);
}
