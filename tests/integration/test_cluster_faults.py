"""Failures in a cluster: leader crash under load, loss of quorum (3 and 5 nodes),
leadership transfer (POST /leader?wait and SIGTERM), silent (SIGSTOPped) followers and
leaders, a counter read linearizably across leader changes, a whole-cluster restart,
queued writes across a leader change, and a random pause/kill nemesis.

Every test makes its own cluster with 500 ms election and heartbeat timeouts (one test
uses 2 s to tell a handed-over leadership from an election). No acknowledged write may
be lost; a node without a quorum must neither acknowledge a write nor serve a
linearizable read (API.md §1.5, §2, §3.3, §4.3).
"""
import bisect
import http.client
import os
import random
import signal
import socket
import subprocess
import threading
import time

from harness import (ELECTION, Checks, Cluster, ClusterWriter, TestFailure, check,
                     cluster_test, eq, rows, status_is)

FAILOVER = 12 * ELECTION   # bound for a new leader after the old one vanished
SERVED_BY = "X-RQLITE-SERVED-BY"
ACKS = "SELECT id FROM acks ORDER BY id"


def ids(node, level, timeout=10.0):
    return [r[0] for r in rows(node.query([ACKS], q="?level=" + level, timeout=timeout),
                               "%s at level %s on %s" % (ACKS, level, node.name))]


def acknowledged(resp):
    """True if resp is a success with no error anywhere (HTTP 200, no `error`)."""
    if resp.status != 200:
        return False
    try:
        j = resp.json()
    except TestFailure:
        return False
    return "error" not in j and all("error" not in x for x in j.get("results", []))


def check_no_loss(acked, sent_below, got, where):
    missing = sorted(set(acked) - set(got))
    check(not missing, "%s: %d acknowledged ids missing, first %r"
          % (where, len(missing), missing[:10]))
    invented = [i for i in got if i < 1 or i >= sent_below]
    check(not invented, "%s: ids that were never sent: %r" % (where, invented[:10]))
    check(len(got) == len(set(got)), "%s: duplicate ids" % where)


@cluster_test(90)
def test_leader_killed_while_writing_loses_no_acknowledged_write():
    c = Cluster(3)
    old = c.start()
    old.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
    survivors = c.followers(old)
    w = ClusterWriter(survivors).start()
    try:
        w.wait_acks(20, 15, "before the kill")
        t0 = time.monotonic()
        old.kill()
        new = c.leader(nodes=survivors, timeout=FAILOVER)
        took = time.monotonic() - t0
        check(new in survivors, "leader %s is not a survivor" % new.name)
        w.wait_acks(20, 20, "after the failover (new leader %s after %.1fs)" % (new.name, took))
    finally:
        acked, sent_below = w.stop()

    final = None
    for n in survivors:
        got = ids(n, "linearizable")
        check_no_loss(acked, sent_below, got, "linearizable read on %s" % n.name)
        if final is None:
            final = got
        eq(got, final, "linearizable reads on the two survivors")
    for n in survivors:
        c.wait_rows(n, ACKS, [[i] for i in final], timeout=10)

    # The old leader comes back on its data dir as a follower and catches up.
    old.start()
    lead = c.wait_formed(ids=["1", "2", "3"], timeout=20)
    check(lead is not old, "the restarted old leader %s is leader again; its log was behind"
          % old.name)
    eq(old.status("store.raft.state"), "Follower", "%s state after restart" % old.name)
    c.wait_rows(old, ACKS, [[i] for i in final], timeout=20)


