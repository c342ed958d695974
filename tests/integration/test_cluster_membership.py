"""Cluster membership: read-only (non-voting) nodes, DELETE /remove and rejoining with a
fresh data dir, -bootstrap-expect formation, peer authentication with -cluster-key, and
the -join flag's own checks.

Expected values from rqlite's http/service.go (handleRemove, /nodes), store/store.go
(Nodes(), Stats()), cmd/rqlited/flags.go and API.md §2.5, §4.2, §4.3; the cluster key is
ours (DESIGN.md: a peer without the key is refused before any Raft message is read).
"""

import os
import socket
import subprocess
import threading
import time

from harness import (CLUSTER_TIMING, Cluster, Node, TestFailure, check, cluster_test, eq,
                     free_ports, mkdtemp, rows, run_rqlited, set_flag, status_is,
                     write_cluster_key)

SERVED_BY = "X-RQLITE-SERVED-BY"
SQL = "SELECT id FROM t ORDER BY id"


def ok(resp, what):
    status_is(resp, 200, what)
    j = resp.json()
    check("error" not in j and all("error" not in x for x in j.get("results", [])),
          "%s: %r" % (what, resp.text[:300]))
    return j


@cluster_test(60)
def test_non_voter_replicates_and_reads_locally_with_level_auto():
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t(id) VALUES(1)"])
    ro = c.add_node("4", ["-raft-non-voter"])
    c.start_node(ro, join=[lead])
    members = [{"id": m.node_id, "addr": m.raft_addr,
                "suffrage": "nonvoter" if m is ro else "voter"} for m in c.nodes]
    key = lambda x: x.get("id", "")  # noqa: E731
    for n in c.nodes:
        c.wait_for(lambda: sorted((c.store_of(n) or {}).get("nodes") or [], key=key) == members,
                   10, "%s: store.nodes to hold %r" % (n.name, members))

    # /nodes lists voters only unless ?nonvoters.
    for n in c.nodes:
        eq(sorted(n.get("/nodes").json()), ["1", "2", "3"], "%s: /nodes ids" % n.name)
    j = c.wait_for(lambda: (lambda j: j if sorted(j) == ["1", "2", "3", "4"] else None)(
        lead.get("/nodes?nonvoters").json()), 10, "/nodes?nonvoters to list node 4")
    e = j["4"]
    eq((e.get("id"), e.get("addr"), e.get("api_addr"), e.get("voter"), e.get("leader"),
        e.get("reachable")),
       ("4", ro.raft_addr, "http://" + ro.http_addr, False, False, True),
       "/nodes?nonvoters entry of the non-voter (id, addr, api_addr, voter, leader, reachable)")
    eq([j[i].get("voter") for i in ("1", "2", "3")], [True] * 3, "voters stay voters")

    s = ro.status("store")
    eq(s["raft"].get("voter"), False, "store.raft.voter on the non-voter")
    eq(s["raft"].get("state"), "Follower", "store.raft.state on the non-voter")
    eq(s.get("leader"), {"node_id": lead.node_id, "addr": lead.raft_addr},
       "store.leader on the non-voter")
    status_is(ro.get("/readyz"), 200, "/readyz on the non-voter")

    # It receives every write (level none is local).
    lead.ex_ok([["INSERT INTO t(id) VALUES(?)", 2]])
    c.wait_rows(ro, SQL, [[1], [2]], timeout=10)

    # level=auto: none on a read replica (served here), weak on a voter (forwarded).
    r = ro.query([SQL], q="?level=auto")
    eq(rows(r), [[1], [2]], "level auto on the non-voter")
    eq(r.header(SERVED_BY), ro.http_addr, "level auto on the non-voter: " + SERVED_BY)
    r = ro.query([SQL], q="?level=weak")
    eq(rows(r), [[1], [2]], "level weak on the non-voter")
    eq(r.header(SERVED_BY), lead.raft_addr, "level weak on the non-voter: " + SERVED_BY)
    f = c.followers(lead)[0]
    r = f.query([SQL], q="?level=auto")
    eq(r.header(SERVED_BY), lead.raft_addr, "level auto on voter %s: %s" % (f.name, SERVED_BY))

    # Writes sent to it are forwarded to the leader.
    r = ro.execute([["INSERT INTO t(id) VALUES(?)", 3]])
    eq((r.status, r.json()), (200, {"results": [{"last_insert_id": 3, "rows_affected": 1}]}),
       "write through the non-voter")
    eq(r.header(SERVED_BY), lead.raft_addr, "write through the non-voter: " + SERVED_BY)

    # store.nodes is sorted by id (store.Store.Nodes()), whatever order the nodes joined in.
    for n in c.nodes:
        eq(n.status("store.nodes"), members, "%s: store.nodes" % n.name)

    # Losing it (and then a voter too: 2 of 3 voters remain) does not stop writes.
    ro.kill()
    f.kill()
    for i in (4, 5):
        t0 = time.monotonic()
        lead.ex_ok([["INSERT INTO t(id) VALUES(?)", i]])
        check(time.monotonic() - t0 < 3.0, "write %d took %.1fs" % (i, time.monotonic() - t0))
    eq(rows(lead.query([SQL], q="?level=linearizable")), [[i] for i in range(1, 6)],
       "rows on the leader")


