//! `nkp-escrow inspect`: read .p12 backups offline.

use std::io::IsTerminal;

use anyhow::Result;
use rayon::prelude::*;

use crate::cli::{Format, InspectArgs};
use nkp_escrow::inspect::{self as backup, InspectOptions};
use nkp_escrow::model::{InputReport, InspectOutput};
use nkp_escrow::render;
use nkp_pkcs12::Limits;

/// Run `inspect`; returns the exit code.
pub(crate) fn run(args: &InspectArgs, format: Format, quiet: bool) -> Result<i32> {
    let mut passwords = super::gather_passwords(&args.passwords)?;
    let opts = InspectOptions {
        limits: Limits {
            max_iterations: args.max_iterations,
            ..Limits::default()
        },
        max_file_size: args.max_size,
        explain: args.explain,
    };
    // `-` is standard input (a .p12 piped in, or pasted base64): read once, capped.
    let (stdin, paths): (Vec<_>, Vec<_>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| p.as_os_str() == "-");
    let from_stdin = if stdin.is_empty() {
        None
    } else {
        if args.passwords.password_stdin {
            usage!("`inspect -` reads the file from standard input: give passwords with --password-file or --password-env");
        }
        Some(read_stdin(args.max_size)?)
    };
    let backup::Inputs {
        files,
        skipped,
        errors: walk_errors,
        warnings,
    } = backup::collect_inputs(&paths);
    for e in &walk_errors {
        say!("error: {e}");
    }
    if !quiet {
        for w in &warnings {
            say!("warning: {w}");
        }
    }
    let mut reports: Vec<InputReport> = files
        .par_iter()
        .map(|f| backup::inspect_file(f, &passwords, &opts))
        .collect();

    // Files that need a password we were not given: ask once on a terminal, then retry them.
    let needs = |r: &InputReport| {
        r.error
            .as_ref()
            .is_some_and(|e| e.code == nkp_escrow::codes::ErrorCode::PasswordRequired)
    };
    if passwords.is_empty()
        && !args.passwords.no_prompt
        && std::io::stdin().is_terminal()
        && reports.iter().any(needs)
    {
        if let Some(p) = crate::sources::prompt_password("Password for the protected backup(s): ") {
            passwords.push(p);
            for (r, f) in reports.iter_mut().zip(&files) {
                if needs(r) {
                    *r = backup::inspect_file(f, &passwords, &opts);
                }
            }
        }
    }

    if let Some(bytes) = &from_stdin {
        reports.push(backup::inspect_bytes(
            nkp_escrow::evidence::STDIN_NAME,
            bytes,
            &passwords,
            &opts,
        ));
    }
    let failed = reports.iter().any(|r| r.error.is_some()) || !walk_errors.is_empty();
    let out = InspectOutput {
        tool: "nkp-escrow",
        version: env!("CARGO_PKG_VERSION"),
        inputs: reports,
        skipped,
    };
    match format {
        Format::Json => super::print::json("inspect", &out)?,
        Format::Yaml => super::print::yaml("inspect", &out)?,
        Format::Table => super::print::text(&render::inspect_table(&out, args.explain))?,
    }
    Ok(if failed {
        nkp_escrow::exit::INPUT
    } else {
        nkp_escrow::exit::OK
    })
}

/// Standard input, whole, up to `max` bytes (a backup is sensitive: zeroized).
pub(crate) fn read_stdin(max: u64) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin()
        .lock()
        .take(max.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| anyhow::anyhow!("standard input: cannot read: {e}"))?;
    if buf.len() as u64 > max {
        anyhow::bail!(
            "standard input: more than {max} bytes (raise --max-size if this is really a backup)"
        );
    }
    Ok(buf)
}
