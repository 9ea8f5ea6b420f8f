//! `nkp-escrow vault ...`: glue between the CLI, `inspect` and the `nkp-vault` crate.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nkp_escrow::nkp::protection::Verdict;
use nkp_vault::{Accessor, Added, Event, Facts, Identities, RecipientSpec, Vault, VerifyOptions};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::{Format, PassphraseFile, VaultCommand, VaultDir};
use nkp_escrow::inspect::{self as backup, InspectOptions};
use nkp_escrow::render;
use nkp_escrow::secret::Password;

/// The vault folder: `--vault`, `$NKP_ESCROW_VAULT`, else the user's data directory.
pub(crate) fn vault_dir(d: &VaultDir) -> Result<PathBuf> {
    if let Some(p) = &d.vault {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("NKP_ESCROW_VAULT") {
        return Ok(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| anyhow!("no --vault, $NKP_ESCROW_VAULT or $HOME to place the vault"))?;
    Ok(data.join("nkp-escrow/vault"))
}

/// What a token given as a recipient is, when it is clearly not a public key. Never the token
/// itself: an identity pasted in the wrong place must not end up in a terminal or a log.
fn secret_kind(token: &str) -> Option<&'static str> {
    let upper = token.to_ascii_uppercase();
    if upper.contains("AGE-SECRET-KEY-") {
        Some("an age identity (a secret key), not a recipient")
    } else if upper.starts_with("AGE-PLUGIN-") {
        Some("an age plugin identity, not a recipient")
    } else if upper.contains("PRIVATE KEY") || upper.starts_with("-----BEGIN") {
        Some("part of a private key (PEM), not a recipient")
    } else {
        None
    }
}

fn recipient_specs(args: &[String], file: Option<&Path>) -> Result<Vec<RecipientSpec>> {
    recipient_specs_from("--recipient", args, file)
}

fn recipient_specs_from(
    flag: &str,
    args: &[String],
    file: Option<&Path>,
) -> Result<Vec<RecipientSpec>> {
    // Each token with where it came from, for messages that name the place, not the value.
    let mut lines: Vec<(String, String)> = args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                a.clone(),
                // `--to` takes one value; `--recipient` is numbered as given.
                if flag == "--to" {
                    flag.to_string()
                } else {
                    format!("{flag} number {}", i + 1)
                },
            )
        })
        .collect();
    if let Some(f) = file {
        // Within 1 MiB (a recipients file is a few lines; `/dev/zero` is not one).
        let text = {
            use std::io::Read;
            let mut raw = Vec::new();
            std::fs::File::open(f)
                .and_then(|h| h.take((1 << 20) + 1).read_to_end(&mut raw))
                .with_context(|| format!("cannot read {}", f.display()))?;
            if raw.len() > 1 << 20 {
                bail!("{}: larger than 1 MiB: not a recipients file", f.display());
            }
            String::from_utf8(raw).map_err(|_| anyhow!("{}: not UTF-8 text", f.display()))?
        };
        lines.extend(
            text.lines()
                .enumerate()
                .map(|(i, l)| (l.trim(), i))
                .filter(|(l, _)| !l.is_empty() && !l.starts_with('#'))
                .map(|(l, i)| (l.to_string(), format!("line {} of {}", i + 1, f.display()))),
        );
    }
    for (token, place) in &lines {
        if let Some(kind) = secret_kind(token) {
            let hint = match file {
                Some(f) if place.starts_with("line ") => format!(
                    ": `age-keygen -y {}` prints the recipient of an age identity file",
                    f.display()
                ),
                _ => ": `age-keygen -y FILE` prints the recipient of an age identity file".into(),
            };
            bail!("{place} is {kind}{hint}; the value is not shown");
        }
    }
    Ok(lines
        .iter()
        .enumerate()
        .map(|(i, (l, _))| match l.split_once('=') {
            Some((label, key))
                if !label.contains(' ')
                    && !label.starts_with("age1")
                    && !label.starts_with("ssh-") =>
            {
                RecipientSpec {
                    label: label.trim().to_string(),
                    recipient: key.trim().to_string(),
                }
            }
            _ => RecipientSpec {
                label: format!("recipient {}", i + 1),
                recipient: l.trim().to_string(),
            },
        })
        .collect())
}

fn prompt_secret(prompt: &str) -> Result<SecretString> {
    if !std::io::stdin().is_terminal() {
        bail!("a passphrase is needed and there is no terminal to ask on: give --passphrase-file FILE");
    }
    let p =
        Zeroizing::new(rpassword::prompt_password(prompt).context("cannot read the passphrase")?);
    Ok(SecretString::from(p.as_str()))
}

/// Warn when a secret file is readable by other users.
fn warn_if_shared(path: &Path, what: &str, quiet: bool) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 && !quiet {
                say!(
                    "warning: {}: {what} is readable by other users (mode {mode:o}): chmod 600 it",
                    path.display()
                );
            }
        }
    }
    let _ = (path, what, quiet);
}

/// The vault passphrase: the first line of `--passphrase-file`, else asked on the terminal
/// (twice when `confirm`, for `init`).
fn vault_passphrase(pf: &PassphraseFile, confirm: bool, quiet: bool) -> Result<SecretString> {
    if let Some(f) = &pf.passphrase_file {
        warn_if_shared(f, "the passphrase file", quiet);
        let bytes = Zeroizing::new(
            std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?,
        );
        let text = crate::sources::decode_secret_text(&bytes)
            .map_err(|e| anyhow!("{}: the passphrase is {e}", f.display()))?;
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if line.is_empty() {
            bail!("{}: the first line is empty: no passphrase", f.display());
        }
        return Ok(SecretString::from(line));
    }
    let p = prompt_secret("Vault passphrase: ")?;
    if confirm {
        let again = prompt_secret("Vault passphrase again: ")?;
        if again.expose_secret() != p.expose_secret() {
            bail!("the two passphrases differ: nothing was created");
        }
        if p.expose_secret().is_empty() {
            bail!("an empty passphrase protects nothing: nothing was created");
        }
    }
    Ok(p)
}

/// The identities of `--identity` (a file, or `-` for a passphrase prompt) or of
/// `--passphrase-file`.
fn identities_of(identity: Option<&Path>, pf: &PassphraseFile, quiet: bool) -> Result<Identities> {
    match (identity, pf.passphrase_file.is_some()) {
        (Some(p), false) => identities(p, quiet),
        (None, true) => Ok(Identities::passphrase(vault_passphrase(pf, false, quiet)?)),
        (Some(p), true) if p == Path::new("-") => {
            Ok(Identities::passphrase(vault_passphrase(pf, false, quiet)?))
        }
        (Some(_), true) => usage!("give --identity FILE or --passphrase-file FILE, not both"),
        (None, false) => usage!("--identity FILE (or --passphrase-file FILE) is needed"),
    }
}

