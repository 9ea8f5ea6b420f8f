//! Issue 13 review findings, each reproduced first as the attacker did it: one custodian
//! rekeying dual control away, one key listed twice, a rewritten chain lowering the threshold,
//! a crafted or stolen released share (recorded as a drill, or naming the wrong restorer), a
//! forged drill line, a share given twice inside an object, and an identity that is a FIFO.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use secrecy::ExposeSecret;
use serde_json::Value;
use sha2::Digest;

fn nkp() -> Command {
    let mut c = Command::cargo_bin("nkp-escrow").expect("binary");
    c.env_remove("NKP_ESCROW_IDENTITY")
        .env_remove("NKP_ESCROW_VAULT");
    c
}

fn share() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share")
}

fn key(dir: &Path, name: &str) -> (PathBuf, String, age::x25519::Identity) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(format!("{name}.key"));
    std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).expect("key");
    (path, id.to_public().to_string(), id)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn lines(v: &Path) -> usize {
    std::fs::read_to_string(v.join("manifest.jsonl"))
        .expect("manifest")
        .lines()
        .count()
}

/// A 2-of-3 vault (alice, bob, carol); with `add`, holding NKP-PROD.
fn vault(dir: &Path, add: bool) -> (PathBuf, Vec<PathBuf>, Vec<String>) {
    let v = dir.join("vault");
    let mut init = nkp();
    init.args(["--quiet", "vault", "init", "--threshold", "2", "--vault"])
        .arg(&v);
    let (mut keys, mut publics) = (Vec::new(), Vec::new());
    for name in ["alice", "bob", "carol"] {
        let (path, public, _) = key(dir, name);
        init.arg("--recipient").arg(format!("{name}={public}"));
        keys.push(path);
        publics.push(format!("{name}={public}"));
    }
    init.assert().success();
    if add {
        nkp()
            .args(["--quiet", "vault", "add", "--no-prompt", "--vault"])
            .arg(&v)
            .arg(share().join("NKP-PROD.p12"))
            .arg("--password-file")
            .arg(share().join("passwords.txt"))
            .assert()
            .success();
    }
    (v, keys, publics)
}

/// `vault init --threshold 2` at `v` for these `label=recipient` custodians.
fn init_two_of(v: &Path, custodians: &[String]) -> Output {
    let mut c = nkp();
    c.args(["vault", "init", "--threshold", "2", "--vault"])
        .arg(v);
    for r in custodians {
        c.arg("--recipient").arg(r);
    }
    c.output().expect("init")
}

/// Rewrite the manifest consistently (as someone with write access and no checkpoint key
/// can): `edit` changes lines, then `seq`, `prev` and `HEAD` are recomputed.
fn rechain(v: &Path, edit: impl Fn(&mut Vec<Value>)) {
    let text = std::fs::read_to_string(v.join("manifest.jsonl")).expect("manifest");
    let mut values: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    edit(&mut values);
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    let mut last = String::new();
    for (i, mut val) in values.into_iter().enumerate() {
        val["seq"] = Value::from(i as u64 + 1);
        val["prev"] = Value::from(prev.clone());
        last = val.to_string();
        prev = format!("{:x}", sha2::Sha256::digest(last.as_bytes()));
        out.push_str(&last);
        out.push('\n');
    }
    let n = out.lines().count();
    std::fs::write(v.join("manifest.jsonl"), out).expect("write");
    std::fs::write(
        v.join("HEAD"),
        format!("{n} {:x}\n", sha2::Sha256::digest(last.as_bytes())),
    )
    .expect("HEAD");
}

