/*
 * Internals of rqlited's flags, shared by the parts of the configuration and nothing
 * else:
 *	config.c		the flag table, defaults, lookup, freeing
 *	config_parse.c		Go `flag` package syntax and strconv value parsing
 *	config_validate.c	rqlite's start-up checks and derived defaults
 *	config_unsupported.c	flags refused until their feature exists
 *	config_print.c		usage text, comparison, the argv a role is started with
 */
#ifndef RQ_CMD_RQLITED_CONFIG_INT_H
#define RQ_CMD_RQLITED_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

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

/* Every flag, sorted by name (config.c). */
extern const struct config_flag config_flags[];
extern const size_t config_nflags;

/* config.c */
/* The field of cfg that flag f stores into. */
void *config_field(struct rqlited_config *cfg, const struct config_flag *f);
const void *config_cfield(const struct rqlited_config *cfg, const struct config_flag *f);
/* strdup that cannot fail (fatal on out of memory). */
char *config_strdup(const char *s);
/* Replaces the string *field (owned) with a copy of value. */
void config_set_str(char **field, const char *value);
/* Formats into err (NULL or 0-length: nothing). */
void config_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The flag named by name[0..len), or NULL; its table index in *idx (may be NULL). */
const struct config_flag *config_lookup(const char *name, size_t len, size_t *idx);

/* config_parse.c */
/* Stores value into the flag's field; returns NULL or the error text Go's Value.Set gives. */
const char *config_set(struct rqlited_config *cfg, const struct config_flag *f,
    const char *value);

#endif