@cluster_test(60)
def test_remove_through_a_follower_then_rejoin_with_a_fresh_data_dir():
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)",
                "INSERT INTO t(id) VALUES(1)", "INSERT INTO t(id) VALUES(2)"])
    victim, sender = c.followers(lead)

    r = sender.req("DELETE", "/remove", {"id": victim.node_id})
    eq((r.status, r.body), (200, b""), "DELETE /remove {id:%s} on follower %s"
       % (victim.node_id, sender.name))
    removed_by = r.header(SERVED_BY)  # checked last, so the rest still runs
    two = sorted([lead.node_id, sender.node_id])
    c.wait_formed(nodes=[lead, sender], ids=two, timeout=10)
    for n in (lead, sender):
        eq(sorted(n.get("/nodes?nonvoters").json()), two, "%s: /nodes after the removal" % n.name)
    lead.ex_ok(["INSERT INTO t(id) VALUES(3)"])  # 2 voters now: both must be up

    # Back with a fresh data dir, joining through every other node.
    victim.kill()
    victim.datadir = os.path.join(mkdtemp(), "data")
    c.start_node(victim, join=[sender, lead])
    lead2 = c.wait_formed(ids=["1", "2", "3"], timeout=20)
    eq(lead2, lead, "leader after the rejoin")
    c.wait_rows(victim, SQL, [[1], [2], [3]], timeout=15)
    lead.ex_ok(["INSERT INTO t(id) VALUES(4)"])
    c.wait_rows(victim, SQL, [[1], [2], [3], [4]], timeout=10)
    eq(victim.status("store.raft.voter"), True, "the rejoined node is a voter")
    eq(removed_by, lead.raft_addr, "/remove forwarded from a follower: " + SERVED_BY)


@cluster_test(60)
def test_bootstrap_expect_forms_exactly_one_cluster():
    c = Cluster(3)
    lead = c.start(bootstrap_expect=True, timeout=40)
    terms = set()
    for n in c.nodes:
        s = n.status("store")
        eq(s.get("nodes"), [{"id": m.node_id, "addr": m.raft_addr, "suffrage": "voter"}
                            for m in c.nodes], "%s: store.nodes" % n.name)
        eq(sorted(n.get("/nodes").json()), ["1", "2", "3"], "%s: /nodes" % n.name)
        terms.add(s["raft"].get("term"))
    eq(len(terms), 1, "one term on every node (%r)" % terms)
    f = c.followers(lead)
    ok(f[0].execute([["CREATE TABLE t (id INTEGER PRIMARY KEY)"],
                     ["INSERT INTO t(id) VALUES(1)"]]), "write through a follower")
    eq(rows(f[1].query([SQL], q="?level=linearizable")), [[1]], "read through the other one")
    for n in c.nodes:
        c.wait_rows(n, SQL, [[1]], timeout=10)


def _wait_exit(node, limit):
    try:
        return node.proc.wait(limit)
    except subprocess.TimeoutExpired:
        raise TestFailure("%s was still running %.0fs after it started (it should have given "
                          "up joining)" % (node.name, limit))


def _dropped(port, payload, limit=5.0):
    """Send payload to 127.0.0.1:port; True if the other side closes within limit."""
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    try:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            return True
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not s.recv(65536):
                return True
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


