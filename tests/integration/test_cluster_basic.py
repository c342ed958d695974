"""A three-node cluster formed by -join: membership views, writes and reads through any
node, forwarding, ?redirect, /remove body validation, garbage on the Raft port.

All tests share one cluster (node 1 bootstraps, nodes 2 and 3 join it). Expected values
come from rqlite's http/service.go, proxy/proxy.go, store/store.go and API.md §1.5, §1.6,
§2, §4: a request a follower forwards carries X-RQLITE-SERVED-BY = the leader's Raft
address, one served locally carries the node's own HTTP address.
"""

import os
import re
import signal
import socket
import threading
import time

from harness import (READY_TIMEOUT, Checks, Cluster, Node, TestFailure, check, cluster_test,
                     eq, rows, status_is, wait_for)

SETUP_TIMEOUT = 60.0
TEST_TIMEOUT = 40.0
READY_BODY = "[+]node ok\n[+]leader ok\n[+]store ok\n[+]db ok"
SERVED_BY = "X-RQLITE-SERVED-BY"


def setup_module():
    c = Cluster(3)
    try:
        c.start()
        c.leader().ex_ok(["CREATE TABLE w (id INTEGER PRIMARY KEY, via TEXT)"])
    except Exception as e:  # noqa: BLE001 - re-raised with the cluster's state
        state = c.describe()
        c.close()
        raise TestFailure("%s\n--- cluster state:\n%s" % (e, state)) from None
    return c


def teardown_module(c):
    c.close()


def served_by(lead, node):
    """What X-RQLITE-SERVED-BY must say for a request sent to node."""
    return lead.http_addr if node is lead else lead.raft_addr


@cluster_test(30)
def test_join_forms_one_cluster_of_three_voters(c):
    lead = c.wait_formed(timeout=10)
    ids = ["1", "2", "3"]
    version = lead.get("/status").header("X-RQLITE-VERSION")
    for n in c.nodes:
        r = n.get("/nodes")
        status_is(r, 200)
        j = r.json()
        eq(sorted(j), ids, "%s: ids in /nodes" % n.name)
        for m in c.nodes:
            e = j[m.node_id]
            what = "%s: /nodes entry of %s" % (n.name, m.name)
            eq(e.get("id"), m.node_id, what + " id")
            eq(e.get("api_addr"), "http://" + m.http_addr, what + " api_addr")
            eq(e.get("addr"), m.raft_addr, what + " addr")
            eq(e.get("voter"), True, what + " voter")
            eq(e.get("reachable"), True, what + " reachable")
            eq(e.get("leader"), m is lead, what + " leader")
            eq(e.get("version"), version, what + " version")
            check("error" not in e, "%s has an error: %r" % (what, e))
        j2 = n.get("/nodes?ver=2").json()
        eq([x.get("id") for x in j2.get("nodes", [])], ids, "%s: /nodes?ver=2 ids" % n.name)

        s = n.status("store")
        eq(s["raft"]["state"], "Leader" if n is lead else "Follower",
           "%s: store.raft.state" % n.name)
        eq(s["raft"].get("voter"), True, "%s: store.raft.voter" % n.name)
        eq(s.get("leader"), {"node_id": lead.node_id, "addr": lead.raft_addr},
           "%s: store.leader" % n.name)
        eq(s.get("nodes"), [{"id": m.node_id, "addr": m.raft_addr, "suffrage": "voter"}
                            for m in c.nodes], "%s: store.nodes" % n.name)
        eq(s["raft"].get("num_peers"), 2, "%s: store.raft.num_peers" % n.name)
        # Ours (DESIGN.md): no -cluster-key, so peer links are not authenticated.
        eq(s["raft"].get("peer_auth"), "disabled", "%s: store.raft.peer_auth" % n.name)

        r = n.get("/leader")
        status_is(r, 200, "%s: GET /leader" % n.name)
        j = r.json()
        eq((j.get("id"), j.get("addr"), j.get("api_addr"), j.get("leader"), j.get("voter"),
            j.get("reachable")),
           (lead.node_id, lead.raft_addr, "http://" + lead.http_addr, True, True, True),
           "%s: GET /leader (id, addr, api_addr, leader, voter, reachable)" % n.name)

        r = n.get("/readyz")
        status_is(r, 200, "%s: /readyz" % n.name)
        eq(r.text, READY_BODY, "%s: /readyz body" % n.name)


