//! `nkp-escrow evidence`: read live key references.

use std::io::IsTerminal;

use anyhow::Result;

use crate::cli::{EvidenceArgs, Format};
use nkp_escrow::evidence::{self, EvidenceOptions};
use nkp_escrow::model::EvidenceOutput;
use nkp_escrow::render;

/// Run `evidence`; returns the exit code.
pub(crate) fn run(args: &EvidenceArgs, format: Format, quiet: bool) -> Result<i32> {
    let opts = EvidenceOptions {
        max_text_size: args.max_size,
    };
    // A spinner with the file count on a terminal only; silent when piped.
    let bar = if !quiet && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_message("reading files");
        Some(b)
    } else {
        None
    };
    let tick = |n: usize| {
        if let Some(b) = &bar {
            b.set_message(format!("{n} files read"));
        }
    };
    if let Some(b) = &bar {
        b.enable_steady_tick(std::time::Duration::from_millis(120));
    }
    let scoped: Vec<evidence::ScopedPath> = args
        .paths
        .iter()
        .map(|a| evidence::ScopedPath::parse(a))
        .collect();
    let g = evidence::gather_scoped(&scoped, &opts, args.follow_symlinks, &tick);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for e in &g.walk_errors {
        say!("error: {e}");
    }
    if !quiet {
        for w in &g.walk_warnings {
            say!("warning: {w}");
        }
    }
    let failed = !g.walk_errors.is_empty() || g.inputs.iter().any(|i| i.error.is_some());
    let out = EvidenceOutput {
        tool: "nkp-escrow",
        version: env!("CARGO_PKG_VERSION"),
        references: g.references,
        inputs: g.inputs,
        files_read: g.files_read,
        files_by_kind: g.by_kind,
        skipped: g.skipped,
    };
    match format {
        Format::Json => super::print::json_records(
            &[
                ("tool", serde_json::json!(out.tool)),
                ("version", serde_json::json!(out.version)),
                ("kind", serde_json::json!("evidence")),
            ],
            "references",
            &out.references,
            &[
                ("inputs", serde_json::to_value(&out.inputs)?),
                ("files_read", serde_json::json!(out.files_read)),
                ("files_by_kind", serde_json::to_value(&out.files_by_kind)?),
                ("skipped", serde_json::to_value(&out.skipped)?),
            ],
        )?,
        Format::Yaml => super::print::yaml("evidence", &out)?,
        Format::Table => super::print::text(&render::evidence_table(&out))?,
    }
    Ok(if failed {
        nkp_escrow::exit::INPUT
    } else {
        nkp_escrow::exit::OK
    })
}
