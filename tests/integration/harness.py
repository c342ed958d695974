"""Harness for the integration tests: starts real rqlited nodes and talks HTTP to them.

Only the Python 3 standard library is used. A Node owns one supervisor process (started
by us, found by PID) and the role processes it forks (found by scanning /proc for
processes whose parent is the supervisor). Nothing here signals a process it did not
start or find that way.
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RQLITED = os.environ.get("RQLITED") or os.path.join(REPO, "rqlited")
if not os.environ.get("RQLITED") and not os.path.exists(RQLITED) \
        and os.path.exists(os.path.join(REPO, "build", "rqlited")):
    RQLITED = os.path.join(REPO, "build", "rqlited")  # out-of-tree build

READY_TIMEOUT = 20.0   # seconds to wait for /readyz 200
POLL = 0.05            # seconds between readiness polls
STOP_TIMEOUT = 15.0    # seconds between SIGTERM and SIGKILL
REQ_TIMEOUT = 10.0     # default per-request socket timeout
ROLES = ("gateway", "consensus", "storage")

# Every node and temp dir ever made, so the runner can print logs and clean up.
ALL_NODES = []
_TEMP_DIRS = []


class TestFailure(AssertionError):
    pass


# --------------------------------------------------------------------------------------
# small assertion helpers (plain `assert` would vanish under python -O)

def check(cond, msg="check failed"):
    if not cond:
        raise TestFailure(msg)


def eq(got, exp, what="value"):
    if got != exp:
        raise TestFailure("%s:\n      expected: %r\n      got:      %r" % (what, exp, got))


def body_is(resp, exp, status=200, what=None):
    """Exact status and exact body text."""
    what = what or "%s %s" % (resp.method, resp.path)
    if resp.status != status:
        raise TestFailure("%s: expected status %d, got %d, body %r"
                          % (what, status, resp.status, resp.body[:400]))
    eq(resp.text, exp, what + " body")


def status_is(resp, status, what=None):
    what = what or "%s %s" % (resp.method, resp.path)
    if resp.status != status:
        raise TestFailure("%s: expected status %d, got %d, body %r"
                          % (what, status, resp.status, resp.body[:400]))


def wait_for(fn, timeout, what, interval=POLL):
    """Poll fn() until it returns a truthy value; return it or fail after timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polling tolerates transient errors
            last_exc = e
        if time.monotonic() >= deadline:
            extra = (": last error %r" % last_exc) if last_exc else ""
            raise TestFailure("timed out after %.1fs waiting for %s%s" % (timeout, what, extra))
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# ports and temp dirs

