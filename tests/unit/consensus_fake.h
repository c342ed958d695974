/*
 * A consensus context for unit tests of its parts (forwarding, membership, joining):
 * a real Raft core, and a fake of the I/O table that records every frame sent, with a
 * clock the test moves. No process, no socket, no disk.
 */
#ifndef RQ_TESTS_CONSENSUS_FAKE_H
#define RQ_TESTS_CONSENSUS_FAKE_H

#include "consensus/consensus_internal.h"

#define CS_FAKE_SENT_MAX 64

enum cs_fake_dest { CS_FAKE_ROLE, CS_FAKE_PEER, CS_FAKE_REPLY };

struct cs_fake_frame {
	enum cs_fake_dest dest;
	enum proc_id role;		/* CS_FAKE_ROLE */
	char addr[RAFT_ADDR_MAX];	/* CS_FAKE_PEER */
	uint64_t handle;		/* CS_FAKE_REPLY */
	char *bytes;			/* the frame after its length prefix */
	size_t len;
	struct ipc_msg m;		/* decoded from bytes */
};

struct cs_fake {
	struct consensus c;
	struct consensus_options opts;
	uint64_t now;
	struct cs_fake_frame sent[CS_FAKE_SENT_MAX];
	unsigned n_sent;
	bool peer_send_fails;		/* send_peer answers PEER_ERR_CLOSED */
	bool storage_down;		/* send_role(PROC_STORAGE) fails */
	unsigned ready_asked;
};

/* A node "1" at 127.0.0.1:7001 with no core yet; opts may be changed before a start. */
void cs_fake_init(struct cs_fake *f);
void cs_fake_free(struct cs_fake *f);
/* Bootstraps a one-voter cluster of this node and runs the core until it leads. */
void cs_fake_lead(struct cs_fake *f);
/* Makes this node a follower of "2" at 127.0.0.1:7002 (both voters). */
void cs_fake_follow(struct cs_fake *f);
/* Runs ready batches as consensus would, with an instant disk and storage: entries
 * persist and apply at once, commits reach membership, reads are released. */
void cs_fake_run(struct cs_fake *f);
/* The index-th frame sent (0 = first), or NULL. */
struct cs_fake_frame *cs_fake_sent(struct cs_fake *f, unsigned index);
/* The last frame sent of this message type, or NULL. */
struct cs_fake_frame *cs_fake_last(struct cs_fake *f, enum ipc_type type);
/* Forgets the frames recorded so far. */
void cs_fake_clear(struct cs_fake *f);
/* A message as it would arrive: type, request id, and a body built by fill (or none). */
void cs_fake_msg(struct ipc_msg *m, struct ipc_writer *w, enum ipc_type type, uint64_t id,
    void (*fill)(struct ipc_writer *w, void *arg), void *arg);

#endif
