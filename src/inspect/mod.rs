//! `inspect`: the one place that builds the inspect report ([`InputReport`]).
//!
//! It joins the PKCS#12 reader (`nkp-pkcs12`: structure), NKP recognition ([`crate::nkp`]:
//! meaning), the protection verdict ([`crate::nkp::protection`]: strength) and the vCenter
//! bundle reader ([`crate::bundle`], through a [`MemberSink`]). Each of those can be tested
//! and changed on its own; none of them knows the report.

pub mod armor;
pub mod sniff;

use std::path::{Path, PathBuf};

use crate::bundle::{self, BundleLimits, BundleReport, MemberSink};
use crate::codes::ErrorCode;
use crate::evidence;
use crate::model::{ErrorInfo, InputReport};
use crate::nkp::{self, protection, FoundItem, ProviderRecord};
use crate::secret::Password;
use nkp_pkcs12::{Limits, ParseError, Pfx, Problem};

/// Options of `inspect`.
#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// Caps on key derivation and bag counts.
    pub limits: Limits,
    /// Largest file read, in bytes.
    pub max_file_size: u64,
    /// Include the structure tree.
    pub explain: bool,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_file_size: 64 << 20,
            explain: false,
        }
    }
}

fn error(code: ErrorCode, message: String) -> Option<ErrorInfo> {
    Some(ErrorInfo { code, message })
}

fn empty_report(path: &str) -> InputReport {
    InputReport {
        path: path.to_string(),
        sha256: None,
        size: None,
        kind: "not-pkcs12".into(),
        error: None,
        protection: None,
        providers: Vec::new(),
        holds: None,
        hint: None,
        notes: Vec::new(),
        structure: None,
        vcsa: None,
    }
}

/// Inspect one file from disk. Never fails: problems are in the report's `error`.
pub fn inspect_file(path: &Path, passwords: &[Password], opts: &InspectOptions) -> InputReport {
    let shown = path.display().to_string();
    if path.is_dir() {
        let r = bundle::read_dir(path, passwords, &BundleLimits::default(), &mut Members);
        return bundle_report(r);
    }
    if looks_like_archive(path) {
        if let Some(r) =
            bundle::read_archive(path, passwords, &BundleLimits::default(), &mut Members)
        {
            return bundle_report(r);
        }
    }
    let mut report = empty_report(&shown);
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            report.error = error(ErrorCode::Io, format!("{shown}: cannot read: {e}"));
            return report;
        }
    };
    report.size = Some(meta.len());
    if meta.len() > opts.max_file_size {
        report.error = error(ErrorCode::LimitsExceeded,
            format!(
                "{shown}: {} bytes is larger than the {} byte cap for one backup file (raise it with --max-size if this is really a backup)",
                meta.len(),
                opts.max_file_size
            ),
        );
        return report;
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = zeroize::Zeroizing::new(bytes);
            inspect_bytes(&shown, &bytes, passwords, opts)
        }
        Err(e) => {
            report.error = error(ErrorCode::Io, format!("{shown}: cannot read: {e}"));
            report
        }
    }
}

