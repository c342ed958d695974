/* systemd readiness notification (sd_notify protocol), see sd_notify.c. */
#ifndef RQ_SUPERVISOR_SD_NOTIFY_H
#define RQ_SUPERVISOR_SD_NOTIFY_H

/* Sends state (e.g. "READY=1") if $NOTIFY_SOCKET is set: 1 sent, 0 not under systemd, -1 error. */
int sd_notify_send(const char *state);

#endif
