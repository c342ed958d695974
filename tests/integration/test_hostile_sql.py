"""Hostile and careless SQL against a 3-node cluster (issue 13).

Every write is replicated through the log and runs again on every node and at every
replay, so a statement that wedges, corrupts or escapes storage would do so everywhere
and for good. Each batch below sends requests an attacker or a careless client would,
checks each answer, then kill -9s every node and restarts them all (their logs replay),
and checks that the cluster serves again, the sentinel rows are intact, every
acknowledged write is present, nothing was created outside the data directories, and
the three replicas hold identical data (/db/backup?fmt=sql from each).

The cluster runs with small limits so that runaway statements stop quickly:
-db-write-steps 5000000 and -db-read-timeout 2s.
"""
import json
import os
import threading
import time

from harness import (Cluster, Node, TestFailure, check, cluster_test, eq, mkdtemp, rows,
                     timeout, wait_for)

STEPS = 5000000
INFINITE = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c")
SENTINELS = [[i, "sentinel-%d" % i] for i in range(1, 21)]
BUDGET_ERR = "write exceeded its budget of %d SQLite steps (-db-write-steps)" % STEPS
TX_OPEN = "transaction left open: a request must end every BEGIN or SAVEPOINT it starts"
TX_IN_TX = "disallowed statement: BEGIN, COMMIT, END or ROLLBACK in a request with transaction"

OUTSIDE = mkdtemp("rqlite-hostile-outside-")   # where escapes would write
ACKED = []                                     # ids of acknowledged writes to `acks`


def errors(resp):
    """Every error in an answer: the top-level one and each statement's, in order."""
    try:
        j = resp.json()
    except TestFailure:
        return ["HTTP %d %r" % (resp.status, resp.text[:200])]
    out = [j["error"]] if "error" in j else []
    for r in j.get("results", []):
        if isinstance(r, dict) and "error" in r:
            out.append(r["error"])
    return out


def refused(resp, why, what):
    eq(resp.status, 200, "%s: HTTP status (%s)" % (what, resp.text[:200]))
    errs = errors(resp)
    check(any(why in e for e in errs), "%s: expected an error containing %r, got %r"
          % (what, why, resp.text[:400]))


def fails(resp, what):
    """A clear refusal of bad input: a 4xx, or 200 with an error in the answer."""
    if 400 <= resp.status < 500:
        return
    eq(resp.status, 200, "%s: HTTP status (%s)" % (what, resp.text[:200]))
    check(errors(resp) != [], "%s: no error in %r" % (what, resp.text[:300]))


def ack(node, n_id, extra=(), q=""):
    """A write that must be acknowledged: inserts id n_id into acks."""
    stmts = list(extra) + [["INSERT INTO acks(id) VALUES(?)", n_id]]
    r = node.execute(stmts, q=q)
    eq(errors(r), [], "acknowledged write %d (%r)" % (n_id, stmts))
    ACKED.append(n_id)


