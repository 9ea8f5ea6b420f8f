//! The join: backups x live evidence -> verdicts per subject, and coverage per provider.
//!
//! Names are what objects look providers up by, and names are reused: a provider deleted and
//! re-created under the same name gets a new KDK and key_id (KB 311922), and a backup of the
//! old one imports fine and unlocks nothing. So a name match alone is never called
//! `restorable`: the provider's key_id must be known (from ConfigStore, govc, the REST API, or
//! a key-ID blob whose embedded UUID equals a backup's key_id) and match.
//!
//! The name and the key_id are labels: the REST API accepts both from the caller and can change
//! a key_id. The KDK is the provider's cryptographic identity. So backups are also grouped by
//! KDK fingerprint: two backups with the same name and key_id but different KDKs are a
//! conflict (one is not what it claims), and the same KDK under another key_id is the same
//! provider relabelled.
//!
//! Evidence carries a scope (which vCenter it came from): key_ids are per (scope, name), so a
//! live key_id with no backup is uncovered in its scope whatever another scope has.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::evidence::{KeyReference, State, Subject};

mod coverage;
mod join;
mod steps;

pub use coverage::{
    add_custodian_findings, add_custody_findings, coverage, key_kind, Coverage, CustodianDrills,
    CustodianKey, CustodyModel, Finding, ProviderCoverage, Severity, Status, DRILL_MAX_AGE_DAYS,
    KDK_BITS,
};
pub use join::{resolve, Context, Selector};

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
    /// Size of the KDK in bits, when known.
    pub kdk_bits: Option<u32>,
    /// Why the password that opened it is weak (below STIG complexity), when it is.
    pub weak_password: Option<String>,
    /// The strength of its password was checked (a file opened with it here, or a vault entry
    /// whose strength `vault add` recorded). When false, `weak_password` says nothing.
    pub password_assessed: bool,
    /// The backup was exported with "Require TPM": hosts without a TPM cannot take it.
    pub tpm_required: Option<bool>,
}

/// A backup file that could not be opened: not a missing backup, an unverified one.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UnreadableBackup {
    /// The file.
    pub file: String,
    /// Why (wrong or missing password, damaged file, ...).
    pub reason: String,
    /// What to pass to open it.
    pub hint: String,
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

crate::codes::contract_enum! {
    /// How sure the answer for a subject is.
    pub enum Verdict {
        /// A backup of exactly the key_id the subject needs.
        Restorable = "restorable",
        /// A backup that very likely fits (only one key_id known under the name).
        Probable = "probable",
        /// Several backups could fit; the key_id needed is not known.
        Ambiguous = "ambiguous",
        /// Backups exist under the name, but none of the key_id needed.
        WrongKey = "wrong-key",
        /// No backup of the provider at all.
        NoBackup = "no-backup",
    }
}

crate::codes::contract_enum! {
    /// Why a backup is a candidate.
    pub enum Match {
        /// Its key_id equals the key_id needed.
        KeyId = "key-id",
        /// Its key_id equals the UUID embedded in the subject's key-ID blob.
        EmbeddedUuid = "embedded-uuid",
        /// Only its provider name matches.
        NameOnly = "name-only",
        /// Its name matches, but the name has several key_ids.
        NameCollision = "name-collision",
        /// Its KDK equals the KDK of a backup of the key_id needed: the same provider under
        /// another key_id or name.
        SameKdk = "same-kdk",
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
    pub matched: Match,
    /// Protection verdict.
    pub verdict: String,
    /// Where the password is.
    pub password: Option<String>,
    /// Export time.
    pub export_time: Option<String>,
    /// `sha256:` of its KDK: the provider's identity.
    pub kdk_fingerprint: String,
    /// Exported with "Require TPM".
    pub tpm_required: Option<bool>,
}

/// The answer for one subject.
#[derive(Clone, Debug, Serialize)]
pub struct SubjectVerdict {
    /// The scope (vCenter) of the evidence that names the subject.
    pub scope: std::sync::Arc<str>,
    /// The VM, disk or host.
    pub subject: Subject,
    /// Provider it needs.
    pub provider: String,
    /// The provider key_id it needs, when known, and how it is known.
    pub needed_key_id: Option<String>,
    /// How `needed_key_id` is known.
    pub key_id_source: Option<String>,
    /// How sure the answer is.
    pub verdict: Verdict,
    /// Candidate backups, best first (shared between subjects with the same answer).
    pub backups: std::sync::Arc<Vec<Candidate>>,
    /// What to do.
    pub steps: Vec<String>,
}

/// A subject that needs a provider, in a scope.
pub type Need<'a> = (&'a str, &'a Subject, &'a str);

