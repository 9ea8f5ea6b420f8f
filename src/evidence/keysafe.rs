//! The VMware key locator language (`vmware:key/...`), as found in `.vmx` `encryption.keySafe`,
//! `.vmdk` `encryptionKeys`, `crypto-util` output and the VCDB.
//!
//! Grammar (from govmomi's `crypto` package; KNOWN):
//!
//! ```text
//! keysafe  = "vmware:key/" locator                   ; prefix case-insensitive
//! locator  = type "/" body
//! atomic   = ("null" | "rawkey") "/" atom
//! indirect = "phrase/" id "/" atom
//!          | "ldap/" id "/" server "/" domain "/" port "/" ssl "/" path
//!          | "script/" id "/" relpath "/" signature
//!          | "role/" id "/" role
//!          | "fqid/" id "/" keyServerId "/" keyId
//! compound = "list/(" [locator ("," locator)*] ")"
//!          | "pair/(" locator "," macName "," base64 ")"
//! ```
//!
//! Atoms never contain a raw `/ , ( )`: every non-alphanumeric byte is `%xx`-escaped (either hex
//! case accepted), except the special atoms `<VMWARE-NULL>` and `<VMWARE-EMPTYSTRING>`. Type
//! names are case-insensitive.
//!
//! The parser keeps every atom and type name exactly as written, so `KeySafe::to_string`
//! gives back the input byte for byte. Errors carry the byte offset.

use std::fmt;

/// A parse error with the byte offset where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySafeError {
    /// Offset into the text.
    pub offset: usize,
    /// What was wrong.
    pub what: String,
}

impl fmt::Display for KeySafeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for KeySafeError {}

/// One atom, as written (still `%`-escaped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Atom<'a>(pub &'a str);

/// The value of an atom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AtomValue {
    /// `<VMWARE-NULL>`
    Null,
    /// Decoded bytes (`<VMWARE-EMPTYSTRING>` is empty).
    Bytes(Vec<u8>),
}

impl Atom<'_> {
    /// Decode `%xx` escapes and the special atoms.
    pub fn value(&self) -> AtomValue {
        match self.0 {
            "<VMWARE-NULL>" => AtomValue::Null,
            "<VMWARE-EMPTYSTRING>" => AtomValue::Bytes(Vec::new()),
            s => AtomValue::Bytes(unescape(s)),
        }
    }

    /// The decoded text (lossy UTF-8); `None` for `<VMWARE-NULL>`.
    pub fn text(&self) -> Option<String> {
        if !self.0.contains(['%', '<']) {
            return Some(self.0.to_string()); // nothing escaped: no decoding needed
        }
        match self.value() {
            AtomValue::Null => None,
            AtomValue::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        }
    }
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `%`-escape bytes the way VMware does: every byte that is not ASCII alphanumeric.
pub fn escape(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() + bytes.len() / 4);
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            s.push(char::from(b));
        } else {
            s.push('%');
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    s
}

/// Kinds of indirect locators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndirectKind {
    /// `phrase`: id / keyGenData
    Phrase,
    /// `ldap`: id / server / domain / port / useSSL / path
    Ldap,
    /// `script`: id / relPath / signature
    Script,
    /// `role`: id / role
    Role,
    /// `fqid`: id / keyServerId / keyId
    Fqid,
}

impl IndirectKind {
    fn fields(self) -> usize {
        match self {
            Self::Phrase | Self::Role => 2,
            Self::Script | Self::Fqid => 3,
            Self::Ldap => 6,
        }
    }
}

/// A key locator. `kind` keeps the type name as written (for byte-identical output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Locator<'a> {
    /// `null/<atom>` (the atom is normally empty).
    Null {
        /// Type name as written.
        kind: &'a str,
        /// Content.
        atom: Atom<'a>,
    },
    /// `rawkey/<atom>`.
    RawKey {
        /// Type name as written.
        kind: &'a str,
        /// Exported key (never printed by this tool).
        atom: Atom<'a>,
    },
    /// An indirect locator; `fields[0]` is the unique id.
    Indirect {
        /// Type name as written.
        kind: &'a str,
        /// Which one.
        which: IndirectKind,
        /// Its atoms.
        fields: Vec<Atom<'a>>,
    },
    /// `list/(...)`.
    List {
        /// Type name as written.
        kind: &'a str,
        /// Elements.
        items: Vec<Self>,
    },
    /// `pair/(locker,mac,data)`.
    Pair {
        /// Type name as written.
        kind: &'a str,
        /// The locator of the key that locks the data.
        locker: Box<Self>,
        /// MAC algorithm name (escaped).
        mac: Atom<'a>,
        /// Locked data, base64 (escaped).
        data: Atom<'a>,
    },
}

/// A whole `vmware:key/...` string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySafe<'a> {
    /// `vmware:key` as written (case preserved).
    pub prefix: &'a str,
    /// The locator.
    pub locator: Locator<'a>,
}

