/*
 * Storage's result map (docs/wire-formats.md "Results") rendered as rqlite's JSON
 * response (API.md §1.4), byte for byte:
 *
 *   {"results":[…],"error":"…","time":0.01,"sequence_number":N,"raft_index":N}
 *
 * in that key order (rqlite's Response struct), each key but "results" omitted
 * when empty/zero. Each result follows rqlite's encoding structs:
 *   execute form  {"last_insert_id":1,"rows_affected":1,"time":…}
 *                 (+ "rows":null with associative)
 *   query form    {"columns":[…],"types":[…],"values":[[…]],"error":…,"time":…}
 *   associative   {"types":{sorted…},"rows":[{sorted…}],"error":…,"time":…}
 *   failed stmt   {"error":"…"}   (a result with `e` and no `x`, outside /db/query)
 * Values are written as gateway_render_value.h says; a value that cannot be (a year
 * outside 0..9999) turns the whole result into {"error":"…"} as in rqlite.
 */
#ifndef RQ_GATEWAY_RENDER_H
#define RQ_GATEWAY_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "json_writer.h"

#define GATEWAY_RENDER_ERR_MAX	128

struct gateway_render_opts {
	bool	 pretty;		/* only read by gateway_render_to_buffer */
	bool	 timings;		/* ?timings: per-result and top-level "time" */
	bool	 associative;
	bool	 blob_array;
	bool	 qualify_columns;	/* use `q` instead of `c` for column names */
	/*
	 * The results come from /db/query (a QUERY, or a kind-2 command through
	 * the log): every result is rendered in the query form, an error as
	 * {"error":…} or, associative, {"rows":[],"error":…}. Otherwise
	 * (execute, request) a result is in the query form only if it has `x`.
	 */
	bool	 is_query;
	double	 total_time;		/* seconds; written when timings and non-zero */
	uint64_t raft_index;		/* written when non-zero (pass 0 without ?raft_index) */
	int64_t	 sequence_number;	/* queued writes; written when non-zero */
};

/*
 * Writes the whole top-level object for storage's result map res (`r`, `e`; `w`
 * is ignored) into w. A result map with a request-level `e` renders as
 * {"results":[],"error":e,…}. res may be NULL (= no results, e.g. a queued write).
 * Returns 0, or -1 with err set when res is malformed (not a map, `r` not an
 * array…) or a number is NaN/Inf (rqlite's 500 text, `json: error calling
 * MarshalJSON for type *http.DBResults: json: unsupported value: +Inf`); w's
 * content is then unusable. GATEWAY_RENDER_ERR_MAX fits every message.
 */
int	gateway_render_response(const msgpack_object *res, const struct gateway_render_opts *o,
	    struct json_writer *w, char *err, size_t errlen);

/*
 * {"results":[],"error":msg} (+ "time"/"raft_index"/"sequence_number" per o), for
 * request-level failures the gateway finds itself (e.g. "disallowed pragma",
 * "stale read", "leader not found" after dispatch).
 */
void	gateway_render_error(const char *msg, const struct gateway_render_opts *o,
	    struct json_writer *w);

/* Convenience: init a writer with o->pretty, render, and hand back the buffer. */
int	gateway_render_to_buffer(const msgpack_object *res, const struct gateway_render_opts *o,
	    char **out, size_t *out_len, char *err, size_t errlen);

#endif
