//! The PKCS#12 walker: structure, MAC, safes and bags of a PFX, decrypted with the passwords
//! given.
//!
//! It works in two passes. The first reads everything visible without a password (the MAC
//! parameters, the list of safes and their encryption schemes) and checks every iteration
//! count against the cap *before any key derivation*. The second verifies the MAC and
//! decrypts, trying each password candidate (the user's, then the empty and the absent
//! password, as OpenSSL does) in each of the encodings implementations have used.
//!
//! The result has two halves: a [`Structure`] that is safe to print (secret values are
//! replaced by their length and fingerprint), and a list of [`Found`] items that carry the
//! secret bytes in zeroizing types for NKP recognition.

use serde::Serialize;

use super::der::{tag, Class, DerError, Reader, Tlv};
use super::describe::{self, fingerprint, hex};
use super::oid;
use super::pbe::{self, Budget, HashAlg, PbeError, Scheme, SchemeInfo};
use crate::secret::{Encoding, Password, PasswordOrigin, SecretBytes};

/// Caps that keep hostile files cheap to refuse.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest iteration count of any one key derivation.
    pub max_iterations: u64,
    /// Most bags (including nested ones) in one file.
    pub max_bags: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_iterations: 2_000_000,
            max_bags: 10_000,
        }
    }
}

/// Structural failure: the bytes are not a PFX we can walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalkError {
    /// The data ends early.
    Truncated(String),
    /// Not PKCS#12 (or too malformed to say anything about).
    NotPkcs12(String),
    /// A PFX in a mode we cannot read (public-key integrity or privacy).
    Unsupported(String),
}

impl From<DerError> for WalkError {
    fn from(e: DerError) -> Self {
        match e {
            DerError::Truncated { .. } => WalkError::Truncated(e.to_string()),
            _ => WalkError::NotPkcs12(e.to_string()),
        }
    }
}

/// A problem met while opening a file that did parse as PKCS#12.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// No password given, and the empty/absent ones do not work.
    PasswordRequired(String),
    /// None of the passwords given works.
    WrongPassword(String),
    /// An algorithm we do not implement.
    Unsupported(String),
    /// Over a cap.
    Limits(String),
    /// Inner structure malformed (after decryption).
    Malformed(String),
}

/// One encryption layer (an encrypted safe or a shrouded bag).
#[derive(Clone, Debug)]
pub struct Layer {
    /// Where it is (`safe 1`, `bag 1.0`).
    pub location: String,
    /// Its scheme.
    pub scheme: Scheme,
    /// The password that opened it, if any did.
    pub opened_with: Option<PasswordOrigin>,
    /// True when that password was the empty or absent one.
    pub opened_with_blank: bool,
}

/// The MAC of the file.
#[derive(Clone, Debug, Serialize)]
pub struct MacInfo {
    /// Hash name (`sha256`), or the OID when unknown.
    pub algorithm: String,
    /// The hash, when known.
    #[serde(skip)]
    pub hash: Option<HashAlg>,
    /// Iteration count.
    pub iterations: u64,
    /// Salt length.
    pub salt_len: usize,
    /// `verified`, `failed`, `unsupported`, `not-checked`.
    pub status: String,
    /// Which password verified it.
    pub verified_with: Option<String>,
    /// True when it verified with the empty or absent password.
    #[serde(skip)]
    pub verified_blank: bool,
}

/// Printable structure tree (`inspect --explain`).
#[derive(Clone, Debug, Serialize, Default)]
pub struct Structure {
    /// PFX version (3).
    pub version: u64,
    /// `mac`, `none` or `public-key`.
    pub integrity: String,
    /// The MAC, if any.
    pub mac: Option<MacInfo>,
    /// The safes of the AuthenticatedSafe.
    pub safes: Vec<SafeNode>,
}

/// One safe.
#[derive(Clone, Debug, Serialize)]
pub struct SafeNode {
    /// Position in the AuthenticatedSafe.
    pub index: usize,
    /// `data`, `encryptedData`, `envelopedData`, ...
    pub content_type: String,
    /// Encryption, when encrypted.
    pub encryption: Option<SchemeInfo>,
    /// `plain`, `decrypted`, `locked`, `unsupported`, `over-limit`, `malformed`.
    pub status: String,
    /// Which password opened it.
    pub opened_with: Option<String>,
    /// Its bags.
    pub bags: Vec<BagNode>,
}

