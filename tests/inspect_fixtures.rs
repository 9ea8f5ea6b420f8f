//! End-to-end `inspect` over the committed fixtures: every field against the values the
//! generator put in (testdata/p12/expected.json), the negatives' error codes, exit codes, and
//! that no secret ever reaches the output.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn inspect(args: &[&str]) -> (Value, i32) {
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["--format", "json", "inspect"])
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn load(path: &Path) -> Vec<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn input<'a>(out: &'a Value, file: &str) -> &'a Value {
    out["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with(&format!("/{file}")))
        .unwrap_or_else(|| panic!("{file} not in output"))
}

/// Compare a file's report with its expectation, field by field.
fn check(file: &str, got: &Value, exp: &Value, pw_file: &str) {
    assert_eq!(got["type"], exp["type"], "{file}: type");
    assert_eq!(got["error"], Value::Null, "{file}: error");
    let prot = &got["protection"];
    assert_eq!(
        prot["verdict"], exp["verdict"],
        "{file}: verdict ({})",
        prot["reasons"]
    );
    assert_eq!(
        prot["password_protected"], exp["password_protected"],
        "{file}: password_protected"
    );
    match exp["password_line"].as_u64() {
        Some(line) => assert_eq!(
            prot["password"]["source"].as_str().unwrap(),
            format!("line {line} of {pw_file}"),
            "{file}: which password line"
        ),
        None => assert_eq!(prot["password"], Value::Null, "{file}: password"),
    }
    let got_p = got["providers"].as_array().unwrap();
    let exp_p = exp["providers"].as_array().unwrap();
    assert_eq!(got_p.len(), exp_p.len(), "{file}: provider count");
    for e in exp_p {
        let g = got_p
            .iter()
            .find(|g| g["kdk_fingerprint"] == e["kdk_fingerprint"])
            .unwrap_or_else(|| panic!("{file}: no provider with {}", e["kdk_fingerprint"]));
        for field in ["name", "key_id", "tpm_required", "kdk_bits"] {
            assert_eq!(g[field], e[field], "{file}: {field}");
        }
        // Same instant, whatever the RFC 3339 spelling.
        let t = |v: &Value| {
            v.as_str().map(|s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .unwrap()
            })
        };
        assert_eq!(
            t(&g["export_time"]),
            t(&e["export_time"]),
            "{file}: export_time"
        );
    }
}

#[test]
fn every_r2_style_under_every_protection_yields_the_generated_values() {
    let dir = testdata().join("p12");
    let pw = dir.join("passwords.txt");
    let expected = load(&dir.join("expected.json"));
    let files: Vec<String> = expected
        .iter()
        .map(|e| dir.join(e["file"].as_str().unwrap()).display().to_string())
        .collect();
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    let pw_s = pw.display().to_string();
    args.extend(["--password-file", &pw_s]);
    let (out, code) = inspect(&args);
    assert_eq!(code, 0, "all fixtures open: {out:#}");
    assert!(expected.len() >= 20);
    for e in &expected {
        let f = e["file"].as_str().unwrap();
        check(f, input(&out, f), e, &pw_s);
    }
}

#[test]
fn files_written_by_a_real_jdk_are_read_like_keytool_entries() {
    let dir = testdata().join("p12/external");
    let pw = dir.join("passwords.txt").display().to_string();
    let (out, code) = inspect(&[dir.to_str().unwrap(), "--password-file", &pw]);
    assert_eq!(code, 0, "{out:#}");
    for e in load(&dir.join("expected-java.json")) {
        let f = e["file"].as_str().unwrap();
        check(f, input(&out, f), &e, &pw);
    }
}

#[test]
fn negatives_get_their_error_codes_and_exit_1() {
    let dir = testdata().join("p12/negative");
    let pw = testdata().join("p12/passwords.txt").display().to_string();
    let (out, code) = inspect(&[dir.to_str().unwrap(), "--password-file", &pw]);
    assert_eq!(code, 1);
    for e in load(&dir.join("expected.json")) {
        let f = e["file"].as_str().unwrap();
        let g = input(&out, f);
        assert_eq!(g["type"], e["type"], "{f}: type");
        assert_eq!(
            g["error"]["code"].as_str(),
            e["error"].as_str(),
            "{f}: error {}",
            g["error"]
        );
        if let Some(h) = e["hint_contains"].as_str() {
            assert!(g["hint"].as_str().unwrap().contains(h), "{f}: hint");
        }
        if let Some(msg) = g["error"]["message"].as_str() {
            assert!(msg.contains(f), "{f}: the message names the file: {msg}");
        }
    }
    // The TLS file made by OpenSSL: not an NKP backup, and says what it holds.
    let tls = input(&out, "tls-cert-and-key.p12");
    assert_eq!(tls["type"], "pkcs12-other");
}

