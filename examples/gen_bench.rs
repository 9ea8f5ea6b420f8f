//! Writes the benchmark corpus for `bench/inspect.sh`:
//! - `<dir>/p12/`: N password-protected NKP backups (PBES2 AES-256, PBKDF2-HMAC-SHA256,
//!   2048 iterations, SHA-256 MAC), each with its own provider, key and salts;
//! - `<dir>/other/`: M files that are not PKCS#12 (text, JSON, random binary).
//!
//! Usage: cargo run --release --example gen_bench -- <dir> <N> <M>

#![allow(clippy::print_stdout, clippy::print_stderr)]

use nkp_pkcs12::write::{strong, Builder, Content};

/// The password of every generated backup (bench/inspect.sh writes it to a password file).
pub const PASSWORD: &str = "Bench!Escrow-Pass#2048";

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("dir"));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let m: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let p12 = dir.join("p12");
    let other = dir.join("other");
    std::fs::create_dir_all(&p12).expect("mkdir");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(dir.join("passwords.txt"), format!("{PASSWORD}\n")).expect("write");
    for i in 0..n {
        let kdk: Vec<u8> =
            <sha2::Sha256 as sha2::Digest>::digest(format!("bench {i}").as_bytes()).to_vec();
        let meta = format!(
            "{{\"provider\":\"NKP-BENCH-{i}\",\"key_id\":\"00000000-0000-4000-8000-{i:012}\",\"export_time\":\"2026-01-01T00:00:00Z\",\"tpm_required\":false}}"
        );
        let mut b = Builder::new(strong(PASSWORD, 2048))
            .bag(
                Content::SecretRaw(kdk),
                Some(&format!("NKP-BENCH-{i}")),
                Some(b"k1"),
            )
            .bag(Content::SecretJson(meta), None, Some(b"k1"));
        b.seed = 10_000 + i as u64;
        std::fs::write(p12.join(format!("nkp-{i:05}.p12")), b.build()).expect("write");
    }
    for i in 0..m {
        let body: Vec<u8> = match i % 3 {
            0 => format!("host-{i}.lab some notes about NKP exports\n")
                .repeat(20)
                .into_bytes(),
            1 => format!("{{\"provider\":\"NKP\",\"n\":{i}}}").into_bytes(),
            _ => <sha2::Sha256 as sha2::Digest>::digest(i.to_le_bytes()).repeat(32),
        };
        std::fs::write(other.join(format!("file-{i:05}.dat")), body).expect("write");
    }
}
