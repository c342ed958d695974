/*
 * storage_stmt_cache: prepared statements of one SQLite connection, kept by SQL text.
 *
 * Owns the sqlite3_stmt handles it caches: a chained hash table (FNV-1a of the text)
 * for lookup and a doubly linked list for least-recently-used eviction. Statements
 * are re-used after sqlite3_reset()/sqlite3_clear_bindings(), which is why callers
 * check them out and put them back rather than holding them.
 *
 * Only single-statement texts are cached: a text holding several statements would
 * need one key per tail, and long multi-statement texts (dumps) would then cost
 * memory quadratic in their length. Nor are PRAGMAs: some (foreign_keys) compile to
 * nothing inside a transaction, and a cached no-op would stay one.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "storage/storage_stmt_cache.h"

struct stmt_entry {
	struct stmt_entry *hnext;	/* hash chain */
	struct stmt_entry *prev, *next;	/* LRU list, head = most recent */
	uint64_t hash;
	sqlite3_stmt *stmt;
	size_t used;
	bool out;			/* checked out */
	size_t klen;
	char key[];
};

struct storage_stmt_cache {
	sqlite3 *db;
	unsigned capacity;
	unsigned size;
	size_t nbuckets;		/* power of two */
	struct stmt_entry **buckets;
	struct stmt_entry *head, *tail;
	uint64_t hits, misses;
};

static uint64_t
cache_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool
cache_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

