/*
 * rqlited's start-up checks, in rqlite's order and words (cmd/rqlited's flag
 * validation): the data directory made absolute, TLS and OTLP flags in pairs,
 * addresses that parse and differ, join lists, discovery modes; and the defaults
 * derived from other flags (advertised addresses, node id).
 */
#include "config_int.h"

#include <errno.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/*
 * net.SplitHostPort: the port follows the last ':'; a host with ':' needs brackets.
 * The port may be empty. Writes the host (brackets removed) into host.
 */
static int
config_split_host_port(const char *hp, char *host, size_t hostlen, const char **port)
{
	const char *colon = strrchr(hp, ':');
	size_t j = 0, k = 0, hlen;
	const char *h;

	if (colon == NULL)
		return -1;
	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');
		if (end == NULL || end + 1 != colon)
			return -1;
		h = hp + 1;
		hlen = (size_t)(end - hp) - 1;
		j = 1;
		k = (size_t)(end - hp) + 1;
	} else {
		h = hp;
		hlen = (size_t)(colon - hp);
		if (memchr(h, ':', hlen) != NULL)
			return -1;
	}
	if (strchr(hp + j, '[') != NULL || strchr(hp + k, ']') != NULL)
		return -1;
	if (hlen >= hostlen)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = colon + 1;
	return 0;
}

/* strconv.Atoi succeeds: optional sign, decimal digits, fits in 64 bits. */
static bool
config_atoi_ok(const char *s)
{
	uint64_t u = 0;
	bool neg = false;

	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (u > (UINT64_MAX - 9) / 10)
			return false;
		u = u * 10 + (uint64_t)(*s - '0');
	}
	return neg ? u <= (uint64_t)INT64_MAX + 1 : u <= (uint64_t)INT64_MAX;
}

/* net.ParseIP(host).IsUnspecified(): 0.0.0.0, ::, or 0.0.0.0 mapped into IPv6. */
static bool
config_ip_unspecified(const char *host)
{
	unsigned char a[16];
	static const unsigned char mapped[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };

	if (inet_pton(AF_INET, host, a) == 1)
		return memcmp(a, "\0\0\0\0", 4) == 0;
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char zero[16];
		if (memcmp(a, zero, 16) == 0)
			return true;
		return memcmp(a, mapped, 12) == 0 && memcmp(a + 12, zero, 4) == 0;
	}
	return false;
}

/* filepath.Abs: join with the working directory, then clean lexically. */
static int
config_abs_path(const char *path, char **out)
{
	char *joined, *res;
	size_t rlen = 0;

	if (path[0] == '/') {
		joined = config_strdup(path);
	} else {
		char *cwd = getcwd(NULL, 0);
		if (cwd == NULL)
			return -1;
		if (asprintf(&joined, "%s/%s", cwd, path) == -1)
			fatal("%s", __func__);
		free(cwd);
	}
	res = malloc(strlen(joined) + 2);
	if (res == NULL)
		fatal("%s", __func__);
	for (char *p = joined; *p != '\0';) {
		char *slash = strchr(p, '/');
		size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* empty or "." element */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (rlen > 0 && res[rlen - 1] != '/')
				rlen--;
			if (rlen > 0)
				rlen--;	/* the '/' before the removed element */
		} else {
			res[rlen++] = '/';
			memcpy(res + rlen, p, n);
			rlen += n;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (rlen == 0)
		res[rlen++] = '/';
	res[rlen] = '\0';
	free(joined);
	*out = res;
	return 0;
}

static bool
config_both_or_neither(const char *a, const char *b)
{
	return (a[0] == '\0') == (b[0] == '\0');
}

static bool
config_path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/*
 * rqlite's join checks, address by address in list order: syntax, then (when not
 * bootstrapping) joining itself and auto-restore. Returns NULL or the message.
 * Unlike rqlite, the node's own address in a longer list is skipped (consensus never
 * asks itself), so that one -join list can serve every node of a cluster; a list of
 * nothing but itself is still refused, with rqlite's words.
 */
static char *
config_check_join(const struct rqlited_config *cfg)
{
	const char *p = cfg->join;
	char *msg = NULL;
	bool others = false;

	for (const char *q = cfg->join; *q != '\0';) {
		const char *comma = strchr(q, ',');
		size_t n = comma != NULL ? (size_t)(comma - q) : strlen(q);
		bool self = (strlen(cfg->raft_adv_addr) == n && strncmp(q, cfg->raft_adv_addr, n) == 0) ||
		    (strlen(cfg->raft_addr) == n && strncmp(q, cfg->raft_addr, n) == 0);
		others = others || (!self && n > 0);
		if (comma == NULL)
			break;
		q = comma + 1;
	}

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char *addr = strndup(p, n);
		char host[256];
		const char *port;

		if (addr == NULL)
			fatal("%s", __func__);
		if (config_split_host_port(addr, host, sizeof(host), &port) == -1) {
			if (asprintf(&msg, "%s is an invalid join address", addr) == -1)
				fatal("%s", __func__);
		} else if (cfg->bootstrap_expect == 0) {
			if (!others && (strcmp(addr, cfg->raft_adv_addr) == 0 ||
			    strcmp(addr, cfg->raft_addr) == 0))
				msg = config_strdup("node cannot join with itself unless bootstrapping");
			else if (cfg->auto_restore[0] != '\0')
				msg = config_strdup("auto-restoring cannot be used when joining a cluster");
		}
		free(addr);
		if (msg != NULL || comma == NULL)
			return msg;
		p = comma + 1;
	}
}

