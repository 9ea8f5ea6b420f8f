//! vCenter file-based backup bundles (testdata/vcsa, made by testdata/vcsa/generate.sh): plain,
//! encrypted with each scheme, tarred, with providers in a dump and an embedded .p12, with
//! nothing enumerable; a gzip bomb and a truncated part refused cleanly and fast.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use proptest::prelude::*;
use serde_json::Value;

fn b(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/vcsa/bundles")
        .join(p)
}

fn inspect(paths: &[PathBuf], pw: bool) -> (Value, i32) {
    let mut c = Command::cargo_bin("nkp-escrow").unwrap();
    c.args(["--format", "json", "inspect", "--no-prompt"])
        .args(paths);
    if pw {
        c.arg("--password-file").arg(b("backup-passwords.txt"));
        c.arg("--password-file")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share/passwords.txt"));
    }
    let out = c.output().unwrap();
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

fn providers(i: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = i["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["key_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

const EXPECTED: &[(&str, &str)] = &[
    ("NKP-DR", "0d57d51a-961d-4208-91f8-44ff9c40e7ba"),
    ("NKP-PROD", "648c5a1b-03c6-4694-a11c-89a63cc86f4f"),
    ("NKP-VDI", "71a8c0a3-55fa-4fc4-8190-f9dacec6c783"),
];

fn expected() -> Vec<(String, String)> {
    EXPECTED
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn plain_folder_tree_and_tarball_give_every_provider() {
    // The tree (vCenter/sn_<fqdn>/M_...) and the .tar.gz of the same folder.
    let (out, code) = inspect(&[b("plain"), b("bundle.tar.gz")], true);
    assert_eq!(code, 0, "{out:#}");
    for i in out["inputs"].as_array().unwrap() {
        assert_eq!(i["type"], "vcsa-backup");
        assert_eq!(providers(i), expected(), "{}", i["path"]);
        let v = &i["vcsa"];
        assert_eq!(v["folder_version"], "8.0.3.00100");
        assert_eq!(v["folder_timestamp"], "20251012-020000");
        assert_eq!(v["metadata"]["SystemName"], "vcsa01.lab");
        assert_eq!(
            v["metadata"]["UnknownFutureField"]["x"], 1,
            "unknown fields kept"
        );
        // The embedded .p12 gives a fingerprint; dump/ConfigStore providers have none.
        for p in i["providers"].as_array().unwrap() {
            assert_eq!(
                p["kdk_fingerprint"].is_string(),
                p["name"] == "NKP-DR",
                "{p:#}"
            );
        }
        let notes = i["notes"].to_string();
        assert!(
            notes.contains("NKP data present, not enumerable"),
            "{notes}"
        );
    }
}

#[test]
fn each_encryption_scheme_decrypts_and_is_named() {
    for (dir, scheme) in [
        ("enc-md5", "EVP_BytesToKey MD5"),
        ("enc-sha256", "EVP_BytesToKey SHA-256"),
        ("enc-pbkdf2", "PBKDF2-HMAC-SHA256 10000"),
    ] {
        let (out, code) = inspect(&[b(dir)], true);
        assert_eq!(code, 0, "{dir}: {out:#}");
        let i = &out["inputs"][0];
        assert_eq!(providers(i), expected(), "{dir}");
        for p in i["vcsa"]["parts"].as_array().unwrap() {
            assert_eq!(p["encrypted"], true);
            assert!(
                p["scheme"].as_str().unwrap().contains(scheme),
                "{dir}: {p:#}"
            );
            assert!(
                p["scheme"].as_str().unwrap().contains("line 2"),
                "the right password line"
            );
        }
    }
    let (out, code) = inspect(&[b("enc-md5")], false);
    assert_eq!(code, 1);
    assert_eq!(out["inputs"][0]["error"]["code"], "password-required");
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("pw"), "not-it\n").unwrap();
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["--format", "json", "inspect"])
        .arg(b("enc-sha256"))
        .arg("--password-file")
        .arg(d.path().join("pw"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["inputs"][0]["error"]["code"], "wrong-password");
}

#[test]
fn bomb_and_truncated_parts_are_refused_cleanly_and_fast() {
    let t = std::time::Instant::now();
    let (out, code) = inspect(&[b("bomb"), b("truncated")], false);
    assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());
    assert_eq!(code, 1);
    let i = out["inputs"].as_array().unwrap();
    assert_eq!(i[0]["error"]["code"], "limits-exceeded");
    assert_eq!(i[1]["error"]["code"], "truncated");
    assert!(i[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("config_files"));
}

#[test]
fn nothing_enumerable_is_said_so() {
    let (out, code) = inspect(&[b("opaque")], false);
    assert_eq!(code, 0);
    let i = &out["inputs"][0];
    assert!(i["providers"].as_array().unwrap().is_empty());
    assert!(i["notes"].to_string().contains("not enumerable"));
}

#[test]
fn coverage_counts_a_bundle_as_a_backup_of_each_provider() {
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["--format", "json", "coverage", "--evidence"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/evidence"))
        .arg("--backups")
        .arg(b("enc-pbkdf2"))
        .arg("--password-file")
        .arg(b("backup-passwords.txt"))
        .output()
        .unwrap();
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    let prod = c["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "NKP-PROD")
        .unwrap();
    assert_eq!(prod["status"], "covered", "{prod:#}");
    assert!(prod["backups"][0]["source"]
        .as_str()
        .unwrap()
        .contains("enc-pbkdf2"));
    // A bundle names providers without holding KDK bytes: their size is unknown, not 0 bits
    // (coverage once said "holds a 0-bit KDK").
    let findings = c["findings"].to_string();
    assert!(
        !findings.contains("NKP-KDK-SIZE") && !findings.contains("0-bit"),
        "{findings}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_parts_never_panic(part in proptest::collection::vec(any::<u8>(), 0..4096), gz in any::<bool>()) {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("M_1_20250101-000000_");
        std::fs::create_dir(&m).unwrap();
        std::fs::write(m.join("backup-metadata.json"), "{}").unwrap();
        let mut bytes = part;
        if gz {
            bytes.splice(0..0, [0x1f, 0x8b, 8, 0]);
        }
        std::fs::write(m.join("part.tar.gz"), bytes).unwrap();
        let r = nkp_escrow::inspect::inspect_file(&m, &[], &nkp_escrow::inspect::InspectOptions::default());
        prop_assert_eq!(r.kind, "vcsa-backup");
    }
}
