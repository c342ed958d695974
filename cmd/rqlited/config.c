/*
 * rqlited's flags: one table describes every flag (name, type, field, default, help);
 * the parser, the usage text, the defaults, the comparison and the re-exec argv are
 * all driven by it. Parsing follows Go's `flag` package and validation follows
 * rqlite's cmd/rqlited so that users see the same behaviour and messages.
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/duration.h"
#include "common/log.h"

enum config_type {
	CONFIG_STRING,
	CONFIG_BOOL,
	CONFIG_BOOL_NOT,	/* a bool flag that stores the negation (-mem → on_disk) */
	CONFIG_INT,
	CONFIG_UINT64,
	CONFIG_DURATION,
	CONFIG_ROLE,
};

#define CONFIG_F_HIDDEN		0x1	/* left out of the usage text */
#define CONFIG_F_NOSERIAL	0x2	/* never passed on to role processes */

struct config_flag {
	const char *name;
	enum config_type type;
	size_t offset;
	const char *def;	/* default, in command-line syntax */
	const char *help;
	unsigned flags;
};

#define F(name, type, field, def, help)	\
	{ name, CONFIG_##type, offsetof(struct rqlited_config, field), def, help, 0 }
#define FX(name, type, field, def, help, fl)	\
	{ name, CONFIG_##type, offsetof(struct rqlited_config, field), def, help, fl }

/* Sorted by name, the order Go's PrintDefaults uses. */
static const struct config_flag config_flags[] = {
	FX("P", ROLE, role, "", "role process to run (internal)", CONFIG_F_HIDDEN | CONFIG_F_NOSERIAL),
	F("auth", STRING, auth_file, "", "Path to the credentials and permissions file. Empty: no authentication"),
	F("auto-backup", STRING, auto_backup, "", "Path to the automatic backup configuration. Empty: no automatic backups"),
	F("auto-optimize-int", DURATION, auto_optimize_int, "24h", "Interval between automatic 'PRAGMA optimize' runs. 0h disables them"),
	F("auto-restore", STRING, auto_restore, "", "Path to the automatic restore configuration. Empty: no automatic restore"),
	F("auto-vacuum-int", DURATION, auto_vacuum_int, "0s", "Interval between automatic VACUUMs. Zero disables them"),
	F("bootstrap-expect", INT, bootstrap_expect, "0", "Number of nodes that must be present before a cluster bootstraps"),
	F("bootstrap-expect-timeout", DURATION, bootstrap_expect_timeout, "120s", "Longest time the bootstrap process may take"),
	F("cdc-config", STRING, cdc_config, "", "CDC HTTP endpoint, or path to a CDC configuration file. Empty: CDC off"),
	F("cluster-connect-timeout", DURATION, cluster_connect_timeout, "30s", "Timeout for the first connection to another node"),
	F("cluster-key", STRING, cluster_key, "", "Path to a 32-byte key file authenticating and sealing node-to-node links. Empty: plaintext links"),
	F("compress-snap-transport", BOOL, compress_snap_transport, "false", "Compress snapshots sent between nodes"),
	F("cpu-profile", STRING, cpu_profile, "", "Path to write CPU profiling data to"),
	F("db-max-result-size", UINT64, db_max_result_size, "33554432", "Most bytes of rows one read may return; larger results answer an error (ours)"),
	F("db-max-ro-conns", INT, db_max_ro_conns, "256", "Most read-only database connections open at once"),
	F("db-max-value-size", UINT64, db_max_value_size, "33554432", "Longest string or BLOB, and largest row, a statement may make (ours)"),
	F("db-read-timeout", DURATION, db_read_timeout, "25s", "Longest a read may run when it gives no shorter db_timeout; below the default HTTP timeout. 0s: no limit (ours)"),
	F("db-write-steps", UINT64, db_write_steps, "250000000", "Most SQLite steps one write request may take; the same on every node (ours)"),
	F("disco-config", STRING, disco_config, "", "Discovery configuration, or path to a file holding it"),
	F("disco-key", STRING, disco_key, "rqlite", "Key prefix used in the discovery service"),
	F("disco-mode", STRING, disco_mode, "", "Node discovery mode: dns, dns-srv, consul-kv or etcd-kv. Empty: no discovery"),
	F("extensions-path", STRING, extensions_path, "", "Comma-separated paths of SQLite extensions (files, directories, zip or tar.gz archives)"),
	F("fk", BOOL, fk, "false", "Enforce SQLite foreign key constraints"),
	F("http-addr", STRING, http_addr, "localhost:4001", "Address the HTTP API listens on. Set a certificate and key for HTTPS"),
	F("http-adv-addr", STRING, http_adv_addr, "", "HTTP address advertised to other nodes. Empty: the HTTP bind address"),
	F("http-allow-origin", STRING, http_allow_origin, "", "Access-Control-Allow-Origin header value for HTTP responses"),
	F("http-ca-cert", STRING, http_ca_cert, "", "Path to the X.509 CA certificate used for HTTPS"),
	F("http-cert", STRING, http_cert, "", "Path to the X.509 certificate for HTTPS"),
	F("http-key", STRING, http_key, "", "Path to the X.509 private key for HTTPS"),
	F("http-verify-client", BOOL, http_verify_client, "false", "Require client certificates on HTTPS (mutual TLS)"),
	F("http-verify-common-name", STRING, http_verify_common_name, "", "Common Name required in client certificates. Empty: any"),
	F("join", STRING, join, "", "Comma-separated host:port Raft addresses of nodes to join a cluster through"),
	F("join-as", STRING, join_as, "", "User from the auth file to join as. Empty: join anonymously"),
	F("join-attempts", INT, join_attempts, "5", "How many rounds of join attempts to make"),
	F("join-interval", DURATION, join_interval, "3s", "Pause between rounds of join attempts"),
	F("mem", BOOL_NOT, on_disk, "false", "Keep the SQLite database in memory (same as -on-disk=false)"),
	F("mem-profile", STRING, mem_profile, "", "Path to write memory profiling data to"),
	F("node-ca-cert", STRING, node_ca_cert, "", "Path to the X.509 CA certificate for node-to-node TLS"),
	F("node-cert", STRING, node_cert, "", "Path to the X.509 certificate for node-to-node TLS"),
	F("node-id", STRING, node_id, "", "Unique, permanent ID of this node. Empty: the advertised Raft address"),
	F("node-key", STRING, node_key, "", "Path to the X.509 private key for node-to-node TLS"),
	F("node-no-verify", BOOL, node_no_verify, "false", "Do not verify certificates presented by other nodes"),
	F("node-verify-client", BOOL, node_verify_client, "false", "Require certificates from connecting nodes (mutual TLS)"),
	F("node-verify-common-name", STRING, node_verify_common_name, "", "Common Name required in certificates of connecting nodes. Empty: any"),
	F("node-verify-server-name", STRING, node_verify_server_name, "", "Host name expected in certificates returned by other nodes"),
	F("on-disk", BOOL, on_disk, "true", "Keep the SQLite database in a file in the data directory; false keeps it in memory"),
	F("otlp-ca-cert", STRING, otlp_ca_cert, "", "Path to the X.509 CA certificate for the OpenTelemetry collector"),
	F("otlp-cert", STRING, otlp_cert, "", "Path to the X.509 certificate for mutual TLS with the OpenTelemetry collector"),
	F("otlp-endpoint", STRING, otlp_endpoint, "", "host:port of an OpenTelemetry collector to push metrics to. Empty: no push"),
	F("otlp-insecure", BOOL, otlp_insecure, "false", "Talk plaintext gRPC to the OpenTelemetry collector"),
	F("otlp-interval", DURATION, otlp_interval, "30s", "Interval between metric pushes to the OpenTelemetry collector"),
	F("otlp-key", STRING, otlp_key, "", "Path to the X.509 private key for mutual TLS with the OpenTelemetry collector"),
	F("otlp-no-verify", BOOL, otlp_no_verify, "false", "Do not verify the OpenTelemetry collector's certificate"),
	F("raft-addr", STRING, raft_addr, "localhost:4002", "Address the inter-node (Raft) port listens on"),
	F("raft-adv-addr", STRING, raft_adv_addr, "", "Raft address advertised to other nodes. Empty: the Raft bind address"),
	F("raft-apply-timeout", DURATION, raft_apply_timeout, "10s", "Longest wait for a log entry to be applied"),
	F("raft-cluster-remove-shutdown", BOOL, raft_cluster_remove_shutdown, "false", "Remove this node from the cluster on graceful shutdown"),
	F("raft-commit-timeout", DURATION, raft_commit_timeout, "50ms", "Raft commit timeout"),
	F("raft-election-timeout", DURATION, raft_election_timeout, "1s", "Raft election timeout"),
	F("raft-heartbeat-timeout", DURATION, raft_heartbeat_timeout, "1s", "Raft heartbeat timeout"),
	F("raft-leader-lease-timeout", DURATION, raft_leader_lease_timeout, "0s", "Raft leader lease timeout. 0s: the Raft default"),
	F("raft-log-level", STRING, raft_log_level, "WARN", "Lowest level logged by the Raft module"),
	F("raft-non-voter", BOOL, raft_non_voter, "false", "Run as a non-voting node (read replica)"),
	F("raft-reap-node-timeout", DURATION, raft_reap_node_timeout, "0h", "Remove voting nodes unreachable for this long. Unset: never"),
	F("raft-reap-read-only-node-timeout", DURATION, raft_reap_read_only_node_timeout, "0h", "Remove non-voting nodes unreachable for this long. Unset: never"),
	F("raft-remove-shutdown", BOOL, raft_remove_shutdown, "false", "Shut Raft down when this node is removed from the cluster"),
	F("raft-shutdown-stepdown", BOOL, raft_shutdown_stepdown, "true", "Give up leadership before shutting down"),
	F("raft-snap", UINT64, raft_snap, "8192", "Log entries since the last snapshot that trigger a new one"),
	F("raft-snap-int", DURATION, raft_snap_int, "10s", "How often the snapshot thresholds are checked"),
	F("raft-snap-wal-size", UINT64, raft_snap_wal_size, "4194304", "SQLite WAL size in bytes that triggers a snapshot. 0 disables this trigger"),
	F("raft-log-segment-size", UINT64, raft_log_segment_size, "67108864", "Bytes per Raft log segment file; compaction removes whole segments (ours)"),
	F("trace-profile", STRING, trace_profile, "", "Path to write execution trace data to"),
	FX("version", BOOL, version, "false", "Print version information and exit", CONFIG_F_NOSERIAL),
	F("write-queue-batch-size", INT, write_queue_batch_size, "128", "Batch size of the queued-writes queue"),
	F("write-queue-capacity", INT, write_queue_capacity, "1024", "Capacity of the queued-writes queue"),
	F("write-queue-timeout", DURATION, write_queue_timeout, "50ms", "Longest wait before a partial batch of queued writes is written"),
	F("write-queue-tx", BOOL, write_queue_tx, "false", "Wrap each batch of queued writes in a transaction"),
};

#undef F
#undef FX

#define CONFIG_NFLAGS	(sizeof(config_flags) / sizeof(config_flags[0]))

_Static_assert(sizeof(config_flags) / sizeof(config_flags[0]) <= CONFIG_FLAGS_MAX,
    "raise CONFIG_FLAGS_MAX");

static const char *const config_roles[] = { "gateway", "consensus", "storage" };

/* Errors of Go's flag values, quoted after "invalid value … for flag -x: ". */
static const char config_err_parse[] = "parse error";
static const char config_err_range[] = "value out of range";

static void *
config_field(struct rqlited_config *cfg, const struct config_flag *f)
{
	return (char *)cfg + f->offset;
}

static const void *
config_cfield(const struct rqlited_config *cfg, const struct config_flag *f)
{
	return (const char *)cfg + f->offset;
}

static char *
config_strdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		fatal("%s", __func__);
	return p;
}

static void
config_set_str(char **field, const char *value)
{
	char *p = config_strdup(value);
	free(*field);
	*field = p;
}

static void
config_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
config_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* strconv.ParseBool. */
static int
config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static char
config_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* strconv's underscoreOK: '_' only between digits (a base prefix counts as a digit). */
static bool
config_underscore_ok(const char *s)
{
	char saw = '^';
	bool hex = false;

	if (*s == '+' || *s == '-')
		s++;
	if (s[0] == '0' && (config_lower(s[1]) == 'b' || config_lower(s[1]) == 'o' ||
	    config_lower(s[1]) == 'x')) {
		hex = config_lower(s[1]) == 'x';
		s += 2;
		saw = '0';
	}
	for (; *s != '\0'; s++) {
		char c = config_lower(*s);
		if ((c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f')) {
			saw = '0';
			continue;
		}
		if (c == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

/*
 * strconv.ParseUint(s, 0, 64) limited to max: base prefixes 0x 0o 0b and a leading 0
 * for octal, '_' separators. Returns NULL or the Go error text.
 */
static const char *
config_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	const char *s0 = s;
	unsigned base = 10;
	bool underscores = false;
	uint64_t n = 0;

	if (*s == '\0')
		return config_err_parse;
	if (s[0] == '0') {
		char c = config_lower(s[1]);
		if (c == 'x' || c == 'o' || c == 'b') {
			base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
			s += 2;
		} else {
			base = 8;
			s += 1;
		}
		if (base != 8 && *s == '\0')
			return config_err_parse;
	}
	for (; *s != '\0'; s++) {
		char c = config_lower(*s);
		unsigned d;
		if (c == '_') {
			underscores = true;
			continue;
		} else if (c >= '0' && c <= '9') {
			d = (unsigned)(c - '0');
		} else if (c >= 'a' && c <= 'z') {
			d = (unsigned)(c - 'a') + 10;
		} else {
			return config_err_parse;
		}
		if (d >= base)
			return config_err_parse;
		if (n > (max - d) / base)
			return config_err_range;
		n = n * base + d;
	}
	if (underscores && !config_underscore_ok(s0))
		return config_err_parse;
	*out = n;
	return NULL;
}

/* strconv.ParseInt(s, 0, 64), then limited to [min, max]. */
static const char *
config_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	bool neg = false;
	uint64_t u;
	const char *e;

	if (*s == '\0')
		return config_err_parse;
	if (*s == '+' || *s == '-') {
		neg = *s == '-';
		s++;
	}
	if ((e = config_parse_uint(s, UINT64_MAX, &u)) != NULL)
		return e;
	if (!neg && u > (uint64_t)INT64_MAX)
		return config_err_range;
	if (neg && u > (uint64_t)INT64_MAX + 1)
		return config_err_range;
	int64_t v = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) : (int64_t)u;
	if (v < min || v > max)
		return config_err_range;
	*out = v;
	return NULL;
}

/* Stores value into the flag's field; returns NULL or the error text Go's Value.Set gives. */
static const char *
config_set(struct rqlited_config *cfg, const struct config_flag *f, const char *value)
{
	void *field = config_field(cfg, f);
	const char *e;

	switch (f->type) {
	case CONFIG_STRING:
		config_set_str(field, value);
		return NULL;
	case CONFIG_BOOL:
	case CONFIG_BOOL_NOT: {
		bool b;
		if (config_parse_bool(value, &b) == -1)
			return config_err_parse;
		*(bool *)field = f->type == CONFIG_BOOL ? b : !b;
		return NULL;
	}
	case CONFIG_INT: {
		int64_t v;
		if ((e = config_parse_int(value, INT_MIN, INT_MAX, &v)) != NULL)
			return e;
		*(int *)field = (int)v;
		return NULL;
	}
	case CONFIG_UINT64: {
		uint64_t v;
		if (*value == '+' || *value == '-')
			return config_err_parse;
		if ((e = config_parse_uint(value, UINT64_MAX, &v)) != NULL)
			return e;
		*(uint64_t *)field = v;
		return NULL;
	}
	case CONFIG_DURATION: {
		int64_t v;
		if (duration_parse(value, &v) == -1)
			return config_err_parse;
		*(int64_t *)field = v;
		return NULL;
	}
	case CONFIG_ROLE:
		for (size_t i = 0; i < sizeof(config_roles) / sizeof(config_roles[0]); i++) {
			if (strcmp(value, config_roles[i]) == 0) {
				config_set_str(field, value);
				return NULL;
			}
		}
		return "must be gateway, consensus or storage";
	}
	return config_err_parse;
}

static bool
config_is_bool(const struct config_flag *f)
{
	return f->type == CONFIG_BOOL || f->type == CONFIG_BOOL_NOT;
}

static const struct config_flag *
config_lookup(const char *name, size_t len, size_t *idx)
{
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		if (strlen(config_flags[i].name) == len &&
		    memcmp(config_flags[i].name, name, len) == 0) {
			if (idx != NULL)
				*idx = i;
			return &config_flags[i];
		}
	}
	return NULL;
}

void
config_init(struct rqlited_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = config_strdup("");
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		const struct config_flag *f = &config_flags[i];
		/* An alias must not overwrite the default of the flag it shadows. */
		if (f->type == CONFIG_BOOL_NOT || f->type == CONFIG_ROLE)
			continue;
		if (config_set(cfg, f, f->def) != NULL)
			fatalx("%s: bad default for -%s", __func__, f->name);
	}
}

