/*
 * The CLI's HTTP client (libcurl easy interface, one handle reused). Owns host
 * fail-over, hand-followed 301 redirects, Basic auth, TLS settings, timeouts and
 * SIGINT cancellation. Mirrors rqlite's cmd/rqlite/http client: a host counts as
 * unavailable only when no HTTP answer came back from it (or it redirected more
 * than 21 times); any HTTP status is an answer.
 */
#include "cli_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

volatile sig_atomic_t cli_http_interrupt;

struct xfer {
	struct cli_resp *resp;
	FILE *sink;
	size_t cap;
	const struct cli_body *body;
	size_t body_off;
	bool oom, sink_err;
};

static void
http_log(struct cli_http *h, const char *fmt, ...)
{
	va_list ap;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;

	/* With one host there is nothing to fall over to: the error says it all. */
	if (h->quiet || h->nhosts < 2)
		return;
	/* rqlite's client logs with Go's log.LstdFlags prefix. */
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y/%m/%d %H:%M:%S", &tm);
	fprintf(stderr, "[client] %s ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
http_add_host(struct cli_http *h, const char *s, size_t n)
{
	char **nh;

	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return;	/* a blank or trailing-comma entry is no host */
	nh = realloc(h->hosts, (h->nhosts + 1) * sizeof(*nh));
	if (nh == NULL)
		return;
	h->hosts = nh;
	h->hosts[h->nhosts] = strndup(s, n);
	if (h->hosts[h->nhosts] != NULL)
		h->nhosts++;
}

int
cli_http_init(struct cli_http *h, const char *primary, const char *alternatives)
{
	memset(h, 0, sizeof(*h));
	strcpy(h->scheme, "http");
	strcpy(h->prefix, "/");
	h->timeout_ms = 30000;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return -1;
	h->curl = curl_easy_init();
	if (h->curl == NULL)
		return -1;
	http_add_host(h, primary, strlen(primary));
	while (alternatives != NULL && *alternatives != '\0') {
		const char *comma = strchr(alternatives, ',');
		size_t n = comma ? (size_t)(comma - alternatives) : strlen(alternatives);

		http_add_host(h, alternatives, n);
		alternatives += n + (comma != NULL);
	}
	return h->nhosts > 0 ? 0 : -1;
}

void
cli_http_free(struct cli_http *h)
{
	for (size_t i = 0; i < h->nhosts; i++)
		free(h->hosts[i]);
	free(h->hosts);
	free(h->user);
	free(h->pass);
	free(h->ca_cert);
	free(h->client_cert);
	free(h->client_key);
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	curl_global_cleanup();
	memset(h, 0, sizeof(*h));
}

int
cli_http_set_user(struct cli_http *h, const char *creds)
{
	const char *colon = strchr(creds, ':');

	if (colon == NULL || strchr(colon + 1, ':') != NULL)
		return -1;
	free(h->user);
	free(h->pass);
	h->user = strndup(creds, (size_t)(colon - creds));
	h->pass = strdup(colon + 1);
	return h->user && h->pass ? 0 : -1;
}

void
cli_http_set_prefix(struct cli_http *h, const char *prefix)
{
	size_t n;

	snprintf(h->prefix, sizeof(h->prefix), "%s%s", prefix[0] == '/' ? "" : "/", prefix);
	n = strlen(h->prefix);
	if (h->prefix[n - 1] != '/' && n + 1 < sizeof(h->prefix)) {
		h->prefix[n] = '/';
		h->prefix[n + 1] = '\0';
	}
}

void
cli_http_base(const struct cli_http *h, char *buf, size_t len)
{
	snprintf(buf, len, "%s://%s", h->scheme, h->hosts[h->cur]);
}

void
cli_resp_free(struct cli_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

char *
cli_http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			*p++ = (char)ch;
		} else if (ch == ' ') {
			*p++ = '+';	/* as Go's url.Values.Encode */
		} else {
			*p++ = '%';
			*p++ = hex[ch >> 4];
			*p++ = hex[ch & 15];
		}
	}
	*p = '\0';
	return out;
}

