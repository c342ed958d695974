/*
 * HTTPS on the API (-http-cert, -http-key, -http-ca-cert, -http-verify-client,
 * -http-verify-common-name), with libmicrohttpd's GnuTLS. The certificate and key are
 * handed to each handshake by a callback, so that when their files change (a renewal)
 * the next handshake uses the new ones without a restart, as rqlite does; the CA is
 * read once. With -http-verify-client a connection whose client certificate is
 * missing, does not verify against the CA, or (with -http-verify-common-name) names
 * another CN is closed before any request on it is served.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include <jansson.h>

#include "common/log.h"
#include "gateway_internal.h"

#define GW_TLS_CHAIN_MAX	8
#define GW_TLS_CHECK_MS		1000	/* files looked at, at most this often */

/* One loaded certificate chain and key. Handshakes in progress may still use an older
 * generation, so old ones are kept (a renewal is rare; each is a few KiB). */
struct gw_tls_creds {
	gnutls_pcert_st chain[GW_TLS_CHAIN_MAX];
	unsigned n;
	gnutls_privkey_t key;
	struct gw_tls_creds *older;
};

static struct {
	bool on;
	struct gw_tls_creds *cur;
	struct timespec cert_mtime, key_mtime;
	uint64_t checked_ms;
	char *ca_pem;
	uint64_t reloads;
} tls;

static uint64_t
gw_tls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
gw_tls_read(const char *path, gnutls_datum_t *d, char *err, size_t len)
{
	int rc = gnutls_load_file(path, d);

	if (rc < 0)
		snprintf(err, len, "%s: %s", path, rc == GNUTLS_E_FILE_ERROR ? strerror(errno) :
		    gnutls_strerror(rc));
	return rc < 0 ? -1 : 0;
}

static struct gw_tls_creds *
gw_tls_load(char *err, size_t len)
{
	struct gw_tls_creds *c = calloc(1, sizeof(*c));
	gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
	int rc;

	if (c == NULL) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	if (gw_tls_read(gw.opts->http_cert, &cert, err, len) != 0 ||
	    gw_tls_read(gw.opts->http_key, &key, err, len) != 0)
		goto fail;
	c->n = GW_TLS_CHAIN_MAX;
	rc = gnutls_pcert_list_import_x509_raw(c->chain, &c->n, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		c->n = 0;
		snprintf(err, len, "%s: %s", gw.opts->http_cert, gnutls_strerror(rc));
		goto fail;
	}
	if ((rc = gnutls_privkey_init(&c->key)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, len, "%s: %s", gw.opts->http_key, gnutls_strerror(rc));
		goto fail;
	}
	gnutls_free(cert.data);
	gnutls_memset(key.data, 0, key.size);
	gnutls_free(key.data);
	return c;
fail:
	gnutls_free(cert.data);
	if (key.data != NULL) {
		gnutls_memset(key.data, 0, key.size);
		gnutls_free(key.data);
	}
	for (unsigned i = 0; i < c->n; i++)
		gnutls_pcert_deinit(&c->chain[i]);
	if (c->key != NULL)
		gnutls_privkey_deinit(c->key);
	free(c);
	return NULL;
}

static bool
gw_tls_mtime(const char *path, struct timespec *out)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return false;
	*out = st.st_mtim;
	return true;
}

static bool
gw_ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* A renewed certificate or key is picked up here (both are read again together). */
static void
gw_tls_maybe_reload(void)
{
	struct timespec cm, km;
	struct gw_tls_creds *c;
	char err[512];
	uint64_t now = gw_tls_now_ms();

	if (now - tls.checked_ms < GW_TLS_CHECK_MS)
		return;
	tls.checked_ms = now;
	if (!gw_tls_mtime(gw.opts->http_cert, &cm) || !gw_tls_mtime(gw.opts->http_key, &km) ||
	    (gw_ts_eq(&cm, &tls.cert_mtime) && gw_ts_eq(&km, &tls.key_mtime)))
		return;
	if ((c = gw_tls_load(err, sizeof(err))) == NULL) {
		/* Perhaps half written: the old pair stays until the files read whole. */
		log_warnx("HTTPS certificate changed but does not load, keeping the old one: %s",
		    err);
		return;
	}
	tls.cert_mtime = cm;
	tls.key_mtime = km;
	c->older = tls.cur;
	tls.cur = c;
	tls.reloads++;
	log_info("HTTPS certificate reloaded from %s", gw.opts->http_cert);
}

