//! The hash-chained manifest (`manifest.jsonl`): its event types, and the chain arithmetic on
//! lines given to it. No file system here: [`crate::store`] reads and writes the file and
//! [`crate::verify`] checks it.
//!
//! Each line is one JSON object: `seq` (1, 2, ...), `prev` (hex SHA-256 of the previous line's
//! bytes; 64 zeros for the first), `type` (`add`, `drill`, `rekey`) and the event's fields.
//! Lines already written are never re-serialised: new events are appended to the raw text.
//! `HEAD` holds `<seq> <sha256 of the last line>`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::custody::{Accessor, Config, CustodianSet, FORMAT, FORMAT_V1};
use crate::digest::sha256_hex;

/// A live escrow entry: the cleartext facts of one escrowed backup.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Entry id: the first 32 hex digits of the .p12's SHA-256 (12 in vaults made before
    /// format 2), stable across rekeys.
    pub id: String,
    /// Object id: SHA-256 of `objects/<id>.age`.
    pub object: String,
    /// Provider name.
    pub provider: Option<String>,
    /// Provider key_id.
    pub key_id: Option<String>,
    /// `sha256:` of the KDK.
    pub kdk_fingerprint: String,
    /// SHA-256 of the .p12 bytes.
    pub p12_sha256: String,
    /// Protection verdict of the .p12 itself.
    pub verdict: String,
    /// True when the .p12's password is in the envelope.
    pub password_escrowed: bool,
    /// Export time of the backup.
    pub export_time: Option<String>,
    /// Where it came from.
    pub label: String,
    /// The password's strength was checked at `add` (absent in older lines: not known).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub password_assessed: bool,
    /// Why the password is below STIG complexity (length and classes only), when it was
    /// checked and is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_weakness: Option<String>,
    /// When it was added (RFC 3339).
    pub added_at: String,
    /// Fingerprints of the recipients that can decrypt the object.
    pub recipients: Vec<String>,
    /// Last restore drill: (time, ok). Derived from `drill` events, never stored in `add`.
    #[serde(skip_serializing, default)]
    pub last_drill: Option<(String, bool)>,
}

/// A rekeyed object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Move {
    /// Entry id.
    pub entry: String,
    /// Object before.
    pub old_object: String,
    /// Object after.
    pub new_object: String,
}

/// One manifest event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// A backup was escrowed.
    Add(Box<Entry>),
    /// A restore drill ran.
    Drill {
        /// Entry id.
        entry: String,
        /// Passed?
        ok: bool,
        /// What was checked, or what failed.
        detail: String,
        /// When.
        at: String,
        /// Who drilled (format 2; absent in older lines).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Accessor>,
        /// k-of-n vaults: every custodian whose share opened the object.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        participants: Vec<Participant>,
    },
    /// Objects were re-encrypted to a new recipient set.
    Rekey {
        /// Per entry: old and new object.
        moves: Vec<Move>,
        /// New recipient fingerprints.
        recipients: Vec<String>,
        /// The new custodian set (format 2; absent in older lines).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        custodians: Option<CustodianSet>,
        /// When.
        at: String,
        /// Who rekeyed (format 2; absent in older lines).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Accessor>,
        /// k-of-n vaults: the custodians of the set being replaced who took part (at least
        /// its threshold).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        participants: Vec<Participant>,
    },
    /// The custodian set, recorded at `init` and when a format-1 vault is upgraded (format 2).
    Custodians {
        /// The set.
        set: CustodianSet,
        /// `init`, or `upgrade from nkp-vault/1`.
        reason: String,
        /// When.
        at: String,
    },
    /// An entry was decrypted to be restored (format 2): recorded before the .p12 is written.
    Restore {
        /// Entry id.
        entry: String,
        /// When.
        at: String,
        /// Who.
        by: Accessor,
        /// Why, as the operator gave it (`--reason`).
        #[serde(default)]
        reason: Option<String>,
        /// k-of-n vaults: every custodian whose share opened the object.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        participants: Vec<Participant>,
    },
    /// k-of-n vaults: a custodian released their share of an entry, re-encrypted to someone
    /// else (`vault release`), so that K custodians need not meet. Recorded before the share
    /// file is written.
    Release {
        /// Entry id.
        entry: String,
        /// The object whose share was released (a rekey makes the release useless).
        object: String,
        /// The custodian who released their share, and where.
        by: Accessor,
        /// The fingerprint of the recipient the share was encrypted to.
        to: String,
        /// That recipient's label, as given (`--to LABEL=KEY`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_label: Option<String>,
        /// That recipient (a public key): whoever restores with the share must hold its
        /// identity, so the record names the real restorer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_recipient: Option<String>,
        /// Why, as the custodian gave it (`--reason`).
        #[serde(default)]
        reason: Option<String>,
        /// When.
        at: String,
    },
}

