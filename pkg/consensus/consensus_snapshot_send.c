/*
 * Sending a snapshot to a follower the leader has compacted past (the leader's half of
 * InstallSnapshot).
 *
 * The snapshot file travels as PEER_SNAPSHOT chunks on our outbound link to the
 * follower, then the InstallSnapshot message itself on the same link, so it arrives only
 * after the data it names. A database can be far larger than the link's queue bound, so
 * a transfer keeps at most SNAP_WINDOW bytes waiting on the link and a short timer
 * tops the window up as the socket drains: memory stays bounded whatever the database
 * size, and heartbeats on the same link wait behind at most one window.
 *
 * A transfer holds the snapshot file open, so a newer snapshot pruning it meanwhile does
 * not cut it short. When the core asks again for the same snapshot and peer while a
 * transfer runs (its retry timer is shorter than a big transfer), the transfer goes on
 * and only the message to send at the end is replaced. Once the data was sent, a repeat
 * within SNAP_RESEND_MS sends just the message: the follower has the data staged.
 * A link that goes down cancels transfers to it; the core retries later.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common/log.h"
#include "consensus_internal.h"
#include "raftlog/snapshot_store.h"

#define SNAP_CHUNK		(1u << 20)
#define SNAP_WINDOW		(4u << 20)	/* bytes left waiting on the link */
#define SNAP_PUMP_MS		2
#define SNAP_RESEND_MS		5000

static void
snap_send_close(struct snap_send *s)
{
	if (!s->active)
		return;
	close(s->fd);
	s->fd = -1;
	free(s->cfg);
	s->cfg = NULL;
	s->active = false;
}

static void
snap_send_keep_msg(struct snap_send *s, const struct ipc_writer *w)
{
	if (!s->msg_init) {
		ipc_writer_init(&s->msg);
		s->msg_init = true;
	}
	ipc_writer_copy(&s->msg, w);
}

static void snap_send_arm(struct consensus *c);

/*
 * -compress-snap-transport: a chunk goes as "dz" (zlib) with its length "n" when that
 * is smaller. Each chunk stands alone, so the receiver needs no stream state, and a
 * receiver takes either form whatever its own flag says. Adds the frame's fields and
 * the compressed size to *wire; false: send it plain.
 */
static bool
snap_send_compressed(struct consensus *c, const char *raw, size_t n, unsigned char *z, size_t zcap, uint64_t *wire)
{
	uLongf zl = (uLongf)zcap;

	if (!c->opts->compress_snap_transport ||
	    compress2(z, &zl, (const Bytef *)raw, (uLong)n, Z_BEST_SPEED) != Z_OK || zl >= n)
		return false;
	ipc_add_bin(&c->out, "dz", (const char *)z, (size_t)zl);
	ipc_add_u64(&c->out, "n", n);
	*wire += zl;
	return true;
}

/* Tops the window up; true while the transfer goes on. */
static bool
snap_send_step(struct consensus *c, struct snap_send *s)
{
	static char buf[SNAP_CHUNK];
	static unsigned char zbuf[SNAP_CHUNK + SNAP_CHUNK / 1000 + 64];	/* compressBound */

	while (s->off < s->size && peer_pending(c->peers.pt, s->to) < SNAP_WINDOW) {
		size_t want = s->size - s->off < SNAP_CHUNK ? (size_t)(s->size - s->off) : SNAP_CHUNK;
		ssize_t n = pread(s->fd, buf, want, (off_t)s->off);
		if (n <= 0) {
			log_warnx("snapshot to %s: read at %" PRIu64 ": %s", s->to, s->off,
			    n < 0 ? strerror(errno) : "file shorter than recorded");
			snap_send_close(s);
			return false;
		}
		ipc_begin(&c->out, IPC_PEER_SNAPSHOT, 0);
		ipc_add_u64(&c->out, "i", s->index);
		ipc_add_u64(&c->out, "t", s->term);
		ipc_add_u64(&c->out, "off", s->off);
		ipc_add_u64(&c->out, "sz", s->size);
		ipc_add_u64(&c->out, "crc", s->crc);
		if (s->off == 0)
			ipc_add_bin(&c->out, "cfg", s->cfg, s->cfg_len);
		if (!snap_send_compressed(c, buf, (size_t)n, zbuf, sizeof(zbuf), &s->wire)) {
			ipc_add_bin(&c->out, "d", buf, (size_t)n);
			s->wire += (uint64_t)n;
		}
		ipc_finish(&c->out);
		if (c->io->send_peer(c, s->to, &c->out) != PEER_OK) {
			log_warnx("snapshot to %s: link refused a chunk; transfer dropped", s->to);
			snap_send_close(s);
			return false;
		}
		s->off += (uint64_t)n;
	}
	if (s->off < s->size)
		return true;
	if (c->io->send_peer(c, s->to, &s->msg) != PEER_OK)
		log_warnx("snapshot to %s: InstallSnapshot not queued", s->to);
	log_info("sent the snapshot at %" PRIu64 " (%" PRIu64 " bytes, %" PRIu64 " on the wire) "
	    "to %s in %" PRIu64 " ms", s->index, s->size, s->wire, s->to,
	    c->io->now_ms(c) - s->started_ms);
	s->done_index = s->index;
	s->done_ms = c->io->now_ms(c);
	snap_send_close(s);
	return false;
}

