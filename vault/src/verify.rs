//! Verification of a vault folder: the keyless checks (chain, `HEAD`, objects, orphans,
//! entries, signed checkpoints) and, with an identity, the decryption check.
//!
//! This module owns every rule about what is a *problem* (the vault was changed or damaged:
//! `vault verify` fails) and what is a *warning* (a state an interrupted write leaves, which the
//! next write repairs). It reads the folder through plain reads and takes no lock: a reader
//! never blocks writers, and every file it reads is replaced atomically.
//!
//! Findings are structured ([`Problem`], [`Warning`], each with a stable [`Problem::kind`]);
//! [`VerifyReport`] serialises them as their messages, which is what `vault verify --format json`
//! prints.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Serialize, Serializer};

use crate::checkpoint::{Checkpoint, HeadCheck};
use crate::crypto::Identities;
use crate::custody::{Config, CustodianSet};
use crate::digest::sha256_hex;
use crate::envelope::Envelope;
use crate::error::VaultError;
use crate::header;
use crate::manifest::{config_state, ConfigState};
use crate::manifest::{
    current_set, entry_sets, into_live_entries, Entry, EntrySets, Event, Line, ZERO,
};
use crate::store;

/// What an auditor brings to `verify`: trusted checkpoint keys and the state seen last time.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Trusted checkpoint public keys (base64 Ed25519). With any, the newest checkpoint signed
    /// by one of them must match the manifest and cover its last line.
    pub trusted: Vec<String>,
    /// Accept events after the newest trusted checkpoint (reported as a warning instead).
    pub allow_unsigned_tail: bool,
    /// The manifest must have at least this many events (the auditor saw this many).
    pub expect_seq: Option<u64>,
    /// The manifest must still hold a line with this SHA-256 (at `expect_seq` if given).
    pub expect_head: Option<String>,
}

/// The newest checkpoint signed by a trusted key that matches the manifest.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TrustedCheckpoint {
    /// The manifest line it signs.
    pub seq: u64,
    /// That line's SHA-256.
    pub head: String,
    /// When it was signed (RFC 3339, as written by the signer).
    pub at: String,
}

/// A custodian as the report lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CustodianSummary {
    /// Label.
    pub label: String,
    /// Full fingerprint.
    pub fingerprint: String,
}

/// Result of verifying a vault.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    /// True when nothing is wrong (warnings allowed).
    pub ok: bool,
    /// Events in the manifest.
    pub events: usize,
    /// Live entries.
    pub entries: usize,
    /// Objects checked.
    pub objects_checked: usize,
    /// `<seq> <sha256>` of the last line: the chain head, to record elsewhere.
    pub head: Option<String>,
    /// Failures: any of these means the vault was changed or damaged.
    pub problems: Vec<Problem>,
    /// Tolerated states (orphan objects after an interrupted add, HEAD one step behind).
    pub warnings: Vec<Warning>,
    /// Signed checkpoints by a trusted key that match the manifest.
    pub trusted_checkpoints: usize,
    /// `vault.yaml`'s format (`nkp-vault/1` or `nkp-vault/2`), if it could be read.
    pub format: Option<String>,
    /// `recipients` or `passphrase`: the mode the chain records (`None` in format 1).
    pub mode: Option<String>,
    /// The custodians the chain records now (empty in format 1 and in passphrase mode).
    pub custodians: Vec<CustodianSummary>,
    /// With trusted keys: the newest trusted checkpoint that matches the manifest.
    pub newest_trusted_checkpoint: Option<TrustedCheckpoint>,
    /// With trusted keys: events after the newest trusted checkpoint (signed by nobody).
    pub unsigned_events: Option<u64>,
}