/// One bag.
#[derive(Clone, Debug, Serialize)]
pub struct BagNode {
    /// `safe.bag[.child]` path.
    pub path: String,
    /// `keyBag`, `secretBag`, ...
    pub bag_type: String,
    /// friendlyName attribute.
    pub friendly_name: Option<String>,
    /// localKeyId attribute: UUID or text when printable, else hex.
    pub local_key_id: Option<String>,
    /// Other attributes: `name-or-oid = value`.
    pub attributes: Vec<String>,
    /// Encryption of a shrouded bag.
    pub encryption: Option<SchemeInfo>,
    /// `plain`, `decrypted`, `locked`, ...
    pub status: String,
    /// What it holds, in words; secrets as length + fingerprint.
    pub holds: String,
    /// Nested bags (safeContentsBag).
    pub children: Vec<BagNode>,
}

/// What a bag held, for NKP recognition.
#[derive(Debug)]
pub enum FoundItem {
    /// A symmetric key candidate (R2 a-c).
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
        doc: serde_json::Map<String, serde_json::Value>,
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

/// A bag's content with the attributes that tie bags together.
#[derive(Debug)]
pub struct Found {
    /// Bag path.
    pub path: String,
    /// friendlyName.
    pub friendly_name: Option<String>,
    /// localKeyId raw bytes.
    pub local_key_id: Option<Vec<u8>>,
    /// Encryption layers (indexes into [`Walk::layers`]) that protect it.
    pub layers: Vec<usize>,
    /// The content.
    pub item: FoundItem,
}

/// Everything the walker learnt.
#[derive(Debug, Default)]
pub struct Walk {
    /// The printable tree.
    pub structure: Structure,
    /// Every encryption layer seen.
    pub layers: Vec<Layer>,
    /// Bag contents.
    pub found: Vec<Found>,
    /// Problems, in the order met.
    pub problems: Vec<Problem>,
    /// True when any password given by the user was tried (vs only empty/absent).
    pub user_passwords: bool,
}

struct Walker<'p> {
    candidates: Vec<&'p Password>,
    preferred: Option<usize>,
    budget: Budget,
    limits: Limits,
    bags_seen: usize,
    walk: Walk,
}

/// Walk a PFX. Structural failures of the outer layers are errors; everything after that
/// (passwords, algorithms, inner structure) is recorded in [`Walk::problems`] so that the
/// caller can still report what was seen.
pub fn walk(bytes: &[u8], passwords: &[Password], limits: &Limits) -> Result<Walk, WalkError> {
    let empty = Password::empty();
    let absent = Password::absent();
    let mut candidates: Vec<&Password> = passwords.iter().collect();
    candidates.push(&empty);
    candidates.push(&absent);
    let mut w = Walker {
        candidates,
        preferred: None,
        budget: Budget::new(limits.max_iterations),
        limits: limits.clone(),
        bags_seen: 0,
        walk: Walk {
            user_passwords: !passwords.is_empty(),
            ..Walk::default()
        },
    };
    w.run(bytes)?;
    Ok(w.walk)
}

struct PendingSafe<'a> {
    content_type: String,
    plain: Option<std::borrow::Cow<'a, [u8]>>,
    encrypted: Option<(Scheme, std::borrow::Cow<'a, [u8]>)>,
    problem: Option<String>,
}

