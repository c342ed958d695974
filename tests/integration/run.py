#!/usr/bin/env python3
"""Run the integration tests: python3 tests/integration/run.py [substring-filter]

Discovers test_*.py next to this file and their test_* functions (in source order).
A module may define setup_module() -> fixture and teardown_module(fixture); its tests
then take the fixture as their one argument. Prints `ok   module.test` or
`FAIL module.test` plus the reason and the tail of the logs of the nodes involved,
and ends with exactly one line `N passed, N failed`. Exit status 1 if any failed.
"""

import importlib
import inspect
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree clean

import harness  # noqa: E402

DEFAULT_TEST_TIMEOUT = 60.0
SETUP_TIMEOUT = 60.0


def bounded(fn, args, limit):
    """Run fn(*args) in a daemon thread; return (ok, result_or_error_text)."""
    box = {}

    def target():
        try:
            box["result"] = fn(*args)
        except harness.TestFailure as e:
            box["error"] = str(e)
        except AssertionError as e:
            box["error"] = "assertion failed: %s\n%s" % (e, _where(e))
        except Exception as e:  # noqa: BLE001 - a test error is a failure
            box["error"] = "%s: %s\n%s" % (type(e).__name__, e,
                                            "".join(traceback.format_exc(limit=-3)))

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(limit)
    if t.is_alive():
        return False, "timed out after %.0fs" % limit
    if "error" in box:
        return False, box["error"]
    return True, box.get("result")


def _where(e):
    tb = traceback.extract_tb(e.__traceback__)
    return "".join(traceback.format_list(tb[-2:])) if tb else ""


def print_fail(name, reason, nodes):
    print("FAIL %s" % name)
    for line in reason.rstrip().splitlines():
        print("    " + line)
    for n in nodes:
        tail = n.log_tail(30)
        if tail:
            print("    --- last lines of %s log (%s):" % (n.name, n.logpath))
            for line in tail:
                print("    | " + line)
    sys.stdout.flush()


def main():
    filt = sys.argv[1] if len(sys.argv) > 1 else ""
    mods = sorted(f[:-3] for f in os.listdir(HERE)
                  if f.startswith("test_") and f.endswith(".py"))
    passed = failed = 0
    started = time.monotonic()

    for modname in mods:
        try:
            mod = importlib.import_module(modname)
        except Exception as e:  # noqa: BLE001
            if not filt or filt in modname:
                print_fail(modname + ".<import>", "%s: %s" % (type(e).__name__, e), [])
                failed += 1
            continue
        tests = [(name, fn) for name, fn in vars(mod).items()
                 if name.startswith("test_") and inspect.isfunction(fn)
                 and fn.__module__ == mod.__name__]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        tests = [(n, f) for n, f in tests if not filt or filt in "%s.%s" % (modname, n)]
        if not tests:
            continue

        first_node = len(harness.ALL_NODES)
        fixture = None
        setup = getattr(mod, "setup_module", None)
        if setup:
            ok, res = bounded(setup, (), getattr(mod, "SETUP_TIMEOUT", SETUP_TIMEOUT))
            if not ok:
                for n, _ in tests:
                    print_fail("%s.%s" % (modname, n), "setup_module failed: " + res,
                               harness.ALL_NODES[first_node:])
                    failed += 1
                harness.stop_all(first_node)
                harness.cleanup_temp_dirs()
                continue
            fixture = res
        fixture_end = len(harness.ALL_NODES)

        default_limit = getattr(mod, "TEST_TIMEOUT", DEFAULT_TEST_TIMEOUT)
        for name, fn in tests:
            full = "%s.%s" % (modname, name)
            before = len(harness.ALL_NODES)
            args = (fixture,) if len(inspect.signature(fn).parameters) == 1 else ()
            ok, res = bounded(fn, args, getattr(fn, "timeout", default_limit))
            if ok:
                print("ok   %s" % full)
                passed += 1
            else:
                involved = harness.ALL_NODES[first_node:fixture_end] \
                    + harness.ALL_NODES[max(before, fixture_end):]
                print_fail(full, res, involved)
                failed += 1
            sys.stdout.flush()
            # Nodes a test made for itself do not outlive it.
            harness.stop_all(max(before, fixture_end))

        teardown = getattr(mod, "teardown_module", None)
        if teardown:
            bounded(teardown, (fixture,), SETUP_TIMEOUT)
        harness.stop_all(first_node)
        harness.cleanup_temp_dirs()

    sys.stderr.write("integration suite took %.1fs\n" % (time.monotonic() - started))
    print("%d passed, %d failed" % (passed, failed))
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
