//! Password-based encryption and MAC of PKCS#12: parameters, key derivation, decryption.
//!
//! Three families occur in the wild (RFC 7292 appendix B/C, RFC 8018):
//! - PKCS#12 PBE (`pbeWithSHAAnd3-KeyTripleDES-CBC`, RC2-40, ...): PKCS#12 KDF over the
//!   BMPString password;
//! - PKCS#5 v1.5 PBES1 (`pbeWithMD5AndDES-CBC`, ...): PBKDF1 over the password bytes;
//! - PBES2: PBKDF2 with an HMAC PRF (or scrypt) and a CBC cipher.
//!
//! Parameters are parsed without any key derivation, so that iteration counts are known (and
//! capped by the per-file work budget) before work starts. Algorithms we recognise but cannot compute are
//! named in [`PbeError::Unsupported`].

use std::fmt;

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, InnerIvInit, KeyInit, KeyIvInit};
use serde::Serialize;
use sha2::digest::core_api::BlockSizeUser;
use sha2::digest::{Digest, Mac, OutputSizeUser};
use zeroize::Zeroizing;

use crate::der::{tag, DerError, Tlv};
use crate::oid;
use crate::password::{Encoding, Password};

/// Hash functions used by PKCS#12 MACs, PBKDF1 and PBKDF2 PRFs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub enum HashAlg {
    Md2,
    Md4,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl HashAlg {
    /// Output size in bytes: one block of PBKDF2 or of the PKCS#12 KDF.
    pub fn output_len(self) -> usize {
        match self {
            Self::Md2 | Self::Md4 | Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha224 | Self::Sha512_224 | Self::Sha3_224 => 28,
            Self::Sha256 | Self::Sha512_256 | Self::Sha3_256 => 32,
            Self::Sha384 | Self::Sha3_384 => 48,
            Self::Sha512 | Self::Sha3_512 => 64,
        }
    }

    /// From a digest algorithm OID (MacData's DigestInfo).
    pub fn from_digest_oid(o: &str) -> Option<Self> {
        Some(match o {
            oid::MD2 => Self::Md2,
            oid::MD4 => Self::Md4,
            oid::MD5 => Self::Md5,
            oid::SHA1 => Self::Sha1,
            oid::SHA224 => Self::Sha224,
            oid::SHA256 => Self::Sha256,
            oid::SHA384 => Self::Sha384,
            oid::SHA512 => Self::Sha512,
            oid::SHA512_224 => Self::Sha512_224,
            oid::SHA512_256 => Self::Sha512_256,
            oid::SHA3_224 => Self::Sha3_224,
            oid::SHA3_256 => Self::Sha3_256,
            oid::SHA3_384 => Self::Sha3_384,
            oid::SHA3_512 => Self::Sha3_512,
            _ => return None,
        })
    }

    /// From an HMAC OID (PBKDF2's PRF).
    pub fn from_hmac_oid(o: &str) -> Option<Self> {
        Some(match o {
            oid::HMAC_MD5 => Self::Md5,
            oid::HMAC_SHA1 => Self::Sha1,
            oid::HMAC_SHA224 => Self::Sha224,
            oid::HMAC_SHA256 => Self::Sha256,
            oid::HMAC_SHA384 => Self::Sha384,
            oid::HMAC_SHA512 => Self::Sha512,
            oid::HMAC_SHA512_224 => Self::Sha512_224,
            oid::HMAC_SHA512_256 => Self::Sha512_256,
            oid::HMAC_SHA3_224 => Self::Sha3_224,
            oid::HMAC_SHA3_256 => Self::Sha3_256,
            oid::HMAC_SHA3_384 => Self::Sha3_384,
            oid::HMAC_SHA3_512 => Self::Sha3_512,
            _ => return None,
        })
    }

    /// Short lowercase name (`sha256`), as in the JSON contract.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md2 => "md2",
            Self::Md4 => "md4",
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha224 => "sha224",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Sha512_224 => "sha512-224",
            Self::Sha512_256 => "sha512-256",
            Self::Sha3_224 => "sha3-224",
            Self::Sha3_256 => "sha3-256",
            Self::Sha3_384 => "sha3-384",
            Self::Sha3_512 => "sha3-512",
        }
    }

    /// The PBKDF2 PRF name OpenSSL prints (`hmacWithSHA256`).
    pub fn hmac_name(self) -> String {
        match self {
            Self::Sha3_224 | Self::Sha3_256 | Self::Sha3_384 | Self::Sha3_512 => {
                format!("id-hmacWith{}", self.name().to_uppercase())
            }
            _ => format!("hmacWith{}", self.name().to_uppercase()),
        }
    }

    /// SHA-2 or SHA-3: acceptable for a "strong" verdict.
    pub fn is_modern(self) -> bool {
        !matches!(self, Self::Md2 | Self::Md4 | Self::Md5 | Self::Sha1)
    }
}

