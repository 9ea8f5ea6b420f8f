//! A small PKCS#12 writer for fixtures, tests and benchmarks.
//!
//! It writes the usual ways of storing a symmetric key (raw secretBag, Java SecretKeyEntry,
//! keyBag, shrouded keyBag) and JSON secrets, under each protection a reader must handle, with
//! deterministic salts and IVs derived from a seed, so regenerated fixtures are byte-identical.
//! It is not meant for producing real backups.

use crate::der::write as w;
use crate::oid;
use crate::password::{Encoding, Password};
use crate::pbe::{self, Cipher, HashAlg, Kdf, Scheme};
use secrecy::SecretString;
use sha2::Digest;

/// What a bag holds.
#[derive(Clone, Debug)]
pub enum Content {
    /// A secretBag whose value is an OCTET STRING with the raw key.
    SecretRaw(Vec<u8>),
    /// A secretBag, Java SecretKeyEntry style (shrouded AES PrivateKeyInfo). Needs a
    /// password protection.
    SecretShroudedAes(Vec<u8>),
    /// A keyBag with an AES PrivateKeyInfo.
    KeyBagAes(Vec<u8>),
    /// A pkcs8ShroudedKeyBag with an AES PrivateKeyInfo. Needs a password protection.
    ShroudedAes(Vec<u8>),
    /// A secretBag with a JSON document (OCTET STRING of UTF-8).
    SecretJson(String),
    /// A secretBag with an arbitrary secretTypeId and an OCTET STRING value.
    SecretOther(String, Vec<u8>),
}

/// One bag with its attributes.
#[derive(Clone, Debug)]
pub struct Bag {
    /// Content.
    pub content: Content,
    /// friendlyName.
    pub friendly_name: Option<String>,
    /// localKeyId.
    pub local_key_id: Option<Vec<u8>>,
}

/// Encryption scheme of the encrypted parts.
#[derive(Clone, Copy, Debug)]
pub enum Enc {
    /// PBES2 / PBKDF2 with `prf` and AES-`bits`-CBC.
    Pbes2 {
        /// PRF hash.
        prf: HashAlg,
        /// 128, 192, 256.
        aes_bits: u32,
        /// Iterations.
        iterations: u64,
    },
    /// pbeWithSHA1And3-KeyTripleDES-CBC.
    Sha1TripleDes {
        /// Iterations.
        iterations: u64,
    },
}

/// How the file is protected.
#[derive(Clone, Debug)]
pub enum Protect {
    /// Plain safes, no MAC.
    None,
    /// Plain safes, MAC made with the absent password (zero-length).
    AbsentPasswordMac {
        /// MAC hash.
        mac: HashAlg,
    },
    /// Encrypted and MACed under `password` (use "" for the empty password).
    Password {
        /// The password.
        password: String,
        /// Encryption.
        enc: Enc,
        /// MAC hash and iterations; None for no MAC.
        mac: Option<(HashAlg, u64)>,
    },
}

/// A PKCS#12 file to write.
#[derive(Clone, Debug)]
pub struct Builder {
    /// Bags, in order.
    pub bags: Vec<Bag>,
    /// Protection.
    pub protect: Protect,
    /// Seed for salts and IVs.
    pub seed: u64,
    /// Re-encode as BER with indefinite lengths.
    pub ber: bool,
    /// Write this iteration count in every algorithm identifier and the MAC while deriving
    /// with the real one (for limit tests: the file is not decryptable).
    pub claim_iterations: Option<u64>,
    /// Write this iteration count in the MAC only (the MAC then does not verify; the bags
    /// keep their real counts).
    pub claim_mac_iterations: Option<u64>,
}

struct Rng(u64, u64);
impl Rng {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            self.1 += 1;
            let mut input = self.0.to_be_bytes().to_vec();
            input.extend_from_slice(&self.1.to_be_bytes());
            out.extend_from_slice(&sha2::Sha256::digest(&input));
        }
        out.truncate(n);
        out
    }
}

fn hmac_oid(h: HashAlg) -> &'static str {
    match h {
        HashAlg::Sha1 => oid::HMAC_SHA1,
        HashAlg::Sha224 => oid::HMAC_SHA224,
        HashAlg::Sha256 => oid::HMAC_SHA256,
        HashAlg::Sha384 => oid::HMAC_SHA384,
        _ => oid::HMAC_SHA512,
    }
}

fn digest_oid(h: HashAlg) -> &'static str {
    match h {
        HashAlg::Sha1 => oid::SHA1,
        HashAlg::Sha224 => oid::SHA224,
        HashAlg::Sha256 => oid::SHA256,
        HashAlg::Sha384 => oid::SHA384,
        _ => oid::SHA512,
    }
}

