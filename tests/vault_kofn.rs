//! Issue 13: dual control. A 2-of-3 vault made by the tool: one custodian alone cannot restore
//! or drill (refused, nothing written or recorded); any two can, at one terminal (a ceremony)
//! or by releasing their shares to a restorer (a hand-over); the restored `.p12` is
//! byte-identical; the chain records who took part, and `verify` checks the shares of every
//! object and the participation rules without a key. The vault/README.md break-glass procedure
//! restores a tool-made vault's entry with age, ssss-combine, jq and base64.

#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use secrecy::ExposeSecret;
use serde_json::Value;

fn nkp() -> Command {
    let mut c = Command::cargo_bin("nkp-escrow").expect("binary");
    c.env_remove("NKP_ESCROW_IDENTITY")
        .env_remove("NKP_ESCROW_VAULT");
    c
}

fn share_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share")
}

/// An age identity file and its recipient.
fn key(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let path = dir.join(format!("{name}.key"));
    std::fs::write(&path, format!("{}\n", id.to_string().expose_secret())).expect("key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    (path, id.to_public().to_string())
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    nkp().args(args).output().expect("run")
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

fn manifest_lines(v: &Path) -> usize {
    std::fs::read_to_string(v.join("manifest.jsonl"))
        .expect("manifest")
        .lines()
        .count()
}

fn log(v: &Path) -> Vec<Value> {
    let o = run(&[
        os("--format"),
        os("json"),
        os("vault"),
        os("log"),
        os("--vault"),
        v.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).expect("json");
    j["events"].as_array().cloned().unwrap_or_default()
}

struct Estate {
    _d: tempfile::TempDir,
    dir: PathBuf,
    vault: PathBuf,
    keys: Vec<PathBuf>,
    original: Vec<u8>,
}

/// A 2-of-3 vault (alice, bob, carol) holding NKP-PROD.
fn estate() -> Estate {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path().to_path_buf();
    let vault = dir.join("vault");
    let mut keys = Vec::new();
    let mut init: Vec<std::ffi::OsString> = ["vault", "init", "--threshold", "2", "--vault"]
        .iter()
        .map(Into::into)
        .collect();
    init.push(vault.clone().into());
    for name in ["alice", "bob", "carol"] {
        let (path, public) = key(&dir, name);
        init.push("--recipient".into());
        init.push(format!("{name}={public}").into());
        keys.push(path);
    }
    let o = nkp().args(&init).output().expect("init");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("any 2 of these 3 custodians"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let p12 = share_dir().join("NKP-PROD.p12");
    let o = run(&[
        os("--quiet"),
        os("vault"),
        os("add"),
        os("--no-prompt"),
        os("--vault"),
        vault.as_os_str(),
        p12.as_os_str(),
        os("--password-file"),
        share_dir().join("passwords.txt").as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Estate {
        original: std::fs::read(&p12).expect("p12"),
        _d: d,
        dir,
        vault,
        keys,
    }
}

fn ok_release(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `vault restore NKP-PROD` to `out` with these identities and released shares.
fn restore(e: &Estate, out: &Path, ids: &[&Path], shares: &[&Path]) -> Output {
    let pw = out.with_extension("pw");
    let mut c = nkp();
    c.args(["vault", "restore", "NKP-PROD", "--vault"])
        .arg(&e.vault)
        .args(["--reason", "INC-1 dual control", "--out"])
        .arg(out)
        .arg("--password-out")
        .arg(&pw);
    for id in ids {
        c.arg("--identity").arg(id);
    }
    for s in shares {
        c.arg("--share").arg(s);
    }
    let o = c.output().expect("run");
    let _ = std::fs::remove_file(&pw);
    o
}

#[test]
fn one_custodian_is_refused_and_any_two_restore_by_ceremony() {
    let e = estate();
    let verify = |v: &Path| run(&[os("vault"), os("verify"), os("--vault"), v.as_os_str()]);
    let o = verify(&e.vault);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let before = manifest_lines(&e.vault);
    // Any one alone: refused, no file, nothing recorded.
    for k in &e.keys {
        let out = e.dir.join("alone.p12");
        let o = restore(&e, &out, &[k], &[]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("2 of the custodians") && err.contains("1 did"),
            "{err}"
        );
        assert!(!out.exists(), "a refused restore left a file");
        let o = run(&[
            os("vault"),
            os("drill"),
            os("--vault"),
            e.vault.as_os_str(),
            os("--identity"),
            k.as_os_str(),
        ]);
        assert!(!o.status.success(), "a drill by one custodian passed");
        assert_eq!(
            manifest_lines(&e.vault),
            before,
            "a refused attempt was recorded"
        );
    }
    // Any two: byte-identical.
    for (i, pair) in [[0, 1], [1, 2], [2, 0]].iter().enumerate() {
        let out = e.dir.join(format!("two-{i}.p12"));
        let o = restore(&e, &out, &[&e.keys[pair[0]], &e.keys[pair[1]]], &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(std::fs::read(&out).expect("restored"), e.original);
    }
    // The chain records who took part.
    let events = log(&e.vault);
    let restores: Vec<&Value> = events.iter().filter(|r| r["type"] == "restore").collect();
    assert_eq!(restores.len(), 3);
    let names = |r: &Value| -> Vec<String> {
        r["participants"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["custodian"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(restores[0]), ["alice", "bob"]);
    assert_eq!(names(restores[1]), ["bob", "carol"]);
    assert_eq!(names(restores[2]), ["alice", "carol"]);
    // A drill by two passes and names both.
    let o = run(&[
        os("--format"),
        os("json"),
        os("vault"),
        os("drill"),
        os("--vault"),
        e.vault.as_os_str(),
        os("--identity"),
        e.keys[0].as_os_str(),
        os("--identity"),
        e.keys[2].as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(j["drills"][0]["ok"], true, "{j:#}");
    assert_eq!(
        j["drills"][0]["participants"],
        serde_json::json!(["alice", "carol"])
    );
    // The table log says who took part.
    let o = run(&[os("vault"), os("log"), os("--vault"), e.vault.as_os_str()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("custodians taking part: alice, bob"),
        "{text}"
    );
    // Keyless verify still passes, and a decryption check with one identity is pointed to a
    // drill.
    let o = verify(&e.vault);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let o = run(&[
        os("vault"),
        os("verify"),
        os("--vault"),
        e.vault.as_os_str(),
        os("--identity"),
        e.keys[0].as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("vault drill"));
}

#[test]
fn shares_released_to_a_restorer_restore_without_meeting() {
    let e = estate();
    let (restorer, restorer_pub) = key(&e.dir, "restorer");
    let release = |k: &Path, out: &Path| {
        run(&[
            os("vault"),
            os("release"),
            os("NKP-PROD"),
            os("--vault"),
            e.vault.as_os_str(),
            os("--identity"),
            k.as_os_str(),
            os("--to"),
            os(&format!("dave={restorer_pub}")),
            os("--reason"),
            os("INC-2 hand-over"),
            os("--out"),
            out.as_os_str(),
        ])
    };
    let b_share = e.dir.join("bob.share");
    let c_share = e.dir.join("carol.share");
    for (k, s) in [(&e.keys[1], &b_share), (&e.keys[2], &c_share)] {
        let o = release(k, s);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(s).expect("share");
        assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(s).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
    // Never overwritten.
    let before = std::fs::read(&b_share).expect("share");
    let lines = manifest_lines(&e.vault);
    let o = release(&e.keys[1], &b_share);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&b_share).expect("share"), before);
    assert_eq!(
        manifest_lines(&e.vault),
        lines,
        "a refused release was recorded"
    );
    // One released share alone is refused.
    let out = e.dir.join("one-share.p12");
    let o = restore(&e, &out, &[&restorer], &[&b_share]);
    assert!(!o.status.success());
    assert!(!out.exists());
    // Two released shares and the restorer's own key: byte-identical.
    let out = e.dir.join("handover.p12");
    let o = restore(&e, &out, &[&restorer], &[&b_share, &c_share]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).expect("restored"), e.original);
    // A released share opens once: the same two again are refused, and nothing recorded.
    let lines = manifest_lines(&e.vault);
    let out = e.dir.join("again.p12");
    let o = restore(&e, &out, &[&restorer], &[&b_share, &c_share]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("opens once"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());
    assert_eq!(manifest_lines(&e.vault), lines);
    // A new release by carol and alice at the terminal also make two.
    let c_share = e.dir.join("carol-2.share");
    ok_release(&release(&e.keys[2], &c_share));
    let out = e.dir.join("mixed.p12");
    let o = restore(&e, &out, &[&restorer, &e.keys[0]], &[&c_share]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).expect("restored"), e.original);
    // The chain: two releases (who, to whom, why) and the restores naming them.
    let events = log(&e.vault);
    let releases: Vec<&Value> = events.iter().filter(|r| r["type"] == "release").collect();
    assert_eq!(releases.len(), 3);
    assert_eq!(releases[0]["to_label"], "dave");
    assert_eq!(releases[0]["by"]["custodian"], "bob");
    assert_eq!(releases[0]["reason"], "INC-2 hand-over");
    assert!(releases[0]["to"]
        .as_str()
        .is_some_and(|t| t.starts_with("sha256:")));
    let restores: Vec<&Value> = events.iter().filter(|r| r["type"] == "restore").collect();
    let handover = restores[0]["participants"]
        .as_array()
        .expect("participants");
    assert!(handover
        .iter()
        .all(|p| p["via"] == "release" && p["release"].is_u64()));
    assert_eq!(restores[0]["by"]["fingerprint"], releases[0]["to"]);
    let mixed = restores[1]["participants"]
        .as_array()
        .expect("participants");
    assert_eq!(mixed[0]["custodian"], "alice");
    assert_eq!(mixed[0]["via"], "identity");
    assert_eq!(mixed[1]["custodian"], "carol");
    assert_eq!(mixed[1]["via"], "release");
    let o = run(&[
        os("vault"),
        os("verify"),
        os("--vault"),
        e.vault.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    // A share is useless to anyone but the restorer.
    let out = e.dir.join("stolen.p12");
    let o = restore(&e, &out, &[&e.keys[0]], &[&b_share]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("none of the identities"));
    // After a rekey (two custodians, the threshold kept), old released shares are refused.
    let (erin, erin_pub) = key(&e.dir, "erin");
    let _ = erin;
    let keep: Vec<String> = ["alice", "bob", "carol"]
        .iter()
        .zip(&e.keys)
        .map(|(n, k)| {
            let text = std::fs::read_to_string(k).expect("key");
            let id: age::x25519::Identity = text.trim().parse().expect("identity");
            format!("{n}={}", id.to_public())
        })
        .collect();
    let o = run(&[
        os("vault"),
        os("rekey"),
        os("--vault"),
        e.vault.as_os_str(),
        os("--identity"),
        e.keys[0].as_os_str(),
        os("--identity"),
        e.keys[1].as_os_str(),
        os("--recipient"),
        os(&keep[0]),
        os("--recipient"),
        os(&keep[1]),
        os("--recipient"),
        os(&keep[2]),
        os("--recipient"),
        os(&format!("erin={erin_pub}")),
        os("--yes"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        os("--format"),
        os("json"),
        os("vault"),
        os("verify"),
        os("--vault"),
        e.vault.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let out = e.dir.join("stale.p12");
    let o = restore(&e, &out, &[&restorer], &[&b_share, &c_share]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rekeyed since"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!out.exists());
    // The new set opens with two of its four.
    let out = e.dir.join("after-rekey.p12");
    let o = restore(&e, &out, &[&e.keys[2], &e.dir.join("erin.key")], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).expect("restored"), e.original);
}

#[test]
fn thresholds_that_cannot_work_are_refused_before_anything_is_made() {
    let d = tempfile::tempdir().expect("tempdir");
    let (_, a) = key(d.path(), "a");
    let (_, b) = key(d.path(), "b");
    for (k, recipients, want) in [
        ("3", vec![a.clone(), b.clone()], "nobody could ever open"),
        ("2", vec![a.clone(), a], "two custodians"),
    ] {
        let v = d.path().join(format!("v{k}{}", recipients.len()));
        let mut args: Vec<std::ffi::OsString> = vec![
            "vault".into(),
            "init".into(),
            "--threshold".into(),
            k.into(),
            "--vault".into(),
            v.clone().into(),
        ];
        for (i, r) in recipients.iter().enumerate() {
            args.push("--recipient".into());
            args.push(format!("c{i}={r}").into());
        }
        let o = nkp().args(&args).output().expect("run");
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!v.join("vault.yaml").exists());
    }
    // `release` on an ordinary vault says what it is for.
    let v = d.path().join("plain");
    let (ka, _) = key(d.path(), "k");
    let public = {
        let text = std::fs::read_to_string(&ka).expect("key");
        let id: age::x25519::Identity = text.trim().parse().expect("identity");
        id.to_public().to_string()
    };
    nkp()
        .args(["--quiet", "vault", "init", "--vault"])
        .arg(&v)
        .arg("--recipient")
        .arg(format!("k={public}"))
        .assert()
        .success();
    nkp()
        .args(["--quiet", "vault", "add", "--no-prompt", "--vault"])
        .arg(&v)
        .arg(share_dir().join("NKP-PROD.p12"))
        .arg("--password-file")
        .arg(share_dir().join("passwords.txt"))
        .assert()
        .success();
    let out = d.path().join("x.share");
    let o = nkp()
        .args(["vault", "release", "NKP-PROD", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&ka)
        .arg("--to")
        .arg(&b)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("k-of-n"));
    assert!(!out.exists(), "a refused release left its file");
}

fn have(tool: &str, arg: &str) -> bool {
    std::process::Command::new(tool)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// The vault/README.md k-of-n break-glass block, run as written on the object of an entry of a
/// vault the tool made, restores the `.p12` byte-identically without nkp-escrow.
#[test]
fn break_glass_restores_a_tool_made_k_of_n_entry() {
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
    let e = estate();
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("vault/README.md"))
            .expect("README");
    let start = readme
        .find("<!-- kofn-break-glass:begin -->")
        .expect("begin");
    let end = readme.find("<!-- kofn-break-glass:end -->").expect("end");
    let block = &readme[start..end];
    let from = block.find("```sh\n").expect("block") + 6;
    let to = block[from..].find("```").expect("end of block") + from;
    let script = &block[from..to];
    // The object of the entry, found as the README says: the last object the manifest names
    // for it.
    let o = run(&[
        os("--format"),
        os("json"),
        os("vault"),
        os("list"),
        os("--vault"),
        e.vault.as_os_str(),
    ]);
    let list: Value = serde_json::from_slice(&o.stdout).expect("list");
    let object = list["entries"][0]["object"]
        .as_str()
        .expect("object")
        .to_string();
    let obj = e.vault.join("objects").join(format!("{object}.age"));
    let keys = format!("{} {}", e.keys[0].display(), e.keys[2].display());
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(&e.dir)
        .env("OBJ", &obj)
        .env("KEYS", &keys)
        .output()
        .expect("bash");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(e.dir.join("restored.p12")).expect("restored"),
        e.original
    );
}
