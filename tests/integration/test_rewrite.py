"""Non-deterministic function rewriting: /db/sql output and its effect on writes.

Patterns follow rqlite's http/service_test.go (Test_SQLAnalyze_*) and
system_test/single_node_test.go (Test_SingleNodeRewriteRandom).
"""

import calendar
import json
import re
import time
import urllib.parse

from harness import Node, body_is, check, eq, qs, status_is

JULIAN = r"\d{7}\.\d+"


def setup_module():
    n = Node().start()
    n.ex_ok(["CREATE TABLE foo (id integer not null primary key, name text)"])
    return n


def teardown_module(n):
    n.stop()


def analyze(n, stmts, q=""):
    r = n.post("/db/sql" + q, stmts)
    status_is(r, 200)
    eq(r.header("Content-Type"), "application/json; charset=utf-8", "Content-Type")
    return r.json()["results"]


def test_random_is_replaced_by_an_integer(n):
    res = analyze(n, ["INSERT INTO foo VALUES(RANDOM())"])
    eq(res[0]["original"], "INSERT INTO foo VALUES(RANDOM())", "original")
    check(re.search(r"VALUES ?\(-?\d+\)", res[0]["rewritten"]),
          "rewritten: %r" % res[0]["rewritten"])
    check("RANDOM" not in res[0]["rewritten"].upper(), "rewritten: %r" % res[0]["rewritten"])


def test_randomblob_is_replaced_by_a_blob_literal(n):
    res = analyze(n, ["INSERT INTO foo VALUES(RANDOMBLOB(16))"])
    check(re.search(r"VALUES ?\(x'[A-F0-9]{32}'\)", res[0]["rewritten"]),
          "rewritten: %r" % res[0]["rewritten"])


def test_now_is_replaced_by_a_julian_day(n):
    for fn in ["datetime", "date", "time", "julianday", "unixepoch"]:
        res = analyze(n, ["INSERT INTO foo VALUES(%s('now'))" % fn])
        check(re.search(fn + r"\(" + JULIAN + r"\)", res[0]["rewritten"]),
              "%s: rewritten %r" % (fn, res[0]["rewritten"]))
    res = analyze(n, ["INSERT INTO foo VALUES(strftime('%Y-%m-%d', 'now'))"])
    check(re.search(r"strftime\('%Y-%m-%d', " + JULIAN + r"\)", res[0]["rewritten"]),
          "strftime: %r" % res[0]["rewritten"])
    res = analyze(n, ["INSERT INTO foo VALUES(timediff('now', '2020-01-01'))"])
    check(re.search(r"timediff\(" + JULIAN + r", '2020-01-01'\)", res[0]["rewritten"]),
          "timediff: %r" % res[0]["rewritten"])


def test_now_julian_day_is_current_utc(n):
    res = analyze(n, ["SELECT julianday('now')"])
    m = re.search(r"julianday\((" + JULIAN + r")\)", res[0]["rewritten"])
    check(m, "rewritten: %r" % res[0]["rewritten"])
    jd = float(m.group(1))
    now_jd = time.time() / 86400.0 + 2440587.5
    check(abs(jd - now_jd) * 86400 < 60, "julian day %s is not now (UTC) %s" % (jd, now_jd))


def test_random_in_order_by_is_kept(n):
    res = analyze(n, ["SELECT * FROM foo ORDER BY RANDOM()"])
    check("RANDOM()" in res[0]["rewritten"], "rewritten: %r" % res[0]["rewritten"])


def test_norwrandom_and_norwtime(n):
    res = analyze(n, ["INSERT INTO foo VALUES(RANDOM())"], "?norwrandom")
    check("RANDOM()" in res[0]["rewritten"], "norwrandom: %r" % res[0]["rewritten"])
    res = analyze(n, ["INSERT INTO foo VALUES(datetime('now'))"], "?norwtime")
    check("'now'" in res[0]["rewritten"], "norwtime: %r" % res[0]["rewritten"])


