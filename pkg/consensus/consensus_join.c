/*
 * Joining (see consensus_join.h). Sends PEER_JOIN {id, addr, voter} → PEER_JOIN_RESULT
 * {} or {e, ec, la}; with -bootstrap-expect PEER_META → PEER_META_RESULT {id, addr,
 * boot, ex}. A successful answer moves the node from JOINING to RUNNING.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/net.h"
#include "consensus_internal.h"

/* Calls fn for each address of the -join list but our own, in order. */
static void
cs_join_each(const struct consensus_options *opts, void (*fn)(void *arg, const char *addr),
    void *arg)
{
	char list[4096], *save = NULL, *a;

	snprintf(list, sizeof(list), "%s", opts->join);
	for (a = strtok_r(list, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
		while (*a == ' ')
			a++;
		if (*a != '\0' && strcmp(a, opts->raft_adv_addr) != 0)
			fn(arg, a);
	}
}

static cs_fwd_answer_fn cs_join_answer;

static void
cs_join_ask(struct consensus *c, const char *addr, bool followed)
{
	struct ipc_writer *out = &c->out;
	struct fwd_out *f = cs_fwd_new(c, NULL, IPC_PEER_JOIN_RESULT);

	f->on_answer = cs_join_answer;
	f->followed = followed;
	ipc_begin(out, IPC_PEER_JOIN, f->id);
	ipc_add_str(out, "id", c->opts->node_id);
	ipc_add_str(out, "addr", c->opts->raft_adv_addr);
	ipc_add_bool(out, "voter", !c->opts->non_voter);
	cs_auth_add_own(c, out);
	ipc_finish(out);
	(void)cs_fwd_send(c, f, addr, out);
}

static void
cs_join_answer(struct consensus *c, struct fwd_out *f, struct ipc_msg *m)
{
	char la[RAFT_ADDR_MAX] = "";
	const char *e;
	size_t n;
	enum ipc_errcode code;

	if (c->phase != CS_PHASE_JOINING)
		return;
	code = ipc_get_error(m, &e, &n);
	if (code == IPC_EC_NONE) {
		cs_set_phase(c, CS_PHASE_RUNNING);
		log_info("joined the cluster");
		return;
	}
	/* Only "not leader" is worth asking the named leader at once; any other refusal
	 * waits for the next round (asking again at once would spin). */
	if (code == IPC_EC_NOT_LEADER && ipc_get_strbuf(m, "la", la, sizeof(la)) == IPC_OK &&
	    la[0] != '\0' && strcmp(la, c->opts->raft_adv_addr) != 0 && !f->followed) {
		cs_join_ask(c, la, true);
		return;
	}
	log_info("join refused: %.*s", (int)n, e);
}

/* ---- -bootstrap-expect ------------------------------------------------------------ */

/*
 * Every fresh node asks the listed addresses who they are; the nodes that are also
 * waiting to bootstrap answer "boot". Once a node knows N-1 such others, it bootstraps
 * the configuration of those N voters, sorted by id — every node computes the same
 * one, so they all write the identical first entry.
 */
bool
cs_join_waiting_to_boot(struct consensus *c)
{
	return c->opts->bootstrap_expect > 1 && !c->has_state && raft_last_index(c->raft) == 0;
}

static int
cs_boot_cmp(const void *a, const void *b)
{
	return strcmp(((const struct raft_server *)a)->id, ((const struct raft_server *)b)->id);
}

static void
cs_boot_maybe(struct consensus *c)
{
	struct cs_join *j = &c->join;
	struct raft_config cfg;
	struct raft_server *sv;
	unsigned n = 0, want = (unsigned)c->opts->bootstrap_expect;

	if (!cs_join_waiting_to_boot(c) || j->boot_n + 1 < want)
		return;
	sv = calloc(want, sizeof(*sv));
	if (sv == NULL)
		fatalx("out of memory");
	snprintf(sv[n].id, sizeof(sv[n].id), "%s", c->opts->node_id);
	snprintf(sv[n].address, sizeof(sv[n].address), "%s", c->opts->raft_adv_addr);
	n++;
	for (unsigned i = 0; i < j->boot_n && n < want; i++, n++) {
		/* Same sizes: both are RAFT_ID_MAX / RAFT_ADDR_MAX, NUL-terminated. */
		memcpy(sv[n].id, j->boot_seen[i].id, sizeof(sv[n].id));
		memcpy(sv[n].address, j->boot_seen[i].addr, sizeof(sv[n].address));
	}
	qsort(sv, n, sizeof(*sv), cs_boot_cmp);
	raft_config_init(&cfg);
	for (unsigned i = 0; i < n; i++)
		raft_config_add(&cfg, sv[i].id, sv[i].address, RAFT_VOTER);
	free(sv);
	if (cs_core_bootstrap(c, &cfg) == 0) {
		log_info("bootstrap-expect %d: bootstrapped a cluster of %u voters", want, n);
		if (c->phase == CS_PHASE_JOINING)
			cs_set_phase(c, CS_PHASE_RUNNING);
		c->has_state = true;
	}
	raft_config_free(&cfg);
}

static void
cs_boot_answer(struct consensus *c, struct fwd_out *f, struct ipc_msg *m)
{
	struct cs_join *j = &c->join;
	char id[RAFT_ID_MAX] = "", addr[RAFT_ADDR_MAX] = "";
	bool boot = false;
	uint64_t expect = 0;

	(void)f;
	(void)ipc_get_strbuf(m, "id", id, sizeof(id));
	(void)ipc_get_strbuf(m, "addr", addr, sizeof(addr));
	(void)ipc_get_bool(m, "boot", &boot);
	(void)ipc_get_u64(m, "ex", &expect);
	if (!boot || id[0] == '\0' || strcmp(id, c->opts->node_id) == 0)
		return;
	if (expect != (uint64_t)c->opts->bootstrap_expect)
		log_warnx("node %s expects %llu nodes, we expect %d", id,
		    (unsigned long long)expect, c->opts->bootstrap_expect);
	for (unsigned i = 0; i < j->boot_n; i++)
		if (strcmp(j->boot_seen[i].id, id) == 0)
			return;
	if (j->boot_n < CS_BOOT_MAX) {
		snprintf(j->boot_seen[j->boot_n].id, sizeof(j->boot_seen[0].id), "%s", id);
		snprintf(j->boot_seen[j->boot_n].addr, sizeof(j->boot_seen[0].addr), "%s", addr);
		j->boot_n++;
	}
	cs_boot_maybe(c);
}

static void
cs_boot_probe_one(void *arg, const char *addr)
{
	struct consensus *c = arg;
	struct fwd_out *f = cs_fwd_new(c, NULL, IPC_PEER_META_RESULT);

	f->on_answer = cs_boot_answer;
	ipc_begin(&c->out, IPC_PEER_META, f->id);
	cs_auth_add_own(c, &c->out);	/* a node joins a bootstrap only with "join" */
	ipc_finish(&c->out);
	(void)cs_fwd_send(c, f, addr, &c->out);
}

/* ---- rounds ---------------------------------------------------------------------- */

static void
cs_join_ask_one(void *arg, const char *addr)
{
	cs_join_ask(arg, addr, false);
}

enum cs_join_step
cs_join_round(struct consensus *c)
{
	struct cs_join *j = &c->join;

	if (c->phase != CS_PHASE_JOINING)
		return CS_JOIN_DONE;
	if (j->round == 0 && j->started_ms == 0)
		j->started_ms = c->io->now_ms(c);
	/* A node already in a configuration with a leader has nothing left to ask. */
	if (c->has_state && raft_leader_id(c->raft)[0] != '\0' &&
	    raft_config_get(raft_configuration(c->raft), c->opts->node_id) != NULL) {
		cs_set_phase(c, CS_PHASE_RUNNING);
		return CS_JOIN_DONE;
	}
	if (c->opts->bootstrap_expect > 1 && !c->has_state) {
		cs_join_each(c->opts, cs_boot_probe_one, c);
		if (c->phase != CS_PHASE_JOINING)
			return CS_JOIN_DONE;
		if (c->io->now_ms(c) - j->started_ms > (uint64_t)c->opts->bootstrap_expect_timeout_ms) {
			log_warnx("bootstrap-expect %d: only found %u of the nodes in time",
			    c->opts->bootstrap_expect, j->boot_n + 1);
			return CS_JOIN_GAVE_UP;
		}
	} else if (j->round >= c->opts->join_attempts) {
		if (c->has_state) {
			log_warnx("could not reach the join addresses; carrying on with the existing state");
			cs_set_phase(c, CS_PHASE_RUNNING);
			return CS_JOIN_DONE;
		}
		log_warnx("failed to join cluster at %s after %d attempts", c->opts->join,
		    c->opts->join_attempts);
		return CS_JOIN_GAVE_UP;
	}
	cs_join_each(c->opts, cs_join_ask_one, c);
	j->round++;
	return CS_JOIN_AGAIN;
}

bool
cs_join_refused_single(struct consensus *c)
{
	const struct raft_config *cfg = raft_configuration(c->raft);

	if (!c->has_state || cfg->n != 1 || strcmp(cfg->servers[0].id, c->opts->node_id) != 0)
		return false;
	log_warnx("node is the only node in a single-node cluster, joining other clusters not "
	    "supported");
	return true;
}

/* ---- the start-up probe ------------------------------------------------------------ */

static bool
cs_addr_serves_http(const char *addr)
{
	char host[256], port[32], buf[8];
	struct addrinfo hints, *res = NULL;
	struct pollfd pfd;
	int fd, ok = 0;
	static const char probe[] = "GET / HTTP/1.0\r\n\r\n";

	if (net_split_hostport(addr, host, sizeof(host), port, sizeof(port)) != 0)
		return false;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return false;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (connect(fd, res->ai_addr, res->ai_addrlen) == 0 || errno == EINPROGRESS)) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 500) == 1 && (pfd.revents & POLLOUT) &&
		    send(fd, probe, sizeof(probe) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(probe) - 1)) {
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 500) == 1 && recv(fd, buf, 5, 0) == 5 &&
			    memcmp(buf, "HTTP/", 5) == 0)
				ok = 1;
		}
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return ok;
}

struct http_probe {
	char *bad;
	size_t len;
	bool found;
};

static void
cs_join_probe_one(void *arg, const char *addr)
{
	struct http_probe *p = arg;

	if (!p->found && cs_addr_serves_http(addr)) {
		snprintf(p->bad, p->len, "%s", addr);
		p->found = true;
	}
}

bool
cs_join_list_serves_http(const struct consensus_options *opts, char *bad, size_t len)
{
	struct http_probe p = { bad, len, false };

	cs_join_each(opts, cs_join_probe_one, &p);
	return p.found;
}
