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
use crate::custody::{Accessor, Config, Custodian, CustodianSet, Mode, FORMAT_V1};
use crate::digest::sha256_hex;
use crate::envelope::{Envelope, ENVELOPE_FORMAT};
use crate::error::{Candidate, VaultError};
use crate::manifest::{
    config_state, current_set, entry_sets, live_entries, ConfigState, Entry, Event, Manifest, Move,
    Participant,
};
use crate::store;
use crate::threshold::{self, Released, ThresholdError};
use crate::verify::{self, VerifyOptions, VerifyReport};

/// What a passphrase vault's verifier object decrypts to (then 32 random hex digits).
const VERIFIER_PREFIX: &[u8] = b"nkp-vault/2 passphrase verifier ";

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
    /// The password's strength was checked when it was added (see `password_weakness`).
    #[serde(default)]
    pub password_assessed: bool,
    /// Why the password is below STIG complexity (length and character classes only), when
    /// it was checked and is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_weakness: Option<String>,
}

/// What `add` did with one backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// A new entry.
    New(String),
    /// The same .p12 (by SHA-256) is already in the vault under this entry id.
    Duplicate(String),
}

/// The manifest of a vault as read once, for opening entries (see [`Vault::opener`]). A
/// release used meanwhile by another command is still refused when the drill or restore is
/// recorded, under the writer lock.
pub struct Opener<'v> {
    vault: &'v Vault,
    events: Vec<Event>,
    sets: crate::manifest::EntrySets,
}

impl Opener<'_> {
    /// [`Vault::open_entry_together`] on the manifest read by [`Vault::opener`].
    pub fn open(
        &self,
        entry: &Entry,
        ids: &[&Identities],
        released: &[Released],
    ) -> Result<(Envelope, Vec<Participant>), VaultError> {
        self.vault
            .open_in(&self.events, &self.sets, entry, ids, released)
    }
}

/// An open vault.
#[derive(Debug)]
pub struct Vault {
    dir: PathBuf,
    /// Its configuration.
    pub config: Config,
}

/// Now, RFC 3339 in UTC to the second (every timestamp the vault writes).
fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What a writer works on, read under the lock: the manifest and the custodian set in force.
struct Writable {
    _lock: store::Lock,
    manifest: Manifest,
    set: CustodianSet,
}

/// How long an entry id is (hex digits of the .p12's SHA-256): 128 bits, so that nobody who
/// supplies .p12 files can grind two with the same id.
const ID_LEN: usize = 32;

impl Vault {
    /// Create a vault in `dir` (created if missing; refused if it already holds a vault) for
    /// these recipients, or for a passphrase (then `recipients` is empty). The custodian set is
    /// the first event of the chain; in passphrase mode a verifier object is made with the
    /// passphrase, so that a mistyped passphrase is refused later instead of escrowing
    /// something nobody can open.
    pub fn init(
        dir: &Path,
        recipients: Vec<RecipientSpec>,
        passphrase: Option<&SecretString>,
    ) -> Result<Self, VaultError> {
        Self::create(dir, recipients, passphrase, None)
    }

    /// Create a k-of-n vault: every object can be opened only by `threshold` of these
    /// custodians together (2 <= threshold <= custodians). The threshold is recorded in the
    /// chain with the set.
    pub fn init_k_of_n(
        dir: &Path,
        recipients: Vec<RecipientSpec>,
        threshold: u8,
    ) -> Result<Self, VaultError> {
        Self::create(dir, recipients, None, Some(threshold))
    }

