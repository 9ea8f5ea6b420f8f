//! A `.p12` that arrives as text: PEM (`-----BEGIN PKCS12-----`), the `-----BEGIN
//! CERTIFICATE-----` wrapping that Windows `certutil -encode` puts around any file, or bare
//! base64 pasted into a ticket. Unwrapped only when what is inside starts like a PFX.
//!
//! Why not `rustls-pki-types`' PEM reader: it returns only the section kinds it knows
//! (certificates, keys, CRLs) and passes over a `PKCS12` section; the few lines here read any
//! label and are fuzzed with the rest of the readers.

use base64::Engine as _;
use zeroize::Zeroizing;

/// How much armored text is considered (a PFX of 64 MiB is ~87 MiB of base64).
const MAX_TEXT: usize = 96 << 20;

/// The PFX inside armored text, and how it was wrapped (`PEM (PKCS12)`, `PEM (CERTIFICATE,
/// certutil -encode)`, `base64`); `None` when `b` is not armor around a PFX.
pub fn unarmor(b: &[u8]) -> Option<(Zeroizing<Vec<u8>>, String)> {
    if b.len() > MAX_TEXT || crate::inspect::sniff::may_be_pkcs12(b) {
        return None;
    }
    // UTF-16 with a BOM (PowerShell 5.1's `>`): base64 text, decoded first.
    let decoded: Option<Zeroizing<String>> = match crate::evidence::utf16_bom(b) {
        Some(le) => {
            let mut t = Zeroizing::new(String::with_capacity(b.len() / 2 * 3 + 4));
            if !crate::evidence::decode_utf16_into(&b[2..], le, true, &mut t) {
                return None;
            }
            Some(t)
        }
        None => None,
    };
    let text = match &decoded {
        Some(t) => t.as_str(),
        None => std::str::from_utf8(b).ok()?,
    };
    let text = text.trim_start_matches('\u{feff}');
    let (body, how) = match pem_body(text) {
        Some((label, body)) => {
            let how = match label {
                "CERTIFICATE" => {
                    "PEM (CERTIFICATE, as certutil -encode wraps any file)".to_string()
                }
                l => format!("PEM ({l})"),
            };
            (body, how)
        }
        None => (text, "base64".to_string()),
    };
    let compact: Zeroizing<Vec<u8>> =
        Zeroizing::new(body.bytes().filter(|c| !c.is_ascii_whitespace()).collect());
    if compact.len() < 16
        || !compact
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
    {
        return None;
    }
    let der = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_slice())
            .ok()?,
    );
    crate::inspect::sniff::may_be_pkcs12(&der).then_some((der, how))
}

/// The label and base64 body of the first PEM section; headers (`Proc-Type:` lines) are not
/// expected in these files and make it not PEM.
fn pem_body(text: &str) -> Option<(&str, &str)> {
    let start = text.find("-----BEGIN ")?;
    let after = &text[start + 11..];
    let label_end = after.find("-----")?;
    let label = &after[..label_end];
    if label.len() > 64 || label.contains('\n') {
        return None;
    }
    let body_start = after[label_end + 5..].trim_start_matches(['\r', '\n']);
    let end_marker = format!("-----END {label}-----");
    let end = body_start.find(&end_marker)?;
    Some((label, &body_start[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pfx() -> Vec<u8> {
        // SEQUENCE { INTEGER 3, ... }: enough to start like a PFX.
        let mut v = vec![
            0x30, 0x0b, 0x02, 0x01, 0x03, 0x30, 0x06, 0x06, 0x01, 0x00, 0x04, 0x01, 0x00,
        ];
        v.truncate(13);
        v
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn pem_certutil_and_bare_base64_are_unwrapped() {
        let p = pfx();
        let e = b64(&p);
        let pem = format!("-----BEGIN PKCS12-----\n{e}\n-----END PKCS12-----\n");
        let (der, how) = unarmor(pem.as_bytes()).expect("pem");
        assert_eq!(der.as_slice(), p.as_slice());
        assert_eq!(how, "PEM (PKCS12)");
        let certutil =
            format!("-----BEGIN CERTIFICATE-----\r\n{e}\r\n-----END CERTIFICATE-----\r\n");
        let (der, how) = unarmor(certutil.as_bytes()).expect("certutil");
        assert_eq!(der.as_slice(), p.as_slice());
        assert!(how.contains("certutil"));
        let pasted = format!("\u{feff}  {}\n{}\n", &e[..8], &e[8..]);
        let (der, how) = unarmor(pasted.as_bytes()).expect("bare");
        assert_eq!(der.as_slice(), p.as_slice());
        assert_eq!(how, "base64");
        let mut utf16 = vec![0xff, 0xfe];
        for u in pem.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let (der, _) = unarmor(&utf16).expect("UTF-16 PEM");
        assert_eq!(der.as_slice(), p.as_slice());
    }

    #[test]
    fn other_text_and_binary_are_not_armor() {
        assert!(unarmor(b"hello world, this is a ticket").is_none());
        assert!(unarmor(&pfx()).is_none(), "binary PFX is not armor");
        // Base64 of something that is not a PFX.
        assert!(unarmor(b64(b"just some bytes, not DER at all").as_bytes()).is_none());
        assert!(
            unarmor(b"-----BEGIN PKCS12-----\nAAAA\n").is_none(),
            "no END line"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = unarmor(&b);
        }

        #[test]
        fn arbitrary_pem_never_panics(label in "[A-Z0-9 ]{0,20}", body in "[A-Za-z0-9+/=\\s-]{0,120}") {
            let _ = unarmor(format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----").as_bytes());
        }
    }
}
