//! Line-oriented sources: `.vmx` files, `.vmdk` descriptors, `crypto-util` output and any text
//! holding `vmware:key/...` locators (tickets with several outputs pasted in).
//!
//! Each key safe is parsed with the full grammar ([`super::keysafe`]); every fqid in it becomes a
//! reference. The context decides the subject: the `.vmx` key `encryption.keySafe` (VM, named by
//! `displayName`), the `.vmdk` key `encryptionKeys` (disk), the output of `crypto-util keys
//! getkidbyname` (host key of the host in the prompt), `iskeyincache` (cache state), `envelope
//! describe` (`keyID '...'`).

use std::path::Path;

use super::keysafe::{Fqid, KeySafe};
use super::text::Line;
use super::Collector;
use super::{Seen, State, Subject};

/// What kind of file the text came from, by name and content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileHint {
    /// A `.vmx` configuration.
    Vmx,
    /// A `.vmdk` descriptor (text file or embedded in a sparse extent).
    Vmdk,
    /// Anything else (pasted output, tickets).
    Other,
}

/// Case-insensitive find of an ASCII needle.
pub fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    if hay.len() < n {
        return None;
    }
    let hb = hay.as_bytes();
    let nb = needle.as_bytes();
    (0..=hb.len() - n).find(|&i| hb[i..i + n].eq_ignore_ascii_case(nb))
}

