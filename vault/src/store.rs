//! Durable file operations. This module, [`crate::verify`] and [`crate::Vault`] are the only
//! places that touch the file system; the manifest and checkpoint code work on bytes.
//!
//! Every write is temp file + fsync + rename + directory fsync; an exclusive lock serialises
//! writers. With the `failpoints` cargo feature, tests can crash the process at each step.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::digest::sha256_hex;
use crate::error::VaultError;

/// File names inside a vault folder.
pub(crate) const CONFIG: &str = "vault.yaml";
pub(crate) const MANIFEST: &str = "manifest.jsonl";
pub(crate) const HEAD: &str = "HEAD";
pub(crate) const CHECKPOINTS: &str = "checkpoints.jsonl";
pub(crate) const OBJECTS: &str = "objects";

/// Crash the process here when `NKP_VAULT_FAILPOINT` names this point (tests of crash
/// safety). `abort` runs no destructors and flushes nothing: it is as close to a power cut as
/// a test can get without a VM. Compiled only with the `failpoints` feature *and* debug
/// assertions (test builds); a no-op otherwise, so a release binary cannot be made to abort by
/// its environment even when cargo unifies the dev-dependency feature into it (building the
/// binary together with examples, as the benchmark scripts do).
#[cfg(all(feature = "failpoints", debug_assertions))]
pub(crate) fn failpoint(name: &str) {
    if std::env::var_os("NKP_VAULT_FAILPOINT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}

#[cfg(not(all(feature = "failpoints", debug_assertions)))]
#[inline(always)]
pub(crate) fn failpoint(_name: &str) {}

/// The path of object `id`.
pub(crate) fn object_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(OBJECTS).join(format!("{id}.age"))
}

/// Read a vault file that may not exist yet (`None`), as [`read_capped`] does (no link, no
/// FIFO or device, within `cap`); any other error is an error.
pub(crate) fn read_optional(path: &Path, cap: u64) -> Result<Option<Vec<u8>>, VaultError> {
    match read_capped(path, cap) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(VaultError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// True when `path` exists (without following a final symlink); errors other than "not
/// found" are errors.
pub(crate) fn exists(path: &Path) -> Result<bool, VaultError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(VaultError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// `objects/` must be a directory of the vault, not a link to one elsewhere: writers would
/// create and remove files there.
pub(crate) fn objects_dir_is_real(dir: &Path) -> Result<(), VaultError> {
    let path = dir.join(OBJECTS);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_dir() => Ok(()),
        Ok(_) => Err(VaultError::Io {
            path,
            action: "use as the objects folder",
            source: std::io::Error::other("not a folder of the vault (a link or a file)"),
        }),
        Err(source) => Err(VaultError::Read { path, source }),
    }
}

/// Largest object read: an envelope is a .p12 of a few KiB, base64, encrypted.
pub(crate) const MAX_OBJECT: u64 = 64 << 20;
/// Largest manifest read: 256 MiB, about 350,000 entries of ~700 bytes.
pub(crate) const MAX_MANIFEST: u64 = 256 << 20;
/// Largest `checkpoints.jsonl` read: 64 MiB, about 200,000 checkpoints.
pub(crate) const MAX_CHECKPOINTS: u64 = 64 << 20;
/// Largest `HEAD` read.
pub(crate) const MAX_HEAD: u64 = 4096;
/// Largest `vault.yaml` read.
pub(crate) const MAX_CONFIG: u64 = 1 << 20;

/// Read a vault file that may have been planted by someone else (`verify` is meant for
/// untrusted copies): never through a symlink, never from a FIFO or device (which could block
/// or never end), and never more than `cap` bytes.
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = open_regular(path, cap)?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    f.take(cap.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "grew past the {cap}-byte cap while read"
        )));
    }
    Ok(out)
}

/// Read a key file the user names (an identity, a released share): a link is followed (keys
/// are often linked into place), but a FIFO or device is refused at once instead of waited on
/// or read without end, and no more than `cap` bytes are read.
pub fn read_key_file(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    let f = o.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a FIFO or device)",
        ));
    }
    let mut out = Vec::new();
    f.take(cap.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "larger than the {cap}-byte cap of a key file"
        )));
    }
    Ok(out)
}

/// Open a vault file that may have been planted by someone else: never through a symlink,
/// never a FIFO or device, never larger than `cap`.
fn open_regular(path: &Path, cap: u64) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let f = o.open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a link, FIFO or device)",
        ));
    }
    if meta.len() > cap {
        return Err(std::io::Error::other(format!(
            "{} bytes, larger than the {cap}-byte cap",
            meta.len()
        )));
    }
    Ok(f)
}

