//! Runbook steps: what to do, in order, to get a subject's key back.

use std::collections::BTreeSet;

use super::{Candidate, Verdict};
use crate::evidence::{KeyReference, Subject};

/// The steps that name the subject: unlock it, then confirm on the host.
pub(super) fn subject_steps(
    s: &mut Vec<String>,
    subject: &Subject,
    provider: &str,
    verdict: Verdict,
    refs: &[&KeyReference],
) {
    if refs.iter().any(|r| {
        r.details
            .iter()
            .any(|d| d.contains("Unable to decrypt the ciphertext"))
    }) {
        s.push(format!(
            "The log says \"Unable to decrypt the ciphertext\": after a cross-vCenter vMotion (KB 378053) both vCenters must have the same {provider} (same KDK). Compare its key_id on both (`govc kms.ls -json` against each, or read both with `--evidence vc01=PATH --evidence vc02=PATH`); restore the backup on the vCenter that differs."
        ));
    }
    if !matches!(verdict, Verdict::Restorable | Verdict::Probable) {
        return;
    }
    match subject.kind {
        "host" => s.push(format!(
            "On host {}: re-enable host encryption mode (vSphere Client: select the host > Configure > Security Profile > Host Encryption Mode > Edit > Enabled) so the host key is unwrapped.",
            subject.name
        )),
        _ => s.push(format!(
            "Then unlock the {} {} (vSphere Client: select the VM > Actions > Unlock VM; or power it on again once the host has the key).",
            subject.kind, subject.name
        )),
    }
    if let Some(k) = refs.iter().find_map(|r| r.key.as_deref()) {
        let locator = format!(
            "vmware:key/fqid/<VMWARE-NULL>/{}/{}",
            crate::evidence::keysafe::escape(provider.as_bytes()),
            crate::evidence::keysafe::escape(k.as_bytes())
        );
        s.push(key_check(&locator));
    }
}

/// `s` quoted for a POSIX shell (single quotes; a `'` inside is closed, escaped and reopened).
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A command as shell lines that fit a terminal: arguments (already quoted) joined by spaces,
/// a line continued with ` \` before it would pass 64 columns; an argument is never split.
fn shell_lines(args: &[String]) -> String {
    let mut out = String::new();
    let mut line = 0usize;
    for (i, a) in args.iter().enumerate() {
        let w = a.chars().count();
        if i > 0 && line + 1 + w > 64 {
            out.push_str(" \\\n    ");
            line = 4;
        } else if i > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(a);
        line += w;
    }
    out
}

/// A provider name made safe as a file name: letters, digits, `.`, `_` and `-` are kept, anything
/// else becomes `_`; never empty, never starting with `.` or `-`.
fn safe_file_name(name: &str) -> String {
    let mut f: String = name
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if f.is_empty() || f.starts_with(['.', '-']) {
        f.insert_str(0, "provider");
    }
    f
}

/// The host check of a key locator. A long locator (a key-ID blob is ~190 characters) is built
/// in a shell variable from pieces of 56 characters, so that the step fits an
/// 80-column terminal and still pastes into the ESXi shell as it is printed.
fn key_check(locator: &str) -> String {
    const PIECE: usize = 56;
    if locator.len() <= PIECE || !locator.is_ascii() || locator.contains('\'') {
        return format!(
            "Confirm on the host: `crypto-util keys iskeyincache '{locator}'` must answer YES."
        );
    }
    let mut lines = Vec::new();
    for (i, piece) in locator.as_bytes().chunks(PIECE).enumerate() {
        let piece = String::from_utf8_lossy(piece);
        lines.push(if i == 0 {
            format!("K='{piece}'")
        } else {
            format!("K=\"$K\"'{piece}'")
        });
    }
    format!(
        "Confirm on the host (paste these lines into its shell; the key locator is built in \
pieces to fit the screen):\n{}\ncrypto-util keys iskeyincache \"$K\"\nmust answer YES.",
        lines.join("\n")
    )
}

