/*
 * msgpack maps from consensus and storage as jansson values, and jansson answers
 * (gateway_jansson.c). Only files under pkg/gateway include this.
 */
#ifndef RQ_GATEWAY_JANSSON_H
#define RQ_GATEWAY_JANSSON_H

#include <jansson.h>
#include <msgpack.h>

#include "ipc_codec.h"

struct gw_req;

/* A msgpack value as a new jansson value (map keys that are not strings are skipped). */
json_t *gw_mp_to_json(const msgpack_object *o);
/* A reply's `res` field (a msgpack map, as storage sends its status) as JSON; NULL
 * when missing or malformed. */
json_t *gw_res_to_json(const struct ipc_msg *m);
/* The body of a reply (consensus's status maps) as a JSON object. */
json_t *gw_msg_to_json(const struct ipc_msg *m);
/* How gw_respond_jansson writes: keys sorted (Go maps; Go structs keep their field
 * order, so answers built as structs are not sorted), indented by four (?pretty). */
#define GW_JSON_SORTED	0x1u
#define GW_JSON_PRETTY	0x2u
/* Answers r 200 with j (taken) as JSON. */
void gw_respond_jansson(struct gw_req *r, json_t *j, unsigned how);
/* qsort comparison of two json_t * objects by their "id" strings (rqlite lists
 * nodes by id). */
int gw_json_id_cmp(const void *a, const void *b);

#endif
