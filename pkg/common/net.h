/* Socket helpers shared by the supervisor (listeners) and consensus (peer dials). */
#ifndef RQ_COMMON_NET_H
#define RQ_COMMON_NET_H

#include <stddef.h>

/* Splits "host:port" / "[v6]:port" / ":port". Returns -1 when malformed. */
int net_split_hostport(const char *addr, char *host, size_t hostlen, char *port, size_t portlen);
/* A non-blocking, close-on-exec listening TCP socket bound to addr; -1 with a message in err. */
int net_listen(const char *addr, char *err, size_t errlen);

#endif
