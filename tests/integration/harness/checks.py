"""Assertions (plain `assert` would vanish under python -O), polling, and reading the rows
of a query response."""

import time

from .env import POLL


class TestFailure(AssertionError):
    pass


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
