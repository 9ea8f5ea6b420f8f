//! NKP recognition: rules R1-R7 of `nkp-formats.md` applied to what the walker found.
//!
//! The real bag layout of a vCenter NKP backup is not public. These rules are deliberately
//! the only ones applied; each provider field records which rule produced it
//! ([`FieldSources`]), so that a file that does not match can be reported exactly.

use serde::Serialize;
use serde_json::{Map, Value};

use super::describe::fingerprint;
use super::pkcs12::{Found, FoundItem};

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

/// Format 16 bytes as a lowercase hyphenated UUID.
pub fn uuid_text(b: &[u8]) -> String {
    let h = super::describe::hex(b);
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