/// Inspect the bytes of one file. `path` is only used in messages and the report.
pub fn inspect_bytes(
    path: &str,
    bytes: &[u8],
    passwords: &[Password],
    opts: &InspectOptions,
) -> InputReport {
    // A .p12 that arrived as text (PEM, certutil -encode, pasted base64): read what is inside,
    // and say so.
    if let Some((der, how)) = armor::unarmor(bytes) {
        let mut report = inspect_bytes(path, &der, passwords, opts);
        report.notes.insert(
            0,
            format!(
                "unwrapped from {how}: the PKCS#12 inside ({} bytes, sha256 {}) was read",
                der.len(),
                crate::sha256_hex(&der)
            ),
        );
        report.size = Some(bytes.len() as u64);
        report.sha256 = Some(crate::sha256_hex(bytes));
        return report;
    }
    let mut report = empty_report(path);
    report.size = Some(bytes.len() as u64);
    report.sha256 = Some(crate::sha256_hex(bytes));
    if !sniff::may_be_pkcs12(bytes) {
        let hint = sniff::hint(bytes);
        report.error = error(
            ErrorCode::NotPkcs12,
            format!("{path}: not a PKCS#12 file: {hint}"),
        );
        report.hint = Some(hint);
        return report;
    }
    let pfx = match Pfx::parse(bytes) {
        Ok(p) => p,
        Err(ParseError::Truncated(m)) => {
            report.error = error(
                ErrorCode::Truncated,
                format!("{path}: the file is cut short ({m}); copy it again from its source"),
            );
            report.hint = Some("starts like PKCS#12 but is incomplete".into());
            return report;
        }
        Err(ParseError::NotPkcs12(m)) => {
            let hint = sniff::hint(bytes);
            report.error = error(
                ErrorCode::NotPkcs12,
                format!("{path}: not a PKCS#12 file: {m}"),
            );
            report.hint = Some(hint);
            return report;
        }
        Err(e) => {
            report.kind = "pkcs12-other".into();
            report.error = error(ErrorCode::Unsupported, format!("{path}: {e}"));
            return report;
        }
    };
    // Key derivation only on a file whose iteration counts are within the limits.
    let mut walk = match pfx.check(&opts.limits) {
        Ok(checked) => checked.open(passwords),
        Err(over) => over.into_contents(),
    };
    let found = nkp::classify(&mut walk);
    let rec = nkp::recognise(&found);
    let kdk_layers: Vec<Vec<usize>> = rec.providers.iter().map(|p| p.layers.clone()).collect();
    let protection = protection::assess(&walk, &found, &kdk_layers, passwords);
    report.kind = if rec.providers.is_empty() {
        "pkcs12-other".into()
    } else {
        "nkp-backup".into()
    };
    report.holds = Some(holds(&found));
    report.notes = rec.notes;
    if rec.providers.is_empty() && walk.problems.is_empty() {
        report.notes.push(
            "no symmetric key of 16, 32 or 64 bytes in any bag (rules R2 a-d): not an NKP backup"
                .into(),
        );
    }
    if let Some(m) = &walk.structure.mac {
        if m.status == "failed" && walk.layers.iter().any(|l| l.opened_with.is_some()) {
            report.notes.push(
                "the MAC did not verify with any password tried, but some contents decrypted: integrity unverified".into(),
            );
        }
    }
    report.providers = rec.providers;
    report.error = problem_error(path, &walk.problems, passwords.len());
    report.protection = Some(protection);
    if opts.explain {
        report.structure = Some(walk.structure);
    }
    report
}

fn holds(found: &[nkp::Found]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for f in found {
        let s = match &f.item {
            FoundItem::Kdk { key, .. } => format!("{}-bit symmetric key", key.len() * 8),
            FoundItem::Metadata { .. } => "JSON metadata".into(),
            FoundItem::PrivateKey { label } => label.clone(),
            FoundItem::Certificate { subject } => format!("certificate {subject}"),
            FoundItem::Other { label } => label.clone(),
        };
        parts.push(s);
    }
    if parts.is_empty() {
        "nothing readable".into()
    } else {
        parts.join(" + ")
    }
}

fn problem_error(path: &str, problems: &[Problem], n_passwords: usize) -> Option<ErrorInfo> {
    let rank = |p: &Problem| match p {
        Problem::Limits(_) => 0,
        Problem::Unsupported(_) => 1,
        Problem::WrongPassword(_) => 2,
        Problem::PasswordRequired(_) => 3,
        Problem::Malformed(_) => 4,
        _ => 5,
    };
    let p = problems.iter().min_by_key(|p| rank(p))?;
    let (code, message) = match p {
        Problem::Limits(m) => (ErrorCode::LimitsExceeded, format!("{path}: {m}")),
        Problem::Unsupported(m) => (
            ErrorCode::Unsupported,
            format!("{path}: uses {m}, which nkp-escrow cannot decrypt; what could be read is reported"),
        ),
        Problem::WrongPassword(m) => (
            ErrorCode::WrongPassword,
            format!(
                "{path}: wrong password: {m} ({n_passwords} given, plus the empty and absent ones); check the password file or the password recorded when the backup was exported"
            ),
        ),
        Problem::PasswordRequired(m) => (
            ErrorCode::PasswordRequired,
            format!(
                "{path}: password required: {m}; give one with --password-file FILE (one per line), --password-env VAR or --password-stdin"
            ),
        ),
        Problem::Malformed(m) => (ErrorCode::Malformed, format!("{path}: damaged contents: {m}")),
        other => (ErrorCode::Unsupported, format!("{path}: {other}")),
    };
    let mut message = message;
    if problems.len() > 1 {
        message.push_str(&format!(" ({} problems in all)", problems.len()));
    }
    Some(ErrorInfo { code, message })
}

