//! Command-line definitions (clap). No logic here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Offline reader, escrow vault and evidence tool for VMware vSphere Native Key Provider
/// backups. Nothing is sent anywhere; secrets are never printed.
#[derive(Debug, Parser)]
#[command(name = "nkp-escrow", version, about, long_about = None, after_help = EXIT_STATUS)]
pub(crate) struct Cli {
    /// Output format: human text (the default, also when piped), or a JSON or YAML document.
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// Print only results and errors (no warnings, no narration).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Show every table column and never wrap (default: fit the terminal's width, or
    /// $COLUMNS, or 80 columns when not on a terminal).
    #[arg(long, global = true)]
    pub wide: bool,
    /// Draw tables with ASCII instead of box-drawing characters (also when TERM=dumb).
    #[arg(long, global = true)]
    pub ascii: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The exit codes, shown at the end of `--help` (and as sections of the man pages).
pub(crate) const EXIT_STATUS: &str = "EXIT STATUS:
  0  done, and nothing wrong was found
  1  an input could not be processed (missing path, unreadable or unopened file, wrong
     password, a vault that does not verify) or a named subject does not exist; the other
     inputs are still reported, and no report control passes
  2  usage error: an unknown option, a missing or bad argument, an output that exists
     (the command line must change)
  3  the check ran and found a problem (coverage gap, vault verification failure, no
     backup restores the VM, a failed report control, a report that does not verify, a
     finding at or above --fail-on)

ENVIRONMENT:
  NKP_ESCROW_VAULT     the vault folder when --vault is not given (every command that takes
                       one)
  NKP_ESCROW_IDENTITY  the custodian's identity file when --identity is not given (vault
                       restore, vault drill)
  COLUMNS              the width human output fits when it is not on a terminal (default 80)
  TERM                 TERM=dumb draws tables in ASCII";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A human table.
    Table,
    /// JSON (stable field names).
    Json,
    /// YAML (same fields as JSON).
    Yaml,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Open NKP .p12 backups offline and list providers, key IDs and protection.
    ///
    /// PATHs are files or folders (walked recursively). Files are recognised by content, not
    /// by name: inside folders, files that are not PKCS#12 are skipped (and counted) unless
    /// they are named .p12/.pfx. Exit code 1 when any input could not be read.
    Inspect(InspectArgs),
    /// Read live key references from VMs, disks, hosts, the VCDB and API output.
    ///
    /// PATHs are files or folders (a copied datastore tree, a folder of saved command
    /// outputs, a ticket text). Sources are recognised by content: .vmx (encryption.keySafe),
    /// .vmdk descriptors and monolithic sparse extents (encryptionKeys; only the embedded
    /// descriptor is read), ConfigStore kms_providers / host_encryption_key, crypto-util
    /// output, psql output of vpx_host (aligned, -A, \x), govc kms.ls / vm.info -json, vCenter
    /// REST provider JSON, PowerCLI JSON. Binary and unrelated files are skipped and counted.
    /// Exit code 1 when a file could not be read.
    Evidence(EvidenceArgs),
    /// Which backup restores this locked VM / host? Joins live evidence with backups (.p12
    /// files, the vault) and gives a verdict and recovery steps per subject. Exit 3 when a
    /// subject asked for has no restorable or probable backup.
    Resolve(ResolveArgs),
    /// Are we covered? Every provider the evidence mentions, with its backups and findings.
    /// Exit 3 on any gap.
    Coverage(CoverageArgs),
    /// Compliance evidence: writes evidence.json, evidence.md and evidence.html (per-control
    /// PASS / FAIL / NOT-ASSESSED for VCFA-9X-000335, VCSA-80-000294,
    /// vcenter-9.native-key-provider-backup, NIST-SC-12(1) and NIST-CP-4, with their sources
    /// and mappings), who made it, every input with its SHA-256 and capture time, and the
    /// vault's custody facts; signed with --sign-key. `report verify DIR` checks a report.
    /// Exit 3 when a control fails.
    Report(ReportArgs),
    /// The escrow vault: age-encrypted copies of backups with their passwords, and a
    /// hash-chained manifest anyone can verify without a key.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Run the whole workflow on the bundled sample estate, explaining each step.
    Demo,
    /// Write a man page for every command (nkp-escrow.1, nkp-escrow-vault-add.1, ...) into
    /// DIR, from these definitions. Install with: nkp-escrow man ~/.local/share/man/man1
    Man {
        /// The folder (created); existing pages of the same names are replaced.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Where passwords come from. Never from the command line itself.
#[derive(Debug, Clone, Args, Default)]
pub(crate) struct PasswordArgs {
    /// A file with one password per line; each is tried in turn (an empty line is the empty
    /// password). The report names the line that worked, never the password.
    #[arg(long, value_name = "FILE")]
    pub password_file: Vec<PathBuf>,
    /// An environment variable holding a password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Vec<String>,
    /// Read passwords from standard input, one per line.
    #[arg(long)]
    pub password_stdin: bool,
    /// Never prompt on the terminal, even when a file needs a password.
    #[arg(long)]
    pub no_prompt: bool,
}

/// `inspect` arguments.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// .p12 files (binary, or armored as PEM, certutil -encode or bare base64), folders of
    /// them, or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Show the full structure (safes, bags, attributes, algorithms) with every secret value
    /// replaced by its length and fingerprint: safe to paste into a ticket.
    #[arg(long)]
    pub explain: bool,
    /// Password sources.
    #[command(flatten)]
    pub passwords: PasswordArgs,
    /// Refuse any key derivation with more iterations than this.
    #[arg(long, value_name = "N", default_value_t = 2_000_000)]
    pub max_iterations: u64,
    /// Refuse files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub max_size: u64,
}

