"""POST /db/execute: bodies, parameters, results, errors, transactions, output options.

One node for the module. Tests run in source order; the first one relies on the node
being fresh (last_insert_id/rows_affected are connection-global in SQLite, so `{}` for
DDL is only guaranteed before any row was ever written).
Expected bodies are those of rqlite's own system tests (system_test/single_node_test.go,
db/db_common_test.go, system_test/e2e/single_node.py) unless marked `# unverified:`.
"""

import json
import re

from harness import Node, body_is, check, eq, qs, status_is


def setup_module():
    return Node().start()


def teardown_module(n):
    n.stop()


def test_create_table_on_fresh_node_gives_empty_object(n):
    r = n.execute(["CREATE TABLE foo (id integer not null primary key, name text)"])
    body_is(r, '{"results":[{}]}')
    eq(r.header("Content-Type"), "application/json; charset=utf-8", "Content-Type")


def test_insert_reports_last_insert_id_and_rows_affected(n):
    r = n.execute(["INSERT INTO foo(name) VALUES('fiona')"])
    body_is(r, '{"results":[{"last_insert_id":1,"rows_affected":1}]}')
    r = n.execute(["INSERT INTO foo(name) VALUES('declan')"])
    body_is(r, '{"results":[{"last_insert_id":2,"rows_affected":1}]}')


def test_plain_text_body_is_one_statement(n):
    r = n.post("/db/execute", "INSERT INTO foo(name) VALUES('aoife')", ctype="text/plain")
    body_is(r, '{"results":[{"last_insert_id":3,"rows_affected":1}]}')
    # Any text/plain... content type counts.
    r = n.post("/db/execute", "INSERT INTO foo(name) VALUES('sinead')",
               ctype="text/plain; charset=utf-8")
    body_is(r, '{"results":[{"last_insert_id":4,"rows_affected":1}]}')


def test_no_such_table_and_syntax_error_are_per_statement(n):
    body_is(n.execute(["INSERT INTO bar(name) VALUES('fiona')"]),
            '{"results":[{"error":"no such table: bar"}]}')
    body_is(n.execute(["INSERT blah blah"]),
            '{"results":[{"error":"near \\"blah\\": syntax error"}]}')


def test_failing_statement_does_not_stop_the_others(n):
    n.ex_ok(["CREATE TABLE pf (id INTEGER NOT NULL PRIMARY KEY, name TEXT)"])
    r = n.execute(["INSERT INTO pf(id, name) VALUES(1, 'fiona')",
                   "INSERT INTO pf(id, name) VALUES(2, 'fiona')",
                   "INSERT INTO pf(id, name) VALUES(1, 'fiona')",
                   "INSERT INTO pf(id, name) VALUES(4, 'fiona')"])
    body_is(r, '{"results":[{"last_insert_id":1,"rows_affected":1},'
               '{"last_insert_id":2,"rows_affected":1},'
               '{"error":"UNIQUE constraint failed: pf.id"},'
               '{"last_insert_id":4,"rows_affected":1}]}')
    body_is(n.query_get("SELECT * FROM pf"),
            '{"results":[{"columns":["id","name"],"types":["integer","text"],'
            '"values":[[1,"fiona"],[2,"fiona"],[4,"fiona"]]}]}')


def test_ddl_after_a_write_carries_over_stale_counts(n):
    # SQLite's last_insert_rowid()/changes() are not reset by DDL; rqlite reports them.
    r = n.execute(["CREATE TABLE co (id integer primary key, v)",
                   "INSERT INTO co(id, v) VALUES(7, 1)",
                   "CREATE TABLE co2 (x)",
                   "DROP TABLE co2"])
    status_is(r, 200)
    eq(r.json()["results"][1:], [{"last_insert_id": 7, "rows_affected": 1}] * 3,
       "results after the insert")


