"""Backup, load and boot (API.md §5)."""
import gzip
import os
import sqlite3

from harness import Cluster, Node, body_is, check, eq, mkdtemp, status_is, wait_for


def _node_with_rows():
    n = Node().start()
    n.ex_ok(["CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)",
             "INSERT INTO foo(id, name) VALUES(1, 'fiona')",
             "INSERT INTO foo(id, name) VALUES(2, 'it''s')"])
    return n


def _sqlite_rows(data, sql="SELECT id, name FROM foo ORDER BY id"):
    path = os.path.join(mkdtemp(), "b.db")
    with open(path, "wb") as f:
        f.write(data)
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_binary_backup_is_a_consistent_sqlite_file_in_wal_mode():
    n = _node_with_rows()
    try:
        r = n.get("/db/backup")
        status_is(r, 200)
        eq(r.header("Content-Type"), "application/octet-stream", "Content-Type")
        check(r.body[:16] == b"SQLite format 3\x00", "SQLite header")
        eq(r.body[18:20], b"\x02\x02", "WAL mode header bytes")
        eq(_sqlite_rows(r.body), [(1, "fiona"), (2, "it's")], "rows in the backup")
        d = n.get("/db/backup?fmt=delete")
        eq(d.body[18:20], b"\x01\x01", "fmt=delete header bytes")
        v = n.get("/db/backup?vacuum")
        eq(_sqlite_rows(v.body), [(1, "fiona"), (2, "it's")], "rows in the vacuumed backup")
        body_is(n.get("/db/backup?fmt=sql&vacuum"), "invalid backup format\n", status=500)
        z = n.get("/db/backup?compress")
        eq(_sqlite_rows(gzip.decompress(z.body)), [(1, "fiona"), (2, "it's")], "gzip backup")
        eq(n.req("POST", "/db/backup").status, 405, "POST /db/backup")
    finally:
        n.stop()


def test_sql_dump_format_and_tables_filter():
    n = _node_with_rows()
    try:
        n.ex_ok(["CREATE TABLE bar (x TEXT)", "INSERT INTO bar VALUES('b')"])
        r = n.get("/db/backup?fmt=sql")
        status_is(r, 200)
        eq(r.header("Content-Type"), "application/sql", "Content-Type")
        eq(r.text, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
           "CREATE TABLE bar (x TEXT);\nINSERT INTO \"bar\" VALUES('b');\n"
           "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT);\n"
           "INSERT INTO \"foo\" VALUES(1,'fiona');\nINSERT INTO \"foo\" VALUES(2,'it''s');\n"
           "COMMIT;\n", "dump")
        only = n.get("/db/backup?fmt=sql&tables=foo").text
        check("bar" not in only and "fiona" in only, "tables=foo: %r" % only)
    finally:
        n.stop()


def test_load_of_a_sqlite_file_replaces_the_data_on_every_node():
    c = Cluster(3)
    try:
        c.start()
        lead = c.leader()
        lead.ex_ok(["CREATE TABLE old (x)", "INSERT INTO old VALUES(1)"])
        path = os.path.join(mkdtemp(), "new.db")
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("INSERT INTO foo VALUES(7, 'seven')")
        con.commit()
        con.close()
        data = open(path, "rb").read()
        follower = [n for n in c.nodes if n is not lead][0]
        body_is(follower.post("/db/load", data, ctype="application/octet-stream"),
                '{"results":[]}')
        for n in c.nodes:
            wait_for(lambda n=n: n.query_get("SELECT name FROM foo", "?level=none").json()
                     ["results"][0].get("values") == [["seven"]], 10, "loaded data on " + n.name)
            r = n.query_get("SELECT * FROM old", "?level=none").json()["results"][0]
            eq(r.get("error"), "no such table: old", "old data gone on " + n.name)
    finally:
        c.close()


def _big_sqlite_file(mb):
    """A SQLite file of about mb MB with deterministic, incompressible rows."""
    import hashlib
    path = os.path.join(mkdtemp(), "big.db")
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT)")
    rows = []
    for i in range(mb * 1000):
        seed = hashlib.sha256(b"%d" % i).hexdigest()
        rows.append((i, seed * 15))  # 960 bytes
    con.executemany("INSERT INTO big VALUES(?, ?)", rows)
    con.commit()
    con.close()
    return path


BIG_Q = "SELECT COUNT(*), SUM(id), SUM(LENGTH(v)), MAX(v), MIN(v) FROM big"


