//! Where passwords come from (files, the environment, standard input, a prompt) and the
//! process hardening done before any secret is read. Binary-only: a library caller brings
//! its own passwords as [`nkp_escrow::secret::Password`] values.

use std::io::{IsTerminal, Read};
use std::path::Path;

use nkp_escrow::secret::{Password, PasswordOrigin};
use secrecy::SecretString;
use zeroize::Zeroizing;

/// Secret text as UTF-8: a UTF-8 byte-order mark is dropped and UTF-16 with its BOM (what
/// Windows PowerShell 5.1's `>` and `Out-File` write) is decoded. Every copy is zeroized.
pub(crate) fn decode_secret_text(bytes: &[u8]) -> std::io::Result<Zeroizing<String>> {
    if let Some(le) = nkp_escrow::evidence::utf16_bom(bytes) {
        // Room for the worst case (3 UTF-8 bytes per unit): no reallocation leaves a copy behind.
        let mut out = Zeroizing::new(String::with_capacity(bytes.len() / 2 * 3 + 4));
        if !nkp_escrow::evidence::decode_utf16_into(&bytes[2..], le, true, &mut out) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not valid UTF-16 text",
            ));
        }
        return Ok(out);
    }
    let b = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = std::str::from_utf8(b).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not valid UTF-8 text (at byte {})", e.valid_up_to()),
        )
    })?;
    Ok(Zeroizing::new(text.to_string()))
}

/// Read a password file: one password per line, each tried in turn; an empty line is the
/// empty password. Trailing `\r` is removed (files edited on Windows); UTF-8 with a BOM and
/// UTF-16 with a BOM are read as text.
pub(crate) fn read_password_file(path: &Path) -> std::io::Result<Vec<Password>> {
    let file = std::fs::File::open(path)?;
    // Sized once for the cap: a buffer that grew while reading would leave copies of the
    // passwords behind in freed memory.
    let mut raw = Zeroizing::new(Vec::with_capacity((1 << 20) + 1));
    file.take(1 << 20).read_to_end(&mut raw)?;
    let text = decode_secret_text(&raw)?;
    let mut out = Vec::new();
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    for (i, line) in lines.into_iter().enumerate() {
        out.push(Password::new(
            PasswordOrigin::File {
                path: path.to_path_buf(),
                line: i + 1,
            },
            SecretString::from(line.trim_end_matches('\r')),
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
