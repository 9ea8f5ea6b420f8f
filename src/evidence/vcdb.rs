//! VCDB `psql` output of `vpx_host`: aligned (the default), unaligned (`-A`, `|`-separated)
//! and expanded (`\x`, `-[ RECORD n ]-` blocks). Columns are found by name, never by position;
//! alignment broken by copy-paste does not matter (cells are split on `|` and trimmed); a row
//! wrapped over several lines is joined until it has as many cells as the header.
//!
//! KNOWN columns: `id, dns_name, ip_address, crypto_state, crypto_key_id,
//! crypto_key_provider_id, crypto_enable`. INFERRED: `crypto_state` 2 = safe, 0 = no key.

use std::collections::HashMap;

use super::text::Line;
use super::Collector;
use super::{Seen, State, Subject};

/// Most lines one wrapped row may span.
const MAX_WRAP: usize = 8;

fn cells(s: &str) -> Vec<String> {
    s.split('|').map(|c| c.trim().to_string()).collect()
}

fn is_rule(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && t.chars().all(|c| c == '-' || c == '+')
}

fn is_footer(s: &str) -> bool {
    let t = s.trim();
    t.starts_with('(') && (t.ends_with(" rows)") || t.ends_with(" row)"))
}

/// Read every `vpx_host` table (or expanded record) in the text.
pub fn scan(lines: &[Line<'_>], c: &mut Collector) {
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].text;
        if t.trim_start().starts_with("-[ RECORD") || t.trim_start().starts_with("-[RECORD") {
            i = expanded(lines, i, c);
            continue;
        }
        if !lines[i].is_prompt && t.contains('|') && t.contains("crypto_key_id") {
            i = table(lines, i, c);
            continue;
        }
        i += 1;
    }
}

fn table(lines: &[Line<'_>], start: usize, c: &mut Collector) -> usize {
    let header = cells(lines[start].text);
    let n = header.len();
    let mut i = start + 1;
    while i < lines.len() {
        let l = &lines[i];
        let t = l.text;
        if l.is_prompt || t.trim().is_empty() || is_footer(t) {
            break;
        }
        if is_rule(t) {
            i += 1;
            continue;
        }
        // Join wrapped continuation lines until the row has all its cells.
        let mut row = t.to_string();
        let first_line = l.no;
        let mut used = 1;
        // At most a few continuation lines: a copy-paste wrap, not a whole table.
        let mut pipes = row.matches('|').count();
        while pipes + 1 < n && used <= MAX_WRAP && i + used < lines.len() {
            let next = &lines[i + used];
            if next.is_prompt || next.text.trim().is_empty() || is_footer(next.text) {
                break;
            }
            row.push_str(next.text.trim());
            pipes += next.text.matches('|').count();
            used += 1;
        }
        let vals = cells(&row);
        if vals.len() == n {
            let map: HashMap<&str, &str> = header
                .iter()
                .map(String::as_str)
                .zip(vals.iter().map(String::as_str))
                .collect();
            record(&map, first_line, l.host, c);
        } else {
            c.warn(format!(
                "line {first_line}: VCDB row has {} cells, the header has {n}; skipped",
                vals.len()
            ));
        }
        i += used;
    }
    i
}

fn expanded(lines: &[Line<'_>], start: usize, c: &mut Collector) -> usize {
    let mut map: HashMap<String, String> = HashMap::new();
    let first_line = lines[start].no;
    let mut i = start + 1;
    while i < lines.len() {
        let t = lines[i].text;
        let ts = t.trim_start();
        if lines[i].is_prompt || ts.is_empty() || ts.starts_with("-[") || is_footer(t) {
            break;
        }
        if let Some((k, v)) = t.split_once('|') {
            map.insert(k.trim().to_string(), v.trim().to_string());
        }
        i += 1;
    }
    if map.contains_key("crypto_key_id") {
        let m: HashMap<&str, &str> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        record(&m, first_line, lines[start].host, c);
    }
    i
}

fn record(m: &HashMap<&str, &str>, line: usize, host: Option<&str>, c: &mut Collector) {
    let get = |k: &str| m.get(k).copied().filter(|v| !v.is_empty());
    let key = get("crypto_key_id");
    let provider = get("crypto_key_provider_id");
    if key.is_none() && provider.is_none() {
        return;
    }
    let name = get("dns_name")
        .or_else(|| get("ip_address"))
        .map(String::from)
        .or_else(|| get("id").map(|id| format!("vpx_host id {id}")))
        .unwrap_or_else(|| "(unnamed host)".into());
    let mut details = Vec::new();
    for col in ["crypto_state", "crypto_enable", "id"] {
        if let Some(v) = get(col) {
            details.push(format!("{col} {v}").into());
        }
    }
    let state = if key.is_some() {
        State::HostKey
    } else {
        State::NoHostKey
    };
    c.add(Seen {
        kind: "vcdb",
        line: Some(line),
        subject: Subject { kind: "host", name },
        provider: provider.map(String::from),
        provider_key_id: None,
        key: key.map(String::from),
        host,
        state,
        details,
    });
}
