//! The vault's custody facts as the report states them: who the custodians are, when each last
//! drilled, every restore the chain records, and how far the chain was verified.

use std::path::Path;

use serde::Serialize;

use nkp_vault::{Event, VerifyReport};

/// One custodian and their drills.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CustodianFacts {
    /// Label.
    pub label: String,
    /// Full fingerprint of the public key.
    pub fingerprint: String,
    /// Drills recorded as run by this custodian.
    pub drills: usize,
    /// When the newest of them ran (RFC 3339), `None` when never.
    pub last_drill: Option<String>,
    /// The key type the recipient states (`age-x25519`, `ssh-ed25519`, `age-plugin-yubikey`,
    /// ...).
    pub key_type: String,
    /// `file`, `hardware` or `unknown`, as far as the recipient type says.
    pub storage: &'static str,
}

/// One recorded restore (the key left the vault).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RestoreFact {
    /// Entry id.
    pub entry: String,
    /// When.
    pub at: String,
    /// The custodian whose key opened it.
    pub custodian: String,
    /// That custodian's fingerprint.
    pub fingerprint: String,
    /// The operating-system user and host, as recorded (a record, not an authentication).
    pub user: String,
    /// Host.
    pub host: String,
    /// The reason given.
    pub reason: Option<String>,
    /// k-of-n vaults: the labels of the custodians whose shares opened it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
}

/// The vault's custody facts.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Custody {
    /// The vault folder.
    pub path: String,
    /// Format (`nkp-vault/2`, `nkp-vault/1`).
    pub format: Option<String>,
    /// `recipients` or `passphrase`.
    pub mode: Option<String>,
    /// True when the keyless verification found nothing wrong.
    pub verified: bool,
    /// The chain head (`<seq> <sha256>`).
    pub chain_head: Option<String>,
    /// Live entries.
    pub entries: usize,
    /// How many custodians must take part in a restore (1: any one alone).
    pub threshold: usize,
    /// The custodians the chain records now.
    pub custodians: Vec<CustodianFacts>,
    /// Every restore the chain records (the whole history).
    pub restores: Vec<RestoreFact>,
    /// How many trusted checkpoint keys were given (`--trusted-key`).
    pub trusted_keys_given: usize,
    /// The newest checkpoint signed by a trusted key that matches the chain, as `<seq> <sha256>
    /// at <time>`; `None` when no key was given or none matched.
    pub trusted_checkpoint: Option<String>,
    /// Events after that checkpoint, signed by nobody.
    pub unsigned_events: Option<u64>,
    /// The head verified against a trusted checkpoint: `trusted-checkpoint` (covered entirely),
    /// `trusted-checkpoint-with-unsigned-tail`, `no-matching-trusted-checkpoint`, or `not-checked` (no key given: the chain is
    /// only consistent with itself, not shown to be the one you saw before).
    pub anchor: &'static str,
}

impl Custody {
    /// Build from the vault folder, its verification (made with the trusted keys given) and its
    /// events (`None` when the manifest could not be read).
    pub fn new(
        dir: &Path,
        report: &VerifyReport,
        events: Option<&[Event]>,
        trusted_keys_given: usize,
    ) -> Self {
        let events = events.unwrap_or(&[]);
        let set = events.iter().rev().find_map(Event::custodian_set);
        let custodians = report
            .custodians
            .iter()
            .map(|c| {
                let drills: Vec<&str> = events
                    .iter()
                    .filter_map(|e| match e {
                        Event::Drill {
                            by: Some(b),
                            at,
                            participants,
                            ..
                        } if b.fingerprint == c.fingerprint
                            || participants.iter().any(|p| p.fingerprint == c.fingerprint) =>
                        {
                            Some(at.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                let recipient = set
                    .and_then(|s| s.custodians.iter().find(|k| k.fingerprint == c.fingerprint))
                    .map(|k| k.recipient.as_str())
                    .unwrap_or("");
                let (key_type, storage) = crate::resolve::key_kind(recipient);
                CustodianFacts {
                    label: c.label.clone(),
                    fingerprint: c.fingerprint.clone(),
                    drills: drills.len(),
                    last_drill: drills.iter().max().map(|s| (*s).to_string()),
                    key_type,
                    storage,
                }
            })
            .collect();
        let restores = events
            .iter()
            .filter_map(|e| match e {
                Event::Restore {
                    entry,
                    at,
                    by,
                    reason,
                    participants,
                } => Some(RestoreFact {
                    participants: participants.iter().map(|p| p.custodian.clone()).collect(),
                    entry: entry.clone(),
                    at: at.clone(),
                    custodian: by.custodian.clone(),
                    fingerprint: by.fingerprint.clone(),
                    user: by.user.clone(),
                    host: by.host.clone(),
                    reason: reason.clone(),
                }),
                _ => None,
            })
            .collect();
        let trusted_checkpoint = report
            .newest_trusted_checkpoint
            .as_ref()
            .map(|t| format!("{} {} at {}", t.seq, t.head, t.at));
        let anchor = match (&trusted_checkpoint, report.unsigned_events) {
            (Some(_), Some(n)) if n > 0 => "trusted-checkpoint-with-unsigned-tail",
            (Some(_), _) => "trusted-checkpoint",
            (None, _) if trusted_keys_given > 0 => "no-matching-trusted-checkpoint",
            _ => "not-checked",
        };
        Self {
            path: dir.display().to_string(),
            format: report.format.clone(),
            mode: report.mode.clone(),
            verified: report.ok,
            chain_head: report.head.clone(),
            entries: report.entries,
            // How many custodians must take part, as the chain records it (1: any one alone).
            threshold: set.map_or(1, nkp_vault::CustodianSet::needed),
            custodians,
            restores,
            trusted_keys_given,
            trusted_checkpoint,
            unsigned_events: report.unsigned_events,
            anchor,
        }
    }
}
