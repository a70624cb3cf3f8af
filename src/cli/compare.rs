//! `hwcal compare`: its flags and their translation into [`CompareSettings`].

use crate::report::{CompareSettings, Format};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Output format of `hwcal compare` (the flag of [`Format`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Terminal tables: speedup per pattern, each pattern in detail, hardware summary.
    Table,
    /// GitHub-flavoured markdown, for pasting into a pull request.
    Markdown,
    /// The comparison as JSON, for scripts.
    Json,
    /// One self-contained HTML page with charts (needs --output).
    Html,
}

impl From<FormatArg> for Format {
    fn from(arg: FormatArg) -> Self {
        match arg {
            FormatArg::Table => Format::Table,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Json => Format::Json,
            FormatArg::Html => Format::Html,
        }
    }
}

/// Flags of `hwcal compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Profiles to compare (hwcal's or the Python calibrator's), at least two; the first is
    /// the baseline of the ratios.
    #[arg(required = true, value_name = "PROFILE")]
    pub profiles: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
    /// Write the report to this file (atomically) instead of standard output; required for
    /// --format html. Never one of the input profiles, nor any other profile or a directory;
    /// a previous report is replaced.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

impl CompareArgs {
    /// The settings these flags give. The count of profiles and `--format html` without
    /// `--output` are judged by [`crate::report::run`], which every caller goes through.
    pub fn to_settings(&self) -> CompareSettings {
        CompareSettings {
            profiles: self.profiles.clone(),
            format: self.format.into(),
            output: self.output.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FormatArg as Format;
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }

    fn run(args: &CompareArgs) -> crate::Result<u8> {
        crate::report::run(&args.to_settings())
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
