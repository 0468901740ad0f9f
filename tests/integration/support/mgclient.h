/* mgclient.h - integration-test support for the tests that use libmagnetar: a client of a
 * broker started by mgt_broker_start, so each test file does not build the service URL and
 * check the result itself. Fails the test (cmocka) when the client cannot be created. */
#ifndef MGCLIENT_H
#define MGCLIENT_H

#include "magnetar/magnetar.h"
#include "mgtest.h"

/* A client of pulsar://127.0.0.1:port with cc (NULL: libmagnetar's defaults). */
mg_client_t *mgt_client(int port, const mg_client_conf_t *cc);
/* Start a broker (conf_lines as for mgt_broker_start) and a client of it. */
void mgt_client_setup(mgt_broker_t **b, mg_client_t **c, const char *conf_lines,
                      const mg_client_conf_t *cc);
/* Close the client (which must succeed) and stop and remove the broker. */
void mgt_client_teardown(mgt_broker_t *b, mg_client_t *c);

#endif
