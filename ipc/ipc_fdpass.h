/*
 * The supervisor link: a SOCK_SEQPACKET socketpair where each packet is one frame
 * (length prefix included) and may carry one file descriptor (SCM_RIGHTS). The
 * supervisor hands children their sibling links and listening sockets this way.
 */
#ifndef RQ_IPC_FDPASS_H
#define RQ_IPC_FDPASS_H

#include <stddef.h>

#include "ipc_codec.h"

/* Largest packet on the supervisor link. */
#define IPC_SV_PACKET_MAX 65536

/* Sends the finished frame of w with fd attached (fd < 0: none). Blocking. 0 or -1/errno. */
int ipc_fdpass_send(int sock, const struct ipc_writer *w, int fd);
/*
 * Receives one packet into buf and decodes it into m (which points into buf).
 * *fd_out is the passed fd or -1. Returns 1 on a message, 0 on EOF, -1 on error
 * (errno; EAGAIN when non-blocking and empty), -2 on a malformed frame.
 */
int ipc_fdpass_recv(int sock, char *buf, size_t len, struct ipc_msg *m, int *fd_out);

#endif
