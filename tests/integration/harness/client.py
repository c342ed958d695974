"""HTTP: one request on a fresh connection, a keep-alive client, query strings."""

import http.client
import json
import urllib.parse

from .checks import TestFailure
from .env import REQ_TIMEOUT


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
                 host="127.0.0.1", tls=None):
    """One request on a fresh connection. body may be bytes, str, or a JSON-able object.
    tls: an ssl.SSLContext for HTTPS (None: plain HTTP)."""
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if tls is not None:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=tls)
    else:
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
