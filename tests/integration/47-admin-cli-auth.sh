#!/usr/bin/env bash
# 47-admin-cli-auth: magnetar-admin against a broker with token authentication and
# authorization (HS256 secret, superUserRoles=admin). pulsar-admin's options
# --auth-plugin org.apache.pulsar.client.impl.auth.AuthenticationToken --auth-params
# token:<jwt> | file:///path | {"token":"<jwt>"}, and authPlugin/authParams in a client.conf,
# send the token; without one, or with an expired one, the command prints the server's reason
# and exits non-zero. A tenant admin manages her tenant (namespaces, topics, topic
# permissions) and is refused tenants. Tokens are minted here with python3's hmac, and with
# `magnetar tokens create` (checked against the broker, `tokens show` and `tokens validate`).
set -u
BIN=${MAGNETAR_BIN:?}
ADMIN=${MG_BUILD_DIR:?}/bin/magnetar-admin
DIR=$(mktemp -d /tmp/mg-cli-auth-XXXXXX)
python3 -c 'import sys; open(sys.argv[1], "wb").write(b"magnetar-cli-auth-test-secret-32")' \
  "$DIR/secret.key"
cat > "$DIR/broker.conf" <<EOF
brokerServicePort=0
webServicePort=0
authenticationEnabled=true
authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken
tokenSecretKey=file://$DIR/secret.key
authorizationEnabled=true
superUserRoles=admin
EOF
"$BIN" standalone -c "$DIR/broker.conf" --data-dir "$DIR/data" > "$DIR/out.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q 'magnetar ready' "$DIR/out.log" && break; sleep 0.1; done
WEB=$(grep -o 'webServicePort=[0-9]*' "$DIR/out.log" | cut -d= -f2)
[ -n "$WEB" ] || { echo "broker did not start"; cat "$DIR/out.log"; exit 1; }
URL="http://localhost:$WEB"

# mint SUB [EXP]: an HS256 JWT for role SUB signed with the broker's secret
mint() {
  python3 - "$DIR/secret.key" "$@" <<'PY'
import base64, hashlib, hmac, json, sys
key = open(sys.argv[1], "rb").read()
claims = {"sub": sys.argv[2]}
if len(sys.argv) > 3:
    claims["exp"] = int(sys.argv[3])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps(claims).encode())
sig = hmac.new(key, (head + "." + body).encode(), hashlib.sha256).digest()
print(head + "." + body + "." + b64(sig))
PY
}
ADMIN_T=$(mint admin)
ALICE_T=$(mint alice)
OLD_T=$(mint admin $(( $(date +%s) - 3600 )))
PLUGIN=org.apache.pulsar.client.impl.auth.AuthenticationToken
A()     { "$ADMIN" --admin-url "$URL" "$@"; }
AS()    { local t=$1; shift; "$ADMIN" --admin-url "$URL" --auth-plugin $PLUGIN --auth-params "token:$t" "$@"; }
FAILS=0
ok()   { if "$@" > "$DIR/last" 2>&1; then :; else echo "FAIL (rc=$?): $*"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }
fails(){ if "$@" > "$DIR/last" 2>&1; then echo "FAIL (expected failure): $*"; FAILS=$((FAILS+1)); fi; }
has()  { if ! grep -q -- "$1" "$DIR/last"; then echo "FAIL: output lacks '$1'"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }

# --- without a token: the server's reason, exit 1 -----------------------------------------
fails A tenants list;                      has "Authentication required"
A tenants list > /dev/null 2>&1; [ $? -eq 1 ] || { echo "FAIL: exit code is not 1"; FAILS=$((FAILS+1)); }
fails A brokers healthcheck;               has "Authentication required"
fails AS "$OLD_T" tenants list;            has "expired"
fails AS "not-a-jwt" tenants list;         has "Reason:"

# --- the forms of --auth-params ------------------------------------------------------------
ok AS "$ADMIN_T" tenants list;             has public
printf '%s\n' "$ADMIN_T" > "$DIR/admin.token"
ok A --auth-plugin $PLUGIN --auth-params "file://$DIR/admin.token" clusters list; has standalone
ok A --auth-plugin $PLUGIN --auth-params "{\"token\":\"$ADMIN_T\"}" tenants get public
has allowedClusters
ok A "--auth-plugin=$PLUGIN" "--auth-params=token:$ADMIN_T" brokers healthcheck; has ok
fails A --auth-plugin org.apache.pulsar.client.impl.auth.oauth2.AuthenticationOAuth2 --auth-params x tenants list
has "Unsupported auth plugin"
fails A --auth-plugin $PLUGIN tenants list; has "auth-params"

