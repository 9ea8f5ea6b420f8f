//! Passwords as PKCS#12 needs them, and which one opened what.
//!
//! A [`Password`] is a secret string (zeroized on drop, `[REDACTED]` in `Debug`) with a label
//! that is safe to print ("line 3 of passwords.txt"). PKCS#12 has three encodings that real
//! files use, and two passwords that are not the same although both look empty:
//!
//! - the *empty* password is the BMPString terminator `00 00`;
//! - the *absent* password is zero bytes (OpenSSL tries both);
//! - OpenSSL 1.0.x widened each UTF-8 byte of a non-ASCII password to a BMP code unit.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// Bytes that must not be shown: zeroed on drop, redacted in `Debug`.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Take ownership of secret bytes.
    pub fn new(v: Vec<u8>) -> Self {
        Self(Zeroizing::new(v))
    }
    /// Borrow the bytes, in the smallest scope that needs them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        Self(v)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[REDACTED {} bytes]", self.0.len())
    }
}

/// One password to try. `None` secret means the absent password.
pub struct Password {
    label: String,
    secret: Option<SecretString>,
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Password({}: [REDACTED])", self.label)
    }
}

impl AsRef<Self> for Password {
    fn as_ref(&self) -> &Self {
        self
    }
}

/// The encodings of one password that PKCS#12 implementations use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// RFC 7292: BMPString (UTF-16BE) with a two-byte NUL terminator; absent = zero bytes.
    Bmp,
    /// OpenSSL 1.0.x bug: each UTF-8 byte widened to a BMP code unit.
    BmpOfUtf8Bytes,
}

impl Password {
    /// A password with a value. `label` says where it came from and is printed instead of it.
    pub fn new(label: impl Into<String>, secret: SecretString) -> Self {
        Self {
            label: label.into(),
            secret: Some(secret),
        }
    }
    /// The absent password (the PKCS#12 encoding of "no password": zero bytes).
    pub fn absent() -> Self {
        Self {
            label: "no password".into(),
            secret: None,
        }
    }
    /// The empty password (PKCS#12 BMPString `00 00`).
    pub fn empty() -> Self {
        Self {
            label: "the empty password".into(),
            secret: Some(SecretString::from(String::new())),
        }
    }
    /// Where the password came from, safe to print.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// The password text, in the smallest scope that needs it; `None` for the absent one.
    pub fn expose(&self) -> Option<&str> {
        self.secret.as_ref().map(|s| s.expose_secret())
    }
    /// True for the absent or the empty password: these protect nothing.
    pub fn is_blank(&self) -> bool {
        self.expose().is_none_or(str::is_empty)
    }
    /// True when the password has non-ASCII characters (so legacy encodings differ).
    pub fn is_non_ascii(&self) -> bool {
        self.expose().is_some_and(|s| !s.is_ascii())
    }
    /// UTF-8 bytes, as PBES1/PBES2 (PKCS#5) use them. Absent and empty are both empty.
    pub fn utf8(&self) -> &[u8] {
        self.expose().map(str::as_bytes).unwrap_or(&[])
    }
    /// The PKCS#12 KDF encoding of the password (RFC 7292 appendix B.1).
    pub fn pkcs12(&self, enc: Encoding) -> Zeroizing<Vec<u8>> {
        let Some(s) = self.expose() else {
            return Zeroizing::new(Vec::new());
        };
        let mut out = Zeroizing::new(Vec::with_capacity(s.len() * 2 + 2));
        match enc {
            Encoding::Bmp => {
                for u in s.encode_utf16() {
                    out.extend_from_slice(&u.to_be_bytes());
                }
            }
            Encoding::BmpOfUtf8Bytes => {
                for b in s.as_bytes() {
                    out.extend_from_slice(&[0, *b]);
                }
            }
        }
        out.extend_from_slice(&[0, 0]);
        out
    }
    /// The encodings worth trying for this password: the legacy one differs only for
    /// non-ASCII text.
    pub(crate) fn encodings(&self) -> &'static [Encoding] {
        if self.is_non_ascii() {
            &[Encoding::Bmp, Encoding::BmpOfUtf8Bytes]
        } else {
            &[Encoding::Bmp]
        }
    }
}

/// Which password opened a layer or verified the MAC: one of the caller's (by index into the
/// slice given to [`crate::Checked::open`]), or one of the two blank passwords every file is
/// also tried with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Candidate {
    /// The caller's password at this index.
    Given(usize),
    /// The empty password.
    Empty,
    /// The absent password.
    Absent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_absent_encode_differently() {
        assert_eq!(&*Password::empty().pkcs12(Encoding::Bmp), &[0, 0]);
        assert!(Password::absent().pkcs12(Encoding::Bmp).is_empty());
        assert!(Password::empty().is_blank() && Password::absent().is_blank());
    }

    #[test]
    fn pkcs12_encodings_of_absent_empty_and_text() {
        assert!(Password::absent().pkcs12(Encoding::Bmp).is_empty());
        assert_eq!(&*Password::empty().pkcs12(Encoding::Bmp), &[0, 0]);
        let p = Password::new("stdin", SecretString::from("aé".to_string()));
        assert_eq!(&*p.pkcs12(Encoding::Bmp), &[0, b'a', 0, 0xe9, 0, 0]);
        assert_eq!(
            &*p.pkcs12(Encoding::BmpOfUtf8Bytes),
            &[0, b'a', 0, 0xc3, 0, 0xa9, 0, 0]
        );
    }

    #[test]
    fn legacy_encoding_widens_utf8_bytes() {
        let p = Password::new("t", SecretString::from("é".to_string()));
        assert_eq!(&*p.pkcs12(Encoding::Bmp), &[0, 0xe9, 0, 0]);
        assert_eq!(
            &*p.pkcs12(Encoding::BmpOfUtf8Bytes),
            &[0, 0xc3, 0, 0xa9, 0, 0]
        );
        assert_eq!(p.encodings().len(), 2);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let p = Password::new(
            "line 1 of pw.txt",
            SecretString::from("hunter2".to_string()),
        );
        let d = format!("{p:?}");
        assert!(!d.contains("hunter2") && d.contains("REDACTED"));
        let b = SecretBytes::new(b"key".to_vec());
        assert!(!format!("{b:?}").contains("key"));
    }
}
