//! The envelope: the plaintext of an object, the .p12 and its password.
//!
//! On disk (inside the age object) it is compact JSON with the fields `format`, `p12_base64`,
//! `password` (a string or `null`) and `metadata`, in that order. The password is a
//! [`SecretString`] in memory: redacted in `Debug`, zeroized on drop, and serialised as the
//! same JSON string it always was.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::Identities;
use crate::error::VaultError;

/// The envelope `format` written by this version.
pub const ENVELOPE_FORMAT: &str = "nkp-escrow-envelope/1";

/// What an escrow copy holds: the .p12 and its password. Zeroized on drop; `Debug` shows
/// nothing of it.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Envelope {
    /// Always `nkp-escrow-envelope/1`.
    pub format: String,
    /// The .p12 bytes, base64.
    pub p12_base64: String,
    /// Its password, if it has one. Expose it only where it is written out.
    #[serde(
        default,
        serialize_with = "serialize_password",
        deserialize_with = "deserialize_password"
    )]
    pub password: Option<SecretString>,
    /// The manifest facts at the time of adding (for `drill` and humans).
    #[zeroize(skip)]
    pub metadata: serde_json::Value,
}

fn serialize_password<S: Serializer>(p: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_some(p.expose_secret()),
        None => s.serialize_none(),
    }
}

fn deserialize_password<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let p: Option<Zeroizing<String>> = Option::<String>::deserialize(d)?.map(Zeroizing::new);
    Ok(p.map(|p| SecretString::from(p.as_str())))
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Envelope([REDACTED])")
    }
}

impl Envelope {
    /// The .p12 bytes.
    pub fn p12(&self) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&self.p12_base64)
            .map(Zeroizing::new)
            .map_err(|_| VaultError::EnvelopeNotBase64)
    }

    /// The JSON plaintext, in zeroizing memory.
    pub(crate) fn to_plaintext(&self) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        serde_json::to_vec(self)
            .map(Zeroizing::new)
            .map_err(VaultError::encode("envelope"))
    }

    /// Decrypt an object's bytes (already checked against its name) for entry `entry`.
    pub(crate) fn decrypt(
        cipher: &[u8],
        ids: &Identities,
        entry: &str,
    ) -> Result<Self, VaultError> {
        let plain = ids.decrypt(cipher)?;
        Self::from_plaintext(&plain, entry)
    }

    /// Parse a decrypted envelope of entry `entry`.
    pub(crate) fn from_plaintext(plain: &[u8], entry: &str) -> Result<Self, VaultError> {
        serde_json::from_slice(plain).map_err(|e| VaultError::Envelope {
            entry: entry.to_string(),
            line: e.line(),
            column: e.column(),
        })
    }
}
