//! [`VaultError`]: everything a vault operation can refuse or fail on.
//!
//! Each variant names what went wrong in structured fields (the file, the operation, the entry
//! selector, the candidates) so that a caller can match on it instead of parsing text.
//!
//! **Display and `source()`.** An underlying error (I/O, age, YAML, JSON) is returned by
//! [`std::error::Error::source`] and is *not* repeated in the variant's own message, so chain
//! printers such as anyhow's `{:#}` print `"<what>: <cause>"` exactly once. Two variants
//! ([`VaultError::NoVault`], [`VaultError::ManifestLine`]) place the cause in the middle of a
//! sentence that goes on with advice; they keep the cause in a field and show it inline
//! instead. Use [`VaultError::chain`] when a one-line message with every cause is needed
//! without anyhow.
//!
//! No variant holds or prints a secret: passwords, .p12 bytes and identities never appear,
//! and a malformed decrypted envelope is reported by position only.

use std::fmt;
use std::path::PathBuf;

/// Errors of vault operations. New variants may be added in any release.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    // ---- file system -------------------------------------------------------------------
    /// A file system operation on `path` failed.
    #[error("{}: cannot {action}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done: `create`, `write`, `fsync`, `rename into place`, `lock`, ...
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A vault file exists but could not be read.
    #[error("{}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// No `vault.yaml` could be read in `dir`.
    #[error("{}: no vault here ({error}); create one with `nkp-escrow vault init`", dir.display())]
    NoVault {
        /// The folder given as the vault.
        dir: PathBuf,
        /// Why `vault.yaml` could not be read (shown inline, not as `source()`).
        error: std::io::Error,
    },
    /// A file that must not be overwritten already exists.
    #[error("{} already exists: nothing is overwritten; choose another path", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// `init` on a folder that already holds a vault.
    #[error("{} already holds a vault: nothing was changed", dir.display())]
    AlreadyAVault {
        /// The folder.
        dir: PathBuf,
    },

    // ---- format ------------------------------------------------------------------------
    /// `vault.yaml` is not valid YAML for the format (its values are never quoted: one may be
    /// a secret pasted in the wrong place).
    #[error("{}: not a valid vault configuration{}", path.display(), match (line, column) {
        (Some(l), Some(c)) => format!(" (at line {l}, column {c})"),
        _ => String::new(),
    })]
    Config {
        /// `vault.yaml`.
        path: PathBuf,
        /// Where the parser stopped.
        line: Option<usize>,
        /// Where the parser stopped.
        column: Option<usize>,
    },
    /// `vault.yaml` names a format this version does not read.
    #[error("{}: format {found:?}, this tool reads {expected}", path.display())]
    UnknownFormat {
        /// `vault.yaml`.
        path: PathBuf,
        /// The format it names.
        found: String,
        /// The format this version reads.
        expected: &'static str,
    },
    /// A manifest line does not parse; writers stop rather than append to a damaged chain.
    #[error("{} line {line}: {error}; run `vault verify` before writing", path.display())]
    ManifestLine {
        /// `manifest.jsonl`.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The JSON error (shown inline, not as `source()`).
        error: serde_json::Error,
    },
    /// A decrypted envelope is not valid envelope JSON. Only the position is reported: the
    /// parser's own message could quote a secret value.
    #[error("envelope of entry {entry}: not a valid envelope (line {line}, column {column})")]
    Envelope {
        /// Entry id.
        entry: String,
        /// Line of the JSON error in the plaintext.
        line: usize,
        /// Column of the JSON error in the plaintext.
        column: usize,
    },
    /// A decrypted envelope's .p12 is not base64.
    #[error("envelope: p12 is not base64")]
    EnvelopeNotBase64,
    /// An object's content does not hash to its name.
    #[error("{}: the object does not match its hash: it was changed", path.display())]
    ObjectChanged {
        /// The object file.
        path: PathBuf,
    },
    /// A value could not be serialised (not expected to happen with the vault's own types).
    #[error("cannot encode the {what}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The serialiser's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    // ---- crypto ------------------------------------------------------------------------
    /// age could not encrypt.
    #[error("age encryption failed")]
    Encrypt {
        /// age's (or the writer's) error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An object is not an age file.
    #[error("not an age file")]
    NotAnAgeFile {
        /// age's error.
        #[source]
        source: age::DecryptError,
    },
    /// None of the identities opens the object.
    #[error("cannot decrypt with this identity")]
    Decrypt {
        /// age's error.
        #[source]
        source: age::DecryptError,
    },
    /// The age payload failed to decrypt (damaged or truncated).
    #[error("decryption failed")]
    DecryptStream {
        /// The stream's error.
        #[source]
        source: std::io::Error,
    },
    /// The checkpoint signing key could not be generated.
    #[error("key generation failed")]
    KeyGeneration,

    // ---- recipients and identities ---------------------------------------------------
    /// `init` with neither recipients nor a passphrase.
    #[error("a vault needs at least one recipient (--recipient age1... or an SSH public key) or --passphrase")]
    NoRecipients,
    /// `init` with both recipients and a passphrase.
    #[error("age cannot mix a passphrase with recipients in one file: choose recipients or --passphrase")]
    PassphraseWithRecipients,
    /// `rekey` with no recipient.
    #[error("rekey needs at least one recipient")]
    RekeyNeedsRecipient,
    /// The vault is passphrase-based and no passphrase was given.
    #[error("this vault is passphrase-based: the passphrase is needed to add")]
    PassphraseNeeded,
    /// An `age1...` recipient that does not parse.
    #[error("not a valid age recipient {recipient:?}: {reason}")]
    InvalidRecipient {
        /// The recipient as given.
        recipient: String,
        /// age's reason.
        reason: &'static str,
    },
    /// An `ssh-...` recipient that age does not support.
    #[error("not a supported SSH public key: {error:?}")]
    UnsupportedSshRecipient {
        /// age's reason.
        error: age::ssh::ParseRecipientKeyError,
    },
    /// An age plugin recipient (`age1<plugin>1...`) whose plugin program is not installed.
    #[error("this recipient needs the age plugin program {binary}, which is not on PATH: install it (e.g. from your package manager or the plugin's releases) and try again; nothing was written")]
    PluginMissing {
        /// The program: `age-plugin-<name>`.
        binary: String,
    },
    /// An age plugin identity file (`AGE-PLUGIN-...`) whose plugin program is not installed.
    #[error("{}: this identity needs the age plugin program {binary}, which is not on PATH: install it and try again", path.display())]
    PluginIdentityMissing {
        /// The identity file.
        path: PathBuf,
        /// The program: `age-plugin-<name>`.
        binary: String,
    },
    /// A recipient that is neither age nor SSH.
    #[error(
        "{} is neither an age recipient (age1...) nor an SSH public key (ssh-ed25519/ssh-rsa)",
        not_echoed(recipient)
    )]
    UnknownRecipient {
        /// The recipient as given.
        recipient: String,
    },
    /// An SSH private key file that age cannot read.
    #[error("{}: not a usable SSH private key", path.display())]
    SshIdentity {
        /// The identity file.
        path: PathBuf,
        /// age's error.
        #[source]
        source: std::io::Error,
    },
    /// An SSH private key of a type age does not support.
    #[error("{}: unsupported SSH key ({kind})", path.display())]
    UnsupportedSshKey {
        /// The identity file.
        path: PathBuf,
        /// The key type as age describes it.
        kind: String,
    },
    /// A file that is not an age identity file.
    #[error("{}: not an age identity file", path.display())]
    IdentityFile {
        /// The identity file.
        path: PathBuf,
        /// age's error.
        #[source]
        source: std::io::Error,
    },
    /// An identity file whose identities cannot be used (for example plugin identities).
    #[error("{}", path.display())]
    IdentityUnusable {
        /// The identity file.
        path: PathBuf,
        /// age's error.
        #[source]
        source: age::DecryptError,
    },
    /// An identity file with no identity in it.
    #[error("{}: no identity in the file", path.display())]
    NoIdentity {
        /// The identity file.
        path: PathBuf,
    },
    /// Not an Ed25519 PKCS#8 key (checkpoint signing).
    #[error("not an Ed25519 PKCS#8 signing key")]
    NotASigningKey,

    // ---- selection and state -----------------------------------------------------------
    /// No live entry matches the selector.
    #[error("no vault entry matches {selector:?} (by id, provider or key_id); see `vault list`")]
    NoMatch {
        /// The selector as given.
        selector: String,
    },
    /// Several live entries match the selector.
    #[error("{selector:?} matches {} entries; use an entry id: {}", candidates.len(), Candidates(candidates))]
    Ambiguous {
        /// The selector as given.
        selector: String,
        /// The entries it matches, in order of addition.
        candidates: Vec<Candidate>,
    },
    /// `checkpoint` on a vault with no event.
    #[error("the vault is empty: nothing to checkpoint")]
    EmptyVault,

    // ---- custody (format 2) ------------------------------------------------------------
    /// A format-1 vault: its custodian set is not in the chain, so no writer trusts it.
    #[error("{}: a format-1 vault (nkp-vault/1): its custodians are not in the hash chain; run `nkp-escrow vault upgrade` after checking vault.yaml lists the right custodians; nothing was written", dir.display())]
    NeedsUpgrade {
        /// The vault folder.
        dir: PathBuf,
    },
    /// `upgrade` of a vault that is not format 1.
    #[error("{}: already format nkp-vault/2: nothing to upgrade", dir.display())]
    AlreadyUpgraded {
        /// The vault folder.
        dir: PathBuf,
    },
    /// `upgrade` of a vault that does not verify.
    #[error("{}: `vault verify` finds {problems} problem(s); a damaged vault is not upgraded: nothing was written", dir.display())]
    UpgradeOfDamagedVault {
        /// The vault folder.
        dir: PathBuf,
        /// How many problems.
        problems: usize,
    },
    /// The chain records no custodian set (a format-2 vault must start with one).
    #[error("{}: the manifest records no custodian set: the vault was damaged or its manifest replaced; nothing was written", dir.display())]
    NoCustodianSet {
        /// The vault folder.
        dir: PathBuf,
    },
    /// `vault.yaml` does not list the custodians the chain records.
    #[error("{}: vault.yaml does not match the custodians recorded in the manifest ({difference}): it was edited; nothing was written. The manifest is the record: `nkp-escrow vault verify` shows it", dir.display())]
    ConfigMismatch {
        /// The vault folder.
        dir: PathBuf,
        /// How they differ (labels and fingerprints only).
        difference: String,
    },
    /// The manifest's custodian history breaks the format's rules.
    #[error("{}: {problem}; `nkp-escrow vault verify` lists every problem; nothing was written", dir.display())]
    CustodyHistory {
        /// The vault folder.
        dir: PathBuf,
        /// The first problem.
        problem: String,
    },
    /// The passphrase does not open the vault's verifier.
    #[error("this is not the vault's passphrase (it does not open the verifier made at init): nothing was written")]
    WrongPassphrase,
    /// The identity opens none of the custodians' keys.
    #[error(
        "this identity is not one of the vault's custodians ({custodians}): nothing was recorded"
    )]
    NotACustodian {
        /// The custodians' labels.
        custodians: String,
    },

    // ---- k-of-n ------------------------------------------------------------------------
    /// A threshold that cannot work with this custodian set.
    #[error("{problem}: nothing was written")]
    Threshold {
        /// What is wrong.
        problem: String,
    },
    /// Fewer custodians took part than the entry's set needs.
    #[error("{entry}: {needed} of the custodians ({custodians}) must take part; {opened} did ({who}): nothing was decrypted or recorded. More custodians must take part: their --identity files at this terminal, or (to restore or drill) --share files they released with `vault release`")]
    TooFewCustodians {
        /// The entry.
        entry: String,
        /// How many must take part.
        needed: usize,
        /// How many did.
        opened: usize,
        /// All the custodians' labels.
        custodians: String,
        /// The labels of those who took part (or `nobody`).
        who: String,
    },
    /// A k-of-n object that does not combine into the object's key (its shares or payload
    /// were changed).
    #[error("entry {entry}: {problem}: nothing was decrypted or recorded")]
    ObjectShares {
        /// The entry.
        entry: String,
        /// What is wrong (never a share or key).
        problem: String,
    },
    /// A released share that cannot be used here (another entry, an older object, a release
    /// not recorded, released to someone else, already used).
    #[error("entry {entry}: {problem}: nothing was decrypted or recorded")]
    ShareRefused {
        /// The entry.
        entry: String,
        /// Why (never the share).
        problem: String,
    },
    /// A released share file that cannot be read as one.
    #[error("{}: {problem}", path.display())]
    ReleasedShare {
        /// The share file.
        path: PathBuf,
        /// Why (never the share).
        problem: String,
    },
    /// `release` on an entry any one custodian can open.
    #[error("entry {entry}: any one custodian can open it; `vault release` is for k-of-n vaults (`vault init --threshold K`)")]
    NotThreshold {
        /// The entry.
        entry: String,
    },
}

