//! `nkp-pkcs12`: a PKCS#12 (PFX, RFC 7292) reader built for files nobody vouches for.
//!
//! It reads what OpenSSL, Java's keytool, Windows and older tools write: BER indefinite
//! lengths and chunked OCTET STRINGs, the PKCS#12 PBEs (3DES, RC2), PBES1 and PBES2 with
//! every common PRF and cipher, MACs keyed with the empty *and* the absent password, and
//! OpenSSL 1.0's encoding of non-ASCII passwords. It names what it cannot do (RC4, scrypt,
//! public-key modes, ...) instead of failing vaguely.
//!
//! The security promise is a type. Opening a file takes three steps, and key derivation is
//! only reachable through the middle one:
//!
//! 1. [`Pfx::parse`]: the structure and every scheme, with no key derivation;
//! 2. [`Pfx::check`]: every iteration count against the [`Limits`], giving [`Checked`]
//!    (or [`OverLimit`], which can be described but never opened);
//! 3. [`Checked::open`]: MAC verification and decryption with the passwords given.
//!
//! Secrets (decrypted keys, secret bag values, passwords) are held in zeroizing types and
//! print as `[REDACTED]`; the printable [`Structure`] shows them only as length and SHA-256.
//! The reader never allocates more than a small multiple of its input, refuses nesting
//! deeper than [`der::MAX_DEPTH`], and caps bags and total key-derivation work.
//!
//! ```
//! use nkp_pkcs12::{BagContent, Limits, Password, Pfx};
//! use secrecy::SecretString;
//!
//! let bytes = std::fs::read("../testdata/p12/shrouded-pbes2-aes256-sha256.p12")?;
//! let password = Password::new("the test password", SecretString::from("Str0ng!Escrow#Pass-2026"));
//!
//! let pfx = Pfx::parse(&bytes)?;                  // no key derivation yet
//! let checked = pfx.check(&Limits::default()).map_err(|o| o.problems()[0].clone())?;
//! let contents = checked.open(&[password]);       // MAC and decryption
//!
//! assert!(contents.problems.is_empty());
//! for bag in &contents.found {
//!     println!("{}: {}", bag.path, bag.description); // secrets as length + fingerprint
//! }
//! assert!(contents
//!     .found
//!     .iter()
//!     .any(|b| matches!(b.content, BagContent::SymmetricKey { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod der;
pub mod describe;
pub mod oid;
pub mod pbe;

mod password;
mod pfx;
#[cfg(feature = "write")]
pub mod write;

pub use password::{Candidate, Encoding, Password, SecretBytes};
pub use pfx::{
    BagContent, BagNode, Checked, Contents, Found, KeyContainer, Layer, Limits, MacInfo, OverLimit,
    ParseError, Pfx, Problem, SafeNode, Structure,
};

/// True when `bytes` start like a PFX: a SEQUENCE whose first element is `INTEGER 3`
/// (`30 <len> 02 01 03`). A cheap filter before [`Pfx::parse`], for content sniffing.
pub fn looks_like_pfx(bytes: &[u8]) -> bool {
    if bytes.first() != Some(&0x30) {
        return false;
    }
    let Some(&l) = bytes.get(1) else { return false };
    let skip = match l {
        0x00..=0x80 => 2,
        0x81..=0x88 => 2 + usize::from(l & 0x7f),
        _ => return false,
    };
    bytes.get(skip..skip + 3) == Some(&[0x02, 0x01, 0x03][..])
}