impl<'p> Walker<'p> {
    fn run(&mut self, bytes: &[u8]) -> Result<(), WalkError> {
        let mut top = Reader::new(bytes);
        let pfx = top.read()?;
        if !pfx.is(tag::SEQUENCE) || !pfx.constructed {
            return Err(WalkError::NotPkcs12(
                "does not start with a DER SEQUENCE".into(),
            ));
        }
        let mut r = pfx.reader()?;
        let version = r
            .expect(tag::INTEGER, "PFX version")
            .map_err(|_| WalkError::NotPkcs12("no PFX version number".into()))?
            .uint()?;
        let auth = r
            .expect(tag::SEQUENCE, "authSafe ContentInfo")
            .map_err(|_| WalkError::NotPkcs12("no authSafe ContentInfo".into()))?;
        let mut ar = auth.reader()?;
        let ctype = ar.expect(tag::OID, "content type")?.oid()?;
        self.walk.structure.version = version;
        if ctype == oid::SIGNED_DATA {
            self.walk.structure.integrity = "public-key".into();
            return Err(WalkError::Unsupported(
                "PKCS#12 in public-key integrity mode (signedData) is not supported".into(),
            ));
        }
        if ctype != oid::DATA {
            return Err(WalkError::NotPkcs12(format!(
                "authSafe content type is {}, not data",
                oid::name(&ctype)
            )));
        }
        let content = ar
            .optional_context(0)?
            .ok_or_else(|| WalkError::NotPkcs12("authSafe has no content".into()))?;
        let auth_octets = content.explicit_inner()?.octets()?;
        let mac = if r.is_empty() {
            None
        } else {
            Some(parse_mac(&r.read()?)?)
        };
        self.walk.structure.integrity = if mac.is_some() { "mac" } else { "none" }.into();

        // First pass: list the safes, with no key derivation.
        let mut safes_r = Reader::new(&auth_octets);
        let list = safes_r.read()?;
        if !list.is(tag::SEQUENCE) {
            return Err(WalkError::NotPkcs12(
                "AuthenticatedSafe is not a SEQUENCE".into(),
            ));
        }
        let mut pending = Vec::new();
        let mut lr = list.reader()?;
        while !lr.is_empty() {
            pending.push(parse_content_info(&lr.read()?)?);
        }

        // Limits, before any work.
        if let Some((m, _, _, _)) = &mac {
            if let Err(PbeError::Limits(msg)) = self.budget.check(m.iterations, "the MAC") {
                self.walk.problems.push(Problem::Limits(msg));
            }
        }
        for (i, s) in pending.iter().enumerate() {
            if let Some((scheme, _)) = &s.encrypted {
                if let Err(PbeError::Limits(msg)) =
                    self.budget.check(scheme.work(), &format!("safe {i}"))
                {
                    self.walk.problems.push(Problem::Limits(msg));
                }
            }
        }
        let over_limit = self
            .walk
            .problems
            .iter()
            .any(|p| matches!(p, Problem::Limits(_)));

        // Second pass: MAC.
        if let Some((mut info, salt, digest, _)) = mac {
            if !over_limit {
                self.check_mac(&mut info, &salt, &digest, &auth_octets);
            }
            self.walk.structure.mac = Some(info);
        }
        // Safes.
        for (index, s) in pending.into_iter().enumerate() {
            let node = self.open_safe(index, s, over_limit);
            self.walk.structure.safes.push(node);
        }
        Ok(())
    }

    fn check_mac(&mut self, info: &mut MacInfo, salt: &[u8], digest: &[u8], data: &[u8]) {
        let Some(hash) = info.hash else {
            info.status = "unsupported".into();
            self.walk.problems.push(Problem::Unsupported(format!(
                "MAC algorithm {}",
                info.algorithm
            )));
            return;
        };
        for (i, c) in self.candidates.iter().enumerate() {
            for &enc in encodings(c) {
                let pass = c.pkcs12(enc);
                match pbe::verify_mac(
                    hash,
                    salt,
                    info.iterations,
                    digest,
                    data,
                    &pass,
                    &mut self.budget,
                ) {
                    Ok(true) => {
                        info.status = "verified".into();
                        info.verified_with = Some(c.origin.to_string());
                        info.verified_blank = c.is_blank();
                        self.preferred = Some(i);
                        return;
                    }
                    Ok(false) => {}
                    Err(PbeError::Unsupported(a)) => {
                        info.status = "unsupported".into();
                        self.walk
                            .problems
                            .push(Problem::Unsupported(format!("MAC algorithm {a}")));
                        return;
                    }
                    Err(PbeError::Limits(m)) => {
                        info.status = "not-checked".into();
                        self.walk.problems.push(Problem::Limits(m));
                        return;
                    }
                    Err(PbeError::Failed) => {}
                }
            }
        }
        info.status = "failed".into();
        let msg = "the MAC (integrity check) does not verify with any password tried".to_string();
        self.walk.problems.push(if self.walk.user_passwords {
            Problem::WrongPassword(msg)
        } else {
            Problem::PasswordRequired(msg)
        });
    }

