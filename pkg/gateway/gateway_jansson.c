/*
 * The diagnostics endpoints build their answers with jansson (they are not hot
 * paths) from the msgpack maps consensus and storage send: this file turns those maps
 * into jansson values and answers a request with one. Sends and receives no messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_internal.h"
#include "gateway_jansson.h"

json_t *
gw_mp_to_json(const msgpack_object *o)
{
	json_t *j;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR:
		return json_stringn(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return json_stringn(o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_array_append_new(j, gw_mp_to_json(&o->via.array.ptr[i]));
		return j;
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			char key[128];
			if (kv->key.type != MSGPACK_OBJECT_STR)
				continue;
			snprintf(key, sizeof(key), "%.*s", (int)kv->key.via.str.size,
			    kv->key.via.str.ptr);
			json_object_set_new(j, key, gw_mp_to_json(&kv->val));
		}
		return j;
	default:
		return json_null();
	}
}

/* A reply's `res` field (a msgpack map, as storage sends its status) as JSON. */
json_t *
gw_res_to_json(const struct ipc_msg *m)
{
	const char *res;
	size_t len, off = 0;
	msgpack_unpacked un;
	json_t *j = NULL;

	if (ipc_get_bin(m, "res", &res, &len) != IPC_OK || ipc_msgpack_validate(res, len) != 0)
		return NULL;
	msgpack_unpacked_init(&un);
	if (msgpack_unpack_next(&un, res, len, &off) == MSGPACK_UNPACK_SUCCESS)
		j = gw_mp_to_json(&un.data);
	msgpack_unpacked_destroy(&un);
	return j;
}

/* The message body of a status reply as a JSON object. */
json_t *
gw_msg_to_json(const struct ipc_msg *m)
{
	msgpack_object o;

	o.type = MSGPACK_OBJECT_MAP;
	o.via.map = *m->body;
	return gw_mp_to_json(&o);
}

void
gw_respond_jansson(struct gw_req *r, json_t *j, unsigned how)
{
	size_t flags = JSON_ENCODE_ANY | JSON_REAL_PRECISION(9) |
	    ((how & GW_JSON_SORTED) != 0 ? JSON_SORT_KEYS : 0) |
	    ((how & GW_JSON_PRETTY) != 0 ? JSON_INDENT(4) : JSON_COMPACT);
	char *s = json_dumps(j, flags);

	json_decref(j);
	if (s == NULL) {
		gw_respond_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	gw_respond(r, MHD_HTTP_OK, "application/json; charset=utf-8", s, strlen(s));
}

int
gw_json_id_cmp(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a, "id"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b, "id"));

	return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}
