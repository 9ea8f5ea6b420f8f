//! One module per subcommand: glue between the CLI, the parsers and the renderers.

pub mod demo;
pub mod evidence;
pub mod inspect;
pub mod join;
pub mod vault;

use std::io::IsTerminal;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, Format, PasswordArgs};
use crate::secret::{self, Password};

/// Run the parsed command line; returns the exit code.
pub fn run(cli: Cli) -> Result<i32> {
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
            Ok(crate::exit::OK)
        }
    }
}

/// Gather passwords from every source given, in order: files, environment, stdin.
pub fn gather_passwords(args: &PasswordArgs) -> Result<Vec<Password>> {
    let mut out = Vec::new();
    for f in &args.password_file {
        out.extend(
            secret::read_password_file(f)
                .with_context(|| format!("cannot read password file {}", f.display()))?,
        );
    }
    for v in &args.password_env {
        out.push(secret::password_from_env(v).map_err(anyhow::Error::msg)?);
    }
    if args.password_stdin {
        out.extend(secret::passwords_from_stdin().context("cannot read passwords from stdin")?);
    }
    Ok(out)
}
