//! The `hwcal` binary: parse, run, print the error chain, exit with its code.

use clap::Parser;
use hwcal::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Calibrate(args) => hwcal::run::calibrate(&args),
        Command::Show { file } => hwcal::run::show(&file),
        Command::Bench(args) => hwcal::run::bench(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("hwcal: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