/// Who is running this: the custodian whose key `ids` holds (refused otherwise, before
/// anything is recorded), the operating-system user and the host.
fn accessor(v: &Vault, ids: &Identities) -> Result<Accessor> {
    let c = v.custodian_of(ids)?;
    let (user, host) = super::who();
    Ok(Accessor {
        custodian: c.label,
        fingerprint: c.fingerprint,
        user,
        host,
    })
}

/// What the custodians taking part bring: identities (a ceremony at one terminal) and shares
/// released to the restorer (a hand-over).
struct Keys {
    ids: Vec<Identities>,
    released: Vec<nkp_vault::Released>,
}

impl Keys {
    fn refs(&self) -> Vec<&Identities> {
        self.ids.iter().collect()
    }
}

/// Read `--identity` (repeatable; `-` or `--passphrase-file` for a passphrase vault) and
/// `--share` files (each decrypted with those identities).
fn keys_of(
    identity: &[PathBuf],
    shares: &[PathBuf],
    pf: &PassphraseFile,
    quiet: bool,
) -> Result<Keys> {
    let ids: Vec<Identities> = match identity {
        [] => vec![identities_of(None, pf, quiet)?],
        [one] => vec![identities_of(Some(one), pf, quiet)?],
        many => {
            if pf.passphrase_file.is_some() {
                usage!("a passphrase vault takes one passphrase, not several --identity files");
            }
            many.iter()
                .map(|p| identities(p, quiet))
                .collect::<Result<_>>()?
        }
    };
    let refs: Vec<&Identities> = ids.iter().collect();
    let mut released = Vec::new();
    for s in shares {
        let bytes = nkp_vault::store::read_key_file(s, 64 << 10)
            .with_context(|| format!("cannot read the released share {}", s.display()))?;
        released.push(nkp_vault::threshold::read_released(s, &bytes, &refs)?);
    }
    Ok(Keys { ids, released })
}