@cluster_test(40)
def test_writes_through_any_node_are_read_consistently_everywhere(c):
    lead = c.leader()
    order = [lead] + c.followers(lead)
    sql = "SELECT id FROM w WHERE id < 10 ORDER BY id"
    for i, n in enumerate(order, start=1):
        r = n.execute([["INSERT INTO w(id, via) VALUES(?, ?)", i, n.name]])
        status_is(r, 200, "insert %d through %s" % (i, n.name))
        eq(r.json(), {"results": [{"last_insert_id": i, "rows_affected": 1}]},
           "insert %d through %s" % (i, n.name))
        eq(r.header(SERVED_BY), served_by(lead, n),
           "insert through %s: %s" % (n.name, SERVED_BY))
        exp = [[k] for k in range(1, i + 1)]
        # Acknowledged means applied on the leader: consistent reads see it at once, on
        # every node (followers forward them).
        for m in c.nodes:
            for level in ("weak", "linearizable", "strong"):
                r = m.query([sql], q="?level=" + level)
                eq(rows(r), exp, "%s at level %s on %s after insert %d" % (sql, level, m.name, i))
                eq(r.header(SERVED_BY), served_by(lead, m),
                   "query at %s on %s: %s" % (level, m.name, SERVED_BY))
    exp = [[1], [2], [3]]
    for m in c.nodes:
        c.wait_rows(m, sql, exp, timeout=10)  # level none: local, eventually
        r = m.query_get(sql, q="?level=none")
        eq(r.header(SERVED_BY), m.http_addr, "level none on %s: %s" % (m.name, SERVED_BY))

    # readyz?sync on a follower: its commit index has caught up with the leader's.
    for m in c.followers(lead):
        r = m.get("/readyz?sync")
        eq((r.status, r.text), (200, "[+]node ok\n[+]leader ok\n[+]store ok\n[+]sync ok\n[+]db ok"),
           "/readyz?sync on %s" % m.name)

    # GET /db/query on a follower is forwarded like POST.
    f = c.followers(lead)
    r = f[1].query_get("SELECT via FROM w WHERE id = 2")
    eq(rows(r), [[order[1].name]], "GET query on %s" % f[1].name)
    eq(r.header(SERVED_BY), lead.raft_addr, "GET query on a follower: " + SERVED_BY)

    # /db/request with a write, through a follower: one log entry on the leader.
    r = f[0].request([["INSERT INTO w(id, via) VALUES(?, ?)", 4, "request"],
                      ["SELECT COUNT(*) FROM w WHERE id < 10"]])
    status_is(r, 200, "/db/request through a follower")
    j = r.json()
    res = j.get("results") or []
    eq(len(res), 2, "/db/request results: %r" % j)
    eq(res[0], {"last_insert_id": 4, "rows_affected": 1}, "/db/request write result")
    eq(res[1].get("values"), [[4]], "/db/request read result")
    eq(r.header(SERVED_BY), lead.raft_addr, "/db/request on a follower: " + SERVED_BY)

    # A per-statement SQL error travels back through the forwarder unchanged.
    r = f[1].execute([["INSERT INTO w(id, via) VALUES(?, ?)", 1, "dup"]])
    status_is(r, 200, "duplicate insert through a follower")
    eq(r.json(), {"results": [{"error": "UNIQUE constraint failed: w.id"}]},
       "duplicate insert through a follower")

    # The forwarded write reached every node.
    exp = [[1], [2], [3], [4]]
    for m in c.nodes:
        c.wait_rows(m, sql, exp, timeout=10)