pub(super) fn steps(
    provider: &str,
    verdict: Verdict,
    backups: &[Candidate],
    key_id: Option<&str>,
    vault: Option<&str>,
) -> Vec<String> {
    let mut s = Vec::new();
    match verdict {
        Verdict::Restorable | Verdict::Probable => {
            let b = &backups[0];
            if verdict == Verdict::Probable {
                s.push(format!(
                    "The live key_id of {provider} is unknown: confirm it first on a host with `configstorecli config current get -c esx -g trusted_infrastructure -k kms_providers` (or `govc kms.ls -json`); every backup named {provider} here has key_id {}.",
                    b.key_id.as_deref().unwrap_or("unknown")
                ));
            }
            if let Some(id) = b.source.strip_prefix("vault:") {
                // Everything in the command is quoted for the shell or made of safe characters:
                // provider names and paths come from files.
                let file = safe_file_name(provider);
                let reason = format!(
                    "resolve: restore {provider}{}",
                    b.key_id
                        .as_deref()
                        .map(|k| format!(" key_id {k}"))
                        .unwrap_or_default()
                );
                let mut args = vec![
                    "nkp-escrow".to_string(),
                    "vault".into(),
                    "restore".into(),
                    id.to_string(),
                ];
                if let Some(v) = vault {
                    args.extend(["--vault".into(), shell_quote(v)]);
                }
                args.extend([
                    "--out".into(),
                    format!("{file}.p12"),
                    "--password-out".into(),
                    format!("{file}.pw"),
                    "--reason".into(),
                    shell_quote(&reason),
                ]);
                s.push(format!(
                    "Take the backup from the vault (the password comes with it), with your custodian identity file in NKP_ESCROW_IDENTITY (or add --identity FILE); add the ticket to the reason. Paste these lines as they are:\n{}",
                    shell_lines(&args)
                ));
            } else {
                s.push(format!(
                    "Use the file {} ; its password: {}.",
                    b.source,
                    b.password
                        .as_deref()
                        .unwrap_or("none (the file is unprotected)")
                ));
            }
            s.push(format!(
                "Check it first without changing anything: POST /api/vcenter/crypto-manager/kms/providers?action=import with config = the file, password, dry_run = true; it must report provider {provider}{}.",
                key_id.map(|k| format!(" with native_info.key_id {k}")).unwrap_or_default()
            ));
            s.push("Import it: vSphere Client > Configure > Security > Key Providers > Restore (or the same REST call without dry_run).".into());
            if b.tpm_required == Some(true) {
                s.push("This backup was exported with \"Require TPM\": hosts without a TPM cannot take it. If any host lacks one (`esxcli hardware trustedboot get` prints Tpm Present: false), restore with \"Require TPM\" unchecked.".into());
            }
            s.push(format!(
                "If {provider} is now the only key provider of this vCenter, set it as the default (Key Providers > select it > Set as default): encryption without a default provider fails."
            ));
            s.push(format!(
                "If the import says already_exists, a provider named {provider} with another key_id is in the way (re-created: KB 311922): it must be renamed or removed before the original can be restored; do not delete it while anything still uses it."
            ));
        }
        Verdict::WrongKey => {
            s.push(format!(
                "Every backup named {provider} here has a different key_id than the one needed ({}): they belong to a provider that was deleted and re-created under the same name (KB 311922). Importing them will succeed and unlock nothing.",
                key_id.unwrap_or("-")
            ));
            s.push(format!(
                "Find the backup exported before {provider} was re-created (older .p12 files, vCenter file-based backups, the vault of another team) and check its key_id with `nkp-escrow inspect`."
            ));
        }
        Verdict::Ambiguous if key_id.is_some() => {
            let kdks: BTreeSet<&str> = backups
                .iter()
                .filter(|b| b.key_id.as_deref() == key_id)
                .map(|b| b.kdk_fingerprint.as_str())
                .collect();
            s.push(format!(
                "NKP-KDK-CONFLICT: the backups of {provider} with key_id {} hold {} different KDKs ({}): the name and key_id are labels anyone can set on import, the KDK is the key. At most one of them is the provider the VM needs; do not import either blindly.",
                key_id.unwrap_or("-"),
                kdks.len(),
                kdks.into_iter().collect::<Vec<_>>().join(", ")
            ));
            s.push("Ask the vCenter that still has the provider, or a host that has the key in its cache, which it is; or import each with dry_run = true on a test vCenter and unlock a test clone of the VM.".into());
        }
        Verdict::Ambiguous => {
            let ids: BTreeSet<&str> = backups.iter().filter_map(|b| b.key_id.as_deref()).collect();
            s.push(format!(
                "Backups named {provider} carry {} different key_ids ({}). The host settles which one is needed: `configstorecli config current get -c esx -g trusted_infrastructure -k kms_providers` lists each provider's key_id; or add `govc kms.ls -json` output to the evidence.",
                ids.len(),
                ids.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        _ => {
            s.push(format!(
                "No backup of {provider} was found in the files or vault given. Look for other .p12 exports, a vCenter file-based backup from before the provider was lost, or another vCenter that still has {provider}."
            ));
            s.push(format!(
                "If a vCenter still has {provider}, export a backup now, through the vCenter's FQDN (https://<vcenter FQDN>/ui), not its IP: the download is built from the name. If the vSphere Client's backup fails because the vCenter's PNID is `localhost`, export with `dcli +server <vcenter FQDN> +skip-server-verification com vmware vcenter cryptomanager kms providers export --provider {}` and download the token URL it returns. Then escrow it: `nkp-escrow vault add`.",
                shell_quote(provider)
            ));
        }
    }
    s
}

#[cfg(test)]
mod key_check_tests {
    use super::{key_check, safe_file_name, shell_quote};

    #[test]
    fn shell_lines_break_between_arguments_only() {
        let args: Vec<String> = [
            "nkp-escrow",
            "vault",
            "restore",
            "0123456789abcdef",
            "--vault",
            "'/srv/a b/vault'",
            "--out",
            "NKP-PROD.p12",
            "--reason",
            "'resolve: restore NKP-PROD key_id e8668ae1-6373-44c2-a6fd-af848f23acb9'",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        let text = super::shell_lines(&args);
        assert!(text.lines().count() > 1, "{text}");
        assert_eq!(text.replace(" \\\n    ", " "), args.join(" "));
    }

    #[test]
    fn printed_commands_are_quoted_and_file_names_safe() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(safe_file_name("NKP-PROD"), "NKP-PROD");
        assert_eq!(safe_file_name("x; rm -rf ~/"), "x__rm_-rf___");
        assert_eq!(safe_file_name("../etc"), "provider.._etc");
        assert_eq!(safe_file_name("-n"), "provider-n");
        assert_eq!(safe_file_name(""), "provider");
    }

    #[test]
    fn a_long_locator_is_rebuilt_exactly_by_the_shell_lines() {
        let loc = format!(
            "vmware:key/fqid/<VMWARE-NULL>/NKP%2dPROD/{}",
            "A%2fb".repeat(40)
        );
        let step = key_check(&loc);
        // What `sh` would build from the K= lines.
        let mut k = String::new();
        for line in step.lines().filter(|l| l.starts_with("K=")) {
            let quoted = line.rsplit_once('\'').map(|(a, _)| a).unwrap_or("");
            let piece = quoted.rsplit_once('\'').map(|(_, p)| p).unwrap_or("");
            k.push_str(piece);
            assert!(line.len() <= 64, "{line}");
        }
        assert_eq!(k, loc);
        assert!(key_check("vmware:key/fqid/x/y").contains("iskeyincache 'vmware:key/fqid/x/y'"));
    }
}
