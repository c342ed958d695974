/*
 * rqlite's credentials file (-auth): a JSON array of
 *   {"username": "bob", "password": "secret", "perms": ["query", "backup"]}
 * and its check (rqlite's AA): a permission the user "*" holds (or "all") is granted to
 * anybody, even without credentials; otherwise the request must name a user whose
 * password matches and who holds the permission or "all".
 *
 * Beyond rqlite, a password may be stored as a bcrypt hash ($2a$, $2b$, $2y$) or an
 * argon2 hash ($argon2id$, $argon2i$), as `htpasswd -B` or `argon2` print them. Every
 * comparison takes the same time whatever the password; a hash verified once is
 * remembered (as a keyed digest of the password) so that a client sending the same
 * credentials on every request pays the slow verification once.
 *
 * Used by the gateway (HTTP requests) and consensus (forwarded requests, joins).
 */
#ifndef RQ_COMMON_AUTH_H
#define RQ_COMMON_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_PERMS(X)							\
	X(ALL, "all")							\
	X(EXECUTE, "execute")						\
	X(QUERY, "query")						\
	X(LOAD, "load")							\
	X(BACKUP, "backup")						\
	X(STATUS, "status")						\
	X(READY, "ready")						\
	X(JOIN, "join")							\
	X(JOIN_READ_ONLY, "join-read-only")	/* alias: join-read-replica */	\
	X(REMOVE, "remove")						\
	X(SNAPSHOT, "snapshot")						\
	X(LEADER_OPS, "leader-ops")					\
	X(UI, "ui")

enum auth_perm {
#define AUTH_PERM_ENUM_(name, text) AUTH_PERM_##name,
	AUTH_PERMS(AUTH_PERM_ENUM_)
#undef AUTH_PERM_ENUM_
	AUTH_PERM_MAX
};

/* Limits on the file: it is read at start and on SIGHUP, never from a client. */
#define AUTH_FILE_MAX		(4u * 1024 * 1024)
#define AUTH_USERS_MAX		10000

struct auth_store;

/* "query" …; NULL outside the list. */
const char *auth_perm_name(enum auth_perm p);
/* AUTH_PERM_MAX for a name that is not a permission. */
enum auth_perm auth_perm_from_name(const char *name);

/* Reads and parses path. 0, or -1 with the reason (naming the path) in err. */
int auth_store_load(const char *path, struct auth_store **out, char *err, size_t errlen);
/* Parses the file's text. 0, or -1 with the reason in err. */
int auth_store_parse(const char *text, size_t len, struct auth_store **out, char *err,
    size_t errlen);
void auth_store_free(struct auth_store *a);
unsigned auth_store_users(const struct auth_store *a);

/*
 * Whether a request with these credentials (user NULL: none sent) may do what perm
 * gates. A NULL store means auth is off: always true. Not thread-safe (the cache).
 */
bool auth_allowed(struct auth_store *a, const char *user, const char *password,
    enum auth_perm perm);
/* Whether user's password is password (no permission looked at). */
bool auth_password_ok(struct auth_store *a, const char *user, const char *password);
/* Whether user, or "*", holds perm or "all" (no password looked at). */
bool auth_has_perm(const struct auth_store *a, const char *user, enum auth_perm perm);
/* The password user has in plain text (for -join-as), or NULL: unknown, or a hash. */
const char *auth_plain_password(const struct auth_store *a, const char *user);

#endif
