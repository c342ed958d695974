/*
 * Disaster recovery with DATA_DIR/raft/peers.json, as rqlite documents it: when a
 * majority is lost for good, the operator writes the surviving configuration
 *   [{"id": "1", "address": "host:4002", "non_voter": false}, …]
 * on the surviving nodes and restarts them. The configuration is forced by appending it
 * to the log as the newest configuration entry (the core then uses it), and the file is
 * renamed peers.info so it applies once. This overrides Raft's safety on purpose.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "consensus_internal.h"

int
cs_recover_peers_json(struct consensus *c)
{
	char path[PATH_MAX], info[PATH_MAX];
	json_error_t jerr;
	json_t *root, *e;
	struct raft_config cfg;
	struct raftlog_entry le;
	void *buf = NULL;
	size_t len = 0, i;
	uint64_t last, term = 0, snap_index, snap_term;
	int rc;

	snprintf(path, sizeof(path), "%s/raft/peers.json", c->opts->data_dir);
	snprintf(info, sizeof(info), "%s/raft/peers.info", c->opts->data_dir);
	if (access(path, F_OK) != 0)
		return 0;
	root = json_load_file(path, 0, &jerr);
	if (root == NULL || !json_is_array(root) || json_array_size(root) == 0)
		fatalx("%s: expected a non-empty JSON array of {id, address, non_voter}: %s", path,
		    root == NULL ? jerr.text : "wrong shape");
	raft_config_init(&cfg);
	json_array_foreach(root, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *addr = json_string_value(json_object_get(e, "address"));
		bool nv = json_is_true(json_object_get(e, "non_voter"));
		if (id == NULL || addr == NULL || raft_config_add(&cfg, id, addr,
		    nv ? RAFT_NONVOTER : RAFT_VOTER) != 0)
			fatalx("%s: entry %zu needs a unique id and address", path, i);
	}
	json_decref(root);
	if (raft_config_voters(&cfg) == 0)
		fatalx("%s: at least one voter is needed", path);
	if (raft_config_encode(&cfg, &buf, &len) != 0)
		fatalx("%s: cannot encode the configuration", path);

	last = raftlog_last_index(c->log);
	raftlog_snapshot(c->log, &snap_index, &snap_term);
	if (last > 0 && raftlog_term_at(c->log, last, &term) != 0)
		term = snap_term;
	if (last == 0)
		fatalx("%s: this node has no Raft state to recover", path);
	le.index = last + 1;
	le.term = term;
	le.type = RAFT_ENTRY_CONFIG;
	le.data = buf;
	le.len = len;
	rc = raftlog_append(c->log, &le, 1);
	if (rc == 0)
		rc = raftlog_sync(c->log);
	if (rc != 0)
		fatalx("%s: append the recovered configuration: %s", path, raftlog_strerror(rc));
	free(buf);
	log_warnx("recovered the cluster configuration from %s: %u servers, forced at index %llu",
	    path, cfg.n, (unsigned long long)le.index);
	raft_config_free(&cfg);
	if (rename(path, info) != 0)
		fatal("rename %s to %s", path, info);
	return 1;
}
