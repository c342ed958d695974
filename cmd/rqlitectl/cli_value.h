/*
 * How rqlite's shell (a Go program decoding JSON with UseNumber) prints JSON values:
 * Go's %v text, Go's JSON number form, and json.MarshalIndent layout. Pure functions.
 */
#ifndef RQ_CLI_VALUE_H
#define RQ_CLI_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* A growable NUL-terminated string; all-zero is an empty one. */
struct cli_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void cli_buf_add(struct cli_buf *b, const char *s, size_t n);
void cli_buf_puts(struct cli_buf *b, const char *s);
void cli_buf_printf(struct cli_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_buf_free(struct cli_buf *b);
/* The text so far ("" when empty); owned by b. */
const char *cli_buf_str(const struct cli_buf *b);

/* A float64 as Go's encoding/json writes it: shortest round-trip digits, exponent
 * form only below 1e-6 or from 1e21 ("1e-7", "1e+21"). buf of 32 bytes suffices. */
void cli_value_format_real(double v, char *buf, size_t len);

/* Go's %v of a decoded value: strings bare, numbers as sent, "[a b]" arrays,
 * "map[k:v]" objects (keys sorted). JSON null prints as null_text. */
void cli_value_text(struct cli_buf *b, const json_t *v, const char *null_text);

/* A JSON string body as Go escapes it (<, >, & as \u003c…; U+2028/9 escaped). */
void cli_value_json_string(struct cli_buf *b, const char *s, size_t len);

/* json.MarshalIndent(v, "", indent) of v: object keys sorted, Go escaping. depth is
 * the current nesting level (0 at the top). */
void cli_value_json_indent(struct cli_buf *b, const json_t *v, const char *indent, int depth);

/* Compact JSON of v with Go's number and string forms, members in their order. */
void cli_value_json_compact(struct cli_buf *b, const json_t *v);

/* The object's keys, sorted bytewise (Go's map order); free() the array, not the keys.
 * *n_out gets the count. NULL on empty or no memory. */
const char **cli_value_sorted_keys(const json_t *obj, size_t *n_out);

#endif
