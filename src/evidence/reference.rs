//! What `evidence` produces: live key references, where each was read, and the files read.

use serde::Serialize;

use crate::codes::ErrorInfo;

crate::codes::contract_enum! {
    /// What a reference says about its key.
    pub enum State {
        /// The subject needs this key to run (a VM or disk).
        NeedsKey = "needs-key",
        /// The host's own key (host encryption).
        HostKey = "host-key",
        /// The host has no host key established.
        NoHostKey = "no-host-key",
        /// The host has the key in its cache.
        KeyInCache = "key-in-cache",
        /// The host does not have the key in its cache.
        KeyNotInCache = "key-not-in-cache",
        /// A provider's name -> key_id fact.
        ProviderKnown = "provider-known",
        /// An error a host or vCenter logged about a key (it could not be found, resolved or
        /// decrypted).
        KeyError = "key-error",
        /// A fact about a host (e.g. whether it has a TPM), in `details`.
        HostFact = "host-fact",
    }
}

/// The scope of unlabelled evidence.
pub const DEFAULT_SCOPE: &str = "default";

static DEFAULT_SCOPE_ARC: std::sync::LazyLock<std::sync::Arc<str>> =
    std::sync::LazyLock::new(|| std::sync::Arc::from(DEFAULT_SCOPE));

/// The default scope, shared: every unlabelled reference points at the same string (no
/// allocation per reference, and equal scopes compare by pointer first).
pub fn default_scope() -> std::sync::Arc<str> {
    DEFAULT_SCOPE_ARC.clone()
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
    /// Which vCenter (or estate) it came from: the label of its `--evidence LABEL=PATH`, or
    /// `default`. Shared between the references of a scope.
    pub scope: std::sync::Arc<str>,
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
    pub state: State,
    /// Further facts (vTPM present, crypto_state, ...).
    pub details: Vec<std::borrow::Cow<'static, str>>,
}

impl KeyReference {
    /// The key identifier's form and, for an NKP key-ID blob, its embedded UUID (meaning
    /// unverified).
    pub fn decoded_key(&self) -> (Option<super::blob::KeyIdForm>, Option<String>) {
        match self.key.as_deref().map(super::blob::decode) {
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
        let mut st = s.serialize_struct("KeyReference", 12)?;
        st.serialize_field("scope", &*self.scope)?;
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
