//! Issue 10, vault format 2: custody you can prove. Each test reproduces one finding of the
//! issue against the binary: an edited `vault.yaml`, a crash at every step of `rekey`, a writer
//! with a stale view, a rollback past a trusted checkpoint, an unsigned tail, a mistyped
//! passphrase, unrecorded restores and drills, an unreadable checkpoint file, and a format-1
//! vault. Each fails on the format-1 code and passes on format 2.

#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use secrecy::ExposeSecret;
use serde_json::Value;

fn nkp() -> Command {
    Command::cargo_bin("nkp-escrow").expect("binary")
}

fn share() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share")
}

/// An age identity file and its recipient.
fn identity(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).expect("identity");
    (path, id.to_public().to_string())
}

/// A vault for these `label=recipient` custodians.
fn init(dir: &Path, custodians: &[(&str, &str)]) -> PathBuf {
    let v = dir.join("vault");
    let mut c = nkp();
    c.args(["--quiet", "vault", "init", "--vault"]).arg(&v);
    for (label, r) in custodians {
        c.arg("--recipient").arg(format!("{label}={r}"));
    }
    c.assert().success();
    v
}

fn add(v: &Path, file: &str) -> std::process::Output {
    nkp()
        .args(["--quiet", "vault", "add", "--vault"])
        .arg(v)
        .arg(share().join(file))
        .arg("--password-file")
        .arg(share().join("passwords.txt"))
        .arg("--no-prompt")
        .output()
        .expect("run")
}

fn json_of(cmd: &mut Command) -> (i32, Value) {
    let o = cmd.output().expect("run");
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code().unwrap_or(-1), v)
}

fn verify(v: &Path) -> (i32, Value) {
    json_of(
        nkp()
            .args(["--format", "json", "vault", "verify", "--vault"])
            .arg(v),
    )
}