@cluster_test(120)
def test_a_minority_neither_writes_nor_reads_linearizably():
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
    lead.ex_ok([["INSERT INTO acks(id) VALUES(?)", 1]])
    f1, f2 = c.followers(lead)
    f1.kill()
    # Two of three still make a quorum.
    r = lead.execute([["INSERT INTO acks(id) VALUES(?)", 2]])
    check(acknowledged(r), "write with 2 of 3 nodes up: %d %r" % (r.status, r.text))

    f2.kill()
    # Alone: the write must not be acknowledged, whatever the node still believes, and it
    # must be answered: rqlite fails it once the leader steps down for want of a quorum
    # (leadership lost), or after -raft-apply-timeout (10s) at the latest.
    # A missing answer is reported at the end, so the checks below still run.
    unanswered = None
    t0 = time.monotonic()
    try:
        r = lead.execute([["INSERT INTO acks(id) VALUES(?)", 3]], timeout=15)
        check(not acknowledged(r), "a lone node acknowledged a write: %d %r"
              % (r.status, r.text))
        outcome = "%d %r" % (r.status, r.text[:200])
    except (socket.timeout, TimeoutError):
        unanswered = ("a write on a lone node got no answer within 15s (it must fail with an "
                      "error: leadership lost / leader not found / timeout)")
        outcome = "no answer"
    took = time.monotonic() - t0

    for level in ("linearizable", "strong", "weak"):
        try:
            r = lead.query([ACKS], q="?level=" + level, timeout=25)
            check(not acknowledged(r), "a lone node served a %s read: %d %r (the write "
                  "before got: %s after %.1fs)" % (level, r.status, r.text, outcome, took))
        except (socket.timeout, TimeoutError):
            pass
    # Level none is always served locally, and shows only committed rows.
    eq(ids(lead, "none"), [1, 2], "level none read on the lone node")
    r = lead.get("/readyz")
    status_is(r, 503, "/readyz on a node without a leader")

    # One follower back: a quorum again, writes work through either node.
    f1.start(wait=False)
    c.wait_formed(nodes=[lead, f1], ids=["1", "2", "3"], timeout=30)
    for i, n in ((4, lead), (5, f1)):
        # OR REPLACE: a retry after an unanswered attempt that did commit still succeeds.
        r = c.wait_for(lambda: acknowledged(n.execute(
            [["INSERT OR REPLACE INTO acks(id) VALUES(?)", i]], timeout=5)),
                       15, "a write through %s once the quorum is back" % n.name)
    got = ids(f1, "linearizable")
    check(got in ([1, 2, 4, 5], [1, 2, 3, 4, 5]), "rows after healing: %r" % got)

    # Now the leader goes too: the survivor is a follower that knows no leader.
    cur = c.leader(nodes=[lead, f1])
    lone = f1 if cur is lead else lead
    t_kill = time.monotonic()
    cur.kill()
    r = c.wait_for(lambda: (lambda r: r if r.status == 503 else None)(
        lone.execute([["INSERT INTO acks(id) VALUES(?)", 6]], timeout=5)), 15,
        "%s to answer writes with 503 once its leader is gone" % lone.name)
    soft = Checks()  # exact answers; each reported, none hides the next
    soft.eq(r.text, "leader not found\n", "write on a node with no leader: body")
    for level in ("weak", "linearizable", "strong"):
        r = lone.query([ACKS], q="?level=" + level)
        soft.eq((r.status, r.text), (503, "leader not found\n"),
           "%s read on a node with no leader" % level)
    r = lone.execute([["INSERT INTO acks(id) VALUES(?)", 7]], q="?redirect")
    soft.eq((r.status, r.text), (500, "leader not found\n"), "execute?redirect with no leader")
    r = lone.get("/leader")
    soft.eq((r.status, r.text), (503, "leader not found\n"), "GET /leader with no leader")
    r = lone.get("/readyz")
    soft.eq((r.status, r.text), (503, "[+]node ok\n[+]leader does not exist"),
       "/readyz with no leader")
    soft.eq(ids(lone, "none"), got, "level none read on a node with no leader")
    # freshness bounds how long ago this node last heard from a leader.
    time.sleep(max(0.0, 1.5 - (time.monotonic() - t_kill)))
    r = lone.query([ACKS], q="?level=none&freshness=1s")
    soft.eq((r.status, r.text), (200, '{"results":[],"error":"stale read"}'),
       "level none with freshness=1s, 1.5s after the leader died")
    soft.eq([x[0] for x in rows(lone.query([ACKS], q="?level=none&freshness=1h"))], got,
       "level none with freshness=1h")
    j = lone.get("/nodes?timeout=2s").json()
    soft.eq(sorted(j), ["1", "2", "3"], "/nodes ids on the lone node")
    for i, e in j.items():
        if i == lone.node_id:
            soft.eq((e.get("reachable"), e.get("leader")), (True, False), "/nodes entry of itself")
        else:
            soft.eq((e.get("reachable"), e.get("leader"), e.get("version")), (False, False, ""),
               "/nodes entry of dead node %s (reachable, leader, version)" % i)
            soft.check(e.get("error"), "/nodes entry of dead node %s has no error: %r" % (i, e))
    soft.check(unanswered is None, unanswered)
    soft.done()


