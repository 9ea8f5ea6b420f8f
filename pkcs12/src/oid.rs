//! Object identifiers the PKCS#12 walker recognises, and their conventional names.

/// PKCS#7 data.
pub const DATA: &str = "1.2.840.113549.1.7.1";
/// PKCS#7 signedData (public-key integrity mode).
pub const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
/// PKCS#7 envelopedData (public-key privacy mode).
pub const ENVELOPED_DATA: &str = "1.2.840.113549.1.7.3";
/// PKCS#7 encryptedData (password privacy mode).
pub const ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";

/// keyBag
pub const KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
/// pkcs8ShroudedKeyBag
pub const SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
/// certBag
pub const CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
/// crlBag
pub const CRL_BAG: &str = "1.2.840.113549.1.12.10.1.4";
/// secretBag
pub const SECRET_BAG: &str = "1.2.840.113549.1.12.10.1.5";
/// safeContentsBag
pub const SAFE_CONTENTS_BAG: &str = "1.2.840.113549.1.12.10.1.6";

/// friendlyName attribute.
pub const FRIENDLY_NAME: &str = "1.2.840.113549.1.9.20";
/// localKeyId attribute.
pub const LOCAL_KEY_ID: &str = "1.2.840.113549.1.9.21";
/// x509Certificate cert type.
pub const X509_CERTIFICATE: &str = "1.2.840.113549.1.9.22.1";
/// Java's trusted-certificate attribute (oracle-jdk-trustedkeyusage).
pub const JAVA_TRUSTED_KEY_USAGE: &str = "2.16.840.1.113894.746875.1.1";

/// AES arc: every AES algorithm OID starts with this.
pub const AES_ARC: &str = "2.16.840.1.101.3.4.1";
/// rsaEncryption
pub const RSA: &str = "1.2.840.113549.1.1.1";
/// RSASSA-PSS
pub const RSA_PSS: &str = "1.2.840.113549.1.1.10";
/// id-ecPublicKey
pub const EC: &str = "1.2.840.10045.2.1";
/// DSA
pub const DSA: &str = "1.2.840.10040.4.1";
/// Ed25519
pub const ED25519: &str = "1.3.101.112";
/// Ed448
pub const ED448: &str = "1.3.101.113";
/// X25519
pub const X25519: &str = "1.3.101.110";
/// commonName
pub const CN: &str = "2.5.4.3";

/// True when `oid` is AES (any key size or mode), or the bare AES arc Java writes.
pub fn is_aes(oid: &str) -> bool {
    oid == AES_ARC || oid.starts_with("2.16.840.1.101.3.4.1.")
}

/// A readable name for an OID, or the OID itself.
pub fn name(oid: &str) -> String {
    let n = match oid {
        DATA => "data",
        SIGNED_DATA => "signedData",
        ENVELOPED_DATA => "envelopedData",
        ENCRYPTED_DATA => "encryptedData",
        KEY_BAG => "keyBag",
        SHROUDED_KEY_BAG => "pkcs8ShroudedKeyBag",
        CERT_BAG => "certBag",
        CRL_BAG => "crlBag",
        SECRET_BAG => "secretBag",
        SAFE_CONTENTS_BAG => "safeContentsBag",
        FRIENDLY_NAME => "friendlyName",
        LOCAL_KEY_ID => "localKeyId",
        X509_CERTIFICATE => "x509Certificate",
        JAVA_TRUSTED_KEY_USAGE => "oracle-jdk-trustedkeyusage",
        "1.3.6.1.4.1.311.17.1" => "ms-csp-name",
        "1.3.6.1.4.1.311.17.2" => "ms-local-machine-keyset",
        RSA => "RSA",
        RSA_PSS => "RSA-PSS",
        EC => "EC",
        DSA => "DSA",
        ED25519 => "Ed25519",
        ED448 => "Ed448",
        X25519 => "X25519",
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        AES_ARC => "AES",
        "2.16.840.1.101.3.4.1.1" => "AES-128-ECB",
        "2.16.840.1.101.3.4.1.2" => "AES-128-CBC",
        "2.16.840.1.101.3.4.1.6" => "AES-128-GCM",
        "2.16.840.1.101.3.4.1.21" => "AES-192-ECB",
        "2.16.840.1.101.3.4.1.22" => "AES-192-CBC",
        "2.16.840.1.101.3.4.1.41" => "AES-256-ECB",
        "2.16.840.1.101.3.4.1.42" => "AES-256-CBC",
        "2.16.840.1.101.3.4.1.46" => "AES-256-GCM",
        "2.16.840.1.101.3.4.1.5" => "AES-128-wrap",
        "2.16.840.1.101.3.4.1.45" => "AES-256-wrap",
        "1.2.840.113549.3.7" => "DES-EDE3-CBC",
        "1.3.14.3.2.7" => "DES-CBC",
        "1.3.14.3.2.6" => "DES-ECB",
        "1.2.840.113549.3.2" => "RC2-CBC",
        "1.2.840.113549.3.4" => "RC4",
        "1.2.410.200046.1.1.2" => "ARIA-128-CBC",
        "1.2.410.200046.1.1.7" => "ARIA-192-CBC",
        "1.2.410.200046.1.1.12" => "ARIA-256-CBC",
        "1.2.392.200011.61.1.1.1.2" => "CAMELLIA-128-CBC",
        "1.2.392.200011.61.1.1.1.3" => "CAMELLIA-192-CBC",
        "1.2.392.200011.61.1.1.1.4" => "CAMELLIA-256-CBC",
        "1.2.410.200004.1.4" => "SEED-CBC",
        "1.3.6.1.4.1.3029.1.2" => "BF-CBC",
        "1.2.840.113533.7.66.10" => "CAST5-CBC",
        "1.3.6.1.4.1.188.7.1.1.2" => "IDEA-CBC",
        "1.2.156.10197.1.104.2" => "SM4-CBC",
        "1.2.840.113549.1.5.12" => "PBKDF2",
        "1.2.840.113549.1.5.13" => "PBES2",
        "1.3.6.1.4.1.11591.4.11" => "scrypt",
        "1.2.840.113549.1.9.16.3.9" => "PWRI-KEK",
        _ => return oid.to_string(),
    };
    n.to_string()
}
