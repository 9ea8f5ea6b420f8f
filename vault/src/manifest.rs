//! The hash-chained manifest (`manifest.jsonl`) and its keyless verification.
//!
//! Each line is one JSON object: `seq` (1, 2, ...), `prev` (hex SHA-256 of the previous line's
//! bytes; 64 zeros for the first), `type` (`add`, `drill`, `rekey`) and the event's fields.
//! Lines already written are never re-serialised: new events are appended to the raw text,
//! and the whole file is replaced atomically. `HEAD` holds `<seq> <sha256 of the last line>`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::store::{self, sha256_hex};
use crate::VaultError;

/// A live escrow entry: the cleartext facts of one escrowed backup.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Entry id: the first 12 hex digits of the .p12's SHA-256 (stable across rekeys).
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
    },
    /// Objects were re-encrypted to a new recipient set.
    Rekey {
        /// Per entry: old and new object.
        moves: Vec<Move>,
        /// New recipient fingerprints.
        recipients: Vec<String>,
        /// When.
        at: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Line {
    seq: u64,
    prev: String,
    #[serde(flatten)]
    event: Event,
}

/// The manifest as read: raw lines (kept byte for byte) and their events.
#[derive(Default)]
pub struct Manifest {
    /// Raw lines, without newlines.
    pub lines: Vec<String>,
    /// Parsed events.
    pub events: Vec<Event>,
}

const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Read the manifest for writing (strict: any parse error stops the write).
pub fn read(dir: &Path) -> Result<Manifest, VaultError> {
    let path = dir.join("manifest.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
        Err(e) => return Err(VaultError::Io(format!("{}: {e}", path.display()))),
    };
    let mut m = Manifest::default();
    for (i, l) in text.lines().enumerate() {
        let line: Line = serde_json::from_str(l).map_err(|e| {
            VaultError::Format(format!(
                "{} line {}: {e}; run `vault verify` before writing",
                path.display(),
                i + 1
            ))
        })?;
        m.lines.push(l.to_string());
        m.events.push(line.event);
    }
    Ok(m)
}

/// Append `new` events and write manifest then HEAD atomically.
pub fn append(dir: &Path, m: &mut Manifest, new: Vec<Event>) -> Result<(), VaultError> {
    for event in new {
        let prev = m
            .lines
            .last()
            .map(|l| sha256_hex(l.as_bytes()))
            .unwrap_or_else(|| ZERO.into());
        let line = Line {
            seq: m.lines.len() as u64 + 1,
            prev,
            event,
        };
        let text = serde_json::to_string(&line).map_err(|e| VaultError::Format(e.to_string()))?;
        m.lines.push(text);
        m.events.push(line.event);
    }
    let mut body = m.lines.join("\n");
    body.push('\n');
    store::write_atomic(
        &dir.join("manifest.jsonl"),
        body.as_bytes(),
        0o644,
        "manifest",
    )?;
    store::failpoint("append:before-head");
    let head = format!(
        "{} {}\n",
        m.lines.len(),
        m.lines
            .last()
            .map(|l| sha256_hex(l.as_bytes()))
            .unwrap_or_else(|| ZERO.into())
    );
    store::write_atomic(&dir.join("HEAD"), head.as_bytes(), 0o644, "head")
}

/// Fold events into the live entries.
pub fn live_entries(events: &[Event]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for ev in events {
        match ev {
            Event::Add(e) => {
                index.insert(e.id.clone(), out.len());
                out.push((**e).clone());
            }
            Event::Drill { entry, ok, at, .. } => {
                if let Some(&i) = index.get(entry) {
                    out[i].last_drill = Some((at.clone(), *ok));
                }
            }
            Event::Rekey {
                moves, recipients, ..
            } => {
                for m in moves {
                    if let Some(&i) = index.get(&m.entry) {
                        out[i].object = m.new_object.clone();
                        out[i].recipients = recipients.clone();
                    }
                }
            }
        }
    }
    out
}

/// Result of `vault verify`.
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
    pub problems: Vec<String>,
    /// Tolerated states (orphan objects after an interrupted add, HEAD one step behind).
    pub warnings: Vec<String>,
    /// Signed checkpoints by a trusted key that match the manifest.
    pub trusted_checkpoints: usize,
}

/// The first 12 characters of an id from the manifest (untrusted: never split a character).
fn short(s: &str) -> &str {
    s.char_indices().nth(12).map(|(i, _)| &s[..i]).unwrap_or(s)
}

/// Verify a vault without any key: chain, HEAD, objects, orphans.
pub fn verify(dir: &Path) -> VerifyReport {
    verify_with(dir, &[])
}

