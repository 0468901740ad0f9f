#!/bin/bash
# Smoke run of the side-by-side benchmark (`make bench QUICK=1`) on the already-built binaries:
# seconds, results in a temp dir, peers that are not installed are skipped. Keeps the harness
# (bench/Makefile, run.py, mg_bench_load, peer_bench) from rotting; the figures mean nothing.
set -euo pipefail
: "${MG_BUILD_DIR:?}" "${MG_SOURCE_DIR:?}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)
MG_BENCH_TMP="$out" timeout 120 make --no-print-directory -C "$MG_SOURCE_DIR/bench" QUICK=1 \
  BUILD="$MG_BUILD_DIR" OUT="$out/results" CC="${CC:-cc}"
md=$(ls "$out"/results/*.md)
grep -q '^| (a) max produce | Magnetar, fsync before ack |' "$md"
grep -q '^| (a) durable Magnetar >= 2x Redis' "$md"
grep -q 'idle topics with a producer each' "$md"
echo "bench smoke: $(( $(date +%s) - start )) s, $(grep -c '^| ' "$md") table rows"
echo "bench: 1 passed, 0 failed"
