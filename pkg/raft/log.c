/*
 * The in-memory log: every entry since the last snapshot (plus a trailing tail kept for slow
 * followers), with reference-counted data shared by the log, messages and ready batches.
 * Term lookups fall back to the snapshot meta for the snapshot's own index.
 */
#include "raft/raft_int.h"

#include <stddef.h>

static struct raft_buf *
buf_of(const void *data)
{
	return (struct raft_buf *)(void *)((char *)(uintptr_t)data - offsetof(struct raft_buf, bytes));
}

void
raft_entry_ref(const struct raft_entry *e)
{
	if (e->data != NULL)
		buf_of(e->data)->refs++;
}

void
raft_entry_unref(struct raft_entry *e)
{
	if (e->data != NULL) {
		struct raft_buf *b = buf_of(e->data);
		assert(b->refs > 0);
		if (--b->refs == 0)
			free(b);
	}
	e->data = NULL;
	e->len = 0;
}

int
raft_entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len == 0)
		return RAFT_OK;
	if (src->data == NULL)
		return RAFT_EINVAL;
	struct raft_buf *b = malloc(sizeof(*b) + src->len);
	if (b == NULL)
		return RAFT_ENOMEM;
	b->refs = 1;
	b->len = src->len;
	memcpy(b->bytes, src->data, src->len);
	dst->data = b->bytes;
	return RAFT_OK;
}

void
raft_log_init(struct raft_log *l)
{
	memset(l, 0, sizeof(*l));
}

void
raft_log_close(struct raft_log *l)
{
	for (uint64_t i = 0; i < l->n; i++)
		raft_entry_unref(&l->e[i]);
	free(l->e);
	raft_log_init(l);
}

uint64_t
raft_log_last_index(const struct raft *r)
{
	return r->log.offset + r->log.n;
}

uint64_t
raft_log_term_at(const struct raft *r, uint64_t index)
{
	if (index == 0)
		return 0;
	if (index > r->log.offset && index <= r->log.offset + r->log.n)
		return r->log.e[index - r->log.offset - 1].term;
	if (index == r->snap.index)
		return r->snap.term;
	return 0;
}

uint64_t
raft_log_last_term(const struct raft *r)
{
	return raft_log_term_at(r, raft_log_last_index(r));
}

struct raft_entry *
raft_log_get(const struct raft *r, uint64_t index)
{
	if (index > r->log.offset && index <= r->log.offset + r->log.n)
		return &r->log.e[index - r->log.offset - 1];
	return NULL;
}

int
raft_log_append(struct raft *r, const struct raft_entry *e)
{
	struct raft_log *l = &r->log;

	assert(e->index == raft_log_last_index(r) + 1);
	if (l->n == l->cap) {
		uint64_t cap = l->cap ? l->cap * 2 : 64;
		struct raft_entry *ne = realloc(l->e, cap * sizeof(*ne));
		if (ne == NULL)
			return RAFT_ENOMEM;
		l->e = ne;
		l->cap = cap;
	}
	l->e[l->n] = *e;
	raft_entry_ref(&l->e[l->n]);
	l->n++;
	return RAFT_OK;
}

void
raft_log_truncate(struct raft *r, uint64_t from)
{
	struct raft_log *l = &r->log;

	assert(from > l->offset);
	while (l->offset + l->n >= from && l->n > 0) {
		l->n--;
		raft_entry_unref(&l->e[l->n]);
	}
}

void
raft_log_compact(struct raft *r, uint64_t upto)
{
	struct raft_log *l = &r->log;

	if (upto <= l->offset)
		return;
	uint64_t drop = RAFT_MIN(upto - l->offset, l->n);
	for (uint64_t i = 0; i < drop; i++)
		raft_entry_unref(&l->e[i]);
	if (drop > 0)
		memmove(l->e, l->e + drop, (l->n - drop) * sizeof(*l->e));
	l->n -= drop;
	l->offset = upto;
}

void
raft_log_reset(struct raft *r, uint64_t offset)
{
	struct raft_log *l = &r->log;

	for (uint64_t i = 0; i < l->n; i++)
		raft_entry_unref(&l->e[i]);
	l->n = 0;
	l->offset = offset;
}