    fn create(
        dir: &Path,
        recipients: Vec<RecipientSpec>,
        passphrase: Option<&SecretString>,
        threshold: Option<u8>,
    ) -> Result<Self, VaultError> {
        if recipients.is_empty() && passphrase.is_none() {
            return Err(VaultError::NoRecipients);
        }
        if !recipients.is_empty() && passphrase.is_some() {
            return Err(VaultError::PassphraseWithRecipients);
        }
        for r in &recipients {
            crypto::parse_recipient(&r.recipient)?;
        }
        // The threshold is checked before anything is created.
        let k_of_n = match threshold {
            Some(k) => Some(CustodianSet::with_threshold(&recipients, Some(k))?),
            None => None,
        };
        std::fs::create_dir_all(dir.join(store::OBJECTS)).map_err(VaultError::io(dir, "create"))?;
        let _lock = store::lock(dir)?;
        let cfg_path = dir.join(store::CONFIG);
        let existing = Self::read_manifest_in(dir)?;
        // A manifest holding only an init event, and no vault.yaml, is an interrupted init:
        // it holds no entry and is made again.
        let interrupted_init = matches!(existing.events.as_slice(), [Event::Custodians { reason, .. }] if reason == "init");
        if store::exists(&cfg_path)? || (!existing.events.is_empty() && !interrupted_init) {
            return Err(VaultError::AlreadyAVault {
                dir: dir.to_path_buf(),
            });
        }
        let set = match passphrase {
            None => k_of_n.unwrap_or_else(|| CustodianSet::recipients(&recipients)),
            Some(p) => CustodianSet {
                mode: Mode::Passphrase,
                custodians: Vec::new(),
                verifier: Some(make_verifier(dir, p)?),
                threshold: None,
            },
        };
        let mut m = Manifest::default();
        m.append(vec![Event::Custodians {
            set: set.clone(),
            reason: "init".into(),
            at: now(),
        }])
        .map_err(VaultError::encode("manifest line"))?;
        store::write_manifest(dir, m.body().as_bytes(), m.head().as_bytes())?;
        let config = Config::of_set(&set);
        write_config(dir, &config)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// Open an existing vault (format 1 or 2). Nothing is written: a format-1 vault can be
    /// read and verified, and is upgraded by [`Vault::upgrade`] before any write.
    pub fn open(dir: &Path) -> Result<Self, VaultError> {
        let cfg_path = dir.join(store::CONFIG);
        let bytes = store::read_capped(&cfg_path, store::MAX_CONFIG).map_err(|error| {
            VaultError::NoVault {
                dir: dir.to_path_buf(),
                error,
            }
        })?;
        let config = Config::parse(&cfg_path, &bytes)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
        })
    }

    /// The vault folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read_manifest_in(dir: &Path) -> Result<Manifest, VaultError> {
        let path = dir.join(store::MANIFEST);
        let Some(bytes) = store::read_optional(&path, store::MAX_MANIFEST)? else {
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

    /// Read the manifest for writing (strict: any line that does not parse stops the write).
    fn read_manifest(&self) -> Result<Manifest, VaultError> {
        Self::read_manifest_in(&self.dir)
    }

    /// Take the lock, then read `vault.yaml` and the manifest under it and check that they
    /// agree on the custodians. An interrupted rekey or upgrade is completed here (the chain
    /// is the record); any other difference refuses the write.
    fn writable(&self) -> Result<Writable, VaultError> {
        let lock = store::lock(&self.dir)?;
        let cfg_path = self.dir.join(store::CONFIG);
        let bytes = store::read_capped(&cfg_path, store::MAX_CONFIG)
            .map_err(VaultError::io(&cfg_path, "read"))?;
        let config = Config::parse(&cfg_path, &bytes)?;
        store::objects_dir_is_real(&self.dir)?;
        let manifest = self.read_manifest()?;
        // A custodian history that breaks the format's rules (a forged set, a rekey without
        // one) is never extended.
        if let Some(p) = verify::custody_problems(&manifest.events).first() {
            return Err(VaultError::CustodyHistory {
                dir: self.dir.clone(),
                problem: p.to_string(),
            });
        }
        match config_state(&config, &manifest.events) {
            ConfigState::Matches => {}
            ConfigState::Behind => {
                if let Some((_, set)) = current_set(&manifest.events) {
                    write_config(&self.dir, &Config::of_set(set))?;
                }
            }
            ConfigState::Unchained => {
                return Err(VaultError::NeedsUpgrade {
                    dir: self.dir.clone(),
                })
            }
            ConfigState::Mismatch(difference) => {
                return Err(if current_set(&manifest.events).is_none() {
                    VaultError::NoCustodianSet {
                        dir: self.dir.clone(),
                    }
                } else {
                    VaultError::ConfigMismatch {
                        dir: self.dir.clone(),
                        difference,
                    }
                })
            }
        }
        let set = current_set(&manifest.events)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| VaultError::NoCustodianSet {
                dir: self.dir.clone(),
            })?;
        Ok(Writable {
            _lock: lock,
            manifest,
            set,
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
        verify::keyless(&self.dir, &VerifyOptions::default())
    }

    /// [`Vault::verify`] with trusted checkpoint keys and the auditor's pins (see
    /// [`VerifyOptions`]).
    pub fn verify_with(&self, options: &VerifyOptions) -> VerifyReport {
        verify::keyless(&self.dir, options)
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
    /// `checkpoints.jsonl`, chained to the checkpoint before it. A `checkpoints.jsonl` that
    /// exists but cannot be read stops it (it is never replaced).
    pub fn checkpoint(&self, pkcs8: &[u8]) -> Result<Checkpoint, VaultError> {
        let w = self.writable()?;
        let path = self.dir.join(store::CHECKPOINTS);
        let mut body = match store::read_capped(&path, store::MAX_CHECKPOINTS) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(VaultError::Read { path, source }),
        };
        if !body.is_empty() && !body.ends_with(b"\n") {
            return Err(VaultError::Read {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "does not end with a newline: it was cut or edited; run `vault verify`",
                ),
            });
        }
        let prev = body
            .split(|&c| c == b'\n')
            .rev()
            .find(|l| !l.is_empty())
            .map(sha256_hex)
            .unwrap_or_else(|| crate::manifest::ZERO.to_string());
        let cp = Checkpoint::sign(pkcs8, &w.manifest.lines, &now(), &prev)?;
        body.extend_from_slice(cp.to_line()?.as_bytes());
        body.push(b'\n');
        store::write_atomic(&path, &body, 0o644, "checkpoint")?;
        Ok(cp)
    }

    /// Live entries (after rekeys), in order of addition.
    pub fn entries(&self) -> Result<Vec<Entry>, VaultError> {
        let m = self.read_manifest()?;
        Ok(crate::manifest::into_live_entries(m.events))
    }

    /// Every event of the manifest, in order (read strictly): the access history for `vault
    /// log`.
    pub fn events(&self) -> Result<Vec<Event>, VaultError> {
        Ok(self.read_manifest()?.events)
    }

    /// The custodian set the chain records now (`None` in a format-1 vault).
    pub fn custodians(&self) -> Result<Option<CustodianSet>, VaultError> {
        let m = self.read_manifest()?;
        Ok(current_set(&m.events).map(|(_, s)| s.clone()))
    }

    /// Which custodian `ids` belongs to, checked against the set the chain records: in
    /// passphrase mode the identity must open the verifier; otherwise a probe is encrypted to
    /// each custodian's key alone until one opens with `ids`. Nothing is written.
    pub fn custodian_of(&self, ids: &Identities) -> Result<Custodian, VaultError> {
        let m = self.read_manifest()?;
        let set = current_set(&m.events)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| VaultError::NeedsUpgrade {
                dir: self.dir.clone(),
            })?;
        identify(&self.dir, &set, ids)
    }

    /// Add backups (each: .p12 bytes, password, facts). One manifest write for all. In
    /// passphrase mode the passphrase is needed and must open the vault's verifier; objects
    /// are encrypted to the custodian set the chain records, read under the lock.
    pub fn add(
        &self,
        items: Vec<(Zeroizing<Vec<u8>>, Option<SecretString>, Facts)>,
        passphrase: Option<&SecretString>,
    ) -> Result<Vec<Added>, VaultError> {
        let Writable {
            _lock,
            manifest: mut m,
            set,
        } = self.writable()?;
        let existing = live_entries(&m.events);
        let specs = set.specs();
        let enc = match (set.mode, passphrase) {
            (Mode::Recipients, _) => crypto::Encryption::Recipients(&specs),
            (Mode::Passphrase, Some(p)) => {
                check_passphrase(&self.dir, &set, p)?;
                crypto::Encryption::Passphrase(p)
            }
            (Mode::Passphrase, None) => return Err(VaultError::PassphraseNeeded),
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
            let id = p12_sha256[..ID_LEN].to_string();
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
            let cipher = match set.threshold {
                Some(_) => sealed_checked(&plain, &set, &id)?,
                None => crypto::encrypt(&enc, &plain)?,
            };
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
                password_assessed: facts.password_assessed,
                password_weakness: facts.password_weakness,
                added_at: now(),
                recipients: set.fingerprints(),
                last_drill: None,
            })));
            out.push(Added::New(id));
        }
        if !new_events.is_empty() {
            self.append(&mut m, new_events)?;
        }
        Ok(out)
    }

    /// Check a passphrase against the vault's verifier without writing anything (for the
    /// command line, before it asks anything else).
    pub fn check_passphrase(&self, passphrase: &SecretString) -> Result<(), VaultError> {
        let m = self.read_manifest()?;
        match current_set(&m.events) {
            Some((_, set)) => check_passphrase(&self.dir, set, passphrase),
            None => Err(VaultError::NeedsUpgrade {
                dir: self.dir.clone(),
            }),
        }
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

    /// Decrypt an entry's envelope in memory, checking the object's hash first. For an entry
    /// of a k-of-n set this fails (one identity is never enough): use
    /// [`Vault::open_entry_together`].
    pub fn open_entry(&self, entry: &Entry, ids: &Identities) -> Result<Envelope, VaultError> {
        let cipher = store::read_object(&self.dir, &entry.object)?;
        Envelope::decrypt(&cipher, ids, &entry.id)
    }

    /// The custodian set the entry's current object was encrypted to, as the chain records it
    /// (`None` for entries of a format-1 vault).
    pub fn entry_set(&self, entry: &Entry) -> Result<Option<CustodianSet>, VaultError> {
        let m = self.read_manifest()?;
        Ok(entry_sets(&m.events).get(&entry.id).cloned())
    }

    /// Open an entry with what the custodians taking part bring: their identities (a ceremony
    /// at one terminal) and shares they released to the restorer (read with
    /// [`threshold::read_released`]; each must be of this entry's current object and recorded
    /// in the chain). Works for every set: with a k-of-n set, `threshold` distinct
    /// custodians must take part; otherwise one identity that opens the object is enough.
    /// Returns the envelope and who took part. Nothing is recorded here.
    pub fn open_entry_together(
        &self,
        entry: &Entry,
        ids: &[&Identities],
        released: &[Released],
    ) -> Result<(Envelope, Vec<Participant>), VaultError> {
        self.opener()?.open(entry, ids, released)
    }

    /// The manifest read once for opening many entries ([`Opener::open`] is
    /// [`Vault::open_entry_together`] without reading the manifest again: a drill of every
    /// entry of a large vault reads it once, not once per entry).
    pub fn opener(&self) -> Result<Opener<'_>, VaultError> {
        let m = self.read_manifest()?;
        let sets = entry_sets(&m.events);
        Ok(Opener {
            vault: self,
            events: m.events,
            sets,
        })
    }

    /// [`Vault::open_entry_together`] on a manifest already read.
    fn open_in(
        &self,
        events: &[Event],
        sets: &crate::manifest::EntrySets,
        entry: &Entry,
        ids: &[&Identities],
        released: &[Released],
    ) -> Result<(Envelope, Vec<Participant>), VaultError> {
        let set = sets.get(&entry.id).cloned();
        let cipher = store::read_object(&self.dir, &entry.object)?;
        let Some(set) = set.filter(|s| s.threshold.is_some()) else {
            let mut last = None;
            for id in ids {
                match Envelope::decrypt(&cipher, id, &entry.id) {
                    Ok(env) => return Ok((env, Vec::new())),
                    Err(e) => last = Some(e),
                }
            }
            return Err(last.unwrap_or(VaultError::NotACustodian {
                custodians: "no identity was given".into(),
            }));
        };
        // The chain's set must be one that gives dual control, and the object must be what
        // the chain says (its threshold, one share per custodian) before anything is decrypted:
        // a forged object cannot make a restore combine 255 shares, or fewer than K.
        if let Some(problem) = set.threshold_problem() {
            return Err(VaultError::ObjectShares {
                entry: entry.id.clone(),
                problem,
            });
        }
        let wrong = threshold::check(&cipher, &set);
        if !wrong.is_empty() {
            return Err(VaultError::ObjectShares {
                entry: entry.id.clone(),
                problem: wrong.join("; "),
            });
        }
        let refuse = |problem: String| VaultError::ShareRefused {
            entry: entry.id.clone(),
            problem,
        };
        let mut restorer: Option<&str> = None;
        for r in released {
            if r.entry != entry.id {
                return Err(refuse(format!(
                    "a released share is for entry {}, not this one",
                    r.entry
                )));
            }
            if r.object != entry.object {
                return Err(refuse(
                    "a released share is of an older object of this entry (it was rekeyed since): ask for a new release".into(),
                ));
            }
            let line = usize::try_from(r.release)
                .unwrap_or(usize::MAX)
                .wrapping_sub(1);
            let to = match events.get(line) {
                Some(Event::Release {
                    entry: e,
                    object: o,
                    by,
                    to_recipient,
                    ..
                }) if *e == entry.id && *o == entry.object && by.fingerprint == r.custodian => {
                    to_recipient.as_deref()
                }
                _ => {
                    return Err(refuse(format!(
                    "a released share names manifest line {}, which does not record its release",
                    r.release
                )))
                }
            };
            // Whoever restores with it must hold the identity it was released to.
            let Some(to) = to else {
                return Err(refuse(format!(
                    "the release at line {} does not record its recipient",
                    r.release
                )));
            };
            if !ids.iter().any(|id| holds(id, to)) {
                return Err(refuse(format!(
                    "the share released at line {} was released to someone else: none of the identities given is its recipient",
                    r.release
                )));
            }
            if restorer.is_some_and(|x| x != to) {
                return Err(refuse(
                    "the released shares were released to different people: one restorer brings the shares released to them".into(),
                ));
            }
            restorer = Some(to);
            // A released share opens once.
            let used = events.iter().enumerate().find_map(|(i, ev)| match ev {
                Event::Drill { participants, .. } | Event::Restore { participants, .. }
                    if participants.iter().any(|p| p.release == Some(r.release)) =>
                {
                    Some(i + 1)
                }
                _ => None,
            });
            if let Some(at) = used {
                return Err(refuse(format!(
                    "the share released at line {} was already used (line {at}): a released share opens once; ask for a new release",
                    r.release
                )));
            }
        }
        let (plain, who) = threshold::open(&cipher, ids, released).map_err(|e| match e {
            ThresholdError::TooFew {
                opened,
                threshold,
                failed,
            } => {
                let mut names: Vec<String> = Vec::new();
                for name in threshold::holders(&cipher, ids)
                    .unwrap_or_default()
                    .iter()
                    .chain(released.iter().map(|r| &r.custodian))
                    .map(|fp| label_of(&set, fp))
                {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                VaultError::TooFewCustodians {
                    entry: entry.id.clone(),
                    needed: threshold,
                    opened,
                    custodians: set.labels(),
                    who: format!(
                        "{}{}",
                        names_or_nobody(names.into_iter()),
                        failed
                            .map(|f| format!("; an identity given could not be used: {f}"))
                            .unwrap_or_default()
                    ),
                }
            }
            // With released shares in play, shares that do not combine say nothing about the
            // vault (a share file may have been changed): refused, never a failed drill.
            other if !released.is_empty() => refuse(format!(
                "{other} (a released share file may have been changed; ask for a new release)"
            )),
            other => threshold_error(other, &entry.id),
        })?;
        let env = Envelope::from_plaintext(&plain, &entry.id)?;
        let participants = who
            .into_iter()
            .map(|(fp, release)| Participant {
                custodian: label_of(&set, &fp),
                fingerprint: fp,
                via: if release.is_some() {
                    "release"
                } else {
                    "identity"
                }
                .into(),
                release,
            })
            .collect();
        Ok((env, participants))
    }

    /// Release the share of the custodian `by` (whose identity is `ids`) of a k-of-n entry to
    /// `to`: recorded in the chain first (who, to whom, when, why), then returned as an
    /// ASCII-armored age file for `to` alone. The caller writes it (0600, never overwriting)
    /// and should have created that file before calling, so that a recorded release always
    /// has its file.
    pub fn release(
        &self,
        selector: &str,
        ids: &Identities,
        to: &RecipientSpec,
        by: &Accessor,
        reason: Option<String>,
    ) -> Result<(Entry, Vec<u8>), VaultError> {
        crypto::parse_recipient(&to.recipient)?;
        let mut w = self.writable()?;
        let entry = self.find(selector)?;
        let set = entry_sets(&w.manifest.events).get(&entry.id).cloned();
        if set.as_ref().is_none_or(|s| s.threshold.is_none()) {
            return Err(VaultError::NotThreshold { entry: entry.id });
        }
        let cipher = store::read_object(&self.dir, &entry.object)?;
        let seq = w.manifest.lines.len() as u64 + 1;
        let file = threshold::release(
            &cipher,
            &entry.object,
            &entry.id,
            &by.fingerprint,
            ids,
            to,
            seq,
        )
        .map_err(|e| threshold_error(e, &entry.id))?;
        self.append(
            &mut w.manifest,
            vec![Event::Release {
                entry: entry.id.clone(),
                object: entry.object.clone(),
                by: by.clone(),
                to: to.fingerprint(),
                to_label: Some(to.label.clone()),
                to_recipient: Some(to.recipient.trim().to_string()),
                reason,
                at: now(),
            }],
        )?;
        Ok((entry, file))
    }

    /// Record the result of a restore drill and who ran it.
    pub fn record_drill(
        &self,
        entry: &str,
        ok: bool,
        detail: String,
        by: &Accessor,
    ) -> Result<(), VaultError> {
        self.record_drill_by(entry, ok, detail, by, Vec::new())
    }

    /// [`Vault::record_drill`] with the custodians who took part (k-of-n entries).
    pub fn record_drill_by(
        &self,
        entry: &str,
        ok: bool,
        detail: String,
        by: &Accessor,
        participants: Vec<Participant>,
    ) -> Result<(), VaultError> {
        let mut w = self.writable()?;
        unused_releases(&w.manifest.events, entry, &participants)?;
        self.append(
            &mut w.manifest,
            vec![Event::Drill {
                entry: entry.to_string(),
                ok,
                detail,
                at: now(),
                by: Some(by.clone()),
                participants,
            }],
        )
    }

    /// Record that an entry is being restored, by whom and why. Called before the .p12 is
    /// written out: if it cannot be recorded, nothing is restored.
    pub fn record_restore(
        &self,
        entry: &str,
        by: &Accessor,
        reason: Option<String>,
    ) -> Result<(), VaultError> {
        self.record_restore_by(entry, by, reason, Vec::new())
    }

    /// [`Vault::record_restore`] with the custodians who took part (k-of-n entries).
    pub fn record_restore_by(
        &self,
        entry: &str,
        by: &Accessor,
        reason: Option<String>,
        participants: Vec<Participant>,
    ) -> Result<(), VaultError> {
        let mut w = self.writable()?;
        unused_releases(&w.manifest.events, entry, &participants)?;
        self.append(
            &mut w.manifest,
            vec![Event::Restore {
                entry: entry.to_string(),
                at: now(),
                by: by.clone(),
                reason,
                participants,
            }],
        )
    }

    /// Re-encrypt every live object to a new recipient set. Every object is decrypted first
    /// (nothing changes if one does not open); the new objects are written; then one manifest
    /// line records the moves and the new custodian set together (the commit point); then
    /// `vault.yaml`; old objects are removed last. A crash before the commit leaves the old set
    /// in force (and orphan objects); after it, the new set, which the next writer completes
    /// in `vault.yaml`. Adds never go to a set the chain has replaced.
    pub fn rekey(
        &mut self,
        ids: &Identities,
        recipients: Vec<RecipientSpec>,
        by: &Accessor,
    ) -> Result<usize, VaultError> {
        self.rekey_together(&[ids], recipients, None, by)
    }

    /// [`Vault::rekey`] with the identities of every custodian taking part (a k-of-n vault
    /// needs `threshold` of them to open its objects) and the new set's threshold (`None`:
    /// any one of the new custodians). The new set and threshold are recorded together.
    pub fn rekey_together(
        &mut self,
        ids: &[&Identities],
        recipients: Vec<RecipientSpec>,
        threshold: Option<u8>,
        by: &Accessor,
    ) -> Result<usize, VaultError> {
        if recipients.is_empty() {
            return Err(VaultError::RekeyNeedsRecipient);
        }
        for r in &recipients {
            crypto::parse_recipient(&r.recipient)?;
        }
        let new_set = CustodianSet::with_threshold(&recipients, threshold)?;
        let Writable {
            _lock,
            manifest: mut m,
            set: old_set,
        } = self.writable()?;
        // Changing who holds a k-of-n vault takes as many of its custodians as opening an
        // entry does, even when it holds no entry yet: one custodian cannot lower the threshold
        // or replace the others alone.
        let mut participants: Vec<Participant> = Vec::new();
        if old_set.threshold.is_some() {
            for id in ids {
                if let Ok(c) = identify(&self.dir, &old_set, id) {
                    if !participants.iter().any(|p| p.fingerprint == c.fingerprint) {
                        participants.push(Participant {
                            custodian: c.label,
                            fingerprint: c.fingerprint,
                            via: "identity".into(),
                            release: None,
                        });
                    }
                }
            }
            if participants.len() < old_set.needed() {
                return Err(VaultError::TooFewCustodians {
                    entry: "(the rekey)".into(),
                    needed: old_set.needed(),
                    opened: participants.len(),
                    custodians: old_set.labels(),
                    who: names_or_nobody(participants.iter().map(|p| p.custodian.clone())),
                });
            }
        }
        let live = live_entries(&m.events);
        let sets = entry_sets(&m.events);
        let plains: Vec<Zeroizing<Vec<u8>>> = live
            .iter()
            .map(|e| {
                self.open_in(&m.events, &sets, e, ids, &[])
                    .and_then(|(env, _)| env.to_plaintext())
            })
            .collect::<Result<_, _>>()?;
        let mut moves = Vec::new();
        for (e, plain) in live.iter().zip(&plains) {
            let cipher = match new_set.threshold {
                Some(_) => sealed_checked(plain, &new_set, &e.id)?,
                None => crypto::encrypt(&crypto::Encryption::Recipients(&recipients), plain)?,
            };
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
        store::failpoint("rekey:before-commit");
        self.append(
            &mut m,
            vec![Event::Rekey {
                moves: moves.clone(),
                recipients: new_set.fingerprints(),
                custodians: Some(new_set.clone()),
                at: now(),
                by: Some(by.clone()),
                participants,
            }],
        )?;
        let config = Config::of_set(&new_set);
        write_config(&self.dir, &config)?;
        self.config = config;
        store::failpoint("rekey:before-cleanup");
        for m in &moves {
            let _ = std::fs::remove_file(store::object_path(&self.dir, &m.old_object));
        }
        if let Some(v) = &old_set.verifier {
            let _ = std::fs::remove_file(store::object_path(&self.dir, v));
        }
        Ok(moves.len())
    }

    /// Upgrade a format-1 vault to format 2: record the custodian set `vault.yaml` lists now
    /// as the chain's first set (check it first: from here on it is the record), then mark
    /// `vault.yaml` as format 2. Refused when the vault does not verify. A passphrase vault
    /// needs its passphrase, which must open the first entry; a verifier is made with it.
    pub fn upgrade(dir: &Path, passphrase: Option<&SecretString>) -> Result<Self, VaultError> {
        // Open first (no lock file is made in a folder that is not a vault), then read it
        // again under the lock.
        Self::open(dir)?;
        let _lock = store::lock(dir)?;
        let v = Self::open(dir)?;
        let m = v.read_manifest()?;
        match config_state(&v.config, &m.events) {
            ConfigState::Unchained => {}
            ConfigState::Behind if v.config.format == FORMAT_V1 => {
                // Interrupted upgrade: the set is recorded; finish vault.yaml.
                if let Some((_, set)) = current_set(&m.events) {
                    let config = Config::of_set(set);
                    write_config(dir, &config)?;
                    return Ok(Self {
                        dir: dir.to_path_buf(),
                        config,
                    });
                }
            }
            _ => {
                return Err(VaultError::AlreadyUpgraded {
                    dir: dir.to_path_buf(),
                })
            }
        }
        let report = verify::keyless(dir, &VerifyOptions::default());
        if !report.problems.is_empty() {
            return Err(VaultError::UpgradeOfDamagedVault {
                dir: dir.to_path_buf(),
                problems: report.problems.len(),
            });
        }
        let set = if v.config.passphrase {
            let p = passphrase.ok_or(VaultError::PassphraseNeeded)?;
            let ids = Identities::passphrase(p.clone());
            if let Some(first) = live_entries(&m.events).first() {
                v.open_entry(first, &ids)
                    .map_err(|_| VaultError::WrongPassphrase)?;
            }
            CustodianSet {
                mode: Mode::Passphrase,
                custodians: Vec::new(),
                verifier: Some(make_verifier(dir, p)?),
                threshold: None,
            }
        } else {
            for r in &v.config.recipients {
                crypto::parse_recipient(&r.recipient)?;
            }
            CustodianSet::recipients(&v.config.recipients)
        };
        let mut m = m;
        v.append(
            &mut m,
            vec![Event::Custodians {
                set: set.clone(),
                reason: format!("upgrade from {FORMAT_V1}"),
                at: now(),
            }],
        )?;
        store::failpoint("upgrade:before-config");
        let config = Config::of_set(&set);
        write_config(dir, &config)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
        })
    }
}

