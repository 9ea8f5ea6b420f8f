//! The `nkp-escrow` binary: parse arguments, run one command, map the outcome to an exit code.
#![forbid(unsafe_code)]

use clap::Parser;

/// mimalloc: the evidence scan allocates many small records on several threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            // A closed pipe (`| head`) is not an error worth reporting.
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                nkp_escrow::exit::OK
            } else {
                eprintln!("error: {e:#}");
                nkp_escrow::exit::USAGE
            }
        }
    };
    std::process::exit(code);
}