@cluster_test(30)
def test_forwarded_writes_keep_their_options(c):
    lead = c.leader()
    f = c.followers(lead)
    soft = Checks()
    lead.ex_ok(["CREATE TABLE opts (id INTEGER PRIMARY KEY, v TEXT)"])

    # transaction: the first error rolls back and stops, on the leader, for the follower.
    r = f[0].execute([["INSERT INTO opts(id, v) VALUES(1, 'a')"],
                      ["INSERT INTO opts(id, v) VALUES(1, 'dup')"],
                      ["INSERT INTO opts(id, v) VALUES(2, 'b')"]], q="?transaction")
    soft.eq((r.status, r.text), (200, '{"results":[{"last_insert_id":1,"rows_affected":1},'
                                      '{"error":"UNIQUE constraint failed: opts.id"}]}'),
            "forwarded transaction with an error")
    soft.eq(rows(lead.query(["SELECT COUNT(*) FROM opts"], q="?level=strong")), [[0]],
            "rows after the rolled-back forwarded transaction")

    # raft_index and timings survive the trip.
    r = f[1].execute([["INSERT INTO opts(id, v) VALUES(3, 'c')"]], q="?raft_index&timings")
    j = r.json() if r.status == 200 else {}
    soft.check(isinstance(j.get("raft_index"), int) and j["raft_index"] > 0,
               "forwarded execute?raft_index: %r" % r.text)
    soft.check(isinstance(j.get("time"), (int, float)) and
               isinstance((j.get("results") or [{}])[0].get("time"), (int, float)),
               "forwarded execute?timings: %r" % r.text)
    commit = lead.status("store.raft.commit_index")
    soft.check(isinstance(j.get("raft_index"), int) and j["raft_index"] <= commit,
               "raft_index %r beyond the leader's commit index %r" % (j.get("raft_index"), commit))

    # Queued writes on a follower: answered at once, batched, forwarded.
    r = f[0].execute([["INSERT INTO opts(id, v) VALUES(10, 'queued')"]], q="?queue")
    soft.check(r.status == 200 and re.fullmatch(r'\{"results":\[\],"sequence_number":\d+\}',
                                                r.text) is not None,
               "queued write on a follower: %d %r" % (r.status, r.text))
    r = f[0].execute([["INSERT INTO opts(id, v) VALUES(11, 'waited')"]], q="?queue&wait")
    soft.eq(r.status, 200, "queued write with wait on a follower: %r" % r.text)
    soft.eq(rows(lead.query(["SELECT id, v FROM opts WHERE id >= 10 ORDER BY id"],
                            q="?level=strong")),
            [[10, "queued"], [11, "waited"]], "queued rows on the leader")
    for n in c.nodes:
        c.wait_rows(n, "SELECT id FROM opts ORDER BY id", [[3], [10], [11]], timeout=10)
    soft.done()


