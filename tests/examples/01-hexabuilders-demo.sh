#!/usr/bin/env bash
# 01-hexabuilders-demo: the HexaBuilders example end to end. Starts a broker on free ports with a
# temporary data dir, runs examples/hexabuilders/run-demo.sh against it (apply the manifest,
# notifications consumer, partner-registration producer) with small counts, and checks the
# output: every event produced (Avro, keyed, batched, LZ4), every good one notified, the poison
# event negatively acknowledged 4 times (redelivery count 0..3) and then in the dead-letter
# topic with REAL_TOPIC / ORIGIN_MESSAGE_ID; a second apply of the manifest changes nothing.
set -u
BIN=${MAGNETAR_BIN:?}
BUILD=${MG_BUILD_DIR:?}
SRC=${MG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DIR=$(mktemp -d /tmp/mg-hexa-XXXXXX)
"$BIN" standalone --data-dir "$DIR/data" --port 0 --web-port 0 > "$DIR/broker.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q 'magnetar ready' "$DIR/broker.log" && break; sleep 0.1; done
PORT=$(sed -nE 's/.*magnetar ready brokerServicePort=([0-9]+) webServicePort=([0-9]+).*/\1/p' "$DIR/broker.log")
WEB=$(sed -nE 's/.*magnetar ready brokerServicePort=([0-9]+) webServicePort=([0-9]+).*/\2/p' "$DIR/broker.log")
[ -n "$PORT" ] && [ -n "$WEB" ] || { echo "broker did not start"; cat "$DIR/broker.log"; exit 1; }

COUNT=8
MAGNETAR_URL=pulsar://127.0.0.1:$PORT ADMIN_URL=http://127.0.0.1:$WEB BIN_DIR=$BUILD/bin \
  COUNT=$COUNT POISON=1 TIMEOUT=15 bash "$SRC/examples/hexabuilders/run-demo.sh" > "$DIR/demo.out" 2>&1
RC=$?
cat "$DIR/demo.out"
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS+1)); }
has() { grep -Eq -- "$1" "$DIR/demo.out" || fail "output lacks /$1/"; }
count() { grep -Ec -- "$1" "$DIR/demo.out"; }

[ "$RC" = 0 ] || fail "run-demo.sh exited $RC"
has 'upload AVRO schema for persistent://hexabuilders/partner-management/partner-registration'
has 'Avro schema version [0-9]+, batching 32, LZ4'
[ "$(count 'producer \| produced PartnerRegistrationCompleted partner_id=partner-[0-9]+ key=partner-')" = $((COUNT + 1)) ] \
  || fail "not $((COUNT + 1)) produced events"
has 'produced 9 events \(1 poison\)'
for i in $(seq -f %04g 1 $COUNT); do has "notified partner_id=partner-$i "; done
for rc in 0 1 2 3; do
  has "notification failed for partner_id=partner-0009: .*\(redelivery count $rc\)"
done
[ "$(count 'notification failed for partner_id=partner-0009')" = 4 ] || fail "poison not nacked exactly 4 times"
has 'dead-lettered partner_id=partner-0009 to persistent://hexabuilders/partner-management/partner-registration-notifications-dlq \(REAL_TOPIC=persistent://hexabuilders/partner-management/partner-registration-partition-[0-3] ORIGIN_MESSAGE_ID=[0-9]+:[0-9]+:[0-3]:'
[ "$(count '^ *consumer \| notified partner_id=partner-0009')" = 0 ] || fail "the poison event was notified"
has "summary: produced 9 events \(1 poison\), notified $COUNT partners, 4 negative acks, dead-lettered 1"
has '== demo OK'

# the DLQ topic exists with the event; applying the manifest again changes nothing
"$BUILD/bin/magnetar-admin" --admin-url "http://127.0.0.1:$WEB" topics stats \
  persistent://hexabuilders/partner-management/partner-registration-notifications-dlq > "$DIR/dlq.json" 2>&1 \
  || fail "no DLQ topic stats"
grep -q '"msgInCounter": 1' "$DIR/dlq.json" || { fail "DLQ msgInCounter is not 1"; cat "$DIR/dlq.json"; }
"$BUILD/bin/magnetar-admin" --admin-url "http://127.0.0.1:$WEB" apply -f "$SRC/examples/hexabuilders/hexabuilders.yaml" \
  > "$DIR/apply2.out" 2>&1 || fail "second apply failed"
grep -qi 'no changes' "$DIR/apply2.out" || { fail "second apply changed something"; cat "$DIR/apply2.out"; }

[ "$FAILS" = 0 ] && echo "01-hexabuilders-demo: OK"
exit $((FAILS > 0))
