//! A small, bounded BER/DER reader.
//!
//! PKCS#12 files in the wild are DER (OpenSSL), BER with indefinite lengths (Java, NSS and
//! some appliances), and sometimes constructed OCTET STRINGs split in chunks. This reader
//! accepts all of them and is written for hostile input:
//!
//! - it never allocates more than the input it was given (lengths are checked against the
//!   bytes actually present before anything is sliced; constructed strings are concatenated
//!   from bytes that exist);
//! - nesting is capped at [`MAX_DEPTH`], so indefinite-length recursion cannot overflow the
//!   stack;
//! - every failure is a [`DerError`], never a panic.
//!
//! It deliberately knows nothing of PKCS#12: the walker (`pfx.rs`) gives the bytes meaning.

use std::borrow::Cow;
use std::fmt;

/// Deepest nesting accepted. Real PKCS#12 files nest about 12 levels deep.
pub const MAX_DEPTH: u32 = 48;

/// Tag classes of BER identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Universal (SEQUENCE, OCTET STRING, ...).
    Universal,
    /// Application-specific.
    Application,
    /// Context-specific (`[0]`, `[1]`, ...).
    Context,
    /// Private.
    Private,
}

/// Universal tag numbers used by this crate.
pub mod tag {
    /// BOOLEAN
    pub const BOOLEAN: u32 = 1;
    /// INTEGER
    pub const INTEGER: u32 = 2;
    /// BIT STRING
    pub const BIT_STRING: u32 = 3;
    /// OCTET STRING
    pub const OCTET_STRING: u32 = 4;
    /// NULL
    pub const NULL: u32 = 5;
    /// OBJECT IDENTIFIER
    pub const OID: u32 = 6;
    /// UTF8String
    pub const UTF8_STRING: u32 = 12;
    /// SEQUENCE
    pub const SEQUENCE: u32 = 16;
    /// SET
    pub const SET: u32 = 17;
    /// PrintableString
    pub const PRINTABLE_STRING: u32 = 19;
    /// T61String
    pub const T61_STRING: u32 = 20;
    /// IA5String
    pub const IA5_STRING: u32 = 22;
    /// UTCTime
    pub const UTC_TIME: u32 = 23;
    /// GeneralizedTime
    pub const GENERALIZED_TIME: u32 = 24;
    /// BMPString
    pub const BMP_STRING: u32 = 30;
}

/// Why bytes could not be read as BER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DerError {
    /// A length runs past the end of the data: the file was cut short.
    Truncated {
        /// Offset of the element whose length did not fit.
        offset: usize,
    },
    /// The bytes are not BER, or not the element that was expected here.
    Malformed {
        /// Offset of the offending element.
        offset: usize,
        /// What was wrong, in words.
        what: String,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep {
        /// Offset where the limit was reached.
        offset: usize,
    },
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { offset } => {
                write!(
                    f,
                    "data ends before the element at byte {offset} is complete"
                )
            }
            Self::Malformed { offset, what } => write!(f, "{what} (at byte {offset})"),
            Self::TooDeep { offset } => {
                write!(f, "nesting deeper than {MAX_DEPTH} levels at byte {offset}")
            }
        }
    }
}

impl std::error::Error for DerError {}

/// One BER element: identifier, and the content bytes it spans.
#[derive(Clone, Copy)]
pub struct Tlv<'a> {
    /// Tag class.
    pub class: Class,
    /// Constructed (true) or primitive.
    pub constructed: bool,
    /// Tag number.
    pub number: u32,
    /// Content octets (for an indefinite length: up to, not including, the end-of-contents).
    pub value: &'a [u8],
    /// Absolute offset of the identifier octet in the outermost buffer.
    pub offset: usize,
    /// Absolute offset of the first content octet.
    pub value_offset: usize,
    /// The whole encoding (identifier, length, content, end-of-contents).
    pub raw: &'a [u8],
    /// Nesting depth of this element.
    pub depth: u32,
}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Content may be secret: show shape only.
        write!(
            f,
            "Tlv({:?} {}{} len={} @{})",
            self.class,
            self.number,
            if self.constructed { " cons" } else { "" },
            self.value.len(),
            self.offset
        )
    }
}

