//! `nkp-escrow demo`: the workflow on the bundled sample estate, narrated.
//!
//! The sample backups are compiled into the binary (they are made by
//! `testdata/generate.sh`), so the demo needs no files, network or other tools.

use std::fmt::Write as _;

use anyhow::Result;

use crate::cli::Format;
use nkp_escrow::inspect::{self as backup, InspectOptions};
use nkp_escrow::model::{InspectOutput, Verdict};
use nkp_escrow::render;
use nkp_escrow::secret::{Password, PasswordOrigin};
use secrecy::SecretString;

/// The sample share: badly named .p12 files, as on-call engineers find them.
const SHARE: &[(&str, &[u8])] = &[
    (
        "share/NKP-PROD.p12",
        include_bytes!("../../testdata/estate/share/NKP-PROD.p12"),
    ),
    (
        "share/NKP-PROD (1).p12",
        include_bytes!("../../testdata/estate/share/NKP-PROD (1).p12"),
    ),
    (
        "share/backup-old.p12",
        include_bytes!("../../testdata/estate/share/backup-old.p12"),
    ),
    (
        "share/nkp-dr-2024.p12",
        include_bytes!("../../testdata/estate/share/nkp-dr-2024.p12"),
    ),
    (
        "share/vcsa01-machine-ssl.p12",
        include_bytes!("../../testdata/estate/share/vcsa01-machine-ssl.p12"),
    ),
    (
        "share/NKP-LAB.p12",
        include_bytes!("../../testdata/estate/share/NKP-LAB.p12"),
    ),
];
const PASSWORDS: &str = include_str!("../../testdata/estate/share/passwords.txt");

/// Live evidence of the estate: VM files from a datastore, a ticket with pasted ESXi output,
/// VCDB queries and API output (testdata/evidence).
const EVIDENCE: &[(&str, &[u8])] = &[
    (
        "evidence/datastore1/win11-52/win11-52.vmx",
        include_bytes!("../../testdata/evidence/datastore1/win11-52/win11-52.vmx"),
    ),
    (
        "evidence/datastore1/win11-52/win11-52.vmdk",
        include_bytes!("../../testdata/evidence/datastore1/win11-52/win11-52.vmdk"),
    ),
    (
        "evidence/datastore1/win11-52/win11-52_1.vmdk",
        include_bytes!("../../testdata/evidence/datastore1/win11-52/win11-52_1.vmdk"),
    ),
    (
        "evidence/datastore1/db01/db01.vmx",
        include_bytes!("../../testdata/evidence/datastore1/db01/db01.vmx"),
    ),
    (
        "evidence/datastore1/sparse-vm/sparse-vm.vmdk",
        include_bytes!("../../testdata/evidence/datastore1/sparse-vm/sparse-vm.vmdk"),
    ),
    (
        "evidence/tickets/INC0042-esxi51.txt",
        include_bytes!("../../testdata/evidence/tickets/INC0042-esxi51.txt"),
    ),
    (
        "evidence/tickets/INC0077-esxi53.txt",
        include_bytes!("../../testdata/evidence/tickets/INC0077-esxi53.txt"),
    ),
    (
        "evidence/datastore1/sealed-vm/sealed-vm.vmx",
        include_bytes!("../../testdata/evidence/datastore1/sealed-vm/sealed-vm.vmx"),
    ),
    (
        "evidence/tickets/esxi52-after-reboot.log",
        include_bytes!("../../testdata/evidence/tickets/esxi52-after-reboot.log"),
    ),
    (
        "evidence/vcdb/vpx_host-aligned.txt",
        include_bytes!("../../testdata/evidence/vcdb/vpx_host-aligned.txt"),
    ),
    (
        "evidence/vcdb/vpx_host-unaligned.txt",
        include_bytes!("../../testdata/evidence/vcdb/vpx_host-unaligned.txt"),
    ),
    (
        "evidence/vcdb/vpx_host-expanded.txt",
        include_bytes!("../../testdata/evidence/vcdb/vpx_host-expanded.txt"),
    ),
    (
        "evidence/api/kms.ls.json",
        include_bytes!("../../testdata/evidence/api/kms.ls.json"),
    ),
    (
        // The second vCenter's provider list: its own scope (`--evidence vc02=evidence-vc02`).
        "evidence-vc02/kms.ls.json",
        include_bytes!("../../testdata/evidence/api/vc02-kms.ls.json"),
    ),
    (
        "evidence/api/vm.info.json",
        include_bytes!("../../testdata/evidence/api/vm.info.json"),
    ),
    (
        "evidence/api/NKP-PROD.json",
        include_bytes!("../../testdata/evidence/api/NKP-PROD.json"),
    ),
    (
        "evidence/api/powercli-vms.json",
        include_bytes!("../../testdata/evidence/api/powercli-vms.json"),
    ),
];