@cluster_test(30)
def test_redirect_on_a_follower_points_at_the_leaders_api(c):
    lead = c.leader()
    f = c.followers(lead)[0]
    base = "http://" + lead.http_addr
    before = rows(lead.query(["SELECT COUNT(*) FROM w"], q="?level=strong"))

    cases = [
        ("POST", "/db/execute?redirect&pretty", [["INSERT INTO w(via) VALUES('redirected')"]]),
        ("POST", "/db/execute?timings&redirect=true", [["INSERT INTO w(via) VALUES('r2')"]]),
        ("GET", "/db/query?q=SELECT%20COUNT(*)%20FROM%20w&redirect", None),
        ("GET", "/db/query?level=linearizable&redirect&q=SELECT%201", None),
        ("POST", "/db/query?level=strong&redirect", ["SELECT 1"]),
        ("POST", "/db/request?redirect", [["INSERT INTO w(via) VALUES('r3')"]]),
        ("DELETE", "/remove?redirect", {"id": "9"}),
    ]
    wrong = []  # Location mismatches, reported after the other checks
    for method, path, body in cases:
        r = f.req(method, path, body)
        status_is(r, 301, "%s %s on follower %s" % (method, path, f.name))
        if r.header("Location") != base + path:
            wrong.append("%s %s: Location %r, expected %r"
                         % (method, path, r.header("Location"), base + path))

    # level none never needs the leader, so there is nothing to redirect.
    r = f.query_get("SELECT COUNT(*) FROM w", q="?level=none&redirect")
    status_is(r, 200, "level none with redirect on a follower")

    # On the leader itself redirect changes nothing.
    r = lead.execute([["INSERT INTO w(id, via) VALUES(20, 'on leader')"]], q="?redirect")
    eq((r.status, r.json()), (200, {"results": [{"last_insert_id": 20, "rows_affected": 1}]}),
       "execute?redirect on the leader")

    # None of the redirected writes happened.
    after = rows(lead.query(["SELECT COUNT(*) FROM w"], q="?level=strong"))
    eq(after, [[before[0][0] + 1]], "row count after the redirected writes")
    check(not wrong, "\n".join(wrong))


@cluster_test(30)
def test_remove_rejects_malformed_bodies(c):
    lead = c.leader()
    f = c.followers(lead)[0]
    bodies = [b"", b"not json", b'{"id":"3","extra":"x"}', b'{"id":3}', b"{}",
              b'{"ID":"3"}', b'["3"]', b'"3"', b'{"id":"3"']
    for n in (lead, f):
        for b in bodies:
            r = n.req("DELETE", "/remove", b, headers={"Content-Type": "application/json"})
            status_is(r, 400, "DELETE /remove %r on %s" % (b, n.name))
            eq(r.body, b"", "DELETE /remove %r on %s: body" % (b, n.name))
        r = n.get("/remove")
        status_is(r, 405, "GET /remove on %s" % n.name)
    c.wait_formed(ids=["1", "2", "3"], timeout=5)


@cluster_test(30)
def test_garbage_on_the_raft_port_is_dropped(c):
    lead = c.leader()
    f = c.followers(lead)[0]
    kids = f.children()
    payloads = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",          # an HTTP client on the wrong port
        b"\x7f\xff\xff\xff" + b"\x00" * 64,            # a frame length far above any limit
        b"\x00\x00\x00\x10" + b"\xc1" * 16,            # 0xc1 is never valid msgpack
        b"\x00\x00\x00\x06" + b"\xa5hello",            # valid msgpack, not a message
        b"\x00" * 4096,
    ]
    for p in payloads:
        for target in (f, lead):
            s = socket.create_connection(("127.0.0.1", target.raft_port), timeout=5)
            try:
                try:
                    s.sendall(p)
                except (BrokenPipeError, ConnectionResetError):
                    continue  # already dropped
                closed = False
                deadline = time.monotonic() + 5
                try:
                    while time.monotonic() < deadline:
                        if not s.recv(65536):
                            closed = True
                            break
                except (ConnectionResetError, BrokenPipeError):
                    closed = True
                except socket.timeout:
                    pass
                check(closed, "%s kept a connection open after %r on its Raft port"
                      % (target.name, p[:40]))
            finally:
                s.close()
    eq(f.children(), kids, "%s role processes after the garbage (no crash, no restart)" % f.name)
    r = f.execute([["INSERT INTO w(via) VALUES('after garbage')"]])
    status_is(r, 200, "write through %s after the garbage" % f.name)
    check("error" not in r.text, "write after garbage: %r" % r.text)
    c.wait_formed(ids=["1", "2", "3"], timeout=10)


