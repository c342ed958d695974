"""GET/POST /db/query: statement sources, result shapes, types, value encodings, levels.

One node for the module, with tables made in setup_module. Expected bodies come from
rqlite's system_test/single_node_test.go, system_test/e2e/single_node.py and
db/db_common_test.go unless marked `# unverified:`.
"""

import base64

from harness import Node, body_is, check, eq, qs, status_is

FOO = ('{"results":[{"columns":["id","name"],"types":["integer","text"],'
       '"values":[[1,"fiona"],[2,"declan"]]}]}')


def setup_module():
    n = Node().start()
    n.ex_ok(["CREATE TABLE foo (id integer not null primary key, name text)",
             "INSERT INTO foo(name) VALUES('fiona')",
             "INSERT INTO foo(name) VALUES('declan')",
             "CREATE TABLE bar (id integer not null primary key, sequence integer)",
             "INSERT INTO bar(sequence) VALUES(5)"])
    return n


def teardown_module(n):
    n.stop()


def test_get_with_q(n):
    r = n.query_get("SELECT * FROM foo")
    body_is(r, FOO)
    eq(r.header("Content-Type"), "application/json; charset=utf-8", "Content-Type")
    eq(r.header("X-RQLITE-SERVED-BY"), n.http_addr, "X-RQLITE-SERVED-BY")


def test_post_json_array_gives_one_result_per_statement(n):
    body_is(n.query(["SELECT * FROM foo", "SELECT * FROM bar"]),
            '{"results":[{"columns":["id","name"],"types":["integer","text"],'
            '"values":[[1,"fiona"],[2,"declan"]]},{"columns":["id","sequence"],'
            '"types":["integer","integer"],"values":[[1,5]]}]}')


def test_post_plain_text_is_one_statement(n):
    body_is(n.post("/db/query", "SELECT * FROM foo", ctype="text/plain"), FOO)


def test_post_parameterized(n):
    body_is(n.query([["SELECT * FROM foo WHERE name IN (?, ?)", "fiona", "nobody"]]),
            '{"results":[{"columns":["id","name"],"types":["integer","text"],'
            '"values":[[1,"fiona"]]}]}')


def test_empty_statement_gives_empty_results(n):
    body_is(n.post("/db/query", "", ctype="text/plain"), '{"results":[]}')
    body_is(n.get("/db/query"), '{"results":[]}')


def test_zero_rows_omit_values(n):
    body_is(n.query_get("SELECT * FROM foo WHERE name = 'non-existent'"),
            '{"results":[{"columns":["id","name"],"types":["integer","text"]}]}')


def test_query_error_is_per_statement(n):
    body_is(n.query(["SELECT * FROM nope", "SELECT id FROM foo WHERE id = 1"]),
            '{"results":[{"error":"no such table: nope"},'
            '{"columns":["id"],"types":["integer"],"values":[[1]]}]}')


def test_pretty_query_output(n):
    body_is(n.query_get("SELECT * FROM foo WHERE id = 1", qs(pretty=True)),
            '{\n'
            '    "results": [\n'
            '        {\n'
            '            "columns": [\n'
            '                "id",\n'
            '                "name"\n'
            '            ],\n'
            '            "types": [\n'
            '                "integer",\n'
            '                "text"\n'
            '            ],\n'
            '            "values": [\n'
            '                [\n'
            '                    1,\n'
            '                    "fiona"\n'
            '                ]\n'
            '            ]\n'
            '        }\n'
            '    ]\n'
            '}')


def test_declared_types_are_lower_case_and_verbatim(n):
    n.ex_ok(["CREATE TABLE ty (a INTEGER, b VARCHAR(500), c INT, d DATETIME, e TEXT, "
             "f BLOB, g REAL, h BOOLEAN, i NUMERIC, j)"])
    body_is(n.query_get("SELECT * FROM ty"),
            '{"results":[{"columns":["a","b","c","d","e","f","g","h","i","j"],'
            '"types":["integer","varchar(500)","int","datetime","text","blob","real",'
            '"boolean","numeric",""]}]}')


def test_expression_types_come_from_the_first_row(n):
    # A BLOB in a column with no declared type is typed "blob" and sent as base64
    # (rqlite reads it as text, garbling non-UTF-8 bytes; issue 15 chose the bytes).
    body_is(n.query_get("SELECT 1, 1.5, 'a', x'53514C697465', NULL"),
            '{"results":[{"columns":["1","1.5","\'a\'","x\'53514C697465\'","NULL"],'
            '"types":["integer","real","text","blob",""],'
            '"values":[[1,1.5,"a","U1FMaXRl",null]]}]}')
    body_is(n.query_get("SELECT COUNT(*) FROM foo"),
            '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[2]]}]}')
    # No row to infer from: the type stays empty.
    body_is(n.query_get("SELECT 1 WHERE 0"),
            '{"results":[{"columns":["1"],"types":[""]}]}')


