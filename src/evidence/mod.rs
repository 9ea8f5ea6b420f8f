//! Live key references: what the estate says it needs.
//!
//! - [`keysafe`]: the `vmware:key/...` locator grammar (parse, print back byte-identically).
//! - [`blob`]: the NKP key-ID blob (embedded UUID, algorithm), else an opaque key id.
//! - One parser per source, each on the same [`text::Line`] view of a file: [`scan`] (vmx,
//!   vmdk descriptors, crypto-util, any text with key locators), [`json`] (ConfigStore, govc,
//!   REST, PowerCLI), [`vcdb`] (psql output of `vpx_host`).
//!
//! Files are recognised by content. A monolithic sparse `.vmdk` is read only in its embedded
//! descriptor; other binary files are passed over after an 8 KiB sniff; text files larger than
//! the cap are passed over; folders are walked in parallel, symlink loops survived.

pub mod blob;
pub mod json;
pub mod keysafe;
mod reference;
pub mod scan;
pub mod text;
pub mod vcdb;
pub mod vmdk;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::codes::ErrorInfo;
pub use reference::{
    default_scope, EvidenceInput, KeyReference, Source, State, Subject, DEFAULT_SCOPE,
};

/// One reference as a parser saw it, before it gets its source path.
#[derive(Debug)]
pub struct Seen<'a> {
    /// Source kind (`vmx`, `configstore`, ...).
    pub kind: &'static str,
    /// 1-based line, where the source is line-oriented.
    pub line: Option<usize>,
    /// The VM, disk, host or provider.
    pub subject: Subject,
    /// Provider name, when the source states it.
    pub provider: Option<String>,
    /// The provider's key_id, when the source states it.
    pub provider_key_id: Option<String>,
    /// The key identifier as written.
    pub key: Option<String>,
    /// The host the output came from, when known.
    pub host: Option<&'a str>,
    /// What the reference says about its key.
    pub state: State,
    /// Further facts.
    pub details: Vec<std::borrow::Cow<'static, str>>,
}

/// Gathers references from one file.
pub struct Collector {
    path: String,
    refs: Vec<KeyReference>,
    kinds: BTreeSet<&'static str>,
    warnings: Vec<String>,
    /// References passed over because the file already gave [`MAX_REFS_PER_FILE`].
    dropped: usize,
}

/// Most references kept from one file. A VCDB export of a large estate gives tens of
/// thousands; a planted file that would give millions is cut here, with a warning, so that
/// memory stays bounded whatever the walker threads read at once.
pub const MAX_REFS_PER_FILE: usize = 100_000;

impl Collector {
    /// A collector for `path`.
    pub fn new(path: &str) -> Self {
        Self {
            path: path.to_string(),
            refs: Vec::new(),
            kinds: BTreeSet::new(),
            warnings: Vec::new(),
            dropped: 0,
        }
    }

    /// References so far.
    pub fn count(&self) -> usize {
        self.refs.len()
    }

    /// Note a problem that does not stop the file.
    pub fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    /// Add one reference, as seen in this collector's file.
    pub fn add(&mut self, seen: Seen<'_>) {
        let Seen {
            kind,
            line,
            subject,
            provider,
            provider_key_id,
            key,
            host,
            state,
            details,
        } = seen;
        self.kinds.insert(kind);
        if self.refs.len() >= MAX_REFS_PER_FILE {
            self.dropped += 1;
            return;
        }
        self.refs.push(KeyReference {
            scope: default_scope(),
            sources: vec![Source {
                path: self.path.clone(),
                line,
                kind,
            }],
            subject,
            provider,
            provider_key_id,
            key,
            host: host.map(String::from),
            state,
            details,
        });
    }

    /// Add a provider's name -> key_id fact (ConfigStore, govc, REST).
    pub fn provider(
        &mut self,
        kind: &'static str,
        line: Option<usize>,
        name: &str,
        key_id: Option<&str>,
        host: Option<&str>,
        details: Vec<std::borrow::Cow<'static, str>>,
    ) {
        self.add(Seen {
            kind,
            line,
            subject: Subject {
                kind: "provider",
                name: name.to_string(),
            },
            provider: Some(name.to_string()),
            provider_key_id: key_id.map(str::to_ascii_lowercase),
            key: None,
            host,
            state: State::ProviderKnown,
            details,
        });
    }

