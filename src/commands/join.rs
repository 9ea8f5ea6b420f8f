//! `resolve` and `coverage`: gather backups and evidence, join, render.

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::json;

use crate::backup::{self, InspectOptions};
use crate::cli::{Format, JoinArgs, ResolveArgs};
use crate::evidence::{self, EvidenceOptions};
use crate::render;
use crate::resolve::{self, Backup};

/// Backups from .p12 files (inspected with the passwords given) and from a vault's manifest.
pub fn gather_backups(args: &JoinArgs) -> Result<(Vec<Backup>, Vec<String>)> {
    let passwords = super::gather_passwords(&args.passwords)?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let inputs = backup::collect_inputs(&args.backups);
    problems.extend(inputs.errors);
    let opts = InspectOptions::default();
    for f in &inputs.files {
        let r = backup::inspect_file(f, &passwords, &opts);
        if let Some(e) = &r.error {
            problems.push(e.message.clone());
        }
        for p in &r.providers {
            out.push(Backup {
                source: r.path.clone(),
                kind: "file",
                provider: p.name.clone(),
                key_id: p.key_id.clone(),
                export_time: p.export_time.clone(),
                verdict: r
                    .protection
                    .as_ref()
                    .map(|x| x.verdict)
                    .unwrap_or("unprotected")
                    .to_string(),
                password: r
                    .protection
                    .as_ref()
                    .and_then(|x| x.password.as_ref())
                    .map(|q| q.source.clone()),
                kdk_fingerprint: p.kdk_fingerprint.clone(),
                last_drill: None,
            });
        }
    }
    if let Some(dir) = &args.vault {
        let v = nkp_vault::Vault::open(dir)?;
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
            });
        }
    }
    Ok((out, problems))
}

fn gather_evidence(args: &JoinArgs) -> evidence::Gathered {
    evidence::gather(&args.evidence, &EvidenceOptions::default(), false, &|_| {})
}

/// `resolve`.
pub fn resolve(args: &ResolveArgs, format: Format) -> Result<i32> {
    let (backups, problems) = gather_backups(&args.join)?;
    let g = gather_evidence(&args.join);
    let verdicts = resolve::resolve(&g.references, &backups, &args.vm);
    for p in &problems {
        eprintln!("warning: {p}");
    }
    let missing: Vec<&String> = args
        .vm
        .iter()
        .filter(|v| !verdicts.iter().any(|s| &s.subject.name == *v))
        .collect();
    for m in &missing {
        eprintln!("error: no evidence names a VM {m:?} that needs a key provider");
    }
    let bad = !missing.is_empty()
        || verdicts
            .iter()
            .any(|s| !matches!(s.verdict, "restorable" | "probable"));
    match format {
        Format::Json => render::print_json(&json!({ "subjects": verdicts }))?,
        Format::Yaml => render::print_yaml(&json!({ "subjects": verdicts }))?,
        Format::Table => {
            let mut s = String::new();
            for v in &verdicts {
                let _ = writeln!(
                    s,
                    "{} {} needs {}{}: {}",
                    v.subject.kind,
                    v.subject.name,
                    v.provider,
                    v.needed_key_id
                        .as_deref()
                        .map(|k| format!(" (key_id {k})"))
                        .unwrap_or_default(),
                    v.verdict.to_uppercase()
                );
                for b in v.backups.iter() {
                    let _ = writeln!(
                        s,
                        "    backup {} [{}] key_id {} exported {} ({})",
                        b.source,
                        b.matched,
                        b.key_id.as_deref().unwrap_or("?"),
                        b.export_time.as_deref().unwrap_or("?"),
                        b.verdict
                    );
                }
                for (i, st) in v.steps.iter().enumerate() {
                    let _ = writeln!(s, "    {}. {st}", i + 1);
                }
                s.push('\n');
            }
            render::print_text(&s)?;
        }
    }
    Ok(if bad {
        crate::exit::FINDING
    } else {
        crate::exit::OK
    })
}

/// `coverage`.
pub fn coverage(args: &JoinArgs, format: Format) -> Result<i32> {
    let (backups, problems) = gather_backups(args)?;
    let g = gather_evidence(args);
    let c = resolve::coverage(&g.references, &backups, time::OffsetDateTime::now_utc());
    for p in &problems {
        eprintln!("warning: {p}");
    }
    let gap = c.providers.iter().any(|p| p.status != "covered")
        || c.findings.iter().any(|f| f.severity != "info");
    match format {
        Format::Json => render::print_json(&c)?,
        Format::Yaml => render::print_yaml(&c)?,
        Format::Table => {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_header(vec!["provider", "live key_id", "status", "backups"]);
            for p in &c.providers {
                t.add_row(vec![
                    p.name.clone(),
                    p.key_id.clone().unwrap_or_else(|| "unknown".into()),
                    p.status.to_string(),
                    p.backups
                        .iter()
                        .map(|b| format!("{} [{}]", b.source, b.matched))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ]);
            }
            let mut s = format!("{t}\n");
            for f in &c.findings {
                let _ = writeln!(
                    s,
                    "[{}] {}: {}",
                    f.severity.to_uppercase(),
                    f.code,
                    f.message
                );
            }
            render::print_text(&s)?;
        }
    }
    Ok(if gap {
        crate::exit::FINDING
    } else {
        crate::exit::OK
    })
}