    /// Try each candidate, the preferred first; returns plaintext and the candidate index.
    fn try_decrypt(
        &mut self,
        scheme: &Scheme,
        data: &[u8],
        location: &str,
    ) -> Result<(zeroize::Zeroizing<Vec<u8>>, usize), Problem> {
        let mut order: Vec<usize> = (0..self.candidates.len()).collect();
        if let Some(p) = self.preferred {
            order.retain(|i| *i != p);
            order.insert(0, p);
        }
        for i in order {
            let c = self.candidates[i];
            for &enc in encodings(c) {
                match pbe::decrypt(scheme, c, enc, data, &mut self.budget) {
                    Ok(plain) if looks_like_der(&plain) => return Ok((plain, i)),
                    Ok(_) | Err(PbeError::Failed) => {}
                    Err(PbeError::Unsupported(a)) => {
                        return Err(Problem::Unsupported(format!("{a} (in {location})")))
                    }
                    Err(PbeError::Limits(m)) => return Err(Problem::Limits(m)),
                }
                if matches!(scheme, Scheme::Pbes1 { .. } | Scheme::Pbes2 { .. }) {
                    break; // UTF-8 based: the encoding variants are identical
                }
            }
        }
        let msg = format!("{location} could not be decrypted with any password tried");
        Err(if self.walk.user_passwords {
            Problem::WrongPassword(msg)
        } else {
            Problem::PasswordRequired(msg)
        })
    }

    fn open_safe(&mut self, index: usize, s: PendingSafe<'_>, over_limit: bool) -> SafeNode {
        let mut node = SafeNode {
            index,
            content_type: s.content_type.clone(),
            encryption: None,
            status: "plain".into(),
            opened_with: None,
            bags: Vec::new(),
        };
        if let Some(p) = s.problem {
            node.status = "unsupported".into();
            self.walk.problems.push(Problem::Unsupported(p));
            return node;
        }
        let location = format!("safe {index}");
        let (plain, layers): (zeroize::Zeroizing<Vec<u8>>, Vec<usize>) = if let Some(p) = s.plain {
            (zeroize::Zeroizing::new(p.into_owned()), Vec::new())
        } else if let Some((scheme, data)) = s.encrypted {
            node.encryption = Some(scheme.info());
            if over_limit {
                node.status = "over-limit".into();
                self.walk.layers.push(Layer {
                    location,
                    scheme,
                    opened_with: None,
                    opened_with_blank: false,
                });
                return node;
            }
            match self.try_decrypt(&scheme, &data, &location) {
                Ok((plain, i)) => {
                    let c = self.candidates[i];
                    node.status = "decrypted".into();
                    node.opened_with = Some(c.origin.to_string());
                    self.walk.layers.push(Layer {
                        location: location.clone(),
                        scheme,
                        opened_with: Some(c.origin.clone()),
                        opened_with_blank: c.is_blank(),
                    });
                    (plain, vec![self.walk.layers.len() - 1])
                }
                Err(p) => {
                    node.status = status_of(&p).into();
                    self.walk.layers.push(Layer {
                        location,
                        scheme,
                        opened_with: None,
                        opened_with_blank: false,
                    });
                    self.walk.problems.push(p);
                    return node;
                }
            }
        } else {
            return node;
        };
        match self.safe_contents(&plain, &index.to_string(), &layers, 0) {
            Ok(bags) => node.bags = bags,
            Err(p) => {
                node.status = "malformed".into();
                self.walk.problems.push(p);
            }
        }
        node
    }

    fn safe_contents(
        &mut self,
        bytes: &[u8],
        prefix: &str,
        layers: &[usize],
        depth: u32,
    ) -> Result<Vec<BagNode>, Problem> {
        let malformed = |e: DerError| Problem::Malformed(format!("safe contents {prefix}: {e}"));
        if depth > 8 {
            return Err(Problem::Limits(format!(
                "safeContentsBag nesting deeper than 8 at {prefix}"
            )));
        }
        let seq = Reader::new(bytes).read().map_err(malformed)?;
        let mut r = seq.reader().map_err(malformed)?;
        let mut out = Vec::new();
        let mut i = 0;
        while !r.is_empty() {
            self.bags_seen += 1;
            if self.bags_seen > self.limits.max_bags {
                return Err(Problem::Limits(format!(
                    "more than {} bags in one file",
                    self.limits.max_bags
                )));
            }
            let bag = r.read().map_err(malformed)?;
            let path = format!("{prefix}.{i}");
            out.push(
                self.bag(&bag, &path, layers, depth)
                    .map_err(|e| Problem::Malformed(format!("bag {path}: {e}")))?,
            );
            i += 1;
        }
        Ok(out)
    }

