"""Crash recovery: no acknowledged write is ever lost.

A writer thread inserts increasing ids and records those acknowledged (HTTP 200 with
rows_affected 1). Each test crashes something while it writes (kill -9 of one role
process, then of the whole node), waits for recovery (bounded), and checks that every
acknowledged id is present and that nothing was invented. Role processes are found as
children of the supervisor whose command line holds `-P <role>` (DESIGN.md).
Tests run in source order on one node and data dir.
"""

import http.client
import os
import signal
import threading
import time

from harness import Node, TestFailure, check, eq, status_is, timeout, wait_for

TEST_TIMEOUT = 120.0
RECOVERY = 20.0


class Writer:
    """THREADS client threads inserting fresh ids; records the acknowledged ones."""
    THREADS = 3

    def __init__(self, node, first_id):
        self.node = node
        self.next_id = first_id
        self.acked = []
        self.failures = 0
        self.refused = 0
        self.last_error = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ts = [threading.Thread(target=self._run, daemon=True)
                    for _ in range(self.THREADS)]

    def start(self):
        for t in self._ts:
            t.start()
        return self

    def _take_id(self):
        with self._lock:
            i = self.next_id
            self.next_id += 1
            return i

    def _run(self):
        while not self._stop.is_set():
            i = self._take_id()
            try:
                r = self.node.execute([["INSERT INTO acks(id) VALUES(?)", i]], timeout=5)
                if r.status == 200 and r.json().get("results") == \
                        [{"last_insert_id": i, "rows_affected": 1}]:
                    with self._lock:
                        self.acked.append(i)
                    continue
                self.last_error = "%d %r" % (r.status, r.body[:200])
            except ConnectionRefusedError as e:
                with self._lock:
                    self.refused += 1
                self.last_error = repr(e)
            except (OSError, http.client.HTTPException, ValueError, TestFailure) as e:
                self.last_error = repr(e)
            with self._lock:
                self.failures += 1
            time.sleep(0.05)

    def wait_acks(self, n, limit, what):
        target = len(self.acked) + n
        deadline = time.monotonic() + limit
        while len(self.acked) < target:
            if time.monotonic() > deadline:
                raise TestFailure("timed out after %.0fs waiting for %d more acknowledged "
                                  "writes %s (got %d; %d failed requests, last error: %s)"
                                  % (limit, n, what, n - (target - len(self.acked)),
                                     self.failures, self.last_error))
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        for t in self._ts:
            t.join(10)
        check(not any(t.is_alive() for t in self._ts), "writer threads did not stop")
        return self


class Fixture:
    def __init__(self):
        self.node = Node().start()
        self.next_id = 1
        self.node.ex_ok(["CREATE TABLE acks (id INTEGER PRIMARY KEY)",
                         "CREATE TABLE rnd (k INTEGER PRIMARY KEY, v INTEGER)",
                         "INSERT INTO rnd(k, v) VALUES(1, RANDOM())"])
        r = self.node.query_get("SELECT v FROM rnd WHERE k = 1")
        self.random_value = r.json()["results"][0]["values"][0][0]
        self.all_acked = []

    def writer(self):
        w = Writer(self.node, self.next_id).start()
        return w

    def finish(self, w):
        w.stop()
        self.next_id = w.next_id
        self.all_acked += w.acked

    def _present(self, level):
        n = self.node

        def read():
            r = n.query_get("SELECT id FROM acks ORDER BY id", "?level=" + level, timeout=10)
            return r if r.status == 200 and "error" not in r.text else None
        r = wait_for(read, RECOVERY, "a successful %s read of the table" % level)
        return set(v[0] for v in r.json()["results"][0].get("values", []))

    def verify(self):
        """Every acknowledged id is present; nothing beyond what was attempted.
        A linearizable read must see them at once; if it does not, weak reads are
        polled to tell "lost" from "visible only later"."""
        acked = set(self.all_acked)
        present = self._present("linearizable")
        missing = sorted(acked - present)
        if missing:
            t0 = time.monotonic()
            while True:
                late = sorted(acked - self._present("weak"))
                if not late or time.monotonic() - t0 > RECOVERY:
                    break
                time.sleep(0.2)
            if late:
                raise TestFailure("%d acknowledged ids lost (of %d), e.g. %r"
                                  % (len(late), len(acked), late[:10]))
            raise TestFailure("%d acknowledged ids (of %d) missing from a linearizable read "
                              "after recovery, e.g. %r; they appeared %.1fs later"
                              % (len(missing), len(acked), missing[:10],
                                 time.monotonic() - t0))
        invented = sorted(i for i in present if i >= self.next_id)
        check(not invented, "ids never attempted are present: %r" % invented[:10])
        r = self.node.query_get("SELECT v FROM rnd WHERE k = 1")
        eq(r.json()["results"][0]["values"][0][0], self.random_value,
           "RANDOM() value written before the crashes")


def setup_module():
    return Fixture()


def teardown_module(fx):
    fx.node.stop()


