//! The `nkp-escrow` binary: parse arguments, run one command, map the outcome to an exit code.
#![forbid(unsafe_code)]
// The binary is the one place that prints: the library returns values and writes to a given `Write`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use clap::Parser;

mod cli;
mod commands;
mod sources;

/// mimalloc: the evidence scan allocates many small records on several threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let problems = sources::harden_process();
    let cli = cli::Cli::parse();
    if !cli.quiet {
        for p in problems {
            eprintln!("warning: {p}");
        }
    }
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`| head`) is not an error worth reporting.
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                nkp_escrow::exit::OK
            } else {
                let message = format!("{e:#}");
                eprintln!("error: {}", nkp_escrow::render::terminal_safe(&message));
                // A usage error is 2; anything else stopped on an input (a file, a key, a
                // vault) that could not be processed: 1.
                if e.downcast_ref::<commands::Usage>().is_some() {
                    nkp_escrow::exit::USAGE
                } else {
                    nkp_escrow::exit::INPUT
                }
            }
        }
    };
    std::process::exit(code);
}