@cluster_test(60)
def test_stepdown_and_sigterm_hand_leadership_over():
    # 2 s timeouts: an election after silence takes >= 2 s, a handover much less.
    c = Cluster(3, timing=("-raft-election-timeout", "2s", "-raft-heartbeat-timeout", "2s"))
    a = c.start(timeout=40)
    a.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])

    r = a.post("/leader?wait", b"")
    eq((r.status, r.body), (200, b""), "POST /leader?wait on the leader")
    b = c.leader(timeout=10)
    check(b is not a, "leader is still %s after stepping down" % a.name)

    # Targeted transfer, sent to a follower (forwarded with wait).
    target = [n for n in c.nodes if n not in (a, b)][0]
    r = a.post("/leader?wait", '{"id":"%s"}' % target.node_id, ctype="application/json")
    eq((r.status, r.body), (200, b""), "POST /leader?wait {id:%s} on follower %s"
       % (target.node_id, a.name))
    stepdown_by = r.header(SERVED_BY)  # checked last, so the rest still runs
    eq(c.leader(timeout=10), target, "leader after the targeted transfer")
    r = target.execute([["INSERT INTO acks(id) VALUES(1)"]])
    check(acknowledged(r), "write on the new leader: %r" % r.text)

    # SIGTERM of the leader: it hands leadership over before it exits.
    others = [n for n in c.nodes if n is not target]
    t0 = time.monotonic()
    target.proc.send_signal(signal.SIGTERM)
    new = c.leader(nodes=others, timeout=10)
    took = time.monotonic() - t0
    check(took < 2.0, "a new leader took %.2fs after SIGTERM of the leader; with "
          "-raft-shutdown-stepdown it should take well under the 2s election timeout" % took)
    try:
        target.proc.wait(15)
    except subprocess.TimeoutExpired:
        pass  # stop() below escalates and the exit status says so
    rc = target.stop()
    eq(rc, 0, "exit status of the SIGTERMed leader")
    r = new.execute([["INSERT INTO acks(id) VALUES(2)"]])
    check(acknowledged(r), "write on %s after the handover: %r" % (new.name, r.text))
    eq(ids(new, "linearizable"), [1, 2], "rows after the handover")
    eq(stepdown_by, b.raft_addr, "stepdown forwarded from a follower: " + SERVED_BY)


@cluster_test(120)
def test_silent_follower_catches_up_and_silent_leader_is_replaced():
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
    f1, f2 = c.followers(lead)
    term = lead.status("store.raft.term")

    f1.pause()
    for i in range(1, 21):
        n = (lead, f2)[i % 2]
        t0 = time.monotonic()
        r = n.execute([["INSERT INTO acks(id) VALUES(?)", i]], timeout=5)
        check(acknowledged(r), "write %d through %s with %s silent: %d %r"
              % (i, n.name, f1.name, r.status, r.text))
        took = time.monotonic() - t0
        check(took < 2.0, "write %d took %.2fs with one follower silent" % (i, took))
    f1.resume()
    c.wait_rows(f1, "SELECT COUNT(*) FROM acks", [[20]], timeout=15)
    eq(c.leader(timeout=5), lead, "leader after the follower came back")
    eq(lead.status("store.raft.term"), term,
       "term after the silent follower came back (pre-vote keeps it from disrupting)")

    # Now the leader falls silent: the other two elect a new one and keep writing.
    lead.pause()
    new = c.leader(nodes=[f1, f2], timeout=FAILOVER)
    for i in range(21, 31):
        n = (f1, f2)[i % 2]
        r = c.wait_for(lambda: acknowledged(n.execute(
            [["INSERT OR REPLACE INTO acks(id) VALUES(?)", i]], timeout=5)),
                       10, "write %d through %s with the old leader silent" % (i, n.name))
    lead.resume()
    # Whatever the old leader still believes, a linearizable read there must not be stale.
    try:
        r = lead.query(["SELECT COUNT(*) FROM acks"], q="?level=linearizable", timeout=15)
        if acknowledged(r):
            eq(rows(r), [[30]], "linearizable read on the old leader right after it woke up")
    except (socket.timeout, TimeoutError, http.client.HTTPException, ConnectionError):
        pass
    got = c.wait_formed(ids=["1", "2", "3"], timeout=20)
    eq(got, new, "leader once the old one rejoined")
    c.wait_rows(lead, "SELECT COUNT(*) FROM acks", [[30]], timeout=15)