/// Write `vault.yaml` (atomically).
fn write_config(dir: &Path, config: &Config) -> Result<(), VaultError> {
    let yaml = serde_norway::to_string(config).map_err(VaultError::encode("config"))?;
    store::write_atomic(&dir.join(store::CONFIG), yaml.as_bytes(), 0o644, "config")
}

/// Make a passphrase vault's verifier: an object holding a known prefix and random digits,
/// encrypted with the passphrase. Returns its object id.
fn make_verifier(dir: &Path, passphrase: &SecretString) -> Result<String, VaultError> {
    let mut random = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| VaultError::KeyGeneration)?;
    let mut plain = VERIFIER_PREFIX.to_vec();
    plain.extend_from_slice(crate::digest::hex(&random).as_bytes());
    let cipher = crypto::encrypt(&crypto::Encryption::Passphrase(passphrase), &plain)?;
    let object = sha256_hex(&cipher);
    store::write_atomic(&store::object_path(dir, &object), &cipher, 0o644, "object")?;
    Ok(object)
}

/// Check that `ids` opens the passphrase verifier of `set`.
fn opens_verifier(dir: &Path, set: &CustodianSet, ids: &Identities) -> Result<bool, VaultError> {
    let Some(verifier) = &set.verifier else {
        return Ok(false);
    };
    let cipher = store::read_object(dir, verifier)?;
    Ok(ids
        .decrypt(&cipher)
        .is_ok_and(|plain| plain.starts_with(VERIFIER_PREFIX)))
}