@cluster_test(30)
def test_join_address_serving_http_is_refused(c):
    # cmd/rqlited/main.go networkCheckJoinAddrs: a -join address answering HTTP is fatal.
    lead = c.leader()
    n = Node("9", extra_args=["-join", lead.http_addr, "-join-attempts", "1",
                              "-join-interval", "100ms"])
    n.start(wait=False)
    try:
        n.proc.wait(READY_TIMEOUT)
    except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired
        raise TestFailure("a node joining an HTTP address did not exit within %.0fs"
                          % READY_TIMEOUT)
    check(n.proc.returncode != 0, "exit status %r" % n.proc.returncode)
    log = "\n".join(n.log_tail(20))
    check("appears to be serving HTTP when it should be Raft" in log,
          "log does not say the join address serves HTTP:\n%s" % log)
    c.wait_formed(ids=["1", "2", "3"], timeout=5)


@cluster_test(40)
def test_large_requests_and_results_cross_the_forwarding_link(c):
    lead = c.leader()
    f = c.followers(lead)
    big = "x" * (1 << 20) + "end"
    r = f[0].execute([["CREATE TABLE IF NOT EXISTS big (id INTEGER PRIMARY KEY, v TEXT)"],
                      ["INSERT INTO big(id, v) VALUES(?, ?)", 1, big]])
    status_is(r, 200, "1 MiB value written through a follower")
    eq(r.json().get("results", [None])[-1], {"last_insert_id": 1, "rows_affected": 1},
       "1 MiB insert through a follower")
    r = f[1].query(["SELECT length(v), substr(v, -3) FROM big WHERE id = 1"],
                   q="?level=linearizable")
    eq(rows(r), [[len(big), "end"]], "length of the big value, read through the other follower")
    r = f[1].query(["SELECT v FROM big WHERE id = 1"], q="?level=strong", timeout=30)
    eq(rows(r), [[big]], "the 1 MiB value itself, forwarded back from the leader")
    for n in c.nodes:
        c.wait_rows(n, "SELECT length(v) FROM big WHERE id = 1", [[len(big)]], timeout=15)

    # Many statements in one forwarded request: one log entry, one result each.
    stmts = [["INSERT INTO big(id, v) VALUES(?, ?)", i, "s%d" % i] for i in range(2, 1002)]
    r = f[0].execute(stmts, q="?transaction", timeout=30)
    status_is(r, 200, "1000-statement batch through a follower")
    res = r.json().get("results", [])
    eq(len(res), 1000, "results of the 1000-statement batch")
    check(all("error" not in x for x in res), "errors in the batch: %r" % r.text[:300])
    eq(rows(f[1].query(["SELECT COUNT(*) FROM big"], q="?level=linearizable")), [[1001]],
       "rows after the batch")


@cluster_test(60)
def test_concurrent_forwarded_requests_get_their_own_answers(c):
    # Many requests share each node-to-node link; every answer must reach its own asker.
    lead = c.leader()
    f = c.followers(lead)
    lead.ex_ok(["CREATE TABLE IF NOT EXISTS par (id INTEGER PRIMARY KEY, v TEXT)"])
    wrong = []
    lock = threading.Lock()

    def client(k):
        for j in range(25):
            i = 1000 * (k + 1) + j
            v = "client %d request %d" % (k, j)
            try:
                r = f[(k + j) % 2].execute([["INSERT INTO par(id, v) VALUES(?, ?)", i, v]],
                                           timeout=20)
                res = r.json().get("results") if r.status == 200 else None
                if res != [{"last_insert_id": i, "rows_affected": 1}]:
                    raise TestFailure("insert %d answered %d %r" % (i, r.status, r.text[:200]))
                r = f[(k + j + 1) % 2].query([["SELECT v FROM par WHERE id = ?", i]],
                                             q="?level=weak", timeout=20)
                got = rows(r)
                if got != [[v]]:
                    raise TestFailure("read of %d answered %r" % (i, got))
            except Exception as e:  # noqa: BLE001 - collected and reported below
                with lock:
                    wrong.append("client %d: %s" % (k, e))
                return

    ts = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(50)
    check(not any(t.is_alive() for t in ts), "clients still running after 50s")
    check(not wrong, "\n".join(wrong[:10]))
    eq(rows(lead.query(["SELECT COUNT(*) FROM par"], q="?level=strong")), [[200]],
       "rows written by the 8 clients")