/// Runs `$body` with `$D` bound to the digest type of `$h`; unsupported hashes return
/// `Err(PbeError::Unsupported)` from the enclosing function.
macro_rules! with_digest {
    ($h:expr, $D:ident => $body:expr) => {
        match $h {
            HashAlg::Md5 => {
                type $D = md5::Md5;
                $body
            }
            HashAlg::Sha1 => {
                type $D = sha1::Sha1;
                $body
            }
            HashAlg::Sha224 => {
                type $D = sha2::Sha224;
                $body
            }
            HashAlg::Sha256 => {
                type $D = sha2::Sha256;
                $body
            }
            HashAlg::Sha384 => {
                type $D = sha2::Sha384;
                $body
            }
            HashAlg::Sha512 => {
                type $D = sha2::Sha512;
                $body
            }
            HashAlg::Sha512_224 => {
                type $D = sha2::Sha512_224;
                $body
            }
            HashAlg::Sha512_256 => {
                type $D = sha2::Sha512_256;
                $body
            }
            HashAlg::Sha3_224 => {
                type $D = sha3::Sha3_224;
                $body
            }
            HashAlg::Sha3_256 => {
                type $D = sha3::Sha3_256;
                $body
            }
            HashAlg::Sha3_384 => {
                type $D = sha3::Sha3_384;
                $body
            }
            HashAlg::Sha3_512 => {
                type $D = sha3::Sha3_512;
                $body
            }
            other @ (HashAlg::Md2 | HashAlg::Md4) => {
                return Err(PbeError::Unsupported(other.name().to_string()))
            }
        }
    };
}

/// Block ciphers (and their modes) named by encryption schemes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cipher {
    /// AES in CBC mode with a key of `bits`.
    AesCbc {
        /// 128, 192 or 256.
        bits: u32,
    },
    /// Two-key triple DES in CBC mode.
    DesEde2Cbc,
    /// Three-key triple DES in CBC mode.
    DesEde3Cbc,
    /// Single DES in CBC mode.
    DesCbc,
    /// RC2 in CBC mode with an effective key size.
    Rc2Cbc {
        /// Effective key bits.
        effective_bits: u32,
    },
    /// RC4 (PKCS#12 PBE only).
    Rc4 {
        /// Key bits.
        bits: u32,
    },
    /// Known by name, not implemented (ARIA, Camellia, ECB modes, ...).
    Other(String),
}

impl Cipher {
    /// OpenSSL-style upper-case name.
    pub fn name(&self) -> String {
        match self {
            Self::AesCbc { bits } => format!("AES-{bits}-CBC"),
            Self::DesEde2Cbc => "DES-EDE-CBC".into(),
            Self::DesEde3Cbc => "DES-EDE3-CBC".into(),
            Self::DesCbc => "DES-CBC".into(),
            Self::Rc2Cbc { effective_bits } => format!("RC2-CBC ({effective_bits}-bit)"),
            Self::Rc4 { bits } => format!("RC4 ({bits}-bit)"),
            Self::Other(n) => n.clone(),
        }
    }
    /// AES: acceptable for a "strong" verdict.
    pub fn is_aes(&self) -> bool {
        matches!(self, Self::AesCbc { .. })
    }
    fn key_len(&self) -> Option<usize> {
        Some(match self {
            Self::AesCbc { bits } => (*bits / 8) as usize,
            Self::DesEde2Cbc => 16,
            Self::DesEde3Cbc => 24,
            Self::DesCbc => 8,
            Self::Rc2Cbc { effective_bits } => (*effective_bits).div_ceil(8) as usize,
            Self::Rc4 { bits } => (*bits / 8) as usize,
            Self::Other(_) => return None,
        })
    }
}

/// Key derivation of a PBES2 scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kdf {
    /// PBKDF2 (RFC 8018).
    Pbkdf2 {
        /// Salt.
        salt: Vec<u8>,
        /// Iteration count.
        iterations: u64,
        /// Explicit key length, if given.
        key_len: Option<usize>,
        /// PRF; `Err(oid)` when unknown.
        prf: Result<HashAlg, String>,
    },
    /// scrypt (RFC 7914): recognised, not computed.
    Scrypt {
        /// Salt length.
        salt_len: usize,
        /// Cost parameter N.
        n: u64,
        /// Block size r.
        r: u64,
        /// Parallelism p.
        p: u64,
    },
    /// Anything else, by OID.
    Other(String),
}

/// A parsed encryption algorithm identifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// PKCS#12 appendix C PBE (SHA-1 based).
    Pkcs12 {
        /// OpenSSL's name, e.g. `pbeWithSHA1And3-KeyTripleDES-CBC`.
        name: &'static str,
        /// The cipher.
        cipher: Cipher,
        /// Salt.
        salt: Vec<u8>,
        /// Iterations.
        iterations: u64,
    },
    /// PKCS#5 v1.5 PBES1.
    Pbes1 {
        /// OpenSSL's name.
        name: &'static str,
        /// Hash of PBKDF1.
        hash: HashAlg,
        /// The cipher (DES or RC2-64).
        cipher: Cipher,
        /// Salt.
        salt: Vec<u8>,
        /// Iterations.
        iterations: u64,
    },
    /// PBES2.
    Pbes2 {
        /// Key derivation.
        kdf: Kdf,
        /// Cipher.
        cipher: Cipher,
        /// IV (CBC).
        iv: Vec<u8>,
    },
    /// Not a password-based scheme we know.
    Unknown {
        /// Its OID.
        oid: String,
    },
}

/// What the scheme looks like, for reports (no secrets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchemeInfo {
    /// Scheme name: `PBES2` or the PBES1/PKCS#12 PBE name.
    pub scheme: String,
    /// Iteration count (PBKDF2/PBKDF1/PKCS#12 KDF); null for scrypt.
    pub iterations: Option<u64>,
    /// KDF name (`PBKDF2`, `scrypt`, `PKCS12-KDF`, `PBKDF1`).
    pub kdf: String,
    /// PRF/hash of the KDF (`hmacWithSHA256`, `sha1`).
    pub prf: Option<String>,
    /// Cipher (`AES-256-CBC`).
    pub cipher: String,
    /// Salt length in bytes.
    pub salt_len: usize,
    /// The description OpenSSL 3 prints for this scheme (`openssl pkcs12 -info`).
    pub description: String,
}

