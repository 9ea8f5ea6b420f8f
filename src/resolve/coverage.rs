//! Coverage per provider and the findings of a review.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{by_name, candidate, stated_key_ids, Backup, Candidate};
use crate::evidence::KeyReference;

crate::codes::contract_enum! {
    /// Whether a provider in use has a backup of its live key_id.
    pub enum Status {
        /// A protected backup of the live key_id.
        Covered = "covered",
        /// Only unprotected backups of the live key_id.
        CoveredUnprotected = "covered-unprotected",
        /// The name has backups of several key_ids and the live one is not known.
        NameCollision = "name-collision",
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

/// Coverage of one provider.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderCoverage {
    /// Provider name.
    pub name: String,
    /// Live key_id(s) stated by evidence.
    pub key_id: Option<String>,
    /// `covered`, `covered-unprotected`, `name-collision`, `uncovered`.
    pub status: Status,
    /// Backups named like it.
    pub backups: Vec<Candidate>,
}

/// A finding of `coverage`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// `high`, `medium`, `info`.
    pub severity: Severity,
    /// Stable code.
    pub code: &'static str,
    /// In words.
    pub message: String,
}

/// `coverage` result.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    /// Every provider the evidence mentions.
    pub providers: Vec<ProviderCoverage>,
    /// Gaps and observations.
    pub findings: Vec<Finding>,
}

/// Drills older than this many days are stale.
pub const DRILL_MAX_AGE_DAYS: i64 = 365;

