//! NKP recognition: rules R1-R7 of `nkp-formats.md` applied to what the walker found.
//!
//! The real bag layout of a vCenter NKP backup is not public. These rules are deliberately
//! the only ones applied; each provider field records which rule produced it
//! ([`FieldSources`]), so that a file that does not match can be reported exactly.

pub mod protection;

use serde::Serialize;
use serde_json::{Map, Value};

use nkp_pkcs12::describe::{fingerprint, is_symmetric_key_len, unwrap_raw_key};
use nkp_pkcs12::{BagContent, Contents, KeyContainer, SecretBytes};

/// One Native Key Provider found in a backup. No key material: only its size and SHA-256.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ProviderRecord {
    /// Provider name (R3), null when neither metadata nor friendlyName gives one.
    pub name: Option<String>,
    /// Provider key_id (R4), lowercase UUID when it is one.
    pub key_id: Option<String>,
    /// Export time (R5), RFC 3339.
    pub export_time: Option<String>,
    /// TPM constraint (R6).
    pub tpm_required: Option<bool>,
    /// KDK size in bits (0 when the KDK is not readable, e.g. in a vCenter backup bundle).
    pub kdk_bits: usize,
    /// `sha256:` + hex SHA-256 of the raw KDK bytes; null when the KDK is not readable.
    pub kdk_fingerprint: Option<String>,
    /// Where the KDK was found (R2 style) and in which bag.
    pub kdk_storage: String,
    /// Which rule produced each field.
    pub sources: FieldSources,
    /// Anything odd about this provider's fields.
    pub notes: Vec<String>,
    /// Bag paths of the encryption layers protecting the KDK (internal use).
    #[serde(skip)]
    pub layers: Vec<usize>,
}

/// Provenance of each provider field, e.g. `metadata.provider` or `friendlyName`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Default)]
pub struct FieldSources {
    /// Source of `name`.
    pub name: Option<String>,
    /// Source of `key_id`.
    pub key_id: Option<String>,
    /// Source of `export_time`.
    pub export_time: Option<String>,
    /// Source of `tpm_required`.
    pub tpm_required: Option<String>,
}

/// Result of recognition over one file.
#[derive(Debug, Default)]
pub struct Recognition {
    /// Providers (one per KDK candidate).
    pub providers: Vec<ProviderRecord>,
    /// File-level notes (unpaired metadata, bad fields).
    pub notes: Vec<String>,
}

pub use nkp_pkcs12::describe::uuid_text;

/// What a bag holds, in NKP terms (rule R2 decides which bags hold a KDK).
#[derive(Debug)]
pub enum FoundItem {
    /// A symmetric key of 16, 32 or 64 bytes: a KDK candidate (R2 a-c).
    Kdk {
        /// The key.
        key: SecretBytes,
        /// How it was stored (R2 letter and words).
        style: &'static str,
    },
    /// A JSON metadata document in a secretBag (R2 d, R3-R6). The `kdk` field is removed
    /// from `doc` and zeroized; its decoded bytes are in `kdk`.
    Metadata {
        /// Remaining fields.
        doc: Map<String, Value>,
        /// Decoded KDK, if the document carried one.
        kdk: Option<SecretBytes>,
        /// A `kdk` field that was present but not base64 of 16/32/64 bytes.
        bad_kdk: Option<String>,
    },
    /// An asymmetric private key.
    PrivateKey {
        /// e.g. `RSA-2048 private key`.
        label: String,
    },
    /// A certificate.
    Certificate {
        /// `CN=...`
        subject: String,
    },
    /// Anything else.
    Other {
        /// In words.
        label: String,
    },
}

/// A bag of the file, classified.
#[derive(Debug)]
pub struct Found {
    /// Bag path.
    pub path: String,
    /// friendlyName.
    pub friendly_name: Option<String>,
    /// localKeyId raw bytes.
    pub local_key_id: Option<Vec<u8>>,
    /// Encryption layers (indexes into [`Contents::layers`]) that protect it.
    pub layers: Vec<usize>,
    /// The content.
    pub item: FoundItem,
}