impl Scheme {
    /// Parse an AlgorithmIdentifier of an encryption scheme.
    pub fn parse(alg: &Tlv<'_>) -> Result<Self, DerError> {
        let mut r = alg.reader()?;
        let o = r.require(tag::OID, "algorithm OID")?.oid()?;
        let params = if r.is_empty() { None } else { Some(r.read()?) };
        let pbe_params = |p: Option<Tlv<'_>>| -> Result<(Vec<u8>, u64), DerError> {
            let p = p.ok_or(DerError::Malformed {
                offset: alg.offset,
                what: "PBE parameters missing".into(),
            })?;
            let mut r = p.reader()?;
            let salt = r.require(tag::OCTET_STRING, "salt")?.octets()?.into_owned();
            let iterations = if r.is_empty() { 1 } else { r.read()?.uint()? };
            Ok((salt, iterations))
        };
        let p12 = |name, cipher| -> Result<Self, DerError> {
            let (salt, iterations) = pbe_params(params)?;
            Ok(Self::Pkcs12 {
                name,
                cipher,
                salt,
                iterations,
            })
        };
        let p1 = |name, hash, cipher| -> Result<Self, DerError> {
            let (salt, iterations) = pbe_params(params)?;
            Ok(Self::Pbes1 {
                name,
                hash,
                cipher,
                salt,
                iterations,
            })
        };
        let rc2_64 = Cipher::Rc2Cbc { effective_bits: 64 };
        match o.as_str() {
            oid::PBE_SHA1_RC4_128 => p12("pbeWithSHA1And128BitRC4", Cipher::Rc4 { bits: 128 }),
            oid::PBE_SHA1_RC4_40 => p12("pbeWithSHA1And40BitRC4", Cipher::Rc4 { bits: 40 }),
            oid::PBE_SHA1_3DES => p12("pbeWithSHA1And3-KeyTripleDES-CBC", Cipher::DesEde3Cbc),
            oid::PBE_SHA1_2DES => p12("pbeWithSHA1And2-KeyTripleDES-CBC", Cipher::DesEde2Cbc),
            oid::PBE_SHA1_RC2_128 => p12(
                "pbeWithSHA1And128BitRC2-CBC",
                Cipher::Rc2Cbc {
                    effective_bits: 128,
                },
            ),
            oid::PBE_SHA1_RC2_40 => p12(
                "pbeWithSHA1And40BitRC2-CBC",
                Cipher::Rc2Cbc { effective_bits: 40 },
            ),
            oid::PBE_MD2_DES => p1("pbeWithMD2AndDES-CBC", HashAlg::Md2, Cipher::DesCbc),
            oid::PBE_MD2_RC2 => p1("pbeWithMD2AndRC2-CBC", HashAlg::Md2, rc2_64),
            oid::PBE_MD5_DES => p1("pbeWithMD5AndDES-CBC", HashAlg::Md5, Cipher::DesCbc),
            oid::PBE_MD5_RC2 => p1("pbeWithMD5AndRC2-CBC", HashAlg::Md5, rc2_64),
            oid::PBE_SHA1_DES => p1("pbeWithSHA1AndDES-CBC", HashAlg::Sha1, Cipher::DesCbc),
            oid::PBE_SHA1_RC2 => p1("pbeWithSHA1AndRC2-CBC", HashAlg::Sha1, rc2_64),
            oid::PBES2 => {
                let p = params.ok_or(DerError::Malformed {
                    offset: alg.offset,
                    what: "PBES2 parameters missing".into(),
                })?;
                let mut r = p.reader()?;
                let kdf_alg = r.require(tag::SEQUENCE, "PBES2 key derivation function")?;
                let enc_alg = r.require(tag::SEQUENCE, "PBES2 encryption scheme")?;
                let (cipher, iv, rc2_key_len) = parse_cipher(&enc_alg)?;
                let mut kdf = parse_kdf(&kdf_alg)?;
                if let (Kdf::Pbkdf2 { key_len, .. }, Some(k)) = (&mut kdf, rc2_key_len) {
                    key_len.get_or_insert(k);
                }
                Ok(Self::Pbes2 { kdf, cipher, iv })
            }
            _ => Ok(Self::Unknown { oid: o }),
        }
    }

    /// Iteration count that key derivation will cost (scrypt counts as its N).
    pub fn work(&self) -> u64 {
        match self {
            Self::Pkcs12 { iterations, .. } | Self::Pbes1 { iterations, .. } => *iterations,
            Self::Pbes2 {
                kdf: Kdf::Pbkdf2 { iterations, .. },
                ..
            } => *iterations,
            Self::Pbes2 {
                kdf: Kdf::Scrypt { n, .. },
                ..
            } => *n,
            _ => 0,
        }
    }

    /// How many hash-output blocks one derivation produces (each costs [`Scheme::work`]
    /// iterations): the PKCS#12 KDF derives the key and then the IV with SHA-1, PBKDF2 as
    /// many PRF outputs as the key needs, PBKDF1 one.
    pub fn blocks(&self) -> u64 {
        let per = |len: usize, out: usize| len.div_ceil(out.max(1)).max(1) as u64;
        match self {
            Self::Pkcs12 { cipher, .. } => per(cipher.key_len().unwrap_or(0), 20) + 1,
            Self::Pbes2 {
                kdf: Kdf::Pbkdf2 { key_len, prf, .. },
                cipher,
                ..
            } => {
                let out = prf.as_ref().map_or(20, |h| h.output_len());
                per(key_len.or(cipher.key_len()).unwrap_or(0), out)
            }
            _ => 1,
        }
    }

    /// The iteration count as users know it (None for scrypt / unknown).
    pub fn iterations(&self) -> Option<u64> {
        match self {
            Self::Pkcs12 { iterations, .. } | Self::Pbes1 { iterations, .. } => Some(*iterations),
            Self::Pbes2 {
                kdf: Kdf::Pbkdf2 { iterations, .. },
                ..
            } => Some(*iterations),
            _ => None,
        }
    }

    /// True for PBES2/PBKDF2 with an HMAC-SHA-2 (or SHA-3) PRF and AES.
    pub fn is_modern(&self) -> bool {
        match self {
            Self::Pbes2 {
                kdf: Kdf::Pbkdf2 { prf: Ok(h), .. },
                cipher,
                ..
            } => h.is_modern() && cipher.is_aes(),
            Self::Pbes2 {
                kdf: Kdf::Scrypt { .. },
                cipher,
                ..
            } => cipher.is_aes(),
            _ => false,
        }
    }

    /// Report form.
    pub fn info(&self) -> SchemeInfo {
        match self {
            Self::Pkcs12 {
                name,
                cipher,
                salt,
                iterations,
            } => SchemeInfo {
                scheme: (*name).into(),
                iterations: Some(*iterations),
                kdf: "PKCS12-KDF".into(),
                prf: Some("sha1".into()),
                cipher: cipher.name(),
                salt_len: salt.len(),
                description: format!("{name}, Iteration {iterations}"),
            },
            Self::Pbes1 {
                name,
                hash,
                cipher,
                salt,
                iterations,
            } => SchemeInfo {
                scheme: (*name).into(),
                iterations: Some(*iterations),
                kdf: "PBKDF1".into(),
                prf: Some(hash.name().into()),
                cipher: cipher.name(),
                salt_len: salt.len(),
                description: format!("{name}, Iteration {iterations}"),
            },
            Self::Pbes2 { kdf, cipher, .. } => {
                let cname = match cipher {
                    Cipher::Rc2Cbc { .. } => "RC2-CBC".to_string(),
                    c => c.name(),
                };
                match kdf {
                    Kdf::Pbkdf2 {
                        salt,
                        iterations,
                        prf,
                        ..
                    } => {
                        let prf_name = match prf {
                            Ok(h) => h.hmac_name(),
                            Err(o) => o.clone(),
                        };
                        SchemeInfo {
                            scheme: "PBES2".into(),
                            iterations: Some(*iterations),
                            kdf: "PBKDF2".into(),
                            prf: Some(prf_name.clone()),
                            cipher: cipher.name(),
                            salt_len: salt.len(),
                            description: format!(
                                "PBES2, PBKDF2, {cname}, Iteration {iterations}, PRF {prf_name}"
                            ),
                        }
                    }
                    Kdf::Scrypt { salt_len, n, r, p } => SchemeInfo {
                        scheme: "PBES2".into(),
                        iterations: None,
                        kdf: "scrypt".into(),
                        prf: None,
                        cipher: cipher.name(),
                        salt_len: *salt_len,
                        description: format!(
                            "PBES2, scrypt, {cname}, Salt length: {salt_len}, Cost(N): {n}, Block size(r): {r}, Parallelism(p): {p}"
                        ),
                    },
                    Kdf::Other(o) => SchemeInfo {
                        scheme: "PBES2".into(),
                        iterations: None,
                        kdf: oid::name(o),
                        prf: None,
                        cipher: cipher.name(),
                        salt_len: 0,
                        description: format!("PBES2, {}, {cname}", oid::name(o)),
                    },
                }
            }
            Self::Unknown { oid: o } => SchemeInfo {
                scheme: oid::name(o),
                iterations: None,
                kdf: "unknown".into(),
                prf: None,
                cipher: "unknown".into(),
                salt_len: 0,
                description: format!("unknown algorithm {o}"),
            },
        }
    }
}

