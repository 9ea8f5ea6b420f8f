//! Coverage per (scope, provider) and the findings of a review.
//!
//! A verdict here must be one a security officer can defend: a provider is `covered` only by a
//! backup that was opened and whose key_id (or KDK) is the live one in that scope; a backup that
//! could not be opened makes the provider `unverified`, never `uncovered` (a missing password
//! is not a missing backup); two backups that claim the same name and key_id with different
//! KDKs are a conflict, not coverage.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{by_kdk, by_name, candidate, kdks_of, of_key_id, stated_key_ids, Backup, Candidate};
use super::{Match, UnreadableBackup};
use crate::evidence::KeyReference;

crate::codes::contract_enum! {
    /// Whether a provider in use has a backup of its live key_id.
    pub enum Status {
        /// A protected backup of the live key_id.
        Covered = "covered",
        /// Only unprotected backups of the live key_id.
        CoveredUnprotected = "covered-unprotected",
        /// Backups with this name exist, but none has the live key_id (or, when no live key_id
        /// is known, they have several key_ids).
        NameCollision = "name-collision",
        /// Backups claim the live name and key_id with different KDKs: which one is the
        /// provider cannot be told from here.
        KdkConflict = "kdk-conflict",
        /// No opened backup covers it, but some backups could not be opened: backup present,
        /// not verified.
        Unverified = "unverified",
        /// Backups with its name exist, but the evidence does not state its live key_id: a
        /// match by name alone, not confirmed.
        Unconfirmed = "unconfirmed",
        /// No backup of the live key_id.
        Uncovered = "uncovered",
    }
}

crate::codes::contract_enum! {
    /// How much a finding matters.
    pub enum Severity {
        /// Key loss is possible now.
        High = "high",
        /// A control fails or a recovery would be slowed.
        Medium = "medium",
        /// Worth knowing.
        Low = "low",
        /// For the record.
        Info = "info",
    }
}

impl Severity {
    /// True when `self` is as severe as `threshold` or more (`--fail-on`).
    pub fn at_least(self, threshold: Self) -> bool {
        self.rank() <= threshold.rank()
    }

    /// Sort rank: high first.
    fn rank(self) -> u8 {
        match self {
            Self::High => 0,
            Self::Medium => 1,
            Self::Low => 2,
            Self::Info => 3,
        }
    }
}

/// Coverage of one provider in one scope.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderCoverage {
    /// The scope (vCenter) whose evidence names the provider.
    pub scope: String,
    /// Provider name.
    pub name: String,
    /// Live key_id stated by the evidence of this scope (when it states exactly one).
    pub key_id: Option<String>,
    /// `covered`, `covered-unprotected`, `name-collision`, `kdk-conflict`, `unverified`,
    /// `uncovered`.
    pub status: Status,
    /// Backups named like it, or holding the same KDK as one of its key_id.
    pub backups: Vec<Candidate>,
}

/// A finding of `coverage`: what, how bad, where, and about what.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// `high`, `medium`, `low`, `info`.
    pub severity: Severity,
    /// Stable code.
    pub code: &'static str,
    /// The scope it concerns; `null` for a finding about a backup or the vault alone.
    pub scope: Option<String>,
    /// The provider it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The key_id it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The KDK it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kdk_fingerprint: Option<String>,
    /// The backup file it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The vault entry it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// In words.
    pub message: String,
}

impl Finding {
    /// A finding with only a code, severity and message.
    pub fn new(severity: Severity, code: &'static str, message: String) -> Self {
        Self {
            severity,
            code,
            scope: None,
            provider: None,
            key_id: None,
            kdk_fingerprint: None,
            file: None,
            entry: None,
            message,
        }
    }

    fn scope(mut self, s: &str) -> Self {
        self.scope = Some(s.to_string());
        self
    }

    fn provider(mut self, p: &str) -> Self {
        self.provider = Some(p.to_string());
        self
    }

