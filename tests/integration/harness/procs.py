"""Free ports, temp dirs, and finding processes through /proc."""

import os
import shutil
import socket
import tempfile

from .env import ROLES

# Every temp dir ever made, so the runner can clean up.
_TEMP_DIRS = []


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def mkdtemp(prefix="rqlite-it-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _TEMP_DIRS.append(d)
    return d


def cleanup_temp_dirs():
    if os.environ.get("KEEP"):
        return
    while _TEMP_DIRS:
        shutil.rmtree(_TEMP_DIRS.pop(), ignore_errors=True)


# --------------------------------------------------------------------------------------
# /proc helpers

def _read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def proc_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        stat = _read("/proc/%d/stat" % pid)
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def proc_children(ppid):
    """{pid: argv list} of live processes whose parent is ppid."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            stat = _read("/proc/%d/stat" % pid)
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) != ppid or fields[0] in ("Z", "X"):
                continue
            argv = _read("/proc/%d/cmdline" % pid, "rb").split(b"\0")
            out[pid] = [a.decode("utf-8", "replace") for a in argv if a]
        except (OSError, IndexError, ValueError):
            continue
    return out


def role_of(argv):
    """The role of a child: `-P <role>` in its argv, or a process title such as
    `rqlited: storage` (children may rewrite their command line)."""
    for i, a in enumerate(argv):
        if a == "-P" and i + 1 < len(argv):
            return argv[i + 1]
    words = " ".join(argv).replace(":", " ").split()
    for r in ROLES:
        if r in words:
            return r
    return None