/// Findings serialise as their message: `vault verify --format json` prints
/// `"problems": ["manifest line 2: ...", ...]`.
macro_rules! serialize_as_message {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_as_message!(Problem, Warning);

/// Something wrong with a vault: it was changed, damaged, or cannot be shown unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// `manifest.jsonl` exists but cannot be read.
    #[error("{}: cannot read: {error}", path.display())]
    ManifestUnreadable {
        /// The manifest.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The manifest does not end with a newline.
    #[error("manifest.jsonl does not end with a newline: it was cut or edited")]
    NoFinalNewline,
    /// The manifest has carriage returns (its line ends were converted).
    #[error("manifest.jsonl has carriage returns (CRLF line ends): its bytes were changed, e.g. by a text editor or a Windows copy")]
    CarriageReturn,
    /// The manifest is not valid UTF-8.
    #[error("manifest.jsonl is not valid UTF-8: its bytes were changed")]
    InvalidUtf8,
    /// `HEAD` is not exactly `<seq> <hash>` and a newline.
    #[error("HEAD is not exactly `<seq> <sha256>` and a newline (it has {tokens} tokens or other bytes): it was edited")]
    HeadNotCanonical {
        /// How many whitespace-separated tokens it has.
        tokens: usize,
    },
    /// A line's `seq` is not its position.
    #[error("manifest line {line}: sequence number {seq} (expected {line}): lines were deleted, inserted or reordered")]
    Sequence {
        /// 1-based line number.
        line: usize,
        /// The `seq` it holds.
        seq: u64,
    },
    /// A line's `prev` is not the hash of the line before.
    #[error(
        "manifest line {line}: does not chain to the line before (edited, deleted or reordered)"
    )]
    Chain {
        /// 1-based line number.
        line: usize,
    },
    /// A line that does not parse as a manifest event.
    #[error("manifest line {line}: not a valid entry ({error}): edited")]
    InvalidLine {
        /// 1-based line number.
        line: usize,
        /// The JSON error.
        error: serde_json::Error,
    },
    /// `HEAD` names neither the end of the manifest nor the line before it.
    #[error("HEAD says {head} but the manifest ends at {}: the manifest was truncated or HEAD edited", manifest_end.as_deref().unwrap_or("nothing"))]
    HeadMismatch {
        /// What `HEAD` says (trimmed).
        head: String,
        /// `<seq> <sha256>` of the manifest's last line, if any.
        manifest_end: Option<String>,
    },
    /// `HEAD` cannot be read while the manifest has more than one line.
    #[error("HEAD: cannot read ({error}): deleted?")]
    HeadUnreadable {
        /// The operating system's error.
        error: std::io::Error,
    },
    /// Two live entries with the same id.
    #[error("entry {entry} appears twice")]
    DuplicateEntry {
        /// Entry id.
        entry: String,
    },
    /// A drill event names an entry that does not exist.
    #[error("a drill names entry {entry}, which does not exist")]
    DrillOfUnknownEntry {
        /// The entry id it names.
        entry: String,
    },
    /// A live entry's object does not hash to its name.
    #[error("entry {entry} ({}): object {} does not match its hash: changed or swapped", provider.as_deref().unwrap_or("?"), short(object))]
    ObjectChanged {
        /// Entry id.
        entry: String,
        /// Provider name.
        provider: Option<String>,
        /// Object id.
        object: String,
    },
    /// A live entry's object cannot be read.
    #[error("entry {entry} ({}): object {} is missing ({error})", provider.as_deref().unwrap_or("?"), short(object))]
    ObjectMissing {
        /// Entry id.
        entry: String,
        /// Provider name.
        provider: Option<String>,
        /// Object id.
        object: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A line of `checkpoints.jsonl` that does not parse.
    #[error("checkpoint {n}: not a valid checkpoint line")]
    CheckpointInvalid {
        /// 1-based line number in `checkpoints.jsonl`.
        n: usize,
    },
    /// A checkpoint whose signature does not verify.
    #[error("checkpoint {n}: the signature does not verify (edited)")]
    CheckpointSignature {
        /// 1-based line number in `checkpoints.jsonl`.
        n: usize,
    },
    /// The checkpointed manifest line is now another line.
    #[error("checkpoint {n} (signed {at}): manifest line {seq} is not the line that was signed: the manifest was rewritten")]
    CheckpointRewritten {
        /// 1-based line number in `checkpoints.jsonl`.
        n: usize,
        /// When it was signed.
        at: String,
        /// The manifest line it signs.
        seq: u64,
    },
    /// The checkpointed manifest line no longer exists.
    #[error(
        "checkpoint {n} (signed {at}): the manifest has fewer than {seq} lines: it was truncated"
    )]
    CheckpointTruncated {
        /// 1-based line number in `checkpoints.jsonl`.
        n: usize,
        /// When it was signed.
        at: String,
        /// The manifest line it signs.
        seq: u64,
    },
    /// Trusted keys were given and no checkpoint signed by one of them matches.
    #[error("no checkpoint signed by a trusted key matches the manifest: the vault cannot be shown unchanged since it was checkpointed")]
    NoTrustedCheckpoint,
    /// `vault.yaml` cannot be read or parsed.
    #[error("vault.yaml: cannot read ({error})")]
    ConfigUnreadable {
        /// Why.
        error: String,
    },
    /// `vault.yaml` does not list the custodians the chain records.
    #[error("vault.yaml does not match the custodians recorded in the manifest: {difference}; every writer refuses until it does")]
    ConfigMismatch {
        /// How (labels and fingerprints).
        difference: String,
    },
    /// Format 1: an add whose recipients differ from the add before it, with no rekey between.
    #[error("manifest line {line}: this add's recipients differ from the previous add's, with no rekey between: vault.yaml was edited in between")]
    RecipientsChanged {
        /// The line.
        line: usize,
    },
    /// A recorded fingerprint that is not the SHA-256 of its key.
    #[error("manifest line {line}: the fingerprint recorded for custodian {label} is not the SHA-256 of its key: the set was forged")]
    FingerprintMismatch {
        /// The line.
        line: usize,
        /// The custodian's label.
        label: String,
    },
    /// A custodian set that cannot be: recipients mode without custodians, passphrase mode
    /// with custodians or without a verifier.
    #[error("manifest line {line}: a malformed custodian set")]
    SetMalformed {
        /// The line.
        line: usize,
    },
    /// A k-of-n custodian set whose threshold cannot give dual control (below 2, above the
    /// number of custodians, over 255 custodians, or one key for two custodians).
    #[error("manifest line {line}: {detail}")]
    ThresholdInvalid {
        /// The line.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// Once a set is recorded, an add or rekey whose `recipients` are not its fingerprints.
    #[error("manifest line {line}: its recipients are not the fingerprints of the custodian set in force")]
    RecipientsNotTheSet {
        /// The line.
        line: usize,
    },
    /// Once a set is recorded, a rekey that records no new set.
    #[error("manifest line {line}: a rekey that records no custodian set, in a vault whose custodians are in the chain: forged")]
    RekeyWithoutSet {
        /// The line.
        line: usize,
    },
    /// A format-2 chain whose custodian set is not where writers put it: the first line, or
    /// the one upgrade of format-1 history.
    #[error("manifest line {line}: a custodian set out of place (writers record one at line 1, or once when upgrading a format-1 vault; later changes are rekeys)")]
    CustodiansMissing {
        /// The first line that needed a set.
        line: usize,
    },
    /// An object's age header does not match the custodian set it was encrypted to.
    #[error("entry {entry} ({}): object {} is not encrypted to exactly the recorded custodians: {detail}", provider.as_deref().unwrap_or("?"), short(object))]
    ObjectRecipients {
        /// Entry id.
        entry: String,
        /// Provider name.
        provider: Option<String>,
        /// Object id.
        object: String,
        /// What differs.
        detail: String,
    },
    /// An object's age header cannot be read.
    #[error(
        "entry {entry}: object {} has no readable age header ({error})",
        short(object)
    )]
    ObjectHeader {
        /// Entry id.
        entry: String,
        /// Object id.
        object: String,
        /// Why.
        error: header::HeaderError,
    },
    /// The passphrase verifier object is missing or changed.
    #[error(
        "the passphrase verifier object {} is missing or changed ({error})",
        short(object)
    )]
    VerifierBroken {
        /// Object id.
        object: String,
        /// Why.
        error: String,
    },
    /// `objects/` is not a folder of the vault (a link, a file) or cannot be read.
    #[error("objects/: {error}")]
    ObjectsFolder {
        /// Why.
        error: String,
    },
    /// A restore event names an entry that does not exist.
    #[error("a restore names entry {entry}, which does not exist")]
    RestoreOfUnknownEntry {
        /// The entry id it names.
        entry: String,
    },
    /// k-of-n custody broken in the record: a release of an entry nobody can release (unknown,
    /// not k-of-n, another object, not by one of its custodians), or a drill or restore of a
    /// k-of-n entry that names fewer custodians than its threshold, or names one twice.
    #[error("line {line}: {detail}")]
    Participation {
        /// The manifest line.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// `checkpoints.jsonl` exists but cannot be read.
    #[error("checkpoints.jsonl: cannot read ({error})")]
    CheckpointsUnreadable {
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A checkpoint does not chain to the line before it in `checkpoints.jsonl`.
    #[error("checkpoint {n}: does not chain to the checkpoint before it: checkpoint lines were removed, reordered or inserted")]
    CheckpointChain {
        /// 1-based line number in `checkpoints.jsonl`.
        n: usize,
    },
    /// Events after the newest trusted checkpoint.
    #[error("{unsigned} event(s) after the newest trusted checkpoint (seq {seq}, signed {at}) are signed by nobody: checkpoint them, or give --allow-unsigned-tail to accept them")]
    UnsignedTail {
        /// Its seq.
        seq: u64,
        /// When it was signed.
        at: String,
        /// Events after it.
        unsigned: u64,
    },
    /// The state the auditor pinned is gone.
    #[error("{detail}: the manifest was rolled back or rewritten since the state you pinned")]
    RolledBack {
        /// What was expected and not found.
        detail: String,
    },
    /// With an identity: the decrypted .p12 is not the one the manifest names.
    #[error("entry {entry}: decrypted .p12 does not match p12_sha256")]
    DecryptedMismatch {
        /// Entry id.
        entry: String,
    },
    /// With an identity: the entry cannot be read, decrypted or decoded.
    #[error("entry {entry}: {}", error.chain())]
    EntryUnopenable {
        /// Entry id.
        entry: String,
        /// Why.
        error: Box<VaultError>,
    },
}

impl Problem {
    /// A stable kebab-case name for the kind of problem (used by the test vectors).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ManifestUnreadable { .. } => "manifest-unreadable",
            Self::NoFinalNewline => "no-final-newline",
            Self::CarriageReturn => "carriage-return",
            Self::InvalidUtf8 => "invalid-utf8",
            Self::HeadNotCanonical { .. } => "head-not-canonical",
            Self::Sequence { .. } => "sequence",
            Self::Chain { .. } => "chain",
            Self::InvalidLine { .. } => "invalid-line",
            Self::HeadMismatch { .. } => "head-mismatch",
            Self::HeadUnreadable { .. } => "head-unreadable",
            Self::DuplicateEntry { .. } => "duplicate-entry",
            Self::DrillOfUnknownEntry { .. } => "drill-of-unknown-entry",
            Self::ObjectChanged { .. } => "object-changed",
            Self::ObjectMissing { .. } => "object-missing",
            Self::CheckpointInvalid { .. } => "checkpoint-invalid",
            Self::CheckpointSignature { .. } => "checkpoint-signature",
            Self::CheckpointRewritten { .. } => "checkpoint-rewritten",
            Self::CheckpointTruncated { .. } => "checkpoint-truncated",
            Self::NoTrustedCheckpoint => "no-trusted-checkpoint",
            Self::ConfigUnreadable { .. } => "config-unreadable",
            Self::ConfigMismatch { .. } => "config-mismatch",
            Self::CustodiansMissing { .. } => "custodians-missing",
            Self::RecipientsChanged { .. } => "recipients-changed",
            Self::FingerprintMismatch { .. } => "fingerprint-mismatch",
            Self::SetMalformed { .. } => "set-malformed",
            Self::ThresholdInvalid { .. } => "threshold-invalid",
            Self::RecipientsNotTheSet { .. } => "recipients-not-the-set",
            Self::RekeyWithoutSet { .. } => "rekey-without-set",
            Self::ObjectRecipients { .. } => "object-recipients",
            Self::ObjectHeader { .. } => "object-header",
            Self::VerifierBroken { .. } => "verifier-broken",
            Self::RestoreOfUnknownEntry { .. } => "restore-of-unknown-entry",
            Self::Participation { .. } => "participation",
            Self::ObjectsFolder { .. } => "objects-folder",
            Self::CheckpointsUnreadable { .. } => "checkpoints-unreadable",
            Self::CheckpointChain { .. } => "checkpoint-chain",
            Self::UnsignedTail { .. } => "unsigned-tail",
            Self::RolledBack { .. } => "rolled-back",
            Self::DecryptedMismatch { .. } => "decrypted-mismatch",
            Self::EntryUnopenable { .. } => "entry-unopenable",
        }
    }
}

