/*
 * Framed stream links on libevent bufferevents (see ipc_conn.h). Reading waits for a
 * whole frame, decodes it in place from the input buffer and drains it afterwards, so
 * a frame is never copied on the way in.
 *
 * Writing: frames sent during one pass of the event loop collect in `out` and are
 * written with one syscall at the end of that pass (a deferred event), not after the
 * next epoll round as a bufferevent would. Each hop between our processes saves a
 * round of epoll_ctl/epoll_wait, and on a virtual machine every such wake-up costs
 * tens of microseconds. What the socket does not take at once moves to the
 * bufferevent, which writes it when the socket drains, in order.
 */
#include "ipc_conn.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/log.h"

struct ipc_conn {
	struct bufferevent *bev;
	struct evbuffer *out;		/* written at the end of this loop pass */
	struct event *flush_ev;
	char name[32];
	ipc_msg_cb *on_msg;
	ipc_close_cb *on_close;
	ipc_drained_cb *on_drained;
	void *arg;
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

static void
ipc_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct ipc_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned handled = 0;

	c->in_callback++;
	while (!c->closing) {
		size_t avail = evbuffer_get_length(in);
		unsigned char hdr[4];
		uint32_t len;
		struct ipc_msg msg;
		const char *payload;
		int rc;

		if (avail < 4)
			break;
		evbuffer_copyout(in, hdr, 4);
		len = ipc_frame_len(hdr);
		if (len > IPC_FRAME_MAX) {
			log_warnx("link %s: frame of %u bytes over the limit, closing", c->name, len);
			c->in_callback--;
			ipc_conn_close(c, "frame too big");
			return;
		}
		if (avail < 4 + (size_t)len)
			break;
		payload = (const char *)evbuffer_pullup(in, 4 + (ssize_t)len) + 4;
		rc = ipc_decode(payload, len, &msg);
		if (rc != IPC_OK) {
			log_warnx("link %s: bad frame (%s), closing", c->name, ipc_strerror(rc));
			ipc_msg_destroy(&msg);
			c->in_callback--;
			ipc_conn_close(c, ipc_strerror(rc));
			return;
		}
		c->on_msg(c, &msg, c->arg);
		ipc_msg_destroy(&msg);
		evbuffer_drain(in, 4 + (size_t)len);
		handled++;
	}
	if (handled > 0 && !c->closing && c->on_drained != NULL)
		c->on_drained(c, c->arg);
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
	if (c->out == NULL || c->flush_ev == NULL) {
		if (c->out != NULL)
			evbuffer_free(c->out);
		if (c->flush_ev != NULL)
			event_free(c->flush_ev);
		bufferevent_free(c->bev);
		free(c);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	bufferevent_setcb(c->bev, ipc_conn_read_cb, NULL, ipc_conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
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
	evbuffer_free(c->out);
	bufferevent_free(c->bev);
	free(c);
}
