/*
 * One value of a query result as rqlite's JSON writes it (gateway_render_value.c):
 * int → integer, float → Go float text, str → string, nil → null, bin → base64
 * (std, padded) or a byte array with blob_array; declared type `boolean` with an int
 * → true/false; `date`/`datetime`/`timestamp` with an int (seconds, or ms when
 * |v| > 1e12) or a str (mattn/go-sqlite3's layouts) → RFC 3339 text, unparseable
 * text → "0001-01-01T00:00:00Z"; a year outside 0..9999 is an error
 * ("Time.MarshalText: year outside of range [0,9999]").
 */
#ifndef RQ_GATEWAY_RENDER_VALUE_H
#define RQ_GATEWAY_RENDER_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "json_writer.h"

/*
 * Writes v, a value of a column with declared type decltype (lower-case, may be
 * NULL), into w. Returns 0, or -1 with err for a date outside year 0..9999 or with a
 * timezone hour outside 0..23, or a msgpack type storage never sends.
 */
int	gateway_render_value(struct json_writer *w, const msgpack_object *v, const char *decltype,
	    size_t decltype_len, bool blob_array, char *err, size_t errlen);

/* Standard base64 with padding; returns malloc'd NUL-terminated text or NULL. */
char	*gateway_base64(const unsigned char *p, size_t len, size_t *out_len);

#endif
