/*
 * Peer transport, framing and sealing: frames are the IPC framing (4-byte BE length +
 * msgpack) and, once a keyed handshake set the session keys, sealed with per-direction
 * counters (peer_crypto.h). Writing stages a link's frames for one write at the end of
 * the loop pass; reading bounds frames (handshake frames stay small), opens sealed ones,
 * decodes them and dispatches by state: handshake frames to peer_transport_handshake.c,
 * then PEER_RAFT, PEER_FORWARD, PEER_JOIN, PEER_META and PEER_SNAPSHOT on inbound links
 * and PEER_FORWARD_RESULT, PEER_JOIN_RESULT and PEER_META_RESULT on outbound ones to the
 * owner's callback. Anything else closes the connection.
 */
#include "peer_transport_int.h"

#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/log.h"

/* Writing --------------------------------------------------------------------------------- */

/* Writes one frame's payload (msgpack bytes after the length prefix), sealing if due. */
int
pt_conn_write(struct peer_conn *c, const void *payload, size_t n)
{
	bool staged = c->state == PC_UP && !c->dead;
	struct evbuffer *out = staged ? c->stage : bufferevent_get_output(c->bev);
	size_t total;

	if (!c->tx_sealed) {
		unsigned char hdr[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
		    (unsigned char)(n >> 8), (unsigned char)n };
		total = 4 + n;
		if (evbuffer_expand(out, total) != 0 || evbuffer_add(out, hdr, 4) != 0 ||
		    evbuffer_add(out, payload, n) != 0)
			return PEER_ERR_NOMEM;
	} else {
		struct evbuffer_iovec v;
		total = 4 + n + PEER_SEAL_ABYTES;
		if (evbuffer_reserve_space(out, (ev_ssize_t)total, &v, 1) != 1)
			return PEER_ERR_NOMEM;
		peer_crypto_seal(c->tx_key, c->tx_ctr++, payload, n, v.iov_base);
		v.iov_len = total;
		if (evbuffer_commit_space(out, &v, 1) != 0)
			return PEER_ERR_NOMEM;
	}
	c->pt->st.bytes_sent += total;
	c->pt->st.frames_sent++;
	if (staged)
		event_active(c->flush_ev, 0, 0);
	return PEER_OK;
}

int
pt_conn_write_frame(struct peer_conn *c, const struct ipc_writer *w)
{
	return pt_conn_write(c, w->sb.data + 4, w->sb.size - 4);
}

size_t
pt_conn_pending(const struct peer_conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) + evbuffer_get_length(c->stage);
}

/* Writes the staged frames: straight to the socket when nothing older is waiting. */
static void
conn_flush(struct peer_conn *c)
{
	struct evbuffer *bout;

	if (c->bev == NULL || evbuffer_get_length(c->stage) == 0)
		return;
	bout = bufferevent_get_output(c->bev);
	if (!c->dead && c->state == PC_UP && evbuffer_get_length(bout) == 0)
		(void)evbuffer_write(c->stage, bufferevent_getfd(c->bev));
	if (evbuffer_get_length(c->stage) > 0)
		(void)evbuffer_add_buffer(bout, c->stage);
}

void
pt_conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	conn_flush(arg);
}

void
peer_transport_flush(struct peer_transport *pt)
{
	for (struct peer_conn *c = pt->conns; c != NULL; c = c->next)
		conn_flush(c);
}

/* Reading --------------------------------------------------------------------------------- */

static bool
type_allowed(const struct peer_conn *c, enum ipc_type t)
{
	if (!c->outbound)
		return t == IPC_PEER_RAFT || t == IPC_PEER_FORWARD || t == IPC_PEER_JOIN ||
		    t == IPC_PEER_META || t == IPC_PEER_SNAPSHOT;
	return t == IPC_PEER_FORWARD_RESULT || t == IPC_PEER_JOIN_RESULT ||
	    t == IPC_PEER_META_RESULT;
}

