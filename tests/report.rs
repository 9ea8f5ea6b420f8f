//! Issue 12, items 1-6: the evidence report an auditor signs off. Attribution, control
//! provenance, custody facts, an SSH signature that `ssh-keygen -Y verify` checks (and `report
//! verify`), a self-contained HTML page rendered in headless Chromium, and re-runs (`--format`,
//! `-q`, `--force`).

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
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

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// A vault with one entry, drilled once by its custodian and restored once.
fn vault(dir: &Path) -> PathBuf {
    let id = age::x25519::Identity::generate();
    let key = dir.join("alice.key");
    std::fs::write(&key, format!("{}\n", id.to_string().expose_secret())).expect("identity");
    let v = dir.join("vault");
    let run = |args: &[&str]| {
        let o = nkp()
            .args(["--quiet", "vault"])
            .args(args)
            .arg("--vault")
            .arg(&v)
            .output()
            .expect("run");
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&["init", "--recipient", &format!("alice={}", id.to_public())]);
    let p12 = td("estate/share/NKP-LAB.p12");
    let pw = td("estate/share/passwords.txt");
    run(&[
        "add",
        p12.to_str().expect("utf-8"),
        "--no-prompt",
        "--password-file",
        pw.to_str().expect("utf-8"),
    ]);
    run(&["drill", "--identity", key.to_str().expect("utf-8")]);
    let out = dir.join("restored.p12");
    let pwo = dir.join("restored.pw");
    run(&[
        "restore",
        "nkp-lab",
        "--identity",
        key.to_str().expect("utf-8"),
        "--reason",
        "INC0042 audit sample",
        "--out",
        out.to_str().expect("utf-8"),
        "--password-out",
        pwo.to_str().expect("utf-8"),
    ]);
    v
}

fn report(extra: &[&str], out: &Path) -> Output {
    nkp()
        .args(["report", "--no-prompt", "--evidence"])
        .arg(format!("vc01={}", td("evidence").display()))
        .arg("--backups")
        .arg(td("estate/share"))
        .arg("--password-file")
        .arg(td("estate/share/passwords.txt"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run")
}

fn doc(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("evidence.json")).expect("evidence.json"))
        .expect("JSON")
}

fn ssh_key(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let Some(keygen) = tool("ssh-keygen") else {
        eprintln!("skipped: ssh-keygen is not installed (openssh-client)");
        return None;
    };
    let key = dir.join("auditor");
    let ok = std::process::Command::new(keygen)
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "auditor@example",
            "-f",
        ])
        .arg(&key)
        .status()
        .expect("ssh-keygen")
        .success();
    assert!(ok);
    Some((key.clone(), key.with_extension("pub")))
}

