/*
 * The catalogue of every message that crosses a link between processes. One X-macro
 * list generates the enum, the names used in logs, who may send and receive each
 * message (the per-link acceptance check) and which message answers it, so a new
 * message touches this list, its sender and its handler — nothing else.
 *
 * Columns: name, senders, receivers, reply (the message that answers it; NONE when it
 * is not a request), what it carries. Ends: SV the supervisor, GW gateway, CS
 * consensus, ST storage, ROLES any of those three, PEER consensus on another node.
 */
#ifndef RQ_IPC_MSG_H
#define RQ_IPC_MSG_H

#include <stdbool.h>

/* The ends of a link, as bits: a message may have several senders or receivers. */
enum ipc_end {
	IPC_END_SV = 1u << 0,
	IPC_END_GW = 1u << 1,
	IPC_END_CS = 1u << 2,
	IPC_END_ST = 1u << 3,
	IPC_END_PEER = 1u << 4,
	IPC_END_ROLES = IPC_END_GW | IPC_END_CS | IPC_END_ST,
};

#define IPC_E_(e) IPC_END_##e
#define IPC_E2_(a, b) (IPC_END_##a | IPC_END_##b)

#define IPC_MESSAGES(X)								\
	/* supervisor ⇄ every child (SOCK_SEQPACKET, may carry one fd) */		\
	X(SV_READY, IPC_E_(ROLES), IPC_E_(SV), NONE, "started, serving")		\
	X(SV_PING, IPC_E_(SV), IPC_E_(ROLES), SV_PONG, "heartbeat")			\
	X(SV_PONG, IPC_E_(ROLES), IPC_E_(SV), NONE, "heartbeat answer: ms without progress") \
	X(SV_LINK, IPC_E_(SV), IPC_E_(ROLES), NONE, "fd of a link to role r")		\
	X(SV_LISTEN, IPC_E_(SV), IPC_E_(ROLES), NONE, "fd of listener n")		\
	X(SV_SHUTDOWN, IPC_E_(SV), IPC_E_(ROLES), NONE, "stop in order")		\
	/* gateway ⇄ consensus */							\
	X(PROPOSE, IPC_E_(GW), IPC_E_(CS), PROPOSE_RESULT, "command c for the log")	\
	/* from storage too: it answers the local gateway's own entries directly */	\
	X(PROPOSE_RESULT, IPC_E2_(CS, ST), IPC_E_(GW), NONE, "index i, result res or error e") \
	X(BARRIER, IPC_E_(GW), IPC_E_(CS), BARRIER_RESULT, "read barrier for level l")	\
	X(BARRIER_RESULT, IPC_E_(CS), IPC_E_(GW), NONE, "read index i, res of a forwarded read, or e") \
	/* STATE once went to storage too, which still takes and ignores it */	\
	X(STATE, IPC_E_(CS), IPC_E2_(GW, ST), NONE, "role, term, leader, commit, lease end") \
	X(CONS_STATUS, IPC_E_(GW), IPC_E_(CS), CONS_STATUS_RESULT, "/status raft section") \
	X(CONS_STATUS_RESULT, IPC_E_(CS), IPC_E_(GW), NONE, "status map")		\
	X(MEMBERSHIP, IPC_E_(GW), IPC_E_(CS), MEMBERSHIP_RESULT, "op remove|stepdown, id") \
	X(MEMBERSHIP_RESULT, IPC_E_(CS), IPC_E_(GW), NONE, "ok, or error e")		\
	X(NODES, IPC_E_(GW), IPC_E_(CS), NODES_RESULT, "contact every node (/nodes)")	\
	X(NODES_RESULT, IPC_E_(CS), IPC_E_(GW), NONE, "nodes with reachability")	\
	X(FAULT, IPC_E_(GW), IPC_E_(CS), FAULT_RESULT, "debug builds: block/unblock peers") \
	X(FAULT_RESULT, IPC_E_(CS), IPC_E_(GW), NONE, "done")				\
	X(SNAPSHOT_NOW, IPC_E_(GW), IPC_E_(CS), SNAPSHOT_NOW_RESULT, "snapshot now (tl trailing logs)") \
	X(SNAPSHOT_NOW_RESULT, IPC_E_(CS), IPC_E_(GW), NONE, "done, none (nothing new) or e") \
	X(REAP, IPC_E_(GW), IPC_E_(CS), REAP_RESULT, "remove old snapshots")		\
	X(REAP_RESULT, IPC_E_(CS), IPC_E_(GW), NONE, "n removed")			\
	/* gateway ⇄ storage; consensus asks storage for reads it serves for followers */ \
	X(QUERY, IPC_E2_(GW, CS), IPC_E_(ST), QUERY_RESULT, "read command c after index mi") \
	X(QUERY_RESULT, IPC_E_(ST), IPC_E2_(GW, CS), NONE, "result res, applied index ai") \
	X(STORE_STATUS, IPC_E_(GW), IPC_E_(ST), STORE_STATUS_RESULT, "/status sqlite section") \
	X(STORE_STATUS_RESULT, IPC_E_(ST), IPC_E_(GW), NONE, "status map")		\
	X(BACKUP, IPC_E_(GW), IPC_E_(ST), BACKUP_RESULT, "make a backup file (f, vacuum, compress, tables)") \
	X(BACKUP_RESULT, IPC_E_(ST), IPC_E_(GW), NONE, "its path p, or e")		\
	/* consensus ⇄ storage */							\
	X(STORAGE_HELLO, IPC_E_(ST), IPC_E_(CS), NONE, "applied index i at link up")	\
	X(APPLY, IPC_E_(CS), IPC_E_(ST), APPLY_RESULT, "committed entry i, term t, command c") \
	X(APPLY_RESULT, IPC_E_(ST), IPC_E_(CS), NONE, "result res of entry i")		\
	X(SNAPSHOT, IPC_E_(CS), IPC_E_(ST), SNAPSHOT_RESULT, "copy the database to file p") \
	X(SNAPSHOT_RESULT, IPC_E_(ST), IPC_E_(CS), NONE, "copy holds index i, or e")	\
	X(RESTORE, IPC_E_(CS), IPC_E_(ST), RESTORE_RESULT, "replace the database with p (index i)") \
	X(RESTORE_RESULT, IPC_E_(ST), IPC_E_(CS), NONE, "restored to i, or e")		\
	/* consensus ⇄ consensus on other nodes (TCP, see pkg/consensus/peer_*) */	\
	X(PEER_HELLO, IPC_E_(PEER), IPC_E_(PEER), PEER_HELLO_RESULT, "dialer: id, addr, auth proof") \
	X(PEER_HELLO_RESULT, IPC_E_(PEER), IPC_E_(PEER), NONE, "id, auth proof, or refusal e") \
	X(PEER_RAFT, IPC_E_(PEER), IPC_E_(PEER), NONE, "a pkg/raft message between cores") \
	X(PEER_FORWARD, IPC_E_(PEER), IPC_E_(PEER), PEER_FORWARD_RESULT, "follower → leader: a request to run there") \
	X(PEER_FORWARD_RESULT, IPC_E_(PEER), IPC_E_(PEER), NONE, "its answer")	\
	X(PEER_JOIN, IPC_E_(PEER), IPC_E_(PEER), PEER_JOIN_RESULT, "joiner: add id/addr/voter") \
	X(PEER_JOIN_RESULT, IPC_E_(PEER), IPC_E_(PEER), NONE, "ok, or error e / leader la") \
	X(PEER_META, IPC_E_(PEER), IPC_E_(PEER), PEER_META_RESULT, "ask for api address and version") \
	X(PEER_META_RESULT, IPC_E_(PEER), IPC_E_(PEER), NONE, "api_addr, version, commit index") \
	X(PEER_SNAPSHOT, IPC_E_(PEER), IPC_E_(PEER), NONE, "leader → follower: chunk of the snapshot at i")

enum ipc_type {
	IPC_NONE = 0,
#define IPC_ENUM_(name, from, to, reply, doc) IPC_##name,
	IPC_MESSAGES(IPC_ENUM_)
#undef IPC_ENUM_
	IPC_TYPE_MAX
};

/* "PROPOSE", or "unknown" for values outside the catalogue. */
const char *ipc_type_name(unsigned type);
/* The message that answers type (PROPOSE → PROPOSE_RESULT); IPC_NONE when type is not
 * a request or is outside the catalogue. */
enum ipc_type ipc_reply_type(unsigned type);
/* Whether a message of this type may travel from `from` to `to` (one end each). */
bool ipc_link_accepts(unsigned type, enum ipc_end from, enum ipc_end to);
/* "gateway" …, for logs. */
const char *ipc_end_name(enum ipc_end e);

#endif
