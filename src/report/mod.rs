//! Compliance evidence: the controls (STIG VCFA-9X-000335 / VCSA-80-000294, the vCenter
//! backup check, NIST SC-12(1) and CP-4) evaluated from coverage, backups and the vault, and
//! the report document in JSON, Markdown and HTML, with who made it, from what, and when each
//! input was captured. The command-line layer gathers the inputs, signs and writes the files;
//! this module decides and renders.

pub mod capture;
pub mod custody;
mod html;
mod markdown;
pub mod provenance;
pub mod sign;

use serde::Serialize;
use serde_json::{json, Value};

use crate::resolve::{Backup, Coverage, Finding, Status, UnreadableBackup};

pub use custody::Custody;
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
    /// Pass, fail or not assessed.
    pub result: Outcome,
    /// The framework requirements it maps to, in short (`NIST 800-53 CP-9(8)`); the full
    /// mappings with framework versions are in `provenance`.
    pub maps_to: Vec<&'static str>,
    /// What was seen, in words.
    pub facts: Vec<String>,
    /// Where the control comes from: benchmark, rule, check and fix text, mappings.
    pub provenance: Option<provenance::Provenance>,
}

/// Who made the report, where, with what.
#[derive(Clone, Debug, Serialize)]
pub struct Attribution {
    /// The operating-system user (`name (uid N)`), as the system reports it.
    pub user: String,
    /// The host name.
    pub host: String,
    /// The command line, argument by argument (it never holds a secret: passwords and keys are
    /// taken from files, the environment or prompts only).
    pub command_line: Vec<String>,
    /// The tool's version.
    pub version: String,
    /// The git commit the tool was built from (`unknown` when built outside a git checkout;
    /// `-dirty` when the checkout had changes).
    pub git_commit: String,
}

/// One scope (vCenter) and the evidence paths given for it.
#[derive(Clone, Debug, Serialize)]
pub struct Scope {
    /// The label (`default` when unlabelled).
    pub scope: String,
    /// The paths given.
    pub paths: Vec<String>,
}

/// One input of the report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Input {
    /// Path as read.
    pub path: String,
    /// `evidence`, `backup`, `backup-unopened` or `vault-manifest`.
    pub kind: String,
    /// The scope of an evidence file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Hex SHA-256 of the file, `None` when it could not be read.
    pub sha256: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Modification time (RFC 3339, UTC, to the second).
    pub modified: Option<String>,
    /// When the content was captured: the newest time it states, else its modification time.
    pub captured_at: Option<String>,
    /// `content` or `mtime`: where `captured_at` comes from.
    pub captured_from: Option<&'static str>,
}

/// The report's signature, as the report states it.
#[derive(Clone, Debug, Serialize)]
pub struct Signature {
    /// The file next to `evidence.json`.
    pub file: &'static str,
    /// The SSHSIG namespace.
    pub namespace: &'static str,
    /// The signer's public key.
    pub public_key: String,
    /// Its SHA-256 fingerprint.
    pub fingerprint: String,
}

/// The evidence report.
#[derive(Debug)]
pub struct Report {
    /// When it was made.
    pub generated_at: time::OffsetDateTime,
    /// Who, where, with what.
    pub attribution: Attribution,
    /// The scopes and their paths.
    pub scopes: Vec<Scope>,
    /// Every input, sorted by path.
    pub inputs: Vec<Input>,
    /// The vault's keyless verification, when a vault was given.
    pub vault: Option<Value>,
    /// The vault's custody facts, when a vault was given.
    pub custody: Option<Custody>,
    /// The controls, in a fixed order.
    pub controls: Vec<Control>,
    /// The coverage document it was built from.
    pub coverage: Value,
    /// The findings, most severe first.
    pub findings: Vec<Finding>,
    /// Inputs that could not be read.
    pub input_problems: Vec<String>,
    /// Inputs passed over, by reason, with counts.
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// Evidence older than the age limit: path and capture time.
    pub stale_evidence: Vec<(String, String)>,
    /// The age limit, in days.
    pub max_evidence_age_days: u32,
    /// The signature, when signed.
    pub signature: Option<Signature>,
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
    /// The vault's custody facts.
    pub custody: Option<Custody>,
    /// Every input with its digest.
    pub inputs: Vec<Input>,
    /// Inputs that could not be read, in words.
    pub input_problems: Vec<String>,
    /// Inputs passed over, by reason.
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// Who, where, with what.
    pub attribution: Attribution,
    /// The scopes.
    pub scopes: Vec<Scope>,
    /// Evidence captured longer ago than this many days cannot make a control pass.
    pub max_evidence_age_days: u32,
    /// When.
    pub now: time::OffsetDateTime,
}

/// Untrusted text for a document: one line, control characters and bidirectional overrides shown
/// as escapes, `&`, `<` and `>` as entities, and each other character passed to `other` (which
/// writes it, escaped as its format needs).
fn escape_with(s: &str, mut other: impl FnMut(&mut String, char)) -> String {
    let s = crate::render::one_line(s);
    let s = crate::render::terminal_safe(&s);
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            c => other(&mut o, c),
        }
    }
    o
}