void
config_free(struct rqlited_config *cfg)
{
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		const struct config_flag *f = &config_flags[i];
		if (f->type == CONFIG_STRING || f->type == CONFIG_ROLE) {
			char **p = config_field(cfg, f);
			free(*p);
			*p = NULL;
		}
	}
	free(cfg->data_dir);
	cfg->data_dir = NULL;
	for (int i = 0; i < cfg->extra_argc; i++)
		free(cfg->extra_argv[i]);
	free(cfg->extra_argv);
	cfg->extra_argv = NULL;
	cfg->extra_argc = 0;
}

/* Go's %q for the byte strings we meet on a command line. */
static void
config_quote(const char *s, char *out, size_t len)
{
	size_t w = 0;

#define PUT(c) do { if (w + 1 < len) out[w++] = (c); } while (0)
	if (len == 0)
		return;
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		static const char hex[] = "0123456789abcdef";
		if (*p == '"' || *p == '\\') {
			PUT('\\');
			PUT((char)*p);
		} else if (*p == '\n') {
			PUT('\\');
			PUT('n');
		} else if (*p == '\t') {
			PUT('\\');
			PUT('t');
		} else if (*p < 0x20 || *p == 0x7f) {
			PUT('\\');
			PUT('x');
			PUT(hex[*p >> 4]);
			PUT(hex[*p & 0xf]);
		} else {
			PUT((char)*p);
		}
	}
	PUT('"');
	out[w] = '\0';
