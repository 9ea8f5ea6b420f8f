//! age encryption to the vault's recipients, and decryption with an identity.
//!
//! Recipients are age X25519 (`age1...`) and SSH (`ssh-ed25519 ...`, `ssh-rsa ...`) public
//! keys, or a single scrypt passphrase. The age format does not allow a passphrase stanza next
//! to other recipients, so a vault is either recipient-based or passphrase-based.

use std::io::{Read, Write};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::VaultError;

/// A labelled recipient as stored in `vault.yaml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecipientSpec {
    /// Who holds the matching identity (custodian name).
    pub label: String,
    /// The public key: `age1...`, `ssh-ed25519 ...`, `ssh-rsa ...`.
    pub recipient: String,
}

impl RecipientSpec {
    /// The full fingerprint of the public key (`sha256:` and 64 hex digits), stored in the
    /// manifest so that auditors see who can decrypt each entry. (Format-1 vaults stored the
    /// first 16 hex digits.)
    pub fn fingerprint(&self) -> String {
        crate::digest::fingerprint(&self.recipient)
    }
}

/// The plugin name of an age plugin recipient (`age1<name>1<data>`), `None` for anything else.
/// A native X25519 recipient is `age1` and bech32 data, which never holds a `1`.
pub fn plugin_of(recipient: &str) -> Option<String> {
    let s = recipient.trim();
    s.rfind('1')
        .and_then(|i| s.get(..i))
        .and_then(|hrp| hrp.strip_prefix("age1"))
        .filter(|name| !name.is_empty())
        .map(str::to_ascii_lowercase)
}

/// Callbacks for age plugins: their messages are shown with control characters escaped (a
/// plugin is another program; its text is not trusted to drive the terminal), and their
/// questions (a PIN, a confirmation) go to age's own terminal UI when the `ui` feature is on.
#[derive(Clone, Copy)]
pub(crate) struct PluginUi;

fn escaped(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n'
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

impl age::Callbacks for PluginUi {
    fn display_message(&self, message: &str) {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{}", escaped(message));
        }
    }

    fn confirm(&self, message: &str, yes: &str, no: Option<&str>) -> Option<bool> {
        #[cfg(feature = "ui")]
        {
            age::cli_common::UiCallbacks.confirm(
                &escaped(message),
                &escaped(yes),
                no.map(escaped).as_deref(),
            )
        }
        #[cfg(not(feature = "ui"))]
        {
            let _ = (message, yes, no);
            None
        }
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        #[cfg(feature = "ui")]
        {
            age::cli_common::UiCallbacks.request_public_string(&escaped(description))
        }
        #[cfg(not(feature = "ui"))]
        {
            let _ = description;
            None
        }
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        #[cfg(feature = "ui")]
        {
            age::cli_common::UiCallbacks.request_passphrase(&escaped(description))
        }
        #[cfg(not(feature = "ui"))]
        {
            let _ = description;
            None
        }
    }
}

/// A parsed recipient. A plugin recipient needs its plugin binary (`age-plugin-<name>`) on
/// `PATH`; without it, the error names the binary.
pub fn parse_recipient(s: &str) -> Result<Box<dyn age::Recipient + Send>, VaultError> {
    let s = s.trim();
    if let Some(plugin) = plugin_of(s) {
        let r: age::plugin::Recipient =
            s.parse().map_err(|reason| VaultError::InvalidRecipient {
                recipient: s.to_string(),
                reason,
            })?;
        return age::plugin::RecipientPluginV1::new(
            r.plugin(),
            std::slice::from_ref(&r),
            &[],
            PluginUi,
        )
        .map(|p| Box::new(p) as Box<dyn age::Recipient + Send>)
        .map_err(|_| VaultError::PluginMissing {
            binary: format!("age-plugin-{plugin}"),
        });
    }
    if s.starts_with("age1") {
        return s
            .parse::<age::x25519::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|reason| VaultError::InvalidRecipient {
                recipient: s.to_string(),
                reason,
            });
    }
    if s.starts_with("ssh-") {
        // age's parser ignores what is glued after the key's base64 (`AAAA...#`): the same
        // key could then be listed twice under two spellings. Only the canonical form is taken.
        let canonical = s.split_whitespace().nth(1).is_some_and(|b64| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .is_ok_and(|blob| base64::engine::general_purpose::STANDARD.encode(blob) == b64)
        });
        if !canonical {
            return Err(VaultError::InvalidRecipient {
                recipient: s.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
                reason: "the key is not canonical base64 (something is glued to it)",
            });
        }
        return s
            .parse::<age::ssh::Recipient>()
            .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
            .map_err(|error| VaultError::UnsupportedSshRecipient { error });
    }
    Err(VaultError::UnknownRecipient {
        recipient: s.to_string(),
    })
}

/// How objects are encrypted.
pub enum Encryption<'a> {
    /// To these recipients.
    Recipients(&'a [RecipientSpec]),
    /// With this passphrase (scrypt).
    Passphrase(&'a SecretString),
}

/// Encrypt `plain` (binary age format).
pub fn encrypt(enc: &Encryption<'_>, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
    fn fail<E: std::error::Error + Send + Sync + 'static>(e: E) -> VaultError {
        VaultError::Encrypt {
            source: Box::new(e),
        }
    }
    let encryptor = match enc {
        Encryption::Recipients(list) => {
            let parsed: Vec<Box<dyn age::Recipient + Send>> = list
                .iter()
                .map(|r| parse_recipient(&r.recipient))
                .collect::<Result<_, _>>()?;
            age::Encryptor::with_recipients(
                parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient),
            )
            .map_err(fail)?
        }
        Encryption::Passphrase(p) => age::Encryptor::with_user_passphrase((*p).clone()),
    };
    let mut out = Vec::with_capacity(plain.len() + 512);
    let mut w = encryptor.wrap_output(&mut out).map_err(fail)?;
    w.write_all(plain).map_err(fail)?;
    w.finish().map_err(fail)?;
    Ok(out)
}