static int
gw_tls_retrieve_cb(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
    const gnutls_pk_algorithm_t *algos, int nalgos, gnutls_pcert_st **pcert,
    unsigned int *pcert_len, gnutls_privkey_t *pkey)
{
	(void)s; (void)req_ca_dn; (void)nreqs; (void)algos; (void)nalgos;
	gw_tls_maybe_reload();
	*pcert = tls.cur->chain;
	*pcert_len = tls.cur->n;
	*pkey = tls.cur->key;
	return 0;
}

int
gw_tls_init(char *err, size_t len)
{
	gnutls_datum_t ca = { NULL, 0 };

	if (gw.opts->http_cert == NULL || gw.opts->http_cert[0] == '\0')
		return 0;
	if ((tls.cur = gw_tls_load(err, len)) == NULL)
		return -1;
	(void)gw_tls_mtime(gw.opts->http_cert, &tls.cert_mtime);
	(void)gw_tls_mtime(gw.opts->http_key, &tls.key_mtime);
	tls.checked_ms = gw_tls_now_ms();
	if (gw.opts->http_verify_client) {
		if (gw_tls_read(gw.opts->http_ca_cert, &ca, err, len) != 0)
			return -1;
		tls.ca_pem = malloc(ca.size + 1);
		if (tls.ca_pem == NULL) {
			gnutls_free(ca.data);
			snprintf(err, len, "out of memory");
			return -1;
		}
		memcpy(tls.ca_pem, ca.data, ca.size);
		tls.ca_pem[ca.size] = '\0';
		gnutls_free(ca.data);
	}
	tls.on = true;
	return 0;
}

bool
gw_tls_enabled(void)
{
	return tls.on;
}

unsigned
gw_tls_daemon_flags(void)
{
	return tls.on ? MHD_USE_TLS : 0;
}

void *
gw_tls_cert_callback(void)
{
	return (void *)gw_tls_retrieve_cb;
}

const char *
gw_tls_trust_pem(void)
{
	return tls.ca_pem;
}

/* The CN of the client's leaf certificate into buf; false when there is none. */
static bool
gw_tls_peer_cn(gnutls_session_t s, char *buf, size_t len)
{
	const gnutls_datum_t *certs;
	unsigned n = 0;
	gnutls_x509_crt_t crt;
	size_t sz = len;
	bool ok;

	certs = gnutls_certificate_get_peers(s, &n);
	if (certs == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return false;
	ok = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0 &&
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &sz) >= 0;
	gnutls_x509_crt_deinit(crt);
	return ok;
}

bool
gw_tls_client_ok(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;
	unsigned status = 0;
	char cn[256];

	if (!tls.on || !gw.opts->http_verify_client)
		return true;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || (s = (gnutls_session_t)ci->tls_session) == NULL)
		return false;
	if (gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0) {
		gw.counters.tls_client_refused++;
		return false;
	}
	if (gw.opts->http_verify_cn != NULL && gw.opts->http_verify_cn[0] != '\0' &&
	    (!gw_tls_peer_cn(s, cn, sizeof(cn)) || strcmp(cn, gw.opts->http_verify_cn) != 0)) {
		gw.counters.tls_client_refused++;
		return false;
	}
	return true;
}

uint64_t
gw_tls_reloads(void)
{
	return tls.reloads;
}

/* /status http.tls as rqlite writes it (Go's tls.ClientAuthType names). */
json_t *
gw_tls_status(void)
{
	if (!tls.on)
		return json_pack("{s:s}", "enabled", "false");
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:I}", "enabled", "true",
	    "client_auth", gw.opts->http_verify_client ? "RequireAndVerifyClientCert" :
	    "NoClientCert", "cert_file", gw.opts->http_cert, "key_file", gw.opts->http_key,
	    "ca_file", gw.opts->http_ca_cert != NULL ? gw.opts->http_ca_cert : "",
	    "next_protos", "http/1.1", "cert_reloads", (json_int_t)tls.reloads);
}
