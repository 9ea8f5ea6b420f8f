//! `evidence.html`: one self-contained page for people. Inline style only: no script, no
//! external asset, no network. Printable (the style has a print section). Controls first, then
//! findings by severity, custody, scopes and inputs. Every value is escaped.

use std::fmt::Write as _;

use super::{Outcome, Report};

/// HTML text: escaped, control characters shown as escapes.
fn esc(s: &str) -> String {
    super::escape_with(s, |o, c| match c {
        '"' => o.push_str("&quot;"),
        '\'' => o.push_str("&#39;"),
        c => o.push(c),
    })
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:62em;padding:0 1em;color:#1b1b1b}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}code,.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.88em;overflow-wrap:anywhere}
.r{font-weight:700;padding:.1em .5em;border-radius:3px;white-space:nowrap}
.PASS{background:#d7f5dd;color:#0b5d1e}.FAIL{background:#fddcdc;color:#8a1111}.NOT-ASSESSED{background:#fff1c2;color:#6b4e00}
.high{color:#8a1111;font-weight:700}.medium{color:#8a4b00;font-weight:700}.low{color:#444}.info{color:#555}
.unsigned{background:#fff1c2;padding:.4em .6em}details{margin:.4em 0}small{color:#555}
@media print{body{margin:0;max-width:none;font-size:11pt}details{display:block}details>summary{display:none}h2{break-after:avoid}tr{break-inside:avoid}}";

pub(super) fn render(r: &Report) -> String {
    let mut h = String::new();
    let a = &r.attribution;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>NKP key escrow evidence {}</title><style>{STYLE}</style></head><body>\n",
        esc(&r.generated_at_text())
    );
    let _ = writeln!(h, "<h1>NKP key escrow evidence</h1>");
    let _ = writeln!(
        h,
        "<p><small>Generated {} by {} on {} with nkp-escrow {} (commit <code>{}</code>).</small></p>",
        esc(&r.generated_at_text()),
        esc(&a.user),
        esc(&a.host),
        esc(&a.version),
        esc(&a.git_commit)
    );
    match &r.signature {
        Some(s) => {
            let _ = writeln!(
                h,
                "<p>Signed: <code>{}</code> over <code>evidence.json</code> by <code>{}</code> \
(namespace <code>{}</code>); <code>evidence.json</code> holds the SHA-256 of this page.</p>",
                esc(s.file),
                esc(&s.fingerprint),
                esc(s.namespace)
            );
        }
        None => {
            let _ = writeln!(
                h,
                "<p class=\"unsigned\"><b>Unsigned.</b> Nothing shows these files unchanged since they were written.</p>"
            );
        }
    }
    // Controls first.
    let _ = writeln!(h, "<h2 id=\"controls\">Controls</h2>");
    let count = |o: Outcome| r.controls.iter().filter(|c| c.result == o).count();
    let _ = writeln!(
        h,
        "<p class=\"summary\">{} controls: <span class=\"r PASS\">{} PASS</span> <span class=\"r FAIL\">{} FAIL</span> <span class=\"r NOT-ASSESSED\">{} NOT-ASSESSED</span>; {} finding(s), {} input problem(s).</p>",
        r.controls.len(),
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::NotAssessed),
        r.findings.len(),
        r.input_problems.len()
    );
    let _ = writeln!(
        h,
        "<table><thead><tr><th>Result</th><th>Control</th><th>What was seen</th></tr></thead><tbody>"
    );
    for c in &r.controls {
        let _ = write!(
            h,
            "<tr class=\"control\"><td><span class=\"r {r}\">{r}</span></td><td><span class=\"id\">{}</span><br>{}</td><td><ul>",
            esc(c.id),
            esc(c.title),
            r = c.result
        );
        for f in &c.facts {
            let _ = write!(h, "<li>{}</li>", esc(f));
        }
        let _ = write!(h, "</ul>");
        if let Some(p) = &c.provenance {
            let _ = write!(
                h,
                "<details><summary>Source, check and fix</summary><p><b>Source:</b> {} ({}). \
<b>Rule ID / CCI:</b> {}.</p><p><b>Check:</b> {}</p><p><b>Fix:</b> {}</p><p><b>Maps to:</b> {}</p></details>",
                esc(p.benchmark),
                if p.origin == "stig" {
                    "a published STIG rule, checked by this tool from files"
                } else {
                    "this tool's own check"
                },
                esc(&p.rule_id.map_or_else(
                    || "not recorded here; see the benchmark's current release".to_string(),
                    |id| format!("{id} / {}", p.cci.join(", "))
                )),
                esc(p.check),
                esc(p.fix),
                p.maps_to
                    .iter()
                    .map(|m| format!(
                        "{} {} ({})",
                        esc(m.framework),
                        esc(m.requirement),
                        esc(m.subject)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        let _ = writeln!(h, "</td></tr>");
    }
    let _ = writeln!(h, "</tbody></table>");
    if r.controls.iter().any(|c| c.result == Outcome::NotAssessed) {
        let _ = writeln!(
            h,
            "<p><small>NOT-ASSESSED: the control had nothing to assess, or its inputs were incomplete or stale; it is never a pass.</small></p>"
        );
    }
    if !r.input_problems.is_empty() {
        let _ = writeln!(h, "<h2 id=\"problems\">Input problems</h2><ul>");
        for p in &r.input_problems {
            let _ = writeln!(h, "<li>{}</li>", esc(p));
        }
        let _ = writeln!(h, "</ul>");
    }
    if !r.stale_evidence.is_empty() {
        let _ = writeln!(
            h,
            "<h2 id=\"stale\">Stale evidence</h2><p>Captured more than {} days before this report:</p><ul>",
            r.max_evidence_age_days
        );
        for (p, t) in &r.stale_evidence {
            let _ = writeln!(h, "<li><code>{}</code> (captured {})</li>", esc(p), esc(t));
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(h, "<h2 id=\"findings\">Findings</h2>");
    if r.findings.is_empty() {
        let _ = writeln!(h, "<p>None.</p>");
    } else {
        let _ = writeln!(
            h,
            "<table><thead><tr><th>Severity</th><th>Code</th><th>Scope</th><th>Finding</th></tr></thead><tbody>"
        );
        // Already sorted by severity, most severe first.
        for f in &r.findings {
            let sev = f.severity;
            let _ = writeln!(
                h,
                "<tr class=\"finding\"><td class=\"{s}\">{S}</td><td class=\"id\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(f.code),
                esc(f.scope.as_deref().unwrap_or("")),
                esc(&f.message),
                s = sev.as_str(),
                S = sev.as_str().to_uppercase()
            );
        }
        let _ = writeln!(h, "</tbody></table>");
    }
    let _ = writeln!(h, "<h2 id=\"custody\">Custody</h2>");
    match &r.custody {
        None => {
            let _ = writeln!(h, "<p>No vault was given.</p>");
        }
        Some(c) => {
            let _ = writeln!(
                h,
                "<table><tbody><tr><th>Vault</th><td><code>{}</code> ({}, {}), {} entries</td></tr>\
<tr><th>Verified without a key</th><td>{}</td></tr><tr><th>Chain head</th><td><code>{}</code></td></tr>\
<tr><th>Trust anchor</th><td>{}{}</td></tr><tr><th>Restore needs</th><td>{} custodian(s){}</td></tr></tbody></table>",
                esc(&c.path),
                esc(c.format.as_deref().unwrap_or("format unknown")),
                esc(c.mode.as_deref().unwrap_or("mode not recorded")),
                c.entries,
                if c.verified { "yes" } else { "<b>NO</b>" },
                esc(c.chain_head.as_deref().unwrap_or("(empty)")),
                esc(c.anchor),
                c.trusted_checkpoint
                    .as_deref()
                    .map(|t| format!(" (checkpoint <code>{}</code>)", esc(t)))
                    .unwrap_or_default(),
                c.threshold,
                if c.threshold < 2 { " (single control)" } else { "" }
            );
            let _ = writeln!(
                h,
                "<table><thead><tr><th>Custodian</th><th>Fingerprint</th><th>Key</th><th>Drills</th><th>Last drill</th></tr></thead><tbody>"
            );
            for k in &c.custodians {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td><code>{}</code></td><td>{} ({})</td><td>{}</td><td>{}</td></tr>",
                    esc(&k.label),
                    esc(&k.fingerprint),
                    esc(&k.key_type),
                    k.storage,
                    k.drills,
                    esc(k.last_drill.as_deref().unwrap_or("never"))
                );
            }
            let _ = writeln!(
                h,
                "</tbody></table><p>Restores recorded (the whole history): {}</p>",
                c.restores.len()
            );
            if !c.restores.is_empty() {
                let _ = writeln!(
                    h,
                    "<table><thead><tr><th>When</th><th>Entry</th><th>Custodian</th><th>User and host</th><th>Reason</th></tr></thead><tbody>"
                );
                for x in &c.restores {
                    let _ = writeln!(
                        h,
                        "<tr><td>{}</td><td><code>{}</code></td><td>{} <code>{}</code></td><td>{} on {}</td><td>{}</td></tr>",
                        esc(&x.at),
                        esc(&x.entry),
                        esc(&x.custodian),
                        esc(&x.fingerprint),
                        esc(&x.user),
                        esc(&x.host),
                        esc(x.reason.as_deref().unwrap_or("no reason given"))
                    );
                }
                let _ = writeln!(h, "</tbody></table>");
            }
        }
    }
    let _ = writeln!(
        h,
        "<h2 id=\"scope\">Scope</h2><p>Command: <code>{}</code></p><ul>",
        esc(&a.command_line.join(" "))
    );
    for s in &r.scopes {
        let _ = writeln!(
            h,
            "<li><b>{}</b>: <code>{}</code></li>",
            esc(&s.scope),
            esc(&s.paths.join(", "))
        );
    }
    let _ = writeln!(h, "</ul>");
    if !r.skipped.is_empty() {
        let _ = writeln!(h, "<p>Skipped inputs:</p><ul>");
        for (why, n) in &r.skipped {
            let _ = writeln!(h, "<li>{n} file(s): {}</li>", esc(why));
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(
        h,
        "<h2 id=\"inputs\">Inputs</h2><table><thead><tr><th>Path</th><th>Kind</th><th>Scope</th><th>SHA-256</th><th>Bytes</th><th>Captured</th></tr></thead><tbody>"
    );
    for i in &r.inputs {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&i.path),
            esc(&i.kind),
            esc(i.scope.as_deref().unwrap_or("")),
            esc(i.sha256.as_deref().unwrap_or("unreadable")),
            i.size.map(|s| s.to_string()).unwrap_or_default(),
            match (&i.captured_at, i.captured_from) {
                (Some(t), Some(f)) => format!("{} ({f})", esc(t)),
                _ => String::new(),
            }
        );
    }
    let _ = writeln!(h, "</tbody></table></body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        let e = esc("<script>alert('x')</script>\u{1b}[2J & \" \u{202e}");
        assert!(!e.contains('<') && !e.contains('\u{1b}') && !e.contains('"'));
        assert!(
            !e.contains('\u{202e}'),
            "bidirectional override shown, not obeyed"
        );
        assert!(e.contains("&lt;script&gt;") && e.contains("&amp;"));
    }
}