#[test]
fn a_pkcs12_without_kdk_says_what_it_holds() {
    let dir = testdata().join("estate/share");
    let pw = dir.join("passwords.txt").display().to_string();
    let f = dir.join("vcsa01-machine-ssl.p12").display().to_string();
    let (out, code) = inspect(&[&f, "--password-file", &pw]);
    assert_eq!(code, 0, "{out:#}");
    let g = &out["inputs"][0];
    assert_eq!(g["type"], "pkcs12-other");
    let holds = g["holds"].as_str().unwrap();
    assert!(holds.contains("RSA-2048 private key"), "{holds}");
    assert!(holds.contains("certificate CN=vcsa01.lab"), "{holds}");
}

#[test]
fn without_passwords_protected_files_need_one_and_others_still_report() {
    let dir = testdata().join("p12");
    let strong = dir.join("raw-pbes2-aes256-sha256.p12");
    let open = dir.join("raw-none.p12");
    let (out, code) = inspect(&[
        strong.to_str().unwrap(),
        open.to_str().unwrap(),
        "--no-prompt",
    ]);
    assert_eq!(code, 1);
    assert_eq!(out["inputs"][0]["error"]["code"], "password-required");
    assert_eq!(out["inputs"][0]["type"], "pkcs12-other");
    assert_eq!(out["inputs"][0]["protection"]["password_protected"], true);
    assert_eq!(out["inputs"][1]["type"], "nkp-backup");
    assert_eq!(out["inputs"][1]["error"], Value::Null);
}

#[test]
fn wrong_password_is_reported_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "nope\nalso-nope\n").unwrap();
    let f = testdata().join("p12/shrouded-pbes2-aes256-sha256.p12");
    let (out, code) = inspect(&[f.to_str().unwrap(), "--password-file", pw.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(out["inputs"][0]["error"]["code"], "wrong-password");
}

#[test]
fn password_from_environment_and_stdin() {
    let f = testdata().join("p12/json-legacy-3des-sha1.p12");
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .env("NKP_TEST_PW", "legacy-pass-3des")
        .args([
            "--format",
            "json",
            "inspect",
            f.to_str().unwrap(),
            "--password-env",
            "NKP_TEST_PW",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["inputs"][0]["type"], "nkp-backup");
    assert_eq!(
        v["inputs"][0]["protection"]["password"]["source"],
        "$NKP_TEST_PW"
    );
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .write_stdin("wrong\nlegacy-pass-3des\n")
        .args([
            "--format",
            "json",
            "inspect",
            f.to_str().unwrap(),
            "--password-stdin",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["inputs"][0]["type"], "nkp-backup");
    assert_eq!(
        v["inputs"][0]["protection"]["password"]["source"],
        "line 2 of standard input"
    );
}

#[test]
fn limits_are_refused_fast_and_adjustable() {
    let f = testdata().join("p12/negative/huge-iterations.p12");
    let t = std::time::Instant::now();
    let (out, _) = inspect(&[f.to_str().unwrap(), "--no-prompt"]);
    assert_eq!(out["inputs"][0]["error"]["code"], "limits-exceeded");
    assert!(t.elapsed().as_secs() < 5, "refusal took {:?}", t.elapsed());
    let (out, _) = inspect(&[
        testdata()
            .join("p12/raw-pbes2-aes256-sha256.p12")
            .to_str()
            .unwrap(),
        "--max-iterations",
        "1000",
        "--no-prompt",
    ]);
    assert_eq!(out["inputs"][0]["error"]["code"], "limits-exceeded");
    let (out, _) = inspect(&[
        testdata().join("p12/raw-none.p12").to_str().unwrap(),
        "--max-size",
        "100",
    ]);
    assert_eq!(out["inputs"][0]["error"]["code"], "limits-exceeded");
}

#[test]
fn no_secret_reaches_any_output_format() {
    use base64::Engine;
    use nkp_pkcs12::write::{strong, Builder, Content};
    let kdk: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let password = "Sup3r-Secret-Passw0rd!";
    let p12 = Builder::new(strong(password, 1024))
        .bag(Content::SecretRaw(kdk.clone()), Some("NKP-LEAK"), None)
        .bag(
            Content::SecretJson(format!(
                "{{\"provider\":\"NKP-LEAK2\",\"kdk\":\"{}\"}}",
                base64::engine::general_purpose::STANDARD
                    .encode(kdk.iter().rev().copied().collect::<Vec<u8>>())
            )),
            None,
            None,
        )
        .build();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("leak.p12");
    std::fs::write(&f, p12).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, format!("{password}\n")).unwrap();
    let hex: String = kdk.iter().map(|b| format!("{b:02x}")).collect();
    let rev: Vec<u8> = kdk.iter().rev().copied().collect();
    let rev_hex: String = rev.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&kdk);
    let rev_b64 = base64::engine::general_purpose::STANDARD.encode(&rev);
    for format in ["json", "yaml", "table"] {
        let out = Command::cargo_bin("nkp-escrow")
            .unwrap()
            .args([
                "--format",
                format,
                "inspect",
                "--explain",
                f.to_str().unwrap(),
            ])
            .args(["--password-file", pw.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("NKP-LEAK2"), "{format}: {text}");
        for secret in [password, &hex, &rev_hex, &b64, &rev_b64] {
            assert!(!text.contains(secret), "{format} output contains a secret");
        }
    }
}

#[cfg(unix)]
#[test]
fn symlink_loops_are_survived_and_non_pkcs12_files_in_folders_are_counted() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(d.path(), d.path().join("sub/loop")).unwrap();
    std::fs::copy(
        testdata().join("p12/raw-none.p12"),
        d.path().join("sub/a-backup.bin"),
    )
    .unwrap();
    std::fs::write(d.path().join("notes.txt"), "not a backup").unwrap();
    std::fs::write(d.path().join("misnamed.p12"), "{\"Provider\":\"x\"}").unwrap();
    let (out, code) = inspect(&[d.path().to_str().unwrap()]);
    // The misnamed .p12 is reported (and fails); the text file is skipped; the loop is survived.
    assert_eq!(code, 1);
    assert_eq!(out["skipped"], 1);
    let inputs = out["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2, "{out:#}");
    assert!(inputs.iter().any(|i| i["type"] == "nkp-backup"));
    assert!(inputs.iter().any(|i| i["error"]["code"] == "not-pkcs12"));
}

#[test]
fn lenient_metadata_values_and_notes_on_ignored_fields() {
    use nkp_pkcs12::write::{Builder, Content, Protect};
    let p12 = Builder::new(Protect::None)
        .bag(Content::SecretRaw(vec![7u8; 32]), Some("NKP-A"), Some(b"a"))
        .bag(
            Content::SecretJson(
                r#"{"provider":"NKP-A","tpmRequired":"TRUE","export_time":1700000000}"#.into(),
            ),
            None,
            Some(b"a"),
        )
        .build();
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("a.p12");
    std::fs::write(&f, p12).unwrap();
    let (out, code) = inspect(&[f.to_str().unwrap()]);
    assert_eq!(code, 0);
    let p = &out["inputs"][0]["providers"][0];
    assert_eq!(p["tpm_required"], true);
    assert_eq!(p["export_time"], Value::Null);
    assert!(
        p["notes"][0].as_str().unwrap().contains("export_time"),
        "{p:#}"
    );
}

#[test]
fn completions_and_help_work() {
    for shell in ["bash", "zsh", "fish"] {
        Command::cargo_bin("nkp-escrow")
            .unwrap()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicates::str::contains("inspect"));
    }
    Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["inspect", "--help"])
        .assert()
        .success()
        .stdout(predicates::str::contains("--password-file"));
    // No argument takes a password: an unknown --password is a usage error (exit 2).
    Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["inspect", "x.p12", "--password", "secret"])
        .assert()
        .code(2);
}

