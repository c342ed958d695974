/*
 * Supervisor main loop. Starts each role as `rqlited -P <role> <original args>`
 * with its supervisor link (SEQPACKET) on fd 3 and its heartbeat link on fd 4, hands
 * it links to the siblings that are running and its listening socket, and keeps it
 * running.
 *
 * Supervisor link: sends SV_LINK, SV_LISTEN, SV_SHUTDOWN; receives SV_READY.
 * Heartbeat link: sends SV_PING every second; receives SV_PONG {b: ms the role has
 * gone without progress}, answered by a thread of the role. A role that misses
 * SV_PING_MISSES_MAX pongs is hung (or stopped) and is killed; one that answers but
 * is busy (a long statement, a restore) is reported every SV_BUSY_REPORT_MS and
 * killed only after SV_BUSY_MAX_MS without progress.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/net.h"
#include "common/proc.h"
#include "ipc_codec.h"
#include "ipc_fdpass.h"
#include "sd_notify.h"

#define SV_PING_INTERVAL_MS	1000
#define SV_PING_MISSES_MAX	5	/* a hung child is killed after this many */
#define SV_BUSY_REPORT_MS	5000	/* busy this long: say so, and again this often */
#define SV_BUSY_MAX_MS		600000	/* no progress for 10 minutes: wedged */
#define SV_BACKOFF_MIN_MS	100
#define SV_BACKOFF_MAX_MS	10000
#define SV_STABLE_MS		10000	/* up this long: back-off resets */
#define SV_STOP_GRACE_MS	10000
/* A child that dies this many times in a row within SV_STABLE_MS of starting cannot
 * start (a bad key file, a broken database): the node stops with status 1, so that
 * systemd or OpenRC sees the failure instead of a node that never serves. */
#define SV_QUICK_DEATHS_MAX	5

enum child_state { CHILD_DOWN, CHILD_STARTING, CHILD_READY, CHILD_STOPPING };

struct child {
	enum proc_id id;
	enum child_state state;
	pid_t pid;
	int link;		/* our end of the supervisor link */
	struct event *link_ev;
	int hb;			/* our end of the heartbeat link */
	struct event *hb_ev;
	uint64_t busy_reported_ms;	/* busy time last reported (0: not busy) */
	struct event *restart_ev;
	int missed_pings;
	int backoff_ms;
	int quick_deaths;	/* in a row, each within SV_STABLE_MS of its start */
	uint64_t started_ms;
	const char *listener;	/* "http", "raft" or NULL */
};

struct supervisor {
	const struct supervisor_options *opts;
	struct event_base *base;
	struct child children[PROC_MAX];
	int http_fd, raft_fd;
	int lock_fd;
	int stopping;
	int notified_ready;
	int exit_status;
	struct event *stop_timer;
};

/* Start order; shutdown runs it backwards. */
static const enum proc_id start_order[] = { PROC_STORAGE, PROC_CONSENSUS, PROC_GATEWAY };
#define NSTART (sizeof(start_order) / sizeof(start_order[0]))

static void supervisor_start_child(struct supervisor *sv, struct child *c);
static void supervisor_stop_next(struct supervisor *sv);
static void supervisor_begin_stop(struct supervisor *sv);
static struct supervisor *the_sv;	/* for callbacks that only get a child */

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
sv_send(struct child *c, enum ipc_type type, const char *key, const char *sval,
    uint64_t uval, int fd)
{
	struct ipc_writer w;
	int rc;

	ipc_writer_init(&w);
	ipc_begin(&w, type, 0);
	if (key != NULL && sval != NULL)
		ipc_add_str(&w, key, sval);
	else if (key != NULL)
		ipc_add_u64(&w, key, uval);
	ipc_finish(&w);
	rc = ipc_fdpass_send(c->link, &w, fd);
	ipc_writer_destroy(&w);
	return rc;
}

static void
sv_send_hb(struct child *c, enum ipc_type type)
{
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_begin(&w, type, 0);
	ipc_finish(&w);
	(void)ipc_fdpass_send(c->hb, &w, -1);	/* a full buffer is a missed ping */
	ipc_writer_destroy(&w);
}

