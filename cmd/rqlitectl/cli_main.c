/*
 * rqlitectl's entry point: rqlite's shell options (-H -p -s -P -u -a -i -c -d -k -t
 * -v -h, RQLITE_HOST) plus -e, then one of: an admin subcommand, -e SQL, statements
 * piped on stdin, or the interactive shell with rqlite's banner. Also the few
 * helpers every module uses to report errors and follow a fail-over.
 */
#include "cli.h"

#include "common/duration.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RQLITED_VERSION
#define RQLITED_VERSION "unknown"
#endif
#ifndef RQLITE_COMMIT
#define RQLITE_COMMIT "unknown"
#endif

static const char cli_usage[] =
"rqlitectl: the rqlite command line shell and admin tool\n"
"\n"
"Usage:\n"
"  rqlitectl [options]                         interactive shell (SQL and .commands)\n"
"  rqlitectl [options] < FILE                  run the statements in FILE, no prompt\n"
"  rqlitectl [options] -e 'SQL'                run one statement or .command\n"
"  rqlitectl [options] COMMAND [ARGS] [--json]\n"
"\n"
"Options:\n"
"  -h, --help                       display help information\n"
"  -a, --alternatives HOST:PORT,... comma separated list of 'host:port' pairs to use as fallback\n"
"  -s, --scheme SCHEME              protocol scheme (http or https) [=http]\n"
"  -H, --host HOST                  rqlited host address [=127.0.0.1]\n"
"  -p, --port PORT                  rqlited host port [=4001]\n"
"  -P, --prefix PREFIX              rqlited HTTP URL prefix [=/]\n"
"  -i, --insecure                   do not verify rqlited HTTPS certificate\n"
"  -c, --ca-cert FILE               path to trusted X.509 root CA certificate\n"
"  -d, --client-cert FILE           path to client X.509 certificate for mutual TLS\n"
"  -k, --client-key FILE            path to client X.509 key for mutual TLS\n"
"  -u, --user USER:PASS             set basic auth credentials in form username:password\n"
"  -v, --version                    display CLI version\n"
"  -t, --http-timeout DURATION      set timeout on HTTP requests [=30s]\n"
"  -e, --execute SQL                run SQL (or a .command) and exit\n"
"      --json                       machine-readable output for COMMANDs\n"
"\n"
"Commands (exit status 0 on success, 1 on failure, 2 on bad usage):\n"
"  status [KEY]                     node status (KEY: a dotted path such as store.raft)\n"
"  nodes [--all]                    cluster members (--all: include read replicas)\n"
"  leader                           the Leader's entry from /nodes\n"
"  ready                            exit 0 if the node is ready, 1 if not\n"
"  backup FILE [--sql] [--tables=T1,T2]  hot backup (binary SQLite or SQL text; '-' = stdout)\n"
"  restore FILE                     load a SQLite file or SQL dump into the cluster\n"
"  boot FILE                        boot a single-node cluster from a SQLite file\n"
"  remove ID                        remove node ID from the cluster\n"
"  stepdown [ID]                    make the Leader give up leadership (to ID)\n"
"  snapshot [TRAILING_LOGS]         force a Raft snapshot and log truncation\n"
"  reap                             consolidate the snapshot store\n"
"  keygen FILE [--force]            write a new 32-byte key for rqlited -cluster-key\n"
"\n"
"Environment:\n"
"  RQLITE_HOST          scheme://host:port used when none of -H, -p, -s is given\n"
"  RQLITE_HISTFILESIZE  commands kept in ~/.rqlite_history (default 100, 0 = none)\n";

void
cli_err(struct cli *c, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	FILE *f = c->admin ? stderr : stdout;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->admin && c->json) {
		json_t *o = json_pack("{s:s}", "error", msg);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(o);
		fflush(stdout);
	}
	if (c->color && isatty(fileno(f)))
		fprintf(f, "\033[31mERR!\033[0m %s\n", msg);
	else
		fprintf(f, "ERR! %s\n", msg);
	fflush(f);
}

void
cli_follow_host(struct cli *c)
{
	if (c->http.host_changed)
		snprintf(c->prompt_host, sizeof(c->prompt_host), "%s", c->http.hosts[c->http.cur]);
}

