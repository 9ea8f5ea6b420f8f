//! age encryption to the vault's recipients, and decryption with an identity.
//!
//! Recipients are age X25519 (`age1...`) and SSH (`ssh-ed25519 ...`, `ssh-rsa ...`) public
//! keys, or a single scrypt passphrase. The age format does not allow a passphrase stanza next
//! to other recipients, so a vault is either recipient-based or passphrase-based.

use std::io::{Read, Write};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::VaultError;

/// A labelled recipient as stored in `vault.yaml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecipientSpec {
    /// Who holds the matching identity (custodian name).
    pub label: String,
    /// The public key: `age1...`, `ssh-ed25519 ...`, `ssh-rsa ...`.
    pub recipient: String,
}

impl RecipientSpec {
    /// A short fingerprint of the public key (first 16 hex of its SHA-256), stored in the
    /// manifest so that auditors see who can decrypt each entry.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.recipient)
    }
}

/// Fingerprint of a recipient string.
pub fn fingerprint(recipient: &str) -> String {
    let h = crate::store::sha256_hex(recipient.trim().as_bytes());
    format!("sha256:{}", &h[..16])
}

/// A parsed recipient.
pub fn parse_recipient(s: &str) -> Result<Box<dyn age::Recipient + Send>, VaultError> {
    let s = s.trim();
    if s.starts_with("age1") {
        return s
            .parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| VaultError::Refused(format!("not a valid age recipient {s:?}: {e}")));
    }
    if s.starts_with("ssh-") {
        return s
            .parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|e| VaultError::Refused(format!("not a supported SSH public key: {e:?}")));
    }
    Err(VaultError::Refused(format!(
        "{s:?} is neither an age recipient (age1...) nor an SSH public key (ssh-ed25519/ssh-rsa)"
    )))
}

/// How objects are encrypted.
pub enum Encryption<'a> {
    /// To these recipients.
    Recipients(&'a [RecipientSpec]),
    /// With this passphrase (scrypt).
    Passphrase(&'a SecretString),
}

/// Encrypt `plain` (binary age format).
pub fn encrypt(enc: &Encryption<'_>, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
    let fail = |e: String| VaultError::Crypto(format!("age encryption failed: {e}"));
    let encryptor = match enc {
        Encryption::Recipients(list) => {
            let parsed: Vec<Box<dyn age::Recipient + Send>> = list
                .iter()
                .map(|r| parse_recipient(&r.recipient))
                .collect::<Result<_, _>>()?;
            age::Encryptor::with_recipients(
                parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient),
            )
            .map_err(|e| fail(e.to_string()))?
        }
        Encryption::Passphrase(p) => age::Encryptor::with_user_passphrase((*p).clone()),
    };
    let mut out = Vec::with_capacity(plain.len() + 512);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| fail(e.to_string()))?;
    w.write_all(plain).map_err(|e| fail(e.to_string()))?;
    w.finish().map_err(|e| fail(e.to_string()))?;
    Ok(out)
}

/// Identities that can open objects: an age identity file, an SSH private key, or a
/// passphrase.
pub struct Identities {
    ids: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl Identities {
    /// Read an identity file: age (`AGE-SECRET-KEY-1...` lines) or an SSH private key.
    pub fn from_file(path: &std::path::Path) -> Result<Identities, VaultError> {
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
            VaultError::Io(format!("{}: cannot read identity: {e}", path.display()))
        })?);
        let text = std::str::from_utf8(&bytes).unwrap_or("");
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----")
            || text.contains("-----BEGIN RSA PRIVATE KEY-----")
        {
            let id = age::ssh::Identity::from_buffer(&bytes[..], Some(path.display().to_string()))
                .map_err(|e| {
                    VaultError::Refused(format!(
                        "{}: not a usable SSH private key: {e}",
                        path.display()
                    ))
                })?;
            if let age::ssh::Identity::Unsupported(k) = &id {
                return Err(VaultError::Refused(format!(
                    "{}: unsupported SSH key ({k:?})",
                    path.display()
                )));
            }
            return Ok(Identities {
                ids: vec![Box::new(id)],
            });
        }
        let file = age::IdentityFile::from_buffer(&bytes[..]).map_err(|e| {
            VaultError::Refused(format!("{}: not an age identity file: {e}", path.display()))
        })?;
        let ids = file
            .into_identities()
            .map_err(|e| VaultError::Refused(format!("{}: {e}", path.display())))?;
        if ids.is_empty() {
            return Err(VaultError::Refused(format!(
                "{}: no identity in the file",
                path.display()
            )));
        }
        Ok(Identities { ids })
    }

    /// A passphrase identity (scrypt).
    pub fn passphrase(p: SecretString) -> Identities {
        Identities {
            ids: vec![Box::new(age::scrypt::Identity::new(p))],
        }
    }

    /// Decrypt an object into zeroizing memory.
    pub fn decrypt(&self, cipher: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let d = age::Decryptor::new(cipher)
            .map_err(|e| VaultError::Crypto(format!("not an age file: {e}")))?;
        let mut r = d
            .decrypt(self.ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| VaultError::Crypto(format!("cannot decrypt with this identity: {e}")))?;
        let mut out = Zeroizing::new(Vec::new());
        r.read_to_end(&mut out)
            .map_err(|e| VaultError::Crypto(format!("decryption failed: {e}")))?;
        Ok(out)
    }
}