/* Like mkdir -p: rqlite creates the whole data directory path. */
static int
mkdir_p(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

static int
datadir_lock(const char *dir)
{
	char path[4096], pidbuf[32];
	int fd;

	snprintf(path, sizeof(path), "%s/rqlited.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		ssize_t n = pread(fd, pidbuf, sizeof(pidbuf) - 1, 0);
		const char *pid;

		pidbuf[n > 0 ? n : 0] = '\0';
		pid = strtok(pidbuf, "\n");
		fprintf(stderr, "fatal: data directory %s is in use by another rqlited%s%s%s\n",
		    dir, pid != NULL ? " (pid " : "", pid != NULL ? pid : "", pid != NULL ? ")" : "");
		close(fd);
		errno = EBUSY;
		return -2;
	}
	if (ftruncate(fd, 0) == 0) {
		int n = snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
		(void)!pwrite(fd, pidbuf, (size_t)n, 0);
	}
	return fd;
}

/* A new link between two running roles: one end to each. */
static void
supervisor_link(struct supervisor *sv, struct child *a, struct child *b)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("socketpair");
		return;
	}
	(void)sv;
	if (sv_send(a, IPC_SV_LINK, "r", NULL, (uint64_t)b->id, sp[0]) == -1)
		log_warn("link %s→%s", proc_name(a->id), proc_name(b->id));
	if (sv_send(b, IPC_SV_LINK, "r", NULL, (uint64_t)a->id, sp[1]) == -1)
		log_warn("link %s→%s", proc_name(b->id), proc_name(a->id));
	close(sp[0]);
	close(sp[1]);
}

/*
 * Reads every frame waiting on one of a child's links and hands each to on_msg; at
 * EOF (the child is exiting: SIGCHLD does the bookkeeping) stops watching the link.
 */
static void
sv_drain(evutil_socket_t fd, struct child *c, struct event *ev, const char *what,
    void (*on_msg)(struct child *c, struct ipc_msg *m))
{
	static char buf[IPC_SV_PACKET_MAX];

	for (;;) {
		struct ipc_msg m;
		int passed;
		int rc = ipc_fdpass_recv(fd, buf, sizeof(buf), &m, &passed);

		if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rc <= 0 && rc != -2) {
			event_del(ev);
			return;
		}
		if (passed >= 0)
			close(passed);
		if (rc == -2) {
			log_warnx("bad %s frame from %s", what, proc_name(c->id));
			continue;
		}
		on_msg(c, &m);
		ipc_msg_destroy(&m);
	}
}

static void
sv_on_link_msg(struct child *c, struct ipc_msg *m)
{
	if (m->type != IPC_SV_READY) {
		log_warnx("unexpected %s from %s", ipc_type_name(m->type), proc_name(c->id));
		return;
	}
	if (c->state != CHILD_STARTING)
		return;
	c->state = CHILD_READY;
	log_info("%s ready (pid %ld)", proc_name(c->id), (long)c->pid);
	/* The gateway starts last: with it the node serves. */
	if (c->id == PROC_GATEWAY && !the_sv->notified_ready) {
		the_sv->notified_ready = 1;
		if (sd_notify_send("READY=1") < 0)
			log_warn("sd_notify READY");
	}
}

/* SV_PONG {b: ms the child has gone without progress}. */
static void
sv_on_pong(struct child *c, struct ipc_msg *m)
{
	uint64_t busy = 0;

	if (m->type != IPC_SV_PONG) {
		log_warnx("unexpected %s on the heartbeat link of %s", ipc_type_name(m->type),
		    proc_name(c->id));
		return;
	}
	(void)ipc_get_u64(m, "b", &busy);
	c->missed_pings = 0;
	if (busy >= SV_BUSY_MAX_MS) {
		log_warnx("%s made no progress for %llu s, killing it", proc_name(c->id),
		    (unsigned long long)(busy / 1000));
		kill(c->pid, SIGKILL);
	} else if (busy >= SV_BUSY_REPORT_MS &&
	    busy >= c->busy_reported_ms + SV_BUSY_REPORT_MS) {
		log_info("%s busy for %llu s (answering heartbeats)", proc_name(c->id),
		    (unsigned long long)(busy / 1000));
		c->busy_reported_ms = busy;
	} else if (busy < SV_BUSY_REPORT_MS && c->busy_reported_ms != 0) {
		log_info("%s no longer busy", proc_name(c->id));
		c->busy_reported_ms = 0;
	}
}