fn parse_kdf(alg: &Tlv<'_>) -> Result<Kdf, DerError> {
    let mut r = alg.reader()?;
    let o = r.require(tag::OID, "KDF OID")?.oid()?;
    match o.as_str() {
        oid::PBKDF2 => {
            let p = r.require(tag::SEQUENCE, "PBKDF2 parameters")?;
            let mut r = p.reader()?;
            let salt_t = r.read()?;
            let salt = if salt_t.is(tag::OCTET_STRING) {
                salt_t.octets()?.into_owned()
            } else {
                return Ok(Kdf::Other("PBKDF2 with otherSource salt".into()));
            };
            let iterations = r.read()?.uint()?;
            let mut key_len = None;
            let mut prf = Ok(HashAlg::Sha1);
            while !r.is_empty() {
                let t = r.read()?;
                if t.is(tag::INTEGER) {
                    key_len = Some(usize::try_from(t.uint()?.min(1024)).unwrap_or(1024));
                } else if t.is(tag::SEQUENCE) {
                    let o = t.reader()?.require(tag::OID, "PRF OID")?.oid()?;
                    prf = HashAlg::from_hmac_oid(&o).ok_or(o);
                }
            }
            Ok(Kdf::Pbkdf2 {
                salt,
                iterations,
                key_len,
                prf,
            })
        }
        oid::SCRYPT => {
            let p = r.require(tag::SEQUENCE, "scrypt parameters")?;
            let mut r = p.reader()?;
            let salt_len = r.require(tag::OCTET_STRING, "scrypt salt")?.octets()?.len();
            let n = r.read()?.uint()?;
            let rr = r.read()?.uint()?;
            let pp = r.read()?.uint()?;
            Ok(Kdf::Scrypt {
                salt_len,
                n,
                r: rr,
                p: pp,
            })
        }
        _ => Ok(Kdf::Other(o)),
    }
}

