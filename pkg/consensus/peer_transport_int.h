/*
 * Internals of the peer transport, shared by its parts and by nothing else:
 *	peer_transport.c		the public API, the transport, the listener
 *	peer_transport_conn.c		a connection's life: states, creation, close, refusal
 *	peer_transport_frame.c		framing and sealing: writing, staging, reading, dispatch
 *	peer_transport_handshake.c	PEER_HELLO / PEER_HELLO_RESULT and the key proofs
 *	peer_transport_dial.c		outbound peers: queues, dialing, name lookup, back-off
 *
 * Connection states (pt_conn_set_state() checks the moves):
 *	outbound: CONNECTING → HELLO_SENT → UP
 *	inbound:  AWAIT_HELLO → (AWAIT_PROOF, keyed) → UP
 *	any → CLOSING (a refusal is being flushed) → closed; any → closed.
 */
#ifndef RQ_CONSENSUS_PEER_TRANSPORT_INT_H
#define RQ_CONSENSUS_PEER_TRANSPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "peer_crypto.h"
#include "peer_transport.h"

#define PEER_PROTO_VERSION	1
#define PEER_CLOSING_MS		1000	/* how long a refusal may take to flush */
#define PEER_ACCEPT_PAUSE_MS	100	/* after accept() fails, e.g. EMFILE */

enum peer_conn_state {
	PC_CONNECTING,
	PC_HELLO_SENT,
	PC_AWAIT_HELLO,
	PC_AWAIT_PROOF,
	PC_UP,
	PC_CLOSING,
};

struct peer_out;
struct peer_conn;

/* A pending name lookup; outlives its connection if that closes first. */
struct peer_dns {
	struct peer_conn *c;		/* NULL once the connection is gone */
};

struct peer_conn {
	struct peer_conn *next;
	struct peer_transport *pt;
	struct peer_out *out;		/* outbound: our peer entry; NULL for inbound */
	struct bufferevent *bev;
	/* Frames sent while up collect here and are written at the end of the loop pass
	 * (one syscall, no epoll round first); the rest goes through the bufferevent. */
	struct evbuffer *stage;
	struct event *flush_ev;
	struct event *deadline;		/* handshake, refusal-flush or stalled-frame bound */
	enum peer_conn_state state;
	bool outbound;			/* we dialed it (c->out may be gone by now) */
	uint64_t handle;
	char peer_id[RAFT_ID_MAX];
	char peer_addr[RAFT_ADDR_MAX];
	char remote[INET6_ADDRSTRLEN + 8];	/* inbound: ip:port */
	char name[2 * RAFT_ADDR_MAX + 80];	/* for logs */
	unsigned char nd[PEER_NONCE_BYTES], nl[PEER_NONCE_BYTES];
	unsigned char tx_key[PEER_KEY_BYTES], rx_key[PEER_KEY_BYTES];
	uint64_t tx_ctr, rx_ctr;
	bool tx_sealed, rx_sealed;
	struct peer_dns *dns;		/* outbound: name lookup in progress */
	int busy;			/* inside our read loop or a connect call: defer free */
	bool dead;
};

struct peer_out {
	struct peer_out *next;
	struct peer_transport *pt;
	char addr[RAFT_ADDR_MAX];
	char peer_id[RAFT_ID_MAX];
	struct peer_conn *conn;
	struct evbuffer *queue;		/* whole plaintext frames waiting for the handshake */
	uint64_t queued_frames;
	unsigned backoff_ms;
	bool backing_off;
	unsigned failures;		/* consecutive failed attempts, for quieter logs */
	unsigned addr_index;		/* which resolved address to try (rotates on failure) */
	struct event *retry;
};

struct peer_blocked {
	struct peer_blocked *next;
	char addr[RAFT_ADDR_MAX];
};

struct peer_transport {
	struct event_base *base;
	char self_id[RAFT_ID_MAX];
	char self_addr[RAFT_ADDR_MAX];
	unsigned char key[PEER_KEY_BYTES];
	bool keyed;
	size_t max_queue;
	unsigned connect_ms;
	unsigned max_inbound, frame_stall_ms;
	unsigned inbound_open;		/* inbound connections not yet closed */
	peer_frame_cb *on_frame;
	peer_link_cb *on_link;
	void *arg;
	struct evconnlistener *listener;
	struct event *accept_resume;
	struct evdns_base *dns;
	struct peer_conn *conns;
	struct peer_out *outs;
	struct peer_blocked *blocked;
	uint64_t next_handle;
	struct peer_stats st;
};

/* peer_transport.c */
void pt_ms_to_tv(unsigned ms, struct timeval *tv);
/* Traffic to or from addr is dropped (peer_transport_block). */
bool pt_is_blocked(const struct peer_transport *pt, const char *addr);

/* peer_transport_conn.c */
/* Moves c to state s; a move the state machine does not allow is fatal. */
void pt_conn_set_state(struct peer_conn *c, enum peer_conn_state s);
/* TCP_NODELAY, keepalive and TCP_USER_TIMEOUT on a peer socket. */
void pt_set_sockopts(int fd);
/* A connection on fd (-1: not connected yet), outbound when o is set; listed in pt->conns
 * with its handshake deadline running. NULL when out of memory (fd is closed). */
struct peer_conn *pt_conn_new(struct peer_transport *pt, evutil_socket_t fd, struct peer_out *o);
/* Closes c once (later calls do nothing); freed now, or by whoever holds it busy. */
void pt_conn_close(struct peer_conn *c, const char *reason);
void pt_conn_free(struct peer_conn *c);
/* Sends a refusal ({e: why}) and closes once it is flushed (bounded in time). */
void pt_conn_refuse(struct peer_conn *c, enum ipc_type type, const char *why);

/* peer_transport_frame.c */
/* Writes one frame's payload (msgpack bytes after the length prefix), sealing if due. */
int pt_conn_write(struct peer_conn *c, const void *payload, size_t n);
/* Writes the finished frame of w. */
int pt_conn_write_frame(struct peer_conn *c, const struct ipc_writer *w);
/* Bytes written to c and not yet on the socket. */
size_t pt_conn_pending(const struct peer_conn *c);
void pt_conn_flush_cb(evutil_socket_t fd, short what, void *arg);
void pt_conn_read_cb(struct bufferevent *bev, void *arg);

/* peer_transport_handshake.c */
/* Dialer: TCP is up, introduce ourselves. */
void pt_conn_send_hello(struct peer_conn *c);
/* Listener: the dialer's first frame. */
void pt_conn_on_hello(struct peer_conn *c, const struct ipc_msg *m);
/* Listener, keyed: the dialer's proof (or its refusal of ours). */
void pt_conn_on_proof(struct peer_conn *c, const struct ipc_msg *m);
/* Dialer: the listener's answer. */
void pt_conn_on_hello_result(struct peer_conn *c, const struct ipc_msg *m);

/* peer_transport_dial.c */
/* Splits "host:port" or "[v6]:port"; the port must be a number in 1..65535. */
int pt_split_addr(const char *addr, char *host, size_t hostlen, int *port);
struct peer_out *pt_out_find(const struct peer_transport *pt, const char *addr);
struct peer_out *pt_out_new(struct peer_transport *pt, const char *addr);
/* Unlists o, closes its connection and drops what it had queued. */
void pt_out_free(struct peer_out *o);
void pt_out_dial(struct peer_out *o);
/* o's link failed (was_up: it had been up): drops its queue, arms the back-off and tells
 * the owner. */
void pt_out_link_down(struct peer_out *o, bool was_up, const char *reason);

#endif
