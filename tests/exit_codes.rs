//! Issue 12, item 12: the exit-code table of `--help` (EXIT STATUS) holds for every case it
//! lists. One test per row; each case names the command and what it exercises.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use secrecy::ExposeSecret;

fn td(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
        .display()
        .to_string()
}

fn code(args: &[&str]) -> i32 {
    let o = Command::cargo_bin("nkp-escrow")
        .expect("binary")
        .env_remove("NKP_ESCROW_VAULT")
        .args(args)
        .output()
        .expect("run");
    o.status.code().unwrap_or(-1)
}

fn check(row: i32, cases: &[(&str, Vec<String>)]) {
    for (what, args) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(code(&args), row, "{what}: nkp-escrow {}", args.join(" "));
    }
}

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_string()).collect()
}

/// A vault with one entry of NKP-LAB, and its custodian's identity.
fn vault(dir: &Path) -> (PathBuf, PathBuf) {
    let id = age::x25519::Identity::generate();
    let key = dir.join("k.age");
    std::fs::write(&key, format!("{}\n", id.to_string().expose_secret())).expect("id");
    let vault = dir.join("v");
    let vs = vault.display().to_string();
    assert_eq!(
        code(&[
            "-q",
            "vault",
            "init",
            "--vault",
            &vs,
            "--recipient",
            &id.to_public().to_string()
        ]),
        0
    );
    assert_eq!(
        code(&[
            "-q",
            "vault",
            "add",
            "--vault",
            &vs,
            &td("estate/share/NKP-LAB.p12"),
            "--no-prompt",
            "--password-file",
            &td("estate/share/passwords.txt"),
        ]),
        0
    );
    (vault, key)
}

#[test]
fn row_0_done_and_nothing_wrong() {
    let d = tempfile::tempdir().expect("tempdir");
    let (vault, _) = vault(d.path());
    let vs = vault.display().to_string();
    check(
        0,
        &[
            (
                "inspect a strong backup",
                v(&[
                    "inspect",
                    &td("estate/share/NKP-LAB.p12"),
                    "--no-prompt",
                    "--password-file",
                    &td("estate/share/passwords.txt"),
                ]),
            ),
            ("evidence that reads", v(&["evidence", &td("evidence")])),
            (
                "vault verify of an intact vault",
                v(&["vault", "verify", "--vault", &vs]),
            ),
            ("vault list", v(&["vault", "list", "--vault", &vs])),
            (
                "resolve a VM whose backup restores it",
                v(&[
                    "resolve",
                    "--evidence",
                    &td("evidence"),
                    "--vault",
                    &vs,
                    "--backups",
                    &td("estate/share"),
                    "--no-prompt",
                    "--password-file",
                    &td("estate/share/passwords.txt"),
                    "--vm",
                    "win11-52 *",
                ]),
            ),
            (
                "coverage with --fail-on high and only lower findings",
                v(&[
                    "coverage",
                    "--evidence",
                    &td("evidence/api/NKP-PROD.json"),
                    "--backups",
                    &td("estate/share/NKP-PROD (1).p12"),
                    "--no-prompt",
                    "--password-file",
                    &td("estate/share/passwords.txt"),
                    "--fail-on",
                    "high",
                ]),
            ),
            ("completions", v(&["completions", "bash"])),
        ],
    );
}

#[test]
fn row_1_an_input_could_not_be_processed_or_a_named_subject_does_not_exist() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("r").display().to_string();
    check(
        1,
        &[
            (
                "a missing path (evidence)",
                v(&["evidence", "/nonexistent/nkp"]),
            ),
            (
                "a missing path (inspect)",
                v(&["inspect", "/nonexistent/a.p12"]),
            ),
            (
                "a missing path (coverage)",
                v(&["coverage", "--evidence", "/nonexistent/nkp"]),
            ),
            (
                "a missing path (report; nothing passes)",
                v(&["report", "--evidence", "/nonexistent/nkp", "--out", &out]),
            ),
            (
                "an unopened file: wrong or missing password",
                v(&["inspect", &td("estate/share/NKP-PROD.p12"), "--no-prompt"]),
            ),
            (
                "not a PKCS#12 file",
                v(&["inspect", &td("evidence/api/kms.ls.json")]),
            ),
            (
                "a vault that does not exist",
                v(&["vault", "verify", "--vault", "/nonexistent/vault"]),
            ),
            (
                "a named subject that does not exist (--vm)",
                v(&["resolve", "--evidence", &td("evidence"), "--vm", "db10"]),
            ),
            (
                "a named host that does not exist",
                v(&["resolve", "--evidence", &td("evidence"), "--host", "esx51"]),
            ),
            (
                "a named provider that does not exist",
                v(&[
                    "resolve",
                    "--evidence",
                    &td("evidence"),
                    "--provider",
                    "NKP-PRD",
                ]),
            ),
            (
                "report verify of a folder with no report",
                v(&["report", "verify", "/nonexistent/report"]),
            ),
        ],
    );
}

#[test]
fn row_2_usage() {
    let d = tempfile::tempdir().expect("tempdir");
    let out = d.path().join("r");
    std::fs::create_dir(&out).expect("mkdir");
    let out = out.display().to_string();
    check(
        2,
        &[
            (
                "an unknown option",
                v(&["inspect", "--no-such-option", "x"]),
            ),
            ("a missing required argument", v(&["inspect"])),
            (
                "a bad value",
                v(&["coverage", "--evidence", "x", "--fail-on", "critical"]),
            ),
            ("no --evidence", v(&["coverage"])),
            (
                "an existing report folder without --force",
                v(&["report", "--evidence", &td("evidence"), "--out", &out]),
            ),
        ],
    );
}

#[test]
fn row_3_the_check_found_a_problem() {
    let d = tempfile::tempdir().expect("tempdir");
    let (vault, _) = vault(d.path());
    let vs = vault.display().to_string();
    let out = d.path().join("r").display().to_string();
    let pw = td("estate/share/passwords.txt");
    let share = td("estate/share");
    check(
        3,
        &[
            (
                "a coverage gap",
                v(&[
                    "coverage",
                    "--evidence",
                    &td("evidence"),
                    "--backups",
                    &share,
                    "--no-prompt",
                    "--password-file",
                    &pw,
                ]),
            ),
            (
                "no backup restores the VM",
                v(&[
                    "resolve",
                    "--evidence",
                    &td("evidence"),
                    "--vm",
                    "sparse-vm*",
                ]),
            ),
            (
                "a failed report control",
                v(&[
                    "report",
                    "--evidence",
                    &td("evidence"),
                    "--backups",
                    &share,
                    "--no-prompt",
                    "--password-file",
                    &pw,
                    "--out",
                    &out,
                ]),
            ),
        ],
    );
    // A vault verification failure: one byte of the manifest changed.
    let manifest = vault.join("manifest.jsonl");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replacen("nkp-lab", "nkp-lax", 1)).expect("write");
    check(
        3,
        &[(
            "a vault that was changed",
            v(&["vault", "verify", "--vault", &vs]),
        )],
    );
}
