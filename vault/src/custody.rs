//! Who can decrypt: the custodian set as the chain records it (format `nkp-vault/2`), the
//! check that `vault.yaml` says the same, the check of an object's age header against it, and
//! who accessed an entry.
//!
//! The chain is the authority. `vault.yaml` is a copy for people and for the format version:
//! when the two differ the vault was edited (a problem; writers refuse), except in the one state
//! an interrupted `rekey` leaves (the chain already records the new set, `vault.yaml` still the
//! previous one), which the next writer completes by rewriting `vault.yaml` from the chain.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::crypto::RecipientSpec;
use crate::error::VaultError;
use crate::header::{ssh_key_tag, Stanza};

/// How objects are encrypted.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// To the custodians' public keys.
    Recipients,
    /// With one passphrase (scrypt).
    Passphrase,
}

/// One custodian: a label and a public key, with its full fingerprint.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Custodian {
    /// Who holds the matching identity.
    pub label: String,
    /// The public key (`age1...`, `ssh-ed25519 ...`, `ssh-rsa ...`).
    pub recipient: String,
    /// `sha256:` and the 64 hex digits of the SHA-256 of the public key (trimmed).
    pub fingerprint: String,
}

/// The custodian set recorded by `init`, `upgrade` and `rekey`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CustodianSet {
    /// Recipients or passphrase.
    pub mode: Mode,
    /// The custodians (empty in passphrase mode).
    #[serde(default)]
    pub custodians: Vec<Custodian>,
    /// Passphrase mode: the object that proves a passphrase is the vault's (a canary made at
    /// `init`), checked before any add, drill or restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier: Option<String>,
    /// k-of-n vaults: how many custodians must take part to open an object (2 or more, at
    /// most the number of custodians). Absent: any one custodian can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
}

pub use crate::digest::fingerprint;

/// The most custodians a k-of-n set can have (the share index is one byte, as in `ssss`).
pub const MAX_SHARES: usize = 255;

impl CustodianSet {
    /// The set for these recipients.
    pub fn recipients(specs: &[RecipientSpec]) -> Self {
        Self {
            mode: Mode::Recipients,
            custodians: specs
                .iter()
                .map(|s| Custodian {
                    label: s.label.clone(),
                    recipient: s.recipient.trim().to_string(),
                    fingerprint: fingerprint(&s.recipient),
                })
                .collect(),
            verifier: None,
            threshold: None,
        }
    }

    /// The set for these recipients, any `threshold` of whom must take part (`None` or 1:
    /// any one). Checked: 2 <= threshold <= custodians <= [`MAX_SHARES`], and no key twice.
    pub fn with_threshold(
        specs: &[RecipientSpec],
        threshold: Option<u8>,
    ) -> Result<Self, VaultError> {
        let mut set = Self::recipients(specs);
        set.threshold = threshold.filter(|&k| k > 1);
        if let Some(problem) = set.threshold_problem() {
            return Err(VaultError::Threshold { problem });
        }
        Ok(set)
    }