/// Sequential reader over a run of BER elements.
#[derive(Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// A reader over a whole buffer (offsets are relative to it).
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            base: 0,
            depth: 0,
        }
    }

    /// A reader over the content of a constructed element.
    pub fn children(tlv: &Tlv<'a>) -> Self {
        Reader {
            data: tlv.value,
            pos: 0,
            base: tlv.value_offset,
            depth: tlv.depth + 1,
        }
    }

    /// True when every element has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Absolute offset of the next element.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn malformed(&self, at: usize, what: impl Into<String>) -> DerError {
        DerError::Malformed {
            offset: self.base + at,
            what: what.into(),
        }
    }

    /// Read the next element.
    pub fn read(&mut self) -> Result<Tlv<'a>, DerError> {
        if self.depth > MAX_DEPTH {
            return Err(DerError::TooDeep {
                offset: self.offset(),
            });
        }
        let start = self.pos;
        let d = self.data;
        let at = |i: usize| -> Result<u8, DerError> {
            d.get(i).copied().ok_or(DerError::Truncated {
                offset: self.base + start,
            })
        };
        let id = at(start)?;
        let class = match id >> 6 {
            0 => Class::Universal,
            1 => Class::Application,
            2 => Class::Context,
            _ => Class::Private,
        };
        let constructed = id & 0x20 != 0;
        let mut p = start + 1;
        let mut number = u32::from(id & 0x1f);
        if number == 0x1f {
            number = 0;
            for i in 0.. {
                let b = at(p)?;
                p += 1;
                if i >= 4 {
                    return Err(self.malformed(start, "tag number too large"));
                }
                number = (number << 7) | u32::from(b & 0x7f);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        let first = at(p)?;
        p += 1;
        if first == 0x80 {
            if !constructed {
                return Err(self.malformed(start, "indefinite length on a primitive element"));
            }
            // Walk children until the end-of-contents marker.
            let mut inner = Reader {
                data: d,
                pos: p,
                base: self.base,
                depth: self.depth + 1,
            };
            loop {
                if d.get(inner.pos..inner.pos + 2) == Some(&[0, 0][..]) {
                    let value_end = inner.pos;
                    let end = inner.pos + 2;
                    let (Some(value), Some(raw)) = (d.get(p..value_end), d.get(start..end)) else {
                        return Err(DerError::Truncated {
                            offset: self.base + start,
                        });
                    };
                    self.pos = end;
                    return Ok(Tlv {
                        class,
                        constructed,
                        number,
                        value,
                        offset: self.base + start,
                        value_offset: self.base + p,
                        raw,
                        depth: self.depth,
                    });
                }
                if inner.pos >= d.len() {
                    return Err(DerError::Truncated {
                        offset: self.base + start,
                    });
                }
                inner.read()?;
            }
        }
        let len = if first & 0x80 == 0 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n > 8 {
                return Err(self.malformed(start, "length field longer than 8 bytes"));
            }
            let mut len: u64 = 0;
            for _ in 0..n {
                len = (len << 8) | u64::from(at(p)?);
                p += 1;
            }
            usize::try_from(len).map_err(|_| DerError::Truncated {
                offset: self.base + start,
            })?
        };
        let end = p.checked_add(len).ok_or(DerError::Truncated {
            offset: self.base + start,
        })?;
        // `p <= end`: both slices exist exactly when `end` is within the data.
        let (Some(value), Some(raw)) = (d.get(p..end), d.get(start..end)) else {
            return Err(DerError::Truncated {
                offset: self.base + start,
            });
        };
        self.pos = end;
        Ok(Tlv {
            class,
            constructed,
            number,
            value,
            offset: self.base + start,
            value_offset: self.base + p,
            raw,
            depth: self.depth,
        })
    }

    /// Read the next element and require a universal tag `number`.
    pub fn require(&mut self, number: u32, what: &str) -> Result<Tlv<'a>, DerError> {
        let at = self.pos;
        let t = self.read()?;
        if t.class != Class::Universal || t.number != number {
            return Err(self.malformed(at, format!("expected {what}, found {}", t.describe())));
        }
        Ok(t)
    }

    /// Read the next element if it is context-specific `[n]`.
    pub fn optional_context(&mut self, n: u32) -> Result<Option<Tlv<'a>>, DerError> {
        if self.is_empty() {
            return Ok(None);
        }
        let save = self.pos;
        let t = self.read()?;
        if t.class == Class::Context && t.number == n {
            Ok(Some(t))
        } else {
            self.pos = save;
            Ok(None)
        }
    }

    /// Peek at the next element without consuming it.
    pub fn peek(&self) -> Result<Tlv<'a>, DerError> {
        self.clone().read()
    }
}

