/*
 * Why a request failed, as a code that travels beside its text. Roles decide what to
 * do with a failure (answer 503, retry on another leader, wait) from the code; the
 * text is for people and is what the client finally sees. One list, so a new failure
 * that callers must tell apart touches this file, its sender and the callers only.
 *
 * Error answers carry "e" (text) and "ec" (code, uint). A frame with "e" but no "ec"
 * (a node older than the codes) reads as IPC_EC_OTHER.
 */
#ifndef RQ_IPC_ERRCODE_H
#define RQ_IPC_ERRCODE_H

#include <stddef.h>

#include "ipc_codec.h"

#define IPC_ERRCODES(X)								\
	X(IPC_EC_NONE,			0, "")			/* not an error */	\
	X(IPC_EC_OTHER,			1, "error")		/* text says it all */	\
	X(IPC_EC_NOT_LEADER,		2, "not leader")				\
	X(IPC_EC_LEADER_NOT_FOUND,	3, "leader not found")				\
	X(IPC_EC_LEADER_UNREACHABLE,	4, "leader not reachable")			\
	/* an entry proposed as leader that may not commit; a read whose */		\
	/* leadership check failed because leadership was lost meanwhile */		\
	X(IPC_EC_LEADERSHIP_LOST,	5, "leadership lost while committing log")	\
	X(IPC_EC_STALE_READ,		6, "stale read")				\
	X(IPC_EC_TIMEOUT,		7, "timeout")					\
	X(IPC_EC_STORE_NOT_OPEN,	8, "store not open")				\
	X(IPC_EC_INVALID,		9, "invalid request")				\
	/* the leader refused the credentials a forwarded request carried (-auth) */	\
	X(IPC_EC_UNAUTHORIZED,		10, "unauthorized")

enum ipc_errcode {
#define IPC_EC_ENUM_(name, value, text) name = value,
	IPC_ERRCODES(IPC_EC_ENUM_)
#undef IPC_EC_ENUM_
};

/* The code's default text ("not leader"); "error" for codes outside the list. */
const char *ipc_errcode_text(enum ipc_errcode code);

/* Adds "e" (text, or the code's own text when NULL) and "ec" to the frame being built. */
void ipc_add_error(struct ipc_writer *w, enum ipc_errcode code, const char *text);

/*
 * The error a reply carries: IPC_EC_NONE when it has no "e"; otherwise its code
 * (IPC_EC_OTHER when absent or unknown) and, when text is not NULL, the text
 * (pointing into the message).
 */
enum ipc_errcode ipc_get_error(const struct ipc_msg *m, const char **text, size_t *len);

#endif
