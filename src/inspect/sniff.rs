//! Recognising files by content: is it PKCS#12, and if not, what is it?
//!
//! A PFX starts `30 <len> 02 01 03` (SEQUENCE, INTEGER version 3), with a definite or an
//! indefinite length. Anything else is not PKCS#12, whatever its name says.

use std::io::Read;
use std::path::Path;

/// True when `b` starts like a PFX.
pub fn may_be_pkcs12(b: &[u8]) -> bool {
    nkp_pkcs12::looks_like_pfx(b)
}

/// Read the first bytes of a file and sniff them.
pub fn file_may_be_pkcs12(path: &Path) -> bool {
    let mut head = [0u8; 16];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    may_be_pkcs12(&head[..n])
}

/// True for names users give PKCS#12 files.
pub fn named_like_p12(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        e == "p12" || e == "pfx" || e == "pkcs12"
    })
}

/// What a non-PKCS#12 file seems to be, with the next step where one is known.
pub fn hint(b: &[u8]) -> String {
    if b.is_empty() {
        return "the file is empty".into();
    }
    let text = std::str::from_utf8(&b[..b.len().min(4096)]).ok();
    let trimmed = text.map(|t| t.trim_start_matches('\u{feff}').trim_start());
    if let Some(t) = trimmed {
        if t.starts_with('{') || t.starts_with('[') {
            let vcsim =
                t.contains("\"Provider\"") || t.contains("\"provider\"") || t.contains("KeyId");
            return if vcsim {
                "a JSON document, not PKCS#12: the vCenter simulator (vcsim) 'exports' JSON under a .p12 name; a real NKP backup is binary PKCS#12 from a real vCenter".into()
            } else {
                "a JSON document, not PKCS#12 (a real NKP backup is binary PKCS#12; the vCenter simulator writes JSON under a .p12 name)".into()
            };
        }
        if t.starts_with("-----BEGIN") {
            return "PEM text, not binary PKCS#12: if it wraps a PKCS#12, decode the base64 between the BEGIN/END lines to a .p12 first".into();
        }
        let compact: String = t.chars().filter(|c| !c.is_whitespace()).take(16).collect();
        if compact.starts_with("MII") || compact.starts_with("MIA") {
            return "base64 text that looks like an encoded PKCS#12 (e.g. from the REST API): decode it (base64 -d) and inspect the result".into();
        }
    }
    if b.starts_with(b"Salted__") {
        return "an `openssl enc` encrypted file (Salted__ header), e.g. an encrypted vCenter backup part".into();
    }
    if b.starts_with(&[0x1f, 0x8b]) {
        return "gzip data (a vCenter file-based backup part is .tar.gz)".into();
    }
    if b.starts_with(b"PK\x03\x04") {
        return "a ZIP archive".into();
    }
    if b.len() > 262 && &b[257..262] == b"ustar" {
        return "a tar archive".into();
    }
    if b.starts_with(b"age-encryption.org/") || b.starts_with(b"-----BEGIN AGE") {
        return "an age-encrypted file (perhaps an nkp-escrow vault object: use `vault restore`)"
            .into();
    }
    if b[0] == 0x30 {
        return "DER data, but not a PKCS#12 PFX (no version 3 after the outer SEQUENCE): perhaps a certificate or a bare key".into();
    }
    if text.is_some() {
        return "a text file".into();
    }
    "unrecognised binary data".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_definite_and_indefinite_pfx_headers() {
        assert!(may_be_pkcs12(&[0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03]));
        assert!(may_be_pkcs12(&[0x30, 0x80, 0x02, 0x01, 0x03]));
        assert!(may_be_pkcs12(&[0x30, 0x10, 0x02, 0x01, 0x03]));
        assert!(!may_be_pkcs12(&[0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x02]));
        assert!(!may_be_pkcs12(b"{\"a\":1}"));
        assert!(!may_be_pkcs12(&[]));
    }

    #[test]
    fn hints_name_the_vcsim_trap() {
        assert!(hint(b"{\"Provider\":\"NKP\"}").contains("vcsim"));
        assert!(hint(b"-----BEGIN CERTIFICATE-----").contains("PEM"));
        assert!(hint(b"Salted__1234").contains("openssl enc"));
        assert_eq!(hint(b""), "the file is empty");
    }
}
