"""Bad input: bodies, parameters, query strings, paths, methods, bytes on the socket.

One node for the module. Error bodies made by the reference's http.Error are
`text/plain; charset=utf-8` with a trailing newline; 404/405 bodies are empty
(http/service.go, http/request_parser.go, http/query_params.go).
"""

import os
import socket
import threading
import time

from harness import Node, body_is, check, eq, status_is

READY_BODY = "[+]node ok\n[+]leader ok\n[+]store ok\n[+]db ok"


def setup_module():
    n = Node().start()
    n.ex_ok(["CREATE TABLE foo (id integer not null primary key, name text)"])
    return n


def teardown_module(n):
    n.stop()


def text_error(r, msg, status=400):
    body_is(r, msg + "\n", status=status)
    eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type of error")
    eq(r.header("X-Content-Type-Options"), "nosniff", "X-Content-Type-Options")


def test_invalid_json_bodies(n):
    for path in ["/db/execute", "/db/query", "/db/request"]:
        for body in ["not json", '["SELECT 1"', "[", '["SELECT 1",', "\x00\x01"]:
            text_error(n.post(path, body, ctype="application/json"), "invalid JSON body")


def test_empty_body_is_invalid_json(n):
    # The reference's JSON decoder sees EOF before any token: "invalid JSON body"
    # (API.md says "no statements"; the code in http/request_parser.go says otherwise).
    for path in ["/db/execute", "/db/query", "/db/request"]:
        text_error(n.post(path, b"", ctype="application/json"), "invalid JSON body")


def test_json_of_the_wrong_shape_is_invalid_request(n):
    for path in ["/db/execute", "/db/query", "/db/request"]:
        for body in ['{"a": 1}', '"SELECT 1"', "1", "[1]", "[null]", "[{}]", "[[]]",
                     "[[1, 2]]", '[["SELECT 1"], 5]', "true", '{"a": ']:
            text_error(n.post(path, body, ctype="application/json"), "invalid request")


def test_empty_array_is_no_statements(n):
    for path in ["/db/execute", "/db/query", "/db/request"]:
        text_error(n.post(path, "[]", ctype="application/json"), "no statements")
    text_error(n.post("/db/execute", " [ ] ", ctype="application/json"), "no statements")


def test_unsupported_parameter_types(n):
    for params in ['{"a": {"b": 1}}', "[1, 256]", '[1, "x"]', "[-1]", "[1.5]"]:
        r = n.post("/db/execute", '[["INSERT INTO foo(name) VALUES(?)", %s]]' % params,
                   ctype="application/json")
        status_is(r, 400, what="params %s" % params)
        check(r.text.startswith("unsupported type"), "params %s: body %r" % (params, r.text))


def test_bad_durations_and_integers_in_query_string(n):
    for name in ["timeout", "freshness", "db_timeout", "linearizable_timeout"]:
        for bad in ["abc", "5", "1x", "-"]:
            text_error(n.get("/db/query?q=SELECT%201&" + name + "=" + bad),
                       "%s is not a valid duration" % name)
    for name in ["retries", "trailing_logs"]:
        text_error(n.get("/db/query?q=SELECT%201&" + name + "=x"),
                   "%s is not a valid integer" % name)
    # Checked before routing, so it applies to every endpoint.
    text_error(n.get("/status?timeout=abc"), "timeout is not a valid duration")
    text_error(n.post("/db/execute?timeout=1", '["SELECT 1"]', ctype="application/json"),
               "timeout is not a valid duration")


def test_valid_go_durations_are_accepted(n):
    for d in ["0", "1s", "1.5s", "100ms", "1h30m", "2us", "3µs", "500ns", "1m0.5s"]:
        r = n.get("/db/query?q=SELECT%201&timeout=" + d.replace("µ", "%C2%B5"))
        status_is(r, 200, what="timeout=" + d)


def test_freshness_strict_requires_freshness(n):
    text_error(n.get("/db/query?q=SELECT%201&freshness_strict"),
               "freshness_strict requires freshness")


def test_empty_q_is_rejected(n):
    text_error(n.get("/db/query?q="), "query parameter not set")


def test_malformed_query_string_is_400(n):
    r = n.get("/db/query?q=SELECT%zz")
    status_is(r, 400)
    check(len(r.body) > 0, "a message is expected")


def test_unknown_paths_are_404_with_empty_body(n):
    for method, path in [("GET", "/db/xxx"), ("POST", "/xxx"), ("GET", "/expvar"),
                         ("POST", "/join"), ("GET", "/nothing"),
                         ("GET", "/db"), ("GET", "/leaderx")]:
        r = n.req(method, path)
        body_is(r, "", status=404, what="%s %s" % (method, path))
        check(r.header("X-RQLITE-VERSION"), "X-RQLITE-VERSION on a 404")
    # /snapshot and /leader are exact-match routes in the reference.
    body_is(n.req("POST", "/snapshotx", b""), "", status=404)


