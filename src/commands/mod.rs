//! One module per subcommand: glue between the CLI, the parsers and the renderers.

/// `eprintln!` for messages that may quote untrusted text (file names, provider names, labels,
/// errors from parsers): control characters reach the terminal as visible escapes.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", nkp_escrow::render::terminal_safe(&format!($($arg)*)))
    };
}

pub(crate) mod demo;
pub(crate) mod evidence;
pub(crate) mod inspect;
pub(crate) mod join;
pub(crate) mod vault;

use std::io::IsTerminal;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, Format, PasswordArgs};
use nkp_escrow::secret::Password;

/// Run the parsed command line; returns the exit code.
pub(crate) fn run(cli: Cli) -> Result<i32> {
    let format = cli.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    match cli.command {
        Command::Inspect(args) => inspect::run(&args, format, cli.quiet),
        Command::Evidence(args) => evidence::run(&args, format, cli.quiet),
        Command::Resolve(args) => join::resolve(&args, format),
        Command::Coverage(args) => join::coverage(&args, format),
        Command::Report(args) => join::report(&args, cli.quiet),
        Command::Vault(cmd) => vault::run(cmd, format, cli.quiet),
        Command::Demo => demo::run(cli.format.unwrap_or(Format::Table), cli.quiet),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "nkp-escrow", &mut std::io::stdout());
            Ok(nkp_escrow::exit::OK)
        }
    }
}

/// Gather passwords from every source given, in order: files, environment, stdin.
pub(crate) fn gather_passwords(args: &PasswordArgs) -> Result<Vec<Password>> {
    let mut out = Vec::new();
    for f in &args.password_file {
        out.extend(
            crate::sources::read_password_file(f)
                .with_context(|| format!("cannot read password file {}", f.display()))?,
        );
    }
    for v in &args.password_env {
        out.push(crate::sources::password_from_env(v).map_err(anyhow::Error::msg)?);
    }
    if args.password_stdin {
        out.extend(
            crate::sources::passwords_from_stdin().context("cannot read passwords from stdin")?,
        );
    }
    Ok(out)
}

/// Standard output for the renderers: buffered (stdout is line-buffered, and pretty JSON would
/// cost a syscall per line), flushed at the end, a closed pipe returned as an error.
pub(crate) mod print {
    use std::io::Write;

    fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
        std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
    }

    pub(crate) fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
        let mut out = stdout();
        nkp_escrow::render::write_json(&mut out, v)?;
        Ok(out.flush()?)
    }

    pub(crate) fn yaml<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
        let mut out = stdout();
        nkp_escrow::render::write_yaml(&mut out, v)?;
        Ok(out.flush()?)
    }

    /// Human text: every control sequence that untrusted parts of it might carry is shown
    /// as an escape, never obeyed by the terminal.
    pub(crate) fn text(s: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(nkp_escrow::render::terminal_safe(s).as_bytes())?;
        Ok(out.flush()?)
    }

    pub(crate) fn json_records<T: serde::Serialize + Sync>(
        head: &[(&str, serde_json::Value)],
        key: &str,
        records: &[T],
        tail: &[(&str, serde_json::Value)],
    ) -> anyhow::Result<()> {
        let mut out = stdout();
        nkp_escrow::render::write_json_records(&mut out, head, key, records, tail)?;
        Ok(out.flush()?)
    }
}
