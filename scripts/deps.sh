#!/bin/sh
# Install the Debian packages Magnetar builds and tests with, only those missing.
# Used by `make run`, `make test` and CI; safe to run again.
set -e
PKGS="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libjansson-dev
liblmdb-dev libmicrohttpd-dev libcmocka-dev libavro-dev liblz4-dev libzstd-dev zlib1g-dev
libsnappy-dev libisal-dev libssl-dev libgnutls28-dev libcurl4-openssl-dev libyaml-dev python3 python3-avro clang
libclang-rt-14-dev nodejs npm curl openssl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# nodejs/npm may come from outside Debian's packages on some images: accept a working node.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
if [ -n "$(echo $missing)" ]; then
    echo "deps: installing$missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
