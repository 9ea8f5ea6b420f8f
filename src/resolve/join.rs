//! Verdicts per subject: which backup restores this VM, disk or host.

use std::collections::{BTreeSet, HashMap};

use super::steps::{steps, subject_steps};
use super::{
    by_kdk, by_name, candidate, kdks_of, live, of_key_id, Backup, Candidate, Match, SubjectVerdict,
    Verdict,
};
use crate::evidence::KeyReference;

/// What `resolve` needs besides the evidence and the backups.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// Backup files that could not be opened (named first in the steps of subjects without
    /// a backup).
    pub unreadable: &'a [super::UnreadableBackup],
    /// The vault folder the entries come from, so that the `vault restore` command printed in
    /// the steps is complete.
    pub vault: Option<&'a str>,
}

/// The answer shared by every subject that needs the same provider key.
struct Plan {
    verdict: Verdict,
    backups: std::sync::Arc<Vec<Candidate>>,
    steps: Vec<String>,
}

/// Which subjects to resolve (`resolve --vm/--host/--provider/--file`). Each list that is not
/// empty must match (names case-insensitively, with `*` and `?` globs); within a list, any.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// Subject names (VM display name, disk, host).
    pub vms: Vec<String>,
    /// Hosts: the host itself, and the VMs and disks the evidence places on it.
    pub hosts: Vec<String>,
    /// Provider names.
    pub providers: Vec<String>,
    /// Evidence files (a `.vmx` path, as given): subjects read from them.
    pub files: Vec<String>,
}

impl Selector {
    /// Whether this subject, needing `provider`, with these references, is selected.
    pub fn selects(
        &self,
        subject: &crate::evidence::Subject,
        provider: &str,
        refs: &[&KeyReference],
    ) -> bool {
        let any = |list: &[String], f: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|p| f(p))
        };
        any(&self.vms, &|p| super::name_matches(p, &subject.name))
            && any(&self.hosts, &|p| {
                (subject.kind == "host" && super::name_matches(p, &subject.name))
                    || refs
                        .iter()
                        .any(|r| r.host.as_deref().is_some_and(|h| super::name_matches(p, h)))
            })
            && any(&self.providers, &|p| super::name_matches(p, provider))
            && any(&self.files, &|p| {
                refs.iter().any(|r| r.sources.iter().any(|s| s.path == p))
            })
    }
}

/// Resolve every subject (or only those `select` selects) against the backups.
pub fn resolve(
    refs: &[KeyReference],
    backups: &[Backup],
    context: &Context<'_>,
    select: &Selector,
) -> Vec<SubjectVerdict> {
    let live = live(refs);
    let named = by_name(backups);
    let kdks = by_kdk(backups);
    let empty = Vec::new();
    let mut plans: HashMap<(&str, Option<String>, bool), Plan> = HashMap::new();
    let mut out = Vec::with_capacity(live.needs.len());
    for ((scope, subject, provider), rs) in &live.needs {
        if !select.selects(subject, provider, rs) {
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
        let (needed, by_embedded) = match (by_blob, live.key_ids.get(&(*scope, provider))) {
            (Some(b), _) => (b.key_id.clone(), true),
            (None, Some(s)) if s.len() == 1 => (s.iter().next().cloned(), false),
            _ => (None, false),
        };
        let plan = plans
            .entry((provider, needed.clone(), by_embedded))
            .or_insert_with(|| {
                plan(
                    provider,
                    same_name,
                    &kdks,
                    context,
                    needed.as_deref(),
                    by_embedded,
                )
            });
        let mut steps = plan.steps.clone();
        subject_steps(&mut steps, subject, provider, plan.verdict, rs);
        let source = needed.is_some().then(|| key_id_source(by_embedded));
        out.push(SubjectVerdict {
            scope: rs
                .first()
                .map(|r| r.scope.clone())
                .unwrap_or_else(crate::evidence::default_scope),
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

fn plan(
    provider: &str,
    same_name: &[&Backup],
    kdks: &HashMap<&str, Vec<&Backup>>,
    context: &Context<'_>,
    needed: Option<&str>,
    by_embedded: bool,
) -> Plan {
    let unreadable = context.unreadable;
    let (verdict, backups): (Verdict, Vec<Candidate>) = match needed {
        Some(k) => {
            let (direct, relabelled) = of_key_id(same_name, k, kdks);
            let matched = if by_embedded {
                Match::EmbeddedUuid
            } else {
                Match::KeyId
            };
            let m: Vec<Candidate> = direct
                .iter()
                .map(|b| candidate(b, matched))
                .chain(relabelled.iter().map(|b| candidate(b, Match::SameKdk)))
                .collect();
            if kdks_of(&direct).len() > 1 {
                // Same name and key_id, different KDKs: one of them is not what it claims.
                (Verdict::Ambiguous, m)
            } else if !m.is_empty() {
                (Verdict::Restorable, m)
            } else if !same_name.is_empty() {
                (
                    Verdict::WrongKey,
                    same_name
                        .iter()
                        .map(|b| candidate(b, Match::NameCollision))
                        .collect(),
                )
            } else {
                (Verdict::NoBackup, Vec::new())
            }
        }
        None => {
            let ids: BTreeSet<Option<&str>> =
                same_name.iter().map(|b| b.key_id.as_deref()).collect();
            if same_name.is_empty() {
                (Verdict::NoBackup, Vec::new())
            } else if ids.len() == 1 && kdks_of(same_name).len() > 1 {
                // One key_id, several KDKs: a conflict, whatever the live key_id is.
                (
                    Verdict::Ambiguous,
                    same_name
                        .iter()
                        .map(|b| candidate(b, Match::NameOnly))
                        .collect(),
                )
            } else if ids.len() == 1 {
                (
                    Verdict::Probable,
                    same_name
                        .iter()
                        .map(|b| candidate(b, Match::NameOnly))
                        .collect(),
                )
            } else {
                (
                    Verdict::Ambiguous,
                    same_name
                        .iter()
                        .map(|b| candidate(b, Match::NameCollision))
                        .collect(),
                )
            }
        }
    };
    let conflict_id = (verdict == Verdict::Ambiguous && needed.is_none())
        .then(|| same_name.first().and_then(|b| b.key_id.as_deref()))
        .flatten()
        .filter(|k| {
            same_name.iter().all(|b| b.key_id.as_deref() == Some(*k))
                && kdks_of(same_name).len() > 1
        });
    let mut steps = steps(
        provider,
        verdict,
        &backups,
        needed.or(conflict_id),
        context.vault,
    );
    if matches!(verdict, Verdict::NoBackup | Verdict::WrongKey) && !unreadable.is_empty() {
        steps.insert(
            0,
            format!(
                "{} backup file(s) could not be opened and may hold {provider}: {}. Give their passwords (--password-file FILE) and run this again before exporting or importing anything.",
                unreadable.len(),
                unreadable.iter().map(|u| format!("{} ({})", u.file, u.reason)).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    Plan {
        verdict,
        backups: std::sync::Arc::new(backups),
        steps,
    }
}
