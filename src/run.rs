//! The commands behind the binary: calibrate, show, bench. Each returns the process exit code
//! (0 ok, 1 a measurement failed verification) or an error (exit code from
//! [`crate::Error::exit_code`]).

use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::calibrate::{self, Observer};
use crate::cli::{self, BackendKind, BenchArgs, CalibrateArgs};
use crate::profile::HardwareCalibration;
use crate::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Progress bar over all measurements; result lines are printed above it.
struct ProgressObserver {
    bar: ProgressBar,
}

impl ProgressObserver {
    fn new(total: usize) -> Self {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .expect("static template is valid"),
        );
        ProgressObserver { bar }
    }

    /// Prints above the bar, or plainly when there is no terminal to draw it on.
    fn line(&self, text: String) {
        if self.bar.is_hidden() {
            println!("{text}");
        } else {
            self.bar.println(text);
        }
    }
}

impl Observer for ProgressObserver {
    fn section(&mut self, title: &str) {
        self.line(format!("\n{title}\n{}", "-".repeat(80)));
    }
    fn begin(&mut self, label: &str) {
        self.bar.set_message(label.to_string());
    }
    fn done(&mut self, line: &str) {
        self.line(format!("  {line}"));
        self.bar.inc(1);
    }
    fn failed(&mut self, error: &Error) {
        self.line(format!("  FAILED: {error}"));
        self.bar.inc(1);
    }
}

/// Opens the backend a command asked for.
pub fn open_backend(kind: BackendKind) -> Result<Box<dyn Backend>> {
    match kind {
        BackendKind::Cpu => Ok(Box::new(CpuBackend::new())),
        BackendKind::Gpu => Err(Error::NoDevice(
            "this build of hwcal has no GPU backend yet: use --backend cpu".into(),
        )),
    }
}

/// `hwcal calibrate`.
pub fn calibrate(args: &CalibrateArgs) -> Result<u8> {
    let config = args.to_config()?;
    cli::init_threads(args.threads)?;
    let backend = open_backend(args.backend)?;
    let device = backend.device();
    let name = config
        .hardware
        .clone()
        .unwrap_or_else(|| device.name.clone());
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("profiles").join(format!("{}.json", cli::slug(&name))));
    // Refuse early, before minutes of measuring, if the output cannot be written later.
    check_output(&output, &name)?;

    println!("{}", "=".repeat(80));
    println!("Hardware Calibration: {name}");
    println!("{}", "=".repeat(80));
    println!(
        "backend {} · {} threads · preset {} · {} warm-up + {} trials per variant",
        device.backend,
        device.threads,
        config.preset.name(),
        config.warmup,
        config.trials
    );
    match (&config.peak_gflops, &device.peak_gflops) {
        (Some(v), _) => println!("peak GFLOPS {v} (given)"),
        (None, Some(e)) => println!("peak GFLOPS {:.0} estimated: {}", e.value, e.how),
        (None, None) => println!("peak GFLOPS unknown: pass --peak-gflops"),
    }
    match config.peak_bandwidth_gbps {
        Some(v) => println!("peak bandwidth {v} GB/s (given)"),
        None => println!(
            "peak bandwidth unknown (recorded as 0): pass --peak-bandwidth for efficiencies"
        ),
    }

    let mut observer = ProgressObserver::new(calibrate::count_measurements(&config));
    let outcome = calibrate::calibrate(backend.as_ref(), &config, &mut observer)?;
    observer.bar.finish_and_clear();

    // What the file will hold: this run's measurements over whatever it already had.
    let merged = outcome.profile.merged_with_existing(&output)?;
    merged.save(&output)?;
    if !args.no_summary {
        println!();
        merged.print_summary();
    }
    println!("\nprofile written to {}", output.display());
    if outcome.failures.is_empty() {
        Ok(0)
    } else {
        eprintln!(
            "\n{} measurement(s) failed and were not recorded:",
            outcome.failures.len()
        );
        for f in &outcome.failures {
            eprintln!("  - {f}");
        }
        Ok(outcome
            .failures
            .iter()
            .map(|e| e.exit_code() as u8)
            .max()
            .unwrap_or(1))
    }
}

/// Fails now, before minutes of measuring, if `path` exists and is not a profile of
/// `hardware` (saving would refuse it afterwards).
fn check_output(path: &Path, hardware: &str) -> Result<()> {
    let probe =
        HardwareCalibration::new(crate::profile::CalibrationMetadata::new(hardware), 0.0, 0.0);
    probe.merged_with_existing(path).map(|_| ())
}

/// `hwcal show FILE`.
pub fn show(file: &Path) -> Result<u8> {
    HardwareCalibration::load(file)?.print_summary();
    Ok(0)
}

/// `hwcal bench`.
pub fn bench(args: &BenchArgs) -> Result<u8> {
    cli::init_threads(args.threads)?;
    crate::bench::run(args)
}