    fn key_id(mut self, k: Option<&str>) -> Self {
        self.key_id = k.map(String::from);
        self
    }

    fn kdk(mut self, k: &str) -> Self {
        self.kdk_fingerprint = (!k.is_empty()).then(|| k.to_string());
        self
    }

    /// About this backup: its file or vault entry, provider, key_id and KDK.
    fn backup(mut self, b: &Backup) -> Self {
        match b.source.strip_prefix("vault:") {
            Some(id) => self.entry = Some(id.to_string()),
            None => self.file = Some(b.source.clone()),
        }
        self.provider = b.provider.clone();
        self.key_id = b.key_id.clone();
        self.kdk(&b.kdk_fingerprint)
    }
}

/// `coverage` result.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    /// Every provider the evidence mentions, per scope.
    pub providers: Vec<ProviderCoverage>,
    /// Gaps and observations, most severe first.
    pub findings: Vec<Finding>,
    /// The custody model of the vault given (`None` without a vault).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custody: Option<CustodyModel>,
}

/// How a vault's keys are held: how many custodians must take part in a restore, and what each
/// custodian's key is, as far as its recipient type says.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CustodyModel {
    /// The vault folder.
    pub vault: String,
    /// `recipients` or `passphrase`.
    pub mode: String,
    /// How many custodians must take part in a restore (1: any one alone).
    pub threshold: usize,
    /// The custodians the chain records now.
    pub custodians: Vec<CustodianKey>,
    /// Live entries.
    pub entries: usize,
}

/// One custodian's key type.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CustodianKey {
    /// Label.
    pub label: String,
    /// Fingerprint.
    pub fingerprint: String,
    /// `age-x25519`, `ssh-ed25519`, `ssh-rsa`, `age-plugin-<name>`, or `unknown`.
    pub key_type: String,
    /// `hardware` (a plugin for a token: yubikey, tpm, se), `file` (a key in a file), or
    /// `unknown` (a plugin whose recipient type does not say).
    pub storage: &'static str,
}

/// The key type and storage a recipient string states.
pub fn key_kind(recipient: &str) -> (String, &'static str) {
    let r = recipient.trim();
    if let Some(t) = r
        .split_whitespace()
        .next()
        .filter(|t| t.starts_with("ssh-"))
    {
        return (t.to_string(), "file");
    }
    if let Some(rest) = r.strip_prefix("age1") {
        // A native X25519 recipient is `age1` and bech32 data, which never holds a `1`; a
        // plugin's is `age1<name>1<data>`.
        if !rest.contains('1') {
            return ("age-x25519".into(), "file");
        }
        if let Some((name, _)) = rest.split_once('1') {
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                let hardware = matches!(
                    name,
                    "yubikey" | "tpm" | "se" | "fido2hmac" | "trezor" | "ledger"
                );
                return (
                    format!("age-plugin-{name}"),
                    if hardware { "hardware" } else { "unknown" },
                );
            }
        }
    }
    ("unknown".into(), "unknown")
}

#[cfg(test)]
mod custody_tests {
    use super::key_kind;

    #[test]
    fn key_types_as_the_recipient_says() {
        let x = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        assert_eq!(key_kind(x), ("age-x25519".to_string(), "file"));
        assert_eq!(key_kind("ssh-ed25519 AAAAC3Nza x@y").0, "ssh-ed25519");
        assert_eq!(
            key_kind("age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t"),
            ("age-plugin-yubikey".to_string(), "hardware")
        );
        assert_eq!(key_kind("age1foo1qqqq").1, "unknown");
        assert_eq!(key_kind("garbage").0, "unknown");
    }
}