def crash_role(fx, role):
    n = fx.node
    before = n.wait_children()
    w = fx.writer()
    try:
        w.wait_acks(50, RECOVERY, "before the crash")
        pid = n.kill_role(role)
        wait_for(lambda: n.children().get(role) not in (None, pid), RECOVERY,
                 "the supervisor to start a new %s process" % role)
        check(n.running(), "the supervisor must survive the loss of a child")
        n.wait_ready(RECOVERY)
        w.wait_acks(50, RECOVERY, "after %s was restarted" % role)
    finally:
        fx.finish(w)
    fx.verify()
    return before, w


@timeout(120)
def test_kill_gateway_loses_no_acknowledged_write(fx):
    _, w = crash_role(fx, "gateway")
    # The supervisor keeps the listening socket, so clients are delayed, not refused.
    eq(w.refused, 0, "connections refused while the gateway restarted")


@timeout(120)
def test_kill_storage_loses_no_acknowledged_write(fx):
    crash_role(fx, "storage")


@timeout(120)
def test_write_in_flight_when_storage_dies_is_answered_after_its_restart(fx):
    # Storage answers a local proposal itself once applied; the entry committed while
    # storage was frozen must still get its answer from the restarted one.
    n = fx.node
    n.ex_ok(["CREATE TABLE IF NOT EXISTS inflight (id INTEGER PRIMARY KEY)"])
    pid = n.wait_children()["storage"]
    got = {}

    def write():
        try:
            got["r"] = n.execute([["INSERT INTO inflight(id) VALUES(?)", 7]], timeout=60)
        except Exception as e:  # noqa: BLE001 - reported below
            got["e"] = e

    os.kill(pid, signal.SIGSTOP)
    t = threading.Thread(target=write, daemon=True)
    try:
        t.start()
        time.sleep(0.5)     # committed (one node), not applied: storage is frozen
        check("r" not in got and "e" not in got, "the write was answered by a frozen storage")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGCONT)
    t.join(RECOVERY)
    check("e" not in got, "the write failed: %r" % got.get("e"))
    check("r" in got, "the write got no answer after storage restarted")
    status_is(got["r"], 200)
    eq(got["r"].json().get("results"), [{"last_insert_id": 7, "rows_affected": 1}],
       "the answer to the write made while storage died")
    n.wait_ready(RECOVERY)
    eq(n.query_get("SELECT id FROM inflight").json()["results"][0].get("values"), [[7]],
       "the row")


@timeout(120)
def test_kill_consensus_loses_no_acknowledged_write(fx):
    crash_role(fx, "consensus")


@timeout(120)
def test_kill_every_role_at_once_via_supervisor_children(fx):
    n = fx.node
    w = fx.writer()
    try:
        w.wait_acks(50, RECOVERY, "before the crash")
        old = n.wait_children()
        for role in ("storage", "consensus", "gateway"):
            n.kill_role(role)
        wait_for(lambda: all(n.children().get(r) not in (None, old[r]) for r in old),
                 RECOVERY, "all three roles to be restarted")
        n.wait_ready(RECOVERY)
        w.wait_acks(20, RECOVERY, "after all roles were restarted")
    finally:
        fx.finish(w)
    fx.verify()


@timeout(120)
def test_kill_whole_node_and_restart_on_same_dir(fx):
    n = fx.node
    w = fx.writer()
    try:
        w.wait_acks(100, RECOVERY, "before the crash")
        n.kill()
        time.sleep(0.3)
    finally:
        fx.finish(w)
    n.start(timeout=RECOVERY)
    fx.verify()
    w = fx.writer()
    try:
        w.wait_acks(20, RECOVERY, "after the restart")
    finally:
        fx.finish(w)
    fx.verify()


@timeout(120)
def test_repeated_whole_node_crashes(fx):
    n = fx.node
    for round_ in range(3):
        w = fx.writer()
        try:
            w.wait_acks(10, RECOVERY, "in round %d" % round_)
            n.kill()
        finally:
            fx.finish(w)
        n.start(timeout=RECOVERY)
        fx.verify()


@timeout(120)
def test_clean_restart_keeps_data_and_exits_0(fx):
    n = fx.node
    w = fx.writer()
    try:
        w.wait_acks(20, RECOVERY, "before the shutdown")
    finally:
        fx.finish(w)
    eq(n.stop(), 0, "exit status after SIGTERM")
    eq(n.leftover_roles, [], "role processes alive 5s after the supervisor exited")
    n.start(timeout=RECOVERY)
    fx.verify()
    body = n.get("/status?key=store.raft.state")
    status_is(body, 200)
    eq(body.text, '"Leader"', "state after restart")
    # A write after the restart works and continues the id sequence.
    n.ex_ok([["INSERT INTO acks(id) VALUES(?)", fx.next_id]])
    fx.all_acked.append(fx.next_id)
    fx.next_id += 1
    fx.verify()


@timeout(120)
def test_sigterm_during_writes_exits_0_and_loses_nothing(fx):
    n = fx.node
    w = fx.writer()
    try:
        w.wait_acks(20, RECOVERY, "before the shutdown")
        rc = n.stop()
    finally:
        fx.finish(w)
    eq(rc, 0, "exit status after SIGTERM under load")
    n.start(timeout=RECOVERY)
    fx.verify()
