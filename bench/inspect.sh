#!/usr/bin/env bash
# Benchmark of `inspect` (release build), as required by issue 2:
#  1. 1,000 password-protected .p12 files (PBES2 AES-256, PBKDF2-HMAC-SHA256, 2048 iterations,
#     SHA-256 MAC): `nkp-escrow inspect <dir>` vs `openssl pkcs12 -info -noout` run once per
#     file (sequentially, and two at a time with xargs -P2 for a like-for-like core count).
#  2. A folder of 10,000 files that are not PKCS#12: skipped by sniffing.
# Prints files/second for each. Usage: bench/inspect.sh [N] [M]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}; M=${2:-10000}
cargo build --quiet --release --bin nkp-escrow --example gen_bench
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
./target/release/examples/gen_bench "$work" "$N" "$M"
bin=./target/release/nkp-escrow
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { t = e - s; printf "%8.3f s  %9.1f files/s\n", t, n / t }'; }
sync
echo "machine: $(nproc) cores, $(uname -m); $(openssl version 2>/dev/null || echo 'no openssl')"
# warm the page cache
cat "$work"/p12/* > /dev/null
t0=$(now); "$bin" --format json inspect "$work/p12" --password-file "$work/passwords.txt" > "$work/out.json"; t1=$(now)
echo -n "nkp-escrow inspect, $N protected files:        "; rate "$N" "$t0" "$t1"
grep -c '"type": "nkp-backup"' "$work/out.json" | xargs echo "  nkp-backup reports:"
if command -v openssl > /dev/null; then
  pw=$(head -n1 "$work/passwords.txt")
  t0=$(now)
  for f in "$work"/p12/*.p12; do openssl pkcs12 -info -noout -in "$f" -passin "pass:$pw" > /dev/null 2>&1; done
  t1=$(now)
  echo -n "openssl pkcs12 -info -noout, once per file:    "; rate "$N" "$t0" "$t1"
  t0=$(now)
  ls "$work"/p12/*.p12 | xargs -P 2 -I{} openssl pkcs12 -info -noout -in {} -passin "pass:$pw" > /dev/null 2>&1
  t1=$(now)
  echo -n "openssl pkcs12 -info -noout, xargs -P2:        "; rate "$N" "$t0" "$t1"
fi
cat "$work"/other/* > /dev/null
t0=$(now); "$bin" --format json inspect "$work/other" > "$work/other.json"; t1=$(now)
echo -n "nkp-escrow inspect, $M non-PKCS#12 files:    "; rate "$M" "$t0" "$t1"
grep '"skipped"' "$work/other.json" | tr -d ' ,' | xargs echo " "
