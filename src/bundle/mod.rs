//! vCenter file-based (VAMI) backup bundles: find the Native Key Providers inside, streaming.
//!
//! KNOWN: a backup is a folder `M_<version>_<YYYYMMDD-HHMMSS>_` with a readable
//! `backup-metadata.json` and part files, encrypted when a backup password was set. UNKNOWN: the
//! part names, the cipher, where the providers live in the VCDB dump. So every part is sniffed
//! by content (`Salted__`, gzip, tar, PKCS#12, text) and searched while streaming, nothing is
//! extracted to disk, and what was found (or only seen) is reported with the part and member:
//!
//! - `Salted__` parts are decrypted with the backup password, trying AES-256-CBC with
//!   EVP_BytesToKey over MD5 or SHA-256 and PBKDF2-HMAC-SHA256 (10,000 and 100,000 iterations),
//!   the scheme confirmed by the plaintext's magic bytes;
//! - gzip and tar are unpacked on the fly (nested up to 3 levels);
//! - members that are PKCS#12 are inspected with the .p12 reader; ConfigStore JSON is read like
//!   `evidence`; VCDB dump text (`COPY ... FROM stdin` blocks, `INSERT` statements) of tables
//!   whose names or columns name a provider/kms/crypto concept yields provider names and
//!   key_ids; a KDK column present but encrypted is reported as "NKP data present, not
//!   enumerable".
//!
//! Caps: decompressed bytes (a gzip bomb is refused by its expansion ratio), member count,
//! member size read into memory.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use serde::Serialize;

use crate::codes::ErrorCode;
use crate::nkp::{is_uuid_text, FieldSources, ProviderRecord};
use crate::secret::Password;

/// Who makes sense of the members a bundle holds. The bundle reader decrypts, decompresses
/// and streams; it hands each embedded PKCS#12 file and each JSON document to the sink and
/// knows nothing of how they are read (as ripgrep's searcher hands matches to a `Sink`).
pub trait MemberSink {
    /// An embedded PKCS#12 file (its bytes may hold keys: do not keep them). Returns the
    /// providers it holds, and a note when it could not be read.
    fn pkcs12(
        &mut self,
        member: &str,
        bytes: &[u8],
        passwords: &[Password],
    ) -> (Vec<ProviderRecord>, Option<String>);
    /// A JSON document. Returns the (provider name, key_id) pairs it states.
    fn json(&mut self, member: &str, text: &str) -> Vec<(Option<String>, Option<String>)>;
}

/// An error while reading a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// In words, naming the bundle and the part.
    pub message: String,
}

/// What a bundle holds.
#[derive(Debug)]
pub struct BundleReport {
    /// The bundle as named by the caller.
    pub path: String,
    /// Bytes of all parts.
    pub size: u64,
    /// Providers found, in the order met.
    pub providers: Vec<ProviderRecord>,
    /// What was seen but not enumerable, and member problems.
    pub notes: Vec<String>,
    /// The first failure, if any.
    pub error: Option<BundleError>,
    /// Metadata and parts.
    pub info: BundleInfo,
}

/// A failure raised inside the streaming readers, carried through `std::io::Error` (the
/// `Read` trait's error type) as a typed source, never as text to parse back.
#[derive(Debug)]
struct Coded(ErrorCode, String);

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for Coded {}

fn coded_io(code: ErrorCode, message: impl Into<String>) -> std::io::Error {
    std::io::Error::other(Coded(code, message.into()))
}

