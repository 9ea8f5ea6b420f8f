//! `report` and `report verify`: gather, evaluate, render, sign, write the folder in one step.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use zeroize::Zeroizing;

use super::join::{custodian_drills, exit_code, gather, say_problems, Gathered};
use crate::cli::{Format, ReportArgs, ReportCommand};
use nkp_escrow::report::{self, sign, Outcome};
use nkp_escrow::resolve;

/// The files a report folder holds.
const FILES: [&str; 4] = [
    "evidence.json",
    "evidence.md",
    "evidence.html",
    "evidence.json.sig",
];

/// How much of a key or signature file is read.
const MAX_KEY_FILE: u64 = 64 << 10;

/// `report ...`.
pub(crate) fn run(args: &ReportArgs, format: Format, quiet: bool) -> Result<i32> {
    match &args.command {
        Some(ReportCommand::Verify { dir, signer }) => {
            verify(dir, signer.as_deref(), format, quiet)
        }
        None => make(args, format, quiet),
    }
}

fn rfc3339_of(t: std::time::SystemTime) -> String {
    report::rfc3339(time::OffsetDateTime::from(t))
}

/// One input's digest, size, modification and capture time (read at most once, capped).
fn describe(
    path: &str,
    kind: &str,
    scope: Option<String>,
    now: time::OffsetDateTime,
) -> report::Input {
    let mut i = report::Input {
        path: path.to_string(),
        kind: kind.to_string(),
        scope,
        ..Default::default()
    };
    let Ok(meta) = std::fs::metadata(path) else {
        return i;
    };
    i.size = Some(meta.len());
    i.modified = meta.modified().ok().map(rfc3339_of);
    // Inputs were read by the parsers under their caps; hashing streams the file.
    // Streamed: a vCenter backup bundle of gigabytes is hashed in constant memory.
    i.sha256 = sha256_file(Path::new(path), u64::MAX);
    if kind == "evidence" {
        let stated = open_regular(Path::new(path), u64::MAX).ok().and_then(|f| {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(f, report::capture::SCAN_LIMIT as u64),
                &mut buf,
            )
            .ok()?;
            report::capture::stated_time(&buf, now)
        });
        match stated {
            Some(t) => {
                i.captured_at = Some(report::rfc3339(t));
                i.captured_from = Some("content");
            }
            None => {
                i.captured_at.clone_from(&i.modified);
                i.captured_from = i.modified.as_ref().map(|_| "mtime");
            }
        }
    }
    i
}

/// Open a file that may be hostile (a report folder from elsewhere, a key file): without
/// blocking (a FIFO), only a regular file, at most `cap` bytes.
fn open_regular(path: &Path, cap: u64) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a FIFO, device or folder)",
        ));
    }
    if meta.len() > cap {
        return Err(std::io::Error::other(format!(
            "{} bytes, larger than the {cap}-byte cap",
            meta.len()
        )));
    }
    Ok(f)
}

/// The largest report file hashed or read (a report of a large estate is a few MB).
const MAX_REPORT_FILE: u64 = 256 << 20;

/// The SHA-256 of a regular file of at most `cap` bytes, streamed.
fn sha256_file(path: &Path, cap: u64) -> Option<String> {
    use sha2::Digest;
    let f = open_regular(path, cap).ok()?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut std::io::Read::take(f, cap), &mut h).ok()?;
    Some(nkp_pkcs12::describe::hex(&h.finalize()))
}

/// Read a small file whole (keys, signatures), refusing anything larger than the cap.
fn read_small(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let f = open_regular(path, MAX_KEY_FILE)
        .with_context(|| format!("cannot open {what} {}", path.display()))?;
    let mut buf = Zeroizing::new(Vec::new());
    std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_KEY_FILE + 1), &mut buf)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if buf.len() as u64 > MAX_KEY_FILE {
        bail!(
            "{what} {} is larger than {MAX_KEY_FILE} bytes",
            path.display()
        );
    }
    Ok(buf)
}