def test_pragma_table_info(n):
    n.ex_ok(["CREATE TABLE nn (id INTEGER NOT NULL PRIMARY KEY, name TEXT)"])
    body_is(n.query_get('PRAGMA table_info("nn")'),
            '{"results":[{"columns":["cid","name","type","notnull","dflt_value","pk"],'
            '"types":["integer","text","text","integer","","integer"],'
            '"values":[[0,"id","INTEGER",1,null,1],[1,"name","TEXT",0,null,0]]}]}')


def test_aggregates_and_real_formatting(n):
    n.ex_ok(["CREATE TABLE agg (id INTEGER NOT NULL PRIMARY KEY, name TEXT, age INTEGER, "
             "height REAL)",
             "INSERT INTO agg(id, name, age, height) VALUES(1, 'fiona', 20, 6.7)",
             "INSERT INTO agg(id, name, age, height) VALUES(2, 'aoife', 40, 10.4)"])
    cases = [
        ("SELECT sum(name) FROM agg", '{"columns":["sum(name)"],"types":["real"],"values":[[0]]}'),
        ("SELECT sum(age) FROM agg", '{"columns":["sum(age)"],"types":["integer"],"values":[[60]]}'),
        ("SELECT sum(height) FROM agg",
         '{"columns":["sum(height)"],"types":["real"],"values":[[17.1]]}'),
        ("SELECT avg(height),count(*),sum(age) FROM agg",
         '{"columns":["avg(height)","count(*)","sum(age)"],"types":["real","integer","integer"],'
         '"values":[[8.55,2,60]]}'),
    ]
    for sql, exp in cases:
        body_is(n.query_get(sql), '{"results":[%s]}' % exp, what=sql)


def test_reals_print_in_shortest_round_trip_form(n):
    # Go's encoding: integral reals have no ".0"; exponents outside [1e-6, 1e21).
    r = n.query_get("SELECT 2.0, 0.1, 1e21, 1e-7, 123456789.125, -0.5")
    status_is(r, 200)
    check(r.text.endswith('"values":[[2,0.1,1e+21,1e-7,123456789.125,-0.5]]}]}'),
          "real formatting: %s" % r.text)


def test_large_integers_are_exact(n):
    body_is(n.query_get("SELECT 9223372036854775807, -9223372036854775808"),
            '{"results":[{"columns":["9223372036854775807","-9223372036854775808"],'
            '"types":["integer","integer"],'
            '"values":[[9223372036854775807,-9223372036854775808]]}]}')


def test_blobs_are_base64_or_byte_arrays(n):
    n.ex_ok(["CREATE TABLE bl (id integer not null primary key, data blob)",
             "INSERT INTO bl(data) VALUES('fiona')",
             "INSERT INTO bl(data) VALUES(x'deadbeef')"])
    body_is(n.query_get("SELECT data FROM bl"),
            '{"results":[{"columns":["data"],"types":["blob"],'
            '"values":[["fiona"],["3q2+7w=="]]}]}')
    body_is(n.query_get("SELECT data FROM bl", qs(blob_array=True)),
            '{"results":[{"columns":["data"],"types":["blob"],'
            '"values":[["fiona"],[[222,173,190,239]]]}]}')
    n.ex_ok(["INSERT INTO bl(id, data) VALUES(3, x'')"])
    # unverified: a zero-length BLOB is an empty array / empty base64 string.
    body_is(n.query_get("SELECT data FROM bl WHERE id = 3", qs(blob_array=True)),
            '{"results":[{"columns":["data"],"types":["blob"],"values":[[[]]]}]}')
    body_is(n.query_get("SELECT data FROM bl WHERE id = 3"),
            '{"results":[{"columns":["data"],"types":["blob"],"values":[[""]]}]}')


def test_boolean_columns_give_true_false(n):
    n.ex_ok(["CREATE TABLE bo (id integer primary key, flag boolean)",
             "INSERT INTO bo(id, flag) VALUES(1, 1)",
             "INSERT INTO bo(id, flag) VALUES(2, 0)",
             "INSERT INTO bo(id, flag) VALUES(3, 5)"])
    body_is(n.query_get("SELECT * FROM bo"),
            '{"results":[{"columns":["id","flag"],"types":["integer","boolean"],'
            '"values":[[1,true],[2,false],[3,true]]}]}')


def test_date_and_time_columns_give_rfc3339(n):
    n.ex_ok(["CREATE TABLE dt (d DATE, ts TIMESTAMP, dt DATETIME)",
             "INSERT INTO dt(d, ts, dt) VALUES('2004-02-14', '2004-02-14 07:15:00', "
             "'2021-10-22 19:39:32.016087')"])
    body_is(n.query_get("SELECT d, ts, dt FROM dt"),
            '{"results":[{"columns":["d","ts","dt"],"types":["date","timestamp","datetime"],'
            '"values":[["2004-02-14T00:00:00Z","2004-02-14T07:15:00Z",'
            '"2021-10-22T19:39:32.016087Z"]]}]}')