    fn bag(
        &mut self,
        bag: &Tlv<'_>,
        path: &str,
        layers: &[usize],
        depth: u32,
    ) -> Result<BagNode, DerError> {
        let mut r = bag.reader()?;
        let bag_oid = r.expect(tag::OID, "bag type")?.oid()?;
        let value = r
            .optional_context(0)?
            .ok_or(DerError::Malformed {
                offset: bag.offset,
                what: "bag has no value".into(),
            })?
            .explicit_inner()?;
        let mut node = BagNode {
            path: path.to_string(),
            bag_type: oid::name(&bag_oid),
            friendly_name: None,
            local_key_id: None,
            attributes: Vec::new(),
            encryption: None,
            status: "plain".into(),
            holds: String::new(),
            children: Vec::new(),
        };
        let mut local_key_id = None;
        if !r.is_empty() {
            let attrs = r.read()?;
            if attrs.is(tag::SET) {
                parse_attributes(&attrs, &mut node, &mut local_key_id)?;
            }
        }
        let item = match bag_oid.as_str() {
            oid::KEY_BAG => Some(self.key_info(
                value.raw,
                &mut node,
                "R2c keyBag with an AES PrivateKeyInfo",
            )),
            oid::SHROUDED_KEY_BAG => self.shrouded(
                &value,
                path,
                &mut node,
                layers,
                "R2c pkcs8ShroudedKeyBag with an AES PrivateKeyInfo",
            ),
            oid::CERT_BAG => Some(cert_bag(&value, &mut node)),
            oid::SECRET_BAG => self.secret_bag(&value, path, &mut node, layers),
            oid::SAFE_CONTENTS_BAG => {
                let bytes = value.raw.to_vec();
                match self.safe_contents(&bytes, path, layers, depth + 1) {
                    Ok(children) => {
                        node.holds = format!("{} nested bags", children.len());
                        node.children = children;
                    }
                    Err(p) => {
                        node.status = "malformed".into();
                        self.walk.problems.push(p);
                    }
                }
                None
            }
            _ => {
                node.holds = format!("unrecognised bag type, {}", describe::shape(&value));
                Some((
                    FoundItem::Other {
                        label: node.holds.clone(),
                    },
                    None,
                ))
            }
        };
        if let Some((item, extra_layer)) = item {
            let mut l = layers.to_vec();
            l.extend(extra_layer);
            self.walk.found.push(Found {
                path: path.to_string(),
                friendly_name: node.friendly_name.clone(),
                local_key_id,
                layers: l,
                item,
            });
        }
        Ok(node)
    }

    fn key_info(
        &mut self,
        pki: &[u8],
        node: &mut BagNode,
        style: &'static str,
    ) -> (FoundItem, Option<usize>) {
        match describe::private_key_info(pki) {
            Some(k) if k.symmetric_aes => {
                let raw = describe::unwrap_raw_key(k.key);
                node.holds = format!("{} ({} bytes, {})", k.label, raw.len(), fingerprint(raw));
                if describe::is_kdk_len(raw.len()) {
                    (
                        FoundItem::Kdk {
                            key: SecretBytes::new(raw.to_vec()),
                            style,
                        },
                        None,
                    )
                } else {
                    (
                        FoundItem::Other {
                            label: node.holds.clone(),
                        },
                        None,
                    )
                }
            }
            Some(k) => {
                node.holds = format!("{} ({})", k.label, oid::name(&k.algorithm));
                (FoundItem::PrivateKey { label: k.label }, None)
            }
            None => {
                node.holds = format!("unreadable PrivateKeyInfo ({} bytes)", pki.len());
                node.status = "malformed".into();
                (
                    FoundItem::Other {
                        label: node.holds.clone(),
                    },
                    None,
                )
            }
        }
    }

