/*
 * Cluster configurations: the caller-facing helpers, the binary codec used as the data of
 * RAFT_ENTRY_CONFIG entries, and switching the core to a new configuration (which rebuilds the
 * per-server progress table, keeping what it knew about servers that stay).
 *
 * Encoding (big-endian): "RQC1", u32 count, then per server u8 suffrage, u16 id length, id,
 * u16 address length, address.
 */
#include "raft/raft_int.h"

#include "common/log.h"

void
raft_config_init(struct raft_config *c)
{
	c->servers = NULL;
	c->n = 0;
}

void
raft_config_free(struct raft_config *c)
{
	free(c->servers);
	raft_config_init(c);
}

const struct raft_server *
raft_config_get(const struct raft_config *c, const char *id)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->servers[i].id, id) == 0)
			return &c->servers[i];
	return NULL;
}

int
raft_config_add(struct raft_config *c, const char *id, const char *address,
    enum raft_suffrage suffrage)
{
	if (id == NULL || address == NULL || id[0] == '\0' ||
	    (suffrage != RAFT_VOTER && suffrage != RAFT_NONVOTER))
		return RAFT_EINVAL;
	if (strlen(id) >= RAFT_ID_MAX || strlen(address) >= RAFT_ADDR_MAX)
		return RAFT_ETOOBIG;
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->servers[i].id, id) == 0 ||
		    (address[0] != '\0' && strcmp(c->servers[i].address, address) == 0))
			return RAFT_EDUPLICATE;
	struct raft_server *s = realloc(c->servers, (c->n + 1) * sizeof(*s));
	if (s == NULL)
		return RAFT_ENOMEM;
	c->servers = s;
	memset(&s[c->n], 0, sizeof(s[c->n]));
	strcpy(s[c->n].id, id);
	strcpy(s[c->n].address, address);
	s[c->n].suffrage = suffrage;
	c->n++;
	return RAFT_OK;
}

unsigned
raft_config_voters(const struct raft_config *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].suffrage == RAFT_VOTER)
			n++;
	return n;
}

bool
raft_config_is_voter(const struct raft_config *c, const char *id)
{
	const struct raft_server *s = raft_config_get(c, id);
	return s != NULL && s->suffrage == RAFT_VOTER;
}

int
raft_config_copy(struct raft_config *dst, const struct raft_config *src)
{
	raft_config_init(dst);
	if (src->n == 0)
		return RAFT_OK;
	dst->servers = malloc(src->n * sizeof(*dst->servers));
	if (dst->servers == NULL)
		return RAFT_ENOMEM;
	memcpy(dst->servers, src->servers, src->n * sizeof(*dst->servers));
	dst->n = src->n;
	return RAFT_OK;
}

static void
put16(unsigned char **p, uint16_t v)
{
	(*p)[0] = (unsigned char)(v >> 8);
	(*p)[1] = (unsigned char)v;
	*p += 2;
}

int
raft_config_encode(const struct raft_config *c, void **buf, size_t *len)
{
	size_t n = 8;
	for (unsigned i = 0; i < c->n; i++)
		n += 5 + strlen(c->servers[i].id) + strlen(c->servers[i].address);
	unsigned char *b = malloc(n), *p = b;
	if (b == NULL)
		return RAFT_ENOMEM;
	memcpy(p, "RQC1", 4);
	p += 4;
	*p++ = (unsigned char)(c->n >> 24);
	*p++ = (unsigned char)(c->n >> 16);
	*p++ = (unsigned char)(c->n >> 8);
	*p++ = (unsigned char)c->n;
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *s = &c->servers[i];
		size_t il = strlen(s->id), al = strlen(s->address);
		*p++ = (unsigned char)s->suffrage;
		put16(&p, (uint16_t)il);
		memcpy(p, s->id, il);
		p += il;
		put16(&p, (uint16_t)al);
		memcpy(p, s->address, al);
		p += al;
	}
	*buf = b;
	*len = n;
	return RAFT_OK;
}

int
raft_config_decode(const void *buf, size_t len, struct raft_config *c)
{
	const unsigned char *p = buf, *end = p + len;
	char id[RAFT_ID_MAX], addr[RAFT_ADDR_MAX];
	int rv;

	raft_config_init(c);
	if (buf == NULL || len < 8 || memcmp(p, "RQC1", 4) != 0)
		return RAFT_ECORRUPT;
	p += 4;
	uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	p += 4;
	for (uint32_t i = 0; i < n; i++) {
		if (end - p < 3)
			goto corrupt;
		unsigned suffrage = *p++;
		size_t il = (size_t)p[0] << 8 | p[1];
		p += 2;
		if (il >= RAFT_ID_MAX || (size_t)(end - p) < il + 2)
			goto corrupt;
		memcpy(id, p, il);
		id[il] = '\0';
		p += il;
		size_t al = (size_t)p[0] << 8 | p[1];
		p += 2;
		if (al >= RAFT_ADDR_MAX || (size_t)(end - p) < al)
			goto corrupt;
		memcpy(addr, p, al);
		addr[al] = '\0';
		p += al;
		if (suffrage > RAFT_NONVOTER)
			goto corrupt;
		if ((rv = raft_config_add(c, id, addr, (enum raft_suffrage)suffrage)) != RAFT_OK) {
			raft_config_free(c);
			return rv == RAFT_ENOMEM ? rv : RAFT_ECORRUPT;
		}
	}
	if (p != end)
		goto corrupt;
	return RAFT_OK;
corrupt:
	raft_config_free(c);
	return RAFT_ECORRUPT;
}