    /// Finish: the file's input record and its references.
    pub fn finish(mut self, error: Option<ErrorInfo>) -> (EvidenceInput, Vec<KeyReference>) {
        if self.dropped > 0 {
            self.warnings.push(format!(
                "limited: more than {MAX_REFS_PER_FILE} references in this file; {} more were passed over",
                self.dropped
            ));
        }
        (
            EvidenceInput {
                path: self.path,
                kinds: self.kinds.into_iter().collect(),
                references: self.refs.len(),
                error,
                warnings: self.warnings,
            },
            self.refs,
        )
    }
}

/// Markers of every source, found in one pass (ASCII case-insensitive).
const PATTERNS: &[&str] = &[
    "vmware:key/",                      // 0: key locators (vmx, vmdk, crypto-util, tickets)
    "keyid '",                          // 1: crypto-util envelope describe
    "has not been established",         // 2: crypto-util, no host key
    "displayname",                      // 3: vmx context
    "vtpm.present",                     // 4: vmx context
    "crypto_key_id",                    // 5: VCDB
    "keyid",                            // 6: JSON (govc, PowerCLI)
    "key_id",                           // 7: JSON (ConfigStore, REST)
    "wrapped_key",                      // 8: ConfigStore host_encryption_key
    "native_provider",                  // 9: ConfigStore kms_providers
    "native_info",                      // 10: REST
    "providerid",                       // 11: JSON
    "encryption.bundle",                // 12: vmx / extraConfig: encrypted VM (needs the VM key)
    "tpm present",                      // 13: esxcli hardware trustedboot get
    "unable to decrypt the ciphertext", // 14: log: cross-vCenter vMotion (KB 378053)
    "failed to resolve key",            // 15: log: kmxa
    "key locator error",                // 16: log
];

/// How many markers there are.
const N_PATTERNS: usize = 17;

static MARKERS: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(PATTERNS)
        .unwrap_or_else(|_| unreachable!("constant patterns build"))
});

/// Where markers occur in a text: which kinds, and on which lines.
pub struct Markers {
    /// Which of `PATTERNS` occur.
    pub seen: [bool; N_PATTERNS],
    /// Byte offsets of the matches, ascending.
    pub offsets: Vec<usize>,
}

impl Markers {
    /// Find every marker in `text` (bytes: no UTF-8 validation needed to rule a file out).
    pub fn find(text: &[u8]) -> Self {
        let mut m = Self {
            seen: [false; N_PATTERNS],
            offsets: Vec::new(),
        };
        for hit in MARKERS.find_iter(text) {
            m.seen[hit.pattern().as_usize()] = true;
            m.offsets.push(hit.start());
        }
        m
    }
    /// True when some parser has something to read.
    pub fn any(&self) -> bool {
        self.seen.iter().any(|b| *b)
    }
    fn json(&self) -> bool {
        self.seen[6..12].iter().any(|b| *b) || self.seen[12]
    }
    fn vcdb(&self) -> bool {
        self.seen[5]
    }
    fn lines_scan(&self) -> bool {
        self.seen[..3].iter().any(|b| *b) || self.seen[12..].iter().any(|b| *b)
    }
}

/// Read references from text (a whole file, or a pasted ticket).
pub fn from_text(text: &str, path: &Path, hint: scan::FileHint, c: &mut Collector) {
    let markers = Markers::find(text.as_bytes());
    from_text_with(text, &markers, path, hint, c);
}

