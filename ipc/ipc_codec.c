/*
 * Frame encoder and decoder (see ipc_codec.h). Bodies are written as a map16 whose
 * count is patched at the end, so senders need not count their fields in advance.
 */
#include "ipc_codec.h"

#include <string.h>

static const struct ipc_msg_info {
	const char *name;
	unsigned from, to;
	enum ipc_type reply;
} ipc_catalogue[IPC_TYPE_MAX] = {
	[IPC_NONE] = { "NONE", 0, 0, IPC_NONE },
#define IPC_INFO_(name, from, to, reply, doc) [IPC_##name] = { #name, from, to, IPC_##reply },
	IPC_MESSAGES(IPC_INFO_)
#undef IPC_INFO_
};

const char *
ipc_type_name(unsigned type)
{
	if (type >= IPC_TYPE_MAX)
		return "unknown";
	return ipc_catalogue[type].name;
}

enum ipc_type
ipc_reply_type(unsigned type)
{
	return type < IPC_TYPE_MAX ? ipc_catalogue[type].reply : IPC_NONE;
}

bool
ipc_link_accepts(unsigned type, enum ipc_end from, enum ipc_end to)
{
	return type > IPC_NONE && type < IPC_TYPE_MAX &&
	    (ipc_catalogue[type].from & (unsigned)from) != 0 &&
	    (ipc_catalogue[type].to & (unsigned)to) != 0;
}

const char *
ipc_end_name(enum ipc_end e)
{
	switch (e) {
	case IPC_END_SV:	return "supervisor";
	case IPC_END_GW:	return "gateway";
	case IPC_END_CS:	return "consensus";
	case IPC_END_ST:	return "storage";
	case IPC_END_PEER:	return "peer";
	case IPC_END_ROLES:	break;
	}
	return "?";
}

const char *
ipc_strerror(int code)
{
	switch (code) {
	case IPC_OK:		return "ok";
	case IPC_ERR_TOO_BIG:	return "frame too big";
	case IPC_ERR_MSGPACK:	return "malformed msgpack";
	case IPC_ERR_SHAPE:	return "frame is not [type, id, map]";
	case IPC_ERR_TYPE:	return "unknown message type";
	case IPC_ERR_NOKEY:	return "missing field";
	case IPC_ERR_FIELD:	return "field of the wrong type";
	}
	return "unknown error";
}

void
ipc_writer_init(struct ipc_writer *w)
{
	msgpack_sbuffer_init(&w->sb);
	msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
	w->map_pos = 0;
	w->nfields = 0;
}

void
ipc_writer_reset(struct ipc_writer *w)
{
	w->sb.size = 0;
	w->map_pos = 0;
	w->nfields = 0;
}

void
ipc_writer_destroy(struct ipc_writer *w)
{
	msgpack_sbuffer_destroy(&w->sb);
}

void
ipc_begin(struct ipc_writer *w, enum ipc_type type, uint64_t request_id)
{
	static const char zero[4];
	static const char map16[3] = { (char)0xde, 0, 0 };

	ipc_writer_reset(w);
	msgpack_sbuffer_write(&w->sb, zero, sizeof(zero));
	msgpack_pack_array(&w->pk, 3);
	msgpack_pack_unsigned_int(&w->pk, (unsigned)type);
	msgpack_pack_uint64(&w->pk, request_id);
	w->map_pos = w->sb.size;
	msgpack_sbuffer_write(&w->sb, map16, sizeof(map16));
}

void
ipc_add_key(struct ipc_writer *w, const char *key)
{
	size_t n = strlen(key);
	msgpack_pack_str(&w->pk, n);
	msgpack_pack_str_body(&w->pk, key, n);
	w->nfields++;
}

void ipc_add_u64(struct ipc_writer *w, const char *k, uint64_t v) { ipc_add_key(w, k); msgpack_pack_uint64(&w->pk, v); }
void ipc_add_i64(struct ipc_writer *w, const char *k, int64_t v) { ipc_add_key(w, k); msgpack_pack_int64(&w->pk, v); }
void ipc_add_f64(struct ipc_writer *w, const char *k, double v) { ipc_add_key(w, k); msgpack_pack_double(&w->pk, v); }

void
ipc_add_bool(struct ipc_writer *w, const char *k, bool v)
{
	ipc_add_key(w, k);
	if (v)
		msgpack_pack_true(&w->pk);
	else
		msgpack_pack_false(&w->pk);
}

void
ipc_add_strn(struct ipc_writer *w, const char *k, const char *s, size_t n)
{
	ipc_add_key(w, k);
	msgpack_pack_str(&w->pk, n);
	msgpack_pack_str_body(&w->pk, s, n);
}

void
ipc_add_str(struct ipc_writer *w, const char *k, const char *s)
{
	ipc_add_strn(w, k, s, strlen(s));
}

