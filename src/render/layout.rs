//! Human output that fits the terminal: tables drop their least useful columns (named in a note)
//! before they would wrap, cells wrap only between words (never inside an identifier), prose wraps
//! at words with a hanging indent, `-` is the one marker for a missing value, and box-drawing is
//! replaced by ASCII for `TERM=dumb` or on request.
//!
//! The layout is process-wide: the command line sets it once ([`set`]) from the terminal's width,
//! `$COLUMNS`, `--wide` and `--ascii`; the default is 80 columns with box-drawing.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use comfy_table::{presets, ColumnConstraint, ContentArrangement, Table, Width};

/// The marker for a missing value in human output.
pub const MISSING: &str = "-";

static WIDTH: AtomicUsize = AtomicUsize::new(80);
static ASCII: AtomicBool = AtomicBool::new(false);

/// Set the width (`None`: unlimited, `--wide`) and whether to use ASCII instead of box-drawing.
pub fn set(width: Option<usize>, ascii: bool) {
    WIDTH.store(width.unwrap_or(usize::MAX).max(20), Ordering::Relaxed);
    ASCII.store(ascii, Ordering::Relaxed);
}

/// The width human output must fit (`usize::MAX` when unlimited).
pub fn width() -> usize {
    WIDTH.load(Ordering::Relaxed)
}

/// True when box-drawing is off.
pub fn ascii() -> bool {
    ASCII.load(Ordering::Relaxed)
}

/// The mark of an abbreviation: `…`, or `...` in ASCII mode (`TERM=dumb`, `--ascii`).
pub fn ellipsis() -> &'static str {
    if ascii() {
        "..."
    } else {
        "\u{2026}"
    }
}

fn cols(s: &str) -> usize {
    s.chars().count()
}

/// A table that fits [`width`]: columns in `drop_order` are left out, in that order, while the
/// table would be wider than the terminal (a note under it names them); what remains wraps
/// between words only, each column at least as wide as its longest word.
pub fn table(headers: &[&str], rows: &[Vec<String>], drop_order: &[usize]) -> String {
    table_in(headers, rows, drop_order, width(), ascii())
}

fn table_in(
    headers: &[&str],
    rows: &[Vec<String>],
    drop_order: &[usize],
    width: usize,
    ascii: bool,
) -> String {
    let natural = |keep: &[usize]| -> usize {
        keep.iter()
            .map(|&c| {
                rows.iter()
                    .filter_map(|r| r.get(c))
                    .flat_map(|cell| cell.lines())
                    .map(cols)
                    .chain(std::iter::once(cols(headers[c])))
                    .max()
                    .unwrap_or(0)
                    + 3
            })
            .sum::<usize>()
            + 1
    };
    let longest_word = |c: usize| -> usize {
        rows.iter()
            .filter_map(|r| r.get(c))
            .flat_map(|cell| cell.split_whitespace())
            .chain(headers[c].split_whitespace())
            .map(cols)
            .max()
            .unwrap_or(1)
    };
    let mut keep: Vec<usize> = (0..headers.len()).collect();
    let mut dropped = Vec::new();
    for &d in drop_order {
        if natural(&keep) <= width {
            break;
        }
        keep.retain(|&c| c != d);
        dropped.push(headers[d]);
    }
    // Even wrapped between words the table would not fit: one record per row instead.
    let narrowest: usize = keep.iter().map(|&c| longest_word(c) + 3).sum::<usize>() + 1;
    if narrowest > width {
        return records(headers, rows, width);
    }
    let mut t = Table::new();
    t.load_preset(if ascii {
        presets::ASCII_FULL_CONDENSED
    } else {
        presets::UTF8_FULL_CONDENSED
    });
    if width != usize::MAX {
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(width).unwrap_or(u16::MAX));
    }
    t.set_header(keep.iter().map(|&c| headers[c]).collect::<Vec<_>>());
    for r in rows {
        t.add_row(
            keep.iter()
                .map(|&c| {
                    let v = r.get(c).map(String::as_str).unwrap_or("");
                    if v.is_empty() { MISSING } else { v }.to_string()
                })
                .collect::<Vec<_>>(),
        );
    }
    // Never split a word: each column is at least as wide as its longest word.
    let constraints: Vec<ColumnConstraint> = keep
        .iter()
        .map(|&c| {
            ColumnConstraint::LowerBoundary(Width::Fixed(
                u16::try_from(longest_word(c) + 2).unwrap_or(u16::MAX),
            ))
        })
        .collect();
    t.set_constraints(constraints);
    let mut s = t.to_string();
    s.push('\n');
    if !dropped.is_empty() {
        s.push_str(&format!(
            "(not shown to fit {width} columns: {}; --wide shows every column)\n",
            dropped.join(", ")
        ));
    }
    s
}