/// What a share's holder can do with a released share file: open it with their identity, edit
/// the document inside, and seal it to themselves again (written to `out`).
fn reseal(
    file: &Path,
    id: &age::x25519::Identity,
    to: &str,
    out: &Path,
    edit: impl FnOnce(&mut Value),
) {
    use std::io::{Read, Write};
    let bytes = std::fs::read(file).expect("share");
    let dec = age::Decryptor::new(age::armor::ArmoredReader::new(&bytes[..])).expect("age");
    let mut r = dec
        .decrypt(std::iter::once(id as &dyn age::Identity))
        .expect("decrypt");
    let mut plain = String::new();
    r.read_to_string(&mut plain).expect("read");
    let mut doc: Value = serde_json::from_str(&plain).expect("json");
    edit(&mut doc);
    let recipient: age::x25519::Recipient = to.parse().expect("recipient");
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .expect("enc");
    let mut sealed = Vec::new();
    let mut w = enc.wrap_output(&mut sealed).expect("wrap");
    w.write_all(doc.to_string().as_bytes()).expect("write");
    w.finish().expect("finish");
    std::fs::write(out, sealed).expect("write");
}

fn verify(v: &Path) -> (bool, String) {
    let o = nkp()
        .args(["--format", "json", "vault", "verify", "--vault"])
        .arg(v)
        .output()
        .expect("verify");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// Finding 1: one custodian rekeyed an empty 2-of-3 vault to threshold 1 and alone. Now a
/// rekey of a k-of-n vault takes K custodians whatever it holds, and lowering the threshold
/// is said and needs --yes.
#[test]
fn one_custodian_cannot_rekey_dual_control_away() {
    let d = tempfile::tempdir().expect("tempdir");
    let (v, keys, publics) = vault(d.path(), false);
    let before = lines(&v);
    let rekey = |ids: &[&PathBuf], extra: &[&str]| {
        let mut c = nkp();
        c.args(["vault", "rekey", "--vault"]).arg(&v);
        for id in ids {
            c.arg("--identity").arg(id);
        }
        for p in &publics {
            c.arg("--recipient").arg(p);
        }
        c.args(extra);
        c.output().expect("rekey")
    };
    let o = rekey(&[&keys[0]], &["--threshold", "1", "--yes"]);
    assert!(!o.status.success());
    assert!(err(&o).contains("2 of the custodians"), "{}", err(&o));
    assert_eq!(lines(&v), before);
    // Two custodians, but lowering the threshold needs a confirmation.
    let o = rekey(&[&keys[0], &keys[1]], &["--threshold", "1"]);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("lowers the threshold from 2 to 1"),
        "{}",
        err(&o)
    );
    assert_eq!(lines(&v), before);
    // Two custodians, the same three, the threshold kept: recorded with both.
    let o = rekey(&[&keys[0], &keys[1]], &[]);
    assert!(o.status.success(), "{}", err(&o));
    let log = nkp()
        .args(["--format", "json", "vault", "log", "--vault"])
        .arg(&v)
        .output()
        .expect("log");
    let j: Value = serde_json::from_slice(&log.stdout).expect("json");
    let rk = j["events"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["type"] == "rekey").cloned())
        .expect("rekey");
    assert_eq!(
        rk["participants"].as_array().map(Vec::len),
        Some(2),
        "{rk:#}"
    );
    assert!(verify(&v).0);
}

/// Finding 2: one SSH key listed twice with different comments gave its holder two shares.
#[test]
fn one_key_under_two_names_is_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";
    let (_, other, _) = key(d.path(), "carol");
    let v = d.path().join("v");
    let o = init_two_of(
        &v,
        &[
            format!("mal={ssh} mal@x"),
            format!("mal2={ssh} other"),
            format!("carol={other}"),
        ],
    );
    assert!(!o.status.success());
    assert!(err(&o).contains("two custodians"), "{}", err(&o));
    assert!(!v.join("vault.yaml").exists());
}

/// Finding 3: a consistently rewritten chain with a threshold of 1 (or above the number of
/// custodians) verified, and writers used it. Now it is a problem and writers refuse.
#[test]
fn a_rewritten_chain_cannot_lower_or_break_the_threshold() {
    for k in [1u64, 4] {
        let d = tempfile::tempdir().expect("tempdir");
        let (v, _, _) = vault(d.path(), false);
        rechain(&v, |vals| vals[0]["set"]["threshold"] = Value::from(k));
        let yaml = std::fs::read_to_string(v.join("vault.yaml")).expect("yaml");
        std::fs::write(
            v.join("vault.yaml"),
            yaml.replace("threshold: 2", &format!("threshold: {k}")),
        )
        .expect("yaml");
        let (ok, report) = verify(&v);
        assert!(!ok, "threshold {k} verified: {report}");
        assert!(report.contains("threshold"), "{report}");
        let o = nkp()
            .args(["vault", "add", "--no-prompt", "--vault"])
            .arg(&v)
            .arg(share().join("NKP-PROD.p12"))
            .arg("--password-file")
            .arg(share().join("passwords.txt"))
            .output()
            .expect("add");
        assert!(!o.status.success(), "a writer used threshold {k}");
        assert!(std::fs::read_dir(v.join("objects"))
            .expect("objects")
            .next()
            .is_none());
    }
}

