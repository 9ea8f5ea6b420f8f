//! Durable file operations: every write is temp file + fsync + rename + directory fsync; an
//! exclusive lock serialises writers; failpoints let tests crash the process at each step.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::VaultError;

/// Crash the process here when `NKP_VAULT_FAILPOINT` names this point (tests of crash safety).
/// `abort` runs no destructors and flushes nothing: it is as close to a power cut as a test
/// can get without a VM.
pub fn failpoint(name: &str) {
    if std::env::var_os("NKP_VAULT_FAILPOINT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}

fn io(path: &Path, what: &str) -> impl FnOnce(std::io::Error) -> VaultError {
    let p = path.display().to_string();
    let what = what.to_string();
    move |e| VaultError::Io(format!("{p}: cannot {what}: {e}"))
}

/// Write `bytes` to `path` atomically and durably. `mode` applies on Unix.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, step: &str) -> Result<(), VaultError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut o = OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = o.open(&tmp).map_err(io(&tmp, "create"))?;
        f.write_all(bytes).map_err(io(&tmp, "write"))?;
        f.sync_all().map_err(io(&tmp, "fsync"))?;
    }
    failpoint(&format!("{step}:before-rename"));
    std::fs::rename(&tmp, path).map_err(io(path, "rename into place"))?;
    sync_dir(dir)?;
    failpoint(&format!("{step}:after-rename"));
    Ok(())
}

/// fsync a directory so that a rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir, "fsync the directory"))?;
    }
    Ok(())
}

/// An exclusive writer lock on the vault, released on drop.
pub struct Lock {
    _file: File,
    /// The lock file.
    pub path: PathBuf,
}

/// Take the vault's writer lock, waiting for other writers.
pub fn lock(dir: &Path) -> Result<Lock, VaultError> {
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path, "open the lock file"))?;
    file.lock().map_err(io(&path, "lock"))?;
    Ok(Lock { _file: file, path })
}

/// Create a file that must not exist yet, with `mode` (0600 for restored secrets).
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
            VaultError::Refused(format!(
                "{} already exists: nothing is overwritten; choose another path",
                path.display()
            ))
        } else {
            VaultError::Io(format!("{}: cannot create: {e}", path.display()))
        }
    })
}

/// SHA-256 hex of bytes.
pub fn sha256_hex(b: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    d.as_ref().iter().map(|x| format!("{x:02x}")).collect()
}