def test_statement_is_reserialised_even_without_rewrite(n):
    res = analyze(n, ["select * from foo"])
    eq(res[0]["original"], "select * from foo", "original")
    check(res[0].get("rewritten"), "rewritten must be present: %r" % res[0])
    check("error" not in res[0], "no error expected: %r" % res[0])


def test_parse_error_is_reported_with_200(n):
    res = analyze(n, ["SLECT * FORM foo"])
    eq(res[0]["original"], "SLECT * FORM foo", "original")
    check(res[0].get("error"), "error expected: %r" % res[0])
    check("rewritten" not in res[0], "no rewritten on error: %r" % res[0])


def test_multiple_statements_and_get(n):
    res = analyze(n, ["INSERT INTO foo VALUES(RANDOM())", "INSERT INTO bar VALUES(datetime('now'))"])
    eq(len(res), 2, "number of results")
    r = n.get("/db/sql?q=" + urllib.parse.quote("INSERT INTO foo VALUES(RANDOM())"))
    status_is(r, 200)
    res = r.json()["results"]
    eq(res[0]["original"], "INSERT INTO foo VALUES(RANDOM())", "original")
    check(re.search(r"VALUES ?\(-?\d+\)", res[0]["rewritten"]), "GET: %r" % res[0])


def test_sql_endpoint_errors(n):
    body_is(n.get("/db/sql"), "query not specified\n", status=400)
    body_is(n.get("/db/sql?q="), "query parameter not set\n", status=400)
    body_is(n.post("/db/sql", "not json", ctype="application/json"), "invalid JSON body\n",
            status=400)
    body_is(n.req("DELETE", "/db/sql"), "", status=405)


def test_sql_endpoint_does_not_execute(n):
    analyze(n, ["INSERT INTO foo(id, name) VALUES(555, 'never')"])
    body_is(n.query_get("SELECT COUNT(*) FROM foo WHERE id = 555"),
            '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[0]]}]}')


def test_random_write_stores_one_fixed_value(n):
    r = n.execute(["INSERT INTO foo(id, name) VALUES(RANDOM(), 'fiona')"])
    status_is(r, 200)
    check(re.fullmatch(r'\{"results":\[\{"last_insert_id":-?[0-9]+,"rows_affected":1\}\]\}',
                       r.text), "execute: %s" % r.text)
    rowid = r.json()["results"][0]["last_insert_id"]
    # The id reported back is the id stored: the literal was fixed before the log.
    body_is(n.query_get("SELECT id FROM foo WHERE name = 'fiona'"),
            '{"results":[{"columns":["id"],"types":["integer"],"values":[[%d]]}]}' % rowid)
    a = n.query_get("SELECT id FROM foo WHERE name = 'fiona'", qs(level="strong"))
    b = n.query_get("SELECT id FROM foo WHERE name = 'fiona'", qs(level="none"))
    eq(a.text, b.text, "strong and none reads")


def test_now_write_stores_current_utc_time(n):
    n.ex_ok(["CREATE TABLE tm (id integer primary key, at text)"])
    n.ex_ok(["INSERT INTO tm(id, at) VALUES(1, datetime('now'))"])
    r = n.query_get("SELECT at FROM tm WHERE id = 1")
    status_is(r, 200)
    at = r.json()["results"][0]["values"][0][0]
    t = calendar.timegm(time.strptime(at, "%Y-%m-%d %H:%M:%S"))
    check(abs(t - time.time()) < 60, "stored time %r is not now in UTC" % at)


def test_rewrite_applies_to_request_endpoint(n):
    r = n.request(["INSERT INTO foo(id, name) VALUES(RANDOM(), 'req')"])
    status_is(r, 200)
    rowid = r.json()["results"][0]["last_insert_id"]
    body_is(n.request(["SELECT id FROM foo WHERE name = 'req'"]),
            '{"results":[{"columns":["id"],"types":["integer"],"values":[[%d]]}]}' % rowid)


def test_timings_on_sql_endpoint(n):
    r = n.post("/db/sql?timings", ["SELECT 1"])
    status_is(r, 200)
    j = r.json()
    check(isinstance(j.get("time"), (float, int)), "time: %s" % json.dumps(j))
