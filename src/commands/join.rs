//! `resolve` and `coverage`: gather backups and evidence, join, render.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::json;

use crate::cli::{CoverageArgs, Format, JoinArgs, ResolveArgs};
use nkp_escrow::evidence::{self, EvidenceOptions};
use nkp_escrow::inspect::{self as backup, InspectOptions};
use nkp_escrow::resolve::{self, Backup, Severity, Status, Verdict};

/// Everything the join reads: backups (opened), backups that could not be opened, evidence,
/// and the input problems (each one named; any of them makes the exit code 1).
pub(crate) struct Gathered {
    pub(crate) backups: Vec<Backup>,
    pub(crate) unreadable: Vec<resolve::UnreadableBackup>,
    pub(crate) evidence: evidence::Gathered,
    pub(crate) problems: Vec<String>,
    /// The keyless verification of `--vault`, made once here (`report` shows it).
    pub(crate) vault_report: Option<nkp_vault::VerifyReport>,
}

/// What to pass to open a backup that failed with `code`.
fn hint(code: nkp_escrow::codes::ErrorCode) -> &'static str {
    use nkp_escrow::codes::ErrorCode as C;
    match code {
        C::WrongPassword | C::PasswordRequired => {
            "give its password with --password-file FILE (one per line), --password-env VAR or --password-stdin"
        }
        C::LimitsExceeded => "check it with `nkp-escrow inspect`; it is over a safety cap",
        _ => "check it with `nkp-escrow inspect`",
    }
}

