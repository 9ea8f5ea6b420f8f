//! `nkp-escrow demo` runs with no arguments, files or network and tells the story it finds.

use assert_cmd::Command;
use predicates::str::contains;

#[test]
fn demo_tells_the_story_of_the_bundled_share() {
    Command::cargo_bin("nkp-escrow")
        .unwrap()
        .current_dir(std::env::temp_dir())
        .args(["--wide", "--format", "table", "demo"])
        .assert()
        .success()
        .stdout(contains(
            "NKP-PROD appears in 2 files with 2 different key_ids",
        ))
        .stdout(contains("KB 311922"))
        .stdout(contains(
            "share/backup-old.p12 holds a KDK with no password",
        ))
        .stdout(contains("RSA-2048 private key"))
        .stdout(contains("7-character password"))
        .stdout(contains("RESTORABLE"))
        .stdout(contains(
            "[embedded-uuid] key_id e8668ae1-6373-44c2-a6fd-af848f23acb9",
        ))
        .stdout(contains("[PASS] vault verified: 6 events, 5 entries"))
        .stdout(contains("NKP-UNCOVERED"))
        .stdout(contains("[FAIL] VCFA-9X-000335"))
        .stdout(contains("[PASS] NIST-CP-4"))
        // Scopes: the second vCenter's NKP-DR is its own provider.
        .stdout(contains("vc02"))
        .stdout(contains("NKP-WEAK-PASSWORD"))
        // No false PASS on a mistyped path.
        .stdout(contains(
            "[NOT-ASSESSED] vcenter-9.native-key-provider-backup",
        ));
}

#[test]
fn demo_json_is_the_inspect_document() {
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["--format", "json", "demo"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tool"], "nkp-escrow");
    assert_eq!(v["inputs"].as_array().unwrap().len(), 6);
    let nkp = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "nkp-backup")
        .count();
    assert_eq!(nkp, 5);
}

/// Issue 12, item 8: every line the demo prints (standard output and error) fits an 80-column
/// terminal, and `TERM=dumb` gets no box-drawing.
#[test]
fn every_line_of_the_demo_fits_80_columns() {
    for (term, columns) in [("xterm-256color", "80"), ("dumb", "80")] {
        let out = Command::cargo_bin("nkp-escrow")
            .unwrap()
            .current_dir(std::env::temp_dir())
            .env("TERM", term)
            .env("COLUMNS", columns)
            .arg("demo")
            .output()
            .unwrap();
        assert!(out.status.success());
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            for line in text.lines() {
                assert!(
                    line.chars().count() <= 80,
                    "{} columns: {line:?}",
                    line.chars().count()
                );
            }
            if term == "dumb" {
                assert!(
                    !text.chars().any(|c| ('\u{2500}'..='\u{257f}').contains(&c)),
                    "box-drawing with TERM=dumb"
                );
                assert!(
                    !text.contains('\u{2026}'),
                    "an ellipsis character with TERM=dumb"
                );
            }
        }
        let text = String::from_utf8_lossy(&out.stdout);
        // Narrowed, not cut: the facts are all there.
        assert!(text.contains("e8668ae1-6373-44c2-a6fd-af848f23acb9"));
        assert!(text.contains("[FAIL] VCFA-9X-000335"));
    }
}
