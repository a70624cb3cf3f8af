//! `hwcal compare`: its settings and the entry point the binary calls (the flags are parsed in
//! [`crate::cli::compare`]).

use super::analyse::{compare, Input};
use super::{html, text};
use crate::profile::HardwareCalibration;
use crate::{Error, Result};
use serde_json::Value;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Output format of `hwcal compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Terminal tables: speedup per pattern, each pattern in detail, hardware summary.
    Table,
    /// GitHub-flavoured markdown, for pasting into a pull request.
    Markdown,
    /// The comparison as JSON, for scripts.
    Json,
    /// One self-contained HTML page with charts (needs --output).
    Html,
}

/// What `hwcal compare` compares and how it reports.
#[derive(Clone, Debug)]
pub struct CompareSettings {
    /// Profiles to compare (hwcal's or the Python calibrator's), at least two; the first is
    /// the baseline of the ratios.
    pub profiles: Vec<PathBuf>,
    /// Output format.
    pub format: Format,
    /// Write the report to this file (atomically) instead of standard output; required for
    /// [`Format::Html`]. Never one of the input profiles, nor any other profile or a directory;
    /// a previous report is replaced.
    pub output: Option<PathBuf>,
}

/// Loads the profiles, compares them and writes the report. Returns the exit code (0).
///
/// Errors: fewer than two profiles or `--format html` without `--output` (usage); an
/// `--output` that is one of the input profiles (by any spelling or link), holds a profile, or
/// is a directory (usage, checked with [`check_output`] before any work; the file is left
/// untouched); a profile that cannot be read or is not a profile (naming the file); the output
/// cannot be written.
pub fn run(args: &CompareSettings) -> Result<u8> {
    if args.profiles.len() < 2 {
        return Err(Error::usage(format!(
            "compare needs at least two profiles, got {}: hwcal compare A.json B.json [C.json ...]",
            args.profiles.len()
        )));
    }
    if args.format == Format::Html && args.output.is_none() {
        return Err(Error::usage(
            "--format html writes a file: add --output report.html",
        ));
    }
    if let Some(output) = &args.output {
        check_output(output, &args.profiles)?;
    }
    let loaded = args
        .profiles
        .iter()
        .map(|p| HardwareCalibration::load(p))
        .collect::<Result<Vec<_>>>()?;
    let report = render(&args.profiles, &loaded, args.format).map_err(|message| Error::Io {
        path: args.output.clone().unwrap_or_else(|| PathBuf::from("-")),
        source: std::io::Error::other(message),
    })?;
    match &args.output {
        Some(path) => crate::profile::write_atomically(path, report.as_bytes())?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(report.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|source| Error::Io {
                    path: PathBuf::from("<stdout>"),
                    source,
                })?;
        }
    }
    Ok(0)
}

/// Whether `a` and `b` name the same existing file (the same inode on Unix: any spelling,
/// symlink or hard link; the same canonical path elsewhere).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        match (fs::metadata(a), fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (fs::canonicalize(a), fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

/// Whether `text` is a hwcal/graphs profile: JSON (Python's `NaN`/`Infinity` accepted) whose
/// top level has the keys every profile has, `metadata` and `theoretical_peak_gflops`. Every
/// file [`HardwareCalibration::from_json_str`] accepts is one, and so is a profile with a value
/// the loader refuses: it is still somebody's profile.
fn is_profile(text: &str) -> bool {
    matches!(
        crate::profile::json::parse_lenient(text),
        Ok(Value::Object(top))
            if top.contains_key("metadata") && top.contains_key("theoretical_peak_gflops")
    )
}

/// Largest existing file `--output` may replace: far more than any report, far less than a
/// file someone would want to keep and could lose by a typo.
const MAX_REPLACED_BYTES: u64 = 256 << 20;

/// Checks `--output` before any work: refuses (usage error, exit 2, nothing written) a
/// directory, one of the input `profiles` (compared as files, so `./a.json`, `dir/../a.json`,
/// a symlink or a hard link to it count), an existing file that holds a profile, and anything
/// that is not a regular file or is larger than any report (256 MiB); a file that cannot be
/// read is refused too (it cannot be told apart from a profile). Anything else (a previous
/// report) may be replaced. Then checks that the location can be written
/// ([`crate::profile::check_output_location`]: the parent is or can be made a directory, a
/// file can be written there).
pub fn check_output(output: &Path, profiles: &[PathBuf]) -> Result<()> {
    let shown = crate::text::truncated(&output.display().to_string());
    match fs::metadata(output) {
        Ok(meta) if meta.is_dir() => {
            return Err(Error::usage(format!(
                "--output {shown}: is a directory: name a file, e.g. --output {}",
                crate::text::truncated(&output.join("report.html").display().to_string())
            )))
        }
        Ok(meta) => {
            if let Some(input) = profiles.iter().find(|p| same_file(output, p)) {
                return Err(Error::usage(format!(
                    "--output {shown}: is the input profile {}: the report would replace it; \
                     choose another file",
                    crate::text::truncated(&input.display().to_string())
                )));
            }
            if !meta.is_file() {
                return Err(Error::usage(format!(
                    "--output {shown}: is not a regular file (a device, pipe or socket): name a \
                     file"
                )));
            }
            if meta.len() > MAX_REPLACED_BYTES {
                return Err(Error::usage(format!(
                    "--output {shown}: holds {} bytes, more than any report; refusing to replace \
                     it: choose another file",
                    meta.len()
                )));
            }
            let bytes = fs::read(output).map_err(|source| Error::Io {
                path: output.to_path_buf(),
                source,
            })?;
            if std::str::from_utf8(&bytes).is_ok_and(is_profile) {
                return Err(Error::usage(format!(
                    "--output {shown}: holds a hwcal/graphs profile; refusing to replace it with \
                     a report: choose another file"
                )));
            }
        }
        // Nothing there (or a dangling symlink): the report creates it.
        Err(_) => {}
    }
    crate::profile::check_output_location(output)
}

/// The report of `profiles` (loaded from `paths`, same order) in `format`. Pure: reads the
/// profiles, writes nothing. Errors only if a chart cannot be drawn.
pub fn render(
    paths: &[PathBuf],
    profiles: &[HardwareCalibration],
    format: Format,
) -> std::result::Result<String, String> {
    let inputs: Vec<Input<'_>> = paths
        .iter()
        .zip(profiles)
        .map(|(path, profile)| Input { path, profile })
        .collect();
    let cmp = compare(&inputs);
    Ok(match format {
        Format::Table => text::table(&cmp),
        Format::Markdown => text::markdown(&cmp),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&cmp).map_err(|e| e.to_string())?;
            s.push('\n');
            s
        }
        Format::Html => html::html(&cmp)?,
    })
}
