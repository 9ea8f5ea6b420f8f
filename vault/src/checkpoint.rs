//! Ed25519-signed checkpoints of the chain head (`checkpoints.jsonl`).
//!
//! A checkpoint signs `nkp-vault/1 checkpoint <seq> <sha256 of manifest line seq> <time>`. Anyone
//! holding the *public* key checks that the manifest still contains exactly that line at that
//! position: rewriting the manifest and `HEAD` consistently (dropping or changing entries) is
//! then detected without trusting anything inside the vault folder.

use std::path::Path;

use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use crate::store::{self, sha256_hex};
use crate::VaultError;

/// One signed checkpoint.
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
}

/// The signed message.
pub fn message(seq: u64, head: &str, at: &str) -> String {
    format!("nkp-vault/1 checkpoint {seq} {head} {at}")
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Generate a signing key: PKCS#8 bytes (secret) and the base64 public key.
pub fn generate() -> Result<(zeroize::Zeroizing<Vec<u8>>, String), VaultError> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| VaultError::Crypto("key generation failed".into()))?;
    let kp = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| VaultError::Crypto("key generation failed".into()))?;
    Ok((
        zeroize::Zeroizing::new(pkcs8.as_ref().to_vec()),
        b64(kp.public_key().as_ref()),
    ))
}

/// Sign the current chain head and append the checkpoint.
pub fn sign(dir: &Path, pkcs8: &[u8], now: &str) -> Result<Checkpoint, VaultError> {
    let kp = Ed25519KeyPair::from_pkcs8(pkcs8)
        .map_err(|_| VaultError::Refused("not an Ed25519 PKCS#8 signing key".into()))?;
    let _lock = store::lock(dir)?;
    let m = crate::manifest::read(dir)?;
    let last = m
        .lines
        .last()
        .ok_or_else(|| VaultError::Refused("the vault is empty: nothing to checkpoint".into()))?;
    let seq = m.lines.len() as u64;
    let head = sha256_hex(last.as_bytes());
    let sig = kp.sign(message(seq, &head, now).as_bytes());
    let cp = Checkpoint {
        seq,
        head,
        at: now.to_string(),
        public_key: b64(kp.public_key().as_ref()),
        signature: b64(sig.as_ref()),
    };
    let path = dir.join("checkpoints.jsonl");
    let mut body = std::fs::read_to_string(&path).unwrap_or_default();
    body.push_str(&serde_json::to_string(&cp).map_err(|e| VaultError::Format(e.to_string()))?);
    body.push('\n');
    store::write_atomic(&path, body.as_bytes(), 0o644, "checkpoint")?;
    Ok(cp)
}

/// Check every checkpoint against the manifest lines. `trusted`: base64 public keys given by
/// the verifier (outside the vault). Returns (problems, warnings, checkpoints trusted and valid).
pub fn verify(dir: &Path, lines: &[&str], trusted: &[String]) -> (Vec<String>, Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut good = 0;
    let text = std::fs::read_to_string(dir.join("checkpoints.jsonl")).unwrap_or_default();
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        let Ok(cp) = serde_json::from_str::<Checkpoint>(l) else {
            problems.push(format!("checkpoint {n}: not a valid checkpoint line"));
            continue;
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(&cp.public_key)
            .unwrap_or_default();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(&cp.signature)
            .unwrap_or_default();
        if UnparsedPublicKey::new(&ED25519, &key)
            .verify(message(cp.seq, &cp.head, &cp.at).as_bytes(), &sig)
            .is_err()
        {
            problems.push(format!(
                "checkpoint {n}: the signature does not verify (edited)"
            ));
            continue;
        }
        let line = usize::try_from(cp.seq)
            .ok()
            .and_then(|s| s.checked_sub(1))
            .and_then(|i| lines.get(i));
        match line {
            Some(l) if sha256_hex(l.as_bytes()) == cp.head => {}
            Some(_) => {
                problems.push(format!("checkpoint {n} (signed {}): manifest line {} is not the line that was signed: the manifest was rewritten", cp.at, cp.seq));
                continue;
            }
            None => {
                problems.push(format!("checkpoint {n} (signed {}): the manifest has fewer than {} lines: it was truncated", cp.at, cp.seq));
                continue;
            }
        }
        if trusted.contains(&cp.public_key) {
            good += 1;
        } else if !trusted.is_empty() {
            warnings.push(format!(
                "checkpoint {n} is signed by a key you did not name as trusted ({})",
                cp.public_key
            ));
        }
    }
    if !trusted.is_empty() && good == 0 {
        problems.push("no checkpoint signed by a trusted key matches the manifest: the vault cannot be shown unchanged since it was checkpointed".into());
    }
    (problems, warnings, good)
}