fn signing_key(path: &Path, quiet: bool) -> Result<sign::SigningKey> {
    let text = read_small(path, "signing key")?;
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 && !quiet {
                say!(
                    "warning: {}: the signing key is readable by other users (mode {:o}): chmod 600 it",
                    path.display(),
                    m.permissions().mode() & 0o777
                );
            }
        }
    }
    let passphrase = if sign::SigningKey::is_encrypted(&text) {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!(
                "signing key {}: {}",
                path.display(),
                sign::SignError::Encrypted
            );
        }
        Some(secrecy::SecretString::from(
            rpassword::prompt_password(format!("Passphrase for {}: ", path.display()))
                .context("cannot read the passphrase")?,
        ))
    } else {
        None
    };
    sign::SigningKey::from_openssh(&text, passphrase.as_ref())
        .with_context(|| format!("signing key {}", path.display()))
}

fn make(args: &ReportArgs, format: Format, quiet: bool) -> Result<i32> {
    let Some(out) = args.out.as_deref() else {
        usage!("--out DIR is needed");
    };
    // Refuse early, before any work: an existing folder without --force, or one that holds
    // anything but a report.
    check_target(out, args.force)?;
    for k in &args.trusted_key {
        use base64::Engine;
        let ok = base64::engine::general_purpose::STANDARD
            .decode(k.trim())
            .is_ok_and(|b| b.len() == 32);
        if !ok {
            usage!("--trusted-key: not an Ed25519 public key (base64 of 32 bytes, as `vault checkpoint-key` prints it); the value is not shown");
        }
    }
    let key = args
        .sign_key
        .as_deref()
        .map(|k| signing_key(k, quiet))
        .transpose()?;
    let options = nkp_vault::VerifyOptions {
        trusted: args.trusted_key.clone(),
        ..Default::default()
    };
    let Gathered {
        backups,
        unreadable,
        evidence: g,
        problems,
        vault_report,
    } = gather(&args.join, &options)?;
    say_problems(&problems);
    let now = time::OffsetDateTime::now_utc();
    let mut c = resolve::coverage(&g.references, &backups, &unreadable, now);
    if let Some(dir) = &args.join.vault {
        resolve::add_custodian_findings(&mut c, &custodian_drills(dir)?);
        if let Some(m) = super::join::custody_model(dir) {
            resolve::add_custody_findings(&mut c, m, args.require_dual_control);
        }
    }
    // Every input: evidence files that yielded a reference or an error, backup files (opened or
    // not), the vault's manifest.
    let mut inputs: BTreeMap<String, (&str, Option<String>)> = BTreeMap::new();
    for r in &g.references {
        for s in &r.sources {
            inputs
                .entry(s.path.clone())
                .or_insert(("evidence", Some(r.scope.to_string())));
        }
    }
    for i in &g.inputs {
        inputs.entry(i.path.clone()).or_insert(("evidence", None));
    }
    for b in backups.iter().filter(|b| b.kind == "file") {
        inputs.entry(b.source.clone()).or_insert(("backup", None));
    }
    for u in &unreadable {
        inputs
            .entry(u.file.clone())
            .or_insert(("backup-unopened", None));
    }
    let (vault, custody) = match &args.join.vault {
        Some(dir) => {
            let rep = vault_report.unwrap_or_else(|| nkp_vault::verify::keyless(dir, &options));
            let manifest = dir.join("manifest.jsonl").display().to_string();
            inputs.insert(manifest, ("vault-manifest", None));
            let events = nkp_vault::Vault::open(dir).and_then(|v| v.events()).ok();
            let custody =
                report::Custody::new(dir, &rep, events.as_deref(), args.trusted_key.len());
            (
                Some(
                    serde_json::json!({"path": dir.display().to_string(), "chain_head": rep.head,
                    "verified": rep.ok, "entries": rep.entries, "problems": rep.problems,
                    "warnings": rep.warnings}),
                ),
                Some(custody),
            )
        }
        None => (None, None),
    };
    let inputs: Vec<report::Input> = inputs
        .into_iter()
        .map(|(path, (kind, scope))| describe(&path, kind, scope, now))
        .collect();
    let mut scopes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &args.join.evidence {
        let s = nkp_escrow::evidence::ScopedPath::parse(e);
        scopes
            .entry(s.scope)
            .or_default()
            .push(s.path.display().to_string());
    }
    let mut rep = report::Report::build(report::Inputs {
        coverage: &c,
        backups: &backups,
        unreadable: &unreadable,
        vault,
        custody,
        inputs,
        input_problems: problems.clone(),
        skipped: g.skipped,
        attribution: attribution(),
        scopes: scopes
            .into_iter()
            .map(|(scope, paths)| report::Scope { scope, paths })
            .collect(),
        max_evidence_age_days: args.max_evidence_age,
        now,
    });
    rep.signature = key.as_ref().map(|k| report::Signature {
        file: "evidence.json.sig",
        namespace: sign::NAMESPACE,
        public_key: k.public_openssh(),
        fingerprint: k.fingerprint(),
    });
    let md = rep.markdown();
    let html = rep.html();
    let doc = rep.with_artifacts(&[("evidence.md", &md), ("evidence.html", &html)]);
    let json = serde_json::to_string_pretty(&doc)? + "\n";
    let mut files: Vec<(&str, String)> = vec![
        ("evidence.json", json.clone()),
        ("evidence.md", md),
        ("evidence.html", html),
    ];
    if let Some(k) = &key {
        files.push(("evidence.json.sig", k.sign(json.as_bytes())?));
    }
    write_folder(out, &files, args.force)?;
    let failed = rep.failed();
    let over = args
        .fail_on
        .is_some_and(|t| c.findings.iter().any(|f| f.severity.at_least(t.severity())));
    match format {
        Format::Json => super::print::json("report", &doc)?,
        Format::Yaml => super::print::yaml("report", &doc)?,
        Format::Table => {
            let mut s = String::new();
            for ctl in &rep.controls {
                s.push_str(&format!("[{}] {}\n", ctl.result, ctl.id));
            }
            super::print::text(&s)?;
            if !quiet {
                let count = |o: Outcome| rep.controls.iter().filter(|c| c.result == o).count();
                say!(
                    "{} controls: {} PASS, {} FAIL, {} NOT-ASSESSED; {} finding(s)",
                    rep.controls.len(),
                    count(Outcome::Pass),
                    count(Outcome::Fail),
                    count(Outcome::NotAssessed),
                    rep.findings.len()
                );
                say!(
                    "written to {}: {}",
                    out.display(),
                    files.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                );
                match &rep.signature {
                    Some(s) => say!(
                        "signed by {}; check with: nkp-escrow report verify {} --signer KEY.pub",
                        s.fingerprint,
                        out.display()
                    ),
                    None => say!("unsigned (sign with --sign-key KEY)"),
                }
            }
        }
    }
    Ok(exit_code(&problems, failed || over))
}