@cluster_test(90)
def test_five_nodes_survive_two_failures_but_not_three():
    c = Cluster(5)
    lead = c.start(timeout=40)
    lead.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
    f = c.followers(lead)
    keep, lose = f[:3], f[3]
    w = ClusterWriter(keep).start()
    try:
        w.wait_acks(10, 15, "before the kills")
        lead.kill()
        lose.kill()
        new = c.leader(nodes=keep, timeout=FAILOVER)
        w.wait_acks(10, 20, "with 3 of 5 nodes (leader %s)" % new.name)
    finally:
        acked, sent_below = w.stop()
    check_no_loss(acked, sent_below, ids(new, "linearizable"), "linearizable read on " + new.name)

    # A third failure leaves 2 of 5: no quorum, no acknowledged write.
    victim = [n for n in keep if n is not new][0]
    victim.kill()
    try:
        r = new.execute([["INSERT INTO acks(id) VALUES(?)", sent_below]], timeout=15)
        check(not acknowledged(r), "2 of 5 nodes acknowledged a write: %d %r"
              % (r.status, r.text))
    except (socket.timeout, TimeoutError):
        pass

    # Two come back (4 of 5): one leader again, and everybody has every row.
    for n in (lead, victim):
        n.start(wait=False)
    up = [n for n in c.nodes if n is not lose]
    final_lead = c.wait_formed(nodes=up, ids=[n.node_id for n in c.nodes], timeout=30)
    final_lead.ex_ok([["INSERT OR REPLACE INTO acks(id) VALUES(?)", sent_below + 1]])
    final = ids(final_lead, "linearizable")
    check_no_loss(acked + [sent_below + 1], sent_below + 2, final, "after the restarts")
    for n in up:
        c.wait_rows(n, ACKS, [[i] for i in final], timeout=15)


@cluster_test(90)
def test_linearizable_reads_never_go_back_across_leader_changes():
    """A counter incremented through every node while leadership moves three times by
    stepdown and once by a SIGSTOPped leader. A linearizable read must see at least every
    increment acknowledged before it started, and one client's successive reads never
    decrease."""
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE ctr (id INTEGER PRIMARY KEY, v INTEGER)",
                "INSERT INTO ctr(id, v) VALUES(1, 0)"])
    lock = threading.Lock()
    acks = []        # monotonic times of acknowledged increments
    attempts = [0]
    reads = []       # (start, value, node) per reader, in its order
    stop = threading.Event()
    errors = []

    def writer(k):
        i = k
        while not stop.is_set():
            n = c.nodes[i % 3]
            i += 1
            if not n.running():
                continue
            with lock:
                attempts[0] += 1
            try:
                r = n.execute(["UPDATE ctr SET v = v + 1 WHERE id = 1"], timeout=5)
                res = r.json().get("results") if r.status == 200 else None
                if res and len(res) == 1 and res[0].get("rows_affected") == 1 \
                        and "error" not in res[0] and "error" not in r.json():
                    with lock:
                        acks.append(time.monotonic())
                    continue
            except (OSError, http.client.HTTPException, ValueError, TestFailure):
                pass
            time.sleep(0.02)

    def reader(k, out):
        i = k
        while not stop.is_set():
            n = c.nodes[i % 3]
            i += 1
            t = time.monotonic()
            try:
                r = n.query(["SELECT v FROM ctr WHERE id = 1"], q="?level=linearizable",
                            timeout=5)
                j = r.json() if r.status == 200 else {}
                vals = (j.get("results") or [{}])[0].get("values") if "error" not in j else None
                if vals:
                    out.append((t, vals[0][0], n.name))
                    continue
            except (OSError, http.client.HTTPException, ValueError, TestFailure) as e:
                errors.append(repr(e))
            time.sleep(0.02)

    outs = [[], []]
    ts = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(2)] + \
         [threading.Thread(target=reader, args=(k, outs[k]), daemon=True) for k in range(2)]
    for t in ts:
        t.start()
    try:
        for _ in range(3):
            time.sleep(0.7)
            cur = c.leader(timeout=10)
            r = cur.post("/leader?wait", b"")
            eq(r.status, 200, "stepdown of %s: %r" % (cur.name, r.text))
            c.wait_for(lambda: c.leader_now(c.live()) not in (None, cur), 10,
                       "a leader other than %s" % cur.name)
        # Then the leader falls silent, is replaced, and wakes up believing it leads.
        time.sleep(0.7)
        cur = c.leader(timeout=10)
        cur.pause()
        c.leader(timeout=FAILOVER)  # among the other two
        time.sleep(0.7)
        cur.resume()
        time.sleep(1.0)
    finally:
        stop.set()
        for t in ts:
            t.join(10)
    final = rows(c.leader().query(["SELECT v FROM ctr WHERE id = 1"], q="?level=strong"))[0][0]
    acks.sort()
    check(len(acks) >= 20 and all(len(o) >= 10 for o in outs),
          "too little traffic to judge: %d acks, reads %r" % (len(acks), [len(o) for o in outs]))
    check(len(acks) <= final <= attempts[0], "final counter %d, acknowledged %d, attempted %d"
          % (final, len(acks), attempts[0]))
    for o in outs:
        for (t0, v0, n0), (t1, v1, n1) in zip(o, o[1:]):
            check(v1 >= v0, "a later linearizable read went back: %d on %s, then %d on %s"
                  % (v0, n0, v1, n1))
        for t, v, n in o:
            before = bisect.bisect_left(acks, t)
            check(v >= before, "a linearizable read on %s saw %d, but %d increments were "
                  "acknowledged before it started" % (n, v, before))