@cluster_test(60)
def test_concurrent_writes_with_rollbacks_leave_every_node_identical(c):
    # Storage applies a burst of entries in one SQLite transaction; an entry whose
    # conflict clause rolls back the whole transaction must cost only itself, on every
    # node alike (the group is replayed entry by entry).
    lead = c.leader()
    lead.ex_ok(["CREATE TABLE IF NOT EXISTS g (id INTEGER PRIMARY KEY, k INTEGER)",
                "CREATE TABLE IF NOT EXISTS gu (id INTEGER PRIMARY KEY, "
                "u INTEGER UNIQUE ON CONFLICT ROLLBACK)"])
    before = lead.get("/debug/vars").json().get("db", {})
    acked, wrong = [], []
    lock = threading.Lock()

    def client(k):
        for j in range(40):
            i = 100000 + 1000 * k + j
            if j % 5 == 4:
                # u repeats across clients: some of these fail and roll back
                stmts = [["INSERT INTO g(id, k) VALUES(?, ?)", i, k],
                         ["INSERT INTO gu(u) VALUES(?)", j],
                         ["INSERT INTO g(id, k) VALUES(?, ?)", i + 500, k]]
            else:
                stmts = [["INSERT INTO g(id, k) VALUES(?, ?)", i, k]]
            try:
                r = lead.execute(stmts, timeout=20)
                res = r.json().get("results") if r.status == 200 else None
                if not res or len(res) != len(stmts) or "error" in res[0]:
                    raise TestFailure("write %d answered %d %r" % (i, r.status, r.text[:200]))
                with lock:
                    acked.append(i)
                    if len(stmts) == 3:
                        acked.append(i + 500)   # after a failed middle statement too
            except Exception as e:  # noqa: BLE001 - collected and reported below
                with lock:
                    wrong.append("client %d: %s" % (k, e))
                return

    ts = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(50)
    check(not any(t.is_alive() for t in ts), "clients still running after 50s")
    check(not wrong, "\n".join(wrong[:10]))
    want = rows(lead.query(["SELECT id FROM g WHERE id >= 100000 ORDER BY id"],
                           q="?level=strong"))
    eq(want, [[i] for i in sorted(acked)], "acknowledged rows on the leader")
    want_u = rows(lead.query(["SELECT id, u FROM gu ORDER BY id"], q="?level=strong"))
    eq(sorted(u for _, u in want_u), list(range(4, 40, 5)), "one row per distinct u")
    for n in c.followers(lead):
        wait_for(lambda n=n: rows(n.query(["SELECT id FROM g WHERE id >= 100000 ORDER BY id"],
                                          q="?level=none")) == want and
                 rows(n.query(["SELECT id, u FROM gu ORDER BY id"], q="?level=none")) == want_u,
                 10, "node %s to hold the leader's rows" % n.name)
    after = lead.get("/debug/vars").json().get("db", {})
    grouped = after["grouped_entries"] - before.get("grouped_entries", 0)
    groups = after["apply_groups"] - before.get("apply_groups", 0)
    check(grouped > 0 and groups < grouped,
          "16 writers shared transactions (%d entries in %d groups)" % (grouped, groups))
    check(after["group_replays"] > before.get("group_replays", 0),
          "the rolled-back entries replayed their groups")


