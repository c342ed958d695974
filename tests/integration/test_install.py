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
    if shutil.which("systemd-analyze"):
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
