/*
 * Framed stream links on libevent (see ipc_conn.h).
 *
 * Reading: our own read event fills one flat buffer with a single recv per wake-up
 * and frames are decoded in place from it, so a frame is never copied on the way in
 * and never needs joining from chained chunks. A bufferevent would first ask the
 * kernel how much is waiting (ioctl FIONREAD), one extra syscall per wake-up on
 * every hop of every request.
 *
 * Writing: frames sent during one pass of the event loop collect in `out` and are
 * written with one syscall at the end of that pass (a deferred event), not after the
 * next epoll round as a bufferevent would. Each hop between our processes saves a
 * round of epoll_ctl/epoll_wait, and on a virtual machine every such wake-up costs
 * tens of microseconds. What the socket does not take at once moves to the
 * bufferevent, which writes it when the socket drains, in order.
 */
#include "ipc_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/log.h"

/* The read buffer's usual size; one bigger frame grows it, and it shrinks back once
 * empty so an idle link keeps no large buffer. */
#define IPC_CONN_RBUF	(64u * 1024)

struct ipc_conn {
	struct bufferevent *bev;	/* the write side; reading is read_ev */
	struct event *read_ev;
	char *rbuf;
	size_t rstart, rend, rcap;	/* unread bytes are rbuf[rstart, rend) */
	struct evbuffer *out;		/* written at the end of this loop pass */
	struct event *flush_ev;
	char name[32];
	ipc_msg_cb *on_msg;
	ipc_close_cb *on_close;
	ipc_drained_cb *on_drained;
	void *arg;
	unsigned local_end, remote_end;	/* 0: any message is handed over */
	int in_callback;	/* on_msg running: defer the free */
	int closing;
};

static void
ipc_conn_close(struct ipc_conn *c, const char *reason)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->on_close != NULL)
		c->on_close(c, reason, c->arg);
	if (c->in_callback == 0)
		ipc_conn_free(c);
}

/*
 * Makes room for at least `need` more bytes after rend (moving unread bytes to the
 * front, growing the buffer when a frame is bigger than it). -1 when out of memory.
 */
static int
ipc_conn_rbuf_room(struct ipc_conn *c, size_t need)
{
	size_t unread = c->rend - c->rstart;
	char *p;

	if (c->rcap - c->rend >= need)
		return 0;
	if (c->rstart > 0) {
		memmove(c->rbuf, c->rbuf + c->rstart, unread);
		c->rstart = 0;
		c->rend = unread;
		if (c->rcap - c->rend >= need)
			return 0;
	}
	if ((p = realloc(c->rbuf, unread + need)) == NULL)
		return -1;
	c->rbuf = p;
	c->rcap = unread + need;
	return 0;
}

/* Hands over every whole frame in the buffer. 0, or -1 when the link was closed. */
static int
ipc_conn_deliver(struct ipc_conn *c, unsigned *handled)
{
	while (!c->closing && c->rend - c->rstart >= 4) {
		const unsigned char *hdr = (const unsigned char *)c->rbuf + c->rstart;
		uint32_t len = ipc_frame_len(hdr);
		struct ipc_msg msg;
		int rc;

		if (len > IPC_FRAME_MAX) {
			log_warnx("link %s: frame of %u bytes over the limit, closing", c->name, len);
			ipc_conn_close(c, "frame too big");
			return -1;
		}
		if (c->rend - c->rstart < 4 + (size_t)len)
			break;
		rc = ipc_decode((const char *)hdr + 4, len, &msg);
		if (rc != IPC_OK) {
			log_warnx("link %s: bad frame (%s), closing", c->name, ipc_strerror(rc));
			ipc_msg_destroy(&msg);
			ipc_conn_close(c, ipc_strerror(rc));
			return -1;
		}
		if (c->local_end != 0 && !ipc_link_accepts(msg.type, (enum ipc_end)c->remote_end,
		    (enum ipc_end)c->local_end))
			log_warnx("link %s: unexpected %s from %s, dropped", c->name,
			    ipc_type_name(msg.type), ipc_end_name((enum ipc_end)c->remote_end));
		else
			c->on_msg(c, &msg, c->arg);
		ipc_msg_destroy(&msg);
		c->rstart += 4 + (size_t)len;
		(*handled)++;
	}
	return c->closing ? -1 : 0;
}

/* Room the next recv needs: the rest of a partly read frame, or a usual buffer's worth. */
static size_t
ipc_conn_want(const struct ipc_conn *c)
{
	size_t unread = c->rend - c->rstart;

	if (unread >= 4) {
		size_t frame = 4 + (size_t)ipc_frame_len((const unsigned char *)c->rbuf + c->rstart);

		if (frame > unread && frame - unread > IPC_CONN_RBUF / 2)
			return frame - unread;
	}
	return IPC_CONN_RBUF / 2;
}

