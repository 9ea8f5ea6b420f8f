//! Scaling of `resolve` and `coverage` (the join in `src/resolve/`), in memory: N VM
//! references over 50 providers against 1,000 vault entries. Prints the time at each N.
//!
//! Usage: cargo run --release --example bench_resolve -- [N...]   (default 10000 100000 1000000)

#![allow(clippy::print_stdout, clippy::print_stderr)]

use nkp_escrow::model::{KeyReference, Source, Subject};
use nkp_escrow::resolve::{coverage, resolve, Backup};

fn uuid(i: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", i as u32, i)
}

fn blob(i: u64) -> String {
    use base64::Engine;
    let mut b = vec![1u8, 0x21, 0, 2, 1, 0];
    b.extend_from_slice(&(i as u32).to_be_bytes());
    b.extend_from_slice(&[0, 0, 0x40, 0, 0x80, 0, 0, 0]);
    b.extend_from_slice(&i.to_be_bytes()[2..]);
    b.truncate(22);
    b.push(1);
    b.extend([8, 0, 12, 0, 16, 0, 32, 0, 4, 0]);
    b.extend(b"AES-256\0");
    b.extend([9u8; 64]);
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn main() {
    let sizes: Vec<usize> = {
        let a: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|s| s.parse().ok())
            .collect();
        if a.is_empty() {
            vec![10_000, 100_000, 1_000_000]
        } else {
            a
        }
    };
    let providers = 50u64;
    let backups: Vec<Backup> = (0..1000u64)
        .map(|i| Backup {
            source: format!("vault:{i:012x}"),
            kind: "vault",
            provider: Some(format!("NKP-{}", i % providers)),
            key_id: Some(uuid(i % (providers * 2))),
            export_time: Some("2025-01-01T00:00:00Z".into()),
            verdict: "strong".into(),
            password: None,
            // Copies of one key_id hold one KDK (several copies, no conflict).
            kdk_fingerprint: format!("sha256:{:064x}", i % (providers * 2)),
            last_drill: None,
            kdk_bits: Some(256),
            weak_password: None,
            password_assessed: true,
            tpm_required: Some(false),
        })
        .collect();
    for n in sizes {
        let mut refs: Vec<KeyReference> = (0..providers)
            .map(|p| KeyReference {
                scope: nkp_escrow::evidence::default_scope(),
                sources: vec![Source {
                    path: "kms.ls.json".into(),
                    line: Some(1),
                    kind: "govc",
                }],
                subject: Subject {
                    kind: "provider",
                    name: format!("NKP-{p}"),
                },
                provider: Some(format!("NKP-{p}")),
                provider_key_id: Some(uuid(p)),
                key: None,
                host: None,
                state: nkp_escrow::evidence::State::ProviderKnown,
                details: Vec::new(),
            })
            .collect();
        refs.extend((0..n as u64).map(|i| KeyReference {
            scope: nkp_escrow::evidence::default_scope(),
            sources: vec![Source {
                path: format!("ds/vm-{i}/vm-{i}.vmx"),
                line: Some(11),
                kind: "vmx",
            }],
            subject: Subject {
                kind: "vm",
                name: format!("vm-{i}"),
            },
            provider: Some(format!("NKP-{}", i % providers)),
            provider_key_id: None,
            key: Some(blob(i % (providers * 3))),
            host: None,
            state: nkp_escrow::evidence::State::NeedsKey,
            details: Vec::new(),
        }));
        let t = std::time::Instant::now();
        let v = resolve(&refs, &backups, &Default::default(), &Default::default());
        let tr = t.elapsed();
        let t = std::time::Instant::now();
        let c = coverage(&refs, &backups, &[], time::OffsetDateTime::now_utc());
        let tc = t.elapsed();
        let restorable = v
            .iter()
            .filter(|s| s.verdict == nkp_escrow::resolve::Verdict::Restorable)
            .count();
        println!(
            "{n:>9} VM references x {} backups: resolve {:>8.3} s ({} subjects, {restorable} restorable), coverage {:>8.3} s ({} providers), {:.2} us/reference",
            backups.len(),
            tr.as_secs_f64(),
            v.len(),
            tc.as_secs_f64(),
            c.providers.len(),
            (tr + tc).as_secs_f64() * 1e6 / n as f64
        );
    }
}