/// The custody finding: a vault holding keys where any one custodian can restore alone
/// (`VAULT-SINGLE-CONTROL`: info, or medium when dual control is required). PCI DSS v4.0.1 3.7.6
/// asks for split knowledge and dual control of clear-text key operations.
pub fn add_custody_findings(c: &mut Coverage, model: CustodyModel, require_dual_control: bool) {
    if model.threshold < 2 && model.entries > 0 {
        let who = if model.mode == "passphrase" {
            "anyone with the vault passphrase".to_string()
        } else {
            format!("any one of its {} custodian(s)", model.custodians.len())
        };
        c.findings.push(Finding::new(
            if require_dual_control {
                Severity::Medium
            } else {
                Severity::Info
            },
            "VAULT-SINGLE-CONTROL",
            format!(
                "vault {}: {who} can restore a KDK alone (no k-of-n); dual control of clear-text key operations (PCI DSS v4.0.1 3.7.6) needs a threshold of 2 or more",
                model.vault
            ),
        ));
    }
    c.custody = Some(model);
    sort(&mut c.findings);
}

/// Drills older than this many days are stale.
pub const DRILL_MAX_AGE_DAYS: i64 = 365;

/// Size of an NKP KDK: 256-bit AES (vendor NKP FAQ).
pub const KDK_BITS: u32 = 256;

