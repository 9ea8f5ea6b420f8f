//! Issue 11: verdicts that hold up. Each test reproduces one way `resolve`, `coverage` or
//! `report` gave false assurance, on estates built here (not the sample estate): a missing
//! evidence path, evidence that names no provider, backups without their password, two
//! vCenters sharing a provider name, a backup pair with equal name and key_id but different
//! KDKs, a relabelled key_id, and a weak password.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use nkp_pkcs12::write::{strong, Builder, Content};
use serde_json::Value;

fn nkp() -> Command {
    Command::cargo_bin("nkp-escrow").expect("binary")
}

fn td(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

/// An NKP backup: `kdk_seed` decides the KDK, so two backups can share a name and key_id and
/// differ in the key.
fn backup(path: &Path, name: &str, key_id: &str, kdk_seed: &str, password: &str) {
    let kdk: Vec<u8> = <sha2::Sha256 as sha2::Digest>::digest(kdk_seed.as_bytes()).to_vec();
    let meta = format!(
        "{{\"provider\":\"{name}\",\"key_id\":\"{key_id}\",\"export_time\":\"2026-01-01T00:00:00Z\",\"tpm_required\":false}}"
    );
    let b = Builder::new(strong(password, 64))
        .bag(Content::SecretRaw(kdk), Some(name), Some(b"k1"))
        .bag(Content::SecretJson(meta), None, Some(b"k1"));
    std::fs::write(path, b.build()).expect("write backup");
}

/// govc `kms.ls -json` output stating one NKP provider.
fn kms_ls(path: &Path, name: &str, key_id: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        path,
        format!(
            r#"{{"info":[{{"clusterId":{{"id":"{name}"}},"managementType":"nativeProvider","useAsDefault":true,"hasBackup":true,"tpmRequired":false,"keyId":"{key_id}"}}]}}"#
        ),
    )
    .expect("write evidence");
}

fn json(cmd: &mut Command) -> (Value, i32, String) {
    let o = cmd.output().expect("run");
    (
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const STRONG: &str = "Escrow!Verdict#Pass-2026";
const K1: &str = "11111111-1111-4111-8111-111111111111";
const K2: &str = "22222222-2222-4222-8222-222222222222";

/// Found 1: a missing evidence path, or evidence naming no provider, printed PASS for all five
/// controls and exit 0. Now: exit 1, the path named, and no control PASSes.
#[test]
fn nothing_assessed_is_never_a_pass() {
    let d = tempfile::tempdir().expect("tempdir");
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    std::fs::write(empty.join("notes.txt"), "nothing about keys here\n").expect("w");
    for (what, evidence) in [
        ("a missing path", d.path().join("typo-nosuch")),
        ("evidence with no provider", empty),
    ] {
        let out = d.path().join(format!("report-{}", what.len()));
        let o = nkp()
            .args(["report", "--evidence"])
            .arg(&evidence)
            .arg("--backups")
            .arg(td("estate/share"))
            .arg("--password-file")
            .arg(td("estate/share/passwords.txt"))
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(1), "{what}");
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(!stdout.contains("[PASS]"), "{what}: {stdout}");
        let doc: Value = serde_json::from_slice(
            &std::fs::read(out.join("evidence.json")).expect("evidence.json"),
        )
        .expect("json");
        for c in doc["controls"].as_array().expect("controls") {
            assert_ne!(c["result"], "PASS", "{what}: {c:#}");
        }
        let backup_control = doc["controls"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|c| c["id"] == "vcenter-9.native-key-provider-backup")
            })
            .expect("the backup control");
        assert_eq!(backup_control["result"], "NOT-ASSESSED", "{what}");
        let md = std::fs::read_to_string(out.join("evidence.md")).expect("md");
        assert!(md.contains("## Input problems"), "{what}: {md}");
        assert!(md.contains("NOT-ASSESSED"), "{what}");
        let stderr = String::from_utf8_lossy(&o.stderr);
        if what == "a missing path" {
            assert!(stderr.contains("typo-nosuch"), "{stderr}");
        } else {
            assert!(stderr.contains("names no key provider"), "{stderr}");
        }
        // coverage and resolve say so too.
        for cmd in ["coverage", "resolve"] {
            let (_, code, err) = json(
                nkp()
                    .args(["--format", "json", cmd, "--evidence"])
                    .arg(&evidence),
            );
            assert_eq!(code, 1, "{what}: {cmd}");
            assert!(err.contains("error: "), "{what}: {cmd}: {err}");
        }
    }
}

