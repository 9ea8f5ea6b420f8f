#!/usr/bin/env bash
# Issue 10, item 9: hostile input for `evidence`. Six 31.5 MB .vmx files (under the 32 MiB
# text cap), each a keySafe `list/(...)` of about 500,000 items, in one folder. Reports wall
# time and peak RSS (GNU time). Target: under 200 MB, each file reported, nothing hangs.
# BASELINE=<older nkp-escrow binary> measures it too. Usage: bench/planted.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release --bin nkp-escrow
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import sys
item = "pair/(fqid/<VMWARE-NULL>/NKP-PROD/QUJD,HMAC%2dSHA%2d256,RWRu)"
n = (31_500_000 - 200) // (len(item) + 1)
line = 'encryption.keySafe = "vmware:key/list/(' + ",".join([item] * n) + ')"\n'
for k in range(6):
    with open(f"{sys.argv[1]}/vm{k}.vmx", "w") as f:
        f.write('displayName = "planted-%d"\n' % k)
        f.write(line)
PY
echo "folder: $(ls "$work" | wc -l) files, $(du -sh "$work" | cut -f1)"
run() {
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" --format json evidence "$work" > "$work/out.json" 2> /dev/null || true
  read -r s kb < "$work/t"
  awk -v l="$1" -v s="$s" -v kb="$kb" 'BEGIN { printf "%-40s %6.2f s  peak RSS %7.1f MB\n", l, s, kb / 1024 }'
}
for i in 1 2; do
  if [ -n "${BASELINE:-}" ]; then run "$BASELINE"; fi
  run ./target/release/nkp-escrow
done
grep -c 'passed over' "$work/out.json" | xargs echo "files reported as passed over (last run):"
