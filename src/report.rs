//! Compliance evidence: the controls (STIG VCFA-9X-000335 / VCSA-80-000294, the vCenter
//! backup check, NIST SC-12(1) and CP-4) evaluated from coverage, backups and the vault, and
//! the report document in JSON and Markdown. The command-line layer gathers the inputs and
//! writes the files; this module decides.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{json, Value};

use crate::resolve::{Backup, Coverage, Status, UnreadableBackup};

/// The result of one control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// The control's check ran on something and found nothing wrong.
    #[serde(rename = "PASS")]
    Pass,
    /// The check found a problem (the facts say which).
    #[serde(rename = "FAIL")]
    Fail,
    /// The check had nothing to assess (no evidence, no provider referenced, no vault, backups
    /// that could not be opened): never a pass. The facts say why.
    #[serde(rename = "NOT-ASSESSED")]
    NotAssessed,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::NotAssessed => "NOT-ASSESSED",
        })
    }
}

/// One compliance control's result.
#[derive(Clone, Debug, Serialize)]
pub struct Control {
    /// The control's identifier (e.g. `VCFA-9X-000335`).
    pub id: &'static str,
    /// What it asks, in one line.
    pub title: &'static str,
    /// Pass or fail.
    pub result: Outcome,
    /// The framework requirements it maps to.
    pub maps_to: Vec<&'static str>,
    /// What was seen, in words.
    pub facts: Vec<String>,
}

/// One input of the report, with its digest.
#[derive(Clone, Debug)]
pub struct Input {
    /// Path as read.
    pub path: String,
    /// `evidence`, `backup` or `vault-manifest`.
    pub kind: String,
    /// Hex SHA-256 of the file, `None` when it could not be read.
    pub sha256: Option<String>,
}

/// The evidence report.
#[derive(Debug)]
pub struct Report {
    /// When it was made.
    pub generated_at: time::OffsetDateTime,
    /// Every input, sorted by path.
    pub inputs: Vec<Input>,
    /// The vault's keyless verification, when a vault was given.
    pub vault: Option<Value>,
    /// The controls, in a fixed order.
    pub controls: Vec<Control>,
    /// The coverage document it was built from.
    pub coverage: Value,
    /// Inputs that could not be read.
    pub input_problems: Vec<String>,
    /// Inputs passed over, by reason, with counts.
    pub skipped: std::collections::BTreeMap<String, usize>,
    findings: Vec<(String, String, String, Option<String>)>,
}

/// What the report is built from.
pub struct Inputs<'a> {
    /// Coverage.
    pub coverage: &'a Coverage,
    /// Every backup that was opened.
    pub backups: &'a [Backup],
    /// Backups that could not be opened.
    pub unreadable: &'a [UnreadableBackup],
    /// The vault's keyless verification, when a vault was given.
    pub vault: Option<Value>,
    /// Every input with its digest.
    pub inputs: Vec<Input>,
    /// Inputs that could not be read, in words.
    pub input_problems: Vec<String>,
    /// Inputs passed over, by reason.
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// When.
    pub now: time::OffsetDateTime,
}

impl Report {
    /// Evaluate every control.
    pub fn build(i: Inputs<'_>) -> Self {
        let c = i.coverage;
        let mut controls = controls(c, i.backups, i.unreadable, i.vault.as_ref());
        // A pass on partial inputs cannot be defended: what was not read might have failed it.
        if !i.input_problems.is_empty() {
            for ctl in controls.iter_mut().filter(|c| c.result == Outcome::Pass) {
                ctl.result = Outcome::NotAssessed;
                ctl.facts.push(format!(
                    "not assessed: {} input(s) could not be processed (see Input problems); a pass on partial inputs is not given",
                    i.input_problems.len()
                ));
            }
        }
        Self {
            generated_at: i.now,
            inputs: i.inputs,
            vault: i.vault,
            controls,
            coverage: serde_json::to_value(c).unwrap_or(Value::Null),
            input_problems: i.input_problems,
            skipped: i.skipped,
            findings: c
                .findings
                .iter()
                .map(|f| {
                    (
                        f.severity.as_str().to_uppercase(),
                        f.code.to_string(),
                        f.message.clone(),
                        f.scope.clone(),
                    )
                })
                .collect(),
        }
    }

