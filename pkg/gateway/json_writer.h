/*
 * A streaming JSON writer into one growable buffer, producing the same bytes as
 * Go's encoding/json (json.Marshal, or json.MarshalIndent(v, "", "    ") in pretty
 * mode), because rqlite's clients compare responses byte for byte.
 *
 *   struct json_writer w;
 *   json_writer_init(&w, pretty);
 *   json_writer_object_begin(&w);
 *   json_writer_key(&w, "results");
 *   json_writer_array_begin(&w);
 *   json_writer_array_end(&w);
 *   json_writer_object_end(&w);
 *   if (json_writer_failed(&w)) ... out of memory or a NaN/Inf was written
 *   send(w.buf, w.len); json_writer_free(&w);
 *
 * Commas, ": " and indentation are inserted by the writer; the caller only says
 * what comes next. Strings are escaped as Go does with HTML escaping on:
 * `<` `>` `&` → \u003c \u003e \u0026, U+2028/U+2029 → \u2028/\u2029, invalid
 * UTF-8 → U+FFFD (one per bad byte, as Go), \b \f \n \r \t short, other control
 * characters \u00XX, DEL and everything else verbatim.
 * No output ends with a newline (json.Marshal adds none).
 */
#ifndef RQ_GATEWAY_JSON_WRITER_H
#define RQ_GATEWAY_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_WRITER_MAX_DEPTH	64

struct json_writer {
	char	*buf;		/* NUL-terminated when len > 0; owned */
	size_t	 len;
	size_t	 cap;
	bool	 pretty;
	bool	 oom;		/* an allocation failed; output is incomplete */
	bool	 bad_number;	/* NaN or ±Inf was written (Go refuses: 500) */
	char	 bad_text[8];	/* Go's name of it: "NaN", "+Inf", "-Inf" */
	int	 depth;
	bool	 after_key;	/* a key was written, its value comes next */
	/* per open container: has it got an element yet */
	bool	 nonempty[JSON_WRITER_MAX_DEPTH];
};

/* A point to rewind to, e.g. to replace a half-written result by an error. */
struct json_writer_mark {
	size_t	len;
	int	depth;
	bool	after_key;
	bool	nonempty_top;
	bool	nonempty_parent;
};

void	json_writer_init(struct json_writer *w, bool pretty);
void	json_writer_free(struct json_writer *w);
/* Takes the buffer (malloc'd, NUL-terminated, may be NULL when empty); resets w. */
char	*json_writer_steal(struct json_writer *w, size_t *len);
/* True after an allocation failure or a NaN/Inf number: do not send the output. */
bool	json_writer_failed(const struct json_writer *w);

void	json_writer_object_begin(struct json_writer *w);
void	json_writer_object_end(struct json_writer *w);
void	json_writer_array_begin(struct json_writer *w);
void	json_writer_array_end(struct json_writer *w);

/* Object keys; escaped like strings. */
void	json_writer_key(struct json_writer *w, const char *key);
void	json_writer_key_n(struct json_writer *w, const char *key, size_t len);

void	json_writer_string(struct json_writer *w, const char *s);
void	json_writer_string_n(struct json_writer *w, const char *s, size_t len);
void	json_writer_int(struct json_writer *w, int64_t v);
void	json_writer_uint(struct json_writer *w, uint64_t v);
/* Go's float64 encoding; NaN/Inf set bad_number and write null. */
void	json_writer_double(struct json_writer *w, double v);
void	json_writer_bool(struct json_writer *w, bool v);
void	json_writer_null(struct json_writer *w);
/*
 * A value that is already valid compact JSON (a scalar, or a container only in
 * compact mode; in pretty mode a raw container is not re-indented).
 */
void	json_writer_raw(struct json_writer *w, const char *json, size_t len);

void	json_writer_mark(const struct json_writer *w, struct json_writer_mark *m);
/* Drops everything written since the mark, restoring the writer's state. */
void	json_writer_rewind(struct json_writer *w, const struct json_writer_mark *m);

/*
 * Formats v as Go's encoding/json does (shortest round-trip digits, 'f' form,
 * exponent form below 1e-6 and from 1e21 with a two-digit-minimum exponent
 * trimmed: 1e-07 → 1e-7, 1e+21 stays). buf needs 32 bytes. Returns the length,
 * or -1 for NaN/Inf.
 */
int	json_format_double(double v, char *buf);

/* Appends s to w escaped as a JSON string body, without the quotes. */
void	json_writer_escape(struct json_writer *w, const char *s, size_t len);

#endif
