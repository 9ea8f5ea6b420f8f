//! `nkp-vault`: the escrow store of nkp-escrow. The format is specified in `vault/README.md`.
//!
//! A vault is a folder:
//!
//! - `vault.yaml`: format version (`nkp-vault/2`) and a copy of the custodian set, which must
//!   match the one the chain records;
//! - `objects/<sha256>.age`: each object is the age encryption of an [`Envelope`] (the .p12
//!   bytes, its password, its metadata), named by the SHA-256 of the encrypted file;
//! - `manifest.jsonl`: an append-only, hash-chained list of [`Event`]s (`custodians`, `add`,
//!   `drill`, `restore`, `rekey`) holding the cleartext facts needed to check coverage,
//!   custody and integrity without any key;
//! - `HEAD`: the sequence number and hash of the last manifest line, so a truncated manifest
//!   is detected;
//! - `checkpoints.jsonl` (optional): chained, Ed25519-signed chain heads ([`Checkpoint`]).
//!
//! Writers hold an exclusive lock and read the configuration and the manifest under it; every
//! file is written with temp + fsync + rename + directory fsync, objects before the manifest,
//! the manifest before `HEAD`. A crash at any step leaves a vault that verifies (at worst with
//! an orphan object, a `HEAD` one step behind or a `vault.yaml` behind an interrupted rekey,
//! all reported and repaired by the next write).
//!
//! Modules, each with one job: `manifest`, [`checkpoint`], [`header`] (age headers) and
//! [`custody`] (custodian sets and stanza checks) are the formats (pure functions on lines and
//! bytes), [`crypto`] and `envelope` the age layer, [`store`] the only file writer,
//! [`verify`] every verification rule, and [`Vault`] the operations. Errors are
//! [`VaultError`].
//!
//! ```no_run
//! # fn main() -> Result<(), nkp_vault::VaultError> {
//! let vault = nkp_vault::Vault::open(std::path::Path::new("/srv/escrow"))?;
//! let report = vault.verify();
//! for p in &report.problems {
//!     eprintln!("[FAIL] {} ({})", p, p.kind());
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checkpoint;
pub mod crypto;
pub mod custody;
mod digest;
mod envelope;
mod error;
pub mod header;
mod manifest;
pub mod shamir;
pub mod store;
pub mod threshold;
mod vault;
pub mod verify;

pub use checkpoint::Checkpoint;
pub use crypto::{Identities, RecipientSpec};
pub use custody::{Accessor, Config, Custodian, CustodianSet, Mode, FORMAT, FORMAT_V1};
pub use envelope::{Envelope, ENVELOPE_FORMAT};
pub use error::{Candidate, VaultError};
pub use manifest::{Entry, Event, Move, Participant};
pub use threshold::Released;
pub use vault::{Added, Facts, Opener, Vault};
pub use verify::{Problem, VerifyOptions, VerifyReport, Warning};
