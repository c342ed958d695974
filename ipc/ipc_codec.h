/*
 * Frames: a 4-byte big-endian length, then the msgpack array [type, request_id, body],
 * where body is a map with short string keys. This module is the only code that builds
 * or reads frames; everybody else uses ipc_add_*() and ipc_get_*().
 */
#ifndef RQ_IPC_CODEC_H
#define RQ_IPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "ipc_msg.h"

/* Hard limit on one frame; a longer length prefix closes the link. */
#define IPC_FRAME_MAX	(64u * 1024 * 1024)

enum ipc_err {
	IPC_OK = 0,
	IPC_ERR_TOO_BIG = -1,	/* frame length over IPC_FRAME_MAX */
	IPC_ERR_MSGPACK = -2,	/* not one complete msgpack object */
	IPC_ERR_SHAPE = -3,	/* not [uint, uint, map] */
	IPC_ERR_TYPE = -4,	/* type not in the catalogue */
	IPC_ERR_NOKEY = -5,	/* field absent */
	IPC_ERR_FIELD = -6,	/* field present with the wrong msgpack type */
};
const char *ipc_strerror(int code);

/*
 * Building a frame: ipc_begin(), any number of ipc_add_*(), ipc_finish().
 * The frame is then w->sb.data / w->sb.size (length prefix included).
 * A writer may be reused after ipc_writer_reset().
 */
struct ipc_msg;
struct ipc_writer {
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t map_pos;		/* offset of the map16 header, patched by ipc_finish */
	uint32_t nfields;
};
void ipc_writer_init(struct ipc_writer *w);
void ipc_writer_reset(struct ipc_writer *w);
void ipc_writer_destroy(struct ipc_writer *w);
void ipc_begin(struct ipc_writer *w, enum ipc_type type, uint64_t request_id);
void ipc_add_u64(struct ipc_writer *w, const char *key, uint64_t v);
void ipc_add_i64(struct ipc_writer *w, const char *key, int64_t v);
void ipc_add_f64(struct ipc_writer *w, const char *key, double v);
void ipc_add_bool(struct ipc_writer *w, const char *key, bool v);
void ipc_add_str(struct ipc_writer *w, const char *key, const char *s);
void ipc_add_strn(struct ipc_writer *w, const char *key, const char *s, size_t n);
void ipc_add_bin(struct ipc_writer *w, const char *key, const void *p, size_t n);
/* Adds a field whose value the caller packs next with w->pk (exactly one object). */
void ipc_add_key(struct ipc_writer *w, const char *key);
/* Adds every field of m's body (keys shorter than 16 bytes) to the frame being built:
 * relays an answer under another message type. */
void ipc_copy_fields(struct ipc_writer *w, const struct ipc_msg *m);
void ipc_finish(struct ipc_writer *w);

/*
 * Nested values: after ipc_add_key(), one value made of these (an array or map counts
 * its elements; a map element is one ipc_pack_kv_*() or a key then a value).
 */
void ipc_pack_array(struct ipc_writer *w, uint32_t n);
void ipc_pack_map(struct ipc_writer *w, uint32_t n);
void ipc_pack_str(struct ipc_writer *w, const char *s);
void ipc_pack_strn(struct ipc_writer *w, const char *s, size_t n);
void ipc_pack_u64(struct ipc_writer *w, uint64_t v);
void ipc_pack_kv_str(struct ipc_writer *w, const char *key, const char *s);
void ipc_pack_kv_bool(struct ipc_writer *w, const char *key, bool v);
void ipc_pack_kv_u64(struct ipc_writer *w, const char *key, uint64_t v);
void ipc_pack_kv_f64(struct ipc_writer *w, const char *key, double v);

/*
 * Reading: ipc_decode() takes the bytes after the length prefix. Strings and binaries
 * returned by ipc_get_*() point into that buffer: keep it alive while using them.
 */
struct ipc_msg {
	enum ipc_type type;
	uint64_t request_id;
	const msgpack_object_map *body;
	msgpack_unpacked un;
};
int ipc_decode(const char *payload, size_t len, struct ipc_msg *m);
void ipc_msg_destroy(struct ipc_msg *m);
/* Keeps a received message for later as a frame in out (initialised by the caller):
 * ipc_decode(ipc_frame_payload(out), ipc_frame_payload_len(out), …) reads it back. 0 or -1. */
int ipc_msg_save(const struct ipc_msg *m, struct ipc_writer *out);
/* Copies the finished frame of src into dst (initialised by the caller). */
void ipc_writer_copy(struct ipc_writer *dst, const struct ipc_writer *src);
/* The bytes of a finished frame after its length prefix. */
const char *ipc_frame_payload(const struct ipc_writer *w);
size_t ipc_frame_payload_len(const struct ipc_writer *w);

const msgpack_object *ipc_get(const struct ipc_msg *m, const char *key);
int ipc_get_u64(const struct ipc_msg *m, const char *key, uint64_t *out);
int ipc_get_i64(const struct ipc_msg *m, const char *key, int64_t *out);
int ipc_get_f64(const struct ipc_msg *m, const char *key, double *out);
int ipc_get_bool(const struct ipc_msg *m, const char *key, bool *out);
int ipc_get_str(const struct ipc_msg *m, const char *key, const char **s, size_t *n);
int ipc_get_bin(const struct ipc_msg *m, const char *key, const char **p, size_t *n);
/* Copies a str field into buf (NUL-terminated, truncated to len-1). */
int ipc_get_strbuf(const struct ipc_msg *m, const char *key, char *buf, size_t len);

/*
 * Checks that p[0..len) is exactly one well-formed msgpack object whose containers
 * claim no more elements than the bytes left could hold. msgpack-c's unpacker trusts
 * those counts and would try to allocate gigabytes for a forged header, so every
 * buffer from another process or from disk passes through here first. 0 or -1.
 */
int ipc_msgpack_validate(const char *p, size_t len);

/* Reads the big-endian length prefix from 4 bytes. */
uint32_t ipc_frame_len(const unsigned char *p);

#endif
