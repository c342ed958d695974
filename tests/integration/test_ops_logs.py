"""What a node logs when an operator starts it and probes it: each fact once, and
messages that say what happened (issue 15's start-up items)."""
import os
import re
import signal
import socket
import subprocess
import time

from harness import Node, TestFailure, check, eq, mkdtemp, timeout


def lines(node, pattern):
    return [l for l in node.log_tail(400) if re.search(pattern, l)]


def test_start_up_says_each_thing_once():
    n = Node().start()
    try:
        n.ex_ok(["CREATE TABLE t (x)"])
        time.sleep(0.5)
        eq(len(lines(n, "no cluster key|no -cluster-key")), 1, "warnings about the missing key")
        states = [re.sub(r"^\S+ ", "", l) for l in lines(n, r"raft state ")]
        dupes = [a for a, b in zip(states, states[1:]) if a == b]
        eq(dupes, [], "raft state lines repeated one after another")
    finally:
        n.stop()


def test_an_http_request_on_the_raft_port_is_named_as_such():
    n = Node().start()
    try:
        s = socket.create_connection(("127.0.0.1", n.raft_port), timeout=5)
        s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            s.recv(100)
        except OSError:
            pass
        s.close()

        def logged():
            return lines(n, "HTTP request on the Raft port")
        deadline = time.monotonic() + 5
        while not logged() and time.monotonic() < deadline:
            time.sleep(0.1)
        check(logged(), "no line names the HTTP request: %r" % n.log_tail(10))
        eq(lines(n, "handshake frame of"), [], "lines about a giant handshake frame")
        n.ex_ok(["CREATE TABLE still (x)"])	# the Raft port goes on working
    finally:
        n.stop()


def test_a_missing_or_short_cluster_key_stops_start_up_naming_the_file():
    d = mkdtemp()
    for path, content in ((os.path.join(d, "absent.key"), None),
                          (os.path.join(d, "short.key"), b"0123456789")):
        if content is not None:
            with open(path, "wb") as f:
                f.write(content)
            os.chmod(path, 0o600)
        n = Node(extra_args=["-cluster-key", path])
        n.start(wait=False)
        try:
            rc = n.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise TestFailure("rqlited with -cluster-key %s did not exit" % path) from None
        eq(rc, 1, "exit status with -cluster-key %s" % path)
        log = "\n".join(l for l in n.log_tail(50) if not l.startswith("=== "))
        eq(log.count(path), 1, "times the log names %s:\n%s" % (path, log))
        check("consensus" not in log, "a role was started:\n" + log)


@timeout(90)
def test_a_role_that_keeps_dying_at_start_stops_the_node_with_status_1():
    n = Node().start()
    killed = []
    deadline = time.monotonic() + 60
    while n.running() and time.monotonic() < deadline:
        pid = n.children().get("storage")
        if pid is not None and pid not in killed:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    check(not n.running(), "the node still runs after %d quick storage deaths" % len(killed))
    eq(n.proc.returncode, 1, "exit status")
    check(5 <= len(killed) <= 6, "storage was killed %d times before the node gave up"
          % len(killed))
    check(any("died 5 times in a row" in l for l in n.log_tail(50)),
          "no line says why the node stopped: %r" % n.log_tail(8))
