//! `nkp-escrow demo`: the workflow on the bundled sample estate, narrated.
//!
//! The sample backups are compiled into the binary (they are made by
//! `testdata/generate.sh`), so the demo needs no files, network or other tools.

use std::fmt::Write as _;

use anyhow::Result;

use crate::backup::{self, InspectOptions};
use crate::cli::Format;
use crate::model::InspectOutput;
use crate::render;
use crate::secret::{Password, PasswordOrigin};
use secrecy::SecretString;

/// The sample share: badly named .p12 files, as on-call engineers find them.
const SHARE: &[(&str, &[u8])] = &[
    (
        "share/NKP-PROD.p12",
        include_bytes!("../../testdata/estate/share/NKP-PROD.p12"),
    ),
    (
        "share/NKP-PROD (1).p12",
        include_bytes!("../../testdata/estate/share/NKP-PROD (1).p12"),
    ),
    (
        "share/backup-old.p12",
        include_bytes!("../../testdata/estate/share/backup-old.p12"),
    ),
    (
        "share/nkp-dr-2024.p12",
        include_bytes!("../../testdata/estate/share/nkp-dr-2024.p12"),
    ),
    (
        "share/vcsa01-machine-ssl.p12",
        include_bytes!("../../testdata/estate/share/vcsa01-machine-ssl.p12"),
    ),
    (
        "share/NKP-LAB.p12",
        include_bytes!("../../testdata/estate/share/NKP-LAB.p12"),
    ),
];
const PASSWORDS: &str = include_str!("../../testdata/estate/share/passwords.txt");

/// Run the demo.
pub fn run(format: Format, quiet: bool) -> Result<i32> {
    let passwords: Vec<Password> = PASSWORDS
        .lines()
        .enumerate()
        .map(|(i, l)| {
            Password::new(
                PasswordOrigin::File {
                    path: "share/passwords.txt".into(),
                    line: i + 1,
                },
                SecretString::from(l.to_string()),
            )
        })
        .collect();
    let opts = InspectOptions::default();
    let inputs = SHARE
        .iter()
        .map(|(name, bytes)| backup::inspect_bytes(name, bytes, &passwords, &opts))
        .collect::<Vec<_>>();
    let out = InspectOutput {
        tool: "nkp-escrow",
        version: env!("CARGO_PKG_VERSION"),
        inputs,
        skipped: 0,
    };
    let narrate = !quiet && format == Format::Table;
    let mut text = String::new();
    if narrate {
        let _ = writeln!(
            text,
            "nkp-escrow demo: a share of Native Key Provider backups, read offline.\n"
        );
        let _ = writeln!(
            text,
            "Step 1. Inspect the share ({} files, names as people leave them) with its password file",
            SHARE.len()
        );
        let _ = writeln!(text, "        (share/passwords.txt, {} lines). Passwords are never shown: only which line opened a file.\n", passwords.len());
    }
    match format {
        Format::Json => render::print_json(&out)?,
        Format::Yaml => render::print_yaml(&out)?,
        Format::Table => {
            render::print_text(&text)?;
            text.clear();
            render::print_text(&render::inspect_table(&out, false))?;
        }
    }
    if narrate {
        text.push_str("\nWhat this shows:\n");
        for line in story(&out) {
            let _ = writeln!(text, "  - {line}");
        }
        let _ = writeln!(text, "\nNext: `nkp-escrow inspect --explain <file>` prints a file's structure, safe to paste into a ticket.");
    }
    render::print_text(&text)?;
    Ok(crate::exit::OK)
}

/// Facts worth telling a newcomer, derived from the results (not scripted).
fn story(out: &InspectOutput) -> Vec<String> {
    let mut lines = Vec::new();
    let mut by_name: std::collections::BTreeMap<String, Vec<(String, String)>> =
        std::collections::BTreeMap::new();
    for r in &out.inputs {
        for p in &r.providers {
            by_name
                .entry(p.name.clone().unwrap_or_default())
                .or_default()
                .push((
                    r.path.clone(),
                    p.key_id.clone().unwrap_or_else(|| "unknown".into()),
                ));
        }
    }
    for (name, list) in &by_name {
        let mut ids: Vec<&String> = list.iter().map(|(_, k)| k).collect();
        ids.sort();
        ids.dedup();
        if ids.len() > 1 {
            lines.push(format!(
                "provider {name} appears in {} files with {} different key_ids: it was deleted and re-created under the same name (KB 311922). Only the backup whose key_id the hosts need will unlock their VMs.",
                list.len(),
                ids.len()
            ));
        }
    }
    for r in &out.inputs {
        let Some(p) = &r.protection else { continue };
        if r.kind == "nkp-backup" && p.verdict == "unprotected" {
            lines.push(format!(
                "{} holds a KDK with no password: anyone with the file has the key. STIG VCFA-9X-000335 says re-export it with a strong password and delete this copy.",
                r.path
            ));
        }
        if let Some(pw) = p.password.as_ref().filter(|pw| !pw.meets_stig_complexity) {
            if r.kind == "nkp-backup" {
                lines.push(format!(
                    "{} opens with a {}-character password ({}): the STIG asks for a strong password (15+ characters, upper, lower, digit, symbol), not only strong algorithms.",
                    r.path,
                    pw.length,
                    pw.source
                ));
            }
        }
        if r.kind == "nkp-backup" && p.verdict == "weak" {
            lines.push(format!(
                "{} is protected, but weakly: {}.",
                r.path,
                p.reasons.join("; ")
            ));
        }
        if r.kind == "pkcs12-other" {
            lines.push(format!(
                "{} is a PKCS#12 file but not an NKP backup: it holds {}.",
                r.path,
                r.holds.as_deref().unwrap_or("nothing readable")
            ));
        }
    }
    lines
}
