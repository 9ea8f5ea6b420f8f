//! The third-party PKCS#12 corpus (`../shared/corpus/pkcs12-external`, 158 files with
//! OpenSSL's view of each): the walker never panics on any of them, agrees with OpenSSL on MAC
//! and PBE parameters wherever OpenSSL accepts the file, and never calls one an NKP backup.
//! Skipped with a printed reason when the corpus is not present.

#![allow(clippy::print_stdout, clippy::print_stderr)] // tests say why they skip

use std::path::PathBuf;

use nkp_escrow::inspect::{inspect_bytes, InspectOptions};
use nkp_escrow::secret::{Password, PasswordOrigin};
use rayon::prelude::*;
use secrecy::SecretString;
use serde_json::Value;

fn corpus_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/pkcs12-external");
    d.join("manifest.json").exists().then_some(d)
}

#[test]
fn corpus_never_panics_agrees_with_openssl_and_is_never_nkp() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipping corpus test: ../shared/corpus/pkcs12-external not present");
        return;
    };
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.len() >= 150);
    let results: Vec<Result<(), String>> = manifest
        .par_iter()
        .map(|entry| {
            let file = entry["file"].as_str().unwrap();
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let passwords: Vec<Password> = entry["password"]
                .as_str()
                .map(|p| {
                    vec![Password::new(
                        PasswordOrigin::Builtin {
                            label: "corpus".into(),
                        },
                        SecretString::from(p.to_string()),
                    )]
                })
                .unwrap_or_default();
            let report = std::panic::catch_unwind(|| {
                inspect_bytes(file, &bytes, &passwords, &InspectOptions::default())
            })
            .map_err(|_| format!("{file}: PANIC"))?;
            if report.kind == "nkp-backup" {
                return Err(format!("{file}: classified as nkp-backup"));
            }
            let ossl = &entry["openssl"];
            if ossl["accepted"] != true {
                return Ok(());
            }
            let prot = report.protection.as_ref().ok_or_else(|| {
                format!(
                    "{file}: OpenSSL accepts it, we report no protection ({:?})",
                    report.error
                )
            })?;
            if let Some(m) = ossl["mac"].as_object() {
                let ours = prot
                    .mac
                    .as_ref()
                    .ok_or_else(|| format!("{file}: no MAC seen"))?;
                if Some(ours.algorithm.as_str()) != m["algorithm"].as_str()
                    || Some(ours.iterations) != m["iterations"].as_u64()
                {
                    return Err(format!(
                        "{file}: MAC {} x{} vs OpenSSL {} x{}",
                        ours.algorithm, ours.iterations, m["algorithm"], m["iterations"]
                    ));
                }
            }
            let mut theirs: Vec<String> = ossl["pbe"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p["algorithm"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let mut ours: Vec<String> = prot
                .encryption
                .iter()
                .map(|e| e.scheme.description.clone())
                .collect();
            theirs.sort();
            ours.sort();
            if report.error.is_none() {
                if ours != theirs {
                    return Err(format!("{file}: PBE {ours:?} vs OpenSSL {theirs:?}"));
                }
            } else if !ours.iter().all(|o| theirs.contains(o)) {
                return Err(format!(
                    "{file}: PBE {ours:?} not within OpenSSL's {theirs:?} ({:?})",
                    report.error
                ));
            }
            Ok(())
        })
        .collect();
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{:#?}",
        failures.len(),
        failures
    );
}
