/* admin.h - the admin plane: Pulsar's /admin/v2 REST API, /metrics, health checks and the
 * HTTP lookup, served on webServicePort. HTTP threads marshal each request into the broker
 * loop (loop_post) and wait for the answer; they never touch broker state directly. */
#ifndef MG_ADMIN_H
#define MG_ADMIN_H

#include <stddef.h>

struct broker;

/* Start the HTTP server (loop thread, at broker start). Sets b->web_port to the bound port
 * (webServicePort=0 picks a free one). 0, or -1 with err. */
int admin_start(struct broker *b, char *err, size_t errlen);
/* Periodic admin work on the loop (policy enforcement timer). */
void admin_timers(struct broker *b);
void admin_stop(struct broker *b);

#endif
