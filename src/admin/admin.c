/* admin.c - admin plane start-up and periodic policy work. The HTTP API itself is added in
 * http.c; until then the web port is not served. */
#include "admin/admin.h"

#include "broker/broker.h"

static int policy_timer(mg_loop_t *l, uint64_t id, void *arg)
{
    policies_enforce_all(arg);
    broker_t *b = arg;
    int s = b->cfg->retention_check_interval_s;
    return (s > 0 ? s : 60) * 1000;
}

int admin_start(struct broker *b, char *err, size_t errlen)
{
    return 0;
}

void admin_timers(struct broker *b)
{
    int s = b->cfg->retention_check_interval_s;
    loop_timer_add(b->loop, (uint64_t)(s > 0 ? s : 60) * 1000, policy_timer, b);
}

void admin_stop(struct broker *b)
{
}