/// Returns (cipher, iv, implied key length for RC2).
fn parse_cipher(alg: &Tlv<'_>) -> Result<(Cipher, Vec<u8>, Option<usize>), DerError> {
    let mut r = alg.reader()?;
    let o = r.require(tag::OID, "cipher OID")?.oid()?;
    let params = if r.is_empty() { None } else { Some(r.read()?) };
    let iv = |p: Option<Tlv<'_>>| -> Result<Vec<u8>, DerError> {
        match p {
            Some(t) if t.is(tag::OCTET_STRING) => Ok(t.octets()?.into_owned()),
            _ => Ok(Vec::new()),
        }
    };
    Ok(match o.as_str() {
        oid::AES_128_CBC => (Cipher::AesCbc { bits: 128 }, iv(params)?, None),
        oid::AES_192_CBC => (Cipher::AesCbc { bits: 192 }, iv(params)?, None),
        oid::AES_256_CBC => (Cipher::AesCbc { bits: 256 }, iv(params)?, None),
        oid::DES_EDE3_CBC => (Cipher::DesEde3Cbc, iv(params)?, None),
        oid::DES_CBC => (Cipher::DesCbc, iv(params)?, None),
        oid::RC2_CBC => {
            // RC2-CBC parameter: SEQUENCE { rc2ParameterVersion INTEGER OPTIONAL, iv }.
            let mut version = None;
            let mut ivv = Vec::new();
            if let Some(p) = params {
                if p.is(tag::SEQUENCE) {
                    let mut pr = p.reader()?;
                    while !pr.is_empty() {
                        let t = pr.read()?;
                        if t.is(tag::INTEGER) {
                            version = Some(t.uint()?);
                        } else if t.is(tag::OCTET_STRING) {
                            ivv = t.octets()?.into_owned();
                        }
                    }
                } else if p.is(tag::OCTET_STRING) {
                    ivv = p.octets()?.into_owned();
                }
            }
            let bits = match version {
                Some(160) => 40,
                Some(120) => 64,
                Some(58) => 128,
                Some(v) if v >= 256 => u32::try_from(v.min(1024)).unwrap_or(1024),
                Some(_) | None => 32,
            };
            (
                Cipher::Rc2Cbc {
                    effective_bits: bits,
                },
                ivv,
                Some(bits.div_ceil(8) as usize),
            )
        }
        other => (Cipher::Other(oid::name(other)), Vec::new(), None),
    })
}

/// Why a decryption or MAC check did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PbeError {
    /// Padding or structure did not check out: almost always the wrong password.
    Failed,
    /// Algorithm recognised but not implemented; the string names it.
    Unsupported(String),
    /// An iteration count or the work budget of the file is over the cap.
    Limits(String),
}

impl fmt::Display for PbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed => f.write_str("decryption failed (wrong password?)"),
            Self::Unsupported(a) => write!(f, "unsupported algorithm {a}"),
            Self::Limits(w) => f.write_str(w),
        }
    }
}

impl std::error::Error for PbeError {}

/// Caps on key-derivation work, so that a hostile file cannot make us spin.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    /// Largest iteration count of one derivation.
    pub(crate) max_iterations: u64,
    /// Iterations left for the whole file (all derivations, all password trials).
    pub(crate) remaining: u64,
}

impl Budget {
    /// A budget of `max_iterations` per derivation and `64 * max_iterations` per file.
    pub(crate) fn new(max_iterations: u64) -> Self {
        Self {
            max_iterations,
            remaining: max_iterations.saturating_mul(64),
        }
    }

    /// Check, before any work, that one derivation of `iterations` may run.
    pub(crate) fn check(&self, iterations: u64, what: &str) -> Result<(), PbeError> {
        if iterations > self.max_iterations {
            return Err(PbeError::Limits(format!(
                "{what} uses {iterations} iterations, above the cap of {} (raise it with --max-iterations if you trust this file)",
                self.max_iterations
            )));
        }
        Ok(())
    }

    /// Charge one derivation: `iterations` as the file states them, `blocks` the number of
    /// hash-output blocks it must produce (each costs `iterations`). A long derived key
    /// multiplies the work, so one derivation may cost at most 4 times the cap (the most any
    /// common scheme needs is 3: 3DES under the PKCS#12 KDF), and the file as a whole 64 times.
    fn spend(&mut self, iterations: u64, blocks: u64, what: &str) -> Result<(), PbeError> {
        self.check(iterations, what)?;
        let cost = iterations.max(1).saturating_mul(blocks.max(1));
        if cost > self.max_iterations.saturating_mul(4) {
            return Err(PbeError::Limits(format!(
                "{what} derives {blocks} hash blocks at {iterations} iterations each ({cost} in all), above 4 times the cap of {} (raise it with --max-iterations if you trust this file)",
                self.max_iterations
            )));
        }
        let iterations = cost;
        if iterations > self.remaining {
            return Err(PbeError::Limits(format!(
                "key derivation for this file would exceed {} iterations in total (many encrypted parts or passwords); raise --max-iterations if you trust it",
                self.max_iterations.saturating_mul(64)
            )));
        }
        self.remaining -= iterations.max(1);
        Ok(())
    }
}

