"""Snapshots in a cluster: a follower (or a brand-new node) that is behind a truncated log
catches up from the leader's snapshot, and every node snapshots by itself at -raft-snap.

POST /snapshot?trailing_logs=N forces a snapshot that keeps only N log entries (API.md
§1.6, §6); store.raft.last_snapshot_index in /status tells whether a node has one.
"""

import os

from harness import Cluster, TestFailure, check, cluster_test, eq, mkdtemp, rows, status_is

SQL = "SELECT id FROM t ORDER BY id"


def snap_index(n):
    return n.status("store.raft.last_snapshot_index")


@cluster_test(60)
def test_followers_behind_a_truncated_log_catch_up_from_a_snapshot():
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"])
    behind = c.followers(lead)[0]
    behind.kill()
    for i in range(1, 41):
        lead.ex_ok([["INSERT INTO t(id, v) VALUES(?, ?)", i, "row %d" % i]])
    r = lead.post("/snapshot?trailing_logs=1")
    status_is(r, 200, "POST /snapshot?trailing_logs=1 on the leader")
    eq(r.body, b"", "POST /snapshot body")
    idx = snap_index(lead)
    check(isinstance(idx, int) and idx >= lead.status("store.raft.applied_index") - 1,
          "leader's last_snapshot_index %r after the forced snapshot" % idx)
    expected = [[i] for i in range(1, 41)]

    # The leader's log no longer holds what the follower lacks. It catches up from the
    # snapshot, or from AppendEntries the leader queued for it while it was down (Raft
    # allows either: a delayed message is still a valid one).
    behind.start(wait=False)
    c.wait_rows(behind, SQL, expected, timeout=20)

    # A node that never had anything can only use the snapshot.
    fresh = c.add_node("4")
    fresh.datadir = os.path.join(mkdtemp(), "data")
    c.start_node(fresh, join=[lead])
    c.wait_rows(fresh, SQL, expected, timeout=20)
    try:
        c.wait_for(lambda: (snap_index(fresh) or 0) >= idx, 10,
                   "%s to hold the leader's snapshot (index >= %d)" % (fresh.name, idx))
    except TestFailure as e:
        raise TestFailure("%s; its store.raft is %r" % (e, fresh.status("store.raft")))

    # Both keep up with new writes afterwards and survive a restart.
    lead.ex_ok(["INSERT INTO t(id, v) VALUES(41, 'after')"])
    expected.append([41])
    for n in (behind, fresh):
        c.wait_rows(n, SQL, expected, timeout=10)
    behind.restart()
    c.wait_rows(behind, SQL, expected, timeout=15)
    eq(rows(behind.query(["SELECT v FROM t WHERE id = 7"], q="?level=none")), [["row 7"]],
       "a value restored from the snapshot")


@cluster_test(60)
def test_every_node_snapshots_at_the_threshold_and_restarts_from_it():
    c = Cluster(3, extra_args=["-raft-snap", "16", "-raft-snap-int", "200ms"])
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
    for i in range(1, 51):
        c.nodes[i % 3].execute([["INSERT INTO t(id) VALUES(?)", i]])
    expected = [[i] for i in range(1, 51)]
    eq(rows(lead.query([SQL], q="?level=strong")), expected, "rows on the leader")
    for n in c.nodes:
        c.wait_for(lambda: (snap_index(n) or 0) > 0, 10,
                   "%s to take a snapshot (-raft-snap 16)" % n.name)
    f = c.followers(lead)[0]
    f.kill()
    f.start()
    c.wait_rows(f, SQL, expected, timeout=15)
    lead.ex_ok(["INSERT INTO t(id) VALUES(51)"])
    c.wait_rows(f, SQL, expected + [[51]], timeout=10)