fn from_text_with(
    text: &str,
    markers: &Markers,
    path: &Path,
    hint: scan::FileHint,
    c: &mut Collector,
) {
    if !markers.any() {
        return;
    }
    let lines = text::lines(text);
    if markers.lines_scan() {
        // Only the lines holding a marker (and what they reach) are looked at.
        let starts: Vec<usize> = lines.iter().map(|l| l.offset).collect();
        let mut flagged: Vec<usize> = markers
            .offsets
            .iter()
            .map(|o| starts.partition_point(|s| *s <= *o).saturating_sub(1))
            .collect();
        flagged.dedup();
        let seen = scan::Seen3 {
            tpm: markers.seen[13],
            logs: markers.seen[12] || markers.seen[14..].iter().any(|b| *b),
        };
        scan::scan(&lines, &flagged, path, hint, seen, c);
    }
    if markers.json() {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        json::scan(text, &lines, &stem, c);
    }
    if markers.vcdb() {
        vcdb::scan(&lines, c);
    }
}

/// Options of `evidence`.
#[derive(Clone, Debug)]
pub struct EvidenceOptions {
    /// Largest text file read whole, in bytes.
    pub max_text_size: u64,
}

impl Default for EvidenceOptions {
    fn default() -> Self {
        Self {
            max_text_size: 32 << 20,
        }
    }
}

/// Why a file was passed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// Binary (not a sparse vmdk).
    Binary,
    /// Text with no marker of any source.
    Unrelated,
    /// Text above the size cap.
    TooLarge,
}

impl Skip {
    fn label(self) -> &'static str {
        match self {
            Self::Binary => "binary",
            Self::Unrelated => "unrelated",
            Self::TooLarge => "too-large",
        }
    }
}

/// The outcome of one file.
pub enum FileResult {
    /// Passed over.
    Skipped(Skip),
    /// Read (possibly with an error).
    Read(EvidenceInput, Vec<KeyReference>),
}

const CHUNK: usize = 64 << 10;

thread_local! {
    static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Read one file: a sparse extent's descriptor, or a text file, or pass it over. Small files
/// cost one `read` into a reused buffer.
pub fn read_file(path: &Path, opts: &EvidenceOptions) -> FileResult {
    BUF.with(|b| read_file_with(path, opts, &mut b.borrow_mut()))
}

fn read_file_with(path: &Path, opts: &EvidenceOptions, buf: &mut Vec<u8>) -> FileResult {
    let shown = || path.display().to_string();
    let io_err = |e: std::io::Error| {
        let shown = shown();
        let c = Collector::new(&shown);
        let (input, refs) = c.finish(Some(ErrorInfo {
            code: crate::codes::ErrorCode::Io,
            message: format!("{shown}: cannot read: {e}"),
        }));
        FileResult::Read(input, refs)
    };
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return io_err(e),
    };
    if buf.len() < CHUNK {
        buf.resize(CHUNK, 0);
    }
    let mut n = 0;
    while n < CHUNK {
        match f.read(&mut buf[n..CHUNK]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return io_err(e),
        }
        if n < CHUNK {
            // A short read of a regular file is its end; confirm cheaply only when full.
            break;
        }
    }
    let head = &buf[..n];
    let sniff = &head[..n.min(8192)];
    if head.starts_with(b"KDMV") {
        // Monolithic sparse extent: only its embedded descriptor is read.
        let Some((off, len)) = vmdk::descriptor_range(head) else {
            return FileResult::Skipped(Skip::Binary);
        };
        let mut desc = Vec::new();
        let end = off.saturating_add(len);
        if end <= n as u64 {
            desc.extend_from_slice(&head[off as usize..end as usize]);
        } else {
            let read = f
                .seek(SeekFrom::Start(off))
                .and_then(|_| (&mut f).take(len).read_to_end(&mut desc));
            if let Err(e) = read {
                return io_err(e);
            }
        }
        let end = desc.iter().position(|b| *b == 0).unwrap_or(desc.len());
        let text = String::from_utf8_lossy(&desc[..end]);
        let mut c = Collector::new(&shown());
        from_text(&text, path, scan::FileHint::Vmdk, &mut c);
        let (input, refs) = c.finish(None);
        return FileResult::Read(input, refs);
    }
    // UTF-16 text (Windows PowerShell 5.1's `>` writes it) has NULs but is not binary.
    if utf16_bom(head).is_none() && memchr_nul(sniff) {
        return FileResult::Skipped(Skip::Binary);
    }
    let mut big = Vec::new();
    let bytes: &[u8] = if n == CHUNK {
        let size = f.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        if size > opts.max_text_size {
            return FileResult::Skipped(Skip::TooLarge);
        }
        // One allocation of the file's size: growing by doubling would hold up to twice it.
        big.reserve_exact(usize::try_from(size).unwrap_or(0).saturating_add(1));
        big.extend_from_slice(head);
        if let Err(e) = (&mut f).take(opts.max_text_size).read_to_end(&mut big) {
            return io_err(e);
        }
        &big
    } else {
        head
    };
    text_result(path, bytes)
}