/// Decode VMX `|XX` escapes (e.g. `|22` for `"`).
pub fn vmx_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'|' && i + 2 < b.len() {
            let hex = |c: u8| char::from(c).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key = "value"` of a VMX/VMDK line.
pub fn kv(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || k.contains(char::is_whitespace) {
        return None;
    }
    let v = v.trim();
    let v = v.strip_prefix('"').unwrap_or(v);
    let v = v.strip_suffix('"').unwrap_or(v);
    Some((k, v))
}

/// The key-safe token starting at `start` in `text`.
fn token(text: &str, start: usize) -> &str {
    let rest = &text[start..];
    let end = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\'' || b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    &rest[..end]
}

/// True for a line that can only be the continuation of a wrapped key locator: locator
/// characters only, and not the start of another locator or a prompt.
fn continuation(l: &Line<'_>) -> bool {
    let t = l.text.trim();
    !t.is_empty()
        && !l.is_prompt
        && find_ci(t, "vmware:key/").is_none()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%<>/(),._-+=".contains(&b))
}

/// Longest key locator read, in bytes (real ones are a few hundred).
pub const MAX_KEYSAFE_LEN: usize = 64 * 1024;

/// Parse the key safe starting on line `i`, joining continuation lines if it was wrapped
/// (copy-paste from a narrow terminal): the longest join that parses wins, since a cut fqid
/// is still grammatical. Returns the key safe and how many lines it used.
fn keysafe_at(lines: &[Line<'_>], i: usize, start: usize) -> Result<(Vec<Fqid>, usize), String> {
    let first = token(lines[i].text, start);
    // A real key locator is a few hundred bytes; a planted one of megabytes is refused before
    // it is copied or parsed.
    if first.len() > MAX_KEYSAFE_LEN {
        return Err(format!(
            "line {}: key locator of {} bytes, longer than any real one ({MAX_KEYSAFE_LEN} byte cap): passed over",
            lines[i].no,
            first.len()
        ));
    }
    let reached_eol = start + first.len() == lines[i].text.trim_end().len();
    let mut candidates: Vec<std::borrow::Cow<'_, str>> = vec![first.into()];
    if reached_eol {
        for next in lines.iter().skip(i + 1).take(8) {
            if !continuation(next) {
                break;
            }
            let mut joined = candidates[candidates.len() - 1].clone().into_owned();
            joined.push_str(next.text.trim());
            candidates.push(joined.into());
        }
    }
    let mut first_err = None;
    for (k, c) in candidates.iter().enumerate().rev() {
        match KeySafe::parse(c) {
            Ok(ks) => return Ok((ks.fqids(), k + 1)),
            Err(e) => first_err = Some(e),
        }
    }
    Err(format!(
        "line {}: malformed key locator: {}",
        lines[i].no,
        first_err.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// Which of the rarer markers the file holds (so that the common lines are not searched for
/// them one by one).
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen3 {
    /// `Tpm Present`.
    pub tpm: bool,
    /// A logged key error phrase (or `encryption.bundle`, which one of them contains).
    pub logs: bool,
}

struct BlockFacts {
    display_name: Option<String>,
    vtpm: bool,
    /// An `encryption.bundle` line: the VM is encrypted and needs its key.
    bundle: Option<usize>,
    /// A key safe was read in this block.
    keysafe: bool,
}

/// The detail put on a VM whose `.vmx` carries `encryption.bundle`.
pub const BUNDLE_DETAIL: &str = "encryption.bundle present: the VM is encrypted and needs its key";

/// Log errors that say a key could not be had, and what they usually mean.
const KEY_ERRORS: &[(&str, &str)] = &[
    (
        "unable to decrypt the ciphertext",
        "log: Unable to decrypt the ciphertext (after a cross-vCenter vMotion, KB 378053: the two vCenters' providers differ)",
    ),
    ("failed to resolve key", "log: Failed to resolve key (kmxa)"),
    ("key locator error", "log: Key locator error"),
    (
        "key required for encryption.bundle",
        "log: Key required for encryption.bundle",
    ),
];

fn block_facts(lines: &[Line<'_>], flagged: &[usize]) -> Vec<BlockFacts> {
    let blocks = lines.last().map(|l| l.block + 1).unwrap_or(0);
    let mut out: Vec<BlockFacts> = (0..blocks)
        .map(|_| BlockFacts {
            display_name: None,
            vtpm: false,
            bundle: None,
            keysafe: false,
        })
        .collect();
    for l in flagged.iter().filter_map(|i| lines.get(*i)) {
        if let Some((k, v)) = kv(l.text) {
            if k.eq_ignore_ascii_case("displayName") {
                out[l.block].display_name = Some(vmx_unescape(v));
            } else if k.eq_ignore_ascii_case("vtpm.present") && v.eq_ignore_ascii_case("true") {
                out[l.block].vtpm = true;
            } else if k.eq_ignore_ascii_case("encryption.bundle") && !v.is_empty() {
                out[l.block].bundle = Some(l.no);
            } else if k.eq_ignore_ascii_case("encryption.keySafe") {
                out[l.block].keysafe = true;
            }
        }
    }
    out
}

/// `Tpm Present: true|false` (esxcli hardware trustedboot get).
fn tpm_present(text: &str) -> Option<bool> {
    let (k, v) = text.split_once(':')?;
    if !k.trim().eq_ignore_ascii_case("tpm present") {
        return None;
    }
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The name of a disk: its folder and file (`vm1/vm1_1.vmdk`).
pub fn disk_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match path.parent().and_then(|p| p.file_name()) {
        Some(dir) => format!("{}/{file}", dir.to_string_lossy()),
        None => file,
    }
}

/// A file argument of a command, e.g. the `.vmdk` of `cat vm1/vm1.vmdk`.
fn file_arg<'a>(command: &'a str, ext: &str) -> Option<&'a str> {
    command
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        .find(|w| w.to_ascii_lowercase().ends_with(ext))
}

/// Scan the `flagged` lines (indexes, ascending: those holding a marker) for key locators and
/// host-key answers.
pub fn scan(
    lines: &[Line<'_>],
    flagged: &[usize],
    path: &Path,
    hint: FileHint,
    seen: Seen3,
    c: &mut Collector,
) {
    let facts = block_facts(lines, flagged);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut next_free = 0;
    for &i in flagged {
        if i < next_free || i >= lines.len() {
            continue;
        }
        next_free = i + 1;
        let l = &lines[i];
        let cmd = l.command.unwrap_or("");
        let cmd_lower = cmd.to_ascii_lowercase();
        if l.is_prompt {
            if cmd_lower.contains("iskeyincache") {
                if let Some(at) = find_ci(cmd, "vmware:key/") {
                    let answer = lines[i + 1..]
                        .iter()
                        .take_while(|n| !n.is_prompt)
                        .map(|n| n.text.trim())
                        .find(|t| !t.is_empty())
                        .unwrap_or("");
                    let state = match answer.to_ascii_uppercase().as_str() {
                        "YES" | "TRUE" => State::KeyInCache,
                        "NO" | "FALSE" => State::KeyNotInCache,
                        _ => State::NeedsKey,
                    };
                    let tok = token(cmd, at);
                    match KeySafe::parse(tok) {
                        Ok(ks) => {
                            let host = host_subject(l.host);
                            for f in ks.fqids() {
                                c.add(Seen {
                                    kind: "crypto-util",
                                    line: Some(l.no),
                                    subject: host.clone(),
                                    provider: f.key_server_id,
                                    provider_key_id: None,
                                    key: f.key_id,
                                    host: l.host,
                                    state,
                                    details: vec!["crypto-util keys iskeyincache".into()],
                                });
                            }
                        }
                        Err(e) => c.warn(format!("line {}: malformed key locator: {e}", l.no)),
                    }
                }
            }
            continue;
        }
        // A host's TPM (esxcli hardware trustedboot get).
        if let Some(present) = seen.tpm.then(|| tpm_present(l.text)).flatten() {
            let subject = match l.host {
                Some(h) => host_subject(Some(h)),
                None => Subject {
                    kind: "host",
                    name: stem.clone(),
                },
            };
            c.add(Seen {
                kind: "esxcli",
                line: Some(l.no),
                subject,
                provider: None,
                provider_key_id: None,
                key: None,
                host: l.host,
                state: State::HostFact,
                details: vec![if present {
                    "tpm-present: true".into()
                } else {
                    "tpm-present: false".into()
                }],
            });
            continue;
        }
        // A logged key error, with the locator when the line has one.
        if let Some((_, what)) = seen
            .logs
            .then(|| {
                KEY_ERRORS
                    .iter()
                    .find(|(p, _)| find_ci(l.text, p).is_some())
            })
            .flatten()
        {
            let subject = match l.host {
                Some(h) => host_subject(Some(h)),
                None => Subject {
                    kind: "file",
                    name: stem.clone(),
                },
            };
            // (provider, key) per locator on the line; one reference without them otherwise.
            let mut keys: Vec<(Option<String>, Option<String>)> = find_ci(l.text, "vmware:key/")
                .and_then(|at| KeySafe::parse(token(l.text, at)).ok())
                .map(|ks| {
                    ks.fqids()
                        .into_iter()
                        .map(|f| (f.key_server_id, f.key_id))
                        .collect()
                })
                .unwrap_or_default();
            if keys.is_empty() {
                keys.push((None, None));
            }
            for (provider, key) in keys {
                c.add(Seen {
                    kind: "log",
                    line: Some(l.no),
                    subject: subject.clone(),
                    provider,
                    provider_key_id: None,
                    key,
                    host: l.host,
                    state: State::KeyError,
                    details: vec![(*what).into()],
                });
            }
            continue;
        }
        // crypto-util envelope describe: a line with keyID '<id>'.
        if let Some(at) = l.text.find("keyID '") {
            let rest = &l.text[at + 7..];
            let id = &rest[..rest.find('\'').unwrap_or(rest.len())];
            let file = if cmd_lower.contains("envelope") {
                cmd.split_whitespace()
                    .last()
                    .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
                    .unwrap_or("")
            } else {
                ""
            };
            let subject = Subject {
                kind: "file",
                name: if file.is_empty() {
                    stem.clone()
                } else {
                    file.to_string()
                },
            };
            if let Some(ks_at) = find_ci(id, "vmware:key/") {
                match KeySafe::parse(&id[ks_at..]) {
                    Ok(ks) => {
                        for f in ks.fqids() {
                            c.add(Seen {
                                kind: "crypto-util",
                                line: Some(l.no),
                                subject: subject.clone(),
                                provider: f.key_server_id,
                                provider_key_id: None,
                                key: f.key_id,
                                host: l.host,
                                state: State::NeedsKey,
                                details: vec!["crypto-util envelope describe".into()],
                            });
                        }
                    }
                    Err(e) => c.warn(format!("line {}: malformed key locator: {e}", l.no)),
                }
            } else if !id.is_empty() {
                c.add(Seen {
                    kind: "crypto-util",
                    line: Some(l.no),
                    subject,
                    provider: None,
                    provider_key_id: None,
                    key: Some(id.to_string()),
                    host: l.host,
                    state: State::NeedsKey,
                    details: vec!["crypto-util envelope describe".into()],
                });
            }
            continue;
        }
        if l.text.contains("has not been established") && cmd_lower.contains("getkidbyname") {
            c.add(Seen {
                kind: "crypto-util",
                line: Some(l.no),
                subject: host_subject(l.host),
                provider: None,
                provider_key_id: None,
                key: None,
                host: l.host,
                state: State::NoHostKey,
                details: vec!["crypto-util keys getkidbyname: no host key established".into()],
            });
            continue;
        }
        let Some(at) = find_ci(l.text, "vmware:key/") else {
            continue;
        };
        let (fqids, used) = match keysafe_at(lines, i, at) {
            Ok(x) => x,
            Err(e) => {
                c.warn(e);
                continue;
            }
        };
        let key_name = kv(l.text).map(|(k, _)| k.to_ascii_lowercase());
        let (kind, subject, state, mut details) = match key_name.as_deref() {
            Some("encryption.keysafe") => {
                let f = &facts[l.block];
                let name = f.display_name.clone().unwrap_or_else(|| stem.clone());
                let mut d = Vec::new();
                if f.vtpm {
                    d.push("vTPM present".into());
                }
                if f.bundle.is_some() {
                    d.push(BUNDLE_DETAIL.into());
                }
                (
                    if hint == FileHint::Vmx || l.host.is_none() {
                        "vmx"
                    } else {
                        "text"
                    },
                    Subject { kind: "vm", name },
                    State::NeedsKey,
                    d,
                )
            }
            Some("encryptionkeys") => {
                let name = file_arg(cmd, ".vmdk")
                    .map(|f| disk_name(Path::new(f)))
                    .unwrap_or_else(|| disk_name(path));
                (
                    "vmdk",
                    Subject { kind: "disk", name },
                    State::NeedsKey,
                    Vec::new(),
                )
            }
            _ if cmd_lower.contains("getkidbyname") => (
                "crypto-util",
                host_subject(l.host),
                State::HostKey,
                vec!["crypto-util keys getkidbyname".into()],
            ),
            _ => match l.host {
                Some(h) => (
                    "text",
                    Subject {
                        kind: "host",
                        name: h.to_string(),
                    },
                    State::NeedsKey,
                    Vec::new(),
                ),
                None => (
                    "text",
                    Subject {
                        kind: "file",
                        name: stem.clone(),
                    },
                    State::NeedsKey,
                    Vec::new(),
                ),
            },
        };
        if fqids.is_empty() {
            c.warn(format!(
                "line {}: key locator without an fqid (not a key provider key): not an NKP reference",
                l.no
            ));
        }
        if used > 1 {
            details.push(format!("key locator wrapped over {used} lines").into());
        }
        for f in fqids {
            c.add(Seen {
                kind,
                line: Some(l.no),
                subject: subject.clone(),
                provider: f.key_server_id,
                provider_key_id: None,
                key: f.key_id,
                host: l.host,
                state,
                details: details.clone(),
            });
        }
        next_free = i + used;
    }
    // An encrypted VM whose key safe was not captured: still a VM that needs a key.
    for f in &facts {
        if let (Some(line), false) = (f.bundle, f.keysafe) {
            c.add(Seen {
                kind: if hint == FileHint::Vmx { "vmx" } else { "text" },
                line: Some(line),
                subject: Subject {
                    kind: "vm",
                    name: f.display_name.clone().unwrap_or_else(|| stem.clone()),
                },
                provider: None,
                provider_key_id: None,
                key: None,
                host: None,
                state: State::NeedsKey,
                details: vec![
                    BUNDLE_DETAIL.into(),
                    "no encryption.keySafe line was captured: the provider it needs is not known"
                        .into(),
                ],
            });
        }
    }
}

fn host_subject(host: Option<&str>) -> Subject {
    Subject {
        kind: "host",
        name: host.unwrap_or("(host not named in the output)").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmx_escapes_decode_and_never_split_characters() {
        assert_eq!(vmx_unescape("a |22b|22 |7C"), "a \"b\" |");
        assert_eq!(vmx_unescape("|aé|é"), "|aé|é");
        assert_eq!(vmx_unescape("end|2"), "end|2");
    }

    #[test]
    fn case_insensitive_find() {
        assert_eq!(find_ci("x VMware:KEY/fqid", "vmware:key/"), Some(2));
        assert_eq!(find_ci("short", "vmware:key/"), None);
    }
}