#undef PUT
}

int
config_parse(struct rqlited_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int i = 1;

	config_init(cfg);
	if (argc < 2) {
		config_err(err, errlen, "missing required argument: DataPath");
		return CONFIG_ERR_NOARGS;
	}
	while (i < argc) {
		const char *s = argv[i];
		const char *name, *eq, *value = NULL;
		const struct config_flag *f;
		size_t idx, nlen;
		int minuses = 1;

		if (strlen(s) < 2 || s[0] != '-')
			break;
		if (s[1] == '-') {
			minuses = 2;
			if (s[2] == '\0') {	/* "--" ends the flags */
				i++;
				break;
			}
		}
		name = s + minuses;
		if (name[0] == '\0' || name[0] == '-' || name[0] == '=') {
			config_err(err, errlen, "bad flag syntax: %s", s);
			return CONFIG_ERR_SYNTAX;
		}
		i++;
		eq = strchr(name + 1, '=');
		nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
		if (eq != NULL)
			value = eq + 1;

		if ((f = config_lookup(name, nlen, &idx)) == NULL) {
			if ((nlen == 1 && name[0] == 'h') || (nlen == 4 && memcmp(name, "help", 4) == 0)) {
				cfg->help = true;
				return 0;
			}
			config_err(err, errlen, "flag provided but not defined: -%.*s", (int)nlen, name);
			return CONFIG_ERR_SYNTAX;
		}
		if (config_is_bool(f)) {
			/* A bool takes its value only after '=': "-fk false" is a flag and a positional. */
			if (value == NULL)
				value = "true";
			const char *e = config_set(cfg, f, value);
			if (e != NULL) {
				char q[256];
				config_quote(value, q, sizeof(q));
				config_err(err, errlen, "invalid boolean value %s for -%s: %s", q, f->name, e);
				return CONFIG_ERR_SYNTAX;
			}
		} else {
			if (value == NULL && i < argc)
				value = argv[i++];
			if (value == NULL) {
				config_err(err, errlen, "flag needs an argument: -%s", f->name);
				return CONFIG_ERR_SYNTAX;
			}
			const char *e = config_set(cfg, f, value);
			if (e != NULL) {
				char q[256];
				config_quote(value, q, sizeof(q));
				config_err(err, errlen, "invalid value %s for flag -%s: %s", q, f->name, e);
				return CONFIG_ERR_SYNTAX;
			}
		}
		cfg->set[idx] = true;
	}
	if (i < argc)
		config_set_str(&cfg->data_dir, argv[i++]);
	if (i < argc) {
		cfg->extra_argc = argc - i;
		cfg->extra_argv = calloc((size_t)cfg->extra_argc, sizeof(char *));
		if (cfg->extra_argv == NULL)
			fatal("%s", __func__);
		for (int j = 0; j < cfg->extra_argc; j++)
			cfg->extra_argv[j] = config_strdup(argv[i + j]);
	}
	return 0;
}