/// Rows as records, for terminals too narrow for the table: the first column on a line of its
/// own, then `header: value` for each other column that has a value, wrapped at words.
fn records(headers: &[&str], rows: &[Vec<String>], width: usize) -> String {
    let mut s = String::new();
    for r in rows {
        let first = r.first().map(String::as_str).unwrap_or(MISSING);
        s.push_str(&wrap_to(&format!("{}\n", first.replace('\n', " ")), width));
        for (h, v) in headers.iter().zip(r.iter()).skip(1) {
            if v.is_empty() {
                continue;
            }
            let v = v.replace('\n', ", ");
            s.push_str(&wrap_to(&format!("  {h}: {v}\n"), width));
        }
    }
    s
}

/// True for a line that belongs to a table (it starts with a border character).
fn table_line(line: &str) -> bool {
    let c = line.trim_start().chars().next();
    matches!(c, Some('\u{2500}'..='\u{257f}'))
        || (matches!(c, Some('+' | '|')) && line.trim_end().ends_with(['+', '|']))
}

/// Wrap prose to [`width`] at spaces, with a hanging indent (the line's own indentation, plus
/// the width of a leading `- `, `1. ` or `[PASS] ` marker). Table lines and words longer than the
/// width are left whole.
pub fn wrap(text: &str) -> String {
    wrap_to(text, width())
}

fn wrap_to(text: &str, width: usize) -> String {
    if width == usize::MAX {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        if cols(body) <= width || table_line(body) {
            out.push_str(line);
            continue;
        }
        let indent = body.len() - body.trim_start().len();
        let rest = &body[indent..];
        let marker = marker_len(rest);
        let hang = " ".repeat((indent + marker).min(width / 2));
        let mut current = String::from(&body[..indent]);
        let mut current_cols = indent;
        let mut has_word = false;
        for word in rest.split(' ') {
            let w = cols(word);
            if has_word && current_cols + 1 + w > width {
                out.push_str(current.trim_end());
                out.push('\n');
                current.clone_from(&hang);
                current_cols = hang.len();
                has_word = false;
            }
            if has_word {
                current.push(' ');
                current_cols += 1;
            }
            current.push_str(word);
            current_cols += w;
            has_word = true;
        }
        out.push_str(current.trim_end());
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The width of a leading list or result marker: `- `, `* `, `12. `, `[PASS] `, `error: `.
fn marker_len(s: &str) -> usize {
    if s.starts_with("- ") || s.starts_with("* ") {
        return 2;
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && s[digits..].starts_with(". ") {
        return digits + 2;
    }
    if s.starts_with('[') {
        if let Some(end) = s.find("] ") {
            if end < 16 {
                return end + 2;
            }
        }
    }
    for p in ["error: ", "warning: ", "note: "] {
        if s.starts_with(p) {
            return p.len();
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_wraps_at_words_with_a_hanging_indent() {
        let w = wrap_to(
            "[FAIL] NKP-UNCOVERED: no backup of provider NKP-DATA was found in scope vc01\n",
            40,
        );
        for l in w.lines() {
            assert!(cols(l) <= 40, "{l:?}");
        }
        assert!(
            w.lines().nth(1).is_some_and(|l| l.starts_with("       ")),
            "{w}"
        );
        assert_eq!(
            w.split_whitespace().collect::<Vec<_>>().join(" "),
            "[FAIL] NKP-UNCOVERED: no backup of provider NKP-DATA was found in scope vc01"
        );
        // A word longer than the width is kept whole.
        let long = "x".repeat(60);
        assert!(wrap_to(&format!("a {long} b\n"), 40).contains(&long));
        assert_eq!(wrap_to("a b c", usize::MAX), "a b c");
    }

    #[test]
    fn tables_drop_columns_to_fit_and_never_split_an_id() {
        let id = "648c5a1b-03c6-4694-a11c-89a63cc86f4f".to_string();
        let rows = vec![vec![
            "NKP-PROD".to_string(),
            id.clone(),
            "a long list of sources here".into(),
            String::new(),
        ]];
        let t = table_in(
            &["provider", "key_id", "sources", "note"],
            &rows,
            &[2, 3],
            60,
            true,
        );
        assert!(t.contains(&id), "{t}");
        assert!(t.contains("not shown to fit 60 columns: sources"), "{t}");
        assert!(
            t.lines().all(|l| cols(l) <= 60 || l.starts_with('(')),
            "{t}"
        );
        assert!(t.starts_with('+'), "ASCII when asked: {t}");
        assert!(t.contains(" - "), "one marker for a missing value: {t}");
    }
}