/// [`verify`], plus signed checkpoints against the `trusted` public keys (base64 Ed25519).
/// The manifest is read once.
pub fn verify_with(dir: &Path, trusted: &[String]) -> VerifyReport {
    use rayon::prelude::*;
    let mut r = VerifyReport::default();
    let path = dir.join("manifest.jsonl");
    let text = match std::fs::read(&path) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            r.problems
                .push(format!("{}: cannot read: {e}", path.display()));
            return r;
        }
    };
    if !text.is_empty() && !text.ends_with('\n') {
        r.problems
            .push("manifest.jsonl does not end with a newline: it was cut or edited".into());
    }
    let raw: Vec<&str> = text.lines().collect();
    let mut events = Vec::with_capacity(raw.len());
    let mut prev = ZERO.to_string();
    for (i, l) in raw.iter().enumerate() {
        match serde_json::from_str::<Line>(l) {
            Ok(line) => {
                if line.seq != i as u64 + 1 {
                    r.problems.push(format!(
                        "manifest line {}: sequence number {} (expected {}): lines were deleted, inserted or reordered",
                        i + 1,
                        line.seq,
                        i + 1
                    ));
                }
                if line.prev != prev {
                    r.problems.push(format!(
                        "manifest line {}: does not chain to the line before (edited, deleted or reordered)",
                        i + 1
                    ));
                }
                events.push(line.event);
            }
            Err(e) => r.problems.push(format!(
                "manifest line {}: not a valid entry ({e}): edited",
                i + 1
            )),
        }
        prev = sha256_hex(l.as_bytes());
    }
    r.events = raw.len();
    let last_hash = raw.last().map(|l| sha256_hex(l.as_bytes()));
    r.head = last_hash.as_ref().map(|h| format!("{} {h}", raw.len()));
    // HEAD anchors the end of the chain: a truncated manifest no longer reaches it.
    match std::fs::read_to_string(dir.join("HEAD")) {
        Ok(h) => {
            let mut it = h.split_whitespace();
            let seq: Option<usize> = it.next().and_then(|s| s.parse().ok());
            let hash = it.next().map(String::from);
            let behind_ok = seq.is_some_and(|s| s + 1 == raw.len())
                && raw.len() >= 2
                && hash.as_deref() == Some(sha256_hex(raw[raw.len() - 2].as_bytes()).as_str());
            if seq == Some(raw.len()) && hash == last_hash.clone().or(Some(ZERO.into())) {
                // in step
            } else if behind_ok || (seq == Some(0) && raw.len() == 1) {
                r.warnings.push("HEAD is one event behind the manifest: an interrupted write; the next write repairs it".into());
            } else {
                r.problems.push(format!(
                    "HEAD says {} but the manifest ends at {}: the manifest was truncated or HEAD edited",
                    h.trim(),
                    r.head.clone().unwrap_or_else(|| "nothing".into())
                ));
            }
        }
        Err(_) if raw.is_empty() => {}
        Err(_) if raw.len() == 1 => r
            .warnings
            .push("HEAD is missing after the first write: an interrupted write".into()),
        Err(e) => r
            .problems
            .push(format!("HEAD: cannot read ({e}): deleted?")),
    }
    // Entries and objects.
    let live = live_entries(&events);
    r.entries = live.len();
    let mut ids = HashSet::new();
    for e in &live {
        if !ids.insert(e.id.clone()) {
            r.problems.push(format!("entry {} appears twice", e.id));
        }
    }
    for ev in &events {
        if let Event::Drill { entry, .. } = ev {
            if !ids.contains(entry) {
                r.problems
                    .push(format!("a drill names entry {entry}, which does not exist"));
            }
        }
    }
    let obj_dir = dir.join("objects");
    let results: Vec<Option<String>> = live
        .par_iter()
        .map(|e| {
            let p = obj_dir.join(format!("{}.age", e.object));
            match std::fs::read(&p) {
                Ok(b) if sha256_hex(&b) == e.object => None,
                Ok(_) => Some(format!(
                    "entry {} ({}): object {} does not match its hash: changed or swapped",
                    e.id,
                    e.provider.as_deref().unwrap_or("?"),
                    short(&e.object)
                )),
                Err(err) => Some(format!(
                    "entry {} ({}): object {} is missing ({err})",
                    e.id,
                    e.provider.as_deref().unwrap_or("?"),
                    short(&e.object)
                )),
            }
        })
        .collect();
    r.objects_checked = live.len();
    r.problems.extend(results.into_iter().flatten());
    let referenced: HashSet<&str> = live.iter().map(|e| e.object.as_str()).collect();
    if let Ok(rd) = std::fs::read_dir(&obj_dir) {
        for f in rd.flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                r.warnings.push(format!(
                    "objects/{name}: a temporary file left by an interrupted write"
                ));
                continue;
            }
            let id = name.strip_suffix(".age").unwrap_or(&name);
            if !referenced.contains(id) {
                r.warnings.push(format!(
                    "objects/{name}: an orphan object (no live entry uses it: an interrupted add or rekey)"
                ));
            }
        }
    }
    let (p, w, good) = crate::checkpoint::verify(dir, &raw, trusted);
    r.problems.extend(p);
    r.warnings.extend(w);
    r.trusted_checkpoints = good;
    r.ok = r.problems.is_empty();
    r
}
