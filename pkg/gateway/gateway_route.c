/*
 * The route table: which handler answers a path, and for which methods. The
 * dispatcher answers what rqlite answers before any handler runs: OPTIONS (CORS
 * preflight) is 200 with an empty body on every path, an unknown path is 404, a
 * malformed query string is 400 with rqlite's text, and a method the path does not
 * take is 405 with an empty body, in that order; with -auth, a caller without the
 * route's permission gets 401 (empty) before the method is looked at. Sends and receives no messages.
 */
#include <string.h>

#include "gateway_internal.h"

enum gw_match { GW_EXACT, GW_PREFIX };

struct gw_route {
	const char *path;
	enum gw_match match;
	unsigned methods;		/* GW_GET | GW_POST … */
	enum auth_perm perm, also;	/* -auth: what a caller needs (also: none if MAX) */
	void (*handler)(struct gw_req *r);
};

/*
 * Rows for one path are adjacent; the first whose methods include the request's
 * wins. A prefix row takes any path that starts with its own (/db/executeX is
 * /db/execute). /debug/vars is expvar's handler, which takes any method. rqlite sends / to its web console (302 /console/); until we serve one, a
 * redirect would only lead to a 404, so / is not routed.
 */
static const struct gw_route gw_routes[] = {
	{ "/db/execute", GW_PREFIX, GW_POST, AUTH_PERM_EXECUTE, AUTH_PERM_MAX, gw_handle_execute },
	{ "/db/query", GW_PREFIX, GW_GET | GW_POST, AUTH_PERM_QUERY, AUTH_PERM_MAX, gw_handle_query },
	{ "/db/request", GW_PREFIX, GW_POST, AUTH_PERM_EXECUTE, AUTH_PERM_QUERY, gw_handle_request },
	{ "/db/sql", GW_PREFIX, GW_GET | GW_POST, AUTH_PERM_QUERY, AUTH_PERM_MAX, gw_handle_sql },
	{ "/db/backup", GW_PREFIX, GW_GET, AUTH_PERM_BACKUP, AUTH_PERM_MAX, gw_handle_backup },
	{ "/db/load", GW_PREFIX, GW_POST, AUTH_PERM_LOAD, AUTH_PERM_MAX, gw_handle_load },
	{ "/boot", GW_EXACT, GW_POST, AUTH_PERM_LOAD, AUTH_PERM_MAX, gw_handle_boot },
	{ "/status", GW_PREFIX, GW_GET, AUTH_PERM_STATUS, AUTH_PERM_MAX, gw_handle_status },
	{ "/nodes", GW_PREFIX, GW_GET, AUTH_PERM_STATUS, AUTH_PERM_MAX, gw_handle_nodes },
	{ "/readyz", GW_PREFIX, GW_GET, AUTH_PERM_READY, AUTH_PERM_MAX, gw_handle_readyz },
	{ "/leader", GW_EXACT, GW_GET, AUTH_PERM_LEADER_OPS, AUTH_PERM_MAX, gw_handle_leader },
	{ "/leader", GW_EXACT, GW_POST, AUTH_PERM_LEADER_OPS, AUTH_PERM_MAX, gw_handle_stepdown },
	{ "/remove", GW_PREFIX, GW_DELETE, AUTH_PERM_REMOVE, AUTH_PERM_MAX, gw_handle_remove },
	{ "/snapshot", GW_EXACT, GW_POST, AUTH_PERM_SNAPSHOT, AUTH_PERM_MAX, gw_handle_snapshot },
	{ "/reap", GW_EXACT, GW_POST, AUTH_PERM_SNAPSHOT, AUTH_PERM_MAX, gw_handle_reap },
	{ "/debug/vars", GW_EXACT, GW_ANY, AUTH_PERM_STATUS, AUTH_PERM_MAX, gw_handle_debug_vars },
	{ "/debug/fault", GW_EXACT, GW_POST, AUTH_PERM_ALL, AUTH_PERM_MAX, gw_handle_fault },
};

#define GW_NROUTES	(sizeof(gw_routes) / sizeof(gw_routes[0]))

static enum gw_method
gw_method_of(const char *method)
{
	if (strcmp(method, "GET") == 0)
		return GW_GET;
	if (strcmp(method, "POST") == 0)
		return GW_POST;
	if (strcmp(method, "DELETE") == 0)
		return GW_DELETE;
	return GW_OTHER;	/* HEAD, PUT, PATCH, anything: no route but expvar takes it */
}

static bool
gw_route_matches(const struct gw_route *rt, const char *path)
{
	if (rt->match == GW_PREFIX)
		return strncmp(path, rt->path, strlen(rt->path)) == 0;
	return strcmp(path, rt->path) == 0;
}

void
gw_route(struct gw_req *r)
{
	const struct gw_route *found = NULL;
	char err[GATEWAY_PARAMS_ERR_MAX];
	size_t i;

	if (strcmp(r->method, "OPTIONS") == 0) {
		gw_respond_empty(r, MHD_HTTP_OK);
		return;
	}
	r->verb = gw_method_of(r->method);
	for (i = 0; i < GW_NROUTES && !gw_route_matches(&gw_routes[i], r->path); i++)
		;
	if (i == GW_NROUTES) {
		gw_respond_empty(r, MHD_HTTP_NOT_FOUND);
		return;
	}
	for (size_t j = i; j < GW_NROUTES && strcmp(gw_routes[j].path, gw_routes[i].path) == 0; j++) {
		if ((gw_routes[j].methods & r->verb) != 0) {
			found = &gw_routes[j];
			break;
		}
	}
	/* The query string is checked before the method, as it always was here. */
	if (gateway_params_parse(r->raw_query != NULL ? r->raw_query : "", &r->params, err,
	    sizeof(err)) != 0) {
		gw_respond_text(r, MHD_HTTP_BAD_REQUEST, err);
		return;
	}
	r->params_ok = true;
	/* rqlite checks the permission first, then the method. */
	if (!gw_auth_check(r, gw_routes[i].perm, gw_routes[i].also)) {
		gw_respond_empty(r, MHD_HTTP_UNAUTHORIZED);
		return;
	}
	if (found == NULL) {
		gw_respond_empty(r, MHD_HTTP_METHOD_NOT_ALLOWED);
		return;
	}
	found->handler(r);
}
