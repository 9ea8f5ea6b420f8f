//! The PKCS#12 walker: structure, MAC, safes and bags of a PFX, decrypted with the passwords
//! given.
//!
//! Opening a file is three steps, and the types make the order impossible to get wrong:
//!
//! 1. [`Pfx::parse`] reads everything visible without a password (the MAC parameters, the
//!    list of safes and their encryption schemes). No key derivation happens.
//! 2. [`Pfx::check`] compares every iteration count with the [`Limits`]. Only a
//!    [`Checked`] file can be opened; an [`OverLimit`] one can still be described.
//! 3. [`Checked::open`] verifies the MAC and decrypts, trying each password given, then the
//!    empty and the absent password (as OpenSSL does), in each encoding implementations have
//!    used.
//!
//! The result, [`Contents`], has two halves: a [`Structure`] that is safe to print (secret
//! values are replaced by their length and fingerprint), and the [`Found`] bag contents, whose
//! secret bytes stay in zeroizing types.

use std::borrow::Cow;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::der::{tag, Class, DerError, Reader, Tlv};
use crate::describe::{self, fingerprint, hex};
use crate::oid;
use crate::password::{Candidate, Password, SecretBytes};
use crate::pbe::{self, Budget, HashAlg, PbeError, Scheme, SchemeInfo};

/// Caps that keep hostile files cheap to refuse.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest iteration count of any one key derivation (the whole file may spend 64 times
    /// this, over all derivations and password trials).
    pub max_iterations: u64,
    /// Most bags (including nested ones) in one file.
    pub max_bags: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_iterations: 2_000_000,
            max_bags: 10_000,
        }
    }
}

/// Structural failure: the bytes are not a PFX that can be walked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The data ends early.
    #[error("truncated: {0}")]
    Truncated(String),
    /// Not PKCS#12 (or too malformed to say anything about).
    #[error("not PKCS#12: {0}")]
    NotPkcs12(String),
    /// A PFX in a mode this crate cannot read (public-key integrity or privacy).
    #[error("{0}")]
    Unsupported(String),
}

impl From<DerError> for ParseError {
    fn from(e: DerError) -> Self {
        match e {
            DerError::Truncated { .. } => Self::Truncated(e.to_string()),
            _ => Self::NotPkcs12(e.to_string()),
        }
    }
}

/// A problem met while opening a file that did parse as PKCS#12. The walk goes on after
/// one, so that everything readable is still reported.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// No password given, and the empty/absent ones do not work.
    #[error("password required: {0}")]
    PasswordRequired(String),
    /// None of the passwords given works.
    #[error("wrong password: {0}")]
    WrongPassword(String),
    /// An algorithm this crate does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Over a cap.
    #[error("{0}")]
    Limits(String),
    /// Inner structure malformed (after decryption).
    #[error("malformed: {0}")]
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
    pub opened_with: Option<Candidate>,
    /// That password's label.
    pub opened_with_label: Option<String>,
    /// True when that password was blank (the empty or absent one, or an empty line given).
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
    /// The label of the password that verified it.
    pub verified_with: Option<String>,
    /// Which password verified it.
    #[serde(skip)]
    pub verified_by: Option<Candidate>,
    /// True when it verified with a blank password.
    #[serde(skip)]
    pub verified_blank: bool,
}

/// Printable structure tree.
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

impl Structure {
    /// Visit every bag, nested ones included, to annotate it with what an application made of
    /// its contents (one pass over the tree, whatever the number of bags).
    pub fn for_each_bag_mut(&mut self, f: &mut dyn FnMut(&mut BagNode)) {
        fn walk(nodes: &mut [BagNode], f: &mut dyn FnMut(&mut BagNode)) {
            for n in nodes {
                f(n);
                walk(&mut n.children, f);
            }
        }
        for safe in &mut self.safes {
            walk(&mut safe.bags, f);
        }
    }
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
    /// The label of the password that opened it.
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
    pub children: Vec<Self>,
}

/// Where a symmetric key was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyContainer {
    /// A keyBag holding a PrivateKeyInfo.
    KeyBag,
    /// A pkcs8ShroudedKeyBag (an EncryptedPrivateKeyInfo).
    ShroudedKeyBag,
    /// A secretBag whose type is pkcs8ShroudedKeyBag: Java keytool's SecretKeyEntry.
    SecretBagShrouded,
    /// A secretBag whose type is keyBag, holding a PrivateKeyInfo.
    SecretBagKeyBag,
    /// A secretBag of another type whose value is a PrivateKeyInfo.
    SecretBagPrivateKeyInfo,
}

