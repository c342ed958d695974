/*
 * Peer transport: the TCP links between the consensus processes of different nodes.
 *
 * Each node dials one OUTBOUND link to every peer it sends to (Raft messages and
 * requests travel there) and accepts INBOUND links from peers (their messages to us
 * arrive there, and our replies to their requests go back on the same link). So a
 * pair of nodes normally holds two TCP connections, one each way.
 *
 * Framing is the local IPC framing (4-byte BE length + msgpack [type, id, map], at most
 * IPC_FRAME_MAX). The dialer's first frame is PEER_HELLO {v, id, addr, auth, n}; the
 * listener answers PEER_HELLO_RESULT {v, id, auth, n, mac} or {e: reason} and closes.
 * With a cluster key the dialer then sends PEER_HELLO {mac} (or {e} when the listener's
 * proof was wrong) and every later frame in both directions is sealed (peer_crypto.h).
 * Without a key the HELLO exchange still happens and frames stay plaintext. A keyed
 * node refuses an unkeyed peer and vice versa. Until the handshake completes nothing is
 * delivered, handshake frames are at most PEER_HELLO_MAX bytes, and any other frame
 * closes the connection (counted in frames_bad).
 *
 * After the handshake, inbound links accept PEER_RAFT, PEER_FORWARD, PEER_JOIN,
 * PEER_META and PEER_SNAPSHOT; outbound links accept PEER_FORWARD_RESULT,
 * PEER_JOIN_RESULT and PEER_META_RESULT. Anything else, a malformed frame or a frame
 * that fails authentication closes that connection with a logged reason.
 *
 * Outbound links are dialed lazily by peer_send(). When one fails or drops, frames still
 * waiting for it are dropped (counted) and the next dial waits an exponential back-off
 * (50 ms doubling to 2 s, reset by a completed handshake); frames sent meanwhile queue
 * and are flushed once the link is up again. Delivery is best effort, as Raft expects.
 *
 * Single-threaded, driven by the caller's event_base. Callbacks may call any function
 * here except peer_transport_free().
 */
#ifndef RQ_CONSENSUS_PEER_TRANSPORT_H
#define RQ_CONSENSUS_PEER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "ipc_codec.h"
#include "peer_raft.h"

/* Largest handshake frame accepted (before a peer is authenticated). */
#define PEER_HELLO_MAX		4096
#define PEER_DEFAULT_QUEUE	(64u * 1024 * 1024)
#define PEER_DEFAULT_CONNECT_MS	30000u
/* Inbound connections open at once, handshaking or up; past it new ones are closed at
 * once (a cluster needs one per peer, plus a few redialling). */
#define PEER_DEFAULT_MAX_INBOUND	256u
/* A frame begun on an up link must go on arriving: no byte of it for this long and
 * the link closes (a peer that sends half a frame cannot hold it open forever). */
#define PEER_DEFAULT_FRAME_STALL_MS	20000u
#define PEER_BACKOFF_MIN_MS	50u
#define PEER_BACKOFF_MAX_MS	2000u

struct peer_transport;
struct peer_conn;

/*
 * Every delivered frame, on any connection (inbound or outbound), after the handshake.
 * msg (and anything pointing into it, e.g. peer_decode_raft() entry data) is valid only
 * during the call. c is valid during the call; to answer later keep peer_conn_handle(c).
 */
typedef void peer_frame_cb(struct peer_transport *pt, struct peer_conn *c,
    struct ipc_msg *msg, void *arg);
/*
 * Optional: an outbound link to addr completed its handshake (up) or went down (a dial
 * failed, was refused, or an up link broke). peer_id is the peer's id from its HELLO,
 * "" when never learned. Use it to call raft_report_unreachable().
 */
typedef void peer_link_cb(struct peer_transport *pt, const char *addr, const char *peer_id,
    bool up, void *arg);

struct peer_transport_options {
	const char *self_id;		/* this node's Raft id (required, < RAFT_ID_MAX) */
	const char *self_addr;		/* advertised Raft address (required, < RAFT_ADDR_MAX) */
	const unsigned char *key;	/* 32-byte cluster key (copied), or NULL = plaintext */
	size_t max_queue_bytes;		/* per connection; 0 = PEER_DEFAULT_QUEUE */
	unsigned connect_timeout_ms;	/* dial + handshake; 0 = PEER_DEFAULT_CONNECT_MS */
	unsigned max_inbound;		/* 0 = PEER_DEFAULT_MAX_INBOUND */
	unsigned frame_stall_ms;	/* 0 = PEER_DEFAULT_FRAME_STALL_MS */
	peer_link_cb *on_link;		/* may be NULL; gets the same arg as on_frame */
};

