//! The shape the architecture promises, checked on the source so it cannot drift:
//!
//! - no import cycle between the top-level modules of any crate of the workspace (a module
//!   and its own submodules may refer to each other; two top-level modules may not, in both
//!   directions, directly or through others);
//! - the command-line modules (`cli`, `commands`, password sources) belong to the binary and
//!   are not modules of the library;
//! - the PKCS#12 crate knows nothing of NKP.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Top-level modules declared by a crate root (`mod x;` / `pub mod x;`).
fn declared(root: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root).expect("read crate root");
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            // `#[cfg(..)] mod x;` on one line counts too.
            let l = l.rsplit(']').next().unwrap_or(l).trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("pub(super) mod "))?;
            rest.strip_suffix(';').map(str::to_string)
        })
        .collect()
}

/// Which top-level module a file belongs to (`src/evidence/json.rs` -> `evidence`).
fn owner(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    Some(first.trim_end_matches(".rs").to_string())
}

/// A line without its `//` comment (a `//` inside a string literal, as in a URL, is kept).
fn strip_comment(line: &str) -> &str {
    let mut in_str = false;
    let mut prev = '\0';
    for (i, c) in line.char_indices() {
        match c {
            '"' if prev != '\\' => in_str = !in_str,
            '/' if !in_str && prev == '/' => return &line[..i - 1],
            _ => {}
        }
        prev = c;
    }
    line
}

fn ident(s: &str) -> String {
    s.trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The first path segment of every item of a `use` group body (`a::x, b::{c, d}, e`), at the
/// group's own level only.
fn group_heads(body: &str, out: &mut BTreeSet<String>) {
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.insert(ident(&body[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.insert(ident(&body[start..]));
    out.remove("");
}

/// The top-level modules a file names: through `crate::` (plain paths and `use` groups, nested
/// groups included) and, from a file `depth` modules below the crate root, through as many
/// `super::` as reach the root.
fn references(text: &str, depth: usize) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code: String = text
        .lines()
        .map(strip_comment)
        .collect::<Vec<_>>()
        .join("\n");
    let mut prefixes = vec!["crate::".to_string()];
    if depth > 0 {
        prefixes.push("super::".repeat(depth));
    }
    for prefix in &prefixes {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(prefix.as_str()) {
            // `super::super::` must not be counted again as a shorter `super::` run.
            let before = &rest[..i];
            rest = &rest[i + prefix.len()..];
            if prefix.starts_with("super")
                && (before.ends_with("super::") || rest.starts_with("super::"))
            {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 1;
                let end = group
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map_or(group.len(), |(i, _)| i);
                group_heads(&group[..end], &mut out);
            } else {
                let name = ident(rest);
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// The module graph of one crate: top-level module -> top-level modules it uses.
fn graph(krate: &Path, root: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = krate.join("src");
    let modules = declared(&src.join(root));
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let Some(m) = owner(&src, &f) else { continue };
        if !modules.contains(&m) {
            continue; // the crate root itself, or a file of another target (the binary)
        }
        let text = std::fs::read_to_string(&f).expect("read source");
        // How many modules below the crate root this file is: src/a.rs and src/a/mod.rs are 1,
        // src/a/b.rs is 2.
        let rel = f.strip_prefix(&src).expect("under src");
        let parts = rel.components().count();
        let depth = if f.file_name().is_some_and(|n| n == "mod.rs") {
            parts - 1
        } else {
            parts
        };
        let uses: Vec<String> = references(&text, depth)
            .into_iter()
            .filter(|r| r != &m && modules.contains(r))
            .collect();
        g.entry(m).or_default().extend(uses);
    }
    g
}

/// A cycle in `g`, if there is one (depth-first search).
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut c = stack[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_module_cycles_in_any_crate() {
    for (krate, root) in [(".", "lib.rs"), ("pkcs12", "lib.rs"), ("vault", "lib.rs")] {
        let g = graph(&workspace().join(krate), root);
        assert!(!g.is_empty(), "{krate}: no modules found");
        if let Some(c) = cycle(&g) {
            panic!("{krate}: import cycle {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        references(
            "use crate::{model::X, nkp};\nlet y = crate::render::f(); // crate::evidence",
            1
        ),
        BTreeSet::from(["model".into(), "nkp".into(), "render".into()])
    );
    // Nested groups, paths through `super::` from a submodule, URLs in strings.
    assert_eq!(
        references(
            "use crate::{a::{b, c}, d};\nuse super::super::e::F;\nlet u = \"https://x\"; crate::g::h();",
            2
        ),
        BTreeSet::from(["a".into(), "d".into(), "e".into(), "g".into()])
    );
}

#[test]
fn the_command_line_is_private_to_the_binary() {
    let lib = declared(&workspace().join("src/lib.rs"));
    for m in ["cli", "commands", "sources"] {
        assert!(!lib.contains(m), "`{m}` is a module of the library");
    }
    let bin = declared(&workspace().join("src/main.rs"));
    for m in ["cli", "commands", "sources"] {
        assert!(bin.contains(m), "`{m}` is not a module of the binary");
    }
}

#[test]
fn the_pkcs12_crate_knows_nothing_of_nkp() {
    let mut files = Vec::new();
    rust_files(&workspace().join("pkcs12/src"), &mut files);
    files.push(workspace().join("pkcs12/Cargo.toml"));
    for f in files {
        let text = std::fs::read_to_string(&f)
            .expect("read")
            .to_ascii_lowercase();
        for word in ["nkp", "kdk", "native key provider", "vsphere", "vcenter"] {
            assert!(
                !text.contains(word) || (word == "nkp" && only_crate_name(&text)),
                "{} mentions {word}",
                f.display()
            );
        }
    }
}

/// `nkp-pkcs12` / `nkp_pkcs12` (the crate's own name) is the only allowed use of "nkp".
fn only_crate_name(text: &str) -> bool {
    text.replace("nkp-pkcs12", "")
        .replace("nkp_pkcs12", "")
        .find("nkp")
        .is_none()
}