def test_update_and_delete_report_rows_affected(n):
    n.ex_ok(["CREATE TABLE ud (id integer primary key, v integer)"])
    n.ex_ok([["INSERT INTO ud(id, v) VALUES(?, ?)", i, i % 2] for i in range(1, 6)])
    r = n.execute(["UPDATE ud SET v = 9 WHERE v = 1"])
    status_is(r, 200)
    eq(r.json()["results"][0].get("rows_affected"), 3, "rows_affected of UPDATE")
    r = n.execute(["DELETE FROM ud WHERE v = 0"])
    eq(r.json()["results"][0].get("rows_affected"), 2, "rows_affected of DELETE")


def test_positional_parameters_of_every_json_type(n):
    n.ex_ok(["CREATE TABLE p (id integer not null primary key, n text, b integer, "
             "i integer, r real, s text)"])
    r = n.execute([["INSERT INTO p(n, b, i, r, s) VALUES(?, ?, ?, ?, ?)",
                    None, True, 20, 1.5, "fiona"]])
    body_is(r, '{"results":[{"last_insert_id":1,"rows_affected":1}]}')
    body_is(n.query_get("SELECT * FROM p"),
            '{"results":[{"columns":["id","n","b","i","r","s"],'
            '"types":["integer","text","integer","integer","real","text"],'
            '"values":[[1,null,1,20,1.5,"fiona"]]}]}')


def test_parameter_json_types_map_to_sqlite_storage_classes(n):
    # 20.0 has a fraction part in JSON -> REAL; true -> INTEGER 1; "x'..'" -> BLOB;
    # an array of bytes -> BLOB; null -> NULL.
    body = '[["SELECT typeof(?), typeof(?), typeof(?), typeof(?), typeof(?), typeof(?), ' \
           'typeof(?), typeof(?)", 20.0, 20, true, "x\'0102\'", "abc", null, [1,2], []]]'
    r = n.post("/db/query", body, ctype="application/json")
    status_is(r, 200)
    eq(r.json()["results"][0]["values"],
       [["real", "integer", "integer", "blob", "text", "null", "blob", "blob"]], "typeof()s")


def test_int64_limits_and_too_large_integers(n):
    r = n.post("/db/query", '[["SELECT ?, typeof(?)", 9223372036854775807, '
               '9223372036854775808]]', ctype="application/json")
    status_is(r, 200)
    check('"values":[[9223372036854775807,"real"]]' in r.text,
          "int64 max must round-trip exactly and 2^63 must bind as REAL: %s" % r.text)


def test_named_parameters_bind_colon_at_and_dollar(n):
    n.ex_ok(["CREATE TABLE np (id integer primary key, a integer, b integer, c text)"])
    r = n.execute([["INSERT INTO np(a, b, c) VALUES(:a, @b, $c)",
                    {"a": 1, "b": 2, "c": "three"}]])
    body_is(r, '{"results":[{"last_insert_id":1,"rows_affected":1}]}')
    r = n.query([["SELECT a, b, c FROM np WHERE c = :c", {"c": "three"}]])
    body_is(r, '{"results":[{"columns":["a","b","c"],"types":["integer","integer","text"],'
               '"values":[[1,2,"three"]]}]}')


def test_named_parameters_with_constraints_many_times(n):
    n.ex_ok(["CREATE TABLE [TestTable] ([Id] int primary key, [Col1] int not null, "
             "[Col2] varchar(500), [Col3] int not null, [Col4] varchar(500))"])
    for i in range(20):
        r = n.execute([["INSERT into TestTable (Col1, Col2, Col3, Col4) values "
                        "(:Val1, :Val2, :Val3, :Val4)",
                        {"Val1": 1, "Val2": "foo", "Val3": 2, "Val4": None}]])
        body_is(r, '{"results":[{"last_insert_id":%d,"rows_affected":1}]}' % (i + 1))


def test_mixed_string_and_array_statements_in_one_request(n):
    n.ex_ok(["CREATE TABLE mx (id INTEGER NOT NULL PRIMARY KEY, name TEXT, age INTEGER)"])
    r = n.execute([["INSERT INTO mx(name, age) VALUES(?,?)", "fiona", 20],
                   "INSERT INTO mx(name, age) VALUES('sinead', 25)"])
    body_is(r, '{"results":[{"last_insert_id":1,"rows_affected":1},'
               '{"last_insert_id":2,"rows_affected":1}]}')


