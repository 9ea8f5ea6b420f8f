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
pub mod scan;
pub mod text;
pub mod vcdb;
pub mod vmdk;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::model::{ErrorInfo, EvidenceInput, KeyReference, Source, Subject};

/// Gathers references from one file.
pub struct Collector {
    path: String,
    refs: Vec<KeyReference>,
    kinds: BTreeSet<String>,
    warnings: Vec<String>,
}

impl Collector {
    /// A collector for `path`.
    pub fn new(path: &str) -> Self {
        Collector {
            path: path.to_string(),
            refs: Vec::new(),
            kinds: BTreeSet::new(),
            warnings: Vec::new(),
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

    /// Add one reference; the key identifier is classified here.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        kind: &str,
        line: Option<usize>,
        subject: Subject,
        provider: Option<String>,
        provider_key_id: Option<String>,
        key: Option<String>,
        host: Option<&str>,
        state: &str,
        details: Vec<String>,
    ) {
        let key_form = key.as_deref().map(blob::decode);
        let embedded_uuid = match &key_form {
            Some(blob::KeyIdForm::NkpBlob { embedded_uuid, .. }) => Some(embedded_uuid.clone()),
            _ => None,
        };
        let source = Source {
            path: self.path.clone(),
            line,
            kind: kind.to_string(),
        };
        self.kinds.insert(kind.to_string());
        self.refs.push(KeyReference {
            sources: vec![source.clone()],
            source,
            subject,
            provider,
            provider_key_id,
            key,
            embedded_uuid,
            key_form,
            host: host.map(String::from),
            state: state.to_string(),
            details,
        });
    }

    /// Finish: the file's input record and its references.
    pub fn finish(self, error: Option<ErrorInfo>) -> (EvidenceInput, Vec<KeyReference>) {
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

/// Read references from text (a whole file, or a pasted ticket).
pub fn from_text(text: &str, path: &Path, hint: scan::FileHint, c: &mut Collector) {
    let lines = text::lines(text);
    scan::scan(&lines, path, hint, c);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    json::scan(&lines, &stem, c);
    vcdb::scan(&lines, c);
}

/// Options of `evidence`.
#[derive(Clone, Debug)]
pub struct EvidenceOptions {
    /// Largest text file read whole, in bytes.
    pub max_text_size: u64,
}

impl Default for EvidenceOptions {
    fn default() -> Self {
        EvidenceOptions {
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
            Skip::Binary => "binary",
            Skip::Unrelated => "unrelated",
            Skip::TooLarge => "too-large",
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

/// Quick test: does the text mention anything a parser reads?
fn has_marker(t: &str) -> bool {
    const MARKERS: &[&str] = &[
        "vmware:key",
        "VMware:key",
        "VMWARE:KEY",
        "crypto_key_id",
        "keyId",
        "KeyId",
        "key_id",
        "kms_providers",
        "native_provider",
        "wrapped_key",
        "has not been established",
        "keyID '",
    ];
    MARKERS.iter().any(|m| t.contains(m)) || scan::find_ci(t, "vmware:key/").is_some()
}

/// Read one file: a sparse extent's descriptor, or a text file, or pass it over.
pub fn read_file(path: &Path, opts: &EvidenceOptions) -> FileResult {
    let shown = path.display().to_string();
    let io_err = |e: std::io::Error| {
        let c = Collector::new(&shown);
        let (input, refs) = c.finish(Some(ErrorInfo {
            code: "io",
            message: format!("{shown}: cannot read: {e}"),
        }));
        FileResult::Read(input, refs)
    };
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return io_err(e),
    };
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = vec![0u8; 8192.min(size as usize)];
    if let Err(e) = f.read_exact(&mut head) {
        return io_err(e);
    }
    if head.starts_with(b"KDMV") {
        // Monolithic sparse extent: only its embedded descriptor is read.
        let Some((off, len)) = vmdk::descriptor_range(&head) else {
            return FileResult::Skipped(Skip::Binary);
        };
        let mut desc = Vec::new();
        let read = f
            .seek(SeekFrom::Start(off))
            .and_then(|_| (&mut f).take(len).read_to_end(&mut desc));
        if let Err(e) = read {
            return io_err(e);
        }
        let end = desc.iter().position(|b| *b == 0).unwrap_or(desc.len());
        let text = String::from_utf8_lossy(&desc[..end]);
        let mut c = Collector::new(&shown);
        from_text(&text, path, scan::FileHint::Vmdk, &mut c);
        let (input, refs) = c.finish(None);
        return FileResult::Read(input, refs);
    }
    if head.contains(&0) {
        return FileResult::Skipped(Skip::Binary);
    }
    if size > opts.max_text_size {
        return FileResult::Skipped(Skip::TooLarge);
    }
    let mut rest = Vec::new();
    if let Err(e) = f.take(opts.max_text_size).read_to_end(&mut rest) {
        return io_err(e);
    }
    head.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&head);
    if !has_marker(&text) {
        return FileResult::Skipped(Skip::Unrelated);
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
    let mut c = Collector::new(&shown);
    from_text(&text, path, hint, &mut c);
    let (input, refs) = c.finish(None);
    FileResult::Read(input, refs)
}

/// Everything `evidence` found.
#[derive(Debug, Default)]
pub struct Gathered {
    /// References, merged.
    pub references: Vec<KeyReference>,
    /// Files that yielded references or errors.
    pub inputs: Vec<EvidenceInput>,
    /// Passed-over files by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Walk problems (unreadable folders); symlink loops are warnings.
    pub walk_errors: Vec<String>,
    /// Walk warnings.
    pub walk_warnings: Vec<String>,
}

/// Walk `paths` in parallel and read every file. `progress` is called once per file.
pub fn gather(paths: &[PathBuf], opts: &EvidenceOptions, progress: &(dyn Fn() + Sync)) -> Gathered {
    use rayon::prelude::*;
    let mut g = Gathered::default();
    let (tx_err, rx_err) = std::sync::mpsc::channel::<(bool, String)>();
    let results: Vec<FileResult> = paths
        .iter()
        .flat_map(|p| {
            walkdir::WalkDir::new(p)
                .follow_links(true)
                .sort_by_file_name()
        })
        .filter_map(|e| match e {
            Ok(e) if e.file_type().is_file() => Some(e.into_path()),
            Ok(_) => None,
            Err(e) => {
                let _ = tx_err.send((e.loop_ancestor().is_some(), e.to_string()));
                None
            }
        })
        .par_bridge()
        .map(|p| {
            let r = read_file(&p, opts);
            progress();
            r
        })
        .collect();
    drop(tx_err);
    for (is_loop, e) in rx_err {
        if is_loop {
            g.walk_warnings.push(format!("skipped a symlink loop: {e}"));
        } else {
            g.walk_errors.push(e);
        }
    }
    let mut all = Vec::new();
    for r in results {
        match r {
            FileResult::Skipped(s) => *g.skipped.entry(s.label().to_string()).or_default() += 1,
            FileResult::Read(input, refs) => {
                if input.references > 0 || input.error.is_some() || !input.warnings.is_empty() {
                    g.inputs.push(input);
                } else {
                    *g.skipped
                        .entry(Skip::Unrelated.label().to_string())
                        .or_default() += 1;
                }
                all.extend(refs);
            }
        }
    }
    g.inputs.sort_by(|a, b| a.path.cmp(&b.path));
    g.references = merge(all);
    g
}

/// What makes two references the same: subject, provider, key, provider key_id, state.
type MergeKey = (
    Subject,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// Merge duplicate references (the same subject needing the same key, seen in several
/// sources), keeping every source.
pub fn merge(refs: Vec<KeyReference>) -> Vec<KeyReference> {
    let mut by_key: BTreeMap<MergeKey, KeyReference> = BTreeMap::new();
    for r in refs {
        let k = (
            r.subject.clone(),
            r.provider.clone(),
            r.key.clone(),
            r.provider_key_id.clone(),
            r.state.clone(),
        );
        match by_key.get_mut(&k) {
            Some(existing) => {
                for s in r.sources {
                    if !existing.sources.contains(&s) {
                        existing.sources.push(s);
                    }
                }
                for d in r.details {
                    if !existing.details.contains(&d) {
                        existing.details.push(d);
                    }
                }
                if existing.host.is_none() {
                    existing.host = r.host;
                }
            }
            None => {
                by_key.insert(k, r);
            }
        }
    }
    let mut out: Vec<KeyReference> = by_key.into_values().collect();
    for r in &mut out {
        r.sources.sort();
        r.source = r.sources[0].clone();
    }
    out
}
