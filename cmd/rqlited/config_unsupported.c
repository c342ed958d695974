/*
 * Flags accepted for compatibility with rqlite whose feature this rqlited does not
 * have yet (TLS, discovery, auto-backup/restore, CDC, extensions, OTLP,
 * profiles, -raft-remove-shutdown): asking for one refuses to start.
 */
#include "config_int.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/*
 * Flags accepted for compatibility whose feature does not exist yet: asking for one
 * stops start-up, so that no flag is silently ignored.
 */
static const char *const config_unsupported_features[] = {
	"node-cert", "node-key", "node-ca-cert", "node-no-verify", "node-verify-client",
	"node-verify-common-name", "node-verify-server-name",
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