#[test]
fn binary_bag_attributes_are_shown_as_length_and_fingerprint_only() {
    use nkp_pkcs12::der::write as w;
    // A bag whose vendor attribute holds 32 binary bytes: --explain must not print them.
    let secret: Vec<u8> = (0u8..32).map(|i| i ^ 0xa5).collect();
    let attr = w::seq(&[
        w::oid("1.3.6.1.4.1.6876.99.1"),
        w::set(&[w::octets(&secret)]),
    ]);
    let bag = w::seq(&[
        w::oid("1.2.840.113549.1.12.10.1.5"),
        w::explicit(
            0,
            &w::seq(&[
                w::oid("1.2.3.4"),
                w::explicit(0, &w::octets(b"metadata-not-a-key")),
            ]),
        ),
        w::set(&[attr]),
    ]);
    let safe = w::seq(&[
        w::oid("1.2.840.113549.1.7.1"),
        w::explicit(0, &w::octets(&w::seq(&[bag]))),
    ]);
    let pfx = w::seq(&[
        w::uint(3),
        w::seq(&[
            w::oid("1.2.840.113549.1.7.1"),
            w::explicit(0, &w::octets(&w::seq(&[safe]))),
        ]),
    ]);
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("attr.p12");
    std::fs::write(&f, pfx).unwrap();
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["--wide", "--format", "table", "inspect", "--explain"])
        .arg(&f)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        text.contains("1.3.6.1.4.1.6876.99.1 = OCTET STRING of 32 bytes, sha256:"),
        "{text}"
    );
    assert!(!text.contains(&hex[..16]), "attribute bytes leaked: {text}");
}