/// A tolerated state: what an interrupted write leaves, or a checkpoint by an unnamed key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// `HEAD` names the line before the last: the write stopped between manifest and `HEAD`.
    #[error(
        "HEAD is one event behind the manifest: an interrupted write; the next write repairs it"
    )]
    HeadBehind,
    /// No `HEAD` after the first write.
    #[error("HEAD is missing after the first write: an interrupted write")]
    HeadMissing,
    /// A temporary file in `objects/`.
    #[error("objects/{name}: a temporary file left by an interrupted write")]
    TempFile {
        /// File name.
        name: String,
    },
    /// A temporary file in the vault folder itself (an interrupted manifest or HEAD write).
    #[error("{name}: a temporary file left by an interrupted write")]
    RootTempFile {
        /// File name.
        name: String,
    },
    /// An object no live entry uses.
    #[error(
        "objects/{name}: an orphan object (no live entry uses it: an interrupted add or rekey)"
    )]
    OrphanObject {
        /// File name.
        name: String,
    },
    /// A format-1 vault: the custodian set is only in `vault.yaml`, which nothing protects.
    #[error("format nkp-vault/1: the custodians are listed only in vault.yaml, outside the hash chain, so they are not verified: run `nkp-escrow vault upgrade`")]
    CustodiansNotChained,
    /// `vault.yaml` lags the chain after an interrupted rekey or upgrade.
    #[error("vault.yaml still lists the custodians before the last rekey (or the format before the upgrade): an interrupted write; the chain is the record and the next write completes vault.yaml")]
    ConfigBehind,
    /// Events after the newest trusted checkpoint, accepted with `--allow-unsigned-tail`.
    #[error("{unsigned} event(s) after the newest trusted checkpoint (seq {seq}) are signed by nobody (accepted: --allow-unsigned-tail)")]
    UnsignedTail {
        /// Its seq.
        seq: u64,
        /// Events after it.
        unsigned: u64,
    },
    /// A valid checkpoint signed by a key not named as trusted.
    #[error("checkpoint {n} is signed by a key you did not name as trusted ({public_key})")]
    UntrustedCheckpoint {
        /// 1-based line number in `checkpoints.jsonl`.
        n: usize,
        /// Its public key (base64).
        public_key: String,
    },
}