/* Counters for /status. */
struct peer_stats {
	bool keyed;			/* links are authenticated and sealed */
	unsigned links_out;		/* outbound links with a completed handshake */
	unsigned links_in;		/* inbound links with a completed handshake */
	uint64_t dials;			/* outbound connection attempts */
	uint64_t handshakes_ok;		/* both directions */
	uint64_t conns_refused;		/* inbound connections closed at once: over max_inbound */
	uint64_t frames_stalled;	/* links closed with a frame begun and not finished */
	uint64_t handshakes_refused;	/* wrong/missing key, key-mode mismatch, bad HELLO,
					 * or the other side refused us */
	uint64_t frames_bad;		/* malformed, unauthentic or unexpected: link closed */
	uint64_t frames_dropped;	/* over the queue bound, or queued when a link failed */
	uint64_t frames_blocked;	/* dropped by peer_transport_block() */
	uint64_t frames_sent, frames_received;
	uint64_t bytes_sent, bytes_received;	/* on the wire, prefixes and MACs included */
};

/*
 * opts is copied (strings and key too). on_frame is required. Logs a warning when no key
 * is given. Returns PEER_OK, PEER_ERR_INVAL or PEER_ERR_NOMEM.
 */
int peer_transport_new(struct event_base *base, const struct peer_transport_options *opts,
    peer_frame_cb *on_frame, void *arg, struct peer_transport **out);
/* Closes every connection and the listener without calling callbacks. NULL is fine. */
void peer_transport_free(struct peer_transport *pt);

/*
 * Starts accepting on listen_fd, a bound, listening TCP socket. Takes ownership of it
 * (closed by peer_transport_free). At most one listener. PEER_OK or PEER_ERR_*.
 */
int peer_transport_listen(struct peer_transport *pt, int listen_fd);

/*
 * Sends the finished frame of w (copied) to the node whose Raft address is addr, over
 * our outbound link to it, dialing if needed. Returns PEER_OK when queued or written (or
 * silently dropped by peer_transport_block), PEER_ERR_FULL when the link's queue would
 * exceed max_queue_bytes (frame dropped and counted), PEER_ERR_INVAL for an address that
 * is not host:port, or when addr is our own address.
 */
int peer_send(struct peer_transport *pt, const char *addr, const struct ipc_writer *w);

/*
 * Bytes waiting to be written to addr on our outbound link (queued for the handshake or
 * in the socket's output buffer); 0 when there is no link. Lets a bulk sender (snapshot
 * transfer) keep only a window in flight instead of hitting max_queue_bytes.
 */
size_t peer_pending(const struct peer_transport *pt, const char *addr);

/* Writes every frame queued during this loop pass now instead of at its end (before the
 * caller blocks, e.g. on an fsync). */
void peer_transport_flush(struct peer_transport *pt);
/* True when a link to addr was made before and is not up now (lost, or redialling). */
bool peer_link_down(const struct peer_transport *pt, const char *addr);

/* Replies on the connection a request arrived on (same bound as peer_send). */
int peer_reply(struct peer_conn *c, const struct ipc_writer *w);
/* Names a connection across callbacks: non-zero, never reused within a transport. */
uint64_t peer_conn_handle(const struct peer_conn *c);
/* Replies on the connection named by handle; PEER_ERR_CLOSED if it is gone. */
int peer_reply_handle(struct peer_transport *pt, uint64_t handle, const struct ipc_writer *w);
/* The peer's id and advertised Raft address, from its handshake. */
const char *peer_conn_id(const struct peer_conn *c);
const char *peer_conn_addr(const struct peer_conn *c);
bool peer_conn_inbound(const struct peer_conn *c);

/* Closes our outbound link to addr (if any) and forgets its queue, e.g. for a removed node. */
void peer_transport_forget(struct peer_transport *pt, const char *addr);

void peer_transport_stats(const struct peer_transport *pt, struct peer_stats *st);

/*
 * Fault knob for partition tests (always compiled, cheap): while blocked, frames to addr
 * are dropped by peer_send, and frames received from the node advertising addr (on any
 * link) are dropped instead of delivered. Connections stay up. Counted in frames_blocked.
 */
void peer_transport_block(struct peer_transport *pt, const char *addr, bool blocked);

/*
 * Reads a cluster key file: exactly 32 raw bytes, or 64 hex digits with an optional
 * trailing newline. Warns (log) when the file is group- or world-accessible.
 * 0, or -1 with a reason in err.
 */
int peer_load_key(const char *path, unsigned char key[32], char *err, size_t errlen);

#endif
