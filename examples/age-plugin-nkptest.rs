//! `age-plugin-nkptest`: a minimal age plugin for nkp-escrow's tests, built from the `age-plugin`
//! crate so that the whole plugin protocol (recipient-v1 and identity-v1 state machines over
//! stdin/stdout) runs in CI. It is an example, never installed or shipped: it stands in for a
//! hardware plugin (YubiKey, TPM, Secure Enclave) whose device CI does not have.
//!
//! Its keys are X25519 keys in plugin dress: the recipient is `age1nkptest1<bech32 of the public
//! key>`, the identity `AGE-PLUGIN-NKPTEST-1<bech32 of the secret>`, and a file key is wrapped
//! as age's X25519 recipient does it, in a stanza of type `nkptest`.
//!
//! `age-plugin-nkptest --generate` prints a new identity, with its recipient in a comment, as
//! real plugins do.

#![forbid(unsafe_code)]
#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use std::collections::{HashMap, HashSet};
use std::io;

use age_core::format::{FileKey, Stanza};
use age_plugin::identity::{self, IdentityPluginV1};
use age_plugin::recipient::{self, RecipientPluginV1};
use age_plugin::{run_state_machine, Callbacks, PluginHandler};
use bech32::{Bech32, Hrp};
use secrecy::ExposeSecret;

const TAG: &str = "nkptest";

fn reencode(text: &str, hrp: &str) -> Option<String> {
    let (_, data) = bech32::decode(text).ok()?;
    bech32::encode::<Bech32>(Hrp::parse(hrp).ok()?, &data).ok()
}

/// The native X25519 recipient behind plugin recipient bytes.
fn native_recipient(bytes: &[u8]) -> Option<age::x25519::Recipient> {
    bech32::encode::<Bech32>(Hrp::parse("age").ok()?, bytes)
        .ok()?
        .parse()
        .ok()
}

/// The native X25519 identity behind plugin identity bytes.
fn native_identity(bytes: &[u8]) -> Option<age::x25519::Identity> {
    bech32::encode::<Bech32>(Hrp::parse("age-secret-key-").ok()?, bytes)
        .ok()?
        .to_ascii_uppercase()
        .parse()
        .ok()
}

#[derive(Default)]
struct Recipients(Vec<age::x25519::Recipient>);

impl RecipientPluginV1 for Recipients {
    fn add_recipient(
        &mut self,
        index: usize,
        _: &str,
        bytes: &[u8],
    ) -> Result<(), recipient::Error> {
        match native_recipient(bytes) {
            Some(r) => {
                self.0.push(r);
                Ok(())
            }
            None => Err(recipient::Error::Recipient {
                index,
                message: "not an nkptest recipient".into(),
            }),
        }
    }

    fn add_identity(&mut self, index: usize, _: &str, _: &[u8]) -> Result<(), recipient::Error> {
        Err(recipient::Error::Identity {
            index,
            message: "nkptest wraps to recipients only".into(),
        })
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        _: impl Callbacks<recipient::Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<recipient::Error>>> {
        let mut out = Vec::new();
        for key in &file_keys {
            let mut stanzas = Vec::new();
            for r in &self.0 {
                let (wrapped, _) = age::Recipient::wrap_file_key(r, key)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                stanzas.extend(wrapped.into_iter().map(|mut s| {
                    s.tag = TAG.into();
                    s
                }));
            }
            out.push(stanzas);
        }
        Ok(Ok(out))
    }
}

#[derive(Default)]
struct Identities(Vec<age::x25519::Identity>);

impl IdentityPluginV1 for Identities {
    fn add_identity(&mut self, index: usize, _: &str, bytes: &[u8]) -> Result<(), identity::Error> {
        match native_identity(bytes) {
            Some(i) => {
                self.0.push(i);
                Ok(())
            }
            None => Err(identity::Error::Identity {
                index,
                message: "not an nkptest identity".into(),
            }),
        }
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        _: impl Callbacks<identity::Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<identity::Error>>>> {
        let mut out = HashMap::new();
        for (n, stanzas) in files.into_iter().enumerate() {
            'file: for s in stanzas.into_iter().filter(|s| s.tag == TAG) {
                let native = Stanza {
                    tag: "X25519".into(),
                    args: s.args,
                    body: s.body,
                };
                for id in &self.0 {
                    if let Some(Ok(key)) = age::Identity::unwrap_stanza(id, &native) {
                        out.insert(n, Ok(key));
                        break 'file;
                    }
                }
            }
        }
        Ok(out)
    }
}

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = Recipients;
    type IdentityV1 = Identities;

    fn recipient_v1(self) -> io::Result<Self::RecipientV1> {
        Ok(Recipients::default())
    }

    fn identity_v1(self) -> io::Result<Self::IdentityV1> {
        Ok(Identities::default())
    }
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(sm) = args.iter().find_map(|a| a.strip_prefix("--age-plugin=")) {
        return run_state_machine(sm, Handler);
    }
    if args.iter().any(|a| a == "--generate") {
        let id = age::x25519::Identity::generate();
        let secret = id.to_string();
        let identity = reencode(secret.expose_secret(), "age-plugin-nkptest-")
            .map(|s| s.to_ascii_uppercase())
            .ok_or_else(|| io::Error::other("cannot encode the identity"))?;
        let recipient = reencode(&id.to_public().to_string(), "age1nkptest")
            .ok_or_else(|| io::Error::other("cannot encode the recipient"))?;
        println!("# recipient: {recipient}");
        println!("{identity}");
        return Ok(());
    }
    eprintln!(
        "age-plugin-nkptest: a test plugin for nkp-escrow; run by age clients, or with --generate"
    );
    Err(io::Error::other("no state machine given"))
}
