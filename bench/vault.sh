#!/usr/bin/env bash
# Benchmark of the escrow vault (release build), as required by issue 4:
#  1. `vault add` of 1,000 NKP backups (one command);
#  2. a 10,000-entry vault: `vault verify` (keyless) and `vault list`;
#  3. object encryption throughput in-process vs the `age` CLI on the same payloads.
# Usage: bench/vault.sh [N_ADD] [N_BIG]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}; BIG=${2:-10000}
cargo build --quiet --release --bin nkp-escrow --example gen_bench --example bench_age
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
bin=./target/release/nkp-escrow
now() { date +%s.%N; }
span() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%.3f s", e - s }'; }
./target/release/examples/gen_bench "$work/small" "$N" 0
./target/release/examples/gen_bench "$work/big" "$BIG" 0
if command -v age-keygen > /dev/null; then
  age-keygen -o "$work/id.txt" 2> /dev/null; R=$(age-keygen -y "$work/id.txt")
else
  R=age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p  # age spec test recipient
fi
"$bin" vault init --vault "$work/v1" --recipient "$R" 2> /dev/null
t0=$(now); "$bin" --quiet vault add --vault "$work/v1" "$work"/small/p12/*.p12 --password-file "$work/small/passwords.txt" > /dev/null; t1=$(now)
echo "vault add, $N backups (inspect + encrypt + fsync, one command): $(span "$t0" "$t1")"
"$bin" vault init --vault "$work/v2" --recipient "$R" 2> /dev/null
t0=$(now); find "$work/big/p12" -name '*.p12' -print0 | xargs -0 "$bin" --quiet vault add --vault "$work/v2" --password-file "$work/big/passwords.txt" > /dev/null; t1=$(now)
echo "vault add, $BIG backups (building the big vault): $(span "$t0" "$t1")"
for i in 1 2 3; do
  t0=$(now); "$bin" --format json vault verify --vault "$work/v2" > "$work/verify.json"; t1=$(now)
  echo "vault verify (keyless), $(grep -o '"entries": [0-9]*' "$work/verify.json") : $(span "$t0" "$t1")"
done
for i in 1 2 3; do
  t0=$(now); "$bin" --format json vault list --vault "$work/v2" > /dev/null; t1=$(now)
  echo "vault list, $BIG entries: $(span "$t0" "$t1")"
done
# Issue 13: a 2-of-3 vault of the same backups; verify checks every object's shares keyless.
if command -v age-keygen > /dev/null; then
  rs=()
  for c in a b c; do age-keygen -o "$work/$c.txt" 2> /dev/null; rs+=(--recipient "$c=$(age-keygen -y "$work/$c.txt")"); done
  "$bin" vault init --vault "$work/v3" --threshold 2 "${rs[@]}" 2> /dev/null
  t0=$(now); find "$work/big/p12" -name '*.p12' -print0 | xargs -0 "$bin" --quiet vault add --vault "$work/v3" --password-file "$work/big/passwords.txt" > /dev/null; t1=$(now)
  echo "vault add, $BIG backups to a 2-of-3 vault: $(span "$t0" "$t1")"
  for i in 1 2 3; do
    t0=$(now); "$bin" --format json vault verify --vault "$work/v3" > "$work/verify3.json"; t1=$(now)
    echo "vault verify (keyless, every share checked), 2-of-3, $(grep -o '"entries": [0-9]*' "$work/verify3.json"): $(span "$t0" "$t1")"
  done
fi
echo "in-process age encryption (the vault's code), $N payloads:"
./target/release/examples/bench_age "$work/small/p12" "$R" | sed 's/^/  /'
if command -v age > /dev/null; then
  mkdir -p "$work/ageout"
  t0=$(now); for f in "$work"/small/p12/*.p12; do age -r "$R" -o "$work/ageout/$(basename "$f").age" "$f"; done; t1=$(now)
  echo "age CLI, same $N payloads, one process per file: $(span "$t0" "$t1")"
fi