/// A gzip or tar file (a possible `.tar`/`.tar.gz` of a vCenter backup folder).
fn looks_like_archive(path: &Path) -> bool {
    let mut head = [0u8; 262];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    head[..n].starts_with(&[0x1f, 0x8b]) || (n >= 262 && &head[257..262] == b"ustar")
}

fn named_like_archive(path: &Path) -> bool {
    let n = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    n.ends_with(".tar") || n.ends_with(".tar.gz") || n.ends_with(".tgz")
}

/// Files to inspect under `paths`: files given directly are always inspected; inside folders
/// (walked recursively, symlink loops survived) only files that sniff as PKCS#12 or carry a
/// `.p12`/`.pfx` name.
pub fn collect_inputs(paths: &[PathBuf]) -> Inputs {
    let mut files = Vec::new();
    let mut skipped = 0;
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut it = walkdir::WalkDir::new(p)
                .follow_links(true)
                .sort_by_file_name()
                .into_iter();
            while let Some(entry) = it.next() {
                match entry {
                    // A vCenter backup folder is one input; its parts are not .p12 files.
                    Ok(e) if e.file_type().is_dir() && bundle::is_backup_dir(e.path()) => {
                        files.push(e.into_path());
                        it.skip_current_dir();
                    }
                    Ok(e) if e.file_type().is_file() => {
                        let path = e.into_path();
                        if sniff::named_like_p12(&path)
                            || sniff::file_may_be_pkcs12(&path)
                            || named_like_archive(&path)
                        {
                            files.push(path);
                        } else {
                            skipped += 1;
                        }
                    }
                    Ok(_) => {}
                    // A symlink loop is survived: reported, but not an input failure.
                    Err(e) if e.loop_ancestor().is_some() => {
                        warnings.push(format!("{}: skipped a symlink loop: {e}", p.display()));
                    }
                    Err(e) => errors.push(format!("{}: {e}", p.display())),
                }
            }
        } else {
            files.push(p.clone());
        }
    }
    Inputs {
        files,
        skipped,
        errors,
        warnings,
    }
}

/// What [`collect_inputs`] found.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files to inspect, in a stable order.
    pub files: Vec<PathBuf>,
    /// Files passed over because they are not PKCS#12.
    pub skipped: usize,
    /// Folders that could not be read (an input failure).
    pub errors: Vec<String>,
    /// Things passed over on purpose (symlink loops).
    pub warnings: Vec<String>,
}

/// The inspect side of a vCenter bundle: embedded `.p12` files are inspected like any other,
/// JSON documents are read with the evidence parsers (ConfigStore `kms_providers`).
struct Members;

impl MemberSink for Members {
    fn pkcs12(
        &mut self,
        member: &str,
        bytes: &[u8],
        passwords: &[Password],
    ) -> (Vec<ProviderRecord>, Option<String>) {
        let r = inspect_bytes(member, bytes, passwords, &InspectOptions::default());
        (r.providers, r.error.map(|e| e.message))
    }

    fn json(&mut self, member: &str, text: &str) -> Vec<(Option<String>, Option<String>)> {
        evidence::providers_in_json(member, text)
    }
}

fn bundle_report(r: BundleReport) -> InputReport {
    InputReport {
        path: r.path,
        sha256: None,
        size: Some(r.size),
        kind: "vcsa-backup".into(),
        error: r.error.map(|e| ErrorInfo {
            code: e.code,
            message: e.message,
        }),
        protection: None,
        providers: r.providers,
        holds: Some(format!(
            "vCenter file-based backup, {} part(s)",
            r.info.parts.len()
        )),
        hint: None,
        notes: r.notes,
        structure: None,
        vcsa: Some(r.info),
    }
}