/// Read every input: backups from .p12 files and bundles (inspected with the passwords
/// given), from a vault's manifest, and the evidence per scope. Nothing that could not be read
/// is dropped silently: missing paths, unreadable backups and evidence that names no provider
/// are problems.
pub(crate) fn gather(args: &JoinArgs, options: &nkp_vault::VerifyOptions) -> Result<Gathered> {
    if args.evidence.is_empty() {
        usage!("--evidence PATH is needed: the live evidence to check (files or folders)");
    }
    let passwords = super::gather_passwords(&args.passwords)?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    let inputs = backup::collect_inputs(&args.backups);
    problems.extend(inputs.errors);
    let opts = InspectOptions::default();
    for f in &inputs.files {
        let r = backup::inspect_file(f, &passwords, &opts);
        if let Some(e) = &r.error {
            problems.push(e.message.clone());
            // A backup that may be whole but could not be opened here: a password, a cap, an
            // algorithm. A damaged or missing file is an input problem, not a possible backup.
            use nkp_escrow::codes::ErrorCode as C;
            if matches!(
                e.code,
                C::WrongPassword | C::PasswordRequired | C::LimitsExceeded | C::Unsupported
            ) {
                unreadable.push(resolve::UnreadableBackup {
                    file: r.path.clone(),
                    reason: e.code.to_string(),
                    hint: hint(e.code).to_string(),
                });
            }
        }
        let quality = r.protection.as_ref().and_then(|x| x.password.as_ref());
        let weak = quality.and_then(|q| q.weakness());
        let password_assessed = quality.is_some();
        for p in &r.providers {
            out.push(Backup {
                source: r.path.clone(),
                kind: "file",
                provider: p.name.clone(),
                key_id: p.key_id.clone(),
                export_time: p.export_time.clone(),
                verdict: match (&r.protection, &r.vcsa) {
                    (Some(x), _) => x.verdict.to_string(),
                    // A vCenter backup: protected by its backup password if every part is
                    // encrypted; PBKDF2 counts as strong, EVP_BytesToKey as weak.
                    (None, Some(b))
                        if !b.parts.is_empty() && b.parts.iter().all(|p| p.encrypted) =>
                    {
                        let pbkdf2 = b
                            .parts
                            .iter()
                            .all(|p| p.scheme.as_deref().is_some_and(|s| s.contains("PBKDF2")));
                        if pbkdf2 { "strong" } else { "weak" }.to_string()
                    }
                    _ => "unprotected".to_string(),
                },
                password: r
                    .protection
                    .as_ref()
                    .and_then(|x| x.password.as_ref())
                    .map(|q| q.source.clone()),
                kdk_fingerprint: p.kdk_fingerprint.clone().unwrap_or_default(),
                last_drill: None,
                // 0: not known (a provider read from a vCenter bundle has no KDK bytes).
                kdk_bits: u32::try_from(p.kdk_bits).ok().filter(|&n| n > 0),
                weak_password: weak.clone(),
                password_assessed,
                tpm_required: p.tpm_required,
            });
        }
    }
    // Vault entries count only from a vault that verifies: an entry whose object is gone or
    // changed restores nothing.
    let mut vault_report = None;
    let vault = match args.vault.as_deref().map(nkp_vault::Vault::open) {
        None => None,
        Some(Ok(v)) => {
            let r = v.verify_with(options);
            let ok = r.ok;
            if !ok {
                problems.push(format!(
                    "vault {}: `vault verify` finds {} problem(s); its entries are not counted as backups",
                    v.dir().display(),
                    r.problems.len()
                ));
            }
            vault_report = Some(r);
            ok.then_some(v)
        }
        Some(Err(e)) => {
            problems.push(format!("vault: {}", e.chain()));
            // Reported as an unverified vault, never as "no vault given".
            vault_report = args
                .vault
                .as_deref()
                .map(|dir| nkp_vault::verify::keyless(dir, options));
            None
        }
    };
    if let Some(v) = &vault {
        for e in v.entries()? {
            out.push(Backup {
                source: format!("vault:{}", e.id),
                kind: "vault",
                provider: e.provider.clone(),
                key_id: e.key_id.clone(),
                export_time: e.export_time.clone(),
                verdict: e.verdict.clone(),
                password: e
                    .password_escrowed
                    .then(|| format!("escrowed with vault entry {}", e.id)),
                kdk_fingerprint: e.kdk_fingerprint.clone(),
                last_drill: e.last_drill.clone(),
                kdk_bits: None,
                weak_password: e.password_weakness.clone(),
                password_assessed: e.password_assessed,
                tpm_required: None,
            });
        }
    }
    let scoped: Vec<evidence::ScopedPath> = args
        .evidence
        .iter()
        .map(|a| evidence::ScopedPath::parse(a))
        .collect();
    let g = evidence::gather_scoped(&scoped, &EvidenceOptions::default(), false, &|_| {});
    problems.extend(g.walk_errors.iter().map(|e| format!("evidence: {e}")));
    problems.extend(g.inputs.iter().filter_map(|i| {
        i.error
            .as_ref()
            .map(|e| format!("evidence {}: {}", i.path, e.message))
    }));
    // Every scope given must name a provider: an empty one would vanish from the results.
    let mut scopes: Vec<&str> = scoped.iter().map(|s| s.scope.as_str()).collect();
    scopes.dedup();
    for scope in scopes {
        if !g
            .references
            .iter()
            .any(|r| &*r.scope == scope && r.provider.is_some())
        {
            problems.push(format!(
                "the evidence of scope {scope} ({}) names no key provider: nothing in it could be assessed; check the --evidence paths",
                scoped
                    .iter()
                    .filter(|s| s.scope == scope)
                    .map(|s| s.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some(n) = g.skipped.get("too-large").filter(|n| **n > 0) {
        problems.push(format!(
            "{n} evidence file(s) are larger than the size cap and were not read (see `evidence --max-size`): what they hold was not assessed"
        ));
    }
    // Values read from files are shown inside lines of human output: none may start a line.
    let one = |s: &mut String| {
        if let std::borrow::Cow::Owned(o) = nkp_escrow::render::one_line(s) {
            *s = o;
        }
    };
    let one_opt = |s: &mut Option<String>| {
        if let Some(x) = s {
            one(x);
        }
    };
    for b in &mut out {
        one(&mut b.source);
        one_opt(&mut b.provider);
        one_opt(&mut b.key_id);
        one_opt(&mut b.export_time);
    }
    for u in &mut unreadable {
        one(&mut u.file);
    }
    for p in &mut problems {
        one(p);
    }
    let mut g = g;
    for r in &mut g.references {
        one(&mut r.subject.name);
        one_opt(&mut r.provider);
        one_opt(&mut r.provider_key_id);
        one_opt(&mut r.key);
        one_opt(&mut r.host);
        for d in &mut r.details {
            if let std::borrow::Cow::Owned(o) = nkp_escrow::render::one_line(d) {
                *d = std::borrow::Cow::Owned(o);
            }
        }
    }
    Ok(Gathered {
        backups: out,
        unreadable,
        evidence: g,
        problems,
        vault_report,
    })
}

/// Say each input problem on stderr.
pub(crate) fn say_problems(problems: &[String]) {
    for p in problems {
        say!("error: {p}");
    }
}

/// Exit code: an input problem (1) before a finding (3).
pub(crate) fn exit_code(problems: &[String], finding: bool) -> i32 {
    if !problems.is_empty() {
        nkp_escrow::exit::INPUT
    } else if finding {
        nkp_escrow::exit::FINDING
    } else {
        nkp_escrow::exit::OK
    }
}

/// `resolve`.
pub(crate) fn resolve(args: &ResolveArgs, format: Format) -> Result<i32> {
    // `--file` is read as evidence too (in the default scope unless it is already given).
    let mut join = args.join.clone();
    let files: Vec<String> = args.file.iter().map(|f| f.display().to_string()).collect();
    for f in &files {
        if !join
            .evidence
            .iter()
            .any(|e| e == f || e.ends_with(&format!("={f}")))
        {
            join.evidence.push(f.clone());
        }
    }
    let Gathered {
        backups,
        unreadable,
        evidence: g,
        mut problems,
        ..
    } = gather(&join, &Default::default())?;
    let vault_dir = join.vault.as_ref().map(|v| v.display().to_string());
    let select = resolve::Selector {
        vms: args.vm.clone(),
        hosts: args.host.clone(),
        providers: args.provider.clone(),
        files: files.clone(),
    };
    let verdicts = resolve::resolve(
        &g.references,
        &backups,
        &resolve::Context {
            unreadable: &unreadable,
            vault: vault_dir.as_deref(),
        },
        &select,
    );
    // A name that selects nothing is an input error with the closest names (a typo is not a
    // coverage gap).
    let subjects = |kind: Option<&str>| -> std::collections::BTreeSet<&str> {
        g.references
            .iter()
            .filter(|r| r.subject.kind != "provider" && kind.is_none_or(|k| r.subject.kind == k))
            .map(|r| r.subject.name.as_str())
            .chain(
                g.references
                    .iter()
                    .filter(|_| kind == Some("host"))
                    .filter_map(|r| r.host.as_deref()),
            )
            .collect()
    };
    let providers: std::collections::BTreeSet<&str> = g
        .references
        .iter()
        .filter_map(|r| r.provider.as_deref())
        .collect();
    let mut missing =
        |what: &str, typed: &str, selected: bool, names: &std::collections::BTreeSet<&str>| {
            if selected {
                return;
            }
            let near = resolve::closest(typed, names.iter().copied(), 3);
            problems.push(format!(
                "no evidence names {what} {typed:?} that needs a key provider{}",
                if near.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; did you mean {}?",
                        near.iter()
                            .map(|n| format!("{n:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        };
    let one = |f: &dyn Fn(&resolve::Selector) -> resolve::Selector| {
        let s = f(&select);
        verdicts.iter().any(|v| {
            s.selects(
                &v.subject,
                &v.provider,
                &g.references
                    .iter()
                    .filter(|r| r.subject == v.subject && *r.scope == *v.scope)
                    .collect::<Vec<_>>(),
            )
        })
    };
    let all_subjects = subjects(None);
    let hosts = subjects(Some("host"));
    for v in &args.vm {
        let hit = one(&|_| resolve::Selector {
            vms: vec![v.clone()],
            ..Default::default()
        });
        missing("a VM", v, hit, &all_subjects);
    }
    for h in &args.host {
        let hit = one(&|_| resolve::Selector {
            hosts: vec![h.clone()],
            ..Default::default()
        });
        missing("a host", h, hit, &hosts);
    }
    for p in &args.provider {
        let hit = one(&|_| resolve::Selector {
            providers: vec![p.clone()],
            ..Default::default()
        });
        missing("a provider", p, hit, &providers);
    }
    for f in &files {
        let hit = one(&|_| resolve::Selector {
            files: vec![f.clone()],
            ..Default::default()
        });
        missing("a file", f, hit, &std::collections::BTreeSet::new());
    }
    say_problems(&problems);
    let bad = verdicts
        .iter()
        .any(|s| !matches!(s.verdict, Verdict::Restorable | Verdict::Probable));
    match format {
        Format::Json => super::print::json("resolve", &json!({ "subjects": verdicts }))?,
        Format::Yaml => super::print::yaml("resolve", &json!({ "subjects": verdicts }))?,
        Format::Table => {
            let mut s = String::new();
            for v in &verdicts {
                let _ = writeln!(
                    s,
                    "{}{} {} needs {}{}: {}",
                    if &*v.scope == evidence::DEFAULT_SCOPE {
                        String::new()
                    } else {
                        format!("[{}] ", v.scope)
                    },
                    v.subject.kind,
                    v.subject.name,
                    v.provider,
                    v.needed_key_id
                        .as_deref()
                        .map(|k| format!(" (key_id {k})"))
                        .unwrap_or_default(),
                    v.verdict.as_str().to_uppercase()
                );
                for b in v.backups.iter() {
                    let _ = writeln!(
                        s,
                        "    backup {} [{}] key_id {} exported {} ({})",
                        b.source,
                        b.matched,
                        b.key_id.as_deref().unwrap_or("-"),
                        b.export_time.as_deref().unwrap_or("-"),
                        b.verdict
                    );
                }
                for (i, st) in v.steps.iter().enumerate() {
                    // A step of several lines (a shell snippet) keeps the step's indentation.
                    let n = format!("{}. ", i + 1);
                    let pad = format!("\n    {}", " ".repeat(n.len()));
                    let _ = writeln!(s, "    {n}{}", st.replace('\n', &pad));
                }
                s.push('\n');
            }
            super::print::text(&s)?;
        }
    }
    Ok(exit_code(&problems, bad))
}

/// `coverage`.
pub(crate) fn coverage(cargs: &CoverageArgs, format: Format) -> Result<i32> {
    let args = &cargs.join;
    let Gathered {
        backups,
        unreadable,
        evidence: g,
        problems,
        ..
    } = gather(args, &Default::default())?;
    let mut c = resolve::coverage(
        &g.references,
        &backups,
        &unreadable,
        time::OffsetDateTime::now_utc(),
    );
    if let Some(dir) = &args.vault {
        resolve::add_custodian_findings(&mut c, &custodian_drills(dir)?);
        if let Some(m) = custody_model(dir) {
            resolve::add_custody_findings(&mut c, m, cargs.require_dual_control);
        }
    }
    say_problems(&problems);
    let gap = match cargs.fail_on {
        Some(t) => c.findings.iter().any(|f| f.severity.at_least(t.severity())),
        None => {
            c.providers.iter().any(|p| p.status != Status::Covered)
                || c.findings.iter().any(|f| f.severity != Severity::Info)
        }
    };
    match format {
        Format::Json => super::print::json("coverage", &c)?,
        Format::Yaml => super::print::yaml("coverage", &c)?,
        Format::Table => {
            let rows: Vec<Vec<String>> = c
                .providers
                .iter()
                .map(|p| {
                    vec![
                        p.scope.clone(),
                        p.name.clone(),
                        p.key_id.clone().unwrap_or_default(),
                        p.status.to_string(),
                        p.backups
                            .iter()
                            .map(|b| format!("{} [{}]", b.source, b.matched))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ]
                })
                .collect();
            let mut s = nkp_escrow::render::layout::table(
                &["scope", "provider", "live key_id", "status", "backups"],
                &rows,
                &[4],
            );
            if let Some(m) = &c.custody {
                let keys: Vec<String> = m
                    .custodians
                    .iter()
                    .map(|k| format!("{} ({}, {})", k.label, k.key_type, k.storage))
                    .collect();
                let _ = writeln!(
                    s,
                    "vault {}: {} of {} custodian(s) restore{}: {}",
                    m.vault,
                    m.threshold,
                    m.custodians.len(),
                    if m.threshold < 2 {
                        " alone (single control)"
                    } else {
                        ""
                    },
                    if keys.is_empty() {
                        m.mode.clone()
                    } else {
                        keys.join(", ")
                    }
                );
            }
            for f in &c.findings {
                let _ = writeln!(
                    s,
                    "[{}] {}{}: {}",
                    f.severity.as_str().to_uppercase(),
                    f.code,
                    f.scope
                        .as_deref()
                        .map(|x| format!(" (scope {x})"))
                        .unwrap_or_default(),
                    f.message
                );
            }
            super::print::text(&s)?;
        }
    }
    Ok(exit_code(&problems, gap))
}

/// The vault's current custodians and how many recorded drills each ran (by fingerprint).
/// A format-1 vault records neither: then nobody is listed (the vault's own verify says why).
/// The vault's custody model (`None` when it cannot be opened: that is already an input problem).
pub(crate) fn custody_model(dir: &std::path::Path) -> Option<resolve::CustodyModel> {
    let v = nkp_vault::Vault::open(dir).ok()?;
    let set = v.custodians().ok()?;
    let entries = v.entries().map(|e| e.len()).unwrap_or(0);
    let (mode, custodians) = match &set {
        Some(s) => (
            if s.mode == nkp_vault::Mode::Passphrase {
                "passphrase"
            } else {
                "recipients"
            },
            s.custodians
                .iter()
                .map(|c| {
                    let (key_type, storage) = resolve::key_kind(&c.recipient);
                    resolve::CustodianKey {
                        label: c.label.clone(),
                        fingerprint: c.fingerprint.clone(),
                        key_type,
                        storage,
                    }
                })
                .collect(),
        ),
        None => ("recipients", Vec::new()),
    };
    Some(resolve::CustodyModel {
        vault: dir.display().to_string(),
        mode: mode.to_string(),
        // How many custodians must take part, as the chain records it (1: any one alone).
        threshold: set.as_ref().map_or(1, nkp_vault::CustodianSet::needed),
        custodians,
        entries,
    })
}

pub(crate) fn custodian_drills(dir: &std::path::Path) -> Result<Vec<resolve::CustodianDrills>> {
    let v = nkp_vault::Vault::open(dir)?;
    let Some(set) = v.custodians()? else {
        return Ok(Vec::new());
    };
    let events = v.events()?;
    Ok(set
        .custodians
        .iter()
        .map(|c| resolve::CustodianDrills {
            label: c.label.clone(),
            fingerprint: c.fingerprint.clone(),
            drills: events
                .iter()
                .filter(|e| {
                    matches!(e, nkp_vault::Event::Drill { by: Some(b), participants, .. }
                        if b.fingerprint == c.fingerprint
                            || participants.iter().any(|p| p.fingerprint == c.fingerprint))
                })
                .count(),
        })
        .collect())
}