fn check_passphrase(
    dir: &Path,
    set: &CustodianSet,
    passphrase: &SecretString,
) -> Result<(), VaultError> {
    if opens_verifier(dir, set, &Identities::passphrase(passphrase.clone()))? {
        Ok(())
    } else {
        Err(VaultError::WrongPassphrase)
    }
}

/// The custodian whose key `ids` holds (see [`Vault::custodian_of`]).
fn identify(dir: &Path, set: &CustodianSet, ids: &Identities) -> Result<Custodian, VaultError> {
    match set.mode {
        Mode::Passphrase => {
            if opens_verifier(dir, set, ids)? {
                Ok(Custodian {
                    label: "passphrase".into(),
                    recipient: String::new(),
                    fingerprint: "passphrase".into(),
                })
            } else {
                Err(VaultError::NotACustodian {
                    custodians: set.labels(),
                })
            }
        }
        Mode::Recipients => {
            let mut missing: Option<VaultError> = None;
            for c in &set.custodians {
                let one = [RecipientSpec {
                    label: c.label.clone(),
                    recipient: c.recipient.clone(),
                }];
                // A custodian whose plugin is not installed here cannot be probed; that must
                // not stop the other custodians (a restore at 3 a.m. by two who hold no
                // hardware).
                let probe = match crypto::encrypt(
                    &crypto::Encryption::Recipients(&one),
                    b"nkp-vault custodian probe",
                ) {
                    Ok(p) => p,
                    Err(e) => {
                        missing.get_or_insert(e);
                        continue;
                    }
                };
                if ids.decrypt(&probe).is_ok() {
                    // The fingerprint of the key the probe was encrypted to, recomputed: the
                    // recorded one is checked by `verify`, never trusted here.
                    return Ok(Custodian {
                        fingerprint: crate::digest::fingerprint(&c.recipient),
                        ..c.clone()
                    });
                }
            }
            // Not one of those who could be probed: if some could not, say why.
            Err(missing.unwrap_or(VaultError::NotACustodian {
                custodians: set.labels(),
            }))
        }
    }
}