/// Who is running this, as the system reports it.
fn attribution() -> report::Attribution {
    let (user, host) = super::who();
    report::Attribution {
        user,
        host,
        command_line: std::env::args_os()
            .map(|a| nkp_escrow::render::one_line(&a.to_string_lossy()).into_owned())
            .collect(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: report::GIT_COMMIT.to_string(),
    }
}

/// `--out` may be new, or (with `--force`) a folder that holds only report files.
fn check_target(out: &Path, force: bool) -> Result<()> {
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", out.display())),
        Ok(m) => m,
    };
    if !force {
        usage!(
            "{} exists: give another --out, or --force to replace that report",
            out.display()
        );
    }
    if !meta.is_dir() {
        usage!("{} exists and is not a folder: not replaced", out.display());
    }
    for e in std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))? {
        let e = e.with_context(|| format!("cannot read {}", out.display()))?;
        let name = e.file_name();
        // Only the report's own files, and only as plain files: a folder or link of the same
        // name may hold anything.
        let plain = e.file_type().is_ok_and(|t| t.is_file());
        if !plain || !FILES.iter().any(|f| name == std::ffi::OsStr::new(f)) {
            usage!(
                "{} holds {:?}, which is not a report file: not replaced",
                out.display(),
                name
            );
        }
    }
    Ok(())
}

