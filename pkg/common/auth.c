/* The credentials file and its checks (see auth.h). */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "auth.h"

#define AUTH_DIGEST	32
#define AUTH_NAME_MAX	1024	/* username or password, bytes */

enum auth_kind { AUTH_PLAIN, AUTH_BCRYPT, AUTH_ARGON2 };

struct auth_user {
	char *name;
	char *password;		/* plain text or a hash, as in the file */
	enum auth_kind kind;
	unsigned perms;		/* bit per enum auth_perm */
	/* plain: keyed digest of the password; hash: of the last password verified */
	unsigned char digest[AUTH_DIGEST];
	bool digest_set;
};

struct auth_store {
	struct auth_user *users;
	unsigned n;
	unsigned char key[crypto_generichash_KEYBYTES];	/* digests are keyed: not comparable outside */
};

static const char *auth_perm_names[AUTH_PERM_MAX] = {
#define AUTH_PERM_NAME_(name, text) text,
	AUTH_PERMS(AUTH_PERM_NAME_)
#undef AUTH_PERM_NAME_
};

const char *
auth_perm_name(enum auth_perm p)
{
	return (unsigned)p < AUTH_PERM_MAX ? auth_perm_names[p] : NULL;
}

enum auth_perm
auth_perm_from_name(const char *name)
{
	if (strcmp(name, "join-read-replica") == 0)
		return AUTH_PERM_JOIN_READ_ONLY;
	for (unsigned p = 0; p < AUTH_PERM_MAX; p++)
		if (strcmp(name, auth_perm_names[p]) == 0)
			return (enum auth_perm)p;
	return AUTH_PERM_MAX;
}

static void
auth_digest(const struct auth_store *a, const char *s, unsigned char out[AUTH_DIGEST])
{
	crypto_generichash(out, AUTH_DIGEST, (const unsigned char *)s, strlen(s), a->key,
	    sizeof(a->key));
}

static enum auth_kind
auth_kind_of(const char *pw)
{
	if (strncmp(pw, "$2a$", 4) == 0 || strncmp(pw, "$2b$", 4) == 0 ||
	    strncmp(pw, "$2y$", 4) == 0)
		return AUTH_BCRYPT;
	if (strncmp(pw, "$argon2id$", 10) == 0 || strncmp(pw, "$argon2i$", 9) == 0)
		return AUTH_ARGON2;
	return AUTH_PLAIN;
}

static int
auth_fail(char *err, size_t errlen, const char *fmt, size_t index, const char *what)
{
	snprintf(err, errlen, fmt, index, what);
	return -1;
}

/* Field key of object e as Go's decoder finds it: the name in any case, the last one. */
static json_t *
auth_field(json_t *e, const char *key)
{
	const char *k;
	json_t *v, *found = NULL;

	json_object_foreach(e, k, v)
		if (strcasecmp(k, key) == 0)
			found = v;
	return found;
}

/* A string field of entry i: absent is "" (Go's zero value); anything else is refused. */
static int
auth_string(json_t *e, const char *key, size_t i, const char **out, char *err, size_t errlen)
{
	json_t *v = auth_field(e, key);

	*out = "";
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return auth_fail(err, errlen, "entry %zu: \"%s\" is not a string", i, key);
	if (json_string_length(v) > AUTH_NAME_MAX || strlen(json_string_value(v)) !=
	    json_string_length(v))
		return auth_fail(err, errlen, "entry %zu: \"%s\" is too long or holds a NUL", i, key);
	*out = json_string_value(v);
	return 0;
}

static int
auth_perms(json_t *e, size_t i, unsigned *perms, char *err, size_t errlen)
{
	json_t *v = auth_field(e, "perms"), *p;
	size_t k;

	*perms = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return auth_fail(err, errlen, "entry %zu: \"%s\" is not an array", i, "perms");
	json_array_foreach(v, k, p) {
		enum auth_perm perm;
		if (!json_is_string(p))
			return auth_fail(err, errlen, "entry %zu: %s", i, "a permission is not a string");
		/* A name rqlite does not know grants nothing, as there. */
		perm = auth_perm_from_name(json_string_value(p));
		if (perm != AUTH_PERM_MAX)
			*perms |= 1u << perm;
	}
	return 0;
}

static struct auth_user *
auth_find(const struct auth_store *a, const char *name)
{
	if (a == NULL || name == NULL)
		return NULL;
	for (unsigned i = 0; i < a->n; i++)
		if (strcmp(a->users[i].name, name) == 0)
			return &a->users[i];
	return NULL;
}

