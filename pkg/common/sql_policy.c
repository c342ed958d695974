/*
 * sql_policy: the refused PRAGMAs and functions (see sql_policy.h for who uses them).
 *
 * PRAGMAs, and why each would hurt if it ran through the log:
 *   journal_mode, synchronous, wal_autocheckpoint, wal_checkpoint, query_only
 *       rqlite's list: storage owns journaling, syncing and checkpoints, and a
 *       query_only read-write connection could never apply another entry;
 *   locking_mode        EXCLUSIVE keeps every reader out, on every node;
 *   hard_heap_limit, soft_heap_limit
 *                       process-wide: one tiny value makes every later statement
 *                       fail with "out of memory";
 *   writable_schema, schema_version
 *                       a direct path to a corrupt schema (defensive mode refuses
 *                       them too; this says why);
 *   temp_store_directory, data_store_directory
 *                       process-wide directories outside the data directory;
 *   max_page_count      a connection setting that refuses later writes until the
 *                       process restarts, so nodes would disagree;
 *   mmap_size           maps the file into every role's address space as asked.
 */
#include "sql_policy.h"

#include <string.h>
#include <strings.h>

static const char *const refused_set[] = {
	"journal_mode", "synchronous", "wal_autocheckpoint", "query_only",
	"locking_mode", "hard_heap_limit", "soft_heap_limit", "writable_schema",
	"schema_version", "temp_store_directory", "data_store_directory",
	"max_page_count", "mmap_size",
};

static const char *const refused_always[] = { "wal_checkpoint" };

static bool
name_in(const char *name, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
			return true;
	return false;
}

bool
sql_policy_pragma_refused(const char *name, size_t len, bool set)
{
	if (name_in(name, len, refused_always, sizeof(refused_always) / sizeof(refused_always[0])))
		return true;
	return set && name_in(name, len, refused_set, sizeof(refused_set) / sizeof(refused_set[0]));
}

const char *
sql_policy_function_refused(const char *name, size_t len)
{
	if (len == 14 && strncasecmp(name, "fts3_tokenizer", len) == 0)
		return "disallowed function: fts3_tokenizer";
	if (len == 14 && strncasecmp(name, "load_extension", len) == 0)
		return "disallowed function: load_extension";
	return NULL;
}
