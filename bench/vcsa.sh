#!/usr/bin/env bash
# Benchmark of the vCenter backup reader (release build), as required by issue 6: a generated
# bundle whose database part is a MB-megabyte VCDB dump (default 2048), plain and encrypted
# (openssl enc -aes-256-cbc -pbkdf2). Compares `nkp-escrow inspect` with `gzip -dc` (and
# `openssl enc -d | gzip -dc`) over the same parts in one run; reports peak RSS.
# Usage: bench/vcsa.sh [MB]
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-2048}
cargo build --quiet --release --bin nkp-escrow --example gen_vcsa_bench
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
./target/release/examples/gen_vcsa_bench "$work/vcdb.sql" "$MB"
plain="$work/plain/M_8.0.3.00100_20251012-020000_"; enc="$work/enc/M_8.0.3.00100_20251012-030000_"
mkdir -p "$plain" "$enc"
for d in "$plain" "$enc"; do echo '{"version":"8.0.3.00100","SystemName":"vcsa-bench.lab"}' > "$d/backup-metadata.json"; done
tar -C "$work" -cf - vcdb.sql | gzip -1 > "$plain/database_full_backup.tar.gz"
openssl enc -aes-256-cbc -pbkdf2 -iter 10000 -pass pass:'Bench-Backup!2025' -in "$plain/database_full_backup.tar.gz" -out "$enc/database_full_backup.tar.gz.enc"
echo 'Bench-Backup!2025' > "$work/pw"
rm "$work/vcdb.sql"
echo "dump: $MB MiB uncompressed; part: $(du -h "$plain/database_full_backup.tar.gz" | cut -f1) gzip -1"
cat "$plain"/* "$enc"/* > /dev/null
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" > /dev/null 2> "$work/err" || true
  read -r s kb < "$work/t"
  awk -v l="$label" -v s="$s" -v kb="$kb" -v mb="$MB" 'BEGIN { printf "%-52s %7.2f s  %7.1f MiB/s  peak RSS %6.1f MB\n", l, s, mb / s, kb / 1024 }'
}
for run in 1 2; do
  measure "gzip -dc (plain part)" gzip -dc "$plain/database_full_backup.tar.gz"
  measure "nkp-escrow inspect (plain bundle)" ./target/release/nkp-escrow --format json inspect "$work/plain"
  measure "openssl enc -d | gzip -dc (encrypted part)" sh -c "openssl enc -d -aes-256-cbc -pbkdf2 -iter 10000 -pass pass:'Bench-Backup!2025' -in '$enc/database_full_backup.tar.gz.enc' | gzip -dc"
  measure "nkp-escrow inspect (encrypted bundle)" ./target/release/nkp-escrow --format json inspect "$work/enc" --password-file "$work/pw"
  # BASELINE=<an older nkp-escrow binary>: the same two runs with it, for a before/after.
  if [ -n "${BASELINE:-}" ]; then
    measure "baseline inspect (plain bundle)" "$BASELINE" --format json inspect "$work/plain"
    measure "baseline inspect (encrypted bundle)" "$BASELINE" --format json inspect "$work/enc" --password-file "$work/pw"
  fi
done
./target/release/nkp-escrow --format json inspect "$work/plain" | grep -c '"name": "NKP-PROD"' | xargs echo "NKP-PROD found in the plain bundle:"