void
ipc_add_bin(struct ipc_writer *w, const char *k, const void *p, size_t n)
{
	ipc_add_key(w, k);
	msgpack_pack_bin(&w->pk, n);
	msgpack_pack_bin_body(&w->pk, p, n);
}

void
ipc_pack_array(struct ipc_writer *w, uint32_t n)
{
	msgpack_pack_array(&w->pk, n);
}

void
ipc_pack_map(struct ipc_writer *w, uint32_t n)
{
	msgpack_pack_map(&w->pk, n);
}

void
ipc_pack_strn(struct ipc_writer *w, const char *s, size_t n)
{
	msgpack_pack_str_with_body(&w->pk, s, n);
}

void
ipc_pack_str(struct ipc_writer *w, const char *s)
{
	ipc_pack_strn(w, s, strlen(s));
}

void
ipc_pack_u64(struct ipc_writer *w, uint64_t v)
{
	msgpack_pack_uint64(&w->pk, v);
}

void
ipc_pack_kv_str(struct ipc_writer *w, const char *key, const char *s)
{
	ipc_pack_str(w, key);
	ipc_pack_str(w, s);
}

void
ipc_pack_kv_bool(struct ipc_writer *w, const char *key, bool v)
{
	ipc_pack_str(w, key);
	if (v)
		msgpack_pack_true(&w->pk);
	else
		msgpack_pack_false(&w->pk);
}

void
ipc_pack_kv_u64(struct ipc_writer *w, const char *key, uint64_t v)
{
	ipc_pack_str(w, key);
	msgpack_pack_uint64(&w->pk, v);
}

void
ipc_pack_kv_f64(struct ipc_writer *w, const char *key, double v)
{
	ipc_pack_str(w, key);
	msgpack_pack_double(&w->pk, v);
}

int
ipc_msg_save(const struct ipc_msg *m, struct ipc_writer *out)
{
	static const char zero[4];
	size_t n;

	ipc_writer_reset(out);
	msgpack_sbuffer_write(&out->sb, zero, sizeof(zero));
	if (msgpack_pack_object(&out->pk, m->un.data) != 0)
		return -1;
	n = out->sb.size - 4;
	out->sb.data[0] = (char)(n >> 24);
	out->sb.data[1] = (char)(n >> 16);
	out->sb.data[2] = (char)(n >> 8);
	out->sb.data[3] = (char)n;
	return 0;
}

void
ipc_writer_copy(struct ipc_writer *dst, const struct ipc_writer *src)
{
	ipc_writer_reset(dst);
	msgpack_sbuffer_write(&dst->sb, src->sb.data, src->sb.size);
}

const char *
ipc_frame_payload(const struct ipc_writer *w)
{
	return w->sb.data + 4;
}

size_t
ipc_frame_payload_len(const struct ipc_writer *w)
{
	return w->sb.size - 4;
}

void
ipc_copy_fields(struct ipc_writer *w, const struct ipc_msg *m)
{
	for (uint32_t i = 0; i < m->body->size; i++) {
		const msgpack_object_kv *kv = &m->body->ptr[i];
		char key[16];
		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size >= sizeof(key))
			continue;
		memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
		key[kv->key.via.str.size] = '\0';
		ipc_add_key(w, key);
		msgpack_pack_object(&w->pk, kv->val);
	}
}

void
ipc_finish(struct ipc_writer *w)
{
	unsigned char *p = (unsigned char *)w->sb.data;
	uint32_t len = (uint32_t)(w->sb.size - 4);

	p[w->map_pos + 1] = (unsigned char)(w->nfields >> 8);
	p[w->map_pos + 2] = (unsigned char)w->nfields;
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
}