fn aes_oid(bits: u32) -> &'static str {
    match bits {
        128 => oid::AES_128_CBC,
        192 => oid::AES_192_CBC,
        _ => oid::AES_256_CBC,
    }
}

fn password(p: &str) -> Password {
    Password::new("writer", SecretString::from(p.to_string()))
}

/// Encrypt `data`, returning the AlgorithmIdentifier and the ciphertext.
fn encrypt(
    enc: Enc,
    pw: &str,
    rng: &mut Rng,
    data: &[u8],
    claim: Option<u64>,
) -> (Vec<u8>, Vec<u8>) {
    let pw = password(pw);
    match enc {
        Enc::Pbes2 {
            prf,
            aes_bits,
            iterations,
        } => {
            let salt = rng.bytes(16);
            let iv = rng.bytes(16);
            let scheme = Scheme::Pbes2 {
                kdf: Kdf::Pbkdf2 {
                    salt: salt.clone(),
                    iterations,
                    key_len: None,
                    prf: Ok(prf),
                },
                cipher: Cipher::AesCbc { bits: aes_bits },
                iv: iv.clone(),
            };
            let alg = w::seq(&[
                w::oid(oid::PBES2),
                w::seq(&[
                    w::seq(&[
                        w::oid(oid::PBKDF2),
                        w::seq(&[
                            w::octets(&salt),
                            w::uint(claim.unwrap_or(iterations)),
                            w::seq(&[w::oid(hmac_oid(prf)), w::null()]),
                        ]),
                    ]),
                    w::seq(&[w::oid(aes_oid(aes_bits)), w::octets(&iv)]),
                ]),
            ]);
            let ct = pbe::encrypt(&scheme, &pw, data).unwrap_or_default();
            (alg, ct)
        }
        Enc::Sha1TripleDes { iterations } => {
            let salt = rng.bytes(8);
            let scheme = Scheme::Pkcs12 {
                name: "pbeWithSHA1And3-KeyTripleDES-CBC",
                cipher: Cipher::DesEde3Cbc,
                salt: salt.clone(),
                iterations,
            };
            let alg = w::seq(&[
                w::oid(oid::PBE_SHA1_3DES),
                w::seq(&[w::octets(&salt), w::uint(claim.unwrap_or(iterations))]),
            ]);
            let ct = pbe::encrypt(&scheme, &pw, data).unwrap_or_default();
            (alg, ct)
        }
    }
}

fn aes_pki(key: &[u8]) -> Vec<u8> {
    w::seq(&[w::uint(0), w::seq(&[w::oid(oid::AES_ARC)]), w::octets(key)])
}

impl Builder {
    /// A builder with no bags.
    pub fn new(protect: Protect) -> Self {
        Self {
            bags: Vec::new(),
            protect,
            seed: 1,
            ber: false,
            claim_iterations: None,
            claim_mac_iterations: None,
        }
    }

    /// Add a bag.
    pub fn bag(
        mut self,
        content: Content,
        friendly_name: Option<&str>,
        lki: Option<&[u8]>,
    ) -> Self {
        self.bags.push(Bag {
            content,
            friendly_name: friendly_name.map(String::from),
            local_key_id: lki.map(<[u8]>::to_vec),
        });
        self
    }