def test_integer_in_datetime_column_is_epoch_seconds(n):
    n.ex_ok(["CREATE TABLE de (id integer primary key, at DATETIME)",
             "INSERT INTO de(id, at) VALUES(1, 1000000000)"])
    # unverified: from API.md §1.4 (driver behaviour), not from an rqlite test.
    body_is(n.query_get("SELECT at FROM de"),
            '{"results":[{"columns":["at"],"types":["datetime"],'
            '"values":[["2001-09-09T01:46:40Z"]]}]}')


def test_associative_rows_have_sorted_keys(n):
    body_is(n.query_get("SELECT * FROM foo", qs(associative=True)),
            '{"results":[{"types":{"id":"integer","name":"text"},'
            '"rows":[{"id":1,"name":"fiona"},{"id":2,"name":"declan"}]}]}')
    n.ex_ok(["CREATE TABLE az (zeta text, alpha integer, mid real)",
             "INSERT INTO az VALUES('z', 1, 2.5)"])
    body_is(n.query_get("SELECT * FROM az", qs(associative=True)),
            '{"results":[{"types":{"alpha":"integer","mid":"real","zeta":"text"},'
            '"rows":[{"alpha":1,"mid":2.5,"zeta":"z"}]}]}')


def test_associative_zero_rows_and_errors(n):
    body_is(n.query_get("SELECT * FROM foo WHERE id = 99", qs(associative=True)),
            '{"results":[{"types":{"id":"integer","name":"text"},"rows":[]}]}')
    body_is(n.query_get("SELECT * FROM nope", qs(associative=True)),
            '{"results":[{"rows":[],"error":"no such table: nope"}]}')


def test_qualify_columns(n):
    n.ex_ok(["CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT)",
             "CREATE TABLE titles (id INTEGER PRIMARY KEY, contact_id INTEGER, title TEXT)",
             "INSERT INTO contacts(id, name) VALUES(1, 'alice')",
             "INSERT INTO titles(id, contact_id, title) VALUES(1, 1, 'engineer')"])
    sql = "SELECT * FROM contacts JOIN titles ON contacts.id = titles.contact_id"
    body_is(n.query_get(sql),
            '{"results":[{"columns":["id","name","id","contact_id","title"],'
            '"types":["integer","text","integer","integer","text"],'
            '"values":[[1,"alice",1,1,"engineer"]]}]}')
    body_is(n.query_get(sql, qs(qualify_columns=True)),
            '{"results":[{"columns":["contacts.id","contacts.name","titles.id",'
            '"titles.contact_id","titles.title"],'
            '"types":["integer","text","integer","integer","text"],'
            '"values":[[1,"alice",1,1,"engineer"]]}]}')
    body_is(n.query_get("SELECT * FROM foo WHERE id = 1", qs(qualify_columns=True)),
            '{"results":[{"columns":["foo.id","foo.name"],"types":["integer","text"],'
            '"values":[[1,"fiona"]]}]}')


def test_write_via_query_is_refused(n):
    body_is(n.query(["INSERT INTO foo(name) VALUES('sneaky')"]),
            '{"results":[{"error":"attempt to change database via query operation"}]}')
    body_is(n.query_get("SELECT COUNT(*) FROM foo WHERE name = 'sneaky'"),
            '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[0]]}]}')


def test_explain_is_accepted(n):
    r = n.query_get("EXPLAIN QUERY PLAN INSERT INTO foo(name) VALUES('declan')")
    status_is(r, 200)
    check("notused" in r.text, "EXPLAIN QUERY PLAN result: %s" % r.text)
    r = n.query_get("EXPLAIN QUERY PLAN SELECT * FROM foo")
    check("notused" in r.text, "EXPLAIN QUERY PLAN result: %s" % r.text)


def test_every_level_works_on_a_single_node(n):
    for level in ["none", "weak", "linearizable", "strong", "auto", "NONE", "Strong",
                  "no-such-level"]:
        body_is(n.query_get("SELECT * FROM foo", qs(level=level)), FOO, what="level=" + level)
        body_is(n.query(["SELECT * FROM foo"], qs(level=level)), FOO,
                what="POST level=" + level)


def test_freshness_and_timeouts_are_accepted(n):
    for params in [dict(level="none", freshness="1s"),
                   dict(level="none", freshness="1ns"),   # ignored on the Leader
                   dict(level="none", freshness="500ms", freshness_strict=True),
                   dict(level="weak", freshness="1s"),
                   dict(level="linearizable", linearizable_timeout="5s"),
                   dict(timeout="10s", retries="2", db_timeout="5s"),
                   dict(timeout="1h2m3.5s")]:
        body_is(n.query_get("SELECT * FROM foo", qs(**params)), FOO, what=repr(params))


