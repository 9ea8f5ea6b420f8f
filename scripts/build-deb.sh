#!/usr/bin/env bash
# Build the Debian package with cargo-deb (`cargo install cargo-deb`): the release binary, a man
# page per command and the bash, zsh and fish completions, all generated from the binary itself.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
bin=target/release/nkp-escrow
rm -rf target/release/man target/release/completions
"$bin" -q man target/release/man
mkdir -p target/release/completions
"$bin" completions bash > target/release/completions/nkp-escrow
"$bin" completions zsh > target/release/completions/_nkp-escrow
"$bin" completions fish > target/release/completions/nkp-escrow.fish
cargo deb --no-build --locked "$@"
