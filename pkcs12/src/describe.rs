//! Plain-language descriptions of what a PKCS#12 bag holds: certificate subjects, private key
//! types and sizes. Only public facts; secret values appear as length + fingerprint.

use sha2::{Digest, Sha256};

use crate::der::{tag, Reader, Tlv};
use crate::oid;

/// `sha256:<hex>` of bytes (used for key fingerprints).
pub fn fingerprint(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Both nibbles are below 16, so `get` always finds a digit.
        let digits = [b >> 4, b & 15].map(|n| DIGITS.get(usize::from(n)));
        s.extend(digits.into_iter().flatten().map(|d| char::from(*d)));
    }
    s
}

/// The subject of an X.509 certificate: its CN if it has one, else the whole DN in short
/// form. `None` when the bytes are not a certificate.
pub fn cert_subject(der: &[u8]) -> Option<String> {
    let cert = Reader::new(der).read().ok()?;
    let mut r = cert.reader().ok()?;
    let tbs = r.read().ok()?;
    let mut t = tbs.reader().ok()?;
    t.optional_context(0).ok()?;
    t.read().ok()?; // serial
    t.read().ok()?; // signature algorithm
    t.read().ok()?; // issuer
    t.read().ok()?; // validity
    let subject = t.read().ok()?;
    let mut parts = Vec::new();
    let mut cn = None;
    let mut rdns = subject.reader().ok()?;
    while !rdns.is_empty() {
        let rdn = rdns.read().ok()?;
        let mut atvs = rdn.reader().ok()?;
        while !atvs.is_empty() {
            let atv = atvs.read().ok()?;
            let mut a = atv.reader().ok()?;
            let o = a.read().ok()?.oid().ok()?;
            let v = a.read().ok()?.text().unwrap_or_else(|| "?".into());
            let short = match o.as_str() {
                oid::CN => "CN",
                oid::COUNTRY => "C",
                oid::LOCALITY => "L",
                oid::STATE => "ST",
                oid::ORGANIZATION => "O",
                oid::ORGANIZATIONAL_UNIT => "OU",
                _ => "",
            };
            if o == oid::CN {
                cn = Some(v.clone());
            }
            if !short.is_empty() {
                parts.push(format!("{short}={v}"));
            }
        }
    }
    Some(match cn {
        Some(c) => format!("CN={c}"),
        None if parts.is_empty() => "(empty subject)".into(),
        None => parts.join(", "),
    })
}

/// What a PrivateKeyInfo holds.
pub struct KeyInfo<'a> {
    /// Algorithm OID.
    pub algorithm: String,
    /// Readable kind and size, e.g. `RSA-2048`, `EC P-256`, `AES-256 secret key`.
    pub label: String,
    /// The raw key octets (secret).
    pub key: &'a [u8],
    /// True for a symmetric AES key .
    pub symmetric_aes: bool,
}

/// Parse a PrivateKeyInfo (PKCS#8) and describe it.
pub fn private_key_info(der: &[u8]) -> Option<KeyInfo<'_>> {
    let pki = Reader::new(der).read().ok()?;
    if !pki.is(tag::SEQUENCE) {
        return None;
    }
    let mut r = pki.reader().ok()?;
    r.read().ok()?.uint().ok()?;
    let alg = r.require(tag::SEQUENCE, "algorithm").ok()?;
    let mut ar = alg.reader().ok()?;
    let algorithm = ar.read().ok()?.oid().ok()?;
    let params = if ar.is_empty() { None } else { ar.read().ok() };
    let key_t = r.require(tag::OCTET_STRING, "privateKey").ok()?;
    if key_t.constructed {
        return None;
    }
    let key = key_t.value;
    let symmetric_aes = oid::is_aes(&algorithm);
    let label = if symmetric_aes {
        format!("AES-{} secret key", unwrap_raw_key(key).len() * 8)
    } else {
        match algorithm.as_str() {
            oid::RSA | oid::RSA_PSS => {
                let bits = Reader::new(key)
                    .read()
                    .ok()
                    .and_then(|s| {
                        let mut r = s.reader().ok()?;
                        r.read().ok()?;
                        r.read().ok()?.uint_bits().ok()
                    })
                    .unwrap_or(0);
                format!("{}-{bits} private key", oid::name(&algorithm))
            }
            oid::EC => {
                let curve = params
                    .and_then(|p| p.oid().ok())
                    .map(|o| oid::name(&o))
                    .unwrap_or_else(|| "explicit curve".into());
                format!("EC {curve} private key")
            }
            oid::DSA => {
                let bits = params
                    .and_then(|p| p.reader().ok()?.read().ok()?.uint_bits().ok())
                    .unwrap_or(0);
                format!("DSA-{bits} private key")
            }
            o => format!("{} private key", oid::name(o)),
        }
    };
    Some(KeyInfo {
        algorithm,
        label,
        key,
        symmetric_aes,
    })
}

/// A symmetric key is stored either as raw octets or as an OCTET STRING inside the octets.
/// Returns the raw key: the inner octets only when the outer length is not itself a key
/// length ([`is_symmetric_key_len`]) and the inner element spans the whole buffer.
pub fn unwrap_raw_key(bytes: &[u8]) -> &[u8] {
    if is_symmetric_key_len(bytes.len()) {
        return bytes;
    }
    let mut r = Reader::new(bytes);
    if let Ok(t) = r.read() {
        if r.is_empty()
            && t.is(tag::OCTET_STRING)
            && !t.constructed
            && is_symmetric_key_len(t.value.len())
        {
            return t.value;
        }
    }
    bytes
}

/// The sizes taken for a bare symmetric key: 16, 32 or 64 bytes (AES-128, AES-256, and the
/// double-length keys of AES-XTS and AES-SIV).
pub fn is_symmetric_key_len(n: usize) -> bool {
    matches!(n, 16 | 32 | 64)
}

/// Best-effort description of an element we do not otherwise understand.
pub fn shape(t: &Tlv<'_>) -> String {
    format!("{} of {} bytes", t.describe(), t.value.len())
}

/// Format 16 bytes as a lowercase hyphenated UUID (other lengths as plain hex).
pub fn uuid_text(b: &[u8]) -> String {
    let h = hex(b);
    if h.len() != 32 {
        return h;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