/// Classify what the PKCS#12 reader found (rule R2), taking the bag contents out of
/// `contents`. The structure tree is annotated where NKP gives a bag a meaning (JSON
/// metadata, with the `kdk` field shown only as length and fingerprint).
pub fn classify(contents: &mut Contents) -> Vec<Found> {
    let found = std::mem::take(&mut contents.found);
    let mut out = Vec::with_capacity(found.len());
    // New descriptions by bag path, applied in one pass over the tree at the end.
    let mut holds: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for f in found {
        let item = match f.content {
            BagContent::SymmetricKey { key, container } if is_kdk_len(key.len()) => {
                FoundItem::Kdk {
                    key,
                    style: container_style(container),
                }
            }
            BagContent::SymmetricKey { .. } => FoundItem::Other {
                label: f.description,
            },
            BagContent::Secret { value, .. } => {
                let raw = unwrap_raw_key(value.expose());
                if is_kdk_len(raw.len()) {
                    FoundItem::Kdk {
                        key: SecretBytes::new(raw.to_vec()),
                        style: "R2a secretBag with a raw key",
                    }
                } else if let Some(meta) = metadata(value.expose()) {
                    holds.insert(f.path.clone(), describe_metadata(&meta));
                    meta
                } else {
                    FoundItem::Other {
                        label: f.description,
                    }
                }
            }
            BagContent::PrivateKey { label } => FoundItem::PrivateKey { label },
            BagContent::Certificate { subject } => FoundItem::Certificate { subject },
            BagContent::Other { label } => FoundItem::Other { label },
            // A content kind added to the reader later: described, never a KDK.
            _ => FoundItem::Other {
                label: f.description,
            },
        };
        out.push(Found {
            path: f.path,
            friendly_name: f.friendly_name,
            local_key_id: f.local_key_id,
            layers: f.layers,
            item,
        });
    }
    if !holds.is_empty() {
        contents.structure.for_each_bag_mut(&mut |node| {
            if let Some(h) = holds.remove(&node.path) {
                node.holds = h;
            }
        });
    }
    out
}

/// The key sizes R2 accepts for a KDK: 16, 32 or 64 bytes.
pub fn is_kdk_len(n: usize) -> bool {
    is_symmetric_key_len(n)
}

fn container_style(c: KeyContainer) -> &'static str {
    match c {
        KeyContainer::KeyBag => "R2c keyBag with an AES PrivateKeyInfo",
        KeyContainer::ShroudedKeyBag => "R2c pkcs8ShroudedKeyBag with an AES PrivateKeyInfo",
        KeyContainer::SecretBagShrouded => "R2b secretBag (Java keytool SecretKeyEntry)",
        KeyContainer::SecretBagKeyBag => "R2c keyBag inside a secretBag",
        _ => "R2c AES PrivateKeyInfo in a secretBag",
    }
}

fn describe_metadata(meta: &FoundItem) -> String {
    let FoundItem::Metadata { doc, kdk, .. } = meta else {
        return String::new();
    };
    let mut fields: Vec<&String> = doc.keys().collect();
    fields.sort();
    let mut s = format!(
        "JSON metadata, fields: {}",
        fields
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(k) = kdk {
        s.push_str(&format!(
            "; kdk: {} bytes, {}",
            k.len(),
            fingerprint(k.expose())
        ));
    }
    s
}

/// A JSON object held in a secretBag: metadata (R2 d, R3-R6). The KDK field is taken out,
/// decoded and the text zeroized.
fn metadata(octets: &[u8]) -> Option<FoundItem> {
    use base64::Engine;
    let text = std::str::from_utf8(octets)
        .ok()?
        .trim_start_matches('\u{feff}');
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let Value::Object(mut doc) = value else {
        return None;
    };
    let mut kdk = None;
    let mut bad_kdk = None;
    for field in ["kdk", "key_derivation_key", "keyDerivationKey"] {
        if let Some(v) = doc.remove(field) {
            match v {
                Value::String(mut s) => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(s.trim())
                        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s.trim()))
                        .or_else(|_| {
                            base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim())
                        });
                    zeroize::Zeroize::zeroize(&mut s);
                    match decoded {
                        Ok(mut b) if is_kdk_len(b.len()) && kdk.is_none() => {
                            kdk = Some(SecretBytes::new(std::mem::take(&mut b)));
                        }
                        Ok(mut b) => {
                            bad_kdk = Some(format!(
                                "field {field} decodes to {} bytes, not 16, 32 or 64",
                                b.len()
                            ));
                            zeroize::Zeroize::zeroize(&mut b);
                        }
                        Err(_) => bad_kdk = Some(format!("field {field} is not base64")),
                    }
                }
                _ => bad_kdk = Some(format!("field {field} is not a string")),
            }
        }
    }
    Some(FoundItem::Metadata { doc, kdk, bad_kdk })
}

