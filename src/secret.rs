//! Secret types, password sources and process hardening.
//!
//! Every password and every decrypted byte lives in a [`secrecy`] or [`zeroize`] type from the
//! moment it exists, and is zeroed when dropped. `Debug` prints `[REDACTED]`. What zeroization
//! does *not* guarantee (copies made by the kernel, the terminal, swap, or by a crate before
//! the bytes reach us) is written down in SECURITY.md.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Serialize;

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
    /// A line of standard input (each line is its own password).
    Stdin {
        /// 1-based line number.
        line: usize,
    },
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
            Self::Absent => f.write_str("no password"),
            Self::Empty => f.write_str("the empty password"),
            Self::File { path, line } => {
                write!(f, "line {line} of {}", path.display())
            }
            Self::Env { var } => write!(f, "${var}"),
            Self::Stdin { line } => write!(f, "line {line} of standard input"),
            Self::Prompt => f.write_str("the password typed at the prompt"),
            Self::Builtin { label } => f.write_str(label),
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

impl PasswordQuality {
    /// Why the password is below STIG complexity (`None` when it meets it), in words that say
    /// nothing more about it than its length and character classes.
    pub fn weakness(&self) -> Option<String> {
        (!self.meets_stig_complexity).then(|| {
            format!(
                "{} characters; {}",
                self.length,
                if self.classes.is_empty() {
                    "no character classes".to_string()
                } else {
                    self.classes.join(", ")
                }
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let p = Password::new(
            PasswordOrigin::Stdin { line: 1 },
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
            PasswordOrigin::Stdin { line: 1 },
            SecretString::from("Correct-Horse-42-Battery".to_string()),
        );
        let q = p.quality();
        assert_eq!(q.length, 24);
        assert_eq!(q.classes, ["lower", "upper", "digit", "symbol"]);
        assert!(q.meets_stig_complexity);
        assert!(!Password::empty().quality().meets_stig_complexity);
    }
}