/// A fully-qualified key id found in a key safe: the NKP reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fqid {
    /// Unique id (normally `<VMWARE-NULL>`, i.e. `None`).
    pub unique_id: Option<String>,
    /// Key server id: the provider name for vSphere.
    pub key_server_id: Option<String>,
    /// Key id: for NKP, the base64 key-ID blob (unescaped).
    pub key_id: Option<String>,
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    depth: u32,
    nodes: usize,
}

const MAX_DEPTH: u32 = 32;

/// Most key locators in one keySafe. A real one holds a few (a list of one or two pairs); a
/// file planted with a list of a million items is refused instead of parsed into memory.
pub const MAX_LOCATORS: usize = 1024;

impl<'a> Parser<'a> {
    fn err(&self, what: impl Into<String>) -> KeySafeError {
        KeySafeError {
            offset: self.pos,
            what: what.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), KeySafeError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(format!(
                "expected '{}', found {}",
                char::from(c),
                self.peek()
                    .map(|b| format!("'{}'", char::from(b)))
                    .unwrap_or_else(|| "the end".into())
            )))
        }
    }

    /// An atom: everything up to a structural byte or the end.
    fn atom(&mut self) -> Atom<'a> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(c, b'/' | b',' | b'(' | b')') {
                break;
            }
            self.pos += 1;
        }
        Atom(&self.s[start..self.pos])
    }

    fn locator(&mut self) -> Result<Locator<'a>, KeySafeError> {
        if self.depth > MAX_DEPTH {
            return Err(self.err("key locator nested too deeply"));
        }
        self.nodes += 1;
        if self.nodes > MAX_LOCATORS {
            return Err(self.err(format!(
                "more than {MAX_LOCATORS} key locators in one keySafe (a real one has a few): refused"
            )));
        }
        let type_start = self.pos;
        let kind = self.atom().0;
        if kind.is_empty() {
            return Err(self.err("missing key locator type"));
        }
        self.expect(b'/')?;
        match kind.to_ascii_lowercase().as_str() {
            "null" => Ok(Locator::Null {
                kind,
                atom: self.atom(),
            }),
            "rawkey" => Ok(Locator::RawKey {
                kind,
                atom: self.atom(),
            }),
            t @ ("phrase" | "ldap" | "script" | "role" | "fqid") => {
                let which = match t {
                    "phrase" => IndirectKind::Phrase,
                    "ldap" => IndirectKind::Ldap,
                    "script" => IndirectKind::Script,
                    "role" => IndirectKind::Role,
                    _ => IndirectKind::Fqid,
                };
                let mut fields = vec![self.atom()];
                for _ in 1..which.fields() {
                    self.expect(b'/')?;
                    fields.push(self.atom());
                }
                Ok(Locator::Indirect {
                    kind,
                    which,
                    fields,
                })
            }
            "list" => {
                self.expect(b'(')?;
                self.depth += 1;
                let mut items = Vec::new();
                if self.peek() != Some(b')') {
                    loop {
                        items.push(self.locator()?);
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            _ => break,
                        }
                    }
                }
                self.depth -= 1;
                self.expect(b')')?;
                Ok(Locator::List { kind, items })
            }
            "pair" => {
                self.expect(b'(')?;
                self.depth += 1;
                let locker = Box::new(self.locator()?);
                self.depth -= 1;
                self.expect(b',')?;
                let mac = self.atom();
                self.expect(b',')?;
                let data = self.atom();
                self.expect(b')')?;
                Ok(Locator::Pair {
                    kind,
                    locker,
                    mac,
                    data,
                })
            }
            _ => Err(KeySafeError {
                offset: type_start,
                what: format!("unknown key locator type {kind:?}"),
            }),
        }
    }
}

impl<'a> KeySafe<'a> {
    /// Parse a whole `vmware:key/...` string.
    pub fn parse(s: &'a str) -> Result<Self, KeySafeError> {
        let slash = s.find('/').ok_or(KeySafeError {
            offset: 0,
            what: "no '/' after the vmware:key prefix".into(),
        })?;
        let prefix = &s[..slash];
        if !prefix.eq_ignore_ascii_case("vmware:key") {
            return Err(KeySafeError {
                offset: 0,
                what: format!("prefix is {prefix:?}, not vmware:key"),
            });
        }
        let mut p = Parser {
            s,
            pos: slash + 1,
            depth: 0,
            nodes: 0,
        };
        let locator = p.locator()?;
        if p.pos != s.len() {
            return Err(p.err("unexpected text after the key locator"));
        }
        Ok(KeySafe { prefix, locator })
    }

    /// Every fqid locator, depth first.
    pub fn fqids(&self) -> Vec<Fqid> {
        let mut out = Vec::new();
        collect_fqids(&self.locator, &mut out);
        out
    }
}

fn collect_fqids(l: &Locator<'_>, out: &mut Vec<Fqid>) {
    match l {
        Locator::Indirect {
            which: IndirectKind::Fqid,
            fields,
            ..
        } => out.push(Fqid {
            unique_id: fields.first().and_then(Atom::text),
            key_server_id: fields.get(1).and_then(Atom::text),
            key_id: fields.get(2).and_then(Atom::text),
        }),
        Locator::List { items, .. } => items.iter().for_each(|i| collect_fqids(i, out)),
        Locator::Pair { locker, .. } => collect_fqids(locker, out),
        _ => {}
    }
}

