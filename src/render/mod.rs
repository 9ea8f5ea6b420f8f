//! Renderers: table, JSON, YAML and the `--explain` tree. They print model types and know
//! nothing of how they were parsed.

use std::fmt::Write as _;

pub mod layout;

use serde::Serialize;

use crate::model::{InputReport, InspectOutput};
use nkp_pkcs12::{BagNode, Structure};

/// Write a value as pretty JSON, with a final newline.
pub fn write_json<T: Serialize>(out: &mut dyn std::io::Write, v: &T) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v)?;
    writeln!(out)
}

/// Write a value as YAML. Timestamps are quoted: a YAML 1.1 reader (PyYAML, Ruby's Psych)
/// would otherwise turn a plain `2026-11-30T10:15:02Z` into a date object, not the string the
/// JSON document has.
pub fn write_yaml<T: Serialize>(out: &mut dyn std::io::Write, v: &T) -> std::io::Result<()> {
    let text = serde_norway::to_string(v).map_err(std::io::Error::other)?;
    out.write_all(quote_yaml_timestamps(&text).as_bytes())
}

/// Quote plain scalars that look like YAML 1.1 timestamps (outside block scalars).
pub fn quote_yaml_timestamps(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 64);
    let mut block: Option<usize> = None;
    for line in yaml.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let indent = body.len() - body.trim_start().len();
        if let Some(b) = block {
            if body.trim().is_empty() || indent > b {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        // The value part: after "key: " or "- ".
        let trimmed = body.trim_start();
        let value_at = if let Some(rest) = trimmed.strip_prefix("- ") {
            let after_dash = body.len() - rest.len();
            match rest.find(": ") {
                Some(k) if !rest.starts_with(['\'', '"']) => after_dash + k + 2,
                _ => after_dash,
            }
        } else {
            match trimmed.find(": ") {
                Some(k) if !trimmed.starts_with(['\'', '"']) => indent + k + 2,
                _ => {
                    out.push_str(line);
                    continue;
                }
            }
        };
        let value = &body[value_at..];
        if matches!(value, "|" | "|-" | "|+" | ">" | ">-" | ">+") {
            block = Some(indent);
            out.push_str(line);
        } else if looks_like_timestamp(value) {
            out.push_str(&body[..value_at]);
            out.push('\'');
            out.push_str(value);
            out.push('\'');
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `YYYY-MM-DD`, optionally followed by `T` or a space and a time (YAML 1.1's timestamp).
fn looks_like_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    let date = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    date && (b.len() == 10 || matches!(b[10], b'T' | b't' | b' '))
        && !v.contains(": ")
        && !v.contains(" #")
}

/// The first `n` characters of `s` (never splits a character: `s` may be untrusted text).
pub fn prefix(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map(|(i, _)| &s[..i]).unwrap_or(s)
}

fn short_fp(fp: &str) -> String {
    // sha256:<64 hex> -> sha256:<first 16>…
    match fp.split_once(':') {
        Some((alg, hex)) if hex.len() > 12 => {
            format!("{alg}:{}{}", prefix(hex, 12), layout::ellipsis())
        }
        _ => fp.to_string(),
    }
}

fn protection_cell(r: &InputReport) -> String {
    r.protection
        .as_ref()
        .map(|p| p.verdict.to_string())
        .unwrap_or_else(|| "-".into())
}

fn password_line(r: &InputReport) -> Option<String> {
    let pw = r.protection.as_ref()?.password.as_ref()?;
    Some(format!(
        "{}: opened with {} ({} chars, {}){}",
        r.path,
        pw.source,
        pw.length,
        if pw.classes.is_empty() {
            "no classes".to_string()
        } else {
            pw.classes.join("+")
        },
        if pw.meets_stig_complexity {
            ""
        } else {
            "; below STIG complexity (15+ chars, upper, lower, digit, symbol)"
        }
    ))
}

/// The human table of `inspect`, followed by errors, notes and (with `explain`) the trees.
pub fn inspect_table(out: &InspectOutput, explain: bool) -> String {
    let headers = [
        "file",
        "type",
        "protection",
        "provider",
        "key_id",
        "exported",
        "tpm",
        "kdk",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in &out.inputs {
        let kind = match &r.error {
            Some(e) => format!("{}\n({})", r.kind, e.code),
            None => r.kind.clone(),
        };
        if r.providers.is_empty() {
            let what = r.holds.clone().unwrap_or_else(|| "not readable".into());
            rows.push(vec![
                r.path.clone(),
                kind.clone(),
                protection_cell(r),
                format!("({what})"),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for p in &r.providers {
            rows.push(vec![
                r.path.clone(),
                kind.clone(),
                protection_cell(r),
                p.name.clone().unwrap_or_else(|| "(unnamed)".into()),
                p.key_id.clone().unwrap_or_default(),
                p.export_time.clone().unwrap_or_default(),
                match p.tpm_required {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => String::new(),
                },
                match &p.kdk_fingerprint {
                    Some(fp) => format!("{}-bit {}", p.kdk_bits, short_fp(fp)),
                    None => "not readable".into(),
                },
            ]);
        }
    }
    // Narrow terminals lose tpm, exported, kdk, then type (in that order).
    let t = layout::table(&headers, &rows, &[6, 5, 7, 1]);
    let mut s = t;
    if out.skipped > 0 {
        let _ = writeln!(
            s,
            "{} file(s) skipped: not PKCS#12 by content.",
            out.skipped
        );
    }
    for r in &out.inputs {
        if let Some(e) = &r.error {
            let _ = writeln!(s, "error [{}]: {}", e.code, e.message);
        }
        if let Some(l) = password_line(r) {
            let _ = writeln!(s, "{l}");
        }
        if let Some(p) = &r.protection {
            if p.verdict != crate::nkp::protection::Verdict::Strong
                && !p.reasons.is_empty()
                && !r.providers.is_empty()
            {
                let _ = writeln!(s, "{}: {}: {}", r.path, p.verdict, p.reasons.join("; "));
            }
        }
        for n in &r.notes {
            let _ = writeln!(s, "note: {}: {n}", r.path);
        }
        for p in &r.providers {
            for n in &p.notes {
                let _ = writeln!(
                    s,
                    "note: {}: {}: {n}",
                    r.path,
                    p.name.as_deref().unwrap_or("-")
                );
            }
        }
    }
    if explain {
        for r in &out.inputs {
            s.push('\n');
            s.push_str(&explain_text(r));
        }
    }
    s
}

/// The `--explain` tree of one input. Secret values appear only as length and fingerprint.
pub fn explain_text(r: &InputReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}  ({} bytes, sha256 {})",
        r.path,
        r.size.unwrap_or(0),
        r.sha256.as_deref().unwrap_or("-")
    );
    let _ = writeln!(s, "  type: {}", r.kind);
    if let Some(h) = &r.hint {
        let _ = writeln!(s, "  looks like: {h}");
    }
    if let Some(st) = &r.structure {
        structure_text(&mut s, st);
    }
    if let Some(p) = &r.protection {
        let _ = writeln!(s, "  protection: {}", p.verdict);
        for reason in &p.reasons {
            let _ = writeln!(s, "    - {reason}");
        }
    }
    for p in &r.providers {
        let _ = writeln!(
            s,
            "  provider {}: key_id {} [{}], export_time {} [{}], tpm_required {} [{}], KDK {} bits {} [{}]",
            p.name.as_deref().unwrap_or("(unnamed)"),
            p.key_id.as_deref().unwrap_or("unknown"),
            p.sources.key_id.as_deref().unwrap_or("no rule applied"),
            p.export_time.as_deref().unwrap_or("unknown"),
            p.sources.export_time.as_deref().unwrap_or("no rule applied"),
            p.tpm_required.map(|b| b.to_string()).unwrap_or_else(|| "unknown".into()),
            p.sources.tpm_required.as_deref().unwrap_or("no rule applied"),
            p.kdk_bits,
            p.kdk_fingerprint.as_deref().unwrap_or("not readable"),
            p.kdk_storage,
        );
    }
    s
}

fn structure_text(s: &mut String, st: &Structure) {
    let _ = writeln!(
        s,
        "  PFX version {}, integrity: {}",
        st.version, st.integrity
    );
    if let Some(m) = &st.mac {
        let _ = writeln!(
            s,
            "  MAC: HMAC-{}, {} iterations, salt {} bytes: {}{}",
            m.algorithm,
            m.iterations,
            m.salt_len,
            m.status,
            m.verified_with
                .as_ref()
                .map(|v| format!(" with {v}"))
                .unwrap_or_default()
        );
    }
    for safe in &st.safes {
        let enc = safe
            .encryption
            .as_ref()
            .map(|e| format!(" [{}; salt {} bytes]", e.description, e.salt_len))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  safe {}: {}{enc}: {}{}",
            safe.index,
            safe.content_type,
            safe.status,
            safe.opened_with
                .as_ref()
                .map(|o| format!(" with {o}"))
                .unwrap_or_default()
        );
        for b in &safe.bags {
            bag_text(s, b, 4);
        }
    }
}

fn bag_text(s: &mut String, b: &BagNode, indent: usize) {
    let pad = " ".repeat(indent);
    let _ = writeln!(s, "{pad}bag {}: {} ({})", b.path, b.bag_type, b.status);
    if let Some(e) = &b.encryption {
        let _ = writeln!(
            s,
            "{pad}  encrypted: {}; salt {} bytes",
            e.description, e.salt_len
        );
    }
    if !b.holds.is_empty() {
        let _ = writeln!(s, "{pad}  holds: {}", b.holds);
    }
    if let Some(f) = &b.friendly_name {
        let _ = writeln!(s, "{pad}  friendlyName: {f:?}");
    }
    if let Some(l) = &b.local_key_id {
        let _ = writeln!(s, "{pad}  localKeyId: {l}");
    }
    for a in &b.attributes {
        let _ = writeln!(s, "{pad}  attribute {a}");
    }
    for c in &b.children {
        bag_text(s, c, indent + 2);
    }
}

/// The human table of `evidence`.
pub fn evidence_table(out: &crate::model::EvidenceOutput) -> String {
    let headers = [
        "subject",
        "provider",
        "provider key_id",
        "key",
        "state",
        "sources",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in &out.references {
        let key = match (&r.key, &r.embedded_uuid()) {
            (_, Some(u)) => format!("NKP blob, embedded UUID {u} (unverified)"),
            (Some(k), None) if k.len() > 40 => {
                format!("{}{} (opaque)", prefix(k, 24), layout::ellipsis())
            }
            (Some(k), None) => k.clone(),
            (None, None) => String::new(),
        };
        let sources: Vec<String> = r
            .sources
            .iter()
            .map(|s| match s.line {
                Some(l) => format!("{}:{l} ({})", s.path, s.kind),
                None => format!("{} ({})", s.path, s.kind),
            })
            .collect();
        rows.push(vec![
            format!("{} {}", r.subject.kind, r.subject.name),
            r.provider.clone().unwrap_or_default(),
            r.provider_key_id.clone().unwrap_or_default(),
            key,
            r.state.to_string(),
            sources.join("\n"),
        ]);
    }
    // Narrow terminals lose sources, key, then the provider key_id.
    let mut s = layout::table(&headers, &rows, &[5, 3, 2]);
    let _ = writeln!(
        s,
        "{} reference(s) from {} file(s).",
        out.references.len(),
        out.files_read
    );
    if !out.skipped.is_empty() {
        let parts: Vec<String> = out
            .skipped
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let _ = writeln!(s, "Skipped: {}.", parts.join(", "));
    }
    for i in &out.inputs {
        if let Some(e) = &i.error {
            let _ = writeln!(s, "error [{}]: {}", e.code, e.message);
        }
        for w in &i.warnings {
            let _ = writeln!(s, "warning: {}: {w}", i.path);
        }
    }
    s
}

/// Write a JSON object whose big array (`records`, under `key`) is written one compact record
/// per line, serialised in parallel; the other fields (`head`, `tail`) are written first and
/// last. The result is ordinary JSON, readable and greppable line by line.
pub fn write_json_records<T: Serialize + Sync>(
    out: &mut dyn std::io::Write,
    head: &[(&str, serde_json::Value)],
    key: &str,
    records: &[T],
    tail: &[(&str, serde_json::Value)],
) -> std::io::Result<()> {
    use rayon::prelude::*;
    let field =
        |out: &mut dyn std::io::Write, k: &str, v: &serde_json::Value| -> std::io::Result<()> {
            let pretty = serde_json::to_string_pretty(v)?.replace('\n', "\n  ");
            writeln!(out, "  {}: {pretty},", serde_json::to_string(k)?)?;
            Ok(())
        };
    out.write_all(b"{\n")?;
    for (k, v) in head {
        field(out, k, v)?;
    }

    write!(out, "  {}: [", serde_json::to_string(key)?)?;
    // Groups of chunks: parallel serialisation with bounded memory.
    const CHUNK: usize = 256;
    for (gi, group) in records.chunks(CHUNK * 16).enumerate() {
        let chunks: Vec<Result<Vec<u8>, serde_json::Error>> = group
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(ci, chunk)| {
                let mut buf = Vec::with_capacity(chunk.len() * 600);
                for (i, r) in chunk.iter().enumerate() {
                    let first = gi == 0 && ci == 0 && i == 0;
                    buf.extend_from_slice(if first { b"\n    " } else { b",\n    " });
                    serde_json::to_writer(&mut buf, r)?;
                }
                Ok(buf)
            })
            .collect();
        for c in chunks {
            out.write_all(&c?)?;
        }
    }
    out.write_all(if records.is_empty() { b"]" } else { b"\n  ]" })?;
    for (k, v) in tail {
        out.write_all(b",\n")?;
        let pretty = serde_json::to_string_pretty(v)?.replace('\n', "\n  ");
        write!(out, "  {}: {pretty}", serde_json::to_string(k)?)?;
    }
    out.write_all(b"\n}\n")?;
    out.flush()
}

/// Text for a terminal, with every control character that could move the cursor, erase a
/// line or change colours shown as an escape instead (`\x1b`, `\r`, `\u{9b}`), and the
/// Unicode direction overrides that reorder what is shown. New lines and tabs are kept.
/// Untrusted text (file contents, names, a vault's HEAD) goes through this before it reaches
/// a terminal, so that it cannot print a fake `[PASS]` over a `[FAIL]`.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if c == '\r' {
            out.push_str("\\r");
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One untrusted value (a provider name from a file, a file name) made safe to put inside a
/// line of human output: every control character, newlines included, is shown as an escape.
/// [`terminal_safe`] keeps newlines, because the output around values has them; a value must
/// not, or a crafted name could start a line of its own (a forged `[PASS]`).
pub fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || c == '\n') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = std::fmt::Write::write_fmt(&mut out, format_args!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod terminal_tests {
    use super::{one_line, terminal_safe};

    #[test]
    fn one_line_never_lets_a_value_start_a_line() {
        assert_eq!(one_line("NKP-PROD"), "NKP-PROD");
        assert_eq!(
            one_line("NKP\n[PASS] x\x1b[2J\t"),
            "NKP\\n[PASS] x\\u{1b}[2J\\t"
        );
    }

    #[test]
    fn control_sequences_are_shown_not_obeyed() {
        assert_eq!(terminal_safe("[FAIL] x\n"), "[FAIL] x\n");
        assert_eq!(
            terminal_safe("5 abc\x1b[2K\r[PASS]"),
            "5 abc\\x1b[2K\\r[PASS]"
        );
        assert_eq!(terminal_safe("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert_eq!(terminal_safe("tab\tok"), "tab\tok");
    }
}

#[cfg(test)]
mod yaml_tests {
    use super::quote_yaml_timestamps;

    #[test]
    fn timestamps_are_quoted_outside_block_scalars_only() {
        let v = serde_json::json!({
            "generated_at": "2026-11-30T10:15:02Z",
            "inputs": [{"captured_at": "2026-11-30T10:15:02Z", "path": "a"}],
            "dates": ["2026-01-01", "not 2026-01-01"],
            "note": "line one\n2026-11-30T10:15:02Z stays as typed\n",
        });
        let y = quote_yaml_timestamps(&serde_norway::to_string(&v).expect("yaml"));
        assert!(y.contains("generated_at: '2026-11-30T10:15:02Z'"), "{y}");
        assert!(y.contains("- captured_at: '2026-11-30T10:15:02Z'"), "{y}");
        assert!(y.contains("- '2026-01-01'"), "{y}");
        // Still the same document.
        let back: serde_json::Value = serde_norway::from_str(&y).expect("parse");
        assert_eq!(back, v);
    }

    proptest::proptest! {
        #[test]
        fn quoting_never_changes_the_document(s in "[0-9T:Z -]{0,24}", k in "[a-z]{1,6}") {
            let v = serde_json::json!({ k: &s, "list": [&s] });
            let y = quote_yaml_timestamps(&serde_norway::to_string(&v).expect("yaml"));
            let back: serde_json::Value = serde_norway::from_str(&y).expect("parse");
            proptest::prop_assert_eq!(back, v);
        }
    }
}
