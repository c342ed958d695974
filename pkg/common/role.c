/*
 * Role skeleton (see role.h). Receives SV_LINK, SV_LISTEN and SV_SHUTDOWN from the
 * supervisor and sends SV_READY; a thread answers SV_PING with SV_PONG on the
 * heartbeat link. A child whose supervisor link closes exits: a role never outlives
 * its node.
 */
#include "role.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "ipc_codec.h"
#include "ipc_fdpass.h"

#define ROLE_PROGRESS_TICK_MS	100

/* CLOCK_MONOTONIC ms of the last progress; written by the loop, read by the thread. */
static uint64_t role_progress_at;

static uint64_t
role_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
role_progress(struct role *r)
{
	(void)r;
	__atomic_store_n(&role_progress_at, role_now_ms(), __ATOMIC_RELAXED);
}

static void
role_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	role_progress(arg);
}

/*
 * Answers what waits on the heartbeat link: every SV_PING gets an SV_PONG {b: ms
 * without progress}. 1 when the link is gone, else 0 (-1 with errno EAGAIN: nothing
 * more for now on a non-blocking link).
 */
static int
role_heartbeat_answer(char *buf, size_t len, struct ipc_writer *w)
{
	struct ipc_msg m;
	int passed, rc = ipc_fdpass_recv(PROC_HEARTBEAT_FD, buf, len, &m, &passed);
	uint64_t at, now;

	if (rc == -1 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return -1;
	if (rc == 0 || rc == -1)
		return 1;	/* the node is going away; the loop sees it on fd 3 */
	if (passed >= 0)
		close(passed);
	if (rc == -2)
		return 0;
	if (m.type == IPC_SV_PING) {
		at = __atomic_load_n(&role_progress_at, __ATOMIC_RELAXED);
		now = role_now_ms();
		ipc_begin(w, IPC_SV_PONG, 0);
		ipc_add_u64(w, "b", now > at ? now - at : 0);
		ipc_finish(w);
		(void)ipc_fdpass_send(PROC_HEARTBEAT_FD, w, -1);
	}
	ipc_msg_destroy(&m);
	return 0;
}

static void *
role_heartbeat_main(void *arg)
{
	static char buf[IPC_SV_PACKET_MAX];
	struct ipc_writer w;
	int rc;

	(void)arg;
	ipc_writer_init(&w);
	while ((rc = role_heartbeat_answer(buf, sizeof(buf), &w)) <= 0)
		;
	ipc_writer_destroy(&w);
	return NULL;
}

static void
role_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	static char buf[IPC_SV_PACKET_MAX];
	static struct ipc_writer w;
	static bool w_ok;
	struct role *r = arg;
	int rc;

	(void)fd; (void)what;
	if (!w_ok) {
		ipc_writer_init(&w);
		w_ok = true;
	}
	role_progress(r);	/* the loop is running: that is progress */
	while ((rc = role_heartbeat_answer(buf, sizeof(buf), &w)) == 0)
		;
	if (rc == 1)
		event_del(r->hb_ev);
}

static void
role_start_heartbeats(struct role *r)
{
	struct timeval tick = { 0, ROLE_PROGRESS_TICK_MS * 1000 };
	sigset_t all, old;
	pthread_t tid;

	role_progress(r);
	if (!r->ops->heartbeat_thread) {
		evutil_make_socket_nonblocking(PROC_HEARTBEAT_FD);
		r->hb_ev = event_new(r->base, PROC_HEARTBEAT_FD, EV_READ | EV_PERSIST,
		    role_heartbeat_cb, r);
		event_add(r->hb_ev, NULL);
		return;
	}
	r->tick_ev = event_new(r->base, -1, EV_PERSIST, role_tick_cb, r);
	event_add(r->tick_ev, &tick);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&tid, NULL, role_heartbeat_main, NULL) != 0)
		fatalx("cannot start the heartbeat thread");
	pthread_detach(tid);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void
