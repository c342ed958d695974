"""Diagnostics endpoints and common headers: /status, /readyz, /nodes, /leader, /debug/vars.

One single-node cluster for the module. Expectations come from rqlite's http/service.go,
http/nodes.go, store/store.go Stats() and system_test/single_node_test.go unless marked
`# unverified:`.
"""

import json

from harness import Node, body_is, check, eq, status_is

READY_BODY = "[+]node ok\n[+]leader ok\n[+]store ok\n[+]db ok"


def setup_module():
    return Node().start()


def teardown_module(n):
    n.stop()


def test_status_structure(n):
    r = n.get("/status")
    status_is(r, 200)
    eq(r.header("Content-Type"), "application/json; charset=utf-8", "Content-Type")
    j = r.json()
    bad = []

    def get(path):
        v = j
        for k in path.split("."):
            if not isinstance(v, dict) or k not in v:
                return KeyError
            v = v[k]
        return v

    def want(path, pred, desc):
        v = get(path)
        if v is KeyError or not pred(v):
            bad.append("%s: want %s, got %r" % (path, desc, "<missing>" if v is KeyError else v))

    def want_eq(path, exp):
        want(path, lambda v: v == exp, repr(exp))

    is_int = (lambda v: isinstance(v, int) and not isinstance(v, bool), "a number")
    is_str = (lambda v: isinstance(v, str), "a string")
    for key in ["build", "node", "os", "http", "store"]:
        want(key, lambda v: isinstance(v, dict), "an object")
    want_eq("store.open", True)
    want_eq("store.ready", True)
    want_eq("store.node_id", "1")
    want_eq("store.addr", n.raft_addr)
    want_eq("store.leader", {"node_id": "1", "addr": n.raft_addr})
    want_eq("store.nodes", [{"id": "1", "addr": n.raft_addr, "suffrage": "voter"}])
    want_eq("store.raft.state", "Leader")
    want_eq("store.raft.voter", True)
    want_eq("store.raft.num_peers", 0)
    for k in ["term", "commit_index", "applied_index", "last_log_index"]:
        want("store.raft." + k, *is_int)
    want("store.raft.term", lambda v: isinstance(v, int) and v >= 1, ">= 1")
    want_eq("http.bind_addr", n.http_addr)
    want_eq("http.auth", "disabled")
    if "allow_origin" in j.get("http", {}):
        bad.append("http.allow_origin: only present when -http-allow-origin is set")
    for k in ["start_time", "current_time", "uptime"]:
        want("node." + k, *is_str)
    want("build.version", *is_str)
    want("store.sqlite3.version", *is_str)
    want("store.dir", *is_str)
    want("os.pid", *is_int)
    check(not bad, "/status problems:\n  " + "\n  ".join(bad))


def test_status_pretty_is_indented(n):
    r = n.get("/status?pretty")
    status_is(r, 200)
    check(r.text.startswith('{\n    "'), "pretty /status: %r" % r.text[:40])
    json.loads(r.text)


def test_status_key_selects_a_sub_value(n):
    body_is(n.get("/status?key=store.raft.state"), '"Leader"')
    body_is(n.get("/status?key=store.node_id"), '"1"')
    # Objects come back compact with sorted keys (Go map encoding).
    body_is(n.get("/status?key=store.leader"),
            '{"addr":"%s","node_id":"1"}' % n.raft_addr)
    body_is(n.get("/status?key=nonexistent"), "{}")
    body_is(n.get("/status?key=store.nonexistent.deeper"), "{}")
    # rqlite stops at the first value that is not an object and answers it.
    body_is(n.get("/status?key=store.raft.state.deeper"), '"Leader"')
    check(isinstance(n.get("/status?key=store.nodes.0").json(), list), "key=store.nodes.0")
    j = n.get("/status?key=store").json()
    eq(j.get("node_id"), "1", "key=store node_id")


def test_readyz(n):
    r = n.get("/readyz")
    body_is(r, READY_BODY)
    body_is(n.get("/readyz?noleader"), "[+]node ok")
    body_is(n.get("/readyz?sync"),
            "[+]node ok\n[+]leader ok\n[+]store ok\n[+]sync ok\n[+]db ok")
    body_is(n.req("POST", "/readyz", b""), "", status=405)


def test_nodes_legacy_format(n):
    r = n.get("/nodes")
    status_is(r, 200)
    eq(r.header("Content-Type"), "application/json; charset=utf-8", "Content-Type")
    j = r.json()
    eq(list(j.keys()), ["1"], "node ids")
    node = j["1"]
    eq(node["id"], "1", "id")
    eq(node["api_addr"], "http://" + n.http_addr, "api_addr")
    eq(node["addr"], n.raft_addr, "addr")
    eq(node["voter"], True, "voter")
    eq(node["reachable"], True, "reachable")
    eq(node["leader"], True, "leader")
    check(isinstance(node["version"], str) and node["version"], "version: %r" % node)
    check(isinstance(node.get("time"), (float, int)), "time: %r" % node)
    check(isinstance(node.get("time_s"), str), "time_s: %r" % node)
    check("error" not in node, "error: %r" % node)