@cluster_test(90)
def test_cluster_key_admits_members_and_refuses_others():
    c = Cluster(3, key_file=write_cluster_key())
    lead = c.start(timeout=30)
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t(id) VALUES(1)"])
    for n in c.nodes:
        c.wait_rows(n, SQL, [[1]], timeout=10)

    joins = ",".join(n.raft_addr for n in c.nodes)
    give_up = ["-join", joins, "-join-attempts", "2", "-join-interval", "200ms"]
    outsiders = [
        Node("4", extra_args=list(CLUSTER_TIMING) + ["-cluster-key", write_cluster_key()]
             + give_up, name="node4-other-key"),
        Node("5", extra_args=list(CLUSTER_TIMING) + give_up, name="node5-no-key"),
    ]
    for o in outsiders:
        o.start(wait=False)
    for o in outsiders:
        rc = _wait_exit(o, 30)
        check(rc != 0, "%s exited with status %r; a failed join is fatal" % (o.name, rc))
    for n in c.nodes:
        eq(sorted(n.get("/nodes?nonvoters").json()), ["1", "2", "3"],
           "%s: members after the outsiders tried to join" % n.name)

    # Raw bytes on a keyed node's Raft port: dropped, node unharmed.
    f = c.followers(lead)[0]
    kids = f.children()
    for p in (b"\x00\x00\x00\x10" + os.urandom(16), b"GET / HTTP/1.1\r\n\r\n",
              b"\x7f\xff\xff\xff" + b"\x00" * 32):
        check(_dropped(f.raft_port, p), "%s kept a connection open after %r" % (f.name, p[:20]))
    eq(f.children(), kids, "%s role processes after the garbage" % f.name)

    ok(f.execute([["INSERT INTO t(id) VALUES(?)", 2]]), "write through %s afterwards" % f.name)
    c.wait_formed(ids=["1", "2", "3"], timeout=10)
    for n in c.nodes:
        c.wait_rows(n, SQL, [[1], [2]], timeout=10)
    # Where our /status reports it (API.md has no such field; ours, like DESIGN.md says).
    for n in c.nodes:
        v = n.status("store.raft.peer_auth")
        check(v in ("enabled", True), "%s: store.raft.peer_auth is %r, expected enabled"
              % (n.name, v))


@cluster_test(30)
def test_a_plain_join_must_not_name_only_the_node_itself():
    # cmd/rqlited/flags.go: "node cannot join with itself unless bootstrapping". Unlike
    # rqlite, its own address among others is skipped (issue 15, test below).
    h, r = free_ports(2)
    me = "127.0.0.1:%d" % r
    rc, out, err = run_rqlited(["-node-id", "1", "-http-addr", "127.0.0.1:%d" % h,
                                "-raft-addr", me, "-join", me + "," + me,
                                os.path.join(mkdtemp(), "data")], timeout=10)
    check(rc != 0, "exit status %r" % rc)
    check("node cannot join with itself unless bootstrapping" in err,
          "stderr: %r" % err[-400:])


@cluster_test(40)
def test_a_node_that_cannot_join_gives_up_after_join_attempts():
    # Nothing listens at the join address: -join-attempts rounds, then a fatal exit.
    lone = Node("1", extra_args=list(CLUSTER_TIMING) + [
        "-join", "127.0.0.1:%d" % free_ports(1)[0], "-join-attempts", "2",
        "-join-interval", "200ms"])
    t0 = time.monotonic()
    lone.start(wait=False)
    rc = _wait_exit(lone, 20)
    check(rc != 0, "exit status %r" % rc)
    check(time.monotonic() - t0 >= 0.2, "it gave up before sleeping -join-interval")


@cluster_test(40)
def test_the_only_node_of_its_own_cluster_refuses_to_join_another():
    # cmd/rqlited/main.go createCluster: "node is the only node in a single-node cluster,
    # joining other clusters not supported".
    other = Node("1", extra_args=list(CLUSTER_TIMING), name="other").start()
    solo = Node("1", extra_args=list(CLUSTER_TIMING), name="solo").start()
    solo.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)"])
    eq(solo.stop(), 0, "exit status of the first stop")
    solo.extra_args += ["-join", other.raft_addr, "-join-attempts", "1", "-join-interval", "100ms"]
    solo.start(wait=False)
    rc = _wait_exit(solo, 10)
    check(rc != 0, "exit status %r" % rc)
    log = "\n".join(solo.log_tail(20))
    check("single-node cluster" in log, "the log does not say why:\n%s" % log)
    eq(sorted(other.get("/nodes?nonvoters").json()), ["1"], "the other cluster's members")


@cluster_test(60)
def test_removing_the_leader_itself_hands_over_to_the_rest():
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t(id) VALUES(1)"])
    rest = c.followers(lead)
    r = lead.req("DELETE", "/remove", {"id": lead.node_id})
    eq((r.status, r.body), (200, b""), "DELETE /remove of the leader itself, on the leader")
    new = c.wait_formed(nodes=rest, ids=[n.node_id for n in rest], timeout=15)
    check(new is not lead, "the removed node is still leader")
    state = lead.status("store.raft.state")
    check(state != "Leader", "the removed node still says %r" % state)
    ok(rest[0].execute([["INSERT INTO t(id) VALUES(?)", 2]]), "write after the removal")
    eq(rows(rest[1].query([SQL], q="?level=linearizable")), [[1], [2]], "rows after the removal")
    eq(sorted(new.get("/nodes?nonvoters").json()), sorted(n.node_id for n in rest),
       "/nodes after the removal")


