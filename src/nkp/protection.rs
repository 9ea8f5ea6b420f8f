//! The protection verdict of a PKCS#12 file: `unprotected`, `weak` or `strong`.
//!
//! - `unprotected`: the key material can be read without a password, or with the empty one
//!   (whoever holds the file holds the KDK: fails STIG VCFA-9X-000335 / VCSA-80-000294).
//! - `weak`: a password is needed, but a layer uses legacy algorithms (PKCS#12 PBE, PBES1,
//!   RC2, DES, 3DES, a SHA-1 or MD5 PRF or MAC), no MAC at all, or fewer than 2048
//!   iterations.
//! - `strong`: every layer is PBES2 with AES and an HMAC-SHA-2 PRF, the MAC is SHA-2, and
//!   every iteration count is at least 2048.

use nkp_pkcs12::pbe::Scheme;
use nkp_pkcs12::{Candidate, Contents};

use nkp_pkcs12::MacInfo;
use serde::Serialize;

use super::{Found, FoundItem};
use crate::secret::{Password, PasswordQuality};

crate::codes::contract_enum! {
    /// The protection verdict of a backup file.
    pub enum Verdict {
        /// Every layer modern, a real password needed.
        Strong = "strong",
        /// A password is needed, but something is legacy or thin.
        Weak = "weak",
        /// No password, or the empty one.
        Unprotected = "unprotected",
    }
}

/// Protection of a PKCS#12 file.
#[derive(Debug, Serialize, Clone)]
pub struct Protection {
    /// True only when reading the key material needs a non-empty password.
    pub password_protected: bool,
    /// The MAC, if any.
    pub mac: Option<MacInfo>,
    /// Every encryption layer (encrypted safes and shrouded bags).
    pub encryption: Vec<EncryptionLayer>,
    /// `strong`, `weak` or `unprotected`.
    pub verdict: Verdict,
    /// Why the verdict is not `strong`.
    pub reasons: Vec<String>,
    /// The password that opened the file, described (never shown).
    pub password: Option<PasswordQuality>,
    /// Which of the caller's passwords that was (index into the slice given to the reader),
    /// so that the one escrowed is exactly the one that opened the file.
    #[serde(skip)]
    pub opened_by: Option<usize>,
}

/// One encryption layer.
#[derive(Debug, Serialize, Clone)]
pub struct EncryptionLayer {
    /// `safe 1`, `bag 1.0`.
    pub location: String,
    /// Scheme details.
    #[serde(flatten)]
    pub scheme: nkp_pkcs12::pbe::SchemeInfo,
    /// Whether it was opened and with what.
    pub opened_with: Option<String>,
}

/// Fewest iterations accepted as strong (OpenSSL's default, NIST SP 800-132's floor is 1000).
pub const MIN_ITERATIONS: u64 = 2048;

/// Assess `walk`. `kdk_layers` are the layer sets protecting each KDK (empty when the file is
/// not an NKP backup: then every secret item counts).
pub fn assess(
    walk: &Contents,
    found: &[Found],
    kdk_layers: &[Vec<usize>],
    passwords: &[Password],
) -> Protection {
    let mut reasons = Vec::new();

    // Which items must be confidential.
    let secret_sets: Vec<Vec<usize>> = if !kdk_layers.is_empty() {
        kdk_layers.to_vec()
    } else {
        found
            .iter()
            .filter(|f| {
                matches!(
                    f.item,
                    FoundItem::PrivateKey { .. }
                        | FoundItem::Kdk { .. }
                        | FoundItem::Metadata { .. }
                        | FoundItem::Other { .. }
                )
            })
            .map(|f| f.layers.clone())
            .collect()
    };
    let strong_layer = |i: &usize| {
        walk.layers
            .get(*i)
            .is_some_and(|l| l.opened_with.is_some() && !l.opened_with_blank)
    };
    let locked_layers = walk.layers.iter().any(|l| l.opened_with.is_none());
    let password_protected = if !secret_sets.is_empty() {
        secret_sets.iter().all(|s| s.iter().any(strong_layer))
    } else {
        // Nothing secret could be read: protected if something stayed locked behind a
        // password we do not have, or if a layer needed a real password.
        locked_layers
            || walk
                .layers
                .iter()
                .any(|l| l.opened_with.is_some() && !l.opened_with_blank)
    };
    if !password_protected {
        if walk.layers.iter().any(|l| l.opened_with_blank) {
            reasons.push("encrypted with the empty password: anyone can decrypt it".to_string());
        } else {
            reasons.push("key material stored without encryption".to_string());
        }
    }

    // Algorithm strength of every layer and of the MAC.
    let mac = walk.structure.mac.clone();
    match &mac {
        None => reasons.push("no MAC: the file's integrity is not protected".into()),
        Some(m) => {
            if !m.hash.is_some_and(|h| h.is_modern()) {
                reasons.push(format!("MAC uses {} (legacy)", m.algorithm));
            }
            if m.iterations < MIN_ITERATIONS {
                reasons.push(format!(
                    "MAC uses {} iterations (fewer than {MIN_ITERATIONS})",
                    m.iterations
                ));
            }
        }
    }
    for l in &walk.layers {
        let info = l.scheme.info();
        if !l.scheme.is_modern() {
            let why = match &l.scheme {
                Scheme::Pkcs12 { .. } => "legacy PKCS#12 PBE".to_string(),
                Scheme::Pbes1 { .. } => "legacy PKCS#5 v1.5 PBES1".to_string(),
                _ => {
                    let mut w = Vec::new();
                    if !info.cipher.starts_with("AES") {
                        w.push(format!("cipher {}", info.cipher));
                    }
                    if let Some(p) = &info.prf {
                        if p == "hmacWithSHA1" || p == "hmacWithMD5" {
                            w.push(format!("PRF {p}"));
                        }
                    }
                    w.join(", ")
                }
            };
            reasons.push(format!("{} uses {} ({why})", l.location, info.description));
        }
        if let Some(it) = info.iterations {
            if it < MIN_ITERATIONS {
                reasons.push(format!(
                    "{} uses {it} iterations (fewer than {MIN_ITERATIONS})",
                    l.location
                ));
            }
        }
    }
    let verdict = if !password_protected {
        Verdict::Unprotected
    } else if reasons.is_empty() {
        Verdict::Strong
    } else {
        Verdict::Weak
    };

    // The password that opened the protected layers, described. The reader says which of
    // the passwords given it was, by index: two lines of standard input are two passwords.
    let given = |c: Option<Candidate>| match c {
        Some(Candidate::Given(i)) => passwords.get(i).filter(|p| !p.is_blank()),
        _ => None,
    };
    let index = |c: Option<Candidate>| match c {
        Some(Candidate::Given(i)) if given(c).is_some() => Some(i),
        _ => None,
    };
    let opened_by = walk
        .layers
        .iter()
        .find_map(|l| index(l.opened_with))
        .or_else(|| index(mac.as_ref().and_then(|m| m.verified_by)));
    let password = opened_by
        .and_then(|i| passwords.get(i))
        .map(Password::quality);

    Protection {
        password_protected,
        mac,
        encryption: walk
            .layers
            .iter()
            .map(|l| EncryptionLayer {
                location: l.location.clone(),
                scheme: l.scheme.info(),
                opened_with: l.opened_with_label.clone(),
            })
            .collect(),
        verdict,
        reasons,
        password,
        opened_by,
    }
}
