//! The join: backups x live evidence -> verdicts per subject, and coverage per provider.
//!
//! Names are what objects look providers up by, and names are reused: a provider deleted and
//! re-created under the same name gets a new KDK and key_id (KB 311922), and a backup of the
//! old one imports fine and unlocks nothing. So a name match alone is never called
//! `restorable`: the provider's key_id must be known (from ConfigStore, govc, the REST API, or
//! a key-ID blob whose embedded UUID equals a backup's key_id) and match.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::evidence::{KeyReference, Subject};

/// One backup of one provider: a .p12 file or a vault entry.
#[derive(Clone, Debug, Serialize)]
pub struct Backup {
    /// The file path, or `vault:<entry id>`.
    pub source: String,
    /// `file` or `vault`.
    pub kind: &'static str,
    /// Provider name in the backup.
    pub provider: Option<String>,
    /// Provider key_id in the backup.
    pub key_id: Option<String>,
    /// Export time.
    pub export_time: Option<String>,
    /// Protection verdict of the .p12 (`strong`, `weak`, `unprotected`).
    pub verdict: String,
    /// Where its password is (never the password).
    pub password: Option<String>,
    /// `sha256:` of the KDK.
    pub kdk_fingerprint: String,
    /// Last restore drill (vault entries): time and result.
    pub last_drill: Option<(String, bool)>,
}

impl Backup {
    /// Preference: vault entries, then protected, then strong, then the newest export.
    fn rank(&self) -> (u8, u8, std::cmp::Reverse<String>) {
        let vault = u8::from(self.kind != "vault");
        let prot = match self.verdict.as_str() {
            "strong" => 0,
            "weak" => 1,
            _ => 2,
        };
        (
            vault,
            prot,
            std::cmp::Reverse(self.export_time.clone().unwrap_or_default()),
        )
    }
}

/// A candidate backup for a subject and why.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// Backup source.
    pub source: String,
    /// Provider name.
    pub provider: Option<String>,
    /// Its key_id.
    pub key_id: Option<String>,
    /// `key-id`, `embedded-uuid`, `name-only`, `name-collision`.
    #[serde(rename = "match")]
    pub matched: &'static str,
    /// Protection verdict.
    pub verdict: String,
    /// Where the password is.
    pub password: Option<String>,
    /// Export time.
    pub export_time: Option<String>,
}

/// The answer for one subject.
#[derive(Clone, Debug, Serialize)]
pub struct SubjectVerdict {
    /// The VM, disk or host.
    pub subject: Subject,
    /// Provider it needs.
    pub provider: String,
    /// The provider key_id it needs, when known, and how it is known.
    pub needed_key_id: Option<String>,
    /// How `needed_key_id` is known.
    pub key_id_source: Option<String>,
    /// `restorable`, `probable`, `ambiguous`, `wrong-key`, `no-backup`.
    pub verdict: &'static str,
    /// Candidate backups, best first (shared between subjects with the same answer).
    pub backups: std::sync::Arc<Vec<Candidate>>,
    /// What to do.
    pub steps: Vec<String>,
}

/// Evidence digested for the join.
pub struct Live<'a> {
    /// Provider name -> key_ids stated by evidence (ConfigStore, govc, REST).
    pub key_ids: HashMap<&'a str, BTreeSet<String>>,
    /// Subjects that need a provider, with their references, sorted by subject.
    pub needs: Vec<((&'a Subject, &'a str), Vec<&'a KeyReference>)>,
}

const NEEDS: &[&str] = &["needs-key", "host-key", "key-in-cache", "key-not-in-cache"];

/// Provider name -> key_ids stated by live evidence.
pub fn stated_key_ids(refs: &[KeyReference]) -> HashMap<&str, BTreeSet<String>> {
    let mut key_ids: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for r in refs {
        if let (Some(p), Some(k)) = (r.provider.as_deref(), &r.provider_key_id) {
            key_ids.entry(p).or_default().insert(k.to_ascii_lowercase());
        }
    }
    key_ids
}

