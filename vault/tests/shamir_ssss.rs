//! Issue 13 (part): the Shamir shares interoperate with the `ssss` tools packaged in Debian, both
//! ways, for the break-glass restore. Skips, saying why, where `ssss-combine` is not installed.

#![allow(clippy::print_stderr)]

use std::io::Write;
use std::process::{Command, Stdio};

use nkp_vault::shamir::{combine, split, Share};

fn have_ssss() -> bool {
    let ok = Command::new("ssss-combine")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("skipped: ssss-combine is not installed (Debian package ssss)");
    }
    ok
}

fn run(cmd: &str, args: &[&str], input: &str) -> (String, String) {
    let mut c = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let o = c.wait_with_output().expect("wait");
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn our_shares_combine_with_ssss_combine() {
    if !have_ssss() {
        return;
    }
    // An age identity, as the vault shares it (text mode).
    let id = age::x25519::Identity::generate();
    let text = secrecy::ExposeSecret::expose_secret(&id.to_string()).to_string();
    let shares = split(text.as_bytes(), 2, 3).expect("split");
    for pair in [[0usize, 1], [2, 0]] {
        let input = format!(
            "{}\n{}\n",
            shares[pair[0]].to_text(3).as_str(),
            shares[pair[1]].to_text(3).as_str()
        );
        let (_, err) = run("ssss-combine", &["-t", "2", "-D", "-Q"], &input);
        assert_eq!(err.trim(), text);
    }
    // A 32-byte key (hex mode), 3 of 5.
    let key = [0x5au8; 32];
    let shares = split(&key, 3, 5).expect("split");
    let input: String = [4, 1, 3]
        .iter()
        .map(|&i| format!("{}\n", shares[i].to_text(5).as_str()))
        .collect();
    let (_, err) = run("ssss-combine", &["-t", "3", "-x", "-D", "-Q"], &input);
    assert_eq!(err.trim(), "5a".repeat(32));
}

#[test]
fn ssss_split_shares_combine_here() {
    if !have_ssss() {
        return;
    }
    let id = age::x25519::Identity::generate();
    let text = secrecy::ExposeSecret::expose_secret(&id.to_string()).to_string();
    let (out, _) = run(
        "ssss-split",
        &["-t", "2", "-n", "4", "-D", "-Q", "-s", "592"],
        &format!("{text}\n"),
    );
    let shares: Vec<Share> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| Share::parse(l, i + 1).expect("parse"))
        .collect();
    assert_eq!(shares.len(), 4);
    let back = combine(&shares[2..], 2).expect("combine");
    assert_eq!(back.as_slice(), text.as_bytes());
}