impl<'a> Tlv<'a> {
    /// A short name of the element's type, for messages.
    pub fn describe(&self) -> String {
        match (self.class, self.number) {
            (Class::Universal, tag::SEQUENCE) => "SEQUENCE".into(),
            (Class::Universal, tag::SET) => "SET".into(),
            (Class::Universal, tag::OCTET_STRING) => "OCTET STRING".into(),
            (Class::Universal, tag::INTEGER) => "INTEGER".into(),
            (Class::Universal, tag::OID) => "OBJECT IDENTIFIER".into(),
            (Class::Universal, tag::NULL) => "NULL".into(),
            (Class::Universal, tag::BMP_STRING) => "BMPString".into(),
            (Class::Universal, tag::UTF8_STRING) => "UTF8String".into(),
            (Class::Universal, n) => format!("universal tag {n}"),
            (Class::Context, n) => format!("[{n}]"),
            (c, n) => format!("{c:?} tag {n}"),
        }
    }

    fn malformed(&self, what: impl Into<String>) -> DerError {
        DerError::Malformed {
            offset: self.offset,
            what: what.into(),
        }
    }

    /// True for a universal element with tag `number`.
    pub fn is(&self, number: u32) -> bool {
        self.class == Class::Universal && self.number == number
    }

    /// A reader over the children of this constructed element.
    pub fn reader(&self) -> Result<Reader<'a>, DerError> {
        if !self.constructed {
            return Err(self.malformed(format!("expected a constructed {}", self.describe())));
        }
        Ok(Reader::children(self))
    }

    /// The single element inside an EXPLICIT tag.
    pub fn explicit_inner(&self) -> Result<Self, DerError> {
        let mut r = self.reader()?;
        r.read()
    }

    /// Octets of an OCTET STRING (or an IMPLICIT-tagged one): primitive bytes borrowed,
    /// BER constructed chunks concatenated (bounded by the input size).
    pub fn octets(&self) -> Result<Cow<'a, [u8]>, DerError> {
        if !self.constructed {
            return Ok(Cow::Borrowed(self.value));
        }
        let mut out = Vec::with_capacity(self.value.len());
        self.collect_octets(&mut out)?;
        Ok(Cow::Owned(out))
    }

    fn collect_octets(&self, out: &mut Vec<u8>) -> Result<(), DerError> {
        let mut r = self.reader()?;
        while !r.is_empty() {
            let c = r.read()?;
            if !c.is(tag::OCTET_STRING) {
                return Err(c.malformed("constructed OCTET STRING holds a non-OCTET STRING chunk"));
            }
            if c.constructed {
                c.collect_octets(out)?;
            } else {
                out.extend_from_slice(c.value);
            }
        }
        Ok(())
    }

    /// A non-negative INTEGER that fits in u64.
    pub fn uint(&self) -> Result<u64, DerError> {
        if !self.is(tag::INTEGER) || self.constructed {
            return Err(self.malformed(format!("expected INTEGER, found {}", self.describe())));
        }
        let v = self.value;
        let Some((&first, rest)) = v.split_first() else {
            return Err(self.malformed("empty INTEGER"));
        };
        if first & 0x80 != 0 {
            return Err(self.malformed("negative INTEGER"));
        }
        let v = if !rest.is_empty() && first == 0 {
            rest
        } else {
            v
        };
        if v.len() > 8 {
            return Err(self.malformed("INTEGER larger than 64 bits"));
        }
        Ok(v.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
    }

    /// Bit length of a non-negative INTEGER of any size (RSA moduli).
    pub fn uint_bits(&self) -> Result<usize, DerError> {
        if !self.is(tag::INTEGER) || self.value.is_empty() {
            return Err(self.malformed("expected INTEGER"));
        }
        let v = self.value;
        let skip = v.iter().take_while(|b| **b == 0).count();
        let v = v.get(skip..).unwrap_or_default();
        Ok(match v.first() {
            None => 0,
            Some(b) => (v.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
        })
    }

    /// Dotted text of an OBJECT IDENTIFIER.
    pub fn oid(&self) -> Result<String, DerError> {
        if !self.is(tag::OID) || self.constructed {
            return Err(self.malformed(format!(
                "expected OBJECT IDENTIFIER, found {}",
                self.describe()
            )));
        }
        oid_to_string(self.value).ok_or_else(|| self.malformed("invalid OBJECT IDENTIFIER"))
    }

    /// Text of a string type (UTF8String, PrintableString, IA5String, BMPString, ...).
    pub fn text(&self) -> Option<String> {
        if self.class != Class::Universal {
            return None;
        }
        let bytes = if self.constructed {
            self.octets_any().ok()?
        } else {
            Cow::Borrowed(self.value)
        };
        match self.number {
            tag::BMP_STRING => decode_bmp(&bytes),
            tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING | 26 => {
                String::from_utf8(bytes.into_owned()).ok()
            }
            tag::T61_STRING => Some(bytes.iter().map(|b| char::from(*b)).collect()),
            _ => None,
        }
    }

    fn octets_any(&self) -> Result<Cow<'a, [u8]>, DerError> {
        let mut out = Vec::new();
        let mut r = self.reader()?;
        while !r.is_empty() {
            out.extend_from_slice(r.read()?.value);
        }
        Ok(Cow::Owned(out))
    }
}

