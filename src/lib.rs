//! nkp-escrow: offline reader, escrow vault and evidence tool for the backups of VMware
//! vSphere's Native Key Provider (NKP).
//!
//! Data flows one way: files -> readers ([`nkp_pkcs12`], [`evidence`], [`bundle`]) -> meaning
//! ([`nkp`]) -> documents ([`model`], built only by [`inspect`]) -> [`resolve`] and
//! [`report`] -> renderers ([`render`]). Readers never print; renderers never parse. Secrets
//! live only in the PKCS#12 reader, [`secret`] and the vault, in zeroizing types; the model
//! carries fingerprints.
//!
//! The command line is the binary's (argument parsing, prompts, password sources, process
//! hardening): this library is what another tool can reuse, built without them with
//! `default-features = false`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bundle;
pub mod codes;
pub mod evidence;
#[doc(hidden)]
pub mod fuzzing;
pub mod inspect;
pub mod model;
pub mod nkp;
pub mod render;
pub mod report;
pub mod resolve;
pub mod secret;

/// Exit codes of the command-line contract.
pub mod exit {
    /// Success and nothing wrong.
    pub const OK: i32 = 0;
    /// An input could not be processed (the others are still reported).
    pub const INPUT: i32 = 1;
    /// Usage error.
    pub const USAGE: i32 = 2;
    /// The check ran and found a problem.
    pub const FINDING: i32 = 3;
}

/// Lowercase hex of the SHA-256 of `bytes`: file and payload digests in reports.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    nkp_pkcs12::describe::hex(&sha2::Sha256::digest(bytes))
}
