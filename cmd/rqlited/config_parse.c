/*
 * rqlited's command line in Go's `flag` package syntax (-flag, --flag, -flag=value,
 * -flag value except for booleans, "--" ends the flags, -h/-help), values parsed as
 * Go's strconv does (bases, '_' separators, ranges) and the error texts Go prints, so
 * that users see rqlite's behaviour and messages.
 */
#include "config_int.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"
#include "common/log.h"

static const char *const config_roles[] = { "gateway", "consensus", "storage" };

/* Errors of Go's flag values, quoted after "invalid value … for flag -x: ". */
static const char config_err_parse[] = "parse error";
static const char config_err_range[] = "value out of range";

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
const char *
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