uint32_t
ipc_frame_len(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
ipc_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int
ipc_msgpack_validate(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;
	uint64_t pending = 1;	/* objects still to read */

	while (pending > 0) {
		unsigned b;
		uint64_t skip = 0, items = 0;
		int lenbytes = 0;

		if (p >= end)
			return -1;
		b = *p++;
		pending--;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
			continue;
		if (b >= 0x80 && b <= 0x8f)
			items = 2 * (uint64_t)(b & 0x0f);
		else if (b >= 0x90 && b <= 0x9f)
			items = b & 0x0f;
		else if (b >= 0xa0 && b <= 0xbf)
			skip = b & 0x1f;
		else {
			switch (b) {
			case 0xc4: case 0xd9: lenbytes = 1; break;	/* bin8, str8 */
			case 0xc5: case 0xda: lenbytes = 2; break;
			case 0xc6: case 0xdb: lenbytes = 4; break;
			case 0xc7: lenbytes = 1; skip = 1; break;	/* ext8: len, type */
			case 0xc8: lenbytes = 2; skip = 1; break;
			case 0xc9: lenbytes = 4; skip = 1; break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: case 0xde: lenbytes = -2; break;	/* array16, map16 */
			case 0xdd: case 0xdf: lenbytes = -4; break;
			default: return -1;				/* 0xc1 */
			}
			if (lenbytes != 0) {
				int nb = lenbytes < 0 ? -lenbytes : lenbytes;
				uint64_t v;
				if ((size_t)(end - p) < (size_t)nb)
					return -1;
				v = ipc_be(p, nb);
				p += nb;
				if (lenbytes > 0)
					skip += v;
				else
					items = (b == 0xde || b == 0xdf) ? 2 * v : v;
			}
		}
		if (skip > (uint64_t)(end - p))
			return -1;
		p += skip;
		pending += items;
		/* Every pending object needs at least one byte. */
		if (pending > (uint64_t)(end - p))
			return -1;
	}
	return p == end ? 0 : -1;
}

int
ipc_decode(const char *payload, size_t len, struct ipc_msg *m)
{
	size_t off = 0;
	const msgpack_object *o;

	memset(m, 0, sizeof(*m));
	msgpack_unpacked_init(&m->un);
	if (len > IPC_FRAME_MAX)
		return IPC_ERR_TOO_BIG;
	if (ipc_msgpack_validate(payload, len) != 0)
		return IPC_ERR_MSGPACK;
	if (msgpack_unpack_next(&m->un, payload, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len)
		return IPC_ERR_MSGPACK;
	o = &m->un.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3 ||
	    o->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.array.ptr[2].type != MSGPACK_OBJECT_MAP)
		return IPC_ERR_SHAPE;
	if (o->via.array.ptr[0].via.u64 == IPC_NONE ||
	    o->via.array.ptr[0].via.u64 >= IPC_TYPE_MAX)
		return IPC_ERR_TYPE;
	m->type = (enum ipc_type)o->via.array.ptr[0].via.u64;
	m->request_id = o->via.array.ptr[1].via.u64;
	m->body = &o->via.array.ptr[2].via.map;
	return IPC_OK;
}

void
ipc_msg_destroy(struct ipc_msg *m)
{
	msgpack_unpacked_destroy(&m->un);
	m->body = NULL;
}

const msgpack_object *
ipc_get(const struct ipc_msg *m, const char *key)
{
	size_t n = strlen(key);

	if (m->body == NULL)
		return NULL;
	for (uint32_t i = 0; i < m->body->size; i++) {
		const msgpack_object *k = &m->body->ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
		    memcmp(k->via.str.ptr, key, n) == 0)
			return &m->body->ptr[i].val;
	}
	return NULL;
}

int
ipc_get_u64(const struct ipc_msg *m, const char *key, uint64_t *out)
{
	const msgpack_object *o = ipc_get(m, key);
	if (o == NULL)
		return IPC_ERR_NOKEY;
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return IPC_ERR_FIELD;
	*out = o->via.u64;
	return IPC_OK;
}

int
ipc_get_i64(const struct ipc_msg *m, const char *key, int64_t *out)
{
	const msgpack_object *o = ipc_get(m, key);
	if (o == NULL)
		return IPC_ERR_NOKEY;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*out = o->via.i64;
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
		*out = (int64_t)o->via.u64;
	else
		return IPC_ERR_FIELD;
	return IPC_OK;
}

int
ipc_get_f64(const struct ipc_msg *m, const char *key, double *out)
{
	const msgpack_object *o = ipc_get(m, key);
	if (o == NULL)
		return IPC_ERR_NOKEY;
	if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
		*out = o->via.f64;
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		*out = (double)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*out = (double)o->via.i64;
	else
		return IPC_ERR_FIELD;
	return IPC_OK;
}

int
ipc_get_bool(const struct ipc_msg *m, const char *key, bool *out)
{
	const msgpack_object *o = ipc_get(m, key);
	if (o == NULL)
		return IPC_ERR_NOKEY;
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return IPC_ERR_FIELD;
	*out = o->via.boolean;
	return IPC_OK;
}

int
ipc_get_str(const struct ipc_msg *m, const char *key, const char **s, size_t *n)
{
	const msgpack_object *o = ipc_get(m, key);
	if (o == NULL)
		return IPC_ERR_NOKEY;
	if (o->type != MSGPACK_OBJECT_STR)
		return IPC_ERR_FIELD;
	*s = o->via.str.ptr;
	*n = o->via.str.size;
	return IPC_OK;
}

int
ipc_get_bin(const struct ipc_msg *m, const char *key, const char **p, size_t *n)
{
	const msgpack_object *o = ipc_get(m, key);
	if (o == NULL)
		return IPC_ERR_NOKEY;
	if (o->type != MSGPACK_OBJECT_BIN)
		return IPC_ERR_FIELD;
	*p = o->via.bin.ptr;
	*n = o->via.bin.size;
	return IPC_OK;
}

int
ipc_get_strbuf(const struct ipc_msg *m, const char *key, char *buf, size_t len)
{
	const char *s;
	size_t n;
	int rc = ipc_get_str(m, key, &s, &n);

	if (rc != IPC_OK)
		return rc;
	if (len == 0)
		return IPC_OK;
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return IPC_OK;
}