/// What a bag held.
#[derive(Debug)]
#[non_exhaustive]
pub enum BagContent {
    /// A symmetric (AES) key from a PrivateKeyInfo, unwrapped of one OCTET STRING layer when
    /// that gives a key length (see [`describe::unwrap_raw_key`]).
    SymmetricKey {
        /// The key.
        key: SecretBytes,
        /// How it was stored.
        container: KeyContainer,
    },
    /// The value of a secretBag that is not a PrivateKeyInfo: raw octets, or the bytes of a
    /// string type.
    Secret {
        /// The secretTypeId OID.
        type_oid: String,
        /// The value.
        value: SecretBytes,
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
    /// Bag path (as in [`BagNode::path`]).
    pub path: String,
    /// friendlyName.
    pub friendly_name: Option<String>,
    /// localKeyId raw bytes.
    pub local_key_id: Option<Vec<u8>>,
    /// Encryption layers (indexes into [`Contents::layers`]) that protect it.
    pub layers: Vec<usize>,
    /// What the bag holds, in words (secrets as length + fingerprint).
    pub description: String,
    /// The content.
    pub content: BagContent,
}

/// Everything the walker learnt.
#[derive(Debug, Default)]
pub struct Contents {
    /// The printable tree.
    pub structure: Structure,
    /// Every encryption layer seen.
    pub layers: Vec<Layer>,
    /// Bag contents.
    pub found: Vec<Found>,
    /// Problems, in the order met.
    pub problems: Vec<Problem>,
    /// True when any password given by the caller was tried (vs only empty/absent).
    pub user_passwords: bool,
}

type MacParts = (MacInfo, Vec<u8>, Vec<u8>);

/// A parsed PFX: its outer structure and every scheme, read with no key derivation.
pub struct Pfx<'a> {
    version: u64,
    mac: Option<MacParts>,
    auth_octets: Cow<'a, [u8]>,
    safes: Vec<PendingSafe>,
}

impl std::fmt::Debug for Pfx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pfx")
            .field("version", &self.version)
            .field("mac", &self.mac.as_ref().map(|m| &m.0))
            .field("safes", &self.safes.len())
            .finish_non_exhaustive()
    }
}

/// A PFX whose iteration counts are all within the limits: the only kind that can be opened.
#[derive(Debug)]
pub struct Checked<'a> {
    pfx: Pfx<'a>,
    limits: Limits,
}

/// A PFX with an iteration count over the limits. It can be described, never opened.
#[derive(Debug)]
pub struct OverLimit<'a> {
    pfx: Pfx<'a>,
    problems: Vec<Problem>,
    limits: Limits,
}