fn kinds(r: &Value, key: &str) -> Vec<String> {
    r[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Every file under `dir` (except the lock) and its bytes: to show nothing was written.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != ".lock") {
                out.insert(p.clone(), std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

/// Found 1: replace, add or remove a recipient in `vault.yaml` (or relabel one): `verify`
/// fails with exit 3, and `add`, `drill`, `checkpoint` and `rekey` refuse with nothing written.
#[test]
fn vault_yaml_edits_fail_verify_and_stop_every_writer() {
    let d = tempfile::tempdir().expect("tempdir");
    let (alice_id, alice) = identity(d.path(), "alice.key");
    let (_, bob) = identity(d.path(), "bob.key");
    let (_, mallory) = identity(d.path(), "mallory.key");
    let v = init(d.path(), &[("alice", &alice), ("bob", &bob)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let yaml = std::fs::read_to_string(v.join("vault.yaml")).expect("yaml");
    let key = d.path().join("cp.key");
    nkp()
        .args(["vault", "checkpoint-key", "--out"])
        .arg(&key)
        .assert()
        .success();
    let edits = [
        ("swapped", yaml.replace(&bob, &mallory)),
        (
            "added",
            yaml.replace(
                "passphrase:",
                &format!("- label: mallory\n  recipient: {mallory}\npassphrase:"),
            ),
        ),
        ("removed", {
            let start = yaml.find("- label: bob").expect("bob in yaml");
            let end = yaml.find("passphrase:").expect("passphrase in yaml");
            format!("{}{}", &yaml[..start], &yaml[end..])
        }),
        ("relabelled", yaml.replace("label: bob", "label: carol")),
    ];
    for (what, edited) in edits {
        assert_ne!(edited, yaml, "{what}: the edit changed nothing");
        std::fs::write(v.join("vault.yaml"), &edited).expect("edit");
        let (code, r) = verify(&v);
        assert_eq!(code, 3, "{what}: {r:#}");
        assert!(
            kinds(&r, "problems")
                .iter()
                .any(|p| p.starts_with("vault.yaml does not match")),
            "{what}: {r:#}"
        );
        let before = snapshot(&v);
        let out = add(&v, "nkp-dr-2024.p12");
        assert!(!out.status.success(), "{what}: add was not refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("does not match the custodians"),
            "{what}: {err}"
        );
        assert!(
            !err.contains(&mallory),
            "{what}: a key from the file was echoed"
        );
        for cmd in [
            vec!["vault", "drill", "--identity"],
            vec!["vault", "checkpoint", "--key"],
        ] {
            let mut c = nkp();
            c.args(&cmd);
            c.arg(if cmd[1] == "drill" { &alice_id } else { &key });
            c.arg("--vault").arg(&v);
            let o = c.output().expect("run");
            assert!(!o.status.success(), "{what}: {cmd:?} was not refused");
        }
        assert!(
            snapshot(&v) == before,
            "{what}: a refused writer changed the vault"
        );
    }
    // Put back, everything works again.
    std::fs::write(v.join("vault.yaml"), &yaml).expect("restore yaml");
    assert_eq!(verify(&v).0, 0);
    assert!(add(&v, "nkp-dr-2024.p12").status.success());
}

/// Found 1: a crash at every step of `rekey` (from alice to bob), then an `add`: the new entry
/// is encrypted to the set the chain records, never to a revoked one: bob only once the rekey
/// committed (one manifest line records the moves and the set), alice only if it had not.
#[test]
fn a_crash_at_every_rekey_step_never_sends_adds_to_a_revoked_set() {
    let points = [
        ("object:before-rename", false),
        ("object:after-rename", false),
        ("rekey:before-commit", false),
        ("manifest:before-rename", false),
        ("manifest:after-rename", true),
        ("append:before-head", true),
        ("head:before-rename", true),
        ("head:after-rename", true),
        ("config:before-rename", true),
        ("config:after-rename", true),
        ("rekey:before-cleanup", true),
    ];
    for (point, committed) in points {
        let d = tempfile::tempdir().expect("tempdir");
        let (alice_id, alice) = identity(d.path(), "alice.key");
        let (bob_id, bob) = identity(d.path(), "bob.key");
        let v = init(d.path(), &[("alice", &alice)]);
        assert!(add(&v, "NKP-PROD.p12").status.success());
        let crashed = nkp()
            .env("NKP_VAULT_FAILPOINT", point)
            .args(["--quiet", "vault", "rekey", "--yes", "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(&alice_id)
            .arg("--recipient")
            .arg(format!("bob={bob}"))
            .output()
            .expect("run");
        assert!(
            !crashed.status.success(),
            "{point}: the failpoint did not fire"
        );
        let (code, r) = verify(&v);
        assert_eq!(code, 0, "{point}: {r:#}");
        assert!(add(&v, "nkp-dr-2024.p12").status.success(), "{point}");
        let (code, r) = verify(&v);
        assert_eq!(code, 0, "{point}: {r:#}");
        assert!(
            !kinds(&r, "warnings")
                .iter()
                .any(|w| w.starts_with("vault.yaml still")),
            "{point}: the add completed vault.yaml: {r:#}"
        );
        let vault = nkp_vault::Vault::open(&v).expect("open");
        let new_entry = vault
            .entries()
            .expect("entries")
            .into_iter()
            .find(|e| e.provider.as_deref() == Some("NKP-DR"))
            .expect("the new entry");
        let alice_ids = nkp_vault::Identities::from_file(&alice_id).expect("alice");
        let bob_ids = nkp_vault::Identities::from_file(&bob_id).expect("bob");
        let (opens, refused) = if committed {
            (&bob_ids, &alice_ids)
        } else {
            (&alice_ids, &bob_ids)
        };
        assert!(vault.open_entry(&new_entry, opens).is_ok(), "{point}");
        assert!(
            vault.open_entry(&new_entry, refused).is_err(),
            "{point}: the new entry opens for a custodian the chain does not record"
        );
        let set = vault.custodians().expect("read").expect("a set");
        let labels: Vec<&str> = set.custodians.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, [if committed { "bob" } else { "alice" }], "{point}");
    }
}

/// Found 1: `add` read `vault.yaml` before the lock, so an add racing a rekey encrypted to the
/// old set after the rekey finished. A writer opened before a rekey now encrypts to the set the
/// chain records when it takes the lock.
#[test]
fn a_writer_opened_before_a_rekey_encrypts_to_the_new_set() {
    let d = tempfile::tempdir().expect("tempdir");
    let (alice_id, alice) = identity(d.path(), "alice.key");
    let (bob_id, bob) = identity(d.path(), "bob.key");
    let v = init(d.path(), &[("alice", &alice)]);
    let stale = nkp_vault::Vault::open(&v).expect("open before the rekey");
    nkp()
        .args(["--quiet", "vault", "rekey", "--yes", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&alice_id)
        .arg("--recipient")
        .arg(format!("bob={bob}"))
        .assert()
        .success();
    assert_eq!(stale.config.recipients[0].label, "alice", "the stale view");
    let added = stale
        .add(
            vec![(
                zeroize::Zeroizing::new(b"fake p12".to_vec()),
                None,
                nkp_vault::Facts {
                    provider: Some("NKP-X".into()),
                    label: "x".into(),
                    ..Default::default()
                },
            )],
            None,
        )
        .expect("add");
    assert_eq!(added.len(), 1);
    let e = stale.find("NKP-X").expect("entry");
    let alice_ids = nkp_vault::Identities::from_file(&alice_id).expect("alice");
    let bob_ids = nkp_vault::Identities::from_file(&bob_id).expect("bob");
    assert!(stale.open_entry(&e, &bob_ids).is_ok());
    assert!(stale.open_entry(&e, &alice_ids).is_err());
}

fn checkpoint(v: &Path, key: &Path) {
    nkp()
        .args(["--quiet", "vault", "checkpoint", "--vault"])
        .arg(v)
        .arg("--key")
        .arg(key)
        .assert()
        .success();
}

/// Found 4: a rollback to an older checkpointed state (manifest cut, HEAD rewritten, the later
/// checkpoint dropped) passed `verify --trusted-key`; lines after the last checkpoint were
/// accepted. Now the pinned head fails it, the report says how old the newest trusted
/// checkpoint is, and an unsigned tail fails unless accepted explicitly.
#[test]
fn a_rollback_fails_against_the_pinned_head_and_an_unsigned_tail_fails() {
    let d = tempfile::tempdir().expect("tempdir");
    let (id, alice) = identity(d.path(), "alice.key");
    let v = init(d.path(), &[("alice", &alice)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let key = d.path().join("cp.key");
    let out = nkp()
        .args(["vault", "checkpoint-key", "--out"])
        .arg(&key)
        .output()
        .expect("run");
    let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
    checkpoint(&v, &key);
    let old_manifest = std::fs::read(v.join("manifest.jsonl")).expect("read");
    let old_head = std::fs::read(v.join("HEAD")).expect("read");
    let old_cps = std::fs::read(v.join("checkpoints.jsonl")).expect("read");
    assert!(add(&v, "nkp-dr-2024.p12").status.success());
    checkpoint(&v, &key);
    let trusted = |extra: &[&str]| {
        json_of(
            nkp()
                .args([
                    "--format",
                    "json",
                    "vault",
                    "verify",
                    "--trusted-key",
                    &public,
                ])
                .args(extra)
                .arg("--vault")
                .arg(&v),
        )
    };
    let (code, r) = trusted(&[]);
    assert_eq!(code, 0, "{r:#}");
    let head = r["head"].as_str().expect("head").to_string();
    let hash = head.split(' ').nth(1).expect("hash").to_string();
    assert_eq!(r["newest_trusted_checkpoint"]["seq"], 3);
    assert_eq!(r["unsigned_events"], 0);

    // The rollback: NKP-DR's entry disappears; everything left is consistent and signed.
    std::fs::write(v.join("manifest.jsonl"), &old_manifest).expect("cut");
    std::fs::write(v.join("HEAD"), &old_head).expect("head");
    std::fs::write(v.join("checkpoints.jsonl"), &old_cps).expect("drop the later checkpoint");
    let (code, r) = trusted(&[]);
    assert_eq!(
        code, 0,
        "without a pin a rollback to a signed state verifies: {r:#}"
    );
    assert_eq!(r["newest_trusted_checkpoint"]["seq"], 2);
    for pin in [
        vec!["--expect-head", &hash],
        vec!["--expect-head", &head],
        vec!["--expect-seq", "3"],
    ] {
        let (code, r) = trusted(&pin);
        assert_eq!(code, 3, "{pin:?}: {r:#}");
        assert!(
            kinds(&r, "problems")
                .iter()
                .any(|p| p.contains("rolled back")),
            "{pin:?}: {r:#}"
        );
    }
    // The human report says how old the newest trusted checkpoint is and what was pinned.
    let table = nkp()
        .args([
            "--format",
            "table",
            "vault",
            "verify",
            "--trusted-key",
            &public,
            "--vault",
        ])
        .arg(&v)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("newest trusted checkpoint: seq 2 signed "),
        "{text}"
    );
    assert!(text.contains(" ago)"), "{text}");
    assert!(text.contains("no state pinned"), "{text}");

    // An event after the newest trusted checkpoint (here a real drill; a forged line is the
    // same to the verifier) fails unless accepted explicitly.
    nkp()
        .args(["--quiet", "vault", "drill", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&id)
        .assert()
        .success();
    let (code, r) = trusted(&[]);
    assert_eq!(code, 3, "{r:#}");
    assert!(
        kinds(&r, "problems")
            .iter()
            .any(|p| p.contains("signed by nobody")),
        "{r:#}"
    );
    assert_eq!(r["unsigned_events"], 1);
    let (code, r) = trusted(&["--allow-unsigned-tail"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(
        kinds(&r, "warnings")
            .iter()
            .any(|w| w.contains("signed by nobody")),
        "{r:#}"
    );
}

/// Found 5 and 6: restores left no trace and drills did not say who ran them; a stranger's
/// drill was recorded as a failure. Now both record the custodian, OS user and host (and the
/// restore its reason), `vault log` shows them, a stranger is refused before anything is
/// recorded, and coverage names custodians who never drilled.
#[test]
fn restores_and_drills_are_recorded_with_who_where_and_why() {
    let d = tempfile::tempdir().expect("tempdir");
    let (alice_id, alice) = identity(d.path(), "alice.key");
    let (_, bob) = identity(d.path(), "bob.key");
    let (stranger_id, _) = identity(d.path(), "stranger.key");
    let v = init(d.path(), &[("alice", &alice), ("bob", &bob)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let out = d.path().join("prod.p12");
    nkp()
        .args(["--quiet", "vault", "restore", "NKP-PROD", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&alice_id)
        .args(["--reason", "INC-4711 locked VM win11-52"])
        .arg("--out")
        .arg(&out)
        .arg("--password-out")
        .arg(d.path().join("prod.pw"))
        .assert()
        .success();
    nkp()
        .args(["--quiet", "vault", "drill", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&alice_id)
        .assert()
        .success();
    let before = snapshot(&v);
    for cmd in ["drill", "restore"] {
        let mut c = nkp();
        c.args(["vault", cmd, "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(&stranger_id);
        if cmd == "restore" {
            c.arg("NKP-PROD").arg("--out").arg(d.path().join("s.p12"));
        }
        let o = c.output().expect("run");
        assert!(!o.status.success(), "{cmd}: a stranger was not refused");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("not one of the vault's custodians (alice, bob)"),
            "{cmd}: {err}"
        );
    }
    assert!(
        snapshot(&v) == before,
        "a refused stranger changed the vault"
    );
    assert!(!d.path().join("s.p12").exists());

    let (code, log) = json_of(
        nkp()
            .args(["--format", "json", "vault", "log", "--vault"])
            .arg(&v),
    );
    assert_eq!(code, 0);
    let events = log["events"].as_array().expect("events");
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["custodians", "add", "restore", "drill"]);
    let restore = &events[2];
    assert_eq!(restore["by"]["custodian"], "alice");
    assert_eq!(restore["reason"], "INC-4711 locked VM win11-52");
    assert!(restore["by"]["user"]
        .as_str()
        .is_some_and(|u| u.contains("uid ")));
    assert!(restore["by"]["host"]
        .as_str()
        .is_some_and(|h| !h.is_empty()));
    assert_eq!(events[3]["by"]["custodian"], "alice");
    assert!(restore["by"]["fingerprint"]
        .as_str()
        .is_some_and(|f| f.len() == "sha256:".len() + 64));
    let table = nkp()
        .args(["--format", "table", "vault", "log", "--vault"])
        .arg(&v)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("RESTORE of "), "{text}");
    assert!(text.contains("reason: INC-4711"), "{text}");

    // Coverage: bob has never drilled.
    let (_, c) = json_of(
        nkp()
            .args(["--format", "json", "coverage", "--evidence"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/vcsa"))
            .arg("--vault")
            .arg(&v),
    );
    let never: Vec<&str> = c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "VAULT-CUSTODIAN-NEVER-DRILLED")
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert_eq!(never.len(), 1, "{c:#}");
    assert!(never[0].starts_with("custodian bob "), "{never:?}");
}

/// Found 3: a passphrase vault took whatever passphrase was typed. Now `init` makes a verifier,
/// a different passphrase is refused before anything is written, and `--passphrase-file`
/// serves unattended use.
#[test]
fn a_passphrase_vault_refuses_a_mistyped_passphrase_before_writing() {
    let d = tempfile::tempdir().expect("tempdir");
    let good = d.path().join("good.pass");
    let typo = d.path().join("typo.pass");
    std::fs::write(&good, "correct horse battery staple\n").expect("write");
    std::fs::write(&typo, "correct horse battery stapel\n").expect("write");
    let v = d.path().join("vault");
    nkp()
        .args(["--quiet", "vault", "init", "--passphrase", "--vault"])
        .arg(&v)
        .arg("--passphrase-file")
        .arg(&good)
        .assert()
        .success();
    let (code, r) = verify(&v);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["mode"], "passphrase");
    let before = snapshot(&v);
    let o = nkp()
        .args(["vault", "add", "--vault"])
        .arg(&v)
        .arg(share().join("nkp-dr-2024.p12"))
        .arg("--password-file")
        .arg(share().join("passwords.txt"))
        .arg("--passphrase-file")
        .arg(&typo)
        .output()
        .expect("run");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not the vault's passphrase"), "{err}");
    assert!(!err.contains("stapel"), "the passphrase was echoed: {err}");
    assert!(snapshot(&v) == before, "a refused add changed the vault");
    nkp()
        .args(["--quiet", "vault", "add", "--vault"])
        .arg(&v)
        .arg(share().join("nkp-dr-2024.p12"))
        .arg("--password-file")
        .arg(share().join("passwords.txt"))
        .arg("--passphrase-file")
        .arg(&good)
        .assert()
        .success();
    let before = snapshot(&v);
    let o = nkp()
        .args(["vault", "drill", "--vault"])
        .arg(&v)
        .arg("--passphrase-file")
        .arg(&typo)
        .output()
        .expect("run");
    assert!(!o.status.success());
    assert!(snapshot(&v) == before, "a refused drill changed the vault");
    nkp()
        .args(["--quiet", "vault", "drill", "--vault"])
        .arg(&v)
        .arg("--passphrase-file")
        .arg(&good)
        .assert()
        .success();
    let (code, r) = verify(&v);
    assert_eq!(code, 0, "{r:#}");
}

/// Found 8: an unreadable `checkpoints.jsonl` was silently replaced by `vault checkpoint` and
/// ignored by `verify`. (A directory in its place is unreadable even for root, which CI is.)
#[test]
fn an_unreadable_checkpoint_file_is_a_problem_and_never_replaced() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, alice) = identity(d.path(), "alice.key");
    let v = init(d.path(), &[("alice", &alice)]);
    std::fs::create_dir(v.join("checkpoints.jsonl")).expect("mkdir");
    let (code, r) = verify(&v);
    assert_eq!(code, 3, "{r:#}");
    assert!(
        kinds(&r, "problems")
            .iter()
            .any(|p| p.starts_with("checkpoints.jsonl: cannot read")),
        "{r:#}"
    );
    let key = d.path().join("cp.key");
    nkp()
        .args(["vault", "checkpoint-key", "--out"])
        .arg(&key)
        .assert()
        .success();
    let o = nkp()
        .args(["vault", "checkpoint", "--vault"])
        .arg(&v)
        .arg("--key")
        .arg(&key)
        .output()
        .expect("run");
    assert!(!o.status.success());
    assert!(v.join("checkpoints.jsonl").is_dir(), "it was replaced");
}

/// Format 1 is read and verified (with a warning that its custodians are not in the chain),
/// refused by every writer, and upgraded by `vault upgrade`, which records the set as an event.
#[test]
fn a_format_1_vault_is_verified_refused_for_writes_and_upgraded() {
    let d = tempfile::tempdir().expect("tempdir");
    let v = d.path().join("v1");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("vault/tests/vectors/v1/valid"),
        &v,
    );
    std::fs::remove_file(v.join("expected.json")).expect("rm");
    let (code, r) = verify(&v);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["format"], "nkp-vault/1");
    assert!(
        kinds(&r, "warnings")
            .iter()
            .any(|w| w.contains("vault upgrade")),
        "{r:#}"
    );
    let events = r["events"].as_u64().expect("events");
    // Format 1 records short fingerprints in each add: an edited vault.yaml still shows.
    let yaml = std::fs::read_to_string(v.join("vault.yaml")).expect("yaml");
    let other = age::x25519::Identity::generate().to_public().to_string();
    let line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("recipient: "))
        .expect("a recipient line")
        .to_string();
    std::fs::write(
        v.join("vault.yaml"),
        yaml.replace(&line, &format!("  recipient: {other}")),
    )
    .expect("edit");
    let (code, r) = verify(&v);
    assert_eq!(code, 3, "{r:#}");
    assert!(
        kinds(&r, "problems")
            .iter()
            .any(|p| p.contains("not the ones the last add or rekey recorded")),
        "{r:#}"
    );
    assert!(!nkp()
        .args(["vault", "upgrade", "--vault"])
        .arg(&v)
        .output()
        .expect("run")
        .status
        .success());
    std::fs::write(v.join("vault.yaml"), &yaml).expect("put back");
    let identity =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("vault/tests/vectors/test-identity.txt");
    let before = snapshot(&v);
    let o = add(&v, "NKP-PROD.p12");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("vault upgrade"));
    assert!(snapshot(&v) == before);
    nkp()
        .args(["--quiet", "vault", "upgrade", "--vault"])
        .arg(&v)
        .assert()
        .success();
    let (code, r) = verify(&v);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["format"], "nkp-vault/2");
    assert_eq!(r["events"].as_u64(), Some(events + 1));
    assert_eq!(r["custodians"][0]["label"], "test-only");
    assert!(kinds(&r, "warnings").is_empty(), "{r:#}");
    let (_, log) = json_of(
        nkp()
            .args(["--format", "json", "vault", "log", "--vault"])
            .arg(&v),
    );
    let last = log["events"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .expect("an event");
    assert_eq!(last["type"], "custodians");
    assert_eq!(last["reason"], "upgrade from nkp-vault/1");
    // Writers work again, and every object still decrypts.
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let (code, r) = json_of(
        nkp()
            .args(["--format", "json", "vault", "verify", "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(&identity),
    );
    assert_eq!(code, 0, "{r:#}");
    // A second upgrade is refused.
    assert!(!nkp()
        .args(["vault", "upgrade", "--vault"])
        .arg(&v)
        .output()
        .expect("run")
        .status
        .success());
}

/// Found 10: entry ids were 48 bits and recipient fingerprints 64. Now 128 and 256; prefixes
/// still find entries.
#[test]
fn entry_ids_are_128_bit_and_fingerprints_full_length() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, alice) = identity(d.path(), "alice.key");
    let v = init(d.path(), &[("alice", &alice)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let (_, list) = json_of(
        nkp()
            .args(["--format", "json", "vault", "list", "--vault"])
            .arg(&v),
    );
    let e = &list["entries"][0];
    let id = e["id"].as_str().expect("id");
    assert_eq!(id.len(), 32);
    assert_eq!(
        e["recipients"][0].as_str().map(str::len),
        Some("sha256:".len() + 64)
    );
    let (code, log) = json_of(
        nkp()
            .args([
                "--format",
                "json",
                "vault",
                "log",
                "--entry",
                &id[..6],
                "--vault",
            ])
            .arg(&v),
    );
    assert_eq!(code, 0);
    assert_eq!(log["events"][0]["entry"], id);
}

#[test]
fn the_reference_age_tool_sees_the_stanzas_verify_counts() {
    // `verify` counts stanzas in the header without a key; `age` itself must agree that the
    // object opens with the custodian's identity (the interop the keyless check relies on).
    if std::process::Command::new("age")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: the age tool is not installed");
        return;
    }
    let d = tempfile::tempdir().expect("tempdir");
    let (alice_id, alice) = identity(d.path(), "alice.key");
    let (bob_id, bob) = identity(d.path(), "bob.key");
    let v = init(d.path(), &[("alice", &alice), ("bob", &bob)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let entry = nkp_vault::Vault::open(&v)
        .expect("open")
        .entries()
        .expect("entries")
        .remove(0);
    let object = v.join("objects").join(format!("{}.age", entry.object));
    let bytes = std::fs::read(&object).expect("object");
    let stanzas = nkp_vault::header::stanzas(&bytes).expect("header");
    assert_eq!(stanzas.iter().filter(|s| s.tag == "X25519").count(), 2);
    for id in [&alice_id, &bob_id] {
        let o = std::process::Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(id)
            .arg(&object)
            .output()
            .expect("age");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// Edit the manifest's events and re-chain every line (`seq`, `prev`, `HEAD`), as someone who
/// can write the folder but holds no checkpoint key would.
fn rechain(v: &Path, edit: impl FnOnce(&mut Vec<Value>)) {
    let text = std::fs::read_to_string(v.join("manifest.jsonl")).expect("manifest");
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a line"))
        .collect();
    edit(&mut lines);
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for (i, mut l) in lines.into_iter().enumerate() {
        l["seq"] = serde_json::json!(i + 1);
        l["prev"] = Value::String(prev.clone());
        let line = serde_json::to_string(&l).expect("json");
        prev = nkp_vault::store::sha256_hex(line.as_bytes());
        out.push_str(&line);
        out.push('\n');
    }
    let n = out.lines().count();
    std::fs::write(v.join("manifest.jsonl"), out).expect("write");
    std::fs::write(v.join("HEAD"), format!("{n} {prev}\n")).expect("head");
}

fn problem_kinds_contain(r: &Value, needle: &str) -> bool {
    kinds(r, "problems").iter().any(|p| p.contains(needle))
}

/// Review finding: one appended rekey line without a custodian set, pointing an entry at an
/// object re-encrypted to an extra key, turned the recipient check off. Now such a line is a
/// problem, and the object is still held to the set in force.
#[test]
fn an_appended_rekey_without_a_set_cannot_add_a_recipient() {
    let d = tempfile::tempdir().expect("tempdir");
    let (alice_id, alice) = identity(d.path(), "alice.key");
    let (_, mallory) = identity(d.path(), "mallory.key");
    let v = init(d.path(), &[("alice", &alice)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let vault = nkp_vault::Vault::open(&v).expect("open");
    let e = vault.entries().expect("entries").remove(0);
    let ids = nkp_vault::Identities::from_file(&alice_id).expect("alice");
    let env = vault.open_entry(&e, &ids).expect("decrypts");
    let plain = serde_json::to_vec(&env).expect("envelope");
    let mut cipher = Vec::new();
    {
        use std::io::Write;
        let rs: Vec<Box<dyn age::Recipient + Send>> = [&alice, &mallory]
            .iter()
            .map(|r| nkp_vault::crypto::parse_recipient(r).expect("recipient"))
            .collect();
        let enc =
            age::Encryptor::with_recipients(rs.iter().map(|r| r.as_ref() as &dyn age::Recipient))
                .expect("encryptor");
        let mut w = enc.wrap_output(&mut cipher).expect("wrap");
        w.write_all(&plain).expect("write");
        w.finish().expect("finish");
    }
    let object = nkp_vault::store::sha256_hex(&cipher);
    std::fs::write(v.join("objects").join(format!("{object}.age")), &cipher).expect("object");
    let fps = vec![
        nkp_vault::custody::fingerprint(&alice),
        nkp_vault::custody::fingerprint(&mallory),
    ];
    rechain(&v, |lines| {
        lines.push(
            serde_json::json!({"type": "rekey", "at": "2026-12-02T00:00:00Z",
            "moves": [{"entry": e.id, "old_object": e.object, "new_object": object}],
            "recipients": fps}),
        );
    });
    let (code, r) = verify(&v);
    assert_eq!(code, 3, "{r:#}");
    assert!(
        problem_kinds_contain(&r, "a rekey that records no custodian set"),
        "{r:#}"
    );
    assert!(
        problem_kinds_contain(&r, "not encrypted to exactly the recorded custodians"),
        "{r:#}"
    );
}

/// Review finding: a forged `custodians` line that swaps a key but keeps the old fingerprint
/// looked unchanged. Fingerprints are recomputed, and a set is only where writers put one.
#[test]
fn a_forged_custodian_set_is_found_by_its_fingerprints_and_its_place() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, alice) = identity(d.path(), "alice.key");
    let (_, mallory) = identity(d.path(), "mallory.key");
    let v = init(d.path(), &[("alice", &alice)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let yaml = std::fs::read_to_string(v.join("vault.yaml")).expect("yaml");
    rechain(&v, |lines| {
        let mut forged = lines[0].clone();
        forged["set"]["custodians"][0]["recipient"] = Value::String(mallory.clone());
        lines.push(forged);
    });
    std::fs::write(v.join("vault.yaml"), yaml.replace(&alice, &mallory)).expect("yaml");
    let (code, r) = verify(&v);
    assert_eq!(code, 3, "{r:#}");
    assert!(
        problem_kinds_contain(&r, "is not the SHA-256 of its key"),
        "{r:#}"
    );
    assert!(
        problem_kinds_contain(&r, "a custodian set out of place"),
        "{r:#}"
    );
    // Writers refuse to extend such a history, with nothing written.
    let before = snapshot(&v);
    let o = add(&v, "nkp-dr-2024.p12");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("nothing was written"), "{err}");
    assert!(snapshot(&v) == before);
}

/// Review finding: readers used an uncapped read of the manifest, so a FIFO hung them (and
/// `add` held the lock while hanging) and a link to /dev/zero grew without bound.
#[test]
fn a_planted_manifest_neither_hangs_nor_grows_a_reader() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, alice) = identity(d.path(), "alice.key");
    let v = init(d.path(), &[("alice", &alice)]);
    std::fs::remove_file(v.join("manifest.jsonl")).expect("rm");
    #[cfg(unix)]
    {
        let fifo = std::process::Command::new("mkfifo")
            .arg(v.join("manifest.jsonl"))
            .status();
        if fifo.is_ok_and(|s| s.success()) {
            for args in [vec!["vault", "list"], vec!["vault", "log"]] {
                let o = nkp()
                    .args(&args)
                    .arg("--vault")
                    .arg(&v)
                    .timeout(std::time::Duration::from_secs(20))
                    .output()
                    .expect("run");
                assert!(!o.status.success(), "{args:?}");
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(err.contains("not a regular file"), "{args:?}: {err}");
            }
            let o = add(&v, "NKP-PROD.p12");
            assert!(!o.status.success());
            std::fs::remove_file(v.join("manifest.jsonl")).expect("rm fifo");
        }
        std::os::unix::fs::symlink("/dev/zero", v.join("manifest.jsonl")).expect("symlink");
        let o = nkp()
            .args(["vault", "list", "--vault"])
            .arg(&v)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .expect("run");
        assert!(!o.status.success());
    }
}

/// Review finding: a symlinked `objects/` folder was followed (adds created files elsewhere,
/// a rekey removed them). Now verify reports it and writers refuse.
#[cfg(unix)]
#[test]
fn a_linked_objects_folder_is_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, alice) = identity(d.path(), "alice.key");
    let v = init(d.path(), &[("alice", &alice)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let elsewhere = d.path().join("elsewhere");
    std::fs::rename(v.join("objects"), &elsewhere).expect("move");
    std::os::unix::fs::symlink(&elsewhere, v.join("objects")).expect("link");
    let (code, r) = verify(&v);
    assert_eq!(code, 3, "{r:#}");
    assert!(problem_kinds_contain(&r, "objects/: "), "{r:#}");
    let before = snapshot(&elsewhere);
    assert!(!add(&v, "nkp-dr-2024.p12").status.success());
    assert!(
        snapshot(&elsewhere) == before,
        "a file outside the vault changed"
    );
}

/// Review findings on messages and inputs: a secret pasted into vault.yaml is never quoted;
/// unknown fields are refused; a damaged vault.yaml still gets a report (exit 3); a stranger's
/// identity to `verify --identity` is refused as such; `--expect-head sha256:<hex>` works; a
/// malformed `--trusted-key` is an error; `format: nkp-vault/1` written into a vault that was
/// never upgraded is a problem.
#[test]
fn vault_yaml_and_verify_arguments_are_handled_strictly() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, alice) = identity(d.path(), "alice.key");
    let (stranger_id, _) = identity(d.path(), "stranger.key");
    let v = init(d.path(), &[("alice", &alice)]);
    assert!(add(&v, "NKP-PROD.p12").status.success());
    let yaml = std::fs::read_to_string(v.join("vault.yaml")).expect("yaml");
    let secret = age::x25519::Identity::generate();
    let secret = secret.to_string().expose_secret().to_string();
    std::fs::write(
        v.join("vault.yaml"),
        format!("{yaml}passphrase: [{secret}]\n"),
    )
    .expect("w");
    let o = add(&v, "nkp-dr-2024.p12");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        !err.contains(&secret),
        "a secret from vault.yaml was quoted: {err}"
    );
    assert!(err.contains("not a valid vault configuration"), "{err}");
    let (code, r) = verify(&v);
    assert_eq!(code, 3, "a damaged vault.yaml still gets a report: {r:#}");
    assert!(!r.to_string().contains(&secret));
    std::fs::write(v.join("vault.yaml"), format!("{yaml}extra: 1\n")).expect("w");
    assert_eq!(verify(&v).0, 3, "unknown fields are refused");
    std::fs::write(
        v.join("vault.yaml"),
        yaml.replace("nkp-vault/2", "nkp-vault/1"),
    )
    .expect("w");
    let (code, r) = verify(&v);
    assert_eq!(code, 3, "{r:#}");
    std::fs::write(v.join("vault.yaml"), &yaml).expect("w");

    let o = nkp()
        .args(["vault", "verify", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&stranger_id)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not one of the vault's custodians"));

    let (_, r) = verify(&v);
    let head = r["head"].as_str().expect("head").to_string();
    let hash = head.split(' ').nth(1).expect("hash");
    let (code, r) = json_of(
        nkp()
            .args(["--format", "json", "vault", "verify", "--expect-head"])
            .arg(format!("sha256:{hash}"))
            .arg("--vault")
            .arg(&v),
    );
    assert_eq!(code, 0, "{r:#}");
    let o = nkp()
        .args(["vault", "verify", "--trusted-key", "not-a-key", "--vault"])
        .arg(&v)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
}
