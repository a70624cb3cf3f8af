//! `hwcal compare`: the clap arguments and the entry point the binary calls.

use super::analyse::{compare, Input};
use super::{html, text};
use crate::profile::HardwareCalibration;
use crate::{Error, Result};
use std::io::Write as _;
use std::path::PathBuf;

/// Output format of `hwcal compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
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

/// Flags of `hwcal compare`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Profiles to compare (hwcal's or the Python calibrator's), at least two; the first is
    /// the baseline of the ratios.
    #[arg(required = true, value_name = "PROFILE")]
    pub profiles: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to this file (atomically) instead of standard output; required for
    /// --format html.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Loads the profiles, compares them and writes the report. Returns the exit code (0).
///
/// Errors: fewer than two profiles or `--format html` without `--output` (usage); a profile
/// that cannot be read or is not a profile (naming the file); the output cannot be written.
pub fn run(args: &CompareArgs) -> Result<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }

    #[test]
    fn flags_parse() {
        let cli = Cli::try_parse_from(["compare", "a.json", "b.json", "c.json"]).unwrap();
        assert_eq!(cli.args.profiles.len(), 3);
        assert_eq!(cli.args.format, Format::Table);
        assert_eq!(cli.args.output, None);
        let cli = Cli::try_parse_from([
            "compare", "a.json", "b.json", "--format", "html", "-o", "r.html",
        ])
        .unwrap();
        assert_eq!(cli.args.format, Format::Html);
        assert_eq!(cli.args.output, Some(PathBuf::from("r.html")));
        assert!(
            Cli::try_parse_from(["compare"]).is_err(),
            "profiles are required"
        );
        assert!(Cli::try_parse_from(["compare", "a", "b", "--format", "pdf"]).is_err());
        // One profile parses; run() refuses it with a usage error.
        let cli = Cli::try_parse_from(["compare", "a.json"]).unwrap();
        let e = run(&cli.args).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .starts_with("compare needs at least two profiles"),
            "{e}"
        );
    }
}
