//! `nkp-vault`: the escrow store of nkp-escrow. The format is specified in `vault/README.md`.
//!
//! A vault is a folder:
//!
//! - `vault.yaml`: format version and recipients (labelled public keys), or passphrase mode;
//! - `objects/<sha256>.age`: each object is the age encryption of an envelope (the .p12 bytes,
//!   its password, its metadata), named by the SHA-256 of the encrypted file;
//! - `manifest.jsonl`: an append-only, hash-chained list of events (`add`, `drill`, `rekey`)
//!   holding the cleartext facts needed to check coverage and integrity without any key;
//! - `HEAD`: the sequence number and hash of the last manifest line, so a truncated manifest
//!   is detected.
//!
//! Writers hold an exclusive lock; every file is written with temp + fsync + rename +
//! directory fsync, objects before the manifest, the manifest before `HEAD`. A crash at any
//! step leaves a vault that verifies (at worst with an orphan object or a `HEAD` one step
//! behind, both reported and repaired by the next write).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checkpoint;
pub mod crypto;
pub mod manifest;
pub mod store;

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub use crypto::{Identities, RecipientSpec};
pub use manifest::{Entry, Event, VerifyReport};

/// Format version written in `vault.yaml` and in every envelope.
pub const FORMAT: &str = "nkp-vault/1";

/// Errors of vault operations.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// File system problem.
    #[error("{0}")]
    Io(String),
    /// The vault's files are not what the format says.
    #[error("{0}")]
    Format(String),
    /// age could not encrypt or decrypt.
    #[error("{0}")]
    Crypto(String),
    /// The operation is refused (exists, ambiguous, not found, ...).
    #[error("{0}")]
    Refused(String),
}

/// `vault.yaml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Always [`FORMAT`].
    pub format: String,
    /// Recipients (empty in passphrase mode).
    #[serde(default)]
    pub recipients: Vec<RecipientSpec>,
    /// True when objects are encrypted with a passphrase (scrypt) instead.
    #[serde(default)]
    pub passphrase: bool,
}

/// What an escrow copy holds: the .p12 and its password. Zeroized on drop.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Envelope {
    /// Always `nkp-escrow-envelope/1`.
    pub format: String,
    /// The .p12 bytes, base64.
    pub p12_base64: String,
    /// Its password, if it has one.
    pub password: Option<String>,
    /// The manifest facts at the time of adding (for `drill` and humans).
    #[zeroize(skip)]
    pub metadata: serde_json::Value,
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
            .map_err(|_| VaultError::Format("envelope: p12 is not base64".into()))
    }
}

/// Cleartext facts about a backup being added (from `inspect`).
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Facts {
    /// Provider name.
    pub provider: Option<String>,
    /// Provider key_id.
    pub key_id: Option<String>,
    /// `sha256:` fingerprint of the KDK.
    pub kdk_fingerprint: String,
    /// Protection verdict of the .p12 (`strong`, `weak`, `unprotected`).
    pub verdict: String,
    /// Export time.
    pub export_time: Option<String>,
    /// Where it came from (the user's label or the file name).
    pub label: String,
}

/// What `add` did with one backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// A new entry.
    New(String),
    /// The same .p12 (by SHA-256) is already in the vault under this entry id.
    Duplicate(String),
}

