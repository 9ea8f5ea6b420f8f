//! The `nkp-escrow` binary: parse arguments, run one command, map the outcome to an exit code.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() {
    let problems = nkp_escrow::secret::harden_process();
    let cli = nkp_escrow::cli::Cli::parse();
    if !cli.quiet {
        for p in problems {
            eprintln!("warning: {p}");
        }
    }
    let code = match nkp_escrow::commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            nkp_escrow::exit::USAGE
        }
    };
    std::process::exit(code);
}
