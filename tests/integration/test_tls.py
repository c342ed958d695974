"""HTTPS on the API: -http-cert/-http-key, mutual TLS (-http-ca-cert, -http-verify-client,
-http-verify-common-name), a certificate renewed while the node runs, a cluster whose
API is HTTPS, and start-up refusing unusable files.

Certificates are made at test time with openssl (a CA, server and client leaves).
Expected values from rqlite's http/service.go (tlsStats: http.tls in /status, Go's
ClientAuthType names; the advertised API URL https://…) and API.md §7.1.
"""

import os
import ssl
import subprocess
import time

from harness import (Cluster, Node, TestFailure, check, cluster_test, eq, http_request,
                     mkdtemp, run_rqlited, timeout, wait_for)


def openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise TestFailure("openssl %s: %s" % (" ".join(args), p.stderr.decode()[-400:]))


class Pki:
    """A CA in a temp dir and leaves signed by it (or self-signed)."""

    def __init__(self, name="ca"):
        self.dir = mkdtemp()
        self.ca = os.path.join(self.dir, name + ".pem")
        self.ca_key = os.path.join(self.dir, name + ".key")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key,
                "-out", self.ca, "-days", "2", "-subj", "/CN=test " + name, cwd=self.dir)

    def leaf(self, name, cn, server=False):
        key, csr, pem = (os.path.join(self.dir, name + s) for s in (".key", ".csr", ".pem"))
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                "-subj", "/CN=" + cn, cwd=self.dir)
        ext = os.path.join(self.dir, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n" if server else
                    "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key,
                "-CAcreateserial", "-out", pem, "-days", "2", "-extfile", ext, cwd=self.dir)
        return pem, key


def client_ctx(pki, cert=None):
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def https_node(pki, extra=(), node_id="1"):
    crt, key = pki.leaf("server-" + node_id, "localhost", server=True)
    n = Node(node_id, extra_args=["-http-cert", crt, "-http-key", key] + list(extra))
    n.tls = client_ctx(pki)
    n.cert_files = (crt, key)
    return n


def refused(n, ctx, path="/status"):
    """True when the node closes the connection instead of answering."""
    try:
        http_request(n.http_port, "GET", path, timeout=5, tls=ctx)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    return False


@timeout(60)
def test_the_api_speaks_https_and_reports_it():
    pki = Pki()
    n = https_node(pki).start()
    r = n.get("/db/query?q=SELECT+1")
    eq(r.json()["results"][0]["values"], [[1]], "a query over HTTPS")
    st = n.get("/status").json()
    eq(st["http"]["tls"]["enabled"], "true", "http.tls.enabled")
    eq(st["http"]["tls"]["client_auth"], "NoClientCert", "http.tls.client_auth")
    eq(st["http"]["tls"]["cert_file"], n.cert_files[0], "http.tls.cert_file")
    eq(st["cluster"]["https"], "true", "cluster.https")
    nodes = n.get("/nodes").json()
    eq(nodes["1"]["api_addr"], "https://" + n.http_addr, "/nodes api_addr")
    # Plain HTTP on the same port gets no answer.
    import http.client
    try:
        r = http_request(n.http_port, "GET", "/status", timeout=5)
    except (ConnectionError, OSError, http.client.HTTPException):
        r = None
    check(r is None or r.status != 200, "plain HTTP was answered 200")
    # A client that does not trust the CA refuses the server.
    check(refused(n, ssl.create_default_context()), "a client without the CA connected")


@timeout(90)
def test_mutual_tls_needs_a_client_certificate_from_the_ca_with_the_right_cn():
    pki, other = Pki(), Pki("other")
    n = https_node(pki, ["-http-ca-cert", pki.ca, "-http-verify-client",
                         "-http-verify-common-name", "alice"])
    alice = pki.leaf("alice", "alice")
    n.tls = client_ctx(pki, alice)
    n.start()
    eq(n.get("/db/query?q=SELECT+1").status, 200, "alice's certificate")
    eq(n.get("/status").json()["http"]["tls"]["client_auth"], "RequireAndVerifyClientCert",
       "client_auth")
    check(refused(n, client_ctx(pki)), "no client certificate was accepted")
    check(refused(n, client_ctx(pki, pki.leaf("bob", "bob"))), "CN bob was accepted")
    check(refused(n, client_ctx(pki, other.leaf("mallory", "alice"))),
          "a certificate from another CA was accepted")
    eq(n.get("/db/query?q=SELECT+1").status, 200, "alice still served after the refusals")
    check(n.get("/debug/vars").json()["http"]["tls_client_refused"] >= 2,
          "refused client certificates are counted")


