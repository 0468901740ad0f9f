#!/usr/bin/env bash
# 53-admin-cli-tls: magnetar-admin over HTTPS (webServicePortTls) with pulsar-admin's options:
# --tls-trust-cert-path, --tls-allow-insecure, --tls-enable-hostname-verification, the
# client.conf keys tlsTrustCertsFilePath / tlsAllowInsecureConnection, and a client certificate
# with the AuthenticationTls plugin (--auth-params tlsCertFile:...,tlsKeyFile:... or
# authPlugin/authParams in the client.conf) against a broker with
# tlsRequireTrustedClientCertOnConnect and AuthenticationProviderTls (CN=admin, a superuser).
# Certificates from support/mkcerts.sh.
set -u
BIN=${MAGNETAR_BIN:?}
ADMIN=${MG_BUILD_DIR:?}/bin/magnetar-admin
SRC=${MG_SOURCE_DIR:?}
DIR=$(mktemp -d /tmp/mg-cli-tls-XXXXXX)
C=$DIR/certs
sh "$SRC/tests/integration/support/mkcerts.sh" "$C" || { echo "mkcerts.sh failed"; exit 1; }
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT

# start NAME EXTRA_CONF: a broker with HTTPS on a free port; sets WEB and TLS to its ports
start() {
  local d=$DIR/$1
  mkdir -p "$d"
  printf 'brokerServicePort=0\nwebServicePort=0\nwebServicePortTls=0\ntlsCertificateFilePath=%s\ntlsKeyFilePath=%s\n%s' \
    "$C/broker.cert.pem" "$C/broker.key.pem" "$2" > "$d/broker.conf"
  "$BIN" standalone -c "$d/broker.conf" --data-dir "$d/data" > "$d/out.log" 2>&1 &
  PIDS="$PIDS $!"
  for _ in $(seq 100); do grep -q 'magnetar ready' "$d/out.log" && break; sleep 0.1; done
  WEB=$(grep -o ' webServicePort=[0-9]*' "$d/out.log" | cut -d= -f2)
  TLS=$(grep -o 'webServicePortTls=[0-9]*' "$d/out.log" | cut -d= -f2)
  [ -n "$TLS" ] || { echo "broker $1 did not start"; cat "$d/out.log"; exit 1; }
}

FAILS=0
ok()   { if "$@" > "$DIR/last" 2>&1; then :; else echo "FAIL (rc=$?): $*"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }
fails(){ if "$@" > "$DIR/last" 2>&1; then echo "FAIL (expected failure): $*"; FAILS=$((FAILS+1)); fi; }
has()  { if ! grep -q -- "$1" "$DIR/last"; then echo "FAIL: output lacks '$1'"; cat "$DIR/last"; FAILS=$((FAILS+1)); fi; }

# --- server certificate only ---------------------------------------------------------------
start plain ""
URL="https://localhost:$TLS"
A() { "$ADMIN" --admin-url "$URL" "$@"; }

ok A --tls-trust-cert-path "$C/ca.cert.pem" clusters list;          has standalone
ok A "--tls-trust-cert-path=$C/ca.cert.pem" tenants create secure
ok "$ADMIN" --admin-url "http://localhost:$WEB" tenants list;        has secure
ok A --tls-trust-cert-path "$C/ca.cert.pem" namespaces create secure/ns
ok A --tls-trust-cert-path "$C/ca.cert.pem" topics create-partitioned-topic secure/ns/t -p 2
ok A --tls-trust-cert-path "$C/ca.cert.pem" topics list-partitioned-topics secure/ns
has "persistent://secure/ns/t"
# as pulsar-admin, lookup over HTTPS prints brokerUrlTls: null without brokerServicePortTls
ok A --tls-trust-cert-path "$C/ca.cert.pem" topics lookup secure/ns/t-partition-0;  has "^null$"
ok "$ADMIN" --admin-url "http://localhost:$WEB" topics lookup secure/ns/t-partition-0
has "^pulsar://"

# the broker's certificate must chain to a trusted CA
fails A clusters list;                                               has "certificate"
A clusters list > /dev/null 2>&1; [ $? -eq 1 ] || { echo "FAIL: exit code is not 1"; FAILS=$((FAILS+1)); }
fails A --tls-trust-cert-path "$C/other-ca.cert.pem" clusters list;  has "certificate"
ok A --tls-allow-insecure clusters list;                             has standalone
ok A --tls-allow-insecure=true clusters list;                        has standalone
fails A --tls-allow-insecure=false clusters list;                    has "certificate"
# plain HTTP to the TLS port gets no answer
fails "$ADMIN" --admin-url "http://localhost:$TLS" clusters list;    has "Cannot reach"