/// The label of the custodian with this fingerprint in `set` (the fingerprint itself when the
/// set has no such custodian).
fn label_of(set: &CustodianSet, fingerprint: &str) -> String {
    set.custodians
        .iter()
        .find(|c| c.fingerprint == fingerprint)
        .map_or_else(|| fingerprint.to_string(), |c| c.label.clone())
}

/// A k-of-n failure as a vault error for entry `entry` (never a share or key in it).
fn threshold_error(e: ThresholdError, entry: &str) -> VaultError {
    match e {
        ThresholdError::Vault(v) => v,
        other => VaultError::ObjectShares {
            entry: entry.to_string(),
            problem: other.to_string(),
        },
    }
}

/// `a, b` or `nobody`.
fn names_or_nobody(names: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = names.collect();
    if v.is_empty() {
        "nobody".into()
    } else {
        v.join(", ")
    }
}

/// True when `ids` holds the identity of `recipient`: a probe encrypted to it alone opens.
fn holds(ids: &Identities, recipient: &str) -> bool {
    let one = [RecipientSpec {
        label: "probe".into(),
        recipient: recipient.to_string(),
    }];
    crypto::encrypt(
        &crypto::Encryption::Recipients(&one),
        b"nkp-vault recipient probe",
    )
    .is_ok_and(|probe| ids.decrypt(&probe).is_ok())
}