/// True for 36-character hyphenated UUID text (any version, either case).
pub fn is_uuid_text(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn get_path<'a>(doc: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = doc.get(*first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        get_path(v.as_object()?, rest)
    }
}

/// First string among `paths`, with the path that held it.
fn meta_str(doc: &Map<String, Value>, paths: &[&[&str]]) -> Option<(String, String)> {
    paths.iter().find_map(|p| {
        get_path(doc, p)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(|s| (s.trim().to_string(), format!("metadata.{}", p.join("."))))
    })
}

/// Apply R2-R7 to the walker's findings.
pub fn recognise(found: &[Found]) -> Recognition {
    let mut rec = Recognition::default();
    let metas: Vec<&Found> = found
        .iter()
        .filter(|f| matches!(f.item, FoundItem::Metadata { .. }))
        .collect();
    let kdk_bags: Vec<&Found> = found
        .iter()
        .filter(|f| matches!(f.item, FoundItem::Kdk { .. }))
        .collect();
    let meta_without_kdk: Vec<&Found> = metas
        .iter()
        .copied()
        .filter(|f| matches!(&f.item, FoundItem::Metadata { kdk: None, .. }))
        .collect();
    let mut used_meta = vec![false; found.len()];

    // KDKs held by their own bag (R2 a-c), paired with metadata by localKeyId (R7), or
    // when the file holds exactly one of each.
    for k in &kdk_bags {
        let FoundItem::Kdk { key, style } = &k.item else {
            continue;
        };
        let by_lki = meta_without_kdk
            .iter()
            .find(|m| m.local_key_id.is_some() && m.local_key_id == k.local_key_id);
        let meta = by_lki.copied().or_else(|| {
            (kdk_bags.len() == 1 && meta_without_kdk.len() == 1).then(|| meta_without_kdk[0])
        });
        if let Some(m) = meta {
            if let Some(i) = found.iter().position(|f| std::ptr::eq(f, m)) {
                used_meta[i] = true;
            }
        }
        let doc = meta.and_then(|m| match &m.item {
            FoundItem::Metadata { doc, .. } => Some(doc),
            _ => None,
        });
        let mut layers = k.layers.clone();
        if let Some(m) = meta {
            layers.extend(m.layers.iter().copied());
        }
        rec.providers.push(build(
            key.expose(),
            &format!("{style}, bag {}", k.path),
            k,
            doc,
            layers,
        ));
    }
    // KDKs inside a metadata document (R2 d).
    for (i, m) in found.iter().enumerate() {
        if let FoundItem::Metadata {
            doc,
            kdk: Some(key),
            ..
        } = &m.item
        {
            used_meta[i] = true;
            rec.providers.push(build(
                key.expose(),
                &format!("R2d JSON metadata field, bag {}", m.path),
                m,
                Some(doc),
                m.layers.clone(),
            ));
        }
    }
    for (i, m) in found.iter().enumerate() {
        if let FoundItem::Metadata { doc, bad_kdk, .. } = &m.item {
            if let Some(b) = bad_kdk {
                rec.notes.push(format!("metadata in bag {}: {b}", m.path));
            }
            if !used_meta[i] {
                let name = meta_str(doc, NAME_PATHS).map(|x| x.0);
                rec.notes.push(format!(
                    "metadata in bag {} (provider {}) could not be paired with a key: no KDK bag shares its localKeyId",
                    m.path,
                    name.as_deref().unwrap_or("unnamed")
                ));
            }
        }
    }
    // The same KDK recorded twice (e.g. a raw bag and the metadata copy) is one provider.
    let mut seen = std::collections::HashSet::new();
    rec.providers
        .retain(|p| seen.insert((p.kdk_fingerprint.clone(), p.name.clone(), p.key_id.clone())));
    rec
}

const NAME_PATHS: &[&[&str]] = &[
    &["provider"],
    &["name"],
    &["provider_id"],
    &["providerId"],
    &["provider", "id"],
];

