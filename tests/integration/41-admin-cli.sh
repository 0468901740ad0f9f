#!/usr/bin/env bash
# 41-admin-cli: magnetar-admin against the real broker: every pulsar-admin command of the
# HexaBuilders seed (swapping the program name), the topic and namespace commands, failure
# exit codes with the server's reason, client.conf, and `apply -f` of the seed set-up run
# twice (the second run changes nothing) plus --dry-run.
set -u
BIN=${MAGNETAR_BIN:?}
ADMIN=${MG_BUILD_DIR:?}/bin/magnetar-admin
SRC=${MG_SOURCE_DIR:?}
DIR=$(mktemp -d /tmp/mg-cli-XXXXXX)
printf 'brokerServicePort=0\nwebServicePort=0\nretentionCheckIntervalInSeconds=3600\n' > "$DIR/broker.conf"
"$BIN" standalone -c "$DIR/broker.conf" --data-dir "$DIR/data" > "$DIR/out.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q 'magnetar ready' "$DIR/out.log" && break; sleep 0.1; done
WEB=$(grep -o 'webServicePort=[0-9]*' "$DIR/out.log" | cut -d= -f2)
BROKER=$(grep -o 'brokerServicePort=[0-9]*' "$DIR/out.log" | cut -d= -f2)
[ -n "$WEB" ] || { echo "broker did not start"; cat "$DIR/out.log"; exit 1; }
URL="http://localhost:$WEB"
A() { "$ADMIN" --admin-url "$URL" "$@"; }
FAILS=0
ok()   { if "$@" > "$DIR/last" 2>&1; then :; else echo "FAIL (rc=$?): $*"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }
fails(){ if "$@" > "$DIR/last" 2>&1; then echo "FAIL (expected failure): $*"; FAILS=$((FAILS+1)); fi; }
has()  { if ! grep -q -- "$1" "$DIR/last"; then echo "FAIL: output lacks '$1'"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }

# --- the seed's commands -------------------------------------------------------------------
ok A tenants create hexabuilders
for ns in partner-management onboarding recruitment campaign-management notifications system; do
  ok A namespaces create hexabuilders/$ns
done
ok A topics create-partitioned-topic persistent://hexabuilders/partner-management/partner-events -p 4
ok A topics list hexabuilders            # the seed lists a tenant; we list all its namespaces
has "persistent://hexabuilders/partner-management/partner-events-partition-3"
ok A topics stats persistent://hexabuilders/partner-management/partner-events-partition-0
has '"msgInCounter"'
ok A topics partitioned-stats persistent://hexabuilders/partner-management/partner-events
has '"partitions": 4'
ok A brokers healthcheck
has ok

# --- failures carry the server's reason and exit non-zero ----------------------------------
fails A tenants create hexabuilders
has "Tenant already exists"
fails A namespaces create hexabuilders/system
has "Namespace already exists"
fails A namespaces delete hexabuilders/partner-management
has "Cannot delete non empty namespace"
fails A topics stats persistent://hexabuilders/system/nope
has "not found"
fails A namespaces create 'bad name/x'
fails A namespaces set-retention hexabuilders/system --size lots --time 1d

# --- clusters, tenants ---------------------------------------------------------------------
ok A clusters list;  has standalone
ok A clusters get standalone; has serviceUrl
ok A tenants list; has hexabuilders
ok A tenants get hexabuilders; has allowedClusters
ok A tenants update hexabuilders -r admin,ops
ok A tenants get hexabuilders; has ops
ok A tenants create scratch -c standalone
ok A tenants delete scratch

# --- namespaces and policies ----------------------------------------------------------------
NS=hexabuilders/system
ok A namespaces list hexabuilders; has hexabuilders/onboarding
ok A namespaces set-retention $NS --size 1024M --time 7d
ok A namespaces get-retention $NS; has '"retentionTimeInMinutes": 10080'; has '"retentionSizeInMB": 1024'
ok A namespaces set-message-ttl $NS --messageTTL 3600
ok A namespaces get-message-ttl $NS; has 3600
ok A namespaces remove-message-ttl $NS
ok A namespaces set-backlog-quota $NS --limit 10G --policy producer_request_hold
ok A namespaces get-backlog-quotas $NS; has '"limitSize": 10737418240'
ok A namespaces remove-backlog-quota $NS
ok A namespaces set-deduplication $NS --enable
ok A namespaces get-deduplication $NS; has true
ok A namespaces set-schema-validation-enforce $NS --enable
ok A namespaces get-schema-validation-enforce $NS; has true
ok A namespaces set-schema-compatibility-strategy $NS --compatibility BACKWARD
ok A namespaces get-schema-compatibility-strategy $NS; has BACKWARD
fails A namespaces set-schema-compatibility-strategy $NS --compatibility SIDEWAYS
ok A namespaces set-clusters $NS --clusters standalone
ok A namespaces get-clusters $NS; has standalone
ok A namespaces grant-permission $NS --role svc --actions produce,consume
ok A namespaces permissions $NS; has svc
ok A namespaces revoke-permission $NS --role svc
ok A namespaces set-max-producers-per-topic $NS -p 5
ok A namespaces get-max-producers-per-topic $NS; has 5
ok A namespaces set-max-consumers-per-topic $NS -c 6
ok A namespaces set-subscription-expiration-time $NS -t 120
ok A namespaces policies $NS; has '"max_consumers_per_topic": 6'; has '"deduplicationEnabled": true'
ok A namespaces topics hexabuilders/partner-management; has partner-events-partition-0

