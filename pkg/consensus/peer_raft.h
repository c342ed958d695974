/*
 * The PEER_RAFT message: one struct raft_message per frame, so the Raft cores of two nodes
 * can talk over a peer link. The body is a msgpack map with short keys; see peer_raft.c
 * for the field list. Decoding treats the frame as hostile: every field is type-checked,
 * ids and addresses must fit RAFT_ID_MAX/RAFT_ADDR_MAX without embedded NULs, entry
 * counts are bounded by the frame (ipc_decode already validated it), AppendEntries
 * entries must be contiguous and start at prev_index + 1, entry types must be known.
 */
#ifndef RQ_CONSENSUS_PEER_RAFT_H
#define RQ_CONSENSUS_PEER_RAFT_H

#include "ipc_codec.h"
#include "raft/raft.h"

/* Error codes shared by the peer modules (peer_raft.c, peer_transport.c, peer_key.c). */
enum peer_err {
	PEER_OK = 0,
	PEER_ERR_FULL = -1,	/* per-peer send queue bound reached: frame dropped */
	PEER_ERR_CLOSED = -2,	/* connection gone or closing */
	PEER_ERR_NOMEM = -3,
	PEER_ERR_INVAL = -4,	/* bad argument (e.g. malformed address, id too long) */
	PEER_ERR_FIELD = -5,	/* missing field or field of the wrong msgpack type */
	PEER_ERR_RANGE = -6,	/* field value out of range (unknown type, id too long …) */
	PEER_ERR_ORDER = -7,	/* AppendEntries entries not contiguous from prev_index + 1 */
	PEER_ERR_TOO_BIG = -8,	/* encoded frame would exceed IPC_FRAME_MAX */
	PEER_ERR_SYS = -9,	/* system call failed, see errno */
};
const char *peer_strerror(int code);

/*
 * Builds one complete PEER_RAFT frame (ipc_begin … ipc_finish) from m into w, request id 0.
 * m->to_address is not sent (the transport routes by address). Returns PEER_OK, or
 * PEER_ERR_INVAL for an empty/unterminated id or an unknown type, PEER_ERR_TOO_BIG when
 * the frame would exceed IPC_FRAME_MAX (w then holds garbage; reset it before reuse).
 */
int peer_encode_raft(struct ipc_writer *w, const struct raft_message *m);

/*
 * Fills *out from a decoded PEER_RAFT frame. On success:
 *  - out->to_address is "" (ignored by raft_recv);
 *  - for AppendEntries, out->append_entries.entries is a malloc'd array owned by *out,
 *    and every entry's data points INTO msg's buffer: valid only while msg is (for the
 *    transport's frame callback: during the callback). raft_recv() copies what it keeps;
 *  - for InstallSnapshot, out->install_snapshot.meta.config.servers is malloc'd, owned
 *    by *out.
 * Release both with peer_raft_message_release() (also safe after a failed decode, and on
 * a zeroed message). On failure *out holds nothing that needs freeing beyond that call.
 * Returns PEER_OK or PEER_ERR_FIELD / RANGE / ORDER / NOMEM; PEER_ERR_RANGE also when
 * msg is not a PEER_RAFT frame.
 */
int peer_decode_raft(const struct ipc_msg *msg, struct raft_message *out);
void peer_raft_message_release(struct raft_message *m);

#endif