int
auth_store_parse(const char *text, size_t len, struct auth_store **out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *e;
	struct auth_store *a;
	size_t i;

	*out = NULL;
	if (sodium_init() < 0)
		return auth_fail(err, errlen, "%zu: %s", 0, "libsodium did not start");
	if (len > AUTH_FILE_MAX)
		return auth_fail(err, errlen, "larger than %zu bytes%s", AUTH_FILE_MAX, "");
	root = json_loadb(text, len, 0, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "not valid JSON: %s (line %d)", jerr.text, jerr.line);
		return -1;
	}
	if (!json_is_array(root) || json_array_size(root) > AUTH_USERS_MAX) {
		json_decref(root);
		return auth_fail(err, errlen, "expected a JSON array of at most %zu users%s",
		    AUTH_USERS_MAX, "");
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->users = calloc(json_array_size(root) + 1, sizeof(*a->users))) == NULL) {
		free(a);
		json_decref(root);
		return auth_fail(err, errlen, "%zu: %s", 0, "out of memory");
	}
	randombytes_buf(a->key, sizeof(a->key));
	json_array_foreach(root, i, e) {
		const char *name, *pw;
		unsigned perms;
		struct auth_user *u;

		if (!json_is_object(e)) {
			auth_fail(err, errlen, "entry %zu: %s", i, "not an object");
			goto fail;
		}
		if (auth_string(e, "username", i, &name, err, errlen) != 0 ||
		    auth_string(e, "password", i, &pw, err, errlen) != 0 ||
		    auth_perms(e, i, &perms, err, errlen) != 0)
			goto fail;
		/* A name given twice: the later entry wins, as in rqlite. */
		if ((u = auth_find(a, name)) != NULL) {
			free(u->name);
			sodium_memzero(u->password, strlen(u->password));
			free(u->password);
		} else {
			u = &a->users[a->n++];
		}
		memset(u, 0, sizeof(*u));
		u->name = strdup(name);
		u->password = strdup(pw);
		if (u->name == NULL || u->password == NULL) {
			auth_fail(err, errlen, "entry %zu: %s", i, "out of memory");
			goto fail;
		}
		u->kind = auth_kind_of(pw);
		u->perms = perms;
		if (u->kind == AUTH_PLAIN) {
			auth_digest(a, pw, u->digest);
			u->digest_set = true;
		}
	}
	json_decref(root);
	*out = a;
	return 0;
fail:
	json_decref(root);
	auth_store_free(a);
	return -1;
}

int
auth_store_load(const char *path, struct auth_store **out, char *err, size_t errlen)
{
	char *buf = NULL, sub[512];
	struct stat st;
	ssize_t n;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)AUTH_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path,
		    AUTH_FILE_MAX);
		close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf != NULL ? read(fd, buf, (size_t)st.st_size + 1) : -1;
	close(fd);
	if (n < 0 || n > st.st_size) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "changed while read");
		free(buf);
		return -1;
	}
	rc = auth_store_parse(buf, (size_t)n, out, sub, sizeof(sub));
	if (rc != 0)
		snprintf(err, errlen, "%s: %s", path, sub);
	sodium_memzero(buf, (size_t)n);
	free(buf);
	return rc;
}

void
auth_store_free(struct auth_store *a)
{
	if (a == NULL)
		return;
	for (unsigned i = 0; i < a->n; i++) {
		free(a->users[i].name);
		if (a->users[i].password != NULL) {
			sodium_memzero(a->users[i].password, strlen(a->users[i].password));
			free(a->users[i].password);
		}
	}
	free(a->users);
	sodium_memzero(a->key, sizeof(a->key));
	free(a);
}

unsigned
auth_store_users(const struct auth_store *a)
{
	return a != NULL ? a->n : 0;
}

/* The slow check of a hash; only for passwords not verified before. */
static bool
auth_verify_hash(const struct auth_user *u, const char *password)
{
	if (u->kind == AUTH_ARGON2)
		return crypto_pwhash_str_verify(u->password, password, strlen(password)) == 0;
	{
		struct crypt_data cd;
		unsigned char got[AUTH_DIGEST], want[AUTH_DIGEST];
		const char *h;

		memset(&cd, 0, sizeof(cd));
		h = crypt_r(password, u->password, &cd);
		if (h == NULL || h[0] == '*')
			return false;
		/* Digests of both: equal length, compared in constant time. */
		crypto_generichash(got, sizeof(got), (const unsigned char *)h, strlen(h), NULL, 0);
		crypto_generichash(want, sizeof(want), (const unsigned char *)u->password,
		    strlen(u->password), NULL, 0);
		sodium_memzero(&cd, sizeof(cd));
		return sodium_memcmp(got, want, sizeof(got)) == 0;
	}
}

bool
auth_password_ok(struct auth_store *a, const char *user, const char *password)
{
	struct auth_user *u = auth_find(a, user);
	unsigned char d[AUTH_DIGEST];
	bool ok;

	if (u == NULL || password == NULL || strlen(password) > AUTH_NAME_MAX)
		return false;
	auth_digest(a, password, d);
	ok = u->digest_set && sodium_memcmp(d, u->digest, sizeof(d)) == 0;
	if (!ok && u->kind != AUTH_PLAIN && auth_verify_hash(u, password)) {
		memcpy(u->digest, d, sizeof(d));	/* the next request is quick */
		u->digest_set = true;
		ok = true;
	}
	sodium_memzero(d, sizeof(d));
	return ok;
}

bool
auth_has_perm(const struct auth_store *a, const char *user, enum auth_perm perm)
{
	const unsigned want = (1u << perm) | (1u << AUTH_PERM_ALL);
	const struct auth_user *u = auth_find(a, user), *all = auth_find(a, "*");

	return (u != NULL && (u->perms & want) != 0) || (all != NULL && (all->perms & want) != 0);
}

bool
auth_allowed(struct auth_store *a, const char *user, const char *password, enum auth_perm perm)
{
	if (a == NULL)
		return true;		/* auth is off */
	if (auth_has_perm(a, "*", perm))
		return true;		/* granted to everybody, even anonymous */
	if (user == NULL || user[0] == '\0')
		return false;
	return auth_password_ok(a, user, password) && auth_has_perm(a, user, perm);
}

const char *
auth_plain_password(const struct auth_store *a, const char *user)
{
	const struct auth_user *u = auth_find(a, user);

	return u != NULL && u->kind == AUTH_PLAIN ? u->password : NULL;
}