/// The [`Coded`] failure behind an I/O error, looking through the wrappers that gzip and tar
/// put around the errors of the readers beneath them.
fn coded(e: &std::io::Error) -> Option<&Coded> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> =
        e.get_ref().map(|x| x as &(dyn std::error::Error + 'static));
    for _ in 0..16 {
        let err = cur?;
        if let Some(c) = err.downcast_ref::<Coded>() {
            return Some(c);
        }
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// Caps of the bundle reader.
#[derive(Clone, Debug)]
pub struct BundleLimits {
    /// Largest total of decompressed bytes read from one bundle.
    pub max_decompressed: u64,
    /// Refuse a gzip stream expanding more than this many times (after `ratio_floor` bytes).
    pub max_ratio: u64,
    /// Bytes out before the ratio check applies.
    pub ratio_floor: u64,
    /// Most tar members per bundle.
    pub max_members: usize,
    /// Largest member read into memory (.p12 and JSON members).
    pub max_member_read: u64,
}

impl Default for BundleLimits {
    fn default() -> Self {
        Self {
            max_decompressed: 512 << 30,
            max_ratio: 200,
            ratio_floor: 64 << 20,
            max_members: 1_000_000,
            max_member_read: 64 << 20,
        }
    }
}

/// What one part turned out to be.
#[derive(Clone, Debug, Serialize, Default)]
pub struct PartInfo {
    /// Part file name.
    pub name: String,
    /// Bytes on disk.
    pub size: u64,
    /// `Salted__` (openssl enc) encrypted.
    pub encrypted: bool,
    /// The scheme that decrypted it.
    pub scheme: Option<String>,
    /// Layers found: gzip, tar, pkcs12, text...
    pub layers: Vec<String>,
    /// Members scanned.
    pub members: usize,
    /// Decompressed bytes read.
    pub bytes_out: u64,
}

/// The `vcsa` section of an input report.
#[derive(Clone, Debug, Serialize, Default)]
pub struct BundleInfo {
    /// `backup-metadata.json`, as read (unknown fields kept).
    pub metadata: Option<serde_json::Value>,
    /// Version from the folder name `M_<version>_<timestamp>_`.
    pub folder_version: Option<String>,
    /// Timestamp from the folder name.
    pub folder_timestamp: Option<String>,
    /// Every part.
    pub parts: Vec<PartInfo>,
}

struct Ctx<'a> {
    passwords: &'a [Password],
    limits: &'a BundleLimits,
    sink: &'a mut dyn MemberSink,
    providers: Vec<ProviderRecord>,
    notes: Vec<String>,
    members: usize,
}

impl<'a> Ctx<'a> {
    fn new(
        passwords: &'a [Password],
        limits: &'a BundleLimits,
        sink: &'a mut dyn MemberSink,
    ) -> Self {
        Ctx {
            passwords,
            limits,
            sink,
            providers: Vec::new(),
            notes: Vec::new(),
            members: 0,
        }
    }
}

/// Decrypt (if `Salted__`) and scan one part.
fn scan_part(
    name: &str,
    size: u64,
    reader: Box<dyn Read + '_>,
    ctx: &mut Ctx<'_>,
) -> (PartInfo, Result<(), Fail>) {
    let mut part = PartInfo {
        name: name.to_string(),
        size,
        ..PartInfo::default()
    };
    let br = BufReader::with_capacity(256 * 1024, reader);
    let res = decrypt_if_salted(br, &mut part, ctx)
        .and_then(|plain| scan_stream(name, plain, 0, &mut part, ctx));
    (part, res)
}

#[derive(Debug)]
enum Fail {
    Code(ErrorCode, String),
}

fn fail(code: ErrorCode, msg: impl Into<String>) -> Fail {
    Fail::Code(code, msg.into())
}

/// Counts bytes and enforces the decompression caps.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

/// gzip output with the ratio and total caps.
struct Capped<'a, R> {
    inner: R,
    compressed: std::rc::Rc<std::cell::Cell<u64>>,
    out: u64,
    limits: &'a BundleLimits,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.out += k as u64;
        let c = self.compressed.get().max(1);
        if self.out > self.limits.max_decompressed
            || (self.out > self.limits.ratio_floor && self.out / c > self.limits.max_ratio)
        {
            return Err(coded_io(
                ErrorCode::LimitsExceeded,
                format!(
                    "{} bytes out of {} compressed (ratio cap {}x, total cap {} bytes): a decompression bomb?",
                    self.out, c, self.limits.max_ratio, self.limits.max_decompressed
                ),
            ));
        }
        Ok(k)
    }
}

struct CountInto<R> {
    inner: R,
    n: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for CountInto<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get() + k as u64);
        Ok(k)
    }
}

