"""What a node logs when an operator starts it and probes it: each fact once, and
messages that say what happened (issue 15's start-up items)."""
import re
import socket
import time

from harness import Node, check, eq


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
