//! Issue 10 regressions: a secret given where a recipient belongs is never echoed, the escrowed
//! password is the one that opened the file, and a restore is all or nothing.
//!
//! Item 7: a secret given where a recipient belongs is never echoed. An age identity
//! file passed as `--recipients-file`, an identity or a password pasted as `--recipient` (to
//! `init` or `rekey`): the error names where the value came from and what it looks like, never
//! the value, and nothing is written.

#![allow(clippy::print_stderr)] // tests say why they skip

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use secrecy::ExposeSecret;

fn nkp() -> Command {
    Command::cargo_bin("nkp-escrow").expect("binary")
}

/// An identity file (0600) and its secret and public halves.
fn identity(dir: &Path, name: &str) -> (PathBuf, String, String) {
    let id = age::x25519::Identity::generate();
    let secret = id.to_string().expose_secret().to_string();
    let path = dir.join(name);
    std::fs::write(&path, format!("# created: test\n{secret}\n")).expect("write identity");
    (path, secret, id.to_public().to_string())
}

fn stderr_of(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(!out.status.success(), "the command must fail");
    let mut all = String::from_utf8_lossy(&out.stderr).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stdout));
    all
}

#[test]
fn an_identity_file_as_recipients_file_is_named_not_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (id, secret, _) = identity(dir.path(), "alice.key");
    let v = dir.path().join("vault");
    let err = stderr_of(
        nkp()
            .args(["vault", "init", "--vault"])
            .arg(&v)
            .arg("--recipients-file")
            .arg(&id),
    );
    assert!(!err.contains(&secret), "the identity was printed: {err}");
    assert!(
        !err.to_ascii_uppercase().contains("AGE-SECRET-KEY-1"),
        "{err}"
    );
    assert!(err.contains("line 2 of"), "{err}");
    assert!(err.contains("identity"), "{err}");
    assert!(err.contains("age-keygen -y"), "{err}");
    assert!(!v.exists(), "nothing may be written");
}

#[test]
fn a_secret_as_recipient_argument_is_named_not_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, secret, _) = identity(dir.path(), "bob.key");
    let v = dir.path().join("vault");
    for token in [
        secret.clone(),
        format!("bob={secret}"),
        "-----BEGIN OPENSSH PRIVATE KEY-----".to_string(),
    ] {
        let err = stderr_of(
            nkp()
                .args(["vault", "init", "--vault"])
                .arg(&v)
                .arg("--recipient")
                .arg(&token),
        );
        assert!(!err.contains(&token), "the value was printed: {err}");
        assert!(!err.contains(&secret), "{err}");
        assert!(err.contains("--recipient number 1"), "{err}");
        assert!(!v.exists(), "nothing may be written");
    }
}

#[test]
fn an_unrecognised_recipient_is_not_echoed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = dir.path().join("vault");
    let token = "Winter2026!-the-backup-password";
    let err = stderr_of(
        nkp()
            .args(["vault", "init", "--vault"])
            .arg(&v)
            .arg("--recipient")
            .arg(token),
    );
    assert!(!err.contains(token), "the value was printed: {err}");
    assert!(err.contains("not shown"), "{err}");
}

#[test]
fn rekey_with_a_secret_recipient_is_refused_without_echo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (id, _, public) = identity(dir.path(), "alice.key");
    let (_, bob_secret, _) = identity(dir.path(), "bob.key");
    let v = dir.path().join("vault");
    nkp()
        .args(["vault", "init", "--vault"])
        .arg(&v)
        .arg("--recipient")
        .arg(format!("alice={public}"))
        .assert()
        .success();
    let manifest = std::fs::read(v.join("manifest.jsonl")).unwrap_or_default();
    let err = stderr_of(
        nkp()
            .args(["vault", "rekey", "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(&id)
            .arg("--recipient")
            .arg(&bob_secret),
    );
    assert!(
        !err.contains(&bob_secret),
        "the identity was printed: {err}"
    );
    assert_eq!(
        std::fs::read(v.join("manifest.jsonl")).unwrap_or_default(),
        manifest,
        "a refused rekey must not write"
    );
}

/// Issue 10, item 2: with `--password-stdin` every line is its own password; the one escrowed
/// is the one that opened the file, not the first line.
#[test]
fn the_escrowed_password_is_the_stdin_line_that_opened_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (id, v) = init_vault(dir.path());
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share");
    let right = std::fs::read_to_string(share.join("passwords.txt"))
        .expect("passwords")
        .lines()
        .next()
        .expect("a line")
        .to_string();
    nkp()
        .args(["--quiet", "vault", "add", "--vault"])
        .arg(&v)
        .arg(share.join("NKP-PROD.p12"))
        .args(["--password-stdin", "--no-prompt"])
        .write_stdin(format!("not-the-password\nalso-wrong\n{right}\n"))
        .assert()
        .success();
    let out = dir.path().join("prod.p12");
    let pw = dir.path().join("prod.pw");
    restore(&v, &id, out.as_os_str(), &pw).assert().success();
    assert_eq!(std::fs::read_to_string(&pw).expect("password out"), right);
}