void
cli_status_error(struct cli *c, const struct cli_resp *r, const char *sep, bool with_body)
{
	size_t n = r->body ? strlen(r->body) : 0;

	/* rqlite's shell shows the body only for some commands; ours always does for
	 * the admin subcommands, where the reason matters to whoever reads the log. */
	if ((with_body || c->admin) && n > 0) {
		while (n > 0 && (r->body[n - 1] == '\n' || r->body[n - 1] == '\r'))
			n--;
		cli_err(c, "server responded with%s%ld %s: %.*s", sep, r->status, r->reason,
		    (int)n, r->body);
	} else if (with_body) {
		cli_err(c, "server responded with%s%ld %s: ", sep, r->status, r->reason);
	} else {
		cli_err(c, "server responded with%s%ld %s", sep, r->status, r->reason);
	}
}

int
cli_server_version(struct cli *c, char *buf, size_t len, char *err, size_t errlen)
{
	struct cli_resp r;

	if (cli_http_do(&c->http, "GET", "status", NULL, NULL, -1, &r) != 0) {
		snprintf(err, errlen, "%s", c->http.err);
		return -1;
	}
	cli_follow_host(c);
	snprintf(buf, len, "%s", r.version[0] ? r.version : "unknown");
	cli_resp_free(&r);
	return 0;
}

/* net.JoinHostPort: IPv6 literals get brackets. */
static void
cli_join_host_port(char *buf, size_t len, const char *host, unsigned port)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
}