bool
config_is_set(const struct rqlited_config *cfg, const char *name)
{
	size_t idx;

	if (config_lookup(name, strlen(name), &idx) == NULL)
		return false;
	return cfg->set[idx];
}

/* ---- validation ------------------------------------------------------------------ */

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

/* ---- features not built yet ----------------------------------------------------- */

/*
 * Flags accepted for compatibility whose feature does not exist yet: asking for one
 * stops start-up, so that no flag is silently ignored.
 */
static const char *const config_unsupported_features[] = {
	"http-cert", "http-key", "http-ca-cert", "http-verify-client", "http-verify-common-name",
	"node-cert", "node-key", "node-ca-cert", "node-no-verify", "node-verify-client",
	"node-verify-common-name", "node-verify-server-name",
	"auth", "join-as",
	"disco-mode",
	"auto-backup", "auto-restore",
	"cdc-config",
	"extensions-path",
	"raft-remove-shutdown",
	"otlp-endpoint", "otlp-ca-cert", "otlp-cert", "otlp-key", "otlp-insecure",
	"otlp-no-verify",
	"cpu-profile", "mem-profile", "trace-profile",
};

/*
 * -extensions-path naming only empty directories loads nothing, as in rqlite, so it
 * needs no extension support. Each comma-separated path must be an openable directory
 * without entries other than "." and "..".
 */
