#!/usr/bin/env bash
# 02-hexabuilders-secure: the HexaBuilders demo on the seed's production security
# (examples/hexabuilders/broker-secure.conf: token authentication, authorization,
# superUserRoles=admin,service-account, TLS on 6651 and 8443 with certificates from
# mkcerts.sh; the demo runs over pulsar+ssl:// and https://), with a secret made by `magnetar tokens
# create-secret-key` and a service-account token made by `magnetar tokens create`: the whole
# demo passes with AUTH_PARAMS=token:<jwt>; without a token the provisioning is refused; the
# services alone, with a token of a role that has no grants, cannot produce.
set -u
BIN=${MAGNETAR_BIN:?}
BUILD=${MG_BUILD_DIR:?}
SRC=${MG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DIR=$(mktemp -d /tmp/mg-hexa-sec-XXXXXX)
"$BIN" tokens create-secret-key --output "$DIR/secret.key" || exit 1
sh "$SRC/tests/integration/support/mkcerts.sh" "$DIR/certs" || exit 1
sed -e "s#file:///pulsar/conf/secret.key#file://$DIR/secret.key#" \
    -e "s#/pulsar/conf/broker-key.pem#$DIR/certs/broker.key.pem#" \
    -e "s#/pulsar/conf/broker-cert.pem#$DIR/certs/broker.cert.pem#" \
    -e "s#/pulsar/conf/ca-cert.pem#$DIR/certs/ca.cert.pem#" \
    -e "s#^brokerServicePortTls=6651#brokerServicePortTls=0#" -e "s#^webServicePortTls=8443#webServicePortTls=0#" \
  "$SRC/examples/hexabuilders/broker-secure.conf" > "$DIR/broker.conf"
"$BIN" standalone -c "$DIR/broker.conf" --data-dir "$DIR/data" --port 0 --web-port 0 > "$DIR/broker.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q 'magnetar ready' "$DIR/broker.log" && break; sleep 0.1; done
PORT=$(sed -nE 's/.*magnetar ready brokerServicePort=([0-9]+) webServicePort=([0-9]+).*/\1/p' "$DIR/broker.log")
WEB=$(sed -nE 's/.*magnetar ready brokerServicePort=([0-9]+) webServicePort=([0-9]+).*/\2/p' "$DIR/broker.log")
TLSPORT=$(sed -nE 's/.*brokerServicePortTls=([0-9]+).*/\1/p' "$DIR/broker.log")
WEBTLS=$(sed -nE 's/.*webServicePortTls=([0-9]+).*/\1/p' "$DIR/broker.log")
[ -n "$PORT" ] && [ -n "$WEB" ] && [ -n "$TLSPORT" ] && [ -n "$WEBTLS" ] || { echo "broker did not start"; cat "$DIR/broker.log"; exit 1; }
TOKEN=$("$BIN" tokens create --secret-key "file://$DIR/secret.key" --subject service-account --expiry-time 1h)
NOBODY=$("$BIN" tokens create --secret-key "file://$DIR/secret.key" --subject nobody)
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS+1)); }
demo() { # over TLS on both ports, as the seed's production set-up
  MAGNETAR_URL=pulsar+ssl://localhost:$TLSPORT ADMIN_URL=https://localhost:$WEBTLS BIN_DIR=$BUILD/bin \
    TLS_TRUST=$DIR/certs/ca.cert.pem COUNT=4 POISON=1 TIMEOUT=15 "$@" \
    bash "$SRC/examples/hexabuilders/run-demo.sh" > "$DIR/demo.out" 2>&1
}

demo env AUTH_PARAMS=
RC=$?
[ "$RC" != 0 ] || fail "the demo ran without a token"
grep -q 'Authentication required' "$DIR/demo.out" || { cat "$DIR/demo.out"; fail "no 'Authentication required'"; }

demo env AUTH_PARAMS="token:$TOKEN"
RC=$?
cat "$DIR/demo.out"
[ "$RC" = 0 ] || fail "run-demo.sh with the service-account token exited $RC"
grep -q 'summary: produced 5 events (1 poison), notified 4 partners, 4 negative acks, dead-lettered 1' \
  "$DIR/demo.out" || fail "summary differs"
grep -q '== demo OK' "$DIR/demo.out" || fail "no '== demo OK'"

# a role with no grants: the producer service is refused (authorization)
"$BUILD/bin/hexabuilders-partner-registration-producer" --url "pulsar+ssl://localhost:$TLSPORT" --count 1 \
  --poison 0 --tls-trust-cert-path "$DIR/certs/ca.cert.pem" --auth-params "token:$NOBODY" \
  > "$DIR/nobody.out" 2>&1 && fail "a role without grants produced"
grep -qi 'auth' "$DIR/nobody.out" || { cat "$DIR/nobody.out"; fail "the refusal does not say authorization"; }

if [ "$FAILS" -ne 0 ]; then echo "$FAILS failure(s)"; exit 1; fi
echo "all passed"
