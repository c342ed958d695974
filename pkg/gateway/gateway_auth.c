/*
 * Authentication on the HTTP API (-auth): the credentials store (pkg/common/auth.c),
 * reread on SIGHUP, the Basic credentials of each request, rqlite's check (a
 * permission per route, 401 with an empty body), and the credentials a request
 * carries to the leader when it is forwarded ("u", "p" in PROPOSE, BARRIER and
 * MEMBERSHIP), where they are checked again. Sends and receives no messages itself.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/log.h"
#include "gateway_internal.h"

void
gw_auth_init(void)
{
	char err[512];

	if (gw.opts->auth_file == NULL || gw.opts->auth_file[0] == '\0')
		return;
	if (auth_store_load(gw.opts->auth_file, &gw.auth, err, sizeof(err)) != 0)
		fatalx("-auth: %s", err);
	log_info("authentication on: %u users from %s", auth_store_users(gw.auth),
	    gw.opts->auth_file);
}

void
gw_auth_reload(void)
{
	struct auth_store *a;
	char err[512];

	if (gw.auth == NULL)
		return;
	if (auth_store_load(gw.opts->auth_file, &a, err, sizeof(err)) != 0) {
		log_warnx("-auth not reloaded, the previous users stay: %s", err);
		return;
	}
	auth_store_free(gw.auth);
	gw.auth = a;
	log_info("reloaded %u users from %s", auth_store_users(a), gw.opts->auth_file);
}

bool
gw_auth_enabled(void)
{
	return gw.auth != NULL;
}

/* The request's Basic credentials, read once (user NULL when none were sent). */
static void
gw_auth_credentials(struct gw_req *r)
{
	char *pass = NULL;

	if (r->auth_read || r->conn == NULL)
		return;
	r->auth_read = true;
	r->auth_user = MHD_basic_auth_get_username_password(r->conn, &pass);
	r->auth_pass = pass;
}

bool
gw_auth_check(struct gw_req *r, enum auth_perm perm, enum auth_perm also)
{
	bool ok;

	if (gw.auth == NULL)
		return true;
	gw_auth_credentials(r);
	ok = auth_allowed(gw.auth, r->auth_user, r->auth_pass, perm) &&
	    (also == AUTH_PERM_MAX || auth_allowed(gw.auth, r->auth_user, r->auth_pass, also));
	if (ok)
		gw.counters.auth_ok++;
	else
		gw.counters.auth_fail++;
	return ok;
}

void
gw_auth_add_credentials(struct gw_req *r, struct ipc_writer *w)
{
	if (gw.auth == NULL)
		return;
	gw_auth_credentials(r);
	if (r->auth_user != NULL) {
		ipc_add_str(w, "u", r->auth_user);
		ipc_add_str(w, "p", r->auth_pass != NULL ? r->auth_pass : "");
	}
}

void
gw_auth_release(struct gw_req *r)
{
	if (r->auth_pass != NULL) {
		sodium_memzero(r->auth_pass, strlen(r->auth_pass));
		MHD_free(r->auth_pass);
	}
	if (r->auth_user != NULL)
		MHD_free(r->auth_user);
	r->auth_user = r->auth_pass = NULL;
}