    /// An EncryptedPrivateKeyInfo: decrypt and describe.
    fn shrouded(
        &mut self,
        value: &Tlv<'_>,
        path: &str,
        node: &mut BagNode,
        _layers: &[usize],
        style: &'static str,
    ) -> Option<(FoundItem, Option<usize>)> {
        let parsed = (|| -> Result<(Scheme, Vec<u8>), DerError> {
            let mut r = value.reader()?;
            let alg = r.expect(tag::SEQUENCE, "encryption algorithm")?;
            let scheme = Scheme::parse(&alg)?;
            let data = r
                .expect(tag::OCTET_STRING, "encrypted key")?
                .octets()?
                .into_owned();
            Ok((scheme, data))
        })();
        let (scheme, data) = match parsed {
            Ok(x) => x,
            Err(e) => {
                node.status = "malformed".into();
                node.holds = format!("unreadable EncryptedPrivateKeyInfo: {e}");
                self.walk
                    .problems
                    .push(Problem::Malformed(format!("bag {path}: {e}")));
                return None;
            }
        };
        node.encryption = Some(scheme.info());
        let location = format!("bag {path}");
        let result = match self.budget.check(scheme.work(), &location) {
            Err(PbeError::Limits(m)) => Err(Problem::Limits(m)),
            _ => self.try_decrypt(&scheme, &data, &location),
        };
        match result {
            Ok((plain, i)) => {
                let c = self.candidates[i];
                node.status = "decrypted".into();
                self.walk.layers.push(Layer {
                    location,
                    scheme,
                    opened_with: Some(c.origin.clone()),
                    opened_with_blank: c.is_blank(),
                });
                let li = self.walk.layers.len() - 1;
                let (item, _) = self.key_info(&plain, node, style);
                Some((item, Some(li)))
            }
            Err(p) => {
                node.status = status_of(&p).into();
                node.holds = "encrypted private key (not opened)".into();
                self.walk.layers.push(Layer {
                    location,
                    scheme,
                    opened_with: None,
                    opened_with_blank: false,
                });
                self.walk.problems.push(p);
                None
            }
        }
    }

    fn secret_bag(
        &mut self,
        value: &Tlv<'_>,
        path: &str,
        node: &mut BagNode,
        layers: &[usize],
    ) -> Option<(FoundItem, Option<usize>)> {
        let parsed = (|| -> Result<(String, Tlv<'_>), DerError> {
            let mut r = value.reader()?;
            let type_oid = r.expect(tag::OID, "secretTypeId")?.oid()?;
            let v = r
                .optional_context(0)?
                .ok_or(DerError::Malformed {
                    offset: value.offset,
                    what: "secretBag has no secretValue".into(),
                })?
                .explicit_inner()?;
            Ok((type_oid, v))
        })();
        let (type_oid, v) = match parsed {
            Ok(x) => x,
            Err(e) => {
                node.status = "malformed".into();
                node.holds = format!("unreadable secretBag: {e}");
                self.walk
                    .problems
                    .push(Problem::Malformed(format!("bag {path}: {e}")));
                return None;
            }
        };
        node.bag_type = format!("secretBag({})", oid::name(&type_oid));
        // The octets of the value: an OCTET STRING's content, or a string type's bytes.
        let octets: Option<Vec<u8>> = if v.is(tag::OCTET_STRING) {
            v.octets().ok().map(|c| c.into_owned())
        } else if v.class == Class::Universal && v.text().is_some() {
            v.text().map(String::into_bytes)
        } else {
            None
        };
        // Java keytool SecretKeyEntry (R2 b): an EncryptedPrivateKeyInfo, directly or
        // DER-encoded inside the OCTET STRING.
        if type_oid == oid::SHROUDED_KEY_BAG {
            let inner_owned;
            let epki = if v.is(tag::SEQUENCE) {
                v
            } else if let Some(o) = &octets {
                inner_owned = o.clone();
                match Reader::new(&inner_owned).read() {
                    Ok(t) => {
                        return self.shrouded(
                            &t,
                            path,
                            node,
                            layers,
                            "R2b secretBag (Java keytool SecretKeyEntry)",
                        );
                    }
                    Err(_) => v,
                }
            } else {
                v
            };
            return self.shrouded(
                &epki,
                path,
                node,
                layers,
                "R2b secretBag (Java keytool SecretKeyEntry)",
            );
        }
        if type_oid == oid::KEY_BAG && v.is(tag::SEQUENCE) {
            return Some(self.key_info(v.raw, node, "R2c keyBag inside a secretBag"));
        }
        let Some(octets) = octets.map(zeroize::Zeroizing::new) else {
            node.holds = format!("secret of type {}", describe::shape(&v));
            return Some((
                FoundItem::Other {
                    label: node.holds.clone(),
                },
                None,
            ));
        };
        let raw = describe::unwrap_raw_key(&octets);
        if describe::is_kdk_len(raw.len()) {
            node.holds = format!(
                "raw {}-bit secret ({} bytes, {})",
                raw.len() * 8,
                raw.len(),
                fingerprint(raw)
            );
            return Some((
                FoundItem::Kdk {
                    key: SecretBytes::new(raw.to_vec()),
                    style: "R2a secretBag with a raw key",
                },
                None,
            ));
        }
        if let Some(meta) = metadata(&octets) {
            node.holds = match &meta {
                FoundItem::Metadata { doc, kdk, .. } => {
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
                _ => String::new(),
            };
            return Some((meta, None));
        }
        // A PrivateKeyInfo in a secretBag.
        if let Some(k) = describe::private_key_info(&octets) {
            if k.symmetric_aes {
                return Some(self.key_info(&octets, node, "R2c AES PrivateKeyInfo in a secretBag"));
            }
        }
        node.holds = format!(
            "opaque secret ({} bytes, {})",
            octets.len(),
            fingerprint(&octets)
        );
        Some((
            FoundItem::Other {
                label: node.holds.clone(),
            },
            None,
        ))
    }
}

fn status_of(p: &Problem) -> &'static str {
    match p {
        Problem::Unsupported(_) => "unsupported",
        Problem::Limits(_) => "over-limit",
        Problem::Malformed(_) => "malformed",
        _ => "locked",
    }
}

