//! Issue 12, found by the attacker's review of the report and resolve changes; each test was
//! failing before its fix.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

fn nkp() -> Command {
    let mut c = Command::cargo_bin("nkp-escrow").expect("binary");
    c.timeout(Duration::from_secs(60));
    c
}

fn td(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

/// Evidence naming a provider `name` (percent-encoded in the keySafe as vSphere writes it).
fn evidence_with_provider(dir: &Path, name: &str) {
    std::fs::create_dir_all(dir.join("vm")).expect("mkdir");
    let db01 = std::fs::read_to_string(td("evidence/datastore1/db01/db01.vmx")).expect("vmx");
    let start = db01.find("NKP%2dDR/").expect("blob") + "NKP%2dDR/".len();
    let end = db01[start..].find("))\"").expect("end") + start;
    let blob = &db01[start..end];
    let enc: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect();
    std::fs::write(
        dir.join("vm/vm.vmx"),
        format!("config.version = \"8\"\ndisplayName = \"vm-x\"\nencryption.keySafe = \"vmware:key/list/(pair/(fqid/<VMWARE-NULL>/{enc}/{blob}))\"\n"),
    )
    .expect("vmx");
}

/// A provider name from a planted file must not run when the printed `dcli` command is pasted.
#[test]
fn a_hostile_provider_name_is_quoted_in_printed_commands() {
    let d = tempfile::tempdir().expect("tempdir");
    let pwned = d.path().join("pwned");
    let name = format!("x;touch {}", pwned.display());
    evidence_with_provider(&d.path().join("ev"), &name);
    let o = nkp()
        .args(["--format", "json", "resolve", "--evidence"])
        .arg(d.path().join("ev"))
        .output()
        .expect("run");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let steps = v["subjects"][0]["steps"].as_array().expect("steps").clone();
    let dcli = steps
        .iter()
        .filter_map(|s| s.as_str())
        .find_map(|s| s.split('`').find(|c| c.starts_with("dcli ")))
        .expect("a dcli command")
        .replace("<vcenter FQDN>", "vc.example");
    // Pasted into a shell where `dcli` does nothing: nothing else may run.
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("dcli() {{ :; }}; {dcli}"))
        .status()
        .expect("sh")
        .success();
    assert!(ok, "{dcli}");
    assert!(
        !pwned.exists(),
        "the pasted command ran the planted one: {dcli}"
    );
}

fn report(out: &Path, extra: &[&str]) -> std::process::Output {
    nkp()
        .args(["report", "--no-prompt", "--evidence"])
        .arg(td("evidence"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("run")
}

/// `--force` never deletes a folder (or anything but a plain file) named like a report file.
#[test]
fn force_refuses_a_folder_named_like_a_report_file() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("r");
    report(&out, &[]);
    std::fs::remove_file(out.join("evidence.md")).expect("rm");
    std::fs::create_dir(out.join("evidence.md")).expect("mkdir");
    std::fs::write(out.join("evidence.md/keep"), "precious").expect("write");
    let o = report(&out, &["--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(out.join("evidence.md/keep")).expect("kept"),
        "precious"
    );
}

/// A signer line with restrictions (`namespaces=`, `valid-before=`, `cert-authority`,
/// `@revoked`) is not accepted as if it had none.
#[test]
fn allowed_signers_restrictions_are_not_ignored() {
    if std::process::Command::new("ssh-keygen")
        .arg("-?")
        .output()
        .is_err()
    {
        eprintln!("skipped: ssh-keygen is not installed");
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let key = d.path().join("k");
    assert!(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen")
        .success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    let out = d.path().join("r");
    report(&out, &["--sign-key", key.to_str().expect("utf-8")]);
    for line in [
        format!("a@x namespaces=\"file\" {public}"),
        format!("a@x valid-before=\"20000101\" {public}"),
        format!("a@x cert-authority {public}"),
        format!("@revoked {public}"),
    ] {
        let f = d.path().join("allowed");
        std::fs::write(&f, &line).expect("write");
        let o = nkp()
            .args(["report", "verify"])
            .arg(&out)
            .arg("--signer")
            .arg(&f)
            .output()
            .expect("run");
        assert_ne!(o.status.code(), Some(0), "{line}");
    }
}

/// A FIFO or an endless file planted in a report folder is refused, not waited on.
#[test]
fn fifos_and_endless_files_in_a_report_folder_do_not_hang() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("r");
    report(&out, &[]);
    std::fs::remove_file(out.join("evidence.html")).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", out.join("evidence.html")).expect("symlink");
    let fifo = out.join("evidence.json.sig");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let o = nkp()
        .args(["report", "verify"])
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a regular file"), "{err}");
    let o = nkp()
        .args(["report", "verify"])
        .arg(&out)
        .arg("--signer")
        .arg(&fifo)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
}

/// Markup in input values does not become markup in evidence.md or evidence.html.
#[test]
fn markup_and_bidi_overrides_from_inputs_are_escaped_in_the_report() {
    let d = tempfile::tempdir().expect("tempdir");
    let name = "<img src=x onerror=alert(1)>[l](javascript:alert(2))\u{202e}evil";
    evidence_with_provider(&d.path().join("ev"), name);
    let out = d.path().join("r");
    nkp()
        .args(["report", "--evidence"])
        .arg(d.path().join("ev"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    for f in ["evidence.md", "evidence.html"] {
        let text = std::fs::read_to_string(out.join(f)).expect("read");
        assert!(!text.contains("<img"), "{f}");
        // Link syntax matters only where Markdown is rendered; in HTML it is plain text.
        if f == "evidence.md" {
            assert!(!text.contains("](javascript"), "{f}");
        }
        assert!(!text.contains('\u{202e}'), "{f}");
    }
}
