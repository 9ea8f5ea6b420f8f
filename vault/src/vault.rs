//! [`Vault`]: an open vault folder, and the operations that change it (init, add, drill,
//! rekey, checkpoint) or read it (entries, find, open an entry, verify).
//!
//! Every write takes the writer lock, reads the manifest strictly, writes objects first, then
//! the manifest, then `HEAD` (see [`crate::store`]).

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::checkpoint::Checkpoint;
use crate::crypto::{self, Identities, RecipientSpec};
use crate::digest::sha256_hex;
use crate::envelope::{Envelope, ENVELOPE_FORMAT};
use crate::error::{Candidate, VaultError};
use crate::manifest::{live_entries, Entry, Event, Manifest, Move};
use crate::store;
use crate::verify::{self, VerifyReport};

/// Format version written in `vault.yaml`.
pub const FORMAT: &str = "nkp-vault/1";

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
#[derive(Debug)]
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
    ) -> Result<Self, VaultError> {
        if recipients.is_empty() && !passphrase {
            return Err(VaultError::NoRecipients);
        }
        if !recipients.is_empty() && passphrase {
            return Err(VaultError::PassphraseWithRecipients);
        }
        for r in &recipients {
            crypto::parse_recipient(&r.recipient)?;
        }
        std::fs::create_dir_all(dir.join(store::OBJECTS)).map_err(VaultError::io(dir, "create"))?;
        let cfg_path = dir.join(store::CONFIG);
        if cfg_path.exists() {
            return Err(VaultError::AlreadyAVault {
                dir: dir.to_path_buf(),
            });
        }
        let config = Config {
            format: FORMAT.into(),
            recipients,
            passphrase,
        };
        let yaml = serde_norway::to_string(&config).map_err(VaultError::encode("config"))?;
        let _lock = store::lock(dir)?;
        store::write_atomic(&cfg_path, yaml.as_bytes(), 0o644, "config")?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// Open an existing vault.
    pub fn open(dir: &Path) -> Result<Self, VaultError> {
        let cfg_path = dir.join(store::CONFIG);
        let text = std::fs::read_to_string(&cfg_path).map_err(|error| VaultError::NoVault {
            dir: dir.to_path_buf(),
            error,
        })?;
        let config: Config =
            serde_norway::from_str(&text).map_err(|source| VaultError::Config {
                path: cfg_path.clone(),
                source,
            })?;
        if config.format != FORMAT {
            return Err(VaultError::UnknownFormat {
                path: cfg_path,
                found: config.format,
                expected: FORMAT,
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Read the manifest for writing (strict: any line that does not parse stops the write).
    fn read_manifest(&self) -> Result<Manifest, VaultError> {
        let path = self.dir.join(store::MANIFEST);
        let Some(bytes) = store::read_optional(&path)? else {
            return Ok(Manifest::default());
        };
        let text = String::from_utf8(bytes).map_err(|_| VaultError::Read {
            path: path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            ),
        })?;
        Manifest::parse(&text).map_err(|(line, error)| VaultError::ManifestLine {
            path,
            line,
            error,
        })
    }

    /// Append events to the manifest, then write it and `HEAD` (the caller holds the lock).
    fn append(&self, m: &mut Manifest, events: Vec<Event>) -> Result<(), VaultError> {
        m.append(events)
            .map_err(VaultError::encode("manifest line"))?;
        store::write_manifest(&self.dir, m.body().as_bytes(), m.head().as_bytes())
    }

    /// Verify the vault without any key (see [`verify::keyless`]). Problems are in the
    /// report, never an `Err`: a damaged vault is a finding, not a failure to look.
    pub fn verify(&self) -> VerifyReport {
        verify::keyless(&self.dir, &[])
    }

    /// [`Vault::verify`] with trusted checkpoint keys (base64 Ed25519 public keys): at least
    /// one checkpoint signed by one of them must match the manifest.
    pub fn verify_trusted(&self, trusted: &[String]) -> VerifyReport {
        verify::keyless(&self.dir, trusted)
    }

    /// Add the decryption check to a report: every live entry must decrypt with `ids` to the
    /// .p12 the manifest names (see [`verify::decryption`]). `Err` only when the manifest
    /// cannot be read strictly.
    pub fn verify_decryption(
        &self,
        ids: &Identities,
        report: &mut VerifyReport,
    ) -> Result<(), VaultError> {
        let entries = self.entries()?;
        verify::decryption(&self.dir, &entries, ids, report);
        Ok(())
    }

    /// Sign the current chain head with an Ed25519 PKCS#8 key and append the checkpoint to
    /// `checkpoints.jsonl`.
    pub fn checkpoint(&self, pkcs8: &[u8]) -> Result<Checkpoint, VaultError> {
        let _lock = store::lock(&self.dir)?;
        let m = self.read_manifest()?;
        let cp = Checkpoint::sign(pkcs8, &m.lines, &now())?;
        let path = self.dir.join(store::CHECKPOINTS);
        let mut body = store::read_optional(&path)?.unwrap_or_default();
        body.extend_from_slice(cp.to_line()?.as_bytes());
        body.push(b'\n');
        store::write_atomic(&path, &body, 0o644, "checkpoint")?;
        Ok(cp)
    }

    /// Live entries (after rekeys), in order of addition.
    pub fn entries(&self) -> Result<Vec<Entry>, VaultError> {
        let m = self.read_manifest()?;
        Ok(live_entries(&m.events))
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
        let mut m = self.read_manifest()?;
        let existing = live_entries(&m.events);
        let enc = match (self.config.passphrase, passphrase) {
            (false, _) => crypto::Encryption::Recipients(&self.config.recipients),
            (true, Some(p)) => crypto::Encryption::Passphrase(p),
            (true, None) => return Err(VaultError::PassphraseNeeded),
        };
        let mut out = Vec::new();
        let mut new_events = Vec::new();
        for (p12, password, facts) in items {
            let p12_sha256 = sha256_hex(&p12);
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
            let metadata = serde_json::to_value(&facts).map_err(VaultError::encode("facts"))?;
            let password_escrowed = password.is_some();
            let mut env = Envelope {
                format: ENVELOPE_FORMAT.into(),
                p12_base64: {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(&p12[..])
                },
                password,
                metadata,
            };
            let plain = env.to_plaintext()?;
            env.zeroize();
            let cipher = crypto::encrypt(&enc, &plain)?;
            let object = sha256_hex(&cipher);
            store::write_atomic(
                &store::object_path(&self.dir, &object),
                &cipher,
                0o644,
                "object",
            )?;
            store::failpoint("add:after-object");
            new_events.push(Event::Add(Box::new(Entry {
                id: id.clone(),
                object,
                provider: facts.provider,
                key_id: facts.key_id,
                kdk_fingerprint: facts.kdk_fingerprint,
                p12_sha256,
                verdict: facts.verdict,
                password_escrowed,
                export_time: facts.export_time,
                label: facts.label,
                added_at: now(),
                recipients: self.recipient_fingerprints(),
                last_drill: None,
            })));
            out.push(Added::New(id));
        }
        if !new_events.is_empty() {
            self.append(&mut m, new_events)?;
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
            [] => Err(VaultError::NoMatch {
                selector: selector.to_string(),
            }),
            many => Err(VaultError::Ambiguous {
                selector: selector.to_string(),
                candidates: many
                    .iter()
                    .map(|e| Candidate {
                        id: e.id.clone(),
                        provider: e.provider.clone(),
                        key_id: e.key_id.clone(),
                        export_time: e.export_time.clone(),
                    })
                    .collect(),
            }),
        }
    }

    /// Decrypt an entry's envelope in memory, checking the object's hash first.
    pub fn open_entry(&self, entry: &Entry, ids: &Identities) -> Result<Envelope, VaultError> {
        let cipher = store::read_object(&self.dir, &entry.object)?;
        Envelope::decrypt(&cipher, ids, &entry.id)
    }

    /// Record the result of a restore drill.
    pub fn record_drill(&self, entry: &str, ok: bool, detail: String) -> Result<(), VaultError> {
        let _lock = store::lock(&self.dir)?;
        let mut m = self.read_manifest()?;
        self.append(
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
            return Err(VaultError::RekeyNeedsRecipient);
        }
        for r in &recipients {
            crypto::parse_recipient(&r.recipient)?;
        }
        let _lock = store::lock(&self.dir)?;
        let mut m = self.read_manifest()?;
        let live = live_entries(&m.events);
        let mut moves = Vec::new();
        for e in &live {
            let env = self.open_entry(e, ids)?;
            let plain = env.to_plaintext()?;
            let cipher = crypto::encrypt(&crypto::Encryption::Recipients(&recipients), &plain)?;
            let object = sha256_hex(&cipher);
            store::write_atomic(
                &store::object_path(&self.dir, &object),
                &cipher,
                0o644,
                "object",
            )?;
            moves.push(Move {
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
        self.append(
            &mut m,
            vec![Event::Rekey {
                moves: moves.clone(),
                recipients: fps,
                at: now(),
            }],
        )?;
        let yaml = serde_norway::to_string(&config).map_err(VaultError::encode("config"))?;
        store::write_atomic(
            &self.dir.join(store::CONFIG),
            yaml.as_bytes(),
            0o644,
            "config",
        )?;
        self.config = config;
        for m in &moves {
            let _ = std::fs::remove_file(store::object_path(&self.dir, &m.old_object));
        }
        Ok(moves.len())
    }
}
