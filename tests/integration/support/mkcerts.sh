#!/bin/sh
# mkcerts.sh DIR: a throw-away certificate authority and, signed by it, a broker certificate
# for localhost / 127.0.0.1 and a client certificate (CN=admin), for the TLS tests:
#   DIR/ca.cert.pem DIR/broker.cert.pem DIR/broker.key.pem DIR/client.cert.pem DIR/client.key.pem
# and DIR/other-ca.cert.pem, a CA that signed none of them. Needs the openssl command.
set -e
D=${1:?usage: mkcerts.sh DIR}
mkdir -p "$D"
cd "$D"
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=magnetar-test-ca" \
  -keyout ca.key.pem -out ca.cert.pem
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=another-ca" \
  -keyout other-ca.key.pem -out other-ca.cert.pem
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > broker.ext
q openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout broker.key.pem -out broker.csr
q openssl x509 -req -in broker.csr -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial -days 2 \
  -extfile broker.ext -out broker.cert.pem
printf 'basicConstraints=CA:FALSE\n' > client.ext
q openssl req -newkey rsa:2048 -nodes -subj "/CN=admin" -keyout client.key.pem -out client.csr
q openssl x509 -req -in client.csr -CA ca.cert.pem -CAkey ca.key.pem -CAcreateserial -days 2 \
  -extfile client.ext -out client.cert.pem
rm -f broker.csr client.csr broker.ext client.ext ca.cert.srl