fn encodings(p: &Password) -> &'static [Encoding] {
    if p.is_non_ascii() {
        &[Encoding::Bmp, Encoding::BmpOfUtf8Bytes]
    } else {
        &[Encoding::Bmp]
    }
}

/// A decryption is accepted only when the plaintext is exactly one BER element: padding
/// alone passes by chance one time in 256.
fn looks_like_der(b: &[u8]) -> bool {
    let mut r = Reader::new(b);
    matches!(r.read(), Ok(t) if t.is(tag::SEQUENCE)) && r.is_empty()
}

type MacParts = (MacInfo, Vec<u8>, Vec<u8>, ());

fn parse_mac(t: &Tlv<'_>) -> Result<MacParts, WalkError> {
    let bad = |w: &str| WalkError::NotPkcs12(format!("MacData: {w}"));
    let mut r = t.reader().map_err(|_| bad("not a SEQUENCE"))?;
    let digest_info = r.expect(tag::SEQUENCE, "DigestInfo")?;
    let mut dr = digest_info.reader()?;
    let alg = dr.expect(tag::SEQUENCE, "digest algorithm")?;
    let o = alg.reader()?.expect(tag::OID, "digest OID")?.oid()?;
    let digest = dr
        .expect(tag::OCTET_STRING, "digest")?
        .octets()?
        .into_owned();
    let salt = r
        .expect(tag::OCTET_STRING, "MAC salt")?
        .octets()?
        .into_owned();
    let iterations = if r.is_empty() { 1 } else { r.read()?.uint()? };
    let hash = HashAlg::from_digest_oid(&o);
    Ok((
        MacInfo {
            algorithm: hash
                .map(|h| h.name().to_string())
                .unwrap_or_else(|| oid::name(&o)),
            hash,
            iterations,
            salt_len: salt.len(),
            status: "not-checked".into(),
            verified_with: None,
            verified_blank: false,
        },
        salt,
        digest,
        (),
    ))
}

fn parse_content_info<'a>(ci: &Tlv<'a>) -> Result<PendingSafe<'a>, WalkError> {
    let mut r = ci.reader()?;
    let ctype = r.expect(tag::OID, "safe content type")?.oid()?;
    let content = r.optional_context(0)?;
    let mut s = PendingSafe {
        content_type: oid::name(&ctype),
        plain: None,
        encrypted: None,
        problem: None,
    };
    match ctype.as_str() {
        oid::DATA => {
            let c =
                content.ok_or_else(|| WalkError::NotPkcs12("data safe without content".into()))?;
            s.plain = Some(c.explicit_inner()?.octets()?);
        }
        oid::ENCRYPTED_DATA => {
            let c = content
                .ok_or_else(|| WalkError::NotPkcs12("encryptedData safe without content".into()))?;
            let ed = c.explicit_inner()?;
            let mut er = ed.reader()?;
            er.read()?.uint()?; // version
            let eci = er.expect(tag::SEQUENCE, "EncryptedContentInfo")?;
            let mut eir = eci.reader()?;
            eir.expect(tag::OID, "content type")?;
            let alg = eir.expect(tag::SEQUENCE, "content encryption algorithm")?;
            let scheme = Scheme::parse(&alg)?;
            let data = match eir.optional_context(0)? {
                Some(t) => t.octets()?,
                None => std::borrow::Cow::Borrowed(&[][..]),
            };
            s.encrypted = Some((scheme, data));
        }
        oid::ENVELOPED_DATA => {
            s.problem = Some("envelopedData safe (public-key privacy mode)".into());
        }
        other => {
            s.problem = Some(format!("safe of content type {}", oid::name(other)));
        }
    }
    Ok(s)
}