static bool
config_extensions_all_empty(const char *paths)
{
	char *copy = strdup(paths), *save = NULL;
	bool empty = copy != NULL;

	for (char *p = copy ? strtok_r(copy, ",", &save) : NULL; p != NULL && empty;
	    p = strtok_r(NULL, ",", &save)) {
		DIR *d = opendir(p);
		struct dirent *de;

		if (d == NULL) {
			empty = false;
			break;
		}
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
				empty = false;
				break;
			}
		closedir(d);
	}
	free(copy);
	return empty;
}

/* A flag "asks for" its feature when it holds a non-empty string or true. */
static bool
config_flag_requested(const struct rqlited_config *cfg, const char *name)
{
	const struct config_flag *f = config_lookup(name, strlen(name), NULL);

	if (f == NULL)
		return false;
	switch (f->type) {
	case CONFIG_STRING:
		return (*(char *const *)config_cfield(cfg, f))[0] != '\0';
	case CONFIG_BOOL:
		return *(const bool *)config_cfield(cfg, f);
	default:
		return false;
	}
}

int
config_unsupported(const struct rqlited_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(config_unsupported_features) / sizeof(char *); i++) {
		const char *name = config_unsupported_features[i];
		if (strcmp(name, "extensions-path") == 0 &&
		    config_extensions_all_empty(cfg->extensions_path))
			continue;
		if (config_flag_requested(cfg, name)) {
			config_err(err, errlen, "flag -%s is not supported by this rqlited yet", name);
			return -1;
		}
	}
	return 0;
}