/// Streaming AES-256-CBC decryption with PKCS#7 padding removed at the end.
struct CbcReader<R> {
    inner: R,
    dec: cbc::Decryptor<aes::Aes256>,
    pending: Vec<u8>,
    ready: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<R: Read> Read for CbcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.ready.len() && !self.eof {
            let mut chunk = vec![0u8; 64 * 1024];
            let k = self.inner.read(&mut chunk)?;
            if k == 0 {
                self.eof = true;
            }
            self.pending.extend_from_slice(&chunk[..k]);
            // Keep the last block back until the end (it carries the padding).
            let keep = if self.eof { 0 } else { 16 };
            let usable = self.pending.len().saturating_sub(keep) / 16 * 16;
            let mut blocks: Vec<u8> = self.pending.drain(..usable).collect();
            for b in blocks.chunks_exact_mut(16) {
                self.dec.decrypt_block_mut(aes::Block::from_mut_slice(b));
            }
            if self.eof {
                if !self.pending.is_empty() {
                    return Err(coded_io(
                        ErrorCode::Truncated,
                        "ciphertext is not a whole number of blocks",
                    ));
                }
                let pad = blocks.last().copied().unwrap_or(0) as usize;
                if pad == 0
                    || pad > 16
                    || pad > blocks.len()
                    || !blocks[blocks.len() - pad..]
                        .iter()
                        .all(|&p| p as usize == pad)
                {
                    return Err(coded_io(
                        ErrorCode::WrongPassword,
                        "bad padding at the end of the encrypted part",
                    ));
                }
                blocks.truncate(blocks.len() - pad);
            }
            self.ready = blocks;
            self.pos = 0;
        }
        let n = buf.len().min(self.ready.len() - self.pos);
        buf[..n].copy_from_slice(&self.ready[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn evp_bytes_to_key<D: sha2::Digest>(pass: &[u8], salt: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::new());
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < 48 {
        let mut h = D::new();
        h.update(&prev);
        h.update(pass);
        h.update(salt);
        prev = h.finalize().to_vec();
        out.extend_from_slice(&prev);
    }
    out.truncate(48);
    out
}

/// The schemes tried on a `Salted__` part, in order.
const SCHEMES: &[&str] = &[
    "aes-256-cbc, EVP_BytesToKey SHA-256",
    "aes-256-cbc, EVP_BytesToKey MD5",
    "aes-256-cbc, PBKDF2-HMAC-SHA256 10000",
    "aes-256-cbc, PBKDF2-HMAC-SHA256 100000",
];

fn derive(scheme: usize, pass: &[u8], salt: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    match scheme {
        0 => evp_bytes_to_key::<sha2::Sha256>(pass, salt),
        1 => evp_bytes_to_key::<md5::Md5>(pass, salt),
        _ => {
            let rounds = if scheme == 2 { 10_000 } else { 100_000 };
            let mut k = zeroize::Zeroizing::new(vec![0u8; 48]);
            let _ = pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha256>>(pass, salt, rounds, &mut k);
            k
        }
    }
}

/// Plaintext that something downstream recognises.
fn known_magic(p: &[u8]) -> bool {
    p.starts_with(&[0x1f, 0x8b])
        || (p.len() > 262 && &p[257..262] == b"ustar")
        || nkp_pkcs12::looks_like_pfx(p)
        || p.iter()
            .take(64)
            .all(|b| b.is_ascii() && (*b >= 0x20 || b"\r\n\t".contains(b)))
}

/// Open one part: decrypt if `Salted__`, then return a stream of its plaintext.
fn decrypt_if_salted<'a>(
    mut r: BufReader<Box<dyn Read + 'a>>,
    info: &mut PartInfo,
    ctx: &Ctx<'_>,
) -> Result<Box<dyn Read + 'a>, Fail> {
    let head = r
        .fill_buf()
        .map_err(|e| fail(ErrorCode::Io, e.to_string()))?;
    if !head.starts_with(b"Salted__") {
        return Ok(Box::new(r));
    }
    info.encrypted = true;
    let mut hdr = [0u8; 16];
    r.read_exact(&mut hdr).map_err(|_| {
        fail(
            ErrorCode::Truncated,
            "encrypted part shorter than its header",
        )
    })?;
    let salt = hdr[8..16].to_vec();
    let mut first = vec![0u8; 528];
    let mut n = 0;
    while n < first.len() {
        match r.read(&mut first[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(fail(ErrorCode::Io, e.to_string())),
        }
    }
    first.truncate(n / 16 * 16);
    let mut candidates: Vec<&Password> = ctx.passwords.iter().filter(|p| !p.is_blank()).collect();
    if candidates.is_empty() {
        return Err(fail(
            ErrorCode::PasswordRequired,
            format!("{}: the part is encrypted (openssl enc, Salted__): give the backup password with --password-file/--password-env/--password-stdin", info.name),
        ));
    }
    candidates.dedup_by(|a, b| a.utf8() == b.utf8());
    for p in candidates {
        for (si, name) in SCHEMES.iter().enumerate() {
            let kiv = derive(si, p.utf8(), &salt);
            let Ok(mut dec) =
                cbc::Decryptor::<aes::Aes256>::new_from_slices(&kiv[..32], &kiv[32..48])
            else {
                continue;
            };
            let mut probe = first.clone();
            let mut probe_dec = dec.clone();
            for b in probe.chunks_exact_mut(16) {
                probe_dec.decrypt_block_mut(aes::Block::from_mut_slice(b));
            }
            if !known_magic(&probe) {
                continue;
            }
            info.scheme = Some(format!("{name} (password: {})", p.origin));
            // Restart with a fresh decryptor over the buffered first blocks and the rest.
            let _ = &mut dec;
            let fresh = cbc::Decryptor::<aes::Aes256>::new_from_slices(&kiv[..32], &kiv[32..48])
                .map_err(|_| fail(ErrorCode::Unsupported, "key setup failed"))?;
            let chained: Box<dyn Read + 'a> = Box::new(std::io::Cursor::new(first).chain(r));
            return Ok(Box::new(CbcReader {
                inner: chained,
                dec: fresh,
                pending: Vec::new(),
                ready: Vec::new(),
                pos: 0,
                eof: false,
            }));
        }
    }
    Err(fail(
        ErrorCode::WrongPassword,
        format!("{}: none of the passwords given decrypts this part with {} (checked by the plaintext's magic bytes)", info.name, SCHEMES.join("; ")),
    ))
}

fn io_fail(part: &str, e: std::io::Error) -> Fail {
    match coded(&e) {
        Some(Coded(ErrorCode::Truncated, msg)) => {
            return fail(
                ErrorCode::Truncated,
                format!(
                "{part}: the data ends early (truncated: {msg}); the part is truncated or damaged"
            ),
            )
        }
        Some(Coded(code, msg)) => return fail(*code, format!("{part}: {msg}")),
        None => {}
    }
    let m = e.to_string();
    if e.kind() == std::io::ErrorKind::UnexpectedEof
        || m.contains("truncated")
        || m.contains("unexpected end")
    {
        fail(
            ErrorCode::Truncated,
            format!("{part}: the data ends early ({m}); the part is truncated or damaged"),
        )
    } else {
        fail(
            ErrorCode::Truncated,
            format!("{part}: cannot be read to the end ({m})"),
        )
    }
}

/// Scan one stream (a part, or a member of one).
fn scan_stream(
    name: &str,
    r: Box<dyn Read + '_>,
    depth: u32,
    info: &mut PartInfo,
    ctx: &mut Ctx<'_>,
) -> Result<(), Fail> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br.fill_buf().map_err(|e| io_fail(name, e))?.to_vec();
    if head.starts_with(&[0x1f, 0x8b]) && depth < 4 {
        info.layers.push("gzip".into());
        let compressed = std::rc::Rc::new(std::cell::Cell::new(0u64));
        let src = CountInto {
            inner: br,
            n: compressed.clone(),
        };
        let gz = flate2::read::MultiGzDecoder::new(src);
        let capped = Capped {
            inner: gz,
            compressed,
            out: 0,
            limits: ctx.limits,
        };
        let mut counted = Counted {
            inner: capped,
            n: 0,
        };
        let res = scan_stream(
            name.trim_end_matches(".gz"),
            Box::new(&mut counted),
            depth + 1,
            info,
            ctx,
        );
        info.bytes_out += counted.n;
        return res;
    }
    if head.len() > 262 && &head[257..262] == b"ustar" && depth < 4 {
        info.layers.push("tar".into());
        let mut ar = tar::Archive::new(br);
        for entry in ar.entries().map_err(|e| io_fail(name, e))? {
            let mut e = entry.map_err(|e| io_fail(name, e))?;
            ctx.members += 1;
            info.members += 1;
            if ctx.members > ctx.limits.max_members {
                return Err(fail(
                    ErrorCode::LimitsExceeded,
                    format!(
                        "{name}: more than {} archive members",
                        ctx.limits.max_members
                    ),
                ));
            }
            if !e.header().entry_type().is_file() {
                continue;
            }
            let member = format!(
                "{name}:{}",
                e.path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            scan_stream(&member, Box::new(&mut e), depth + 1, info, ctx)?;
        }
        return Ok(());
    }
    if nkp_pkcs12::looks_like_pfx(&head) {
        info.layers.push("pkcs12".into());
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        br.take(ctx.limits.max_member_read)
            .read_to_end(&mut bytes)
            .map_err(|e| io_fail(name, e))?;
        let (providers, problem) = ctx.sink.pkcs12(name, &bytes, ctx.passwords);
        for mut p in providers {
            p.kdk_storage = format!("embedded PKCS#12 {name}; {}", p.kdk_storage);
            ctx.providers.push(p);
        }
        if let Some(m) = problem {
            ctx.notes.push(format!("embedded PKCS#12 {name}: {m}"));
        }
        return Ok(());
    }
    if head.iter().take(4096).any(|b| *b == 0) {
        // Binary member: read through (for the byte counts and caps) and pass over.
        let n = std::io::copy(&mut br, &mut std::io::sink()).map_err(|e| io_fail(name, e))?;
        let _ = n;
        return Ok(());
    }
    let t = String::from_utf8_lossy(&head);
    let t = t.trim_start();
    if (t.starts_with('{') || t.starts_with('['))
        && (t.contains("kms_providers") || t.contains("native_provider") || head.len() < 256 * 1024)
    {
        info.layers.push("json".into());
        let mut bytes = Vec::new();
        br.take(ctx.limits.max_member_read)
            .read_to_end(&mut bytes)
            .map_err(|e| io_fail(name, e))?;
        let text = String::from_utf8_lossy(&bytes);
        for (provider, key_id) in ctx.sink.json(name, &text) {
            ctx.providers.push(record(
                provider,
                key_id,
                format!("ConfigStore JSON {name}"),
                "kms_providers",
            ));
        }
        return Ok(());
    }
    info.layers.push("text".into());
    scan_dump(name, &mut br, ctx)
}

fn record(
    name: Option<String>,
    key_id: Option<String>,
    storage: String,
    via: &str,
) -> ProviderRecord {
    ProviderRecord {
        name,
        key_id: key_id.map(|k| k.to_ascii_lowercase()),
        export_time: None,
        tpm_required: None,
        kdk_bits: 0,
        kdk_fingerprint: None,
        kdk_storage: storage,
        sources: FieldSources {
            name: Some(via.into()),
            key_id: Some(via.into()),
            export_time: None,
            tpm_required: None,
        },
        notes: vec![
            "KDK not readable from a vCenter backup (encrypted by vCenter in the VCDB)".into(),
        ],
        layers: Vec::new(),
    }
}

const NAME_COLS: &[&str] = &[
    "provider",
    "provider_id",
    "providerid",
    "provider_name",
    "name",
    "cluster_id",
    "kms_cluster_id",
    "kmip_cluster_id",
];
const KEY_COLS: &[&str] = &[
    "key_id",
    "keyid",
    "native_key_id",
    "provider_key_id",
    "nkp_key_id",
];
const KDK_HINTS: &[&str] = &[
    "kdk",
    "key_derivation",
    "native_info",
    "encrypted",
    "secret",
    "wrapped",
];

fn interesting(table: &str, cols: &[String]) -> bool {
    let t = table.to_ascii_lowercase();
    ["kms", "crypto", "provider", "nkp", "native_key"]
        .iter()
        .any(|k| t.contains(k))
        || cols.iter().any(|c| KEY_COLS.contains(&c.as_str()))
}

/// Longest line kept from a dump; longer lines are skipped through the buffer.
const MAX_LINE: usize = 1 << 20;

/// Read one line into `line` (cleared first), keeping at most [`MAX_LINE`] bytes; the rest of
/// an over-long line is consumed without being stored. Returns the bytes consumed (0 at EOF).
fn read_line_bounded(r: &mut dyn BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    line.clear();
    // The common case: std's read_until (memchr) within the cap.
    let mut consumed = (&mut *r).take(MAX_LINE as u64).read_until(b'\n', line)?;
    if consumed < MAX_LINE || line.ends_with(b"\n") {
        return Ok(consumed);
    }
    // Over-long: consume the rest of the line through the buffer, keeping nothing.
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(consumed);
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(p) => {
                r.consume(p + 1);
                return Ok(consumed + p + 1);
            }
            None => {
                let k = buf.len();
                r.consume(k);
                consumed += k;
            }
        }
    }
}

