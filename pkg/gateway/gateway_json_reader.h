/*
 * A JSON reader that follows Go's encoding/json (gateway_json_reader.c), for the
 * request body parser. Values are read into a tree of struct gateway_jv; the reader
 * is a cursor over the text that the caller may also move itself, token by token.
 */
#ifndef RQ_GATEWAY_JSON_READER_H
#define RQ_GATEWAY_JSON_READER_H

#include <stdbool.h>
#include <stddef.h>

/* Nesting deeper than this is invalid JSON here: it bounds the reader's recursion. */
#define GATEWAY_JSON_MAX_DEPTH	1000

enum gateway_jv_type {
	GATEWAY_JV_STR, GATEWAY_JV_NUM, GATEWAY_JV_TRUE, GATEWAY_JV_FALSE, GATEWAY_JV_NULL,
	GATEWAY_JV_ARR, GATEWAY_JV_OBJ,
};

/* One value; everything it points to is owned and freed by gateway_jv_free(). */
struct gateway_jv {
	enum gateway_jv_type	 t;
	char			*s;		/* STR: decoded bytes; NUM: literal text */
	size_t			 len;
	char			*key;		/* when a member of an object */
	size_t			 keylen;
	struct gateway_jv	*kids;		/* ARR elements, OBJ members */
	size_t			 nkids;
};

/* The text being read and the position in it; oom is set when an allocation failed
 * (the caller answers "out of memory" rather than a syntax error). */
struct gateway_jreader {
	const char	*s;
	size_t		 n;
	size_t		 i;
	bool		 oom;
};

/* Frees what v owns and zeroes it. */
void	gateway_jv_free(struct gateway_jv *v);

/* Skips JSON whitespace at p->i. */
void	gateway_jreader_ws(struct gateway_jreader *p);

/* The string at p->i (which is '"'), decoded as Go's json unquote does, into a new
 * NUL-terminated *out of *outlen bytes (NULs included). 0, or -1 (bad text, or oom). */
int	gateway_jreader_string(struct gateway_jreader *p, char **out, size_t *outlen);

/* One complete value at p->i (whitespace already skipped), nested depth deep, into v
 * (zeroed by the caller; partly filled on error, so free it either way). 0 or -1. */
int	gateway_jreader_value(struct gateway_jreader *p, struct gateway_jv *v, int depth);

/* Appends a zeroed element to v's kids (cap is v's capacity, kept by the caller) and
 * points *slot at it. 0, or -1 with p->oom set. */
int	gateway_jreader_push(struct gateway_jreader *p, struct gateway_jv *v, size_t *cap,
	    struct gateway_jv **slot);

#endif