/// `evidence` arguments.
#[derive(Debug, Args)]
pub(crate) struct EvidenceArgs {
    /// Files or folders to read, optionally `LABEL=PATH` to name the vCenter (scope) they came
    /// from; `-` reads standard input (a pasted ticket, a `govc ... -json` pipe). Text in UTF-8
    /// or UTF-16 (with a byte-order mark, as PowerShell 5.1 writes it) is read.
    #[arg(required = true, value_name = "[LABEL=]PATH")]
    pub paths: Vec<String>,
    /// Pass over text files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 32 << 20)]
    pub max_size: u64,
    /// Follow symbolic links met inside the folders (loops are detected and skipped). By
    /// default, like `grep -r`, only the paths given are followed: a VMFS volume's name link and
    /// its UUID folder are then not read twice.
    #[arg(long)]
    pub follow_symlinks: bool,
}

/// Where the vault is.
#[derive(Debug, Clone, Args)]
pub(crate) struct VaultDir {
    /// The vault folder (default: $NKP_ESCROW_VAULT, else ~/.local/share/nkp-escrow/vault).
    #[arg(long, value_name = "DIR")]
    pub vault: Option<PathBuf>,
}

/// `--passphrase-file`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PassphraseFile {
    /// Read the vault passphrase from the first line of this file (unattended use; keep it
    /// mode 0600).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// `vault` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum VaultCommand {
    /// Create a vault for these recipients (age1... or SSH public keys, optionally
    /// `label=KEY`), or for a passphrase.
    Init {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// A recipient: `age1...`, `ssh-ed25519 ...`, `ssh-rsa ...`, or `custodian=KEY`.
        #[arg(long, value_name = "RECIPIENT", allow_hyphen_values = true)]
        recipient: Vec<String>,
        /// A file of recipients, one per line (`#` comments allowed).
        #[arg(long, value_name = "FILE")]
        recipients_file: Option<PathBuf>,
        /// Encrypt with a passphrase (scrypt) instead of recipients (asked twice on the
        /// terminal, or read from --passphrase-file).
        #[arg(long)]
        passphrase: bool,
        /// Passphrase vaults: read the passphrase from the first line of this file.
        #[command(flatten)]
        passphrase_file: PassphraseFile,
        /// Dual control: every object can be opened only by K of the custodians together
        /// (2 <= K <= custodians; recorded in the chain). Without it, any one custodian can.
        #[arg(long, value_name = "K", conflicts_with = "passphrase", value_parser = clap::value_parser!(u8).range(1..=255))]
        threshold: Option<u8>,
    },
    /// Escrow .p12 backups with their passwords (inspected first; only NKP backups).
    Add {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// The .p12 files (also PEM- or base64-armored), folders of them, or `-` for standard
        /// input.
        #[arg(required = true, value_name = "P12")]
        files: Vec<PathBuf>,
        /// Where the backups come from (default: the file name).
        #[arg(long)]
        label: Option<String>,
        /// Password sources for the .p12 files.
        #[command(flatten)]
        passwords: PasswordArgs,
        /// Passphrase vaults: read the vault passphrase from this file.
        #[command(flatten)]
        passphrase_file: PassphraseFile,
    },
    /// List the entries (no key needed).
    List {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
    },
    /// Check the chain, HEAD and every object without any key; exit 3 on any problem. With
    /// --identity, also decrypt every object and check it against the manifest.
    Verify {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// An age identity file or SSH private key (`-`: passphrase prompt).
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
        /// A checkpoint public key you trust (base64, from `vault checkpoint-key`): then the
        /// newest checkpoint signed by it must match the manifest and cover its last event.
        /// Repeatable.
        #[arg(long, value_name = "BASE64")]
        trusted_key: Vec<String>,
        /// Accept events after the newest trusted checkpoint (reported as a warning).
        #[arg(long, requires = "trusted_key")]
        allow_unsigned_tail: bool,
        /// The state you saw last time: the manifest must still have at least N events.
        #[arg(long, value_name = "N")]
        expect_seq: Option<u64>,
        /// The chain head you saw last time (the SHA-256 from "chain head <seq> <sha256>", or
        /// both): the manifest must still hold that line.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// Passphrase vaults with --identity -: read the passphrase from this file.
        #[command(flatten)]
        passphrase_file: PassphraseFile,
    },
    /// Create an Ed25519 checkpoint signing key (written 0600; its public key is printed).
    CheckpointKey {
        /// Where to write the private key (PKCS#8).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign the current chain head (appended to checkpoints.jsonl).
    Checkpoint {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// The signing key from `vault checkpoint-key`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Write an entry's .p12 (mode 0600, never overwriting) and hand over its password.
    Restore {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// Entry id (or prefix), provider name or key_id.
        entry: String,
        /// Identity file (`-`: passphrase prompt); default $NKP_ESCROW_IDENTITY. Repeat it
        /// for a k-of-n vault: K custodians' identities at one terminal.
        #[arg(
            long,
            value_name = "FILE",
            env = "NKP_ESCROW_IDENTITY",
            required_unless_present = "passphrase_file"
        )]
        identity: Vec<PathBuf>,
        /// k-of-n vaults: a share a custodian released to you with `vault release`
        /// (decrypted with your --identity). Repeatable.
        #[arg(long, value_name = "FILE")]
        share: Vec<PathBuf>,
        /// Passphrase vaults: read the passphrase from this file (instead of --identity).
        #[command(flatten)]
        passphrase_file: PassphraseFile,
        /// Why the key is taken out (recorded in the vault's access log with who and where).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Where to write the .p12 (`-`: standard output, when it is not a terminal).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Where to write the password (mode 0600). Without it, the password is shown on the
        /// terminal only.
        #[arg(long, value_name = "FILE")]
        password_out: Option<PathBuf>,
    },
    /// Restore drill: decrypt in memory, re-inspect, compare with the manifest, record it.
    Drill {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// Identity file (`-`: passphrase prompt); default $NKP_ESCROW_IDENTITY. Repeat it
        /// for a k-of-n vault: K custodians' identities at one terminal.
        #[arg(
            long,
            value_name = "FILE",
            env = "NKP_ESCROW_IDENTITY",
            required_unless_present = "passphrase_file"
        )]
        identity: Vec<PathBuf>,
        /// k-of-n vaults: a share a custodian released to you with `vault release`.
        /// Repeatable.
        #[arg(long, value_name = "FILE")]
        share: Vec<PathBuf>,
        /// Passphrase vaults: read the passphrase from this file (instead of --identity).
        #[command(flatten)]
        passphrase_file: PassphraseFile,
        /// Entries to drill (default: all).
        entries: Vec<String>,
    },
    /// k-of-n vaults: release your share of an entry to the person who will restore it (a
    /// hand-over without meeting). Recorded in the chain (who, to whom, when, why) before the
    /// share file is written (mode 0600, never overwriting), encrypted to RECIPIENT alone.
    Release {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// Entry id (or prefix), provider name or key_id.
        entry: String,
        /// Your custodian identity file; default $NKP_ESCROW_IDENTITY.
        #[arg(long, value_name = "FILE", env = "NKP_ESCROW_IDENTITY")]
        identity: PathBuf,
        /// Who receives the share: their age recipient or SSH public key (`label=KEY`).
        #[arg(long, value_name = "RECIPIENT", allow_hyphen_values = true)]
        to: String,
        /// Where to write the released share (ASCII-armored age; `-`: standard output).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Why it is released (recorded).
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// The vault's history: custodian sets, adds, rekeys, and every drill and restore with
    /// who ran it (no key needed).
    Log {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// Only events about this entry (id or prefix, provider name or key_id).
        #[arg(long, value_name = "ENTRY")]
        entry: Option<String>,
    },
    /// Upgrade a format-1 vault: record the custodians vault.yaml lists now in the hash chain
    /// (check them first: from then on they are the record).
    Upgrade {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// Passphrase vaults: read the passphrase from this file.
        #[command(flatten)]
        passphrase_file: PassphraseFile,
    },
    /// Re-encrypt every entry to a new recipient set.
    Rekey {
        /// Vault folder.
        #[command(flatten)]
        dir: VaultDir,
        /// Identity that opens the current objects (repeat it: K custodians of a k-of-n vault).
        #[arg(long, value_name = "FILE", required = true)]
        identity: Vec<PathBuf>,
        /// The new set's threshold: K of the new custodians together (default: the current
        /// threshold; 1: any one custodian).
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u8).range(1..=255))]
        threshold: Option<u8>,
        /// The new recipients: the whole new set (a custodian not named again loses access).
        #[arg(
            long,
            value_name = "RECIPIENT",
            required_unless_present = "recipients_file",
            allow_hyphen_values = true
        )]
        recipient: Vec<String>,
        /// A file of new recipients, one per line (`#` comments allowed).
        #[arg(long, value_name = "FILE")]
        recipients_file: Option<PathBuf>,
        /// Show who keeps, gains and loses access, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Confirm that custodians not named again lose access (asked on a terminal otherwise).
        #[arg(long)]
        yes: bool,
    },
}

