"""rqlitectl's admin subcommands against a real 3-node cluster (issue 6)."""
import json
import os

from harness import Cluster, Node, check, eq, mkdtemp
from test_cli_rqlitectl import hostport, run


def test_admin_subcommands_on_a_three_node_cluster_and_backup_restore():
    c = Cluster(3)
    fresh = None
    try:
        lead = c.start()
        lead.ex_ok(["CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT)",
                    "INSERT INTO foo(id, name) VALUES(1, 'fiona')",
                    "INSERT INTO foo(id, name) VALUES(2, 'declan')"])
        follower = [n for n in c.nodes if n is not lead][0]
        hp = hostport(follower)

        rc, out, err = run(hp + ["nodes", "--json"])
        eq(rc, 0, "nodes exit (stderr %r)" % err)
        nodes = json.loads(out)
        eq(sorted(nodes), ["1", "2", "3"], "nodes --json on a follower")
        eq([k for k, v in nodes.items() if v["leader"]], [lead.node_id], "one leader")
        rc, out, err = run(hp + ["leader", "--json"])
        eq((rc, json.loads(out)["id"]), (0, lead.node_id), "leader --json")
        rc, out, err = run(hp + ["status", "store.raft.state", "--json"])
        eq((rc, json.loads(out)), (0, "Follower"), "status KEY --json on a follower")
        rc, out, err = run(hp + ["ready"])
        eq((rc, out), (0, "ready\n"), "ready")

        d = mkdtemp("rqlitectl-cluster-")
        bak = os.path.join(d, "bak.sqlite")
        rc, out, err = run(hp + ["backup", bak])
        eq(rc, 0, "backup through a follower (stderr %r)" % err)
        check(open(bak, "rb").read(16) == b"SQLite format 3\x00", "backup is a SQLite file")
        dump = os.path.join(d, "bak.sql")
        rc, out, err = run(hp + ["backup", dump, "--sql"])
        eq(rc, 0, "sql backup (stderr %r)" % err)
        check("INSERT INTO \"foo\" VALUES(2,'declan');" in open(dump).read(), "dump content")

        # Restore into an empty node: the same rows.
        fresh = Node("9").start()
        rc, out, err = run(hostport(fresh) + ["restore", bak])
        eq(rc, 0, "restore into an empty node (stderr %r)" % err)
        r = fresh.query_get("SELECT id, name FROM foo ORDER BY id").json()["results"][0]
        eq(r.get("values"), [[1, "fiona"], [2, "declan"]], "rows after restore")

        # Stepdown through the CLI hands leadership to another node.
        rc, out, err = run(hp + ["stepdown"])
        eq(rc, 0, "stepdown (stderr %r)" % err)
        new = c.leader(timeout=10, exclude=(lead,))
        check(new is not lead, "a new leader after stepdown")
    finally:
        if fresh is not None:
            fresh.stop()
        c.close()
