//! Ed25519-signed checkpoints of the chain head (`checkpoints.jsonl`): the signed message, key
//! generation, signing and signature checks, on lines given to it. Reading and writing the
//! file, and deciding what a failed check means, belong to [`crate::Vault::checkpoint`] and
//! [`crate::verify`].
//!
//! A checkpoint signs `nkp-vault/2 checkpoint <seq> <sha256 of manifest line seq> <time> <prev>`,
//! where `<prev>` is the SHA-256 of the previous line of `checkpoints.jsonl` (64 zeros for the
//! first), so checkpoints form a chain of their own: a checkpoint line removed from the middle,
//! or reordered, no longer chains. Format-1 checkpoints signed the same message without
//! `<prev>` and the `nkp-vault/1` prefix; they still verify, but only before the first
//! chained one. Anyone holding the *public* key checks that the manifest still contains exactly
//! that line at that position: rewriting the manifest and `HEAD` consistently (dropping or
//! changing entries) is then detected without trusting anything inside the vault folder.

use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::digest::sha256_hex;
use crate::error::VaultError;

/// One signed checkpoint (one line of `checkpoints.jsonl`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// Manifest sequence number checkpointed.
    pub seq: u64,
    /// SHA-256 of that manifest line.
    pub head: String,
    /// When (RFC 3339).
    pub at: String,
    /// Public key (base64 of the 32-byte Ed25519 key).
    pub public_key: String,
    /// Signature (base64) over [`message`].
    pub signature: String,
    /// SHA-256 of the previous line of `checkpoints.jsonl` (64 zeros for the first); absent in
    /// format-1 checkpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
}

/// The signed message: format 2 with `prev`, format 1 without.
pub fn message(seq: u64, head: &str, at: &str, prev: Option<&str>) -> String {
    match prev {
        Some(prev) => format!("nkp-vault/2 checkpoint {seq} {head} {at} {prev}"),
        None => format!("nkp-vault/1 checkpoint {seq} {head} {at}"),
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Generate a signing key: PKCS#8 bytes (secret, zeroized on drop) and the base64 public key.
pub fn generate() -> Result<(Zeroizing<Vec<u8>>, String), VaultError> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| VaultError::KeyGeneration)?;
    let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| VaultError::KeyGeneration)?;
    Ok((
        Zeroizing::new(pkcs8.as_ref().to_vec()),
        b64(kp.public_key().as_ref()),
    ))
}

impl Checkpoint {
    /// Sign the last of the manifest `lines` (without newlines) at time `now`, chained to
    /// `prev`, the hash of the last line of `checkpoints.jsonl` (64 zeros when there is none).
    pub(crate) fn sign(
        pkcs8: &[u8],
        lines: &[String],
        now: &str,
        prev: &str,
    ) -> Result<Self, VaultError> {
        let kp = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| VaultError::NotASigningKey)?;
        let last = lines.last().ok_or(VaultError::EmptyVault)?;
        let seq = lines.len() as u64;
        let head = sha256_hex(last.as_bytes());
        let sig = kp.sign(message(seq, &head, now, Some(prev)).as_bytes());
        Ok(Self {
            seq,
            head,
            at: now.to_string(),
            public_key: b64(kp.public_key().as_ref()),
            signature: b64(sig.as_ref()),
            prev: Some(prev.to_string()),
        })
    }

    /// Parse one line of `checkpoints.jsonl`.
    pub(crate) fn parse(line: &str) -> Option<Self> {
        serde_json::from_str(line).ok()
    }

    /// The line as written to `checkpoints.jsonl` (without its newline).
    pub(crate) fn to_line(&self) -> Result<String, VaultError> {
        serde_json::to_string(self).map_err(VaultError::encode("checkpoint"))
    }

    /// True when the signature over [`message`] verifies with the embedded public key. Says
    /// nothing about whether that key is trusted, or whether the manifest still matches.
    pub fn signature_valid(&self) -> bool {
        let decode = |s: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .unwrap_or_default()
        };
        UnparsedPublicKey::new(&ED25519, decode(&self.public_key))
            .verify(
                message(self.seq, &self.head, &self.at, self.prev.as_deref()).as_bytes(),
                &decode(&self.signature),
            )
            .is_ok()
    }

    /// How the manifest `lines` (without newlines) relate to the checkpointed head.
    pub(crate) fn check_against<S: AsRef<str>>(&self, lines: &[S]) -> HeadCheck {
        let line = usize::try_from(self.seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| lines.get(i));
        match line {
            Some(l) if sha256_hex(l.as_ref().as_bytes()) == self.head => HeadCheck::Matches,
            Some(_) => HeadCheck::Rewritten,
            None => HeadCheck::Truncated,
        }
    }
}

/// The result of [`Checkpoint::check_against`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadCheck {
    /// Manifest line `seq` hashes to `head`.
    Matches,
    /// Line `seq` exists but is another line.
    Rewritten,
    /// The manifest has fewer than `seq` lines.
    Truncated,
}
