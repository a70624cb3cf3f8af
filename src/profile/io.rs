//! Reading and writing profile files.
//!
//! # Text format
//! [`HardwareCalibration::to_json_string`] writes exactly what Python's
//! `json.dump(d, f, indent=2)` writes (see [`super::json`]), so a profile the Python calibrator
//! wrote loads and saves back byte for byte, and Python loads what hwcal writes. Non-finite
//! floats are written as `null` (Python would write the non-standard `NaN`/`Infinity`, which
//! strict JSON readers refuse); those tokens are accepted on load.
//!
//! # Overwrite policy ([`HardwareCalibration::save_merging`])
//! Saving over an existing file never loses what it had and never clobbers something that is not
//! a profile of the same device:
//! - no file at the path: the profile is written;
//! - a profile with the same `metadata.hardware_name`: it is merged in as the older side
//!   ([`HardwareCalibration::merge_older`]), then the result is written;
//! - anything else (unreadable, not JSON, not a profile, another device's profile): refused with
//!   [`Error::Profile`] naming the file, which is left untouched.
//!
//! Every write is atomic: a temporary file in the same directory, flushed to disk, then renamed
//! over the target, so readers see the old file or the new one, never half of one. Missing
//! parent directories are created. An existing file keeps its permissions, and a symlink is
//! followed (its target is replaced or, for a dangling link, created; the link stays).
//!
//! # Concurrent writers
//! [`HardwareCalibration::save_merging`] re-reads the file, merges and writes it while holding an
//! advisory lock ([`File::lock`]): on Unix, `flock` on the file's directory (no lock file is
//! left behind; writers of other files in that directory wait their turn too, for the moment
//! a merge takes); elsewhere on a lock file beside it, `.NAME.lock`, which stays in place. Two
//! calibrations into one `--output` therefore both measure at the same time, then merge one
//! after the other: the second merges into what the first wrote, and nothing is lost. The lock
//! is advisory: a program that does not take it (an editor) is not held back.
//!
//! # Checking before measuring
//! [`check_output_location`] finds a bad output location (a directory, a parent that is a file,
//! a read-only directory, a full disk) before minutes of measuring are spent.

use super::calibration::HardwareCalibration;
use super::json::{parse_lenient, to_python_json};
use crate::{Error, Result};
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn profile_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Profile {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl HardwareCalibration {
    /// Loads the profile at `path`. A file that cannot be read gives [`Error::Io`]; one that is
    /// not a profile gives [`Error::Profile`] naming the line (bad JSON) or the key at fault.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = fs::read(path).map_err(|e| io_error(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            profile_error(
                path,
                format!(
                    "not a hwcal/graphs profile: not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        Self::from_json_str(&text, path)
    }

    /// Parses a profile from JSON text; `origin` names the source in errors.
    pub fn from_json_str(s: &str, origin: &Path) -> Result<Self> {
        let value = parse_lenient(s).map_err(|e| {
            let hint = if e.is_eof() { " (truncated file?)" } else { "" };
            profile_error(origin, format!("not valid JSON: {e}{hint}"))
        })?;
        Self::from_value(&value).map_err(|message| profile_error(origin, message))
    }

    /// The profile as JSON text, exactly as Python's `json.dump(indent=2)` would write it: two
    /// spaces of indentation, no trailing newline.
    pub fn to_json_string(&self) -> String {
        to_python_json(&self.to_value())
    }

    /// Writes the profile to `path` atomically (see the module notes), replacing whatever is
    /// there. Prefer [`Self::save_merging`] for user-named outputs.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomically(path, self.to_json_string().as_bytes())
    }

    /// The profile to write at `path` under the overwrite policy of this module: `self` when
    /// there is no file, `self` merged with the file's profile when it is a profile of the same
    /// hardware; an [`Error::Profile`] naming the file otherwise. Reads only.
    pub fn merged_with_existing(&self, path: &Path) -> Result<Self> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(self.clone()),
            Err(e) => return Err(io_error(path, e)),
        };
        let refuse = |why: String| {
            profile_error(
                path,
                format!(
                    "{why}; refusing to overwrite it: choose another --output or move the file"
                ),
            )
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| refuse("exists and is not a profile (not UTF-8 text)".into()))?;
        let existing = match Self::from_json_str(&text, path) {
            Ok(p) => p,
            Err(Error::Profile { message, .. }) => {
                return Err(refuse(format!("exists and is not a profile ({message})")))
            }
            Err(e) => return Err(e),
        };
        if existing.metadata.hardware_name != self.metadata.hardware_name {
            return Err(refuse(format!(
                "exists and is the profile of `{}`, not `{}`",
                crate::text::truncated(&existing.metadata.hardware_name),
                crate::text::truncated(&self.metadata.hardware_name)
            )));
        }
        let mut merged = self.clone();
        merged.merge_older(&existing);
        Ok(merged)
    }

    /// Saves under the overwrite policy of this module: merges into an existing profile of the
    /// same hardware, refuses (leaving the file untouched) when the file at `path` is not one.
    /// The read, merge and write happen under the file's lock ([`OutputLock`]). Returns what
    /// was written.
    pub fn save_merging(&self, path: &Path) -> Result<Self> {
        let _lock = OutputLock::acquire(path)?;
        let merged = self.merged_with_existing(path)?;
        merged.save(path)?;
        Ok(merged)
    }
}

