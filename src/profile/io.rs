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
//! followed (its target is replaced, the link stays).

use super::calibration::HardwareCalibration;
use super::json::{parse_lenient, to_python_json};
use crate::{Error, Result};
use std::fs;
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
                existing.metadata.hardware_name, self.metadata.hardware_name
            )));
        }
        let mut merged = self.clone();
        merged.merge_older(&existing);
        Ok(merged)
    }

    /// Saves under the overwrite policy of this module: merges into an existing profile of the
    /// same hardware, refuses (leaving the file untouched) when the file at `path` is not one.
    pub fn save_merging(&self, path: &Path) -> Result<()> {
        self.merged_with_existing(path)?.save(path)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// keeping an existing file's permissions (a new file gets the usual ones, not the temporary
/// file's 0600). Every file hwcal writes goes through here.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    // Replace a symlink's target, not the link.
    let target: PathBuf = if path.is_symlink() {
        fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let file_name = target
        .file_name()
        .ok_or_else(|| profile_error(path, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
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