def test_nodes_field_order(n):
    # Go struct order (http/nodes.go), not sorted keys.
    node = n.get("/nodes").json()["1"]
    eq(list(node.keys()), ["id", "api_addr", "addr", "version", "voter", "reachable",
                           "leader", "time", "time_s"], "field order")


def test_nodes_version_2_format(n):
    j = n.get("/nodes?ver=2").json()
    eq(list(j.keys()), ["nodes"], "top-level keys")
    eq(len(j["nodes"]), 1, "number of nodes")
    eq(j["nodes"][0]["id"], "1", "id")
    eq(j["nodes"][0]["leader"], True, "leader")
    j = n.get("/nodes?nonvoters&ver=2").json()
    eq(len(j["nodes"]), 1, "number of nodes with nonvoters")


def test_nodes_pretty(n):
    r = n.get("/nodes?pretty")
    status_is(r, 200)
    check(r.text.startswith('{\n    "1": {\n        "'), "pretty: %r" % r.text[:60])
    eq(json.loads(r.text)["1"]["id"], "1", "id")


def test_leader_get(n):
    r = n.get("/leader")
    status_is(r, 200)
    j = r.json()
    eq(j.get("id"), "1", "id")
    eq(j.get("addr"), n.raft_addr, "addr")
    eq(j.get("api_addr"), "http://" + n.http_addr, "api_addr")
    eq(j.get("leader"), True, "leader")
    eq(j.get("reachable"), True, "reachable")
    eq(j.get("voter"), True, "voter")
    body_is(n.req("PUT", "/leader", b""), "", status=405)


def test_leader_stepdown_with_wait_fails_on_single_node(n):
    # Test_SingleNodeLeader_Stepdown: no peer to transfer to.
    r = n.post("/leader?wait", b"")
    check(r.status != 200, "stepdown with wait must fail on one node: %d %r"
          % (r.status, r.text))
    # unverified: the status is 500 with a "stepdown: " message.
    status_is(r, 500)
    check(r.text.startswith("stepdown: "), "body %r" % r.text)
    r = n.post("/leader", "{not json", ctype="application/json")
    status_is(r, 400)
    check(r.text.startswith("invalid JSON: "), "body %r" % r.text)
    # A target id is read only when Content-Type is exactly application/json.
    body_is(n.post("/leader", '{"id":"1"}', ctype="application/json"),
            "stepdown: cannot step down to the current Leader\n", status=500)
    body_is(n.post("/leader", '{"id":"nobody"}', ctype="application/json"),
            "stepdown: node not found in cluster\n", status=500)
    # Still the leader afterwards.
    body_is(n.get("/status?key=store.raft.state"), '"Leader"')


def test_debug_vars(n):
    r = n.get("/debug/vars")
    status_is(r, 200)
    eq(r.header("Content-Type"), "application/json; charset=utf-8", "Content-Type")
    check(r.text.startswith("{\n") and r.text.endswith("\n}\n"), "layout: %r ... %r"
          % (r.text[:20], r.text[-20:]))
    j = r.json()
    for k in ["http", "store", "db"]:
        check(k in j, "/debug/vars lacks %r: %r" % (k, sorted(j)))
    check(isinstance(j["http"].get("num_status"), int), "http.num_status: %r" % j["http"])
    r = n.get("/debug/vars?key=http")
    status_is(r, 200)
    eq(list(r.json().keys()), ["http"], "keys with key=http")
    check(r.text.startswith('{\n"http": '), "layout: %r" % r.text[:20])


def test_debug_vars_counts_requests(n):
    before = n.get("/debug/vars?key=http").json()["http"].get("executions", 0)
    n.execute(["SELECT 1"])
    n.execute(["SELECT 1"])
    after = n.get("/debug/vars?key=http").json()["http"].get("executions", 0)
    eq(after - before, 2, "http.executions increase")
    # Statements received, per endpoint, as rqlite counts them.
    h0 = n.get("/debug/vars?key=http").json()["http"]
    n.execute(["SELECT 1", "SELECT 2"])
    n.query(["SELECT 1", "SELECT 2", "SELECT 3"])
    n.request(["SELECT 1"])
    h1 = n.get("/debug/vars?key=http").json()["http"]
    eq([h1[k] - h0[k] for k in ("execute_stmts_rx", "query_stmts_rx", "request_stmts_rx")],
       [2, 3, 1], "statements received")


def test_common_headers_on_every_response(n):
    cases = [n.get("/status"), n.get("/readyz"), n.get("/nowhere"), n.get("/db/execute"),
             n.get("/db/query?q="), n.query_get("SELECT 1"), n.req("OPTIONS", "/db/query")]
    for r in cases:
        what = "%s %s" % (r.method, r.path)
        check(r.header("X-RQLITE-VERSION"), "%s: no X-RQLITE-VERSION" % what)
        eq(r.header("Access-Control-Allow-Methods"), "OPTIONS, GET, POST", what + " methods")
        eq(r.header("Access-Control-Allow-Headers"), "Content-Type", what + " headers")
        eq(r.header("Access-Control-Allow-Origin"), None, what + " origin (not configured)")
        eq(r.header("WWW-Authenticate"), None, what + " WWW-Authenticate (no auth)")
        eq(r.header("Access-Control-Allow-Credentials"), None, what + " credentials")


