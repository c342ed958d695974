/*
 * The PEER_RAFT frame codec: struct raft_message ⇄ msgpack body. Owns the field list:
 *
 *	all:		t type, f from, to, term
 *	RequestVote:	li last_log_index, lt last_log_term, pv prevote, tr transfer
 *	…Result:	g granted, pv prevote
 *	AppendEntries:	pi prev_index, pt prev_term, lc leader_commit, seq,
 *			e [[index, term, type, data(bin)], …]
 *	…Result:	ok success, i index, li last_index, ct conflict_term, ci conflict_index, seq
 *	InstallSnapshot: si index, st term, seq, c [[id, address, suffrage(0 voter, 1 non-voter)], …]
 *	TimeoutNow:	(nothing more)
 *
 * Decoding never trusts the frame: see peer_raft.h.
 */
#include "peer_raft.h"

#include <stdlib.h>
#include <string.h>

const char *
peer_strerror(int code)
{
	switch (code) {
	case PEER_OK:		return "ok";
	case PEER_ERR_FULL:	return "send queue full";
	case PEER_ERR_CLOSED:	return "connection closed";
	case PEER_ERR_NOMEM:	return "out of memory";
	case PEER_ERR_INVAL:	return "invalid argument";
	case PEER_ERR_FIELD:	return "missing or mistyped field";
	case PEER_ERR_RANGE:	return "field value out of range";
	case PEER_ERR_ORDER:	return "entries not contiguous";
	case PEER_ERR_TOO_BIG:	return "frame too big";
	case PEER_ERR_SYS:	return "system error";
	}
	return "unknown error";
}

/* Encoding ------------------------------------------------------------------------------- */

static bool
id_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	return n > 0 && n < max;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int
peer_encode_raft(struct ipc_writer *w, const struct raft_message *m)
{
	if (!id_ok(m->from, RAFT_ID_MAX) || !id_ok(m->to, RAFT_ID_MAX))
		return PEER_ERR_INVAL;
	if (m->type < RAFT_MSG_REQUEST_VOTE || m->type > RAFT_MSG_TIMEOUT_NOW)
		return PEER_ERR_INVAL;
	ipc_begin(w, IPC_PEER_RAFT, 0);
	ipc_add_u64(w, "t", (uint64_t)m->type);
	ipc_add_str(w, "f", m->from);
	ipc_add_str(w, "to", m->to);
	ipc_add_u64(w, "term", m->term);
	switch (m->type) {
	case RAFT_MSG_REQUEST_VOTE:
		ipc_add_u64(w, "li", m->request_vote.last_log_index);
		ipc_add_u64(w, "lt", m->request_vote.last_log_term);
		ipc_add_bool(w, "pv", m->request_vote.prevote);
		ipc_add_bool(w, "tr", m->request_vote.transfer);
		break;
	case RAFT_MSG_REQUEST_VOTE_RESULT:
		ipc_add_bool(w, "g", m->request_vote_result.granted);
		ipc_add_bool(w, "pv", m->request_vote_result.prevote);
		break;
	case RAFT_MSG_APPEND_ENTRIES: {
		const struct raft_append_entries *ae = &m->append_entries;
		size_t total = 0;

		for (unsigned i = 0; i < ae->n_entries; i++) {
			total += ae->entries[i].len;
			if (total > IPC_FRAME_MAX)
				return PEER_ERR_TOO_BIG;
		}
		ipc_add_u64(w, "pi", ae->prev_index);
		ipc_add_u64(w, "pt", ae->prev_term);
		ipc_add_u64(w, "lc", ae->leader_commit);
		ipc_add_u64(w, "seq", ae->seq);
		ipc_add_key(w, "e");
		msgpack_pack_array(&w->pk, ae->n_entries);
		for (unsigned i = 0; i < ae->n_entries; i++) {
			const struct raft_entry *e = &ae->entries[i];
			msgpack_pack_array(&w->pk, 4);
			msgpack_pack_uint64(&w->pk, e->index);
			msgpack_pack_uint64(&w->pk, e->term);
			msgpack_pack_unsigned_int(&w->pk, (unsigned)e->type);
			msgpack_pack_bin(&w->pk, e->len);
			if (e->len > 0)
				msgpack_pack_bin_body(&w->pk, e->data, e->len);
		}
		break;
	}
	case RAFT_MSG_APPEND_ENTRIES_RESULT: {
		const struct raft_append_entries_result *r = &m->append_entries_result;
		ipc_add_bool(w, "ok", r->success);
		ipc_add_u64(w, "i", r->index);
		ipc_add_u64(w, "li", r->last_index);
		ipc_add_u64(w, "ct", r->conflict_term);
		ipc_add_u64(w, "ci", r->conflict_index);
		ipc_add_u64(w, "seq", r->seq);
		break;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT: {
		const struct raft_install_snapshot *is = &m->install_snapshot;
		ipc_add_u64(w, "si", is->meta.index);
		ipc_add_u64(w, "st", is->meta.term);
		ipc_add_u64(w, "seq", is->seq);
		ipc_add_key(w, "c");
		msgpack_pack_array(&w->pk, is->meta.config.n);
		for (unsigned i = 0; i < is->meta.config.n; i++) {
			const struct raft_server *s = &is->meta.config.servers[i];
			if (!id_ok(s->id, RAFT_ID_MAX) || !id_ok(s->address, RAFT_ADDR_MAX))
				return PEER_ERR_INVAL;
			msgpack_pack_array(&w->pk, 3);
			pack_str(&w->pk, s->id);
			pack_str(&w->pk, s->address);
			msgpack_pack_unsigned_int(&w->pk, s->suffrage == RAFT_NONVOTER ? 1 : 0);
		}
		break;
	}
	case RAFT_MSG_TIMEOUT_NOW:
		break;
	}
	ipc_finish(w);
	if (w->sb.size - 4 > IPC_FRAME_MAX)
		return PEER_ERR_TOO_BIG;
	return PEER_OK;
}

/* Decoding ------------------------------------------------------------------------------- */

static int
get_u64(const struct ipc_msg *msg, const char *key, uint64_t *out)
{
	return ipc_get_u64(msg, key, out) == IPC_OK ? PEER_OK : PEER_ERR_FIELD;
}

static int
get_bool(const struct ipc_msg *msg, const char *key, bool *out)
{
	return ipc_get_bool(msg, key, out) == IPC_OK ? PEER_OK : PEER_ERR_FIELD;
}

/* A msgpack str into a fixed buffer: non-empty, fits with its NUL, no embedded NUL. */
static int
str_into(const msgpack_object *o, char *buf, size_t max)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return PEER_ERR_FIELD;
	if (o->via.str.size == 0 || o->via.str.size >= max ||
	    memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
		return PEER_ERR_RANGE;
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	return PEER_OK;
}

static const msgpack_object_array *
get_array(const struct ipc_msg *msg, const char *key)
{
	const msgpack_object *o = ipc_get(msg, key);
	if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY)
		return NULL;
	return &o->via.array;
}

