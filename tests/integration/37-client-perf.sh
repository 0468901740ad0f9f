#!/usr/bin/env bash
# 37-client-perf: magnetar-perf smoke test against the real broker: `produce` for 2 s and
# `consume` what it produced; each prints its per-second report lines, the summary line with a
# message count > 0, the latency percentiles and the histogram, and exits 0. `produce -m N`
# stops by itself when all N are acknowledged.
set -u
BIN=${MAGNETAR_BIN:?}
PERF=${MG_BUILD_DIR:?}/bin/magnetar-perf
DIR=$(mktemp -d /tmp/mg-perf-XXXXXX)
"$BIN" standalone --data-dir "$DIR/data" --port 0 --web-port 0 > "$DIR/broker.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q 'magnetar ready' "$DIR/broker.log" && break; sleep 0.1; done
PORT=$(grep -o 'brokerServicePort=[0-9]*' "$DIR/broker.log" | cut -d= -f2)
[ -n "$PORT" ] || { echo "broker did not start"; cat "$DIR/broker.log"; exit 1; }
URL=pulsar://127.0.0.1:$PORT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS+1)); }

# a consumer subscribed first (Latest) and a 2 s producer at 500 msg/s
timeout 20 "$PERF" consume perf-t -u "$URL" -ss perf-sub -time 5 > "$DIR/consume.out" 2>&1 &
CPID=$!
sleep 1
timeout 20 "$PERF" produce perf-t -u "$URL" -r 500 -s 128 -time 2 > "$DIR/produce.out" 2>&1
PRC=$?
wait "$CPID"; CRC=$?
[ "$PRC" = 0 ] || fail "produce exited $PRC"
[ "$CRC" = 0 ] || fail "consume exited $CRC"
for f in produce consume; do
  echo "--- magnetar-perf $f"; cat "$DIR/$f.out"
done

check() { # file verb
  local out="$DIR/$1.out" verb=$2
  grep -Eq "^(Produced|Received): +[0-9.]+ msg/s +[0-9.]+ MB/s +latency ms: p50" "$out" || fail "$1: no report line"
  local n
  n=$(sed -nE "s/^=== summary: $verb ([0-9]+) messages in .*/\1/p" "$out")
  [ -n "$n" ] || { fail "$1: no summary line"; return; }
  [ "$n" -gt 0 ] || fail "$1: summary count is $n"
  grep -q "^latency ms: mean .* p99 .* max " "$out" || fail "$1: no latency percentiles"
  grep -q "^latency histogram" "$out" || fail "$1: no histogram header"
  grep -Eq '^  \[ *[0-9.]+, +[0-9.]+\): +[0-9]+ ' "$out" || fail "$1: no histogram bucket"
  grep -q ", 0 errors" "$out" || fail "$1: errors reported"
  echo "$n" > "$DIR/$1.n"
}
check produce produced
check consume received
P=$(cat "$DIR/produce.n" 2>/dev/null)
C=$(cat "$DIR/consume.n" 2>/dev/null)
# at 500 msg/s for 2 s, about 1000 messages; the consumer gets all of them
if [ "${P:-0}" -ge 500 ] 2>/dev/null && [ "${C:-0}" -ge "$P" ] 2>/dev/null; then :; else
  fail "produced '$P', consumed '$C' (want produced >= 500 and consumed all)"
fi
# -m without -time, as pulsar-perf: it stops by itself once the last message is acknowledged
# (unpaced, batched, more in flight than maxPendingPublishRequestsPerConnection)
timeout 30 "$PERF" produce perf-m -u "$URL" -r 0 -s 256 -m 20000 -bm 100 -o 5000 > "$DIR/m.out" 2>&1
MRC=$?
[ "$MRC" = 0 ] || fail "produce -m 20000 exited $MRC (124: did not stop by itself)"
grep -q "^=== summary: produced 20000 messages" "$DIR/m.out" || fail "produce -m 20000: $(grep summary "$DIR/m.out")"
[ "$FAILS" = 0 ] && echo "37-client-perf: OK (produced $P, consumed $C)"
exit $((FAILS > 0))
