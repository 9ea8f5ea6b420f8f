//! Interoperability with the reference tools: OpenSSL reads what our fixture writer makes and
//! we read what OpenSSL makes; we read what the JDK's keytool makes. Each test skips, saying
//! why, when its tool is not installed (CI installs them).

#![allow(clippy::print_stdout, clippy::print_stderr)] // tests say why they skip

use std::path::Path;
use std::process::Command as Proc;

use assert_cmd::Command;
use serde_json::Value;

fn have(tool: &str, arg: &str) -> bool {
    let ok = Proc::new(tool)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: `{tool}` is not installed (CI installs it)");
    }
    ok
}

fn inspect_json(file: &Path, pw_file: &Path) -> Value {
    let out = Command::cargo_bin("nkp-escrow")
        .unwrap()
        .args(["--format", "json", "inspect"])
        .arg(file)
        .arg("--password-file")
        .arg(pw_file)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn openssl_accepts_what_our_writer_makes() {
    if !have("openssl", "version") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/p12");
    for (file, pw) in [
        ("raw-pbes2-aes256-sha256.p12", "Str0ng!Escrow#Pass-2026"),
        ("ber-indefinite.p12", "Str0ng!Escrow#Pass-2026"),
        ("shrouded-empty.p12", ""),
    ] {
        let out = Proc::new("openssl")
            .args(["pkcs12", "-info", "-noout", "-passin"])
            .arg(format!("pass:{pw}"))
            .arg("-in")
            .arg(dir.join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn we_read_what_openssl_makes() {
    if !have("openssl", "version") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n);
    let st = Proc::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-subj", "/CN=esxi51.lab", "-days", "30", "-keyout"])
        .arg(p("k.pem"))
        .arg("-out")
        .arg(p("c.pem"))
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    for (name, extra) in [
        (
            "aes.p12",
            vec![
                "-keypbe",
                "AES-256-CBC",
                "-certpbe",
                "AES-256-CBC",
                "-macalg",
                "sha256",
            ],
        ),
        (
            "nomac.p12",
            vec!["-keypbe", "AES-128-CBC", "-certpbe", "NONE", "-nomac"],
        ),
    ] {
        let st = Proc::new("openssl")
            .args([
                "pkcs12",
                "-export",
                "-passout",
                "pass:openssl-test-pw",
                "-iter",
                "2048",
            ])
            .args(&extra)
            .arg("-inkey")
            .arg(p("k.pem"))
            .arg("-in")
            .arg(p("c.pem"))
            .arg("-out")
            .arg(p(name))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        std::fs::write(p("pw"), "openssl-test-pw\n").unwrap();
        let v = inspect_json(&p(name), &p("pw"));
        let i = &v["inputs"][0];
        assert_eq!(i["type"], "pkcs12-other", "{name}: {i:#}");
        assert_eq!(i["error"], Value::Null, "{name}: {i:#}");
        let holds = i["holds"].as_str().unwrap();
        assert!(holds.contains("EC P-256 private key"), "{holds}");
        assert!(holds.contains("CN=esxi51.lab"), "{holds}");
    }
}

#[test]
fn we_read_a_keytool_secret_key_entry() {
    if !have("keytool", "-help") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let ks = d.path().join("kt.p12");
    let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(5);
    let st = Proc::new("keytool")
        .args([
            "-genseckey",
            "-alias",
            "nkp-keytool",
            "-keyalg",
            "AES",
            "-keysize",
            "256",
        ])
        .args([
            "-storetype",
            "PKCS12",
            "-storepass",
            "keytool-pw-123",
            "-keypass",
            "keytool-pw-123",
            "-keystore",
        ])
        .arg(&ks)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    std::fs::write(d.path().join("pw"), "keytool-pw-123\n").unwrap();
    let v = inspect_json(&ks, &d.path().join("pw"));
    let i = &v["inputs"][0];
    assert_eq!(i["type"], "nkp-backup", "{i:#}");
    let p = &i["providers"][0];
    assert_eq!(p["name"], "nkp-keytool");
    assert_eq!(p["kdk_bits"], 256);
    assert_eq!(p["key_id"], Value::Null);
    let t = time::OffsetDateTime::parse(
        p["export_time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(t >= before && t <= time::OffsetDateTime::now_utc() + time::Duration::seconds(5));
}