/// Hash a vault file as a stream (within `cap` bytes, opened as [`read_capped`] does) and keep
/// its first `keep` bytes: `verify` needs an object's hash and its age header, never the whole
/// object in memory.
pub(crate) fn hash_capped(
    path: &Path,
    cap: u64,
    keep: usize,
) -> std::io::Result<(String, Vec<u8>)> {
    use std::io::Read;
    let f = open_regular(path, cap)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut head = Vec::new();
    // On the stack: a fresh zeroed heap buffer per object was a measurable share of verifying
    // 10,000 objects of a few KiB each.
    let mut buf = [0u8; 16 * 1024];
    let mut r = f.take(cap.saturating_add(1));
    let mut total: u64 = 0;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        total += n as u64;
        if total > cap {
            return Err(std::io::Error::other(format!(
                "grew past the {cap}-byte cap while read"
            )));
        }
        ctx.update(chunk);
        if head.len() < keep {
            let take = (keep - head.len()).min(n);
            head.extend_from_slice(chunk.get(..take).unwrap_or_default());
        }
    }
    Ok((crate::digest::hex(ctx.finish().as_ref()), head))
}

/// Read object `id` and check that it hashes to its name.
pub(crate) fn read_object(dir: &Path, id: &str) -> Result<Vec<u8>, VaultError> {
    let path = object_path(dir, id);
    let cipher = read_capped(&path, MAX_OBJECT).map_err(VaultError::io(&path, "read object"))?;
    if sha256_hex(&cipher) != id {
        return Err(VaultError::ObjectChanged { path });
    }
    Ok(cipher)
}

/// Write `bytes` to `path` atomically and durably. `mode` applies on Unix. `step` names the
/// failpoints `<step>:before-rename` and `<step>:after-rename`.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    step: &str,
) -> Result<(), VaultError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A random name, created exclusively: whoever can write the vault folder cannot
    // predict it, and a symlink planted at it is never followed (O_CREAT|O_EXCL refuses it).
    let (tmp, mut f) = create_temp(dir, &name, mode)?;
    {
        let r = f
            .write_all(bytes)
            .map_err(VaultError::io(&tmp, "write"))
            .and_then(|()| f.sync_all().map_err(VaultError::io(&tmp, "fsync")));
        if let Err(e) = r {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    }
    failpoint(&format!("{step}:before-rename"));
    std::fs::rename(&tmp, path).map_err(VaultError::io(path, "rename into place"))?;
    sync_dir(dir)?;
    failpoint(&format!("{step}:after-rename"));
    Ok(())
}

/// Create `.<name>.tmp-<random>` in `dir`, exclusively, with `mode` on Unix.
fn create_temp(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File), VaultError> {
    let rng = ring::rand::SystemRandom::new();
    let mut last = None;
    for _ in 0..8 {
        let mut r = [0u8; 12];
        ring::rand::SecureRandom::fill(&rng, &mut r).map_err(|_| VaultError::Io {
            path: dir.to_path_buf(),
            action: "draw a random temporary name in",
            source: std::io::Error::other("the system random source failed"),
        })?;
        let tmp = dir.join(format!(".{name}.tmp-{}", crate::digest::hex(&r)));
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(mode).custom_flags(libc::O_NOFOLLOW);
        }
        #[cfg(not(unix))]
        let _ = mode;
        match o.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some((tmp, e)),
            Err(e) => return Err(VaultError::io(&tmp, "create")(e)),
        }
    }
    let (tmp, e) = last.unwrap_or_else(|| (dir.to_path_buf(), std::io::Error::other("no name")));
    Err(VaultError::io(&tmp, "create")(e))
}

/// fsync a directory so that a rename in it is durable.
fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(VaultError::io(dir, "fsync the directory"))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Write the manifest body, then `HEAD`, each atomically: in that order, a crash leaves at
/// worst `HEAD` one event behind, which verification tolerates and the next write repairs.
pub(crate) fn write_manifest(dir: &Path, body: &[u8], head: &[u8]) -> Result<(), VaultError> {
    write_atomic(&dir.join(MANIFEST), body, 0o644, "manifest")?;
    failpoint("append:before-head");
    write_atomic(&dir.join(HEAD), head, 0o644, "head")
}

/// An exclusive writer lock on the vault, released on drop.
pub(crate) struct Lock {
    _file: File,
}

/// Take the vault's writer lock, waiting for other writers. The lock file is opened without
/// following a symlink and without blocking on a FIFO or device someone put in its place, and
/// must be a regular file.
pub(crate) fn lock(dir: &Path) -> Result<Lock, VaultError> {
    let path = dir.join(".lock");
    let mut o = OpenOptions::new();
    o.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = o.open(&path).map_err(VaultError::io(
        &path,
        "open the lock file (it must be a regular file, not a link)",
    ))?;
    let regular = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    if !regular {
        return Err(VaultError::Io {
            path,
            action: "use as the lock file",
            source: std::io::Error::other("not a regular file"),
        });
    }
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            // Another writer holds the vault; say so rather than wait in silence.
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "waiting for the vault lock: another nkp-escrow command is writing to {}",
                    dir.display()
                );
            }
            file.lock().map_err(VaultError::io(&path, "lock"))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(VaultError::Io {
                path,
                action: "lock",
                source: e,
            })
        }
    }
    Ok(Lock { _file: file })
}

/// Create a file that must not exist yet, with `mode` on Unix (0600 for restored secrets).
/// An existing file is refused ([`VaultError::Exists`]), never truncated.
pub fn create_new(path: &Path, mode: u32) -> Result<File, VaultError> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    o.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            VaultError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            VaultError::Io {
                path: path.to_path_buf(),
                action: "create",
                source: e,
            }
        }
    })
}