/// Digest evidence.
pub fn live(refs: &[KeyReference]) -> Live<'_> {
    let key_ids = stated_key_ids(refs);
    let mut needs: HashMap<(&Subject, &str), Vec<&KeyReference>> = HashMap::new();
    for r in refs {
        let Some(p) = r.provider.as_deref() else {
            continue;
        };
        if NEEDS.contains(&r.state) && r.subject.kind != "provider" {
            needs.entry((&r.subject, p)).or_default().push(r);
        }
    }
    let mut needs: Vec<_> = needs.into_iter().collect();
    needs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Live { key_ids, needs }
}

fn candidate(b: &Backup, matched: &'static str) -> Candidate {
    Candidate {
        source: b.source.clone(),
        provider: b.provider.clone(),
        key_id: b.key_id.clone(),
        matched,
        verdict: b.verdict.clone(),
        password: b.password.clone(),
        export_time: b.export_time.clone(),
    }
}

/// Index backups by provider name.
pub fn by_name(backups: &[Backup]) -> HashMap<&str, Vec<&Backup>> {
    let mut m: HashMap<&str, Vec<&Backup>> = HashMap::new();
    for b in backups {
        if let Some(p) = b.provider.as_deref() {
            m.entry(p).or_default().push(b);
        }
    }
    for v in m.values_mut() {
        v.sort_by_key(|b| b.rank());
    }
    m
}

/// The answer shared by every subject that needs the same provider key.
struct Plan {
    verdict: &'static str,
    backups: std::sync::Arc<Vec<Candidate>>,
    steps: Vec<String>,
}

/// Resolve every subject (or only `vms`, by name) against the backups.
pub fn resolve(refs: &[KeyReference], backups: &[Backup], vms: &[String]) -> Vec<SubjectVerdict> {
    let live = live(refs);
    let named = by_name(backups);
    let empty = Vec::new();
    let mut plans: HashMap<(&str, Option<String>, bool), Plan> = HashMap::new();
    let mut out = Vec::with_capacity(live.needs.len());
    for ((subject, provider), rs) in &live.needs {
        if !vms.is_empty() && !vms.iter().any(|v| v == &subject.name) {
            continue;
        }
        let provider: &str = provider;
        let same_name: &Vec<&Backup> = named.get(provider).unwrap_or(&empty);
        // The needed key_id. Subject-specific evidence first: an embedded UUID of this
        // subject's key-ID blob equal to a same-name backup's key_id (after a re-creation the
        // live provider has a new key_id, but a locked VM still needs the old one). Else the
        // key_id live evidence states for the name, when it states exactly one.
        let embedded: Vec<String> = if same_name.is_empty() {
            Vec::new()
        } else {
            rs.iter().filter_map(|r| r.embedded_uuid()).collect()
        };
        let by_blob = same_name
            .iter()
            .find(|b| b.key_id.as_ref().is_some_and(|k| embedded.contains(k)));
        let (needed, by_embedded) = match (by_blob, live.key_ids.get(provider)) {
            (Some(b), _) => (b.key_id.clone(), true),
            (None, Some(s)) if s.len() == 1 => (s.iter().next().cloned(), false),
            _ => (None, false),
        };
        let plan = plans
            .entry((provider, needed.clone(), by_embedded))
            .or_insert_with(|| plan(provider, same_name, needed.as_deref(), by_embedded));
        let mut steps = plan.steps.clone();
        subject_steps(&mut steps, subject, provider, plan.verdict, rs);
        let source = needed.is_some().then(|| key_id_source(by_embedded));
        out.push(SubjectVerdict {
            subject: (*subject).clone(),
            provider: provider.to_string(),
            needed_key_id: needed,
            key_id_source: source,
            verdict: plan.verdict,
            backups: plan.backups.clone(),
            steps,
        });
    }
    out
}

fn key_id_source(by_embedded: bool) -> String {
    if by_embedded {
        "embedded UUID of the subject's key-ID blob equals a backup's key_id".to_string()
    } else {
        "stated by live evidence (ConfigStore / govc / REST)".to_string()
    }
}