@cluster_test(60)
def test_whole_cluster_restart_keeps_data_and_reforms():
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
    for i in range(1, 11):
        c.nodes[i % 3].execute([["INSERT INTO acks(id) VALUES(?)", i]])
    expected = ids(lead, "strong")
    eq(len(expected), 10, "rows before the restart")
    for n in c.nodes:
        eq(n.stop(), 0, "exit status of %s on SIGTERM" % n.name)
    for n in c.nodes:
        n.start(wait=False)
    c.wait_formed(ids=["1", "2", "3"], timeout=30)
    for n in c.nodes:
        c.wait_rows(n, ACKS, [[i] for i in expected], timeout=15)
    r = c.nodes[1].execute([["INSERT INTO acks(id) VALUES(?)", 11]])
    check(acknowledged(r), "write after the restart: %r" % r.text)
    eq(ids(c.nodes[2], "linearizable"), expected + [11], "rows after the restart")


@cluster_test(60)
def test_queued_writes_on_a_follower_survive_a_leader_change():
    # API.md §3.3: a queued batch that fails for want of a leader is retried until it lands.
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
    f = c.followers(lead)
    for i in range(1, 11):
        r = f[0].execute([["INSERT INTO acks(id) VALUES(?)", i]], q="?queue")
        status_is(r, 200, "queued write %d on %s" % (i, f[0].name))
    lead.kill()
    for i in range(11, 21):
        r = f[0].execute([["INSERT INTO acks(id) VALUES(?)", i]], q="?queue&noleader")
        status_is(r, 200, "queued write %d (noleader) on %s during the election" % (i, f[0].name))
    c.leader(nodes=f, timeout=FAILOVER)
    r = f[0].post("/db/execute?queue&wait&timeout=20s", "[]", ctype="application/json",
                  timeout=30)
    status_is(r, 200, "queue flush barrier on %s" % f[0].name)
    c.wait_for(lambda: ids(f[1], "linearizable") == list(range(1, 21)), 20,
               "all 20 queued rows to land after the leader change")


@cluster_test(90)
def test_random_pauses_and_kills_lose_no_acknowledged_write():
    """A nemesis: for ~12 s one node at a time is SIGSTOPped or killed -9 (and restarted)
    while clients write through every node. Every acknowledged id must survive, and all
    nodes must end with identical rows."""
    seed = os.environ.get("SEED") or str(time.time_ns())
    rng = random.Random(seed)
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
    w = ClusterWriter(c.nodes, threads=3, req_timeout=3).start()
    history = ["SEED=%s" % seed]  # rerun with SEED=... to replay the same choices
    try:
        w.wait_acks(10, 15, "before the nemesis")
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            victim = rng.choice(c.nodes)
            if rng.random() < 0.5:
                history.append("pause %s" % victim.name)
                victim.pause()
                time.sleep(rng.uniform(0.3, 1.5))
                victim.resume()
            else:
                history.append("kill %s" % victim.name)
                victim.kill()
                time.sleep(rng.uniform(0.3, 1.5))
                victim.start(wait=False)
            # Let the cluster settle before the next fault (a majority must exist).
            c.wait_formed(ids=["1", "2", "3"], timeout=20)
        w.wait_acks(10, 20, "after the nemesis (%s)" % ", ".join(history))
    finally:
        acked, sent_below = w.stop()
    final = ids(c.leader(), "linearizable")
    check_no_loss(acked, sent_below, final, "after the nemesis (%s)" % ", ".join(history))
    for n in c.nodes:
        c.wait_rows(n, ACKS, [[i] for i in final], timeout=20)


