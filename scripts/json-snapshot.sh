#!/usr/bin/env bash
# Writes the JSON of inspect, evidence, resolve, coverage, vault list/verify and report over
# testdata/ into OUT, with timestamps, temporary paths and chain hashes normalised, so that two
# builds can be compared with `diff -r`. Used to show that a refactoring changes no output:
#   scripts/json-snapshot.sh target/release/nkp-escrow /tmp/before
#   (change, rebuild)
#   scripts/json-snapshot.sh target/release/nkp-escrow /tmp/after && diff -r /tmp/before /tmp/after
set -euo pipefail
bin=$(realpath "$1"); out=$2
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out"; mkdir -p "$out"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r "$root/testdata" "$work/testdata"
cd "$work"
run() { # name, args...
  local name=$1; shift
  local rc=0
  "$bin" --format json "$@" >"$out/$name.json" 2>"$out/$name.stderr" || rc=$?
  echo "$rc" >"$out/$name.rc"
}
pw=testdata/p12/passwords.txt
run inspect-p12 inspect testdata/p12 --password-file "$pw" --no-prompt
run inspect-p12-explain inspect --explain testdata/p12 --password-file "$pw" --no-prompt
run inspect-share inspect testdata/estate/share --password-file testdata/estate/share/passwords.txt --no-prompt
run inspect-vcsa inspect testdata/vcsa/bundles --password-file testdata/vcsa/bundles/backup-passwords.txt --no-prompt
run evidence evidence testdata/evidence
j=(--evidence testdata/evidence --backups testdata/estate/share --password-file testdata/estate/share/passwords.txt --no-prompt)
run resolve resolve "${j[@]}"
run resolve-vm resolve "${j[@]}" --vm 'win11-52 "finance"'
run coverage coverage "${j[@]}"
age_id=$work/custodian.age
# A fixed identity (SNAPSHOT_IDENTITY) keeps recipient fingerprints equal between runs.
if [ -n "${SNAPSHOT_IDENTITY:-}" ]; then cp "$SNAPSHOT_IDENTITY" "$age_id"
elif command -v age-keygen >/dev/null; then age-keygen -o "$age_id" 2>/dev/null; fi
if [ -s "$age_id" ]; then
  rcpt=$(grep '^# public key:' "$age_id" | sed 's/# public key: //')
  "$bin" --format json vault init --vault v --recipient "custodian=$rcpt" >/dev/null
  "$bin" --format json vault add --vault v testdata/estate/share/*.p12 --password-file testdata/estate/share/passwords.txt --no-prompt >"$out/vault-add.json" 2>/dev/null || true
  run vault-list vault list --vault v
  run vault-verify vault verify --vault v
  run resolve-vault resolve "${j[@]}" --vault v
  run coverage-vault coverage "${j[@]}" --vault v
  "$bin" --format json report "${j[@]}" --vault v --out rep >/dev/null 2>&1 || true
  cp rep/evidence.json "$out/report-evidence.json"; cp rep/evidence.md "$out/report-evidence.md"
fi
# Normalise what legitimately differs between runs.
for f in "$out"/*; do
  sed -i -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})/<time>/g' \
    -e "s#$work#<work>#g" "$f"
done
# Chain hashes and object names depend on times and age's random nonces.
if [ -f "$out/vault-list.json" ]; then
  for f in "$out"/vault-* "$out"/report-* "$out"/*-vault.json; do
    sed -i -E -e 's/"(head|hash|prev|object|chain_head|head_hash)": *"[0-9a-f]{64}"/"\1": "<hash>"/g' \
      -e 's/\b[0-9a-f]{64}\.age\b/<obj>.age/g' "$f"
  done
fi
# Evidence merges sources found by parallel walkers: the order of `details` is not stable
# between runs (a known issue), so those lists are compared sorted.
python3 - "$out" <<'PY'
import json, os, re, sys
def fix(v):
    if isinstance(v, dict):
        return {k: (sorted(fix(x) for x in v[k]) if k == "details" and isinstance(v[k], list) and all(isinstance(x, str) for x in v[k]) else fix(v[k])) for k in v}
    if isinstance(v, list):
        return [fix(x) for x in v]
    return v
d = sys.argv[1]
for n in os.listdir(d):
    p = os.path.join(d, n)
    if not n.endswith(".json"):
        continue
    t = open(p).read()
    t = re.sub(r'"(chain_head|head)": "\d+ [0-9a-f]{64}"', r'"\1": "<head>"', t)
    try:
        v = json.loads(t)
    except ValueError:
        open(p, "w").write(t); continue
    v = fix(v)
    for i in v.get("inputs", []) if isinstance(v, dict) else []:
        if isinstance(i, dict) and i.get("path") == "v/manifest.jsonl":
            i["sha256"] = "<hash>"
    open(p, "w").write(json.dumps(v, indent=1, sort_keys=False) + "\n")
PY
sed -i -E -e 's/chain head: [0-9]+ [0-9a-f]{64}/chain head: <head>/' -e 's/`[0-9a-f]{64}` v\/manifest.jsonl/`<hash>` v\/manifest.jsonl/' "$out/report-evidence.md" 2>/dev/null || true
echo "snapshot written to $out ($(ls "$out" | wc -l) files)"