    /// What is wrong with this set's threshold, if anything: below 2, above the number of
    /// custodians, more than [`MAX_SHARES`] custodians, a passphrase set, or one key twice
    /// (two shares for one person would let them open alone).
    pub fn threshold_problem(&self) -> Option<String> {
        let k = usize::from(self.threshold?);
        let n = self.custodians.len();
        if self.mode == Mode::Passphrase {
            return Some("a passphrase vault has no custodians to split a key between".into());
        }
        if k < 2 {
            return Some(format!(
                "a threshold of {k}: it must be 2 or more (leave it out for any one custodian)"
            ));
        }
        if k > n {
            return Some(format!(
                "a threshold of {k} with {n} custodian(s): nobody could ever open an object"
            ));
        }
        if n > MAX_SHARES {
            return Some(format!(
                "{n} custodians: a k-of-n vault has at most {MAX_SHARES}"
            ));
        }
        // The same key twice, whatever its label or an SSH key's comment.
        let mut keys: Vec<String> = self
            .custodians
            .iter()
            .map(|c| key_of(&c.recipient))
            .collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w.first() == w.get(1)) {
            return Some(
                "one key is listed for two custodians: its holder would have two shares".into(),
            );
        }
        None
    }

    /// How many custodians must take part to open an object (1: any one).
    pub fn needed(&self) -> usize {
        self.threshold.map_or(1, usize::from)
    }

    /// The set as `vault.yaml` lists it.
    pub fn specs(&self) -> Vec<RecipientSpec> {
        self.custodians
            .iter()
            .map(|c| RecipientSpec {
                label: c.label.clone(),
                recipient: c.recipient.clone(),
            })
            .collect()
    }

    /// The fingerprints recorded in each entry (`passphrase` in passphrase mode).
    pub fn fingerprints(&self) -> Vec<String> {
        match self.mode {
            Mode::Passphrase => vec!["passphrase".into()],
            Mode::Recipients => self
                .custodians
                .iter()
                .map(|c| c.fingerprint.clone())
                .collect(),
        }
    }

    /// The custodians' labels, for messages.
    pub fn labels(&self) -> String {
        match self.mode {
            Mode::Passphrase => "the passphrase holder".into(),
            Mode::Recipients => self
                .custodians
                .iter()
                .map(|c| c.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// True when `vault.yaml`'s recipients and mode are exactly this set (same labels and
    /// keys, in the same order).
    pub(crate) fn same_as(&self, config: &Config) -> bool {
        let (recipients, passphrase) = (&config.recipients, config.passphrase);
        (self.mode == Mode::Passphrase) == passphrase
            && self.threshold == config.threshold
            && recipients.len() == self.custodians.len()
            && recipients
                .iter()
                .zip(&self.custodians)
                .all(|(r, c)| r.label == c.label && r.recipient.trim() == c.recipient.trim())
    }

    /// How `vault.yaml`'s recipients differ from this set, in words (labels and fingerprints,
    /// never anything else from the file).
    pub(crate) fn difference(&self, config: &Config) -> String {
        let (recipients, passphrase) = (&config.recipients, config.passphrase);
        if (self.mode == Mode::Passphrase) != passphrase {
            return format!(
                "vault.yaml says {}, the chain says {}",
                if passphrase {
                    "passphrase"
                } else {
                    "recipients"
                },
                if self.mode == Mode::Passphrase {
                    "passphrase"
                } else {
                    "recipients"
                }
            );
        }
        let mut parts = Vec::new();
        if self.threshold != config.threshold {
            let say = |t: Option<u8>| {
                t.map_or("any one custodian".to_string(), |k| {
                    format!("{k} custodians")
                })
            };
            parts.push(format!(
                "vault.yaml says {} must take part, the chain says {}",
                say(config.threshold),
                say(self.threshold)
            ));
        }
        for r in recipients {
            let fp = fingerprint(&r.recipient);
            if !self.custodians.iter().any(|c| c.fingerprint == fp) {
                parts.push(format!("vault.yaml adds a key not in the chain ({fp})"));
            } else if !self
                .custodians
                .iter()
                .any(|c| c.fingerprint == fp && c.label == r.label)
            {
                parts.push(format!("vault.yaml relabels {fp}"));
            }
        }
        for c in &self.custodians {
            if !recipients
                .iter()
                .any(|r| fingerprint(&r.recipient) == c.fingerprint)
            {
                parts.push(format!(
                    "vault.yaml drops custodian {} ({})",
                    c.label, c.fingerprint
                ));
            }
        }
        if parts.is_empty() {
            parts.push("vault.yaml lists the custodians in another order".into());
        }
        parts.join("; ")
    }

    /// Compare an object's stanzas with this set: one `X25519` stanza per age custodian, one
    /// SSH stanza per SSH custodian carrying its key tag, at most one `-grease` stanza (age adds
    /// one to every file it writes), nothing else; in passphrase mode exactly one `scrypt`
    /// stanza. Returns what is wrong, in words.
    pub fn check_stanzas(&self, stanzas: &[Stanza]) -> Result<(), String> {
        if self.mode == Mode::Passphrase {
            return match stanzas {
                [s] if s.tag == "scrypt" => Ok(()),
                _ => Err(format!(
                    "a passphrase vault's object must have exactly one scrypt stanza; it has {}",
                    describe(stanzas)
                )),
            };
        }
        let want_x25519 = self
            .custodians
            .iter()
            .filter(|c| {
                c.recipient.starts_with("age1") && crate::crypto::plugin_of(&c.recipient).is_none()
            })
            .count();
        // A plugin custodian's stanza has the plugin's own type, which says nothing about
        // which key it is for: such stanzas are counted, one per plugin custodian.
        let want_plugin = self
            .custodians
            .iter()
            .filter(|c| crate::crypto::plugin_of(&c.recipient).is_some())
            .count();
        let mut plugin = 0;
        let mut ssh_tags: Vec<(String, String)> = self
            .custodians
            .iter()
            .filter_map(|c| {
                let kind = c.recipient.split_whitespace().next()?.to_string();
                Some((kind, ssh_key_tag(&c.recipient)?))
            })
            .collect();
        let mut x25519 = 0;
        let mut grease = 0;
        let mut extra = Vec::new();
        for s in stanzas {
            match s.tag.as_str() {
                "X25519" => x25519 += 1,
                "ssh-ed25519" | "ssh-rsa" => {
                    let tag = s.args.first().cloned().unwrap_or_default();
                    match ssh_tags.iter().position(|(k, t)| *k == s.tag && *t == tag) {
                        Some(i) => {
                            ssh_tags.remove(i);
                        }
                        None => extra.push(format!("an {} stanza for key tag {tag}", s.tag)),
                    }
                }
                t if t.ends_with("-grease") && grease == 0 => grease += 1,
                t if want_plugin > 0 && t != "scrypt" && !t.ends_with("-grease") => plugin += 1,
                t => extra.push(format!("a {t} stanza")),
            }
        }
        let mut wrong = Vec::new();
        if x25519 > want_x25519 {
            wrong.push(format!(
                "{} X25519 stanzas for {want_x25519} age custodians: encrypted to {} extra recipient(s)",
                x25519,
                x25519 - want_x25519
            ));
        } else if x25519 < want_x25519 {
            wrong.push(format!(
                "{x25519} X25519 stanzas for {want_x25519} age custodians: a custodian cannot decrypt it"
            ));
        }
        if plugin != want_plugin {
            wrong.push(format!(
                "{plugin} plugin stanza(s) for {want_plugin} plugin custodian(s)"
            ));
        }
        if !extra.is_empty() {
            wrong.push(format!("extra recipient(s): {}", extra.join(", ")));
        }
        for (kind, tag) in &ssh_tags {
            wrong.push(format!(
                "no {kind} stanza for the custodian key with tag {tag}"
            ));
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        }
    }
}

/// The format-1 check of an object's stanzas, where only the recipients' fingerprints are
/// recorded: as many recipient stanzas as fingerprints (one `scrypt` for `passphrase`), plus
/// at most one `-grease` stanza. Keys cannot be matched, only counted.
pub fn check_stanza_count(fingerprints: &[String], stanzas: &[Stanza]) -> Result<(), String> {
    if fingerprints == ["passphrase"] {
        return match stanzas {
            [s] if s.tag == "scrypt" => Ok(()),
            _ => Err(format!(
                "a passphrase object must have exactly one scrypt stanza; it has {}",
                describe(stanzas)
            )),
        };
    }
    let grease = stanzas
        .iter()
        .filter(|s| s.tag.ends_with("-grease"))
        .count();
    let real = stanzas.len() - grease.min(1);
    if real == fingerprints.len() && grease <= 1 {
        Ok(())
    } else {
        Err(format!(
            "{real} recipient stanzas for the {} recipient(s) the manifest records",
            fingerprints.len()
        ))
    }
}

fn describe(stanzas: &[Stanza]) -> String {
    if stanzas.is_empty() {
        return "none".into();
    }
    stanzas
        .iter()
        .map(|s| s.tag.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A recipient's key without what does not change the key: an SSH key's type and base64 (not
/// its comment), an age recipient in lower case. An age X25519 recipient and an SSH ed25519
/// key are both reduced to their X25519 public key, so an SSH key and the age key derived
/// from it (`ssh-to-age`) are one key: one person.
fn key_of(recipient: &str) -> String {
    let r = recipient.trim();
    if let Some(x) = x25519_of(r) {
        return format!("x25519:{}", crate::digest::hex(&x));
    }
    if r.starts_with("ssh-") {
        r.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    } else {
        r.to_ascii_lowercase()
    }
}

/// The X25519 public key of a native age recipient, or the one an SSH ed25519 key converts to
/// (its Edwards point in Montgomery form, as age's `ssh-ed25519` recipient uses it).
fn x25519_of(recipient: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    if recipient.starts_with("age1") && crate::crypto::plugin_of(recipient).is_none() {
        let (hrp, data) = bech32::decode(recipient).ok()?;
        return (hrp.as_str().eq_ignore_ascii_case("age"))
            .then(|| data.try_into().ok())
            .flatten();
    }
    let mut parts = recipient.split_whitespace();
    if parts.next()? != "ssh-ed25519" {
        return None;
    }
    let blob = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    // string "ssh-ed25519", string key (32 bytes)
    let key = blob.get(4 + 11 + 4..4 + 11 + 4 + 32)?;
    let point = curve25519_dalek::edwards::CompressedEdwardsY(key.try_into().ok()?).decompress()?;
    Some(point.to_montgomery().to_bytes())
}

/// Format version written in `vault.yaml` by this version.
pub const FORMAT: &str = "nkp-vault/2";
/// The first format: custodians in `vault.yaml` only. Read and verified; upgraded by
/// [`crate::Vault::upgrade`] before any write.
pub const FORMAT_V1: &str = "nkp-vault/1";

/// `vault.yaml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// [`FORMAT`], or [`FORMAT_V1`] before an upgrade.
    pub format: String,
    /// Recipients (empty in passphrase mode).
    #[serde(default)]
    pub recipients: Vec<RecipientSpec>,
    /// True when objects are encrypted with a passphrase (scrypt) instead.
    #[serde(default)]
    pub passphrase: bool,
    /// k-of-n vaults: how many custodians must take part (a copy of the chain's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u8>,
}

impl Config {
    pub(crate) fn of_set(set: &CustodianSet) -> Self {
        Self {
            format: FORMAT.into(),
            recipients: set.specs(),
            passphrase: set.mode == Mode::Passphrase,
            threshold: set.threshold,
        }
    }

    pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Self, VaultError> {
        let text = std::str::from_utf8(bytes).map_err(|_| VaultError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        })?;
        // The parser's message may quote a value, and someone may have pasted a secret into the
        // file: only the position is reported.
        let config: Self = serde_norway::from_str(text).map_err(|e| VaultError::Config {
            path: path.to_path_buf(),
            line: e.location().map(|l| l.line()),
            column: e.location().map(|l| l.column()),
        })?;
        if config.format != FORMAT && config.format != FORMAT_V1 {
            return Err(VaultError::UnknownFormat {
                path: path.to_path_buf(),
                found: config.format,
                expected: FORMAT,
            });
        }
        Ok(config)
    }
}

/// Who opened an entry: the custodian whose identity decrypted, and where.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Accessor {
    /// The custodian's label (`passphrase` in passphrase mode).
    pub custodian: String,
    /// The custodian's fingerprint.
    pub fingerprint: String,
    /// The operating-system user who ran the command, as the system reports it (a record, not
    /// an authentication).
    pub user: String,
    /// The host name.
    pub host: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(label: &str, r: &str) -> RecipientSpec {
        RecipientSpec {
            label: label.into(),
            recipient: r.into(),
        }
    }

    #[test]
    fn vault_yaml_matches_only_the_same_labels_and_keys_in_order() {
        let a = age::x25519::Identity::generate().to_public().to_string();
        let b = age::x25519::Identity::generate().to_public().to_string();
        let set = CustodianSet::recipients(&[spec("alice", &a), spec("bob", &b)]);
        let yaml = |r: Vec<RecipientSpec>, passphrase: bool, threshold: Option<u8>| Config {
            format: FORMAT.into(),
            recipients: r,
            passphrase,
            threshold,
        };
        assert!(set.same_as(&yaml(vec![spec("alice", &a), spec("bob", &b)], false, None)));
        assert!(!set.same_as(&yaml(vec![spec("alice", &a), spec("bob", &b)], true, None)));
        assert!(!set.same_as(&yaml(
            vec![spec("alice", &a), spec("bob", &b)],
            false,
            Some(2)
        )));
        assert!(!set.same_as(&yaml(vec![spec("alice", &a)], false, None)));
        assert!(!set.same_as(&yaml(
            vec![spec("alice", &a), spec("mallory", &b)],
            false,
            None
        )));
        let c = age::x25519::Identity::generate().to_public().to_string();
        let d = set.difference(&yaml(vec![spec("alice", &a), spec("bob", &c)], false, None));
        assert!(
            d.contains("adds a key") && d.contains("drops custodian bob"),
            "{d}"
        );
        let t = set.difference(&yaml(
            vec![spec("alice", &a), spec("bob", &b)],
            false,
            Some(2),
        ));
        assert!(t.contains("2 custodians must take part"), "{t}");
        assert!(!d.contains(&c), "the key itself is not quoted: {d}");
        assert_eq!(set.fingerprints()[0].len(), "sha256:".len() + 64);
    }

    /// One person's SSH ed25519 key and the age key derived from it (ssh-to-age) are one key:
    /// a k-of-n set cannot list both. The age key is derived here through age's own X25519,
    /// independently of the Edwards-to-Montgomery conversion the check uses.
    #[test]
    fn an_ssh_key_and_its_age_conversion_are_one_key() {
        use base64::Engine as _;
        let seed = [7u8; 32];
        let h = ring::digest::digest(&ring::digest::SHA512, &seed);
        let mut a = [0u8; 32];
        a.copy_from_slice(&h.as_ref()[..32]);
        let public = curve25519_dalek::EdwardsPoint::mul_base_clamped(a)
            .compress()
            .to_bytes();
        let mut blob = Vec::new();
        blob.extend(11u32.to_be_bytes());
        blob.extend(b"ssh-ed25519");
        blob.extend(32u32.to_be_bytes());
        blob.extend(public);
        let ssh = format!(
            "ssh-ed25519 {} me@host",
            base64::engine::general_purpose::STANDARD.encode(&blob)
        );
        let secret = bech32::encode::<bech32::Bech32>(
            bech32::Hrp::parse("age-secret-key-").expect("hrp"),
            &a,
        )
        .expect("bech32")
        .to_ascii_uppercase();
        let id: age::x25519::Identity = secret.parse().expect("identity");
        let derived = id.to_public().to_string();
        let err =
            CustodianSet::with_threshold(&[spec("me", &ssh), spec("also-me", &derived)], Some(2))
                .expect_err("one key twice");
        assert!(err.to_string().contains("two custodians"), "{err}");
        let other = age::x25519::Identity::generate().to_public().to_string();
        assert!(
            CustodianSet::with_threshold(&[spec("me", &ssh), spec("you", &other)], Some(2)).is_ok()
        );
    }

    #[test]
    fn stanza_checks() {
        let x = |n: usize| Stanza {
            tag: "X25519".into(),
            args: vec![format!("e{n}")],
        };
        let grease = Stanza {
            tag: "q-grease".into(),
            args: vec![],
        };
        let a = age::x25519::Identity::generate().to_public().to_string();
        let set = CustodianSet::recipients(&[spec("alice", &a)]);
        assert_eq!(set.check_stanzas(&[x(1), grease.clone()]), Ok(()));
        assert_eq!(set.check_stanzas(&[x(1)]), Ok(()));
        let two = set
            .check_stanzas(&[x(1), x(2), grease.clone()])
            .unwrap_err();
        assert!(two.contains("1 extra recipient"), "{two}");
        assert!(set.check_stanzas(std::slice::from_ref(&grease)).is_err());
        assert!(set
            .check_stanzas(&[x(1), grease.clone(), grease.clone()])
            .is_err());
        let plugin = Stanza {
            tag: "piv-p256".into(),
            args: vec![],
        };
        assert!(set.check_stanzas(&[x(1), plugin.clone()]).is_err());
        // A plugin custodian: one stanza of the plugin's own type, counted.
        let yubikey = "age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t";
        let hw = CustodianSet::recipients(&[spec("alice", &a), spec("hsm", yubikey)]);
        assert_eq!(hw.check_stanzas(&[x(1), plugin.clone()]), Ok(()));
        assert!(hw.check_stanzas(&[x(1)]).is_err());
        assert!(hw.check_stanzas(&[plugin.clone(), plugin.clone()]).is_err());
        assert!(hw.check_stanzas(&[x(1), plugin.clone(), plugin]).is_err());
        // A second grease stanza is never counted as the plugin custodian's.
        let grease2 = Stanza {
            tag: "zz-grease".into(),
            args: vec![],
        };
        assert!(hw.check_stanzas(&[x(1), grease, grease2]).is_err());
        let ssh =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN";
        let set = CustodianSet::recipients(&[spec("carol", ssh)]);
        let tag = ssh_key_tag(ssh).unwrap();
        let good = Stanza {
            tag: "ssh-ed25519".into(),
            args: vec![tag, "share".into()],
        };
        let other = Stanza {
            tag: "ssh-ed25519".into(),
            args: vec!["AAAAAA".into(), "share".into()],
        };
        assert_eq!(set.check_stanzas(std::slice::from_ref(&good)), Ok(()));
        assert!(set.check_stanzas(&[good, other.clone()]).is_err());
        assert!(set.check_stanzas(&[other]).is_err());
        let pass = CustodianSet {
            mode: Mode::Passphrase,
            custodians: vec![],
            verifier: None,
            threshold: None,
        };
        let scrypt = Stanza {
            tag: "scrypt".into(),
            args: vec![],
        };
        assert_eq!(pass.check_stanzas(std::slice::from_ref(&scrypt)), Ok(()));
        assert!(pass.check_stanzas(&[scrypt, x(1)]).is_err());
    }
}