@cluster_test(60)
def test_a_node_rejoins_under_a_new_raft_address():
    # API.md §4.3: restart with the new address and -join; the leader replaces the entry.
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t(id) VALUES(1)"])
    mover = c.followers(lead)[0]
    mover.stop()
    old_addr = mover.raft_addr
    mover.raft_port = free_ports(1)[0]
    lead.ex_ok(["INSERT INTO t(id) VALUES(2)"])
    c.start_node(mover, join=[lead], wait=False)
    members = sorted([{"id": n.node_id, "addr": n.raft_addr, "suffrage": "voter"}
                      for n in c.nodes], key=lambda x: x["id"])
    for n in c.nodes:
        c.wait_for(lambda: (c.store_of(n) or {}).get("nodes") == members, 20,
                   "%s: store.nodes to show %s at %s instead of %s"
                   % (n.name, mover.name, mover.raft_addr, old_addr))
    c.wait_formed(ids=["1", "2", "3"], timeout=10)
    c.wait_rows(mover, SQL, [[1], [2]], timeout=10)
    lead.ex_ok(["INSERT INTO t(id) VALUES(3)"])
    c.wait_rows(mover, SQL, [[1], [2], [3]], timeout=10)
    e = lead.get("/nodes").json()[mover.node_id]
    eq((e.get("addr"), e.get("reachable")), (mover.raft_addr, True),
       "/nodes entry of the moved node")


@cluster_test(60)
def test_a_member_restarted_with_every_node_in_its_join_list_rejoins_quietly():
    # Issue 15: one -join list for all nodes (this one included) used to be fatal.
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t(id) VALUES(1)"])
    f = c.followers(lead)[0]
    eq(f.stop(), 0, "exit status of the clean stop")
    c.start_node(f, join=c.nodes)           # its own Raft address is in the list
    c.wait_formed()
    lead = c.leader()
    lead.ex_ok(["INSERT INTO t(id) VALUES(2)"])
    c.wait_rows(f, SQL, [[1], [2]])
    eq(sorted(m["id"] for m in lead.status("store")["nodes"]), ["1", "2", "3"],
       "membership after the rejoin")
    vars_ = lead.get("/debug/vars").json()
    check(vars_["store"].get("num_ignored_joins", 0) >= 1,
          "the leader counts the no-op join: %r" % vars_["store"])


@cluster_test(60)
def test_nodes_joining_at_the_same_moment_are_queued_not_refused():
    # Issue 15: the second of two simultaneous joins was refused ("configuration change
    # already in progress") and waited a whole -join-interval.
    c = Cluster(4, extra_args=["-join-interval", "20s"])
    first = c.nodes[0]
    first.start()
    c.wait_formed([first])
    t0 = time.monotonic()
    for n in c.nodes[1:]:
        set_flag(n.extra_args, "-join", first.raft_addr)
        n.start(wait=False)
    c.wait_formed(timeout=15)
    took = time.monotonic() - t0
    check(took < 15, "three simultaneous joins took %.1fs (-join-interval 20s)" % took)
    logs = "\n".join(line for n in c.nodes for line in n.log_tail(200))
    check("join refused" not in logs, "a join was refused:\n%s" % logs[-2000:])


@cluster_test(60)
def test_level_auto_follows_the_live_configuration_not_the_flag():
    # Issue 15: a member restarted with -raft-non-voter (no -join: it keeps its state) is
    # still a voter in the configuration, so level=auto is weak there (forwarded).
    c = Cluster(3)
    lead = c.start()
    lead.ex_ok(["CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t(id) VALUES(1)"])
    f = c.followers(lead)[0]
    eq(f.stop(), 0, "clean stop")
    set_flag(f.extra_args, "-join", None)
    f.extra_args.append("-raft-non-voter")
    f.start()
    c.wait_formed()
    lead = c.leader()
    eq(f.status("store.raft")["voter"], True, "still a voter in the configuration")
    r = f.query([SQL], q="?level=auto")
    eq(rows(r), [[1]], "level auto on it")
    eq(r.header(SERVED_BY), lead.raft_addr, "level auto on a voter is weak: " + SERVED_BY)


@cluster_test(60)
def test_removals_at_the_same_moment_are_queued_not_refused():
    # Two DELETE /remove together: the second waited for nothing and was refused
    # ("configuration change already in progress"); now it waits its turn.
    c = Cluster(5)
    lead = c.start()
    victims = c.followers(lead)[:2]
    got = {}

    def remove(v):
        got[v.node_id] = lead.req("DELETE", "/remove", {"id": v.node_id})
    ts = [threading.Thread(target=remove, args=(v,)) for v in victims]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    for v in victims:
        status_is(got[v.node_id], 200, "removal of %s (%s)" % (v.name, got[v.node_id].text))
    want = sorted(n.node_id for n in c.nodes if n not in victims)
    c.wait_for(lambda: sorted(m["id"] for m in lead.status("store")["nodes"]) == want, 10,
               "the configuration without the two removed nodes")