/// Inputs of the join (`resolve`, `coverage`).
#[derive(Debug, Clone, Args)]
pub(crate) struct JoinArgs {
    /// Live evidence: files or folders (as for `evidence`), optionally `LABEL=PATH` to name the
    /// vCenter (scope) they came from, e.g. `--evidence vc01=out/vc01 --evidence vc02=out/vc02`.
    /// Unlabelled evidence is in scope `default`. `-` reads standard input. Needed (except by
    /// `resolve --file`).
    #[arg(long, num_args = 1.., value_name = "[LABEL=]PATH")]
    pub evidence: Vec<String>,
    /// Backups: .p12 files or folders of them.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub backups: Vec<PathBuf>,
    /// An escrow vault whose entries count as backups (read without a key; it must verify).
    /// Defaults to $NKP_ESCROW_VAULT when that is set, as in the `vault` commands.
    #[arg(long, value_name = "DIR", env = "NKP_ESCROW_VAULT")]
    pub vault: Option<PathBuf>,
    /// Passwords for the .p12 backups.
    #[command(flatten)]
    pub passwords: PasswordArgs,
}

/// `resolve` arguments.
#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// Inputs.
    #[command(flatten)]
    pub join: JoinArgs,
    /// Only subjects with this name (VM display name, disk or host), case-insensitively, with
    /// `*` and `?` as globs (`--vm 'db0*'`); repeatable. A name that matches nothing is an
    /// input error with the closest names. Default: every subject that needs a provider.
    #[arg(long, value_name = "NAME")]
    pub vm: Vec<String>,
    /// Only this host and the VMs and disks the evidence places on it (name or glob, as
    /// --vm); repeatable.
    #[arg(long, value_name = "NAME")]
    pub host: Vec<String>,
    /// Only subjects that need this provider (name or glob); repeatable.
    #[arg(long, value_name = "NAME")]
    pub provider: Vec<String>,
    /// Only the subjects of this file (a `.vmx` copied from the datastore, a ticket): it is
    /// read as evidence too, so `resolve --file vm.vmx --vault DIR` needs no --evidence.
    #[arg(long, value_name = "PATH")]
    pub file: Vec<PathBuf>,
}