def test_too_few_positional_arguments_is_a_statement_error(n):
    r = n.execute([["INSERT INTO mx(name, age) VALUES(?, ?)", "fiona"]])
    status_is(r, 200)
    err = r.json()["results"][0].get("error", "")
    # unverified: exact wording comes from the Go SQLite driver.
    eq(err, "not enough args to execute query: want 2 got 1", "error")


def test_blob_parameters_hex_string_and_byte_array(n):
    n.ex_ok(["CREATE TABLE bl (id integer not null primary key, data blob) STRICT"])
    body_is(n.execute([["INSERT INTO bl(id, data) VALUES(?, ?)", 1, "x'deadbeef'"]]),
            '{"results":[{"last_insert_id":1,"rows_affected":1}]}')
    body_is(n.execute([["INSERT INTO bl(id, data) VALUES(?, ?)", 2, [222, 173, 190, 239]]]),
            '{"results":[{"last_insert_id":2,"rows_affected":1}]}')
    body_is(n.execute([["INSERT INTO bl(id, data) VALUES(?, ?)", 3, " X'DEADBEEF' "]]),
            '{"results":[{"last_insert_id":3,"rows_affected":1}]}')
    body_is(n.query_get("SELECT * FROM bl"),
            '{"results":[{"columns":["id","data"],"types":["integer","blob"],'
            '"values":[[1,"3q2+7w=="],[2,"3q2+7w=="],[3,"3q2+7w=="]]}]}')
    # Odd-length hex is not a blob literal: it stays TEXT (so STRICT rejects it).
    r = n.query([["SELECT typeof(?), typeof(?)", "x'abc'", "x'"]])
    eq(r.json()["results"][0]["values"], [["text", "text"]], "typeof odd hex")


def test_bad_byte_array_is_400_unsupported_type(n):
    r = n.execute([["INSERT INTO bl(id, data) VALUES(?, ?)", 9, [1, 256]]])
    status_is(r, 400)
    check(r.text.startswith("unsupported type"), "body %r" % r.text)
    r = n.execute([["INSERT INTO bl(id, data) VALUES(?, ?)", 9, [1, "a"]]])
    status_is(r, 400)
    check(r.text.startswith("unsupported type"), "body %r" % r.text)
    r = n.execute([["INSERT INTO np(a) VALUES(:a)", {"a": {"nested": 1}}]])
    status_is(r, 400)
    check(r.text.startswith("unsupported type"), "body %r" % r.text)


def test_transaction_rolls_back_and_stops_at_first_error(n):
    n.ex_ok(["CREATE TABLE txt (id INTEGER NOT NULL PRIMARY KEY, name TEXT)",
             "INSERT INTO txt(id, name) VALUES(1, 'fiona')"])
    r = n.execute(["INSERT INTO txt(id, name) VALUES(2, 'declan')",
                   "INSERT INTO txt(id, name) VALUES(1, 'fiona')",
                   "INSERT INTO txt(id, name) VALUES(3, 'dana')"], qs(transaction=True))
    body_is(r, '{"results":[{"last_insert_id":2,"rows_affected":1},'
               '{"error":"UNIQUE constraint failed: txt.id"}]}')
    body_is(n.query_get("SELECT id FROM txt"),
            '{"results":[{"columns":["id"],"types":["integer"],"values":[[1]]}]}')


def test_transaction_flag_value_is_ignored(n):
    # A flag is enabled by presence: ?transaction=false still wraps in a transaction.
    r = n.execute(["INSERT INTO txt(id, name) VALUES(5, 'a')",
                   "INSERT INTO txt(id, name) VALUES(1, 'dup')"], "?transaction=false")
    status_is(r, 200)
    body_is(n.query_get("SELECT id FROM txt WHERE id = 5"),
            '{"results":[{"columns":["id"],"types":["integer"]}]}')


