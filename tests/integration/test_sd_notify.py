"""systemd readiness: a node started by a Type=notify unit tells systemd when it serves."""
import os
import socket

from harness import Node, check, eq, mkdtemp


def test_ready_and_stopping_are_sent_on_notify_socket():
    d = mkdtemp()
    path = os.path.join(d, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    old = os.environ.get("NOTIFY_SOCKET")
    os.environ["NOTIFY_SOCKET"] = path
    try:
        n = Node().start(wait=False)
    finally:
        if old is None:
            del os.environ["NOTIFY_SOCKET"]
        else:
            os.environ["NOTIFY_SOCKET"] = old
    try:
        eq(sock.recv(64), b"READY=1", "first notification")
        # READY comes once the gateway serves: the API must answer right away.
        eq(n.get("/readyz").status, 200, "/readyz right after READY=1")
        eq(n.stop(), 0, "exit status")
        eq(sock.recv(64), b"STOPPING=1", "notification on SIGTERM")
    finally:
        sock.close()
        check(not n.running(), "node still running")