/// Who is running this, for a restore or drill: the first identity that is one of the
/// custodians; otherwise, when released shares were given, the person they were released to
/// (the `to` of the release line). Refused otherwise, before anything is recorded.
fn accessor_of(v: &Vault, keys: &Keys) -> Result<Accessor> {
    let mut first_err = None;
    for ids in &keys.ids {
        match accessor(v, ids) {
            Ok(a) => return Ok(a),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(r) = keys.released.first() {
        let events = v.events()?;
        let line = usize::try_from(r.release)
            .unwrap_or(usize::MAX)
            .wrapping_sub(1);
        // Named here; that one of the identities given really is this recipient is checked
        // before anything is decrypted (`open_entry_together`).
        if let Some(Event::Release {
            to,
            to_label,
            to_recipient,
            ..
        }) = events.get(line)
        {
            let (user, host) = super::who();
            return Ok(Accessor {
                custodian: format!(
                    "restorer {} (not a custodian)",
                    to_label.as_deref().unwrap_or("unnamed")
                ),
                // Recomputed from the key the identity is checked against, never the
                // recorded text alone.
                fingerprint: to_recipient
                    .as_deref()
                    .map_or_else(|| to.clone(), nkp_vault::custody::fingerprint),
                user,
                host,
            });
        }
    }
    Err(first_err.unwrap_or_else(|| anyhow!("no identity was given")))
}

/// Load identities; warn when the file is readable by others.
fn identities(path: &Path, quiet: bool) -> Result<Identities> {
    if path == Path::new("-") {
        return Ok(Identities::passphrase(prompt_secret("Vault passphrase: ")?));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 && !quiet {
                say!(
                    "warning: {} is readable by other users (mode {:o}): chmod 600 it",
                    path.display(),
                    m.permissions().mode() & 0o777
                );
            }
        }
    }
    let _ = quiet;
    Ok(Identities::from_file(path)?)
}

/// The custodians of `config` as `label (fingerprint), ...`, or `passphrase` in passphrase mode.
fn custodians_shown(config: &nkp_vault::Config, passphrase: &str) -> String {
    if config.passphrase {
        return passphrase.to_string();
    }
    config
        .recipients
        .iter()
        .map(|r| format!("{} ({})", r.label, r.fingerprint()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run a vault command; returns the exit code.
pub(crate) fn run(cmd: VaultCommand, format: Format, quiet: bool) -> Result<i32> {
    match cmd {
        VaultCommand::Init {
            dir,
            recipient,
            recipients_file,
            passphrase,
            passphrase_file,
            threshold,
        } => {
            let d = vault_dir(&dir)?;
            let specs = recipient_specs(&recipient, recipients_file.as_deref())?;
            if threshold == Some(1) && !quiet {
                say!("note: --threshold 1 means any one custodian can open an entry: an ordinary vault, without dual control");
            }
            if let Some(k) = threshold.filter(|&k| k > 1) {
                let v = Vault::init_k_of_n(&d, specs, k)?;
                if !quiet {
                    say!(
                        "vault created in {} for {}: any {k} of these {} custodians together can open an entry, fewer cannot",
                        d.display(),
                        custodians_shown(&v.config, ""),
                        v.config.recipients.len()
                    );
                }
                return Ok(nkp_escrow::exit::OK);
            }
            let secret = if passphrase {
                if !specs.is_empty() {
                    return Err(nkp_vault::VaultError::PassphraseWithRecipients.into());
                }
                Some(vault_passphrase(&passphrase_file, true, quiet)?)
            } else {
                None
            };
            let v = Vault::init(&d, specs, secret.as_ref())?;
            if !quiet {
                say!(
                    "vault created in {} for {}",
                    d.display(),
                    custodians_shown(&v.config, "a passphrase")
                );
            }
            Ok(nkp_escrow::exit::OK)
        }
        VaultCommand::Add {
            dir,
            files,
            label,
            passwords,
            passphrase_file,
        } => add(
            &vault_dir(&dir)?,
            &files,
            label,
            &passwords,
            &passphrase_file,
            format,
            quiet,
        ),
        VaultCommand::Log { dir, entry } => log(&vault_dir(&dir)?, entry.as_deref(), format),
        VaultCommand::Upgrade {
            dir,
            passphrase_file,
        } => {
            let d = vault_dir(&dir)?;
            let before = Vault::open(&d)?;
            let secret = if before.config.passphrase && before.config.format == nkp_vault::FORMAT_V1
            {
                Some(vault_passphrase(&passphrase_file, false, quiet)?)
            } else {
                None
            };
            let v = Vault::upgrade(&d, secret.as_ref())?;
            if !quiet {
                say!(
                    "{} upgraded to {}: the chain now records the custodians {}",
                    d.display(),
                    nkp_vault::FORMAT,
                    custodians_shown(&v.config, "(passphrase mode, with a verifier)")
                );
            }
            Ok(nkp_escrow::exit::OK)
        }
        VaultCommand::List { dir } => list(&vault_dir(&dir)?, format),
        VaultCommand::Verify {
            dir,
            identity,
            trusted_key,
            allow_unsigned_tail,
            expect_seq,
            expect_head,
            passphrase_file,
        } => {
            // `--expect-head` takes the hash, or "<seq> <hash>" as the report prints it, with or
            // without a `sha256:` prefix.
            let expect_head = expect_head.map(|h| h.trim().replace("sha256:", ""));
            let (seq_from_head, expect_head) = match expect_head.as_deref().map(str::trim) {
                Some(h) => match h.split_once([' ', ':']) {
                    Some((s, x)) => (
                        Some(s.parse::<u64>().map_err(|_| {
                            anyhow!("--expect-head: {s:?} is not a sequence number")
                        })?),
                        Some(x.trim().to_string()),
                    ),
                    None => (None, Some(h.to_string())),
                },
                None => (None, None),
            };
            if let Some(h) = &expect_head {
                if h.len() != 64 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                    usage!("--expect-head: not a SHA-256 (64 hex digits)");
                }
            }
            for k in &trusted_key {
                use base64::Engine;
                let ok = base64::engine::general_purpose::STANDARD
                    .decode(k.trim())
                    .is_ok_and(|b| b.len() == 32);
                if !ok {
                    usage!("--trusted-key: not an Ed25519 public key (base64 of 32 bytes, as `vault checkpoint-key` prints it)");
                }
            }
            let options = VerifyOptions {
                trusted: trusted_key.iter().map(|k| k.trim().to_string()).collect(),
                allow_unsigned_tail,
                expect_seq: expect_seq.or(seq_from_head),
                expect_head,
            };
            let ids = match (&identity, &passphrase_file.passphrase_file) {
                (None, None) => None,
                _ => Some(identities_of(identity.as_deref(), &passphrase_file, quiet)?),
            };
            let d = vault_dir(&dir)?;
            if ids.is_some()
                && Vault::open(&d)
                    .ok()
                    .and_then(|v| v.custodians().ok().flatten())
                    .is_some_and(|s| s.threshold.is_some())
            {
                usage!("a k-of-n vault's objects open only with K custodians: check them with `vault drill --identity A --identity B` (recorded), or run `vault verify` without --identity");
            }
            verify(&d, ids.as_ref(), &options, format)
        }
        VaultCommand::CheckpointKey { out } => {
            let (pkcs8, public) = nkp_vault::checkpoint::generate()?;
            let mut f = nkp_vault::store::create_new(&out, 0o600)?;
            f.write_all(&pkcs8)
                .and_then(|_| f.sync_all())
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{public}");
            if !quiet {
                say!(
                    "signing key written to {} (mode 0600); give the public key above to auditors: `vault verify --trusted-key {public}`",
                    out.display()
                );
            }
            Ok(nkp_escrow::exit::OK)
        }
        VaultCommand::Checkpoint { dir, key } => {
            let v = Vault::open(&vault_dir(&dir)?)?;
            // Whoever can read the signing key can sign a forged checkpoint.
            #[cfg(unix)]
            if let Ok(m) = std::fs::metadata(&key) {
                use std::os::unix::fs::PermissionsExt;
                let mode = m.permissions().mode() & 0o777;
                if mode & 0o077 != 0 && !quiet {
                    say!(
                        "warning: {}: the checkpoint signing key is readable by others (mode {mode:o}); anyone who can read it can sign checkpoints: chmod 600 it",
                        key.display()
                    );
                }
            }
            let pkcs8 = Zeroizing::new(
                std::fs::read(&key).with_context(|| format!("cannot read {}", key.display()))?,
            );
            let cp = v.checkpoint(&pkcs8)?;
            println!(
                "checkpoint: seq {} head {} signed by {}",
                cp.seq, cp.head, cp.public_key
            );
            Ok(nkp_escrow::exit::OK)
        }
        VaultCommand::Restore {
            dir,
            entry,
            identity,
            share,
            passphrase_file,
            reason,
            out,
            password_out,
        } => {
            let keys = keys_of(&identity, &share, &passphrase_file, quiet)?;
            restore(
                &vault_dir(&dir)?,
                &entry,
                &keys,
                reason,
                &out,
                password_out.as_deref(),
                quiet,
            )
        }
        VaultCommand::Drill {
            dir,
            identity,
            share,
            passphrase_file,
            entries,
        } => {
            let keys = keys_of(&identity, &share, &passphrase_file, quiet)?;
            drill(&vault_dir(&dir)?, &keys, &entries, format)
        }
        VaultCommand::Release {
            dir,
            entry,
            identity,
            to,
            out,
            reason,
        } => release(
            &vault_dir(&dir)?,
            &entry,
            &identity,
            &to,
            &out,
            reason,
            quiet,
        ),
        VaultCommand::Rekey {
            dir,
            identity,
            threshold,
            recipient,
            recipients_file,
            dry_run,
            yes,
        } => {
            let mut v = Vault::open(&vault_dir(&dir)?)?;
            let specs = recipient_specs(&recipient, recipients_file.as_deref())?;
            // The set the chain records is the one being replaced (vault.yaml in format 1).
            let current = v
                .custodians()?
                .map(|s| s.specs())
                .unwrap_or_else(|| v.config.recipients.clone());
            let lost = rekey_plan(&current, &specs);
            // The threshold stays what it is unless given (1: any one custodian). Lowering it
            // is said, and confirmed like a loss of access.
            let current_k = v.custodians()?.and_then(|s| s.threshold);
            let k = threshold.or(current_k).filter(|&k| k > 1);
            let (from, to) = (current_k.unwrap_or(1), k.unwrap_or(1));
            if from != to {
                say!(
                    "threshold: {from} -> {to} custodian(s) together{}",
                    if to < 2 {
                        " (any one custodian alone could then restore: no dual control)"
                    } else {
                        ""
                    }
                );
            }
            if dry_run {
                say!("dry run: nothing was changed");
                return Ok(nkp_escrow::exit::OK);
            }
            if !lost.is_empty() && !yes && !confirm_loss(&lost)? {
                bail!(
                    "rekey removes access for {}: give --yes to confirm (or --dry-run to see the change); nothing was changed",
                    lost.join(", ")
                );
            }
            if to < from
                && !yes
                && !confirm_loss(&[format!("dual control ({from} custodians together -> {to})")])?
            {
                bail!(
                    "rekey lowers the threshold from {from} to {to}: give --yes to confirm (or --dry-run to see the change); nothing was changed"
                );
            }
            let keys = keys_of(
                &identity,
                &[],
                &PassphraseFile {
                    passphrase_file: None,
                },
                quiet,
            )?;
            // Only a custodian rekeys, and the rekey records who (all of them, in a k-of-n
            // vault, where K must take part).
            let by = accessor_of(&v, &keys)?;
            let n = v.rekey_together(&keys.refs(), specs, k, &by)?;
            if !quiet {
                say!("{n} object(s) re-encrypted; old objects removed");
            }
            Ok(nkp_escrow::exit::OK)
        }
    }
}

/// Print who keeps, gains and loses access when the recipients become `new`; returns the
/// labels of those who lose it. Recipients are compared by their full public key.
fn rekey_plan(current: &[RecipientSpec], new: &[RecipientSpec]) -> Vec<String> {
    let key = |r: &RecipientSpec| r.recipient.trim().to_string();
    let shown = |r: &RecipientSpec| {
        render::terminal_safe(&format!("{} ({})", r.label, r.fingerprint())).into_owned()
    };
    let mut lost = Vec::new();
    for r in current {
        if new.iter().any(|n| key(n) == key(r)) {
            say!("keeps access: {}", shown(r));
        } else {
            say!("loses access: {}", shown(r));
            lost.push(render::terminal_safe(&r.label).into_owned());
        }
    }
    for n in new {
        if !current.iter().any(|r| key(r) == key(n)) {
            say!("gains access: {}", shown(n));
        }
    }
    lost
}

/// Ask on the terminal whether custodians may lose access; `false` when there is none to ask.
fn confirm_loss(lost: &[String]) -> Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    eprint!(
        "Remove access for {}? Type yes to continue: ",
        lost.join(", ")
    );
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

/// One file read and inspected for `vault add`, with the re-opening check.
struct Checked {
    shown: String,
    bytes: std::io::Result<Zeroizing<Vec<u8>>>,
    report: nkp_escrow::model::InputReport,
    /// The file inspected again with only the password about to be escrowed.
    again: Option<nkp_escrow::model::InputReport>,
    /// How the file was armored, when it was.
    unwrapped: Option<String>,
}

/// The password that opened the file (never shown; escrowed with it): the reader says which
/// one by index, so two lines of standard input are never confused.
fn escrowed_password<'p>(
    r: &nkp_escrow::model::InputReport,
    passwords: &'p [Password],
) -> Option<&'p Password> {
    r.protection
        .as_ref()
        .and_then(|p| p.opened_by)
        .and_then(|i| passwords.get(i))
}

fn check_for_escrow(
    f: &Path,
    stdin: Option<&Zeroizing<Vec<u8>>>,
    passwords: &[Password],
    opts: &InspectOptions,
) -> Checked {
    let (shown, bytes) = match stdin {
        Some(b) if f.as_os_str() == "-" => (
            nkp_escrow::evidence::STDIN_NAME.to_string(),
            Ok(Zeroizing::new(b.to_vec())),
        ),
        _ => (
            f.display().to_string(),
            std::fs::read(f).map(Zeroizing::new),
        ),
    };
    // A .p12 that arrived armored (PEM, certutil -encode, pasted base64): the PKCS#12 inside is
    // what is escrowed.
    let mut unwrapped = None;
    let bytes = bytes.map(|b| match nkp_escrow::inspect::armor::unarmor(&b) {
        Some((der, how)) => {
            unwrapped = Some(how);
            der
        }
        None => b,
    });
    let empty = Zeroizing::new(Vec::new());
    let b = bytes.as_ref().unwrap_or(&empty);
    let report = backup::inspect_bytes(&shown, b, passwords, opts);
    // Before anything is written: the file must open again with exactly what is escrowed.
    let again =
        (bytes.is_ok() && report.error.is_none() && !report.providers.is_empty()).then(|| {
            let only: &[Password] = escrowed_password(&report, passwords)
                .map(std::slice::from_ref)
                .unwrap_or(&[]);
            backup::inspect_bytes(&shown, b, only, opts)
        });
    Checked {
        shown,
        bytes,
        report,
        again,
        unwrapped,
    }
}

fn add(
    dir: &Path,
    files: &[PathBuf],
    label: Option<String>,
    pw: &crate::cli::PasswordArgs,
    pf: &PassphraseFile,
    format: Format,
    quiet: bool,
) -> Result<i32> {
    let v = Vault::open(dir)?;
    let passwords = super::gather_passwords(pw)?;
    // The chain says whether a passphrase is needed (vault.yaml is checked against it by the
    // writer, which refuses a mismatch).
    let chain_mode = v.custodians()?.map(|s| s.mode);
    let passphrase = if chain_mode == Some(nkp_vault::Mode::Passphrase) {
        let p = vault_passphrase(pf, false, quiet)?;
        // A mistyped passphrase is refused here, before anything is read or written.
        v.check_passphrase(&p)?;
        Some(p)
    } else {
        None
    };
    let opts = InspectOptions::default();
    let mut items = Vec::new();
    let mut names = Vec::new();
    let mut refused = 0;
    // Reading, inspecting and the re-opening check run on every core; the messages and the
    // entries then follow the order of the files given.
    // Folders are walked for .p12 files (as `inspect` does); `-` is standard input.
    let stdin = if files.iter().any(|f| f.as_os_str() == "-") {
        if pw.password_stdin {
            usage!("`vault add -` reads the backup from standard input: give its password with --password-file or --password-env");
        }
        Some(super::inspect::read_stdin(opts.max_file_size)?)
    } else {
        None
    };
    let (given, folders): (Vec<PathBuf>, Vec<PathBuf>) =
        files.iter().cloned().partition(|f| !f.is_dir());
    let walked = backup::collect_inputs(&folders);
    for e in &walked.errors {
        say!("error: {e}");
    }
    refused += walked.errors.len();
    let files: Vec<PathBuf> = given
        .into_iter()
        .chain(walked.files.into_iter().filter(|f| f.is_file()))
        .collect();
    let checked: Vec<Checked> = {
        use rayon::prelude::*;
        files
            .par_iter()
            .map(|f| check_for_escrow(f, stdin.as_ref(), &passwords, &opts))
            .collect()
    };
    for (f, c) in files.iter().zip(checked) {
        let Checked {
            shown,
            bytes,
            report: r,
            again,
            unwrapped,
        } = c;
        if let (Some(how), false) = (&unwrapped, quiet) {
            say!("note: {shown}: unwrapped from {how}; the PKCS#12 inside is escrowed");
        }
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                say!("error: {shown}: cannot read: {e}");
                refused += 1;
                continue;
            }
        };
        if let Some(e) = &r.error {
            say!("error: {shown}: not added: {}", e.message);
            refused += 1;
            continue;
        }
        let Some(p) = r.providers.first() else {
            say!(
                "error: {shown}: not added: not an NKP backup ({})",
                r.holds.as_deref().or(r.hint.as_deref()).unwrap_or(&r.kind)
            );
            refused += 1;
            continue;
        };
        let verdict = r
            .protection
            .as_ref()
            .map_or(Verdict::Unprotected, |p| p.verdict);
        if verdict == Verdict::Unprotected && !quiet {
            say!(
                "warning: {shown}: the .p12 itself has no password: escrowed and recorded as unprotected; delete unprotected copies (STIG VCFA-9X-000335)"
            );
        }
        if r.providers.len() > 1 && !quiet {
            say!(
                "warning: {shown}: holds {} providers; the entry records the first",
                r.providers.len()
            );
        }
        let used = escrowed_password(&r, &passwords);
        let Some(again) = again else {
            say!("error: {shown}: not added: it could not be opened a second time");
            refused += 1;
            continue;
        };
        let same_key = again.error.is_none()
            && again.providers.first().map(|a| &a.kdk_fingerprint) == Some(&p.kdk_fingerprint)
            && again
                .protection
                .as_ref()
                .is_some_and(|a| a.password_protected || verdict == Verdict::Unprotected);
        if !same_key {
            say!(
                "error: {shown}: not added: the password about to be escrowed does not open the file on its own; nothing was written for it"
            );
            refused += 1;
            continue;
        }
        let secret =
            used.map(|p| SecretString::from(String::from_utf8_lossy(p.utf8()).into_owned()));
        // The strength of the password that opened the file (the one escrowed), recorded so
        // that a report over the vault alone can check it.
        let quality = r.protection.as_ref().and_then(|x| x.password.as_ref());
        items.push((
            bytes,
            secret,
            Facts {
                provider: p.name.clone(),
                key_id: p.key_id.clone(),
                kdk_fingerprint: p.kdk_fingerprint.clone().unwrap_or_default(),
                verdict: verdict.to_string(),
                export_time: p.export_time.clone(),
                password_assessed: quality.is_some(),
                password_weakness: quality.and_then(|q| q.weakness()),
                label: label.clone().unwrap_or_else(|| {
                    if f.as_os_str() == "-" {
                        nkp_escrow::evidence::STDIN_NAME.to_string()
                    } else {
                        f.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    }
                }),
            },
        ));
        names.push(shown);
    }
    let added = v.add(items, passphrase.as_ref())?;
    let rows: Vec<serde_json::Value> = names
        .iter()
        .zip(&added)
        .map(|(n, a)| match a {
            Added::New(id) => json!({"file": n, "entry": id, "status": "added"}),
            Added::Duplicate(id) => json!({"file": n, "entry": id, "status": "already-escrowed"}),
        })
        .collect();
    match format {
        Format::Json => super::print::json("vault-add", &json!({ "added": rows }))?,
        Format::Yaml => super::print::yaml("vault-add", &json!({ "added": rows }))?,
        Format::Table => {
            for r in &rows {
                // The file name is untrusted text: escaped before it reaches the terminal.
                println!(
                    "{}  {}  {}",
                    r["entry"].as_str().unwrap_or(""),
                    r["status"].as_str().unwrap_or(""),
                    render::terminal_safe(r["file"].as_str().unwrap_or(""))
                );
            }
        }
    }
    Ok(if refused > 0 {
        nkp_escrow::exit::INPUT
    } else {
        nkp_escrow::exit::OK
    })
}