/// Seal `plain` for a k-of-n `set` and check the object as `verify` will, before it is
/// written: an object that would not verify (two custodians sharing one key's shares, say) is
/// never escrowed.
fn sealed_checked(plain: &[u8], set: &CustodianSet, entry: &str) -> Result<Vec<u8>, VaultError> {
    let k = usize::from(set.threshold.unwrap_or(1));
    let cipher = threshold::seal(plain, &set.specs(), k).map_err(|e| threshold_error(e, entry))?;
    let wrong = threshold::check(&cipher, set);
    if !wrong.is_empty() {
        return Err(VaultError::ObjectShares {
            entry: entry.to_string(),
            problem: format!("the sealed object would not verify ({})", wrong.join("; ")),
        });
    }
    Ok(cipher)
}

/// Under the writer lock, just before a drill or restore is recorded: no released share it
/// used was used by a line written since it was checked (two restores racing with the same
/// shares: the second is refused before its key is written).
fn unused_releases(
    events: &[Event],
    entry: &str,
    participants: &[Participant],
) -> Result<(), VaultError> {
    for seq in participants.iter().filter_map(|p| p.release) {
        let used = events.iter().enumerate().find_map(|(i, ev)| match ev {
            Event::Drill { participants, .. } | Event::Restore { participants, .. }
                if participants.iter().any(|p| p.release == Some(seq)) =>
            {
                Some(i + 1)
            }
            _ => None,
        });
        if let Some(at) = used {
            return Err(VaultError::ShareRefused {
                entry: entry.to_string(),
                problem: format!(
                    "the share released at line {seq} was used meanwhile (line {at}): a released share opens once"
                ),
            });
        }
    }
    Ok(())
}