static int
cli_parse_port(const char *s, unsigned *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* RQLITE_HOST = [scheme://]host[:port], as rqlite's ParseHostEnv. */
static int
cli_parse_host_env(const char *v, char *scheme, size_t slen, char **host, unsigned *port,
    char *err, size_t errlen)
{
	const char *p = strstr(v, "://"), *h, *end, *colon = NULL;

	if (p != NULL) {
		size_t n = (size_t)(p - v);

		if (!((n == 4 && strncmp(v, "http", 4) == 0) || (n == 5 && strncmp(v, "https", 5) == 0))) {
			snprintf(err, errlen, "unsupported protocol %.*s", (int)n, v);
			return -1;
		}
		snprintf(scheme, slen, "%.*s", (int)n, v);
		h = p + 3;
	} else {
		h = v;
	}
	end = h + strcspn(h, "/?#");
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (rb == NULL) {
			snprintf(err, errlen, "RQLITE_HOST: missing ']' in host");
			return -1;
		}
		*host = strndup(h + 1, (size_t)(rb - h - 1));
		if (rb + 1 < end && rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		*host = strndup(h, (size_t)((colon ? colon : end) - h));
	}
	if (*host == NULL || **host == '\0') {
		free(*host);
		*host = NULL;
		snprintf(err, errlen, "RQLITE_HOST does not contain a hostname");
		return -1;
	}
	if (colon != NULL && colon + 1 < end) {
		char ps[16];

		snprintf(ps, sizeof(ps), "%.*s", (int)(end - colon - 1), colon + 1);
		if (cli_parse_port(ps, port) != 0) {
			snprintf(err, errlen, "port '%s' is not a valid number", ps);
			free(*host);
			*host = NULL;
			return -1;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "alternatives", required_argument, NULL, 'a' },
		{ "scheme", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "insecure", no_argument, NULL, 'i' },
		{ "ca-cert", required_argument, NULL, 'c' },
		{ "client-cert", required_argument, NULL, 'd' },
		{ "client-key", required_argument, NULL, 'k' },
		{ "user", required_argument, NULL, 'u' },
		{ "version", no_argument, NULL, 'v' },
		{ "http-timeout", required_argument, NULL, 't' },
		{ "execute", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c;
	char scheme[8] = "http", addr[300], err[512], version[64];
	char *host = strdup("127.0.0.1"), *env_host = NULL;
	const char *alternatives = NULL, *prefix = "/", *user = NULL, *execute = NULL;
	const char *ca = NULL, *cert = NULL, *key = NULL;
	bool insecure = false, addr_set = false, json = false;
	int64_t timeout_ns = 30 * DURATION_S;
	unsigned port = 4001;
	int opt, rc;

	setlocale(LC_CTYPE, "");
	memset(&c, 0, sizeof(c));
	while ((opt = getopt_long(argc, argv, "+ha:s:H:p:P:ic:d:k:u:vt:e:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(cli_usage, stdout);
			free(host);
			return 0;
		case 'v':
			printf("Version %s, commit %s, built on %s %s\n", RQLITED_VERSION,
			    RQLITE_COMMIT, __DATE__, __TIME__);
			free(host);
			return 0;
		case 'a': alternatives = optarg; break;
		case 's':
			if (strcmp(optarg, "http") != 0 && strcmp(optarg, "https") != 0) {
				fprintf(stderr, "ERR! unsupported scheme %s (use http or https)\n", optarg);
				free(host);
				return 2;
			}
			snprintf(scheme, sizeof(scheme), "%s", optarg);
			addr_set = true;
			break;
		case 'H':
			free(host);
			host = strdup(optarg);
			addr_set = true;
			break;
		case 'p':
			if (cli_parse_port(optarg, &port) != 0) {
				fprintf(stderr, "ERR! invalid port %s\n", optarg);
				free(host);
				return 2;
			}
			addr_set = true;
			break;
		case 'P': prefix = optarg; break;
		case 'i': insecure = true; break;
		case 'c': ca = optarg; break;
		case 'd': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'u': user = optarg; break;
		case 't':
			if (duration_parse(optarg, &timeout_ns) != 0 || timeout_ns < 0) {
				fprintf(stderr, "ERR! invalid duration %s for --http-timeout\n", optarg);
				free(host);
				return 2;
			}
			break;
		case 'e': execute = optarg; break;
		case 'J': json = true; break;
		default:
			fprintf(stderr, "Run 'rqlitectl --help' for usage.\n");
			free(host);
			return 2;
		}
	}

	c.color = true;
	c.json = json;
	if (optind < argc && !cli_admin_is_command(argv[optind])) {
		fprintf(stderr, "rqlitectl: unknown command '%s'. Run 'rqlitectl --help' for usage.\n",
		    argv[optind]);
		free(host);
		return 2;
	}
	if (optind < argc && strcmp(argv[optind], "keygen") == 0) {
		rc = cli_admin(&c, argc - optind, argv + optind);
		free(host);
		return rc;
	}

	if ((env_host = getenv("RQLITE_HOST")) != NULL && !addr_set) {
		char *h = NULL;

		if (cli_parse_host_env(env_host, scheme, sizeof(scheme), &h, &port, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "ERR! %s\n", err);
			free(host);
			return 2;
		}
		free(host);
		host = h;
	}
	if (host == NULL) {
		fprintf(stderr, "ERR! out of memory\n");
		return 1;
	}
	cli_join_host_port(addr, sizeof(addr), host, port);
	free(host);
	if (cli_http_init(&c.http, addr, alternatives) != 0) {
		fprintf(stderr, "ERR! cannot initialise HTTP client\n");
		return 1;
	}
	snprintf(c.http.scheme, sizeof(c.http.scheme), "%s", scheme);
	cli_http_set_prefix(&c.http, prefix);
	c.http.insecure = insecure;
	c.http.ca_cert = ca ? strdup(ca) : NULL;
	c.http.client_cert = cert ? strdup(cert) : NULL;
	c.http.client_key = key ? strdup(key) : NULL;
	c.http.timeout_ms = (long)(timeout_ns / DURATION_MS);
	if (timeout_ns > 0 && c.http.timeout_ms == 0)
		c.http.timeout_ms = 1;
	snprintf(c.prompt_host, sizeof(c.prompt_host), "%s", addr);
	snprintf(c.set.mode, sizeof(c.set.mode), "column");
	snprintf(c.set.consistency, sizeof(c.set.consistency), "weak");
	c.out = stdout;
	c.out_name = strdup("stdout");
	if (user != NULL && cli_http_set_user(&c.http, user) != 0) {
		c.admin = optind < argc;
		cli_err(&c, "invalid Basic Auth credential format");
		rc = 1;
		goto out;
	}

	if (optind < argc) {
		rc = cli_admin(&c, argc - optind, argv + optind);
	} else if (execute != NULL) {
		rc = cli_shell_string(&c, execute);
	} else if (!isatty(STDIN_FILENO)) {
		rc = cli_shell_stream(&c, stdin);
	} else {
		char base[400];

		if (cli_server_version(&c, version, sizeof(version), err, sizeof(err)) != 0) {
			cli_err(&c, "%s", err);
			rc = 1;
			goto out;
		}
		cli_http_base(&c.http, base, sizeof(base));
		printf("Welcome to the rqlite CLI.\n");
		printf("Enter \".help\" for usage hints.\n");
		printf("Connected to %s running version %s\n", base, version);
		fflush(stdout);
		rc = cli_shell_interactive(&c);
	}
out:
	if (c.out != NULL && c.out != stdout)
		fclose(c.out);
	free(c.out_name);
	cli_http_free(&c.http);
	return rc;
}