impl<'a> Pfx<'a> {
    /// Parse the outer structure: version, MAC parameters, the list of safes and their
    /// schemes. Structural failures are errors; nothing is derived or decrypted.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut top = Reader::new(bytes);
        let pfx = top.read()?;
        if !pfx.is(tag::SEQUENCE) || !pfx.constructed {
            return Err(ParseError::NotPkcs12(
                "does not start with a DER SEQUENCE".into(),
            ));
        }
        let mut r = pfx.reader()?;
        let version = r
            .require(tag::INTEGER, "PFX version")
            .map_err(|_| ParseError::NotPkcs12("no PFX version number".into()))?
            .uint()?;
        let auth = r
            .require(tag::SEQUENCE, "authSafe ContentInfo")
            .map_err(|_| ParseError::NotPkcs12("no authSafe ContentInfo".into()))?;
        let mut ar = auth.reader()?;
        let ctype = ar.require(tag::OID, "content type")?.oid()?;
        if ctype == oid::SIGNED_DATA {
            return Err(ParseError::Unsupported(
                "PKCS#12 in public-key integrity mode (signedData) is not supported".into(),
            ));
        }
        if ctype != oid::DATA {
            return Err(ParseError::NotPkcs12(format!(
                "authSafe content type is {}, not data",
                oid::name(&ctype)
            )));
        }
        let content = ar
            .optional_context(0)?
            .ok_or_else(|| ParseError::NotPkcs12("authSafe has no content".into()))?;
        let auth_octets = content.explicit_inner()?.octets()?;
        let mac = if r.is_empty() {
            None
        } else {
            Some(parse_mac(&r.read()?)?)
        };
        let mut safes = Vec::new();
        {
            let mut safes_r = Reader::new(&auth_octets);
            let list = safes_r.read()?;
            if !list.is(tag::SEQUENCE) {
                return Err(ParseError::NotPkcs12(
                    "AuthenticatedSafe is not a SEQUENCE".into(),
                ));
            }
            let mut lr = list.reader()?;
            while !lr.is_empty() {
                safes.push(parse_content_info(&lr.read()?)?);
            }
        }
        Ok(Self {
            version,
            mac,
            auth_octets,
            safes,
        })
    }

    /// The MAC parameters, if the file has a MAC (status `not-checked` until opened).
    pub fn mac(&self) -> Option<&MacInfo> {
        self.mac.as_ref().map(|m| &m.0)
    }

    /// The schemes of the encrypted safes, in order (shrouded bags are inside the safes and
    /// are checked against the limits when reached).
    pub fn safe_schemes(&self) -> impl Iterator<Item = &Scheme> {
        self.safes
            .iter()
            .filter_map(|s| s.encrypted.as_ref().map(|(scheme, _)| scheme))
    }

    /// Compare every iteration count visible before decryption with `limits`.
    // The error hands the parsed file back (to be described), so it is as large as the file's
    // summary: boxing it would only add an allocation on the refusal path.
    #[allow(clippy::result_large_err)]
    pub fn check(self, limits: &Limits) -> Result<Checked<'a>, OverLimit<'a>> {
        let budget = Budget::new(limits.max_iterations);
        let mut problems = Vec::new();
        if let Some((m, _, _)) = &self.mac {
            if let Err(PbeError::Limits(msg)) = budget.check(m.iterations, "the MAC") {
                problems.push(Problem::Limits(msg));
            }
        }
        for (i, s) in self.safes.iter().enumerate() {
            if let Some((scheme, _)) = &s.encrypted {
                if let Err(PbeError::Limits(msg)) =
                    budget.check(scheme.work(), &format!("safe {i}"))
                {
                    problems.push(Problem::Limits(msg));
                }
            }
        }
        if problems.is_empty() {
            Ok(Checked {
                pfx: self,
                limits: limits.clone(),
            })
        } else {
            Err(OverLimit {
                pfx: self,
                problems,
                limits: limits.clone(),
            })
        }
    }
}

impl Checked<'_> {
    /// Verify the MAC and decrypt with `passwords`, then the empty and the absent password.
    /// Every problem (wrong password, unsupported algorithm, a shrouded bag over the limits,
    /// damaged contents) is recorded in [`Contents::problems`] and the walk goes on.
    pub fn open<P: AsRef<Password>>(self, passwords: &[P]) -> Contents {
        let empty = Password::empty();
        let absent = Password::absent();
        let mut candidates: Vec<(Candidate, &Password)> = passwords
            .iter()
            .enumerate()
            .map(|(i, p)| (Candidate::Given(i), p.as_ref()))
            .collect();
        candidates.push((Candidate::Empty, &empty));
        candidates.push((Candidate::Absent, &absent));
        let mut w = Walker {
            candidates,
            preferred: None,
            budget: Budget::new(self.limits.max_iterations),
            limits: self.limits,
            bags_seen: 0,
            walk: Contents {
                user_passwords: !passwords.is_empty(),
                ..Contents::default()
            },
        };
        w.run(self.pfx, false);
        w.walk
    }
}

impl OverLimit<'_> {
    /// Which counts are over the limits.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Describe the file without deriving any key: the structure, with the encrypted safes
    /// marked `over-limit`, and the limit problems.
    pub fn into_contents(self) -> Contents {
        let mut w = Walker {
            candidates: Vec::new(),
            preferred: None,
            // The caller's limits: a shrouded bag over them is reported as such; one under
            // them is marked `not-opened` (no password is tried on a refused file).
            budget: Budget::new(self.limits.max_iterations),
            limits: self.limits,
            bags_seen: 0,
            walk: Contents {
                problems: self.problems,
                ..Contents::default()
            },
        };
        w.run(self.pfx, true);
        w.walk
    }
}

struct Walker<'p> {
    candidates: Vec<(Candidate, &'p Password)>,
    preferred: Option<usize>,
    budget: Budget,
    limits: Limits,
    bags_seen: usize,
    walk: Contents,
}