def test_load_of_a_sqlite_file_over_the_body_limit_goes_in_chunks_to_every_node():
    # 40 MB: past the 32 MiB in-memory body limit (spooled to disk by the gateway) and
    # ten log entries of 4 MiB. Snapshots are due every few entries and must wait for
    # the sequence to end; a follower killed afterwards comes back with every row.
    c = Cluster(3, extra_args=["-raft-snap", "4", "-raft-snap-int", "100ms"])
    try:
        c.start()
        lead = c.leader()
        lead.ex_ok(["CREATE TABLE old (x)", "INSERT INTO old VALUES(1)"])
        path = _big_sqlite_file(40)
        con = sqlite3.connect(path)
        want = [list(r) for r in con.execute(BIG_Q).fetchall()]
        con.close()
        data = open(path, "rb").read()
        check(len(data) > 32 * 1024 * 1024, "file of %d bytes" % len(data))
        follower = [n for n in c.nodes if n is not lead][0]
        body_is(follower.post("/db/load", data, ctype="application/octet-stream", timeout=120),
                '{"results":[]}')
        for n in c.nodes:
            wait_for(lambda n=n: n.query_get(BIG_Q, "?level=none").json()
                     ["results"][0].get("values") == want, 30, "loaded data on " + n.name)
            r = n.query_get("SELECT * FROM old", "?level=none").json()["results"][0]
            eq(r.get("error"), "no such table: old", "old data gone on " + n.name)
        wait_for(lambda: lead.get("/status?key=store.raft.last_snapshot_index").json() > 0,
                 10, "a snapshot once the load is done")
        other = [n for n in c.nodes if n is not lead and n is not follower][0]
        other.kill()
        c.start_node(other)
        wait_for(lambda: other.query_get(BIG_Q, "?level=none").json()
                 ["results"][0].get("values") == want, 30, "data after kill -9 and restart")
        lead.ex_ok([["INSERT INTO big(id, v) VALUES(?, ?)", 10 ** 9, "later"]])
        wait_for(lambda: other.query_get("SELECT v FROM big WHERE id = 1000000000",
                                         "?level=none").json()["results"][0].get("values")
                 == [["later"]], 10, "later writes after the load")
    finally:
        c.close()


def test_a_sql_dump_over_the_body_limit_is_refused_clearly():
    n = Node().start()
    try:
        dump = b"CREATE TABLE t (a);\n" + b"INSERT INTO t VALUES(1);\n" * (33 * 1024 * 1024 // 25)
        r = n.post("/db/load", dump, ctype="text/plain", timeout=60)
        status_is(r, 413)
        check("load a SQLite file instead" in r.text, "error text: %r" % r.text)
        eq(n.query_get("SELECT * FROM t").json()["results"][0].get("error"), "no such table: t",
           "nothing ran")
    finally:
        n.stop()


def test_load_of_sql_text_runs_in_one_transaction_and_bad_input_changes_nothing():
    n = _node_with_rows()
    try:
        status_is(n.post("/db/load", "CREATE TABLE t (a);\nINSERT INTO t VALUES(1);\n",
                         ctype="text/plain"), 200)
        body_is(n.query_get("SELECT a FROM t"),
                '{"results":[{"columns":["a"],"types":["integer"],"values":[[1]]}]}')
        r = n.post("/db/load", "INSERT INTO t VALUES(2);\nINSERT INTO nope VALUES(3);\n",
                   ctype="text/plain")
        status_is(r, 200)
        check("no such table: nope" in r.text, "error reported: %s" % r.text)
        body_is(n.query_get("SELECT COUNT(*) FROM t"),
                '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[1]]}]}',
                what="rolled back")
        bad = b"SQLite format 3\x00" + b"\x00" * 50
        r = n.post("/db/load", bad)
        status_is(r, 500)  # rqlite: a failed binary load is a 500 with a text body
        check("invalid SQLite data" in r.text or "load" in r.text, "error text: %r" % r.text)
        eq(len(n.query_get("SELECT * FROM foo").json()["results"][0]["values"]), 2,
           "data untouched after a bad file")
    finally:
        n.stop()


def test_boot_restores_a_single_node_from_a_file():
    n = _node_with_rows()
    try:
        backup = n.get("/db/backup").body
        n.ex_ok(["DELETE FROM foo"])
        status_is(n.post("/boot", backup, ctype="application/octet-stream"), 200)
        eq(len(n.query_get("SELECT * FROM foo").json()["results"][0]["values"]), 2,
           "rows after boot")
        body_is(n.post("/boot", b"not sqlite"), "invalid SQLite data\n", status=400)
        # The booted data survives a restart (it went through the log).
        n.kill()
        n.start()
        eq(len(n.query_get("SELECT * FROM foo").json()["results"][0]["values"]), 2,
           "rows after restart")
    finally:
        n.stop()


def test_backup_through_a_follower_is_the_leaders_data():
    c = Cluster(3)
    try:
        c.start()
        lead = c.leader()
        lead.ex_ok(["CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)",
                    "INSERT INTO foo(id, name) VALUES(1, 'fiona')"])
        follower = [n for n in c.nodes if n is not lead][0]
        r = follower.get("/db/backup")
        status_is(r, 200, "backup through a follower")
        eq(_sqlite_rows(r.body), [(1, "fiona")], "rows in the proxied backup")
        s = follower.get("/db/backup?fmt=sql")
        check("INSERT INTO \"foo\" VALUES(1,'fiona');" in s.text, "proxied dump: %r" % s.text)
        red = follower.get("/db/backup?redirect")
        eq(red.status, 301, "?redirect still answers 301")
    finally:
        c.close()


def test_sql_dump_round_trips_through_load_into_an_empty_cluster():
    src = _node_with_rows()
    c = Cluster(3)
    try:
        src.ex_ok(["CREATE INDEX foo_name ON foo(name)",
                   "CREATE TABLE bar (x BLOB, y REAL)",
                   "INSERT INTO bar VALUES(x'00ff', 1.5)"])
        dump = src.get("/db/backup?fmt=sql").text
        c.start()
        follower = [n for n in c.nodes if n is not c.leader()][0]
        r = follower.post("/db/load", dump, ctype="text/plain")
        status_is(r, 200, "load of the dump through a follower")
        check("error" not in r.text, "load result: %s" % r.text)
        for n in c.nodes:
            wait_for(lambda n=n: n.get("/db/backup?fmt=sql&noleader").text == dump, 10,
                     "%s to dump exactly the same SQL" % n.name)
    finally:
        src.stop()
        c.close()