/// One `vault list` row. Fields in alphabetical order: the document is byte-identical to
/// the one built from a JSON map before, without building 10,000 maps.
#[derive(serde::Serialize)]
struct ListRow<'a> {
    added_at: &'a str,
    export_time: &'a Option<String>,
    id: &'a str,
    kdk_fingerprint: &'a str,
    key_id: &'a Option<String>,
    label: &'a str,
    last_drill: Option<LastDrill<'a>>,
    object: &'a str,
    p12_sha256: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    password_assessed: bool,
    password_escrowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_weakness: &'a Option<String>,
    provider: &'a Option<String>,
    recipients: &'a [String],
    verdict: &'a str,
}

#[derive(serde::Serialize)]
struct LastDrill<'a> {
    at: &'a str,
    ok: bool,
}

#[derive(serde::Serialize)]
struct ListDoc<'a> {
    entries: Vec<ListRow<'a>>,
}

fn list(dir: &Path, format: Format) -> Result<i32> {
    let v = Vault::open(dir)?;
    let entries = v.entries()?;
    let rows: Vec<ListRow<'_>> = entries
        .iter()
        .map(|e| ListRow {
            added_at: &e.added_at,
            export_time: &e.export_time,
            id: &e.id,
            kdk_fingerprint: &e.kdk_fingerprint,
            key_id: &e.key_id,
            label: &e.label,
            last_drill: e
                .last_drill
                .as_ref()
                .map(|(at, ok)| LastDrill { at, ok: *ok }),
            object: &e.object,
            p12_sha256: &e.p12_sha256,
            password_assessed: e.password_assessed,
            password_escrowed: e.password_escrowed,
            password_weakness: &e.password_weakness,
            provider: &e.provider,
            recipients: &e.recipients,
            verdict: &e.verdict,
        })
        .collect();
    let doc = ListDoc { entries: rows };
    match format {
        Format::Json => super::print::json("vault-list", &doc)?,
        Format::Yaml => super::print::yaml("vault-list", &doc)?,
        Format::Table => {
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.id.clone(),
                        e.provider.clone().unwrap_or_default(),
                        e.key_id.clone().unwrap_or_default(),
                        e.export_time.clone().unwrap_or_default(),
                        e.verdict.clone(),
                        e.added_at.clone(),
                        e.last_drill
                            .as_ref()
                            .map(|(at, ok)| {
                                format!("{} {at}", if *ok { "passed" } else { "FAILED" })
                            })
                            .unwrap_or_else(|| "never".into()),
                    ]
                })
                .collect();
            // Narrow terminals lose exported, added, then verdict.
            let t = render::layout::table(
                &[
                    "id",
                    "provider",
                    "key_id",
                    "exported",
                    "verdict",
                    "added",
                    "last drill",
                ],
                &rows,
                &[3, 5, 4],
            );
            super::print::text(&format!(
                "{t}{} entr{}\n",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" }
            ))?;
        }
    }
    Ok(nkp_escrow::exit::OK)
}