impl Warning {
    /// A stable kebab-case name for the kind of warning.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::HeadBehind => "head-behind",
            Self::HeadMissing => "head-missing",
            Self::TempFile { .. } | Self::RootTempFile { .. } => "temp-file",
            Self::OrphanObject { .. } => "orphan-object",
            Self::UntrustedCheckpoint { .. } => "untrusted-checkpoint",
            Self::CustodiansNotChained => "custodians-not-chained",
            Self::ConfigBehind => "config-behind",
            Self::UnsignedTail { .. } => "unsigned-tail",
        }
    }
}

/// The first 12 characters of an id from the manifest (untrusted: never split a character).
fn short(s: &str) -> &str {
    s.char_indices().nth(12).map(|(i, _)| &s[..i]).unwrap_or(s)
}

/// Verify the vault in `dir` without any key: chain, `HEAD`, `vault.yaml` against the
/// custodian set in the chain, objects (hash and age header against that set), orphans,
/// entries, and every signed checkpoint, which must match the manifest and chain to the one
/// before it; with trusted keys, the newest trusted checkpoint must cover the manifest's last
/// line (unless `allow_unsigned_tail`), and the auditor's pins must hold. The manifest is read
/// once.
pub fn keyless(dir: &Path, options: &VerifyOptions) -> VerifyReport {
    let mut r = VerifyReport::default();
    let path = dir.join(store::MANIFEST);
    let text = match store::read_capped(&path, store::MAX_MANIFEST) {
        Ok(t) => {
            // The chain is over the lines as text: bytes that a text tool changed without
            // changing the text (CRLF line ends, invalid UTF-8 turned into U+FFFD) would
            // otherwise pass.
            if t.contains(&b'\r') {
                r.problems.push(Problem::CarriageReturn);
            }
            match String::from_utf8(t) {
                Ok(text) => text,
                Err(e) => {
                    r.problems.push(Problem::InvalidUtf8);
                    String::from_utf8_lossy(e.as_bytes()).into_owned()
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            r.problems.push(Problem::ManifestUnreadable { path, error });
            return r;
        }
    };
    if !text.is_empty() && !text.ends_with('\n') {
        r.problems.push(Problem::NoFinalNewline);
    }
    let raw: Vec<&str> = text.lines().collect();
    let events = chain(&raw, &mut r);
    head(dir, &raw, &mut r);
    custody(dir, &events, &mut r);
    // What the object check needs from the events is taken out first, so that the events can
    // become the live entries without a copy of every entry (a 10,000-entry manifest).
    let sets = entry_sets(&events);
    let accessed = accessed_entries(&events);
    let verifier = current_set(&events).and_then(|(_, s)| s.verifier.clone());
    let live = into_live_entries(events);
    entries(&live, &accessed, &mut r);
    objects(dir, &live, &sets, verifier.as_deref(), &mut r);
    root_temps(dir, &mut r);
    checkpoints(dir, &raw, options, &mut r);
    pins(&raw, options, &mut r);
    r.ok = r.problems.is_empty();
    r
}

/// `vault.yaml` against the chain's custodian set.
fn custody(dir: &Path, events: &[Event], r: &mut VerifyReport) {
    let path = dir.join(store::CONFIG);
    let config = store::read_capped(&path, store::MAX_CONFIG)
        .map_err(|e| e.to_string())
        .and_then(|b| Config::parse(&path, &b).map_err(|e| e.chain()));
    let config = match config {
        Ok(c) => c,
        Err(error) => {
            r.problems.push(Problem::ConfigUnreadable { error });
            return;
        }
    };
    r.format = Some(config.format.clone());
    if let Some((_, set)) = current_set(events) {
        r.mode = Some(
            match set.mode {
                crate::custody::Mode::Recipients => "recipients",
                crate::custody::Mode::Passphrase => "passphrase",
            }
            .into(),
        );
        r.custodians = set
            .custodians
            .iter()
            .map(|c| CustodianSummary {
                label: c.label.clone(),
                fingerprint: c.fingerprint.clone(),
            })
            .collect();
    }
    match config_state(&config, events) {
        ConfigState::Matches => {}
        ConfigState::Behind => r.warnings.push(Warning::ConfigBehind),
        ConfigState::Unchained => {
            r.warnings.push(Warning::CustodiansNotChained);
            format1_recipients(&config, events, r);
        }
        ConfigState::Mismatch(difference) => {
            r.problems.push(Problem::ConfigMismatch { difference });
        }
    }
    set_rules(events, r);
    participation(events, r);
}

/// The k-of-n rules on the record itself:
/// - every `release` is of a live k-of-n entry's current object, by one of its custodians;
/// - a released share is used once: no two drills or restores name the same release line;
/// - every restore, successful drill and rekey of k-of-n entries names at least `threshold`
///   distinct custodians of the set the object was sealed to (a failed drill may name fewer);
///   a participant's `via` is `identity`, or `release` with the release line of that entry,
///   object and custodian;
/// - once a custodian set is recorded, every drill says who ran it, and every rekey moves
///   every live entry.
///
/// Who really took part is what the tool records; a forged line is caught by the chain and the
/// checkpoints, and a line that contradicts the threshold is caught here.
fn participation(events: &[Event], r: &mut VerifyReport) {
    use std::collections::HashMap;
    let mut sets: Vec<&CustodianSet> = Vec::new();
    // entry -> (current object, index of its set)
    let mut live: HashMap<&str, (&str, Option<usize>)> = HashMap::new();
    // seq -> (entry, object, custodian fingerprint) of release lines
    let mut releases: HashMap<u64, (&str, &str, &str)> = HashMap::new();
    let mut used: HashMap<u64, usize> = HashMap::new();
    for (i, ev) in events.iter().enumerate() {
        let line = i + 1;
        let mut found: Vec<String> = Vec::new();
        match ev {
            Event::Custodians { set, .. } => sets.push(set),
            Event::Add(e) => {
                live.insert(
                    e.id.as_str(),
                    (e.object.as_str(), sets.len().checked_sub(1)),
                );
            }
            Event::Rekey {
                moves,
                custodians,
                participants,
                ..
            } => {
                if custodians.is_some() {
                    let moved: HashSet<&str> = moves.iter().map(|m| m.entry.as_str()).collect();
                    let missed = live.keys().filter(|e| !moved.contains(*e)).count();
                    if missed > 0 {
                        found.push(format!(
                            "a rekey that leaves {missed} live entr(ies) encrypted to the set it replaces"
                        ));
                    }
                    // The custodians of the set being replaced who took part.
                    if let Some(old) = sets.last().filter(|s| s.threshold.is_some()) {
                        check_names(participants, old, None, &releases, &mut found, "the rekey");
                    }
                }
                if let Some(s) = custodians {
                    sets.push(s);
                }
                for m in moves {
                    live.insert(
                        m.entry.as_str(),
                        (m.new_object.as_str(), sets.len().checked_sub(1)),
                    );
                }
            }
            Event::Release {
                entry,
                object,
                by,
                to,
                to_recipient,
                ..
            } => {
                // The record names the restorer by `to`: it must be the recipient's own
                // fingerprint, recomputed.
                if to_recipient
                    .as_deref()
                    .is_some_and(|r| crate::digest::fingerprint(r) != *to)
                {
                    found.push(format!(
                        "a release of entry {entry} names {to} as its recipient, which is not the fingerprint of the key it records"
                    ));
                }
                match live.get(entry.as_str()) {
                    None => found.push(format!("a release of entry {entry}, which does not exist")),
                    Some(&(current, set)) => {
                        let set = set.and_then(|i| sets.get(i));
                        if set.is_none_or(|s| s.threshold.is_none()) {
                            found.push(format!("a release of entry {entry}, which is not k-of-n"));
                        } else if current != object {
                            found.push(format!(
                                "a release of entry {entry} names another object than its current one"
                            ));
                        } else if !set.is_some_and(|s| {
                            s.custodians.iter().any(|c| c.fingerprint == by.fingerprint)
                        }) {
                            found.push(format!(
                                "a release of entry {entry} by {}, who is not one of its custodians",
                                by.fingerprint
                            ));
                        }
                    }
                }
                releases.insert(
                    line as u64,
                    (entry.as_str(), object.as_str(), by.fingerprint.as_str()),
                );
            }
            Event::Drill {
                entry,
                participants,
                by,
                ok,
                ..
            } => {
                if by.is_none() && !sets.is_empty() {
                    found.push(format!(
                        "a drill of entry {entry} that does not say who ran it, after the custodians are recorded"
                    ));
                }
                check_participants(
                    entry,
                    participants,
                    *ok,
                    &live,
                    &sets,
                    &releases,
                    &mut found,
                );
            }
            Event::Restore {
                entry,
                participants,
                ..
            } => check_participants(
                entry,
                participants,
                true,
                &live,
                &sets,
                &releases,
                &mut found,
            ),
        }
        if let Event::Drill { participants, .. } | Event::Restore { participants, .. } = ev {
            for seq in participants.iter().filter_map(|p| p.release) {
                if let Some(first) = used.insert(seq, line) {
                    found.push(format!(
                        "the share released at line {seq} is used again (first at line {first}): a released share opens once"
                    ));
                }
            }
        }
        r.problems.extend(
            found
                .into_iter()
                .map(|detail| Problem::Participation { line, detail }),
        );
    }
}

/// A drill's or restore's participants against the set the entry's object was sealed to. With
/// `complete` (a restore, a successful drill) at least `threshold` distinct custodians must be
/// named; a failed drill may name fewer, or none.
fn check_participants(
    entry: &str,
    participants: &[crate::manifest::Participant],
    complete: bool,
    live: &std::collections::HashMap<&str, (&str, Option<usize>)>,
    sets: &[&CustodianSet],
    releases: &std::collections::HashMap<u64, (&str, &str, &str)>,
    found: &mut Vec<String>,
) {
    let Some(&(object, set)) = live.get(entry) else {
        return; // an unknown entry is its own problem
    };
    let Some(set) = set.and_then(|i| sets.get(i)) else {
        return;
    };
    if set.threshold.is_none() {
        if !participants.is_empty() {
            found.push(format!(
                "entry {entry} is not k-of-n, yet the line names participants"
            ));
        }
        return;
    }
    if !complete && participants.is_empty() {
        return;
    }
    check_names(
        participants,
        set,
        Some((entry, object)),
        releases,
        found,
        &format!("entry {entry}"),
    );
}

/// Participants: distinct custodians of `set`, at least its threshold, each `via` `identity`
/// or `release` (then pointing at a release line of this entry, object and custodian).
fn check_names(
    participants: &[crate::manifest::Participant],
    set: &CustodianSet,
    of: Option<(&str, &str)>,
    releases: &std::collections::HashMap<u64, (&str, &str, &str)>,
    found: &mut Vec<String>,
    what: &str,
) {
    let mut seen: Vec<&str> = Vec::new();
    for p in participants {
        if !set
            .custodians
            .iter()
            .any(|c| c.fingerprint == p.fingerprint)
        {
            found.push(format!(
                "{what}: participant {} is not one of its custodians",
                p.fingerprint
            ));
        }
        if seen.contains(&p.fingerprint.as_str()) {
            found.push(format!(
                "{what}: custodian {} is named twice",
                p.fingerprint
            ));
        }
        seen.push(&p.fingerprint);
        match (p.via.as_str(), p.release, of) {
            ("identity", None, _) => {}
            ("release", Some(seq), Some((entry, object))) => {
                if releases.get(&seq) != Some(&(entry, object, p.fingerprint.as_str())) {
                    found.push(format!(
                        "{what}: the share of {} points at line {seq}, which is not its release of this object",
                        p.fingerprint
                    ));
                }
            }
            _ => found.push(format!(
                "{what}: participant {} came neither by identity nor by a recorded release",
                p.fingerprint
            )),
        }
    }
    let k = set.needed();
    if seen.len() < k {
        found.push(format!(
            "{what} needs {k} custodians; the line names {}",
            seen.len()
        ));
    }
}

/// The rules of format 2 on the events themselves, so that an appended, re-chained line cannot
/// change who can decrypt without showing:
/// - every recorded fingerprint is the SHA-256 of its key (recomputed, never trusted);
/// - a `custodians` line is the first line (`init`), or the one upgrade of format-1 history;
/// - once a set is recorded, every rekey records its new set, and every add's and rekey's
///   `recipients` are exactly the fingerprints of the set in force.
fn set_rules(events: &[Event], r: &mut VerifyReport) {
    r.problems.extend(custody_problems(events));
}

/// The problems [`set_rules`] finds, for writers: they refuse to extend a chain whose
/// custodian history breaks the rules.
pub(crate) fn custody_problems(events: &[Event]) -> Vec<Problem> {
    let mut r = VerifyReport::default();
    let mut current: Option<&CustodianSet> = None;
    for (i, ev) in events.iter().enumerate() {
        let line = i + 1;
        if let Some(set) = ev.custodian_set() {
            for c in &set.custodians {
                if c.fingerprint != crate::digest::fingerprint(&c.recipient) {
                    r.problems.push(Problem::FingerprintMismatch {
                        line,
                        label: c.label.clone(),
                    });
                }
            }
            let well_formed = match set.mode {
                crate::custody::Mode::Recipients => {
                    !set.custodians.is_empty() && set.verifier.is_none()
                }
                crate::custody::Mode::Passphrase => {
                    set.custodians.is_empty() && set.verifier.is_some()
                }
            };
            if !well_formed {
                r.problems.push(Problem::SetMalformed { line });
            }
            // A recorded threshold is held to the same rules as `init` holds a new one, so a
            // rewritten chain cannot lower it to 1 or give one person two shares.
            if let Some(detail) = set.threshold_problem() {
                r.problems.push(Problem::ThresholdInvalid { line, detail });
            }
        }
        match ev {
            Event::Custodians { set, reason, .. } => {
                let in_place = (i == 0 && reason == "init")
                    || (current.is_none() && reason.starts_with("upgrade"));
                if !in_place {
                    r.problems.push(Problem::CustodiansMissing { line });
                }
                current = Some(set);
            }
            Event::Add(e) if current.is_some_and(|s| e.recipients != s.fingerprints()) => {
                r.problems.push(Problem::RecipientsNotTheSet { line });
            }
            Event::Rekey {
                recipients,
                custodians,
                ..
            } if current.is_some() => match custodians {
                None => r.problems.push(Problem::RekeyWithoutSet { line }),
                Some(s) => {
                    if *recipients != s.fingerprints() {
                        r.problems.push(Problem::RecipientsNotTheSet { line });
                    }
                    current = Some(s);
                }
            },
            _ => {}
        }
    }
    r.problems
}

/// Every line parses, `seq` counts up and `prev` chains. Returns the events that parsed.
fn chain(raw: &[&str], r: &mut VerifyReport) -> Vec<Event> {
    let mut events = Vec::with_capacity(raw.len());
    let mut prev = ZERO.to_string();
    for (i, l) in raw.iter().enumerate() {
        let n = i + 1;
        match Line::parse(l) {
            Ok(line) => {
                if line.seq != n as u64 {
                    r.problems.push(Problem::Sequence {
                        line: n,
                        seq: line.seq,
                    });
                }
                if line.prev != prev {
                    r.problems.push(Problem::Chain { line: n });
                }
                events.push(line.event);
            }
            Err(error) => r.problems.push(Problem::InvalidLine { line: n, error }),
        }
        prev = sha256_hex(l.as_bytes());
    }
    r.events = raw.len();
    r.head = raw
        .last()
        .map(|l| format!("{} {}", raw.len(), sha256_hex(l.as_bytes())));
    events
}

/// `HEAD` anchors the end of the chain: a truncated manifest no longer reaches it.
fn head(dir: &Path, raw: &[&str], r: &mut VerifyReport) {
    let last_hash = raw.last().map(|l| sha256_hex(l.as_bytes()));
    let read = store::read_capped(&dir.join(store::HEAD), store::MAX_HEAD).and_then(|b| {
        String::from_utf8(b).map_err(|_| std::io::Error::other("HEAD is not UTF-8 text"))
    });
    match read {
        Ok(h) => {
            let mut it = h.split_whitespace();
            let seq: Option<usize> = it.next().and_then(|s| s.parse().ok());
            let hash = it.next();
            // Exactly what the writer writes: `<seq> <hash>\n`, nothing more.
            if let (Some(s), Some(x)) = (seq, hash) {
                if h != format!("{s} {x}\n") {
                    r.problems.push(Problem::HeadNotCanonical {
                        tokens: h.split_whitespace().count(),
                    });
                }
            }
            let behind = seq.is_some_and(|s| s.checked_add(1) == Some(raw.len()))
                && raw.len() >= 2
                && hash == Some(sha256_hex(raw[raw.len() - 2].as_bytes()).as_str());
            let in_step =
                seq == Some(raw.len()) && hash == Some(last_hash.as_deref().unwrap_or(ZERO));
            if in_step {
                return;
            }
            if behind || (seq == Some(0) && raw.len() == 1) {
                r.warnings.push(Warning::HeadBehind);
            } else {
                r.problems.push(Problem::HeadMismatch {
                    head: h.trim().to_string(),
                    manifest_end: r.head.clone(),
                });
            }
        }
        Err(_) if raw.is_empty() => {}
        Err(_) if raw.len() == 1 => r.warnings.push(Warning::HeadMissing),
        Err(error) => r.problems.push(Problem::HeadUnreadable { error }),
    }
}

/// Entries are unique and drills name existing entries.
/// Format 1 records only the recipients' short fingerprints, in each `add` and `rekey`. They
/// still show an edit of `vault.yaml`: two adds with different recipients and no rekey between
/// them, or a `vault.yaml` whose recipients are not the ones the last add or rekey recorded.
fn format1_recipients(config: &Config, events: &[Event], r: &mut VerifyReport) {
    let mut expected: Option<&[String]> = None;
    for (i, ev) in events.iter().enumerate() {
        match ev {
            Event::Add(e) => {
                if expected.is_some_and(|x| x != e.recipients.as_slice()) {
                    r.problems.push(Problem::RecipientsChanged { line: i + 1 });
                }
                expected = Some(&e.recipients);
            }
            Event::Rekey { recipients, .. } => expected = Some(recipients),
            _ => {}
        }
    }
    let in_yaml: Vec<String> = if config.passphrase {
        vec!["passphrase".into()]
    } else {
        config
            .recipients
            .iter()
            .map(|c| crate::digest::short_fingerprint(&c.recipient))
            .collect()
    };
    if let Some(x) = expected {
        if x != in_yaml.as_slice() {
            r.problems.push(Problem::ConfigMismatch {
                difference: format!(
                    "vault.yaml's recipients ({}) are not the ones the last add or rekey recorded ({})",
                    in_yaml.join(", "),
                    x.join(", ")
                ),
            });
        }
    }
}

/// The entries drills (`true`) and restores (`false`) name, in order.
fn accessed_entries(events: &[Event]) -> Vec<(bool, String)> {
    events
        .iter()
        .filter_map(|ev| match ev {
            Event::Drill { entry, .. } => Some((true, entry.clone())),
            Event::Restore { entry, .. } => Some((false, entry.clone())),
            _ => None,
        })
        .collect()
}

fn entries(live: &[Entry], accessed: &[(bool, String)], r: &mut VerifyReport) {
    r.entries = live.len();
    let mut ids = HashSet::new();
    for e in live {
        if !ids.insert(e.id.as_str()) {
            r.problems.push(Problem::DuplicateEntry {
                entry: e.id.clone(),
            });
        }
    }
    for (drill, entry) in accessed {
        if ids.contains(entry.as_str()) {
            continue;
        }
        r.problems.push(if *drill {
            Problem::DrillOfUnknownEntry {
                entry: entry.clone(),
            }
        } else {
            Problem::RestoreOfUnknownEntry {
                entry: entry.clone(),
            }
        });
    }
}

/// Every live entry's object exists and hashes to its name; other files are warnings.
/// Temporary files (`.<name>.tmp-...`) left in the vault folder by an interrupted write.
fn root_temps(dir: &Path, r: &mut VerifyReport) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = rd
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.contains(".tmp-"))
        .collect();
    names.sort();
    r.warnings
        .extend(names.into_iter().map(|name| Warning::RootTempFile { name }));
}

