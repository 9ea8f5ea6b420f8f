//! Issue 12, item 14: the break-glass restore in the README, run as written with `age`, `jq`,
//! `base64` and `sha256sum` only, restores a vault entry byte-identically, also after a rekey
//! moved it. Skips, saying why, where those tools are missing.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use secrecy::ExposeSecret;

fn td(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok()
}

/// The shell block between the break-glass markers of the README.
fn procedure() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let start = readme
        .find("<!-- break-glass:begin -->")
        .expect("begin marker");
    let end = readme.find("<!-- break-glass:end -->").expect("end marker");
    let block = &readme[start..end];
    let code_start = block.find("```sh\n").expect("sh block") + 6;
    let code_end = block[code_start..].find("```").expect("end of block") + code_start;
    block[code_start..code_end].to_string()
}

#[test]
fn the_readme_break_glass_restore_works_with_age_jq_and_base64() {
    let missing: Vec<&str> = ["age", "jq", "base64", "sha256sum", "bash"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        eprintln!("skipped: {} not installed", missing.join(", "));
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let nkp = || Command::cargo_bin("nkp-escrow").expect("binary");
    let identity = |name: &str| {
        let id = age::x25519::Identity::generate();
        let p = d.path().join(name);
        std::fs::write(&p, format!("{}\n", id.to_string().expose_secret())).expect("id");
        (p, id.to_public().to_string())
    };
    let (old_key, old_r) = identity("old.age");
    let (key, r) = identity("custodian.age");
    let v = d.path().join("vault");
    nkp()
        .args(["-q", "vault", "init", "--vault"])
        .arg(&v)
        .arg("--recipient")
        .arg(&old_r)
        .assert()
        .success();
    let p12 = td("estate/share/NKP-PROD (1).p12");
    let o = nkp()
        .args(["--format", "json", "vault", "add", "--no-prompt", "--vault"])
        .arg(&v)
        .arg(&p12)
        .arg("--password-file")
        .arg(td("estate/share/passwords.txt"))
        .output()
        .expect("add");
    let added: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let entry = added["added"][0]["entry"]
        .as_str()
        .expect("entry")
        .to_string();
    // A rekey moves the entry to a new object: the procedure must find that one.
    nkp()
        .args(["-q", "vault", "rekey", "--yes", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&old_key)
        .arg("--recipient")
        .arg(&r)
        .assert()
        .success();
    let work = d.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let run = || {
        std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &procedure()])
            .current_dir(&work)
            .env("V", &v)
            .env("ENTRY", &entry)
            .env("KEY", &key)
            .output()
            .expect("bash")
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(work.join("restored.p12")).expect("p12"),
        std::fs::read(&p12).expect("original"),
        "byte-identical"
    );
    let first_line = std::fs::read_to_string(td("estate/share/passwords.txt"))
        .expect("pw")
        .lines()
        .next()
        .expect("line")
        .to_string();
    assert_eq!(
        std::fs::read_to_string(work.join("restored.pw")).expect("pw"),
        first_line
    );
    // A changed object is refused before it is decrypted.
    let obj = std::fs::read_dir(v.join("objects"))
        .expect("objects")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "age"))
        .expect("an object");
    let mut bytes = std::fs::read(&obj).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&obj, bytes).expect("write");
    let out = run();
    assert!(!out.status.success());
}