/// Read evidence that is already in memory (standard input, a pasted ticket), named `name` in
/// the results. Decoded and recognised exactly as a file with that content would be.
pub fn read_bytes(name: &Path, bytes: &[u8], opts: &EvidenceOptions) -> FileResult {
    if bytes.len() as u64 > opts.max_text_size {
        return FileResult::Skipped(Skip::TooLarge);
    }
    if utf16_bom(bytes).is_none() && memchr_nul(&bytes[..bytes.len().min(8192)]) {
        return FileResult::Skipped(Skip::Binary);
    }
    text_result(name, bytes)
}

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// `Some(true)` for UTF-16 LE with its byte-order mark, `Some(false)` for UTF-16 BE.
pub fn utf16_bom(b: &[u8]) -> Option<bool> {
    match b {
        [0xff, 0xfe, ..] => Some(true),
        [0xfe, 0xff, ..] => Some(false),
        _ => None,
    }
}

/// Append UTF-16 text (`b`, after its BOM) to `out`. An unpaired surrogate becomes U+FFFD,
/// or, with `strict`, stops the decoding and returns false (`out` then holds what came
/// before it). One decoder for evidence, armored backups and secret files: a caller holding a
/// secret passes a zeroizing `String`.
pub fn decode_utf16_into(b: &[u8], little_endian: bool, strict: bool, out: &mut String) -> bool {
    let units = b.chunks_exact(2).map(|c| {
        if little_endian {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => out.push(c),
            Err(_) if strict => return false,
            Err(_) => out.push(char::REPLACEMENT_CHARACTER),
        }
    }
    true
}

/// Recognise the sources in a text file's bytes: UTF-8 (a BOM is dropped) or UTF-16 with a BOM.
fn text_result(path: &Path, bytes: &[u8]) -> FileResult {
    let decoded;
    let bytes = match utf16_bom(bytes) {
        Some(le) => {
            let mut text = String::with_capacity(bytes.len() / 2);
            decode_utf16_into(&bytes[2..], le, false, &mut text);
            decoded = text;
            decoded.as_bytes()
        }
        None => bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes),
    };
    let mut markers = Markers::find(bytes);
    if !markers.any() {
        return FileResult::Skipped(Skip::Unrelated);
    }
    let text = String::from_utf8_lossy(bytes);
    if text.len() != bytes.len() {
        markers = Markers::find(text.as_bytes()); // replacement characters moved the offsets
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let hint = match ext.as_str() {
        "vmx" => scan::FileHint::Vmx,
        "vmdk" => scan::FileHint::Vmdk,
        _ if text.contains("# Disk DescriptorFile") => scan::FileHint::Vmdk,
        _ if text.contains("virtualHW.version") || text.contains("config.version") => {
            scan::FileHint::Vmx
        }
        _ => scan::FileHint::Other,
    };
    let mut c = Collector::new(&path.display().to_string());
    from_text_with(&text, &markers, path, hint, &mut c);
    let (input, refs) = c.finish(None);
    FileResult::Read(input, refs)
}

fn memchr_nul(b: &[u8]) -> bool {
    b.contains(&0)
}

/// An evidence path and the scope (vCenter) it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedPath {
    /// `default`, or the label given as `LABEL=PATH`.
    pub scope: String,
    /// The file or folder.
    pub path: PathBuf,
}

