"""`make install` with DESTDIR puts every file where a Debian or Alpine admin expects it,
and the service files are well-formed."""
import configparser
import os
import shutil
import subprocess

from harness import RQLITED, check, eq, mkdtemp

BUILD = os.path.dirname(os.path.abspath(RQLITED))
EXPECTED = [
    "usr/local/bin/rqlited",
    "usr/local/bin/rqlitectl",
    "usr/local/share/man/man1/rqlitectl.1",
    "usr/local/share/man/man8/rqlited.8",
    "usr/local/lib/systemd/system/rqlited.service",
    "usr/local/lib/sysusers.d/rqlited.conf",
    "usr/local/etc/init.d/rqlited",
    "usr/local/etc/conf.d/rqlited",
    "usr/local/etc/rqlite/rqlited.env.example",
]


def _install():
    dest = mkdtemp()
    r = subprocess.run(["make", "-s", "-C", BUILD, "install", "DESTDIR=" + dest],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    check(r.returncode == 0, "make install failed:\n%s" % r.stdout.decode()[-2000:])
    return dest


def test_destdir_install_contains_every_file():
    dest = _install()
    missing = [p for p in EXPECTED if not os.path.exists(os.path.join(dest, p))]
    eq(missing, [], "files missing from the DESTDIR install")
    for b in ("usr/local/bin/rqlited", "usr/local/bin/rqlitectl", "usr/local/etc/init.d/rqlited"):
        check(os.access(os.path.join(dest, b), os.X_OK), "%s is not executable" % b)
    out = subprocess.run([os.path.join(dest, "usr/local/bin/rqlited"), "-version"],
                         stdout=subprocess.PIPE, timeout=10).stdout.decode()
    check(out.startswith("rqlited v"), "installed rqlited -version: %r" % out)


def test_systemd_unit_is_a_notify_service_running_the_installed_binary():
    dest = _install()
    unit = os.path.join(dest, "usr/local/lib/systemd/system/rqlited.service")
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(unit)
    svc = cp["Service"]
    eq(svc.get("Type"), "notify", "Type")
    check(svc.get("ExecStart", "").startswith("/usr/local/bin/rqlited "),
          "ExecStart points at the installed binary: %r" % svc.get("ExecStart"))
    check(svc.get("User") and svc.get("Restart"), "User and Restart are set")
    check("WantedBy" in cp["Install"], "[Install] WantedBy")
    # scripts/lib.sh installs systemd, so systemd-analyze is always there.
    check(shutil.which("systemd-analyze") is not None, "systemd-analyze is installed")
    # Verification needs the binary at the unit's path: point it at the DESTDIR copy.
    copy = os.path.join(mkdtemp(), "rqlited.service")
    with open(unit) as f, open(copy, "w") as g:
        g.write(f.read().replace("/usr/local/bin/rqlited", os.path.join(dest, "usr/local/bin/rqlited")))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", copy],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    bad = [l for l in r.stdout.decode().splitlines() if "rqlited.service" in l]
    eq(bad, [], "systemd-analyze verify complaints about the unit")


def test_openrc_script_parses_and_names_the_daemon():
    dest = _install()
    script = os.path.join(dest, "usr/local/etc/init.d/rqlited")
    r = subprocess.run(["sh", "-n", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    eq(r.returncode, 0, "sh -n of the OpenRC script: %s" % r.stdout.decode())
    text = open(script).read()
    check(text.startswith("#!/sbin/openrc-run"), "OpenRC shebang")
    check("command=" in text and "rqlited" in text, "the script runs rqlited")
    r = subprocess.run(["sh", "-n", os.path.join(dest, "usr/local/etc/conf.d/rqlited")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    eq(r.returncode, 0, "sh -n of the conf.d file: %s" % r.stdout.decode())


def test_openrc_start_and_stop_logic_with_a_stub_environment():
    """openrc-run is not on a Debian host: the script's own logic (its settings,
    start_pre, the command line it builds, start_post's readiness wait) runs under sh
    with stand-ins for OpenRC's helpers, and the node it describes must serve and stop."""
    from harness import free_ports
    dest = _install()
    d = mkdtemp()
    http, raft = free_ports(2)
    stub = f"""
set -e
RC_SVCNAME=rqlited
checkpath() {{ while [ $# -gt 1 ]; do case "$1" in --*) shift 2 ;; *) shift ;; esac; done; mkdir -p "$1"; }}
ewarn() {{ echo "WARN: $*" >&2; }}
. {dest}/usr/local/etc/conf.d/rqlited
RQLITE_HTTP_ADDR=127.0.0.1:{http}; RQLITE_HTTP_ADV_ADDR=127.0.0.1:{http}
RQLITE_RAFT_ADDR=127.0.0.1:{raft}; RQLITE_RAFT_ADV_ADDR=127.0.0.1:{raft}
RQLITE_DATA_DIR={d}/lib/data; RQLITE_LOG={d}/log/rqlited.log
. {dest}/usr/local/etc/init.d/rqlited
start_pre
test -d {d}/lib && test -d {d}/log
# start-stop-daemon --background, as OpenRC would run it:
{dest}/usr/local/bin/rqlited $command_args >"$output_log" 2>&1 &
echo $! > {d}/pid
PATH={dest}/usr/local/bin:$PATH start_post
echo started
"""
    r = subprocess.run(["sh", "-c", stub], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=90)
    pid = int(open(os.path.join(d, "pid")).read()) if os.path.exists(os.path.join(d, "pid")) else 0
    try:
        eq(r.returncode, 0, "stub start: %s" % r.stdout.decode()[-1500:])
        check(b"started" in r.stdout, "start_post returned")
        out = subprocess.run([os.path.join(dest, "usr/local/bin/rqlitectl"), "-p", str(http),
                              "ready"], stdout=subprocess.PIPE, timeout=20).stdout
        eq(out, b"ready\n", "the node the script started is ready")
    finally:
        if pid:
            # retry="TERM/60/KILL/5": SIGTERM is the orderly stop.
            os.kill(pid, 15)
            for _ in range(150):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                import time
                time.sleep(0.1)
            else:
                os.kill(pid, 9)
                raise AssertionError("the node did not stop within 15s of SIGTERM")


def _unit_service():
    """The [Service] section of the unit in the source tree."""
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conf",
                         "rqlited.service"))
    return cp["Service"]


def test_the_service_user_reaches_the_key_in_the_units_config_directory():
    # Issue 15: the unit made /etc/rqlite root:root 0750, so the service user could not
    # read the -cluster-key file rqlited.env.example points at. Lay the unit's directories
    # out as systemd would (config dir root-owned with ConfigurationDirectoryMode, state
    # dir owned by the user with StateDirectoryMode), the key as the example says (owned
    # by the user, 0600), and start rqlited as an unprivileged user ("nobody").
    import pwd
    import time
    import urllib.request
    from harness import free_ports
    check(os.geteuid() == 0, "this test lays out system directories: run it as root")
    svc = _unit_service()
    nobody = pwd.getpwnam("nobody")
    root = mkdtemp()
    os.chmod(root, 0o755)
    etc = os.path.join(root, "etc-rqlite")
    os.mkdir(etc)
    os.chmod(etc, int(svc.get("ConfigurationDirectoryMode"), 8))
    state = os.path.join(root, "var-lib-rqlite")
    os.mkdir(state)
    os.chown(state, nobody.pw_uid, nobody.pw_gid)
    os.chmod(state, int(svc.get("StateDirectoryMode"), 8))
    key = os.path.join(etc, "cluster.key")
    rqlitectl = os.path.join(BUILD, "rqlitectl")
    r = subprocess.run([rqlitectl, "keygen", key], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=20)
    check(r.returncode == 0, "rqlitectl keygen: %s" % r.stdout.decode())
    os.chown(key, nobody.pw_uid, nobody.pw_gid)
    os.chmod(key, 0o600)
    http, raft = free_ports(2)
    argv = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
            "--clear-groups", RQLITED, "-node-id", "1",
            "-http-addr", "127.0.0.1:%d" % http, "-raft-addr", "127.0.0.1:%d" % raft,
            "-cluster-key", key, os.path.join(state, "data")]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=state,
                         start_new_session=True)
    try:
        ready = False
        for _ in range(150):
            if p.poll() is not None:
                break
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % http, timeout=1) as u:
                    ready = u.status == 200
            except OSError:
                pass
            if ready:
                break
            time.sleep(0.1)
        if not ready:
            p.kill()
            out = p.communicate(timeout=10)[0].decode("utf-8", "replace")
            check(False, "rqlited as the service user did not become ready:\n%s" % out[-1500:])
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
    eq(p.returncode, 0, "exit status after SIGTERM")