#[test]
fn the_report_says_who_what_from_where_and_the_custody_facts() {
    let d = tempfile::tempdir().expect("tempdir");
    let v = vault(d.path());
    let out = d.path().join("r");
    let o = report(&["--vault", v.to_str().expect("utf-8")], &out);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j = doc(&out);
    assert_eq!(j["tool"], "nkp-escrow");
    assert_eq!(j["kind"], "report");
    // 1. Attribution and scope.
    let a = &j["attribution"];
    assert!(a["user"].as_str().is_some_and(|u| u.contains("uid")));
    assert!(a["host"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(a["git_commit"].as_str().is_some_and(|c| !c.is_empty()));
    let argv: Vec<&str> = a["command_line"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(argv.contains(&"report") && argv.contains(&"--password-file"));
    assert_eq!(j["scopes"][0]["scope"], "vc01");
    let inputs = j["inputs"].as_array().expect("inputs");
    for i in inputs {
        assert!(i["sha256"].as_str().is_some_and(|h| h.len() == 64), "{i}");
        assert!(
            i["size"].as_u64().is_some() && i["modified"].as_str().is_some(),
            "{i}"
        );
        if i["kind"] == "evidence" {
            assert!(i["captured_at"].as_str().is_some(), "{i}");
            assert_eq!(i["scope"], "vc01");
        }
    }
    // The ticket states when it was captured; the other files have only their mtime.
    let ticket = inputs
        .iter()
        .find(|i| {
            i["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("INC0077-esxi53.txt"))
        })
        .expect("ticket");
    assert_eq!(ticket["captured_from"], "content");
    assert_eq!(ticket["captured_at"], "2026-11-30T02:10:11Z");
    assert!(inputs.iter().any(|i| i["kind"] == "vault-manifest"));
    // 2. Provenance of every control.
    for c in j["controls"].as_array().expect("controls") {
        let p = &c["provenance"];
        assert!(matches!(p["origin"].as_str(), Some("stig" | "tool")), "{c}");
        assert!(p["check"].as_str().is_some_and(|t| t.len() > 40));
        assert!(p["fix"].as_str().is_some_and(|t| t.len() > 20));
        assert!(p["maps_to"].as_array().is_some_and(|m| !m.is_empty()));
    }
    let text = j.to_string();
    for needle in [
        "NIST SP 800-53 Rev. 5",
        "PCI DSS v4.0.1",
        "CP-9(8)",
        "SC-12(1)",
        "CP-4",
        "3.6.1",
        "3.7.3",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    // 3. Custody.
    let c = &j["custody"];
    assert_eq!(c["verified"], true);
    assert_eq!(c["custodians"][0]["label"], "alice");
    assert_eq!(c["custodians"][0]["drills"], 1);
    assert!(c["custodians"][0]["last_drill"].as_str().is_some());
    assert_eq!(c["restores"][0]["reason"], "INC0042 audit sample");
    assert_eq!(c["anchor"], "not-checked");
    assert!(c["chain_head"].as_str().is_some());
    // 4. Unsigned reports say so.
    assert!(j["signature"].is_null());
    let md = std::fs::read_to_string(out.join("evidence.md")).expect("md");
    assert!(md.contains("**unsigned**"));
    assert!(md.contains("## Custody") && md.contains("INC0042 audit sample"));
    // 6. The JSON findings are the structured ones.
    let f = &j["findings"][0];
    assert!(f["severity"].is_string() && f["code"].is_string() && f.get("scope").is_some());
}

#[test]
fn a_trusted_checkpoint_key_is_reported_as_the_anchor() {
    let d = tempfile::tempdir().expect("tempdir");
    let v = vault(d.path());
    let key = d.path().join("cp.key");
    let o = nkp()
        .args(["vault", "checkpoint-key", "--out"])
        .arg(&key)
        .output()
        .expect("run");
    assert!(o.status.success());
    let public = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .find(|w| w.len() == 44 && w.ends_with('='))
        .expect("public key")
        .to_string();
    nkp()
        .args(["--quiet", "vault", "checkpoint", "--vault"])
        .arg(&v)
        .arg("--key")
        .arg(&key)
        .assert()
        .success();
    let out = d.path().join("r");
    report(
        &[
            "--vault",
            v.to_str().expect("utf-8"),
            "--trusted-key",
            &public,
        ],
        &out,
    );
    let c = &doc(&out)["custody"];
    assert_eq!(c["anchor"], "trusted-checkpoint", "{c}");
    assert!(c["trusted_checkpoint"].as_str().is_some());
}

#[test]
fn the_signature_is_checked_by_ssh_keygen_and_by_report_verify() {
    let d = tempfile::tempdir().expect("tempdir");
    let Some((key, public)) = ssh_key(d.path()) else {
        return;
    };
    let out = d.path().join("r");
    let o = report(&["--sign-key", key.to_str().expect("utf-8")], &out);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("evidence.json.sig").is_file());
    let allowed = d.path().join("allowed_signers");
    std::fs::write(
        &allowed,
        format!(
            "auditor@example {}",
            std::fs::read_to_string(&public).expect("pub")
        ),
    )
    .expect("write");
    let keygen_verify = || {
        std::process::Command::new("ssh-keygen")
            .args([
                "-Y",
                "verify",
                "-n",
                "nkp-escrow-report",
                "-I",
                "auditor@example",
                "-f",
            ])
            .arg(&allowed)
            .arg("-s")
            .arg(out.join("evidence.json.sig"))
            .stdin(std::fs::File::open(out.join("evidence.json")).expect("json"))
            .output()
            .expect("ssh-keygen")
    };
    let ours = |signer: Option<&Path>| {
        let mut c = nkp();
        c.args(["report", "verify"]).arg(&out);
        if let Some(s) = signer {
            c.arg("--signer").arg(s);
        }
        c.output().expect("run").status.code()
    };
    assert!(keygen_verify().status.success());
    assert_eq!(ours(Some(&public)), Some(0));
    assert_eq!(
        ours(Some(&allowed)),
        Some(0),
        "an allowed_signers file works too"
    );
    // Without a signer the signature proves only that someone signed: not verified.
    assert_eq!(ours(None), Some(3));
    // A stranger's key.
    let other = d.path().join("other");
    std::fs::create_dir(&other).expect("mkdir");
    let (_, other_pub) = ssh_key(&other).expect("ssh-keygen is there");
    assert_eq!(ours(Some(&other_pub)), Some(3));
    // One byte of evidence.json changed: both refuse.
    let path = out.join("evidence.json");
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes.iter().position(|b| *b == b'4').expect("a digit");
    bytes[at] = b'5';
    std::fs::write(&path, &bytes).expect("write");
    assert!(!keygen_verify().status.success());
    assert_eq!(ours(Some(&public)), Some(3));
    // evidence.md is covered through its digest in evidence.json.
    let out2 = d.path().join("r2");
    report(&["--sign-key", key.to_str().expect("utf-8")], &out2);
    std::fs::write(out2.join("evidence.md"), "# all PASS\n").expect("write");
    let o = nkp()
        .args(["report", "verify"])
        .arg(&out2)
        .arg("--signer")
        .arg(&public)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("evidence.md: changed"));
}

#[test]
fn the_html_page_is_self_contained_and_renders_in_headless_chromium() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("r");
    report(&[], &out);
    let html = std::fs::read_to_string(out.join("evidence.html")).expect("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    for banned in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(banned), "not self-contained: {banned}");
    }
    let order: Vec<usize> = [
        "id=\"controls\"",
        "id=\"findings\"",
        "id=\"custody\"",
        "id=\"scope\"",
        "id=\"inputs\"",
    ]
    .iter()
    .map(|s| html.find(s).unwrap_or_else(|| panic!("{s}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "sections in order");
    assert!(html.contains("@media print"));
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|n| tool(n))
    else {
        eprintln!("skipped: no headless Chromium installed (Debian package chromium)");
        return;
    };
    let profile = d.path().join("profile");
    let run = |extra: &[&str]| {
        std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", out.join("evidence.html").display()))
            .output()
            .expect("chromium")
    };
    let dom = run(&["--dump-dom"]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    // The browser parsed it into the table rows the report holds: five controls, the findings.
    assert_eq!(
        dom_text.matches("<tr class=\"control\">").count(),
        5,
        "{dom_text}"
    );
    assert!(dom_text.matches("<tr class=\"finding\">").count() >= 5);
    assert!(dom_text.contains("VCFA-9X-000335") && dom_text.contains("Unsigned."));
    let png = d.path().join("page.png");
    let shot = run(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1024,2000",
    ]);
    assert!(shot.status.success());
    let bytes = std::fs::read(&png).expect("screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a rendered page"
    );
}

#[test]
fn re_runs_format_quiet_and_force() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("r");
    // -q: only the control lines.
    let o = report(&["-q"], &out);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 5, "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with('[')));
    // An existing report is not overwritten without --force (usage: exit 2), and nothing changes.
    let before = std::fs::read(out.join("evidence.json")).expect("json");
    let o = report(&[], &out);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read(out.join("evidence.json")).expect("json"),
        before
    );
    // --format json prints the document; --force replaces the folder.
    let o = report(&["--format", "json", "--force"], &out);
    assert_eq!(o.status.code(), Some(3));
    let printed: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(printed["kind"], "report");
    assert_eq!(printed, doc(&out), "what is printed is what is written");
    let o = report(&["--format", "yaml", "--force"], &out);
    assert!(String::from_utf8_lossy(&o.stdout).contains("kind: report"));
    // No leftover temporary folder.
    let names: Vec<String> = std::fs::read_dir(d.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(names, vec!["r".to_string()], "{names:?}");
    // --force never replaces a folder that holds anything but a report.
    let home = d.path().join("home");
    std::fs::create_dir(&home).expect("mkdir");
    std::fs::write(home.join("thesis.tex"), "precious").expect("write");
    let o = report(&["--force"], &home);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a report file"));
    assert_eq!(
        std::fs::read_to_string(home.join("thesis.tex")).expect("kept"),
        "precious"
    );
}

#[test]
fn stale_evidence_cannot_pass() {
    let d = tempfile::tempdir().expect("tempdir");
    let ev = d.path().join("ev");
    std::fs::create_dir(&ev).expect("mkdir");
    let file = ev.join("NKP-PROD.json");
    std::fs::copy(td("evidence/api/NKP-PROD.json"), &file).expect("copy");
    let out = d.path().join("r");
    let result = |j: &Value| {
        j["controls"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find(|c| c["id"] == "vcenter-9.native-key-provider-backup")
            })
            .map(|c| c["result"].clone())
    };
    let run = |force: bool| {
        let mut c = nkp();
        c.args(["report", "--no-prompt", "--evidence"])
            .arg(&ev)
            .arg("--backups")
            .arg(td("estate/share"))
            .arg("--password-file")
            .arg(td("estate/share/passwords.txt"))
            .arg("--out")
            .arg(&out);
        if force {
            c.arg("--force");
        }
        c.output().expect("run");
        doc(&out)
    };
    let fresh = run(false);
    assert_eq!(result(&fresh), Some(Value::from("PASS")), "{fresh:#}");
    // The same file, saved two years ago (its content states no time: its mtime is used).
    let two_years = std::time::SystemTime::now() - std::time::Duration::from_secs(730 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_modified(two_years))
        .expect("set mtime");
    let stale = run(true);
    assert_eq!(
        result(&stale),
        Some(Value::from("NOT-ASSESSED")),
        "{stale:#}"
    );
    assert!(stale["stale_evidence"][0]["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("NKP-PROD.json")));
}

/// Issue 13, item 5: coverage and the report state the custody model of the vault (threshold,
/// custodians and what their keys are) and raise VAULT-SINGLE-CONTROL when one custodian can
/// restore alone: info by default, medium with --require-dual-control.
#[test]
fn the_custody_model_and_single_control_are_stated() {
    let d = tempfile::tempdir().expect("tempdir");
    let v = vault(d.path());
    let vs = v.to_str().expect("utf-8").to_string();
    let coverage = |extra: &[&str]| -> Value {
        let o = nkp()
            .args(["--format", "json", "coverage", "--no-prompt", "--evidence"])
            .arg(td("evidence"))
            .args(["--vault", &vs])
            .args(extra)
            .output()
            .expect("run");
        serde_json::from_slice(&o.stdout).expect("json")
    };
    let single = |c: &Value| -> Option<String> {
        c["findings"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["code"] == "VAULT-SINGLE-CONTROL"))
            .map(|f| f["severity"].as_str().unwrap_or("").to_string())
    };
    let c = coverage(&[]);
    assert_eq!(c["custody"]["threshold"], 1, "{c:#}");
    assert_eq!(c["custody"]["custodians"][0]["key_type"], "age-x25519");
    assert_eq!(c["custody"]["custodians"][0]["storage"], "file");
    assert_eq!(single(&c).as_deref(), Some("info"));
    assert_eq!(
        single(&coverage(&["--require-dual-control"])).as_deref(),
        Some("medium")
    );
    let out = d.path().join("r");
    report(&["--vault", &vs], &out);
    let j = doc(&out);
    assert_eq!(j["custody"]["threshold"], 1);
    assert_eq!(j["custody"]["custodians"][0]["key_type"], "age-x25519");
    assert!(j["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["code"] == "VAULT-SINGLE-CONTROL"));

    // A 2-of-2 vault: the chain's threshold is stated, and nobody restores alone.
    let kv = d.path().join("kofn");
    let mut init = nkp();
    init.args(["--quiet", "vault", "init", "--threshold", "2", "--vault"])
        .arg(&kv);
    for name in ["x", "y"] {
        let id = age::x25519::Identity::generate();
        init.arg("--recipient")
            .arg(format!("{name}={}", id.to_public()));
    }
    init.assert().success();
    let o = nkp()
        .args(["--quiet", "vault", "add", "--no-prompt", "--vault"])
        .arg(&kv)
        .arg(td("estate/share/NKP-LAB.p12"))
        .arg("--password-file")
        .arg(td("estate/share/passwords.txt"))
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kvs = kv.to_str().expect("utf-8").to_string();
    let o = nkp()
        .args(["--format", "json", "coverage", "--no-prompt", "--evidence"])
        .arg(td("evidence"))
        .args(["--vault", &kvs, "--require-dual-control"])
        .output()
        .expect("run");
    let c: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(c["custody"]["threshold"], 2, "{c:#}");
    assert_eq!(single(&c), None, "{c:#}");
    let out = d.path().join("r2");
    report(&["--vault", &kvs], &out);
    assert_eq!(doc(&out)["custody"]["threshold"], 2);
}
