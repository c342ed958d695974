/*
 * HTTP to rqlited nodes via libcurl: a list of hosts tried in order when one cannot
 * be reached (rqlite's --alternatives), 301 redirects to the Leader followed by hand
 * (at most 21), Basic auth, TLS options, a per-request timeout, and cancellation
 * by SIGINT (see cli_http_interrupt()).
 */
#ifndef RQ_CLI_HTTP_H
#define RQ_CLI_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_HTTP_MAX_REDIRECTS	21

enum cli_http_fail {
	CLI_HTTP_OK = 0,
	CLI_HTTP_REFUSED,		/* every host refused the connection */
	CLI_HTTP_UNAVAILABLE,		/* every host failed, not all by refusal */
	CLI_HTTP_INTERRUPTED,		/* SIGINT during the request */
	CLI_HTTP_LOCAL,			/* bad arguments, file or memory errors */
};

struct cli_http {
	char **hosts;			/* host:port, [v6]:port; hosts[0] is the primary */
	size_t nhosts;
	size_t cur;			/* the host that answered last */
	char scheme[8];			/* http or https */
	char prefix[256];		/* URL path prefix, starts and ends with '/' */
	char *user;			/* Basic auth, NULL if none */
	char *pass;
	char *ca_cert, *client_cert, *client_key;
	bool insecure;
	long timeout_ms;		/* 0 = none */
	bool host_changed;		/* the last request was served by another host */
	bool quiet;			/* no "[client] host … unavailable" lines on stderr */
	enum cli_http_fail fail;	/* why the last request failed */
	char err[512];			/* and the message */
	void *curl;			/* CURL *, reused between requests */
};

/* A request body: memory (data, len) or a file (fp, its size). */
struct cli_body {
	const void *data;
	size_t len;
	FILE *fp;
	long long fsize;
	const char *ctype;		/* Content-Type, or NULL */
};

struct cli_resp {
	long status;
	char reason[64];		/* the status line's reason phrase, e.g. "Not Found" */
	char *body;			/* NUL-terminated; NULL when streamed to a sink */
	size_t len;
	char version[64];		/* X-RQLITE-VERSION, "" if absent */
	char location[1024];
	long long sunk;			/* bytes written to the sink */
};

/* Set from a SIGINT handler: aborts the request in flight. */
extern volatile sig_atomic_t cli_http_interrupt;

/* Initialises h (libcurl global init too); hosts is "h:p[,h:p…]" after the primary. */
int cli_http_init(struct cli_http *h, const char *primary, const char *alternatives);
void cli_http_free(struct cli_http *h);
/* Parses "user:pass" (exactly one ':'); -1 if malformed. */
int cli_http_set_user(struct cli_http *h, const char *creds);
/* Sets the prefix, adding the leading and trailing '/'. */
void cli_http_set_prefix(struct cli_http *h, const char *prefix);
/* The current host's base URL, "http://127.0.0.1:4001". */
void cli_http_base(const struct cli_http *h, char *buf, size_t len);

/*
 * Sends METHOD to <scheme>://<current host><prefix><path> (path has no leading '/',
 * may carry a query string). On a connection failure the next host is tried, in
 * order, each at most once; h->host_changed says whether the answer came from a
 * host other than the one current before the call. When sink is not NULL a 200
 * body is written there instead of being kept. timeout_ms < 0 uses h->timeout_ms.
 * Returns 0 when some host answered (any status; resp filled, free with
 * cli_resp_free), -1 otherwise (h->fail, h->err).
 */
int cli_http_do(struct cli_http *h, const char *method, const char *path,
    const struct cli_body *body, FILE *sink, long timeout_ms, struct cli_resp *resp);
/* Same, for an absolute URL and no fail-over (sysdump of other nodes). */
int cli_http_direct(struct cli_http *h, const char *url, struct cli_resp *resp);
void cli_resp_free(struct cli_resp *r);

/* Percent-encodes s for a query string value into a malloc'd string. */
char *cli_http_escape(const char *s);

#endif
