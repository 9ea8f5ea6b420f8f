//! k-of-n objects: no single custodian, and no K-1 of them, can open the object.
//!
//! An object (`objects/<sha256>.age`, though it is JSON) is:
//!
//! ```json
//! {"format": "nkp-escrow-kofn/1", "threshold": 2,
//!  "shares": [{"custodian": "sha256:<fingerprint>", "share": "<base64 of an age file>"}, ...],
//!  "payload": "<base64 of an age file>"}
//! ```
//!
//! - `payload` is the envelope (the `.p12` and its password) age-encrypted to a fresh X25519
//!   identity made for this object alone;
//! - that identity's text (`AGE-SECRET-KEY-1...`, 74 characters) is split with [`crate::shamir`]
//!   into one share per custodian, any `threshold` of which give it back;
//! - each share, as the line `ssss-combine` reads (`i-<hex>`), is age-encrypted to its
//!   custodian alone, so a share is never written in the clear.
//!
//! A custodian can also *release* their share to someone else ([`release`]): the share is
//! re-encrypted to that person's recipient in a small document ([`RELEASE_FORMAT`]) that names
//! the entry, the object and the manifest line recording the release.
//!
//! Break-glass without nkp-escrow: each custodian decrypts their share (`jq -r` the entry,
//! `base64 -d | age -d -i KEY`), `ssss-combine -t K -D -Q` gives the object identity on
//! standard error, and `jq -r .payload | base64 -d | age -d -i` it gives the envelope.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{encrypt, Encryption, Identities, RecipientSpec};
use crate::custody::CustodianSet;
use crate::shamir::{combine, split, Share};
use crate::VaultError;

/// The object format.
pub const FORMAT: &str = "nkp-escrow-kofn/1";

/// The format of a released share (the plaintext inside the age file `release` writes).
pub const RELEASE_FORMAT: &str = "nkp-escrow-release/1";

/// The largest object read or written (the vault's object cap).
pub(crate) const MAX_OBJECT: usize = 64 << 20;

/// The largest released-share file read.
const MAX_RELEASE: usize = 64 << 10;

/// Why a k-of-n object could not be made, opened or checked. Never carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThresholdError {
    /// Encryption or decryption.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// Shares.
    #[error(transparent)]
    Shamir(#[from] crate::shamir::ShamirError),
    /// Not this format, or its parts do not fit together.
    #[error("{0}")]
    Format(String),
    /// Too few custodians took part.
    #[error("{opened} of the {threshold} shares needed could be opened with the identities given")]
    TooFew {
        /// Shares opened.
        opened: usize,
        /// Needed.
        threshold: usize,
        /// Why an identity given could not be used, when it failed for another reason than
        /// not matching (a plugin that died or refused, a wrong SSH key passphrase).
        failed: Option<String>,
    },
}

/// One custodian's share in the object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShareEntry {
    /// The custodian's fingerprint (`sha256:...`).
    pub custodian: String,
    /// Base64 of the age file that holds the share, encrypted to that custodian alone.
    pub share: String,
}

/// The object document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Object {
    /// [`FORMAT`].
    pub format: String,
    /// How many shares open it.
    pub threshold: usize,
    /// One per custodian, in the custodian set's order.
    pub shares: Vec<ShareEntry>,
    /// Base64 of the envelope's age file.
    pub payload: String,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &str, what: &str) -> Result<Vec<u8>, ThresholdError> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| ThresholdError::Format(format!("{what} is not base64")))
}

