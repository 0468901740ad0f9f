/* mgclient.c - see mgclient.h. */
#include "mgclient.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

mg_client_t *mgt_client(int port, const mg_client_conf_t *cc)
{
    char url[64];
    snprintf(url, sizeof url, "pulsar://127.0.0.1:%d", port);
    mg_client_t *c = NULL;
    int rc = mg_client_create(url, cc, &c);
    if (rc != MG_OK) fail_msg("mg_client_create(%s): %d", url, rc);
    return c;
}

void mgt_client_setup(mgt_broker_t **b, mg_client_t **c, const char *conf_lines,
                      const mg_client_conf_t *cc)
{
    *b = mgt_broker_start(conf_lines);
    *c = mgt_client((*b)->port, cc);
}

void mgt_client_teardown(mgt_broker_t *b, mg_client_t *c)
{
    assert_int_equal(mg_client_close(c), MG_OK);
    mgt_broker_free(b);
}