static void
snap_send_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consensus *c = arg;
	struct snap_send *sends = c->snap.sends;
	bool more = false;

	(void)fd; (void)what;
	for (unsigned i = 0; i < SNAP_SENDS_MAX; i++)
		if (sends[i].active && snap_send_step(c, &sends[i]))
			more = true;
	if (more)
		snap_send_arm(c);
}

static void
snap_send_arm(struct consensus *c)
{
	struct timeval tv = { 0, SNAP_PUMP_MS * 1000 };
	struct event **pump = &c->snap.pump;

	if (*pump == NULL && (*pump = evtimer_new(c->role.base, snap_send_pump_cb, c)) == NULL)
		fatalx("out of memory");
	if (!evtimer_pending(*pump, NULL))
		evtimer_add(*pump, &tv);
}

static struct snap_send *
snap_send_find(struct consensus *c, const char *to)
{
	struct snap_send *sends = c->snap.sends;

	for (unsigned i = 0; i < SNAP_SENDS_MAX; i++)
		if (sends[i].to[0] != '\0' && strcmp(sends[i].to, to) == 0)
			return &sends[i];
	for (unsigned i = 0; i < SNAP_SENDS_MAX; i++)
		if (!sends[i].active && (sends[i].to[0] == '\0' ||
		    c->io->now_ms(c) - sends[i].done_ms >= SNAP_RESEND_MS)) {
			sends[i].to[0] = '\0';
			sends[i].done_index = 0;
			return &sends[i];
		}
	return NULL;
}

/*
 * msg is the InstallSnapshot for `to`, already encoded in w (a PEER_RAFT frame). Sends
 * or schedules the data and then that frame. False when nothing can be sent (the caller
 * reports the peer unreachable and the core retries).
 */
bool
cs_snapshot_send(struct consensus *c, const char *to, const struct raft_message *msg,
    const struct ipc_writer *w)
{
	const struct snapshot_info *si = cs_snapshot_current(c);
	const struct raft_install_snapshot *is = &msg->install_snapshot;
	struct snap_send *s;

	if (si == NULL || si->index != is->meta.index) {
		log_warnx("InstallSnapshot for %" PRIu64 " but the store has %" PRIu64,
		    is->meta.index, si != NULL ? si->index : 0);
		return false;
	}
	if ((s = snap_send_find(c, to)) == NULL) {
		log_warnx("snapshot to %s: %d transfers already running", to, SNAP_SENDS_MAX);
		return false;
	}
	if (s->active && s->index == si->index) {
		snap_send_keep_msg(s, w);	/* still sending: the newest message goes last */
		return true;
	}
	if (!s->active && s->done_index == si->index && c->io->now_ms(c) - s->done_ms < SNAP_RESEND_MS)
		return c->io->send_peer(c, to, w) == PEER_OK;
	if (s->active)
		snap_send_close(s);		/* an older snapshot: start over with this one */
	s->fd = open(si->db_path, O_RDONLY | O_CLOEXEC);
	if (s->fd == -1) {
		log_warn("open %s", si->db_path);
		return false;
	}
	s->cfg = malloc(si->config_len ? si->config_len : 1);
	if (s->cfg == NULL)
		fatalx("out of memory");
	memcpy(s->cfg, si->config, si->config_len);
	s->cfg_len = si->config_len;
	snprintf(s->to, sizeof(s->to), "%s", to);
	s->index = si->index;
	s->term = si->term;
	s->size = si->size;
	s->crc = si->crc;
	s->off = 0;
	s->done_index = 0;
	s->started_ms = c->io->now_ms(c);
	s->wire = 0;
	s->active = true;
	snap_send_keep_msg(s, w);
	log_info("sending the snapshot at %" PRIu64 " (%" PRIu64 " bytes) to %s", s->index, s->size,
	    to);
	if (snap_send_step(c, s))
		snap_send_arm(c);
	return true;
}

/* The outbound link to addr went down: whatever was queued on it is lost. */
void
cs_snapshot_send_link_down(struct consensus *c, const char *addr)
{
	for (unsigned i = 0; i < SNAP_SENDS_MAX; i++) {
		struct snap_send *s = &c->snap.sends[i];
		if (s->to[0] == '\0' || strcmp(s->to, addr) != 0)
			continue;
		if (s->active)
			log_warnx("snapshot to %s: link down at %" PRIu64 " of %" PRIu64 " bytes",
			    addr, s->off, s->size);
		snap_send_close(s);
		s->to[0] = '\0';
		s->done_index = 0;
	}
}