fn objects(
    dir: &Path,
    live: &[Entry],
    sets: &EntrySets,
    verifier: Option<&str>,
    r: &mut VerifyReport,
) {
    let obj_dir = dir.join(store::OBJECTS);
    if let Err(e) = store::objects_dir_is_real(dir) {
        if std::fs::symlink_metadata(&obj_dir).is_ok() || !live.is_empty() {
            r.problems.push(Problem::ObjectsFolder { error: e.chain() });
        }
        return;
    }
    let check = |e: &Entry| -> Option<Problem> {
        let p = obj_dir.join(format!("{}.age", e.object));
        let set: Option<&CustodianSet> = sets.get(e.id.as_str());
        let kofn = set.is_some_and(|s| s.threshold.is_some());
        // A k-of-n object is a small JSON document read whole; an age object's header is at
        // its start.
        let keep = if kofn {
            crate::threshold::MAX_OBJECT
        } else {
            header::MAX_HEADER
        };
        let (hash, head) = match store::hash_capped(&p, store::MAX_OBJECT, keep) {
            Ok(x) => x,
            Err(error) => {
                return Some(Problem::ObjectMissing {
                    entry: e.id.clone(),
                    provider: e.provider.clone(),
                    object: e.object.clone(),
                    error,
                })
            }
        };
        if hash != e.object {
            return Some(Problem::ObjectChanged {
                entry: e.id.clone(),
                provider: e.provider.clone(),
                object: e.object.clone(),
            });
        }
        if let Some(set) = set.filter(|_| kofn) {
            let wrong = crate::threshold::check(&head, set);
            return (!wrong.is_empty()).then(|| Problem::ObjectRecipients {
                entry: e.id.clone(),
                provider: e.provider.clone(),
                object: e.object.clone(),
                detail: wrong.join("; "),
            });
        }
        match header::stanzas(&head) {
            Err(error) => Some(Problem::ObjectHeader {
                entry: e.id.clone(),
                object: e.object.clone(),
                error,
            }),
            Ok(stanzas) => {
                match set {
                    Some(set) => set.check_stanzas(&stanzas),
                    // Written before any set was recorded (format 1): count only.
                    None => crate::custody::check_stanza_count(&e.recipients, &stanzas),
                }
                .err()
                .map(|detail| Problem::ObjectRecipients {
                    entry: e.id.clone(),
                    provider: e.provider.clone(),
                    object: e.object.clone(),
                    detail,
                })
            }
        }
    };
    let results: Vec<Option<Problem>> = live.par_iter().map(check).collect();
    r.objects_checked = live.len();
    r.problems.extend(results.into_iter().flatten());
    let mut referenced: HashSet<&str> = live.iter().map(|e| e.object.as_str()).collect();
    // The passphrase verifier of the set in force is referenced too.
    if let Some(v) = verifier {
        referenced.insert(v);
        let p = obj_dir.join(format!("{v}.age"));
        let ok = match store::hash_capped(&p, store::MAX_OBJECT, header::MAX_HEADER) {
            Ok((hash, head)) if hash == v => match header::stanzas(&head) {
                Ok(st) if st.len() == 1 && st[0].tag == "scrypt" => Ok(()),
                Ok(_) => Err("not a single scrypt stanza".to_string()),
                Err(e) => Err(e.to_string()),
            },
            Ok(_) => Err("it does not match its hash".into()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = ok {
            r.problems.push(Problem::VerifierBroken {
                object: v.to_string(),
                error,
            });
        }
    }
    if let Ok(rd) = std::fs::read_dir(&obj_dir) {
        for f in rd.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                r.warnings.push(Warning::TempFile { name });
                continue;
            }
            let id = name.strip_suffix(".age").unwrap_or(&name);
            if !referenced.contains(id) {
                r.warnings.push(Warning::OrphanObject { name });
            }
        }
    }
}