def test_successful_transaction_commits_all(n):
    r = n.execute(["INSERT INTO txt(id, name) VALUES(10, 'a')",
                   "INSERT INTO txt(id, name) VALUES(11, 'b')"], qs(transaction=True))
    body_is(r, '{"results":[{"last_insert_id":10,"rows_affected":1},'
               '{"last_insert_id":11,"rows_affected":1}]}')
    body_is(n.query_get("SELECT COUNT(*) FROM txt"),
            '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[3]]}]}')


def test_associative_execute_adds_rows_null(n):
    n.ex_ok(["CREATE TABLE asx (id integer not null primary key, name text)"])
    r = n.post("/db/execute?associative", "INSERT INTO asx(id, name) VALUES(99, 'lisa')",
               ctype="text/plain")
    body_is(r, '{"results":[{"last_insert_id":99,"rows_affected":1,"rows":null}]}')


def test_returning_gives_rows(n):
    n.ex_ok(["CREATE TABLE rt (id integer not null primary key, name text)"])
    body_is(n.execute(["INSERT INTO rt(id, name) VALUES(1, 'fiona')"]),
            '{"results":[{"last_insert_id":1,"rows_affected":1}]}')
    body_is(n.execute(["INSERT INTO rt(id, name) VALUES(2, 'declan') RETURNING *"]),
            '{"results":[{"columns":["id","name"],"types":["integer","text"],'
            '"values":[[2,"declan"]]}]}')
    body_is(n.execute(["INSERT INTO nonsense(id, name) VALUES(2, 'declan') RETURNING *"]),
            '{"results":[{"error":"no such table: nonsense"}]}')
    body_is(n.execute(["INSERT INTO rt(id, name) VALUES(4, 'alice') RETURNING *",
                       "INSERT INTO rt(id, name) VALUES(5, 'bob')"]),
            '{"results":[{"columns":["id","name"],"types":["integer","text"],'
            '"values":[[4,"alice"]]},{"last_insert_id":5,"rows_affected":1}]}')
    body_is(n.execute(["INSERT INTO rt(id, name) VALUES(7, 'siobhan') RETURNING *"],
                      qs(associative=True)),
            '{"results":[{"types":{"id":"integer","name":"text"},'
            '"rows":[{"id":7,"name":"siobhan"}]}]}')
    body_is(n.execute(["UPDATE rt SET name = 'deirdre' WHERE name = 'siobhan' RETURNING name"],
                      qs(associative=True)),
            '{"results":[{"types":{"name":"text"},"rows":[{"name":"deirdre"}]}]}')
    body_is(n.execute(["UPDATE rt SET name = 'deirdre' WHERE name = 'no one' RETURNING name"],
                      qs(associative=True)),
            '{"results":[{"types":{"name":"text"},"rows":[]}]}')


def test_returning_keyword_as_identifier(n):
    n.ex_ok(["CREATE TABLE rk (id integer not null primary key, desc text)"])
    body_is(n.execute(["INSERT INTO rk(id, desc) VALUES(1, 'declan') RETURNING *"]),
            '{"results":[{"columns":["id","desc"],"types":["integer","text"],'
            '"values":[[1,"declan"]]}]}')


def test_raft_index_is_reported_and_grows(n):
    r1 = n.execute(["INSERT INTO foo(name) VALUES('r1')"], qs(raft_index=True))
    status_is(r1, 200)
    j1 = r1.json()
    check(isinstance(j1.get("raft_index"), int) and j1["raft_index"] > 0,
          "raft_index missing: %s" % r1.text)
    check(r1.text.endswith(',"raft_index":%d}' % j1["raft_index"]),
          "raft_index must come after results: %s" % r1.text)
    r2 = n.execute(["INSERT INTO foo(name) VALUES('r2')"], qs(raft_index=True))
    check(r2.json()["raft_index"] > j1["raft_index"], "raft_index must grow: %s then %s"
          % (r1.text, r2.text))
    r3 = n.execute(["INSERT INTO foo(name) VALUES('r3')"])
    check("raft_index" not in r3.json(), "raft_index without the flag: %s" % r3.text)


