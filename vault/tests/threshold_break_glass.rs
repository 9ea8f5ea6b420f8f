//! Issue 13 (part): the k-of-n break-glass procedure in vault/README.md, run as written with
//! `age`, `ssss-combine`, `jq` and `base64`, restores the `.p12` byte-identically from any two
//! of three custodians, and one custodian alone cannot. Skips, saying why, where a tool is missing.

#![allow(clippy::print_stderr)]

use std::path::Path;

use base64::Engine as _;
use nkp_vault::crypto::RecipientSpec;
use secrecy::ExposeSecret;

fn have(tool: &str, arg: &str) -> bool {
    std::process::Command::new(tool)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

fn procedure() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let start = readme
        .find("<!-- kofn-break-glass:begin -->")
        .expect("begin");
    let end = readme.find("<!-- kofn-break-glass:end -->").expect("end");
    let block = &readme[start..end];
    let from = block.find("```sh\n").expect("block") + 6;
    let to = block[from..].find("```").expect("end of block") + from;
    block[from..to].to_string()
}

#[test]
fn two_custodians_restore_with_age_ssss_jq_and_base64() {
    let missing: Vec<&str> = [
        ("age", "--version"),
        ("ssss-combine", "-v"),
        ("jq", "--version"),
        ("base64", "--version"),
        ("bash", "--version"),
    ]
    .into_iter()
    .filter(|(t, a)| !have(t, a))
    .map(|(t, _)| t)
    .collect();
    if !missing.is_empty() {
        eprintln!("skipped: {} not installed", missing.join(", "));
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let mut specs = Vec::new();
    let mut keys = Vec::new();
    for name in ["a", "b", "c"] {
        let id = age::x25519::Identity::generate();
        let path = d.path().join(format!("{name}.key"));
        std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).expect("key");
        specs.push(RecipientSpec {
            label: name.into(),
            recipient: id.to_public().to_string(),
        });
        keys.push(path);
    }
    let p12: Vec<u8> = (0u8..=255).cycle().take(1500).collect();
    let envelope = serde_json::json!({
        "format": "nkp-escrow-envelope/1",
        "p12_base64": base64::engine::general_purpose::STANDARD.encode(&p12),
        "password": "pw",
        "metadata": {}
    })
    .to_string();
    let obj = d.path().join("object.json");
    std::fs::write(
        &obj,
        nkp_vault::threshold::seal(envelope.as_bytes(), &specs, 2).expect("seal"),
    )
    .expect("write");
    let run = |which: &[usize]| {
        let work = tempfile::tempdir().expect("work");
        let list: Vec<String> = which
            .iter()
            .map(|&i| keys[i].display().to_string())
            .collect();
        let o = std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &procedure()])
            .current_dir(work.path())
            .env("OBJ", &obj)
            .env("KEYS", list.join(" "))
            .output()
            .expect("bash");
        let restored = std::fs::read(work.path().join("restored.p12")).unwrap_or_default();
        (o.status.success(), restored)
    };
    for pair in [[0, 1], [1, 2], [2, 0]] {
        let (ok, restored) = run(&pair);
        assert!(ok, "custodians {pair:?}");
        assert_eq!(restored, p12, "byte-identical from custodians {pair:?}");
    }
    let (ok, restored) = run(&[1]);
    assert!(
        !ok || restored != p12,
        "one custodian alone must not restore"
    );
}