/// An open vault.
pub struct Vault {
    dir: PathBuf,
    /// Its configuration.
    pub config: Config,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Vault {
    /// Create a vault in `dir` (created if missing; refused if it already holds a vault).
    pub fn init(
        dir: &Path,
        recipients: Vec<RecipientSpec>,
        passphrase: bool,
    ) -> Result<Vault, VaultError> {
        if recipients.is_empty() && !passphrase {
            return Err(VaultError::Refused(
                "a vault needs at least one recipient (--recipient age1... or an SSH public key) or --passphrase".into(),
            ));
        }
        if !recipients.is_empty() && passphrase {
            return Err(VaultError::Refused(
                "age cannot mix a passphrase with recipients in one file: choose recipients or --passphrase".into(),
            ));
        }
        for r in &recipients {
            crypto::parse_recipient(&r.recipient)?;
        }
        std::fs::create_dir_all(dir.join("objects"))
            .map_err(|e| VaultError::Io(format!("{}: cannot create: {e}", dir.display())))?;
        let cfg_path = dir.join("vault.yaml");
        if cfg_path.exists() {
            return Err(VaultError::Refused(format!(
                "{} already holds a vault: nothing was changed",
                dir.display()
            )));
        }
        let config = Config {
            format: FORMAT.into(),
            recipients,
            passphrase,
        };
        let yaml =
            serde_norway::to_string(&config).map_err(|e| VaultError::Format(e.to_string()))?;
        let _lock = store::lock(dir)?;
        store::write_atomic(&cfg_path, yaml.as_bytes(), 0o644, "config")?;
        Ok(Vault {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// Open an existing vault.
    pub fn open(dir: &Path) -> Result<Vault, VaultError> {
        let cfg_path = dir.join("vault.yaml");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| {
            VaultError::Io(format!(
                "{}: no vault here ({e}); create one with `nkp-escrow vault init`",
                dir.display()
            ))
        })?;
        let config: Config = serde_norway::from_str(&text)
            .map_err(|e| VaultError::Format(format!("{}: {e}", cfg_path.display())))?;
        if config.format != FORMAT {
            return Err(VaultError::Format(format!(
                "{}: format {:?}, this tool reads {FORMAT}",
                cfg_path.display(),
                config.format
            )));
        }
        Ok(Vault {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn object_path(&self, id: &str) -> PathBuf {
        self.dir.join("objects").join(format!("{id}.age"))
    }

    /// Read and check the manifest (keyless), and any signed checkpoints against the
    /// `trusted` public keys.
    pub fn verify(&self) -> VerifyReport {
        manifest::verify_with(&self.dir, &[])
    }

    /// [`Vault::verify`] with trusted checkpoint keys (base64 Ed25519 public keys).
    pub fn verify_trusted(&self, trusted: &[String]) -> VerifyReport {
        manifest::verify_with(&self.dir, trusted)
    }

    /// Sign the current chain head with an Ed25519 PKCS#8 key.
    pub fn checkpoint(&self, pkcs8: &[u8]) -> Result<checkpoint::Checkpoint, VaultError> {
        checkpoint::sign(&self.dir, pkcs8, &now())
    }

    /// Live entries (after rekeys), in order of addition.
    pub fn entries(&self) -> Result<Vec<Entry>, VaultError> {
        let m = manifest::read(&self.dir)?;
        Ok(manifest::live_entries(&m.events))
    }

    fn recipient_fingerprints(&self) -> Vec<String> {
        if self.config.passphrase {
            vec!["passphrase".into()]
        } else {
            self.config
                .recipients
                .iter()
                .map(|r| r.fingerprint())
                .collect()
        }
    }

    /// Add backups (each: .p12 bytes, password, facts). One manifest write for all. The
    /// passphrase is needed only in passphrase mode.
    pub fn add(
        &self,
        items: Vec<(Zeroizing<Vec<u8>>, Option<SecretString>, Facts)>,
        passphrase: Option<&SecretString>,
    ) -> Result<Vec<Added>, VaultError> {
        let _lock = store::lock(&self.dir)?;
        let mut m = manifest::read(&self.dir)?;
        let existing = manifest::live_entries(&m.events);
        let enc = match (self.config.passphrase, passphrase) {
            (false, _) => crypto::Encryption::Recipients(&self.config.recipients),
            (true, Some(p)) => crypto::Encryption::Passphrase(p),
            (true, None) => {
                return Err(VaultError::Refused(
                    "this vault is passphrase-based: the passphrase is needed to add".into(),
                ))
            }
        };
        let mut out = Vec::new();
        let mut new_events = Vec::new();
        for (p12, password, facts) in items {
            let p12_sha256 = store::sha256_hex(&p12);
            if let Some(e) = existing
                .iter()
                .chain(new_events.iter().filter_map(|ev: &Event| match ev {
                    Event::Add(e) => Some(e.as_ref()),
                    _ => None,
                }))
                .find(|e| e.p12_sha256 == p12_sha256)
            {
                out.push(Added::Duplicate(e.id.clone()));
                continue;
            }
            let id = p12_sha256[..12].to_string();
            let metadata =
                serde_json::to_value(&facts).map_err(|e| VaultError::Format(e.to_string()))?;
            let mut env = Envelope {
                format: "nkp-escrow-envelope/1".into(),
                p12_base64: {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(&p12[..])
                },
                password: password.as_ref().map(|p| p.expose_secret().to_string()),
                metadata,
            };
            let plain = Zeroizing::new(
                serde_json::to_vec(&env).map_err(|e| VaultError::Format(e.to_string()))?,
            );
            env.zeroize();
            let cipher = crypto::encrypt(&enc, &plain)?;
            let object = store::sha256_hex(&cipher);
            store::write_atomic(&self.object_path(&object), &cipher, 0o644, "object")?;
            store::failpoint("add:after-object");
            new_events.push(Event::Add(Box::new(Entry {
                id: id.clone(),
                object,
                provider: facts.provider,
                key_id: facts.key_id,
                kdk_fingerprint: facts.kdk_fingerprint,
                p12_sha256,
                verdict: facts.verdict,
                password_escrowed: password.is_some(),
                export_time: facts.export_time,
                label: facts.label,
                added_at: now(),
                recipients: self.recipient_fingerprints(),
                last_drill: None,
            })));
            out.push(Added::New(id));
        }
        if !new_events.is_empty() {
            manifest::append(&self.dir, &mut m, new_events)?;
        }
        Ok(out)
    }

    /// Find the one live entry matching an entry id (or a prefix of 4+ characters), a provider
    /// name, or a key_id (or a prefix of 8+ characters). Ambiguity is an error listing the
    /// candidates.
    pub fn find(&self, selector: &str) -> Result<Entry, VaultError> {
        let entries = self.entries()?;
        let by_id: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.id.starts_with(selector))
            .collect();
        let matches: Vec<&Entry> = if !by_id.is_empty() && selector.len() >= 4 {
            by_id
        } else {
            entries
                .iter()
                .filter(|e| {
                    e.provider.as_deref() == Some(selector)
                        || e.key_id.as_deref().is_some_and(|k| {
                            k.eq_ignore_ascii_case(selector)
                                || (selector.len() >= 8
                                    && k.to_ascii_lowercase()
                                        .starts_with(&selector.to_ascii_lowercase()))
                        })
                })
                .collect()
        };
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(VaultError::Refused(format!(
                "no vault entry matches {selector:?} (by id, provider or key_id); see `vault list`"
            ))),
            many => Err(VaultError::Refused(format!(
                "{selector:?} matches {} entries; use an entry id: {}",
                many.len(),
                many.iter()
                    .map(|e| format!(
                        "{} ({} {} exported {})",
                        e.id,
                        e.provider.as_deref().unwrap_or("?"),
                        e.key_id.as_deref().unwrap_or("?"),
                        e.export_time.as_deref().unwrap_or("?")
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Decrypt an entry's envelope in memory, checking the object's hash first.
    pub fn open_entry(&self, entry: &Entry, ids: &Identities) -> Result<Envelope, VaultError> {
        let path = self.object_path(&entry.object);
        let cipher = std::fs::read(&path)
            .map_err(|e| VaultError::Io(format!("{}: cannot read object: {e}", path.display())))?;
        if store::sha256_hex(&cipher) != entry.object {
            return Err(VaultError::Format(format!(
                "{}: the object does not match its hash: it was changed",
                path.display()
            )));
        }
        let plain = ids.decrypt(&cipher)?;
        let env: Envelope = serde_json::from_slice(&plain)
            .map_err(|e| VaultError::Format(format!("envelope of entry {}: {e}", entry.id)))?;
        Ok(env)
    }

    /// Record the result of a restore drill.
    pub fn record_drill(&self, entry: &str, ok: bool, detail: String) -> Result<(), VaultError> {
        let _lock = store::lock(&self.dir)?;
        let mut m = manifest::read(&self.dir)?;
        manifest::append(
            &self.dir,
            &mut m,
            vec![Event::Drill {
                entry: entry.to_string(),
                ok,
                detail,
                at: now(),
            }],
        )
    }

    /// Re-encrypt every live object to a new recipient set; old objects are removed only
    /// after the manifest records the change.
    pub fn rekey(
        &mut self,
        ids: &Identities,
        recipients: Vec<RecipientSpec>,
    ) -> Result<usize, VaultError> {
        if recipients.is_empty() {
            return Err(VaultError::Refused(
                "rekey needs at least one recipient".into(),
            ));
        }
        for r in &recipients {
            crypto::parse_recipient(&r.recipient)?;
        }
        let _lock = store::lock(&self.dir)?;
        let mut m = manifest::read(&self.dir)?;
        let live = manifest::live_entries(&m.events);
        let mut moves = Vec::new();
        for e in &live {
            let env = self.open_entry(e, ids)?;
            let plain = Zeroizing::new(
                serde_json::to_vec(&env).map_err(|x| VaultError::Format(x.to_string()))?,
            );
            let cipher = crypto::encrypt(&crypto::Encryption::Recipients(&recipients), &plain)?;
            let object = store::sha256_hex(&cipher);
            store::write_atomic(&self.object_path(&object), &cipher, 0o644, "object")?;
            moves.push(manifest::Move {
                entry: e.id.clone(),
                old_object: e.object.clone(),
                new_object: object,
            });
        }
        let config = Config {
            format: FORMAT.into(),
            recipients,
            passphrase: false,
        };
        let fps: Vec<String> = config.recipients.iter().map(|r| r.fingerprint()).collect();
        manifest::append(
            &self.dir,
            &mut m,
            vec![Event::Rekey {
                moves: moves.clone(),
                recipients: fps,
                at: now(),
            }],
        )?;
        let yaml =
            serde_norway::to_string(&config).map_err(|e| VaultError::Format(e.to_string()))?;
        store::write_atomic(
            &self.dir.join("vault.yaml"),
            yaml.as_bytes(),
            0o644,
            "config",
        )?;
        self.config = config;
        for m in &moves {
            let _ = std::fs::remove_file(self.object_path(&m.old_object));
        }
        Ok(moves.len())
    }
}