def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def mkdtemp(prefix="rqlite-it-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _TEMP_DIRS.append(d)
    return d


def cleanup_temp_dirs():
    if os.environ.get("KEEP"):
        return
    while _TEMP_DIRS:
        shutil.rmtree(_TEMP_DIRS.pop(), ignore_errors=True)


# --------------------------------------------------------------------------------------
# /proc helpers

def _read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def proc_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        stat = _read("/proc/%d/stat" % pid)
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def proc_children(ppid):
    """{pid: argv list} of live processes whose parent is ppid."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            stat = _read("/proc/%d/stat" % pid)
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) != ppid or fields[0] in ("Z", "X"):
                continue
            argv = _read("/proc/%d/cmdline" % pid, "rb").split(b"\0")
            out[pid] = [a.decode("utf-8", "replace") for a in argv if a]
        except (OSError, IndexError, ValueError):
            continue
    return out


def role_of(argv):
    """The role of a child: `-P <role>` in its argv, or a process title such as
    `rqlited: storage` (children may rewrite their command line)."""
    for i, a in enumerate(argv):
        if a == "-P" and i + 1 < len(argv):
            return argv[i + 1]
    words = " ".join(argv).replace(":", " ").split()
    for r in ROLES:
        if r in words:
            return r
    return None


# --------------------------------------------------------------------------------------
# HTTP

class Resp:
    """An HTTP response: iterable as (status, headers, body bytes)."""

    def __init__(self, method, path, status, headers, body):
        self.method, self.path = method, path
        self.status, self.headers, self.body = status, headers, body

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError as e:
            raise TestFailure("%s %s: body is not JSON (%s): %r"
                              % (self.method, self.path, e, self.body[:400]))

    def header(self, name):
        return self.headers.get(name)


def http_request(port, method, path, body=None, headers=None, timeout=REQ_TIMEOUT,
                 host="127.0.0.1"):
    """One request on a fresh connection. body may be bytes, str, or a JSON-able object."""
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Resp(method, path, r.status, r.headers, data)
    finally:
        conn.close()


class Client:
    """A keep-alive connection for tests that care about connection reuse."""

    def __init__(self, port, timeout=REQ_TIMEOUT):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.conn.request(method, path, body=body, headers=hdrs)
        r = self.conn.getresponse()
        return Resp(method, path, r.status, r.headers, r.read())

    def close(self):
        self.conn.close()


def qs(**params):
    """Query string; a value of True means a bare flag (`?pretty`)."""
    parts = []
    for k, v in params.items():
        if v is True:
            parts.append(k)
        else:
            parts.append("%s=%s" % (k, urllib.parse.quote(str(v), safe="")))
    return ("?" + "&".join(parts)) if parts else ""


# --------------------------------------------------------------------------------------
# the node

class Node:
    def __init__(self, node_id="1", datadir=None, extra_args=(), name=None):
        self.node_id = node_id
        top = mkdtemp()
        self.datadir = datadir or os.path.join(top, "data")
        self.http_port, self.raft_port = free_ports(2)
        self.extra_args = list(extra_args)
        self.name = name or "node%s" % node_id
        self.logpath = os.path.join(top, "%s-%d.log" % (self.name, self.http_port))
        self.cwd = top  # a relative path the binary invents lands here, not in the tree
        self.proc = None
        self._logf = None
        self.leftover_roles = []
        self.stop_timed_out = False
        ALL_NODES.append(self)

    # --- addresses
    @property
    def http_addr(self):
        return "127.0.0.1:%d" % self.http_port

    @property
    def raft_addr(self):
        return "127.0.0.1:%d" % self.raft_port

    def argv(self):
        return [RQLITED, "-node-id", self.node_id,
                "-http-addr", self.http_addr, "-raft-addr", self.raft_addr] \
            + self.extra_args + [self.datadir]

    # --- lifecycle
    def start(self, wait=True, timeout=READY_TIMEOUT):
        if not os.path.exists(RQLITED):
            raise TestFailure("rqlited binary not found at %s (set RQLITED)" % RQLITED)
        if self.proc is not None and self.proc.poll() is None:
            raise TestFailure("%s already running" % self.name)
        self._logf = open(self.logpath, "ab")
        self._logf.write(("\n=== start %s: %s\n" % (time.strftime("%H:%M:%S"),
                                                     " ".join(self.argv()))).encode())
        self._logf.flush()
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=subprocess.STDOUT,
                                     cwd=self.cwd, start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=READY_TIMEOUT, path="/readyz"):
        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("%s exited with status %s before it was ready"
                                  % (self.name, self.proc.returncode))
            try:
                return http_request(self.http_port, "GET", path, timeout=2).status == 200
            except OSError:
                return False
        deadline = time.monotonic() + timeout
        while True:
            if ready():
                return
            if time.monotonic() >= deadline:
                raise TestFailure("%s not ready (GET %s != 200) after %.0fs"
                                  % (self.name, path, timeout))
            time.sleep(POLL)

    def children(self):
        """{role: pid} of the role processes the supervisor currently has."""
        if not self.running():
            return {}
        out = {}
        for pid, argv in proc_children(self.proc.pid).items():
            r = role_of(argv)
            if r:
                out[r] = pid
        return out

    def wait_children(self, timeout=READY_TIMEOUT):
        return wait_for(lambda: (lambda c: c if all(r in c for r in ROLES) else None)(
            self.children()), timeout, "%s to have all three role processes" % self.name)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait (bounded), then SIGKILL. Returns the supervisor's exit status
        (negative = killed by that signal), or None if it was never started."""
        return self.signal_and_wait(signal.SIGTERM, timeout)

    def signal_and_wait(self, sig, timeout=STOP_TIMEOUT):
        """Send sig to the supervisor and wait for it and its role processes to exit.
        Escalates to SIGKILL after timeout. Role processes still alive 5 s after the
        supervisor exited are killed and their pids recorded in self.leftover_roles."""
        if self.proc is None:
            return None
        self.leftover_roles = []
        if self.proc.poll() is None:
            kids = list(self.children().values())
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.stop_timed_out = True
                self._kill_pids([self.proc.pid] + kids)
                self.proc.wait(5)
            if not self._wait_gone(kids, 5.0):
                self.leftover_roles = [p for p in kids if proc_alive(p)]
                self._kill_pids(self.leftover_roles)
                self._wait_gone(kids, 2.0)
        self._close_log()
        return self.proc.returncode

    def kill(self):
        """kill -9 the whole node: supervisor and every role process."""
        if self.proc is None or self.proc.poll() is not None:
            self._close_log()
            return
        kids = list(self.children().values())
        self._kill_pids([self.proc.pid])
        kids += [p for p in self.children().values() if p not in kids]
        self._kill_pids(kids)
        self.proc.wait(5)
        self._wait_gone(kids, 5.0, kill=True)
        self._close_log()

    def kill_role(self, role, sig=signal.SIGKILL):
        """Signal one role process; returns the pid signalled."""
        pid = self.children().get(role)
        if pid is None:
            raise TestFailure("%s has no %s process (children: %r)"
                              % (self.name, role, self.children()))
        os.kill(pid, sig)
        return pid

    def restart(self, wait=True, timeout=READY_TIMEOUT):
        self.stop()
        return self.start(wait=wait, timeout=timeout)

    @staticmethod
    def _kill_pids(pids):
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _wait_gone(self, pids, timeout, kill=False):
        deadline = time.monotonic() + timeout
        while any(proc_alive(p) for p in pids):
            if time.monotonic() >= deadline:
                if kill:
                    self._kill_pids([p for p in pids if proc_alive(p)])
                    kill = False
                    deadline = time.monotonic() + 2
                    continue
                return False
            time.sleep(POLL)
        return True

    def _close_log(self):
        if self._logf:
            self._logf.close()
            self._logf = None

    def log_tail(self, n=40):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                lines = f.read().decode("utf-8", "replace").splitlines()
            return lines[-n:]
        except OSError:
            return []

    # --- HTTP helpers
    def req(self, method, path, body=None, headers=None, timeout=REQ_TIMEOUT):
        return http_request(self.http_port, method, path, body, headers, timeout)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, ctype=None, timeout=REQ_TIMEOUT):
        headers = {"Content-Type": ctype} if ctype else None
        return self.req("POST", path, body, headers, timeout)

    def execute(self, stmts, q="", timeout=REQ_TIMEOUT):
        return self.post("/db/execute" + q, stmts, timeout=timeout)

    def query(self, stmts, q="", timeout=REQ_TIMEOUT):
        return self.post("/db/query" + q, stmts, timeout=timeout)

    def query_get(self, sql, q="", timeout=REQ_TIMEOUT):
        sep = "&" if q else "?"
        return self.get("/db/query" + (q or "") + sep + "q=" + urllib.parse.quote(sql, safe=""),
                        timeout=timeout)

    def request(self, stmts, q="", timeout=REQ_TIMEOUT):
        return self.post("/db/request" + q, stmts, timeout=timeout)

    def ex_ok(self, stmts, q=""):
        """Execute and require 200 and no error anywhere; return parsed JSON."""
        r = self.execute(stmts, q)
        status_is(r, 200)
        j = r.json()
        check("error" not in j and all("error" not in x for x in j.get("results", [])),
              "execute %r failed: %s" % (stmts, r.text))
        return j