/// Seal `plain` for `custodians`, any `threshold` of whom can open it.
pub fn seal(
    plain: &[u8],
    custodians: &[RecipientSpec],
    threshold: usize,
) -> Result<Vec<u8>, ThresholdError> {
    let object_id = age::x25519::Identity::generate();
    let payload = encrypt(
        &Encryption::Recipients(&[RecipientSpec {
            label: "object".into(),
            recipient: object_id.to_public().to_string(),
        }]),
        plain,
    )?;
    let secret = object_id.to_string();
    let shares = split(
        secrecy::ExposeSecret::expose_secret(&secret).as_bytes(),
        threshold,
        custodians.len(),
    )?;
    let mut entries = Vec::with_capacity(custodians.len());
    for (c, s) in custodians.iter().zip(&shares) {
        let mut line = s.to_text(custodians.len());
        line.push('\n');
        let sealed = encrypt(
            &Encryption::Recipients(std::slice::from_ref(c)),
            line.as_bytes(),
        )?;
        entries.push(ShareEntry {
            custodian: c.fingerprint(),
            share: b64(&sealed),
        });
    }
    let doc = Object {
        format: FORMAT.into(),
        threshold,
        shares: entries,
        payload: b64(&payload),
    };
    let mut out = serde_json::to_vec(&doc)
        .map_err(|e| ThresholdError::Format(format!("cannot encode: {e}")))?;
    out.push(b'\n');
    if out.len() > MAX_OBJECT {
        return Err(ThresholdError::Format(format!(
            "the object would be larger than the {MAX_OBJECT}-byte cap"
        )));
    }
    Ok(out)
}

/// Parse an object (no key needed).
pub fn parse(bytes: &[u8]) -> Result<Object, ThresholdError> {
    if bytes.len() > MAX_OBJECT {
        return Err(ThresholdError::Format(
            "not a k-of-n object: larger than the size cap".into(),
        ));
    }
    let o: Object = serde_json::from_slice(bytes).map_err(|e| {
        ThresholdError::Format(format!(
            "not a k-of-n object: not its JSON document (line {})",
            e.line()
        ))
    })?;
    if o.format != FORMAT {
        return Err(ThresholdError::Format(
            "not a k-of-n object: another format".into(),
        ));
    }
    if o.shares.len() > crate::custody::MAX_SHARES {
        return Err(ThresholdError::Format(
            "more shares than a set can have".into(),
        ));
    }
    Ok(o)
}

/// A share released by a custodian to someone else, as read back by the recipient.
pub struct Released {
    /// The custodian whose share it is (fingerprint).
    pub custodian: String,
    /// The entry.
    pub entry: String,
    /// The object it is a share of.
    pub object: String,
    /// The seq of the manifest line that records the release.
    pub release: u64,
    share: Share,
}

impl std::fmt::Debug for Released {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Released({}, entry {}, line {}, [REDACTED])",
            self.custodian, self.entry, self.release
        )
    }
}

/// The plaintext of a released share.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseDoc<'a> {
    format: &'a str,
    entry: &'a str,
    object: &'a str,
    custodian: &'a str,
    release: u64,
    share: &'a str,
}

/// Who opened an object, by position in its `shares`: the custodian's fingerprint, and the
/// release line when the share came released.
pub type Contributions = Vec<(String, Option<u64>)>;

/// Decrypt, with any of `identities`, the share of the custodian with fingerprint
/// `custodian` (for `release`). The share stays in zeroizing memory.
fn own_share(
    o: &Object,
    custodian: &str,
    identities: &Identities,
) -> Result<Share, ThresholdError> {
    let (n, e) = o
        .shares
        .iter()
        .enumerate()
        .find(|(_, e)| e.custodian == custodian)
        .ok_or_else(|| {
            ThresholdError::Format("the object has no share for this custodian".into())
        })?;
    let sealed = unb64(&e.share, "a share")?;
    let text = identities.decrypt(&sealed)?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| ThresholdError::Format(format!("share {} is not text", n + 1)))?;
    let share = Share::parse(text, n + 1)?;
    if usize::from(share.index) != n + 1 {
        return Err(ThresholdError::Format(format!(
            "share {} carries index {}",
            n + 1,
            share.index
        )));
    }
    Ok(share)
}

