//! Object identifiers the PKCS#12 walker recognises, and their conventional names.
//!
//! This is the crate's single OID table: every OID is written once, in the `oid_table!`
//! list below, which generates the constants and [`name`].

/// Builds the OID table (in the spirit of rustls's `enum_builder!`): from lines of
/// `CONSTANT = "dotted.oid", "display-name";` it generates one `pub const` per line and
/// [`name`]. A line without a display name (`CONSTANT = "dotted.oid";`) makes a constant that
/// [`name`] shows in dotted form.
macro_rules! oid_table {
    ($(
        $(#[$attr:meta])*
        $constant:ident = $oid:literal $(, $display:literal)?;
    )*) => {
        $(
            $(#[$attr])*
            pub const $constant: &str = $oid;
        )*

        /// Every constant of the table with its display name (`None`: shown dotted).
        #[cfg(test)]
        const TABLE: &[(&str, &str, Option<&str>)] = &[
            $( (stringify!($constant), $constant, oid_table!(@display $($display)?)), )*
        ];

        /// The display name of a known OID, if it has one.
        fn display_name(oid: &str) -> Option<&'static str> {
            match oid {
                $( $constant => oid_table!(@display $($display)?), )*
                _ => None,
            }
        }
    };
    (@display) => { None };
    (@display $display:literal) => { Some($display) };
}

oid_table! {
    // PKCS#7 content types.
    /// PKCS#7 data.
    DATA = "1.2.840.113549.1.7.1", "data";
    /// PKCS#7 signedData (public-key integrity mode).
    SIGNED_DATA = "1.2.840.113549.1.7.2", "signedData";
    /// PKCS#7 envelopedData (public-key privacy mode).
    ENVELOPED_DATA = "1.2.840.113549.1.7.3", "envelopedData";
    /// PKCS#7 encryptedData (password privacy mode).
    ENCRYPTED_DATA = "1.2.840.113549.1.7.6", "encryptedData";

    // PKCS#12 bag types.
    /// keyBag
    KEY_BAG = "1.2.840.113549.1.12.10.1.1", "keyBag";
    /// pkcs8ShroudedKeyBag
    SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2", "pkcs8ShroudedKeyBag";
    /// certBag
    CERT_BAG = "1.2.840.113549.1.12.10.1.3", "certBag";
    /// crlBag
    CRL_BAG = "1.2.840.113549.1.12.10.1.4", "crlBag";
    /// secretBag
    SECRET_BAG = "1.2.840.113549.1.12.10.1.5", "secretBag";
    /// safeContentsBag
    SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.6", "safeContentsBag";

    // Bag attributes and cert types.
    /// friendlyName attribute.
    FRIENDLY_NAME = "1.2.840.113549.1.9.20", "friendlyName";
    /// localKeyId attribute.
    LOCAL_KEY_ID = "1.2.840.113549.1.9.21", "localKeyId";
    /// x509Certificate cert type.
    X509_CERTIFICATE = "1.2.840.113549.1.9.22.1", "x509Certificate";
    /// Java's trusted-certificate attribute (oracle-jdk-trustedkeyusage).
    JAVA_TRUSTED_KEY_USAGE = "2.16.840.1.113894.746875.1.1", "oracle-jdk-trustedkeyusage";
    /// Microsoft CSP name attribute.
    MS_CSP_NAME = "1.3.6.1.4.1.311.17.1", "ms-csp-name";
    /// Microsoft local-machine keyset attribute.
    MS_LOCAL_MACHINE_KEYSET = "1.3.6.1.4.1.311.17.2", "ms-local-machine-keyset";

    // Key algorithms and curves.
    /// rsaEncryption
    RSA = "1.2.840.113549.1.1.1", "RSA";
    /// RSASSA-PSS
    RSA_PSS = "1.2.840.113549.1.1.10", "RSA-PSS";
    /// id-ecPublicKey
    EC = "1.2.840.10045.2.1", "EC";
    /// DSA
    DSA = "1.2.840.10040.4.1", "DSA";
    /// Ed25519
    ED25519 = "1.3.101.112", "Ed25519";
    /// Ed448
    ED448 = "1.3.101.113", "Ed448";
    /// X25519
    X25519 = "1.3.101.110", "X25519";
    /// NIST P-256 (prime256v1).
    P256 = "1.2.840.10045.3.1.7", "P-256";
    /// NIST P-384 (secp384r1).
    P384 = "1.3.132.0.34", "P-384";
    /// NIST P-521 (secp521r1).
    P521 = "1.3.132.0.35", "P-521";
    /// secp256k1
    SECP256K1 = "1.3.132.0.10", "secp256k1";

    // Distinguished-name attributes (shown dotted by `name`).
    /// commonName
    CN = "2.5.4.3";
    /// countryName
    COUNTRY = "2.5.4.6";
    /// localityName
    LOCALITY = "2.5.4.7";
    /// stateOrProvinceName
    STATE = "2.5.4.8";
    /// organizationName
    ORGANIZATION = "2.5.4.10";
    /// organizationalUnitName
    ORGANIZATIONAL_UNIT = "2.5.4.11";

    // Ciphers.
    /// AES arc: every AES algorithm OID starts with this.
    AES_ARC = "2.16.840.1.101.3.4.1", "AES";
    /// AES-128 in ECB mode.
    AES_128_ECB = "2.16.840.1.101.3.4.1.1", "AES-128-ECB";
    /// AES-128 in CBC mode.
    AES_128_CBC = "2.16.840.1.101.3.4.1.2", "AES-128-CBC";
    /// AES-128 in GCM mode.
    AES_128_GCM = "2.16.840.1.101.3.4.1.6", "AES-128-GCM";
    /// AES-192 in ECB mode.
    AES_192_ECB = "2.16.840.1.101.3.4.1.21", "AES-192-ECB";
    /// AES-192 in CBC mode.
    AES_192_CBC = "2.16.840.1.101.3.4.1.22", "AES-192-CBC";
    /// AES-256 in ECB mode.
    AES_256_ECB = "2.16.840.1.101.3.4.1.41", "AES-256-ECB";
    /// AES-256 in CBC mode.
    AES_256_CBC = "2.16.840.1.101.3.4.1.42", "AES-256-CBC";
    /// AES-256 in GCM mode.
    AES_256_GCM = "2.16.840.1.101.3.4.1.46", "AES-256-GCM";
    /// AES-128 key wrap.
    AES_128_WRAP = "2.16.840.1.101.3.4.1.5", "AES-128-wrap";
    /// AES-256 key wrap.
    AES_256_WRAP = "2.16.840.1.101.3.4.1.45", "AES-256-wrap";
    /// Three-key triple DES in CBC mode.
    DES_EDE3_CBC = "1.2.840.113549.3.7", "DES-EDE3-CBC";
    /// DES in CBC mode.
    DES_CBC = "1.3.14.3.2.7", "DES-CBC";
    /// DES in ECB mode.
    DES_ECB = "1.3.14.3.2.6", "DES-ECB";
    /// RC2 in CBC mode.
    RC2_CBC = "1.2.840.113549.3.2", "RC2-CBC";
    /// RC4
    RC4 = "1.2.840.113549.3.4", "RC4";
    /// ARIA-128 in CBC mode.
    ARIA_128_CBC = "1.2.410.200046.1.1.2", "ARIA-128-CBC";
    /// ARIA-192 in CBC mode.
    ARIA_192_CBC = "1.2.410.200046.1.1.7", "ARIA-192-CBC";
    /// ARIA-256 in CBC mode.
    ARIA_256_CBC = "1.2.410.200046.1.1.12", "ARIA-256-CBC";
    /// Camellia-128 in CBC mode.
    CAMELLIA_128_CBC = "1.2.392.200011.61.1.1.1.2", "CAMELLIA-128-CBC";
    /// Camellia-192 in CBC mode.
    CAMELLIA_192_CBC = "1.2.392.200011.61.1.1.1.3", "CAMELLIA-192-CBC";
    /// Camellia-256 in CBC mode.
    CAMELLIA_256_CBC = "1.2.392.200011.61.1.1.1.4", "CAMELLIA-256-CBC";
    /// SEED in CBC mode.
    SEED_CBC = "1.2.410.200004.1.4", "SEED-CBC";
    /// Blowfish in CBC mode.
    BF_CBC = "1.3.6.1.4.1.3029.1.2", "BF-CBC";
    /// CAST5 in CBC mode.
    CAST5_CBC = "1.2.840.113533.7.66.10", "CAST5-CBC";
    /// IDEA in CBC mode.
    IDEA_CBC = "1.3.6.1.4.1.188.7.1.1.2", "IDEA-CBC";
    /// SM4 in CBC mode.
    SM4_CBC = "1.2.156.10197.1.104.2", "SM4-CBC";

    // Digests (MacData's DigestInfo, PBKDF1), named as `HashAlg::name`.
    /// MD2
    MD2 = "1.2.840.113549.2.2", "md2";
    /// MD4
    MD4 = "1.2.840.113549.2.4", "md4";
    /// MD5
    MD5 = "1.2.840.113549.2.5", "md5";
    /// SHA-1
    SHA1 = "1.3.14.3.2.26", "sha1";
    /// SHA-224
    SHA224 = "2.16.840.1.101.3.4.2.4", "sha224";
    /// SHA-256
    SHA256 = "2.16.840.1.101.3.4.2.1", "sha256";
    /// SHA-384
    SHA384 = "2.16.840.1.101.3.4.2.2", "sha384";
    /// SHA-512
    SHA512 = "2.16.840.1.101.3.4.2.3", "sha512";
    /// SHA-512/224
    SHA512_224 = "2.16.840.1.101.3.4.2.5", "sha512-224";
    /// SHA-512/256
    SHA512_256 = "2.16.840.1.101.3.4.2.6", "sha512-256";
    /// SHA3-224
    SHA3_224 = "2.16.840.1.101.3.4.2.7", "sha3-224";
    /// SHA3-256
    SHA3_256 = "2.16.840.1.101.3.4.2.8", "sha3-256";
    /// SHA3-384
    SHA3_384 = "2.16.840.1.101.3.4.2.9", "sha3-384";
    /// SHA3-512
    SHA3_512 = "2.16.840.1.101.3.4.2.10", "sha3-512";

    // HMACs (PBKDF2 PRFs), named as `HashAlg::hmac_name`.
    /// hmacWithMD5
    HMAC_MD5 = "1.2.840.113549.2.6", "hmacWithMD5";
    /// hmacWithSHA1
    HMAC_SHA1 = "1.2.840.113549.2.7", "hmacWithSHA1";
    /// hmacWithSHA224
    HMAC_SHA224 = "1.2.840.113549.2.8", "hmacWithSHA224";
    /// hmacWithSHA256
    HMAC_SHA256 = "1.2.840.113549.2.9", "hmacWithSHA256";
    /// hmacWithSHA384
    HMAC_SHA384 = "1.2.840.113549.2.10", "hmacWithSHA384";
    /// hmacWithSHA512
    HMAC_SHA512 = "1.2.840.113549.2.11", "hmacWithSHA512";
    /// hmacWithSHA512-224
    HMAC_SHA512_224 = "1.2.840.113549.2.12", "hmacWithSHA512-224";
    /// hmacWithSHA512-256
    HMAC_SHA512_256 = "1.2.840.113549.2.13", "hmacWithSHA512-256";
    /// id-hmacWithSHA3-224
    HMAC_SHA3_224 = "2.16.840.1.101.3.4.2.13", "id-hmacWithSHA3-224";
    /// id-hmacWithSHA3-256
    HMAC_SHA3_256 = "2.16.840.1.101.3.4.2.14", "id-hmacWithSHA3-256";
    /// id-hmacWithSHA3-384
    HMAC_SHA3_384 = "2.16.840.1.101.3.4.2.15", "id-hmacWithSHA3-384";
    /// id-hmacWithSHA3-512
    HMAC_SHA3_512 = "2.16.840.1.101.3.4.2.16", "id-hmacWithSHA3-512";

    // PKCS#12 appendix C PBEs, named as `Scheme::info().scheme`.
    /// pbeWithSHAAnd128BitRC4
    PBE_SHA1_RC4_128 = "1.2.840.113549.1.12.1.1", "pbeWithSHA1And128BitRC4";
    /// pbeWithSHAAnd40BitRC4
    PBE_SHA1_RC4_40 = "1.2.840.113549.1.12.1.2", "pbeWithSHA1And40BitRC4";
    /// pbeWithSHAAnd3-KeyTripleDES-CBC
    PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3", "pbeWithSHA1And3-KeyTripleDES-CBC";
    /// pbeWithSHAAnd2-KeyTripleDES-CBC
    PBE_SHA1_2DES = "1.2.840.113549.1.12.1.4", "pbeWithSHA1And2-KeyTripleDES-CBC";
    /// pbeWithSHAAnd128BitRC2-CBC
    PBE_SHA1_RC2_128 = "1.2.840.113549.1.12.1.5", "pbeWithSHA1And128BitRC2-CBC";
    /// pbewithSHAAnd40BitRC2-CBC
    PBE_SHA1_RC2_40 = "1.2.840.113549.1.12.1.6", "pbeWithSHA1And40BitRC2-CBC";

    // PKCS#5 v1.5 PBES1, named as `Scheme::info().scheme`.
    /// pbeWithMD2AndDES-CBC
    PBE_MD2_DES = "1.2.840.113549.1.5.1", "pbeWithMD2AndDES-CBC";
    /// pbeWithMD2AndRC2-CBC
    PBE_MD2_RC2 = "1.2.840.113549.1.5.4", "pbeWithMD2AndRC2-CBC";
    /// pbeWithMD5AndDES-CBC
    PBE_MD5_DES = "1.2.840.113549.1.5.3", "pbeWithMD5AndDES-CBC";
    /// pbeWithMD5AndRC2-CBC
    PBE_MD5_RC2 = "1.2.840.113549.1.5.6", "pbeWithMD5AndRC2-CBC";
    /// pbeWithSHA1AndDES-CBC
    PBE_SHA1_DES = "1.2.840.113549.1.5.10", "pbeWithSHA1AndDES-CBC";
    /// pbeWithSHA1AndRC2-CBC
    PBE_SHA1_RC2 = "1.2.840.113549.1.5.11", "pbeWithSHA1AndRC2-CBC";

    // PBES2 and its key derivation functions.
    /// PBKDF2 (RFC 8018).
    PBKDF2 = "1.2.840.113549.1.5.12", "PBKDF2";
    /// PBES2 (RFC 8018).
    PBES2 = "1.2.840.113549.1.5.13", "PBES2";
    /// scrypt (RFC 7914).
    SCRYPT = "1.3.6.1.4.1.11591.4.11", "scrypt";
    /// PWRI-KEK (CMS password recipient key encryption).
    PWRI_KEK = "1.2.840.113549.1.9.16.3.9", "PWRI-KEK";
}

/// True when `oid` is AES (any key size or mode), or the bare AES arc Java writes.
pub fn is_aes(oid: &str) -> bool {
    oid.strip_prefix(AES_ARC)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// A readable name for an OID, or the OID itself.
pub fn name(oid: &str) -> String {
    display_name(oid).map_or_else(|| oid.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_constant_names_round_trip() {
        for &(constant, oid, display) in TABLE {
            assert_eq!(name(oid), display.unwrap_or(oid), "{constant}");
        }
        assert_eq!(name("1.2.3.4"), "1.2.3.4");
    }

    #[test]
    fn no_two_constants_share_an_oid_or_a_name() {
        let mut oids = HashSet::new();
        let mut names = HashSet::new();
        for &(constant, oid, display) in TABLE {
            assert!(oids.insert(oid), "{constant}: {oid} is in the table twice");
            if let Some(d) = display {
                assert!(names.insert(d), "{constant}: name {d} is used twice");
            }
        }
    }

    #[test]
    fn aes_is_the_arc_and_below_it() {
        assert!(is_aes(AES_ARC));
        assert!(is_aes(AES_256_CBC));
        assert!(!is_aes("2.16.840.1.101.3.4.10"));
        assert!(!is_aes(SHA256));
    }
}