static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	struct cli_resp *r = x->resp;
	size_t n = size * nmemb;

	if (x->sink != NULL && r->status == 200) {
		if (fwrite(ptr, 1, n, x->sink) != n) {
			x->sink_err = true;
			return 0;
		}
		r->sunk += (long long)n;
		return n;
	}
	if (r->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *nb;

		while (cap < r->len + n + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (nb == NULL) {
			x->oom = true;
			return 0;
		}
		r->body = nb;
		x->cap = cap;
	}
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t
http_header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	struct cli_resp *r = x->resp;
	size_t n = size * nitems, vlen;
	const char *colon, *v;

	if (n > 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new status line (also after 100 Continue): reset what we learnt. */
		const char *sp = memchr(buf, ' ', n);

		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->reason[0] = r->version[0] = r->location[0] = '\0';
		if (sp != NULL && (sp = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - buf))) != NULL) {
			size_t rl = n - (size_t)(sp + 1 - buf);

			while (rl > 0 && (sp[rl] == '\r' || sp[rl] == '\n' || sp[rl] == '\0'))
				rl--;
			if (rl >= sizeof(r->reason))
				rl = sizeof(r->reason) - 1;
			memcpy(r->reason, sp + 1, rl);
			r->reason[rl] = '\0';
			while (rl > 0 && isspace((unsigned char)r->reason[rl - 1]))
				r->reason[--rl] = '\0';
		}
		return n;
	}
	colon = memchr(buf, ':', n);
	if (colon == NULL)
		return n;
	v = colon + 1;
	while (v < buf + n && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(buf + n - v);
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	if ((size_t)(colon - buf) == 16 && strncasecmp(buf, "X-RQLITE-VERSION", 16) == 0) {
		if (vlen >= sizeof(r->version))
			vlen = sizeof(r->version) - 1;
		memcpy(r->version, v, vlen);
		r->version[vlen] = '\0';
	} else if ((size_t)(colon - buf) == 8 && strncasecmp(buf, "Location", 8) == 0) {
		if (vlen >= sizeof(r->location))
			vlen = sizeof(r->location) - 1;
		memcpy(r->location, v, vlen);
		r->location[vlen] = '\0';
	}
	return n;
}

static size_t
http_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	const struct cli_body *b = x->body;
	size_t want = size * nitems;

	if (b->fp != NULL) {
		size_t got = fread(buf, 1, want, b->fp);

		if (got == 0 && ferror(b->fp))
			return CURL_READFUNC_ABORT;
		return got;
	}
	if (want > b->len - x->body_off)
		want = b->len - x->body_off;
	memcpy(buf, (const char *)b->data + x->body_off, want);
	x->body_off += want;
	return want;
}

static int
http_progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg; (void)dt; (void)dn; (void)ut; (void)un;
	return cli_http_interrupt ? 1 : 0;
}

static const char *
http_std_reason(long status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "";
	}
}

/*
 * One exchange with one URL. Returns CURLE_OK when an HTTP answer came back.
 */