fn verify(
    dir: &Path,
    ids: Option<&Identities>,
    options: &VerifyOptions,
    format: Format,
) -> Result<i32> {
    let report = match Vault::open(dir) {
        Ok(v) => {
            if let Some(ids) = ids {
                // An identity that is not a custodian's says nothing about the vault: refused,
                // not reported as failed decryptions.
                if v.custodians()?.is_some() {
                    accessor(&v, ids)?;
                }
            }
            let mut report = v.verify_with(options);
            if let Some(ids) = ids {
                v.verify_decryption(ids, &mut report)?;
            }
            report
        }
        // A vault whose vault.yaml is damaged or missing is still verified (and fails): that
        // is a finding, not a reason to say nothing.
        Err(
            nkp_vault::VaultError::Config { .. }
            | nkp_vault::VaultError::UnknownFormat { .. }
            | nkp_vault::VaultError::NoVault { .. },
        ) if std::fs::symlink_metadata(dir.join("manifest.jsonl")).is_ok() => {
            nkp_vault::verify::keyless(dir, options)
        }
        Err(e) => return Err(e.into()),
    };
    match format {
        Format::Json => super::print::json("vault-verify", &report)?,
        Format::Yaml => super::print::yaml("vault-verify", &report)?,
        Format::Table => {
            let mut s = String::new();
            for p in &report.problems {
                s.push_str(&format!("[FAIL] {p}\n"));
            }
            for w in &report.warnings {
                s.push_str(&format!("[WARN] {w}\n"));
            }
            match report.mode.as_deref() {
                Some("passphrase") => {
                    s.push_str("custodians (recorded in the chain): passphrase mode\n");
                }
                Some(_) => s.push_str(&format!(
                    "custodians (recorded in the chain): {}\n",
                    report
                        .custodians
                        .iter()
                        .map(|c| format!("{} ({})", c.label, c.fingerprint))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                None if report.format.as_deref() == Some(nkp_vault::FORMAT_V1) => {
                    s.push_str("custodians: not assessed (format nkp-vault/1: not in the chain)\n");
                }
                None => s.push_str(
                    "custodians: not assessed (no custodian set could be read from the manifest)\n",
                ),
            }
            if let Some(cp) = &report.newest_trusted_checkpoint {
                s.push_str(&format!(
                    "newest trusted checkpoint: seq {} signed {}{}; {} event(s) after it\n",
                    cp.seq,
                    cp.at,
                    age_of(&cp.at)
                        .map(|a| format!(" ({a} ago)"))
                        .unwrap_or_default(),
                    report.unsigned_events.unwrap_or(0)
                ));
            } else if !options.trusted.is_empty() {
                s.push_str("newest trusted checkpoint: none matches\n");
            }
            if options.expect_seq.is_some() || options.expect_head.is_some() {
                s.push_str(&format!(
                    "pinned: {}{}\n",
                    options
                        .expect_seq
                        .map(|n| format!("seq {n} "))
                        .unwrap_or_default(),
                    options.expect_head.as_deref().unwrap_or("(no head)")
                ));
            } else if !options.trusted.is_empty() {
                s.push_str("no state pinned: record the chain head below and give it next time as --expect-head\n");
            }
            s.push_str(&format!(
                "{}: {} events, {} entries, {} objects checked; chain head {}{}\n",
                if report.ok {
                    "[PASS] vault verified"
                } else {
                    "[FAIL] vault verification failed"
                },
                report.events,
                report.entries,
                report.objects_checked,
                report.head.as_deref().unwrap_or("(empty)"),
                if report.trusted_checkpoints > 0 {
                    format!(
                        "; {} trusted signed checkpoint(s) match",
                        report.trusted_checkpoints
                    )
                } else {
                    String::new()
                }
            ));
            super::print::text(&s)?;
        }
    }
    Ok(if report.ok {
        nkp_escrow::exit::OK
    } else {
        nkp_escrow::exit::FINDING
    })
}

/// How long ago an RFC 3339 time was, in words (`None` if it does not parse).
fn age_of(at: &str) -> Option<String> {
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
    let d = time::OffsetDateTime::now_utc() - t;
    Some(if d.whole_days() >= 2 {
        format!("{} days", d.whole_days())
    } else if d.whole_hours() >= 2 {
        format!("{} hours", d.whole_hours())
    } else {
        format!("{} minutes", d.whole_minutes().max(0))
    })
}

/// `vault log`: the history, with who accessed what.
fn log(dir: &Path, selector: Option<&str>, format: Format) -> Result<i32> {
    let v = Vault::open(dir)?;
    let only = selector.map(|s| v.find(s)).transpose()?.map(|e| e.id);
    let events = v.events()?;
    let mut rows = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let seq = i + 1;
        let row = match ev {
            Event::Add(e) => json!({"seq": seq, "type": "add", "at": e.added_at, "entry": e.id,
                "provider": e.provider, "key_id": e.key_id, "label": e.label}),
            Event::Drill {
                entry,
                ok,
                detail,
                at,
                by,
                participants,
            } => json!({"seq": seq, "type": "drill",
                "at": at, "entry": entry, "ok": ok, "detail": detail, "by": by,
                "participants": participants}),
            Event::Restore {
                entry,
                at,
                by,
                reason,
                participants,
            } => json!({"seq": seq, "type": "restore",
                "at": at, "entry": entry, "by": by, "reason": reason,
                "participants": participants}),
            Event::Release {
                entry,
                object,
                by,
                to,
                to_label,
                to_recipient: _,
                reason,
                at,
            } => json!({"seq": seq, "type": "release", "at": at, "entry": entry,
                "object": object, "by": by, "to": to, "to_label": to_label, "reason": reason}),
            Event::Rekey {
                moves,
                custodians,
                at,
                by,
                participants,
                ..
            } => json!({"seq": seq, "type": "rekey",
                "at": at, "entries": moves.len(), "by": by, "participants": participants,
                "custodians": custodians.as_ref().map(|c| c.custodians.iter()
                    .map(|x| json!({"label": x.label, "fingerprint": x.fingerprint})).collect::<Vec<_>>())}),
            Event::Custodians { set, reason, at } => json!({"seq": seq, "type": "custodians",
                "at": at, "reason": reason,
                "mode": set.mode,
                "custodians": set.custodians.iter()
                    .map(|x| json!({"label": x.label, "fingerprint": x.fingerprint})).collect::<Vec<_>>()}),
        };
        if let Some(id) = &only {
            if row["entry"].as_str() != Some(id.as_str()) {
                continue;
            }
        }
        rows.push(row);
    }
    match format {
        Format::Json => super::print::json("vault-log", &json!({ "events": rows }))?,
        Format::Yaml => super::print::yaml("vault-log", &json!({ "events": rows }))?,
        Format::Table => {
            let mut s = String::new();
            for r in &rows {
                let who = |r: &serde_json::Value| {
                    let b = &r["by"];
                    if b.is_null() {
                        "(not recorded: before format 2)".to_string()
                    } else {
                        format!(
                            "{} as {} on {}",
                            b["custodian"].as_str().unwrap_or("-"),
                            b["user"].as_str().unwrap_or("-"),
                            b["host"].as_str().unwrap_or("-")
                        )
                    }
                };
                // k-of-n: every custodian whose share opened the object.
                let with = |r: &serde_json::Value| match r["participants"].as_array() {
                    Some(a) if !a.is_empty() => format!(
                        "; custodians taking part: {}",
                        a.iter()
                            .map(|p| {
                                let name = p["custodian"].as_str().unwrap_or("-");
                                match p["release"].as_u64() {
                                    Some(n) => format!("{name} (share released at seq {n})"),
                                    None => name.to_string(),
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => String::new(),
                };
                let what = match r["type"].as_str().unwrap_or("") {
                    "release" => format!(
                        "share of {} RELEASED by {} to {} ({}); reason: {}",
                        r["entry"].as_str().unwrap_or(""),
                        who(r),
                        r["to_label"].as_str().unwrap_or("-"),
                        r["to"].as_str().unwrap_or("-"),
                        r["reason"].as_str().unwrap_or("(none given)")
                    ),
                    "add" => format!(
                        "added {} ({} {})",
                        r["entry"].as_str().unwrap_or(""),
                        r["provider"].as_str().unwrap_or("-"),
                        r["key_id"].as_str().unwrap_or("-")
                    ),
                    "drill" => format!(
                        "drill {} of {} by {}{}",
                        if r["ok"] == true { "passed" } else { "FAILED" },
                        r["entry"].as_str().unwrap_or(""),
                        who(r),
                        with(r)
                    ),
                    "restore" => format!(
                        "RESTORE of {} by {}; reason: {}{}",
                        r["entry"].as_str().unwrap_or(""),
                        who(r),
                        r["reason"].as_str().unwrap_or("(none given)"),
                        with(r)
                    ),
                    "rekey" => format!(
                        "rekey of {} entr(ies) to {} by {}{}",
                        r["entries"],
                        labels(&r["custodians"]),
                        who(r),
                        with(r)
                    ),
                    _ => format!(
                        "custodians ({}): {}",
                        r["reason"].as_str().unwrap_or(""),
                        if r["mode"] == "passphrase" {
                            "passphrase".to_string()
                        } else {
                            labels(&r["custodians"])
                        }
                    ),
                };
                s.push_str(&format!(
                    "{:>5}  {}  {}\n",
                    r["seq"],
                    r["at"].as_str().unwrap_or("").escape_debug(),
                    // One event, one line: a newline or tab in a label or reason (text anyone
                    // with a key wrote) cannot make what looks like another event.
                    what.replace('\n', "\\n")
                        .replace('\r', "\\r")
                        .replace('\t', "\\t")
                ));
            }
            if rows.is_empty() {
                s.push_str("no events\n");
            }
            super::print::text(&s)?;
        }
    }
    Ok(nkp_escrow::exit::OK)
}

fn labels(list: &serde_json::Value) -> String {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["label"].as_str().unwrap_or("-"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "(not recorded)".into())
}

fn restore(
    dir: &Path,
    selector: &str,
    keys: &Keys,
    reason: Option<String>,
    out: &Path,
    password_out: Option<&Path>,
    quiet: bool,
) -> Result<i32> {
    let v = Vault::open(dir)?;
    let entry = v.find(selector)?;
    // Who is taking the key out: a custodian, or nobody (refused before anything is recorded).
    let by = accessor_of(&v, keys)?;
    // A k-of-n entry opens only with K custodians (identities or released shares); a refused
    // attempt decrypts nothing and records nothing.
    let (env, participants) = v.open_entry_together(&entry, &keys.refs(), &keys.released)?;
    let p12 = env.p12()?;
    if nkp_vault::store::sha256_hex(&p12) != entry.p12_sha256 {
        bail!(
            "entry {}: decrypted .p12 does not match the manifest's p12_sha256",
            entry.id
        );
    }
    // Decide where the password goes before writing anything.
    let password = env
        .password
        .as_ref()
        .map(|p| p.expose_secret())
        .filter(|p| !p.is_empty());
    if password.is_some() && password_out.is_none() && !std::io::stderr().is_terminal() {
        bail!("entry {} has a password: give --password-out FILE (written 0600), or run on a terminal", entry.id);
    }
    // All or nothing: both outputs are created (exclusively, 0600) before either is written,
    // and whatever this command created is removed again if any step fails. `--out -` writes
    // the .p12 to standard output, never to a terminal.
    let to_stdout = out == Path::new("-");
    if to_stdout && std::io::stdout().is_terminal() {
        bail!("--out -: standard output is a terminal; a .p12 is binary: redirect it to a file or a pipe, or give --out FILE");
    }
    if to_stdout && password_out == Some(Path::new("-")) {
        usage!("--out - and --password-out - cannot both use standard output");
    }
    let mut created: Vec<&Path> = Vec::new();
    let written = (|| -> Result<()> {
        let mut pf = match (password, password_out) {
            (Some(_), Some(po)) => {
                let f = nkp_vault::store::create_new(po, 0o600)?;
                created.push(po);
                Some(f)
            }
            _ => None,
        };
        let mut f = if to_stdout {
            None
        } else {
            let f = nkp_vault::store::create_new(out, 0o600)?;
            created.push(out);
            Some(f)
        };
        // Recorded once the outputs exist and before a byte of the key is written: a key that
        // leaves the vault always leaves a trace (a failure from here on is recorded too).
        v.record_restore_by(&entry.id, &by, reason, participants.clone())?;
        match f.as_mut() {
            Some(f) => f
                .write_all(&p12)
                .and_then(|_| f.sync_all())
                .with_context(|| format!("cannot write {}", out.display()))?,
            None => {
                let mut so = std::io::stdout().lock();
                so.write_all(&p12)
                    .and_then(|_| so.flush())
                    .context("cannot write the .p12 to standard output")?;
            }
        }
        if let (Some(pf), Some(pw), Some(po)) = (pf.as_mut(), password, password_out) {
            pf.write_all(pw.as_bytes())
                .and_then(|_| pf.sync_all())
                .with_context(|| format!("cannot write {}", po.display()))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        for p in &created {
            let _ = std::fs::remove_file(p);
        }
        return Err(e.context("nothing was restored"));
    }
    if let (Some(pw), None) = (password, password_out) {
        say!(
            "Password of {} (shown once, on this terminal only):",
            if to_stdout {
                "the .p12".into()
            } else {
                out.display().to_string()
            }
        );
        eprintln!("{pw}");
    }
    if !quiet {
        say!(
            "restored entry {} ({} {}) to {}{}",
            entry.id,
            entry.provider.as_deref().unwrap_or("-"),
            entry.key_id.as_deref().unwrap_or("-"),
            if to_stdout {
                "standard output".to_string()
            } else {
                format!("{} (mode 0600)", out.display())
            },
            match (password, password_out) {
                (Some(_), Some(po)) => format!("; password in {} (mode 0600)", po.display()),
                (None, _) => "; the .p12 has no password".into(),
                _ => String::new(),
            }
        );
        say!("Next: vSphere Client > Key Providers > Restore (or POST /api/vcenter/crypto-manager/kms/providers?action=import with dry_run first).");
    }
    Ok(nkp_escrow::exit::OK)
}

/// `vault release`: a custodian's share of a k-of-n entry, re-encrypted to the restorer.
fn release(
    dir: &Path,
    selector: &str,
    identity: &Path,
    to: &str,
    out: &Path,
    reason: Option<String>,
    quiet: bool,
) -> Result<i32> {
    let v = Vault::open(dir)?;
    let to = recipient_specs_from("--to", &[to.to_string()], None)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("--to: no recipient"))?;
    let ids = identities(identity, quiet)?;
    // Only a custodian releases, and the release records who.
    let by = accessor(&v, &ids)?;
    let to_stdout = out == Path::new("-");
    if to_stdout && std::io::stdout().is_terminal() && !quiet {
        say!("note: the released share is encrypted to {}; it is safe to show, useless to anyone else", to.label);
    }
    // The file is created (exclusively, 0600) before the release is recorded, and removed if
    // anything fails: a recorded release always has its file, and nothing is overwritten.
    let mut f = if to_stdout {
        None
    } else {
        Some(nkp_vault::store::create_new(out, 0o600)?)
    };
    let written = (|| -> Result<nkp_vault::Entry> {
        let (entry, file) = v.release(selector, &ids, &to, &by, reason)?;
        match f.as_mut() {
            Some(f) => f
                .write_all(&file)
                .and_then(|_| f.sync_all())
                .with_context(|| format!("cannot write {}", out.display()))?,
            None => {
                let mut so = std::io::stdout().lock();
                so.write_all(&file)
                    .and_then(|_| so.flush())
                    .context("cannot write to standard output")?;
            }
        }
        Ok(entry)
    })();
    let entry = match written {
        Ok(e) => e,
        Err(e) => {
            if !to_stdout {
                let _ = std::fs::remove_file(out);
            }
            return Err(e.context("nothing was released"));
        }
    };
    if !quiet {
        say!(
            "{}'s share of entry {} ({}) released to {} ({}){}; recorded in the vault's log",
            by.custodian,
            entry.id,
            entry.provider.as_deref().unwrap_or("-"),
            to.label,
            to.fingerprint(),
            if to_stdout {
                String::new()
            } else {
                format!(" in {} (mode 0600)", out.display())
            }
        );
    }
    Ok(nkp_escrow::exit::OK)
}

fn drill(dir: &Path, keys: &Keys, selectors: &[String], format: Format) -> Result<i32> {
    let v = Vault::open(dir)?;
    // A drill by someone who is not a custodian proves nothing and is not recorded.
    let by = accessor_of(&v, keys)?;
    let targets = if selectors.is_empty() && !keys.released.is_empty() {
        // Released shares are for one entry each: drill those, not every entry.
        let mut t: Vec<nkp_vault::Entry> = Vec::new();
        for r in &keys.released {
            if !t.iter().any(|e| e.id == r.entry) {
                t.push(v.find(&r.entry)?);
            }
        }
        t
    } else if selectors.is_empty() {
        v.entries()?
    } else {
        selectors
            .iter()
            .map(|s| v.find(s))
            .collect::<Result<Vec<_>, _>>()?
    };
    // The manifest is read once for every entry drilled.
    let opener = v.opener()?;
    let mut results = Vec::new();
    let mut failed = 0;
    for e in &targets {
        // Too few custodians, or a released share that cannot be used here, is a refusal, not
        // a failed drill: nothing is decrypted and nothing recorded. What is recorded as a
        // failed drill is what the vault holds (an object that does not open or match).
        let (env, participants) = match opener.open(e, &keys.refs(), &keys.released) {
            Ok(x) => (Ok(x.0), x.1),
            Err(
                err @ (nkp_vault::VaultError::TooFewCustodians { .. }
                | nkp_vault::VaultError::ShareRefused { .. }),
            ) => return Err(err.into()),
            Err(err) => (Err(err.chain()), Vec::new()),
        };
        let outcome: Result<String, String> = (|| {
            let env = env?;
            let p12 = env.p12().map_err(|x| x.chain())?;
            if nkp_vault::store::sha256_hex(&p12) != e.p12_sha256 {
                return Err("decrypted .p12 does not match p12_sha256".into());
            }
            let pws: Vec<Password> = env
                .password
                .as_ref()
                .map(|p| {
                    vec![Password::new(
                        nkp_escrow::secret::PasswordOrigin::Builtin {
                            label: "escrowed password".into(),
                        },
                        p.clone(),
                    )]
                })
                .unwrap_or_default();
            let r = backup::inspect_bytes(&e.id, &p12, &pws, &InspectOptions::default());
            if let Some(err) = &r.error {
                return Err(format!("re-inspection failed: {}", err.message));
            }
            let p = r
                .providers
                .iter()
                .find(|p| p.kdk_fingerprint.as_deref() == Some(e.kdk_fingerprint.as_str()))
                .ok_or("the KDK fingerprint differs from the manifest")?;
            if p.name != e.provider || p.key_id != e.key_id {
                return Err(format!(
                    "name/key_id {:?}/{:?} differ from the manifest's {:?}/{:?}",
                    p.name, p.key_id, e.provider, e.key_id
                ));
            }
            Ok(format!(
                "decrypted, opened {}, provider {} key_id {} KDK {} match the manifest",
                if pws.is_empty() {
                    "(no password needed)"
                } else {
                    "with the escrowed password"
                },
                p.name.as_deref().unwrap_or("-"),
                p.key_id.as_deref().unwrap_or("-"),
                render::prefix(&e.kdk_fingerprint, 19)
            ))
        })();
        let (ok, detail) = match outcome {
            Ok(d) => (true, d),
            Err(d) => {
                failed += 1;
                (false, d)
            }
        };
        let took_part: Vec<&str> = participants.iter().map(|p| p.custodian.as_str()).collect();
        v.record_drill_by(&e.id, ok, detail.clone(), &by, participants.clone())?;
        results.push(
            json!({"entry": e.id, "provider": e.provider, "ok": ok, "detail": detail,
            "custodian": by.custodian, "participants": took_part}),
        );
    }
    match format {
        Format::Json => super::print::json("vault-drill", &json!({ "drills": results }))?,
        Format::Yaml => super::print::yaml("vault-drill", &json!({ "drills": results }))?,
        Format::Table => {
            let mut s = String::new();
            for r in &results {
                s.push_str(&format!(
                    "{} {} {}: {}\n",
                    if r["ok"] == true { "[PASS]" } else { "[FAIL]" },
                    r["entry"].as_str().unwrap_or(""),
                    r["provider"].as_str().unwrap_or("-"),
                    r["detail"].as_str().unwrap_or("")
                ));
            }
            super::print::text(&s)?;
        }
    }
    Ok(if failed > 0 {
        nkp_escrow::exit::FINDING
    } else {
        nkp_escrow::exit::OK
    })
}
