"""POST /db/request (unified endpoint): mixed reads and writes, classification, options.

One node for the module; the first test relies on it being fresh. Expected bodies come
from rqlite's system_test/single_node_test.go (Test_SingleNodeRequest*) and
system_test/e2e/single_node.py unless marked `# unverified:`.
"""

from harness import Node, body_is, check, eq, qs, status_is


def setup_module():
    return Node().start()


def teardown_module(n):
    n.stop()


def test_single_statements_in_sequence(n):
    cases = [
        ("CREATE TABLE foo (id integer not null primary key, name text)", '{"results":[{}]}'),
        ("INSERT INTO foo(name) VALUES('fiona')",
         '{"results":[{"last_insert_id":1,"rows_affected":1}]}'),
        ("INSERT INTO bar(name) VALUES('fiona')", '{"results":[{"error":"no such table: bar"}]}'),
        ("INSERT blah blah", '{"results":[{"error":"near \\"blah\\": syntax error"}]}'),
        ("SELECT * FROM foo",
         '{"results":[{"columns":["id","name"],"types":["integer","text"],'
         '"values":[[1,"fiona"]]}]}'),
        ("DROP TABLE bar", '{"results":[{"error":"no such table: bar"}]}'),
    ]
    for sql, exp in cases:
        r = n.request([sql])
        body_is(r, exp, what=sql)
        eq(r.header("Content-Type"), "application/json; charset=utf-8", "Content-Type")


def test_reads_and_writes_mixed_in_one_request(n):
    n.ex_ok(["CREATE TABLE mix (id INTEGER NOT NULL PRIMARY KEY, name TEXT, age INTEGER)"])
    body_is(n.request([["INSERT INTO mix(name, age) VALUES(?,?)", "fiona", 20],
                       ["INSERT INTO mix(name, age) VALUES('sinead', 25)"],
                       "SELECT * FROM mix"]),
            '{"results":[{"last_insert_id":1,"rows_affected":1},'
            '{"last_insert_id":2,"rows_affected":1},'
            '{"columns":["id","name","age"],"types":["integer","text","integer"],'
            '"values":[[1,"fiona",20],[2,"sinead",25]]}]}')


def test_associative_mixed(n):
    body_is(n.request(["SELECT * FROM mix"], qs(associative=True)),
            '{"results":[{"types":{"age":"integer","id":"integer","name":"text"},'
            '"rows":[{"age":20,"id":1,"name":"fiona"},{"age":25,"id":2,"name":"sinead"}]}]}')
    body_is(n.request(["INSERT INTO mix(id, name, age) VALUES(9, 'x', 1)",
                       "SELECT name FROM mix WHERE id = 9"], qs(associative=True)),
            '{"results":[{"last_insert_id":9,"rows_affected":1,"rows":null},'
            '{"types":{"name":"text"},"rows":[{"name":"x"}]}]}')


def test_parameterized(n):
    n.ex_ok(["CREATE TABLE pz (id integer not null primary key, name text, age integer)"])
    body_is(n.request([["INSERT INTO pz(name, age) VALUES(?, ?)", "fiona", 20]]),
            '{"results":[{"last_insert_id":1,"rows_affected":1}]}')
    body_is(n.request([["SELECT * FROM pz WHERE NAME=?", "fiona"]]),
            '{"results":[{"columns":["id","name","age"],"types":["integer","text","integer"],'
            '"values":[[1,"fiona",20]]}]}')
    body_is(n.request([["SELECT * FROM pz WHERE name=:name", {"name": "fiona"}]]),
            '{"results":[{"columns":["id","name","age"],"types":["integer","text","integer"],'
            '"values":[[1,"fiona",20]]}]}')


def test_read_only_requests_at_every_level(n):
    exp = ('{"results":[{"columns":["id","name"],"types":["integer","text"],'
           '"values":[[1,"fiona"]]}]}')
    for level in ["none", "weak", "linearizable", "strong", "auto", "bogus"]:
        body_is(n.request(["SELECT * FROM foo"], qs(level=level)), exp, what="level=" + level)
    body_is(n.request(["SELECT * FROM foo"], qs(level="none", freshness="1s")), exp)