/// Issue 10, item 6/7: a restore is all or nothing. When the password file cannot be created
/// (it exists), no .p12 is left behind either.
#[test]
fn a_failed_restore_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (id, v) = vault_with_prod(dir.path());
    let out = dir.path().join("prod.p12");
    let pw = dir.path().join("prod.pw");
    std::fs::write(&pw, "kept").expect("existing file");
    restore(&v, &id, out.as_os_str(), &pw).assert().failure();
    assert!(!out.exists(), "a half restore was left behind");
    assert_eq!(std::fs::read_to_string(&pw).expect("kept"), "kept");
}

/// `--out -` writes the .p12 to standard output (a pipe here), not to a file named `-`.
#[test]
fn restore_to_standard_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (id, v) = vault_with_prod(dir.path());
    let pw = dir.path().join("prod.pw");
    let out = restore(&v, &id, "-".as_ref(), &pw)
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share");
    assert_eq!(
        out.stdout,
        std::fs::read(share.join("NKP-PROD.p12")).expect("original")
    );
    assert!(!dir.path().join("-").exists(), "a file named - was written");
}

/// A vault with NKP-PROD escrowed, and the custodian's identity.
fn vault_with_prod(dir: &Path) -> (PathBuf, PathBuf) {
    let (id, v) = init_vault(dir);
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share");
    nkp()
        .args(["--quiet", "vault", "add", "--vault"])
        .arg(&v)
        .arg(share.join("NKP-PROD.p12"))
        .arg("--password-file")
        .arg(share.join("passwords.txt"))
        .arg("--no-prompt")
        .assert()
        .success();
    (id, v)
}

/// Issue 10, item 10 and issue 13, item 4: a plugin recipient or identity whose plugin program
/// is not installed gets a clear error naming the program, not "incorrect HRP".
#[test]
fn a_missing_plugin_program_is_named_for_recipients_and_identities() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v = dir.path().join("vault");
    let out = nkp()
        .env("PATH", "/usr/bin:/bin")
        .args(["vault", "init", "--vault"])
        .arg(&v)
        .args([
            "--recipient",
            "age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not on PATH"), "{err}");
    assert!(err.contains("age-plugin-yubikey"), "{err}");
    assert!(!v.join("vault.yaml").exists());
    // An identity file of a plugin, given to a command that decrypts.
    let (_, _, public) = identity(dir.path(), "alice.key");
    nkp()
        .args(["vault", "init", "--vault"])
        .arg(&v)
        .arg("--recipient")
        .arg(public)
        .assert()
        .success();
    let plugin_id = dir.path().join("yubikey.txt");
    let line = bech32::encode::<bech32::Bech32>(
        bech32::Hrp::parse("age-plugin-yubikey-").expect("hrp"),
        &[7u8; 32],
    )
    .expect("bech32")
    .to_ascii_uppercase();
    std::fs::write(&plugin_id, format!("{line}\n")).expect("write");
    let out = nkp()
        .env("PATH", "/usr/bin:/bin")
        .args(["vault", "drill", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&plugin_id)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("age-plugin-yubikey"), "{err}");
    assert!(err.contains("not on PATH"), "{err}");
    assert!(!err.contains(&line), "{err}");
}