/// Coverage of every provider mentioned by the evidence.
pub fn coverage(refs: &[KeyReference], backups: &[Backup], now: time::OffsetDateTime) -> Coverage {
    let key_ids = stated_key_ids(refs);
    let named = by_name(backups);
    let mut names: BTreeSet<&str> = refs.iter().filter_map(|r| r.provider.as_deref()).collect();
    names.extend(key_ids.keys().copied());
    let mut providers = Vec::new();
    let mut findings = Vec::new();
    let empty = Vec::new();
    for name in &names {
        let same: &Vec<&Backup> = named.get(name).unwrap_or(&empty);
        let stated = key_ids.get(name);
        let key_id = stated
            .filter(|s| s.len() == 1)
            .and_then(|s| s.iter().next().cloned());
        if stated.is_some_and(|s| s.len() > 1) {
            findings.push(Finding {
                severity: Severity::Medium,
                code: "NKP-LIVE-NAME-COLLISION",
                message: format!(
                    "live evidence states {} key_ids for {name} (two vCenters, or a re-created provider): {}",
                    stated.map(|s| s.len()).unwrap_or(0),
                    stated.map(|s| s.iter().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
                ),
            });
        }
        let protected = |b: &Backup| b.verdict != "unprotected";
        let (status, matched): (Status, Vec<&Backup>) = match &key_id {
            Some(k) => {
                let m: Vec<&Backup> = same
                    .iter()
                    .copied()
                    .filter(|b| b.key_id.as_deref() == Some(k.as_str()))
                    .collect();
                let stale: Vec<&&Backup> = same
                    .iter()
                    .filter(|b| b.key_id.as_deref() != Some(k.as_str()))
                    .collect();
                for b in &stale {
                    findings.push(Finding {
                        severity: if m.is_empty() { Severity::High } else { Severity::Info },
                        code: "NKP-STALE-BACKUP",
                        message: format!(
                            "{} is named {name} but has key_id {} while the live {name} has {k}: a backup of a deleted or re-created provider (KB 311922){}",
                            b.source,
                            b.key_id.as_deref().unwrap_or("unknown"),
                            if m.is_empty() { "; it cannot restore the live provider" } else { "; keep it for old VM backups" }
                        ),
                    });
                }
                if m.iter().any(|b| protected(b)) {
                    (Status::Covered, m)
                } else if !m.is_empty() {
                    (Status::CoveredUnprotected, m)
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
                    findings.push(Finding {
                        severity: Severity::Medium,
                        code: "NKP-NAME-COLLISION",
                        message: format!(
                            "backups named {name} carry {} different key_ids and no live evidence says which is current: {}",
                            ids.len(),
                            same.iter().map(|b| format!("{} ({})", b.source, b.key_id.as_deref().unwrap_or("?"))).collect::<Vec<_>>().join(", ")
                        ),
                    });
                    (Status::NameCollision, Vec::new())
                } else if same.iter().any(|b| protected(b)) {
                    (Status::Covered, same.clone())
                } else {
                    (Status::CoveredUnprotected, same.clone())
                }
            }
        };
        match status {
            Status::Uncovered | Status::NameCollision if matched.is_empty() && same.is_empty() => findings.push(Finding {
                severity: Severity::High,
                code: "NKP-UNCOVERED",
                message: format!("no backup of provider {name} was found: export one (with a strong password) and escrow it"),
            }),
            Status::CoveredUnprotected => findings.push(Finding {
                severity: Severity::High,
                code: "NKP-ONLY-UNPROTECTED",
                message: format!("provider {name} is backed up only without a password: re-export it with a strong password (VCFA-9X-000335)"),
            }),
            _ => {}
        }
        providers.push(ProviderCoverage {
            name: name.to_string(),
            key_id,
            status,
            backups: same
                .iter()
                .map(|b| {
                    candidate(
                        b,
                        if matched.iter().any(|m| std::ptr::eq(*m, *b)) {
                            super::Match::KeyId
                        } else {
                            super::Match::NameOnly
                        },
                    )
                })
                .collect(),
        });
    }
    for b in backups {
        if b.verdict == "unprotected" && b.kind == "file" {
            findings.push(Finding {
                severity: Severity::High,
                code: "NKP-UNPROTECTED-BACKUP",
                message: format!(
                    "{} ({}) holds the KDK without a password: delete this copy after escrowing a protected one (VCFA-9X-000335 / VCSA-80-000294)",
                    b.source,
                    b.provider.as_deref().unwrap_or("?")
                ),
            });
        }
        if b.verdict == "weak" && b.kind == "file" {
            findings.push(Finding {
                severity: Severity::Medium,
                code: "NKP-WEAK-BACKUP",
                message: format!(
                    "{} ({}) is protected only with legacy algorithms (see `nkp-escrow inspect`): re-export it (vCenter uses a strong scheme) or keep it only in the vault",
                    b.source,
                    b.provider.as_deref().unwrap_or("?")
                ),
            });
        }
        if b.provider.as_deref().is_none_or(|p| !names.contains(p)) {
            findings.push(Finding {
                severity: Severity::Info,
                code: "NKP-UNREFERENCED-BACKUP",
                message: format!(
                    "{} ({}) is not referenced by the evidence given: keep it for replicas and old VM backups",
                    b.source,
                    b.provider.as_deref().unwrap_or("?")
                ),
            });
        }
        if b.kind == "vault" {
            match &b.last_drill {
                None => findings.push(Finding {
                    severity: Severity::Medium,
                    code: "VAULT-NEVER-DRILLED",
                    message: format!(
                        "{} ({}) has never been restore-drilled: run `nkp-escrow vault drill`",
                        b.source,
                        b.provider.as_deref().unwrap_or("?")
                    ),
                }),
                Some((at, ok)) => {
                    let age = time::OffsetDateTime::parse(
                        at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map(|t| (now - t).whole_days())
                    .unwrap_or(i64::MAX);
                    if !ok {
                        findings.push(Finding {
                            severity: Severity::High,
                            code: "VAULT-DRILL-FAILED",
                            message: format!(
                                "the last restore drill of {} failed ({at})",
                                b.source
                            ),
                        });
                    } else if age > DRILL_MAX_AGE_DAYS {
                        findings.push(Finding {
                            severity: Severity::Medium,
                            code: "VAULT-DRILL-STALE",
                            message: format!("{} was last drilled {age} days ago ({at})", b.source),
                        });
                    }
                }
            }
        }
    }
    // Ordered by the severity's text, then code and message, as before the severities became
    // an enum (high, info, medium): the JSON stays byte-identical. Ordering by severity is
    // issue 11's change.
    findings.sort_by(|a, b| {
        (a.severity.as_str(), a.code, &a.message).cmp(&(b.severity.as_str(), b.code, &b.message))
    });
    findings.dedup();
    Coverage {
        providers,
        findings,
    }
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
        c.findings.push(Finding {
            severity: Severity::Medium,
            code: "VAULT-CUSTODIAN-NEVER-DRILLED",
            message: format!(
                "custodian {} ({}) has never run a recorded restore drill: nobody knows their key still works; have them run `nkp-escrow vault drill --identity <their key>`",
                k.label, k.fingerprint
            ),
        });
    }
    c.findings.sort_by(|a, b| {
        (a.severity.as_str(), a.code, &a.message).cmp(&(b.severity.as_str(), b.code, &b.message))
    });
}