def test_strong_read_can_report_raft_index(n):
    r = n.query_get("SELECT * FROM foo", qs(level="strong", raft_index=True))
    status_is(r, 200)
    # unverified: strong reads go through the log, so the index is non-zero.
    check(isinstance(r.json().get("raft_index"), int) and r.json()["raft_index"] > 0,
          "raft_index on a strong read: %s" % r.text)
    r = n.query_get("SELECT * FROM foo", qs(level="none", raft_index=True))
    body_is(r, FOO, what="level=none raft_index")


def test_timings_on_query(n):
    r = n.query_get("SELECT * FROM foo", qs(timings=True))
    status_is(r, 200)
    j = r.json()
    check(isinstance(j.get("time"), float), "top-level time: %s" % r.text)
    res = j["results"][0]
    check(list(res.keys()) == ["columns", "types", "values", "time"], "keys: %s" % r.text)
    check(isinstance(res["time"], (float, int)), "result time: %s" % r.text)


def test_read_transaction_flag(n):
    body_is(n.query(["SELECT * FROM foo"], qs(transaction=True)), FOO)


def test_query_db_timeout_interrupts_slow_query(n):
    # Bounded recursion (~seconds of CPU) so a missing interrupt cannot hang the node.
    sql = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200000000) "
           "SELECT count(*) FROM c")
    r = n.query_get(sql, qs(db_timeout="100ms"), timeout=30)
    body_is(r, '{"results":[{"error":"query timeout"}]}')
    # And the node still answers afterwards.
    body_is(n.query_get("SELECT * FROM foo"), FOO)


def test_untyped_blobs_come_back_as_their_bytes(n):
    # Issue 15: expression and untyped columns used to force bytes into text.
    body_is(n.query_get("SELECT x'deadbeef' AS b"),
            '{"results":[{"columns":["b"],"types":["blob"],"values":[["3q2+7w=="]]}]}')
    body_is(n.query_get("SELECT zeroblob(3) AS z"),
            '{"results":[{"columns":["z"],"types":["blob"],"values":[["AAAA"]]}]}')
    r = n.query_get("SELECT randomblob(4) AS r")
    status_is(r, 200)
    res = r.json()["results"][0]
    check(res["types"] == ["blob"], "randomblob type: %s" % r.text)
    check(len(base64.b64decode(res["values"][0][0])) == 4, "randomblob bytes: %s" % r.text)
    n.ex_ok(["CREATE TABLE ub (id INTEGER PRIMARY KEY, v)",
             "INSERT INTO ub(id, v) VALUES(1, x'00ff80')",
             "INSERT INTO ub(id, v) VALUES(2, 'txt')"])
    body_is(n.query_get("SELECT v FROM ub ORDER BY id"),
            '{"results":[{"columns":["v"],"types":["blob"],"values":[["AP+A"],["txt"]]}]}')
    body_is(n.query_get("SELECT v FROM ub WHERE id = 1", qs(blob_array=True)),
            '{"results":[{"columns":["v"],"types":["blob"],"values":[[[0,255,128]]]}]}')
    body_is(n.query_get("SELECT v FROM ub WHERE id = 1", qs(associative=True)),
            '{"results":[{"types":{"v":"blob"},"rows":[{"v":"AP+A"}]}]}')
    r = n.request(["SELECT v FROM ub WHERE id = 1"])
    status_is(r, 200)
    check(r.json()["results"][0]["values"] == [["AP+A"]], "/db/request: %s" % r.text)
    # The SQL backup keeps the bytes.
    r = n.get("/db/backup?fmt=sql")
    check("X'00FF80'" in r.text, "backup: %s" % r.text)
    # A declared text type still reads a BLOB as text, as rqlite does.
    n.ex_ok(["CREATE TABLE tb (v TEXT)", "INSERT INTO tb VALUES(x'4142')"])
    body_is(n.query_get("SELECT v FROM tb"),
            '{"results":[{"columns":["v"],"types":["text"],"values":[["AB"]]}]}')


def test_pragmas_report_what_rqlite_reports(n):
    # rqlite's connections: WAL, synchronous OFF, busy timeout 5 s, and no automatic
    # checkpoint (it checkpoints itself); the read pool is query_only.
    want = {"wal_autocheckpoint": 0, "journal_mode": "wal", "synchronous": 0,
            "busy_timeout": 5000, "foreign_keys": 0}
    for p, v in want.items():
        for r in (n.query_get("PRAGMA %s" % p), n.request(["PRAGMA %s" % p])):
            status_is(r, 200)
            eq(r.json()["results"][0]["values"], [[v]], what=p)
