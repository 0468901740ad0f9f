#!/usr/bin/env bash
# run-demo.sh - the HexaBuilders partner-registration flow against a running Magnetar (or Pulsar)
# broker. It starts no broker: it applies hexabuilders.yaml (tenant, namespaces, partitioned
# topics, the Avro schemas), starts the notifications service's consumer, publishes
# PartnerRegistrationCompleted events with the partner-management producer (COUNT good ones
# and POISON ones the consumer cannot handle), waits for the consumer to notify every partner
# and see the poison events reach the dead-letter topic, and prints what happened.
#
#   examples/hexabuilders/run-demo.sh            # broker on localhost:6650 / 8080
#   MAGNETAR_URL=pulsar://127.0.0.1:6650 ADMIN_URL=http://127.0.0.1:8080 COUNT=20 POISON=2 \
#       examples/hexabuilders/run-demo.sh
#
# BIN_DIR: where magnetar-admin and the hexabuilders-* programs are (default build/bin).
# AUTH_PARAMS: with token authentication on (broker-secure.conf), token:<jwt> or
# file:///path/to/token, given to magnetar-admin and to both services. TLS_TRUST: the CA file
# for pulsar+ssl:// and https:// URLs.
# Exit status 0 when every event was produced, every good one consumed, every poison one
# dead-lettered.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN_DIR=${BIN_DIR:-$HERE/../../build/bin}
URL=${MAGNETAR_URL:-pulsar://localhost:6650}
ADMIN_URL=${ADMIN_URL:-http://localhost:8080}
COUNT=${COUNT:-10}
POISON=${POISON:-1}
TIMEOUT=${TIMEOUT:-60}
for b in magnetar-admin hexabuilders-partner-registration-producer hexabuilders-notifications-consumer; do
  [ -x "$BIN_DIR/$b" ] || { echo "run-demo: $BIN_DIR/$b not found (build first, or set BIN_DIR)" >&2; exit 2; }
done
WORK=$(mktemp -d /tmp/hexabuilders-demo-XXXXXX)
CPID=
cleanup() { [ -n "$CPID" ] && kill "$CPID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
AUTH_PARAMS=${AUTH_PARAMS:-}
TLS_TRUST=${TLS_TRUST:-}
export MAGNETAR_AUTH_PARAMS=$AUTH_PARAMS MAGNETAR_TLS_TRUST_CERTS=$TLS_TRUST # for hexabuilders-*
ADMIN() {
  set -- --admin-url "$ADMIN_URL" "$@"
  [ -n "$TLS_TRUST" ] && set -- --tls-trust-cert-path "$TLS_TRUST" "$@"
  [ -n "$AUTH_PARAMS" ] && set -- --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationToken \
    --auth-params "$AUTH_PARAMS" "$@"
  "$BIN_DIR/magnetar-admin" "$@"
}

echo "== 1. provisioning: magnetar-admin apply -f hexabuilders.yaml ($ADMIN_URL)"
ADMIN apply -f "$HERE/hexabuilders.yaml" || { echo "run-demo: apply failed" >&2; exit 1; }

echo "== 2. notifications service: Shared subscription, nack + DLQ after 3 redeliveries"
"$BIN_DIR/hexabuilders-notifications-consumer" --url "$URL" --expect "$COUNT" --expect-dead "$POISON" \
    --timeout "$TIMEOUT" --batch-timeout-ms 200 > "$WORK/consumer.out" 2>&1 &
CPID=$!
for _ in $(seq 100); do
  grep -q '^subscribed ' "$WORK/consumer.out" && break
  kill -0 "$CPID" 2>/dev/null || break
  sleep 0.1
done
sed 's/^/   consumer | /' "$WORK/consumer.out"

echo "== 3. partner-management service: $COUNT PartnerRegistrationCompleted events + $POISON poison"
"$BIN_DIR/hexabuilders-partner-registration-producer" --url "$URL" --count "$COUNT" --poison "$POISON" \
    > "$WORK/producer.out" 2>&1
PRC=$?
sed 's/^/   producer | /' "$WORK/producer.out"

echo "== 4. waiting for the notifications service (up to ${TIMEOUT}s)"
wait "$CPID"; CRC=$?; CPID=
sed -n '2,$p' "$WORK/consumer.out" | sed 's/^/   consumer | /'

echo "== 5. topic state"
ADMIN topics partitioned-stats persistent://hexabuilders/partner-management/partner-registration 2>/dev/null \
  | grep -E '"(msgInCounter|msgOutCounter)"' | head -2 | sed 's/^ */   partner-registration /'
ADMIN schemas get persistent://hexabuilders/partner-management/partner-registration 2>/dev/null \
  | grep -E '"version"' | head -1 | sed 's/^ */   schema /'

PRODUCED=$(sed -nE 's/^produced ([0-9]+) events.*/\1/p' "$WORK/producer.out")
NOTIFIED=$(sed -nE 's/^notified partner_id=([^ ]*) .*/\1/p' "$WORK/consumer.out" | sort -u | wc -l)
NACKS=$(grep -c '^notification failed' "$WORK/consumer.out")
DEAD=$(grep -c '^dead-lettered ' "$WORK/consumer.out")
echo "== summary: produced ${PRODUCED:-0} events ($POISON poison), notified $NOTIFIED partners," \
     "$NACKS negative acks, dead-lettered $DEAD"
[ "$PRC" = 0 ] && [ "$CRC" = 0 ] && [ "${PRODUCED:-0}" = $((COUNT + POISON)) ] \
  && [ "$NOTIFIED" -ge "$COUNT" ] && [ "$DEAD" = "$POISON" ] && { echo "== demo OK"; exit 0; }
echo "== demo FAILED (producer exit $PRC, consumer exit $CRC)"
exit 1