    /// Encode.
    pub fn build(&self) -> Vec<u8> {
        let mut rng = Rng(self.seed, 0);
        let (pw, enc) = match &self.protect {
            Protect::Password { password, enc, .. } => (Some(password.as_str()), Some(*enc)),
            _ => (None, None),
        };
        let mut plain_bags = Vec::new();
        let mut secret_bags = Vec::new();
        for b in &self.bags {
            let mut attrs = Vec::new();
            if let Some(n) = &b.friendly_name {
                attrs.push(w::seq(&[w::oid(oid::FRIENDLY_NAME), w::set(&[w::bmp(n)])]));
            }
            if let Some(l) = &b.local_key_id {
                attrs.push(w::seq(&[
                    w::oid(oid::LOCAL_KEY_ID),
                    w::set(&[w::octets(l)]),
                ]));
            }
            let shroud = |rng: &mut Rng, key: &[u8]| -> Vec<u8> {
                let (alg, ct) = encrypt(
                    enc.unwrap_or(Enc::Sha1TripleDes { iterations: 1 }),
                    pw.unwrap_or(""),
                    rng,
                    &aes_pki(key),
                    self.claim_iterations,
                );
                w::seq(&[alg, w::octets(&ct)])
            };
            let (bag_oid, value, goes_in_encrypted_safe) = match &b.content {
                Content::SecretRaw(k) => (
                    oid::SECRET_BAG,
                    w::seq(&[
                        w::oid("1.2.840.113549.1.9.22.99"),
                        w::explicit(0, &w::octets(k)),
                    ]),
                    true,
                ),
                Content::SecretOther(t, v) => (
                    oid::SECRET_BAG,
                    w::seq(&[w::oid(t), w::explicit(0, &w::octets(v))]),
                    true,
                ),
                Content::SecretJson(j) => (
                    oid::SECRET_BAG,
                    w::seq(&[
                        w::oid("1.2.840.113549.1.9.22.98"),
                        w::explicit(0, &w::octets(j.as_bytes())),
                    ]),
                    true,
                ),
                Content::SecretShroudedAes(k) => (
                    oid::SECRET_BAG,
                    w::seq(&[
                        w::oid(oid::SHROUDED_KEY_BAG),
                        w::explicit(0, &w::octets(&shroud(&mut rng, k))),
                    ]),
                    false,
                ),
                Content::KeyBagAes(k) => (oid::KEY_BAG, aes_pki(k), true),
                Content::ShroudedAes(k) => (oid::SHROUDED_KEY_BAG, shroud(&mut rng, k), false),
            };
            let mut parts = vec![w::oid(bag_oid), w::explicit(0, &value)];
            if !attrs.is_empty() {
                parts.push(w::set(&attrs));
            }
            let bag = w::seq(&parts);
            if goes_in_encrypted_safe {
                secret_bags.push(bag);
            } else {
                plain_bags.push(bag);
            }
        }
        let data_ci = |bags: &[Vec<u8>]| -> Vec<u8> {
            w::seq(&[w::oid(oid::DATA), w::explicit(0, &w::octets(&w::seq(bags)))])
        };
        let mut safes = Vec::new();
        if !plain_bags.is_empty() {
            safes.push(data_ci(&plain_bags));
        }
        if !secret_bags.is_empty() {
            match (enc, pw) {
                (Some(enc), Some(pw)) => {
                    let (alg, ct) = encrypt(
                        enc,
                        pw,
                        &mut rng,
                        &w::seq(&secret_bags),
                        self.claim_iterations,
                    );
                    let mut eci = w::seq(&[w::oid(oid::DATA), alg]);
                    // Append [0] IMPLICIT OCTET STRING inside the EncryptedContentInfo.
                    let body = {
                        let mut r = crate::der::Reader::new(&eci);
                        let t = r.read().map(|t| t.value.to_vec()).unwrap_or_default();
                        let mut b = t;
                        b.extend_from_slice(&w::tlv(0x80, &ct));
                        b
                    };
                    eci = w::tlv(0x30, &body);
                    safes.push(w::seq(&[
                        w::oid(oid::ENCRYPTED_DATA),
                        w::explicit(0, &w::seq(&[w::uint(0), eci])),
                    ]));
                }
                _ => safes.push(data_ci(&secret_bags)),
            }
        }
        let auth_safe = w::seq(&safes);
        let mut pfx = vec![
            w::uint(3),
            w::seq(&[w::oid(oid::DATA), w::explicit(0, &w::octets(&auth_safe))]),
        ];
        let mac = match &self.protect {
            Protect::None => None,
            Protect::AbsentPasswordMac { mac } => Some((*mac, 2048, Password::absent())),
            Protect::Password {
                password: p, mac, ..
            } => mac.map(|(h, it)| {
                (
                    h,
                    it,
                    if p.is_empty() {
                        Password::empty()
                    } else {
                        password(p)
                    },
                )
            }),
        };
        if let Some((h, it, pw)) = mac {
            let salt = rng.bytes(16);
            let digest = pbe::compute_mac(h, &salt, it, &auth_safe, &pw.pkcs12(Encoding::Bmp))
                .unwrap_or_default();
            pfx.push(w::seq(&[
                w::seq(&[
                    w::seq(&[w::oid(digest_oid(h)), w::null()]),
                    w::octets(&digest),
                ]),
                w::octets(&salt),
                w::uint(
                    self.claim_mac_iterations
                        .or(self.claim_iterations)
                        .unwrap_or(it),
                ),
            ]));
        }
        let der = w::seq(&pfx);
        if self.ber {
            w::to_ber_indefinite(&der, 64)
        } else {
            der
        }
    }
}

/// The standard strong protection: PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256, SHA-256 MAC.
pub fn strong(password: &str, iterations: u64) -> Protect {
    Protect::Password {
        password: password.into(),
        enc: Enc::Pbes2 {
            prf: HashAlg::Sha256,
            aes_bits: 256,
            iterations,
        },
        mac: Some((HashAlg::Sha256, iterations)),
    }
}

/// The legacy protection: pbeWithSHA1And3-KeyTripleDES-CBC, SHA-1 MAC.
pub fn legacy(password: &str, iterations: u64) -> Protect {
    Protect::Password {
        password: password.into(),
        enc: Enc::Sha1TripleDes { iterations },
        mac: Some((HashAlg::Sha1, iterations)),
    }
}