    /// True when any control failed.
    pub fn failed(&self) -> bool {
        self.controls.iter().any(|c| c.result == Outcome::Fail)
    }

    fn generated_at_text(&self) -> String {
        self.generated_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }

    /// `evidence.json`.
    pub fn document(&self) -> Value {
        json!({
            "tool": "nkp-escrow",
            "version": env!("CARGO_PKG_VERSION"),
            "generated_at": self.generated_at_text(),
            "inputs": self.inputs.iter().map(|i| json!({"path": i.path, "kind": i.kind, "sha256": i.sha256})).collect::<Vec<_>>(),
            "vault": self.vault,
            "controls": self.controls,
            "coverage": self.coverage,
            "input_problems": self.input_problems,
            "skipped": self.skipped,
        })
    }

    /// `evidence.md`.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# NKP key escrow evidence\n");
        let _ = writeln!(
            md,
            "Generated by nkp-escrow {} at {}.\n",
            env!("CARGO_PKG_VERSION"),
            self.generated_at_text()
        );
        let _ = writeln!(md, "## Controls\n");
        for ctl in &self.controls {
            let _ = writeln!(md, "[{}] {} - {}  ", ctl.result, ctl.id, ctl.title);
            let _ = writeln!(md, "Maps to: {}\n", ctl.maps_to.join(", "));
            for f in &ctl.facts {
                let _ = writeln!(md, "- {f}");
            }
            md.push('\n');
        }
        if !self.input_problems.is_empty() {
            let _ = writeln!(md, "## Input problems\n");
            let _ = writeln!(
                md,
                "Each of these was not assessed; a control that depends on it cannot pass.\n"
            );
            for p in &self.input_problems {
                let _ = writeln!(md, "- {p}");
            }
            md.push('\n');
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(md, "## Skipped inputs\n");
            for (why, n) in &self.skipped {
                let _ = writeln!(md, "- {n} file(s): {why}");
            }
            md.push('\n');
        }
        let _ = writeln!(md, "## Findings\n");
        for (severity, code, message, scope) in &self.findings {
            match scope {
                Some(s) => {
                    let _ = writeln!(md, "- [{severity}] {code} (scope {s}): {message}");
                }
                None => {
                    let _ = writeln!(md, "- [{severity}] {code}: {message}");
                }
            }
        }
        if let Some(v) = &self.vault {
            let _ = writeln!(
                md,
                "\n## Vault\n\n- path: {}\n- verified: {}\n- chain head: {}",
                v["path"].as_str().unwrap_or(""),
                v["verified"],
                v["chain_head"].as_str().unwrap_or("(empty)")
            );
        }
        let _ = writeln!(md, "\n## Inputs (SHA-256)\n");
        for i in &self.inputs {
            let _ = writeln!(
                md,
                "- `{}` {} ({})",
                i.sha256.as_deref().unwrap_or("unreadable"),
                i.path,
                i.kind
            );
        }
        md
    }
}