/// Found 2: backups that could not be opened (no password in a cron job) were reported as
/// "no backup ... export one", and the report left them out of its input hashes.
#[test]
fn a_missing_password_is_not_a_missing_backup() {
    let d = tempfile::tempdir().expect("tempdir");
    let backups = d.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    backup(&backups.join("NKP-A.p12"), "NKP-A", K1, "a", STRONG);
    kms_ls(&d.path().join("ev/kms.json"), "NKP-A", K1);
    let (c, code, err) = json(
        nkp()
            .args(["--format", "json", "coverage", "--no-prompt", "--evidence"])
            .arg(d.path().join("ev"))
            .arg("--backups")
            .arg(&backups),
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(c["providers"][0]["status"], "unverified", "{c:#}");
    let codes: Vec<&str> = c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"NKP-UNREADABLE-BACKUP"), "{codes:?}");
    assert!(!codes.contains(&"NKP-UNCOVERED"), "{codes:?}");
    let unreadable = c["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["code"] == "NKP-UNREADABLE-BACKUP"))
        .expect("finding");
    assert!(unreadable["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("NKP-A.p12")));
    assert!(unreadable["message"]
        .as_str()
        .is_some_and(|m| m.contains("--password-file")));
    let out = d.path().join("report");
    let o = nkp()
        .args(["report", "--no-prompt", "--evidence"])
        .arg(d.path().join("ev"))
        .arg("--backups")
        .arg(&backups)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    let md = std::fs::read_to_string(out.join("evidence.md")).expect("md");
    assert!(md.contains("NKP-A.p12 | backup-unopened"), "{md}");
    assert!(!md.contains("[PASS] vcenter-9"), "{md}");
}

/// Review finding: an opened backup of an old key_id next to a file that could not be opened
/// (it may hold the live key_id) said `name-collision` and FAILed the backup control. It is
/// not known: `unverified`, and the control NOT-ASSESSED; the stale backup is still named.
#[test]
fn an_old_backup_next_to_an_unopened_one_is_unverified_not_failed() {
    let d = tempfile::tempdir().expect("tempdir");
    let backups = d.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    backup(&backups.join("old.p12"), "NKP-A", K1, "a", STRONG);
    backup(
        &backups.join("locked.p12"),
        "NKP-A",
        K2,
        "a2",
        "Another!Password#2026-x",
    );
    std::fs::write(d.path().join("pw.txt"), format!("{STRONG}\n")).expect("w");
    kms_ls(&d.path().join("ev/kms.json"), "NKP-A", K2);
    let (c, code, err) = json(
        nkp()
            .args(["--format", "json", "coverage", "--no-prompt", "--evidence"])
            .arg(d.path().join("ev"))
            .arg("--backups")
            .arg(&backups)
            .arg("--password-file")
            .arg(d.path().join("pw.txt")),
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(c["providers"][0]["status"], "unverified", "{c:#}");
    let codes: Vec<&str> = c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"NKP-UNREADABLE-BACKUP"), "{codes:?}");
    assert!(codes.contains(&"NKP-UNVERIFIED"), "{codes:?}");
    let out = d.path().join("report");
    nkp()
        .args(["report", "--no-prompt", "--evidence"])
        .arg(d.path().join("ev"))
        .arg("--backups")
        .arg(&backups)
        .arg("--password-file")
        .arg(d.path().join("pw.txt"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    let j: Value = serde_json::from_slice(&std::fs::read(out.join("evidence.json")).expect("json"))
        .expect("json");
    let control = j["controls"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["id"] == "vcenter-9.native-key-provider-backup")
                .cloned()
        })
        .expect("control");
    assert_eq!(control["result"], "NOT-ASSESSED", "{control:#}");
}

/// Found 3: two vCenters with a provider of the same name and different key_ids; a backup of
/// one made the name "covered" for both.
#[test]
fn each_vcenter_is_its_own_scope() {
    let d = tempfile::tempdir().expect("tempdir");
    let backups = d.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    backup(&backups.join("dr.p12"), "NKP-DR", K1, "dr", STRONG);
    std::fs::write(d.path().join("pw.txt"), format!("{STRONG}\n")).expect("w");
    kms_ls(&d.path().join("vc01/kms.json"), "NKP-DR", K1);
    kms_ls(&d.path().join("vc02/kms.json"), "NKP-DR", K2);
    let (c, code, err) = json(
        nkp()
            .args(["--format", "json", "coverage", "--evidence"])
            .arg(format!("vc01={}", d.path().join("vc01").display()))
            .arg(format!("vc02={}", d.path().join("vc02").display()))
            .arg("--backups")
            .arg(&backups)
            .arg("--password-file")
            .arg(d.path().join("pw.txt")),
    );
    assert_eq!(code, 3, "{err}");
    let row = |scope: &str| {
        c["providers"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["scope"] == scope).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(row("vc01")["status"], "covered", "{c:#}");
    assert_ne!(row("vc02")["status"], "covered", "{c:#}");
    assert_eq!(row("vc02")["key_id"], K2);
    assert!(c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .any(|f| f["scope"] == "vc02" && f["severity"] == "high"));
    // The table groups by scope.
    let o = nkp()
        .args(["--format", "table", "coverage", "--evidence"])
        .arg(format!("vc01={}", d.path().join("vc01").display()))
        .arg(format!("vc02={}", d.path().join("vc02").display()))
        .arg("--backups")
        .arg(&backups)
        .arg("--password-file")
        .arg(d.path().join("pw.txt"))
        .output()
        .expect("run");
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(
        t.contains("vc01") && t.contains("vc02") && t.contains("scope"),
        "{t}"
    );
}

/// The KDK is the identity: equal name and key_id with different KDKs is a conflict
/// (`resolve` says ambiguous, coverage does not say covered); the same KDK under another key_id
/// is one provider; a weak password is a finding and fails the password control.
#[test]
fn kdk_conflicts_relabelled_key_ids_and_weak_passwords() {
    let d = tempfile::tempdir().expect("tempdir");
    let backups = d.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    backup(&backups.join("c-real.p12"), "NKP-C", K1, "real", STRONG);
    backup(&backups.join("c-other.p12"), "NKP-C", K1, "other", STRONG);
    backup(&backups.join("r-old.p12"), "NKP-R", K1, "r", STRONG);
    backup(&backups.join("r-new.p12"), "NKP-R", K2, "r", "short7!");
    std::fs::write(d.path().join("pw.txt"), format!("{STRONG}\nshort7!\n")).expect("w");
    kms_ls(&d.path().join("ev/c.json"), "NKP-C", K1);
    kms_ls(&d.path().join("ev/r.json"), "NKP-R", K2);
    let run = |cmd: &str| {
        json(
            nkp()
                .args(["--format", "json", cmd, "--evidence"])
                .arg(d.path().join("ev"))
                .arg("--backups")
                .arg(&backups)
                .arg("--password-file")
                .arg(d.path().join("pw.txt")),
        )
    };
    let (c, code, _) = run("coverage");
    assert_eq!(code, 3);
    let status = |n: &str| {
        c["providers"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == n))
            .map(|p| p["status"].clone())
    };
    assert_eq!(status("NKP-C"), Some("kdk-conflict".into()), "{c:#}");
    assert_eq!(status("NKP-R"), Some("covered".into()), "{c:#}");
    let findings = c["findings"].as_array().expect("findings");
    let code_of = |code: &str| findings.iter().find(|f| f["code"] == code).cloned();
    let conflict = code_of("NKP-KDK-CONFLICT").expect("a conflict");
    assert_eq!(conflict["severity"], "high");
    assert_eq!(conflict["key_id"], K1);
    let relabel = code_of("NKP-KEYID-RELABELLED").expect("relabelled");
    assert!(relabel["kdk_fingerprint"]
        .as_str()
        .is_some_and(|k| k.starts_with("sha256:")));
    let weak = code_of("NKP-WEAK-PASSWORD").expect("weak password");
    assert!(weak["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("r-new.p12")));
    assert_eq!(findings[0]["severity"], "high", "most severe first");

    // resolve: a VM of NKP-C is ambiguous; both backups listed with their fingerprints.
    std::fs::write(
        d.path().join("ev/vm.vmx"),
        format!(
            "displayName = \"c-vm\"\nencryption.keySafe = \"vmware:key/list/(pair/(fqid/<VMWARE-NULL>/NKP-C/{K1},HMAC-SHA-256,abc))\"\n"
        ),
    )
    .expect("vmx");
    let (r, _, _) = run("resolve");
    let s = r["subjects"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["provider"] == "NKP-C").cloned())
        .unwrap_or(Value::Null);
    assert_eq!(s["verdict"], "ambiguous", "{r:#}");
    let fps: Vec<&str> = s["backups"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| b["kdk_fingerprint"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(fps.len(), 2, "{s:#}");
    assert_ne!(fps[0], fps[1]);

    // report: the password control fails on the weak password.
    let out = d.path().join("report");
    nkp()
        .args(["report", "--evidence"])
        .arg(d.path().join("ev"))
        .arg("--backups")
        .arg(&backups)
        .arg("--password-file")
        .arg(d.path().join("pw.txt"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out.join("evidence.json")).expect("json"))
            .expect("json");
    let vcfa = doc["controls"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == "VCFA-9X-000335").cloned())
        .expect("control");
    assert_eq!(vcfa["result"], "FAIL", "{vcfa:#}");
}

/// Deliver 4: more of what the estate says. `encryption.bundle` in a `.vmx` (and govc
/// `extraConfig`) marks an encrypted VM; `esxcli hardware trustedboot get` says whether a host
/// has a TPM, and a backup exported with "Require TPM" for a scope with a TPM-less host gets a
/// finding; logged key errors become `key-error` references with their locator.
#[test]
fn bundles_tpm_facts_and_logged_key_errors() {
    let d = tempfile::tempdir().expect("tempdir");
    let ev = d.path().join("ev");
    std::fs::create_dir_all(&ev).expect("mkdir");
    std::fs::write(
        ev.join("bundle-only.vmx"),
        "displayName = \"sealed-vm\"\nencryption.bundle = \"vmware:bundle/AAAAqwerty\"\n",
    )
    .expect("vmx");
    std::fs::write(
        ev.join("esxi61-trustedboot.txt"),
        "[root@esxi61:~] esxcli hardware trustedboot get\n   Drtm Enabled: false\n   Tpm Present: false\n",
    )
    .expect("esxcli");
    std::fs::write(
        ev.join("hostd.log"),
        format!(
            "[root@esxi61:~] tail /var/log/hostd.log\n2026-11-30T01:02:03Z error hostd[1] Unable to decrypt the ciphertext for vmware:key/list/(pair/(fqid/<VMWARE-NULL>/NKP-T/{K1},HMAC-SHA-256,abc))\n2026-11-30T01:02:04Z warning kmxa Failed to resolve key\n"
        ),
    )
    .expect("log");
    kms_ls(&ev.join("kms.json"), "NKP-T", K1);
    let (e, code, err) = json(nkp().args(["--format", "json", "evidence"]).arg(&ev));
    assert_eq!(code, 0, "{err}");
    let refs = e["references"].as_array().expect("references");
    let sealed = refs
        .iter()
        .find(|r| r["subject"]["name"] == "sealed-vm")
        .expect("the bundle-only VM");
    assert_eq!(sealed["state"], "needs-key");
    assert!(sealed["details"].to_string().contains("encryption.bundle"));
    let tpm = refs
        .iter()
        .find(|r| r["state"] == "host-fact")
        .expect("a host fact");
    assert_eq!(tpm["subject"]["name"], "esxi61");
    assert!(tpm["details"].to_string().contains("tpm-present: false"));
    let errors: Vec<&Value> = refs.iter().filter(|r| r["state"] == "key-error").collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors
        .iter()
        .any(|r| r["provider"] == "NKP-T" && r["key"] == K1));

    // A "Require TPM" backup of NKP-T, and a host without a TPM in the same scope.
    let backups = d.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    let kdk: Vec<u8> = <sha2::Sha256 as sha2::Digest>::digest(b"t").to_vec();
    let meta = format!(
        "{{\"provider\":\"NKP-T\",\"key_id\":\"{K1}\",\"export_time\":\"2026-01-01T00:00:00Z\",\"tpm_required\":true}}"
    );
    let b = Builder::new(strong(STRONG, 64))
        .bag(Content::SecretRaw(kdk), Some("NKP-T"), Some(b"k1"))
        .bag(Content::SecretJson(meta), None, Some(b"k1"));
    std::fs::write(backups.join("t.p12"), b.build()).expect("write");
    std::fs::write(d.path().join("pw.txt"), format!("{STRONG}\n")).expect("w");
    let (c, _, _) = json(
        nkp()
            .args(["--format", "json", "coverage", "--evidence"])
            .arg(&ev)
            .arg("--backups")
            .arg(&backups)
            .arg("--password-file")
            .arg(d.path().join("pw.txt")),
    );
    assert!(
        c["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "NKP-TPM-REQUIRED-NO-TPM"),
        "{c:#}"
    );
    let (r, _, _) = json(
        nkp()
            .args(["--format", "json", "resolve", "--evidence"])
            .arg(&ev)
            .arg("--backups")
            .arg(&backups)
            .arg("--password-file")
            .arg(d.path().join("pw.txt")),
    );
    let host = r["subjects"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["subject"]["name"] == "esxi61").cloned())
        .expect("the host with the logged error");
    let steps = host["steps"].to_string();
    assert!(steps.contains("cross-vCenter vMotion"), "{steps}");
    assert!(steps.contains("Require TPM"), "{steps}");
    assert!(steps.contains("set it as the default"), "{steps}");
}

fn backup_named(path: &Path, name: &str, key_id: &str, kdk_seed: &str) {
    backup(path, name, key_id, kdk_seed, STRONG);
}

/// Review findings: a name match alone, or one of two live key_ids, must not make the backup
/// control pass; an empty labelled scope must not vanish; a vault that does not verify does
/// not count; SC-12(1) wants the key_id, per scope.
#[test]
fn name_matches_empty_scopes_and_broken_vaults_never_pass() {
    let d = tempfile::tempdir().expect("tempdir");
    let backups = d.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    backup_named(&backups.join("p.p12"), "NKP-P", K1, "p");
    std::fs::write(d.path().join("pw.txt"), format!("{STRONG}\n")).expect("w");
    // Two live key_ids for NKP-P in one scope; only K1 has a backup.
    kms_ls(&d.path().join("two/a.json"), "NKP-P", K1);
    kms_ls(&d.path().join("two/b.json"), "NKP-P", K2);
    let run = |cmd: &str, evidence: &[String], extra: &[&str]| {
        let mut c = nkp();
        c.args(["--format", "json", cmd]);
        for e in evidence {
            c.arg("--evidence").arg(e);
        }
        c.arg("--backups")
            .arg(&backups)
            .arg("--password-file")
            .arg(d.path().join("pw.txt"))
            .args(extra);
        json(&mut c)
    };
    let two = d.path().join("two").display().to_string();
    let (c, code, _) = run("coverage", std::slice::from_ref(&two), &[]);
    assert_eq!(code, 3);
    let rows: Vec<(&str, &str)> = c["providers"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|p| {
            (
                p["key_id"].as_str().unwrap_or(""),
                p["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(rows.contains(&(K1, "covered")), "{rows:?}");
    assert!(
        rows.iter().any(|(k, s)| *k == K2 && *s != "covered"),
        "{rows:?}"
    );
    // A name match alone (the evidence states no key_id): unconfirmed, never a pass.
    std::fs::create_dir_all(d.path().join("vmonly")).expect("mkdir");
    std::fs::write(
        d.path().join("vmonly/vm.vmx"),
        format!("displayName = \"p-vm\"\nencryption.keySafe = \"vmware:key/list/(pair/(fqid/<VMWARE-NULL>/NKP-P/{K2},HMAC-SHA-256,abc))\"\n"),
    )
    .expect("vmx");
    let vmonly = d.path().join("vmonly").display().to_string();
    let (c, _, _) = run("coverage", std::slice::from_ref(&vmonly), &[]);
    assert_eq!(c["providers"][0]["status"], "unconfirmed", "{c:#}");
    let out = d.path().join("r1");
    let o = nkp()
        .args(["report", "--evidence", &vmonly, "--backups"])
        .arg(&backups)
        .arg("--password-file")
        .arg(d.path().join("pw.txt"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("[NOT-ASSESSED] vcenter-9.native-key-provider-backup"),
        "{stdout}"
    );
    // An empty labelled scope is an input problem.
    std::fs::create_dir_all(d.path().join("empty")).expect("mkdir");
    std::fs::write(d.path().join("empty/notes.txt"), "nothing\n").expect("w");
    let (_, code, err) = run(
        "coverage",
        &[
            format!("vc01={}", d.path().join("two").display()),
            format!("vc02={}", d.path().join("empty").display()),
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("scope vc02"), "{err}");
    // A vault whose object was deleted: not counted, and said so.
    let v = d.path().join("vault");
    let id = age::x25519::Identity::generate();
    nkp()
        .args(["--quiet", "vault", "init", "--vault"])
        .arg(&v)
        .arg("--recipient")
        .arg(format!("c={}", id.to_public()))
        .assert()
        .success();
    nkp()
        .args(["--quiet", "vault", "add", "--vault"])
        .arg(&v)
        .arg(backups.join("p.p12"))
        .arg("--password-file")
        .arg(d.path().join("pw.txt"))
        .assert()
        .success();
    for e in std::fs::read_dir(v.join("objects"))
        .expect("objects")
        .flatten()
    {
        std::fs::remove_file(e.path()).expect("rm");
    }
    let (r, code, err) = json(
        nkp()
            .args(["--format", "json", "resolve", "--evidence", &two, "--vault"])
            .arg(&v),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not counted"), "{err}");
    assert!(
        !r.to_string().contains("vault restore"),
        "a broken vault entry was offered: {r:#}"
    );
}

/// Review findings: a value read from a file (a provider name with a newline) cannot start a
/// line of output; `resolve` says when backups could not be opened; a KDK conflict with no
/// live key_id is ambiguous in `resolve` as in `coverage`.
#[test]
fn crafted_names_unopened_backups_and_conflicts_without_a_key_id() {
    let d = tempfile::tempdir().expect("tempdir");
    let backups = d.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    backup_named(
        &backups.join("evil.p12"),
        "NKP-X\\n[PASS] NIST-SC-12(1) forged",
        K1,
        "x",
    );
    backup_named(&backups.join("c1.p12"), "NKP-C", K1, "c1");
    backup_named(&backups.join("c2.p12"), "NKP-C", K1, "c2");
    std::fs::write(d.path().join("pw.txt"), format!("{STRONG}\n")).expect("w");
    std::fs::create_dir_all(d.path().join("ev")).expect("mkdir");
    std::fs::write(
        d.path().join("ev/vm.vmx"),
        format!("displayName = \"c-vm\"\nencryption.keySafe = \"vmware:key/list/(pair/(fqid/<VMWARE-NULL>/NKP-C/{K1},HMAC-SHA-256,abc))\"\n"),
    )
    .expect("vmx");
    let table = nkp()
        .args(["--format", "table", "coverage", "--evidence"])
        .arg(d.path().join("ev"))
        .arg("--backups")
        .arg(&backups)
        .arg("--password-file")
        .arg(d.path().join("pw.txt"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("[PASS]")),
        "a crafted name started a line: {text}"
    );
    let (r, _, _) = json(
        nkp()
            .args(["--format", "json", "resolve", "--evidence"])
            .arg(d.path().join("ev"))
            .arg("--backups")
            .arg(&backups)
            .arg("--password-file")
            .arg(d.path().join("pw.txt")),
    );
    assert_eq!(r["subjects"][0]["verdict"], "ambiguous", "{r:#}");
    // Without the passwords: resolve says the backups could not be opened.
    let (r, code, _) = json(
        nkp()
            .args(["--format", "json", "resolve", "--no-prompt", "--evidence"])
            .arg(d.path().join("ev"))
            .arg("--backups")
            .arg(&backups),
    );
    assert_eq!(code, 1);
    assert!(
        r["subjects"][0]["steps"][0]
            .as_str()
            .is_some_and(|s| s.contains("could not be opened")),
        "{r:#}"
    );
}

/// Issue 12, item 10 (done early, with issue 11's resolve work): the `vault restore` command
/// that `resolve` prints is complete as printed (it names the vault), and `--vault` falls back
/// to `$NKP_ESCROW_VAULT` in `resolve`.
#[test]
fn the_printed_restore_command_runs_as_printed() {
    let d = tempfile::tempdir().expect("tempdir");
    let backups = d.path().join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    backup_named(&backups.join("p.p12"), "NKP-P", K1, "p");
    std::fs::write(d.path().join("pw.txt"), format!("{STRONG}\n")).expect("w");
    kms_ls(&d.path().join("ev/kms.json"), "NKP-P", K1);
    std::fs::write(
        d.path().join("ev/vm.vmx"),
        format!("displayName = \"p-vm\"\nencryption.keySafe = \"vmware:key/list/(pair/(fqid/<VMWARE-NULL>/NKP-P/{K1},HMAC-SHA-256,abc))\"\n"),
    )
    .expect("vmx");
    let v = d.path().join("vault");
    let id = age::x25519::Identity::generate();
    let id_file = d.path().join("id.txt");
    std::fs::write(
        &id_file,
        format!(
            "{}\n",
            secrecy::ExposeSecret::expose_secret(&id.to_string())
        ),
    )
    .expect("id");
    nkp()
        .args(["--quiet", "vault", "init", "--vault"])
        .arg(&v)
        .arg("--recipient")
        .arg(format!("c={}", id.to_public()))
        .assert()
        .success();
    nkp()
        .args(["--quiet", "vault", "add", "--vault"])
        .arg(&v)
        .arg(backups.join("p.p12"))
        .arg("--password-file")
        .arg(d.path().join("pw.txt"))
        .assert()
        .success();
    // The vault from the environment, as the `vault` commands take it.
    let (r, code, err) = json(
        nkp()
            .env("NKP_ESCROW_VAULT", &v)
            .args(["--format", "json", "resolve", "--evidence"])
            .arg(d.path().join("ev")),
    );
    assert_eq!(code, 0, "{err}");
    let step = r["subjects"][0]["steps"]
        .as_array()
        .and_then(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .find(|s| s.contains("vault restore"))
        })
        .expect("a vault restore step")
        .to_string();
    // The command is the lines after the sentence, with shell line continuations.
    let cmd = step
        .split_once('\n')
        .map(|(_, c)| c.to_string())
        .expect("the command on its own lines");
    assert!(
        cmd.contains("--vault") && !cmd.contains('<'),
        "no placeholder: {cmd}"
    );
    // Run exactly as printed, by a shell, with the custodian's identity in the environment and
    // the binary first on PATH.
    let bin = assert_cmd::cargo::cargo_bin("nkp-escrow");
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .current_dir(d.path())
        .env("PATH", path)
        .env("NKP_ESCROW_IDENTITY", &id_file)
        .output()
        .expect("sh");
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The restore was recorded with the reason the command carries.
    let log = nkp()
        .args(["--format", "json", "vault", "log", "--vault"])
        .arg(&v)
        .output()
        .expect("log");
    assert!(String::from_utf8_lossy(&log.stdout).contains("resolve: restore NKP-P"));
    std::fs::rename(d.path().join("NKP-P.p12"), d.path().join("out.p12")).expect("restored file");
    assert_eq!(
        std::fs::read(d.path().join("out.p12")).expect("restored"),
        std::fs::read(backups.join("p.p12")).expect("original")
    );
}

/// Issue 12, item 12 (in part): the exit codes are in `--help`.
#[test]
fn help_states_the_exit_codes_and_the_vault_variable() {
    let o = nkp().arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "EXIT STATUS",
        "  1  an input could not be processed",
        "NKP_ESCROW_VAULT",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
    let o = nkp().args(["coverage", "--help"]).output().expect("run");
    assert!(String::from_utf8_lossy(&o.stdout).contains("[env: NKP_ESCROW_VAULT"));
}

/// Review finding: a report over a vault alone (no --backups) passed the password-strength
/// controls without any password having been checked. Now `vault add` records the strength
/// of the password it escrows: a weak one fails the controls from the vault alone, and
/// entries added before the strength was recorded make them NOT-ASSESSED, never PASS.
#[test]
fn a_vault_alone_never_passes_unchecked_password_strength() {
    let d = tempfile::tempdir().expect("tempdir");
    kms_ls(&d.path().join("ev/w.json"), "NKP-W", K1);
    let id = age::x25519::Identity::generate();
    let control = |vault: &Path, n: usize| -> (Value, Value) {
        let out = d.path().join(format!("report-{n}"));
        let o = nkp()
            .args(["report", "--no-prompt", "--evidence"])
            .arg(d.path().join("ev"))
            .arg("--vault")
            .arg(vault)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run");
        let j: Value =
            serde_json::from_slice(&std::fs::read(out.join("evidence.json")).unwrap_or_default())
                .unwrap_or(Value::Null);
        let c = j["controls"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == "VCFA-9X-000335").cloned())
            .unwrap_or_else(|| panic!("no control: {}", String::from_utf8_lossy(&o.stderr)));
        (c, j)
    };
    for (n, (password, want)) in [("short7!", "FAIL"), (STRONG, "PASS")]
        .into_iter()
        .enumerate()
    {
        let v = d.path().join(format!("vault-{n}"));
        nkp()
            .args(["--quiet", "vault", "init", "--vault"])
            .arg(&v)
            .arg("--recipient")
            .arg(format!("c={}", id.to_public()))
            .assert()
            .success();
        let p12 = d.path().join(format!("w-{n}.p12"));
        backup(&p12, "NKP-W", K1, "w", password);
        std::fs::write(d.path().join("pw.txt"), format!("{password}\n")).expect("w");
        nkp()
            .args(["--quiet", "vault", "add", "--no-prompt", "--vault"])
            .arg(&v)
            .arg(&p12)
            .arg("--password-file")
            .arg(d.path().join("pw.txt"))
            .assert()
            .success();
        let (c, j) = control(&v, n);
        assert_eq!(c["result"], want, "{c:#}");
        if want == "FAIL" {
            assert!(j.to_string().contains("NKP-WEAK-PASSWORD"), "{j:#}");
        }
    }
    // A vault written before the strength was recorded (the frozen format-2 vector).
    let old = d.path().join("old");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("vault/tests/vectors/v2/valid"),
        &old,
    );
    let (c, _) = control(&old, 9);
    assert_eq!(c["result"], "NOT-ASSESSED", "{c:#}");
    assert!(
        c["facts"].to_string().contains("password strength"),
        "{c:#}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}