struct raft_progress *
raft_progress_get(struct raft *r, const char *id)
{
	for (unsigned i = 0; i < r->config.n; i++)
		if (strcmp(r->prs[i].id, id) == 0)
			return &r->prs[i];
	return NULL;
}

/* Takes a copy of c as the configuration in effect from index on. */
int
raft_config_set(struct raft *r, const struct raft_config *c, uint64_t index)
{
	struct raft_config nc;
	struct raft_progress *prs = NULL;
	int rv;

	if ((rv = raft_config_copy(&nc, c)) != RAFT_OK)
		return rv;
	if (nc.n > 0 && (prs = calloc(nc.n, sizeof(*prs))) == NULL) {
		raft_config_free(&nc);
		return RAFT_ENOMEM;
	}
	for (unsigned i = 0; i < nc.n; i++) {
		struct raft_progress *old = raft_progress_get(r, nc.servers[i].id);
		if (old != NULL) {
			prs[i] = *old;
			old->inflight = NULL;	/* moved */
			continue;
		}
		strcpy(prs[i].id, nc.servers[i].id);
		prs[i].next = raft_log_last_index(r) + 1;
		prs[i].state = PR_PROBE;
		prs[i].last_recv = r->now;
		prs[i].recent = true;	/* a new server gets one check-quorum round */
		prs[i].last_progress = r->now;
		prs[i].inflight = calloc(r->opts.max_inflight, sizeof(uint64_t));
		if (prs[i].inflight == NULL) {
			for (unsigned j = 0; j <= i; j++)
				free(prs[j].inflight);
			free(prs);
			raft_config_free(&nc);
			return RAFT_ENOMEM;
		}
	}
	for (unsigned i = 0; i < r->config.n; i++)
		free(r->prs[i].inflight);
	free(r->prs);
	raft_config_free(&r->config);
	r->config = nc;
	r->prs = prs;
	r->config_index = index;
	r->soft_dirty = true;
	if (r->transfer_target[0] != '\0' && !raft_config_is_voter(&r->config, r->transfer_target))
		raft_transfer_abort(r);
	return RAFT_OK;
}

/* After the log lost entries: the latest configuration entry still in it, else the snapshot's. */
int
raft_config_recompute(struct raft *r)
{
	for (uint64_t i = raft_log_last_index(r); i > r->log.offset && i > r->snap.index; i--) {
		struct raft_entry *e = raft_log_get(r, i);
		if (e->type != RAFT_ENTRY_CONFIG)
			continue;
		if (i == r->config_index)
			return RAFT_OK;
		struct raft_config c;
		int rv = raft_config_decode(e->data, e->len, &c);
		if (rv != RAFT_OK)
			return rv;
		rv = raft_config_set(r, &c, i);
		raft_config_free(&c);
		return rv;
	}
	if (r->config_index == r->snap.index && r->config_index != 0)
		return RAFT_OK;
	return raft_config_set(r, &r->snap.config, r->snap.index);
}

/* The configuration in effect at index: the latest configuration entry at or before it, else
 * the snapshot's. Fills an uninitialised *out. */
int
raft_config_at(const struct raft *r, uint64_t index, struct raft_config *out)
{
	for (uint64_t i = index; i > r->log.offset && i > r->snap.index; i--) {
		const struct raft_entry *e = raft_log_get(r, i);
		if (e != NULL && e->type == RAFT_ENTRY_CONFIG)
			return raft_config_decode(e->data, e->len, out);
	}
	return raft_config_copy(out, &r->snap.config);
}

/*
 * Whether this node may start an election. A voter of the latest configuration may. So may a
 * server that an uncommitted change just removed or demoted but that was a voter before it:
 * it may hold the only copy of that change, and without it the remaining voters can be stuck
 * (none of them is up to date enough to win). Its votes are still counted in the latest
 * configuration, which keeps Election Safety; once the change commits it steps down.
 */
bool
raft_may_campaign(const struct raft *r)
{
	struct raft_config prev;
	bool ok;

	if (raft_config_is_voter(&r->config, r->id))
		return true;
	if (r->config_index <= r->commit || r->config_index == 0)
		return false;
	if (raft_config_at(r, r->config_index - 1, &prev) != RAFT_OK)
		return false;
	ok = raft_config_is_voter(&prev, r->id) && raft_config_voters(&r->config) > 0;
	raft_config_free(&prev);
	return ok;
}
