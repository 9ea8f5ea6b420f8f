//! The cleartext header of an age file, read without any key: which recipient stanzas an
//! object carries. `verify` compares them with the custodian set recorded in the chain, so an
//! object encrypted to one recipient too many is found without decrypting anything.
//!
//! The binary age v1 header is text: the line `age-encryption.org/v1`, then one stanza per
//! recipient (`-> <type> <arg>...`, then its body in base64 lines of 64 columns ended by a
//! shorter line), then `--- <mac>`. Only the stanza types and arguments are returned; bodies are
//! skipped. Input is untrusted: the header is read within [`MAX_HEADER`] bytes and
//! [`MAX_STANZAS`] stanzas, and anything else is an error, never a panic.

/// The first line of a binary age v1 file.
const INTRO: &[u8] = b"age-encryption.org/v1\n";
/// Largest header read. Ours are a few hundred bytes a recipient.
pub const MAX_HEADER: usize = 64 * 1024;
/// Most stanzas accepted.
pub const MAX_STANZAS: usize = 256;

/// One recipient stanza: its type and arguments (the body is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// `X25519`, `ssh-ed25519`, `ssh-rsa`, `scrypt`, a plugin's type, or `<random>-grease`.
    pub tag: String,
    /// Its arguments (for SSH stanzas the first is the key tag).
    pub args: Vec<String>,
}

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Not a binary age v1 file.
    #[error("not a binary age v1 file (no `age-encryption.org/v1` line)")]
    NotAge,
    /// The header does not end within the first [`MAX_HEADER`] bytes.
    #[error("the age header does not end within its first {MAX_HEADER} bytes")]
    TooLong,
    /// More than [`MAX_STANZAS`] stanzas.
    #[error("more than {MAX_STANZAS} recipient stanzas")]
    TooManyStanzas,
    /// A line that is neither a stanza, a body line nor the MAC line.
    #[error("malformed age header at byte {at}")]
    Malformed {
        /// Byte offset of the offending line.
        at: usize,
    },
}

/// Read the stanzas of the header at the start of `bytes` (the rest of the file may be
/// missing: only the header is needed).
pub fn stanzas(bytes: &[u8]) -> Result<Vec<Stanza>, HeaderError> {
    let rest = bytes.strip_prefix(INTRO).ok_or(HeaderError::NotAge)?;
    let mut at = INTRO.len();
    let mut lines = Lines {
        rest,
        at: &mut at,
        limit: MAX_HEADER,
    };
    let mut out = Vec::new();
    let mut line = lines.next()?;
    loop {
        let start = *lines.at - line.len() - 1;
        if let Some(mac) = line.strip_prefix(b"--- ") {
            if mac.is_empty() || !mac.iter().all(|&c| is_b64(c)) {
                return Err(HeaderError::Malformed { at: start });
            }
            return Ok(out);
        }
        let Some(stanza) = line.strip_prefix(b"-> ") else {
            return Err(HeaderError::Malformed { at: start });
        };
        if out.len() == MAX_STANZAS {
            return Err(HeaderError::TooManyStanzas);
        }
        let mut words = stanza.split(|&c| c == b' ');
        let tag = words.next().filter(|t| is_arg(t));
        let args: Option<Vec<String>> = words
            .map(|w| is_arg(w).then(|| String::from_utf8_lossy(w).into_owned()))
            .collect();
        let (Some(tag), Some(args)) = (tag, args) else {
            return Err(HeaderError::Malformed { at: start });
        };
        out.push(Stanza {
            tag: String::from_utf8_lossy(tag).into_owned(),
            args,
        });
        // The body: full 64-column lines, ended by a shorter (possibly empty) one.
        loop {
            let body_at = *lines.at;
            let b = lines.next()?;
            if b.len() > 64 || !b.iter().all(|&c| is_b64(c)) {
                return Err(HeaderError::Malformed { at: body_at });
            }
            if b.len() < 64 {
                break;
            }
        }
        line = lines.next()?;
    }
}

/// A stanza argument or type: printable ASCII without spaces, not empty (age's grammar).
fn is_arg(w: &[u8]) -> bool {
    !w.is_empty() && w.iter().all(|&c| (33..=126).contains(&c))
}

/// Unpadded standard base64.
fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

/// Newline-terminated lines within a byte limit.
struct Lines<'a, 'b> {
    rest: &'a [u8],
    at: &'b mut usize,
    limit: usize,
}

impl<'a> Lines<'a, '_> {
    fn next(&mut self) -> Result<&'a [u8], HeaderError> {
        let Some(nl) = self.rest.iter().position(|&c| c == b'\n') else {
            return Err(if *self.at + self.rest.len() >= self.limit {
                HeaderError::TooLong
            } else {
                HeaderError::Malformed { at: *self.at }
            });
        };
        if *self.at + nl + 1 > self.limit {
            return Err(HeaderError::TooLong);
        }
        let (line, rest) = self.rest.split_at(nl);
        self.rest = rest.get(1..).unwrap_or_default();
        *self.at += nl + 1;
        Ok(line)
    }
}