/// `--fail-on`: the least severe finding that makes the exit code 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    /// Only high findings.
    High,
    /// Medium and high findings.
    Medium,
    /// Any finding but info.
    Low,
}

impl FailOn {
    pub(crate) fn severity(self) -> nkp_escrow::resolve::Severity {
        use nkp_escrow::resolve::Severity;
        match self {
            Self::High => Severity::High,
            Self::Medium => Severity::Medium,
            Self::Low => Severity::Low,
        }
    }
}

/// `coverage` arguments.
#[derive(Debug, Args)]
pub(crate) struct CoverageArgs {
    /// Inputs.
    #[command(flatten)]
    pub join: JoinArgs,
    /// Exit 3 only for findings this severe or more (default: any provider not fully covered,
    /// or any finding but info).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// A vault where one custodian can restore alone is a medium finding, not info
    /// (VAULT-SINGLE-CONTROL; PCI DSS v4.0.1 3.7.6 dual control).
    #[arg(long)]
    pub require_dual_control: bool,
}

/// `report` arguments.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ReportArgs {
    /// `report verify DIR`.
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    /// Inputs.
    #[command(flatten)]
    pub join: JoinArgs,
    /// Folder to write evidence.json, evidence.md and evidence.html into (created; an existing
    /// folder is an error unless --force).
    #[arg(long, value_name = "DIR", required = true)]
    pub out: Option<PathBuf>,
    /// Replace an existing report folder, in one step (never a mix of old and new files).
    #[arg(long)]
    pub force: bool,
    /// Sign evidence.json into evidence.json.sig with this OpenSSH Ed25519 private key (as
    /// `ssh-keygen -t ed25519` writes it); `ssh-keygen -Y verify -n nkp-escrow-report` checks it.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// A vault checkpoint public key you trust (base64, from `vault checkpoint-key`): the report
    /// states whether a checkpoint signed by it covers the vault's chain. Repeatable.
    #[arg(long, value_name = "BASE64")]
    pub trusted_key: Vec<String>,
    /// Evidence captured longer ago than this many days cannot make a control pass.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub max_evidence_age: u32,
    /// Also exit 3 when a finding is this severe or more (default: only a failed control).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// A vault where one custodian can restore alone is a medium finding, not info
    /// (VAULT-SINGLE-CONTROL; PCI DSS v4.0.1 3.7.6 dual control).
    #[arg(long)]
    pub require_dual_control: bool,
}

/// `report` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Check a report folder: the signature over evidence.json (exit 3 when missing, broken or
    /// by another key; without --signer the signer is not checked, and that is exit 3 too) and
    /// the SHA-256 of evidence.md and evidence.html that evidence.json records.
    Verify {
        /// The report folder.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// The signer you expect: an OpenSSH public key file (`KEY.pub`) or an allowed_signers
        /// file.
        #[arg(long, value_name = "FILE")]
        signer: Option<PathBuf>,
    },
}