static int
decode_entries(const struct ipc_msg *msg, struct raft_append_entries *ae)
{
	const msgpack_object_array *a = get_array(msg, "e");
	struct raft_entry *es;

	if (a == NULL)
		return PEER_ERR_FIELD;
	if (a->size == 0)
		return PEER_OK;
	/* ipc_decode() validated the frame, so a->size objects really exist in it. */
	if ((es = calloc(a->size, sizeof(*es))) == NULL)
		return PEER_ERR_NOMEM;
	ae->entries = es;
	ae->n_entries = a->size;
	for (uint32_t i = 0; i < a->size; i++) {
		const msgpack_object *e = &a->ptr[i];
		const msgpack_object *f;

		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 4)
			return PEER_ERR_FIELD;
		f = e->via.array.ptr;
		if (f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    f[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    f[3].type != MSGPACK_OBJECT_BIN)
			return PEER_ERR_FIELD;
		if (f[2].via.u64 < RAFT_ENTRY_NORMAL || f[2].via.u64 > RAFT_ENTRY_CONFIG)
			return PEER_ERR_RANGE;
		/* Entries follow prev_index without gaps (§5.3); index 0 never exists. */
		if (ae->prev_index >= UINT64_MAX - i || f[0].via.u64 != ae->prev_index + 1 + i)
			return PEER_ERR_ORDER;
		es[i].index = f[0].via.u64;
		es[i].term = f[1].via.u64;
		es[i].type = (enum raft_entry_type)f[2].via.u64;
		es[i].len = f[3].via.bin.size;
		es[i].data = es[i].len > 0 ? f[3].via.bin.ptr : NULL;
	}
	return PEER_OK;
}