# host names: not checked by default (Pulsar's tlsEnableHostnameVerification=false); the
# certificate names localhost and 127.0.0.1, not 127.0.0.2
ok "$ADMIN" --admin-url "https://127.0.0.2:$TLS" --tls-trust-cert-path "$C/ca.cert.pem" clusters list
has standalone
fails "$ADMIN" --admin-url "https://127.0.0.2:$TLS" --tls-trust-cert-path "$C/ca.cert.pem" \
  --tls-enable-hostname-verification clusters list
ok "$ADMIN" --admin-url "https://127.0.0.1:$TLS" --tls-trust-cert-path "$C/ca.cert.pem" \
  --tls-enable-hostname-verification clusters list

# client.conf: webServiceUrl, tlsTrustCertsFilePath, tlsAllowInsecureConnection
printf 'webServiceUrl=%s/\ntlsTrustCertsFilePath=%s\n' "$URL" "$C/ca.cert.pem" > "$DIR/client.conf"
ok "$ADMIN" --conf "$DIR/client.conf" tenants list;                  has secure
PULSAR_CLIENT_CONF="$DIR/client.conf" ok "$ADMIN" brokers healthcheck; has ok
# the command line wins over the file
fails "$ADMIN" --conf "$DIR/client.conf" --tls-trust-cert-path "$C/other-ca.cert.pem" tenants list
printf 'webServiceUrl=%s\ntlsAllowInsecureConnection=true\n' "$URL" > "$DIR/insecure.conf"
ok "$ADMIN" --conf "$DIR/insecure.conf" clusters list;               has standalone
printf 'webServiceUrl=%s\ntlsAllowInsecureConnection=false\n' "$URL" > "$DIR/strict.conf"
fails "$ADMIN" --conf "$DIR/strict.conf" clusters list;              has "certificate"

# --- client certificates: tlsRequireTrustedClientCertOnConnect ----------------------------
# with AuthenticationProviderTls the certificate's CN (admin) is the role, a superuser
start mtls "tlsTrustCertsFilePath=$C/ca.cert.pem
tlsRequireTrustedClientCertOnConnect=true
authenticationEnabled=true
authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderTls
authorizationEnabled=true
superUserRoles=admin
"
URL="https://localhost:$TLS"
TLSP=org.apache.pulsar.client.impl.auth.AuthenticationTls
CERTS="tlsCertFile:$C/client.cert.pem,tlsKeyFile:$C/client.key.pem"
T() { "$ADMIN" --admin-url "$URL" --tls-trust-cert-path "$C/ca.cert.pem" "$@"; }

fails T clusters list;                             has "client certificate is required"
ok T --auth-plugin $TLSP --auth-params "$CERTS" clusters list;       has standalone
ok T --auth-plugin tls --auth-params "{\"tlsCertFile\":\"$C/client.cert.pem\",\"tlsKeyFile\":\"file://$C/client.key.pem\"}" \
  tenants list;                                                      has public
# a certificate the broker's trust list did not sign
fails T --auth-plugin $TLSP --auth-params "tlsCertFile:$C/other-ca.cert.pem,tlsKeyFile:$C/other-ca.key.pem" \
  clusters list;                                                     has "not trusted"
fails T --auth-plugin $TLSP --auth-params "tlsCertFile:$C/client.cert.pem" clusters list
has "tlsKeyFile"
fails T --auth-plugin $TLSP --auth-params "tlsCertFile:$DIR/none.pem,tlsKeyFile:$C/client.key.pem" \
  clusters list;                                                     has "none.pem"
printf 'webServiceUrl=%s\ntlsTrustCertsFilePath=%s\nauthPlugin=%s\nauthParams=%s\n' \
  "$URL" "$C/ca.cert.pem" "$TLSP" "$CERTS" > "$DIR/mtls.conf"
ok "$ADMIN" --conf "$DIR/mtls.conf" brokers healthcheck;             has ok
ok "$ADMIN" --conf "$DIR/mtls.conf" tenants create by-cert
# the plain port has no certificate, hence no role
fails "$ADMIN" --admin-url "http://localhost:$WEB" tenants list;     has "Authentication required"

if [ "$FAILS" -ne 0 ]; then echo "$FAILS failure(s)"; exit 1; fi
echo "all passed"