/// Release the share of `custodian` in object `bytes` to `to`: the share is decrypted with
/// `identities` and re-encrypted (ASCII-armored age) to `to` alone, in a document naming the
/// entry, the object and the manifest line `release` that records this.
pub fn release(
    bytes: &[u8],
    object: &str,
    entry: &str,
    custodian: &str,
    identities: &Identities,
    to: &RecipientSpec,
    release: u64,
) -> Result<Vec<u8>, ThresholdError> {
    let o = parse(bytes)?;
    let share = own_share(&o, custodian, identities)?;
    let text = share.to_text(o.shares.len());
    let doc = ReleaseDoc {
        format: RELEASE_FORMAT,
        entry,
        object,
        custodian,
        release,
        share: &text,
    };
    // Sized once, so that no grown copy of the share is left behind.
    let mut plain = Zeroizing::new(Vec::with_capacity(1024 + text.len()));
    serde_json::to_writer(&mut *plain, &doc)
        .map_err(|e| ThresholdError::Format(format!("cannot encode: {e}")))?;
    plain.push(b'\n');
    Ok(crate::crypto::encrypt_armored(
        std::slice::from_ref(to),
        &plain,
    )?)
}

/// Read a released share: decrypt it with any of `identities` and check its form. Whether it
/// belongs to a given entry, object and release line is the caller's check.
pub fn read_released(
    path: &std::path::Path,
    bytes: &[u8],
    identities: &[&Identities],
) -> Result<Released, VaultError> {
    let bad = |problem: &str| VaultError::ReleasedShare {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    };
    if bytes.len() > MAX_RELEASE {
        return Err(bad("larger than a released share can be"));
    }
    let plain = identities
        .iter()
        .find_map(|id| id.decrypt(bytes).ok())
        .ok_or_else(|| bad("none of the identities given opens it (it was released to someone else, or is not a released share)"))?;
    let doc: ReleaseDoc<'_> = serde_json::from_slice(&plain)
        .map_err(|_| bad("it opens, but is not a released share of nkp-escrow"))?;
    if doc.format != RELEASE_FORMAT {
        return Err(bad("another format of released share"));
    }
    let share = Share::parse(doc.share, 1).map_err(|_| bad("its share does not parse"))?;
    Ok(Released {
        custodian: doc.custodian.to_string(),
        entry: doc.entry.to_string(),
        object: doc.object.to_string(),
        release: doc.release,
        share,
    })
}

/// Open with the identities of the custodians taking part (each tried on every share) and
/// shares released to the restorer (already read and checked to be of this object). Returns
/// the plaintext and who contributed.
pub fn open(
    bytes: &[u8],
    identities: &[&Identities],
    released: &[Released],
) -> Result<(Zeroizing<Vec<u8>>, Contributions), ThresholdError> {
    let o = parse(bytes)?;
    let mut shares: Vec<Share> = Vec::new();
    let mut who: Contributions = Vec::new();
    let mut failed: Option<String> = None;
    for (n, e) in o.shares.iter().enumerate() {
        // Enough: no further identity is tried (a hardware key is not asked for nothing).
        if shares.len() >= o.threshold {
            break;
        }
        if let Some(r) = released.iter().find(|r| r.custodian == e.custodian) {
            if usize::from(r.share.index) == n + 1 {
                shares.push(r.share.clone());
                who.push((e.custodian.clone(), Some(r.release)));
                continue;
            }
        }
        if identities.is_empty() {
            continue;
        }
        let Ok(sealed) = unb64(&e.share, "a share") else {
            continue;
        };
        for id in identities {
            let text = match id.decrypt(&sealed) {
                Ok(text) => text,
                Err(VaultError::Decrypt {
                    source: age::DecryptError::NoMatchingKeys,
                }) => continue,
                Err(e) => {
                    failed.get_or_insert_with(|| e.chain());
                    continue;
                }
            };
            {
                // A share that does not parse, or sits in another share's place, is passed
                // over: the others may still reach the threshold.
                if let Some(share) = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| Share::parse(t, n + 1).ok())
                    .filter(|s| usize::from(s.index) == n + 1)
                {
                    shares.push(share);
                    who.push((e.custodian.clone(), None));
                }
                break;
            }
        }
    }
    if shares.len() < o.threshold {
        return Err(ThresholdError::TooFew {
            opened: shares.len(),
            threshold: o.threshold,
            failed,
        });
    }
    shares.truncate(o.threshold);
    who.truncate(o.threshold);
    let secret = combine(&shares, o.threshold)?;
    let bad = || {
        ThresholdError::Format(
            "the shares do not combine into the object's key (a share or the payload was changed)"
                .into(),
        )
    };
    let text = std::str::from_utf8(&secret).map_err(|_| bad())?;
    let id = Identities::from_text(text).map_err(|_| bad())?;
    let payload = unb64(&o.payload, "the payload")?;
    let plain = id.decrypt(&payload).map_err(|_| bad())?;
    Ok((plain, who))
}

