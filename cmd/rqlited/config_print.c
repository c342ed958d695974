/*
 * rqlited's flags written out: the usage text (Go's PrintDefaults layout), comparing two
 * configurations, and the argv the supervisor re-executes itself with for a role
 * (every flag that is set or differs from its default, in command-line syntax).
 */
#include "config_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

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
	for (size_t i = 0; i < config_nflags; i++) {
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
	for (size_t i = 0; i < config_nflags; i++) {
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
	argv = calloc(config_nflags + 5, sizeof(char *));
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
	for (size_t i = 0; i < config_nflags; i++) {
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
