/*
 * The credentials file (pkg/common/auth.c): rqlite's check order, the "*" user, hashed
 * passwords, and a parser that refuses hostile files with a reason instead of crashing
 * or granting anything.
 */
#include <crypt.h>

#include <sodium.h>

#include "common/auth.h"
#include "unit.h"

static struct auth_store *
parse(const char *text)
{
	struct auth_store *a = NULL;
	char err[256];

	if (auth_store_parse(text, strlen(text), &a, err, sizeof(err)) != 0) {
		fprintf(stderr, "    parse: %s\n", err);
		return NULL;
	}
	return a;
}

static const char rqlite_example[] =
	"[{\"username\": \"bob\", \"password\": \"secret1\", \"perms\": [\"all\"]},"
	" {\"username\": \"mary\", \"password\": \"secret2\", \"perms\": [\"query\", \"backup\", \"join\"]},"
	" {\"username\": \"*\", \"perms\": [\"status\", \"ready\", \"join-read-only\"]}]";

UNIT_TEST(rqlites_example_file_grants_what_its_documentation_says)
{
	struct auth_store *a = parse(rqlite_example);

	CHECK(a != NULL);
	CHECK_INT_EQ(auth_store_users(a), 3);
	CHECK(auth_allowed(a, "bob", "secret1", AUTH_PERM_EXECUTE));	/* all */
	CHECK(auth_allowed(a, "bob", "secret1", AUTH_PERM_LOAD));
	CHECK(auth_allowed(a, "mary", "secret2", AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, "mary", "secret2", AUTH_PERM_EXECUTE));
	CHECK(!auth_allowed(a, "mary", "secret1", AUTH_PERM_QUERY));	/* bob's password */
	CHECK(!auth_allowed(a, "mary", NULL, AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, NULL, NULL, AUTH_PERM_QUERY));
	/* "*" grants to anybody, even without credentials or with wrong ones. */
	CHECK(auth_allowed(a, NULL, NULL, AUTH_PERM_STATUS));
	CHECK(auth_allowed(a, "mallory", "x", AUTH_PERM_READY));
	CHECK(auth_allowed(a, "mary", "wrong", AUTH_PERM_JOIN_READ_ONLY));
	CHECK(!auth_allowed(a, NULL, NULL, AUTH_PERM_JOIN));
	CHECK(auth_allowed(NULL, NULL, NULL, AUTH_PERM_LOAD));	/* no file: auth off */
	auth_store_free(a);
}

UNIT_TEST(permission_names_are_rqlites_with_its_alias)
{
	CHECK_INT_EQ(auth_perm_from_name("join-read-replica"), AUTH_PERM_JOIN_READ_ONLY);
	CHECK_INT_EQ(auth_perm_from_name("leader-ops"), AUTH_PERM_LEADER_OPS);
	CHECK_INT_EQ(auth_perm_from_name("Query"), AUTH_PERM_MAX);	/* case matters */
	CHECK_STR_EQ(auth_perm_name(AUTH_PERM_UI), "ui");
	for (unsigned p = 0; p < AUTH_PERM_MAX; p++)
		CHECK_INT_EQ(auth_perm_from_name(auth_perm_name((enum auth_perm)p)), p);
}

UNIT_TEST(field_names_match_in_any_case_and_unknown_fields_or_perms_grant_nothing)
{
	struct auth_store *a = parse("[{\"Username\": \"u\", \"PASSWORD\": \"p\", "
	    "\"perms\": [\"query\", \"superuser\"], \"extra\": {\"x\": 1}}]");

	CHECK(a != NULL);
	CHECK(auth_allowed(a, "u", "p", AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, "u", "p", AUTH_PERM_EXECUTE));
	auth_store_free(a);
}

UNIT_TEST(a_user_named_twice_is_the_later_entry)
{
	struct auth_store *a = parse("[{\"username\": \"u\", \"password\": \"old\", \"perms\": [\"all\"]},"
	    "{\"username\": \"u\", \"password\": \"new\", \"perms\": [\"query\"]}]");

	CHECK(a != NULL);
	CHECK_INT_EQ(auth_store_users(a), 1);
	CHECK(!auth_allowed(a, "u", "old", AUTH_PERM_QUERY));
	CHECK(auth_allowed(a, "u", "new", AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, "u", "new", AUTH_PERM_EXECUTE));
	auth_store_free(a);
}

UNIT_TEST(a_password_is_compared_whole_not_as_a_prefix)
{
	struct auth_store *a = parse("[{\"username\": \"u\", \"password\": \"secret\", \"perms\": [\"all\"]}]");

	CHECK(a != NULL);
	CHECK(!auth_allowed(a, "u", "secre", AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, "u", "secret ", AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, "u", "", AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, "U", "secret", AUTH_PERM_QUERY));	/* user names are exact */
	CHECK(auth_allowed(a, "u", "secret", AUTH_PERM_QUERY));
	CHECK_STR_EQ(auth_plain_password(a, "u"), "secret");
	CHECK(auth_plain_password(a, "nobody") == NULL);
	auth_store_free(a);
}

