"""Harness for the integration tests: starts real rqlited nodes and talks HTTP to them.

Only the Python 3 standard library is used. A Node owns one supervisor process (started
by us, found by PID) and the role processes it forks (found by scanning /proc for
processes whose parent is the supervisor). Nothing here signals a process it did not
start or find that way.

Tests import everything from here (`from harness import Node, eq`); the parts are
  env       where the binary is, time bounds
  checks    TestFailure, check/eq/body_is/status_is, wait_for, rows, Checks
  procs     free ports, temp dirs, /proc
  client    HTTP requests and responses (Resp, http_request, Client, qs)
  node      Node, start_node/stop_all, run_rqlited, @timeout
  cluster   Cluster, ClusterWriter, @cluster_test, Node.pause/resume/status
"""

from .env import (  # noqa: F401
    HERE, REPO, RQLITED, READY_TIMEOUT, POLL, STOP_TIMEOUT, REQ_TIMEOUT, ROLES
)
from .checks import (  # noqa: F401
    TestFailure, check, eq, body_is, status_is, wait_for, rows, Checks
)
from .procs import (  # noqa: F401
    _TEMP_DIRS, free_ports, mkdtemp, cleanup_temp_dirs, _read, proc_alive,
    proc_children, role_of
)
from .client import (  # noqa: F401
    Resp, http_request, Client, qs
)
from .node import (  # noqa: F401
    ALL_NODES, Node, start_node, stop_all, _atexit, run_rqlited, timeout
)
from .cluster import (  # noqa: F401
    CLUSTER_TIMING, ELECTION, STATUS_TIMEOUT, ALL_CLUSTERS, _node_pause, _node_resume,
    _node_paused, _node_status, set_flag, write_cluster_key, Cluster, ClusterWriter,
    cluster_test
)
