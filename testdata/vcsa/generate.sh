#!/usr/bin/env bash
# Regenerates the vCenter file-based backup fixtures (tar, gzip, openssl). All values made up.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf bundles && mkdir -p bundles
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
meta() { # $1 dir, $2 encrypted
  cat > "$1/backup-metadata.json" <<JSON
{"version":"8.0.3.00100","SystemName":"vcsa01.lab","timestamp":"2025-10-12T02:00:00Z","parts":["config_files","database_full_backup"],"comment":"nightly","encrypted":$2,"BackupSize":123456,"UnknownFutureField":{"x":1}}
JSON
}
# Part contents.
mkdir -p "$tmp/cfg/etc/vmware/configstore" "$tmp/cfg/etc/vmware-vpx/nkp" "$tmp/db"
cat > "$tmp/cfg/etc/vmware/configstore/kms_providers.json" <<'JSON'
[{"native_provider":{"key_derivation_key":"*******","key_id":"648c5a1b-03c6-4694-a11c-89a63cc86f4f"},"provider":"NKP-PROD","type":"NATIVE"}]
JSON
cp ../estate/share/nkp-dr-2024.p12 "$tmp/cfg/etc/vmware-vpx/nkp/NKP-DR.p12"
cat > "$tmp/db/vcdb.sql" <<'SQL'
--
-- PostgreSQL database dump
--
COPY public.vpx_host (id, dns_name, crypto_state) FROM stdin;
21533	esxi51.lab	2
\.
COPY public.vpx_nkp_provider (id, name, key_id, kdk_encrypted, export_time) FROM stdin;
1	NKP-PROD	648c5a1b-03c6-4694-a11c-89a63cc86f4f	\\x8f00aa11	2025-09-12 14:30:00
2	NKP-VDI	71a8c0a3-55fa-4fc4-8190-f9dacec6c783	\\x8f00bb22	2024-01-15 12:00:00
\.
INSERT INTO vpx_kms_cluster (cluster_id, key_id, description) VALUES ('NKP-DR', '0d57d51a-961d-4208-91f8-44ff9c40e7ba', 'it''s the DR provider');
COPY public.vpx_crypto_secret (id, wrapped_secret) FROM stdin;
1	\\x00112233
\.
SQL
(cd "$tmp/cfg" && tar --sort=name --owner=0 --group=0 --mtime=2025-10-12 -czf "$tmp/config_files.tar.gz" etc)
(cd "$tmp/db" && gzip -n -c vcdb.sql > "$tmp/vcdb.sql.gz" && tar --sort=name --owner=0 --group=0 --mtime=2025-10-12 -czf "$tmp/database_full_backup.tar.gz" -C "$tmp" vcdb.sql.gz)

plain=bundles/plain/vCenter/sn_vcsa01.lab/M_8.0.3.00100_20251012-020000_
mkdir -p "$plain"; meta "$plain" false
cp "$tmp/config_files.tar.gz" "$tmp/database_full_backup.tar.gz" "$plain/"

# Encrypted with each scheme (backup password "Vc5a-Backup!2025").
for scheme in md5 sha256 pbkdf2; do
  d=bundles/enc-$scheme/M_8.0.3.00100_20251012-030000_
  mkdir -p "$d"; meta "$d" true
  for part in config_files database_full_backup; do
    case $scheme in
      md5) openssl enc -aes-256-cbc -md md5 -pass pass:'Vc5a-Backup!2025' -in "$tmp/$part.tar.gz" -out "$d/$part.tar.gz.enc" ;;
      sha256) openssl enc -aes-256-cbc -md sha256 -pass pass:'Vc5a-Backup!2025' -in "$tmp/$part.tar.gz" -out "$d/$part.tar.gz.enc" ;;
      pbkdf2) openssl enc -aes-256-cbc -pbkdf2 -iter 10000 -md sha256 -pass pass:'Vc5a-Backup!2025' -in "$tmp/$part.tar.gz" -out "$d/$part.tar.gz.enc" ;;
    esac
  done
done
printf 'wrong-one\nVc5a-Backup!2025\n' > bundles/backup-passwords.txt

# The plain bundle as one .tar.gz.
(cd bundles/plain/vCenter/sn_vcsa01.lab && tar --sort=name --owner=0 --group=0 --mtime=2025-10-12 -czf ../../../bundle.tar.gz M_8.0.3.00100_20251012-020000_)

# Nothing enumerable: only the encrypted secret table.
d=bundles/opaque/M_7.0.3.01000_20240101-010000_; mkdir -p "$d"; meta "$d" false
printf 'COPY public.vpx_crypto_secret (id, wrapped_secret) FROM stdin;\n1\t\\\\x00112233\n\\.\n' | gzip -n > "$d/database_full_backup.tar.gz"

# A gzip bomb part (300 MiB of zeros, ~300 KiB) and a truncated part.
d=bundles/bomb/M_8.0.3.00100_20251012-040000_; mkdir -p "$d"; meta "$d" false
head -c 314572800 /dev/zero | gzip -n -9 > "$d/database_full_backup.tar.gz"
d=bundles/truncated/M_8.0.3.00100_20251012-050000_; mkdir -p "$d"; meta "$d" false
head -c 300 "$tmp/config_files.tar.gz" > "$d/config_files.tar.gz"
echo "vcsa fixtures written"
