//! Issue 12, item 9: standard input and text encodings. `evidence -` and `inspect -` read
//! standard input; UTF-16 (PowerShell 5.1's `>`) and UTF-8 with a BOM are decoded; password files
//! with a BOM work; a `.p12` that arrives armored (PEM, certutil -encode, bare base64) is
//! unwrapped and said so; `vault add` takes folders and `-`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use secrecy::ExposeSecret;
use serde_json::Value;

fn nkp() -> Command {
    Command::cargo_bin("nkp-escrow").expect("binary")
}

fn td(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Subject, provider and key of each reference: what must not depend on how the text came.
fn refs(v: &Value) -> Vec<(String, String, String)> {
    let mut r: Vec<_> = v["references"]
        .as_array()
        .expect("references")
        .iter()
        .map(|r| {
            (
                r["subject"]["name"].as_str().unwrap_or("").to_string(),
                r["provider"].as_str().unwrap_or("").to_string(),
                r["key"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    r.sort();
    r
}

fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut b = vec![0xff, 0xfe];
    for u in text.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    b
}

#[test]
fn a_pasted_ticket_on_stdin_gives_the_same_references_as_the_file() {
    let ticket = td("evidence/tickets/INC0042-esxi51.txt");
    let from_file = json(
        &nkp()
            .args(["--format", "json", "evidence"])
            .arg(&ticket)
            .output()
            .expect("run"),
    );
    let o = nkp()
        .args(["--format", "json", "evidence", "-"])
        .write_stdin(std::fs::read(&ticket).expect("ticket"))
        .output()
        .expect("run");
    assert!(o.status.success());
    let from_stdin = json(&o);
    assert!(!refs(&from_file).is_empty());
    assert_eq!(refs(&from_file), refs(&from_stdin));
    assert_eq!(
        from_stdin["references"][0]["source"]["path"],
        "(standard input)"
    );
}

#[test]
fn utf16_and_bom_exports_give_their_vms() {
    let d = tempfile::tempdir().expect("tempdir");
    let original = std::fs::read_to_string(td("evidence/api/powercli-vms.json")).expect("json");
    std::fs::write(d.path().join("utf16.json"), utf16le_bom(&original)).expect("write");
    let mut bom8 = b"\xef\xbb\xbf".to_vec();
    bom8.extend_from_slice(original.as_bytes());
    let plain = json(
        &nkp()
            .args(["--format", "json", "evidence"])
            .arg(td("evidence/api/powercli-vms.json"))
            .output()
            .expect("run"),
    );
    assert!(!refs(&plain).is_empty(), "the export names VMs");
    let u16 = json(
        &nkp()
            .args(["--format", "json", "evidence"])
            .arg(d.path().join("utf16.json"))
            .output()
            .expect("run"),
    );
    assert_eq!(refs(&plain), refs(&u16), "UTF-16 LE with BOM");
    let o = nkp()
        .args(["--format", "json", "evidence", "-"])
        .write_stdin(bom8)
        .output()
        .expect("run");
    assert_eq!(refs(&plain), refs(&json(&o)), "UTF-8 with BOM on stdin");
}

#[test]
fn password_files_with_a_bom_work() {
    let d = tempfile::tempdir().expect("tempdir");
    let pw = std::fs::read_to_string(td("estate/share/passwords.txt")).expect("pw");
    let p8 = d.path().join("pw-utf8bom.txt");
    let mut b = b"\xef\xbb\xbf".to_vec();
    b.extend_from_slice(pw.replace('\n', "\r\n").as_bytes());
    std::fs::write(&p8, b).expect("write");
    let p16 = d.path().join("pw-utf16.txt");
    std::fs::write(&p16, utf16le_bom(&pw.replace('\n', "\r\n"))).expect("write");
    for f in [&p8, &p16] {
        let o = nkp()
            .args(["--format", "json", "inspect", "--no-prompt"])
            .arg(td("estate/share/NKP-PROD.p12"))
            .arg("--password-file")
            .arg(f)
            .output()
            .expect("run");
        let v = json(&o);
        assert_eq!(
            v["inputs"][0]["error"],
            Value::Null,
            "{}: {v:#}",
            f.display()
        );
        assert_eq!(v["inputs"][0]["providers"][0]["name"], "NKP-PROD");
    }
}

#[test]
fn armored_p12_is_unwrapped_and_said_so_from_a_file_and_from_stdin() {
    let d = tempfile::tempdir().expect("tempdir");
    let p12 = std::fs::read(td("estate/share/NKP-PROD.p12")).expect("p12");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&p12);
    let wrapped: String = b64
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let pem = d.path().join("prod.pem");
    std::fs::write(
        &pem,
        format!("-----BEGIN PKCS12-----\n{wrapped}\n-----END PKCS12-----\n"),
    )
    .expect("write");
    let certutil = d.path().join("prod.b64");
    std::fs::write(
        &certutil,
        format!(
            "-----BEGIN CERTIFICATE-----\r\n{}\r\n-----END CERTIFICATE-----\r\n",
            wrapped.replace('\n', "\r\n")
        ),
    )
    .expect("write");
    let o = nkp()
        .args([
            "--format",
            "json",
            "inspect",
            "--no-prompt",
            "--password-file",
        ])
        .arg(td("estate/share/passwords.txt"))
        .arg(&pem)
        .arg(&certutil)
        .arg("-")
        .write_stdin(format!("{b64}\n"))
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    let inputs = v["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 3);
    for (i, how) in inputs.iter().zip(["PEM (PKCS12)", "certutil", "base64"]) {
        assert_eq!(i["type"], "nkp-backup", "{i:#}");
        assert_eq!(i["providers"][0]["name"], "NKP-PROD");
        assert!(
            i["notes"][0]
                .as_str()
                .is_some_and(|n| n.contains("unwrapped from") && n.contains(how)),
            "{i:#}"
        );
    }
    assert_eq!(inputs[2]["path"], "(standard input)");
}

#[test]
fn vault_add_takes_folders_and_stdin() {
    let d = tempfile::tempdir().expect("tempdir");
    let id = age::x25519::Identity::generate();
    let key = d.path().join("k.age");
    std::fs::write(&key, format!("{}\n", id.to_string().expose_secret())).expect("id");
    let v = d.path().join("v");
    nkp()
        .args(["-q", "vault", "init", "--vault"])
        .arg(&v)
        .arg("--recipient")
        .arg(id.to_public().to_string())
        .assert()
        .success();
    // A folder: its NKP backups are added, the other PKCS#12 file is refused by name.
    let folder = d.path().join("share");
    std::fs::create_dir(&folder).expect("mkdir");
    for f in ["NKP-LAB.p12", "vcsa01-machine-ssl.p12"] {
        std::fs::copy(td("estate/share").join(f), folder.join(f)).expect("copy");
    }
    let o = nkp()
        .args(["--format", "json", "vault", "add", "--no-prompt", "--vault"])
        .arg(&v)
        .arg(&folder)
        .arg("--password-file")
        .arg(td("estate/share/passwords.txt"))
        .output()
        .expect("run");
    let added = json(&o);
    assert_eq!(
        added["added"].as_array().map(Vec::len),
        Some(1),
        "{added:#}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an NKP backup"));
    // Standard input, armored as pasted base64: the PKCS#12 inside is escrowed.
    let p12 = std::fs::read(td("estate/share/NKP-PROD (1).p12")).expect("p12");
    let o = nkp()
        .args(["--format", "json", "vault", "add", "--no-prompt", "--vault"])
        .arg(&v)
        .arg("-")
        .arg("--password-file")
        .arg(td("estate/share/passwords.txt"))
        .write_stdin(base64::engine::general_purpose::STANDARD.encode(&p12))
        .output()
        .expect("run");
    let added = json(&o);
    assert_eq!(added["added"][0]["status"], "added", "{added:#}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("unwrapped from base64"));
    // What was escrowed is the binary .p12, byte for byte.
    let entry = added["added"][0]["entry"]
        .as_str()
        .expect("entry")
        .to_string();
    let out = d.path().join("restored.p12");
    nkp()
        .args(["-q", "vault", "restore", "--vault"])
        .arg(&v)
        .arg(&entry)
        .arg("--identity")
        .arg(&key)
        .arg("--out")
        .arg(&out)
        .arg("--password-out")
        .arg(d.path().join("pw"))
        .assert()
        .success();
    assert_eq!(std::fs::read(&out).expect("restored"), p12);
}
