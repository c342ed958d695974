/*
 * Helpers for the unit tests of the peer modules (test_peer_*.c): bounded event-loop
 * runs, plain TCP sockets, "nodes" (a transport listening on 127.0.0.1 that records
 * what it is delivered and answers forwards), frames, two cluster keys, a seeded
 * mutator for fuzzing, and a proxy between a dialer and a listener that can watch,
 * replay or tamper. Linking them also quiets the logs (PEER_TEST_LOG=1 shows them).
 */
#ifndef RQ_TEST_PEER_HELPERS_H
#define RQ_TEST_PEER_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "consensus/peer_raft.h"
#include "consensus/peer_transport.h"
#include "ipc_codec.h"

/* Loops and time ---------------------------------------------------------------------- */

uint64_t now_ms(void);
/* Runs the loop for about ms milliseconds (loopexit bounds it). */
void spin(struct event_base *base, unsigned ms);

#define RUN_UNTIL(base, cond, ms) do {						\
	uint64_t run_deadline_ = now_ms() + (ms);				\
	while (!(cond) && now_ms() < run_deadline_)				\
		spin((base), 5);						\
} while (0)

/* Sockets --------------------------------------------------------------------------------- */

/* A listening socket on 127.0.0.1:*port (0: any; *port gets the one bound). */
int tcp_listen(int *port);
/* A blocking client socket connected to 127.0.0.1:port. */
int tcp_dial(int port);
/* 1 once the peer closed fd (EOF or reset), 0 while it is open. Never blocks. */
int peer_closed(int fd);

/* Nodes ------------------------------------------------------------------------------------ */

struct node {
	struct peer_transport *pt;
	int port;
	char addr[64];
	int frames;			/* delivered to the callback */
	uint64_t reqs[64];		/* request ids, in arrival order */
	enum ipc_type last_type;
	char last_peer_id[RAFT_ID_MAX];
	char last_peer_addr[RAFT_ADDR_MAX];
	bool last_inbound;
	int raft_ok;			/* PEER_RAFT frames that decoded */
	uint64_t last_term;
	int results;			/* PEER_FORWARD_RESULT frames */
	int ups, downs;
};

/* Starts a node listening on 127.0.0.1:port (0: any). */
int node_start_opts(struct node *n, struct event_base *base, const char *id,
    const unsigned char *key, int port, size_t max_queue, unsigned connect_ms);
/* With the transport's inbound cap and stalled-frame bound (0: defaults). */
int node_start_limits(struct node *n, struct event_base *base, const char *id,
    const unsigned char *key, int port, size_t max_queue, unsigned connect_ms,
    unsigned max_inbound, unsigned frame_stall_ms);
int node_start(struct node *n, struct event_base *base, const char *id, const unsigned char *key);
void node_stop(struct node *n);
struct peer_stats pstats(const struct peer_transport *pt);
#define stats(n) pstats((n).pt)

/* Frames and keys --------------------------------------------------------------------------- */

/* A RequestVote of the given term, from "1" to "2". */
void make_vote(struct ipc_writer *w, uint64_t term);
/* A PEER_FORWARD with request id req, "sql": marker and pad zero bytes. */
void make_forward(struct ipc_writer *w, uint64_t req, const char *marker, size_t pad);
extern const unsigned char key_a[32];
extern const unsigned char key_b[32];

/* Fuzzing: xorshift64*, reproducible from the printed seed in fuzz_state. */
extern uint64_t fuzz_state;
uint64_t fuzz_next(void);
/* Flips, replaces, truncates, duplicates or deletes a few bytes of buf[0..*len). */
void mutate(unsigned char *buf, size_t *len, size_t cap);

/* A proxy between a dialer and a listener, to watch and meddle ---------------------------- */

enum proxy_mode { PROXY_PASS, PROXY_REPLAY, PROXY_TAMPER };

struct proxy {
	struct event_base *base;
	struct evconnlistener *l;
	int port, target_port;
	struct bufferevent *a, *b;	/* a: from the dialer; b: to the listener */
	struct evbuffer *pending;	/* a → b bytes not yet a whole frame */
	struct evbuffer *captured;	/* everything a → b */
	enum proxy_mode mode;		/* applied to frame 3 (the first sealed one), once */
	int frames;
	int accepted;
};

/* Listens on a port of its own (p->port) and relays each connection to target_port. */
int proxy_start(struct proxy *p, struct event_base *base, int target_port, enum proxy_mode mode);
void proxy_stop(struct proxy *p);
/* s appeared in what the dialer sent. */
bool captured_contains(struct proxy *p, const char *s);

/* A sends three forwards (queued while dialing, delivered in order) and a raft message;
 * B answers the forwards on the same link. Checks as a test does; *failed set on failure. */
void exchange(struct event_base *base, struct node *a, struct node *b, const char *dest,
    int *failed);

#endif