static void
supervisor_child_msg_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)what;
	sv_drain(fd, c, c->link_ev, "supervisor-link", sv_on_link_msg);
}

static void
supervisor_child_hb_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)what;
	sv_drain(fd, c, c->hb_ev, "heartbeat", sv_on_pong);
}

static void
supervisor_restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd; (void)what;
	if (!the_sv->stopping)
		supervisor_start_child(the_sv, c);
}

static void
supervisor_start_child(struct supervisor *sv, struct child *c)
{
	int sp[2], hb[2];
	pid_t pid;
	char exe[4096];
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hb) == -1)
		fatal("socketpair");
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		fatal("readlink /proc/self/exe");
	exe[n] = '\0';

	pid = fork();
	if (pid == -1)
		fatal("fork");
	if (pid == 0) {
		char **argv = calloc((size_t)sv->opts->argc + 3, sizeof(char *));
		int link_fd, hb_fd;

		if (argv == NULL)
			_exit(127);
		/* Out of the way of fds 3 and 4 first, whatever numbers the pairs got. */
		if ((link_fd = fcntl(sp[1], F_DUPFD_CLOEXEC, 10)) == -1 ||
		    (hb_fd = fcntl(hb[1], F_DUPFD_CLOEXEC, 10)) == -1 ||
		    dup2(link_fd, PROC_SUPERVISOR_FD) == -1 || dup2(hb_fd, PROC_HEARTBEAT_FD) == -1)
			_exit(127);
		argv[0] = sv->opts->argv[0];
		argv[1] = "-P";
		argv[2] = (char *)proc_name(c->id);
		for (int i = 1; i < sv->opts->argc; i++)
			argv[i + 2] = sv->opts->argv[i];
		execv(exe, argv);
		_exit(127);
	}
	close(sp[1]);
	close(hb[1]);
	c->pid = pid;
	c->link = sp[0];
	c->hb = hb[0];
	c->busy_reported_ms = 0;
	evutil_make_socket_nonblocking(c->hb);
	c->hb_ev = event_new(sv->base, c->hb, EV_READ | EV_PERSIST, supervisor_child_hb_cb, c);
	event_add(c->hb_ev, NULL);
	c->state = CHILD_STARTING;
	c->missed_pings = 0;
	c->started_ms = now_ms();
	evutil_make_socket_nonblocking(c->link);
	c->link_ev = event_new(sv->base, c->link, EV_READ | EV_PERSIST, supervisor_child_msg_cb, c);
	event_add(c->link_ev, NULL);

	if (c->listener != NULL)
		sv_send(c, IPC_SV_LISTEN, "n", c->listener, 0,
		    strcmp(c->listener, "http") == 0 ? sv->http_fd : sv->raft_fd);
	for (int i = 0; i < PROC_MAX; i++) {
		struct child *o = &sv->children[i];
		if (o != c && o->id != PROC_SUPERVISOR &&
		    (o->state == CHILD_STARTING || o->state == CHILD_READY))
			supervisor_link(sv, c, o);
	}
	log_debug("started %s (pid %ld)", proc_name(c->id), (long)pid);
}

static void
describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "status %d", status);
}

