"""Clusters for the multi-node tests: Cluster (N nodes with short Raft timings, formed by
joining or by -bootstrap-expect), ClusterWriter (client threads counting acknowledged
writes), cluster_test (per-test bound, cluster state on failure, teardown), and the
node methods they need (pause, resume, paused, status)."""

import http.client
import os
import signal
import threading
import time
import traceback

from .checks import TestFailure, rows, status_is, wait_for
from .client import qs
from .env import READY_TIMEOUT
from .node import Node
from .procs import mkdtemp

# Short Raft timings keep the cluster suite fast. ELECTION is the election timeout they set.
CLUSTER_TIMING = ("-raft-election-timeout", "500ms", "-raft-heartbeat-timeout", "500ms")
ELECTION = 0.5
STATUS_TIMEOUT = 2.0   # per-request bound when polling /status of cluster members
ALL_CLUSTERS = []


def _node_pause(self):
    """SIGSTOP the supervisor and every role process: the node stops answering anything
    (its sockets stay open, so peers see a silent node rather than a closed port)."""
    pids = [self.proc.pid] + list(self.children().values())
    for p in pids:
        try:
            os.kill(p, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    self.paused_pids = pids


def _node_resume(self):
    for p in getattr(self, "paused_pids", None) or []:
        try:
            os.kill(p, signal.SIGCONT)
        except ProcessLookupError:
            pass
    self.paused_pids = []


def _node_paused(self):
    return bool(getattr(self, "paused_pids", None))


def _node_status(self, key=None, timeout=STATUS_TIMEOUT):
    """GET /status (or /status?key=...) as parsed JSON; raises on non-200."""
    r = self.get("/status" + (qs(key=key) if key else ""), timeout=timeout)
    status_is(r, 200)
    return r.json()


Node.pause = _node_pause
Node.resume = _node_resume
Node.paused = _node_paused
Node.status = _node_status


def set_flag(args, flag, value=None):
    """Replace (or add) `flag value` in an argv list; value None removes the flag."""
    out = []
    i = 0
    while i < len(args):
        if args[i] == flag:
            i += 2
            continue
        out.append(args[i])
        i += 1
    if value is not None:
        out += [flag, value]
    args[:] = out


def write_cluster_key(path=None):
    """32 random bytes, mode 0600; returns the path."""
    path = path or os.path.join(mkdtemp(), "cluster.key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, os.urandom(32))
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    return path


class Cluster:
    """N rqlited nodes with ids "1".."N" and short Raft timings.

    start() forms the cluster: node 1 bootstraps alone and the others join it with
    `-join <raft addr of node 1>`; start(bootstrap_expect=True) instead starts every node
    at once with `-bootstrap-expect N -join <all raft addrs>`. Nodes are harness Nodes (so
    the runner prints their logs); close() kill -9s them all. Failure messages do not
    include the cluster's state: cluster_test adds it (describe()) once, at the end."""

    def __init__(self, n=3, extra_args=(), timing=CLUSTER_TIMING, key_file=None):
        self.common = list(timing) + list(extra_args)
        self.key_file = key_file
        if key_file:
            self.common += ["-cluster-key", key_file]
        self.nodes = []
        for i in range(n):
            self.add_node()
        ALL_CLUSTERS.append(self)

    # --- membership of this harness object (not of the Raft cluster)
    def add_node(self, node_id=None, extra_args=()):
        node_id = node_id or str(len(self.nodes) + 1)
        n = Node(node_id, extra_args=self.common + list(extra_args))
        self.nodes.append(n)
        return n

    def node(self, node_id):
        for n in self.nodes:
            if n.node_id == str(node_id):
                return n
        raise TestFailure("no node %r in the cluster" % node_id)

    def live(self, nodes=None):
        """Nodes that are running and not paused."""
        return [n for n in (nodes or self.nodes) if n.running() and not n.paused()]

    # --- formation
    def start(self, bootstrap_expect=False, nodes=None, timeout=30.0):
        nodes = list(nodes or self.nodes)
        deadline = time.monotonic() + timeout

        def left():
            return max(0.5, deadline - time.monotonic())
        if bootstrap_expect:
            joins = ",".join(n.raft_addr for n in nodes)
            for n in nodes:
                set_flag(n.extra_args, "-bootstrap-expect", str(len(nodes)))
                set_flag(n.extra_args, "-join", joins)
            for n in nodes:
                n.start(wait=False)
            for n in nodes:
                n.wait_ready(left())
        else:
            first = nodes[0]
            first.start(wait=True, timeout=left())
            for n in nodes[1:]:
                set_flag(n.extra_args, "-join", first.raft_addr)
                n.start(wait=False)
            for n in nodes[1:]:
                n.wait_ready(left())
        return self.wait_formed(nodes, timeout=left())

    def start_node(self, n, join=None, wait=True, timeout=READY_TIMEOUT):
        """(Re)start one node; join = list of nodes whose Raft addresses go in -join
        (None keeps the node's current flags)."""
        if join is not None:
            set_flag(n.extra_args, "-join", ",".join(j.raft_addr for j in join))
        return n.start(wait=wait, timeout=timeout)

    # --- observing
    def store_of(self, n, timeout=STATUS_TIMEOUT):
        """/status store section of n, or None if it does not answer."""
        try:
            return n.status("store", timeout=timeout)
        except (OSError, http.client.HTTPException, TestFailure):
            return None

    def describe(self):
        """One line per node: process state, Raft state, term, leader, indexes."""
        lines = []
        for n in self.nodes:
            if n.proc is None:
                lines.append("  %s: never started" % n.name)
                continue
            if not n.running():
                lines.append("  %s: exited (status %s)" % (n.name, n.proc.returncode))
                continue
            if n.paused():
                lines.append("  %s: paused (SIGSTOP)" % n.name)
                continue
            s = self.store_of(n, timeout=1.0)
            if s is None:
                lines.append("  %s: running, /status does not answer" % n.name)
                continue
            raft = s.get("raft") or {}
            lines.append("  %s (raft %s, http %s): %s term %s, leader %s, nodes %s, "
                         "commit %s applied %s" % (
                             n.name, n.raft_addr, n.http_addr, raft.get("state"),
                             raft.get("term"), (s.get("leader") or {}).get("node_id"),
                             [x.get("id") for x in s.get("nodes") or []],
                             raft.get("commit_index"), raft.get("applied_index")))
        return "\n".join(lines)

    def leader_now(self, nodes, voters=None):
        """The node every node in `nodes` agrees is leader (it says Leader itself), or None.
        With voters, also require every node to list exactly those ids in store.nodes."""
        stores = {}
        for n in nodes:
            s = self.store_of(n)
            if s is None:
                return None
            stores[n.node_id] = s
        leaders = [n for n in nodes
                   if (stores[n.node_id].get("raft") or {}).get("state") == "Leader"]
        if len(leaders) != 1:
            return None
        lead = leaders[0]
        for n in nodes:
            s = stores[n.node_id]
            if (s.get("leader") or {}).get("node_id") != lead.node_id:
                return None
            if voters is not None and \
                    sorted(x.get("id") for x in s.get("nodes") or []) != sorted(voters):
                return None
        return lead

    def leader(self, nodes=None, timeout=10.0, exclude=()):
        """Wait until the running, unpaused nodes (or `nodes`) agree on one leader; return it."""
        def find():
            cand = [n for n in self.live(nodes) if n not in exclude]
            return self.leader_now(cand) if cand else None
        return wait_for(find, timeout, "one leader agreed on by all live nodes")

    def wait_formed(self, nodes=None, ids=None, timeout=20.0):
        """Wait until all `nodes` agree on the leader and on the membership `ids`
        (default: their own ids); return the leader."""
        nodes = list(nodes or self.live())
        ids = ids or [n.node_id for n in nodes]
        return wait_for(lambda: self.leader_now(nodes, ids), timeout,
                        "nodes %s to agree on one leader and members %s"
                        % ([n.node_id for n in nodes], ids))

    def followers(self, leader=None):
        leader = leader or self.leader()
        return [n for n in self.live() if n is not leader]

    def wait_for(self, fn, timeout, what):
        return wait_for(fn, timeout, what)

    def wait_rows(self, n, sql, expected, timeout=10.0, level="none"):
        """Poll n with a query at `level` until its rows equal expected."""
        last = [None]

        def ok():
            last[0] = rows(n.query([sql], q="?level=" + level, timeout=STATUS_TIMEOUT))
            return last[0] == expected
        try:
            return wait_for(ok, timeout, "%s to return %r for %r at level %s"
                            % (n.name, expected, sql, level))
        except TestFailure as e:
            raise TestFailure("%s; last rows: %r" % (e, last[0]))

    # --- faults and teardown
    def close(self):
        for n in self.nodes:
            try:
                n.resume()
                n.kill()
            except Exception:  # noqa: BLE001 - best-effort teardown
                pass


class ClusterWriter:
    """Client threads inserting fresh ids into table `acks` through the target nodes in
    turn; records the ids acknowledged with 200 and rows_affected 1. Refused connections,
    timeouts, 503s and request errors just count as failures and are retried with new ids."""

    def __init__(self, targets, first_id=1, threads=2, req_timeout=5.0):
        self.targets = list(targets)
        self.next_id = first_id
        self.first_id = first_id
        self.acked = []
        self.failures = 0
        self.last_error = None
        self.req_timeout = req_timeout
        self._turn = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ts = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self):
        for t in self._ts:
            t.start()
        return self

    def _next(self):
        with self._lock:
            i = self.next_id
            self.next_id += 1
            t = self.targets[self._turn % len(self.targets)]
            self._turn += 1
            return i, t

    def _run(self):
        while not self._stop.is_set():
            i, node = self._next()
            try:
                r = node.execute([["INSERT INTO acks(id) VALUES(?)", i]],
                                 timeout=self.req_timeout)
                if r.status == 200 and r.json().get("results") == \
                        [{"last_insert_id": i, "rows_affected": 1}]:
                    with self._lock:
                        self.acked.append(i)
                    continue
                self.last_error = "%s: %d %r" % (node.name, r.status, r.body[:200])
            except (OSError, http.client.HTTPException, ValueError, TestFailure) as e:
                self.last_error = "%s: %r" % (node.name, e)
            with self._lock:
                self.failures += 1
            time.sleep(0.05)

    def wait_acks(self, n, limit, what=""):
        with self._lock:
            target = len(self.acked) + n
        deadline = time.monotonic() + limit
        while len(self.acked) < target:
            if time.monotonic() > deadline:
                raise TestFailure("timed out after %.0fs waiting for %d more acknowledged "
                                  "writes %s (%d failed requests, last error: %s)"
                                  % (limit, n, what, self.failures, self.last_error))
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        for t in self._ts:
            t.join(self.req_timeout + 5)
        with self._lock:
            return sorted(self.acked), self.next_id  # ids >= next_id were never sent


def cluster_test(seconds=60):
    """Decorator for cluster tests: sets the runner's time bound, adds every cluster's state
    (who is leader, terms, indexes) to a failure message, and kill -9s the clusters the test
    made when it ends. A Cluster passed in as the module fixture is described, not closed."""
    def deco(fn):
        def wrapper(*args):
            before = len(ALL_CLUSTERS)
            try:
                return fn(*args)
            except Exception as e:  # noqa: BLE001 - re-raised with the cluster state
                mine = [a for a in args if isinstance(a, Cluster)] + ALL_CLUSTERS[before:]
                if isinstance(e, TestFailure):
                    msg = str(e)
                else:
                    # Skip this wrapper's own frame (its line numbers are shifted).
                    tb = traceback.extract_tb(e.__traceback__)[1:][-3:]
                    msg = "%s: %s\n%s" % (type(e).__name__, e,
                                          "".join(traceback.format_list(tb)))
                for i, c in enumerate(mine):
                    msg += "\n--- cluster %d state at failure:\n%s" % (i + 1, c.describe())
                raise TestFailure(msg) from None
            finally:
                for c in ALL_CLUSTERS[before:]:
                    c.close()
        wrapper.__name__ = fn.__name__
        wrapper.__qualname__ = fn.__qualname__
        wrapper.__module__ = fn.__module__
        wrapper.__doc__ = fn.__doc__
        wrapper.__wrapped__ = fn  # the runner reads the signature through this
        # The runner orders tests by first line: keep the test's own.
        wrapper.__code__ = wrapper.__code__.replace(co_firstlineno=fn.__code__.co_firstlineno)
        wrapper.timeout = seconds
        return wrapper
    return deco
