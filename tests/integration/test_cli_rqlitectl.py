"""rqlitectl: the interactive shell driven through a pty, the non-interactive modes
(statements on stdin, -e) and the admin subcommands, against real nodes.

Expected texts come from rqlite's shell (cmd/rqlite/main.go, query.go, request.go,
backup.go) and mkideal/pkg textutil's table layout. The binary is $RQLITECTL, else
<repo>/build/rqlitectl; a missing binary fails every test (it is not skipped).
"""

import json
import os
import re
import select
import signal
import subprocess
import time

from harness import (REPO, Node, TestFailure, check, eq, free_ports, mkdtemp)

RQLITECTL = os.environ.get("RQLITECTL") or os.path.join(REPO, "build", "rqlitectl")
PTY_TIMEOUT = 10.0      # seconds to wait for an expected piece of output
RUN_TIMEOUT = 20.0      # bound on one non-interactive run

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x07")


def binary():
    if not os.path.exists(RQLITECTL):
        raise TestFailure("rqlitectl binary not found at %s (build it, or set RQLITECTL)"
                          % RQLITECTL)
    return RQLITECTL


def clean_env(home=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RQLITE_")}
    env["HOME"] = home or mkdtemp("rqlitectl-home-")
    env["TERM"] = "xterm"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(args, stdin_text=None, env=None, timeout=RUN_TIMEOUT):
    """Runs rqlitectl to completion without a terminal; returns (rc, stdout, stderr)."""
    p = subprocess.Popen([binary()] + list(args), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env or clean_env(), cwd=mkdtemp("rqlitectl-cwd-"),
                         start_new_session=True)
    try:
        out, err = p.communicate((stdin_text or "").encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate(timeout=5)
        raise TestFailure("rqlitectl %s did not finish within %.0fs" % (" ".join(args), timeout))
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def hostport(node):
    return ["-H", "127.0.0.1", "-p", str(node.http_port)]


class Pty:
    """rqlitectl on a pseudo-terminal: bounded reads, output normalised (escape
    sequences and carriage returns removed)."""

    def __init__(self, args, env=None):
        binary()
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen([RQLITECTL] + list(args), stdin=slave, stdout=slave,
                                     stderr=slave, env=env or clean_env(),
                                     cwd=mkdtemp("rqlitectl-cwd-"), start_new_session=True,
                                     close_fds=True)
        os.close(slave)
        self.raw = b""
        self.seen = 0          # offset in text() already consumed by expect()

    def _pump(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.master], [], [], min(left, 0.2))
        if not r:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:        # EIO: the child closed the terminal
            data = b""
        if not data:
            time.sleep(0.05)
            return self.proc.poll() is None
        self.raw += data
        return True

    def text(self):
        t = self.raw.decode("utf-8", "replace")
        return _ANSI.sub("", t).replace("\r", "")

    def expect(self, what, timeout=PTY_TIMEOUT):
        """Waits until `what` (a string) appears after the last match; returns the text
        between the last match and the end of this one."""
        deadline = time.monotonic() + timeout
        while True:
            t = self.text()
            i = t.find(what, self.seen)
            if i >= 0:
                out = t[self.seen:i + len(what)]
                self.seen = i + len(what)
                return out
            if not self._pump(deadline):
                raise TestFailure("timed out after %.0fs waiting for %r; output since the "
                                  "last match:\n%s" % (timeout, what, t[self.seen:][-1500:]))

    def send(self, s):
        os.write(self.master, s.encode())

    def line(self, s):
        self.send(s + "\r")

    def wait(self, timeout=PTY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if not self._pump(deadline):
                break
        if self.proc.poll() is None:
            self.close()
            raise TestFailure("rqlitectl did not exit within %.0fs; output:\n%s"
                              % (timeout, self.text()[-1500:]))
        # Drain what is left.
        end = time.monotonic() + 0.5
        while self._pump(end):
            pass
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        try:
            os.close(self.master)
        except OSError:
            pass


def shell(node, *extra, env=None):
    """A started interactive shell, past its banner and first prompt."""
    p = Pty(hostport(node) + list(extra), env=env)
    p.expect("%s> " % node.http_addr)
    return p


def prompt(node):
    return "%s> " % node.http_addr


# --------------------------------------------------------------------------------------

def setup_module():
    binary()
    n = Node("1")
    n.start()
    n.ex_ok(["CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT, age INTEGER)",
             "INSERT INTO foo(name, age) VALUES('fiona', 20)",
             "INSERT INTO foo(name, age) VALUES('declan, jr', NULL)"])
    return n


def test_banner_prompt_and_exit(node):
    p = Pty(hostport(node))
    try:
        banner = p.expect(prompt(node))
        check("Welcome to the rqlite CLI.\n" in banner, "banner: %r" % banner)
        check('Enter ".help" for usage hints.\n' in banner, "banner: %r" % banner)
        version = node.get("/status").header("X-RQLITE-VERSION")
        check("Connected to http://%s running version %s\n" % (node.http_addr, version)
              in banner, "banner names the node and its version: %r" % banner)
        p.line(".exit")
        p.expect("bye~")
        eq(p.wait(), 0, "exit status after .exit")
    finally:
        p.close()


def test_column_mode_prints_boxed_table(node):
    p = shell(node)
    try:
        p.line("SELECT * FROM foo ORDER BY id;")
        out = p.expect(prompt(node))
        exp = ("+----+------------+------+\n"
               "| id | name       | age  |\n"
               "+----+------------+------+\n"
               "| 1  | fiona      | 20   |\n"
               "+----+------------+------+\n"
               "| 2  | declan, jr | NULL |\n"
               "+----+------------+------+\n")
        check(exp in out, "column table:\n%s" % out)
    finally:
        p.close()


def test_csv_json_and_line_modes(node):
    p = shell(node)
    try:
        p.line(".mode csv")
        p.expect(prompt(node))
        p.line("SELECT * FROM foo ORDER BY id;")
        out = p.expect(prompt(node))
        check('id,name,age\n1,fiona,20\n2,"declan, jr",NULL\n' in out, "csv:\n%s" % out)

        p.line(".mode json")
        p.expect(prompt(node))
        p.line("SELECT * FROM foo ORDER BY id;")
        out = p.expect(prompt(node))
        exp = ('[\n  {\n    "age": 20,\n    "id": 1,\n    "name": "fiona"\n  },\n'
               '  {\n    "age": null,\n    "id": 2,\n    "name": "declan, jr"\n  }\n]\n')
        check(exp in out, "json:\n%s" % out)

        p.line(".mode line")
        p.expect(prompt(node))
        p.line("SELECT * FROM foo ORDER BY id;")
        out = p.expect(prompt(node))
        check("  id = 1\nname = fiona\n age = 20\n\n  id = 2\nname = declan, jr\n age = NULL\n"
              in out, "line:\n%s" % out)

        p.line(".mode")
        check("line\n" in p.expect(prompt(node)), "current mode is shown")
        p.line(".mode wide")
        out = p.expect(prompt(node))
        check("ERR! invalid mode 'wide'. Use 'column', 'csv', 'json', or 'line'" in out, out)
    finally:
        p.close()


def test_writes_report_rows_affected_changes_and_timer(node):
    p = shell(node)
    try:
        p.line("CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT);")
        # The count is sqlite3_changes() of the node's write connection, which a DDL
        # statement leaves as the previous write set it.
        out = p.expect(prompt(node))
        check(re.search(r"^\d+ rows? affected\n", out, re.M), "DDL result:\n%s" % out)
        p.line(".changes on")
        p.expect(prompt(node))
        p.line("INSERT INTO w(v) VALUES('a');")
        out = p.expect(prompt(node))
        check("1 row affected\nlast insert ID: 1\n" in out, "insert with .changes on:\n%s" % out)
        p.line("INSERT INTO w(v) VALUES('b');")
        p.expect(prompt(node))
        p.line("UPDATE w SET v = 'c';")
        check("2 rows affected\n" in p.expect(prompt(node)), "plural for 2 rows")
        p.line(".timer on")
        p.expect(prompt(node))
        p.line("UPDATE w SET v = 'd' WHERE id = 1;")
        out = p.expect(prompt(node))
        check(re.search(r"1 row affected \(\d+\.\d{6} sec\)\n", out), "timed write:\n%s" % out)
        p.line("SELECT COUNT(*) FROM w;")
        out = p.expect(prompt(node))
        check(re.search(r"Run Time: \d+\.\d{6} seconds\n", out), "timed query:\n%s" % out)
        p.line("SELECT * FROM nosuch;")
        check("Error: no such table: nosuch\n" in p.expect(prompt(node)), "SQL error shown")
    finally:
        p.close()


def test_dot_commands(node):
    p = shell(node)
    try:
        p.line(".tables")
        out = p.expect(prompt(node))
        check("| name |" in out and "| foo  |" in out, ".tables:\n%s" % out)
        p.line(".schema")
        out = p.expect(prompt(node))
        check("CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT, age INTEGER)"
              in out, ".schema:\n%s" % out)
        p.line(".show")
        out = p.expect(prompt(node))
        check("  blobarray: off\n  changes: off\n  consistency: weak\n  forcewrites: off\n"
              "  mode: column\n  output: stdout\n  timer: off\n" in out, ".show:\n%s" % out)
        p.line(".consistency strong")
        p.expect(prompt(node))
        p.line(".consistency")
        check("strong\n" in p.expect(prompt(node)), ".consistency shows the new level")
        p.line(".consistency eventual")
        check("ERR! invalid consistency 'eventual'" in p.expect(prompt(node)), "bad level")
        p.line(".timer maybe")
        check("ERR! invalid option 'maybe'. Use 'on' or 'off' (default)"
              in p.expect(prompt(node)), "bad toggle")
        p.line(".ready")
        check("ready\n" in p.expect(prompt(node)), ".ready")
        p.line(".status build")
        out = p.expect(prompt(node))
        check("build:\n  " in out and "  version: " in out, ".status build:\n%s" % out)
        p.line(".nodes")
        out = p.expect(prompt(node))
        check("1:\n  addr: %s\n  api_addr: http://%s\n" % (node.raft_addr, node.http_addr) in out,
              ".nodes tree:\n%s" % out)
        p.line(".leader")
        check("  leader: true\n" in p.expect(prompt(node)), ".leader")
        p.line(".help")
        out = p.expect(prompt(node))
        check(".backup FILE                                  Write database backup to FILE\n"
              in out and out.index(".read FILE") < out.index(".ready") < out.index(".reap"),
              ".help, sorted:\n%s" % out)
        p.line(".forcewrites on")
        p.expect(prompt(node))
        p.line("SELECT 1;")  # via /db/execute: runs, no rows
        out = p.expect(prompt(node))
        check(re.search(r"^\d+ rows? affected\n", out, re.M) and "| 1 |" not in out,
              "forcewrites sends to /db/execute:\n%s" % out)
        p.line("QUIT")
        p.expect("bye~")
        eq(p.wait(), 0, "exit status after QUIT")
    finally:
        p.close()


def test_multi_line_statement_waits_for_semicolon(node):
    p = shell(node)
    try:
        p.line("SELECT name")
        p.expect("...> ")
        p.line("FROM foo WHERE name = 'a;b' OR")
        p.expect("...> ")
        p.line("id = 1;")
        out = p.expect(prompt(node))
        check("| name  |\n" in out and "| fiona |\n" in out, "multi-line result:\n%s" % out)
        p.line("SELECT 1 AS a; SELECT 2 AS b;")
        out = p.expect(prompt(node))
        check("| a |" in out and "| b |" in out, "two statements on one line:\n%s" % out)
    finally:
        p.close()


def test_ctrl_c_cancels_the_line_and_ctrl_d_exits(node):
    p = shell(node)
    try:
        p.line("INSERT INTO foo(name) VALUES('never')")
        p.expect("...> ")
        p.send("still typing\x03")
        p.expect("^C")
        p.expect(prompt(node))
        p.line("SELECT COUNT(*) AS n FROM foo WHERE name = 'never';")
        out = p.expect(prompt(node))
        check("| 0 |" in out, "cancelled statement did not run:\n%s" % out)
        p.send("\x04")
        p.expect("bye~")
        eq(p.wait(), 0, "exit status after Ctrl-D")
    finally:
        p.close()


def test_history_file_written_and_trimmed(node):
    home = mkdtemp("rqlitectl-home-")
    p = shell(node, env=clean_env(home, RQLITE_HISTFILESIZE=4))
    try:
        for stmt in ("SELECT 1;", "SELECT 2;", "SELECT 2;", ".mode csv", "SELECT 3;"):
            p.line(stmt)
            p.expect(prompt(node))
        p.line(".quit")
        eq(p.wait(), 0, "exit status")
    finally:
        p.close()
    path = os.path.join(home, ".rqlite_history")
    check(os.path.exists(path), "history file %s written" % path)
    with open(path) as f:
        # rqlite records every command, .quit included.
        eq(f.read(), "SELECT 2;\n.mode csv\nSELECT 3;\n.quit", "history: last 4, repeats "
           "folded, no trailing newline")
    eq(os.stat(path).st_mode & 0o777, 0o600, "history file mode")

    # The next session reads it back: Up, Up recalls SELECT 3.
    p = shell(node, env=clean_env(home))
    try:
        p.send("\x1b[A\x1b[A\r")
        out = p.expect(prompt(node))
        check("| 3 |" in out, "Up arrow recalled SELECT 3:\n%s" % out)
        p.line(".quit")
        p.wait()
    finally:
        p.close()

    home0 = mkdtemp("rqlitectl-home-")
    p = shell(node, env=clean_env(home0, RQLITE_HISTFILESIZE=0))
    try:
        p.line("SELECT 1;")
        p.expect(prompt(node))
        p.line(".quit")
        p.wait()
    finally:
        p.close()
    check(not os.path.exists(os.path.join(home0, ".rqlite_history")),
          "RQLITE_HISTFILESIZE=0 leaves no history file")


def test_alternatives_fall_over_to_a_second_node(node):
    second = Node("2").start()
    dead = free_ports(1)[0]
    p = Pty(["-H", "127.0.0.1", "-p", str(dead), "-a",
             "127.0.0.1:%d,%s" % (free_ports(1)[0], second.http_addr)])
    try:
        banner = p.expect(prompt(second))
        check("Connected to http://%s" % second.http_addr in banner,
              "connected to the alternative:\n%s" % banner)
        p.line("SELECT 42 AS answer;")
        out = p.expect(prompt(second))
        check("| 42     |" in out, "query on the alternative:\n%s" % out)
    finally:
        p.close()


def test_unreachable_node_is_reported(node):
    dead = free_ports(1)[0]
    p = Pty(["-p", str(dead)])
    try:
        p.expect("ERR! Unable to connect to rqlited at http://127.0.0.1:%d - is it running?"
                 % dead)
        eq(p.wait(), 1, "exit status")
    finally:
        p.close()


def test_statements_on_stdin_run_without_prompt_or_banner(node):
    script = ("CREATE TABLE s (id INTEGER PRIMARY KEY, v TEXT);\n"
              "INSERT INTO s(v) VALUES('x');\n"
              "INSERT INTO s(v)\n  VALUES('y');\n"
              ".mode csv\n"
              "SELECT * FROM s ORDER BY id\n")      # the last ';' may be missing
    rc, out, err = run(hostport(node), script)
    eq(rc, 0, "exit status (stderr %r)" % err)
    check(re.match(r"\d+ rows? affected\n", out), "CREATE TABLE result: %r" % out)
    eq(out.split("\n", 1)[1], "1 row affected\n1 row affected\nid,v\n1,x\n2,y\n", "stdout")

    rc, out, err = run(hostport(node), "SELECT * FROM nosuch;\nSELECT 7 AS n;\n")
    eq(rc, 1, "exit status with a failing statement")
    check(out.startswith("Error: no such table: nosuch\n") and "| 7 |" in out,
          "later statements still run: %r" % out)


def test_execute_flag_runs_one_statement(node):
    rc, out, err = run(hostport(node) + ["-e", "SELECT name FROM foo WHERE id = 1"])
    eq(rc, 0, "exit status (stderr %r)" % err)
    eq(out, "+-------+\n| name  |\n+-------+\n| fiona |\n+-------+\n", "stdout")
    rc, out, err = run(hostport(node) + ["-e", "SELEKT 1"])
    eq(rc, 1, "exit status on a SQL error")
    check(out.startswith("Error: "), "stdout: %r" % out)
    rc, out, err = run(hostport(node) + ["-e", ".ready"])
    eq((rc, out), (0, "ready\n"), "-e with a dot-command")


def test_rqlite_host_environment_variable(node):
    rc, out, err = run(["-e", "SELECT 5 AS five"],
                       env=clean_env(RQLITE_HOST="http://%s" % node.http_addr))
    eq(rc, 0, "exit status (stderr %r, stdout %r)" % (err, out))
    check("| 5    |" in out, "stdout: %r" % out)


def test_admin_subcommands_exit_codes_and_json(node):
    hp = hostport(node)
    rc, out, err = run(hp + ["status", "--json"])
    eq(rc, 0, "status exit (stderr %r)" % err)
    st = json.loads(out)
    eq(st["store"]["node_id"], "1", "status --json store.node_id")

    rc, out, err = run(hp + ["status", "store.raft.state", "--json"])
    eq((rc, json.loads(out)), (0, "Leader"), "status KEY --json")

    rc, out, err = run(hp + ["nodes", "--json"])
    eq(rc, 0, "nodes exit")
    eq(json.loads(out)["1"]["leader"], True, "nodes --json")

    rc, out, err = run(hp + ["leader", "--json"])
    eq(rc, 0, "leader exit")
    eq(json.loads(out)["id"], "1", "leader --json id")

    rc, out, err = run(hp + ["ready"])
    eq((rc, out), (0, "ready\n"), "ready")
    rc, out, err = run(hp + ["ready", "--json"])
    eq(json.loads(out)["ready"], True, "ready --json")

    rc, out, err = run(hp + ["remove", "no-such-node"])
    eq(rc, 1, "remove of an unknown node fails")
    check(err.startswith("ERR! "), "stderr: %r" % err)
    rc, out, err = run(hp + ["remove", "no-such-node", "--json"])
    eq(rc, 1, "remove --json exit")
    check("error" in json.loads(out), "remove --json error object: %r" % out)

    rc, out, err = run(hp + ["frobnicate"])
    eq(rc, 2, "unknown command")
    rc, out, err = run(hp + ["remove"])
    eq(rc, 2, "missing argument")

    dead = free_ports(1)[0]
    rc, out, err = run(["-p", str(dead), "status", "--json"])
    eq(rc, 1, "status of a dead node")
    check("error" in json.loads(out), "error object: %r" % out)


def test_backup_either_writes_sqlite_or_fails_cleanly(node):
    d = mkdtemp("rqlitectl-bak-")
    path = os.path.join(d, "bak.sqlite")
    rc, out, err = run(hostport(node) + ["backup", path, "--json"])
    if rc == 0:
        with open(path, "rb") as f:
            eq(f.read(16)[:13], b"SQLite format", "backup file header")
        eq(json.loads(out)["bytes"], os.path.getsize(path), "bytes reported")
    else:
        eq(rc, 1, "exit status of a failed backup")
        check("ERR! " in err and "error" in json.loads(out), "clean error: %r %r" % (out, err))
        eq(os.listdir(d), [], "no partial file left behind")

    p = shell(node)
    try:
        p.line(".backup %s" % os.path.join(d, "shell.sqlite"))
        out = p.expect(prompt(node))
        check("backup file written successfully\n" in out or "ERR! " in out,
              ".backup:\n%s" % out)
        p.line(".boot %s" % os.path.join(d, "missing.sqlite"))
        check("ERR! %s is not a valid SQLite file" % os.path.join(d, "missing.sqlite")
              in p.expect(prompt(node)), ".boot checks the file")
        p.line(".backup")
        check("ERR! please specify an output file for the backup"
              in p.expect(prompt(node)), ".backup without FILE")
    finally:
        p.close()


def test_keygen_writes_a_private_32_byte_key():
    d = mkdtemp("rqlitectl-key-")
    path = os.path.join(d, "cluster.key")
    rc, out, err = run(["keygen", path])
    eq(rc, 0, "keygen exit (stderr %r)" % err)
    eq(os.path.getsize(path), 32, "key size")
    eq(os.stat(path).st_mode & 0o777, 0o600, "key file mode")
    with open(path, "rb") as f:
        first = f.read()
    rc, out, err = run(["keygen", path])
    eq(rc, 1, "keygen refuses to overwrite")
    rc, out, err = run(["keygen", path, "--force", "--json"])
    eq(rc, 0, "keygen --force")
    eq(json.loads(out), {"file": path, "bytes": 32}, "keygen --json")
    with open(path, "rb") as f:
        check(f.read() != first, "a new key was written")