/// RFC 7292 appendix B.2 key derivation.
fn pkcs12_kdf<D: Digest + BlockSizeUser>(
    pass: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u64,
    n: usize,
) -> Zeroizing<Vec<u8>> {
    let v = <D as BlockSizeUser>::block_size();
    let u = <D as OutputSizeUser>::output_size();
    let fill = |x: &[u8]| -> Vec<u8> {
        if x.is_empty() {
            return Vec::new();
        }
        let len = v * x.len().div_ceil(v);
        x.iter().cycle().take(len).copied().collect()
    };
    let mut i_buf = Zeroizing::new([fill(salt), fill(pass)].concat());
    let d = vec![id; v];
    let mut out = Zeroizing::new(Vec::with_capacity(n + u));
    loop {
        let mut h = D::new();
        h.update(&d);
        h.update(&*i_buf);
        let mut a = Zeroizing::new(h.finalize().to_vec());
        for _ in 1..iterations.max(1) {
            let next = D::digest(&*a);
            a.copy_from_slice(&next);
        }
        let take = (n - out.len()).min(u);
        out.extend(a.iter().take(take).copied());
        if out.len() >= n {
            return out;
        }
        let b: Zeroizing<Vec<u8>> = Zeroizing::new(a.iter().cycle().take(v).copied().collect());
        // `i_buf` is a whole number of `v`-byte blocks, and `b` is one block.
        for chunk in i_buf.chunks_mut(v) {
            let mut carry: u16 = 1;
            for (c, bk) in chunk.iter_mut().zip(b.iter()).rev() {
                let s = u16::from(*c) + u16::from(*bk) + carry;
                *c = s as u8;
                carry = s >> 8;
            }
        }
    }
}

fn pbkdf2_dyn(
    prf: HashAlg,
    pass: &[u8],
    salt: &[u8],
    rounds: u32,
    out: &mut [u8],
) -> Result<(), PbeError> {
    with_digest!(prf, D => {
        pbkdf2::pbkdf2::<hmac::SimpleHmac<D>>(pass, salt, rounds, out)
            .map_err(|_| PbeError::Failed)
    })
}

fn pbkdf1(
    hash: HashAlg,
    pass: &[u8],
    salt: &[u8],
    iterations: u64,
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    with_digest!(hash, D => {
        let mut h = D::new();
        h.update(pass);
        h.update(salt);
        let mut t = Zeroizing::new(h.finalize().to_vec());
        for _ in 1..iterations.max(1) {
            let next = D::digest(&*t);
            t.copy_from_slice(&next);
        }
        Ok(t)
    })
}

fn p12_kdf_dyn(
    hash: HashAlg,
    pass: &[u8],
    salt: &[u8],
    id: u8,
    iterations: u64,
    n: usize,
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    with_digest!(hash, D => Ok(pkcs12_kdf::<D>(pass, salt, id, iterations, n)))
}

fn cbc_decrypt(
    cipher: &Cipher,
    key: &[u8],
    iv: &[u8],
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    fn run<C: BlockDecryptMut + cbc::cipher::BlockCipher + KeyInit>(
        key: &[u8],
        iv: &[u8],
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, PbeError> {
        let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| PbeError::Failed)?;
        dec.decrypt_padded_vec_mut::<Pkcs7>(data)
            .map(Zeroizing::new)
            .map_err(|_| PbeError::Failed)
    }
    match cipher {
        Cipher::AesCbc { bits: 128 } => run::<aes::Aes128>(key, iv, data),
        Cipher::AesCbc { bits: 192 } => run::<aes::Aes192>(key, iv, data),
        Cipher::AesCbc { bits: 256 } => run::<aes::Aes256>(key, iv, data),
        Cipher::DesEde3Cbc => run::<des::TdesEde3>(key, iv, data),
        Cipher::DesEde2Cbc => run::<des::TdesEde2>(key, iv, data),
        Cipher::DesCbc => run::<des::Des>(key, iv, data),
        Cipher::Rc2Cbc { effective_bits } => {
            let c = rc2::Rc2::new_with_eff_key_len(key, *effective_bits as usize);
            let dec = cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(c, iv)
                .map_err(|_| PbeError::Failed)?;
            dec.decrypt_padded_vec_mut::<Pkcs7>(data)
                .map(Zeroizing::new)
                .map_err(|_| PbeError::Failed)
        }
        other => Err(PbeError::Unsupported(other.name())),
    }
}

/// A cipher with its derived key (secret) and IV.
type Derived<'s> = (&'s Cipher, Zeroizing<Vec<u8>>, Vec<u8>);

