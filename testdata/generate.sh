#!/usr/bin/env bash
# Regenerates every fixture under testdata/. See testdata/README.md for what each file is.
#  1. our own writer (deterministic): cargo run --release --example gen_fixtures
#  2. a real JDK (java MakeNkp.java): AES SecretKeyEntry keystores, default and legacy algorithms
#  3. OpenSSL: a TLS certificate + RSA key (not an NKP backup), and a Camellia-encrypted one
# Steps 2 and 3 are skipped with a message when java / openssl are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release --example gen_fixtures -- testdata

ext=testdata/p12/external
mkdir -p "$ext"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

if command -v java >/dev/null; then
  k1=$(printf 'nkp-escrow java fixture 1' | sha256sum | cut -c1-64)
  k2=$(printf 'nkp-escrow java fixture 2' | sha256sum | cut -c1-32)
  k3=$(printf 'nkp-escrow java lab' | sha256sum | cut -c1-64)
  {
    echo "["
    printf '{"file": "java-secretkey-default.p12", "type": "nkp-backup", "verdict": "strong", "password_protected": true, "password_line": 1, "providers": [%s]},\n' \
      "$(java testdata/java/MakeNkp.java "$ext/java-secretkey-default.p12" 'Java-Default!2026-escrow' nkp-java "$k1")"
    printf '{"file": "java-secretkey-legacy.p12", "type": "nkp-backup", "verdict": "weak", "password_protected": true, "password_line": 2, "providers": [%s]}\n' \
      "$(java -Dkeystore.pkcs12.legacy testdata/java/MakeNkp.java "$ext/java-secretkey-legacy.p12" 'java-legacy' nkp-java-legacy "$k2")"
    echo "]"
  } > "$ext/expected-java.json"
  java testdata/java/MakeNkp.java "testdata/estate/share/NKP-LAB.p12" 'Lab-Java-Keystore!2026' nkp-lab "$k3" > testdata/estate/share/NKP-LAB.expected.json
  printf 'Java-Default!2026-escrow\njava-legacy\n' > "$ext/passwords.txt"
else
  echo "java not found: JDK fixtures not regenerated" >&2
fi

if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" \
    -subj "/CN=vcsa01.lab" -days 3650 2>/dev/null
  openssl pkcs12 -export -inkey "$tmp/k.pem" -in "$tmp/c.pem" -name vcsa01-machine-ssl \
    -passout pass:tls-export-pass -keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256 -iter 2048 \
    -out testdata/estate/share/vcsa01-machine-ssl.p12
  cp testdata/estate/share/vcsa01-machine-ssl.p12 testdata/p12/negative/tls-cert-and-key.p12
  openssl pkcs12 -export -inkey "$tmp/k.pem" -in "$tmp/c.pem" -name camellia \
    -passout pass:tls-export-pass -keypbe CAMELLIA-256-CBC -certpbe CAMELLIA-256-CBC -iter 2048 \
    -out testdata/p12/negative/camellia-encrypted.p12
else
  echo "openssl not found: OpenSSL fixtures not regenerated" >&2
fi
echo "fixtures written"
