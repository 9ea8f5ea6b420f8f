//! One module per subcommand: glue between the CLI, the parsers and the renderers.

/// `eprintln!` for messages that may quote untrusted text (file names, provider names, labels,
/// errors from parsers): control characters reach the terminal as visible escapes.
macro_rules! say {
    ($($arg:tt)*) => {{
        let line = format!(
            "{}\n",
            nkp_escrow::render::terminal_safe(&format!($($arg)*))
        );
        // Wrapped for a person at a terminal (or for an explicit $COLUMNS); one line per
        // message in a log.
        if $crate::commands::WRAP_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
            eprint!("{}", nkp_escrow::render::layout::wrap(&line));
        } else {
            eprint!("{line}");
        }
    }};
}

/// A usage error (exit 2): the command line must change, no input was at fault.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::commands::Usage(format!($($arg)*))))
    };
}

/// Whether `say!` wraps: standard error is a terminal or `$COLUMNS` is set (and not `--wide`).
pub(crate) static WRAP_STDERR: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The error type of [`usage!`]: `main` maps it to exit code 2; every other error is an input
/// that could not be processed (exit code 1).
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub(crate) mod demo;
pub(crate) mod evidence;
pub(crate) mod inspect;
pub(crate) mod join;
pub(crate) mod man;
pub(crate) mod report;
pub(crate) mod vault;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, Format, PasswordArgs};
use nkp_escrow::secret::Password;

/// Run the parsed command line; returns the exit code.
pub(crate) fn run(cli: Cli) -> Result<i32> {
    // Human output by default, also when piped (as ripgrep, gh and govc do): JSON and YAML
    // only when asked for.
    let format = cli.format.unwrap_or(Format::Table);
    WRAP_STDERR.store(
        !cli.wide
            && (std::io::IsTerminal::is_terminal(&std::io::stderr())
                || std::env::var_os("COLUMNS").is_some()),
        std::sync::atomic::Ordering::Relaxed,
    );
    nkp_escrow::render::layout::set(
        (!cli.wide).then(terminal_width),
        cli.ascii || std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
    );
    match cli.command {
        Command::Inspect(args) => inspect::run(&args, format, cli.quiet),
        Command::Evidence(args) => evidence::run(&args, format, cli.quiet),
        Command::Resolve(args) => join::resolve(&args, format),
        Command::Coverage(args) => join::coverage(&args, format),
        Command::Report(args) => report::run(&args, format, cli.quiet),
        Command::Vault(cmd) => vault::run(cmd, format, cli.quiet),
        Command::Demo => demo::run(cli.format.unwrap_or(Format::Table), cli.quiet),
        Command::Man { dir } => man::write_pages(&dir, cli.quiet),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Into memory first: clap_complete panics on a closed pipe (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "nkp-escrow", &mut script);
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, &script)?;
            std::io::Write::flush(&mut out)?;
            Ok(nkp_escrow::exit::OK)
        }
    }
}

/// The width to fit: the terminal's (standard output, else standard error), else `$COLUMNS`,
/// else 80.
fn terminal_width() -> usize {
    let tty = |fd: std::os::fd::BorrowedFd<'_>| {
        rustix::termios::tcgetwinsize(fd)
            .ok()
            .map(|w| usize::from(w.ws_col))
            .filter(|w| *w > 0)
    };
    tty(rustix::stdio::stdout())
        .or_else(|| tty(rustix::stdio::stderr()))
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse().ok())
                .filter(|w| *w > 0)
        })
        .unwrap_or(80)
}

/// The operating-system user (`name (uid N)`) and host name, as the system reports them: a
/// record for reports and the vault's access log, not an authentication.
pub(crate) fn who() -> (String, String) {
    let uid = rustix::process::getuid().as_raw();
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    let user = if name.is_empty() {
        format!("uid {uid}")
    } else {
        format!("{} (uid {uid})", nkp_escrow::render::one_line(&name))
    };
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    (user, nkp_escrow::render::one_line(&host).into_owned())
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

    /// The same envelope on every JSON and YAML document: `tool`, `version` and `kind` (what
    /// document it is: `inspect`, `evidence`, `resolve`, `coverage`, `report`, `vault-list`,
    /// ...), then the document's own fields.
    pub(crate) fn envelope<T: serde::Serialize>(
        kind: &str,
        v: &T,
    ) -> anyhow::Result<serde_json::Value> {
        use serde_json::Value;
        let mut m = serde_json::Map::new();
        m.insert("tool".into(), Value::from("nkp-escrow"));
        m.insert("version".into(), Value::from(env!("CARGO_PKG_VERSION")));
        m.insert("kind".into(), Value::from(kind));
        match serde_json::to_value(v)? {
            Value::Object(o) => {
                for (k, x) in o {
                    if !matches!(k.as_str(), "tool" | "version" | "kind") {
                        m.insert(k, x);
                    }
                }
            }
            other => {
                m.insert("data".into(), other);
            }
        }
        Ok(Value::Object(m))
    }

    pub(crate) fn json<T: serde::Serialize>(kind: &str, v: &T) -> anyhow::Result<()> {
        let doc = envelope(kind, v)?;
        let mut out = stdout();
        nkp_escrow::render::write_json(&mut out, &doc)?;
        Ok(out.flush()?)
    }

    pub(crate) fn yaml<T: serde::Serialize>(kind: &str, v: &T) -> anyhow::Result<()> {
        let doc = envelope(kind, v)?;
        let mut out = stdout();
        nkp_escrow::render::write_yaml(&mut out, &doc)?;
        Ok(out.flush()?)
    }

    /// Human text: every control sequence that untrusted parts of it might carry is shown
    /// as an escape, never obeyed by the terminal.
    pub(crate) fn text(s: &str) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        let safe = nkp_escrow::render::terminal_safe(s);
        out.write_all(nkp_escrow::render::layout::wrap(&safe).as_bytes())?;
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
