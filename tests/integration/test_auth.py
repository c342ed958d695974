"""-auth and -join-as: rqlite's credentials file, its permissions on every endpoint,
forwarded requests checked again on the leader, joins checked on the leader, SIGHUP
reloading the file, and start-up refusing a file it cannot use.

Expected values from rqlite's auth/credential_store.go (AA: "*" first, then the user's
password and permission), http/service.go (401 with an empty body, permission before
method, WWW-Authenticate, CORS with credentials, the "remote … not authorized" texts)
and cluster/service.go (join / join-read-only), API.md §1.1, §1.5, §7.2.
"""

import base64
import json
import os
import signal
import subprocess
import time

from harness import (CLUSTER_TIMING, Cluster, Node, TestFailure, check, cluster_test, eq,
                     mkdtemp, run_rqlited, set_flag, status_is, timeout, wait_for)

PERMS = ["execute", "query", "load", "backup", "status", "ready", "remove", "snapshot",
         "leader-ops"]


def basic(user, password):
    tok = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + tok}


def write_auth(users, path=None):
    path = path or os.path.join(mkdtemp(), "auth.json")
    with open(path, "w") as f:
        json.dump(users, f)
    return path


def one_user_per_perm(star=("ready",)):
    users = [{"username": "u-" + p, "password": "pw-" + p, "perms": [p]} for p in PERMS]
    users.append({"username": "admin", "password": "root", "perms": ["all"]})
    users.append({"username": "reader", "password": "r", "perms": ["query"]})
    users.append({"username": "*", "perms": list(star)})
    return users


# (method, path, body, content type, the permission it needs)
ENDPOINTS = [
    ("POST", "/db/execute", '["CREATE TABLE IF NOT EXISTS t(x)"]', "application/json", "execute"),
    ("GET", "/db/query?q=SELECT+1", None, None, "query"),
    ("POST", "/db/query", '["SELECT 1"]', "application/json", "query"),
    ("GET", "/db/sql?q=SELECT+1", None, None, "query"),
    ("GET", "/db/backup", None, None, "backup"),
    ("POST", "/db/load", "CREATE TABLE IF NOT EXISTS l(x);", "text/plain", "load"),
    ("GET", "/status", None, None, "status"),
    ("GET", "/nodes", None, None, "status"),
    ("GET", "/debug/vars", None, None, "status"),
    ("GET", "/readyz", None, None, "ready"),
    ("GET", "/leader", None, None, "leader-ops"),
    ("POST", "/snapshot", None, None, "snapshot"),
    ("POST", "/reap", None, None, "snapshot"),
    ("DELETE", "/remove", '{"id":"nobody"}', "application/json", "remove"),
]


def call(n, method, path, body, ctype, headers):
    h = dict(headers)
    if ctype:
        h["Content-Type"] = ctype
    return n.req(method, path, body, h)


@timeout(90)
def test_every_endpoint_needs_its_permission_and_answers_401_empty_otherwise():
    n = Node("1", extra_args=["-auth", write_auth(one_user_per_perm())]).start()
    for method, path, body, ctype, perm in ENDPOINTS:
        granted = call(n, method, path, body, ctype, basic("u-" + perm, "pw-" + perm))
        check(granted.status != 401, "%s %s as u-%s: %d %r" % (method, path, perm,
              granted.status, granted.text[:200]))
        check(call(n, method, path, body, ctype, basic("admin", "root")).status != 401,
              "%s %s as admin (perm all)" % (method, path))
        other = "query" if perm != "query" else "execute"
        for who, hdrs in (("nobody", {}), ("u-" + other, basic("u-" + other, "pw-" + other)),
                          ("a wrong password", basic("u-" + perm, "pw-" + perm + "x")),
                          ("an unknown user", basic("mallory", "pw-" + perm))):
            if perm == "ready" and who in ("nobody", "an unknown user", "u-" + other,
                                          "a wrong password"):
                continue  # "*" holds ready: anybody may ask
            r = call(n, method, path, body, ctype, hdrs)
            eq(r.status, 401, "%s %s with %s" % (method, path, who))
            eq(r.body, b"", "%s %s with %s: body" % (method, path, who))
            eq(r.header("WWW-Authenticate"), 'Basic realm="rqlite"',
               "%s %s: WWW-Authenticate" % (method, path))
    # /db/request needs both execute and query.
    req = '["SELECT 1"]'
    for user, pw, want in (("u-query", "pw-query", 401), ("u-execute", "pw-execute", 401),
                           ("admin", "root", 200)):
        eq(call(n, "POST", "/db/request", req, "application/json", basic(user, pw)).status,
           want, "/db/request as %s" % user)