role_send_sv(struct role *r, enum ipc_type type)
{
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_begin(&w, type, 0);
	ipc_finish(&w);
	if (ipc_fdpass_send(r->sv_fd, &w, -1) == -1)
		log_warn("send %s to supervisor", ipc_type_name(type));
	ipc_writer_destroy(&w);
}

static void
role_sv_cb(evutil_socket_t fd, short what, void *arg)
{
	struct role *r = arg;
	static char buf[IPC_SV_PACKET_MAX];

	(void)what;
	for (;;) {
		struct ipc_msg m;
		int passed, rc;
		char name[32];
		uint64_t peer;

		rc = ipc_fdpass_recv(fd, buf, sizeof(buf), &m, &passed);
		if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rc == 0 || rc == -1) {
			log_warnx("supervisor link closed, exiting");
			exit(1);
		}
		if (rc == -2) {
			log_warnx("bad frame from supervisor, ignored");
			continue;
		}
		switch (m.type) {
		case IPC_SV_LINK:
			if (passed < 0 || ipc_get_u64(&m, "r", &peer) != IPC_OK ||
			    peer >= PROC_MAX) {
				log_warnx("SV_LINK without a valid fd or role");
				break;
			}
			r->ops->on_link((enum proc_id)peer, passed, r->ctx);
			passed = -1;
			break;
		case IPC_SV_LISTEN:
			if (passed < 0 || ipc_get_strbuf(&m, "n", name, sizeof(name)) != IPC_OK) {
				log_warnx("SV_LISTEN without a valid fd or name");
				break;
			}
			r->ops->on_listen(name, passed, r->ctx);
			passed = -1;
			break;
		case IPC_SV_SHUTDOWN:
			log_debug("shutdown requested");
			r->ops->on_shutdown(r->ctx);
			break;
		default:
			log_warnx("unexpected %s from supervisor", ipc_type_name(m.type));
			break;
		}
		if (passed >= 0)
			close(passed);
		ipc_msg_destroy(&m);
	}
}

static void
role_sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct role *r = arg;

	(void)what;
	log_info("got signal %d, stopping", (int)sig);
	r->ops->on_shutdown(r->ctx);
}

static void
role_sighup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct role *r = arg;

	(void)fd; (void)what;
	r->ops->on_reload(r->ctx);
}

struct event_base *
role_init(struct role *r, const struct role_ops *ops, void *ctx)
{
	memset(r, 0, sizeof(*r));
	r->ops = ops;
	r->ctx = ctx;
	r->sv_fd = PROC_SUPERVISOR_FD;
	/* A role never outlives the supervisor, even if it is killed with -9. */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() == 1)
		fatalx("supervisor already gone");
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Every request allocates and frees tens of KiB (bodies, results, JSON). With
	 * glibc's defaults the top of the heap is given back after each one and faulted in
	 * again by the next: page faults were a fifth of the gateway's time in bulk writes.
	 * Keep up to 16 MiB of free heap and grow it 1 MiB at a time.
	 */
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	/* Ctrl-C reaches the whole process group; the supervisor orders the stop. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	r->base = event_base_new();
	if (r->base == NULL)
		fatalx("event_base_new failed");
	evutil_make_socket_nonblocking(r->sv_fd);
	r->sv_ev = event_new(r->base, r->sv_fd, EV_READ | EV_PERSIST, role_sv_cb, r);
	event_add(r->sv_ev, NULL);
	r->sigterm_ev = evsignal_new(r->base, SIGTERM, role_sigterm_cb, r);
	event_add(r->sigterm_ev, NULL);
	if (ops->on_reload != NULL) {
		r->sighup_ev = evsignal_new(r->base, SIGHUP, role_sighup_cb, r);
		event_add(r->sighup_ev, NULL);
	}
	role_start_heartbeats(r);
	return r->base;
}

void
role_ready(struct role *r)
{
	if (r->ready_sent)
		return;
	r->ready_sent = 1;
	role_send_sv(r, IPC_SV_READY);
}

void
role_run(struct role *r)
{
	event_base_dispatch(r->base);
	log_debug("event loop done");
	exit(0);
}

void
role_exit(struct role *r)
{
	event_base_loopexit(r->base, NULL);
}
