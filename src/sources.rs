//! Where passwords come from (files, the environment, standard input, a prompt) and the
//! process hardening done before any secret is read. Binary-only: a library caller brings
//! its own passwords as [`nkp_escrow::secret::Password`] values.

use std::io::{BufRead, IsTerminal, Read};
use std::path::Path;

use nkp_escrow::secret::{Password, PasswordOrigin};
use secrecy::SecretString;
use zeroize::Zeroizing;

/// Read a password file: one password per line, each tried in turn; an empty line is the
/// empty password. Trailing `\r` is removed (files edited on Windows).
pub(crate) fn read_password_file(path: &Path) -> std::io::Result<Vec<Password>> {
    let file = std::fs::File::open(path)?;
    let mut reader = std::io::BufReader::new(file.take(1 << 20));
    let mut out = Vec::new();
    let mut line_no = 0;
    loop {
        let mut buf = Zeroizing::new(Vec::new());
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let text = String::from_utf8(buf.to_vec()).map_err(|e| {
            let mut bytes = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line {line_no} is not valid UTF-8"),
            )
        })?;
        out.push(Password::new(
            PasswordOrigin::File {
                path: path.to_path_buf(),
                line: line_no,
            },
            SecretString::from(text),
        ));
    }
    Ok(out)
}

/// Read one password from an environment variable.
pub(crate) fn password_from_env(var: &str) -> Result<Password, String> {
    match std::env::var(var) {
        Ok(v) => Ok(Password::new(
            PasswordOrigin::Env {
                var: var.to_string(),
            },
            SecretString::from(v),
        )),
        Err(std::env::VarError::NotPresent) => {
            Err(format!("environment variable {var} is not set"))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("environment variable {var} is not valid UTF-8"))
        }
    }
}

/// Read passwords from standard input, one per line (like a password file).
pub(crate) fn passwords_from_stdin() -> std::io::Result<Vec<Password>> {
    let mut buf = Zeroizing::new(String::new());
    std::io::stdin().take(1 << 20).read_to_string(&mut buf)?;
    Ok(buf
        .lines()
        .enumerate()
        .map(|(i, l)| {
            Password::new(
                PasswordOrigin::Stdin { line: i + 1 },
                SecretString::from(l.trim_end_matches('\r').to_string()),
            )
        })
        .collect())
}

/// Ask for a password on the terminal, if there is one. Returns `None` when not interactive.
pub(crate) fn prompt_password(prompt: &str) -> Option<Password> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return None;
    }
    let p = rpassword::prompt_password(prompt).ok()?;
    Some(Password::new(PasswordOrigin::Prompt, SecretString::from(p)))
}

/// Keep secrets out of core dumps: RLIMIT_CORE = 0 and the process marked not dumpable
/// (which also stops other unprivileged processes of the same user from ptrace-attaching).
/// Returns what could not be done, for a warning; failure is not fatal.
pub(crate) fn harden_process() -> Vec<String> {
    let mut problems = Vec::new();
    #[cfg(unix)]
    {
        use rustix::process::{setrlimit, Resource, Rlimit};
        if let Err(e) = setrlimit(
            Resource::Core,
            Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        ) {
            problems.push(format!("could not disable core dumps (RLIMIT_CORE): {e}"));
        }
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{set_dumpable_behavior, DumpableBehavior};
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            problems.push(format!("could not mark the process not dumpable: {e}"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_lines_keep_empty_lines_and_strip_cr() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw.txt");
        std::fs::write(&f, "first\r\n\nthird").unwrap();
        let pws = read_password_file(&f).unwrap();
        assert_eq!(pws.len(), 3);
        assert_eq!(pws[0].utf8(), b"first");
        assert!(pws[1].is_blank());
        assert_eq!(pws[2].utf8(), b"third");
        assert_eq!(pws[2].origin, PasswordOrigin::File { path: f, line: 3 });
    }
}