def test_prefix_routes_match_longer_paths(n):
    # /db/query, /status, /readyz ... are prefix matches in the reference.
    body_is(n.get("/db/queryxyz?q=SELECT%201"),
            '{"results":[{"columns":["1"],"types":["integer"],"values":[[1]]}]}')
    body_is(n.get("/readyz/anything"), READY_BODY)


def test_wrong_methods_are_405_with_empty_body(n):
    cases = [("GET", "/db/execute"), ("PUT", "/db/execute"), ("DELETE", "/db/query"),
             ("PUT", "/db/query"), ("GET", "/db/request"), ("DELETE", "/db/sql"),
             ("POST", "/status"), ("POST", "/nodes"), ("POST", "/readyz"),
             ("PUT", "/leader")]
    # /snapshot, /reap, /db/backup, /db/load, /boot, /remove and /licenses come with the
    # snapshot/backup and cluster issues; add them here when they exist.
    bad = []
    for method, path in cases:
        r = n.req(method, path, body=b"" if method in ("POST", "PUT") else None)
        if r.status != 405 or r.body:
            bad.append("%s %s -> %d %r" % (method, path, r.status, r.body[:60]))
    check(not bad, "expected 405 with an empty body:\n  " + "\n  ".join(bad))


def test_options_is_200_everywhere_without_checks(n):
    for path in ["/db/execute", "/nowhere", "/status?timeout=bad"]:
        r = n.req("OPTIONS", path)
        body_is(r, "", status=200, what="OPTIONS " + path)


def test_broken_utf8_in_plain_text_body(n):
    r = n.post("/db/execute", b"INSERT INTO foo(id, name) VALUES(100, '\xff\xfe')",
               ctype="text/plain")
    status_is(r, 200)
    # unverified: the reference cannot put invalid UTF-8 into its protobuf log entry and
    # answers with a top-level error; storing it is also acceptable. Either way the
    # answer and any later read of the row must be valid UTF-8 JSON.
    r.body.decode("utf-8")
    r.json()
    r = n.get("/db/query?q=SELECT%20name%20FROM%20foo%20WHERE%20id%3D100")
    status_is(r, 200)
    r.body.decode("utf-8")
    vals = r.json()["results"][0].get("values")
    check(vals in (None, [["\ufffd\ufffd"]]), "value read back: %r" % vals)


def test_broken_utf8_inside_json_body(n):
    r = n.post("/db/execute", b'["INSERT INTO foo(id, name) VALUES(101, \'\xc3\x28\')"]',
               ctype="application/json")
    status_is(r, 200)
    check("error" not in r.json(), r.text)
    r = n.get("/db/query?q=SELECT%20COUNT(*)%20FROM%20foo%20WHERE%20id%3D101")
    body_is(r, '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[1]]}]}')


def _raw(n, payload, read=True, timeout=5):
    s = socket.create_connection(("127.0.0.1", n.http_port), timeout=timeout)
    try:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may hang up on garbage before reading it all
        if not read:
            return b""
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)
    finally:
        s.close()


def test_binary_garbage_on_the_http_port_then_node_still_answers(n):
    for payload in [os.urandom(4096), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200),
                    b"GET / HTTP/9.9\r\n\r\n", b"\r\n\r\n\r\n", b"POST /db/execute HTTP/1.1\r\n"
                    b"Content-Length: -5\r\n\r\n", b"GET /readyz HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
                    b"A" * 70000 + b"\r\n\r\n"]:
        resp = _raw(n, payload)
        if resp:
            check(resp.startswith(b"HTTP/1."), "garbage answered with non-HTTP bytes: %r"
                  % resp[:80])
        body_is(n.get("/readyz"), READY_BODY, what="readyz after garbage")


def test_a_silent_connection_does_not_block_others(n):
    idle = socket.create_connection(("127.0.0.1", n.http_port), timeout=5)
    half = socket.create_connection(("127.0.0.1", n.http_port), timeout=5)
    try:
        half.sendall(b"POST /db/execute HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[")
        t0 = time.monotonic()
        body_is(n.get("/db/query?q=SELECT%201", timeout=5),
                '{"results":[{"columns":["1"],"types":["integer"],"values":[[1]]}]}')
        check(time.monotonic() - t0 < 3, "a stalled client delayed another request")
    finally:
        idle.close()
        half.close()


def test_many_parallel_clients(n):
    errors = []

    def worker(k):
        try:
            for i in range(10):
                r = n.execute([["INSERT INTO foo(name) VALUES(?)", "par-%d-%d" % (k, i)]])
                if r.status != 200 or "rows_affected" not in r.text:
                    errors.append(r.text)
                r = n.get("/db/query?q=SELECT%201")
                if r.status != 200:
                    errors.append(r.text)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    eq(errors, [], "errors from parallel clients")
    body_is(n.get("/db/query?q=SELECT%20COUNT(*)%20FROM%20foo%20WHERE%20name%20LIKE%20'par-%25'"),
            '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[80]]}]}')
