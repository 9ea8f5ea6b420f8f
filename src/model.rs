//! Model types shared by parsers and renderers. They carry fingerprints and facts, never key
//! material or passwords.

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

/// An error code from the contract and a message naming the file and the next step.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// `wrong-password`, `password-required`, `truncated`, `not-pkcs12`, `limits-exceeded`,
    /// `unsupported`, `malformed`, `io`.
    pub code: ErrorCode,
    /// Human message.
    pub message: String,
}

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

/// One file that yielded evidence or an error.
#[derive(Debug, Serialize, Clone)]
pub struct EvidenceInput {
    /// Path.
    pub path: String,
    /// Source kinds recognised in it.
    pub kinds: Vec<&'static str>,
    /// References found in it (before merging).
    pub references: usize,
    /// Why it could not be read, or what in it could not be parsed.
    pub error: Option<ErrorInfo>,
    /// Problems that did not stop the file (e.g. a malformed key safe on one line).
    pub warnings: Vec<String>,
}

/// Where a reference was read.
#[derive(Debug, Serialize, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    /// File path.
    pub path: String,
    /// 1-based line, where the source is line-oriented.
    pub line: Option<usize>,
    /// `vmx`, `vmdk`, `configstore`, `crypto-util`, `vcdb`, `govc`, `vcenter-api`, `powercli`,
    /// `text`.
    pub kind: &'static str,
}

/// What depends on (or describes) a provider.
#[derive(Debug, Serialize, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject {
    /// `vm`, `disk`, `host`, `provider` or `file`.
    pub kind: &'static str,
    /// As users know it: VM display name, disk file, host name, provider name.
    pub name: String,
}

/// One live key reference.
#[derive(Debug, Clone)]
pub struct KeyReference {
    /// Every source it was read from (merged duplicates), sorted; serialised as `source` (the
    /// first) and `sources` (all).
    pub sources: Vec<Source>,
    /// The VM, disk, host or provider.
    pub subject: Subject,
    /// Provider name needed (or described); null when the source does not say.
    pub provider: Option<String>,
    /// The provider's key_id, where the source states it.
    pub provider_key_id: Option<String>,
    /// The key identifier as the source gives it (blob, UUID). Its form and embedded UUID are
    /// derived from it ([`KeyReference::decoded_key`]), not stored.
    pub key: Option<String>,
    /// The host the output came from (shell prompt), when known.
    pub host: Option<String>,
    /// `needs-key`, `host-key`, `no-host-key`, `key-in-cache`, `key-not-in-cache`,
    /// `provider-known`.
    pub state: &'static str,
    /// Further facts (vTPM present, crypto_state, ...).
    pub details: Vec<std::borrow::Cow<'static, str>>,
}

impl KeyReference {
    /// The key identifier's form and, for an NKP key-ID blob, its embedded UUID (meaning
    /// unverified).
    pub fn decoded_key(&self) -> (Option<crate::evidence::blob::KeyIdForm>, Option<String>) {
        match self.key.as_deref().map(crate::evidence::blob::decode) {
            Some((form, uuid)) => (Some(form), uuid),
            None => (None, None),
        }
    }

    /// The embedded UUID of an NKP key-ID blob key.
    pub fn embedded_uuid(&self) -> Option<String> {
        self.decoded_key().1
    }
}

impl Serialize for KeyReference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (key_form, embedded_uuid) = self.decoded_key();
        let mut st = s.serialize_struct("KeyReference", 11)?;
        st.serialize_field("source", &self.sources.first())?;
        st.serialize_field("sources", &self.sources)?;
        st.serialize_field("subject", &self.subject)?;
        st.serialize_field("provider", &self.provider)?;
        st.serialize_field("provider_key_id", &self.provider_key_id)?;
        st.serialize_field("key", &self.key)?;
        st.serialize_field("embedded_uuid", &embedded_uuid)?;
        st.serialize_field("key_form", &key_form)?;
        st.serialize_field("host", &self.host)?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("details", &self.details)?;
        st.end()
    }
}
