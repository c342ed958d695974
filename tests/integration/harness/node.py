"""A Node: one rqlited supervisor started by us, and the role processes it forks (found
through /proc by parent PID). Nothing here signals a process it did not start or find
that way. Also running the binary to completion for flag tests, and the per-test time
bound."""

import atexit
import os
import signal
import subprocess
import time
import urllib.parse

from .checks import TestFailure, check, status_is, wait_for
from .client import http_request
from .env import POLL, READY_TIMEOUT, REQ_TIMEOUT, RQLITED, ROLES, STOP_TIMEOUT
from .procs import cleanup_temp_dirs, free_ports, mkdtemp, proc_alive, proc_children, role_of

# Every node ever made, so the runner can print logs and clean up.
ALL_NODES = []


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
        self.tls = None  # an ssl.SSLContext when the node serves HTTPS
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
                return http_request(self.http_port, "GET", path, timeout=2,
                                    tls=self.tls).status == 200
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
        return http_request(self.http_port, method, path, body, headers, timeout,
                            tls=self.tls)

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
