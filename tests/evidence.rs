//! `evidence` end to end over testdata/evidence (hand-written in the shapes of published
//! outputs: see testdata/README.md), plus robustness and secret handling.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use nkp_escrow::evidence::keysafe::{escape, KeySafe};
use nkp_escrow::evidence::{from_text, scan::FileHint, Collector};
use proptest::prelude::*;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/evidence")
}

fn evidence(args: &[&str]) -> (Value, i32) {
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["--format", "json", "evidence"])
        .args(args)
        .output()
        .unwrap();
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn every_reference_of_the_sample_estate_with_subject_provider_key_and_sources() {
    let root = dir();
    let (out, code) = evidence(&[root.to_str().unwrap()]);
    assert_eq!(code, 0);
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root.join("expected.json")).unwrap())
            .unwrap();
    let got = out["references"].as_array().unwrap();
    assert_eq!(got.len(), expected.len(), "{out:#}");
    let prefix = format!("{}/", root.display());
    for e in &expected {
        let subject = (
            e["subject"][0].as_str().unwrap(),
            e["subject"][1].as_str().unwrap(),
        );
        let g = got
            .iter()
            .find(|g| {
                g["subject"]["kind"] == subject.0
                    && g["subject"]["name"] == subject.1
                    && g["state"] == e["state"]
                    && g["provider_key_id"] == e["provider_key_id"]
            })
            .unwrap_or_else(|| panic!("missing {subject:?} {}", e["state"]));
        for f in ["provider", "provider_key_id", "embedded_uuid"] {
            assert_eq!(g[f], e[f], "{subject:?}: {f}");
        }
        let sources: Vec<Value> = g["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                serde_json::json!([
                    s["path"].as_str().unwrap().strip_prefix(&prefix).unwrap(),
                    s["line"],
                    s["kind"]
                ])
            })
            .collect();
        assert_eq!(Value::Array(sources), e["sources"], "{subject:?}: sources");
        assert_eq!(g["source"], g["sources"][0]);
        if e["embedded_uuid"].is_string() {
            assert_eq!(g["key_form"]["form"], "nkp-blob");
            assert_eq!(g["key_form"]["algorithm"], "AES-256");
        }
    }
    assert_eq!(out["skipped"]["binary"], 2);
    // notes.txt, vmware.log and expected.json itself.
    assert_eq!(out["skipped"]["unrelated"], 3);
}

#[test]
fn a_clear_key_derivation_key_is_never_output() {
    let d = tempfile::tempdir().unwrap();
    let kdk = "c2VjcmV0LWtkay1ieXRlcy0xMjM0NTY3ODkwMTIzNDU2Nzg5MA==";
    std::fs::write(
        d.path().join("configstore-export.json"),
        format!(
            r#"[{{"native_provider": {{"key_derivation_key": "{kdk}", "key_id": "4b7e9f10-2c3d-4a5b-9c8d-7e6f5a4b3c2d"}}, "provider": "NKP-X", "type": "NATIVE"}}]"#
        ),
    )
    .unwrap();
    for format in ["json", "yaml", "table"] {
        let out = Command::cargo_bin("nkp-escrow")
            .unwrap()
            .args(["--wide", "--format", format, "evidence"])
            .arg(d.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("4b7e9f10-2c3d-4a5b-9c8d-7e6f5a4b3c2d"),
            "{text}"
        );
        assert!(!text.contains(kdk), "{format} output contains the KDK");
        assert!(
            !text.contains("c2VjcmV0"),
            "{format} output contains part of the KDK"
        );
    }
}

#[test]
fn unreadable_input_is_exit_1_and_others_still_reported() {
    let root = dir();
    let (out, code) = evidence(&[
        root.join("datastore1/db01").to_str().unwrap(),
        "/nonexistent/path/x.vmx",
    ]);
    assert_eq!(code, 1);
    assert_eq!(out["references"][0]["subject"]["name"], "db01");
}