/// Which custodians' shares `identities` open (fingerprints), without combining anything.
pub fn holders(bytes: &[u8], identities: &[&Identities]) -> Result<Vec<String>, ThresholdError> {
    let o = parse(bytes)?;
    let mut out = Vec::new();
    for e in &o.shares {
        let Ok(sealed) = unb64(&e.share, "a share") else {
            continue;
        };
        if identities.iter().any(|id| id.decrypt(&sealed).is_ok()) {
            out.push(e.custodian.clone());
        }
    }
    Ok(out)
}

/// Keyless check against the custodian set the chain records: the format, the threshold,
/// exactly one share per custodian in the set's order, each an age file whose stanzas are
/// that custodian's alone (see [`CustodianSet::check_stanzas`]), and a payload for exactly
/// one X25519 key. Returns what is wrong, in words.
pub fn check(bytes: &[u8], set: &CustodianSet) -> Vec<String> {
    let o = match parse(bytes) {
        Ok(o) => o,
        Err(e) => return vec![e.to_string()],
    };
    let mut problems = Vec::new();
    let threshold = set.needed();
    if o.threshold != threshold {
        problems.push(format!(
            "threshold {} where the chain records {threshold}",
            o.threshold
        ));
    }
    let got: Vec<&str> = o.shares.iter().map(|s| s.custodian.as_str()).collect();
    let want: Vec<&str> = set
        .custodians
        .iter()
        .map(|c| c.fingerprint.as_str())
        .collect();
    if got != want {
        problems.push(format!(
            "{} share(s), not one for each of the {} custodians the chain records, in order",
            got.len(),
            want.len()
        ));
    }
    // Two shares with the same bytes (or, for X25519, the same ephemeral key) are one share
    // given twice: found without a key.
    let mut seen: Vec<(&str, String)> = Vec::new();
    for (i, s) in o.shares.iter().enumerate() {
        let first_arg = unb64(&s.share, "a share")
            .ok()
            .and_then(|b| crate::header::stanzas(&b).ok())
            .and_then(|st| st.into_iter().find(|x| !x.tag.ends_with("-grease")))
            .and_then(|x| x.args.first().cloned())
            .unwrap_or_default();
        if let Some(j) = seen
            .iter()
            .position(|(b, a)| *b == s.share || (!a.is_empty() && *a == first_arg))
        {
            problems.push(format!("shares {} and {} are the same share", j + 1, i + 1));
        }
        seen.push((s.share.as_str(), first_arg));
    }
    for (i, (s, c)) in o.shares.iter().zip(&set.custodians).enumerate() {
        let one = CustodianSet {
            mode: crate::custody::Mode::Recipients,
            custodians: vec![c.clone()],
            verifier: None,
            threshold: None,
        };
        match unb64(&s.share, "a share").map(|b| crate::header::stanzas(&b)) {
            Ok(Ok(st)) => {
                if let Err(e) = one.check_stanzas(&st) {
                    problems.push(format!("share {} ({}): {e}", i + 1, c.label));
                }
            }
            _ => problems.push(format!("share {}: not an age file", i + 1)),
        }
    }
    // The payload's header is at its start: decode only that much.
    let head_len = o.payload.len().min(8 * 1024) / 4 * 4;
    let payload_ok = o
        .payload
        .get(..head_len)
        .and_then(|h| base64::engine::general_purpose::STANDARD.decode(h).ok())
        .and_then(|b| crate::header::stanzas(&b).ok())
        .is_some_and(|st| {
            let grease = st.iter().filter(|s| s.tag.ends_with("-grease")).count();
            grease <= 1 && st.len() - grease == 1 && st.iter().any(|s| s.tag == "X25519")
        });
    if !payload_ok {
        problems.push("the payload is not an age file for one object key".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn custodian(label: &str) -> (RecipientSpec, Identities) {
        let id = age::x25519::Identity::generate();
        let spec = RecipientSpec {
            label: label.into(),
            recipient: id.to_public().to_string(),
        };
        let ids = Identities::from_text(id.to_string().expose_secret()).expect("identity");
        (spec, ids)
    }

    #[test]
    fn two_of_three_open_and_one_does_not() {
        let (a, ia) = custodian("a");
        let (b, ib) = custodian("b");
        let (c, ic) = custodian("c");
        let set = [a, b, c];
        let obj = seal(b"the envelope", &set, 2).expect("seal");
        for pair in [[&ia, &ib], [&ib, &ic], [&ic, &ia]] {
            let (plain, who) = open(&obj, &pair, &[]).expect("open");
            assert_eq!(plain.as_slice(), b"the envelope");
            assert_eq!(who.len(), 2);
        }
        for one in [&ia, &ib, &ic] {
            assert!(matches!(
                open(&obj, &[one], &[]),
                Err(ThresholdError::TooFew {
                    opened: 1,
                    threshold: 2,
                    failed: None
                })
            ));
        }
        let chain = CustodianSet::with_threshold(&set, Some(2)).expect("set");
        assert_eq!(check(&obj, &chain), Vec::<String>::new());
        let two = CustodianSet::with_threshold(&set[..2], Some(2)).expect("set");
        assert!(!check(&obj, &two).is_empty());
        let three = CustodianSet::with_threshold(&set, Some(3)).expect("set");
        assert!(!check(&obj, &three).is_empty());
        // A share swapped for one encrypted to another key is found without any key.
        let mut doc = parse(&obj).expect("parse");
        let (_, other) = custodian("mallory");
        let _ = other;
        let stranger = age::x25519::Identity::generate().to_public().to_string();
        let sealed = encrypt(
            &Encryption::Recipients(&[RecipientSpec {
                label: "m".into(),
                recipient: stranger,
            }]),
            b"1-00\n",
        )
        .expect("encrypt");
        doc.shares[1].share = b64(&sealed);
        let forged = serde_json::to_vec(&doc).expect("json");
        // X25519 stanzas cannot be told apart without a key: the count still matches, so
        // this is found by the restore, not by verify; an SSH custodian's tag would differ.
        let _ = check(&forged, &chain);
        // Released to a restorer and back.
        let restorer = age::x25519::Identity::generate();
        let to = RecipientSpec {
            label: "restorer".into(),
            recipient: restorer.to_public().to_string(),
        };
        let file =
            release(&obj, "objid", "entryid", &set[0].fingerprint(), &ia, &to, 7).expect("release");
        assert!(file.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
        let rid = Identities::from_text(restorer.to_string().expose_secret()).expect("id");
        let r = read_released(std::path::Path::new("a.share"), &file, &[&rid]).expect("read");
        assert_eq!(
            (r.entry.as_str(), r.object.as_str(), r.release),
            ("entryid", "objid", 7)
        );
        assert!(read_released(std::path::Path::new("a.share"), &file, &[&ia]).is_err());
        // One released share plus one custodian at the terminal open it.
        let (plain, who) = open(&obj, &[&ic], &[r]).expect("open");
        assert_eq!(plain.as_slice(), b"the envelope");
        assert_eq!(who[0].1, Some(7));
        assert_eq!(who[1].1, None);
        // Nothing in the object is a share or the key in the clear.
        let text = String::from_utf8_lossy(&obj);
        assert!(!text.contains("AGE-SECRET-KEY"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&b);
            let set = CustodianSet {
                mode: crate::custody::Mode::Recipients,
                custodians: Vec::new(),
                verifier: None,
                threshold: Some(2),
            };
            let _ = check(&b, &set);
        }
    }
}
