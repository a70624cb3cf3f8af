//! The command line: every clap type of hwcal, and the translation of flags into the
//! library's validated settings.
//!
//! Two stages, as ripgrep does: clap parses raw flags into the `*Args` structs here, then each
//! one's `to_settings` turns them into the plain settings the library takes
//! ([`crate::run::CalibrateSettings`], [`crate::report::CompareSettings`],
//! [`crate::cost_model::command::PlanSettings`], [`crate::bench::BenchSettings`]) and rejects
//! values clap cannot judge (unknown pattern names, counts that cannot produce statistics,
//! `--device` without `--backend gpu`). Nothing outside this module knows about clap, so the
//! library can be driven without a command line.
//!
//! - [`calibrate`], [`compare`], [`plan`], [`mod@bench`]: one file per subcommand's flags;
//! - [`device`]: `--backend` and `--device`, shared by `calibrate` and `plan`;
//! - here: [`Cli`] and [`Command`] (the table of contents), [`parse`], [`Command::run`] and
//!   [`one_line`] (clap's errors as one line).

pub mod bench;
pub mod calibrate;
pub mod compare;
pub mod device;
pub mod plan;

pub use bench::BenchArgs;
pub use calibrate::CalibrateArgs;
pub use compare::CompareArgs;
pub use plan::PlanArgs;

use crate::{Error, Result};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

/// hwcal: measure how fast memory, matmul and fused kernels really are on this device.
#[derive(Debug, Parser)]
#[command(name = "hwcal", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Calibrate a device and write its profile (JSON, keyed by hardware name).
    Calibrate(CalibrateArgs),
    /// Print the summary of a profile (hwcal's or the Python calibrator's).
    Show {
        /// Profile file.
        file: PathBuf,
    },
    /// Compare profiles (hwcal's or the Python calibrator's) side by side: fusion speedups,
    /// verdict flips, bandwidth and GFLOPS; a table, markdown, JSON or an HTML page with charts.
    Compare(CompareArgs),
    /// Decide which operator chains of a graph to fuse, from a profile (--verify measures them).
    Plan(PlanArgs),
    /// List every compute device hwcal can calibrate (the CPU and each GPU adapter).
    Devices,
    /// Check hwcal's speed against references measured in the same run (numpy matmul, a C
    /// STREAM triad) and time a quick calibration.
    Bench(BenchArgs),
}

impl Command {
    /// Turns the flags into settings and runs the command. Returns the process exit code, or
    /// the error whose [`Error::exit_code`] it is.
    pub fn run(self) -> Result<u8> {
        match self {
            Command::Calibrate(args) => crate::run::calibrate(&args.to_settings()?),
            Command::Show { file } => crate::run::show(&file),
            Command::Devices => crate::run::devices(),
            Command::Compare(args) => crate::report::run(&args.to_settings()),
            Command::Plan(args) => crate::cost_model::command::run(&args.to_settings()?),
            Command::Bench(args) => crate::bench::run(&args.to_settings()?),
        }
    }
}

/// Parses the process's arguments. `--help` and `--version` print as clap prints them and end
/// the process; any other flag error is a usage error (exit code 2) holding clap's text as one
/// line ([`one_line`]).
pub fn parse() -> Result<Cli> {
    Cli::try_parse().map_err(|e| {
        if matches!(
            e.kind(),
            ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        ) {
            e.exit();
        }
        let typed = std::env::args_os().nth(1);
        Error::usage(one_line(
            &e.render().to_string(),
            typed.as_deref().and_then(|s| s.to_str()),
        ))
    })
}

/// clap's error text (message, tips, usage, a pointer to --help over several lines) as one
/// line: the message and its tips joined by `; `, then where to read more. `subcommand` is the
/// command the user typed (the first argument), named in the pointer to `--help` when clap's text
/// does not say.
pub fn one_line(rendered: &str, subcommand: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let known = subcommand.filter(|s| Cli::command().get_subcommands().any(|c| c.get_name() == *s));
    let mut command = match known {
        Some(sub) => format!("hwcal {sub}"),
        None => String::from("hwcal"),
    };
    let mut help = false;
    for line in rendered.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if line.starts_with("For more information, try ") {
            help = true;
        } else if let Some(usage) = line.strip_prefix("Usage:") {
            // `Usage: hwcal calibrate [OPTIONS]` names the command whose help to read.
            command = usage
                .split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ");
        } else if !line.starts_with("hwcal ") {
            parts.push(line.strip_prefix("error: ").unwrap_or(line).to_string());
        }
    }
    let mut out = String::new();
    for part in parts {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(&part);
    }
    if help {
        out.push_str(&format!(" (see `{command} --help`)"));
    }
    crate::text::truncated_to(&out, 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_errors_are_one_line() {
        for argv in [
            &["hwcal", "calibrate", "--bogus"][..],
            &["hwcal", "calibrate", "--threads", "x"],
            &["hwcal", "nosuch"],
            &["hwcal", "compare"],
        ] {
            let e = Cli::try_parse_from(argv).unwrap_err();
            let line = one_line(&e.render().to_string(), argv.get(1).copied());
            assert!(!line.contains('\n') && !line.is_empty(), "{argv:?}: {line}");
            assert!(line.contains("--help"), "{line}");
            assert!(!line.contains(":;"), "{line}");
        }
        // A negative number is a value, judged by validation, not an unknown flag.
        let cli = Cli::try_parse_from(["hwcal", "calibrate", "--peak-gflops", "-1"]).unwrap();
        let Command::Calibrate(args) = cli.command else {
            panic!()
        };
        let e = args.to_config().unwrap_err().to_string();
        assert!(e.contains("--peak-gflops -1"), "{e}");
        for absurd in ["5e-324", "1e-310", "1e308", "NaN", "inf", "0"] {
            for flag in ["--peak-gflops", "--peak-bandwidth"] {
                let cli = Cli::try_parse_from(["hwcal", "calibrate", flag, absurd]).unwrap();
                let Command::Calibrate(args) = cli.command else {
                    panic!()
                };
                let e = args.to_config().unwrap_err().to_string();
                assert!(e.starts_with(flag) && !e.contains('\n'), "{e}");
            }
        }
    }
}