def test_statement_that_fails_to_prepare_is_an_error_result(n):
    body_is(n.request(["SELECT * FROM nope", "SELECT id FROM foo"]),
            '{"results":[{"error":"no such table: nope"},'
            '{"columns":["id"],"types":["integer"],"values":[[1]]}]}')


def test_explain_counts_as_read(n):
    r = n.request(["EXPLAIN QUERY PLAN INSERT INTO foo(name) VALUES('x')"])
    status_is(r, 200)
    check("notused" in r.text, "EXPLAIN result: %s" % r.text)
    body_is(n.query_get("SELECT COUNT(*) FROM foo WHERE name = 'x'"),
            '{"results":[{"columns":["COUNT(*)"],"types":["integer"],"values":[[0]]}]}')


def test_transaction_aborts_and_rolls_back(n):
    n.ex_ok(["CREATE TABLE rtx (id INTEGER NOT NULL PRIMARY KEY, name TEXT)",
             "INSERT INTO rtx(id, name) VALUES(1, 'fiona')"])
    body_is(n.request(["INSERT INTO rtx(id, name) VALUES(2, 'declan')",
                       "INSERT INTO rtx(id, name) VALUES(1, 'fiona')",
                       "INSERT INTO rtx(id, name) VALUES(3, 'dana')"], qs(transaction=True)),
            '{"results":[{"last_insert_id":2,"rows_affected":1},'
            '{"error":"UNIQUE constraint failed: rtx.id"}]}')
    body_is(n.request(["SELECT id FROM rtx"]),
            '{"results":[{"columns":["id"],"types":["integer"],"values":[[1]]}]}')


def test_no_transaction_continues_after_error(n):
    body_is(n.request(["INSERT INTO rtx(id, name) VALUES(1, 'dup')",
                       "INSERT INTO rtx(id, name) VALUES(4, 'ok')",
                       "SELECT id FROM rtx ORDER BY id"]),
            '{"results":[{"error":"UNIQUE constraint failed: rtx.id"},'
            '{"last_insert_id":4,"rows_affected":1},'
            '{"columns":["id"],"types":["integer"],"values":[[1],[4]]}]}')


def test_returning(n):
    body_is(n.request(["INSERT INTO rtx(id, name) VALUES(5, 'ret') RETURNING id, name"]),
            '{"results":[{"columns":["id","name"],"types":["integer","text"],'
            '"values":[[5,"ret"]]}]}')


def test_raft_index_on_writes(n):
    r = n.request(["INSERT INTO rtx(id, name) VALUES(6, 'ri')"], qs(raft_index=True))
    status_is(r, 200)
    check(isinstance(r.json().get("raft_index"), int) and r.json()["raft_index"] > 0,
          "raft_index missing: %s" % r.text)
    # unverified: a weak read-only request does not touch the log, so index 0 is omitted.
    r = n.request(["SELECT 1"], qs(raft_index=True))
    check("raft_index" not in r.json(), "raft_index on a weak read: %s" % r.text)


def test_qualify_columns(n):
    body_is(n.request(["SELECT * FROM foo"], qs(qualify_columns=True)),
            '{"results":[{"columns":["foo.id","foo.name"],"types":["integer","text"],'
            '"values":[[1,"fiona"]]}]}')


def test_queue_is_ignored(n):
    r = n.request(["INSERT INTO rtx(id, name) VALUES(7, 'q')"], qs(queue=True))
    body_is(r, '{"results":[{"last_insert_id":7,"rows_affected":1}]}')


def test_plain_text_is_not_accepted(n):
    r = n.post("/db/request", "SELECT 1", ctype="text/plain")
    body_is(r, "invalid JSON body\n", status=400)


def test_wrong_methods(n):
    for m in ["GET", "PUT", "DELETE"]:
        r = n.req(m, "/db/request")
        body_is(r, "", status=405, what=m + " /db/request")


def test_served_by_header(n):
    r = n.request(["SELECT 1"])
    eq(r.header("X-RQLITE-SERVED-BY"), n.http_addr, "X-RQLITE-SERVED-BY")
