//! k-of-n objects (issue 13, the object format; the vault does not write them yet): no single
//! custodian, and no K-1 of them, can open the object.
//!
//! An object is a JSON document:
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
//! Break-glass without nkp-escrow: each custodian decrypts their share (`jq -r` the entry,
//! `base64 -d | age -d -i KEY`), `ssss-combine -t K -D -Q` gives the object identity on
//! standard error, and `jq -r .payload | base64 -d | age -d -i` it gives the envelope.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::{encrypt, Encryption, Identities, RecipientSpec};
use crate::shamir::{combine, split, Share};
use crate::VaultError;

/// The object format.
pub const FORMAT: &str = "nkp-escrow-kofn/1";

/// The largest object read (an envelope of a 64 MiB backup, base64, plus shares).
const MAX_OBJECT: usize = 128 << 20;

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
    /// Not this format.
    #[error("not a k-of-n object: {0}")]
    Format(String),
    /// Too few custodians took part.
    #[error("{opened} of the {threshold} shares needed could be opened with the identities given")]
    TooFew {
        /// Shares opened.
        opened: usize,
        /// Needed.
        threshold: usize,
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
    Ok(out)
}

/// Parse an object (no key needed).
pub fn parse(bytes: &[u8]) -> Result<Object, ThresholdError> {
    if bytes.len() > MAX_OBJECT {
        return Err(ThresholdError::Format("larger than the size cap".into()));
    }
    let o: Object = serde_json::from_slice(bytes).map_err(|e| {
        ThresholdError::Format(format!("not the JSON document (line {})", e.line()))
    })?;
    if o.format != FORMAT {
        return Err(ThresholdError::Format("another format".into()));
    }
    Ok(o)
}

/// Open with the identities of the custodians taking part (each tried on every share); the
/// fingerprints of the custodians whose shares were used come back with the plaintext.
pub fn open(
    bytes: &[u8],
    identities: &[&Identities],
) -> Result<(Zeroizing<Vec<u8>>, Vec<String>), ThresholdError> {
    let o = parse(bytes)?;
    let mut shares: Vec<Share> = Vec::new();
    let mut who = Vec::new();
    for (n, e) in o.shares.iter().enumerate() {
        let sealed = unb64(&e.share, "a share")?;
        for id in identities {
            if let Ok(text) = id.decrypt(&sealed) {
                let text = Zeroizing::new(String::from_utf8_lossy(&text).into_owned());
                let share = Share::parse(&text, n + 1)?;
                if !shares.iter().any(|s| s.index == share.index) {
                    shares.push(share);
                    who.push(e.custodian.clone());
                }
                break;
            }
        }
    }
    if shares.len() < o.threshold {
        return Err(ThresholdError::TooFew {
            opened: shares.len(),
            threshold: o.threshold,
        });
    }
    let secret = combine(&shares, o.threshold)?;
    let text = std::str::from_utf8(&secret)
        .map_err(|_| ThresholdError::Format("the combined key is not an age identity".into()))?;
    let id = Identities::from_text(text)?;
    let payload = unb64(&o.payload, "the payload")?;
    Ok((id.decrypt(&payload)?, who))
}

/// Keyless check: the format, the threshold and exactly one share per custodian of `expected`
/// (fingerprints, in order), each an age file with exactly one recipient stanza.
pub fn check(bytes: &[u8], expected: &[String], threshold: usize) -> Vec<String> {
    let o = match parse(bytes) {
        Ok(o) => o,
        Err(e) => return vec![e.to_string()],
    };
    let mut problems = Vec::new();
    if o.threshold != threshold {
        problems.push(format!(
            "threshold {} where the chain records {threshold}",
            o.threshold
        ));
    }
    let got: Vec<&str> = o.shares.iter().map(|s| s.custodian.as_str()).collect();
    let want: Vec<&str> = expected.iter().map(String::as_str).collect();
    if got != want {
        problems.push(format!(
            "{} share(s) for other custodians than the {} the chain records",
            got.len(),
            want.len()
        ));
    }
    // Recipient stanzas, not counting the one `-grease` stanza age may add.
    let recipients = |b: &[u8]| -> Option<usize> {
        let st = crate::header::stanzas(b).ok()?;
        let grease = st.iter().filter(|s| s.tag.ends_with("-grease")).count();
        (grease <= 1).then_some(st.len() - grease)
    };
    for (i, s) in o.shares.iter().enumerate() {
        match unb64(&s.share, "a share").map(|b| recipients(&b)) {
            Ok(Some(1)) => {}
            Ok(Some(n)) => problems.push(format!("share {}: {n} recipient stanzas, not 1", i + 1)),
            _ => problems.push(format!("share {}: not an age file", i + 1)),
        }
    }
    let payload_ok = unb64(&o.payload, "the payload").is_ok_and(|b| recipients(&b) == Some(1));
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
            let (plain, who) = open(&obj, &pair).expect("open");
            assert_eq!(plain.as_slice(), b"the envelope");
            assert_eq!(who.len(), 2);
        }
        for one in [&ia, &ib, &ic] {
            assert!(matches!(
                open(&obj, &[one]),
                Err(ThresholdError::TooFew {
                    opened: 1,
                    threshold: 2
                })
            ));
        }
        let fps: Vec<String> = set.iter().map(RecipientSpec::fingerprint).collect();
        assert!(check(&obj, &fps, 2).is_empty());
        assert!(!check(&obj, &fps[..2], 2).is_empty());
        assert!(!check(&obj, &fps, 3).is_empty());
        // Nothing in the object is a share or the key in the clear.
        let text = String::from_utf8_lossy(&obj);
        assert!(!text.contains("AGE-SECRET-KEY"));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&b);
            let _ = check(&b, &[], 2);
        }
    }
}