impl ScopedPath {
    /// Read `LABEL=PATH` (a label of letters, digits, `.`, `_` and `-`, up to 64) or a plain
    /// path. A path that exists as given is never split, so a file named `a=b` still works.
    pub fn parse(arg: &str) -> Self {
        if let Some((label, path)) = arg.split_once('=') {
            let label_ok = !label.is_empty()
                && label.len() <= 64
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
            if label_ok && !path.is_empty() && !Path::new(arg).exists() {
                return Self {
                    scope: label.to_string(),
                    path: PathBuf::from(path),
                };
            }
        }
        Self {
            scope: DEFAULT_SCOPE.to_string(),
            path: PathBuf::from(arg),
        }
    }
}

/// [`gather`] per scope: the paths of each scope are read together and their references carry
/// that scope; references are merged only within a scope. A path that does not exist is a walk
/// error naming it.
pub fn gather_scoped(
    paths: &[ScopedPath],
    opts: &EvidenceOptions,
    follow_symlinks: bool,
    progress: &(dyn Fn(usize) + Sync),
) -> Gathered {
    let mut scopes: Vec<&str> = Vec::new();
    for p in paths {
        if !scopes.contains(&p.scope.as_str()) {
            scopes.push(&p.scope);
        }
    }
    let mut all = Gathered::default();
    let mut refs = Vec::new();
    for scope in scopes {
        let mine: Vec<PathBuf> = paths
            .iter()
            .filter(|p| p.scope == scope)
            .map(|p| p.path.clone())
            .collect();
        let mut g = gather(&mine, opts, follow_symlinks, progress);
        if scope != DEFAULT_SCOPE {
            let shared: std::sync::Arc<str> = std::sync::Arc::from(scope);
            for r in &mut g.references {
                r.scope = shared.clone();
            }
        }
        refs.append(&mut g.references);
        all.inputs.append(&mut g.inputs);
        all.files_read += g.files_read;
        for (k, v) in g.by_kind {
            *all.by_kind.entry(k).or_default() += v;
        }
        for (k, v) in g.skipped {
            *all.skipped.entry(k).or_default() += v;
        }
        all.walk_errors.append(&mut g.walk_errors);
        all.walk_warnings.append(&mut g.walk_warnings);
    }
    all.inputs.sort_by(|a, b| a.path.cmp(&b.path));
    // Each scope's references are merged already; scopes never merge with each other.
    refs.sort_by(|a, b| a.scope.cmp(&b.scope));
    all.references = refs;
    all
}

/// Everything `evidence` found.
#[derive(Debug, Default)]
pub struct Gathered {
    /// References, merged.
    pub references: Vec<KeyReference>,
    /// Files with errors or warnings.
    pub inputs: Vec<EvidenceInput>,
    /// Files that yielded evidence.
    pub files_read: usize,
    /// Files per source kind.
    pub by_kind: BTreeMap<String, usize>,
    /// Passed-over files by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Walk problems (unreadable folders); symlink loops are warnings.
    pub walk_errors: Vec<String>,
    /// Walk warnings.
    pub walk_warnings: Vec<String>,
}

