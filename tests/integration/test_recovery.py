"""Disaster recovery with raft/peers.json (API.md §4.3)."""
import json
import os

from harness import Cluster, check, eq, wait_for


def test_peers_json_lets_a_lone_survivor_lead_again():
    c = Cluster(3)
    try:
        lead = c.start()
        lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)"] +
                   ["INSERT INTO t(id) VALUES(%d)" % i for i in range(1, 21)])
        survivor = c.nodes[0]
        wait_for(lambda: survivor.query_get("SELECT COUNT(*) FROM t", "?level=none").json()
                 ["results"][0].get("values") == [[20]], 10, "rows on the survivor")
        for n in c.nodes:
            n.kill()
        # A majority is gone for good: force a one-node configuration on the survivor.
        peers = os.path.join(survivor.datadir, "raft", "peers.json")
        with open(peers, "w") as f:
            json.dump([{"id": survivor.node_id, "address": survivor.raft_addr,
                        "non_voter": False}], f)
        survivor.start()
        wait_for(lambda: survivor.status("store.raft.state") == "Leader", 10,
                 "the survivor to lead its one-node cluster")
        eq(survivor.query_get("SELECT COUNT(*) FROM t").json()["results"][0]["values"], [[20]],
           "rows after recovery")
        survivor.ex_ok(["INSERT INTO t(id) VALUES(21)"])
        check(not os.path.exists(peers), "peers.json renamed")
        check(os.path.exists(os.path.join(survivor.datadir, "raft", "peers.info")),
              "peers.info present")
        eq(sorted(survivor.get("/nodes").json()), [survivor.node_id], "/nodes after recovery")
    finally:
        c.close()
