/*
 * Peer transport, outbound peers: one entry per address we send to, with the frames
 * queued until its link is up; dialing (a numeric address at once, a name through
 * evdns, trying its addresses in turn), the exponential back-off after a failure, and
 * forgetting a peer.
 */
#include "peer_transport_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/util.h>

#include "common/log.h"

void
pt_out_link_down(struct peer_out *o, bool was_up, const char *reason)
{
	struct peer_transport *pt = o->pt;
	struct timeval tv;

	if (o->queued_frames > 0) {
		log_debug("peer %s: dropping %llu queued frames: %s", o->addr,
		    (unsigned long long)o->queued_frames, reason);
		pt->st.frames_dropped += o->queued_frames;
		evbuffer_drain(o->queue, evbuffer_get_length(o->queue));
		o->queued_frames = 0;
	}
	if (!was_up) {
		o->failures++;
		if (o->failures == 1)
			log_warnx("peer %s: cannot link: %s (retrying with back-off)", o->addr,
			    reason);
		else
			log_debug("peer %s: cannot link: %s", o->addr, reason);
	}
	o->backoff_ms = o->backoff_ms == 0 ? PEER_BACKOFF_MIN_MS :
	    (o->backoff_ms * 2 > PEER_BACKOFF_MAX_MS ? PEER_BACKOFF_MAX_MS : o->backoff_ms * 2);
	o->backing_off = true;
	pt_ms_to_tv(o->backoff_ms, &tv);
	evtimer_add(o->retry, &tv);
	/* Last: the callback may send to or forget this peer. */
	if (pt->on_link != NULL)
		pt->on_link(pt, o->addr, o->peer_id, false, pt->arg);
}

/* Splits "host:port" or "[v6]:port"; the port must be a number in 1..65535. */
int
pt_split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hl;
	char *end;
	long p;

	if (colon == NULL || colon == addr)
		return -1;
	hl = (size_t)(colon - addr);
	if (addr[0] == '[') {
		if (hl < 3 || addr[hl - 1] != ']')
			return -1;
		h = addr + 1;
		hl -= 2;
	}
	if (hl >= hostlen)
		return -1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

static struct evdns_base *
dns_base(struct peer_transport *pt)
{
	if (pt->dns != NULL)
		return pt->dns;
	pt->dns = evdns_base_new(pt->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (pt->dns == NULL) {
		/* No usable resolv.conf: names from /etc/hosts still work. */
		pt->dns = evdns_base_new(pt->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (pt->dns != NULL)
			(void)evdns_base_load_hosts(pt->dns, NULL);
	}
	return pt->dns;
}

/* Connects c to sa; a failure may be reported from inside the call, so c stays alive
 * (busy) until it returns. */
static void
conn_connect(struct peer_conn *c, const struct sockaddr *sa, int salen)
{
	c->busy++;
	if (bufferevent_socket_connect(c->bev, sa, salen) != 0 && !c->dead)
		pt_conn_close(c, strerror(errno));
	if (--c->busy == 0 && c->dead)
		pt_conn_free(c);
}

/*
 * A name resolved. A name may map to several addresses (localhost: ::1 and 127.0.0.1)
 * of which the peer listens on one, so each attempt takes the next in turn.
 */
static void
dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct peer_dns *d = arg;
	struct peer_conn *c = d->c;
	const struct evutil_addrinfo *ai;
	char reason[160];
	unsigned n = 0;

	free(d);
	if (c == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	c->dns = NULL;
	if (result != 0 || res == NULL || c->out == NULL) {
		snprintf(reason, sizeof(reason), "cannot resolve: %s",
		    result != 0 ? evutil_gai_strerror(result) : "no address");
		if (res != NULL)
			evutil_freeaddrinfo(res);
		pt_conn_close(c, reason);
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	ai = res;
	for (unsigned i = c->out->addr_index % n; i > 0; i--)
		ai = ai->ai_next;
	conn_connect(c, ai->ai_addr, (int)ai->ai_addrlen);
	evutil_freeaddrinfo(res);
}

void
pt_out_dial(struct peer_out *o)
{
	struct peer_transport *pt = o->pt;
	struct sockaddr_storage ss;
	int sslen = (int)sizeof(ss), port;
	char host[RAFT_ADDR_MAX], portstr[8];
	struct evutil_addrinfo hints;
	struct peer_dns *d;
	struct peer_conn *c;

	if ((c = pt_conn_new(pt, -1, o)) == NULL) {
		pt_out_link_down(o, false, "out of memory");
		return;
	}
	o->conn = c;
	snprintf(c->peer_addr, sizeof(c->peer_addr), "%s", o->addr);
	snprintf(c->name, sizeof(c->name), "to %s", o->addr);
	pt->st.dials++;
	if (evutil_parse_sockaddr_port(o->addr, (struct sockaddr *)&ss, &sslen) == 0) {
		conn_connect(c, (struct sockaddr *)&ss, sslen);
		return;
	}
	if (pt_split_addr(o->addr, host, sizeof(host), &port) != 0 || dns_base(pt) == NULL ||
	    (d = calloc(1, sizeof(*d))) == NULL) {
		pt_conn_close(c, "cannot resolve the address");
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	snprintf(portstr, sizeof(portstr), "%d", port);
	d->c = c;
	c->dns = d;
	/* The callback may run before this returns; it owns d from here on. */
	c->busy++;
	(void)evdns_getaddrinfo(pt->dns, host, portstr, &hints, dns_cb, d);
	if (--c->busy == 0 && c->dead)
		pt_conn_free(c);
}

static void
out_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_out *o = arg;

	(void)fd;
	(void)what;
	o->backing_off = false;
	/* Dial lazily: only when somebody still wants to talk to this peer. */
	if (o->conn == NULL && o->queued_frames > 0)
		pt_out_dial(o);
}

struct peer_out *
pt_out_find(const struct peer_transport *pt, const char *addr)
{
	for (struct peer_out *o = pt->outs; o != NULL; o = o->next)
		if (strcmp(o->addr, addr) == 0)
			return o;
	return NULL;
}

struct peer_out *
pt_out_new(struct peer_transport *pt, const char *addr)
{
	struct peer_out *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->pt = pt;
	snprintf(o->addr, sizeof(o->addr), "%s", addr);
	o->queue = evbuffer_new();
	o->retry = evtimer_new(pt->base, out_retry_cb, o);
	if (o->queue == NULL || o->retry == NULL) {
		if (o->queue != NULL)
			evbuffer_free(o->queue);
		if (o->retry != NULL)
			event_free(o->retry);
		free(o);
		return NULL;
	}
	o->next = pt->outs;
	pt->outs = o;
	return o;
}

void
pt_out_free(struct peer_out *o)
{
	struct peer_transport *pt = o->pt;

	for (struct peer_out **p = &pt->outs; *p != NULL; p = &(*p)->next) {
		if (*p == o) {
			*p = o->next;
			break;
		}
	}
	if (o->conn != NULL) {
		struct peer_conn *c = o->conn;
		c->out = NULL;
		o->conn = NULL;
		pt_conn_close(c, "peer forgotten");
	}
	pt->st.frames_dropped += o->queued_frames;
	evbuffer_free(o->queue);
	event_free(o->retry);
	free(o);
}