/// Findings 4 and 5: a crafted released share (naming a real release line) was recorded as a
/// failed drill under the release's recipient; a share re-labelled to another release line
/// named the wrong restorer. Now whoever uses a released share must hold the identity it was
/// released to, and a refused share records nothing.
#[test]
fn a_crafted_or_relabelled_share_is_refused_and_records_nothing() {
    let d = tempfile::tempdir().expect("tempdir");
    let (v, keys, _) = vault(d.path(), true);
    let (dave_key, dave, _) = key(d.path(), "dave");
    let (erin_key, erin, erin_id) = key(d.path(), "erin");
    let release = |k: &Path, to: &str, out: &Path| {
        nkp()
            .args(["vault", "release", "NKP-PROD", "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(k)
            .arg("--to")
            .arg(to)
            .arg("--out")
            .arg(out)
            .assert()
            .success();
    };
    release(
        &keys[1],
        &format!("dave={dave}"),
        &d.path().join("b-dave.share"),
    ); // line 3
    release(
        &keys[1],
        &format!("erin={erin}"),
        &d.path().join("b-erin.share"),
    ); // line 4
    release(
        &keys[2],
        &format!("erin={erin}"),
        &d.path().join("c-erin.share"),
    ); // line 5
    let before = lines(&v);
    // Erin re-labels her copy of bob's share as the release to dave.
    reseal(
        &d.path().join("b-erin.share"),
        &erin_id,
        &erin,
        &d.path().join("forged.share"),
        |doc| {
            assert_eq!(doc["release"], 4);
            doc["release"] = Value::from(3);
        },
    );
    for cmd in ["restore", "drill"] {
        let mut c = nkp();
        c.args(["vault", cmd]);
        if cmd == "restore" {
            c.args(["NKP-PROD", "--out"]).arg(d.path().join("x.p12"));
            c.arg("--password-out").arg(d.path().join("x.pw"));
        }
        let o = c
            .arg("--vault")
            .arg(&v)
            .arg("--identity")
            .arg(&erin_key)
            .arg("--share")
            .arg(d.path().join("forged.share"))
            .arg("--share")
            .arg(d.path().join("c-erin.share"))
            .output()
            .expect("run");
        assert!(!o.status.success(), "{cmd} with a relabelled share passed");
        assert!(err(&o).contains("released to someone else"), "{}", err(&o));
        assert_eq!(lines(&v), before, "{cmd} recorded something");
        assert!(!d.path().join("x.p12").exists());
    }
    // Dave alone with his one real share: refused, not a recorded failed drill.
    let o = nkp()
        .args(["vault", "drill", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&dave_key)
        .arg("--share")
        .arg(d.path().join("b-dave.share"))
        .output()
        .expect("drill");
    assert!(!o.status.success());
    assert_eq!(lines(&v), before);
    assert!(verify(&v).0);
}

/// Finding 8: a forged drill line without who ran it, or a participant that came neither by
/// identity nor by a release, verified.
#[test]
fn forged_participation_lines_do_not_verify() {
    let d = tempfile::tempdir().expect("tempdir");
    let (v, keys, _) = vault(d.path(), true);
    nkp()
        .args(["--quiet", "vault", "drill", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&keys[0])
        .arg("--identity")
        .arg(&keys[1])
        .assert()
        .success();
    assert!(verify(&v).0);
    let saved = (
        std::fs::read(v.join("manifest.jsonl")).expect("m"),
        std::fs::read(v.join("HEAD")).expect("h"),
    );
    let restore_saved = || {
        std::fs::write(v.join("manifest.jsonl"), &saved.0).expect("m");
        std::fs::write(v.join("HEAD"), &saved.1).expect("h");
    };
    rechain(&v, |vals| {
        if let Some(o) = vals[2].as_object_mut() {
            o.remove("by");
            o.remove("participants");
        }
    });
    let (ok, report) = verify(&v);
    assert!(
        !ok && report.contains("does not say who ran it"),
        "{report}"
    );
    restore_saved();
    rechain(&v, |vals| {
        vals[2]["participants"][0]["via"] = Value::from("nonsense");
    });
    let (ok, report) = verify(&v);
    assert!(
        !ok && report.contains("neither by identity nor by a recorded release"),
        "{report}"
    );
}

/// Finding 9: an object whose third share was replaced by a copy of the first verified.
#[test]
fn a_share_given_twice_in_an_object_does_not_verify() {
    let d = tempfile::tempdir().expect("tempdir");
    let (v, _, _) = vault(d.path(), true);
    let m = std::fs::read_to_string(v.join("manifest.jsonl")).expect("m");
    let add: Value = serde_json::from_str(m.lines().nth(1).expect("add")).expect("json");
    let old = add["object"].as_str().expect("object").to_string();
    let path = v.join("objects").join(format!("{old}.age"));
    let mut obj: Value = serde_json::from_slice(&std::fs::read(&path).expect("obj")).expect("json");
    obj["shares"][2]["share"] = obj["shares"][0]["share"].clone();
    let bytes = obj.to_string();
    let new = format!("{:x}", sha2::Sha256::digest(bytes.as_bytes()));
    std::fs::write(v.join("objects").join(format!("{new}.age")), &bytes).expect("write");
    std::fs::remove_file(&path).expect("rm");
    rechain(&v, |vals| vals[1]["object"] = Value::from(new.clone()));
    let (ok, report) = verify(&v);
    assert!(!ok, "{report}");
    assert!(report.contains("are the same share"), "{report}");
}

/// Finding 11: `--identity` naming a FIFO hung; a device was read without end.
#[cfg(unix)]
#[test]
fn an_identity_that_is_a_fifo_or_device_is_refused_at_once() {
    let d = tempfile::tempdir().expect("tempdir");
    let (v, keys, _) = vault(d.path(), true);
    let fifo = d.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut targets = vec![PathBuf::from("/dev/zero")];
    if made {
        targets.push(fifo);
    } else {
        eprintln!("skipped the FIFO case: mkfifo is not available");
    }
    for t in targets {
        let o = nkp()
            .timeout(std::time::Duration::from_secs(20))
            .args(["vault", "drill", "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(&keys[0])
            .arg("--identity")
            .arg(&t)
            .output()
            .expect("run");
        assert!(!o.status.success());
        assert!(err(&o).contains("not a regular file"), "{}", err(&o));
    }
}

/// Second review, finding 1: an SSH key with something glued to its base64 (`AAAA...#`) is the
/// same key to age; listed next to its clean spelling it gave one person two shares. Now only
/// the canonical spelling is taken.
#[test]
fn an_ssh_key_with_something_glued_to_it_is_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    let ssh = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";
    let (_, other, _) = key(d.path(), "carol");
    for glued in [format!("{ssh}#"), format!("{ssh}.")] {
        let v = d.path().join(format!("v{}", glued.len()));
        let o = init_two_of(
            &v,
            &[
                format!("bob={ssh} bob@x"),
                format!("bob2={glued} bob@y"),
                format!("carol={other}"),
            ],
        );
        assert!(!o.status.success(), "{glued} was taken");
        assert!(err(&o).contains("canonical"), "{}", err(&o));
        assert!(!v.join("vault.yaml").exists());
    }
}

/// Second review, findings 2, 4 and 5: a released share changed by its holder made `drill`
/// record failed drills again and again; parallel restores with the same released shares all
/// passed; a newline in a release reason made a fake line in `vault log`.
#[test]
fn changed_or_raced_released_shares_and_newlines_in_the_log() {
    let d = tempfile::tempdir().expect("tempdir");
    let (v, keys, _) = vault(d.path(), true);
    let (dave_key, dave, dave_id) = key(d.path(), "dave");
    for (k, name) in [(&keys[1], "b"), (&keys[2], "c")] {
        nkp()
            .args(["vault", "release", "NKP-PROD", "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(k)
            .arg("--to")
            .arg(format!("dave={dave}"))
            .arg("--reason")
            .arg("INC-9\n    9  2026-01-01T00:00:00Z  RESTORE of everything by nobody")
            .arg("--out")
            .arg(d.path().join(format!("{name}.share")))
            .assert()
            .success();
    }
    // The log keeps each event on one line.
    let o = nkp()
        .args(["vault", "log", "--vault"])
        .arg(&v)
        .output()
        .expect("log");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("9  2026-01-01")),
        "a reason made a line of its own: {text}"
    );
    assert!(text.contains("INC-9\\n"), "{text}");
    // Bob's share, one digit changed by dave and sealed to him again.
    reseal(
        &d.path().join("b.share"),
        &dave_id,
        &dave,
        &d.path().join("changed.share"),
        |doc| {
            let share = doc["share"].as_str().expect("share").to_string();
            let last = share.chars().last().expect("digit");
            doc["share"] = Value::from(format!(
                "{}{}",
                &share[..share.len() - 1],
                if last == '0' { '1' } else { '0' }
            ));
        },
    );
    let before = lines(&v);
    for _ in 0..2 {
        let o = nkp()
            .args(["vault", "drill", "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(&dave_key)
            .arg("--share")
            .arg(d.path().join("changed.share"))
            .arg("--share")
            .arg(d.path().join("c.share"))
            .output()
            .expect("drill");
        assert!(!o.status.success(), "a changed share made a drill");
        assert_eq!(lines(&v), before, "a refused drill was recorded");
    }
    // Four restores at once with the same two shares: exactly one gets the key.
    let children: Vec<std::process::Child> = (0..4)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_nkp-escrow"))
                .env_remove("NKP_ESCROW_IDENTITY")
                .args(["vault", "restore", "NKP-PROD", "--vault"])
                .arg(&v)
                .arg("--identity")
                .arg(&dave_key)
                .arg("--share")
                .arg(d.path().join("b.share"))
                .arg("--share")
                .arg(d.path().join("c.share"))
                .arg("--out")
                .arg(d.path().join(format!("race-{i}.p12")))
                .arg("--password-out")
                .arg(d.path().join(format!("race-{i}.pw")))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let ok = children
        .into_iter()
        .map(|mut c| c.wait().expect("wait").success())
        .filter(|&s| s)
        .count();
    assert_eq!(ok, 1, "released shares opened more than once");
    let restored = (0..4)
        .filter(|i| d.path().join(format!("race-{i}.p12")).exists())
        .count();
    assert_eq!(restored, 1);
    assert!(verify(&v).0);
}

/// Second review, finding 3: a rewritten release line naming another restorer (`to`) than the
/// key it records (`to_recipient`) verified.
#[test]
fn a_release_naming_another_restorer_than_its_key_does_not_verify() {
    let d = tempfile::tempdir().expect("tempdir");
    let (v, keys, _) = vault(d.path(), true);
    let (_, dave, _) = key(d.path(), "dave");
    let (_, erin, _) = key(d.path(), "erin");
    nkp()
        .args(["vault", "release", "NKP-PROD", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&keys[1])
        .arg("--to")
        .arg(format!("dave={dave}"))
        .arg("--out")
        .arg(d.path().join("b.share"))
        .assert()
        .success();
    assert!(verify(&v).0);
    let erin_fp = format!("sha256:{:x}", sha2::Sha256::digest(erin.trim().as_bytes()));
    rechain(&v, |vals| {
        vals[2]["to"] = Value::from(erin_fp.clone());
        vals[2]["to_label"] = Value::from("erin");
    });
    let (ok, report) = verify(&v);
    assert!(!ok, "{report}");
    assert!(
        report.contains("not the fingerprint of the key it records"),
        "{report}"
    );
}