/// Derive the cipher key and IV of `scheme` from `pw`. Unsupported parts of the scheme are
/// refused here, before any work.
fn derive<'s>(scheme: &'s Scheme, pw: &Password, enc: Encoding) -> Result<Derived<'s>, PbeError> {
    match scheme {
        Scheme::Pkcs12 {
            cipher,
            salt,
            iterations,
            name,
        } => {
            if matches!(cipher, Cipher::Rc4 { .. }) {
                return Err(PbeError::Unsupported((*name).into()));
            }
            let key_len = cipher.key_len().ok_or(PbeError::Failed)?;
            let pass = pw.pkcs12(enc);
            let key = p12_kdf_dyn(HashAlg::Sha1, &pass, salt, 1, *iterations, key_len)?;
            let iv = p12_kdf_dyn(HashAlg::Sha1, &pass, salt, 2, *iterations, 8)?;
            Ok((cipher, key, iv.to_vec()))
        }
        Scheme::Pbes1 {
            name,
            hash,
            cipher,
            salt,
            iterations,
        } => {
            let dk = pbkdf1(*hash, pw.utf8(), salt, *iterations)?;
            let (Some(key), Some(iv)) = (dk.get(..8), dk.get(8..16)) else {
                return Err(PbeError::Unsupported((*name).into()));
            };
            Ok((cipher, Zeroizing::new(key.to_vec()), iv.to_vec()))
        }
        Scheme::Pbes2 { kdf, cipher, iv } => match kdf {
            Kdf::Pbkdf2 {
                salt,
                iterations,
                key_len,
                prf,
            } => {
                let prf = prf
                    .clone()
                    .map_err(|o| PbeError::Unsupported(format!("PBKDF2 PRF {o}")))?;
                if let Cipher::Other(n) = cipher {
                    return Err(PbeError::Unsupported(n.clone()));
                }
                let n = key_len.or(cipher.key_len()).ok_or(PbeError::Failed)?;
                let rounds = u32::try_from(*iterations)
                    .map_err(|_| PbeError::Limits("PBKDF2 iteration count too large".into()))?;
                let mut key = Zeroizing::new(vec![0u8; n]);
                pbkdf2_dyn(prf, pw.utf8(), salt, rounds.max(1), &mut key)?;
                Ok((cipher, key, iv.clone()))
            }
            Kdf::Scrypt { .. } => Err(PbeError::Unsupported("PBES2 with scrypt".into())),
            Kdf::Other(o) => Err(PbeError::Unsupported(format!("PBES2 KDF {o}"))),
        },
        Scheme::Unknown { oid: o } => Err(PbeError::Unsupported(oid::name(o))),
    }
}

/// Decrypt `data` encrypted under `scheme` with password `pw`, charging the derivation to
/// `budget` first.
pub(crate) fn decrypt(
    scheme: &Scheme,
    pw: &Password,
    enc: Encoding,
    data: &[u8],
    budget: &mut Budget,
) -> Result<Zeroizing<Vec<u8>>, PbeError> {
    budget.spend(scheme.work(), scheme.blocks(), &scheme.info().scheme)?;
    let (cipher, key, iv) = derive(scheme, pw, enc)?;
    cbc_decrypt(cipher, &key, &iv, data)
}

/// The HMAC of a PKCS#12 MacData, checked in constant time.
pub(crate) fn verify_mac(
    hash: HashAlg,
    salt: &[u8],
    iterations: u64,
    expected: &[u8],
    data: &[u8],
    pass: &[u8],
    budget: &mut Budget,
) -> Result<bool, PbeError> {
    budget.spend(iterations, 1, "the MAC")?;
    with_digest!(hash, D => {
        let n = <D as OutputSizeUser>::output_size();
        let key = pkcs12_kdf::<D>(pass, salt, 3, iterations, n);
        let mut mac = <hmac::SimpleHmac<D> as KeyInit>::new_from_slice(&key)
            .map_err(|_| PbeError::Failed)?;
        Mac::update(&mut mac, data);
        Ok(mac.verify_slice(expected).is_ok())
    })
}

/// Compute a PKCS#12 MAC (writer side: fixtures and tests).
#[cfg(any(test, feature = "write"))]
pub(crate) fn compute_mac(
    hash: HashAlg,
    salt: &[u8],
    iterations: u64,
    data: &[u8],
    pass: &[u8],
) -> Result<Vec<u8>, PbeError> {
    with_digest!(hash, D => {
        let n = <D as OutputSizeUser>::output_size();
        let key = pkcs12_kdf::<D>(pass, salt, 3, iterations, n);
        let mut mac = <hmac::SimpleHmac<D> as KeyInit>::new_from_slice(&key)
            .map_err(|_| PbeError::Failed)?;
        Mac::update(&mut mac, data);
        Ok(mac.finalize().into_bytes().to_vec())
    })
}

