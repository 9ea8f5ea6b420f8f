//! The report's signature: an SSH signature (the SSHSIG format of OpenSSH's `PROTOCOL.sshsig`)
//! over `evidence.json`, made with an OpenSSH Ed25519 key, so that anyone can check it with
//! `ssh-keygen -Y verify` and no tool of ours. The namespace is [`NAMESPACE`].

use secrecy::{ExposeSecret, SecretString};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use zeroize::Zeroizing;

/// The SSHSIG namespace of report signatures (`ssh-keygen -Y verify -n nkp-escrow-report`).
pub const NAMESPACE: &str = "nkp-escrow-report";

/// Why a report could not be signed. Never carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// Not an OpenSSH private key.
    #[error("not an OpenSSH Ed25519 private key (report signing takes the file `ssh-keygen -t ed25519` writes; other key types are not supported)")]
    NotOpenSsh,
    /// Not Ed25519.
    #[error("the key is {0}; report signing takes an Ed25519 key (`ssh-keygen -t ed25519`)")]
    NotEd25519(String),
    /// Encrypted and no passphrase given.
    #[error("the key is protected by a passphrase; run on a terminal to be asked for it")]
    Encrypted,
    /// The passphrase did not open it.
    #[error("the passphrase does not open the key")]
    WrongPassphrase,
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// An OpenSSH private key, held only as long as it signs (ssh-key zeroizes its private part).
pub struct SigningKey(PrivateKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([REDACTED])")
    }
}

impl SigningKey {
    /// Parse the key file's text; `passphrase` opens an encrypted key.
    pub fn from_openssh(
        text: &Zeroizing<Vec<u8>>,
        passphrase: Option<&SecretString>,
    ) -> Result<Self, SignError> {
        let key = PrivateKey::from_openssh(text.as_slice()).map_err(|_| SignError::NotOpenSsh)?;
        if key.algorithm() != ssh_key::Algorithm::Ed25519 {
            return Err(SignError::NotEd25519(key.algorithm().to_string()));
        }
        let key = if key.is_encrypted() {
            let p = passphrase.ok_or(SignError::Encrypted)?;
            key.decrypt(p.expose_secret().as_bytes())
                .map_err(|_| SignError::WrongPassphrase)?
        } else {
            key
        };
        Ok(Self(key))
    }

    /// A new random Ed25519 key and its OpenSSH private key file text (unencrypted: the caller
    /// writes it 0600), as `ssh-keygen -t ed25519 -N ''` would make.
    pub fn generate(comment: &str) -> Result<(Self, Zeroizing<String>), SignError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut_slice()).map_err(|e| SignError::Sign(e.to_string()))?;
        let mut key = PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&seed));
        key.set_comment(comment);
        let text = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| SignError::Sign(e.to_string()))?;
        Ok((Self(key), Zeroizing::new(text.to_string())))
    }

    /// Whether the file is an encrypted OpenSSH key (so the caller knows to ask).
    pub fn is_encrypted(text: &[u8]) -> bool {
        PrivateKey::from_openssh(text).is_ok_and(|k| k.is_encrypted())
    }

    /// The public key, as an `authorized_keys` line without comment.
    pub fn public_openssh(&self) -> String {
        public_line(self.0.public_key())
    }

    /// Its SHA-256 fingerprint (`SHA256:...`, as `ssh-keygen -l` prints it).
    pub fn fingerprint(&self) -> String {
        self.0.public_key().fingerprint(HashAlg::Sha256).to_string()
    }

    /// Sign `message`: the armored signature (`-----BEGIN SSH SIGNATURE-----`).
    pub fn sign(&self, message: &[u8]) -> Result<String, SignError> {
        let sig = self
            .0
            .sign(NAMESPACE, HashAlg::Sha512, message)
            .map_err(|e| SignError::Sign(e.to_string()))?;
        sig.to_pem(LineEnding::LF)
            .map_err(|e| SignError::Sign(e.to_string()))
    }
}

fn public_line(k: &PublicKey) -> String {
    let mut k = k.clone();
    k.set_comment("");
    k.to_openssh().unwrap_or_default().trim().to_string()
}

/// A signature that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signer's public key (`ssh-ed25519 AAAA...`).
    pub public_key: String,
    /// Its SHA-256 fingerprint.
    pub fingerprint: String,
    /// True when the signer is the one the verifier named; false when no signer was named (then
    /// the signature shows only that the file is as someone signed it).
    pub signer_pinned: bool,
}

