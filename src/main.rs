//! The `hwcal` binary: parse, run, print the error chain, exit with its code.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Mesa's device-select Vulkan layer prints a spurious XDG_RUNTIME_DIR error on headless
    // machines; hwcal enumerates every adapter itself, so the layer is not needed. Set before
    // any thread exists.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    match hwcal::cli::parse().and_then(|cli| cli.command.run()) {
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