/// Run the demo.
pub(crate) fn run(format: Format, quiet: bool) -> Result<i32> {
    let passwords: Vec<Password> = PASSWORDS
        .lines()
        .enumerate()
        .map(|(i, l)| {
            Password::new(
                PasswordOrigin::File {
                    path: "share/passwords.txt".into(),
                    line: i + 1,
                },
                SecretString::from(l.to_string()),
            )
        })
        .collect();
    let opts = InspectOptions::default();
    let inputs = SHARE
        .iter()
        .map(|(name, bytes)| backup::inspect_bytes(name, bytes, &passwords, &opts))
        .collect::<Vec<_>>();
    let out = InspectOutput {
        tool: "nkp-escrow",
        version: env!("CARGO_PKG_VERSION"),
        inputs,
        skipped: 0,
    };
    let narrate = !quiet && format == Format::Table;
    let mut text = String::new();
    if narrate {
        let _ = writeln!(
            text,
            "nkp-escrow demo: a share of Native Key Provider backups, read offline.\n"
        );
        let _ = writeln!(
            text,
            "Step 1. Inspect the share ({} files, names as people leave them) with its password file (share/passwords.txt, {} lines). Passwords are never shown: only which line opened a file.\n",
            SHARE.len(),
            passwords.len()
        );
    }
    match format {
        Format::Json => super::print::json("inspect", &out)?,
        Format::Yaml => super::print::yaml("inspect", &out)?,
        Format::Table => {
            super::print::text(&text)?;
            text.clear();
            super::print::text(&render::inspect_table(&out, false))?;
        }
    }
    if narrate {
        text.push_str("\nWhat this shows:\n");
        for line in story(&out) {
            let _ = writeln!(text, "  - {line}");
        }
        let _ = writeln!(text, "\n(`nkp-escrow inspect --explain <file>` prints a file's structure, safe to paste into a ticket.)");
    }
    super::print::text(&text)?;
    if narrate {
        walkthrough()?;
    }
    Ok(nkp_escrow::exit::OK)
}

fn heading(s: &str) -> Result<()> {
    super::print::text(&format!(
        "\n{}\n{}\n",
        s,
        "-".repeat(s.chars().count().min(render::layout::width()))
    ))
}

