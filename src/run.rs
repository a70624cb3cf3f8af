//! The commands behind the binary: calibrate, show, devices. Each takes its settings (the
//! flags are parsed in [`crate::cli`]) and returns the process exit code (0 ok, 1 a measurement
//! failed verification) or an error (exit code from [`crate::Error::exit_code`]).

use crate::backend::{self, Backend, BackendSelection};
use crate::calibrate::{self, Config, Observer};
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
    fn done(&mut self, recorded: &calibrate::Recorded) {
        self.line(format!(
            "  {}",
            crate::report::progress::result_line(recorded)
        ));
        self.bar.inc(1);
    }
    fn section_note(&mut self, title: &str) {
        self.line(format!("\n  {title}:"));
    }
    fn note(&mut self, line: &str) {
        self.line(format!("  {line}"));
    }
    fn crossovers(&mut self, crossovers: &[calibrate::SweepCrossover]) {
        self.section_note("Crossovers");
        for c in crossovers {
            self.note(&crate::report::progress::crossover_line(c));
        }
    }
    fn failed(&mut self, error: &Error) {
        self.line(format!("  FAILED: {error}"));
        self.bar.inc(1);
    }
}

/// What `hwcal calibrate` measures, on which devices, and where it writes.
#[derive(Clone, Debug)]
pub struct CalibrateSettings {
    /// The validated calibration settings (sizes, patterns, sampling, peaks, hardware name).
    pub config: Config,
    /// The devices to calibrate: one profile each.
    pub backend: BackendSelection,
    /// Output file (default: `profiles/<hardware-name slug>.json`); only with one device.
    pub output: Option<PathBuf>,
    /// Print the profile's summary at the end.
    pub summary: bool,
}

/// `hwcal calibrate`: one profile per selected device.
pub fn calibrate(args: &CalibrateSettings) -> Result<u8> {
    let mut config = args.config.clone();
    let opened = backend::open(&args.backend)?;
    config.pinned_threads = opened.pinned_threads;
    let backends = opened.backends;
    if backends.len() > 1 && (args.output.is_some() || config.hardware.is_some()) {
        return Err(Error::usage(
            "--device all writes one profile per device, keyed by its own name: drop --output and --hardware",
        ));
    }
    // Check every output before measuring anything.
    let outputs: Vec<(String, PathBuf)> = backends
        .iter()
        .map(|b| {
            let name = config.hardware_name(b.device());
            let out = args.output.clone().unwrap_or_else(|| {
                PathBuf::from("profiles").join(format!("{}.json", crate::text::slug(&name)))
            });
            (name, out)
        })
        .collect();
    for (name, out) in &outputs {
        check_output(out, name)?;
    }
    crate::interrupt::install();
    let mut code = 0;
    for (backend, (name, output)) in backends.iter().zip(&outputs) {
        code = code.max(calibrate_one(
            backend.as_ref(),
            &config,
            args,
            name,
            output,
        )?);
        if crate::interrupt::requested() {
            break;
        }
    }
    Ok(code)
}

