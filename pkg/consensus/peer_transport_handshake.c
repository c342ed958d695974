/*
 * Peer transport, the handshake (protocol in peer_transport.h): the dialer's PEER_HELLO,
 * the listener's PEER_HELLO_RESULT or refusal, and with a cluster key the nonces, both
 * key proofs and the session keys (peer_crypto.h). A link is up (conn_up) only after it;
 * an outbound link that comes up flushes what queued while it was dialed.
 */
#include "peer_transport_int.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"

/* A msgpack str field into buf: non-empty, fits with its NUL, no embedded NUL. */
static bool
get_name(const struct ipc_msg *m, const char *key, char *buf, size_t max)
{
	const char *s;
	size_t n;

	if (ipc_get_str(m, key, &s, &n) != IPC_OK || n == 0 || n >= max ||
	    memchr(s, '\0', n) != NULL)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static bool
get_fixed(const struct ipc_msg *m, const char *key, unsigned char *buf, size_t len)
{
	const char *p;
	size_t n;

	if (ipc_get_bin(m, key, &p, &n) != IPC_OK || n != len)
		return false;
	memcpy(buf, p, len);
	return true;
}

static void
conn_up(struct peer_conn *c)
{
	struct peer_transport *pt = c->pt;
	struct peer_out *o = c->out;

	pt_conn_set_state(c, PC_UP);
	evtimer_del(c->deadline);
	pt->st.handshakes_ok++;
	if (!c->outbound) {
		pt->st.links_in++;
		snprintf(c->name, sizeof(c->name), "from %s (%s)", c->peer_addr, c->peer_id);
		log_info("peer link %s up%s", c->name, c->rx_sealed ? ", authenticated" : "");
		return;
	}
	pt->st.links_out++;
	snprintf(o->peer_id, sizeof(o->peer_id), "%s", c->peer_id);
	snprintf(c->name, sizeof(c->name), "to %s (%s)", o->addr, c->peer_id);
	log_info("peer link %s up%s", c->name, c->tx_sealed ? ", authenticated" : "");
	o->backoff_ms = 0;
	o->failures = 0;
	/* Flush what queued while connecting, in order. */
	while (evbuffer_get_length(o->queue) >= 4) {
		unsigned char hdr[4];
		uint32_t len;
		unsigned char *p;

		evbuffer_copyout(o->queue, hdr, 4);
		len = ipc_frame_len(hdr);
		p = evbuffer_pullup(o->queue, 4 + (ev_ssize_t)len);
		if (p == NULL || pt_conn_write(c, p + 4, len) != PEER_OK)
			break;
		evbuffer_drain(o->queue, 4 + (size_t)len);
		o->queued_frames--;
	}
	if (o->queued_frames > 0) {	/* out of memory above: the rest is lost */
		pt->st.frames_dropped += o->queued_frames;
		evbuffer_drain(o->queue, evbuffer_get_length(o->queue));
		o->queued_frames = 0;
	}
	if (pt->on_link != NULL)
		pt->on_link(pt, o->addr, o->peer_id, true, pt->arg);
}

/* Dialer: TCP is up, introduce ourselves. */
void
pt_conn_send_hello(struct peer_conn *c)
{
	struct peer_transport *pt = c->pt;
	struct ipc_writer w;

	ipc_writer_init(&w);
	ipc_begin(&w, IPC_PEER_HELLO, 0);
	ipc_add_u64(&w, "v", PEER_PROTO_VERSION);
	ipc_add_str(&w, "id", pt->self_id);
	ipc_add_str(&w, "addr", pt->self_addr);
	ipc_add_str(&w, "auth", pt->keyed ? "key" : "none");
	if (pt->keyed) {
		peer_crypto_random(c->nd, sizeof(c->nd));
		ipc_add_bin(&w, "n", c->nd, sizeof(c->nd));
	}
	ipc_finish(&w);
	(void)pt_conn_write_frame(c, &w);
	ipc_writer_destroy(&w);
	pt_conn_set_state(c, PC_HELLO_SENT);
}

static bool
auth_field(const struct ipc_msg *m, bool *keyed)
{
	const char *s;
	size_t n;

	if (ipc_get_str(m, "auth", &s, &n) != IPC_OK)
		return false;
	if (n == 3 && memcmp(s, "key", 3) == 0)
		*keyed = true;
	else if (n == 4 && memcmp(s, "none", 4) == 0)
		*keyed = false;
	else
		return false;
	return true;
}

static const char *
mode_mismatch(bool we_keyed)
{
	return we_keyed ?
	    "cluster key mismatch: this node requires a cluster key (-cluster-key) and the other has none" :
	    "cluster key mismatch: this node has no cluster key and the other uses one";
}

/* Listener: the dialer's first frame. */
void
pt_conn_on_hello(struct peer_conn *c, const struct ipc_msg *m)
{
	struct peer_transport *pt = c->pt;
	struct ipc_writer w;
	uint64_t v;
	bool keyed;
	unsigned char mac[PEER_MAC_BYTES];

	if (m->type != IPC_PEER_HELLO) {
		log_warnx("peer %s: %s before the handshake, closing", c->name,
		    ipc_type_name(m->type));
		pt->st.frames_bad++;
		pt_conn_close(c, "no handshake");
		return;
	}
	if (ipc_get_u64(m, "v", &v) != IPC_OK || v != PEER_PROTO_VERSION) {
		log_warnx("peer %s: refusing handshake: unsupported protocol version", c->name);
		pt->st.handshakes_refused++;
		pt_conn_refuse(c, IPC_PEER_HELLO_RESULT, "unsupported peer protocol version");
		return;
	}
	if (!get_name(m, "id", c->peer_id, sizeof(c->peer_id)) ||
	    !get_name(m, "addr", c->peer_addr, sizeof(c->peer_addr)) || !auth_field(m, &keyed)) {
		log_warnx("peer %s: malformed PEER_HELLO, closing", c->name);
		pt->st.frames_bad++;
		pt_conn_refuse(c, IPC_PEER_HELLO_RESULT, "malformed hello");
		return;
	}
	snprintf(c->name, sizeof(c->name), "from %s (%s, %s)", c->peer_addr, c->peer_id,
	    c->remote);
	if (keyed != pt->keyed) {
		log_warnx("peer %s: refusing: %s", c->name, mode_mismatch(pt->keyed));
		pt->st.handshakes_refused++;
		pt_conn_refuse(c, IPC_PEER_HELLO_RESULT, mode_mismatch(!pt->keyed));
		return;
	}
	ipc_writer_init(&w);
	ipc_begin(&w, IPC_PEER_HELLO_RESULT, m->request_id);
	ipc_add_u64(&w, "v", PEER_PROTO_VERSION);
	ipc_add_str(&w, "id", pt->self_id);
	ipc_add_str(&w, "auth", pt->keyed ? "key" : "none");
	if (pt->keyed) {
		if (!get_fixed(m, "n", c->nd, sizeof(c->nd))) {
			ipc_writer_destroy(&w);
			log_warnx("peer %s: PEER_HELLO without a valid nonce, closing", c->name);
			pt->st.frames_bad++;
			pt_conn_refuse(c, IPC_PEER_HELLO_RESULT, "malformed hello");
			return;
		}
		peer_crypto_random(c->nl, sizeof(c->nl));
		peer_crypto_proof(pt->key, PEER_ROLE_LISTENER, c->nd, c->nl, c->peer_id,
		    c->peer_addr, pt->self_id, mac);
		peer_crypto_session_keys(pt->key, c->nd, c->nl, c->rx_key, c->tx_key);
		ipc_add_bin(&w, "n", c->nl, sizeof(c->nl));
		ipc_add_bin(&w, "mac", mac, sizeof(mac));
	}
	ipc_finish(&w);
	(void)pt_conn_write_frame(c, &w);
	ipc_writer_destroy(&w);
	if (pt->keyed) {
		/* Nothing goes to the dialer before its proof, but all that follows is sealed. */
		c->tx_sealed = true;
		pt_conn_set_state(c, PC_AWAIT_PROOF);
	} else {
		conn_up(c);
	}
}

/* Listener, keyed: the dialer's proof (or its refusal of ours). */
void
pt_conn_on_proof(struct peer_conn *c, const struct ipc_msg *m)
{
	struct peer_transport *pt = c->pt;
	unsigned char mac[PEER_MAC_BYTES], want[PEER_MAC_BYTES];
	char why[128];

	if (m->type != IPC_PEER_HELLO) {
		log_warnx("peer %s: %s before the handshake completed, closing", c->name,
		    ipc_type_name(m->type));
		pt->st.frames_bad++;
		pt_conn_close(c, "no handshake");
		return;
	}
	if (ipc_get_strbuf(m, "e", why, sizeof(why)) == IPC_OK) {
		log_warnx("peer %s refused our key proof: %s", c->name, why);
		pt->st.handshakes_refused++;
		pt_conn_close(c, "refused by peer");
		return;
	}
	if (!get_fixed(m, "mac", mac, sizeof(mac))) {
		log_warnx("peer %s: malformed key proof, closing", c->name);
		pt->st.frames_bad++;
		pt_conn_close(c, "malformed proof");
		return;
	}
	peer_crypto_proof(pt->key, PEER_ROLE_DIALER, c->nd, c->nl, c->peer_id, c->peer_addr,
	    pt->self_id, want);
	if (peer_crypto_proof_cmp(mac, want) != 0) {
		log_warnx("peer %s: refusing: wrong key proof (cluster keys differ?)", c->name);
		pt->st.handshakes_refused++;
		pt_conn_close(c, "wrong key proof");
		return;
	}
	c->rx_sealed = true;
	conn_up(c);
}

/* Dialer: the listener's answer. */
void
pt_conn_on_hello_result(struct peer_conn *c, const struct ipc_msg *m)
{
	struct peer_transport *pt = c->pt;
	struct peer_out *o = c->out;
	unsigned char mac[PEER_MAC_BYTES], want[PEER_MAC_BYTES];
	char why[256];
	uint64_t v;
	bool keyed;

	if (m->type != IPC_PEER_HELLO_RESULT) {
		log_warnx("peer %s: %s instead of PEER_HELLO_RESULT, closing", c->name,
		    ipc_type_name(m->type));
		pt->st.frames_bad++;
		pt_conn_close(c, "bad handshake");
		return;
	}
	if (ipc_get_strbuf(m, "e", why, sizeof(why)) == IPC_OK) {
		log_warnx("peer %s refused us: %s", c->name, why);
		pt->st.handshakes_refused++;
		pt_conn_close(c, "refused by peer");
		return;
	}
	if (ipc_get_u64(m, "v", &v) != IPC_OK || v != PEER_PROTO_VERSION ||
	    !get_name(m, "id", c->peer_id, sizeof(c->peer_id)) || !auth_field(m, &keyed)) {
		log_warnx("peer %s: malformed PEER_HELLO_RESULT, closing", c->name);
		pt->st.frames_bad++;
		pt_conn_close(c, "malformed hello result");
		return;
	}
	if (keyed != pt->keyed) {
		log_warnx("peer %s: refusing: %s", c->name, mode_mismatch(pt->keyed));
		pt->st.handshakes_refused++;
		pt_conn_close(c, "cluster key mismatch");
		return;
	}
	if (pt->keyed) {
		if (!get_fixed(m, "n", c->nl, sizeof(c->nl)) ||
		    !get_fixed(m, "mac", mac, sizeof(mac))) {
			log_warnx("peer %s: malformed PEER_HELLO_RESULT, closing", c->name);
			pt->st.frames_bad++;
			pt_conn_close(c, "malformed hello result");
			return;
		}
		peer_crypto_proof(pt->key, PEER_ROLE_LISTENER, c->nd, c->nl, pt->self_id,
		    pt->self_addr, c->peer_id, want);
		if (peer_crypto_proof_cmp(mac, want) != 0) {
			log_warnx("peer %s (%s): refusing: wrong key proof (cluster keys differ?)",
			    o->addr, c->peer_id);
			pt->st.handshakes_refused++;
			pt_conn_refuse(c, IPC_PEER_HELLO, "wrong key proof from listener: "
			    "cluster keys differ");
			return;
		}
		peer_crypto_proof(pt->key, PEER_ROLE_DIALER, c->nd, c->nl, pt->self_id,
		    pt->self_addr, c->peer_id, mac);
		peer_crypto_session_keys(pt->key, c->nd, c->nl, c->tx_key, c->rx_key);

		struct ipc_writer w;
		ipc_writer_init(&w);
		ipc_begin(&w, IPC_PEER_HELLO, 0);
		ipc_add_bin(&w, "mac", mac, sizeof(mac));
		ipc_finish(&w);
		(void)pt_conn_write_frame(c, &w);
		ipc_writer_destroy(&w);
		c->tx_sealed = c->rx_sealed = true;
	}
	conn_up(c);
}
