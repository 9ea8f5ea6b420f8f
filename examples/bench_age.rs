//! Encrypts every file in a folder to one age recipient in-process, the way the vault encrypts
//! objects, and prints files/s and MB/s (for `bench/vault.sh`).
//!
//! Usage: cargo run --release --example bench_age -- <dir> <age1 recipient>

#![allow(clippy::print_stdout, clippy::print_stderr)]

use nkp_vault::crypto::{encrypt, Encryption};
use nkp_vault::RecipientSpec;

fn main() {
    let mut a = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(a.next().expect("dir"));
    let recipient = a.next().expect("recipient");
    let spec = [RecipientSpec {
        label: "bench".into(),
        recipient,
    }];
    let mut payloads = Vec::new();
    for e in std::fs::read_dir(&dir).expect("read dir") {
        let p = e.expect("entry").path();
        payloads.push(std::fs::read(&p).expect("read"));
    }
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    let t = std::time::Instant::now();
    let mut out = 0usize;
    for p in &payloads {
        out += encrypt(&Encryption::Recipients(&spec), p)
            .expect("encrypt")
            .len();
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{} payloads, {:.1} MB in, {:.1} MB out: {:.3} s, {:.0} files/s, {:.1} MB/s",
        payloads.len(),
        bytes as f64 / 1e6,
        out as f64 / 1e6,
        s,
        payloads.len() as f64 / s,
        bytes as f64 / 1e6 / s
    );
}