/// Write the files into a new folder beside `out`, then put it in place in one rename (with
/// `--force`, an exchange with the old folder, which is then removed). A crash leaves the old
/// report or the new one, never a mix.
fn write_folder(out: &Path, files: &[(&str, String)], force: bool) -> Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}-{stamp}", std::process::id()));
    std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = (|| -> Result<()> {
        for (file, body) in files {
            let path = tmp.join(file);
            let mut f = nkp_vault::store::create_new(&path, 0o644)?;
            f.write_all(body.as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if let Ok(d) = std::fs::File::open(&tmp) {
            let _ = d.sync_all();
        }
        check_target(out, force)?;
        if out.exists() {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &tmp,
                rustix::fs::CWD,
                out,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .with_context(|| format!("cannot replace {}", out.display()))?;
            // `tmp` now holds the old report.
            std::fs::remove_dir_all(&tmp)
                .with_context(|| format!("cannot remove the old report (now {})", tmp.display()))?;
        } else {
            std::fs::rename(&tmp, out)
                .with_context(|| format!("cannot create {}", out.display()))?;
        }
        if let Ok(d) = std::fs::File::open(&parent) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() && tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// `report verify DIR`.
fn verify(dir: &Path, signer: Option<&Path>, format: Format, quiet: bool) -> Result<i32> {
    let json_path = dir.join("evidence.json");
    let json = read_capped(&json_path)?;
    let signer_key = match signer {
        Some(p) => {
            let text = read_small(p, "signer file")?;
            Some(
                sign::parse_signer(&String::from_utf8_lossy(&text))
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            )
        }
        None => None,
    };
    let mut problems: Vec<String> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut signed_by: Option<String> = None;
    let mut pinned = false;
    let sig_path = dir.join("evidence.json.sig");
    match std::fs::symlink_metadata(&sig_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push("unsigned: there is no evidence.json.sig".into());
        }
        _ => match read_small(&sig_path, "signature") {
            Err(e) => problems.push(format!("signature: {e:#}")),
            Ok(sig) => {
                match sign::verify(&String::from_utf8_lossy(&sig), &json, signer_key.as_ref()) {
                    Ok(v) if v.signer_pinned => {
                        signed_by = Some(v.fingerprint.clone());
                        pinned = true;
                        lines.push(format!(
                            "signature: valid, by {} (the signer given)",
                            v.fingerprint
                        ));
                    }
                    Ok(v) => {
                        signed_by = Some(v.fingerprint.clone());
                        lines.push(format!("signature: valid, by {}", v.fingerprint));
                        problems.push(format!(
                        "signer not checked: anyone can sign; give --signer KEY.pub (expected {})",
                        v.fingerprint
                    ));
                    }
                    Err(e) => problems.push(format!("signature: {e}")),
                }
            }
        },
    }
    // The human renderings are covered through their digests in evidence.json.
    let doc: serde_json::Value = serde_json::from_slice(&json)
        .with_context(|| format!("{} is not JSON", json_path.display()))?;
    match doc.get("artifacts").and_then(|a| a.as_object()) {
        None => problems.push("evidence.json records no artifact digests".into()),
        Some(a) => {
            for (name, want) in a {
                let path = dir.join(name);
                if name.contains('/') || name.contains("..") {
                    problems.push(format!("artifact name {name:?} is not a file name"));
                    continue;
                }
                match sha256_file(&path, MAX_REPORT_FILE) {
                    Some(h) if Some(h.as_str()) == want.as_str() => {
                        lines.push(format!("{name}: matches"));
                    }
                    Some(_) => problems.push(format!("{name}: changed since the report was made")),
                    None => problems.push(format!("{name}: missing or unreadable")),
                }
            }
        }
    }
    if format != Format::Table {
        let doc = serde_json::json!({
            "dir": dir.display().to_string(),
            "verified": problems.is_empty(),
            "signer": signed_by,
            "signer_pinned": pinned,
            "checked": lines,
            "problems": problems,
        });
        if format == Format::Json {
            super::print::json("report-verify", &doc)?;
        } else {
            super::print::yaml("report-verify", &doc)?;
        }
        return Ok(if problems.is_empty() {
            nkp_escrow::exit::OK
        } else {
            nkp_escrow::exit::FINDING
        });
    }
    if !quiet {
        for l in &lines {
            say!("{l}");
        }
    }
    for p in &problems {
        say!("problem: {p}");
    }
    if problems.is_empty() {
        println!(
            "report {}: verified",
            nkp_escrow::render::one_line(&dir.display().to_string())
        );
        Ok(nkp_escrow::exit::OK)
    } else {
        println!(
            "report {}: NOT VERIFIED ({} problem(s))",
            nkp_escrow::render::one_line(&dir.display().to_string()),
            problems.len()
        );
        Ok(nkp_escrow::exit::FINDING)
    }
}

/// evidence.json, read with a cap (a report of a large estate is a few MB).
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    const MAX: u64 = MAX_REPORT_FILE;
    let f = open_regular(path, MAX).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX + 1), &mut buf)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if buf.len() as u64 > MAX {
        bail!("{} is larger than {MAX} bytes", path.display());
    }
    Ok(buf)
}
