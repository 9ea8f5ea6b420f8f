//! The JSON documents of the command-line contract (`inspect`, `evidence`) and the per-input
//! report. Built from the types each layer owns; imported by nothing below it (the readers and
//! parsers never see it). They carry fingerprints and facts, never key material or passwords.

use serde::Serialize;

pub use crate::codes::ErrorCode;
use crate::nkp::ProviderRecord;
use nkp_pkcs12::Structure;

/// `inspect --format json` document.
#[derive(Debug, Serialize)]
pub struct InspectOutput {
    /// Always `nkp-escrow`.
    pub tool: &'static str,
    /// Tool version.
    pub version: &'static str,
    /// One entry per input file.
    pub inputs: Vec<InputReport>,
    /// Files in the folders given that were passed over because they are not PKCS#12.
    pub skipped: usize,
}

/// What one input file is and holds.
#[derive(Debug, Serialize, Clone)]
pub struct InputReport {
    /// Path as given (or found under a folder given).
    pub path: String,
    /// SHA-256 of the file bytes, hex.
    pub sha256: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// `nkp-backup`, `pkcs12-other`, `vcsa-backup` or `not-pkcs12`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Why it could not be fully read.
    pub error: Option<ErrorInfo>,
    /// How the contents are protected (PKCS#12 only).
    pub protection: Option<Protection>,
    /// Native Key Providers found.
    pub providers: Vec<ProviderRecord>,
    /// What a PKCS#12 holds, in words (e.g. "RSA-2048 private key + certificate CN=vc").
    pub holds: Option<String>,
    /// For a file that is not PKCS#12: what it seems to be instead.
    pub hint: Option<String>,
    /// Further observations (unpaired metadata, MAC not verified, ...).
    pub notes: Vec<String>,
    /// The structure tree (`--explain` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure: Option<Structure>,
    /// vCenter file-based backup details (type `vcsa-backup` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vcsa: Option<crate::bundle::BundleInfo>,
}

pub use crate::codes::ErrorInfo;

pub use crate::nkp::protection::{EncryptionLayer, Protection, Verdict};

/// `evidence --format json` document.
#[derive(Debug, Serialize)]
pub struct EvidenceOutput {
    /// Always `nkp-escrow`.
    pub tool: &'static str,
    /// Tool version.
    pub version: &'static str,
    /// Key references, duplicates merged.
    pub references: Vec<KeyReference>,
    /// Files with an error or warnings, and what was recognised in each.
    pub inputs: Vec<EvidenceInput>,
    /// Files that yielded evidence.
    pub files_read: usize,
    /// Files per source kind (`vmx`, `vmdk`, `configstore`, ...).
    pub files_by_kind: std::collections::BTreeMap<String, usize>,
    /// Files looked at and passed over (binary, unrelated or too large), by reason.
    pub skipped: std::collections::BTreeMap<String, usize>,
}

pub use crate::evidence::{EvidenceInput, KeyReference, Source, Subject};