struct PendingSafe {
    content_type: String,
    /// A plain safe's contents: unencrypted bags may hold keys, so zeroized on drop.
    plain: Option<Zeroizing<Vec<u8>>>,
    encrypted: Option<(Scheme, Vec<u8>)>,
    problem: Option<String>,
}

impl Layer {
    fn locked(location: String, scheme: Scheme) -> Self {
        Self {
            location,
            scheme,
            opened_with: None,
            opened_with_label: None,
            opened_with_blank: false,
        }
    }
}

impl<'p> Walker<'p> {
    fn opened_layer(location: String, scheme: Scheme, who: Candidate, c: &Password) -> Layer {
        Layer {
            location,
            scheme,
            opened_with: Some(who),
            opened_with_label: Some(c.label().to_string()),
            opened_with_blank: c.is_blank(),
        }
    }

    fn run(&mut self, pfx: Pfx<'_>, over_limit: bool) {
        let Pfx {
            version,
            mac,
            auth_octets,
            safes,
        } = pfx;
        self.walk.structure.version = version;
        self.walk.structure.integrity = if mac.is_some() { "mac" } else { "none" }.into();
        if let Some((mut info, salt, digest)) = mac {
            if !over_limit {
                self.check_mac(&mut info, &salt, &digest, &auth_octets);
            }
            self.walk.structure.mac = Some(info);
        }
        for (index, s) in safes.into_iter().enumerate() {
            let node = self.open_safe(index, s, over_limit);
            self.walk.structure.safes.push(node);
        }
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
        for (i, &(who, c)) in self.candidates.iter().enumerate() {
            for &enc in c.encodings() {
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
                        info.verified_with = Some(c.label().to_string());
                        info.verified_by = Some(who);
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

    /// Try each candidate, the preferred first; returns plaintext and the candidate.
    fn try_decrypt(
        &mut self,
        scheme: &Scheme,
        data: &[u8],
        location: &str,
    ) -> Result<(Zeroizing<Vec<u8>>, Candidate, &'p Password), Problem> {
        let mut order: Vec<usize> = (0..self.candidates.len()).collect();
        if let Some(p) = self.preferred {
            order.retain(|i| *i != p);
            order.insert(0, p);
        }
        for i in order {
            let Some(&(who, c)) = self.candidates.get(i) else {
                continue;
            };
            for &enc in c.encodings() {
                match pbe::decrypt(scheme, c, enc, data, &mut self.budget) {
                    Ok(plain) if looks_like_der(&plain) => return Ok((plain, who, c)),
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

    fn open_safe(&mut self, index: usize, s: PendingSafe, over_limit: bool) -> SafeNode {
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
        let (plain, layers): (Zeroizing<Vec<u8>>, Vec<usize>) = if let Some(p) = s.plain {
            (p, Vec::new())
        } else if let Some((scheme, data)) = s.encrypted {
            node.encryption = Some(scheme.info());
            if over_limit {
                node.status = "over-limit".into();
                self.walk.layers.push(Layer::locked(location, scheme));
                return node;
            }
            match self.try_decrypt(&scheme, &data, &location) {
                Ok((plain, who, c)) => {
                    node.status = "decrypted".into();
                    node.opened_with = Some(c.label().to_string());
                    let layer = Self::opened_layer(location, scheme, who, c);
                    self.walk.layers.push(layer);
                    (plain, vec![self.walk.layers.len() - 1])
                }
                Err(p) => {
                    node.status = status_of(&p).into();
                    self.walk.layers.push(Layer::locked(location, scheme));
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
        let bag_oid = r.require(tag::OID, "bag type")?.oid()?;
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
            oid::KEY_BAG => Some(Self::key_info(value.raw, &mut node, KeyContainer::KeyBag)),
            oid::SHROUDED_KEY_BAG => {
                self.shrouded(&value, path, &mut node, KeyContainer::ShroudedKeyBag)
            }
            oid::CERT_BAG => Some(cert_bag(&value, &mut node)),
            oid::SECRET_BAG => self.secret_bag(&value, path, &mut node),
            oid::SAFE_CONTENTS_BAG => {
                match self.safe_contents(value.raw, path, layers, depth + 1) {
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
                Some((other(&node), None))
            }
        };
        if let Some((content, extra_layer)) = item {
            let mut l = layers.to_vec();
            l.extend(extra_layer);
            self.walk.found.push(Found {
                path: path.to_string(),
                friendly_name: node.friendly_name.clone(),
                local_key_id,
                layers: l,
                description: node.holds.clone(),
                content,
            });
        }
        Ok(node)
    }

    /// A PrivateKeyInfo: a symmetric key (kept, as a secret) or an asymmetric one (described).
    fn key_info(
        pki: &[u8],
        node: &mut BagNode,
        container: KeyContainer,
    ) -> (BagContent, Option<usize>) {
        match describe::private_key_info(pki) {
            Some(k) if k.symmetric_aes => {
                let raw = describe::unwrap_raw_key(k.key);
                node.holds = format!("{} ({} bytes, {})", k.label, raw.len(), fingerprint(raw));
                (
                    BagContent::SymmetricKey {
                        key: SecretBytes::new(raw.to_vec()),
                        container,
                    },
                    None,
                )
            }
            Some(k) => {
                node.holds = format!("{} ({})", k.label, oid::name(&k.algorithm));
                (BagContent::PrivateKey { label: k.label }, None)
            }
            None => {
                node.holds = format!("unreadable PrivateKeyInfo ({} bytes)", pki.len());
                node.status = "malformed".into();
                (other(node), None)
            }
        }
    }

    /// An EncryptedPrivateKeyInfo: decrypt and describe.
    fn shrouded(
        &mut self,
        value: &Tlv<'_>,
        path: &str,
        node: &mut BagNode,
        container: KeyContainer,
    ) -> Option<(BagContent, Option<usize>)> {
        let parsed = (|| -> Result<(Scheme, Cow<'_, [u8]>), DerError> {
            let mut r = value.reader()?;
            let alg = r.require(tag::SEQUENCE, "encryption algorithm")?;
            let scheme = Scheme::parse(&alg)?;
            let data = r.require(tag::OCTET_STRING, "encrypted key")?.octets()?;
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
            _ if self.candidates.is_empty() => {
                // Describing an over-limit file: no key is derived at all.
                node.status = "not-opened".into();
                node.holds = "encrypted private key (not opened)".into();
                self.walk.layers.push(Layer::locked(location, scheme));
                return None;
            }
            _ => self.try_decrypt(&scheme, &data, &location),
        };
        match result {
            Ok((plain, who, c)) => {
                node.status = "decrypted".into();
                let layer = Self::opened_layer(location, scheme, who, c);
                self.walk.layers.push(layer);
                let li = self.walk.layers.len() - 1;
                let (item, _) = Self::key_info(&plain, node, container);
                Some((item, Some(li)))
            }
            Err(p) => {
                node.status = status_of(&p).into();
                node.holds = "encrypted private key (not opened)".into();
                self.walk.layers.push(Layer::locked(location, scheme));
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
    ) -> Option<(BagContent, Option<usize>)> {
        let parsed = (|| -> Result<(String, Tlv<'_>), DerError> {
            let mut r = value.reader()?;
            let type_oid = r.require(tag::OID, "secretTypeId")?.oid()?;
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
        // The octets of the value: an OCTET STRING's content, or a string type's bytes. Both
        // may be key material: zeroized from here on.
        let octets: Option<Zeroizing<Vec<u8>>> = if v.is(tag::OCTET_STRING) {
            v.octets().ok().map(|c| Zeroizing::new(c.into_owned()))
        } else if v.class == Class::Universal {
            v.text().map(|t| Zeroizing::new(t.into_bytes()))
        } else {
            None
        };
        // Java keytool's SecretKeyEntry: an EncryptedPrivateKeyInfo, directly or DER-encoded
        // inside the OCTET STRING.
        if type_oid == oid::SHROUDED_KEY_BAG {
            let container = KeyContainer::SecretBagShrouded;
            if !v.is(tag::SEQUENCE) {
                if let Some(o) = &octets {
                    if let Ok(t) = Reader::new(o).read() {
                        return self.shrouded(&t, path, node, container);
                    }
                }
            }
            return self.shrouded(&v, path, node, container);
        }
        if type_oid == oid::KEY_BAG && v.is(tag::SEQUENCE) {
            return Some(Self::key_info(v.raw, node, KeyContainer::SecretBagKeyBag));
        }
        let Some(octets) = octets else {
            node.holds = format!("secret of type {}", describe::shape(&v));
            return Some((other(node), None));
        };
        let raw = describe::unwrap_raw_key(&octets);
        if describe::is_symmetric_key_len(raw.len()) {
            node.holds = format!(
                "raw {}-bit secret ({} bytes, {})",
                raw.len() * 8,
                raw.len(),
                fingerprint(raw)
            );
        } else if let Some(k) = describe::private_key_info(&octets) {
            // A PrivateKeyInfo in a secretBag.
            if k.symmetric_aes {
                return Some(Self::key_info(
                    &octets,
                    node,
                    KeyContainer::SecretBagPrivateKeyInfo,
                ));
            }
        }
        if node.holds.is_empty() {
            node.holds = format!(
                "opaque secret ({} bytes, {})",
                octets.len(),
                fingerprint(&octets)
            );
        }
        let value = SecretBytes::from(octets);
        Some((BagContent::Secret { type_oid, value }, None))
    }
}

/// The content of a bag described only in words.
fn other(node: &BagNode) -> BagContent {
    BagContent::Other {
        label: node.holds.clone(),
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

/// A decryption is accepted only when the plaintext is exactly one BER element: padding
/// alone passes by chance one time in 256.
fn looks_like_der(b: &[u8]) -> bool {
    let mut r = Reader::new(b);
    matches!(r.read(), Ok(t) if t.is(tag::SEQUENCE)) && r.is_empty()
}

fn parse_mac(t: &Tlv<'_>) -> Result<MacParts, ParseError> {
    let bad = |w: &str| ParseError::NotPkcs12(format!("MacData: {w}"));
    let mut r = t.reader().map_err(|_| bad("not a SEQUENCE"))?;
    let digest_info = r.require(tag::SEQUENCE, "DigestInfo")?;
    let mut dr = digest_info.reader()?;
    let alg = dr.require(tag::SEQUENCE, "digest algorithm")?;
    let o = alg.reader()?.require(tag::OID, "digest OID")?.oid()?;
    let digest = dr
        .require(tag::OCTET_STRING, "digest")?
        .octets()?
        .into_owned();
    let salt = r
        .require(tag::OCTET_STRING, "MAC salt")?
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
            verified_by: None,
            verified_blank: false,
        },
        salt,
        digest,
    ))
}

fn parse_content_info(ci: &Tlv<'_>) -> Result<PendingSafe, ParseError> {
    let mut r = ci.reader()?;
    let ctype = r.require(tag::OID, "safe content type")?.oid()?;
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
                content.ok_or_else(|| ParseError::NotPkcs12("data safe without content".into()))?;
            s.plain = Some(Zeroizing::new(c.explicit_inner()?.octets()?.into_owned()));
        }
        oid::ENCRYPTED_DATA => {
            let c = content.ok_or_else(|| {
                ParseError::NotPkcs12("encryptedData safe without content".into())
            })?;
            let ed = c.explicit_inner()?;
            let mut er = ed.reader()?;
            er.read()?.uint()?; // version
            let eci = er.require(tag::SEQUENCE, "EncryptedContentInfo")?;
            let mut eir = eci.reader()?;
            eir.require(tag::OID, "content type")?;
            let alg = eir.require(tag::SEQUENCE, "content encryption algorithm")?;
            let scheme = Scheme::parse(&alg)?;
            let data = match eir.optional_context(0)? {
                Some(t) => t.octets()?.into_owned(),
                None => Vec::new(),
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
        let o = ar.require(tag::OID, "attribute type")?.oid()?;
        let values = ar.require(tag::SET, "attribute values")?;
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
fn display_local_key_id(b: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        if !s.is_empty() && s.chars().all(|c| !c.is_control()) {
            return s.to_string();
        }
    }
    if b.len() == 16 {
        return format!("{} (16 bytes; as a UUID)", describe::uuid_text(b));
    }
    format!("0x{}", hex(b))
}

fn cert_bag(value: &Tlv<'_>, node: &mut BagNode) -> (BagContent, Option<usize>) {
    let parsed = (|| -> Result<(String, Vec<u8>), DerError> {
        let mut r = value.reader()?;
        let o = r.require(tag::OID, "certId")?.oid()?;
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
            (BagContent::Certificate { subject }, None)
        }
        Ok((o, der)) => {
            node.holds = format!(
                "certificate of type {} ({} bytes)",
                oid::name(&o),
                der.len()
            );
            (
                BagContent::Other {
                    label: node.holds.clone(),
                },
                None,
            )
        }
        Err(e) => {
            node.status = "malformed".into();
            node.holds = format!("unreadable certBag: {e}");
            (
                BagContent::Other {
                    label: node.holds.clone(),
                },
                None,
            )
        }
    }
}