def setup_module():
    c = Cluster(3, extra_args=["-db-write-steps", str(STEPS), "-db-read-timeout", "2s"])
    lead = c.start()
    lead.ex_ok(["CREATE TABLE sentinel (id INTEGER PRIMARY KEY, v TEXT)",
                "CREATE TABLE acks (id INTEGER PRIMARY KEY)",
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v)"])
    lead.ex_ok([["INSERT INTO sentinel(id, v) VALUES(?, ?)", i, v] for i, v in SENTINELS])
    lead.ex_ok([["INSERT INTO t(v) VALUES(?)", i] for i in range(50)])
    return c


def teardown_module(c):
    c.close()


def dump(node):
    r = node.get("/db/backup?fmt=sql&noleader", timeout=20)
    eq(r.status, 200, "backup of %s" % node.name)
    return r.text


def restart_all_and_verify(c, what):
    """kill -9 every node, restart them all, and check the cluster as the module says."""
    for n in c.nodes:
        n.kill()
    for n in c.nodes:
        n.start(wait=False)
    for n in c.nodes:
        n.wait_ready(30)
    lead = c.wait_formed(timeout=30)
    # The cluster serves again: a write and a linearizable read.
    ack(lead, len(ACKED) + 100000)
    got = rows(lead.query(["SELECT id, v FROM sentinel ORDER BY id"], q="?level=linearizable"))
    eq(got, SENTINELS, "sentinel rows after %s" % what)
    ids = [r[0] for r in rows(lead.query(["SELECT id FROM acks ORDER BY id"],
                                         q="?level=linearizable"))]
    missing = sorted(set(ACKED) - set(ids))
    check(not missing, "after %s: acknowledged writes missing: %r" % (what, missing[:10]))
    check(os.listdir(OUTSIDE) == [], "after %s: files appeared outside the data "
          "directories: %r" % (what, os.listdir(OUTSIDE)))
    # Replicas identical once every node has applied everything.
    last = {}

    def same():
        last.clear()
        for n in c.nodes:
            last[n.name] = dump(n)
        return len(set(last.values())) == 1
    try:
        wait_for(same, 20, "identical SQL dumps from the three nodes")
    except TestFailure:
        a, b = list(last.values())[:2]
        diff = [(x, y) for x, y in zip(a.splitlines(), b.splitlines()) if x != y][:3]
        raise TestFailure("after %s: the replicas differ; first lines that differ: %r"
                          % (what, diff)) from None
    return lead


@cluster_test(180)
def test_poison_pills_are_refused_and_no_node_stays_broken(c):
    lead = c.leader()
    f = c.followers(lead)[0]
    refused(lead.execute(["PRAGMA hard_heap_limit=1"]), "disallowed pragma", "hard_heap_limit")
    refused(lead.execute(["PRAGMA soft_heap_limit=1"]), "disallowed pragma", "soft_heap_limit")
    refused(f.execute(["PRAGMA locking_mode=EXCLUSIVE"]), "disallowed pragma",
            "locking_mode through a follower")
    refused(lead.execute(["PRAGMA locking_mode(EXCLUSIVE)"]), "disallowed pragma",
            "locking_mode(EXCLUSIVE)")
    refused(lead.execute(["PRAGMA writable_schema=1",
                          "UPDATE sqlite_master SET sql = 'CREATE TABLE t (' WHERE name = 't'"]),
            "disallowed pragma", "writable_schema then sqlite_master")
    refused(lead.execute(["UPDATE sqlite_master SET sql = 'x' WHERE name = 't'"]),
            "may not be modified", "sqlite_master without writable_schema")
    refused(lead.execute(["SELECT fts3_tokenizer('simple', x'4141414141414141')"]),
            "disallowed function: fts3_tokenizer", "fts3_tokenizer with a pointer")
    refused(lead.query(["SELECT hex(fts3_tokenizer('simple'))"]),
            "disallowed function: fts3_tokenizer", "fts3_tokenizer read")
    refused(lead.execute(["SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')"]),
            "disallowed function: load_extension", "load_extension")
    refused(lead.execute(["PRAGMA journal_mode=OFF"]), "disallowed pragma", "journal_mode")
    refused(lead.execute(["PRAGMA query_only=1"]), "disallowed pragma", "query_only")
    refused(lead.execute(["PRAGMA max_page_count=1"]), "disallowed pragma", "max_page_count")
    refused(lead.execute(["INSERT INTO sqlite_dbpage VALUES(1, zeroblob(4096))"]),
            "", "a write to sqlite_dbpage")
    # Runaway writes stop at the same step on every node, with rqlite's words for a
    # db_timeout and ours for the budget; both were answered quickly.
    upd = "UPDATE t SET v = -1 WHERE (%s) = 0" % INFINITE
    t0 = time.monotonic()
    refused(lead.execute([upd]), BUDGET_ERR, "runaway UPDATE")
    refused(f.execute(["INSERT INTO t(v) " + INFINITE]), BUDGET_ERR,
            "runaway INSERT through a follower")
    refused(lead.execute([upd], q="?db_timeout=50ms"), "execute timeout",
            "runaway UPDATE with db_timeout")
    refused(lead.request([upd]), BUDGET_ERR, "runaway UPDATE on /db/request")
    check(time.monotonic() - t0 < 30, "runaway writes took %.1fs to answer"
          % (time.monotonic() - t0))
    refused(lead.query([INFINITE], q="?level=strong"), "query timeout",
            "runaway strong read (through the log)")
    ack(lead, 1)
    lead = restart_all_and_verify(c, "the poison pills")
    eq(rows(lead.query(["SELECT count(*) FROM t WHERE v = -1"])), [[0]],
       "rows the runaway UPDATE touched")
    eq(rows(lead.query(["PRAGMA locking_mode"])), [["normal"]], "locking mode after restart")


@cluster_test(150)
def test_transactions_cannot_outlive_their_request(c):
    lead = c.leader()
    f = c.followers(lead)[0]
    for body in (["BEGIN", "INSERT INTO acks(id) VALUES(900001)"],
                 ["BEGIN; INSERT INTO acks(id) VALUES(900002);"],
                 ["SAVEPOINT a", "INSERT INTO acks(id) VALUES(900003)"]):
        refused(lead.execute(body), TX_OPEN, "left open: %r" % body)
        refused(f.execute(body), TX_OPEN, "left open through a follower: %r" % body)
        refused(lead.request(body), TX_OPEN, "left open on /db/request: %r" % body)
    refused(lead.execute(["BEGIN", "INSERT INTO acks(id) VALUES(900004)"], q="?queue"), TX_OPEN,
            "left open in a queued write")
    refused(lead.execute(["INSERT INTO acks(id) VALUES(900005)", "COMMIT"], q="?transaction"),
            TX_IN_TX, "COMMIT inside ?transaction")
    refused(lead.execute(["BEGIN"], q="?transaction"), TX_IN_TX, "BEGIN inside ?transaction")
    # Whole transactions the request ends itself work, as in rqlite.
    ack(lead, 3)
    r = lead.execute(["BEGIN", "INSERT INTO acks(id) VALUES(4)", "COMMIT",
                      "SAVEPOINT s", "INSERT INTO acks(id) VALUES(5)", "RELEASE s"])
    eq(errors(r), [], "closed transactions")
    ACKED.extend([4, 5])
    r = lead.execute(["INSERT INTO acks(id) VALUES(6)", "SAVEPOINT x",
                      "INSERT INTO acks(id) VALUES(900006)", "ROLLBACK TO x", "RELEASE x"],
                     q="?transaction")
    eq(errors(r), [], "savepoints inside ?transaction")
    ACKED.append(6)
    # A read that leaves its transaction open must not pin an old snapshot.
    r = lead.query(["BEGIN", "SELECT count(*) FROM acks"], q="?level=none")
    ack(lead, 7)
    got = [x[0] for x in rows(lead.query(["SELECT id FROM acks WHERE id = 7"], q="?level=none"))]
    eq(got, [7], "a write after a read that said BEGIN")
    # None of the refused writes is anywhere.
    got = rows(lead.query(["SELECT id FROM acks WHERE id > 900000"], q="?level=strong"))
    eq(got, [], "refused writes")
    lead = restart_all_and_verify(c, "the transaction cases")
    got = rows(lead.query(["SELECT id FROM acks WHERE id > 900000"], q="?level=linearizable"))
    eq(got, [], "refused writes after the restart")


@cluster_test(120)
def test_nothing_reaches_files_outside_the_data_directory(c):
    lead = c.leader()
    x = os.path.join(OUTSIDE, "x.db")
    y = os.path.join(OUTSIDE, "y.db")
    refused(lead.execute(["ATTACH DATABASE '%s' AS x" % x]), "disallowed statement: ATTACH",
            "ATTACH")
    refused(lead.execute(["ATTACH 'file:%s?mode=rwc' AS x" % x]),
            "disallowed statement: ATTACH", "ATTACH by URI")
    refused(lead.query(["ATTACH DATABASE '%s' AS x" % x]), "disallowed statement: ATTACH",
            "ATTACH as a read")
    refused(lead.execute(["VACUUM INTO '%s'" % y]), "disallowed statement: VACUUM INTO",
            "VACUUM INTO")
    refused(lead.execute(["PRAGMA temp_store_directory = '%s'" % OUTSIDE]), "disallowed pragma",
            "temp_store_directory")
    refused(lead.execute(["DETACH DATABASE main"]), "disallowed statement: DETACH", "DETACH")
    # A SQL dump is client SQL too: loaded through the log, refused by storage alike.
    r = lead.post("/db/load", "CREATE TABLE z (a);\nATTACH DATABASE '%s' AS q;\n" % x,
                  ctype="text/plain")
    refused(r, "disallowed statement: ATTACH", "ATTACH inside a loaded dump")
    r = lead.execute(["VACUUM"])
    eq(errors(r), [], "plain VACUUM")
    ack(lead, 8)
    restart_all_and_verify(c, "the file-system cases")


@cluster_test(120)
def test_runaway_reads_block_neither_writes_nor_other_reads(c):
    lead = c.leader()
    out = {}

    def long_read(key, level):
        t0 = time.monotonic()
        r = lead.query([INFINITE], q="?level=" + level, timeout=30)
        out[key] = (r, time.monotonic() - t0)
    threads = [threading.Thread(target=long_read, args=("r%d" % i, lv))
               for i, lv in enumerate(("none", "weak", "linearizable"))]
    for t in threads:
        t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    ack(lead, 9)
    w = time.monotonic() - t0
    t0 = time.monotonic()
    got = rows(lead.query(["SELECT count(*) FROM sentinel"], q="?level=none"))
    rd = time.monotonic() - t0
    for t in threads:
        t.join(30)
    check(w < 1.5, "a write took %.2fs while three runaway reads ran" % w)
    check(rd < 1.5, "a short read took %.2fs while three runaway reads ran" % rd)
    eq(got, [[len(SENTINELS)]], "the short read")
    for k, (r, took) in sorted(out.items()):
        refused(r, "query timeout", "runaway read %s" % k)
        check(took < 10, "runaway read %s took %.1fs (read timeout 2s)" % (k, took))
    # Results too large for the node to hold answer an error, not the rows.
    refused(lead.query(["SELECT hex(zeroblob(15000000)), hex(zeroblob(15000000)), "
                        "hex(zeroblob(15000000))"]),
            "query result too large", "a 90 MB result")
    refused(lead.query(["SELECT hex(zeroblob(35000000))"]), "string or blob too big",
            "a 70 MB value")
    refused(lead.execute(["INSERT INTO t(v) VALUES(zeroblob(2000000000))"]),
            "string or blob too big", "a 2 GB zeroblob write")
    refused(lead.execute(["INSERT INTO t(v) VALUES(printf('%.*c', 2147483647, 'x'))"]),
            "too big", "a 2 GB printf write")
    ack(lead, 10)
    restart_all_and_verify(c, "the runaway reads")


@cluster_test(150)
def test_fuzzer_style_statements_leave_the_cluster_whole(c):
    lead = c.leader()
    deep = "SELECT " + "(" * 1200 + "1" + ")" * 1200
    refused(lead.query([deep]), "", "an expression 1200 deep")
    refused(lead.execute(["INSERT INTO t(v) " + deep]), "", "a write 1200 deep")
    union = " UNION ALL ".join("SELECT %d" % i for i in range(600))
    refused(lead.query([union]), "too many terms in compound SELECT", "600-way UNION")
    refused(lead.execute(["CREATE TABLE wide (%s)" % ", ".join("c%d" % i for i in range(2100))]),
            "too many columns", "a 2100-column table")
    refused(lead.query(["SELECT json('%s')" % ("[" * 3000 + "]" * 3000)]), "",
            "JSON nested 3000 deep")
    refused(lead.query(["SELECT '%s' LIKE 'a%%'" % ("a" * 10) + " ESCAPE 'xy'"]), "",
            "LIKE with a two-character ESCAPE")
    refused(lead.query(["SELECT 'aaaa' LIKE '%s'" % ("%a" * 600)]),
            "LIKE or GLOB pattern too complex", "a 1200-character LIKE pattern")
    # Work done by a trigger counts against the write's budget too.
    lead.ex_ok(["CREATE TABLE loop (n INTEGER)", "CREATE TABLE loop_src (n INTEGER)",
                "CREATE TRIGGER loop_up AFTER INSERT ON loop_src BEGIN "
                "INSERT INTO loop SELECT x FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                "SELECT x + 1 FROM c) SELECT x FROM c); END"])
    refused(lead.execute(["INSERT INTO loop_src VALUES (0)"]), BUDGET_ERR,
            "a trigger that inserts forever")
    lead.ex_ok(["DROP TRIGGER loop_up"])
    eq(rows(lead.query(["SELECT count(*) FROM loop"], q="?level=strong")), [[0]],
       "rows of the failed trigger insert")
    # Virtual tables with built-in modules work; a bad tokenizer is an error.
    lead.ex_ok(["CREATE VIRTUAL TABLE docs USING fts5(body)",
                "INSERT INTO docs VALUES ('the quick brown fox')",
                "CREATE TRIGGER docs_t AFTER INSERT ON t BEGIN "
                "INSERT INTO docs VALUES (new.v); END"])
    ack(lead, 11, extra=[["INSERT INTO t(v) VALUES(?)", "jumps over"]])
    refused(lead.execute(["CREATE VIRTUAL TABLE bad USING fts3(x, tokenize=nosuch)"]), "",
            "an unknown FTS tokenizer")
    eq(rows(lead.query(["SELECT count(*) FROM docs WHERE docs MATCH 'jumps'"],
                       q="?level=strong")), [[1]], "FTS row written by a trigger")
    # Values that change between nodes are made the same before the log.
    ack(lead, 12, extra=["INSERT INTO t(v) VALUES(random())",
                         "INSERT INTO t(v) VALUES(randomblob(16))",
                         "INSERT INTO t(v) VALUES(datetime('now'))"])
    # What the gateway does not rewrite (?norwrandom, a DEFAULT, a large RANDOMBLOB) is
    # drawn from a sequence seeded by the entry: the replicas still agree.
    lead.ex_ok(["CREATE TABLE rnd (id INTEGER PRIMARY KEY, a DEFAULT (random()), b)"])
    ack(lead, 13, extra=["INSERT INTO rnd(b) VALUES(randomblob(2000000))",
                         "INSERT INTO rnd(b) VALUES(random())"], q="?norwrandom")
    ack(lead, 14, extra=["INSERT INTO rnd(b) VALUES(randomblob(3000000))"])
    # Garbage and binary junk in SQL are SQLite errors, nothing worse.
    fails(lead.execute(["\x01\x02SELECT\x00 1"]), "control characters")
    fails(lead.execute([["INSERT INTO t(v) VALUES(?)"]]), "a missing argument")
    fails(lead.execute([["INSERT INTO t(v) VALUES(?)", [1, 2, 300]]]),
          "a byte array with a value over 255")
    restart_all_and_verify(c, "the fuzzer-style statements")


@timeout(150)
def test_a_storage_busy_in_one_long_step_is_not_taken_for_hung():
    """One SQLite step (a LIKE over an 8 MB value) can run for seconds without calling
    the progress handler; the heartbeat thread keeps the storage alive through it."""
    n = Node(extra_args=["-raft-apply-timeout", "90s"]).start()
    n.ex_ok(["CREATE TABLE b (x)"])
    before = n.children().get("storage")
    t0 = time.monotonic()
    r = n.execute(["INSERT INTO b SELECT printf('%.*c', 8000000, 'a') LIKE "
                   "('%' || printf('%.*c', 998, 'a') || 'b')"], timeout=100)
    took = time.monotonic() - t0
    eq(errors(r), [], "the long write")
    eq(rows(n.query(["SELECT x FROM b"])), [[0]], "its row")
    eq(n.children().get("storage"), before, "storage pid after a %.1fs step" % took)
    log = "\n".join(n.log_tail(200))
    check("missed" not in log, "the supervisor counted missed heartbeats:\n" + log[-2000:])
    if took > 6:
        check("storage busy for" in log, "no busy report in the log after a %.1fs step" % took)