/* ---- printing, comparing, serialising ---------------------------------------- */

/* The flag's value in command-line syntax. */
static void
config_format_value(const struct rqlited_config *cfg, const struct config_flag *f,
    char *buf, size_t len)
{
	const void *field = config_cfield(cfg, f);

	switch (f->type) {
	case CONFIG_STRING:
	case CONFIG_ROLE: {
		const char *s = *(char *const *)field;
		snprintf(buf, len, "%s", s != NULL ? s : "");
		break;
	}
	case CONFIG_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false");
		break;
	case CONFIG_BOOL_NOT:
		snprintf(buf, len, "%s", *(const bool *)field ? "false" : "true");
		break;
	case CONFIG_INT:
		snprintf(buf, len, "%d", *(const int *)field);
		break;
	case CONFIG_UINT64:
		snprintf(buf, len, "%" PRIu64, *(const uint64_t *)field);
		break;
	case CONFIG_DURATION:
		duration_format(*(const int64_t *)field, buf, len);
		break;
	}
}

static bool
config_field_equal(const struct rqlited_config *a, const struct rqlited_config *b,
    const struct config_flag *f)
{
	const void *fa = config_cfield(a, f), *fb = config_cfield(b, f);

	switch (f->type) {
	case CONFIG_STRING:
	case CONFIG_ROLE: {
		const char *sa = *(char *const *)fa, *sb = *(char *const *)fb;
		if (sa == NULL || sb == NULL)
			return sa == sb;
		return strcmp(sa, sb) == 0;
	}
	case CONFIG_BOOL:
	case CONFIG_BOOL_NOT:
		return *(const bool *)fa == *(const bool *)fb;
	case CONFIG_INT:
		return *(const int *)fa == *(const int *)fb;
	case CONFIG_UINT64:
		return *(const uint64_t *)fa == *(const uint64_t *)fb;
	case CONFIG_DURATION:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	}
	return false;
}

