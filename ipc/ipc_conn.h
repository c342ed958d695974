/*
 * A framed link over a stream socket, driven by libevent. Incoming frames are
 * decoded and handed to the owner's callback; malformed frames close the link with
 * a logged reason (frames are untrusted input, even from a sibling process).
 */
#ifndef RQ_IPC_CONN_H
#define RQ_IPC_CONN_H

#include <event2/event.h>

#include "ipc_codec.h"

struct ipc_conn;

/* msg is valid only during the call. */
typedef void ipc_msg_cb(struct ipc_conn *c, struct ipc_msg *msg, void *arg);
/* Called once when the link is closed by the peer or by an error; the conn is
 * freed right after the callback returns. */
typedef void ipc_close_cb(struct ipc_conn *c, const char *reason, void *arg);

/* Called after a read pass handed over every whole frame that had arrived (at least
 * one): a burst of messages has ended and the owner may act on all of it at once. */
typedef void ipc_drained_cb(struct ipc_conn *c, void *arg);

/* Takes ownership of fd. name is used in logs ("consensus"). */
struct ipc_conn *ipc_conn_new(struct event_base *base, int fd, const char *name,
    ipc_msg_cb *on_msg, ipc_close_cb *on_close, void *arg);
/* Checks every incoming frame against the catalogue (ipc_msg.h): a message that may not
 * travel from remote to local is logged and dropped, never handed over. */
void ipc_conn_set_ends(struct ipc_conn *c, enum ipc_end local, enum ipc_end remote);
/* Sets (or clears, with NULL) the end-of-burst callback. */
void ipc_conn_set_drained(struct ipc_conn *c, ipc_drained_cb *on_drained);
/* Queues the finished frame of w for sending (copied). Returns -1 if the link is closing. */
int ipc_conn_send(struct ipc_conn *c, const struct ipc_writer *w);
/* Queues raw bytes that already form one or more frames. */
int ipc_conn_send_raw(struct ipc_conn *c, const void *p, size_t n);
/* Writes what this loop pass queued now (it would go at the end of the pass anyway);
 * for a caller about to block, e.g. on an fsync. */
void ipc_conn_flush(struct ipc_conn *c);
/* Bytes waiting to be written (for back-pressure decisions). */
size_t ipc_conn_pending(const struct ipc_conn *c);
const char *ipc_conn_name(const struct ipc_conn *c);
/* Closes now without calling on_close. */
void ipc_conn_free(struct ipc_conn *c);

#endif
