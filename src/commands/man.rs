//! `nkp-escrow man DIR`: man pages for every command, from the clap definitions (clap_mangen),
//! with the exit codes and environment variables as sections of their own.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, EXIT_STATUS};

/// The EXIT STATUS and ENVIRONMENT sections in roff, from the text `--help` shows.
fn roff_sections() -> String {
    let mut out = String::new();
    for block in EXIT_STATUS.split("\n\n") {
        let mut lines = block.lines();
        let Some(title) = lines.next() else { continue };
        out.push_str(&format!(".SH \"{}\"\n", title.trim_end_matches(':')));
        let mut item: Option<(String, String)> = None;
        let flush = |out: &mut String, item: &mut Option<(String, String)>| {
            if let Some((tag, text)) = item.take() {
                out.push_str(&format!(".TP\n\\fB{tag}\\fR\n{}\n", escape(text.trim())));
            }
        };
        for line in lines {
            let t = line.trim_start();
            let indent = line.len() - t.len();
            match t.split_once("  ") {
                Some((tag, text)) if indent <= 2 && !tag.contains(' ') => {
                    flush(&mut out, &mut item);
                    item = Some((tag.to_string(), text.trim().to_string()));
                }
                _ => {
                    if let Some((_, text)) = &mut item {
                        text.push(' ');
                        text.push_str(t);
                    }
                }
            }
        }
        flush(&mut out, &mut item);
    }
    out
}

/// roff text: a leading `.` or `'` would be a request; backslashes are escapes.
fn escape(s: &str) -> String {
    let s = s.replace('\\', "\\e");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

fn render(cmd: &clap::Command) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut buf)?;
    }
    buf.extend_from_slice(roff_sections().as_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut buf)?;
    }
    Ok(buf)
}

/// Every command and subcommand, depth first, built (so names read `nkp-escrow-vault-add`).
fn all(cmd: &clap::Command, out: &mut Vec<clap::Command>) {
    out.push(cmd.clone());
    for s in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        all(s, out);
    }
}

/// Write the pages into `dir`, each through a temporary file and a rename (never half a page).
pub(crate) fn write_pages(dir: &Path, quiet: bool) -> Result<i32> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut cmds = Vec::new();
    all(&cmd, &mut cmds);
    let mut written = Vec::new();
    for c in &cmds {
        let name = clap_mangen::Man::new(c.clone()).get_filename();
        let page = render(c)?;
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&page)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(name);
    }
    if !quiet {
        say!("{} man pages written to {}", written.len(), dir.display());
    }
    Ok(nkp_escrow::exit::OK)
}