static void
supervisor_reap(struct supervisor *sv)
{
	for (;;) {
		int status;
		char why[32];
		pid_t pid = waitpid(-1, &status, WNOHANG);
		struct child *c = NULL;

		if (pid <= 0)
			return;
		for (int i = 0; i < PROC_MAX; i++)
			if (sv->children[i].pid == pid)
				c = &sv->children[i];
		if (c == NULL)
			continue;
		describe_status(status, why, sizeof(why));
		event_free(c->link_ev);
		c->link_ev = NULL;
		close(c->link);
		c->link = -1;
		event_free(c->hb_ev);
		c->hb_ev = NULL;
		close(c->hb);
		c->hb = -1;
		c->pid = 0;
		if (c->state == CHILD_STOPPING) {
			log_info("%s stopped (%s)", proc_name(c->id), why);
			c->state = CHILD_DOWN;
			supervisor_stop_next(sv);
			continue;
		}
		log_warnx("lost child: %s (%s)", proc_name(c->id), why);
		if (WIFEXITED(status) && WEXITSTATUS(status) == PROC_EXIT_FATAL && !sv->stopping) {
			log_warnx("%s cannot continue; stopping the node", proc_name(c->id));
			c->state = CHILD_DOWN;
			sv->exit_status = 1;
			supervisor_begin_stop(sv);
			continue;
		}
		if (now_ms() - c->started_ms > SV_STABLE_MS)
			c->quick_deaths = 0;
		else if (++c->quick_deaths >= SV_QUICK_DEATHS_MAX && !sv->stopping) {
			log_warnx("%s died %d times in a row within %d s of starting; stopping the "
			    "node", proc_name(c->id), c->quick_deaths, SV_STABLE_MS / 1000);
			c->state = CHILD_DOWN;
			sv->exit_status = 1;
			supervisor_begin_stop(sv);
			continue;
		}
		/* Throttle a child that dies before it serves; reset once it has been stable. */
		if (c->state == CHILD_STARTING)
			c->backoff_ms = c->backoff_ms * 2;
		else if (now_ms() - c->started_ms > SV_STABLE_MS)
			c->backoff_ms = SV_BACKOFF_MIN_MS;
		if (c->backoff_ms < SV_BACKOFF_MIN_MS)
			c->backoff_ms = SV_BACKOFF_MIN_MS;
		if (c->backoff_ms > SV_BACKOFF_MAX_MS)
			c->backoff_ms = SV_BACKOFF_MAX_MS;
		c->state = CHILD_DOWN;
		if (!sv->stopping) {
			struct timeval tv = { c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000 };
			log_info("restarting %s in %d ms", proc_name(c->id), c->backoff_ms);
			evtimer_add(c->restart_ev, &tv);
		} else {
			supervisor_stop_next(sv);
		}
	}
}

static void
supervisor_sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what;
	supervisor_reap(arg);
}

static void
supervisor_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *sv = arg;

	(void)fd; (void)what;
	for (int i = 0; i < PROC_MAX; i++) {
		struct child *c = &sv->children[i];
		if (c->state != CHILD_READY)
			continue;
		if (++c->missed_pings > SV_PING_MISSES_MAX) {
			log_warnx("%s missed %d heartbeats, killing it", proc_name(c->id),
			    c->missed_pings - 1);
			kill(c->pid, SIGKILL);
			continue;
		}
		sv_send_hb(c, IPC_SV_PING);
	}
}

/* Stops the children one at a time, in the reverse of the start order. */
static void
supervisor_stop_next(struct supervisor *sv)
{
	for (int k = (int)NSTART - 1; k >= 0; k--) {
		struct child *c = &sv->children[start_order[k]];
		if (c->state == CHILD_STOPPING)
			return;		/* wait for it */
		if (c->state == CHILD_DOWN)
			continue;
		c->state = CHILD_STOPPING;
		log_info("stopping %s", proc_name(c->id));
		if (sv_send(c, IPC_SV_SHUTDOWN, NULL, NULL, 0, -1) == -1)
			kill(c->pid, SIGTERM);
		return;
	}
	log_info("node stopped");
	event_base_loopexit(sv->base, NULL);
}

static void
supervisor_stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *sv = arg;

	(void)fd; (void)what;
	for (int i = 0; i < PROC_MAX; i++) {
		struct child *c = &sv->children[i];
		if (c->pid > 0) {
			log_warnx("%s did not stop in time, killing it", proc_name(c->id));
			kill(c->pid, SIGKILL);
		}
	}
	sv->exit_status = 1;
}


static void
supervisor_begin_stop(struct supervisor *sv)
{
	struct timeval tv = { SV_STOP_GRACE_MS / 1000, 0 };

	if (sv->stopping)
		return;
	sv->stopping = 1;
	(void)sd_notify_send("STOPPING=1");
	for (int i = 0; i < PROC_MAX; i++)
		if (sv->children[i].restart_ev != NULL)
			evtimer_del(sv->children[i].restart_ev);
	sv->stop_timer = evtimer_new(sv->base, supervisor_stop_timeout_cb, sv);
	evtimer_add(sv->stop_timer, &tv);
	supervisor_stop_next(sv);
}

static void
supervisor_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor *sv = arg;

	(void)what;
	if (sv->stopping)
		return;
	log_info("received signal %d, shutting down", (int)sig);
	supervisor_begin_stop(sv);
}