fn plan(provider: &str, same_name: &[&Backup], needed: Option<&str>, by_embedded: bool) -> Plan {
    let (verdict, backups): (&'static str, Vec<Candidate>) = match needed {
        Some(k) => {
            let m: Vec<Candidate> = same_name
                .iter()
                .filter(|b| b.key_id.as_deref() == Some(k))
                .map(|b| {
                    candidate(
                        b,
                        if by_embedded {
                            "embedded-uuid"
                        } else {
                            "key-id"
                        },
                    )
                })
                .collect();
            if !m.is_empty() {
                ("restorable", m)
            } else if !same_name.is_empty() {
                (
                    "wrong-key",
                    same_name
                        .iter()
                        .map(|b| candidate(b, "name-collision"))
                        .collect(),
                )
            } else {
                ("no-backup", Vec::new())
            }
        }
        None => {
            let ids: BTreeSet<Option<&str>> =
                same_name.iter().map(|b| b.key_id.as_deref()).collect();
            if same_name.is_empty() {
                ("no-backup", Vec::new())
            } else if ids.len() == 1 {
                (
                    "probable",
                    same_name
                        .iter()
                        .map(|b| candidate(b, "name-only"))
                        .collect(),
                )
            } else {
                (
                    "ambiguous",
                    same_name
                        .iter()
                        .map(|b| candidate(b, "name-collision"))
                        .collect(),
                )
            }
        }
    };
    let steps = steps(provider, verdict, &backups, needed);
    Plan {
        verdict,
        backups: std::sync::Arc::new(backups),
        steps,
    }
}

/// The steps that name the subject: unlock it, then confirm on the host.
fn subject_steps(
    s: &mut Vec<String>,
    subject: &Subject,
    provider: &str,
    verdict: &str,
    refs: &[&KeyReference],
) {
    if !matches!(verdict, "restorable" | "probable") {
        return;
    }
    match subject.kind {
        "host" => s.push(format!(
            "On host {}: re-enable host encryption mode (vSphere Client: select the host > Configure > Security Profile > Host Encryption Mode > Edit > Enabled) so the host key is unwrapped.",
            subject.name
        )),
        _ => s.push(format!(
            "Then unlock the {} {} (vSphere Client: select the VM > Actions > Unlock VM; or power it on again once the host has the key).",
            subject.kind, subject.name
        )),
    }
    if let Some(k) = refs.iter().find_map(|r| r.key.as_deref()) {
        s.push(format!(
            "Confirm on the host: `crypto-util keys iskeyincache 'vmware:key/fqid/<VMWARE-NULL>/{}/{}'` must answer YES.",
            crate::evidence::keysafe::escape(provider.as_bytes()),
            crate::evidence::keysafe::escape(k.as_bytes())
        ));
    }
}