/// Steps 2-6 on a private copy of the estate in a temporary folder.
fn walkthrough() -> Result<()> {
    use crate::cli::{
        CoverageArgs, EvidenceArgs, JoinArgs, PassphraseFile, PasswordArgs, ReportArgs,
        ReportCommand, ResolveArgs, VaultCommand, VaultDir,
    };
    use secrecy::ExposeSecret;
    use std::path::Path;
    let base = std::env::temp_dir().join(format!("nkp-escrow-demo-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    #[cfg(unix)]
    std::fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let result = (|| -> Result<()> {
        for (name, bytes) in SHARE.iter().chain(EVIDENCE.iter()) {
            let p = base.join(name);
            std::fs::create_dir_all(p.parent().unwrap_or(&base))?;
            std::fs::write(&p, bytes)?;
        }
        std::fs::write(base.join("share/passwords.txt"), PASSWORDS)?;
        std::env::set_current_dir(&base)?;
        let pw = PasswordArgs {
            password_file: vec!["share/passwords.txt".into()],
            ..PasswordArgs::default()
        };
        let join = || JoinArgs {
            evidence: vec!["vc01=evidence".into(), "vc02=evidence-vc02".into()],
            backups: vec!["share".into()],
            vault: Some("vault".into()),
            passwords: pw.clone(),
        };

        heading("Step 2. Read what the live estate needs: VM files, a ticket with ESXi output, VCDB and API output")?;
        super::evidence::run(
            &EvidenceArgs {
                paths: vec!["vc01=evidence".into(), "vc02=evidence-vc02".into()],
                max_size: 32 << 20,
                follow_symlinks: false,
            },
            Format::Table,
            true,
        )?;

        heading("Step 3. Escrow the NKP backups into a new vault for a custodian (identity generated for the demo)")?;
        let id = age::x25519::Identity::generate();
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        std::io::Write::write_all(
            &mut o.open("custodian.age")?,
            format!("{}\n", id.to_string().expose_secret()).as_bytes(),
        )?;
        let dir = VaultDir {
            vault: Some("vault".into()),
        };
        super::vault::run(
            VaultCommand::Init {
                dir: dir.clone(),
                recipient: vec![format!("custodian={}", id.to_public())],
                recipients_file: None,
                passphrase: false,
                passphrase_file: PassphraseFile {
                    passphrase_file: None,
                },
                threshold: None,
            },
            Format::Table,
            false,
        )?;
        let files = SHARE.iter().map(|(n, _)| n.into()).collect();
        super::vault::run(
            VaultCommand::Add {
                dir: dir.clone(),
                files,
                label: None,
                passwords: pw.clone(),
                passphrase_file: PassphraseFile {
                    passphrase_file: None,
                },
            },
            Format::Table,
            false,
        )?;
        super::print::text("Keyless check (what an auditor runs without any key):\n")?;
        super::vault::run(
            VaultCommand::Verify {
                dir: dir.clone(),
                identity: None,
                trusted_key: Vec::new(),
                allow_unsigned_tail: false,
                expect_seq: None,
                expect_head: None,
                passphrase_file: PassphraseFile {
                    passphrase_file: None,
                },
            },
            Format::Table,
            true,
        )?;
        super::print::text(
            "Restore drill (the custodian's identity; decrypted in memory only):\n",
        )?;
        super::vault::run(
            VaultCommand::Drill {
                dir,
                identity: vec!["custodian.age".into()],
                share: Vec::new(),
                passphrase_file: PassphraseFile {
                    passphrase_file: None,
                },
                entries: Vec::new(),
            },
            Format::Table,
            true,
        )?;

        heading("Step 4. The 3 a.m. incident: esxi51 rebooted and VM \"win11-52 \\\"finance\\\"\" is locked. Which backup restores it?")?;
        super::print::text("NKP-PROD was deleted and re-created (KB 311922): the hosts now have a new NKP-PROD key_id, but the VM still needs the old one.\n\n")?;
        super::join::resolve(
            &ResolveArgs {
                join: join(),
                vm: vec!["win11-52 \"finance\"".into()],
                host: Vec::new(),
                provider: Vec::new(),
                file: Vec::new(),
            },
            Format::Table,
        )?;

        heading("Step 5. The quarterly review: is every provider in use covered, in each vCenter (scope)?")?;
        super::print::text("vc01 and vc02 both have a provider named NKP-DR, with different key_ids: two providers, each needs its own backup.\n\n")?;
        super::join::coverage(
            &CoverageArgs {
                join: join(),
                fail_on: None,
                require_dual_control: false,
            },
            Format::Table,
        )?;

        heading("Step 6. The audit: a signed report with a result per control, who made it, and every input")?;
        // The auditor's signing key: made here for the demo, as `ssh-keygen -t ed25519` would.
        let (_, private) = nkp_escrow::report::sign::SigningKey::generate("auditor@demo")?;
        let mut f = nkp_vault::store::create_new(Path::new("auditor.key"), 0o600)?;
        std::io::Write::write_all(&mut f, private.as_bytes())?;
        drop(f);
        super::report::run(
            &report_args(join(), "report", Some("auditor.key".into())),
            Format::Table,
            false,
        )?;
        super::print::text("\nAnyone can check it (here against the auditor's key; `ssh-keygen -Y verify` works too):\n")?;
        let key = nkp_escrow::report::sign::SigningKey::from_openssh(
            &zeroize::Zeroizing::new(private.as_bytes().to_vec()),
            None,
        )?;
        std::fs::write("auditor.key.pub", key.public_openssh() + "\n")?;
        super::report::run(
            &ReportArgs {
                command: Some(ReportCommand::Verify {
                    dir: "report".into(),
                    signer: Some("auditor.key.pub".into()),
                }),
                ..report_args(join(), "report", None)
            },
            Format::Table,
            false,
        )?;
        heading("Step 7. No false PASS: the same audit with a mistyped evidence path")?;
        super::print::text("Nothing was read, so nothing can pass: the controls say NOT-ASSESSED and why, and the exit code is 1.\n\n")?;
        super::report::run(
            &report_args(
                JoinArgs {
                    evidence: vec!["evidnce".into()],
                    ..join()
                },
                "report-typo",
                None,
            ),
            Format::Table,
            false,
        )?;
        super::print::text(&format!(
            "\nThe demo worked in {} (share, evidence, vault, report/evidence.md); that folder is removed now.\nOn your own estate: nkp-escrow inspect | evidence | vault | resolve | coverage | report (see --help).\n",
            base.display()
        ))?;
        Ok(())
    })();
    let _ = std::env::set_current_dir(std::env::temp_dir());
    let _ = std::fs::remove_dir_all(&base);
    result
}

/// Facts worth telling a newcomer, derived from the results (not scripted).
fn story(out: &InspectOutput) -> Vec<String> {
    let mut lines = Vec::new();
    let mut by_name: std::collections::BTreeMap<String, Vec<(String, String)>> =
        std::collections::BTreeMap::new();
    for r in &out.inputs {
        for p in &r.providers {
            by_name
                .entry(p.name.clone().unwrap_or_default())
                .or_default()
                .push((
                    r.path.clone(),
                    p.key_id.clone().unwrap_or_else(|| "unknown".into()),
                ));
        }
    }
    for (name, list) in &by_name {
        let mut ids: Vec<&String> = list.iter().map(|(_, k)| k).collect();
        ids.sort();
        ids.dedup();
        if ids.len() > 1 {
            lines.push(format!(
                "provider {name} appears in {} files with {} different key_ids: it was deleted and re-created under the same name (KB 311922). Only the backup whose key_id the hosts need will unlock their VMs.",
                list.len(),
                ids.len()
            ));
        }
    }
    for r in &out.inputs {
        let Some(p) = &r.protection else { continue };
        if r.kind == "nkp-backup" && p.verdict == Verdict::Unprotected {
            lines.push(format!(
                "{} holds a KDK with no password: anyone with the file has the key. STIG VCFA-9X-000335 says re-export it with a strong password and delete this copy.",
                r.path
            ));
        }
        if let Some(pw) = p.password.as_ref().filter(|pw| !pw.meets_stig_complexity) {
            if r.kind == "nkp-backup" {
                lines.push(format!(
                    "{} opens with a {}-character password ({}): the STIG asks for a strong password (15+ characters, upper, lower, digit, symbol), not only strong algorithms.",
                    r.path,
                    pw.length,
                    pw.source
                ));
            }
        }
        if r.kind == "nkp-backup" && p.verdict == Verdict::Weak {
            lines.push(format!(
                "{} is protected, but weakly: {}.",
                r.path,
                p.reasons.join("; ")
            ));
        }
        if r.kind == "pkcs12-other" {
            lines.push(format!(
                "{} is a PKCS#12 file but not an NKP backup: it holds {}.",
                r.path,
                r.holds.as_deref().unwrap_or("nothing readable")
            ));
        }
    }
    lines
}

/// `report` arguments for the demo.
fn report_args(
    join: crate::cli::JoinArgs,
    out: &str,
    sign_key: Option<std::path::PathBuf>,
) -> crate::cli::ReportArgs {
    crate::cli::ReportArgs {
        command: None,
        join,
        out: Some(out.into()),
        force: false,
        sign_key,
        trusted_key: Vec::new(),
        max_evidence_age: 90,
        fail_on: None,
        require_dual_control: false,
    }
}