struct storage_stmt_cache *
storage_stmt_cache_new(sqlite3 *db, unsigned capacity)
{
	struct storage_stmt_cache *c;

	if (capacity < 4)
		capacity = 4;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->db = db;
	c->capacity = capacity;
	c->nbuckets = 8;
	while (c->nbuckets < (size_t)capacity * 2)
		c->nbuckets <<= 1;
	if ((c->buckets = calloc(c->nbuckets, sizeof(*c->buckets))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void
lru_unlink(struct storage_stmt_cache *c, struct stmt_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push_front(struct storage_stmt_cache *c, struct stmt_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

static void
entry_remove(struct storage_stmt_cache *c, struct stmt_entry *e)
{
	struct stmt_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	sqlite3_finalize(e->stmt);
	free(e);
	c->size--;
}

void
storage_stmt_cache_clear(struct storage_stmt_cache *c)
{
	struct stmt_entry *e, *next;

	if (c == NULL)
		return;
	for (e = c->head; e != NULL; e = next) {
		next = e->next;
		if (!e->out)
			entry_remove(c, e);
	}
}

void
storage_stmt_cache_free(struct storage_stmt_cache *c)
{
	struct stmt_entry *e, *next;

	if (c == NULL)
		return;
	for (e = c->head; e != NULL; e = next) {
		next = e->next;
		sqlite3_finalize(e->stmt);
		free(e);
	}
	free(c->buckets);
	free(c);
}

/* Makes room for one more entry; entries checked out are skipped. */
static void
cache_evict(struct storage_stmt_cache *c)
{
	struct stmt_entry *e = c->tail, *prev;

	while (c->size >= c->capacity && e != NULL) {
		prev = e->prev;
		if (!e->out)
			entry_remove(c, e);
		e = prev;
	}
}

int
storage_stmt_cache_get(struct storage_stmt_cache *c, const char *sql, size_t len,
    struct storage_stmt *out)
{
	struct stmt_entry *e;
	sqlite3_stmt *stmt = NULL;
	const char *tail = NULL;
	uint64_t h = 0;
	size_t used, i;
	bool cacheable = len <= STORAGE_STMT_CACHE_MAX_KEY;
	int rc;

	out->stmt = NULL;
	out->used = 0;
	out->entry_ = NULL;

	if (cacheable) {
		h = cache_hash(sql, len);
		for (e = c->buckets[h & (c->nbuckets - 1)]; e != NULL; e = e->hnext) {
			if (e->hash == h && e->klen == len && !e->out &&
			    memcmp(e->key, sql, len) == 0) {
				c->hits++;
				e->out = true;
				lru_unlink(c, e);
				lru_push_front(c, e);
				out->stmt = e->stmt;
				out->used = e->used;
				out->entry_ = e;
				return SQLITE_OK;
			}
		}
	}
	c->misses++;

	if (len > INT_MAX)
		return SQLITE_TOOBIG;
	rc = sqlite3_prepare_v3(c->db, sql, (int)len,
	    cacheable ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, &tail);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return rc;
	}
	used = tail != NULL ? (size_t)(tail - sql) : len;
	if (used > len)
		used = len;
	out->stmt = stmt;
	out->used = used;
	if (stmt == NULL || !cacheable)
		return SQLITE_OK;
	{
		size_t n;
		const char *kw = storage_sql_keyword(sqlite3_sql(stmt), &n);
		if (n == 6 && strncasecmp(kw, "PRAGMA", 6) == 0)
			return SQLITE_OK;
	}
	for (i = used; i < len; i++)
		if (!cache_is_space(sql[i]))
			return SQLITE_OK;	/* more statements follow: use once */

	cache_evict(c);
	if ((e = malloc(sizeof(*e) + len + 1)) == NULL)
		return SQLITE_OK;		/* still usable, just not cached */
	memcpy(e->key, sql, len);
	e->key[len] = '\0';
	e->klen = len;
	e->hash = h;
	e->stmt = stmt;
	e->used = used;
	e->out = true;
	e->hnext = c->buckets[h & (c->nbuckets - 1)];
	c->buckets[h & (c->nbuckets - 1)] = e;
	lru_push_front(c, e);
	c->size++;
	out->entry_ = e;
	return SQLITE_OK;
}

void
storage_stmt_cache_put(struct storage_stmt_cache *c, struct storage_stmt *s)
{
	struct stmt_entry *e = s->entry_;

	(void)c;
	if (s->stmt == NULL)
		return;
	if (e != NULL) {
		sqlite3_reset(s->stmt);
		sqlite3_clear_bindings(s->stmt);
		e->out = false;
	} else {
		sqlite3_finalize(s->stmt);
	}
	s->stmt = NULL;
	s->entry_ = NULL;
}

void
storage_stmt_cache_stats(const struct storage_stmt_cache *c, uint64_t *hits,
    uint64_t *misses, unsigned *size)
{
	if (hits)
		*hits = c->hits;
	if (misses)
		*misses = c->misses;
	if (size)
		*size = c->size;
}

const char *
storage_sql_keyword(const char *sql, size_t *n)
{
	const char *p = sql;

	*n = 0;
	if (p == NULL)
		return "";
	for (;;) {
		while (cache_is_space(*p))
			p++;
		if (p[0] == '-' && p[1] == '-') {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e != NULL ? e + 2 : p + strlen(p);
		} else {
			break;
		}
	}
	while ((p[*n] >= 'A' && p[*n] <= 'Z') || (p[*n] >= 'a' && p[*n] <= 'z'))
		(*n)++;
	return p;
}

enum storage_sql_tx
storage_sql_tx_kind(const char *sql)
{
	size_t n;
	const char *p = storage_sql_keyword(sql, &n);

	if (n == 5 && strncasecmp(p, "BEGIN", 5) == 0)
		return STORAGE_SQL_TX_BEGIN;
	if ((n == 6 && strncasecmp(p, "COMMIT", 6) == 0) || (n == 3 && strncasecmp(p, "END", 3) == 0))
		return STORAGE_SQL_TX_COMMIT;
	if (n == 9 && strncasecmp(p, "SAVEPOINT", 9) == 0)
		return STORAGE_SQL_TX_SAVEPOINT;
	if (n == 7 && strncasecmp(p, "RELEASE", 7) == 0)
		return STORAGE_SQL_TX_RELEASE;
	if (n == 8 && strncasecmp(p, "ROLLBACK", 8) == 0) {
		/* ROLLBACK [TRANSACTION] TO … only unwinds a savepoint. */
		p = storage_sql_keyword(p + n, &n);
		if (n == 11 && strncasecmp(p, "TRANSACTION", 11) == 0)
			p = storage_sql_keyword(p + n, &n);
		return n == 2 && strncasecmp(p, "TO", 2) == 0 ? STORAGE_SQL_TX_ROLLBACK_TO :
		    STORAGE_SQL_TX_ROLLBACK;
	}
	return STORAGE_SQL_TX_NONE;
}
