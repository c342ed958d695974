"""Leadership churn under writes: stepdowns and a paused leader, repeatedly.

Regression test for a lost acknowledged write: a deposed leader could hand storage an
entry from its log file that the Raft core had already replaced (the truncation was still
waiting for the sync thread), apply it and acknowledge the client. The harsher schedule
here (rounds of three stepdowns and a SIGSTOPped leader, four writers) failed about 4
runs in 10 before the fix.
"""
import http.client
import threading
import time

from harness import ELECTION, Cluster, TestFailure, check, cluster_test, eq, rows

FAILOVER = 12 * ELECTION
ROUNDS = 2
WRITERS = 4


@cluster_test(120)
def test_no_acknowledged_increment_is_lost_and_no_node_diverges():
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE ctr (id INTEGER PRIMARY KEY, v INTEGER)",
                "INSERT INTO ctr(id, v) VALUES(1, 0)"])
    lock = threading.Lock()
    acks = [0]
    attempts = [0]
    stop = threading.Event()

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
                        acks[0] += 1
                    continue
            except (OSError, http.client.HTTPException, ValueError, TestFailure):
                pass
            time.sleep(0.02)

    ts = [threading.Thread(target=writer, args=(k,), daemon=True) for k in range(WRITERS)]
    for t in ts:
        t.start()
    try:
        for _ in range(ROUNDS):
            for _ in range(3):
                time.sleep(0.7)
                cur = c.leader(timeout=10)
                r = cur.post("/leader?wait", b"")
                eq(r.status, 200, "stepdown of %s: %r" % (cur.name, r.text))
                c.wait_for(lambda: c.leader_now(c.live()) not in (None, cur), 10,
                           "a leader other than %s" % cur.name)
            time.sleep(0.7)
            cur = c.leader(timeout=10)
            cur.pause()
            c.leader(timeout=FAILOVER)
            time.sleep(0.7)
            cur.resume()
            time.sleep(1.0)
    finally:
        stop.set()
        for t in ts:
            t.join(10)
    final = rows(c.leader().query(["SELECT v FROM ctr WHERE id = 1"], q="?level=strong"))[0][0]
    check(acks[0] >= 20, "too little traffic to judge: %d acks" % acks[0])
    check(acks[0] <= final <= attempts[0], "final counter %d, acknowledged %d, attempted %d"
          % (final, acks[0], attempts[0]))
    # Every node converges on exactly the leader's value: no node applied an entry that
    # did not commit.
    for n in c.nodes:
        c.wait_for(lambda n=n: rows(n.query(["SELECT v FROM ctr WHERE id = 1"],
                                            q="?level=none"))[0][0] == final, 10,
                   "%s to hold the committed counter %d" % (n.name, final))
