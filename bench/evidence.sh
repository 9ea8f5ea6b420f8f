#!/usr/bin/env bash
# Benchmark of `evidence` (release build), as required by issue 3: a generated datastore tree of
# 20,000 .vmx, 40,000 .vmdk descriptors, 20,000 unrelated files and 4 sparse 4 GiB disks, read by
# `nkp-escrow evidence` and by `grep -rE 'encryption\.keySafe|encryptionKeys'` in one run.
# Reports wall time and peak RSS (GNU time) for each. Usage: bench/evidence.sh [N] [M] [S] [GiB]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}; M=${2:-20000}; S=${3:-4}; G=${4:-4}
cargo build --quiet --release --bin nkp-escrow --example gen_evidence_bench
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
./target/release/examples/gen_evidence_bench "$work/tree" "$N" "$M" "$S" "$G"
echo "tree: $(find "$work/tree" -type f | wc -l) files, apparent size $(du -sh --apparent-size "$work/tree" | cut -f1), on disk $(du -sh "$work/tree" | cut -f1)"
# Warm the page cache for both tools alike.
grep -rE 'encryption\.keySafe|encryptionKeys' "$work/tree" > /dev/null || true
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out" 2>/dev/null || true
  read -r secs kb < "$work/time"
  printf '%-58s %7.2f s  peak RSS %6.1f MB\n' "$label" "$secs" "$(awk -v k="$kb" 'BEGIN{print k/1024}')"
}
for run in 1 2; do
  measure "grep -rE 'encryption\\.keySafe|encryptionKeys' (run $run)" grep -rE 'encryption\.keySafe|encryptionKeys' "$work/tree"
  echo "  matching lines: $(wc -l < "$work/out")"
  measure "nkp-escrow --format json evidence (run $run)" ./target/release/nkp-escrow --format json evidence "$work/tree"
  echo "  references: $(grep -c '"state"' "$work/out")"
done