/// Issue 10, item 10: `vault checkpoint` warns when the signing key is readable by others.
#[cfg(unix)]
#[test]
fn a_group_readable_checkpoint_key_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, v) = vault_with_prod(dir.path());
    let key = dir.path().join("cp.key");
    nkp()
        .args(["vault", "checkpoint-key", "--out"])
        .arg(&key)
        .assert()
        .success();
    let sign = |key: &Path| {
        let out = nkp()
            .args(["vault", "checkpoint", "--vault"])
            .arg(&v)
            .arg("--key")
            .arg(key)
            .output()
            .expect("run");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(!sign(&key).contains("readable by others"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let err = sign(&key);
    assert!(err.contains("readable by others"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}

/// Issue 10, item 9: a HEAD carrying terminal escape sequences cannot erase a `[FAIL]` line
/// and print a fake `[PASS]`: control characters reach the terminal as visible escapes.
#[test]
fn escape_sequences_in_head_are_shown_not_obeyed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, v) = vault_with_prod(dir.path());
    let head = std::fs::read_to_string(v.join("HEAD")).expect("HEAD");
    std::fs::write(
        v.join("HEAD"),
        format!("{}\x1b[2K\r[PASS] vault verified\n", head.trim_end()),
    )
    .expect("tamper");
    let out = nkp()
        .args(["--format", "table", "vault", "verify", "--vault"])
        .arg(&v)
        .output()
        .expect("run");
    assert!(!out.status.success(), "a tampered HEAD must not verify");
    for stream in [&out.stdout, &out.stderr] {
        assert!(!stream.contains(&0x1b), "raw ESC reached the terminal");
        assert!(!stream.contains(&b'\r'), "raw CR reached the terminal");
    }
}

/// Issue 10, item 10/11: `rekey` shows who gains and loses access, changes nothing on
/// `--dry-run`, and removes a custodian only with `--yes`; `--recipients-file` works on it.
#[test]
fn rekey_is_explicit_about_who_loses_access() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (alice_id, v) = vault_with_prod(dir.path());
    let (_, _, bob) = identity(dir.path(), "bob.key");
    let manifest = || std::fs::read(v.join("manifest.jsonl")).expect("manifest");
    let before = manifest();
    let rekey = |extra: &[&str]| {
        let mut c = nkp();
        c.args(["vault", "rekey", "--vault"])
            .arg(&v)
            .arg("--identity")
            .arg(&alice_id)
            .arg("--recipient")
            .arg(format!("bob={bob}"))
            .args(extra);
        c.output().expect("run")
    };
    // Dry run: the plan, nothing written.
    let out = rekey(&["--dry-run"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loses access: custodian"), "{err}");
    assert!(err.contains("gains access: bob"), "{err}");
    assert_eq!(manifest(), before);
    // Without --yes (and no terminal to ask on): refused, nothing written.
    let out = rekey(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(manifest(), before);
    // From a recipients file, keeping alice: nobody loses access, no --yes needed.
    let alice_public = std::fs::read_to_string(dir.path().join("vault/vault.yaml"))
        .expect("config")
        .lines()
        .find_map(|l| l.trim().strip_prefix("recipient: ").map(str::to_string))
        .expect("alice's recipient in vault.yaml");
    let file = dir.path().join("custodians.txt");
    std::fs::write(
        &file,
        format!("# both\ncustodian={alice_public}\nbob={bob}\n"),
    )
    .expect("write");
    nkp()
        .args(["vault", "rekey", "--vault"])
        .arg(&v)
        .arg("--identity")
        .arg(&alice_id)
        .arg("--recipients-file")
        .arg(&file)
        .assert()
        .success();
    assert_ne!(manifest(), before);
}

/// Issue 10, item 8: the lock is never followed through a symlink (no file outside the vault
/// changes) and a FIFO in its place does not hang the writer.
#[cfg(unix)]
#[test]
fn a_planted_lock_is_refused_not_followed_or_waited_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, v) = vault_with_prod(dir.path());
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share");
    let add = || {
        nkp()
            .timeout(std::time::Duration::from_secs(20))
            .args(["--quiet", "vault", "add", "--vault"])
            .arg(&v)
            .arg(share.join("NKP-LAB.p12"))
            .arg("--password-file")
            .arg(share.join("passwords.txt"))
            .arg("--no-prompt")
            .output()
            .expect("run")
    };
    // A symlink to a file outside the vault.
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, "untouched").expect("write");
    let lock = v.join(".lock");
    let _ = std::fs::remove_file(&lock);
    std::os::unix::fs::symlink(&outside, &lock).expect("symlink");
    let out = add();
    assert!(!out.status.success(), "a symlinked lock must be refused");
    assert_eq!(
        std::fs::read_to_string(&outside).expect("read"),
        "untouched"
    );
    // A FIFO: refused at once, not waited on.
    std::fs::remove_file(&lock).expect("remove");
    let made = std::process::Command::new("mkfifo").arg(&lock).status();
    if made.is_ok_and(|s| s.success()) {
        let out = add();
        assert!(!out.status.success(), "a FIFO lock must be refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(".lock"), "{err}");
    } else {
        eprintln!("skipped the FIFO case: mkfifo is not available");
    }
}

/// Issue 10, item 8: a temporary file left in the vault folder itself is reported.
#[test]
fn a_temporary_file_in_the_vault_folder_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, v) = vault_with_prod(dir.path());
    std::fs::write(v.join(".manifest.jsonl.tmp-0123abcd"), "partial").expect("write");
    let out = nkp()
        .args(["--format", "json", "vault", "verify", "--vault"])
        .arg(&v)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(".manifest.jsonl.tmp-0123abcd: a temporary file"),
        "{text}"
    );
}

