"""Automatic VACUUM and PRAGMA optimize (-auto-vacuum-int, -auto-optimize-int; issue 15).

rqlite runs both on each node by itself; here the leader proposes them through the log so
that every replica runs them at the same point. The test shows why that matters: VACUUM
renumbers the rowids of a table without an INTEGER PRIMARY KEY, and the three nodes must
still agree on every row's rowid afterwards.
"""
from harness import Cluster, check, cluster_test, eq, rows, wait_for


def setup_module():
    c = Cluster(3, extra_args=["-auto-vacuum-int", "1s", "-auto-optimize-int", "1s"])
    c.start()
    return c


def teardown_module(c):
    c.close()


def table(node, sql):
    return rows(node.query([sql], q="?level=none"))


@cluster_test(90)
def test_vacuum_and_optimize_run_on_every_node_at_the_same_point(c):
    lead = c.leader()
    # No index: SQLite's VACUUM keeps rowids only of tables with one.
    lead.ex_ok(["CREATE TABLE nr (x)", "CREATE TABLE ix (x)", "CREATE INDEX ix_x ON ix(x)",
                "INSERT INTO ix(x) VALUES(1), (2), (3)"])
    lead.ex_ok([["INSERT INTO nr(x) VALUES(?)", i] for i in range(300)])
    lead.ex_ok(["DELETE FROM nr WHERE x % 3 = 0"])
    # Rowids 2, 3, 5, 6, ... until a VACUUM after the DELETE renumbers them 1..200, in
    # order; every node shows the same numbering.
    renumbered = [[i + 1, x] for i, x in enumerate(x for x in range(300) if x % 3)]
    for n in c.nodes:
        c.wait_rows(n, "SELECT rowid, x FROM nr ORDER BY x", renumbered, timeout=20)
    # optimize analysed the indexed table: sqlite_stat1 has the same rows everywhere.
    stat = None
    for n in c.nodes:
        got = wait_for(lambda: table(n, "SELECT tbl, idx, stat FROM sqlite_stat1 "
                                        "WHERE tbl = 'ix'") or None, 20, "sqlite_stat1 on %s" % n.name)
        if stat is None:
            stat = got
        eq(got, stat, "sqlite_stat1 on %s" % n.name)

    # A write that depends on rowids now does the same on every node.
    lead.ex_ok(["DELETE FROM nr WHERE rowid <= 10"])
    want = table(lead, "SELECT count(*), min(x) FROM nr")
    for n in c.nodes:
        c.wait_rows(n, "SELECT count(*), min(x) FROM nr", want)

    # rqlite's /status store.auto_vacuum and the counters of the node that proposed.
    for n in c.nodes:
        av = n.status("store").get("auto_vacuum")
        check(av is not None and "next_vacuum_after" in av and "last_vacuum" in av,
              "store.auto_vacuum on %s: %r" % (n.name, av))
        check(av["last_vacuum"].endswith("Z") and "T" in av["last_vacuum"],
              "last_vacuum is an RFC 3339 time: %r" % av)
    store = lead.get("/debug/vars").json()["store"]
    check(store.get("num_auto_vacuums", 0) >= 1 and store.get("num_auto_optimizes", 0) >= 1,
          "the leader's counters: %r" % store)


@cluster_test(60)
def test_the_last_run_survives_a_restart(c):
    lead = c.leader()
    f = c.followers(lead)[0]
    last = wait_for(lambda: f.status("store").get("auto_vacuum", {}).get("last_vacuum"),
                    20, "a vacuum known on %s" % f.name)
    f.stop()
    f.extra_args += ["-auto-vacuum-int", "1h"]    # the later flag wins
    f.start()
    av = f.status("store")["auto_vacuum"]
    check(av.get("last_vacuum", "") >= last, "last_vacuum after restart: %r (was %r)" % (av, last))