@timeout(60)
def test_permission_comes_before_method_and_options_needs_none():
    n = Node("1", extra_args=["-auth", write_auth(one_user_per_perm())]).start()
    eq(n.req("PUT", "/db/execute").status, 401, "PUT /db/execute without credentials")
    eq(n.req("PUT", "/db/execute", headers=basic("u-execute", "pw-execute")).status, 405,
       "PUT /db/execute with the permission")
    r = n.req("OPTIONS", "/db/execute")
    eq(r.status, 200, "OPTIONS without credentials")
    eq(r.header("Access-Control-Allow-Headers"), "Content-Type, Authorization", "CORS headers")
    eq(r.header("Access-Control-Allow-Credentials"), "true", "CORS credentials")
    eq(n.req("GET", "/nope").status, 404, "unknown path")
    st = n.get("/status?key=http", headers=basic("u-status", "pw-status")).json()
    eq(st.get("auth"), "enabled", "/status http.auth")
    vars_ = n.get("/debug/vars", headers=basic("u-status", "pw-status")).json()
    check(vars_["http"]["auth_fail"] >= 1 and vars_["http"]["auth_ok"] >= 1,
          "expvar auth counters: %r" % {k: vars_["http"][k] for k in ("auth_ok", "auth_fail")})


@timeout(60)
def test_the_star_user_grants_to_anybody_and_a_query_user_cannot_write():
    users = [{"username": "*", "perms": ["ready", "query"]},
             {"username": "w", "password": "w", "perms": ["execute"]}]
    n = Node("1", extra_args=["-auth", write_auth(users)]).start()
    status_is(n.execute(["CREATE TABLE t(x)"]), 401, "anonymous write")
    status_is(n.req("POST", "/db/execute", '["CREATE TABLE t(x)", "INSERT INTO t VALUES(1)"]',
                    dict(basic("w", "w"), **{"Content-Type": "application/json"})), 200, "w writes")
    eq(n.query_get("SELECT x FROM t").json()["results"][0]["values"], [[1]], "anonymous read")
    # A query-only caller's SQL runs read-only, even a write smuggled into /db/query.
    r = n.query_get("INSERT INTO t VALUES(2)")
    check("error" in r.text, "a write through /db/query: %r" % r.text[:200])


def _cluster_auth(c, leader_users, follower_users):
    paths = {}
    for n in c.nodes:
        paths[n.node_id] = write_auth(leader_users if n.node_id == "1" else follower_users)
        n.extra_args += ["-auth", paths[n.node_id]]
    return paths


@cluster_test(90)
def test_forwarded_requests_are_checked_again_on_the_leader():
    star = {"username": "*", "perms": ["status", "ready", "join"]}
    lead_users = [{"username": "bob", "password": "b", "perms": ["all"]},
                  {"username": "mary", "password": "m", "perms": ["query"]}, star]
    foll_users = [{"username": "bob", "password": "b", "perms": ["all"]},
                  {"username": "mary", "password": "m", "perms": ["all"]}, star]
    c = Cluster(3)
    _cluster_auth(c, lead_users, foll_users)
    lead = c.start(timeout=40)
    eq(lead.node_id, "1", "node 1 bootstrapped and leads")
    bob, mary = basic("bob", "b"), basic("mary", "m")
    js = {"Content-Type": "application/json"}
    status_is(lead.req("POST", "/db/execute", '["CREATE TABLE t(x)"]', dict(bob, **js)), 200,
              "bob creates the table")
    f = c.followers(lead)[0]
    cases = [
        ("POST", "/db/execute", '["INSERT INTO t VALUES(1)"]', js, "remote Execute not authorized"),
        ("POST", "/db/request", '["INSERT INTO t VALUES(1)"]', js, "remote Request not authorized"),
        ("POST", "/db/load", "CREATE TABLE IF NOT EXISTS l(x);", {"Content-Type": "text/plain"},
         "remote load not authorized"),
        ("DELETE", "/remove", '{"id":"3"}', js, "remote remove node not authorized"),
        ("POST", "/leader?wait", None, {}, "remote stepdown not authorized"),
        ("GET", "/db/backup", None, {}, "remote backup not authorized"),
    ]
    for method, path, body, hdrs, text in cases:
        r = f.req(method, path, body, dict(mary, **hdrs))
        eq((r.status, r.text.strip()), (401, text), "%s %s as mary through %s" % (method, path, f.name))
    # What mary may do on the leader works through the follower too.
    r = f.req("GET", "/db/query?level=strong&q=SELECT+count(*)+FROM+t", headers=mary)
    eq(r.json()["results"][0]["values"], [[0]], "mary's strong read through %s" % f.name)
    r = f.req("GET", "/db/query?level=linearizable&q=SELECT+count(*)+FROM+t", headers=mary)
    eq(r.status, 200, "mary's linearizable read through %s" % f.name)
    r = f.req("POST", "/db/execute", '["INSERT INTO t VALUES(1)"]', dict(bob, **js))
    eq(r.json()["results"][0].get("rows_affected"), 1, "bob's write through %s" % f.name)
    eq(sorted(lead.get("/nodes").json()), ["1", "2", "3"], "nobody was removed")


