/*
 * -auth in consensus: a request forwarded from a follower carries its caller's
 * credentials ("u", "p") and the leader checks them against its own file, as rqlite's
 * cluster service does; a joining node's PEER_JOIN carries the -join-as user's, checked
 * for "join" (a voter) or "join-read-only" (a non-voter). The file is reread on SIGHUP.
 */
#include <string.h>

#include "common/log.h"
#include "consensus_internal.h"

static void
cs_auth_set(struct consensus *c, struct auth_store *a)
{
	auth_store_free(c->auth);
	c->auth = a;
	c->join_pass = NULL;
	if (c->opts->join_as != NULL && c->opts->join_as[0] != '\0') {
		c->join_pass = auth_plain_password(a, c->opts->join_as);
		if (c->join_pass == NULL)
			log_warnx("-join-as %s: no such user with a plain-text password in %s",
			    c->opts->join_as, c->opts->auth_file);
	}
}

void
cs_auth_init(struct consensus *c)
{
	struct auth_store *a;
	char err[512];

	if (c->opts->auth_file == NULL || c->opts->auth_file[0] == '\0')
		return;
	if (auth_store_load(c->opts->auth_file, &a, err, sizeof(err)) != 0)
		fatalx("-auth: %s", err);
	cs_auth_set(c, a);
}

void
cs_auth_reload(struct consensus *c)
{
	struct auth_store *a;
	char err[512];

	if (c->auth == NULL)
		return;
	if (auth_store_load(c->opts->auth_file, &a, err, sizeof(err)) != 0) {
		log_warnx("-auth not reloaded, the previous users stay: %s", err);
		return;
	}
	cs_auth_set(c, a);
	log_info("reloaded %u users from %s", auth_store_users(a), c->opts->auth_file);
}

bool
cs_auth_allowed(struct consensus *c, const struct ipc_msg *m, enum auth_perm perm,
    enum auth_perm also)
{
	char user[1025] = "", pass[1025] = "";
	bool has_user, ok;

	if (c->auth == NULL)
		return true;
	has_user = ipc_get_strbuf(m, "u", user, sizeof(user)) == IPC_OK;
	(void)ipc_get_strbuf(m, "p", pass, sizeof(pass));
	ok = auth_allowed(c->auth, has_user ? user : NULL, pass, perm) &&
	    (also == AUTH_PERM_MAX || auth_allowed(c->auth, has_user ? user : NULL, pass, also));
	explicit_bzero(pass, sizeof(pass));
	return ok;
}

void
cs_auth_copy(const struct ipc_msg *m, struct ipc_writer *out)
{
	const char *s;
	size_t n;

	if (ipc_get_str(m, "u", &s, &n) == IPC_OK)
		ipc_add_strn(out, "u", s, n);
	if (ipc_get_str(m, "p", &s, &n) == IPC_OK)
		ipc_add_strn(out, "p", s, n);
}

void
cs_auth_add_own(struct consensus *c, struct ipc_writer *out)
{
	if (c->join_pass == NULL)
		return;
	ipc_add_str(out, "u", c->opts->join_as);
	ipc_add_str(out, "p", c->join_pass);
}