/// Encrypt `plain` to `recipients`, ASCII-armored (for files people pass around).
pub fn encrypt_armored(recipients: &[RecipientSpec], plain: &[u8]) -> Result<Vec<u8>, VaultError> {
    fn fail<E: std::error::Error + Send + Sync + 'static>(e: E) -> VaultError {
        VaultError::Encrypt {
            source: Box::new(e),
        }
    }
    let parsed: Vec<Box<dyn age::Recipient + Send>> = recipients
        .iter()
        .map(|r| parse_recipient(&r.recipient))
        .collect::<Result<_, _>>()?;
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(fail)?;
    let mut out = Vec::with_capacity(plain.len() * 2 + 1024);
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(fail)?;
    let mut w = encryptor.wrap_output(armor).map_err(fail)?;
    w.write_all(plain).map_err(fail)?;
    w.finish().and_then(|a| a.finish()).map_err(fail)?;
    Ok(out)
}

/// Identities that can open objects: an age identity file, an SSH private key, or a
/// passphrase.
pub struct Identities {
    ids: Vec<Box<dyn age::Identity + Send + Sync>>,
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identities({} [REDACTED])", self.ids.len())
    }
}

impl Identities {
    /// Read an identity file: age (`AGE-SECRET-KEY-1...` lines) or an SSH private key.
    pub fn from_file(path: &std::path::Path) -> Result<Self, VaultError> {
        // Within a cap, never from a FIFO or device (an identity file is small).
        let bytes = Zeroizing::new(
            crate::store::read_key_file(path, 1 << 20)
                .map_err(VaultError::io(path, "read identity"))?,
        );
        let text = std::str::from_utf8(&bytes).unwrap_or("");
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----")
            || text.contains("-----BEGIN RSA PRIVATE KEY-----")
        {
            let id = age::ssh::Identity::from_buffer(&bytes[..], Some(path.display().to_string()))
                .map_err(|source| VaultError::SshIdentity {
                    path: path.to_path_buf(),
                    source,
                })?;
            if let age::ssh::Identity::Unsupported(k) = &id {
                return Err(VaultError::UnsupportedSshKey {
                    path: path.to_path_buf(),
                    kind: format!("{k:?}"),
                });
            }
            // A passphrase-protected key asks for its passphrase through the same prompts as
            // a plugin (on a terminal with the `ui` feature; otherwise it cannot be opened).
            return Ok(Self {
                ids: vec![Box::new(id.with_callbacks(PluginUi))],
            });
        }
        // Native and plugin identities (`AGE-PLUGIN-<NAME>-1...`, run through the plugin
        // binary) alike.
        let file = age::IdentityFile::from_buffer(&bytes[..]).map_err(|source| {
            VaultError::IdentityFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
        let ids =
            file.with_callbacks(PluginUi)
                .into_identities()
                .map_err(|source| match source {
                    age::DecryptError::PluginResolve(
                        age::plugin::ResolveError::MissingPlugin { binary_name },
                    ) => VaultError::PluginIdentityMissing {
                        path: path.to_path_buf(),
                        binary: binary_name,
                    },
                    source => VaultError::IdentityUnusable {
                        path: path.to_path_buf(),
                        source,
                    },
                })?;
        if ids.is_empty() {
            return Err(VaultError::NoIdentity {
                path: path.to_path_buf(),
            });
        }
        Ok(Self { ids })
    }

    /// Identities from text in memory (the content of an age identity file), e.g. a k-of-n
    /// object's key once its shares are combined.
    pub fn from_text(text: &str) -> Result<Self, VaultError> {
        let path = std::path::PathBuf::from("(in memory)");
        let file = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|source| {
            VaultError::IdentityFile {
                path: path.clone(),
                source,
            }
        })?;
        let ids = file
            .into_identities()
            .map_err(|source| VaultError::IdentityUnusable {
                path: path.clone(),
                source,
            })?;
        if ids.is_empty() {
            return Err(VaultError::NoIdentity { path });
        }
        Ok(Self { ids })
    }

    /// A passphrase identity (scrypt).
    pub fn passphrase(p: SecretString) -> Self {
        Self {
            ids: vec![Box::new(age::scrypt::Identity::new(p))],
        }
    }

    /// Decrypt an object (binary age, or ASCII-armored as `release` writes) into zeroizing
    /// memory.
    pub fn decrypt(&self, cipher: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let d = age::Decryptor::new(age::armor::ArmoredReader::new(cipher))
            .map_err(|source| VaultError::NotAnAgeFile { source })?;
        let mut r = d
            .decrypt(self.ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|source| VaultError::Decrypt { source })?;
        let mut out = Zeroizing::new(Vec::new());
        r.read_to_end(&mut out)
            .map_err(|source| VaultError::DecryptStream { source })?;
        Ok(out)
    }
}