/// Coverage of every provider mentioned by the evidence, per scope.
pub fn coverage(
    refs: &[KeyReference],
    backups: &[Backup],
    unreadable: &[UnreadableBackup],
    now: time::OffsetDateTime,
) -> Coverage {
    let key_ids = stated_key_ids(refs);
    let named = by_name(backups);
    let kdks = by_kdk(backups);
    let mut names: BTreeSet<(&str, &str)> = refs
        .iter()
        .filter_map(|r| r.provider.as_deref().map(|p| (&*r.scope, p)))
        .collect();
    names.extend(key_ids.keys().copied());
    let mut providers = Vec::new();
    let mut findings = Vec::new();
    let empty = Vec::new();
    for &(scope, name) in &names {
        let same: &Vec<&Backup> = named.get(name).unwrap_or(&empty);
        let stated = key_ids.get(&(scope, name));
        if let Some(s) = stated.filter(|s| s.len() > 1) {
            findings.push(
                Finding::new(
                    Severity::Medium,
                    "NKP-LIVE-NAME-COLLISION",
                    format!(
                        "live evidence of scope {scope} states {} key_ids for {name} (a re-created provider, or two vCenters read as one scope: label them --evidence vc01=PATH): {}",
                        s.len(),
                        s.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
                .scope(scope)
                .provider(name),
            );
        }
        // Each live key_id is a provider of its own: with two in one scope (a re-creation, or
        // two vCenters read as one), each needs its own backup.
        let keys: Vec<Option<String>> = match stated {
            Some(s) if !s.is_empty() => s.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        for key_id in keys {
            let protected = |b: &Backup| b.verdict != "unprotected";
            let (mut status, matched): (Status, Vec<&Backup>) = match &key_id {
                Some(k) => {
                    let (direct, relabelled) = of_key_id(same, k, &kdks);
                    // Not stale: backups holding the live key_id's KDK (relabelled).
                    let relabelled_here =
                        |b: &Backup| relabelled.iter().any(|r| std::ptr::eq(*r, b));
                    for b in same
                        .iter()
                        .filter(|b| b.key_id.as_deref() != Some(k.as_str()) && !relabelled_here(b))
                    {
                        let covered = !direct.is_empty();
                        findings.push(
                            Finding::new(
                                if covered { Severity::Info } else { Severity::High },
                                "NKP-STALE-BACKUP",
                                format!(
                                    "{} is named {name} but has key_id {} while the live {name} of scope {scope} has {k}: a backup of a deleted or re-created provider (KB 311922){}",
                                    b.source,
                                    b.key_id.as_deref().unwrap_or("unknown"),
                                    if covered { "; keep it for old VM backups" } else { "; it cannot restore the live provider" }
                                ),
                            )
                            .backup(b)
                            .scope(scope),
                        );
                    }
                    let conflict = kdks_of(&direct);
                    let all: Vec<&Backup> = direct.iter().chain(&relabelled).copied().collect();
                    if conflict.len() > 1 {
                        findings.push(
                            Finding::new(
                                Severity::High,
                                "NKP-KDK-CONFLICT",
                                format!(
                                    "backups of {name} with key_id {k} hold {} different KDKs ({}): name and key_id are labels, the KDK is the key; at most one is the live provider: {}",
                                    conflict.len(),
                                    conflict.iter().cloned().collect::<Vec<_>>().join(", "),
                                    direct.iter().map(|b| format!("{} ({})", b.source, b.kdk_fingerprint)).collect::<Vec<_>>().join(", ")
                                ),
                            )
                            .scope(scope)
                            .provider(name)
                            .key_id(Some(k)),
                        );
                        (Status::KdkConflict, all)
                    } else if all.iter().any(|b| protected(b)) {
                        (Status::Covered, all)
                    } else if !all.is_empty() {
                        (Status::CoveredUnprotected, all)
                    } else if !same.is_empty() {
                        (Status::NameCollision, Vec::new())
                    } else {
                        (Status::Uncovered, Vec::new())
                    }
                }
                None => {
                    let ids: BTreeSet<Option<&str>> =
                        same.iter().map(|b| b.key_id.as_deref()).collect();
                    if same.is_empty() {
                        (Status::Uncovered, Vec::new())
                    } else if ids.len() > 1 {
                        findings.push(
                            Finding::new(
                                Severity::Medium,
                                "NKP-NAME-COLLISION",
                                format!(
                                    "backups named {name} carry {} different key_ids and no live evidence of scope {scope} says which is current: {}",
                                    ids.len(),
                                    same.iter().map(|b| format!("{} ({})", b.source, b.key_id.as_deref().unwrap_or("-"))).collect::<Vec<_>>().join(", ")
                                ),
                            )
                            .scope(scope)
                            .provider(name),
                        );
                        (Status::NameCollision, Vec::new())
                    } else if kdks_of(same).len() > 1 {
                        findings.push(
                            Finding::new(
                                Severity::High,
                                "NKP-KDK-CONFLICT",
                                format!(
                                    "backups of {name} with the same key_id hold {} different KDKs: name and key_id are labels, the KDK is the key; at most one is the live provider: {}",
                                    kdks_of(same).len(),
                                    same.iter().map(|b| format!("{} ({})", b.source, b.kdk_fingerprint)).collect::<Vec<_>>().join(", ")
                                ),
                            )
                            .scope(scope)
                            .provider(name)
                            .key_id(same.first().and_then(|b| b.key_id.as_deref())),
                        );
                        (Status::KdkConflict, same.clone())
                    } else {
                        // A match by name alone: the live key_id is not stated, so whether
                        // these backups hold the live key cannot be told.
                        findings.push(
                            Finding::new(
                                Severity::Medium,
                                "NKP-KEYID-UNKNOWN",
                                format!(
                                    "the evidence of scope {scope} does not state the live key_id of {name}: its backups ({}) match by name only; add `govc kms.ls -json` or ConfigStore `kms_providers` output to confirm",
                                    same.iter().map(|b| format!("{} ({})", b.source, b.key_id.as_deref().unwrap_or("-"))).collect::<Vec<_>>().join(", ")
                                ),
                            )
                            .scope(scope)
                            .provider(name),
                        );
                        (Status::Unconfirmed, same.clone())
                    }
                }
            };
            // A backup file that could not be opened may hold the live key_id: with none among
            // the opened ones, that is not known (never a FAIL). Stale backups are still named.
            let live_known = key_id.is_some();
            if !unreadable.is_empty()
                && (status == Status::Uncovered || (status == Status::NameCollision && live_known))
            {
                status = Status::Unverified;
            }
            match status {
                Status::Uncovered => findings.push(
                    Finding::new(
                        Severity::High,
                        "NKP-UNCOVERED",
                        format!("no backup of provider {name} (scope {scope}{}) was found: export one with a strong password, through the vCenter's FQDN (not its IP; with `dcli ... kms providers export` if the vCenter's PNID is localhost), and escrow it", key_id.as_deref().map(|k| format!(", key_id {k}")).unwrap_or_default()),
                    )
                    .scope(scope)
                    .provider(name)
                    .key_id(key_id.as_deref()),
                ),
                Status::Unverified => findings.push(
                    Finding::new(
                        Severity::Medium,
                        "NKP-UNVERIFIED",
                        format!(
                            "no opened backup covers provider {name} (scope {scope}), and {} backup file(s) could not be opened and may hold it: give their passwords (see NKP-UNREADABLE-BACKUP) before exporting a new copy",
                            unreadable.len()
                        ),
                    )
                    .scope(scope)
                    .provider(name)
                    .key_id(key_id.as_deref()),
                ),
                Status::CoveredUnprotected => findings.push(
                    Finding::new(
                        Severity::High,
                        "NKP-ONLY-UNPROTECTED",
                        format!("provider {name} (scope {scope}) is backed up only without a password: re-export it with a strong password (VCFA-9X-000335)"),
                    )
                    .scope(scope)
                    .provider(name)
                    .key_id(key_id.as_deref()),
                ),
                _ => {}
            }
            let in_matched = |b: &Backup| matched.iter().any(|m| std::ptr::eq(*m, b));
            let mut rows: Vec<Candidate> = same
                .iter()
                .map(|b| {
                    candidate(
                        b,
                        // Counted by its key_id only when a live key_id is known (otherwise by
                        // name); a same-name backup of another key_id with the same KDK is
                        // relabelled.
                        match (in_matched(b), key_id.as_deref()) {
                            (true, Some(k)) if b.key_id.as_deref() == Some(k) => Match::KeyId,
                            (true, Some(_)) => Match::SameKdk,
                            _ => Match::NameOnly,
                        },
                    )
                })
                .collect();
            // Relabelled backups (same KDK, other name) count for the provider too.
            rows.extend(
                matched
                    .iter()
                    .filter(|m| m.provider.as_deref() != Some(name))
                    .map(|b| candidate(b, Match::SameKdk)),
            );
            providers.push(ProviderCoverage {
                scope: scope.to_string(),
                name: name.to_string(),
                key_id,
                status,
                backups: rows,
            });
        }
    }
    // A scope whose hosts include one without a TPM cannot take a provider restored with
    // "Require TPM" (vendor NKP FAQ): restore it with the option unchecked.
    let no_tpm: BTreeMap<&str, Vec<&str>> = refs
        .iter()
        .filter(|r| {
            r.state == crate::evidence::State::HostFact
                && r.details.iter().any(|d| d == "tpm-present: false")
        })
        .fold(BTreeMap::new(), |mut m, r| {
            m.entry(&*r.scope)
                .or_insert_with(Vec::new)
                .push(r.subject.name.as_str());
            m
        });
    for p in &providers {
        let Some(hosts) = no_tpm.get(p.scope.as_str()) else {
            continue;
        };
        let tpm: Vec<&Candidate> = p
            .backups
            .iter()
            .filter(|b| b.tpm_required == Some(true) && b.matched != Match::NameOnly)
            .collect();
        if !tpm.is_empty() {
            findings.push(
                Finding::new(
                    Severity::Medium,
                    "NKP-TPM-REQUIRED-NO-TPM",
                    format!(
                        "the backup of {} ({}) was exported with \"Require TPM\" and host(s) {} of scope {} have no TPM: restore it with \"Require TPM\" unchecked, or those hosts cannot use the provider",
                        p.name,
                        tpm.iter().map(|b| b.source.as_str()).collect::<Vec<_>>().join(", "),
                        hosts.join(", "),
                        p.scope
                    ),
                )
                .scope(&p.scope)
                .provider(&p.name)
                .key_id(p.key_id.as_deref()),
            );
        }
    }
    // The same name in two scopes with different live key_ids: two providers, not one.
    let mut across: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
    for p in &providers {
        if let Some(k) = p.key_id.as_deref() {
            across
                .entry(p.name.as_str())
                .or_default()
                .insert((p.scope.as_str(), k));
        }
    }
    for (name, seen) in &across {
        let ids: BTreeSet<&str> = seen.iter().map(|(_, k)| *k).collect();
        if ids.len() > 1 {
            findings.push(
                Finding::new(
                    Severity::Medium,
                    "NKP-LIVE-NAME-COLLISION",
                    format!(
                        "provider name {name} has different live key_ids in different scopes ({}): they are different providers, each needs its own backup",
                        seen.iter().map(|(s, k)| format!("{s}: {k}")).collect::<Vec<_>>().join(", ")
                    ),
                )
                .provider(name),
            );
        }
    }
    backup_findings(backups, unreadable, &names, &kdks, now, &mut findings);
    sort(&mut findings);
    Coverage {
        providers,
        findings,
        custody: None,
    }
}

/// Findings about the backups themselves (not about a scope).
fn backup_findings(
    backups: &[Backup],
    unreadable: &[UnreadableBackup],
    names: &BTreeSet<(&str, &str)>,
    kdks: &std::collections::HashMap<&str, Vec<&Backup>>,
    now: time::OffsetDateTime,
    findings: &mut Vec<Finding>,
) {
    for u in unreadable {
        let mut f = Finding::new(
            Severity::Medium,
            "NKP-UNREADABLE-BACKUP",
            format!(
                "{} could not be opened ({}): it is not counted as a backup until it is; {}",
                u.file, u.reason, u.hint
            ),
        );
        f.file = Some(u.file.clone());
        findings.push(f);
    }
    // The same KDK under several names or key_ids: one provider, relabelled.
    let mut groups: Vec<(&&str, &Vec<&Backup>)> = kdks.iter().collect();
    groups.sort_by_key(|(k, _)| **k);
    for (kdk, group) in groups {
        let labels: BTreeSet<(Option<&str>, Option<&str>)> = group
            .iter()
            .map(|b| (b.provider.as_deref(), b.key_id.as_deref()))
            .collect();
        if labels.len() > 1 {
            findings.push(
                Finding::new(
                    Severity::Info,
                    "NKP-KEYID-RELABELLED",
                    format!(
                        "one KDK ({kdk}) appears under {} labels: {}: the same provider renamed or given another key_id (the API allows both); they count as one provider",
                        labels.len(),
                        group.iter().map(|b| format!("{} ({} {})", b.source, b.provider.as_deref().unwrap_or("-"), b.key_id.as_deref().unwrap_or("-"))).collect::<Vec<_>>().join(", ")
                    ),
                )
                .kdk(kdk),
            );
        }
    }
    let referenced: BTreeSet<&str> = names.iter().map(|(_, n)| *n).collect();
    for b in backups {
        if b.verdict == "unprotected" && b.kind == "file" {
            findings.push(Finding::new(
                Severity::High,
                "NKP-UNPROTECTED-BACKUP",
                format!(
                    "{} ({}) holds the KDK without a password: delete this copy after escrowing a protected one (VCFA-9X-000335 / VCSA-80-000294)",
                    b.source,
                    b.provider.as_deref().unwrap_or("-")
                ),
            ).backup(b));
        }
        if b.verdict == "weak" && b.kind == "file" {
            findings.push(Finding::new(
                Severity::Medium,
                "NKP-WEAK-BACKUP",
                format!(
                    "{} ({}) is protected only with legacy algorithms (see `nkp-escrow inspect`): re-export it (vCenter uses a strong scheme) or keep it only in the vault",
                    b.source,
                    b.provider.as_deref().unwrap_or("-")
                ),
            ).backup(b));
        }
        if let Some(why) = &b.weak_password {
            findings.push(Finding::new(
                Severity::Medium,
                "NKP-WEAK-PASSWORD",
                format!(
                    "{} ({}) was opened with a password below STIG complexity ({why}; 15+ characters with upper, lower, digit and symbol): re-export it with a strong password (VCFA-9X-000335 / VCSA-80-000294)",
                    b.source,
                    b.provider.as_deref().unwrap_or("-")
                ),
            ).backup(b));
        }
        if let Some(bits) = b.kdk_bits.filter(|&n| n != KDK_BITS) {
            findings.push(Finding::new(
                Severity::Info,
                "NKP-KDK-SIZE",
                format!(
                    "{} ({}) holds a {bits}-bit KDK; NKP keys are 256-bit AES: check that this is the backup you think it is",
                    b.source,
                    b.provider.as_deref().unwrap_or("-")
                ),
            ).backup(b));
        }
        if b.provider
            .as_deref()
            .is_none_or(|p| !referenced.contains(p))
        {
            findings.push(Finding::new(
                Severity::Info,
                "NKP-UNREFERENCED-BACKUP",
                format!(
                    "{} ({}) is not referenced by the evidence given: keep it for replicas and old VM backups",
                    b.source,
                    b.provider.as_deref().unwrap_or("-")
                ),
            ).backup(b));
        }
        if b.kind == "vault" {
            match &b.last_drill {
                None => findings.push(
                    Finding::new(
                        Severity::Medium,
                        "VAULT-NEVER-DRILLED",
                        format!(
                            "{} ({}) has never been restore-drilled: run `nkp-escrow vault drill`",
                            b.source,
                            b.provider.as_deref().unwrap_or("-")
                        ),
                    )
                    .backup(b),
                ),
                Some((at, ok)) => {
                    let age = time::OffsetDateTime::parse(
                        at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map(|t| (now - t).whole_days())
                    .unwrap_or(i64::MAX);
                    if !ok {
                        findings.push(
                            Finding::new(
                                Severity::High,
                                "VAULT-DRILL-FAILED",
                                format!("the last restore drill of {} failed ({at})", b.source),
                            )
                            .backup(b),
                        );
                    } else if age > DRILL_MAX_AGE_DAYS {
                        findings.push(
                            Finding::new(
                                Severity::Medium,
                                "VAULT-DRILL-STALE",
                                format!("{} was last drilled {age} days ago ({at})", b.source),
                            )
                            .backup(b),
                        );
                    }
                }
            }
        }
    }
}

/// Most severe first, then by scope, code and message; exact repeats removed.
fn sort(findings: &mut Vec<Finding>) {
    findings.sort_by(|a, b| {
        (a.severity.rank(), &a.scope, a.code, &a.message).cmp(&(
            b.severity.rank(),
            &b.scope,
            b.code,
            &b.message,
        ))
    });
    findings.dedup();
}

/// A vault custodian, as coverage sees it: who holds a key, and whether a drill proved it.
#[derive(Clone, Debug)]
pub struct CustodianDrills {
    /// The custodian's label.
    pub label: String,
    /// Their key's fingerprint.
    pub fingerprint: String,
    /// Drills recorded as run with this custodian's key (format-2 drills record who ran them).
    pub drills: usize,
}

/// Findings about the vault's custodians: each one whose key has never opened anything in a
/// recorded drill may have lost it without anyone knowing (`VAULT-CUSTODIAN-NEVER-DRILLED`,
/// medium). Added to `coverage` in the same order as the other findings.
pub fn add_custodian_findings(c: &mut Coverage, custodians: &[CustodianDrills]) {
    for k in custodians.iter().filter(|k| k.drills == 0) {
        c.findings.push(Finding::new(
            Severity::Medium,
            "VAULT-CUSTODIAN-NEVER-DRILLED",
            format!(
                "custodian {} ({}) has never run a recorded restore drill: nobody knows their key still works; have them run `nkp-escrow vault drill --identity <their key>`",
                k.label, k.fingerprint
            ),
        ));
    }
    sort(&mut c.findings);
}