def test_version_header_matches_status(n):
    r = n.get("/status")
    eq(r.header("X-RQLITE-VERSION"), r.json()["build"]["version"], "version header vs build")


def test_options_is_200_with_empty_body(n):
    for path in ["/db/execute", "/status", "/anything/at/all"]:
        body_is(n.req("OPTIONS", path), "", what="OPTIONS " + path)


def test_root_is_not_sent_to_a_console_that_does_not_exist(n):
    # rqlite answers 302 /console/; until the console exists here that would be a 404.
    for path in ("/", "/console", "/console/"):
        r = n.get(path)
        status_is(r, 404, "GET %s" % path)
        eq(r.header("Location"), None, "Location of GET %s" % path)


def test_served_by_on_data_endpoints_only(n):
    eq(n.query_get("SELECT 1").header("X-RQLITE-SERVED-BY"), n.http_addr, "query")
    eq(n.get("/status").header("X-RQLITE-SERVED-BY"), None, "status has no SERVED-BY")




def test_keys_rqlite_tooling_reads_have_rqlites_types(n):
    # Issue 15: rqlite's system tests call len() on store.snapshot_store.snapshots, read
    # extensions.names, and expvar cluster/store counters; cmdline was a list of "".
    n.ex_ok(["CREATE TABLE IF NOT EXISTS ks (id INTEGER PRIMARY KEY)",
             "INSERT INTO ks(id) VALUES(1)"])
    status_is(n.post("/snapshot"), 200)
    st = n.status()
    store = st["store"]
    snaps = store["snapshot_store"]["snapshots"]
    check(isinstance(snaps, list) and len(snaps) >= 1 and all(isinstance(s, str) for s in snaps),
          "snapshot_store.snapshots: %r" % store["snapshot_store"])
    check(isinstance(store["snapshot_store"]["dir_size"], int) and
          store["snapshot_store"]["dir_size"] > 0, "snapshot_store.dir_size")
    for k in ["apply_timeout", "heartbeat_timeout", "election_timeout", "commit_timeout",
              "snapshot_interval", "reap_timeout", "reap_read_only_timeout",
              "dir_size_friendly"]:
        check(isinstance(store.get(k), str), "store.%s: %r" % (k, store.get(k)))
    eq(store["commit_timeout"], "50ms", "store.commit_timeout")
    eq(store["snapshot_threshold"], 8192, "store.snapshot_threshold")
    check(isinstance(store["dir_size"], int) and store["dir_size"] > 0, "store.dir_size")
    raft = store["raft"]
    eq(raft["last_contact"], 0, "the leader's last_contact")
    eq(raft["latest_configuration"],
       "[{Suffrage:Voter ID:%s Address:%s}]" % (n.node_id, n.raft_addr),
       "raft.latest_configuration")
    check(isinstance(raft["log_size"], int), "raft.log_size")
    eq(st["extensions"]["names"], [], "extensions.names")
    eq(st["http"]["tls"], {"enabled": "false"}, "http.tls")
    v = n.get("/debug/vars").json()
    eq(v["cmdline"], n.argv(), "cmdline is the node's command line")
    for k in ["num_join_req", "num_execute_req", "num_query_req", "num_remove_node_req"]:
        check(isinstance(v["cluster"].get(k), int), "cluster.%s: %r" % (k, v.get("cluster")))
    for k in ["num_ignored_joins", "num_removed_before_joins", "num_snapshots"]:
        check(isinstance(v["store"].get(k), int), "store.%s: %r" % (k, v["store"]))
    eq(store["db_conf"], {"fk_constraints": False}, "store.db_conf")
    check(isinstance(store["fsm_term"], int) and store["fsm_term"] >= 1, "store.fsm_term")
    check(store["fsm_update_time"].endswith("Z") and store["fsm_update_time"][:4] >= "2025",
          "store.fsm_update_time: %r" % store["fsm_update_time"])
    sq = store["sqlite3"]
    eq(sq["extensions"], [], "sqlite3.extensions")
    eq(sorted(sq["mem_stats"]), ["cache_size", "freelist_count", "hard_heap_limit",
                                 "max_page_count", "page_count", "page_size",
                                 "soft_heap_limit"], "sqlite3.mem_stats keys")
    check(sq["mem_stats"]["page_size"] > 0, "mem_stats.page_size")
    check(isinstance(sq["db_size_friendly"], str) and "T" in sq["last_modified"],
          "sqlite3.db_size_friendly, last_modified: %r" % sq)
    # The write queue's counters, as rqlite's expvar "queue".
    before = v["queue"]
    r = n.post("/db/execute?queue&wait", json.dumps(["INSERT INTO ks(id) VALUES(NULL)"]),
               ctype="application/json")
    status_is(r, 200)
    after = n.get("/debug/vars").json()["queue"]
    eq((after["objects_rx"] - before["objects_rx"], after["objects_tx"] - before["objects_tx"],
        after["num_flush"] - before["num_flush"]), (1, 1, 1), "queue counters: %r" % after)