/// Why a signature does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The `.sig` file is not an SSH signature.
    #[error("not an SSH signature (-----BEGIN SSH SIGNATURE-----)")]
    Malformed,
    /// Another namespace.
    #[error("the signature is for namespace {0:?}, not {NAMESPACE:?}")]
    Namespace(String),
    /// The signer is not the one named.
    #[error("signed by {found}, not by the key given ({expected})")]
    OtherSigner {
        /// The signer's fingerprint.
        found: String,
        /// The expected fingerprint.
        expected: String,
    },
    /// The bytes changed since they were signed (or the signature was forged).
    #[error("the signature does not match the file: it changed after it was signed")]
    Mismatch,
}

/// Parse a signer given by the verifier: an OpenSSH public key line (`ssh-ed25519 AAAA...
/// [comment]`) or an `allowed_signers` file. An `allowed_signers` line with options
/// (`namespaces=`, `valid-before=`, `cert-authority`, ...) or a `@revoked` marker is refused:
/// those restrictions are not evaluated here, and ignoring them would accept what `ssh-keygen -Y
/// verify` refuses. Exactly one key must be given.
pub fn parse_signer(text: &str) -> Result<PublicKey, String> {
    let mut found: Vec<PublicKey> = Vec::new();
    for l in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let words: Vec<&str> = l.split_whitespace().collect();
        let Some(k) = words
            .iter()
            .position(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-"))
        else {
            return Err("a line holds no OpenSSH public key".into());
        };
        if words.iter().any(|w| w.starts_with('@')) || k > 1 {
            return Err(
                "an allowed_signers line with options or a marker (namespaces=, valid-before=, cert-authority, @revoked): not evaluated here; check with `ssh-keygen -Y verify`, or give the signer's plain public key".into(),
            );
        }
        let line = words[k..words.len().min(k + 2)].join(" ");
        found.push(
            PublicKey::from_openssh(&line)
                .map_err(|_| "not a readable OpenSSH public key".to_string())?,
        );
    }
    match found.len() {
        0 => Err("no OpenSSH public key (ssh-ed25519 AAAA...) in it".into()),
        1 => Ok(found.remove(0)),
        n => Err(format!("{n} keys: give the one signer expected")),
    }
}

/// Check `armored` (the `.sig` file) over `message`. With `signer`, the signature must be by
/// that key.
pub fn verify(
    armored: &str,
    message: &[u8],
    signer: Option<&PublicKey>,
) -> Result<Verified, VerifyError> {
    let sig = SshSig::from_pem(armored.trim()).map_err(|_| VerifyError::Malformed)?;
    if sig.namespace() != NAMESPACE {
        return Err(VerifyError::Namespace(sig.namespace().to_string()));
    }
    let key = PublicKey::from(sig.public_key().clone());
    let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
    if let Some(s) = signer {
        if s.key_data() != key.key_data() {
            return Err(VerifyError::OtherSigner {
                found: fingerprint,
                expected: s.fingerprint(HashAlg::Sha256).to_string(),
            });
        }
    }
    key.verify(NAMESPACE, message, &sig)
        .map_err(|_| VerifyError::Mismatch)?;
    Ok(Verified {
        public_key: public_line(&key),
        fingerprint,
        signer_pinned: signer.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        let k = PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[7u8; 32]));
        SigningKey(k)
    }

    #[test]
    fn signs_and_verifies_and_any_change_fails() {
        let k = key();
        let sig = k.sign(b"{\"a\":1}\n").expect("sign");
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----"));
        let pinned = parse_signer(&format!("auditor@example {}", k.public_openssh())).ok();
        let v = verify(&sig, b"{\"a\":1}\n", pinned.as_ref()).expect("verify");
        for restricted in [
            format!("a@x namespaces=\"file\" {}", k.public_openssh()),
            format!("a@x valid-before=\"20000101\" {}", k.public_openssh()),
            format!("a@x cert-authority {}", k.public_openssh()),
            format!("@revoked {}", k.public_openssh()),
        ] {
            assert!(parse_signer(&restricted).is_err(), "{restricted}");
        }
        assert!(v.signer_pinned);
        assert_eq!(v.fingerprint, k.fingerprint());
        assert_eq!(
            verify(&sig, b"{\"a\":2}\n", None),
            Err(VerifyError::Mismatch)
        );
        let other = PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[8u8; 32]));
        assert!(matches!(
            verify(&sig, b"{\"a\":1}\n", Some(other.public_key())),
            Err(VerifyError::OtherSigner { .. })
        ));
        assert_eq!(verify("junk", b"", None), Err(VerifyError::Malformed));
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert_eq!(format!("{:?}", key()), "SigningKey([REDACTED])");
    }

    #[test]
    fn garbage_keys_are_refused_by_name() {
        let z = Zeroizing::new(b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n".to_vec());
        assert!(matches!(
            SigningKey::from_openssh(&z, None),
            Err(SignError::NotOpenSsh)
        ));
        assert!(parse_signer("no key here").is_err());
    }
}