@cluster_test(60)
def test_a_full_write_queue_blocks_the_next_request_until_there_is_room():
    # rqlite's queue is a bounded channel: a full one makes the client wait, not fail.
    # Capacity 4, batches of 2; with no quorum nothing is written, so the 5th request
    # must wait until the cluster is whole again, then land with the others.
    c = Cluster(2, extra_args=["-write-queue-capacity", "4", "-write-queue-batch-size", "2"])
    lead = c.start()
    lead.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
    other = c.followers(lead)[0]
    other.kill()
    for i in range(1, 5):
        r = lead.execute([["INSERT INTO acks(id) VALUES(?)", i]], q="?queue")
        status_is(r, 200, "queued write %d" % i)
    blocked = {}

    def fifth():
        try:
            blocked["r"] = lead.execute([["INSERT INTO acks(id) VALUES(?)", 5]], q="?queue",
                                        timeout=40)
        except Exception as e:  # noqa: BLE001 - reported below
            blocked["err"] = e
    t = threading.Thread(target=fifth, daemon=True)
    t.start()
    t.join(2.0)
    check(t.is_alive(), "the 5th request waits while the queue is full (got %r)" % blocked)
    eq(lead.get("/debug/vars").json()["queue"]["depth"], 4, "queue depth while full")
    c.start_node(other)
    t.join(30)
    check(not t.is_alive() and "r" in blocked, "the 5th request was answered: %r" % blocked)
    status_is(blocked["r"], 200, "the 5th request, admitted")
    check('"sequence_number"' in blocked["r"].text, "queued answer: %s" % blocked["r"].text)
    r = lead.post("/db/execute?queue&wait&timeout=20s", "[]", ctype="application/json",
                  timeout=30)
    status_is(r, 200, "queue flush barrier")
    c.wait_for(lambda: ids(lead, "linearizable") == [1, 2, 3, 4, 5], 20, "all 5 rows")


@cluster_test(90)
def test_readyz_sync_on_a_restarted_follower_waits_for_the_leaders_writes():
    # API.md §5 /readyz: with `sync` the node answers 200 only once it has caught up with
    # the leader's commit index as it last heard it. The follower misses 40 entries that
    # each insert 25,000 rows, so applying them after its restart takes a while; plain
    # /readyz would be 200 long before that. After the first 200 with sync, a read at
    # level none on that node must already see every row.
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE s (id INTEGER PRIMARY KEY, v INTEGER)"])
    f = c.followers(lead)[0]
    f.kill()
    heavy = ("INSERT INTO s(v) SELECT x FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
             "SELECT x+1 FROM c WHERE x < 25000) SELECT x FROM c)")
    for _ in range(40):
        lead.ex_ok([heavy])
    f.start(wait=False)
    deadline = time.monotonic() + 60
    r, not_ready = None, 0
    while time.monotonic() < deadline:
        try:
            r = f.get("/readyz?sync&timeout=2s", timeout=10)
        except OSError:
            r = None
        if r is not None and r.status == 200:
            break
        not_ready += 1
        time.sleep(0.02)
    check(r is not None and r.status == 200, "readyz?sync never became ready: %r" % (r,))
    eq(r.body.decode(), "[+]node ok\n[+]leader ok\n[+]store ok\n[+]sync ok\n[+]db ok",
       "readyz?sync body")
    n = rows(f.query_get("SELECT COUNT(*) FROM s", q="?level=none"))[0][0]
    eq(n, 40 * 25000, "rows at level none right after readyz?sync said ready")
    # With the node's storage frozen nothing can catch up: 503 within the timeout.
    pid = f.kill_role("storage", signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = f.get("/readyz?sync&timeout=500ms", timeout=10)
        took = time.monotonic() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
    status_is(r, 503, "readyz?sync with storage frozen")
    eq(r.body.decode(), "[+]node ok\n[+]leader ok\n[+]store ok\n"
       "[+]sync timeout waiting for commit index", "readyz?sync timeout body")
    check(took < 3, "answered within its timeout (%.2f s)" % took)


@cluster_test(90)
def test_reads_on_a_leader_that_loses_its_quorum_answer_503_as_rqlite():
    """rqlite turns a lost leadership into "not leader" for reads (strong reads and the
    leader check of linearizable ones): it looks for the leader, finds none, and answers
    503 "leader not found", not 200 with an error."""
    soft = Checks()
    for level in ("linearizable", "strong"):
        c = Cluster(3)
        lead = c.start()
        lead.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)"])
        for f in c.followers(lead):
            f.kill()
        r = lead.query([ACKS], q="?level=" + level, timeout=25)
        soft.eq((r.status, r.text), (503, "leader not found\n"),
                "%s read sent as the leader lost its quorum" % level)
        c.close()
    soft.done()