bool
config_equal(const struct rqlited_config *a, const struct rqlited_config *b)
{
	if (strcmp(a->data_dir, b->data_dir) != 0)
		return false;
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		if (!config_field_equal(a, b, &config_flags[i]))
			return false;
	}
	return true;
}

void
config_usage(FILE *out)
{
	struct rqlited_config def;

	config_init(&def);
	fprintf(out, "\nrqlite-c is rqlite, the distributed relational database built on SQLite "
	    "and Raft,\nreimplemented in C.\n\nUsage: rqlited [flags] <data directory>\n");
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		const struct config_flag *f = &config_flags[i];
		const char *type = "";
		char val[DURATION_FMT_MAX + 256];
		bool zero;

		if (f->flags & CONFIG_F_HIDDEN)
			continue;
		switch (f->type) {
		case CONFIG_STRING: type = "string"; break;
		case CONFIG_INT: type = "int"; break;
		case CONFIG_UINT64: type = "uint"; break;
		case CONFIG_DURATION: type = "duration"; break;
		default: break;
		}
		/* Like Go: one-letter booleans keep their help on the same line. */
		int n = fprintf(out, "  -%s%s%s", f->name, type[0] ? " " : "", type);
		fputs(n <= 4 ? "\t" : "\n    \t", out);
		fputs(f->help, out);

		/* Defaults print as the value's own String(), and only when not the zero value. */
		config_format_value(&def, f, val, sizeof(val));
		zero = val[0] == '\0' || strcmp(val, "false") == 0 || strcmp(val, "0") == 0 ||
		    strcmp(val, "0s") == 0;
		if (f->type == CONFIG_BOOL_NOT)
			zero = true;	/* an alias shows no default of its own */
		if (!zero) {
			if (f->type == CONFIG_STRING)
				fprintf(out, " (default \"%s\")", val);
			else
				fprintf(out, " (default %s)", val);
		}
		fputc('\n', out);
	}
	config_free(&def);
}

void
config_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

int
config_to_argv(const struct rqlited_config *cfg, const char *role, char ***argv_out)
{
	struct rqlited_config def;
	char **argv;
	int argc = 0;

	/* program name, role, every flag, "--", data dir, NULL */
	argv = calloc(CONFIG_NFLAGS + 5, sizeof(char *));
	if (argv == NULL)
		return -1;
	config_init(&def);
	argv[argc++] = config_strdup("rqlited");
	if (role == NULL)
		role = cfg->role;
	if (role != NULL) {
		if (asprintf(&argv[argc++], "-P=%s", role) == -1)
			goto fail;
	}
	for (size_t i = 0; i < CONFIG_NFLAGS; i++) {
		const struct config_flag *f = &config_flags[i];
		char val[4096];

		/* -mem is spelled -on-disk=false; version and role are not the child's business. */
		if ((f->flags & CONFIG_F_NOSERIAL) || f->type == CONFIG_BOOL_NOT)
			continue;
		if (!cfg->set[i] && config_field_equal(cfg, &def, f))
			continue;
		config_format_value(cfg, f, val, sizeof(val));
		if (f->type == CONFIG_STRING &&
		    strlen(*(char *const *)config_cfield(cfg, f)) >= sizeof(val)) {
			/* Too long for the buffer: format straight from the field. */
			if (asprintf(&argv[argc++], "-%s=%s", f->name,
			    *(char *const *)config_cfield(cfg, f)) == -1)
				goto fail;
			continue;
		}
		if (asprintf(&argv[argc++], "-%s=%s", f->name, val) == -1)
			goto fail;
	}
	argv[argc++] = config_strdup("--");
	argv[argc++] = config_strdup(cfg->data_dir);
	argv[argc] = NULL;
	config_free(&def);
	*argv_out = argv;
	return argc;
fail:
	argv[argc - 1] = NULL;	/* asprintf left it undefined */
	config_argv_free(argv);
	config_free(&def);
	return -1;
}
