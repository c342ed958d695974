"""The rest of the shell's dot-commands, driven through a pty against a real node."""
import os

from harness import Node, check, eq, mkdtemp
from test_cli_rqlitectl import binary, prompt, shell


def setup_module():
    binary()
    n = Node("1")
    n.start()
    n.ex_ok(["CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT, data BLOB)",
             "CREATE INDEX foo_name ON foo(name)",
             "INSERT INTO foo(id, name, data) VALUES(1, 'fiona', x'0102')"])
    return n


def test_export_import_and_admin_dot_commands(node):
    d = mkdtemp("rqlitectl-dot-")
    p = shell(node)
    try:
        p.line(".indexes")
        check("foo_name" in p.expect(prompt(node)), ".indexes")
        p.line(".blobarray on")
        p.expect(prompt(node))
        p.line(".blobarray")
        check("on" in p.expect(prompt(node)), ".blobarray shows on")
        p.line(".expvar http")
        check("http:" in p.expect(prompt(node)), ".expvar http")
        p.line(".extensions")
        p.expect(prompt(node))  # none are loaded: it must just not fail
        dump = os.path.join(d, "dump.sql")
        p.line(".dump %s" % dump)
        check("SQL text file written successfully" in p.expect(prompt(node)), ".dump")
        check("INSERT INTO \"foo\" VALUES(1,'fiona',X'0102');" in open(dump).read(),
              "dump content: %r" % open(dump).read())
        bak = os.path.join(d, "bak.sqlite")
        p.line(".backup %s" % bak)
        check("backup file written successfully" in p.expect(prompt(node)), ".backup")
        out_file = os.path.join(d, "out.txt")
        p.line(".output %s" % out_file)
        p.expect(prompt(node))
        p.line("SELECT name FROM foo;")
        p.expect(prompt(node))
        p.line(".output stdout")
        p.expect(prompt(node))
        check("fiona" in open(out_file).read(), ".output redirected the query output")
        p.line(".snapshot")
        out = p.expect(prompt(node))
        check("ERR!" not in out, ".snapshot: %r" % out)
        p.line("DELETE FROM foo;")
        p.expect(prompt(node))
        p.line(".restore %s" % bak)
        check("Database restored successfully" in p.expect(prompt(node), timeout=30), ".restore")
        p.line("SELECT name FROM foo;")
        check("fiona" in p.expect(prompt(node)), "the row is back after .restore")
        sysdump = os.path.join(d, "sys.txt")
        p.line(".sysdump %s" % sysdump)
        p.expect(prompt(node), timeout=30)
        text = open(sysdump).read()
        check("/status" in text or "store" in text, ".sysdump wrote the node's diagnostics")
        p.line(".remove nobody")
        check("ERR!" in p.expect(prompt(node)) , ".remove of an unknown node is an error")
        p.line(".stepdown")
        out = p.expect(prompt(node))
        check("ERR!" in out or "stepdown" in out.lower(), ".stepdown on one node: %r" % out)
    finally:
        p.close()