def start_node(*args, **kw):
    return Node(*args, **kw).start()


def stop_all(since=0):
    for n in ALL_NODES[since:]:
        try:
            if n.running():
                n.stop()
        except Exception:  # noqa: BLE001 - best-effort cleanup
            try:
                n.kill()
            except Exception:  # noqa: BLE001
                pass


def _atexit():
    stop_all()
    cleanup_temp_dirs()


atexit.register(_atexit)


def run_rqlited(args, timeout=5.0):
    """Run the binary to completion (for flag tests). Returns (rc, stdout, stderr)."""
    if not os.path.exists(RQLITED):
        raise TestFailure("rqlited binary not found at %s (set RQLITED)" % RQLITED)
    p = subprocess.Popen([RQLITED] + list(args), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=mkdtemp(), start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # It may have forked role processes: kill those (found by parent PID) too.
        kids = list(proc_children(p.pid))
        Node._kill_pids([p.pid] + kids)
        out, err = p.communicate(timeout=5)
        raise TestFailure("rqlited %s did not exit within %.0fs; its stderr ended with:\n%s"
                          % (" ".join(args), timeout,
                             err.decode("utf-8", "replace")[-600:]))
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def timeout(seconds):
    """Decorator: per-test time bound for the runner (default 60 s)."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


# --------------------------------------------------------------------------------------
# clusters (additions for the multi-node tests; nothing above depends on them)

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


def rows(resp, what=None):
    """The `values` of the single result of a query response, as a list of lists; fails on
    any error (HTTP or SQL)."""
    what = what or "%s %s" % (resp.method, resp.path)
    status_is(resp, 200, what)
    j = resp.json()
    if "error" in j:
        raise TestFailure("%s: request error %r" % (what, j["error"]))
    res = j.get("results") or []
    if len(res) != 1:
        raise TestFailure("%s: expected one result, got %r" % (what, resp.text[:400]))
    if "error" in res[0]:
        raise TestFailure("%s: statement error %r" % (what, res[0]["error"]))
    return res[0].get("values", [])


class Checks:
    """Collects mismatches so a test can report several at once; done() raises them all.
    For independent exact-value checks whose failure should not hide the ones after it."""

    def __init__(self):
        self.wrong = []

    def eq(self, got, exp, what="value"):
        if got != exp:
            self.wrong.append("%s:\n      expected: %r\n      got:      %r" % (what, exp, got))

    def check(self, cond, msg):
        if not cond:
            self.wrong.append(msg)

    def done(self):
        if self.wrong:
            raise TestFailure("%d check(s) failed:\n  " % len(self.wrong)
                              + "\n  ".join(self.wrong))


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