/// `COPY table (a, b) FROM stdin;` rows and `INSERT INTO table (a, b) VALUES (...)` statements.
fn scan_dump(name: &str, r: &mut dyn BufRead, ctx: &mut Ctx<'_>) -> Result<(), Fail> {
    let mut line = Vec::with_capacity(4096);
    let mut copy: Option<(String, Vec<String>)> = None;
    loop {
        let n = read_line_bounded(r, &mut line).map_err(|e| io_fail(name, e))?;
        if n == 0 {
            break;
        }
        if line.len() == MAX_LINE && !line.ends_with(b"\n") {
            continue; // over-long line: passed over (its rest was skipped, not kept)
        }
        let s = String::from_utf8_lossy(&line);
        let s = s.trim_end_matches(['\n', '\r']);
        if let Some((table, cols)) = &copy {
            if s == "\\." {
                copy = None;
                continue;
            }
            let vals: Vec<&str> = s.split('\t').collect();
            row(name, table, cols, &vals, ctx);
            continue;
        }
        if let Some(rest) = s.strip_prefix("COPY ") {
            if let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) {
                if open < close {
                    let table = rest[..open].trim().trim_matches('"').to_string();
                    let cols: Vec<String> = rest[open + 1..close]
                        .split(',')
                        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
                        .collect();
                    if interesting(&table, &cols) {
                        copy = Some((table, cols));
                    } else {
                        // Skip the block quickly.
                        copy = None;
                        loop {
                            let k =
                                read_line_bounded(r, &mut line).map_err(|e| io_fail(name, e))?;
                            if k == 0 || line.starts_with(b"\\.") {
                                break;
                            }
                        }
                    }
                }
            }
            continue;
        }
        let up = s.get(..12).map(str::to_ascii_uppercase).unwrap_or_default();
        if up.starts_with("INSERT INTO ") {
            if let Some((table, cols, vals)) = parse_insert(s) {
                if interesting(&table, &cols) {
                    let v: Vec<&str> = vals.iter().map(String::as_str).collect();
                    row(name, &table, &cols, &v, ctx);
                }
            }
        }
    }
    Ok(())
}

