/*
 * gateway_params: the query string of every request, decoded as Go's
 * url.ParseQuery and validated as rqlite's NewQueryParams, so 400 texts and the
 * order of checks match rqlite.
 */
#include "gateway_params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/duration.h"

static int
gp_unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* strconv.Quote of a short byte string, for Go's EscapeError text. */
static void
gp_quote(const char *s, size_t n, char *out, size_t outlen)
{
	size_t j = 0;

	if (outlen < 4)
		return;
	out[j++] = '"';
	for (size_t i = 0; i < n && j + 6 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[j++] = '\\';
			out[j++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			out[j++] = (char)c;
		} else {
			j += (size_t)snprintf(out + j, outlen - j, "\\x%02x", c);
		}
	}
	out[j++] = '"';
	out[j] = '\0';
}

char *
gateway_query_unescape(const char *s, size_t len, size_t *out_len, char *err, size_t errlen)
{
	char *out = malloc(len + 1);
	size_t j = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < len ? gp_unhex(s[i + 1]) : -1;
			int lo = i + 2 < len ? gp_unhex(s[i + 2]) : -1;

			if (hi < 0 || lo < 0) {
				/* Go quotes at most three bytes from the '%' */
				char q[32];
				size_t rest = len - i;

				gp_quote(s + i, rest > 3 ? 3 : rest, q, sizeof(q));
				snprintf(err, errlen, "invalid URL escape %s", q);
				free(out);
				return NULL;
			}
			out[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+') {
			out[j++] = ' ';
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	if (out_len != NULL)
		*out_len = j;
	return out;
}

/* Go's strconv.Atoi: optional sign, decimal digits, fits in int64. */
static int
gp_atoi(const char *s, int64_t *v)
{
	const char *p = s;
	uint64_t acc = 0, lim;
	bool neg = false;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (*p == '\0')
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (acc > (lim - (uint64_t)(*p - '0')) / 10)
			return -1;
		acc = acc * 10 + (uint64_t)(*p - '0');
	}
	*v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 0;
}

struct gp_pair {
	char	*key;
	char	*val;
};

static const char *
gp_find(struct gp_pair *pairs, size_t n, const char *key)
{
	/* first value wins, as url.Values.Get / v[0] */
	for (size_t i = 0; i < n; i++)
		if (strcmp(pairs[i].key, key) == 0)
			return pairs[i].val;
	return NULL;
}

static enum gateway_level
gp_level(const char *s)
{
	if (s == NULL)
		return GATEWAY_LEVEL_WEAK;
	if (strcasecmp(s, "none") == 0)
		return GATEWAY_LEVEL_NONE;
	if (strcasecmp(s, "strong") == 0)
		return GATEWAY_LEVEL_STRONG;
	if (strcasecmp(s, "auto") == 0)
		return GATEWAY_LEVEL_AUTO;
	if (strcasecmp(s, "linearizable") == 0)
		return GATEWAY_LEVEL_LINEARIZABLE;
	return GATEWAY_LEVEL_WEAK;
}

const char *
gateway_level_name(enum gateway_level level)
{
	switch (level) {
	case GATEWAY_LEVEL_NONE: return "none";
	case GATEWAY_LEVEL_WEAK: return "weak";
	case GATEWAY_LEVEL_LINEARIZABLE: return "linearizable";
	case GATEWAY_LEVEL_STRONG: return "strong";
	case GATEWAY_LEVEL_AUTO: return "auto";
	}
	return "unknown";
}

static char *
gp_dup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

void
gateway_params_free(struct gateway_params *p)
{
	free(p->q);
	free(p->key);
	free(p->ver);
	free(p->tables);
	free(p->level_str);
	p->q = p->key = p->ver = p->tables = p->level_str = NULL;
}

static void
gp_free_pairs(struct gp_pair *pairs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(pairs[i].key);
		free(pairs[i].val);
	}
	free(pairs);
}

