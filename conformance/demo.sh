#!/usr/bin/env bash
# Quick admission run against the mini_pc class with a fresh node key and a fresh
# verifier nonce, then an independent `verify` of the signed report. Expects a build in
# build/ (see .ci/build.sh). Outputs go to ./demo/admission/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD_DIR:-build}/conformance/dn-conformance
OUT=demo/admission
mkdir -p "$OUT"
if [[ ! -f $OUT/node-key.pem ]]; then
  "$BIN" keygen --out "$OUT/node-key.pem" --pub "$OUT/node-key.pub.pem"
fi
NONCE=$(openssl rand -hex 16)
echo "[admission] verifier nonce: $NONCE"
set +e
"$BIN" run --class mini_pc --nonce "$NONCE" --profile quick --backend cpu \
  --key "$OUT/node-key.pem" --out "$OUT/report.json"
run_rc=$?
set -e
echo "[admission] report: $PWD/$OUT/report.json"
echo "[admission] verifying the signed report against the class file and the nonce:"
"$BIN" verify --report "$OUT/report.json" --class mini_pc --nonce "$NONCE" \
  --pubkey "$OUT/node-key.pub.pem"
exit $run_rc