fn build(
    key: &[u8],
    storage: &str,
    bag: &Found,
    doc: Option<&Map<String, Value>>,
    layers: Vec<usize>,
) -> ProviderRecord {
    let mut notes = Vec::new();
    let mut sources = FieldSources::default();
    let empty = Map::new();
    let doc = doc.unwrap_or(&empty);

    // R3: name.
    let name = match meta_str(doc, NAME_PATHS) {
        Some((n, src)) => {
            sources.name = Some(src);
            Some(n)
        }
        None => bag
            .friendly_name
            .clone()
            .filter(|s| !s.is_empty())
            .inspect(|_| sources.name = Some("friendlyName".into())),
    };
    if name.is_none() {
        notes.push("no provider name: no metadata name field and no friendlyName".into());
    }

    // R4: key_id.
    let key_id = match meta_str(
        doc,
        &[
            &["key_id"],
            &["keyId"],
            &["native_info", "key_id"],
            &["nativeInfo", "keyId"],
        ],
    ) {
        Some((k, src)) => {
            sources.key_id = Some(src);
            if is_uuid_text(&k) {
                Some(k.to_ascii_lowercase())
            } else {
                notes.push(format!(
                    "metadata key_id {k:?} is not a UUID; shown as given"
                ));
                Some(k)
            }
        }
        None => match bag.local_key_id.as_deref() {
            Some(l) if std::str::from_utf8(l).is_ok_and(is_uuid_text) => {
                sources.key_id = Some("localKeyId (UUID text)".into());
                std::str::from_utf8(l).ok().map(str::to_ascii_lowercase)
            }
            Some(l) if l.len() == 16 => {
                sources.key_id = Some("localKeyId (16 raw bytes)".into());
                Some(uuid_text(l))
            }
            _ => None,
        },
    };

    // R5: export_time.
    for field in ["export_time", "exportTime"] {
        if let Some(v) = doc.get(field).filter(|v| !v.is_string()) {
            notes.push(format!(
                "metadata.{field} is {v}, not RFC 3339 text; ignored"
            ));
        }
    }
    let export_time = match meta_str(doc, &[&["export_time"], &["exportTime"]]) {
        Some((t, src)) => {
            match time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339) {
                Ok(_) => {
                    sources.export_time = Some(src);
                    Some(t)
                }
                Err(_) => {
                    notes.push(format!(
                        "metadata export_time {t:?} is not RFC 3339; ignored"
                    ));
                    None
                }
            }
        }
        None => bag
            .local_key_id
            .as_deref()
            .and_then(|l| std::str::from_utf8(l).ok())
            .and_then(|s| s.strip_prefix("Time "))
            .and_then(|ms| ms.trim().parse::<i64>().ok())
            .and_then(|ms| {
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
            })
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .inspect(|_| sources.export_time = Some("localKeyId (Java \"Time <ms>\")".into())),
    };

    // R6: tpm_required.
    let tpm_required = [
        &["tpm_required"][..],
        &["tpmRequired"],
        &["constraints", "tpm_required"],
        &["constraints", "tpmRequired"],
    ]
    .iter()
    .find_map(|p| {
        let v = get_path(doc, p)?;
        let b = match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        if b.is_none() {
            notes.push(format!(
                "metadata.{} is {v}, not a boolean; ignored",
                p.join(".")
            ));
        }
        b.map(|b| (b, format!("metadata.{}", p.join("."))))
    })
    .map(|(b, src)| {
        sources.tpm_required = Some(src);
        b
    });

    ProviderRecord {
        name,
        key_id,
        export_time,
        tpm_required,
        kdk_bits: key.len() * 8,
        kdk_fingerprint: Some(fingerprint(key)),
        kdk_storage: storage.to_string(),
        sources,
        notes,
        layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_helpers() {
        assert!(is_uuid_text("4B7E9F10-2c3d-4a5b-9c8d-7e6f5a4b3c2d"));
        assert!(!is_uuid_text("4b7e9f10-2c3d-4a5b-9c8d-7e6f5a4b3c2"));
        assert_eq!(
            uuid_text(&[0x11; 16]),
            "11111111-1111-1111-1111-111111111111"
        );
    }
}