int
gateway_params_parse(const char *raw, struct gateway_params *p, char *err, size_t errlen)
{
	struct gp_pair *pairs = NULL;
	size_t npairs = 0, cap = 0;
	const char *s = raw != NULL ? raw : "", *v;
	char first_err[GATEWAY_PARAMS_ERR_MAX];

	memset(p, 0, sizeof(*p));
	first_err[0] = '\0';
	err[0] = '\0';

	/* url.ParseQuery: split on '&', keep going after errors, report the first. */
	while (*s != '\0') {
		const char *amp = strchr(s, '&');
		size_t seglen = amp ? (size_t)(amp - s) : strlen(s);
		const char *eq;
		size_t klen;
		char *k, *val, e[GATEWAY_PARAMS_ERR_MAX];

		if (memchr(s, ';', seglen) != NULL) {
			if (first_err[0] == '\0')
				snprintf(first_err, sizeof(first_err),
				    "invalid semicolon separator in query");
			goto next;
		}
		if (seglen == 0)
			goto next;
		eq = memchr(s, '=', seglen);
		klen = eq ? (size_t)(eq - s) : seglen;
		k = gateway_query_unescape(s, klen, NULL, e, sizeof(e));
		if (k == NULL) {
			if (e[0] == '\0')
				goto oom;
			if (first_err[0] == '\0')
				snprintf(first_err, sizeof(first_err), "%s", e);
			goto next;
		}
		val = eq ? gateway_query_unescape(eq + 1, seglen - klen - 1, NULL, e, sizeof(e)) :
		    strdup("");
		if (val == NULL) {
			free(k);
			if (eq != NULL && e[0] == '\0')
				goto oom;
			if (eq == NULL)
				goto oom;
			if (first_err[0] == '\0')
				snprintf(first_err, sizeof(first_err), "%s", e);
			goto next;
		}
		if (npairs == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct gp_pair *np = realloc(pairs, nc * sizeof(*np));

			if (np == NULL) {
				free(k);
				free(val);
				goto oom;
			}
			pairs = np;
			cap = nc;
		}
		pairs[npairs].key = k;
		pairs[npairs].val = val;
		npairs++;
next:
		s += seglen;
		if (*s == '&')
			s++;
	}
	if (first_err[0] != '\0') {
		snprintf(err, errlen, "%s", first_err);
		goto fail;
	}

#define FLAG(name) p->name = gp_find(pairs, npairs, #name) != NULL
	FLAG(pretty); FLAG(timings); FLAG(transaction); FLAG(associative);
	FLAG(blob_array); FLAG(qualify_columns); FLAG(freshness_strict);
	FLAG(redirect); FLAG(raft_index); FLAG(queue); FLAG(wait); FLAG(noleader);
	FLAG(norwrandom); FLAG(norwtime); FLAG(noparse); FLAG(vacuum);
	FLAG(compress); FLAG(nonvoters); FLAG(sync); FLAG(bypass);
#undef FLAG

	if (p->freshness_strict && gp_find(pairs, npairs, "freshness") == NULL) {
		snprintf(err, errlen, "freshness_strict requires freshness");
		goto fail;
	}

	p->timeout_ns = GATEWAY_DEFAULT_TIMEOUT_NS;
	p->linearizable_timeout_ns = GATEWAY_DEFAULT_LINEARIZABLE_TIMEOUT_NS;
	{
		static const char *dnames[] = { "timeout", "freshness", "db_timeout",
		    "linearizable_timeout" };
		int64_t *dst[] = { &p->timeout_ns, &p->freshness_ns, &p->db_timeout_ns,
		    &p->linearizable_timeout_ns };
		bool *has[] = { &p->has_timeout, &p->has_freshness, &p->has_db_timeout,
		    &p->has_linearizable_timeout };

		for (int i = 0; i < 4; i++) {
			if ((v = gp_find(pairs, npairs, dnames[i])) == NULL)
				continue;
			if (duration_parse(v, dst[i]) == -1) {
				snprintf(err, errlen, "%s is not a valid duration", dnames[i]);
				goto fail;
			}
			*has[i] = true;
		}
	}
	{
		static const char *inames[] = { "retries", "trailing_logs" };
		int64_t *dst[] = { &p->retries, &p->trailing_logs };
		bool *has[] = { &p->has_retries, &p->has_trailing_logs };

		for (int i = 0; i < 2; i++) {
			if ((v = gp_find(pairs, npairs, inames[i])) == NULL)
				continue;
			if (gp_atoi(v, dst[i]) == -1) {
				snprintf(err, errlen, "%s is not a valid integer", inames[i]);
				goto fail;
			}
			*has[i] = true;
		}
	}
	if ((v = gp_find(pairs, npairs, "q")) != NULL && v[0] == '\0') {
		snprintf(err, errlen, "query parameter not set");
		goto fail;
	}

	v = gp_find(pairs, npairs, "level");
	p->level = gp_level(v);
	if ((v = gp_find(pairs, npairs, "fmt")) != NULL) {
		if (strcasecmp(v, "sql") == 0)
			p->fmt = GATEWAY_BACKUP_SQL;
		else if (strcasecmp(v, "delete") == 0)
			p->fmt = GATEWAY_BACKUP_DELETE;
	}
	errno = 0;
	p->q = gp_dup(gp_find(pairs, npairs, "q"));
	p->key = gp_dup(gp_find(pairs, npairs, "key"));
	p->ver = gp_dup(gp_find(pairs, npairs, "ver"));
	p->tables = gp_dup(gp_find(pairs, npairs, "tables"));
	p->level_str = gp_dup(gp_find(pairs, npairs, "level"));
	if (errno == ENOMEM)
		goto oom;
	gp_free_pairs(pairs, npairs);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	gp_free_pairs(pairs, npairs);
	gateway_params_free(p);
	memset(p, 0, sizeof(*p));
	return -1;
}
