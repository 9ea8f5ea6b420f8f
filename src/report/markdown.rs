//! `evidence.md`: the report for reading in a repository or a ticket.

use std::fmt::Write as _;

use super::Report;

/// Markdown-safe inline text: no line breaks, no markup (HTML, links, emphasis, table pipes) and
/// no bidirectional overrides from input values.
fn inline(s: &str) -> String {
    super::escape_with(s, |o, c| match c {
        '`' => o.push('\''),
        '|' | '[' | ']' | '(' | ')' | '*' | '_' | '\\' | '!' | '#' => {
            o.push('\\');
            o.push(c);
        }
        c => o.push(c),
    })
}

pub(super) fn render(r: &Report) -> String {
    let mut md = String::new();
    let a = &r.attribution;
    let _ = writeln!(md, "# NKP key escrow evidence\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(md, "| Generated | {} |", r.generated_at_text());
    let _ = writeln!(md, "| By | {} on {} |", inline(&a.user), inline(&a.host));
    let _ = writeln!(
        md,
        "| Tool | nkp-escrow {} (commit {}) |",
        inline(&a.version),
        inline(&a.git_commit)
    );
    let _ = writeln!(md, "| Command | `{}` |", inline(&a.command_line.join(" ")));
    let scopes: Vec<String> = r
        .scopes
        .iter()
        .map(|s| format!("{} ({})", inline(&s.scope), inline(&s.paths.join(", "))))
        .collect();
    let _ = writeln!(md, "| Scopes | {} |", scopes.join("; "));
    match &r.signature {
        Some(s) => {
            let _ = writeln!(
                md,
                "| Signature | `{}` by {} (namespace `{}`) |",
                s.file, s.fingerprint, s.namespace
            );
        }
        None => {
            let _ = writeln!(
                md,
                "| Signature | **unsigned**: nothing shows these files unchanged since they were written |"
            );
        }
    }
    md.push('\n');
    let _ = writeln!(md, "## Controls\n");
    for ctl in &r.controls {
        let _ = writeln!(md, "### [{}] {}\n", ctl.result, ctl.id);
        let _ = writeln!(md, "{}\n", ctl.title);
        for f in &ctl.facts {
            let _ = writeln!(md, "- {}", inline(f));
        }
        if let Some(p) = &ctl.provenance {
            let _ = writeln!(
                md,
                "\n*Source*: {} ({}). *Rule ID / CCI*: {}.  ",
                p.benchmark,
                if p.origin == "stig" {
                    "a published STIG rule, checked by this tool from files"
                } else {
                    "this tool's own check"
                },
                p.rule_id.map_or_else(
                    || "not recorded here; see the benchmark's current release".to_string(),
                    |id| format!("{id} / {}", p.cci.join(", "))
                )
            );
            let _ = writeln!(md, "*Check*: {}  ", p.check);
            let _ = writeln!(md, "*Fix*: {}  ", p.fix);
            let maps: Vec<String> = p
                .maps_to
                .iter()
                .map(|m| format!("{} {} ({})", m.framework, m.requirement, m.subject))
                .collect();
            let _ = writeln!(md, "*Maps to*: {}", maps.join("; "));
        }
        md.push('\n');
    }
    if !r.input_problems.is_empty() {
        let _ = writeln!(md, "## Input problems\n");
        let _ = writeln!(
            md,
            "Each of these was not assessed; a control that depends on it cannot pass.\n"
        );
        for p in &r.input_problems {
            let _ = writeln!(md, "- {}", inline(p));
        }
        md.push('\n');
    }
    if !r.stale_evidence.is_empty() {
        let _ = writeln!(
            md,
            "## Stale evidence\n\nCaptured more than {} days before this report:\n",
            r.max_evidence_age_days
        );
        for (p, t) in &r.stale_evidence {
            let _ = writeln!(md, "- {} (captured {t})", inline(p));
        }
        md.push('\n');
    }
    if !r.skipped.is_empty() {
        let _ = writeln!(md, "## Skipped inputs\n");
        for (why, n) in &r.skipped {
            let _ = writeln!(md, "- {n} file(s): {}", inline(why));
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Findings\n");
    if r.findings.is_empty() {
        let _ = writeln!(md, "None.");
    }
    // Already sorted by severity, most severe first.
    for f in &r.findings {
        let sev = f.severity;
        let _ = writeln!(
            md,
            "- [{}] {}{}: {}",
            sev.as_str().to_uppercase(),
            f.code,
            f.scope
                .as_deref()
                .map(|s| format!(" (scope {})", inline(s)))
                .unwrap_or_default(),
            inline(&f.message)
        );
    }
    md.push('\n');
    if let Some(c) = &r.custody {
        let _ = writeln!(md, "## Custody\n");
        let _ = writeln!(
            md,
            "- vault: {} ({}, {}), {} entries",
            inline(&c.path),
            c.format.as_deref().unwrap_or("format unknown"),
            c.mode.as_deref().unwrap_or("mode not recorded"),
            c.entries
        );
        let _ = writeln!(
            md,
            "- verified without a key: {}",
            if c.verified { "yes" } else { "**NO**" }
        );
        let _ = writeln!(
            md,
            "- chain head: {}",
            c.chain_head.as_deref().unwrap_or("(empty)")
        );
        let _ = writeln!(
            md,
            "- trust anchor: {}{}",
            c.anchor,
            c.trusted_checkpoint
                .as_deref()
                .map(|t| format!(" (checkpoint {t})"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            md,
            "\n| Custodian | Fingerprint | Drills | Last drill |\n|---|---|---|---|"
        );
        for k in &c.custodians {
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {} |",
                inline(&k.label),
                k.fingerprint,
                k.drills,
                k.last_drill.as_deref().unwrap_or("never")
            );
        }
        let _ = writeln!(
            md,
            "\nRestores recorded (the whole history): {}\n",
            c.restores.len()
        );
        for x in &c.restores {
            let _ = writeln!(
                md,
                "- {} entry {} by {} (`{}`), {} on {}: {}",
                inline(&x.at),
                inline(&x.entry),
                inline(&x.custodian),
                x.fingerprint,
                inline(&x.user),
                inline(&x.host),
                x.reason
                    .as_deref()
                    .map_or("no reason given".to_string(), inline)
            );
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## Inputs\n");
    let _ = writeln!(
        md,
        "| Path | Kind | Scope | SHA-256 | Bytes | Modified | Captured |\n|---|---|---|---|---|---|---|"
    );
    for i in &r.inputs {
        let _ = writeln!(
            md,
            "| {} | {} | {} | `{}` | {} | {} | {} |",
            inline(&i.path),
            i.kind,
            i.scope.as_deref().map(inline).unwrap_or_default(),
            i.sha256.as_deref().unwrap_or("unreadable"),
            i.size.map(|s| s.to_string()).unwrap_or_default(),
            i.modified.as_deref().unwrap_or(""),
            match (&i.captured_at, i.captured_from) {
                (Some(t), Some(f)) => format!("{t} ({f})"),
                _ => String::new(),
            }
        );
    }
    md
}