/// The controls, evaluated. A control that had nothing to assess is `NOT-ASSESSED` with the
/// reason, never `PASS`.
fn controls(
    c: &Coverage,
    backups: &[Backup],
    unreadable: &[UnreadableBackup],
    vault: Option<&Value>,
) -> Vec<Control> {
    let fails = |codes: &[&str]| -> Vec<String> {
        c.findings
            .iter()
            .filter(|f| codes.contains(&f.code))
            .map(|f| format!("{}: {}", f.code, f.message))
            .collect()
    };
    let not_opened: Vec<String> = unreadable
        .iter()
        .map(|u| format!("{} could not be opened ({})", u.file, u.reason))
        .collect();
    let no_provider = c.providers.is_empty();
    let covered_facts: Vec<String> = c
        .providers
        .iter()
        .map(|p| {
            format!(
                "scope {}: provider {} (live key_id {}): {}",
                p.scope,
                p.name,
                p.key_id.as_deref().unwrap_or("unknown"),
                p.status
            )
        })
        .collect();
    let mut controls = Vec::new();
    // Password protection of backups and deletion of unprotected copies.
    let prot_fail = fails(&[
        "NKP-UNPROTECTED-BACKUP",
        "NKP-ONLY-UNPROTECTED",
        "NKP-WEAK-PASSWORD",
    ]);
    let prot_failed = !prot_fail.is_empty()
        || c.providers
            .iter()
            .any(|p| p.status == Status::CoveredUnprotected);
    let mut prot_facts = prot_fail;
    for b in backups {
        prot_facts.push(format!(
            "{} ({}): {}{}",
            b.source,
            b.provider.as_deref().unwrap_or("?"),
            b.verdict,
            b.weak_password
                .as_deref()
                .map(|w| format!(", password below STIG complexity ({w})"))
                .unwrap_or_default()
        ));
    }
    prot_facts.extend(not_opened.iter().cloned());
    let prot = if prot_failed {
        Outcome::Fail
    } else if backups.is_empty() && unreadable.is_empty() {
        prot_facts.push("not assessed: no backup was given or found (--backups, --vault)".into());
        Outcome::NotAssessed
    } else if !unreadable.is_empty() {
        prot_facts.push(format!(
            "not assessed: {} backup file(s) could not be opened, so their passwords could not be checked",
            unreadable.len()
        ));
        Outcome::NotAssessed
    } else {
        Outcome::Pass
    };
    for (id, title) in [
        ("VCFA-9X-000335", "VCF 9: Native Key Provider backups must be protected with a strong password, unprotected copies deleted"),
        ("VCSA-80-000294", "vSphere 8: Native Key Provider backups must be protected with a strong password, unprotected copies deleted"),
    ] {
        controls.push(Control {
            id,
            title,
            result: prot,
            maps_to: vec!["NIST 800-53 CP-9(8)", "PCI DSS 3.6.1"],
            facts: prot_facts.clone(),
        });
    }
    let backup_failed = c.providers.iter().any(|p| {
        !matches!(
            p.status,
            Status::Covered | Status::CoveredUnprotected | Status::Unverified | Status::Unconfirmed
        )
    });
    let unverified = c
        .providers
        .iter()
        .filter(|p| p.status == Status::Unverified)
        .count();
    let unconfirmed = c
        .providers
        .iter()
        .filter(|p| p.status == Status::Unconfirmed)
        .count();
    let mut backup_facts = covered_facts;
    backup_facts.extend(fails(&[
        "NKP-UNCOVERED",
        "NKP-STALE-BACKUP",
        "NKP-NAME-COLLISION",
        "NKP-LIVE-NAME-COLLISION",
        "NKP-KDK-CONFLICT",
    ]));
    let backup_result = if backup_failed {
        Outcome::Fail
    } else if no_provider {
        backup_facts.push(
            "not assessed: the evidence read names no key provider (check the --evidence paths)"
                .into(),
        );
        Outcome::NotAssessed
    } else if unverified > 0 || unconfirmed > 0 {
        backup_facts.extend(not_opened.iter().cloned());
        if unverified > 0 {
            backup_facts.push(format!(
                "not assessed: {unverified} provider(s) have no opened backup while some backup files could not be opened"
            ));
        }
        if unconfirmed > 0 {
            backup_facts.push(format!(
                "not assessed: the live key_id of {unconfirmed} provider(s) is not stated by the evidence, so a backup of the current key_id cannot be confirmed (NKP-KEYID-UNKNOWN)"
            ));
        }
        Outcome::NotAssessed
    } else {
        Outcome::Pass
    };
    controls.push(Control {
        id: "vcenter-9.native-key-provider-backup",
        title: "Every Native Key Provider in use has a backup of its current key_id",
        result: backup_result,
        maps_to: vec!["NIST 800-53 CP-9(8)"],
        facts: backup_facts,
    });
    let escrowed: Vec<&Backup> = backups.iter().filter(|b| b.kind == "vault").collect();
    // Each live provider (scope, name, key_id) needs an entry of its key_id (or of its KDK:
    // the rows list relabelled entries too); by name only when the key_id is not known.
    let escrow_missing: Vec<String> = c
        .providers
        .iter()
        .filter(|p| {
            !p.backups.iter().any(|b| {
                b.source.starts_with("vault:")
                    && match p.key_id.as_deref() {
                        Some(k) => {
                            b.key_id.as_deref() == Some(k)
                                || b.matched == crate::resolve::Match::SameKdk
                        }
                        None => true,
                    }
            })
        })
        .map(|p| {
            format!(
                "provider {} (scope {}{})",
                p.name,
                p.scope,
                p.key_id
                    .as_deref()
                    .map(|k| format!(", key_id {k}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let by_name_only = c.providers.iter().filter(|p| p.key_id.is_none()).count();
    let (sc12, sc12_facts) = match vault {
        None => (
            Outcome::NotAssessed,
            vec!["not assessed: no vault was given (--vault)".to_string()],
        ),
        Some(_) if no_provider => (
            Outcome::NotAssessed,
            vec!["not assessed: the evidence read names no key provider".to_string()],
        ),
        Some(v) => {
            let mut f: Vec<String> = escrow_missing
                .iter()
                .map(|n| format!("{n} has no vault entry of its key_id"))
                .collect();
            if v["verified"] != true {
                f.push("the vault does not verify (see the Vault section)".into());
            }
            if !f.is_empty() {
                (Outcome::Fail, f)
            } else if by_name_only > 0 {
                f.push(format!(
                    "not assessed: {by_name_only} provider(s) have no live key_id in the evidence; their vault entries match by name only"
                ));
                (Outcome::NotAssessed, f)
            } else {
                (Outcome::Pass, f)
            }
        }
    };
    controls.push(Control {
        id: "NIST-SC-12(1)",
        title: "Key availability: every provider in use is escrowed in a verified vault",
        result: sc12,
        maps_to: vec!["NIST 800-53 SC-12(1)", "PCI DSS 3.6.1"],
        facts: sc12_facts,
    });
    let drill_fail = fails(&[
        "VAULT-NEVER-DRILLED",
        "VAULT-DRILL-STALE",
        "VAULT-DRILL-FAILED",
        "VAULT-CUSTODIAN-NEVER-DRILLED",
    ]);
    let (cp4, cp4_facts) = if vault.is_none() {
        (
            Outcome::NotAssessed,
            vec!["not assessed: no vault was given (--vault)".to_string()],
        )
    } else if escrowed.is_empty() {
        (
            Outcome::NotAssessed,
            vec!["not assessed: the vault holds no entries to drill".to_string()],
        )
    } else {
        let failed = !drill_fail.is_empty();
        let mut f = drill_fail;
        f.extend(escrowed.iter().map(|b| match &b.last_drill {
            Some((at, ok)) => format!(
                "{} ({}): last drill {at}: {}",
                b.source,
                b.provider.as_deref().unwrap_or("?"),
                if *ok { "passed" } else { "FAILED" }
            ),
            None => format!(
                "{} ({}): never drilled",
                b.source,
                b.provider.as_deref().unwrap_or("?")
            ),
        }));
        (if failed { Outcome::Fail } else { Outcome::Pass }, f)
    };
    controls.push(Control {
        id: "NIST-CP-4",
        title: "Restore of escrowed keys tested (drilled) within 365 days, successfully",
        result: cp4,
        maps_to: vec!["NIST 800-53 CP-4"],
        facts: cp4_facts,
    });
    controls
}
