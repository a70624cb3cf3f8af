//! The `hwcal` binary: parse, run, print the error chain, exit with its code.

use clap::error::ErrorKind;
use clap::Parser;
use hwcal::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Mesa's device-select Vulkan layer prints a spurious XDG_RUNTIME_DIR error on headless
    // machines; hwcal enumerates every adapter itself, so the layer is not needed. Set before
    // any thread exists.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Calibrate(args) => hwcal::run::calibrate(&args),
        Command::Show { file } => hwcal::run::show(&file),
        Command::Devices => hwcal::run::devices(),
        Command::Compare(args) => hwcal::report::run(&args),
        Command::Plan(args) => hwcal::cli::init_threads(args.threads, hwcal::cli::PIN_BY_DEFAULT)
            .and_then(|_| hwcal::cost_model::command::run(&args)),
        Command::Bench(args) => hwcal::run::bench(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!(
                "hwcal: error: {}",
                hwcal::text::printable_lines(&e.to_string())
            );
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// A flag error as one line on stderr (help and version print as clap prints them).
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    eprintln!(
        "hwcal: error: {}",
        hwcal::cli::one_line(&e.render().to_string(), std::env::args().nth(1).as_deref())
    );
    ExitCode::from(2)
}