/// Issue 10, item 8: bytes changed without changing the text still fail verification: a
/// manifest converted to CRLF line ends, and a HEAD with trailing tokens.
#[test]
fn crlf_manifests_and_padded_heads_do_not_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, v) = vault_with_prod(dir.path());
    let verify = || {
        let out = nkp()
            .args(["--format", "json", "vault", "verify", "--vault"])
            .arg(&v)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(verify().0, Some(0));
    let manifest = std::fs::read_to_string(v.join("manifest.jsonl")).expect("manifest");
    std::fs::write(v.join("manifest.jsonl"), manifest.replace('\n', "\r\n")).expect("crlf");
    let (code, text) = verify();
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("carriage returns"), "{text}");
    std::fs::write(v.join("manifest.jsonl"), &manifest).expect("restore");
    assert_eq!(verify().0, Some(0));
    let head = std::fs::read_to_string(v.join("HEAD")).expect("HEAD");
    std::fs::write(v.join("HEAD"), format!("{} trailing\n", head.trim_end())).expect("pad");
    let (code, text) = verify();
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("HEAD is not exactly"), "{text}");
}

/// Issue 10, item 8: `verify` is for untrusted copies: an object that is a symlink to
/// `/dev/zero` or a FIFO is a problem, reported at once, not read without end or waited on.
#[cfg(unix)]
#[test]
fn verify_reads_only_regular_files_within_caps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, v) = vault_with_prod(dir.path());
    let object = std::fs::read_dir(v.join("objects"))
        .expect("objects")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "age"))
        .expect("an object");
    std::fs::remove_file(&object).expect("remove");
    std::os::unix::fs::symlink("/dev/zero", &object).expect("symlink");
    let verify = || {
        nkp()
            .timeout(std::time::Duration::from_secs(20))
            .args(["--format", "json", "vault", "verify", "--vault"])
            .arg(&v)
            .output()
            .expect("run")
    };
    let out = verify();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("is missing"), "{text}");
    std::fs::remove_file(&object).expect("remove");
    let made = std::process::Command::new("mkfifo").arg(&object).status();
    if made.is_ok_and(|s| s.success()) {
        let out = verify();
        assert_eq!(
            out.status.code(),
            Some(3),
            "a FIFO object must not hang verify"
        );
    } else {
        eprintln!("skipped the FIFO case: mkfifo is not available");
    }
}

/// Issue 10, item 9: a file name carrying escape sequences (a planted file in a share) reaches
/// the terminal escaped, in tables and in messages alike.
#[cfg(unix)]
#[test]
fn escape_sequences_in_file_names_are_shown_not_obeyed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = "evil\x1b[2K\r[PASS] fine.p12";
    std::fs::write(dir.path().join(name), b"not a pkcs12 file").expect("write");
    let out = nkp()
        .args(["--format", "table", "inspect", "--no-prompt"])
        .arg(dir.path())
        .output()
        .expect("run");
    for stream in [&out.stdout, &out.stderr] {
        assert!(!stream.contains(&0x1b), "raw ESC reached the terminal");
        assert!(!stream.contains(&b'\r'), "raw CR reached the terminal");
    }
    let all =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(all.contains("\\x1b[2K"), "{all}");
    // `vault add`'s table names the file it escrowed: escaped too.
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/estate/share");
    let evil = dir.path().join("evil\x1b[2K\r[PASS] prod.p12");
    std::fs::copy(share.join("NKP-PROD.p12"), &evil).expect("copy");
    let (_, v) = init_vault(dir.path());
    let out = nkp()
        .args([
            "--format",
            "table",
            "vault",
            "add",
            "--no-prompt",
            "--vault",
        ])
        .arg(&v)
        .arg(&evil)
        .arg("--password-file")
        .arg(share.join("passwords.txt"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !stream.contains(&0x1b),
            "raw ESC reached the terminal: {:?}",
            String::from_utf8_lossy(stream)
        );
        assert!(!stream.contains(&b'\r'), "raw CR reached the terminal");
    }
    assert!(String::from_utf8_lossy(&out.stdout).contains("\\x1b[2K"));
}

/// An empty vault for one custodian, and the custodian's identity file.
fn init_vault(dir: &Path) -> (PathBuf, PathBuf) {
    let (id, _, public) = identity(dir, "custodian.key");
    let v = dir.join("vault");
    nkp()
        .args(["vault", "init", "--vault"])
        .arg(&v)
        .arg("--recipient")
        .arg(format!("custodian={public}"))
        .assert()
        .success();
    (id, v)
}

/// `vault restore NKP-PROD` with the custodian's identity, the `.p12` to `out` (`-`: standard
/// output) and the password to `pw`.
fn restore(v: &Path, id: &Path, out: &std::ffi::OsStr, pw: &Path) -> Command {
    let mut c = nkp();
    c.args(["vault", "restore", "NKP-PROD", "--vault"])
        .arg(v)
        .arg("--identity")
        .arg(id)
        .arg("--out")
        .arg(out)
        .arg("--password-out")
        .arg(pw);
    c
}