static const char *
config_trim_space(const char *s, size_t *len)
{
	const char *e = s + strlen(s);
	while (*s != '\0' && strchr(" \t\n\v\f\r", *s) != NULL)
		s++;
	while (e > s && strchr(" \t\n\v\f\r", e[-1]) != NULL)
		e--;
	*len = (size_t)(e - s);
	return s;
}

#define FATAL(...) do {							\
	char m_[512];							\
	snprintf(m_, sizeof(m_), __VA_ARGS__);				\
	config_err(err, errlen, "fatal: %s", m_);			\
	return -1;							\
} while (0)

int
config_validate(struct rqlited_config *cfg, char *err, size_t errlen)
{
	char host[256];
	const char *port;

	/* Reap timeouts may be left unset, but a value given must be positive. */
	if (config_is_set(cfg, "raft-reap-node-timeout") && cfg->raft_reap_node_timeout <= 0)
		FATAL("-raft-reap-node-timeout must be greater than 0");
	if (config_is_set(cfg, "raft-reap-read-only-node-timeout") &&
	    cfg->raft_reap_read_only_node_timeout <= 0)
		FATAL("-raft-reap-read-only-node-timeout must be greater than 0");

	if (cfg->extra_argc > 0) {
		/* rqlite prints this one without "fatal: ", the extras as a Go []string. */
		size_t off;
		config_err(err, errlen, "arguments after data directory (%s) are not accepted ([",
		    cfg->data_dir);
		for (int i = 0; i < cfg->extra_argc && err != NULL; i++) {
			off = strlen(err);
			if (off < errlen)
				snprintf(err + off, errlen - off, "%s%s", i > 0 ? " " : "",
				    cfg->extra_argv[i]);
		}
		if (err != NULL) {
			off = strlen(err);
			if (off < errlen)
				snprintf(err + off, errlen - off, "])");
		}
		return -1;
	}

	size_t dlen;
	const char *d = config_trim_space(cfg->data_dir, &dlen);
	if (dlen == 0)
		FATAL("data directory path is required");
	char *trimmed = strndup(d, dlen), *abs;
	if (trimmed == NULL)
		fatal("%s", __func__);
	if (config_abs_path(trimmed, &abs) == -1) {
		int e = errno;
		free(trimmed);
		FATAL("failed to determine absolute data path: %s", strerror(e));
	}
	free(trimmed);
	free(cfg->data_dir);
	cfg->data_dir = abs;

	if (cfg->extensions_path[0] != '\0') {
		const char *p = cfg->extensions_path;
		for (;;) {
			const char *comma = strchr(p, ',');
			size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
			char *one = strndup(p, n);
			if (one == NULL)
				fatal("%s", __func__);
			if (!config_path_exists(one)) {
				char m[512];
				snprintf(m, sizeof(m), "extension path does not exist: %s", one);
				free(one);
				FATAL("%s", m);
			}
			free(one);
			if (comma == NULL)
				break;
			p = comma + 1;
		}
	}

	if (!config_both_or_neither(cfg->http_cert, cfg->http_key))
		FATAL("either both -http-cert and -http-key must be set, or neither");
	if (!config_both_or_neither(cfg->node_cert, cfg->node_key))
		FATAL("either both -node-cert and -node-key must be set, or neither");
	if (cfg->http_verify_common_name[0] != '\0' && !cfg->http_verify_client)
		FATAL("-http-verify-common-name requires -http-verify-client");
	if (cfg->node_verify_common_name[0] != '\0' && !cfg->node_verify_client)
		FATAL("-node-verify-common-name requires -node-verify-client");

	if (strcmp(cfg->raft_addr, cfg->http_addr) == 0)
		FATAL("HTTP and Raft addresses must differ");

	/* Limits on client SQL (ours): a budget of zero would refuse every write. */
	if (cfg->db_write_steps < 10000)
		FATAL("-db-write-steps must be at least 10000");
	if (cfg->db_max_value_size < 1024 || cfg->db_max_value_size > 1000000000)
		FATAL("-db-max-value-size must be between 1024 and 1000000000 bytes");
	if (cfg->db_max_result_size < 1024 || cfg->db_max_result_size > 60ULL * 1024 * 1024)
		FATAL("-db-max-result-size must be between 1024 and 62914560 bytes");
	if (cfg->db_read_timeout < 0)
		FATAL("-db-read-timeout must not be negative");

	if (cfg->raft_adv_addr[0] == '\0')
		config_set_str(&cfg->raft_adv_addr, cfg->raft_addr);
	if (cfg->http_adv_addr[0] == '\0')
		config_set_str(&cfg->http_adv_addr, cfg->http_addr);
	if (cfg->node_id[0] == '\0')
		config_set_str(&cfg->node_id, cfg->raft_adv_addr);

	/* rqlite rejects anything starting "http", which catches http:// and https://. */
	if (strncasecmp(cfg->http_addr, "http", 4) == 0 ||
	    strncasecmp(cfg->http_adv_addr, "http", 4) == 0)
		FATAL("HTTP options should not include protocol (http:// or https://)");
	if (config_split_host_port(cfg->http_addr, host, sizeof(host), &port) == -1)
		FATAL("HTTP bind address not valid");
	if (config_split_host_port(cfg->http_adv_addr, host, sizeof(host), &port) == -1)
		FATAL("HTTP advertised HTTP address not valid");
	if (config_ip_unspecified(host))
		FATAL("advertised HTTP address is not routable (%s), specify it via -http-addr or "
		    "-http-adv-addr", host);

	if (config_split_host_port(cfg->raft_addr, host, sizeof(host), &port) == -1)
		FATAL("raft bind address not valid");
	if (!config_atoi_ok(port))
		FATAL("raft bind port not valid");
	if (config_split_host_port(cfg->raft_adv_addr, host, sizeof(host), &port) == -1)
		FATAL("raft advertised address not valid");
	if (config_ip_unspecified(host))
		FATAL("advertised Raft address is not routable (%s), specify it via -raft-addr or "
		    "-raft-adv-addr", host);
	if (!config_atoi_ok(port))
		FATAL("raft advertised port is not valid");

	if (strcmp(cfg->raft_adv_addr, cfg->http_adv_addr) == 0)
		FATAL("advertised HTTP and Raft addresses must differ");

	if (cfg->bootstrap_expect > 0 && cfg->raft_non_voter)
		FATAL("bootstrapping only applicable to voting nodes");

	if (cfg->join[0] != '\0') {
		char *m = config_check_join(cfg);
		if (m != NULL) {
			config_err(err, errlen, "fatal: %s", m);
			free(m);
			return -1;
		}
		if (cfg->disco_mode[0] != '\0')
			FATAL("disco mode cannot be used when also explicitly joining a cluster");
	}

	if (cfg->cdc_config[0] != '\0' && cfg->raft_non_voter)
		FATAL("CDC cannot be enabled on non-voting nodes");

	if (!config_both_or_neither(cfg->otlp_cert, cfg->otlp_key))
		FATAL("either both -otlp-cert and -otlp-key must be set, or neither");
	if (cfg->otlp_endpoint[0] == '\0') {
		if (cfg->otlp_insecure || cfg->otlp_no_verify || cfg->otlp_ca_cert[0] != '\0' ||
		    cfg->otlp_cert[0] != '\0')
			FATAL("OTLP options require -otlp-endpoint");
	} else {
		if (strstr(cfg->otlp_endpoint, "://") != NULL)
			FATAL("-otlp-endpoint must not include a protocol scheme");
		if (config_split_host_port(cfg->otlp_endpoint, host, sizeof(host), &port) == -1)
			FATAL("-otlp-endpoint is not a valid address");
		if (cfg->otlp_interval <= 0)
			FATAL("-otlp-interval must be greater than zero");
		if (cfg->otlp_insecure && (cfg->otlp_no_verify || cfg->otlp_ca_cert[0] != '\0' ||
		    cfg->otlp_cert[0] != '\0'))
			FATAL("-otlp-insecure cannot be used with other OTLP TLS options");
	}

	const char *dm = cfg->disco_mode;
	if (dm[0] == '\0') {
		/* no discovery */
	} else if (strcmp(dm, "etcd-kv") == 0 || strcmp(dm, "consul-kv") == 0) {
		if (cfg->bootstrap_expect > 0)
			FATAL("bootstrapping not applicable when using %s", dm);
	} else if (strcmp(dm, "dns") == 0 || strcmp(dm, "dns-srv") == 0) {
		if (cfg->bootstrap_expect == 0 && !cfg->raft_non_voter)
			FATAL("bootstrap-expect value required when using %s with a voting node", dm);
	} else {
		FATAL("disco mode must be one of consul-kv, etcd-kv, dns, or dns-srv");
	}
	return 0;
}

#undef FATAL
