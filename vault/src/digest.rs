//! SHA-256 in hex: object names, manifest chaining, checkpoints and recipient fingerprints.

/// Lowercase hex SHA-256 of `b`.
pub fn sha256_hex(b: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, b).as_ref())
}

/// Full fingerprint of a public key: `sha256:<64 hex>` of the trimmed text.
pub fn fingerprint(recipient: &str) -> String {
    format!("sha256:{}", sha256_hex(recipient.trim().as_bytes()))
}

/// A format-1 fingerprint: `sha256:` and the first 16 hex digits of the SHA-256 of the key.
pub(crate) fn short_fingerprint(recipient: &str) -> String {
    let h = sha256_hex(recipient.trim().as_bytes());
    format!("sha256:{}", h.get(..16).unwrap_or_default())
}

/// Lowercase hex of `b`.
pub(crate) fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 0x0f)]));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