/// Where a write to `path` lands: the final target of a symlink (followed through chains, also
/// when it does not exist yet), else `path` itself.
fn write_target(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    // As many hops as Linux follows before ELOOP.
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(meta) if meta.file_type().is_symlink() => match fs::read_link(&p) {
                Ok(link) if link.is_absolute() => p = link,
                Ok(link) => {
                    p = match p.parent() {
                        Some(dir) => dir.join(link),
                        None => link,
                    }
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    p
}

/// The directory a file at `target` lives in (`.` for a bare file name).
fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Bytes written (and removed again) by [`check_output_location`] to see that the disk takes
/// a profile: more than any quick calibration's profile needs.
const PROBE_BYTES: usize = 1 << 20;

/// Checks, before any work, that a file can be written at `path`: it is not a directory, its
/// parent is (or can be created as) a directory, and a temporary file of 1 MiB can be
/// written and flushed there (a read-only directory or a full disk fails here). Creates missing
/// parent directories, as the write would. Does not look at what the file holds; the overwrite
/// policy is checked by [`HardwareCalibration::merged_with_existing`].
pub fn check_output_location(path: &Path) -> Result<()> {
    let target = write_target(path);
    if target.is_dir() {
        return Err(profile_error(
            path,
            "is a directory: name a file, e.g. --output DIR/profile.json",
        ));
    }
    if target.file_name().is_none() {
        return Err(profile_error(path, "not a file path"));
    }
    let dir = parent_dir(&target);
    if dir.exists() && !dir.is_dir() {
        return Err(profile_error(
            path,
            format!("cannot be written: {} is not a directory", dir.display()),
        ));
    }
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    let mut probe = tempfile::Builder::new()
        .prefix(".hwcal-write-check.")
        .tempfile_in(&dir)
        .map_err(|e| io_error(&dir, e))?;
    probe
        .write_all(&vec![0u8; PROBE_BYTES])
        .and_then(|()| probe.as_file().sync_all())
        .map_err(|e| io_error(&dir, e))?;
    Ok(())
}

/// An exclusive advisory lock taken while an output is read, merged and written: `flock` on the
/// output's directory on Unix, on a `.NAME.lock` file beside it elsewhere; released when
/// dropped. Two hwcal processes writing one file thus merge one after the other.
pub struct OutputLock {
    _file: File,
}

impl OutputLock {
    /// Takes the lock of the output at `path`, waiting (and saying so on stderr) while another
    /// process holds it.
    pub fn acquire(path: &Path) -> Result<Self> {
        let target = write_target(path);
        let dir = parent_dir(&target);
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let name = target
            .file_name()
            .ok_or_else(|| profile_error(path, "not a file path"))?
            .to_string_lossy()
            .into_owned();
        let (lock_path, file) = Self::lock_file(&dir, &name);
        let file = file.map_err(|e| io_error(&lock_path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "hwcal: {} is being written by another hwcal; waiting for it",
                    path.display()
                );
                file.lock().map_err(|e| io_error(&lock_path, e))?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_error(&lock_path, e)),
        }
        Ok(OutputLock { _file: file })
    }

    /// What is locked: the directory itself on Unix.
    #[cfg(unix)]
    fn lock_file(dir: &Path, _name: &str) -> (PathBuf, std::io::Result<File>) {
        (dir.to_path_buf(), File::open(dir))
    }

    /// What is locked: a lock file beside the output.
    #[cfg(not(unix))]
    fn lock_file(dir: &Path, name: &str) -> (PathBuf, std::io::Result<File>) {
        let path = dir.join(format!(".{name}.lock"));
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path);
        (path, file)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// keeping an existing file's permissions (a new file gets the usual ones, not the temporary
/// file's 0600). Every file hwcal writes goes through here.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    // Replace a symlink's target, not the link (a dangling link's target is created).
    let target = write_target(path);
    if target.is_dir() {
        return Err(profile_error(path, "is a directory: name a file"));
    }
    let file_name = target
        .file_name()
        .ok_or_else(|| profile_error(path, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let dir = parent_dir(&target);
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;

    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{file_name}.");
    builder.prefix(&prefix).suffix(".tmp");
    let permissions = match fs::metadata(&target) {
        Ok(meta) => Some(meta.permissions()),
        Err(_) => default_permissions(),
    };
    if let Some(p) = permissions {
        builder.permissions(p);
    }
    let mut tmp = builder.tempfile_in(&dir).map_err(|e| io_error(&dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io_error(tmp.path(), e))?;
    tmp.persist(&target)
        .map_err(|e| io_error(&target, e.error))?;
    Ok(())
}

/// Permissions of a newly created file: what `File::create` gives (0o666 less the umask)
/// rather than the temporary file's private 0o600.
#[cfg(unix)]
fn default_permissions() -> Option<fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(fs::Permissions::from_mode(0o666))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<fs::Permissions> {
    None
}