# --- topics -----------------------------------------------------------------------------------
T=persistent://hexabuilders/system/cli-topic
ok A topics create $T
fails A topics create $T
ok A topics create-subscription $T -s early -m earliest
ok A topics create-subscription $T -s late
ok A topics subscriptions $T; has early; has late
# produce three messages with the raw protocol helper of the C tests? use magnetar-client when
# built, else skip the data checks
CLIENT=${MG_BUILD_DIR}/bin/magnetar-client
if [ -x "$CLIENT" ]; then
  for i in 1 2 3; do "$CLIENT" --url pulsar://localhost:$BROKER produce $T -m "hello-$i" >/dev/null 2>&1 || true; done
fi
ok A topics stats $T; has '"subscriptions"'
ok A topics stats-internal $T; has '"cursors"'
if [ -x "$CLIENT" ] && A topics peek-messages $T -s early -n 1 >/dev/null 2>&1; then
  ok A topics peek-messages $T -s early -n 2; has "Message ID:"
else
  fails A topics peek-messages $T -s early -n 1   # nothing published: 404 "Message not found"
  has "Message not found"
fi
ok A topics skip $T -s early -n 1
ok A topics skip-all $T -s early
ok A topics clear-backlog $T -s early
ok A topics expire-messages $T -s late -t 1h
ok A topics expire-messages-all-subscriptions $T -t 1h
ok A topics reset-cursor $T -s late -t 10m
ok A topics reset-cursor $T -s late -m earliest
ok A topics last-message-id $T; has ledgerId
ok A topics unsubscribe $T -s late
fails A topics unsubscribe $T -s late
ok A topics unload $T
ok A topics lookup $T; has "pulsar://"
ok A topics get-partitioned-topic-metadata persistent://hexabuilders/partner-management/partner-events; has '"partitions": 4'
ok A topics update-partitioned-topic persistent://hexabuilders/partner-management/partner-events -p 6
fails A topics update-partitioned-topic persistent://hexabuilders/partner-management/partner-events -p 2
ok A topics list-partitioned-topics hexabuilders/partner-management; has partner-events
ok A topics terminate $T; has "terminated"
ok A topics delete $T
ok A topics delete-partitioned-topic persistent://hexabuilders/partner-management/partner-events
ok A brokers list standalone; has "localhost:$WEB"

# --- client.conf --------------------------------------------------------------------------------
printf '# client.conf\nwebServiceUrl=%s\nbrokerServiceUrl=pulsar://localhost:%s\n' "$URL" "$BROKER" > "$DIR/client.conf"
ok "$ADMIN" --conf "$DIR/client.conf" tenants list; has hexabuilders
ok env PULSAR_CLIENT_CONF="$DIR/client.conf" "$ADMIN" clusters list; has standalone

# --- apply -f: the whole seed, twice ---------------------------------------------------------------
Y=$SRC/examples/hexabuilders/hexabuilders.yaml
ok A apply -f $Y --dry-run; has "would"
ok A apply -f $Y
has "create partitioned topic persistent://hexabuilders/onboarding/contract-events with 4 partitions"
has "create partitioned topic persistent://hexabuilders/partner-management/partner-events with 4 partitions"
ok A apply -f $Y
has "no changes"
if [ "$(wc -l < "$DIR/last")" != 1 ]; then echo "FAIL: second apply changed something"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi
ok A topics list-partitioned-topics hexabuilders/recruitment; has candidate-matched
ok A namespaces get-retention hexabuilders/notifications; has 10080
ok A namespaces get-deduplication hexabuilders/campaign-management; has true
ok A namespaces get-schema-validation-enforce hexabuilders/onboarding; has true
printf 'tenants:\n  - name: [unclosed\n' > "$DIR/bad.yaml"
fails A apply -f "$DIR/bad.yaml"

if [ $FAILS -ne 0 ]; then echo "$FAILS failure(s)"; tail -20 "$DIR/out.log"; exit 1; fi
echo "all CLI checks passed"