/// What one walker thread accumulated.
#[derive(Default)]
struct Acc {
    refs: Vec<KeyReference>,
    inputs: Vec<EvidenceInput>,
    files_read: usize,
    by_kind: BTreeMap<&'static str, usize>,
    skipped: BTreeMap<&'static str, usize>,
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl Acc {
    fn add(&mut self, r: FileResult) {
        match r {
            FileResult::Skipped(s) => *self.skipped.entry(s.label()).or_default() += 1,
            FileResult::Read(input, refs) => {
                if input.references == 0 && input.error.is_none() && input.warnings.is_empty() {
                    *self.skipped.entry(Skip::Unrelated.label()).or_default() += 1;
                } else {
                    self.files_read += 1;
                    for k in &input.kinds {
                        *self.by_kind.entry(k).or_default() += 1;
                    }
                    if input.error.is_some() || !input.warnings.is_empty() {
                        self.inputs.push(input);
                    }
                }
                self.refs.extend(refs);
            }
        }
    }
}

/// Sends a walker thread's accumulator back when the thread is done with it.
struct AccGuard {
    acc: Acc,
    tx: std::sync::mpsc::Sender<Acc>,
}

impl Drop for AccGuard {
    fn drop(&mut self) {
        let _ = self.tx.send(std::mem::take(&mut self.acc));
    }
}

/// Walk `paths` and read every file, walking and reading in parallel (as ripgrep does:
/// each walker thread reads the files it finds; nothing holds the whole tree). Symlinks met
/// inside the tree are followed only with `follow_symlinks` (loops are then detected and
/// reported); the paths given are always followed. `progress` is called with the number of
/// files done, now and then.
pub fn gather(
    paths: &[PathBuf],
    opts: &EvidenceOptions,
    follow_symlinks: bool,
    progress: &(dyn Fn(usize) + Sync),
) -> Gathered {
    let g = Gathered::default();
    // `-` is standard input: read once, capped, and recognised like a file.
    let (stdin, paths): (Vec<&PathBuf>, Vec<&PathBuf>) =
        paths.iter().partition(|p| p.as_os_str() == "-");
    let mut from_stdin = Acc::default();
    if !stdin.is_empty() {
        let mut buf = Vec::new();
        let read = std::io::stdin()
            .lock()
            .take(opts.max_text_size.saturating_add(1))
            .read_to_end(&mut buf);
        match read {
            Ok(_) => from_stdin.add(read_bytes(Path::new(STDIN_NAME), &buf, opts)),
            Err(e) => from_stdin
                .errors
                .push(format!("{STDIN_NAME}: cannot read: {e}")),
        }
    }
    let Some((first, rest)) = paths.split_first() else {
        return finish(g, vec![from_stdin]);
    };
    let mut wb = ignore::WalkBuilder::new(first);
    for p in rest {
        wb.add(p);
    }
    wb.standard_filters(false)
        .hidden(false)
        .follow_links(follow_symlinks)
        .threads(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        );
    let (tx, rx) = std::sync::mpsc::channel::<Acc>();
    let done = std::sync::atomic::AtomicUsize::new(0);
    wb.build_parallel().run(|| {
        let mut guard = AccGuard {
            acc: Acc::default(),
            tx: tx.clone(),
        };
        let done = &done;
        Box::new(move |entry| {
            use ignore::WalkState;
            match entry {
                Ok(e) => match e.file_type() {
                    Some(t) if t.is_file() => {
                        guard.acc.add(read_file(e.path(), opts));
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if n.is_multiple_of(1024) {
                            progress(n);
                        }
                    }
                    Some(t) if t.is_symlink() => {
                        *guard.acc.skipped.entry("symlink").or_default() += 1;
                    }
                    _ => {}
                },
                Err(e) => {
                    let msg = e.to_string();
                    if msg.contains("loop") {
                        guard
                            .acc
                            .warnings
                            .push(format!("skipped a symlink loop: {msg}"));
                    } else {
                        guard.acc.errors.push(msg);
                    }
                }
            }
            WalkState::Continue
        })
    });
    drop(tx);
    let mut accs: Vec<Acc> = rx.into_iter().collect();
    accs.push(from_stdin);
    finish(g, accs)
}

/// The name standard input has in results (`evidence -`).
pub const STDIN_NAME: &str = "(standard input)";

/// Combine the walker threads' accumulators.
fn finish(mut g: Gathered, mut accs: Vec<Acc>) -> Gathered {
    let mut all: Vec<KeyReference> = Vec::new();
    // The largest thread's references become the result; the others are appended (no full copy).
    accs.sort_by_key(|a| std::cmp::Reverse(a.refs.len()));
    for mut acc in accs {
        if all.is_empty() {
            all = std::mem::take(&mut acc.refs);
        } else {
            all.append(&mut acc.refs);
        }
        g.inputs.extend(acc.inputs);
        g.files_read += acc.files_read;
        for (k, v) in acc.by_kind {
            *g.by_kind.entry(k.to_string()).or_default() += v;
        }
        for (k, v) in acc.skipped {
            *g.skipped.entry(k.to_string()).or_default() += v;
        }
        g.walk_errors.extend(acc.errors);
        g.walk_warnings.extend(acc.warnings);
    }
    g.walk_errors.sort();
    g.walk_warnings.sort();
    g.inputs.sort_by(|a, b| a.path.cmp(&b.path));
    g.references = merge(all);
    g
}

/// Merge duplicate references (the same subject needing the same key, seen in several
/// sources), keeping every source. Sorts in place: no second copy of the references.
pub fn merge(mut refs: Vec<KeyReference>) -> Vec<KeyReference> {
    fn key(
        r: &KeyReference,
    ) -> (
        &str,
        &Subject,
        &Option<String>,
        &Option<String>,
        &Option<String>,
        &str,
    ) {
        (
            &*r.scope,
            &r.subject,
            &r.provider,
            &r.key,
            &r.provider_key_id,
            r.state.as_str(),
        )
    }
    // Ties are broken by the sources, so that duplicates are folded in source order whatever
    // order the parallel walkers delivered them in: the details, and the host, of a merged
    // reference are the same on every run.
    refs.sort_unstable_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.sources.cmp(&b.sources)));
    // In place: `later` is folded into `kept` and dropped.
    refs.dedup_by(|later, kept| {
        if key(later) != key(kept) {
            return false;
        }
        for s in later.sources.drain(..) {
            if !kept.sources.contains(&s) {
                kept.sources.push(s);
            }
        }
        for d in later.details.drain(..) {
            if !kept.details.contains(&d) {
                kept.details.push(d);
            }
        }
        if kept.host.is_none() {
            kept.host = later.host.take();
        }
        true
    });
    refs.shrink_to_fit();
    for r in &mut refs {
        r.sources.sort();
    }
    refs
}

