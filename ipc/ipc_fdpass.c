/* Frames with an optional file descriptor over a SEQPACKET socket (see ipc_fdpass.h). */
#include "ipc_fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
ipc_fdpass_send(int sock, const struct ipc_writer *w, int fd)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	iov.iov_base = w->sb.data;
	iov.iov_len = w->sb.size;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *cm;
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

int
ipc_fdpass_recv(int sock, char *buf, size_t len, struct ipc_msg *m, int *fd_out)
{
	struct msghdr mh;
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	ssize_t n;

	*fd_out = -1;
	memset(m, 0, sizeof(*m));
	msgpack_unpacked_init(&m->un);
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(fd_out, CMSG_DATA(cm), sizeof(int));
	}
	if (n < 4 || (mh.msg_flags & MSG_TRUNC) ||
	    ipc_frame_len((const unsigned char *)buf) != (size_t)n - 4 ||
	    ipc_decode(buf + 4, (size_t)n - 4, m) != IPC_OK) {
		ipc_msg_destroy(m);
		if (*fd_out >= 0)
			close(*fd_out);
		*fd_out = -1;
		return -2;
	}
	return 1;
}