def test_timings_add_numeric_time_fields(n):
    r = n.execute(["INSERT INTO foo(name) VALUES('t')"], qs(timings=True))
    status_is(r, 200)
    j = r.json()
    check(isinstance(j.get("time"), float) and j["time"] > 0, "top-level time: %s" % r.text)
    res = j["results"][0]
    check(isinstance(res.get("time"), (float, int)) and res["time"] >= 0,
          "per-result time: %s" % r.text)
    check(list(res.keys()) == ["last_insert_id", "rows_affected", "time"],
          "field order: %s" % r.text)
    check(re.match(r'^\{"results":\[.*\],"time":[0-9.e-]+\}$', r.text) is not None,
          "time must follow results: %s" % r.text)


def test_pretty_output_is_four_space_indented(n):
    n.ex_ok(["CREATE TABLE pr (id integer not null primary key, name text)"])
    r = n.execute(["INSERT INTO pr(id, name) VALUES(1, 'fiona')"], qs(pretty=True))
    body_is(r, '{\n'
               '    "results": [\n'
               '        {\n'
               '            "last_insert_id": 1,\n'
               '            "rows_affected": 1\n'
               '        }\n'
               '    ]\n'
               '}')
    r = n.execute(["PRAGMA synchronous = NORMAL"], qs(pretty=True))
    body_is(r, '{\n    "results": [],\n    "error": "disallowed pragma"\n}')


def test_disallowed_pragmas_reject_the_whole_request(n):
    for stmt in ["PRAGMA JOURNAL_MODE=DELETE", "PRAGMA wal_autocheckpoint = 1000",
                 "PRAGMA synchronous = NORMAL", "  PRAGMA synchronous = NORMAL",
                 "PRAGMA      synchronous = NORMAL", "PRAGMA main.journal_mode=delete",
                 "PRAGMA wal_checkpoint(TRUNCATE)", "pragma query_only = 1"]:
        body_is(n.execute([stmt]), '{"results":[],"error":"disallowed pragma"}', what=stmt)
        body_is(n.query([stmt]), '{"results":[],"error":"disallowed pragma"}', what=stmt)
        body_is(n.request([stmt]), '{"results":[],"error":"disallowed pragma"}', what=stmt)
    # One bad statement rejects the request: the good one must not have run.
    body_is(n.execute(["INSERT INTO foo(name) VALUES('never')", "PRAGMA synchronous=OFF"]),
            '{"results":[],"error":"disallowed pragma"}')
    body_is(n.query_get("SELECT COUNT(*) FROM foo WHERE name = 'never'"),
            '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[0]]}]}')


def test_harmless_pragmas_are_allowed(n):
    # The reference runs /db/query statements on read-only connections without asking
    # SQLite whether they are read-only; a PRAGMA that only reads works there.
    r = n.query(["PRAGMA journal_mode"])
    status_is(r, 200)
    check("error" not in r.text, "PRAGMA journal_mode must be allowed: %s" % r.text)
    # The docs show "types":[""] here, but the code (db/swappable_db_test.go) fills an
    # empty declared type from the first row's value.
    body_is(n.query(["PRAGMA foreign_keys"]),
            '{"results":[{"columns":["foreign_keys"],"types":["integer"],"values":[[0]]}]}')


def test_empty_statement_strings_are_skipped(n):
    r = n.execute(["", "INSERT INTO foo(name) VALUES('e')", ""])
    status_is(r, 200)
    eq(len(r.json()["results"]), 1, "number of results")


