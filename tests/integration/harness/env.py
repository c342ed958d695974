"""Where the binary is, and the time bounds every part of the harness uses."""

import os

# tests/integration (this package's parent), and the top of the source tree.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(HERE))
RQLITED = os.environ.get("RQLITED") or os.path.join(REPO, "rqlited")
if not os.environ.get("RQLITED") and not os.path.exists(RQLITED) \
        and os.path.exists(os.path.join(REPO, "build", "rqlited")):
    RQLITED = os.path.join(REPO, "build", "rqlited")  # out-of-tree build

READY_TIMEOUT = 20.0   # seconds to wait for /readyz 200
POLL = 0.05            # seconds between readiness polls
STOP_TIMEOUT = 15.0    # seconds between SIGTERM and SIGKILL
REQ_TIMEOUT = 10.0     # default per-request socket timeout
ROLES = ("gateway", "consensus", "storage")