@cluster_test(90)
def test_join_as_needs_join_for_a_voter_and_join_read_only_for_a_non_voter():
    users = [{"username": "*", "perms": ["status", "ready"]},
             {"username": "joiner", "password": "j", "perms": ["join"]},
             {"username": "reader", "password": "r", "perms": ["join-read-replica"]}]
    path = write_auth(users)
    c = Cluster(1, extra_args=["-auth", path])
    lead = c.start()
    give_up = ["-join", lead.raft_addr, "-join-attempts", "2", "-join-interval", "300ms"]
    base = list(CLUSTER_TIMING) + ["-auth", path]
    refused = [Node("2", extra_args=base + give_up, name="node2-anonymous"),
               Node("3", extra_args=base + give_up + ["-join-as", "reader"], name="node3-reader-voter")]
    for o in refused:
        o.start(wait=False)
    for o in refused:
        try:
            rc = o.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise TestFailure("%s kept running: its join should have been refused" % o.name)
        check(rc != 0, "%s exited %r after a refused join" % (o.name, rc))
    check("not authorized" in "\n".join(lead.log_tail(200)), "the leader logs the refused joins")
    voter = c.add_node("4", ["-join-as", "joiner"])
    c.start_node(voter, join=[lead])
    reader = c.add_node("5", ["-join-as", "reader", "-raft-non-voter"])
    c.start_node(reader, join=[lead])
    c.wait_formed(ids=["1", "4", "5"], timeout=20)
    nodes = lead.get("/nodes?nonvoters").json()
    eq((nodes["4"]["voter"], nodes["5"]["voter"]), (True, False), "suffrage of the joiners")


@timeout(60)
def test_sighup_rereads_the_file_and_a_broken_one_keeps_the_old_users():
    path = write_auth([{"username": "*", "perms": ["ready"]},
                       {"username": "u", "password": "old", "perms": ["query"]}])
    n = Node("1", extra_args=["-auth", path]).start()
    eq(n.query_get("SELECT 1", q="").status, 401, "anonymous before")
    eq(n.get("/db/query?q=SELECT+1", headers=basic("u", "old")).status, 200, "u before")
    write_auth([{"username": "*", "perms": ["ready"]},
                {"username": "u", "password": "new", "perms": ["query"]}], path)
    os.kill(n.pid, signal.SIGHUP)
    wait_for(lambda: n.get("/db/query?q=SELECT+1", headers=basic("u", "new")).status == 200,
             10, "the new password after SIGHUP")
    eq(n.get("/db/query?q=SELECT+1", headers=basic("u", "old")).status, 401, "the old password")
    with open(path, "w") as f:
        f.write('[{"username": ')
    os.kill(n.pid, signal.SIGHUP)
    time.sleep(1)
    eq(n.get("/db/query?q=SELECT+1", headers=basic("u", "new")).status, 200,
       "a broken file on SIGHUP keeps the users")
    check("not reloaded" in "\n".join(n.log_tail(40)), "the broken file is reported")
    check(n.running(), "the node keeps running")


@timeout(30)
def test_start_refuses_an_unusable_auth_file_or_join_as_user():
    d = mkdtemp()
    bad = os.path.join(d, "bad.json")
    with open(bad, "w") as f:
        f.write('{"username": "x"}')
    hashed = write_auth([{"username": "h", "password": "$2b$04$abcdefghijklmnopqrstuuMXJ0j3K2DUvFFO1qfCeN2Uu2YQ0QK.O"}])
    for args, want in (
            (["-auth", os.path.join(d, "missing.json")], "missing.json"),
            (["-auth", bad], "bad.json"),
            (["-join-as", "x"], "-join-as needs -auth"),
            (["-auth", hashed, "-join-as", "nobody"], "no user nobody"),
            (["-auth", hashed, "-join-as", "h"], "no user h with a plain-text password")):
        rc, _, err = run_rqlited(args + [os.path.join(d, "data")])
        eq(rc, 1, "rqlited %s: exit status" % " ".join(args))
        check(want in err, "rqlited %s: stderr %r should mention %r" % (" ".join(args), err, want))
