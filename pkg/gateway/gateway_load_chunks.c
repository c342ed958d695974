/*
 * A SQLite file larger than GW_LOAD_CHUNK is proposed as a sequence of LOAD_CHUNK
 * entries (kind 7, docs/wire-formats.md), one at a time: the next chunk is proposed
 * when the previous one is applied, so at most one chunk of the file is in flight and
 * log entries stay small enough to replicate without stalling heartbeats. Every node's
 * storage stages the chunks and loads the file when the last one is applied
 * (pkg/storage/storage_load_chunks.c). A chunk that fails (leader lost, timeout) ends
 * the request with that error; storage drops the unfinished sequence.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "gateway_internal.h"
#include "gateway_load.h"

static void gw_load_chunk_send(struct gw_req *r);

/* True when a chunk's answer is an error or its result map holds one. */
static bool
gw_load_chunk_failed(struct ipc_msg *m)
{
	const char *res;
	size_t len;
	char ebuf[8];

	return ipc_get(m, "e") != NULL || ipc_get_bin(m, "res", &res, &len) != IPC_OK ||
	    ipc_msgpack_validate(res, len) != 0 || gw_load_result_failed(res, len, ebuf, sizeof(ebuf));
}

static void
gw_load_chunk_cb(struct gw_req *r, struct ipc_msg *m)
{
	struct gw_load_ctx *lc = r->ctx.load;

	if (m == NULL || gw_load_chunk_failed(m) || lc->chunk_off >= r->body_total) {
		/* The last chunk's result, or a failure: the caller renders either. */
		if (m != NULL && lc->chunk_off < r->body_total)
			log_warnx("chunked load failed at %llu of %llu bytes",
			    (unsigned long long)lc->chunk_off, (unsigned long long)r->body_total);
		lc->on_done(r, m);
		return;
	}
	gw_load_chunk_send(r);
}

static void
gw_load_chunk_send(struct gw_req *r)
{
	struct gw_load_ctx *lc = r->ctx.load;
	uint64_t left = r->body_total - lc->chunk_off;
	size_t n = left < GW_LOAD_CHUNK ? (size_t)left : GW_LOAD_CHUNK;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *buf;

	if ((buf = malloc(n ? n : 1)) == NULL || gw_body_read(r, lc->chunk_off, buf, n) != 0) {
		free(buf);
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "the load failed: cannot read the upload");
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 8);
	msgpack_pack_str_with_body(&pk, "k", 1);
	msgpack_pack_uint32(&pk, IPC_CMD_LOAD_CHUNK);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, lc->chunk_id);
	msgpack_pack_str_with_body(&pk, "seq", 3);
	msgpack_pack_uint64(&pk, lc->chunk_seq);
	msgpack_pack_str_with_body(&pk, "off", 3);
	msgpack_pack_uint64(&pk, lc->chunk_off);
	msgpack_pack_str_with_body(&pk, "sz", 2);
	msgpack_pack_uint64(&pk, r->body_total);
	msgpack_pack_str_with_body(&pk, "crc", 3);
	msgpack_pack_uint32(&pk, r->body_crc);
	msgpack_pack_str_with_body(&pk, "last", 4);
	if (lc->chunk_off + n >= r->body_total)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	msgpack_pack_str_with_body(&pk, "d", 1);
	msgpack_pack_bin_with_body(&pk, buf, n);
	free(buf);
	gw_begin(r, IPC_PROPOSE);
	ipc_add_bin(&gw.w, "c", sb.data, sb.size);
	/* The last chunk loads the whole file on every node: ?timeout, not
	 * -raft-apply-timeout, bounds the wait. */
	ipc_add_u64(&gw.w, "at", (uint64_t)(r->params.timeout_ns / 1000000));
	msgpack_sbuffer_destroy(&sb);
	lc->chunk_seq++;
	lc->chunk_off += n;
	if (gw_send_wait(r, PROC_CONSENSUS, gw_load_chunk_cb, r->params.timeout_ns) != 0)
		lc->on_done(r, NULL);
}

void
gw_load_chunks_start(struct gw_req *r, gw_reply_fn *on_done)
{
	struct gw_load_ctx *lc = r->ctx.load;

	/* Names the sequence on every node; a new load with another id replaces it. */
	if (getrandom(&lc->chunk_id, sizeof(lc->chunk_id), 0) != (ssize_t)sizeof(lc->chunk_id)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		lc->chunk_id = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^
		    ((uint64_t)getpid() << 48);
	}
	lc->chunk_seq = 0;
	lc->chunk_off = 0;
	lc->on_done = on_done;
	log_info("loading a %llu-byte SQLite file in chunks of %u bytes",
	    (unsigned long long)r->body_total, GW_LOAD_CHUNK);
	gw_load_chunk_send(r);
}
