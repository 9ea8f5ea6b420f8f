//! The NKP key-ID blob: the base64 key identifier inside an fqid locator.
//!
//! Layout observed in two independent samples (nkp-formats.md section 3; meaning INFERRED):
//! version `01`, header length `21 00` (33, u16 LE), 3 unknown bytes, a 16-byte UUID at offset 6,
//! one byte, then five u16 LE lengths at offset 23 whose sum is the size after the header; the
//! first field is the algorithm name (`AES-256\0`).
//!
//! A blob that does not fit (version, header length, sum of lengths) is an opaque key id.

use base64::Engine;
use serde::Serialize;

/// What a key identifier turned out to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "kebab-case")]
pub enum KeyIdForm {
    /// The NKP blob layout: the embedded UUID (meaning unverified) and algorithm name.
    NkpBlob {
        /// The algorithm name field (e.g. `AES-256`).
        algorithm: String,
        /// Total decoded length.
        length: usize,
    },
    /// A UUID given as text.
    Uuid {
        /// Lowercase UUID.
        uuid: String,
    },
    /// Anything else.
    Opaque {
        /// Why it is not an NKP blob.
        why: String,
    },
}

const HEADER_LEN: usize = 33;

/// Classify a key identifier as the source gives it (base64 blob, UUID, or other), with the
/// embedded UUID of an NKP blob (offset 6; its relation to the provider key_id is UNKNOWN).
pub fn decode(key: &str) -> (KeyIdForm, Option<String>) {
    let key = key.trim();
    if crate::nkp::is_uuid_text(key) {
        return (
            KeyIdForm::Uuid {
                uuid: key.to_ascii_lowercase(),
            },
            None,
        );
    }
    let compact: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.trim_end_matches('='))
        });
    let Ok(bytes) = decoded else {
        let why = "not base64".into();
        return (KeyIdForm::Opaque { why }, None);
    };
    let form = decode_bytes(&bytes);
    let uuid =
        matches!(form, KeyIdForm::NkpBlob { .. }).then(|| crate::nkp::uuid_text(&bytes[6..22]));
    (form, uuid)
}

/// Classify decoded blob bytes.
pub fn decode_bytes(b: &[u8]) -> KeyIdForm {
    let opaque = |why: String| KeyIdForm::Opaque { why };
    if b.len() < HEADER_LEN {
        return opaque(format!(
            "{} bytes, shorter than the 33-byte header",
            b.len()
        ));
    }
    if b[0] != 1 {
        return opaque(format!("version byte {:#04x}, not 0x01", b[0]));
    }
    let hlen = usize::from(u16::from_le_bytes([b[1], b[2]]));
    if hlen != HEADER_LEN {
        return opaque(format!("header length {hlen}, not 33"));
    }
    let lens: Vec<usize> = (0..5)
        .map(|i| usize::from(u16::from_le_bytes([b[23 + 2 * i], b[24 + 2 * i]])))
        .collect();
    let sum: usize = lens.iter().sum();
    if HEADER_LEN + sum != b.len() {
        return opaque(format!(
            "field lengths sum to {sum}, but {} bytes follow the header",
            b.len() - HEADER_LEN
        ));
    }
    let alg = &b[HEADER_LEN..HEADER_LEN + lens[0]];
    let algorithm = String::from_utf8_lossy(alg)
        .trim_end_matches('\0')
        .to_string();
    KeyIdForm::NkpBlob {
        algorithm,
        length: b.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key id of the published sample in nkp-formats.md (unescaped).
    const SAMPLE: &str = "ASEAAgEAbxwqfjudTiGkxQ2ej3prXAEIAAwAEAAgAAQAQUVTLTI1NgA0QfKTU04qRm3ASiPeHDPW0onhbjg+jJogccix1SWJtzFe4uZtHBtZnGYR7uCYkZP5gZ+UldovCdyPPkighgEA";

    #[test]
    fn the_published_sample_decodes() {
        match decode(SAMPLE) {
            (KeyIdForm::NkpBlob { algorithm, length }, Some(uuid)) => {
                assert_eq!(length, 105);
                assert_eq!(algorithm, "AES-256");
                assert_eq!(uuid, "6f1c2a7e-3b9d-4e21-a4c5-0d9e8f7a6b5c");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn anything_else_is_opaque_or_uuid() {
        assert!(matches!(
            decode("not base64 !!").0,
            KeyIdForm::Opaque { .. }
        ));
        assert!(matches!(decode("AAAA").0, KeyIdForm::Opaque { .. }));
        assert!(matches!(
            decode("4B7E9F10-2c3d-4a5b-9c8d-7e6f5a4b3c2d").0,
            KeyIdForm::Uuid { .. }
        ));
        let mut b = base64::engine::general_purpose::STANDARD
            .decode(SAMPLE)
            .unwrap();
        b[23] = 9; // break the sum of lengths
        assert!(matches!(decode_bytes(&b), KeyIdForm::Opaque { .. }));
    }
}