/// Decode a BMPString (UTF-16BE), dropping one trailing NUL as some writers add it.
pub fn decode_bmp(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let (pairs, _) = bytes.as_chunks::<2>();
    let units: Vec<u16> = pairs.iter().map(|c| u16::from_be_bytes(*c)).collect();
    let mut s = String::from_utf16(&units).ok()?;
    if s.ends_with('\0') {
        s.pop();
    }
    Some(s)
}

/// Dotted text of the content octets of an OBJECT IDENTIFIER.
pub fn oid_to_string(v: &[u8]) -> Option<String> {
    if v.is_empty() || v.len() > 64 {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut cur: u64 = 0;
    let mut in_arc = false;
    for &b in v {
        if cur > (u64::MAX >> 7) {
            return None;
        }
        cur = (cur << 7) | u64::from(b & 0x7f);
        in_arc = b & 0x80 != 0;
        if !in_arc {
            arcs.push(cur);
            cur = 0;
        }
    }
    if in_arc {
        return None;
    }
    let (&first, rest) = arcs.split_first()?;
    let (a, b) = if first < 40 {
        (0, first)
    } else if first < 80 {
        (1, first - 40)
    } else {
        (2, first - 80)
    };
    let mut s = format!("{a}.{b}");
    for x in rest {
        s.push('.');
        s.push_str(&x.to_string());
    }
    Some(s)
}

/// A minimal DER writer, used by the fixture generator and the tests.
// Writer side: encodes trusted constants and fixtures, so indexing and `expect` are fine.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
pub mod write {
    /// Encode one element with a definite length.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes = (n as u64).to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (8 - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }
    /// SEQUENCE of already-encoded elements.
    pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &items.concat())
    }
    /// SET of already-encoded elements.
    pub fn set(items: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x31, &items.concat())
    }
    /// OCTET STRING.
    pub fn octets(v: &[u8]) -> Vec<u8> {
        tlv(0x04, v)
    }
    /// `[n]` EXPLICIT around one element.
    pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
        tlv(0xa0 | n, inner)
    }
    /// Non-negative INTEGER.
    pub fn uint(v: u64) -> Vec<u8> {
        let bytes = v.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
        let mut c = bytes[skip..].to_vec();
        if c[0] & 0x80 != 0 {
            c.insert(0, 0);
        }
        tlv(0x02, &c)
    }
    /// NULL.
    pub fn null() -> Vec<u8> {
        vec![0x05, 0x00]
    }
    /// BMPString of `s`.
    pub fn bmp(s: &str) -> Vec<u8> {
        let b: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        tlv(0x1e, &b)
    }
    /// UTF8String.
    pub fn utf8(s: &str) -> Vec<u8> {
        tlv(0x0c, s.as_bytes())
    }
    /// OBJECT IDENTIFIER from dotted text. Panics on a malformed literal (writer side only,
    /// called with constants).
    pub fn oid(dotted: &str) -> Vec<u8> {
        let arcs: Vec<u64> = dotted
            .split('.')
            .map(|a| a.parse().expect("numeric OID arc"))
            .collect();
        let mut c = Vec::new();
        let mut push = |mut v: u64| {
            let mut tmp = vec![(v & 0x7f) as u8];
            v >>= 7;
            while v > 0 {
                tmp.push(0x80 | (v & 0x7f) as u8);
                v >>= 7;
            }
            tmp.reverse();
            c.extend_from_slice(&tmp);
        };
        push(arcs[0] * 40 + arcs[1]);
        for a in &arcs[2..] {
            push(*a);
        }
        tlv(0x06, &c)
    }

    /// Re-encode DER as BER with indefinite lengths on every constructed element, and
    /// OCTET STRINGs longer than `chunk` split into constructed chunks. Used to make BER
    /// fixtures. Input must be valid DER.
    pub fn to_ber_indefinite(der: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut r = super::Reader::new(der);
        while !r.is_empty() {
            let Ok(t) = r.read() else { break };
            let id = t.raw[0];
            if t.constructed {
                out.push(id);
                out.push(0x80);
                out.extend_from_slice(&to_ber_indefinite(t.value, chunk));
                out.extend_from_slice(&[0, 0]);
            } else if id == 0x04 && t.value.len() > chunk {
                out.extend_from_slice(&[0x24, 0x80]);
                for c in t.value.chunks(chunk) {
                    out.extend_from_slice(&octets(c));
                }
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(t.raw);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_definite_and_indefinite_lengths_alike() {
        let der = write::seq(&[write::uint(5), write::octets(&[1, 2, 3, 4, 5, 6])]);
        let ber = write::to_ber_indefinite(&der, 2);
        for bytes in [&der, &ber] {
            let t = Reader::new(bytes).read().unwrap();
            let mut r = t.reader().unwrap();
            assert_eq!(r.read().unwrap().uint().unwrap(), 5);
            assert_eq!(&*r.read().unwrap().octets().unwrap(), &[1, 2, 3, 4, 5, 6]);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn length_past_end_is_truncated_not_allocated() {
        // SEQUENCE claiming 4 GiB of content.
        let bytes = [0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert!(matches!(
            Reader::new(&bytes).read(),
            Err(DerError::Truncated { .. })
        ));
    }

    #[test]
    fn deep_indefinite_nesting_is_refused() {
        let mut bytes = Vec::new();
        for _ in 0..10_000 {
            bytes.extend_from_slice(&[0x30, 0x80]);
        }
        assert!(Reader::new(&bytes).read().is_err());
    }

    #[test]
    fn oid_round_trip() {
        for o in [
            crate::oid::SECRET_BAG,
            crate::oid::AES_256_CBC,
            crate::oid::SHA1,
        ] {
            let enc = write::oid(o);
            assert_eq!(Reader::new(&enc).read().unwrap().oid().unwrap(), o);
        }
    }

    #[test]
    fn bmp_strings_decode_with_or_without_trailing_nul() {
        assert_eq!(decode_bmp(&[0, b'N', 0, b'K', 0, 0]).unwrap(), "NK");
        assert_eq!(decode_bmp(&[0, b'N']).unwrap(), "N");
        assert!(decode_bmp(&[0]).is_none());
    }
}