/// Encrypt under a scheme (writer side: fixtures and tests). Supports AES and 3DES ciphers.
#[cfg(any(test, feature = "write"))]
pub(crate) fn encrypt(scheme: &Scheme, pw: &Password, data: &[u8]) -> Result<Vec<u8>, PbeError> {
    use cbc::cipher::BlockEncryptMut;
    fn run<C: BlockEncryptMut + cbc::cipher::BlockCipher + KeyInit>(
        key: &[u8],
        iv: &[u8],
        data: &[u8],
    ) -> Result<Vec<u8>, PbeError> {
        let enc = cbc::Encryptor::<C>::new_from_slices(key, iv).map_err(|_| PbeError::Failed)?;
        Ok(enc.encrypt_padded_vec_mut::<Pkcs7>(data))
    }
    let (cipher, key, iv) = derive(scheme, pw, Encoding::Bmp)?;
    match cipher {
        Cipher::AesCbc { bits: 128 } => run::<aes::Aes128>(&key, &iv, data),
        Cipher::AesCbc { bits: 192 } => run::<aes::Aes192>(&key, &iv, data),
        Cipher::AesCbc { bits: 256 } => run::<aes::Aes256>(&key, &iv, data),
        Cipher::DesEde3Cbc => run::<des::TdesEde3>(&key, &iv, data),
        other => Err(PbeError::Unsupported(other.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pbes2(key_len: Option<usize>, prf: HashAlg, iterations: u64) -> Scheme {
        Scheme::Pbes2 {
            kdf: Kdf::Pbkdf2 {
                salt: vec![1; 8],
                iterations,
                key_len,
                prf: Ok(prf),
            },
            cipher: Cipher::AesCbc { bits: 256 },
            iv: vec![0; 16],
        }
    }

    #[test]
    fn derivation_blocks_of_common_schemes() {
        assert_eq!(pbes2(None, HashAlg::Sha256, 2048).blocks(), 1);
        assert_eq!(pbes2(None, HashAlg::Sha1, 2048).blocks(), 2);
        assert_eq!(pbes2(Some(1024), HashAlg::Sha1, 2048).blocks(), 52);
    }

    /// A long derived key multiplies PBKDF2's work: a file may not use it to run 50 times the
    /// cap in one derivation (review of issue 9).
    #[test]
    fn a_long_derived_key_is_charged_for_every_block() {
        let pw = Password::new("t", secrecy::SecretString::from("pw".to_string()));
        let mut budget = Budget::new(10_000);
        let greedy = pbes2(Some(1024), HashAlg::Sha1, 5_000);
        assert!(matches!(
            decrypt(&greedy, &pw, Encoding::Bmp, &[0; 16], &mut budget),
            Err(PbeError::Limits(_))
        ));
        // Nothing was spent on the refused derivation; a normal one still runs.
        assert_eq!(budget.remaining, 640_000);
        let normal = pbes2(None, HashAlg::Sha256, 5_000);
        assert!(!matches!(
            decrypt(&normal, &pw, Encoding::Bmp, &[0; 16], &mut budget),
            Err(PbeError::Limits(_))
        ));
        assert_eq!(budget.remaining, 635_000);
    }

    #[test]
    fn pkcs12_kdf_matches_rfc7292_known_answer() {
        // Test vector widely used by PKCS#12 implementations (BouncyCastle PKCS12Test):
        // password "smeg", salt 0A58CF64530D823F, id 1, 1 iteration, 24 bytes.
        let pass: Vec<u8> = "smeg"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .chain([0, 0])
            .collect();
        let salt = [0x0a, 0x58, 0xcf, 0x64, 0x53, 0x0d, 0x82, 0x3f];
        let k = pkcs12_kdf::<sha1::Sha1>(&pass, &salt, 1, 1, 24);
        assert_eq!(hex(&k), "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3");
        let iv = pkcs12_kdf::<sha1::Sha1>(&pass, &salt, 2, 1, 8);
        assert_eq!(hex(&iv), "79993dfe048d3b76");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn the_oid_table_names_algorithms_as_pbe_shows_them() {
        use crate::der::{write as w, Reader};
        for o in [
            oid::MD2,
            oid::MD4,
            oid::MD5,
            oid::SHA1,
            oid::SHA224,
            oid::SHA256,
            oid::SHA384,
            oid::SHA512,
            oid::SHA512_224,
            oid::SHA512_256,
            oid::SHA3_224,
            oid::SHA3_256,
            oid::SHA3_384,
            oid::SHA3_512,
        ] {
            assert_eq!(HashAlg::from_digest_oid(o).unwrap().name(), oid::name(o));
        }
        for o in [
            oid::HMAC_MD5,
            oid::HMAC_SHA1,
            oid::HMAC_SHA224,
            oid::HMAC_SHA256,
            oid::HMAC_SHA384,
            oid::HMAC_SHA512,
            oid::HMAC_SHA512_224,
            oid::HMAC_SHA512_256,
            oid::HMAC_SHA3_224,
            oid::HMAC_SHA3_256,
            oid::HMAC_SHA3_384,
            oid::HMAC_SHA3_512,
        ] {
            assert_eq!(HashAlg::from_hmac_oid(o).unwrap().hmac_name(), oid::name(o));
        }
        for o in [
            oid::PBE_SHA1_RC4_128,
            oid::PBE_SHA1_RC4_40,
            oid::PBE_SHA1_3DES,
            oid::PBE_SHA1_2DES,
            oid::PBE_SHA1_RC2_128,
            oid::PBE_SHA1_RC2_40,
            oid::PBE_MD2_DES,
            oid::PBE_MD2_RC2,
            oid::PBE_MD5_DES,
            oid::PBE_MD5_RC2,
            oid::PBE_SHA1_DES,
            oid::PBE_SHA1_RC2,
        ] {
            let alg = w::seq(&[w::oid(o), w::seq(&[w::octets(&[1; 8]), w::uint(2048)])]);
            let scheme = Scheme::parse(&Reader::new(&alg).read().unwrap()).unwrap();
            assert_eq!(scheme.info().scheme, oid::name(o));
        }
    }

    #[test]
    fn budget_refuses_before_working() {
        let b = Budget::new(1000);
        assert!(matches!(b.check(1001, "x"), Err(PbeError::Limits(_))));
        assert!(b.check(1000, "x").is_ok());
    }
}
