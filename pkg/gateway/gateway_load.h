/*
 * A load of a whole database (gateway_load.c) and its chunked form for a large
 * SQLite file (gateway_load_chunks.c), which share the request's load context. Only
 * files under pkg/gateway include this.
 */
#ifndef RQ_GATEWAY_LOAD_H
#define RQ_GATEWAY_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway_internal.h"

/* A SQLite file larger than this goes through the log in chunks of this size. */
#define GW_LOAD_CHUNK	(4u * 1024 * 1024)

/* The route that asked: they answer a load that worked differently. */
enum gw_load_route {
	GW_LOAD_ROUTE_LOAD,		/* POST /db/load: {"results":[]} */
	GW_LOAD_ROUTE_BOOT,		/* POST /boot: 200 with an empty body */
};

/* A load between its steps (GW_CTX_LOAD). */
struct gw_load_ctx {
	enum gw_load_route route;
	enum ipc_cmd_kind kind;	/* LOAD_FILE (chunked or not) or LOAD_SQL */
	/* A file in chunks: the sequence's id on every node, the next chunk's number
	 * and offset in the body, and what answers the request at the end. */
	uint64_t chunk_id;
	uint64_t chunk_seq;
	uint64_t chunk_off;
	gw_reply_fn *on_done;
};

/*
 * Proposes r's body, a SQLite file of more than GW_LOAD_CHUNK bytes, as LOAD_CHUNK
 * entries one after the other. on_done gets the reply to the last chunk, or to the
 * first that failed, or NULL if consensus could not be reached. r holds a load
 * context.
 */
void gw_load_chunks_start(struct gw_req *r, gw_reply_fn *on_done);

/* A load's result map (validated msgpack) holds an error: true, with its text in ebuf. */
bool gw_load_result_failed(const char *res, size_t len, char *ebuf, size_t elen);

#endif