/// Every checkpoint's signature verifies, it chains to the line before it, and its manifest
/// line is still there; with trusted keys, the newest trusted one must cover the manifest.
fn checkpoints(dir: &Path, raw: &[&str], options: &VerifyOptions, r: &mut VerifyReport) {
    let trusted = &options.trusted;
    let text = match store::read_capped(&dir.join(store::CHECKPOINTS), store::MAX_CHECKPOINTS) {
        Ok(b) => String::from_utf8(b)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            r.problems.push(Problem::CheckpointsUnreadable { error });
            String::new()
        }
    };
    let mut good = 0;
    let mut newest: Option<TrustedCheckpoint> = None;
    let mut prev_line: Option<&str> = None;
    let mut chained_seen = false;
    for (i, l) in text.lines().enumerate() {
        let n = i + 1;
        let expected_prev =
            prev_line.map_or_else(|| ZERO.to_string(), |p| sha256_hex(p.as_bytes()));
        prev_line = Some(l);
        let Some(cp) = Checkpoint::parse(l) else {
            r.problems.push(Problem::CheckpointInvalid { n });
            continue;
        };
        if !cp.signature_valid() {
            r.problems.push(Problem::CheckpointSignature { n });
            continue;
        }
        match &cp.prev {
            Some(p) if *p == expected_prev => chained_seen = true,
            // Format-1 checkpoints are unchained, and only allowed before the first chained.
            None if !chained_seen => {}
            _ => {
                r.problems.push(Problem::CheckpointChain { n });
                continue;
            }
        }
        match cp.check_against(raw) {
            HeadCheck::Matches => {}
            HeadCheck::Rewritten => {
                r.problems.push(Problem::CheckpointRewritten {
                    n,
                    at: cp.at,
                    seq: cp.seq,
                });
                continue;
            }
            HeadCheck::Truncated => {
                r.problems.push(Problem::CheckpointTruncated {
                    n,
                    at: cp.at,
                    seq: cp.seq,
                });
                continue;
            }
        }
        if trusted.contains(&cp.public_key) {
            good += 1;
            if newest.as_ref().is_none_or(|b| cp.seq >= b.seq) {
                newest = Some(TrustedCheckpoint {
                    seq: cp.seq,
                    head: cp.head.clone(),
                    at: cp.at.clone(),
                });
            }
        } else if !trusted.is_empty() {
            r.warnings.push(Warning::UntrustedCheckpoint {
                n,
                public_key: cp.public_key,
            });
        }
    }
    if !text.is_empty() && !text.ends_with('\n') {
        r.problems.push(Problem::CheckpointInvalid {
            n: text.lines().count(),
        });
    }
    r.trusted_checkpoints = good;
    if trusted.is_empty() {
        return;
    }
    let Some(newest) = newest else {
        r.problems.push(Problem::NoTrustedCheckpoint);
        return;
    };
    let unsigned = (raw.len() as u64).saturating_sub(newest.seq);
    r.unsigned_events = Some(unsigned);
    if unsigned > 0 {
        if options.allow_unsigned_tail {
            r.warnings.push(Warning::UnsignedTail {
                seq: newest.seq,
                unsigned,
            });
        } else {
            r.problems.push(Problem::UnsignedTail {
                seq: newest.seq,
                at: newest.at.clone(),
                unsigned,
            });
        }
    }
    r.newest_trusted_checkpoint = Some(newest);
}