/// The (provider name, key_id) pairs a JSON document states (ConfigStore `kms_providers`,
/// govc, REST), for readers of other containers (the vCenter bundle reader's JSON members).
pub fn providers_in_json(name: &str, text: &str) -> Vec<(Option<String>, Option<String>)> {
    let mut c = Collector::new(name);
    from_text(text, Path::new(name), scan::FileHint::Other, &mut c);
    let (_, refs) = c.finish(None);
    refs.into_iter()
        .filter(|r| r.state == State::ProviderKnown)
        .map(|r| (r.provider, r.provider_key_id))
        .collect()
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    fn seen(path: &str, line: usize, detail: &'static str, host: &str) -> KeyReference {
        KeyReference {
            scope: default_scope(),
            sources: vec![Source {
                path: path.into(),
                line: Some(line),
                kind: "text",
            }],
            subject: Subject {
                kind: "host",
                name: "esxi51".into(),
            },
            provider: Some("NKP-PROD".into()),
            provider_key_id: None,
            key: None,
            host: Some(host.into()),
            state: State::ProviderKnown,
            details: vec![detail.into()],
        }
    }

    #[test]
    fn merged_details_do_not_depend_on_the_order_references_arrive_in() {
        let make = || {
            vec![
                seen("a.txt", 4, "from a", "esxi51"),
                seen("b.json", 1, "from b", "esxi52"),
                seen("c.txt", 9, "from c", "esxi53"),
            ]
        };
        let forward = merge(make());
        let mut reversed = make();
        reversed.reverse();
        let backward = merge(reversed);
        assert_eq!(forward.len(), 1);
        assert_eq!(forward[0].details, backward[0].details);
        assert_eq!(forward[0].details, ["from a", "from b", "from c"]);
        assert_eq!(forward[0].host, backward[0].host);
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    /// Issue 10, item 9: one file keeps at most MAX_REFS_PER_FILE references, and says so.
    #[test]
    fn references_per_file_are_capped_with_a_warning() {
        let mut c = Collector::new("planted.txt");
        for i in 0..MAX_REFS_PER_FILE + 7 {
            c.add(Seen {
                kind: "text",
                line: Some(i + 1),
                subject: Subject {
                    kind: "vm",
                    name: format!("vm-{i}"),
                },
                provider: Some("NKP".into()),
                provider_key_id: None,
                key: None,
                host: None,
                state: State::NeedsKey,
                details: Vec::new(),
            });
        }
        let (input, refs) = c.finish(None);
        assert_eq!(refs.len(), MAX_REFS_PER_FILE);
        assert!(
            input
                .warnings
                .iter()
                .any(|w| w.contains("7 more were passed over")),
            "{:?}",
            input.warnings
        );
    }
}