/* SIGHUP: each running role rereads what it can (-auth); the node keeps serving. */
static void
supervisor_reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor *sv = arg;

	(void)sig; (void)what;
	if (sv->stopping)
		return;
	log_info("received SIGHUP, asking the roles to reload");
	for (int i = 0; i < PROC_MAX; i++)
		if (sv->children[i].pid > 0)
			kill(sv->children[i].pid, SIGHUP);
}

/* Waits (running the loop) until child c reports ready or dies. */
static void
supervisor_wait_ready(struct supervisor *sv, struct child *c)
{
	uint64_t deadline = now_ms() + 60000;

	while (c->state == CHILD_STARTING && !sv->stopping && now_ms() < deadline)
		event_base_loop(sv->base, EVLOOP_ONCE);
}

int
supervisor_main(const struct supervisor_options *opts)
{
	struct supervisor sv;
	char err[512];
	struct event *sig_ev[4], *ping_ev;
	struct timeval ping_tv = { SV_PING_INTERVAL_MS / 1000, (SV_PING_INTERVAL_MS % 1000) * 1000 };

	memset(&sv, 0, sizeof(sv));
	the_sv = &sv;
	sv.opts = opts;
	signal(SIGPIPE, SIG_IGN);

	if (mkdir_p(opts->data_dir) == -1) {
		fprintf(stderr, "fatal: failed to create data directory %s: %s\n",
		    opts->data_dir, strerror(errno));
		return 1;
	}
	sv.lock_fd = datadir_lock(opts->data_dir);
	if (sv.lock_fd == -1) {
		fprintf(stderr, "fatal: failed to lock data directory %s: %s\n",
		    opts->data_dir, strerror(errno));
		return 1;
	}
	if (sv.lock_fd == -2)
		return 1;
	sv.http_fd = net_listen(opts->http_addr, err, sizeof(err));
	if (sv.http_fd == -1) {
		fprintf(stderr, "fatal: failed to start HTTP service: %s\n", err);
		return 1;
	}
	sv.raft_fd = net_listen(opts->raft_addr, err, sizeof(err));
	if (sv.raft_fd == -1) {
		fprintf(stderr, "fatal: failed to open Raft listener: %s\n", err);
		return 1;
	}

	sv.base = event_base_new();
	if (sv.base == NULL)
		fatalx("event_base_new failed");
	for (int i = 0; i < PROC_MAX; i++) {
		sv.children[i].id = (enum proc_id)i;
		sv.children[i].link = -1;
		sv.children[i].hb = -1;
		sv.children[i].backoff_ms = SV_BACKOFF_MIN_MS;
		sv.children[i].restart_ev = evtimer_new(sv.base, supervisor_restart_cb, &sv.children[i]);
	}
	sv.children[PROC_GATEWAY].listener = "http";
	sv.children[PROC_CONSENSUS].listener = "raft";

	sig_ev[0] = evsignal_new(sv.base, SIGCHLD, supervisor_sigchld_cb, &sv);
	sig_ev[1] = evsignal_new(sv.base, SIGTERM, supervisor_signal_cb, &sv);
	sig_ev[2] = evsignal_new(sv.base, SIGINT, supervisor_signal_cb, &sv);
	sig_ev[3] = evsignal_new(sv.base, SIGHUP, supervisor_reload_cb, &sv);
	for (int i = 0; i < 4; i++)
		event_add(sig_ev[i], NULL);
	ping_ev = event_new(sv.base, -1, EV_PERSIST, supervisor_ping_cb, &sv);
	event_add(ping_ev, &ping_tv);

	log_info("data directory %s, HTTP on %s, Raft on %s", opts->data_dir,
	    opts->http_addr, opts->raft_addr);
	for (size_t k = 0; k < NSTART && !sv.stopping; k++) {
		struct child *c = &sv.children[start_order[k]];
		supervisor_start_child(&sv, c);
		supervisor_wait_ready(&sv, c);
	}
	event_base_dispatch(sv.base);

	for (int i = 0; i < 4; i++)
		event_free(sig_ev[i]);
	event_free(ping_ev);
	for (int i = 0; i < PROC_MAX; i++)
		event_free(sv.children[i].restart_ev);
	if (sv.stop_timer != NULL)
		event_free(sv.stop_timer);
	event_base_free(sv.base);
	close(sv.http_fd);
	close(sv.raft_fd);
	close(sv.lock_fd);
	return sv.exit_status;
}