static CURLcode
http_once(struct cli_http *h, const char *method, const char *url,
    const struct cli_body *body, FILE *sink, long timeout_ms, struct cli_resp *r)
{
	CURL *c = h->curl;
	struct curl_slist *hdrs = NULL;
	struct xfer x = { .resp = r, .sink = sink, .body = body };
	char ctype[128];
	CURLcode rc;

	cli_resp_free(r);
	if (body != NULL && body->fp != NULL && fseek(body->fp, 0, SEEK_SET) != 0)
		return CURLE_READ_ERROR;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_progress_cb);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (h->user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->pass);
	}
	if (h->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (h->ca_cert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_cert);
	if (h->client_cert != NULL)
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->client_cert);
	if (h->client_key != NULL)
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->client_key);
	/* No "Expect: 100-continue" pause before uploads. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body != NULL && body->ctype != NULL) {
		snprintf(ctype, sizeof(ctype), "Content-Type: %s", body->ctype);
		hdrs = curl_slist_append(hdrs, ctype);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, http_read_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, &x);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body == NULL ? 0 : body->fp != NULL ? body->fsize
			: (long long)body->len));
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->reason[0] == '\0')
			snprintf(r->reason, sizeof(r->reason), "%s", http_std_reason(r->status));
		if (r->body == NULL && sink == NULL) {
			r->body = calloc(1, 1);
			if (r->body == NULL)
				x.oom = true;
		}
	}
	if (x.oom) {
		snprintf(h->err, sizeof(h->err), "out of memory");
		return CURLE_OUT_OF_MEMORY;
	}
	if (x.sink_err) {
		snprintf(h->err, sizeof(h->err), "write: %s", strerror(errno));
		return CURLE_WRITE_ERROR;
	}
	if (rc != CURLE_OK)
		snprintf(h->err, sizeof(h->err), "%s %s: %s", method, url, curl_easy_strerror(rc));
	return rc;
}

static bool
http_local_failure(CURLcode rc)
{
	return rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR ||
	    rc == CURLE_READ_ERROR || rc == CURLE_ABORTED_BY_CALLBACK ||
	    rc == CURLE_URL_MALFORMAT;
}

int
cli_http_do(struct cli_http *h, const char *method, const char *path,
    const struct cli_body *body, FILE *sink, long timeout_ms, struct cli_resp *resp)
{
	char url[4096];
	bool all_refused = true;

	h->host_changed = false;
	h->fail = CLI_HTTP_OK;
	h->err[0] = '\0';
	memset(resp, 0, sizeof(*resp));
	if (timeout_ms < 0)
		timeout_ms = h->timeout_ms;
	for (size_t tried = 0; tried < h->nhosts; tried++) {
		const char *host = h->hosts[h->cur];
		CURLcode rc;
		int redirects = 0;

		snprintf(url, sizeof(url), "%s://%s%s%s", h->scheme, host, h->prefix, path);
		for (;;) {
			rc = http_once(h, method, url, body, sink, timeout_ms, resp);
			if (rc != CURLE_OK || resp->status != 301)
				break;
			if (++redirects > CLI_HTTP_MAX_REDIRECTS || resp->location[0] == '\0') {
				snprintf(h->err, sizeof(h->err), "maximum leader redirect limit exceeded");
				http_log(h, "too many redirects from host: '%s'", host);
				rc = CURLE_TOO_MANY_REDIRECTS;
				break;
			}
			snprintf(url, sizeof(url), "%s", resp->location);
		}
		if (rc == CURLE_OK) {
			h->host_changed = tried > 0;
			return 0;
		}
		if (rc == CURLE_ABORTED_BY_CALLBACK) {
			h->fail = CLI_HTTP_INTERRUPTED;
			snprintf(h->err, sizeof(h->err), "interrupted");
			cli_resp_free(resp);
			return -1;
		}
		if (http_local_failure(rc)) {
			h->fail = CLI_HTTP_LOCAL;
			cli_resp_free(resp);
			return -1;
		}
		if (rc != CURLE_COULDNT_CONNECT)
			all_refused = false;
		http_log(h, "host '%s' is unavailable, retrying with the next available host", host);
		h->cur = (h->cur + 1) % h->nhosts;
	}
	cli_resp_free(resp);
	http_log(h, "none of the available hosts are responsive");
	h->fail = all_refused ? CLI_HTTP_REFUSED : CLI_HTTP_UNAVAILABLE;
	if (h->nhosts == 1 && all_refused)
		snprintf(h->err, sizeof(h->err), "Unable to connect to rqlited at %s://%s - is it running?",
		    h->scheme, h->hosts[0]);
	else if (h->nhosts > 1)
		snprintf(h->err, sizeof(h->err), "no host available to perform the request");
	return -1;
}

int
cli_http_direct(struct cli_http *h, const char *url, struct cli_resp *resp)
{
	CURLcode rc;

	h->fail = CLI_HTTP_OK;
	memset(resp, 0, sizeof(*resp));
	rc = http_once(h, "GET", url, NULL, NULL, h->timeout_ms, resp);
	if (rc == CURLE_OK)
		return 0;
	h->fail = rc == CURLE_ABORTED_BY_CALLBACK ? CLI_HTTP_INTERRUPTED : CLI_HTTP_UNAVAILABLE;
	cli_resp_free(resp);
	return -1;
}
