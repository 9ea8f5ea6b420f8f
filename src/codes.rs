//! Error codes of the command-line contract, shared by the readers that produce them.

use serde::Serialize;

/// Declares an enumerated value of the contract from one table: each variant with the exact
/// text it has in JSON, YAML and tables. Generates `as_str`, `Display`, `Serialize` and
/// `ALL` (as rustls's `enum_builder!` does for wire enums), so a value's spelling lives in
/// one place and a comparison with a misspelt string cannot compile.
macro_rules! contract_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The contract's text for this value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }

            /// The value whose contract text is `s`.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use contract_enum;

contract_enum! {
    /// Why an input could not be (fully) read.
    pub enum ErrorCode {
        /// None of the passwords given opens it.
        WrongPassword = "wrong-password",
        /// It needs a password and none was given.
        PasswordRequired = "password-required",
        /// The data ends early.
        Truncated = "truncated",
        /// Not PKCS#12 (or not a backup at all).
        NotPkcs12 = "not-pkcs12",
        /// Over a cap (iterations, size, bags, decompression).
        LimitsExceeded = "limits-exceeded",
        /// An algorithm or mode this tool cannot handle.
        Unsupported = "unsupported",
        /// Damaged contents after decryption.
        Malformed = "malformed",
        /// The file system said no.
        Io = "io",
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