fn row(name: &str, table: &str, cols: &[String], vals: &[&str], ctx: &mut Ctx<'_>) {
    let get = |set: &[&str]| {
        cols.iter()
            .position(|c| set.contains(&c.as_str()))
            .and_then(|i| vals.get(i).copied())
            .filter(|v| !v.is_empty() && *v != "\\N")
    };
    let key = get(KEY_COLS).filter(|k| is_uuid_text(k));
    let pname = get(NAME_COLS);
    let kdk_col = cols
        .iter()
        .position(|c| KDK_HINTS.iter().any(|h| c.contains(h)));
    if let (Some(p), Some(k)) = (pname, key) {
        let mut rec = record(
            Some(p.to_string()),
            Some(k.to_string()),
            format!("VCDB dump table {table} in {name}"),
            &format!("dump table {table}"),
        );
        if kdk_col.is_some() {
            rec.notes.push(format!("table {table} holds key material in column {} (encrypted by vCenter): not readable", cols[kdk_col.unwrap_or(0)]));
        }
        if !ctx
            .providers
            .iter()
            .any(|x| x.name == rec.name && x.key_id == rec.key_id)
        {
            ctx.providers.push(rec);
        }
    } else if kdk_col.is_some() {
        let note = format!("NKP data present, not enumerable: table {table} in {name} has key material (column {}) but no provider name/key_id columns this reader knows", cols[kdk_col.unwrap_or(0)]);
        if !ctx.notes.contains(&note) {
            ctx.notes.push(note);
        }
    }
}