/// Random key locators, printed in VMware's escaped form.
fn locator(depth: u32) -> BoxedStrategy<String> {
    let atom = proptest::collection::vec(any::<u8>(), 0..12).prop_map(|b| escape(&b));
    let special = prop_oneof![
        atom.clone(),
        Just("<VMWARE-NULL>".to_string()),
        Just("<VMWARE-EMPTYSTRING>".to_string())
    ];
    let leaf = prop_oneof![
        (prop_oneof![Just("null"), Just("NULL")], atom.clone())
            .prop_map(|(k, a)| format!("{k}/{a}")),
        atom.clone().prop_map(|a| format!("rawkey/{a}")),
        (special.clone(), atom.clone()).prop_map(|(u, a)| format!("phrase/{u}/{a}")),
        (special.clone(), special.clone(), atom.clone())
            .prop_map(|(u, s, k)| format!("fqid/{u}/{s}/{k}")),
        (special.clone(), atom.clone()).prop_map(|(u, r)| format!("role/{u}/{r}")),
        (special.clone(), atom.clone(), atom.clone())
            .prop_map(|(u, p, s)| format!("script/{u}/{p}/{s}")),
        (special, atom.clone(), atom.clone(), atom.clone())
            .prop_map(|(u, s, d, p)| format!("ldap/{u}/{s}/{d}/389/true/{p}")),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let inner = locator(depth - 1);
    prop_oneof![
        leaf,
        proptest::collection::vec(inner.clone(), 0..4)
            .prop_map(|v| format!("list/({})", v.join(","))),
        (inner, atom.clone(), atom).prop_map(|(l, m, d)| format!("pair/({l},{m},{d})")),
    ]
    .boxed()
}

proptest! {
    #[test]
    fn keysafe_round_trips_byte_identically(loc in locator(3), upper in any::<bool>()) {
        let prefix = if upper { "VMware:KEY" } else { "vmware:key" };
        let s = format!("{prefix}/{loc}");
        let ks = KeySafe::parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(ks.to_string(), s);
    }

    #[test]
    fn keysafe_never_panics_on_arbitrary_text(s in ".{0,200}", tail in "[a-z/(),%<>A-Z-]{0,80}") {
        let _ = KeySafe::parse(&s);
        let _ = KeySafe::parse(&format!("vmware:key/{tail}"));
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(s in "(.|\n){0,600}", sel in 0..6u8) {
        let seeds = ["[root@h:~] crypto-util keys getkidbyname \"HostKey\"\n", "id|dns_name|crypto_key_id\n", "-[ RECORD 1 ]--\n", "{\"info\":[{\"clusterId\":{}}]}\n", "displayName = \"|", "encryption.keySafe = \"vmware:key/list/("];
        let text = format!("{}{s}", seeds[sel as usize]);
        let mut c = Collector::new("arbitrary");
        from_text(&text, Path::new("x.vmx"), FileHint::Vmx, &mut c);
    }
}

#[test]
fn older_govc_capitalised_json_is_read_the_same() {
    let blob = "ASEAAgEAmx1+VSIiTDuNngAAAAAAAgEIAAwAEAAgAAQAQUVTLTI1NgBBAwxptxgKteH8DTryiLW4/A64rIBcNNJIB2uvfodtk0EDDGm3GAq14fwNOvKItbj8DrisgFw00kgHa6+ghgEA";
    let json = format!(
        r#"{{"VirtualMachines":[{{"Self":{{"Type":"VirtualMachine","Value":"vm-7"}},"Name":"old-vm","Config":{{"Name":"old-vm","KeyId":{{"KeyId":"{blob}","ProviderId":{{"Id":"NKP-OLD"}}}},"Hardware":{{"Device":[{{"Key":2000,"Backing":{{"FileName":"[ds1] old-vm/old-vm.vmdk","KeyId":{{"KeyId":"{blob}","ProviderId":{{"Id":"NKP-OLD"}}}}}}}}]}}}}}}]}}"#
    );
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("vm.info.json"), json).unwrap();
    let (out, code) = evidence(&[d.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    let refs = out["references"].as_array().unwrap();
    assert_eq!(refs.len(), 2, "{out:#}");
    let names: Vec<(&str, &str)> = refs
        .iter()
        .map(|r| {
            (
                r["subject"]["kind"].as_str().unwrap(),
                r["subject"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(names.contains(&("vm", "old-vm")));
    assert!(names.contains(&("disk", "old-vm/old-vm.vmdk")));
    for r in refs {
        assert_eq!(r["provider"], "NKP-OLD");
        assert_eq!(r["embedded_uuid"], "9b1d7e55-2222-4c3b-8d9e-000000000002");
        assert_eq!(r["source"]["kind"], "govc");
    }
}

#[test]
fn non_ascii_keys_render_without_splitting_characters() {
    let d = tempfile::tempdir().unwrap();
    let key = "é".repeat(30);
    std::fs::write(
        d.path().join("x.vmx"),
        format!("displayName = \"ü-vm\"\nencryption.keySafe = \"vmware:key/fqid/<VMWARE-NULL>/NKP/{key}\"\n"),
    )
    .unwrap();
    for f in ["table", "json", "yaml"] {
        Command::cargo_bin("nkp-escrow")
            .unwrap()
            .args(["--format", f, "evidence"])
            .arg(d.path())
            .assert()
            .success();
    }
}

/// Inputs that used to cost quadratic time: many JSON documents (one per line) and a psql
/// header followed by thousands of lines without `|`. Linear now.
#[test]
fn many_json_lines_and_unclosed_psql_rows_stay_linear() {
    let d = tempfile::tempdir().unwrap();
    let mut json = String::new();
    for i in 0..20_000 {
        json.push_str(&format!("{{\"keyId\":\"k{i}\",\"n\":{i}}}\n"));
    }
    json.push_str(r#"{"KeyId":"c5a1b2c3-d4e5-4f60-8a9b-0c1d2e3f4a5b","ProviderId":{"Id":"NKP-J"},"Name":"last-vm"}"#);
    json.push('\n');
    std::fs::write(d.path().join("lines.json"), json).unwrap();
    let mut psql: String = (0..300).map(|i| format!("c{i}|")).collect();
    psql.push_str("crypto_key_id\n");
    for _ in 0..20_000 {
        psql.push_str(&"x".repeat(60));
        psql.push('\n');
    }
    std::fs::write(d.path().join("vpx_host.txt"), psql).unwrap();
    let t = std::time::Instant::now();
    let (out, code) = evidence(&[d.path().to_str().unwrap()]);
    assert!(t.elapsed().as_secs() < 30, "took {:?}", t.elapsed());
    assert_eq!(code, 0);
    // The document after 20,000 others is still read.
    assert!(out["references"].to_string().contains("last-vm"), "{out:#}");
}