/// Evidence digested for the join.
pub struct Live<'a> {
    /// (scope, provider name) -> key_ids stated by evidence (ConfigStore, govc, REST).
    pub key_ids: HashMap<(&'a str, &'a str), BTreeSet<String>>,
    /// Subjects that need a provider, with their references, sorted by scope and subject.
    pub needs: Vec<(Need<'a>, Vec<&'a KeyReference>)>,
}

pub(super) const NEEDS: &[State] = &[
    State::NeedsKey,
    State::KeyError,
    State::HostKey,
    State::KeyInCache,
    State::KeyNotInCache,
];

/// (scope, provider name) -> key_ids stated by live evidence.
pub fn stated_key_ids(refs: &[KeyReference]) -> HashMap<(&str, &str), BTreeSet<String>> {
    let mut key_ids: HashMap<(&str, &str), BTreeSet<String>> = HashMap::new();
    for r in refs {
        if let (Some(p), Some(k)) = (r.provider.as_deref(), &r.provider_key_id) {
            key_ids
                .entry((&*r.scope, p))
                .or_default()
                .insert(k.to_ascii_lowercase());
        }
    }
    key_ids
}

/// Digest evidence.
pub fn live(refs: &[KeyReference]) -> Live<'_> {
    let key_ids = stated_key_ids(refs);
    // Sorted, then grouped: no hashing of 100,000 subject names. Scopes are shared strings:
    // compared by pointer first, by text only when they differ.
    let scope_cmp = |a: &str, b: &str| {
        if std::ptr::eq(a, b) {
            std::cmp::Ordering::Equal
        } else {
            a.cmp(b)
        }
    };
    let mut keyed: Vec<(Need<'_>, &KeyReference)> = refs
        .iter()
        .filter(|r| NEEDS.contains(&r.state) && r.subject.kind != "provider")
        .filter_map(|r| {
            r.provider
                .as_deref()
                .map(|p| ((&*r.scope, &r.subject, p), r))
        })
        .collect();
    keyed.sort_by(|a, b| {
        scope_cmp(a.0 .0, b.0 .0)
            .then_with(|| a.0 .1.cmp(b.0 .1))
            .then_with(|| a.0 .2.cmp(b.0 .2))
    });
    let mut needs: Vec<(Need<'_>, Vec<&KeyReference>)> = Vec::new();
    for (k, r) in keyed {
        match needs.last_mut() {
            Some((last, rs))
                if (std::ptr::eq(last.0, k.0) || last.0 == k.0)
                    && last.1 == k.1
                    && last.2 == k.2 =>
            {
                rs.push(r);
            }
            _ => needs.push((k, vec![r])),
        }
    }
    Live { key_ids, needs }
}

pub(super) fn candidate(b: &Backup, matched: Match) -> Candidate {
    Candidate {
        source: b.source.clone(),
        provider: b.provider.clone(),
        key_id: b.key_id.clone(),
        matched,
        verdict: b.verdict.clone(),
        password: b.password.clone(),
        export_time: b.export_time.clone(),
        kdk_fingerprint: b.kdk_fingerprint.clone(),
        tpm_required: b.tpm_required,
    }
}

/// Whether a subject name matches what an operator typed for `--vm`: case-insensitively, with
/// `*` (any run of characters) and `?` (one character) as globs.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    // Iterative glob match with one backtrack point (linear in practice, never exponential).
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The names among `names` closest to `typed` (names it begins, then edit distance;
/// case-insensitive), best first, at most `n`: for "did you mean".
pub fn closest<'a>(typed: &str, names: impl Iterator<Item = &'a str>, n: usize) -> Vec<&'a str> {
    fn distance(a: &[char], b: &[char]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != cb);
                cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    // Bounded work whatever the evidence holds: names are compared on their first 64
    // characters, and a name whose length alone rules it out is not compared at all.
    const CAP: usize = 64;
    let t: Vec<char> = typed.to_lowercase().chars().take(CAP).collect();
    let mut scored: Vec<(usize, &str)> = names
        .filter_map(|name| {
            let c: Vec<char> = name.to_lowercase().chars().take(CAP).collect();
            // A name that starts with what was typed (`win11` for `win11-52 "finance"`) is the
            // closest of all.
            if t.len() >= 3 && c.starts_with(&t) {
                return Some((0, name));
            }
            let limit = (c.len().max(t.len()) / 2).max(2);
            (c.len().abs_diff(t.len()) <= limit).then(|| (distance(&t, &c), name))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .filter(|(d, name)| *d <= (name.chars().count().max(t.len()) / 2).max(2))
        .take(n)
        .map(|(_, name)| name)
        .collect()
}

/// Index backups by KDK fingerprint (backups whose KDK is unknown are left out).
pub fn by_kdk(backups: &[Backup]) -> HashMap<&str, Vec<&Backup>> {
    let mut m: HashMap<&str, Vec<&Backup>> = HashMap::new();
    for b in backups.iter().filter(|b| !b.kdk_fingerprint.is_empty()) {
        m.entry(b.kdk_fingerprint.as_str()).or_default().push(b);
    }
    m
}

/// The backups of key_id `k` among `same_name`, and every other backup with the same KDK as
/// one of them (the same provider relabelled), best first, without repeats.
pub(crate) fn of_key_id<'a>(
    same_name: &[&'a Backup],
    k: &str,
    kdks: &HashMap<&str, Vec<&'a Backup>>,
) -> (Vec<&'a Backup>, Vec<&'a Backup>) {
    let direct: Vec<&Backup> = same_name
        .iter()
        .copied()
        .filter(|b| b.key_id.as_deref() == Some(k))
        .collect();
    let mut relabelled: Vec<&Backup> = Vec::new();
    for d in &direct {
        for o in kdks.get(d.kdk_fingerprint.as_str()).into_iter().flatten() {
            let known = direct
                .iter()
                .chain(&relabelled)
                .any(|x| std::ptr::eq(*x, *o));
            if !known {
                relabelled.push(o);
            }
        }
    }
    relabelled.sort_by_key(|b| b.rank());
    (direct, relabelled)
}

/// The distinct KDK fingerprints of `backups` (unknown ones left out).
pub(crate) fn kdks_of(backups: &[&Backup]) -> BTreeSet<String> {
    backups
        .iter()
        .filter(|b| !b.kdk_fingerprint.is_empty())
        .map(|b| b.kdk_fingerprint.clone())
        .collect()
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
            scope: crate::evidence::default_scope(),
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
            state: State::parse(state).expect("a state"),
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
            kdk_fingerprint: format!("sha256:{provider}/{key_id}"),
            last_drill: None,
            kdk_bits: Some(256),
            weak_password: None,
            password_assessed: true,
            tpm_required: None,
        }
    }

    const K1: &str = "11111111-1111-4111-8111-111111111111";
    const K2: &str = "22222222-2222-4222-8222-222222222222";
    const K3: &str = "33333333-3333-4333-8333-333333333333";

    fn verdict_of(v: &[SubjectVerdict], name: &str) -> &'static str {
        v.iter()
            .find(|s| s.subject.name == name)
            .map(|s| s.verdict.as_str())
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
        let v = resolve(&refs, &backups, &Context::default(), &Selector::default());
        assert_eq!(verdict_of(&v, "locked-vm"), "restorable");
        let locked = v.iter().find(|s| s.subject.name == "locked-vm").unwrap();
        assert_eq!(locked.backups[0].source, "NKP2.p12");
        assert_eq!(locked.backups[0].matched.as_str(), "embedded-uuid");
        assert!(locked.steps.iter().any(|s| s.contains("already_exists")));
        let new = v.iter().find(|s| s.subject.name == "new-vm").unwrap();
        assert_eq!(new.verdict.as_str(), "restorable");
        // Vault entries are preferred over files with the same key_id.
        assert_eq!(new.backups[0].source, "vault:aaaa");
        assert_eq!(new.backups[0].matched.as_str(), "key-id");
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
        let only = resolve(
            &refs,
            &backups,
            &Context::default(),
            &Selector {
                vms: vec!["locked-vm".into()],
                ..Default::default()
            },
        );
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
        let c = coverage(&refs, &backups, &[], now);
        let st = |n: &str| {
            c.providers
                .iter()
                .find(|p| p.name == n)
                .map(|p| p.status.as_str())
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

    fn scoped(scope: &str, mut r: KeyReference) -> KeyReference {
        r.scope = std::sync::Arc::from(scope);
        r
    }

    fn now() -> time::OffsetDateTime {
        time::OffsetDateTime::parse(
            "2026-11-28T00:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    }

    fn status(c: &Coverage, scope: &str, name: &str) -> &'static str {
        c.providers
            .iter()
            .find(|p| p.scope == scope && p.name == name)
            .map(|p| p.status.as_str())
            .unwrap_or("missing")
    }

    /// Issue 11, found 3: two vCenters with a provider of the same name and different key_ids;
    /// a backup of one does not cover the other.
    #[test]
    fn a_name_in_two_scopes_is_two_providers() {
        let refs = vec![
            scoped(
                "vc01",
                r(
                    "provider",
                    "NKP-DR",
                    "NKP-DR",
                    Some(K1),
                    None,
                    "provider-known",
                ),
            ),
            scoped(
                "vc02",
                r(
                    "provider",
                    "NKP-DR",
                    "NKP-DR",
                    Some(K2),
                    None,
                    "provider-known",
                ),
            ),
            scoped("vc02", r("vm", "dr-vm", "NKP-DR", None, None, "needs-key")),
        ];
        let backups = vec![b("dr.p12", "NKP-DR", K1, "strong", "2025-01-01T00:00:00Z")];
        let c = coverage(&refs, &backups, &[], now());
        assert_eq!(status(&c, "vc01", "NKP-DR"), "covered");
        assert_eq!(status(&c, "vc02", "NKP-DR"), "name-collision");
        assert!(c
            .findings
            .iter()
            .any(|f| f.code == "NKP-LIVE-NAME-COLLISION" && f.scope.is_none()));
        assert!(c
            .findings
            .iter()
            .any(|f| f.code == "NKP-STALE-BACKUP" && f.scope.as_deref() == Some("vc02")));
        let v = resolve(&refs, &backups, &Context::default(), &Selector::default());
        assert_eq!(&*v[0].scope, "vc02");
        assert_eq!(v[0].verdict.as_str(), "wrong-key");
    }

    /// Issue 11: the KDK is the identity. Same name and key_id, different KDKs: a conflict
    /// (resolve says ambiguous); the same KDK under another key_id: the same provider.
    #[test]
    fn kdk_conflicts_and_relabelled_key_ids() {
        let refs = vec![
            r(
                "provider",
                "NKP-C",
                "NKP-C",
                Some(K1),
                None,
                "provider-known",
            ),
            r("vm", "c-vm", "NKP-C", None, None, "needs-key"),
            r(
                "provider",
                "NKP-R",
                "NKP-R",
                Some(K2),
                None,
                "provider-known",
            ),
        ];
        let mut forged = b("forged.p12", "NKP-C", K1, "strong", "2025-01-01T00:00:00Z");
        forged.kdk_fingerprint = "sha256:other".into();
        let old = b("r-old.p12", "NKP-R", K3, "strong", "2024-01-01T00:00:00Z");
        let mut new = b(
            "r-new.p12",
            "NKP-R",
            K2,
            "unprotected",
            "2025-01-01T00:00:00Z",
        );
        new.kdk_fingerprint = old.kdk_fingerprint.clone();
        let backups = vec![
            b("real.p12", "NKP-C", K1, "strong", "2025-01-01T00:00:00Z"),
            forged,
            old,
            new,
        ];
        let c = coverage(&refs, &backups, &[], now());
        assert_eq!(status(&c, "default", "NKP-C"), "kdk-conflict");
        let conflict = c
            .findings
            .iter()
            .find(|f| f.code == "NKP-KDK-CONFLICT")
            .unwrap();
        assert_eq!(conflict.severity, Severity::High);
        assert_eq!(conflict.key_id.as_deref(), Some(K1));
        // The relabelled old backup (same KDK as the live key_id's backup) counts: protected.
        assert_eq!(status(&c, "default", "NKP-R"), "covered");
        assert!(c.findings.iter().any(|f| f.code == "NKP-KEYID-RELABELLED"));
        let v = resolve(&refs, &backups, &Context::default(), &Selector::default());
        let cvm = v.iter().find(|s| s.subject.name == "c-vm").unwrap();
        assert_eq!(cvm.verdict.as_str(), "ambiguous");
        assert!(
            cvm.steps[0].starts_with("NKP-KDK-CONFLICT"),
            "{:?}",
            cvm.steps
        );
        assert_eq!(cvm.backups.len(), 2);
    }

    /// Issue 11, found 2 and 4: a backup that could not be opened makes the provider
    /// unverified, not uncovered; a weak password and an odd KDK size are findings.
    #[test]
    fn unreadable_backups_weak_passwords_and_kdk_sizes() {
        let refs = vec![r(
            "provider",
            "NKP-U",
            "NKP-U",
            Some(K1),
            None,
            "provider-known",
        )];
        let unreadable = [UnreadableBackup {
            file: "locked.p12".into(),
            reason: "password-required".into(),
            hint: "give its password".into(),
        }];
        let c = coverage(&refs, &[], &unreadable, now());
        assert_eq!(status(&c, "default", "NKP-U"), "unverified");
        let codes: Vec<&str> = c.findings.iter().map(|f| f.code).collect();
        assert!(!codes.contains(&"NKP-UNCOVERED"), "{codes:?}");
        assert!(codes.contains(&"NKP-UNREADABLE-BACKUP"), "{codes:?}");
        let mut weak = b("weak.p12", "NKP-U", K1, "strong", "2025-01-01T00:00:00Z");
        weak.weak_password = Some("7 characters; lower, digit".into());
        weak.kdk_bits = Some(128);
        let c = coverage(&refs, &[weak], &[], now());
        let codes: Vec<&str> = c.findings.iter().map(|f| f.code).collect();
        assert!(codes.contains(&"NKP-WEAK-PASSWORD"), "{codes:?}");
        assert!(codes.contains(&"NKP-KDK-SIZE"), "{codes:?}");
        let f = c
            .findings
            .iter()
            .find(|f| f.code == "NKP-WEAK-PASSWORD")
            .unwrap();
        assert_eq!(f.file.as_deref(), Some("weak.p12"));
        // Most severe first.
        let ranks: Vec<u8> = c
            .findings
            .iter()
            .map(|f| match f.severity {
                Severity::High => 0,
                Severity::Medium => 1,
                Severity::Low => 2,
                Severity::Info => 3,
            })
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    }

    /// Issue 12, item 11 (in part): `--vm` matches case-insensitively and with globs; a typo
    /// gets the closest names.
    #[test]
    fn vm_names_match_with_globs_and_typos_get_suggestions() {
        assert!(name_matches("WIN11-52*", "win11-52 \"finance\""));
        assert!(name_matches("db0?", "db01"));
        assert!(name_matches("*", "anything"));
        assert!(name_matches("a*b*c", "aXXbYYc"));
        assert!(!name_matches("db0?", "db012"));
        assert!(!name_matches("win11", "win11-52"));
        assert!(name_matches("Db01", "db01"));
        // Many stars never take exponential time.
        assert!(!name_matches(&"*a".repeat(30), &"a".repeat(25)));
        let names = ["win11-52 \"finance\"", "db01", "app07", "esxi51"];
        assert_eq!(closest("db10", names.iter().copied(), 3), ["db01"]);
        assert_eq!(closest("app7", names.iter().copied(), 1), ["app07"]);
        assert!(closest("zzzzzzzz", names.iter().copied(), 3).is_empty());
        // A prefix of a longer name (a VM name with a suffix) is suggested first.
        assert_eq!(
            closest("WIN11", names.iter().copied(), 1),
            ["win11-52 \"finance\""]
        );
    }
}