@timeout(60)
def test_a_certificate_renewed_on_disk_is_served_without_a_restart():
    pki = Pki()
    n = https_node(pki).start()
    pid = n.pid

    def serial():
        import socket
        with socket.create_connection(("127.0.0.1", n.http_port), timeout=5) as s:
            with n.tls.wrap_socket(s, server_hostname="localhost") as t:
                return t.getpeercert()["serialNumber"]
    before = serial()
    crt, key = pki.leaf("renewed", "localhost", server=True)
    time.sleep(1.1)  # a different mtime
    for src, dst in ((key, n.cert_files[1]), (crt, n.cert_files[0])):
        with open(src, "rb") as f:
            data = f.read()
        tmp = dst + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, dst)
    wait_for(lambda: serial() != before, 10, "the renewed certificate")
    eq(n.pid, pid, "the same process serves it")
    eq(n.get("/status").json()["http"]["tls"]["cert_reloads"], 1, "http.tls.cert_reloads")


@cluster_test(90)
def test_a_cluster_with_an_https_api_forwards_and_redirects():
    pki = Pki()
    c = Cluster(3)
    for n in c.nodes:
        crt, key = pki.leaf("server-" + n.node_id, "localhost", server=True)
        n.extra_args += ["-http-cert", crt, "-http-key", key]
        n.tls = client_ctx(pki)
    lead = c.start(timeout=40)
    lead.ex_ok(["CREATE TABLE t(x)"])
    f = c.followers(lead)[0]
    eq(f.execute(["INSERT INTO t VALUES(1)"]).json()["results"][0].get("rows_affected"), 1,
       "a write through a follower")
    c.wait_rows(f, "SELECT x FROM t", [[1]], timeout=10)
    nodes = f.get("/nodes").json()
    for n in c.nodes:
        eq(nodes[n.node_id]["api_addr"], "https://" + n.http_addr, "%s api_addr" % n.name)
    r = f.req("POST", "/db/execute?redirect", '["INSERT INTO t VALUES(2)"]',
              {"Content-Type": "application/json"})
    eq(r.status, 301, "redirect from a follower")
    check(r.header("Location").startswith("https://" + lead.http_addr + "/db/execute"),
          "Location %r" % r.header("Location"))
    # A backup asked of a follower is sent to the HTTPS leader (301).
    r = f.get("/db/backup")
    eq(r.status, 301, "backup on a follower with an HTTPS leader")


@timeout(30)
def test_start_refuses_missing_certificate_files_and_verify_client_without_a_ca():
    pki = Pki()
    crt, key = pki.leaf("s", "localhost", server=True)
    d = mkdtemp()
    for args, want in ((["-http-cert", crt], "both -http-cert and -http-key"),
                       (["-http-cert", os.path.join(d, "no.pem"), "-http-key", key], "no.pem"),
                       (["-http-cert", crt, "-http-key", key, "-http-verify-client"],
                        "-http-verify-client needs -http-ca-cert")):
        rc, _, err = run_rqlited(args + [os.path.join(d, "data")])
        check(rc != 0, "rqlited %s exited %d" % (" ".join(args), rc))
        check(want in err, "rqlited %s: stderr %r should mention %r" % (" ".join(args), err, want))


@timeout(60)
def test_rqlitectl_speaks_https_with_a_ca_and_a_client_certificate():
    from harness import REPO
    ctl = os.environ.get("RQLITECTL") or os.path.join(REPO, "build", "rqlitectl")
    pki = Pki()
    n = https_node(pki, ["-http-ca-cert", pki.ca, "-http-verify-client"])
    alice = pki.leaf("alice", "alice")
    n.tls = client_ctx(pki, alice)
    n.start()
    base = [ctl, "-s", "https", "-H", "127.0.0.1", "-p", str(n.http_port)]

    def run(*args):
        p = subprocess.run(base + list(args), capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    rc, out, err = run("-c", pki.ca, "-d", alice[0], "-k", alice[1], "-e", "SELECT 42")
    eq(rc, 0, "rqlitectl with the CA and alice's certificate: %s" % err)
    check("42" in out, "its output: %r" % out)
    rc, _, _ = run("-c", pki.ca, "-e", "SELECT 1")
    check(rc != 0, "rqlitectl without a client certificate succeeded")
    rc, out, _ = run("-i", "-d", alice[0], "-k", alice[1], "status", "http.tls.enabled")
    eq((rc, out.strip()), (0, "true"), "rqlitectl -i (no CA check) status")
    rc, _, _ = run("-d", alice[0], "-k", alice[1], "-e", "SELECT 1")
    check(rc != 0, "rqlitectl trusted a server certificate it has no CA for")
