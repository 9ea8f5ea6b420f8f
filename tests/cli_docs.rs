//! Issue 12, items 12-13: the exit codes and environment in `--help` and in a man page for every
//! command (from the clap definitions), and the completion scripts.

use assert_cmd::Command;

fn nkp() -> Command {
    Command::cargo_bin("nkp-escrow").expect("binary")
}

#[test]
fn help_states_the_exit_codes_and_environment() {
    let o = nkp().arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "EXIT STATUS:",
        "  0  ",
        "  1  ",
        "  2  ",
        "  3  ",
        "ENVIRONMENT:",
        "NKP_ESCROW_VAULT",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
}

#[test]
fn man_writes_a_page_per_command_with_exit_status() {
    let d = tempfile::tempdir().expect("tempdir");
    let dir = d.path().join("man1");
    nkp().arg("man").arg(&dir).assert().success();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    for want in [
        "nkp-escrow.1",
        "nkp-escrow-inspect.1",
        "nkp-escrow-evidence.1",
        "nkp-escrow-resolve.1",
        "nkp-escrow-coverage.1",
        "nkp-escrow-report.1",
        "nkp-escrow-report-verify.1",
        "nkp-escrow-vault-restore.1",
        "nkp-escrow-man.1",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    assert!(
        names.iter().all(|n| n.ends_with(".1")),
        "no temporary file left: {names:?}"
    );
    for n in &names {
        let page = std::fs::read_to_string(dir.join(n)).expect("page");
        assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{n}");
        assert!(page.contains(".SH \"EXIT STATUS\""), "{n}");
        assert!(page.contains(".SH \"ENVIRONMENT\""), "{n}");
    }
    // Regenerating replaces the pages in place.
    nkp().arg("man").arg(&dir).assert().success();
}

#[test]
fn completion_scripts_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = nkp().args(["completions", shell]).output().expect("run");
        assert!(o.status.success());
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(s.contains("nkp-escrow") && s.contains("report"), "{shell}");
    }
}