/// A custodian who took part in opening a k-of-n object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Participant {
    /// The custodian's label.
    pub custodian: String,
    /// The custodian's fingerprint.
    pub fingerprint: String,
    /// How their share came: `identity` (their identity was given here) or `release` (a share
    /// they released; then `release` is the seq of that line).
    pub via: String,
    /// The seq of the `release` line, for shares that came that way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<u64>,
}

impl Event {
    /// The custodian set this event records, if any.
    pub fn custodian_set(&self) -> Option<&CustodianSet> {
        match self {
            Self::Custodians { set, .. } => Some(set),
            Self::Rekey { custodians, .. } => custodians.as_ref(),
            _ => None,
        }
    }
}

/// The custodian set in force after `events` (the last one recorded), with its index.
pub(crate) fn current_set(events: &[Event]) -> Option<(usize, &CustodianSet)> {
    events
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, e)| e.custodian_set().map(|s| (i, s)))
}

/// For each live entry id, the custodian set its current object was encrypted to: the set in
/// force when it was added, or the one of the rekey that last moved it. Entries written before
/// any set was recorded (format 1) are absent.
pub(crate) fn entry_sets(events: &[Event]) -> EntrySets {
    let mut sets: Vec<CustodianSet> = Vec::new();
    let mut of: HashMap<String, usize> = HashMap::new();
    for ev in events {
        match ev {
            Event::Custodians { set, .. } => sets.push(set.clone()),
            Event::Add(e) => {
                if let Some(i) = sets.len().checked_sub(1) {
                    of.insert(e.id.clone(), i);
                }
            }
            Event::Rekey {
                moves, custodians, ..
            } => {
                if let Some(s) = custodians {
                    sets.push(s.clone());
                }
                // A rekey without a set once one is recorded is itself a problem (verify
                // says so); its objects are still held to the set in force.
                for m in moves {
                    match sets.len().checked_sub(1) {
                        Some(i) => {
                            of.insert(m.entry.clone(), i);
                        }
                        None => {
                            of.remove(&m.entry);
                        }
                    }
                }
            }
            Event::Drill { .. } | Event::Restore { .. } | Event::Release { .. } => {}
        }
    }
    EntrySets { sets, of }
}

/// The result of [`entry_sets`]: each set once, and each entry's set by index.
pub(crate) struct EntrySets {
    sets: Vec<CustodianSet>,
    of: HashMap<String, usize>,
}

impl EntrySets {
    /// The set entry `id`'s object was encrypted to.
    pub(crate) fn get(&self, id: &str) -> Option<&CustodianSet> {
        self.of.get(id).and_then(|&i| self.sets.get(i))
    }
}

/// One manifest line as written: the chain fields and the event.
#[derive(Serialize, Deserialize)]
pub(crate) struct Line {
    pub(crate) seq: u64,
    pub(crate) prev: String,
    #[serde(flatten)]
    pub(crate) event: Event,
}

/// The chain fields of a line, read on their own (every other field is skipped).
#[derive(Deserialize)]
struct ChainFields {
    seq: u64,
    prev: String,
}

impl Line {
    /// Parse one line (without its newline). The chain fields and the event are read in two
    /// passes: `#[serde(flatten)]` around an internally tagged enum would buffer every field
    /// twice, which made reading a 10,000-entry manifest the largest cost of `list`.
    pub(crate) fn parse(l: &str) -> Result<Self, serde_json::Error> {
        let ChainFields { seq, prev } = serde_json::from_str(l)?;
        let event = serde_json::from_str(l)?;
        Ok(Self { seq, prev, event })
    }
}

/// The `prev` of the first line.
pub(crate) const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The manifest as read for writing: raw lines (kept byte for byte) and their events.
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    /// Raw lines, without newlines.
    pub(crate) lines: Vec<String>,
    /// Parsed events.
    pub(crate) events: Vec<Event>,
}

impl Manifest {
    /// Parse the manifest text strictly: the first line that does not parse is returned as
    /// `(1-based line number, error)`, so that no write extends a damaged chain.
    pub(crate) fn parse(text: &str) -> Result<Self, (usize, serde_json::Error)> {
        let mut m = Self::default();
        for (i, l) in text.lines().enumerate() {
            let line = Line::parse(l).map_err(|e| (i + 1, e))?;
            m.lines.push(l.to_string());
            m.events.push(line.event);
        }
        Ok(m)
    }