static void
conn_dispatch(struct peer_conn *c, struct ipc_msg *m)
{
	struct peer_transport *pt = c->pt;

	switch (c->state) {
	case PC_AWAIT_HELLO:
		pt_conn_on_hello(c, m);
		return;
	case PC_AWAIT_PROOF:
		pt_conn_on_proof(c, m);
		return;
	case PC_HELLO_SENT:
		pt_conn_on_hello_result(c, m);
		return;
	case PC_UP:
		break;
	default:
		return;
	}
	if (!type_allowed(c, m->type)) {
		log_warnx("peer %s: unexpected %s on an %s link, closing", c->name,
		    ipc_type_name(m->type), c->outbound ? "outbound" : "inbound");
		pt->st.frames_bad++;
		pt_conn_close(c, "unexpected message");
		return;
	}
	if (pt->blocked != NULL && pt_is_blocked(pt, c->peer_addr)) {
		pt->st.frames_blocked++;
		return;
	}
	pt->st.frames_received++;
	pt->on_frame(pt, c, m, pt->arg);
}

void
pt_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct peer_conn *c = arg;
	struct peer_transport *pt = c->pt;
	struct evbuffer *in = bufferevent_get_input(bev);

	c->busy++;
	while (!c->dead && c->state != PC_CLOSING) {
		size_t avail = evbuffer_get_length(in);
		unsigned char hdr[4], *frame;
		const char *payload;
		uint32_t len;
		size_t plen;
		struct ipc_msg msg;
		int rc;

		if (avail < 4)
			break;
		evbuffer_copyout(in, hdr, 4);
		len = ipc_frame_len(hdr);
		/* An unauthenticated peer may not make us buffer a big frame. */
		if (c->state != PC_UP && len > PEER_HELLO_MAX) {
			if (memcmp(hdr, "GET ", 4) == 0 || memcmp(hdr, "POST", 4) == 0 ||
			    memcmp(hdr, "HEAD", 4) == 0 || memcmp(hdr, "PUT ", 4) == 0)
				log_warnx("peer %s: an HTTP request on the Raft port, closing (is an "
				    "HTTP address given where a Raft address belongs, as in -join?)",
				    c->name);
			else
				log_warnx("peer %s: handshake frame of %u bytes, closing", c->name, len);
			pt->st.frames_bad++;
			pt_conn_close(c, "bad handshake frame");
			break;
		}
		if ((c->rx_sealed && (len < PEER_SEAL_ABYTES ||
		    len > IPC_FRAME_MAX + PEER_SEAL_ABYTES)) || (!c->rx_sealed && len > IPC_FRAME_MAX)) {
			log_warnx("peer %s: frame length %u out of bounds, closing", c->name, len);
			pt->st.frames_bad++;
			pt_conn_close(c, "frame too big");
			break;
		}
		if (avail < 4 + (size_t)len)
			break;
		frame = evbuffer_pullup(in, 4 + (ev_ssize_t)len);
		if (frame == NULL) {
			pt_conn_close(c, "out of memory");
			break;
		}
		pt->st.bytes_received += 4 + (uint64_t)len;
		payload = (const char *)frame + 4;
		plen = len;
		if (c->rx_sealed) {
			if (peer_crypto_open(c->rx_key, c->rx_ctr, frame, len) != 0) {
				log_warnx("peer %s: frame %llu fails authentication (tampered, "
				    "replayed or reordered), closing", c->name,
				    (unsigned long long)c->rx_ctr);
				pt->st.frames_bad++;
				pt_conn_close(c, "authentication failed");
				break;
			}
			c->rx_ctr++;
			plen -= PEER_SEAL_ABYTES;
		}
		rc = ipc_decode(payload, plen, &msg);
		if (rc != IPC_OK) {
			log_warnx("peer %s: bad frame (%s), closing", c->name, ipc_strerror(rc));
			ipc_msg_destroy(&msg);
			pt->st.frames_bad++;
			pt_conn_close(c, ipc_strerror(rc));
			break;
		}
		conn_dispatch(c, &msg);
		ipc_msg_destroy(&msg);
		if (!c->dead)
			evbuffer_drain(in, 4 + (size_t)len);
	}
	/* Part of a frame waits for the rest: it must keep coming (each read re-arms the
	 * bound). Nothing pending: no bound (heartbeats keep an idle link busy enough). */
	if (!c->dead && c->state == PC_UP) {
		if (evbuffer_get_length(in) > 0) {
			struct timeval tv;
			pt_ms_to_tv(pt->frame_stall_ms, &tv);
			evtimer_add(c->deadline, &tv);
		} else {
			evtimer_del(c->deadline);
		}
	}
	if (--c->busy == 0 && c->dead)
		pt_conn_free(c);
}