static int
decode_config(const struct ipc_msg *msg, struct raft_config *c)
{
	const msgpack_object_array *a = get_array(msg, "c");
	struct raft_server *ss;
	int rc;

	if (a == NULL)
		return PEER_ERR_FIELD;
	if (a->size == 0)
		return PEER_OK;
	if ((ss = calloc(a->size, sizeof(*ss))) == NULL)
		return PEER_ERR_NOMEM;
	c->servers = ss;
	c->n = a->size;
	for (uint32_t i = 0; i < a->size; i++) {
		const msgpack_object *s = &a->ptr[i];
		const msgpack_object *f;

		if (s->type != MSGPACK_OBJECT_ARRAY || s->via.array.size != 3)
			return PEER_ERR_FIELD;
		f = s->via.array.ptr;
		if ((rc = str_into(&f[0], ss[i].id, RAFT_ID_MAX)) != PEER_OK ||
		    (rc = str_into(&f[1], ss[i].address, RAFT_ADDR_MAX)) != PEER_OK)
			return rc;
		if (f[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return PEER_ERR_FIELD;
		if (f[2].via.u64 > 1)
			return PEER_ERR_RANGE;
		ss[i].suffrage = f[2].via.u64 == 1 ? RAFT_NONVOTER : RAFT_VOTER;
	}
	return PEER_OK;
}

static int
decode_body(const struct ipc_msg *msg, struct raft_message *m)
{
	uint64_t t;
	int rc;

	if (msg->type != IPC_PEER_RAFT || msg->body == NULL)
		return PEER_ERR_RANGE;
	if ((rc = get_u64(msg, "t", &t)) != PEER_OK)
		return rc;
	if (t < RAFT_MSG_REQUEST_VOTE || t > RAFT_MSG_TIMEOUT_NOW)
		return PEER_ERR_RANGE;
	m->type = (enum raft_message_type)t;
	if ((rc = str_into(ipc_get(msg, "f"), m->from, RAFT_ID_MAX)) != PEER_OK ||
	    (rc = str_into(ipc_get(msg, "to"), m->to, RAFT_ID_MAX)) != PEER_OK ||
	    (rc = get_u64(msg, "term", &m->term)) != PEER_OK)
		return rc;
	switch (m->type) {
	case RAFT_MSG_REQUEST_VOTE: {
		struct raft_request_vote *rv = &m->request_vote;
		if ((rc = get_u64(msg, "li", &rv->last_log_index)) != PEER_OK ||
		    (rc = get_u64(msg, "lt", &rv->last_log_term)) != PEER_OK ||
		    (rc = get_bool(msg, "pv", &rv->prevote)) != PEER_OK ||
		    (rc = get_bool(msg, "tr", &rv->transfer)) != PEER_OK)
			return rc;
		break;
	}
	case RAFT_MSG_REQUEST_VOTE_RESULT:
		if ((rc = get_bool(msg, "g", &m->request_vote_result.granted)) != PEER_OK ||
		    (rc = get_bool(msg, "pv", &m->request_vote_result.prevote)) != PEER_OK)
			return rc;
		break;
	case RAFT_MSG_APPEND_ENTRIES: {
		struct raft_append_entries *ae = &m->append_entries;
		if ((rc = get_u64(msg, "pi", &ae->prev_index)) != PEER_OK ||
		    (rc = get_u64(msg, "pt", &ae->prev_term)) != PEER_OK ||
		    (rc = get_u64(msg, "lc", &ae->leader_commit)) != PEER_OK ||
		    (rc = get_u64(msg, "seq", &ae->seq)) != PEER_OK)
			return rc;
		return decode_entries(msg, ae);
	}
	case RAFT_MSG_APPEND_ENTRIES_RESULT: {
		struct raft_append_entries_result *r = &m->append_entries_result;
		if ((rc = get_bool(msg, "ok", &r->success)) != PEER_OK ||
		    (rc = get_u64(msg, "i", &r->index)) != PEER_OK ||
		    (rc = get_u64(msg, "li", &r->last_index)) != PEER_OK ||
		    (rc = get_u64(msg, "ct", &r->conflict_term)) != PEER_OK ||
		    (rc = get_u64(msg, "ci", &r->conflict_index)) != PEER_OK ||
		    (rc = get_u64(msg, "seq", &r->seq)) != PEER_OK)
			return rc;
		break;
	}
	case RAFT_MSG_INSTALL_SNAPSHOT: {
		struct raft_install_snapshot *is = &m->install_snapshot;
		if ((rc = get_u64(msg, "si", &is->meta.index)) != PEER_OK ||
		    (rc = get_u64(msg, "st", &is->meta.term)) != PEER_OK ||
		    (rc = get_u64(msg, "seq", &is->seq)) != PEER_OK)
			return rc;
		return decode_config(msg, &is->meta.config);
	}
	case RAFT_MSG_TIMEOUT_NOW:
		break;
	}
	return PEER_OK;
}

int
peer_decode_raft(const struct ipc_msg *msg, struct raft_message *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = decode_body(msg, out);
	if (rc != PEER_OK)
		peer_raft_message_release(out);
	return rc;
}

void
peer_raft_message_release(struct raft_message *m)
{
	if (m->type == RAFT_MSG_APPEND_ENTRIES) {
		free((void *)m->append_entries.entries);
		m->append_entries.entries = NULL;
		m->append_entries.n_entries = 0;
	} else if (m->type == RAFT_MSG_INSTALL_SNAPSHOT) {
		free(m->install_snapshot.meta.config.servers);
		m->install_snapshot.meta.config.servers = NULL;
		m->install_snapshot.meta.config.n = 0;
	}
}