static void
ipc_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_conn *c = arg;
	unsigned handled = 0;
	int rounds;

	(void)what;
	c->in_callback++;
	/*
	 * One recv normally; more only while each fills all the room it had (a burst
	 * bigger than the buffer), bounded so one busy link cannot starve the loop.
	 */
	for (rounds = 0; rounds < 8 && !c->closing; rounds++) {
		size_t room;
		ssize_t n;

		if (ipc_conn_rbuf_room(c, ipc_conn_want(c)) != 0) {
			log_warnx("link %s: out of memory for a frame, closing", c->name);
			ipc_conn_close(c, "out of memory");
			break;
		}
		room = c->rcap - c->rend;
		n = recv(fd, c->rbuf + c->rend, room, 0);
		if (n == 0) {
			ipc_conn_close(c, "closed by peer");
			break;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				ipc_conn_close(c, "socket error");
			break;
		}
		c->rend += (size_t)n;
		if (ipc_conn_deliver(c, &handled) != 0 || (size_t)n < room)
			break;
	}
	if (!c->closing) {
		if (c->rstart == c->rend) {
			c->rstart = c->rend = 0;
			if (c->rcap > IPC_CONN_RBUF) {
				char *p = realloc(c->rbuf, IPC_CONN_RBUF);

				if (p != NULL) {
					c->rbuf = p;
					c->rcap = IPC_CONN_RBUF;
				}
			}
		}
		if (handled > 0 && c->on_drained != NULL)
			c->on_drained(c, c->arg);
	}
	c->in_callback--;
	if (c->closing && c->in_callback == 0)
		ipc_conn_free(c);
}

void
ipc_conn_flush(struct ipc_conn *c)
{
	struct evbuffer *bout;

	if (c == NULL || evbuffer_get_length(c->out) == 0)
		return;
	bout = bufferevent_get_output(c->bev);
	/* Straight to the socket only when nothing older waits in the bufferevent. */
	if (evbuffer_get_length(bout) == 0)
		(void)evbuffer_write(c->out, bufferevent_getfd(c->bev));
	if (evbuffer_get_length(c->out) > 0)
		(void)evbuffer_add_buffer(bout, c->out);
}

static void
ipc_conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	ipc_conn_flush(arg);
}

static void
ipc_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ipc_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		ipc_conn_close(c, "closed by peer");
	else if (what & BEV_EVENT_ERROR)
		ipc_conn_close(c, "socket error");
}

struct ipc_conn *
ipc_conn_new(struct event_base *base, int fd, const char *name,
    ipc_msg_cb *on_msg, ipc_close_cb *on_close, void *arg)
{
	struct ipc_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		close(fd);
		return NULL;
	}
	c->out = evbuffer_new();
	c->flush_ev = event_new(base, -1, 0, ipc_conn_flush_cb, c);
	c->read_ev = event_new(base, fd, EV_READ | EV_PERSIST, ipc_conn_read_cb, c);
	c->rbuf = malloc(IPC_CONN_RBUF);
	c->rcap = IPC_CONN_RBUF;
	if (c->out == NULL || c->flush_ev == NULL || c->read_ev == NULL || c->rbuf == NULL ||
	    event_add(c->read_ev, NULL) != 0) {
		if (c->out != NULL)
			evbuffer_free(c->out);
		if (c->flush_ev != NULL)
			event_free(c->flush_ev);
		if (c->read_ev != NULL)
			event_free(c->read_ev);
		free(c->rbuf);
		bufferevent_free(c->bev);
		free(c);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	bufferevent_setcb(c->bev, NULL, NULL, ipc_conn_event_cb, c);
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
	return c;
}

void
ipc_conn_set_ends(struct ipc_conn *c, enum ipc_end local, enum ipc_end remote)
{
	c->local_end = (unsigned)local;
	c->remote_end = (unsigned)remote;
}

void
ipc_conn_set_drained(struct ipc_conn *c, ipc_drained_cb *on_drained)
{
	c->on_drained = on_drained;
}

int
ipc_conn_send_raw(struct ipc_conn *c, const void *p, size_t n)
{
	if (c == NULL || c->closing)
		return -1;
	if (evbuffer_add(c->out, p, n) != 0)
		return -1;
	event_active(c->flush_ev, 0, 0);	/* no-op when already active */
	return 0;
}

int
ipc_conn_send(struct ipc_conn *c, const struct ipc_writer *w)
{
	return ipc_conn_send_raw(c, w->sb.data, w->sb.size);
}

size_t
ipc_conn_pending(const struct ipc_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) + evbuffer_get_length(c->out);
}

const char *
ipc_conn_name(const struct ipc_conn *c)
{
	return c->name;
}

void
ipc_conn_free(struct ipc_conn *c)
{
	if (c == NULL)
		return;
	if (c->in_callback) {
		/* Freed by the read loop once the callback unwinds. */
		c->closing = 1;
		c->on_close = NULL;
		return;
	}
	/* Whatever this pass queued still goes out (a reply sent just before closing). */
	ipc_conn_flush(c);
	event_free(c->flush_ev);
	event_free(c->read_ev);
	free(c->rbuf);
	evbuffer_free(c->out);
	bufferevent_free(c->bev);
	free(c);
}