@cluster_test(90)
def test_requests_during_an_election_wait_for_the_new_leader():
    # Issue 15: as soon as /status on a survivor said Leader, a weak read there answered
    # 503 "leader not found" for ~100 ms; writes during the election failed at once.
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t(id) VALUES(1)"])
    rest = c.followers(lead)
    for n in rest:
        c.wait_rows(n, "SELECT id FROM t", [[1]])
    lead.kill()
    time.sleep(0.05)    # the survivors see the links close (a request already in
    #                     flight to the dead leader is lost, and answered so)
    # A write sent to a survivor while no leader is known waits for the election.
    got = {}

    def write():
        got["w"] = rest[1].execute(["INSERT INTO t(id) VALUES(2)"], timeout=FAILOVER + 5)
    w = threading.Thread(target=write)
    w.start()
    deadline = time.monotonic() + FAILOVER
    new = None
    while new is None and time.monotonic() < deadline:
        for n in rest:
            try:
                if n.status("store.raft")["state"] == "Leader":
                    new = n
            except TestFailure:
                pass
        time.sleep(0.005)
    check(new is not None, "no survivor became leader within %.1fs" % FAILOVER)
    # The first reads on the new leader, right away: none may fail.
    for i in range(20):
        r = new.query(["SELECT count(*) FROM t"], q="?level=weak")
        status_is(r, 200, "weak read %d on the new leader (%s)" % (i, r.text[:200]))
        check("error" not in r.json(), "weak read %d: %s" % (i, r.text[:200]))
    w.join(FAILOVER + 10)
    status_is(got["w"], 200, "write during the election")
    j = got["w"].json()
    check("error" not in j and "error" not in j["results"][0], "write: %s" % got["w"].text)
    c.wait_rows(new, "SELECT id FROM t ORDER BY id", [[1], [2]])


@cluster_test(90)
def test_writes_right_after_a_leader_leaves_and_reads_on_a_non_voter_wait():
    # Issue 15: a write just after a leader with -raft-cluster-remove-shutdown left,
    # and a read on a non-voter while a new leader takes over, answered 503 at once.
    c = Cluster(4, extra_args=["-raft-cluster-remove-shutdown"])
    lead = c.start()
    ro = c.add_node("5", ["-raft-non-voter"])
    c.start_node(ro, join=[lead])
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t(id) VALUES(1)"])
    c.wait_rows(ro, "SELECT id FROM t", [[1]])
    rest = [n for n in c.nodes[:4] if n is not lead]   # three voters stay
    lead.proc.send_signal(signal.SIGTERM)       # removes itself, then exits
    time.sleep(0.05)
    for i, n in enumerate(rest):
        r = n.execute([["INSERT INTO t(id) VALUES(?)", 10 + i]], timeout=FAILOVER + 5)
        status_is(r, 200, "write %d on %s right after the leader left (%s)"
                  % (i, n.name, r.text[:200]))
        j = r.json()
        check("error" not in j and "error" not in j["results"][0], "write: %s" % r.text)
    new = c.leader(nodes=rest)
    new.kill()
    time.sleep(0.05)
    r = ro.query(["SELECT count(*) FROM t"], q="?level=weak", timeout=FAILOVER + 5)
    status_is(r, 200, "weak read on the non-voter during the election (%s)" % r.text[:200])
    check("error" not in r.json(), "read: %s" % r.text)