impl fmt::Display for Locator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locator::Null { kind, atom } | Locator::RawKey { kind, atom } => {
                write!(f, "{kind}/{}", atom.0)
            }
            Locator::Indirect { kind, fields, .. } => {
                write!(f, "{kind}")?;
                for a in fields {
                    write!(f, "/{}", a.0)?;
                }
                Ok(())
            }
            Locator::List { kind, items } => {
                write!(f, "{kind}/(")?;
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{it}")?;
                }
                f.write_str(")")
            }
            Locator::Pair {
                kind,
                locker,
                mac,
                data,
            } => write!(f, "{kind}/({locker},{},{})", mac.0, data.0),
        }
    }
}

impl fmt::Display for KeySafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.prefix, self.locator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "vmware:key/list/(pair/(fqid/<VMWARE-NULL>/NKP-PROD/ASEAAgEAbxwqfjudTiGkxQ2ej3prXAEIAAwAEAAgAAQAQUVTLTI1NgA0QfKTU04qRm3ASiPeHDPW0onhbjg%2bjJogccix1SWJtzFe4uZtHBtZnGYR7uCYkZP5gZ%2bUldovCdyPPkighgEA,HMAC%2dSHA%2d256,RWRuw4yQzOy5LegL9moEMG8HoTYUFCbiQFYerOJ8mEzdZqV2QkLZ%2bHb7dtR3K6Z5oVwXbnhjcWh%2bHpKnD7hW6d5i4aUW2dRIce2YD%2fvqtULmnyJBTPuM7dSaDe6Ou90G4x5DwBvLs8PHZTYLSjNc%2fuhjw32EYAiJ%2bPX%2boQwZwNo%3d))";

    #[test]
    fn parses_the_published_shape_and_prints_it_back() {
        let ks = KeySafe::parse(SAMPLE).unwrap();
        assert_eq!(ks.to_string(), SAMPLE);
        let f = ks.fqids();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].unique_id, None);
        assert_eq!(f[0].key_server_id.as_deref(), Some("NKP-PROD"));
        assert!(f[0].key_id.as_deref().unwrap().starts_with("ASEAAgEA"));
        assert!(f[0].key_id.as_deref().unwrap().contains('+'));
    }

    #[test]
    fn every_locator_type_and_either_hex_case() {
        for s in [
            "VMware:KEY/null/",
            "vmware:key/rawkey/AbC%2F",
            "vmware:key/phrase/id1/gen%2Fdata",
            "vmware:key/ldap/<VMWARE-NULL>/srv/dom/389/true/a%2fb",
            "vmware:key/script/id/rel%2Fpath/sig",
            "vmware:key/role/<VMWARE-NULL>/adminIdent",
            "vmware:key/LIST/()",
            "vmware:key/list/(null/,fqid/u/s/k,list/(role/x/server))",
        ] {
            let ks = KeySafe::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(ks.to_string(), s);
        }
        let ks = KeySafe::parse("vmware:key/fqid/<VMWARE-EMPTYSTRING>/NKP%2dA/k%2Bx%2by").unwrap();
        let f = &ks.fqids()[0];
        assert_eq!(f.unique_id.as_deref(), Some(""));
        assert_eq!(f.key_server_id.as_deref(), Some("NKP-A"));
        assert_eq!(f.key_id.as_deref(), Some("k+x+y"));
    }

    #[test]
    fn malformed_input_gives_an_offset() {
        let e = KeySafe::parse("vmware:key/list/(fqid/a/b/c").unwrap_err();
        assert_eq!(e.offset, 27); // the end, where ")" is missing
        let e = KeySafe::parse("vmware:key/bogus/x").unwrap_err();
        assert_eq!(e.offset, 11);
        assert!(KeySafe::parse("vmware:foo/null/").is_err());
        assert!(KeySafe::parse("vmware:key/fqid/a/b").is_err());
        assert!(KeySafe::parse("vmware:key/null/x)").is_err());
    }

    #[test]
    fn escape_round_trips() {
        let b = b"a+b/c=d-\x00\xff";
        let e = escape(b);
        let atom = Atom(&e);
        assert_eq!(atom.value(), AtomValue::Bytes(b.to_vec()));
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    /// Issue 10, item 9: a keySafe planted with a huge list is refused at the cap, not parsed
    /// into memory.
    #[test]
    fn a_list_of_too_many_locators_is_refused() {
        let item = "pair/(fqid/<VMWARE-NULL>/NKP/QUJD,HMAC%2dSHA%2d256,RWRu)";
        let at_cap = format!(
            "vmware:key/list/({})",
            vec![item; MAX_LOCATORS / 3].join(",")
        );
        assert!(KeySafe::parse(&at_cap).is_ok());
        let over = format!("vmware:key/list/({})", vec![item; MAX_LOCATORS].join(","));
        let err = KeySafe::parse(&over).expect_err("over the cap");
        assert!(err.to_string().contains("key locators"), "{err}");
    }
}