    /// Append events as new chained lines (in memory).
    pub(crate) fn append(&mut self, new: Vec<Event>) -> Result<(), serde_json::Error> {
        for event in new {
            let line = Line {
                seq: self.lines.len() as u64 + 1,
                prev: self.last_hash(),
                event,
            };
            let text = serde_json::to_string(&line)?;
            self.lines.push(text);
            self.events.push(line.event);
        }
        Ok(())
    }

    /// Hash of the last line (64 zeros when empty).
    fn last_hash(&self) -> String {
        self.lines
            .last()
            .map(|l| sha256_hex(l.as_bytes()))
            .unwrap_or_else(|| ZERO.into())
    }

    /// The file body: every line followed by a newline.
    pub(crate) fn body(&self) -> String {
        let mut body = self.lines.join("\n");
        body.push('\n');
        body
    }

    /// The `HEAD` file: `<number of lines> <hash of the last line>\n`.
    pub(crate) fn head(&self) -> String {
        format!("{} {}\n", self.lines.len(), self.last_hash())
    }
}

/// [`live_entries`], consuming the events (no entry is copied).
pub(crate) fn into_live_entries(events: Vec<Event>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for ev in events {
        match ev {
            Event::Add(e) => {
                index.insert(e.id.clone(), out.len());
                out.push(*e);
            }
            other => apply(&mut out, &index, &other),
        }
    }
    out
}

/// A drill or rekey applied to the live entries.
fn apply(out: &mut [Entry], index: &HashMap<String, usize>, ev: &Event) {
    match ev {
        Event::Drill { entry, ok, at, .. } => {
            if let Some(e) = index.get(entry).and_then(|&i| out.get_mut(i)) {
                e.last_drill = Some((at.clone(), *ok));
            }
        }
        Event::Rekey {
            moves, recipients, ..
        } => {
            for m in moves {
                if let Some(e) = index.get(&m.entry).and_then(|&i| out.get_mut(i)) {
                    e.object = m.new_object.clone();
                    e.recipients = recipients.clone();
                }
            }
        }
        Event::Add(_)
        | Event::Custodians { .. }
        | Event::Restore { .. }
        | Event::Release { .. } => {}
    }
}

/// Fold events into the live entries, in order of addition: drills set `last_drill`, rekeys
/// move objects and recipients.
pub(crate) fn live_entries(events: &[Event]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for ev in events {
        match ev {
            Event::Add(e) => {
                index.insert(e.id.clone(), out.len());
                out.push((**e).clone());
            }
            other => apply(&mut out, &index, other),
        }
    }
    out
}

/// How `vault.yaml` relates to the custodian set in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfigState {
    /// Format 1 and no set in the chain: nothing to compare.
    Unchained,
    /// They agree.
    Matches,
    /// `vault.yaml` lists the set before the last `rekey` (or still says format 1 after an
    /// `upgrade` recorded the set): an interrupted write the next writer completes.
    Behind,
    /// Anything else: `vault.yaml` was edited (or the chain lacks a set).
    Mismatch(String),
}

/// Compare `vault.yaml` with the chain.
pub(crate) fn config_state(config: &Config, events: &[Event]) -> ConfigState {
    let sets: Vec<&CustodianSet> = events.iter().filter_map(Event::custodian_set).collect();
    let Some(current) = sets.last() else {
        return if config.format == FORMAT_V1 {
            ConfigState::Unchained
        } else {
            ConfigState::Mismatch(
                "vault.yaml says nkp-vault/2 but the manifest records no custodian set".into(),
            )
        };
    };
    // An interrupted write is always the last event: any writer after it completes
    // vault.yaml first. So only the last event can leave vault.yaml behind.
    let last = events.last();
    if current.same_as(config) {
        return if config.format == FORMAT {
            ConfigState::Matches
        } else if matches!(last, Some(Event::Custodians { reason, .. }) if reason.starts_with("upgrade"))
        {
            ConfigState::Behind
        } else {
            ConfigState::Mismatch(
                "vault.yaml says nkp-vault/1 but the manifest records a custodian set".into(),
            )
        };
    }
    if matches!(last, Some(Event::Rekey { .. }))
        && sets.len() >= 2
        && sets[sets.len() - 2].same_as(config)
    {
        return ConfigState::Behind;
    }
    ConfigState::Mismatch(current.difference(config))
}