/// RFC 3339, UTC, to the second.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Controls that judge the live evidence (and so cannot pass on stale evidence).
const EVIDENCE_CONTROLS: [&str; 2] = ["vcenter-9.native-key-provider-backup", "NIST-SC-12(1)"];

impl Report {
    /// Evaluate every control.
    pub fn build(i: Inputs<'_>) -> Self {
        let c = i.coverage;
        let mut controls = controls(c, i.backups, i.unreadable, i.vault.as_ref());
        for ctl in &mut controls {
            ctl.provenance = provenance::of(ctl.id);
        }
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
        // Nor on old evidence: it shows the estate as it was, not as it is.
        let oldest_allowed = i.now - time::Duration::days(i64::from(i.max_evidence_age_days));
        let stale_evidence: Vec<(String, String)> = i
            .inputs
            .iter()
            .filter(|x| x.kind == "evidence")
            .filter_map(|x| {
                let at = x.captured_at.as_deref()?;
                let t =
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                        .ok()?;
                (t < oldest_allowed).then(|| (x.path.clone(), at.to_string()))
            })
            .collect();
        if !stale_evidence.is_empty() {
            for ctl in controls
                .iter_mut()
                .filter(|c| c.result == Outcome::Pass && EVIDENCE_CONTROLS.contains(&c.id))
            {
                ctl.result = Outcome::NotAssessed;
                ctl.facts.push(format!(
                    "not assessed: {} evidence file(s) were captured more than {} days ago (see Inputs); capture the evidence again",
                    stale_evidence.len(),
                    i.max_evidence_age_days
                ));
            }
        }
        Self {
            generated_at: i.now,
            attribution: i.attribution,
            scopes: i.scopes,
            inputs: i.inputs,
            vault: i.vault,
            custody: i.custody,
            controls,
            coverage: serde_json::to_value(c).unwrap_or(Value::Null),
            findings: c.findings.clone(),
            input_problems: i.input_problems,
            skipped: i.skipped,
            stale_evidence,
            max_evidence_age_days: i.max_evidence_age_days,
            signature: None,
        }
    }

    /// True when any control failed.
    pub fn failed(&self) -> bool {
        self.controls.iter().any(|c| c.result == Outcome::Fail)
    }

    /// `generated_at` as written in the documents.
    pub fn generated_at_text(&self) -> String {
        rfc3339(self.generated_at)
    }

    /// `evidence.json`, without the digests of the other files (see [`Report::with_artifacts`]).
    pub fn document(&self) -> Value {
        json!({
            "tool": "nkp-escrow",
            "version": env!("CARGO_PKG_VERSION"),
            "kind": "report",
            "generated_at": self.generated_at_text(),
            "attribution": self.attribution,
            "scopes": self.scopes,
            "controls": self.controls,
            "findings": self.findings,
            "custody": self.custody,
            "vault": self.vault,
            "input_problems": self.input_problems,
            "skipped": self.skipped,
            "max_evidence_age_days": self.max_evidence_age_days,
            "stale_evidence": self.stale_evidence.iter().map(|(p, t)| json!({"path": p, "captured_at": t})).collect::<Vec<_>>(),
            "inputs": self.inputs,
            "signature": self.signature,
            "coverage": self.coverage,
        })
    }

    /// The document with the SHA-256 of the human renderings, so that a signature over
    /// `evidence.json` covers `evidence.md` and `evidence.html` too.
    pub fn with_artifacts(&self, artifacts: &[(&str, &str)]) -> Value {
        let mut doc = self.document();
        let map: serde_json::Map<String, Value> = artifacts
            .iter()
            .map(|(name, body)| {
                (
                    (*name).to_string(),
                    json!(crate::sha256_hex(body.as_bytes())),
                )
            })
            .collect();
        doc["artifacts"] = Value::Object(map);
        doc
    }

    /// `evidence.md`.
    pub fn markdown(&self) -> String {
        markdown::render(self)
    }

    /// `evidence.html`: one self-contained page (inline style, no script, no external asset).
    pub fn html(&self) -> String {
        html::render(self)
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
            b.provider.as_deref().unwrap_or("-"),
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
    } else if let Some(unchecked) = {
        let u: Vec<&str> = backups
            .iter()
            .filter(|b| b.verdict != "unprotected" && !b.password_assessed)
            .map(|b| b.source.as_str())
            .collect();
        (!u.is_empty()).then_some(u)
    } {
        prot_facts.push(format!(
            "not assessed: the password strength of {} backup(s) is not known ({}): vault entries added before nkp-escrow recorded it; give the .p12 files with --backups and their passwords, or add them to the vault again",
            unchecked.len(),
            unchecked.join(", ")
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
            provenance: None,
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
        provenance: None,
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
        provenance: None,
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
                b.provider.as_deref().unwrap_or("-"),
                if *ok { "passed" } else { "FAILED" }
            ),
            None => format!(
                "{} ({}): never drilled",
                b.source,
                b.provider.as_deref().unwrap_or("-")
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
        provenance: None,
    });
    controls
}

/// The git commit this library was built from (`unknown` outside a git checkout).
pub const GIT_COMMIT: &str = env!("NKP_ESCROW_GIT_COMMIT");
