//! Error codes of the command-line contract, shared by the readers that produce them.

use serde::Serialize;

/// Why an input could not be (fully) read. Serialised in kebab-case, as the JSON contract
/// names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// None of the passwords given opens it.
    WrongPassword,
    /// It needs a password and none was given.
    PasswordRequired,
    /// The data ends early.
    Truncated,
    /// Not PKCS#12 (or not a backup at all).
    NotPkcs12,
    /// Over a cap (iterations, size, bags, decompression).
    LimitsExceeded,
    /// An algorithm or mode this tool cannot handle.
    Unsupported,
    /// Damaged contents after decryption.
    Malformed,
    /// The file system said no.
    Io,
}

impl ErrorCode {
    /// The contract's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongPassword => "wrong-password",
            Self::PasswordRequired => "password-required",
            Self::Truncated => "truncated",
            Self::NotPkcs12 => "not-pkcs12",
            Self::LimitsExceeded => "limits-exceeded",
            Self::Unsupported => "unsupported",
            Self::Malformed => "malformed",
            Self::Io => "io",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// An error code from the contract and a message naming the file and the next step.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// `wrong-password`, `password-required`, `truncated`, `not-pkcs12`, `limits-exceeded`,
    /// `unsupported`, `malformed`, `io`.
    pub code: ErrorCode,
    /// Human message.
    pub message: String,
}