/// `INSERT INTO t (a, b) VALUES ('x', 'y');` -> (t, [a, b], [x, y]).
fn parse_insert(s: &str) -> Option<(String, Vec<String>, Vec<String>)> {
    let rest = &s[12..];
    let open = rest.find('(')?;
    let close = rest[open..].find(')')? + open;
    let table = rest[..open].trim().trim_matches('"').to_string();
    let cols: Vec<String> = rest[open + 1..close]
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let after = &rest[close + 1..];
    let vstart = after.to_ascii_uppercase().find("VALUES")? + 6;
    let v = after[vstart..].trim_start().strip_prefix('(')?;
    let mut vals = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, in_q) {
            ('\'', true) if chars.peek() == Some(&'\'') => {
                cur.push('\'');
                chars.next();
            }
            ('\'', _) => in_q = !in_q,
            (',', false) => {
                vals.push(cur.trim().to_string());
                cur.clear();
            }
            (')', false) => {
                vals.push(cur.trim().to_string());
                return Some((table, cols, vals));
            }
            _ => cur.push(c),
        }
    }
    None
}

/// True when `dir` holds a VCSA file-based backup.
pub fn is_backup_dir(dir: &Path) -> bool {
    dir.join("backup-metadata.json").is_file()
}

fn parse_folder_name(name: &str) -> (Option<String>, Option<String>) {
    // M_<version>_<YYYYMMDD-HHMMSS>_
    let Some(rest) = name.strip_prefix("M_") else {
        return (None, None);
    };
    let parts: Vec<&str> = rest.trim_end_matches('_').rsplitn(2, '_').collect();
    match parts.as_slice() {
        [ts, ver] if ts.len() == 15 && ts.as_bytes()[8] == b'-' => {
            (Some((*ver).to_string()), Some((*ts).to_string()))
        }
        _ => (None, None),
    }
}