@cluster_test(60)
def test_linearizable_reads_on_the_leader_see_every_earlier_write(c):
    # The leader runs a linearizable read's query while the read index is confirmed;
    # the answer stands only if storage had applied that index. Either way a read must
    # see every write acknowledged before it began.
    lead = c.leader()
    lead.ex_ok(["CREATE TABLE IF NOT EXISTS lz (id INTEGER PRIMARY KEY)"])
    before = lead.get("/debug/vars").json()["http"]
    state = {"acked": 0, "stop": False}
    wrong = []
    lock = threading.Lock()

    def writer():
        for i in range(1, 301):
            r = lead.execute([["INSERT INTO lz(id) VALUES(?)", i]], timeout=20)
            if r.status != 200 or "error" in r.text:
                with lock:
                    wrong.append("write %d answered %d %r" % (i, r.status, r.text[:200]))
                break
            with lock:
                state["acked"] = i
        state["stop"] = True

    def reader(k):
        while not state["stop"]:
            with lock:
                floor = state["acked"]
            r = lead.query(["SELECT COALESCE(MAX(id), 0) FROM lz"], q="?level=linearizable",
                           timeout=20)
            got = rows(r)
            if r.status != 200 or not got or got[0][0] < floor:
                with lock:
                    wrong.append("reader %d: %d %r after write %d was acknowledged"
                                 % (k, r.status, r.text[:200], floor))
                return

    ts = [threading.Thread(target=writer, daemon=True)]
    ts += [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(50)
    check(not any(t.is_alive() for t in ts), "clients still running after 50s")
    check(not wrong, "\n".join(wrong[:10]))
    after = lead.get("/debug/vars").json()["http"]
    early = after["linearizable_early"] - before.get("linearizable_early", 0)
    redone = after["linearizable_redone"] - before.get("linearizable_redone", 0)
    check(early > 0, "no linearizable read was answered early (%d redone)" % redone)


@cluster_test(30)
def test_status_of_a_follower_has_rqlites_types(c):
    lead = c.leader()
    f = c.followers(lead)[0]
    f.execute(["INSERT INTO foo(name) VALUES('via follower')"])   # a forwarded write
    raft = f.status("store.raft")
    lc = raft["last_contact"]
    check(isinstance(lc, str) and (lc == "never" or lc[-1] == "s"),
          "a follower's last_contact is a Go duration: %r" % lc)
    check(raft["latest_configuration"].count("Suffrage:Voter") == 3,
          "latest_configuration: %r" % raft["latest_configuration"])
    cl = lead.get("/debug/vars").json()["cluster"]
    check(cl["num_join_req"] >= 2 and cl["num_execute_req"] >= 1,
          "the leader's cluster counters: %r" % cl)


@cluster_test(40)
def test_freshness_strict_refuses_a_follower_whose_data_lags(c):
    # Issue 15: freshness_strict was accepted and ignored. A follower whose storage is
    # stopped still hears the leader (plain freshness passes) but its data falls behind.
    lead = c.leader()
    f = c.followers(lead)[0]
    lead.ex_ok(["CREATE TABLE IF NOT EXISTS fr (id INTEGER PRIMARY KEY)"])
    c.wait_rows(f, "SELECT count(*) FROM fr", rows(lead.query(["SELECT count(*) FROM fr"])))
    strict = "?level=none&freshness=300ms&freshness_strict"
    r = f.query(["SELECT count(*) FROM fr"], q=strict)
    eq((r.status, "error" in r.json()), (200, False), "a caught-up follower: %s" % r.text)
    pid = f.kill_role("storage", signal.SIGSTOP)
    try:
        lead.ex_ok(["INSERT INTO fr(id) VALUES(NULL)"])
        time.sleep(0.6)
        r = f.query(["SELECT count(*) FROM fr"], q=strict, timeout=5)
        eq((r.status, r.text), (200, '{"results":[],"error":"stale read"}'),
           "strict read on a follower 600 ms behind")
    finally:
        os.kill(pid, signal.SIGCONT)
    want = rows(lead.query(["SELECT count(*) FROM fr"]))
    c.wait_rows(f, "SELECT count(*) FROM fr", want)
    r = f.query(["SELECT count(*) FROM fr"], q=strict)
    eq((r.status, rows(r)), (200, want), "strict read once caught up")