/// The auditor's pins: at least `expect_seq` events, and the line hashing to `expect_head`
/// (at `expect_seq` if given).
fn pins(raw: &[&str], options: &VerifyOptions, r: &mut VerifyReport) {
    if let Some(n) = options.expect_seq {
        if (raw.len() as u64) < n {
            r.problems.push(Problem::RolledBack {
                detail: format!(
                    "you expected at least {n} events and the manifest has {}",
                    raw.len()
                ),
            });
        }
    }
    if let Some(h) = &options.expect_head {
        let h = h.trim().to_ascii_lowercase();
        let found = match options.expect_seq {
            Some(n) => usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| raw.get(i))
                .is_some_and(|l| sha256_hex(l.as_bytes()) == h),
            None => raw.iter().any(|l| sha256_hex(l.as_bytes()) == h),
        };
        if !found {
            r.problems.push(Problem::RolledBack {
                detail: match options.expect_seq {
                    Some(n) => format!(
                        "manifest line {n} does not hash to the head you pinned ({})",
                        short(&h)
                    ),
                    None => format!(
                        "no manifest line hashes to the head you pinned ({})",
                        short(&h)
                    ),
                },
            });
        }
    }
}

/// With an identity: decrypt every one of `entries` and check that the .p12 inside is the one
/// the manifest names. Adds a problem per entry that fails and updates `report.ok`.
pub fn decryption(dir: &Path, entries: &[Entry], ids: &Identities, report: &mut VerifyReport) {
    for e in entries {
        let opened = store::read_object(dir, &e.object)
            .and_then(|cipher| Envelope::decrypt(&cipher, ids, &e.id))
            .and_then(|env| env.p12());
        match opened {
            Ok(p12) if sha256_hex(&p12) == e.p12_sha256 => {}
            Ok(_) => report.problems.push(Problem::DecryptedMismatch {
                entry: e.id.clone(),
            }),
            Err(error) => report.problems.push(Problem::EntryUnopenable {
                entry: e.id.clone(),
                error: Box::new(error),
            }),
        }
    }
    report.ok = report.problems.is_empty();
}