fn finish(path: &str, ctx: Ctx<'_>, info: BundleInfo, error: Option<BundleError>) -> BundleReport {
    let mut notes = ctx.notes;
    if ctx.providers.is_empty() && error.is_none() {
        notes.push("no Native Key Provider found in any part (no embedded .p12, ConfigStore JSON or provider table)".into());
    }
    BundleReport {
        path: path.to_string(),
        size: info.parts.iter().map(|p| p.size).sum(),
        providers: ctx.providers,
        notes,
        error,
        info,
    }
}

/// Read a backup folder, handing its members to `sink`.
pub fn read_dir(
    dir: &Path,
    passwords: &[Password],
    limits: &BundleLimits,
    sink: &mut dyn MemberSink,
) -> BundleReport {
    let shown = dir.display().to_string();
    let mut info = BundleInfo::default();
    let mut ctx = Ctx::new(passwords, limits, sink);
    let folder = dir
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    (info.folder_version, info.folder_timestamp) = parse_folder_name(&folder);
    match std::fs::read(dir.join("backup-metadata.json")) {
        Ok(b) => info.metadata = serde_json::from_slice(&b).ok(),
        Err(e) => ctx.notes.push(format!("backup-metadata.json: {e}")),
    }
    if info.metadata.is_none() {
        ctx.notes
            .push("backup-metadata.json is not readable JSON".into());
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file() && p.file_name().is_some_and(|n| n != "backup-metadata.json")
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut error = None;
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        let (part, res) = match std::fs::File::open(&f) {
            Ok(file) => scan_part(&name, size, Box::new(file), &mut ctx),
            Err(e) => (
                PartInfo {
                    name: name.clone(),
                    size,
                    ..PartInfo::default()
                },
                Err(fail(ErrorCode::Io, format!("{}: {e}", f.display()))),
            ),
        };
        if let Err(Fail::Code(code, msg)) = res {
            if error.is_none() {
                error = Some(BundleError {
                    code,
                    message: format!("{shown}: part {msg}"),
                });
            } else {
                ctx.notes.push(format!("part {msg}"));
            }
        }
        info.parts.push(part);
    }
    finish(&shown, ctx, info, error)
}

