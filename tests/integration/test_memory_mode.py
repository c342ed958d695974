"""-on-disk=false: SQLite in memory, the Raft log and snapshots on disk (issue 5)."""
import os

from harness import Node, body_is, check, eq, status_is

MEM = ["-on-disk=false", "-raft-snap", "10", "-raft-snap-int", "200ms"]


def _count(n):
    return n.query_get("SELECT COUNT(*) FROM t").json()["results"][0]["values"][0][0]


def test_memory_mode_snapshots_restarts_backs_up_and_loads():
    n = Node(extra_args=MEM).start()
    try:
        n.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"])
        for i in range(30):
            n.ex_ok([["INSERT INTO t(id, v) VALUES(?, ?)", i, "v%d" % i]])
        check(not os.path.exists(os.path.join(n.datadir, "db.sqlite")), "no database file")
        status_is(n.post("/snapshot", b""), 200)
        check(n.get("/status?key=store.num_snapshots").json() >= 1, "a snapshot")
        eq(n.get("/status?key=store.on_disk").json(), False, "/status shows memory mode")
        n.kill()
        n.start()
        eq(_count(n), 30, "rows after kill -9: rebuilt from snapshot and log")
        n.stop()
        n.start()
        eq(_count(n), 30, "rows after a clean restart")
        backup = n.get("/db/backup")
        status_is(backup, 200)
        check(backup.body[:16] == b"SQLite format 3\x00", "binary backup from memory")
        dump = n.get("/db/backup?fmt=sql").text
        check("INSERT INTO \"t\" VALUES(29,'v29');" in dump, "dump from memory")
        n.ex_ok(["DELETE FROM t"])
        body_is(n.post("/db/load", backup.body), '{"results":[]}')
        eq(_count(n), 30, "rows after loading the backup")
    finally:
        n.stop()