# --- client.conf: webServiceUrl, authPlugin, authParams ------------------------------------
cat > "$DIR/client.conf" <<EOF
webServiceUrl=$URL/
authPlugin=$PLUGIN
authParams=file://$DIR/admin.token
EOF
ok "$ADMIN" --conf "$DIR/client.conf" tenants list; has public
ok env PULSAR_CLIENT_CONF="$DIR/client.conf" "$ADMIN" tenants list; has public
# the command line wins over the file
fails "$ADMIN" --conf "$DIR/client.conf" --auth-plugin $PLUGIN --auth-params "token:$ALICE_T" tenants list
has "super-user"

# --- a tenant admin ------------------------------------------------------------------------
ok AS "$ADMIN_T" tenants create acme -r alice -c standalone
ok AS "$ALICE_T" namespaces create acme/apps
ok AS "$ALICE_T" topics create persistent://acme/apps/orders
ok AS "$ALICE_T" topics grant-permission --role bob --actions produce,consume persistent://acme/apps/orders
ok AS "$ALICE_T" topics permissions persistent://acme/apps/orders; has '"bob"'; has consume
ok AS "$ALICE_T" topics revoke-permission --role bob persistent://acme/apps/orders
ok AS "$ALICE_T" topics permissions persistent://acme/apps/orders
if grep -q bob "$DIR/last"; then echo "FAIL: bob still has permissions"; FAILS=$((FAILS+1)); fi
fails AS "$ALICE_T" topics revoke-permission --role bob persistent://acme/apps/orders
has "not set at the topic level"
ok AS "$ALICE_T" namespaces grant-permission acme/apps --role bob --actions consume
ok AS "$ALICE_T" namespaces permissions acme/apps; has '"bob"'
ok AS "$ALICE_T" namespaces revoke-permission acme/apps --role bob
ok AS "$ALICE_T" namespaces grant-subscription-permission acme/apps --roles bob,carol --subscription billing
ok AS "$ALICE_T" namespaces get-subscription-permission acme/apps; has '"billing"'; has carol
ok AS "$ALICE_T" namespaces revoke-subscription-permission acme/apps --role carol --subscription billing
ok AS "$ALICE_T" namespaces get-subscription-permission acme/apps
if grep -q carol "$DIR/last"; then echo "FAIL: carol still bound to billing"; FAILS=$((FAILS+1)); fi
ok AS "$ALICE_T" namespaces set-subscription-auth-mode acme/apps -m Prefix
ok AS "$ALICE_T" namespaces get-subscription-auth-mode acme/apps; has Prefix
fails AS "$ALICE_T" tenants create alices -c standalone; has "super-user"
fails AS "$ALICE_T" namespaces create public/alices;    has "administrate resources on this tenant"

# --- tokens made by `magnetar tokens` (pulsar tokens' grammar) ------------------------------
ok "$BIN" tokens create --secret-key "file://$DIR/secret.key" --subject admin --expiry-time 10m
MADE=$(cat "$DIR/last")
ok AS "$MADE" tenants list; has acme
ok "$BIN" tokens show -i "$MADE"; has '"sub":"admin"'; has '"alg":"HS256"'
ok "$BIN" tokens validate --secret-key "file://$DIR/secret.key" -i "$MADE"; has "subject admin"
ok "$BIN" tokens create-secret-key --output "$DIR/other.key"
[ "$(wc -c < "$DIR/other.key")" -eq 32 ] || { echo "FAIL: secret key is not 32 bytes"; FAILS=$((FAILS+1)); }
ok "$BIN" tokens create --secret-key "file://$DIR/other.key" --subject admin
OTHER=$(cat "$DIR/last")
fails AS "$OTHER" tenants list; has "signature"
fails "$BIN" tokens validate --secret-key "file://$DIR/secret.key" -i "$OTHER"; has "invalid"
fails "$BIN" tokens create --secret-key "file://$DIR/secret.key" --subject admin --expiry-time soon

if [ "$FAILS" -ne 0 ]; then echo "$FAILS failure(s)"; exit 1; fi
echo "all passed"