/// Read a `.tar` / `.tar.gz` of one backup folder, handing its members to `sink`. Returns
/// `None` when the archive holds no `backup-metadata.json` (then it is not a VCSA bundle).
pub fn read_archive(
    path: &Path,
    passwords: &[Password],
    limits: &BundleLimits,
    sink: &mut dyn MemberSink,
) -> Option<BundleReport> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).ok()?;
    let mut br = BufReader::with_capacity(256 * 1024, file);
    let head = br.fill_buf().ok()?.to_vec();
    let compressed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        let src = CountInto {
            inner: br,
            n: compressed.clone(),
        };
        Box::new(Capped {
            inner: flate2::read::MultiGzDecoder::new(src),
            compressed,
            out: 0,
            limits,
        })
    } else {
        Box::new(br)
    };
    let mut ar = tar::Archive::new(reader);
    let mut info = BundleInfo::default();
    let mut ctx = Ctx::new(passwords, limits, sink);
    let mut error = None;
    let mut is_bundle = false;
    let Ok(entries) = ar.entries() else {
        return None;
    };
    for entry in entries {
        let mut e = match entry {
            Ok(e) => e,
            Err(err) => {
                if is_bundle {
                    let Fail::Code(code, msg) = io_fail(&shown, err);
                    error = Some(BundleError { code, message: msg });
                    break;
                }
                return None;
            }
        };
        if !e.header().entry_type().is_file() {
            continue;
        }
        let p = e.path().map(|p| p.to_path_buf()).unwrap_or_default();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "backup-metadata.json" {
            is_bundle = true;
            let mut b = Vec::new();
            let _ = (&mut e).take(1 << 20).read_to_end(&mut b);
            info.metadata = serde_json::from_slice(&b).ok();
            if let Some(folder) = p.parent().and_then(|d| d.file_name()) {
                (info.folder_version, info.folder_timestamp) =
                    parse_folder_name(&folder.to_string_lossy());
            }
            continue;
        }
        let size = e.header().size().unwrap_or(0);
        let (part, res) = scan_part(&name, size, Box::new(&mut e), &mut ctx);
        if let Err(Fail::Code(code, msg)) = res {
            if error.is_none() {
                error = Some(BundleError {
                    code,
                    message: format!("{shown}: part {msg}"),
                });
            }
        }
        info.parts.push(part);
    }
    if !is_bundle {
        return None;
    }
    Some(finish(&shown, ctx, info, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_and_inserts_parse() {
        assert_eq!(
            parse_folder_name("M_8.0.3.00100_20251012-020000_"),
            (Some("8.0.3.00100".into()), Some("20251012-020000".into()))
        );
        assert_eq!(parse_folder_name("other"), (None, None));
        let (t, c, v) =
            parse_insert("INSERT INTO vpx_kms_provider (name, key_id) VALUES ('NKP-A', 'it''s');")
                .unwrap();
        assert_eq!(t, "vpx_kms_provider");
        assert_eq!(c, ["name", "key_id"]);
        assert_eq!(v, ["NKP-A", "it's"]);
    }

    #[test]
    fn over_long_lines_are_skipped_not_stored() {
        let mut data = vec![b'a'; MAX_LINE * 3];
        data.extend_from_slice(b"\nnext\n");
        let mut r = BufReader::with_capacity(4096, &data[..]);
        let mut line = Vec::new();
        assert_eq!(
            read_line_bounded(&mut r, &mut line).unwrap(),
            MAX_LINE * 3 + 1
        );
        assert_eq!(line.len(), MAX_LINE);
        assert_eq!(read_line_bounded(&mut r, &mut line).unwrap(), 5);
        assert_eq!(line, b"next\n");
        assert_eq!(read_line_bounded(&mut r, &mut line).unwrap(), 0);
    }

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -md md5 -S 0102030405060708 -k pass -P`
        let k = evp_bytes_to_key::<md5::Md5>(b"pass", &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            nkp_pkcs12::describe::hex(&k[..32]),
            "86a00079beb5dca79870668bb0c56a7eb158e10ac9a1ec44cd2fd6ccf7796367"
        );
        assert_eq!(
            nkp_pkcs12::describe::hex(&k[32..]),
            "717e513cb7804e1856cd14dace7097cf"
        );
    }
}