/// One entry matched by an ambiguous selector: enough to tell the candidates apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Entry id.
    pub id: String,
    /// Provider name.
    pub provider: Option<String>,
    /// Provider key_id.
    pub key_id: Option<String>,
    /// Export time of the backup.
    pub export_time: Option<String>,
}

struct Candidates<'a>(&'a [Candidate]);

impl fmt::Display for Candidates<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "{} ({} {} exported {})",
                e.id,
                e.provider.as_deref().unwrap_or("?"),
                e.key_id.as_deref().unwrap_or("?"),
                e.export_time.as_deref().unwrap_or("?")
            )?;
        }
        Ok(())
    }
}

impl VaultError {
    /// The message and every cause, joined by `": "` (what anyhow's `{:#}` prints).
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut cur = std::error::Error::source(self);
        while let Some(e) = cur {
            s.push_str(": ");
            s.push_str(&e.to_string());
            cur = e.source();
        }
        s
    }

    pub(crate) fn io(
        path: &std::path::Path,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| Self::Io {
            path,
            action,
            source,
        }
    }

    pub(crate) fn encode<E>(what: &'static str) -> impl FnOnce(E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |e| Self::Encode {
            what,
            source: Box::new(e),
        }
    }
}

/// How an unrecognised recipient is named in a message: it may be a secret pasted in the wrong
/// place (an identity, a private key, a password), so only its length is shown.
fn not_echoed(token: &str) -> String {
    format!(
        "a value of {} characters (not shown: it may be a secret)",
        token.chars().count()
    )
}