UNIT_TEST(bcrypt_and_argon2_hashes_verify_the_right_password_only)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], text[1024], argon[crypto_pwhash_STRBYTES];
	struct crypt_data cd;
	struct auth_store *a;
	const char *bcrypt;

	CHECK(sodium_init() >= 0);
	CHECK(crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)) != NULL);
	memset(&cd, 0, sizeof(cd));
	bcrypt = crypt_r("pw-bcrypt", salt, &cd);
	CHECK(bcrypt != NULL && strncmp(bcrypt, "$2b$", 4) == 0);
	CHECK(crypto_pwhash_str(argon, "pw-argon", 8, crypto_pwhash_OPSLIMIT_MIN,
	    crypto_pwhash_MEMLIMIT_MIN) == 0);
	snprintf(text, sizeof(text), "[{\"username\": \"b\", \"password\": \"%s\", \"perms\": [\"all\"]},"
	    "{\"username\": \"a\", \"password\": \"%s\", \"perms\": [\"query\"]}]", bcrypt, argon);
	a = parse(text);
	CHECK(a != NULL);
	CHECK(!auth_allowed(a, "b", "wrong", AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, "b", bcrypt, AUTH_PERM_QUERY));	/* the hash is not the password */
	CHECK(auth_allowed(a, "b", "pw-bcrypt", AUTH_PERM_QUERY));
	CHECK(auth_allowed(a, "b", "pw-bcrypt", AUTH_PERM_QUERY));	/* remembered */
	CHECK(!auth_allowed(a, "b", "wrong", AUTH_PERM_QUERY));	/* still checked */
	CHECK(auth_allowed(a, "a", "pw-argon", AUTH_PERM_QUERY));
	CHECK(!auth_allowed(a, "a", "pw-argonx", AUTH_PERM_QUERY));
	CHECK(auth_plain_password(a, "a") == NULL);	/* a hash cannot be sent on for -join-as */
	auth_store_free(a);
}

UNIT_TEST(hostile_files_are_refused_with_a_reason)
{
	static const char *bad[] = {
		"", "{}", "\"x\"", "[1]", "[[]]", "[{\"username\": 7}]",
		"[{\"username\": \"u\", \"password\": [\"p\"]}]",
		"[{\"username\": \"u\", \"perms\": \"all\"}]",
		"[{\"username\": \"u\", \"perms\": [1]}]",
		"[{\"username\": \"u\\u0000v\"}]",
		"[{\"username\": \"u\"}", "[{\"username\": \"u\"}]]",
		"\xff\xfe[]",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct auth_store *a = (struct auth_store *)1;
		err[0] = '\0';
		if (auth_store_parse(bad[i], strlen(bad[i]), &a, err, sizeof(err)) == 0)
			UNIT_FAIL_("accepted: %s", bad[i]);
		CHECK(a == NULL);
		CHECK(err[0] != '\0');
	}
}

UNIT_TEST(huge_and_deep_files_are_bounded)
{
	size_t n = AUTH_FILE_MAX + 10, depth = 100000;
	char *big = malloc(n + 1), *deep = malloc(2 * depth + 1), err[256];
	struct auth_store *a;

	CHECK(big != NULL && deep != NULL);
	memset(big, ' ', n);
	big[0] = '[';
	big[n - 1] = ']';
	big[n] = '\0';
	CHECK(auth_store_parse(big, n, &a, err, sizeof(err)) != 0);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[2 * depth] = '\0';
	CHECK(auth_store_parse(deep, 2 * depth, &a, err, sizeof(err)) != 0);
	free(big);
	free(deep);
	/* A very long password is refused, not truncated into something shorter. */
	{
		char *text = malloc(4000);
		CHECK(text != NULL);
		snprintf(text, 4000, "[{\"username\": \"u\", \"password\": \"%02000d\"}]", 0);
		CHECK(auth_store_parse(text, strlen(text), &a, err, sizeof(err)) != 0);
		free(text);
	}
}

UNIT_TEST(an_empty_list_lets_nobody_in)
{
	struct auth_store *a = parse("[]");

	CHECK(a != NULL);
	CHECK(!auth_allowed(a, NULL, NULL, AUTH_PERM_STATUS));
	CHECK(!auth_allowed(a, "", "", AUTH_PERM_STATUS));
	auth_store_free(a);
}

UNIT_TEST(a_missing_file_names_its_path)
{
	struct auth_store *a;
	char err[256];

	CHECK(auth_store_load("/nonexistent/auth.json", &a, err, sizeof(err)) != 0);
	CHECK(strstr(err, "/nonexistent/auth.json") != NULL);
	CHECK(auth_store_load("/", &a, err, sizeof(err)) != 0);
}

UNIT_MAIN()
