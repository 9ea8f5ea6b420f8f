//! Secret types, password sources and process hardening.
//!
//! Every password and every decrypted byte lives in a [`secrecy`] or [`zeroize`] type from the
//! moment it exists, and is zeroed when dropped. `Debug` prints `[REDACTED]`. What zeroization
//! does *not* guarantee (copies made by the kernel, the terminal, swap, or by a crate before
//! the bytes reach us) is written down in SECURITY.md.

use std::fmt;
use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Serialize;
use zeroize::Zeroizing;

pub use nkp_pkcs12::SecretBytes;

/// Where a password came from. Shown to the user instead of the password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PasswordOrigin {
    /// No password at all (the PKCS#12 "absent" encoding: zero bytes).
    Absent,
    /// The empty password (PKCS#12 BMPString `00 00`).
    Empty,
    /// A line of a password file.
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// An environment variable.
    Env {
        /// Variable name.
        var: String,
    },
    /// Standard input.
    Stdin,
    /// Typed at a terminal prompt.
    Prompt,
    /// Supplied by the program itself (demo, tests).
    Builtin {
        /// What it is.
        label: String,
    },
}

impl fmt::Display for PasswordOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordOrigin::Absent => f.write_str("no password"),
            PasswordOrigin::Empty => f.write_str("the empty password"),
            PasswordOrigin::File { path, line } => {
                write!(f, "line {line} of {}", path.display())
            }
            PasswordOrigin::Env { var } => write!(f, "${var}"),
            PasswordOrigin::Stdin => f.write_str("standard input"),
            PasswordOrigin::Prompt => f.write_str("the password typed at the prompt"),
            PasswordOrigin::Builtin { label } => f.write_str(label),
        }
    }
}

/// One password to try, with its origin. The secret itself is a [`nkp_pkcs12::Password`],
/// labelled with the origin so that reports can say which one worked.
pub struct Password {
    /// Where it came from.
    pub origin: PasswordOrigin,
    inner: nkp_pkcs12::Password,
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password({}: [REDACTED])", self.origin)
    }
}

impl AsRef<nkp_pkcs12::Password> for Password {
    fn as_ref(&self) -> &nkp_pkcs12::Password {
        &self.inner
    }
}

impl Password {
    /// A password with a value.
    pub fn new(origin: PasswordOrigin, secret: SecretString) -> Self {
        let inner = nkp_pkcs12::Password::new(origin.to_string(), secret);
        Self { origin, inner }
    }
    /// The absent password.
    pub fn absent() -> Self {
        Self {
            origin: PasswordOrigin::Absent,
            inner: nkp_pkcs12::Password::absent(),
        }
    }
    /// The empty password.
    pub fn empty() -> Self {
        Self {
            origin: PasswordOrigin::Empty,
            inner: nkp_pkcs12::Password::empty(),
        }
    }
    /// True for the absent or the empty password: these protect nothing.
    pub fn is_blank(&self) -> bool {
        self.inner.is_blank()
    }
    /// UTF-8 bytes (absent and empty are both empty), for `openssl enc` style KDFs.
    pub fn utf8(&self) -> &[u8] {
        self.inner.utf8()
    }
    /// Length and character classes, for the STIG's "strong password" question. Never the
    /// password itself.
    pub fn quality(&self) -> PasswordQuality {
        let s = self.inner.expose().unwrap_or("");
        let lower = s.chars().any(|c| c.is_ascii_lowercase());
        let upper = s.chars().any(|c| c.is_ascii_uppercase());
        let digit = s.chars().any(|c| c.is_ascii_digit());
        let symbol = s
            .chars()
            .any(|c| c.is_ascii() && !c.is_ascii_alphanumeric());
        let non_ascii = !s.is_ascii();
        let classes = [
            (lower, "lower"),
            (upper, "upper"),
            (digit, "digit"),
            (symbol, "symbol"),
            (non_ascii, "non-ascii"),
        ]
        .iter()
        .filter(|(present, _)| *present)
        .map(|(_, name)| (*name).to_string())
        .collect();
        let length = s.chars().count();
        PasswordQuality {
            source: self.origin.to_string(),
            length,
            classes,
            // DISA's vCenter STIGs ask for 15+ characters with all four ASCII classes.
            meets_stig_complexity: length >= 15 && lower && upper && digit && (symbol || non_ascii),
        }
    }
}

/// What can be said about a password without revealing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PasswordQuality {
    /// Which source held it (e.g. "line 3 of passwords.txt").
    pub source: String,
    /// Length in characters.
    pub length: usize,
    /// Character classes present: lower, upper, digit, symbol, non-ascii.
    pub classes: Vec<String>,
    /// 15 or more characters with lower, upper, digit and symbol.
    pub meets_stig_complexity: bool,
}

/// Read a password file: one password per line, each tried in turn; an empty line is the
/// empty password. Trailing `\r` is removed (files edited on Windows).
pub fn read_password_file(path: &Path) -> std::io::Result<Vec<Password>> {
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
pub fn password_from_env(var: &str) -> Result<Password, String> {
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
pub fn passwords_from_stdin() -> std::io::Result<Vec<Password>> {
    let mut buf = Zeroizing::new(String::new());
    std::io::stdin().take(1 << 20).read_to_string(&mut buf)?;
    Ok(buf
        .lines()
        .map(|l| {
            Password::new(
                PasswordOrigin::Stdin,
                SecretString::from(l.trim_end_matches('\r').to_string()),
            )
        })
        .collect())
}

/// Ask for a password on the terminal, if there is one. Returns `None` when not interactive.
pub fn prompt_password(prompt: &str) -> Option<Password> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return None;
    }
    let p = rpassword::prompt_password(prompt).ok()?;
    Some(Password::new(PasswordOrigin::Prompt, SecretString::from(p)))
}

/// Keep secrets out of core dumps: RLIMIT_CORE = 0 and the process marked not dumpable
/// (which also stops other unprivileged processes of the same user from ptrace-attaching).
/// Returns what could not be done, for a warning; failure is not fatal.
pub fn harden_process() -> Vec<String> {
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
    fn debug_never_shows_the_password() {
        let p = Password::new(
            PasswordOrigin::Stdin,
            SecretString::from("hunter2".to_string()),
        );
        let d = format!("{p:?}");
        assert!(!d.contains("hunter2"));
        assert!(d.contains("REDACTED"));
        let b = SecretBytes::new(b"kdk-bytes".to_vec());
        assert!(!format!("{b:?}").contains("kdk"));
    }

    #[test]
    fn quality_reports_classes_not_content() {
        let p = Password::new(
            PasswordOrigin::Stdin,
            SecretString::from("Correct-Horse-42-Battery".to_string()),
        );
        let q = p.quality();
        assert_eq!(q.length, 24);
        assert_eq!(q.classes, ["lower", "upper", "digit", "symbol"]);
        assert!(q.meets_stig_complexity);
        assert!(!Password::empty().quality().meets_stig_complexity);
    }

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
        assert_eq!(
            pws[2].origin,
            PasswordOrigin::File {
                path: f.clone(),
                line: 3
            }
        );
    }
}
