/*
 * The catalogue of every message that crosses a link between processes.
 * One X-macro list generates the enum, the names used in logs and the
 * per-link acceptance tables, so a new message touches this list, its
 * sender and its handler — nothing else.
 *
 * Column 2 is the link the message travels on (who sends → who receives).
 */
#ifndef RQ_IPC_MSG_H
#define RQ_IPC_MSG_H

#define IPC_MESSAGES(X)							\
	/* supervisor ⇄ every child (SOCK_SEQPACKET, may carry one fd) */	\
	X(SV_READY,		"child → supervisor: started, serving")	\
	X(SV_PING,		"supervisor → child: heartbeat")		\
	X(SV_PONG,		"child → supervisor: heartbeat answer")	\
	X(SV_LINK,		"supervisor → child: fd of a link to role r")	\
	X(SV_LISTEN,		"supervisor → child: fd of listener n")	\
	X(SV_SHUTDOWN,		"supervisor → child: stop in order")		\
	/* gateway ⇄ consensus */					\
	X(PROPOSE,		"gateway → consensus: command c for the log") \
	X(PROPOSE_RESULT,	"consensus → gateway: index i, result res or error e") \
	X(BARRIER,		"gateway → consensus: read barrier for level l") \
	X(BARRIER_RESULT,	"consensus → gateway: read index i or error e") \
	X(STATE,		"consensus → gateway, storage: role, term, leader, commit, lease end") \
	X(CONS_STATUS,		"gateway → consensus: /status raft section") \
	X(CONS_STATUS_RESULT,	"consensus → gateway: status map s")	\
	X(MEMBERSHIP,		"gateway → consensus: op remove|stepdown, id") \
	X(MEMBERSHIP_RESULT,	"consensus → gateway: ok, or error e")	\
	X(NODES,		"gateway → consensus: contact every node (/nodes)") \
	X(NODES_RESULT,		"consensus → gateway: nodes with reachability") \
	X(FAULT,		"gateway → consensus: debug builds: block/unblock peers") \
	X(FAULT_RESULT,		"consensus → gateway: done")		\
	X(SNAPSHOT_NOW,		"gateway → consensus: snapshot now (tl trailing logs)") \
	X(SNAPSHOT_NOW_RESULT,	"consensus → gateway: done, none (nothing new) or e") \
	X(REAP,			"gateway → consensus: remove old snapshots") \
	X(REAP_RESULT,		"consensus → gateway: n removed")	\
	/* gateway ⇄ storage */						\
	X(QUERY,		"gateway → storage: read command c after index mi") \
	X(QUERY_RESULT,		"storage → gateway: result res")	\
	X(STORE_STATUS,		"gateway → storage: /status sqlite section") \
	X(STORE_STATUS_RESULT,	"storage → gateway: status map s")	\
	X(BACKUP,		"gateway → storage: make a backup file (f, vacuum, compress, tables)") \
	X(BACKUP_RESULT,	"storage → gateway: its path p, or e")	\
	/* consensus ⇄ storage */					\
	X(STORAGE_HELLO,	"storage → consensus: applied index i at link up") \
	X(APPLY,		"consensus → storage: committed entry i, term t, command c") \
	X(APPLY_RESULT,		"storage → consensus: result res of entry i") \
	X(SNAPSHOT,		"consensus → storage: copy the database to file p") \
	X(SNAPSHOT_RESULT,	"storage → consensus: copy holds index i, or e") \
	X(RESTORE,		"consensus → storage: replace the database with p (index i)") \
	X(RESTORE_RESULT,	"storage → consensus: restored to i, or e") \
	/* consensus ⇄ consensus on other nodes (TCP, see pkg/consensus/peer_*) */ \
	X(PEER_HELLO,		"dialer → listener: id, addr, auth proof") \
	X(PEER_HELLO_RESULT,	"listener → dialer: id, auth proof, or refusal e") \
	X(PEER_RAFT,		"a pkg/raft message between cores")	\
	X(PEER_FORWARD,		"follower → leader: a gateway request to run there") \
	X(PEER_FORWARD_RESULT,	"leader → follower: its answer")	\
	X(PEER_JOIN,		"joiner → any member: add id/addr/voter") \
	X(PEER_JOIN_RESULT,	"member → joiner: ok, or error e / leader la") \
	X(PEER_META,		"any → any: ask for api address and version") \
	X(PEER_META_RESULT,	"answer: api_addr, version, commit index") \
	X(PEER_SNAPSHOT,	"leader → follower: chunk of the snapshot at i (off, d)")

enum ipc_type {
	IPC_NONE = 0,
#define IPC_ENUM_(name, doc) IPC_##name,
	IPC_MESSAGES(IPC_ENUM_)
#undef IPC_ENUM_
	IPC_TYPE_MAX
};

/* "PROPOSE", or "unknown" for values outside the catalogue. */
const char *ipc_type_name(unsigned type);

#endif