/// The age key tag of an SSH public key (`ssh-ed25519 AAAA... comment`): base64 (unpadded) of
/// the first 4 bytes of the SHA-256 of the key's wire encoding, as age writes it as the first
/// argument of `ssh-ed25519` and `ssh-rsa` stanzas. `None` for anything else.
pub fn ssh_key_tag(recipient: &str) -> Option<String> {
    use base64::Engine;
    let mut words = recipient.split_whitespace();
    let kind = words.next()?;
    if kind != "ssh-ed25519" && kind != "ssh-rsa" {
        return None;
    }
    let wire = base64::engine::general_purpose::STANDARD
        .decode(words.next()?)
        .ok()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &wire);
    Some(base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest.as_ref().get(..4)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encrypt_to(recipients: &[&str]) -> Vec<u8> {
        use std::io::Write;
        let parsed: Vec<Box<dyn age::Recipient + Send>> = recipients
            .iter()
            .map(|r| crate::crypto::parse_recipient(r).expect("recipient"))
            .collect();
        let enc = age::Encryptor::with_recipients(
            parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient),
        )
        .expect("encryptor");
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).expect("wrap");
        w.write_all(b"plain").expect("write");
        w.finish().expect("finish");
        out
    }

    const SSH: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@example";

    #[test]
    fn an_age_object_shows_its_recipient_stanzas_and_one_grease() {
        let a = age::x25519::Identity::generate().to_public().to_string();
        let b = age::x25519::Identity::generate().to_public().to_string();
        let cipher = encrypt_to(&[&a, &b, SSH]);
        let s = stanzas(&cipher).expect("parses");
        let tags: Vec<&str> = s.iter().map(|s| s.tag.as_str()).collect();
        assert_eq!(tags.iter().filter(|t| **t == "X25519").count(), 2);
        let ssh: Vec<&Stanza> = s.iter().filter(|s| s.tag == "ssh-ed25519").collect();
        assert_eq!(ssh.len(), 1);
        assert_eq!(Some(&ssh[0].args[0]), ssh_key_tag(SSH).as_ref());
        // age adds one random `<x>-grease` stanza to every recipient (non-scrypt) file.
        assert_eq!(s.iter().filter(|s| s.tag.ends_with("-grease")).count(), 1);
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn a_passphrase_object_has_exactly_one_scrypt_stanza() {
        use std::io::Write;
        let mut r = age::scrypt::Recipient::new(secrecy::SecretString::from("pw"));
        r.set_work_factor(2);
        let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
            .expect("encryptor");
        let mut out = Vec::new();
        let mut w = enc.wrap_output(&mut out).expect("wrap");
        w.write_all(b"x").expect("write");
        w.finish().expect("finish");
        let s = stanzas(&out).expect("parses");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].tag, "scrypt");
    }

    #[test]
    fn hand_made_headers() {
        let ok = b"age-encryption.org/v1\n-> X25519 abc\nAAAA\n-> t-grease\n\n--- AAAA\npayload";
        let s = stanzas(ok).expect("parses");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].args, vec!["abc".to_string()]);
        let long_body = format!(
            "age-encryption.org/v1\n-> X25519 a\n{}\n{}\nAA\n--- AB\n",
            "A".repeat(64),
            "B".repeat(64)
        );
        assert_eq!(stanzas(long_body.as_bytes()).expect("parses").len(), 1);
        for (bad, why) in [
            (&b"age-encryption.org/v2\n--- AA\n"[..], HeaderError::NotAge),
            (b"", HeaderError::NotAge),
            (
                b"age-encryption.org/v1\n-> X25519 abc\n",
                HeaderError::Malformed { at: 36 },
            ),
            (
                b"age-encryption.org/v1\n->  X25519\n\n--- AA\n",
                HeaderError::Malformed { at: 22 },
            ),
            (
                b"age-encryption.org/v1\n-> X\n!!\n--- AA\n",
                HeaderError::Malformed { at: 27 },
            ),
            (
                b"age-encryption.org/v1\n-> X\n\n--- \n",
                HeaderError::Malformed { at: 28 },
            ),
            (
                b"age-encryption.org/v1\nhello\n",
                HeaderError::Malformed { at: 22 },
            ),
        ] {
            assert_eq!(stanzas(bad), Err(why), "{}", String::from_utf8_lossy(bad));
        }
        let body_too_wide = format!("age-encryption.org/v1\n-> X\n{}\n--- A\n", "A".repeat(65));
        assert!(stanzas(body_too_wide.as_bytes()).is_err());
    }

    #[test]
    fn limits_hold() {
        let mut many = b"age-encryption.org/v1\n".to_vec();
        for _ in 0..=MAX_STANZAS {
            many.extend_from_slice(b"-> X\n\n");
        }
        many.extend_from_slice(b"--- AA\n");
        assert_eq!(stanzas(&many), Err(HeaderError::TooManyStanzas));
        let mut long = b"age-encryption.org/v1\n-> X ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEADER));
        assert_eq!(stanzas(&long), Err(HeaderError::TooLong));
    }

    #[test]
    fn ssh_tags_only_for_ssh_keys() {
        assert_eq!(ssh_key_tag("age1xyz"), None);
        assert_eq!(ssh_key_tag("ssh-ed25519 !!notbase64"), None);
        assert_eq!(ssh_key_tag(SSH).map(|t| t.len()), Some(6));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let mut b = INTRO.to_vec();
            b.extend_from_slice(&tail);
            let _ = stanzas(&b);
            let _ = stanzas(&tail);
        }

        #[test]
        fn stanza_lines_round_trip(tags in proptest::collection::vec("[!-~]{1,12}", 0..20)) {
            let mut b = INTRO.to_vec();
            for t in &tags {
                b.extend_from_slice(format!("-> {t} arg\nAAAA\n").as_bytes());
            }
            b.extend_from_slice(b"--- AAAA\n");
            let s = stanzas(&b).expect("well-formed");
            let got: Vec<&str> = s.iter().map(|s| s.tag.as_str()).collect();
            proptest::prop_assert_eq!(got, tags.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}