fn steps(
    provider: &str,
    verdict: &str,
    backups: &[Candidate],
    key_id: Option<&str>,
) -> Vec<String> {
    let mut s = Vec::new();
    match verdict {
        "restorable" | "probable" => {
            let b = &backups[0];
            if verdict == "probable" {
                s.push(format!(
                    "The live key_id of {provider} is unknown: confirm it first on a host with `configstorecli config current get -c esx -g trusted_infrastructure -k kms_providers` (or `govc kms.ls -json`); every backup named {provider} here has key_id {}.",
                    b.key_id.as_deref().unwrap_or("unknown")
                ));
            }
            if let Some(id) = b.source.strip_prefix("vault:") {
                s.push(format!(
                    "Take the backup from the vault: `nkp-escrow vault restore {id} --identity <your identity> --out {provider}.p12 --password-out {provider}.pw` (the password comes with it)."
                ));
            } else {
                s.push(format!(
                    "Use the file {} ; its password: {}.",
                    b.source,
                    b.password
                        .as_deref()
                        .unwrap_or("none (the file is unprotected)")
                ));
            }
            s.push(format!(
                "Check it first without changing anything: POST /api/vcenter/crypto-manager/kms/providers?action=import with config = the file, password, dry_run = true; it must report provider {provider}{}.",
                key_id.map(|k| format!(" with native_info.key_id {k}")).unwrap_or_default()
            ));
            s.push("Import it: vSphere Client > Configure > Security > Key Providers > Restore (or the same REST call without dry_run).".into());
            s.push(format!(
                "If the import says already_exists, a provider named {provider} with another key_id is in the way (re-created: KB 311922): it must be renamed or removed before the original can be restored; do not delete it while anything still uses it."
            ));
        }
        "wrong-key" => {
            s.push(format!(
                "Every backup named {provider} here has a different key_id than the one needed ({}): they belong to a provider that was deleted and re-created under the same name (KB 311922). Importing them will succeed and unlock nothing.",
                key_id.unwrap_or("?")
            ));
            s.push(format!(
                "Find the backup exported before {provider} was re-created (older .p12 files, vCenter file-based backups, the vault of another team) and check its key_id with `nkp-escrow inspect`."
            ));
        }
        "ambiguous" => {
            let ids: BTreeSet<&str> = backups.iter().filter_map(|b| b.key_id.as_deref()).collect();
            s.push(format!(
                "Backups named {provider} carry {} different key_ids ({}). The host settles which one is needed: `configstorecli config current get -c esx -g trusted_infrastructure -k kms_providers` lists each provider's key_id; or add `govc kms.ls -json` output to the evidence.",
                ids.len(),
                ids.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        _ => {
            s.push(format!(
                "No backup of {provider} was found in the files or vault given. Look for other .p12 exports, a vCenter file-based backup from before the provider was lost, or another vCenter that still has {provider}."
            ));
        }
    }
    s
}

/// Coverage of one provider.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderCoverage {
    /// Provider name.
    pub name: String,
    /// Live key_id(s) stated by evidence.
    pub key_id: Option<String>,
    /// `covered`, `covered-unprotected`, `name-collision`, `uncovered`.
    pub status: &'static str,
    /// Backups named like it.
    pub backups: Vec<Candidate>,
}

/// A finding of `coverage`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// `high`, `medium`, `info`.
    pub severity: &'static str,
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
                severity: "medium",
                code: "NKP-LIVE-NAME-COLLISION",
                message: format!(
                    "live evidence states {} key_ids for {name} (two vCenters, or a re-created provider): {}",
                    stated.map(|s| s.len()).unwrap_or(0),
                    stated.map(|s| s.iter().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
                ),
            });
        }
        let protected = |b: &Backup| b.verdict != "unprotected";
        let (status, matched): (&'static str, Vec<&Backup>) = match &key_id {
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
                        severity: if m.is_empty() { "high" } else { "info" },
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
                    ("covered", m)
                } else if !m.is_empty() {
                    ("covered-unprotected", m)
                } else if !same.is_empty() {
                    ("name-collision", Vec::new())
                } else {
                    ("uncovered", Vec::new())
                }
            }
            None => {
                let ids: BTreeSet<Option<&str>> =
                    same.iter().map(|b| b.key_id.as_deref()).collect();
                if same.is_empty() {
                    ("uncovered", Vec::new())
                } else if ids.len() > 1 {
                    findings.push(Finding {
                        severity: "medium",
                        code: "NKP-NAME-COLLISION",
                        message: format!(
                            "backups named {name} carry {} different key_ids and no live evidence says which is current: {}",
                            ids.len(),
                            same.iter().map(|b| format!("{} ({})", b.source, b.key_id.as_deref().unwrap_or("?"))).collect::<Vec<_>>().join(", ")
                        ),
                    });
                    ("name-collision", Vec::new())
                } else if same.iter().any(|b| protected(b)) {
                    ("covered", same.clone())
                } else {
                    ("covered-unprotected", same.clone())
                }
            }
        };
        match status {
            "uncovered" | "name-collision" if matched.is_empty() && same.is_empty() => findings.push(Finding {
                severity: "high",
                code: "NKP-UNCOVERED",
                message: format!("no backup of provider {name} was found: export one (with a strong password) and escrow it"),
            }),
            "covered-unprotected" => findings.push(Finding {
                severity: "high",
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
                            "key-id"
                        } else {
                            "name-only"
                        },
                    )
                })
                .collect(),
        });
    }
    for b in backups {
        if b.verdict == "unprotected" && b.kind == "file" {
            findings.push(Finding {
                severity: "high",
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
                severity: "medium",
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
                severity: "info",
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
                    severity: "medium",
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
                            severity: "high",
                            code: "VAULT-DRILL-FAILED",
                            message: format!(
                                "the last restore drill of {} failed ({at})",
                                b.source
                            ),
                        });
                    } else if age > DRILL_MAX_AGE_DAYS {
                        findings.push(Finding {
                            severity: "medium",
                            code: "VAULT-DRILL-STALE",
                            message: format!("{} was last drilled {age} days ago ({at})", b.source),
                        });
                    }
                }
            }
        }
    }
    findings.sort();
    findings.dedup();
    Coverage {
        providers,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Source;

    fn blob(uuid: &str) -> String {
        use base64::Engine;
        let u: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&uuid.replace('-', "")[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let mut b = vec![1u8, 0x21, 0, 2, 1, 0];
        b.extend(&u);
        b.push(1);
        b.extend([8, 0, 12, 0, 16, 0, 32, 0, 4, 0]);
        b.extend(b"AES-256\0");
        b.extend([7u8; 64]);
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn r(
        kind: &'static str,
        name: &str,
        provider: &str,
        pkid: Option<&str>,
        key: Option<String>,
        state: &'static str,
    ) -> KeyReference {
        KeyReference {
            sources: vec![Source {
                path: "t".into(),
                line: None,
                kind: "test",
            }],
            subject: Subject {
                kind,
                name: name.into(),
            },
            provider: Some(provider.into()),
            provider_key_id: pkid.map(String::from),
            key,
            host: None,
            state,
            details: Vec::new(),
        }
    }

    fn b(src: &str, provider: &str, key_id: &str, verdict: &str, export: &str) -> Backup {
        Backup {
            source: src.into(),
            kind: if src.starts_with("vault:") {
                "vault"
            } else {
                "file"
            },
            provider: Some(provider.into()),
            key_id: Some(key_id.into()),
            export_time: Some(export.into()),
            verdict: verdict.into(),
            password: None,
            kdk_fingerprint: format!("sha256:{src}"),
            last_drill: None,
        }
    }

    const K1: &str = "11111111-1111-4111-8111-111111111111";
    const K2: &str = "22222222-2222-4222-8222-222222222222";
    const K3: &str = "33333333-3333-4333-8333-333333333333";

    fn verdict_of(v: &[SubjectVerdict], name: &str) -> &'static str {
        v.iter()
            .find(|s| s.subject.name == name)
            .map(|s| s.verdict)
            .unwrap_or("missing")
    }

    #[test]
    fn kb311922_recreated_provider_and_every_verdict() {
        let refs = vec![
            // The live NKP2 was re-created: hosts now state K2.
            r("provider", "NKP2", "NKP2", Some(K2), None, "provider-known"),
            // A locked VM whose blob embeds K1 (the original): the original backup restores it.
            r("vm", "locked-vm", "NKP2", None, Some(blob(K1)), "needs-key"),
            // A VM whose blob embeds an unknown UUID: the live key_id K2 decides.
            r("vm", "new-vm", "NKP2", None, Some(blob(K3)), "needs-key"),
            // A provider with only a backup of another key_id: wrong-key.
            r(
                "provider",
                "NKP-X",
                "NKP-X",
                Some(K3),
                None,
                "provider-known",
            ),
            r(
                "vm",
                "x-vm",
                "NKP-X",
                None,
                Some("opaque".into()),
                "needs-key",
            ),
            // No live key_id: one key_id among backups -> probable; several -> ambiguous.
            r("vm", "p-vm", "NKP-P", None, None, "needs-key"),
            r("vm", "a-vm", "NKP-A", None, None, "needs-key"),
            r("vm", "n-vm", "NKP-NONE", None, None, "needs-key"),
        ];
        let backups = vec![
            b("NKP2.p12", "NKP2", K1, "strong", "2024-01-01T00:00:00Z"),
            b("NKP2 (1).p12", "NKP2", K2, "weak", "2025-01-01T00:00:00Z"),
            b("vault:aaaa", "NKP2", K2, "strong", "2025-01-01T00:00:00Z"),
            b("x.p12", "NKP-X", K1, "strong", "2024-01-01T00:00:00Z"),
            b("p.p12", "NKP-P", K1, "strong", "2024-01-01T00:00:00Z"),
            b("a1.p12", "NKP-A", K1, "strong", "2024-01-01T00:00:00Z"),
            b("a2.p12", "NKP-A", K2, "strong", "2024-01-01T00:00:00Z"),
        ];
        let v = resolve(&refs, &backups, &[]);
        assert_eq!(verdict_of(&v, "locked-vm"), "restorable");
        let locked = v.iter().find(|s| s.subject.name == "locked-vm").unwrap();
        assert_eq!(locked.backups[0].source, "NKP2.p12");
        assert_eq!(locked.backups[0].matched, "embedded-uuid");
        assert!(locked.steps.iter().any(|s| s.contains("already_exists")));
        let new = v.iter().find(|s| s.subject.name == "new-vm").unwrap();
        assert_eq!(new.verdict, "restorable");
        // Vault entries are preferred over files with the same key_id.
        assert_eq!(new.backups[0].source, "vault:aaaa");
        assert_eq!(new.backups[0].matched, "key-id");
        assert_eq!(verdict_of(&v, "x-vm"), "wrong-key");
        let x = v.iter().find(|s| s.subject.name == "x-vm").unwrap();
        assert!(x.steps[0].contains("will succeed and unlock nothing"));
        assert_eq!(verdict_of(&v, "p-vm"), "probable");
        assert_eq!(verdict_of(&v, "a-vm"), "ambiguous");
        assert!(
            v.iter().find(|s| s.subject.name == "a-vm").unwrap().steps[0].contains("kms_providers")
        );
        assert_eq!(verdict_of(&v, "n-vm"), "no-backup");
        // --vm focuses.
        let only = resolve(&refs, &backups, &["locked-vm".into()]);
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn coverage_statuses_and_findings() {
        let refs = vec![
            r(
                "provider",
                "NKP-C",
                "NKP-C",
                Some(K1),
                None,
                "provider-known",
            ),
            r(
                "provider",
                "NKP-U",
                "NKP-U",
                Some(K1),
                None,
                "provider-known",
            ),
            r(
                "provider",
                "NKP-S",
                "NKP-S",
                Some(K2),
                None,
                "provider-known",
            ),
            r("vm", "v", "NKP-N", None, None, "needs-key"),
            r("vm", "w", "NKP-A", None, None, "needs-key"),
        ];
        let mut drilled = b("vault:c", "NKP-C", K1, "strong", "2025-01-01T00:00:00Z");
        drilled.last_drill = Some(("2020-01-01T00:00:00Z".into(), true));
        let backups = vec![
            drilled,
            b("w.p12", "NKP-C", K1, "weak", "2025-01-01T00:00:00Z"),
            b("u.p12", "NKP-U", K1, "unprotected", "2025-01-01T00:00:00Z"),
            b("s.p12", "NKP-S", K1, "strong", "2025-01-01T00:00:00Z"),
            b("a1.p12", "NKP-A", K1, "strong", "2025-01-01T00:00:00Z"),
            b("a2.p12", "NKP-A", K2, "strong", "2025-01-01T00:00:00Z"),
            b("lone.p12", "NKP-LONE", K3, "strong", "2025-01-01T00:00:00Z"),
        ];
        let now = time::OffsetDateTime::parse(
            "2026-11-28T00:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let c = coverage(&refs, &backups, now);
        let st = |n: &str| {
            c.providers
                .iter()
                .find(|p| p.name == n)
                .map(|p| p.status)
                .unwrap_or("missing")
        };
        assert_eq!(st("NKP-C"), "covered");
        assert_eq!(st("NKP-U"), "covered-unprotected");
        assert_eq!(st("NKP-S"), "name-collision");
        assert_eq!(st("NKP-N"), "uncovered");
        assert_eq!(st("NKP-A"), "name-collision");
        let codes: Vec<&str> = c.findings.iter().map(|f| f.code).collect();
        for code in [
            "NKP-UNCOVERED",
            "NKP-STALE-BACKUP",
            "NKP-NAME-COLLISION",
            "NKP-UNPROTECTED-BACKUP",
            "NKP-ONLY-UNPROTECTED",
            "NKP-UNREFERENCED-BACKUP",
            "NKP-WEAK-BACKUP",
            "VAULT-DRILL-STALE",
        ] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
    }
}