def test_queued_write_returns_sequence_number_and_lands(n):
    n.ex_ok(["CREATE TABLE qw (id integer primary key, v text)"])
    r = n.execute([["INSERT INTO qw(id, v) VALUES(?, ?)", 1, "queued"]], qs(queue=True))
    status_is(r, 200)
    check(re.fullmatch(r'\{"results":\[\],"sequence_number":\d+\}', r.text) is not None,
          "queued response: %s" % r.text)
    r = n.execute([["INSERT INTO qw(id, v) VALUES(?, ?)", 2, "waited"]],
                  qs(queue=True, wait=True))
    status_is(r, 200)
    body_is(n.query_get("SELECT id, v FROM qw ORDER BY id"),
            '{"results":[{"columns":["id","v"],"types":["integer","text"],'
            '"values":[[1,"queued"],[2,"waited"]]}]}')
    # Empty batch: only allowed with wait (acts as a flush barrier).
    status_is(n.post("/db/execute?queue", "[]", ctype="application/json"), 400)
    status_is(n.post("/db/execute?queue&wait", "[]", ctype="application/json"), 200)


def test_served_by_header_names_this_node(n):
    r = n.execute(["INSERT INTO foo(name) VALUES('sb')"])
    eq(r.header("X-RQLITE-SERVED-BY"), n.http_addr, "X-RQLITE-SERVED-BY")


def test_many_statements_in_one_request(n):
    n.ex_ok(["CREATE TABLE bulk (id integer primary key, v text)"])
    stmts = [["INSERT INTO bulk(id, v) VALUES(?, ?)", i, "v%d" % i] for i in range(1, 1001)]
    r = n.execute(stmts)
    status_is(r, 200)
    res = r.json()["results"]
    eq(len(res), 1000, "number of results")
    eq(res[-1], {"last_insert_id": 1000, "rows_affected": 1}, "last result")
    body_is(n.query_get("SELECT COUNT(*) FROM bulk"),
            '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[1000]]}]}')


def test_large_single_value_round_trips(n):
    # rqlite sets no request-body limit; 4 MiB must work.
    n.ex_ok(["CREATE TABLE big (id integer primary key, v text)"])
    big = "x" * (4 * 1024 * 1024)
    r = n.execute([["INSERT INTO big(id, v) VALUES(1, ?)", big]], timeout=30)
    body_is(r, '{"results":[{"last_insert_id":1,"rows_affected":1}]}')
    body_is(n.query_get("SELECT length(v) FROM big"),
            '{"results":[{"columns":["length(v)"],"types":["integer"],"values":[[4194304]]}]}')
    r = n.query_get("SELECT v FROM big", timeout=30)
    status_is(r, 200)
    eq(len(r.body), len('{"results":[{"columns":["v"],"types":["text"],"values":[[""]]}]}')
       + len(big), "response length")


def test_unicode_round_trips(n):
    n.ex_ok(["CREATE TABLE uni (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"])
    body_is(n.execute(['INSERT INTO uni(name) VALUES ("こんにちは")']),
            '{"results":[{"last_insert_id":1,"rows_affected":1}]}')
    r = n.query_get("SELECT * FROM uni WHERE name = 'こんにちは'")
    status_is(r, 200)
    eq(r.json(), {"results": [{"columns": ["id", "name"], "types": ["integer", "text"],
                               "values": [[1, "こんにちは"]]}]}, "unicode query")


def test_keep_alive_connection_serves_many_requests(n):
    from harness import Client
    c = Client(n.http_port)
    try:
        for i in range(5):
            r = c.request("POST", "/db/execute", [["INSERT INTO foo(name) VALUES(?)", "ka%d" % i]])
            status_is(r, 200)
            r = c.request("GET", "/db/query?q=" + "SELECT%201")
            body_is(r, '{"results":[{"columns":["1"],"types":["integer"],"values":[[1]]}]}')
    finally:
        c.close()


def test_json_bodies_sent_with_other_content_types_are_json(n):
    # Anything that is not text/plain is parsed as JSON, even with no Content-Type.
    r = n.req("POST", "/db/execute", json.dumps(["INSERT INTO foo(name) VALUES('noct')"]))
    status_is(r, 200)
    check("rows_affected" in r.text, r.text)
    r = n.post("/db/execute", json.dumps(["INSERT INTO foo(name) VALUES('form')"]),
               ctype="application/x-www-form-urlencoded")
    status_is(r, 200)
    check("rows_affected" in r.text, r.text)