/// Calibrates one device and writes its profile.
fn calibrate_one(
    backend: &dyn Backend,
    config: &Config,
    args: &CalibrateSettings,
    name: &str,
    output: &Path,
) -> Result<u8> {
    let device = backend.device();
    println!("{}", "=".repeat(80));
    println!("Hardware Calibration: {}", crate::text::printable(name));
    println!("{}", "=".repeat(80));
    let s = &config.sampling;
    println!(
        "backend {} · {} threads{} · timing {} · preset {}",
        device.backend,
        device.threads,
        if config.pinned_threads {
            " (pinned)"
        } else {
            ""
        },
        device.timing_method,
        config.preset.name(),
    );
    println!(
        "sampling: samples of ≥ {} ms, until the 95% interval is within ±{}% (at least {} samples, at most {} s a point)",
        s.sample_floor.as_secs_f64() * 1e3,
        s.precision * 100.0,
        s.min_samples,
        s.time_cap.as_secs_f64()
    );
    match (&config.peak_gflops, &device.peak_gflops) {
        (Some(v), _) => println!("peak GFLOPS {v} (given)"),
        (None, Some(e)) => println!("peak GFLOPS {:.0} estimated: {}", e.value, e.how),
        (None, None) => println!("peak GFLOPS unknown (recorded as 0): pass --peak-gflops"),
    }
    match config.peak_bandwidth_gbps {
        Some(v) => println!("peak bandwidth {v} GB/s (given)"),
        None => println!(
            "peak bandwidth unknown (recorded as 0): pass --peak-bandwidth for efficiencies"
        ),
    }

    let mut observer = ProgressObserver::new(calibrate::count_measurements(config));
    let outcome = calibrate::calibrate(backend, config, &mut observer)?;
    observer.bar.finish_and_clear();

    // What the file will hold: this run's measurements over whatever it already had, merged
    // under the output's lock. If that write fails, the run is kept elsewhere.
    let merged = match outcome.profile.save_merging(output) {
        Ok(merged) => merged,
        Err(e) => return Err(keep_elsewhere(&outcome.profile, name, output, e)),
    };
    if args.summary {
        println!();
        merged.print_summary();
    }
    println!("\nprofile written to {}", output.display());
    if let Some(missing) = &outcome.interrupted {
        eprintln!(
            "\ninterrupted: what finished is written (marked `interrupted` in the profile); {} measurement(s) not made: {}",
            missing.len(),
            crate::text::list(missing, 8)
        );
        return Ok(crate::interrupt::EXIT_CODE);
    }
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

/// Fails now, before minutes of measuring, if a file cannot be written at `path` (a directory,
/// read-only, disk full) or it exists and is not a profile of `hardware` (saving would refuse
/// it afterwards).
///
/// This reads an existing file once before measuring, to refuse a foreign one early; the
/// authoritative read is the one [`HardwareCalibration::save_merging`] makes under the output's
/// lock after measuring, since the file may change in between (another calibration into it).
fn check_output(path: &Path, hardware: &str) -> Result<()> {
    crate::profile::check_output_location(path)?;
    let probe =
        HardwareCalibration::new(crate::profile::CalibrationMetadata::new(hardware), 0.0, 0.0);
    probe.merged_with_existing(path).map(|_| ())
}

/// The output could not be written after measuring (`error`): saves this run's profile in the
/// temporary directory instead, so the measurements are not lost, and returns the error to
/// report, naming where the run went.
fn keep_elsewhere(profile: &HardwareCalibration, name: &str, output: &Path, error: Error) -> Error {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let rescue = std::env::temp_dir().join(format!(
        "hwcal-{}-{stamp}-{}.json",
        crate::text::slug(name),
        std::process::id()
    ));
    match profile.save(&rescue) {
        Ok(()) => Error::usage(format!(
            "{error}; this run's measurements are saved in {} instead: copy it over {} once that location can be written",
            rescue.display(),
            output.display()
        )),
        Err(e2) => Error::usage(format!(
            "{error}; saving this run in {} failed too ({e2}): the measurements are lost",
            rescue.display()
        )),
    }
}

/// `hwcal show FILE`.
pub fn show(file: &Path) -> Result<u8> {
    HardwareCalibration::load(file)?.print_summary();
    Ok(0)
}

/// `hwcal devices`: the CPU and every GPU adapter, with what matters for calibration.
pub fn devices() -> Result<u8> {
    use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header([
        "backend",
        "--device",
        "name",
        "API",
        "type",
        "driver",
        "timestamps",
        "f16",
        "subgroups",
    ]);
    let cpu = crate::backend::cpu::device::describe(rayon::current_num_threads());
    let simd = cpu.details["simd"].as_str().unwrap_or("?").to_string();
    table.add_row([
        "cpu".to_string(),
        "-".into(),
        cpu.name.clone(),
        simd,
        format!("{} threads", cpu.threads),
        "-".into(),
        "host clock".into(),
        "-".into(),
        "-".into(),
    ]);
    let gpus = gpu_rows();
    let none = gpus.is_empty();
    for row in gpus {
        table.add_row(row);
    }
    println!("{table}");
    if none {
        println!("{}", backend::gpu::no_adapters_hint());
    }
    Ok(0)
}

fn gpu_rows() -> Vec<Vec<String>> {
    let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
    backend::gpu::list_adapters()
        .into_iter()
        .map(|a| {
            vec![
                "gpu".into(),
                a.index.to_string(),
                a.name,
                a.backend,
                a.device_type,
                format!("{} {}", a.driver, a.driver_info).trim().to_string(),
                yes(a.timestamps),
                yes(a.shader_f16),
                yes(a.subgroups),
            ]
        })
        .collect()
}