fn parse_attributes(
    attrs: &Tlv<'_>,
    node: &mut BagNode,
    local_key_id: &mut Option<Vec<u8>>,
) -> Result<(), DerError> {
    let mut r = attrs.reader()?;
    while !r.is_empty() {
        let a = r.read()?;
        let mut ar = a.reader()?;
        let o = ar.expect(tag::OID, "attribute type")?.oid()?;
        let values = ar.expect(tag::SET, "attribute values")?;
        let mut vr = values.reader()?;
        let first = if vr.is_empty() {
            None
        } else {
            Some(vr.read()?)
        };
        match (o.as_str(), first) {
            (oid::FRIENDLY_NAME, Some(v)) => node.friendly_name = v.text(),
            (oid::LOCAL_KEY_ID, Some(v)) => {
                let bytes = v.octets()?.into_owned();
                node.local_key_id = Some(display_local_key_id(&bytes));
                *local_key_id = Some(bytes);
            }
            (_, Some(v)) => {
                let shown = v
                    .text()
                    .map(|t| format!("{t:?}"))
                    .or_else(|| v.oid().ok().map(|o| oid::name(&o)))
                    .unwrap_or_else(|| {
                        // Binary: could be key material in a vendor attribute. Length and
                        // fingerprint only, like every other secret-capable value.
                        format!(
                            "{} of {} bytes, {}",
                            v.describe(),
                            v.value.len(),
                            fingerprint(v.value)
                        )
                    });
                node.attributes.push(format!("{} = {shown}", oid::name(&o)));
            }
            (_, None) => node
                .attributes
                .push(format!("{} (no value)", oid::name(&o))),
        }
    }
    Ok(())
}

/// localKeyId as people would read it: UUID text, printable text, a 16-byte UUID, or hex.
pub fn display_local_key_id(b: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        if !s.is_empty() && s.chars().all(|c| !c.is_control()) {
            return s.to_string();
        }
    }
    if b.len() == 16 {
        return format!("{} (16 bytes; as a UUID)", super::nkp::uuid_text(b));
    }
    format!("0x{}", hex(b))
}

fn cert_bag(value: &Tlv<'_>, node: &mut BagNode) -> (FoundItem, Option<usize>) {
    let parsed = (|| -> Result<(String, Vec<u8>), DerError> {
        let mut r = value.reader()?;
        let o = r.expect(tag::OID, "certId")?.oid()?;
        let v = r
            .optional_context(0)?
            .ok_or(DerError::Malformed {
                offset: value.offset,
                what: "certBag has no value".into(),
            })?
            .explicit_inner()?;
        Ok((o, v.octets()?.into_owned()))
    })();
    match parsed {
        Ok((o, der)) if o == oid::X509_CERTIFICATE => {
            let subject = describe::cert_subject(&der).unwrap_or_else(|| "unparsable".into());
            node.holds = format!("X.509 certificate {subject} ({} bytes)", der.len());
            (FoundItem::Certificate { subject }, None)
        }
        Ok((o, der)) => {
            node.holds = format!(
                "certificate of type {} ({} bytes)",
                oid::name(&o),
                der.len()
            );
            (
                FoundItem::Other {
                    label: node.holds.clone(),
                },
                None,
            )
        }
        Err(e) => {
            node.status = "malformed".into();
            node.holds = format!("unreadable certBag: {e}");
            (
                FoundItem::Other {
                    label: node.holds.clone(),
                },
                None,
            )
        }
    }
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
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let serde_json::Value::Object(mut doc) = value else {
        return None;
    };
    let mut kdk = None;
    let mut bad_kdk = None;
    for field in ["kdk", "key_derivation_key", "keyDerivationKey"] {
        if let Some(v) = doc.remove(field) {
            match v {
                serde_json::Value::String(mut s) => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(s.trim())
                        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(s.trim()))
                        .or_else(|_| {
                            base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim())
                        });
                    zeroize::Zeroize::zeroize(&mut s);
                    match decoded {
                        Ok(mut b) if describe::is_kdk_len(b.len()) && kdk.is_none() => {
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
