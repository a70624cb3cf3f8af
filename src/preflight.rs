//! Preflight: is the machine in a state where a calibration means anything?
//!
//! Before measuring, hwcal looks at what would make the numbers unrepresentative of the
//! hardware: a dynamic CPU governor, clocks below their maximum, turbo switched off, other work
//! on the CPUs, a hypervisor stealing time, heat, busy processes and, for a GPU run, the GPU's
//! clocks, power and throttle reasons. Modelled on the Python `graphs` calibrator's preflight;
//! [`Preflight`] serializes to the same JSON (`timestamp`, `passed`, `forced`, `checks`, each
//! check with `name`, `status`, `message`, `current_value`, `expected_value`).
//!
//! Every check reads files under [`Probe::root`] (`/` normally), so a test can lay out a fake
//! `/proc` and `/sys` in a temporary directory. A file that is missing or unreadable makes its
//! check [`CheckStatus::Skipped`] with a message saying what is not exposed; garbage in a file
//! gives a skipped or a sensible status, never a panic. The judging is done by pure functions
//! (text in, [`Check`] out); the file reading around them is thin.
//!
//! Statuses and thresholds (where they differ from the Python tool, hwcal's are the ones
//! below):
//!
//! | check | passed | warning | failed |
//! |---|---|---|---|
//! | CPU Governor | `performance` on every CPU | anything else, or mixed | — |
//! | CPU Frequency | ≥ 90% of max, or idle downclock under `*pstate` + `performance`, or max unknown | ≥ 70% | < 70% |
//! | Turbo Boost | enabled | disabled | — |
//! | System Load | < 5% busy | < 20% | ≥ 20% |
//! | Steal Time | < 1% | < 5% | ≥ 5% |
//! | Thermal State | < 80 °C | < 95 °C | ≥ 95 °C |
//! | Busy Processes | no other process above 20% of a core | some | — |
//! | GPU Clocks | SM ≥ 90% of max, or idle downclock | ≥ 70%, or throttle reasons other than idle | < 70% |
//!
//! `nvidia-smi` is only consulted when the root is `/` (a fake root has no driver to ask), and
//! always under a hard 5-second timeout: a hung driver must not hang hwcal.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Outcome of one preflight check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The machine is as it should be for this check.
    Passed,
    /// Results may not represent peak performance; the calibration can still proceed.
    Warning,
    /// Results would not represent the hardware.
    Failed,
    /// The check could not be made (the machine does not expose what it reads).
    Skipped,
}

impl CheckStatus {
    /// The report's symbol: `[OK]`, `[!]`, `[X]` or `[-]`.
    pub fn symbol(self) -> &'static str {
        match self {
            CheckStatus::Passed => "[OK]",
            CheckStatus::Warning => "[!]",
            CheckStatus::Failed => "[X]",
            CheckStatus::Skipped => "[-]",
        }
    }

    /// Severity order for combining statuses: skipped < passed < warning < failed.
    fn rank(self) -> u8 {
        match self {
            CheckStatus::Skipped => 0,
            CheckStatus::Passed => 1,
            CheckStatus::Warning => 2,
            CheckStatus::Failed => 3,
        }
    }

    /// The more severe of two statuses.
    fn worst(self, other: CheckStatus) -> CheckStatus {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

/// The result of one preflight check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Which check, e.g. `CPU Governor`.
    pub name: String,
    /// Its outcome.
    pub status: CheckStatus,
    /// One line saying what was found, e.g. `performance` or `62°C (cool, x86_pkg_temp)`.
    pub message: String,
    /// The value found, where there is one (`null` in JSON otherwise).
    #[serde(default)]
    pub current_value: Option<String>,
    /// The value wanted, where there is one (`null` in JSON otherwise).
    #[serde(default)]
    pub expected_value: Option<String>,
}

impl Check {
    /// A check without current and expected values.
    fn new(name: &str, status: CheckStatus, message: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            status,
            message: message.into(),
            current_value: None,
            expected_value: None,
        }
    }

    /// The same check with current and expected values set.
    fn values(mut self, current: impl Into<String>, expected: impl Into<String>) -> Check {
        self.current_value = Some(current.into());
        self.expected_value = Some(expected.into());
        self
    }
}

/// What a preflight's checks add up to ([`Preflight::outcome`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A check failed (or the run was refused); `forced`: calibrated anyway.
    Failed {
        /// Checks that failed.
        failed: usize,
        /// Whether the calibration went on regardless.
        forced: bool,
    },
    /// Passed, with this many warnings.
    Warned(usize),
    /// Every check passed.
    Passed,
}

/// All preflight checks of one run, in the JSON form of the Python `graphs` calibrator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preflight {
    /// Local time of the run, ISO 8601 without a zone, e.g. `2025-11-28T09:01:36.501662`.
    pub timestamp: String,
    /// True when no check failed (warnings are fine).
    pub passed: bool,
    /// True when the caller calibrated anyway despite a failed check; [`Probe::run`] leaves it
    /// false.
    #[serde(default)]
    pub forced: bool,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

impl Preflight {
    /// A preflight of these checks, time-stamped now, `passed` computed, not forced.
    pub fn from_checks(checks: Vec<Check>) -> Preflight {
        Preflight {
            timestamp: chrono::Local::now()
                .naive_local()
                .format("%Y-%m-%dT%H:%M:%S%.6f")
                .to_string(),
            passed: checks.iter().all(|c| c.status != CheckStatus::Failed),
            forced: false,
            checks,
        }
    }

    /// The checks that failed.
    pub fn failed(&self) -> Vec<&Check> {
        self.with_status(CheckStatus::Failed)
    }

    /// The checks that gave a warning.
    pub fn warnings(&self) -> Vec<&Check> {
        self.with_status(CheckStatus::Warning)
    }

    /// The verdict of the checks: failed (some check failed, or the run was not passed), passed
    /// with warnings, or passed.
    pub fn outcome(&self) -> Outcome {
        let failed = self.failed().len();
        let warnings = self.warnings().len();
        if failed > 0 || !self.passed {
            Outcome::Failed {
                failed,
                forced: self.forced,
            }
        } else if warnings > 0 {
            Outcome::Warned(warnings)
        } else {
            Outcome::Passed
        }
    }

    fn with_status(&self, status: CheckStatus) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.status == status).collect()
    }

    /// The human-readable report: a header, one line per check (`[OK] CPU Governor:
    /// performance`, `[!] ...`, `[X] ...`, `[-] ...`), `Current:` / `Expected:` sub-lines
    /// where both are set, and a last line starting `RESULT:`.
    pub fn report(&self) -> String {
        let rule = "=".repeat(70);
        let mut lines = vec![
            rule.clone(),
            "PRE-FLIGHT CHECKS".to_string(),
            rule,
            String::new(),
        ];
        for c in &self.checks {
            lines.push(format!("{} {}: {}", c.status.symbol(), c.name, c.message));
            if let (Some(cur), Some(exp)) = (&c.current_value, &c.expected_value) {
                lines.push(format!("    Current:  {cur}"));
                lines.push(format!("    Expected: {exp}"));
            }
        }
        lines.push(String::new());
        let result = match self.outcome() {
            Outcome::Failed {
                failed,
                forced: true,
            } => format!(
                "RESULT: FAILED ({failed} failed), calibrating anyway (forced): results are \
                 flagged as not representative of this hardware"
            ),
            Outcome::Failed { failed, .. } => format!(
                "RESULT: FAILED ({failed} failed): fix the issues above, or results will not \
                 represent this hardware"
            ),
            Outcome::Warned(warnings) => format!(
                "RESULT: PASSED with warnings ({warnings}): calibration will proceed, but results \
                 may not represent peak performance"
            ),
            Outcome::Passed => "RESULT: PASSED: the system is ready for calibration".to_string(),
        };
        lines.push(result);
        lines.join("\n")
    }

    /// Reads a preflight from its JSON form, as hwcal or the Python calibrator wrote it.
    ///
    /// Tolerant: unknown keys (Python's `device`, `has_warnings`) are ignored; a missing
    /// `timestamp` reads as empty, a missing `forced` as false, a missing `passed` is computed
    /// from the checks; a check's missing `message` reads as empty, and its `current_value` /
    /// `expected_value` may be absent, `null`, a string or a number. Statuses are matched
    /// without regard to case. Anything else malformed (not an object, no `checks` array, a
    /// check without a `name` or with an unknown `status`) gives `None`.
    pub fn from_json(v: &serde_json::Value) -> Option<Preflight> {
        let obj = v.as_object()?;
        let mut checks = Vec::new();
        for c in obj.get("checks")?.as_array()? {
            let c = c.as_object()?;
            let name = c.get("name")?.as_str()?.to_string();
            let status = match c.get("status")?.as_str()?.to_ascii_lowercase().as_str() {
                "passed" => CheckStatus::Passed,
                "warning" => CheckStatus::Warning,
                "failed" => CheckStatus::Failed,
                "skipped" => CheckStatus::Skipped,
                _ => return None,
            };
            let message = match c.get("message") {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(m) => m.as_str()?.to_string(),
            };
            let value = |key: &str| -> Option<Option<String>> {
                match c.get(key) {
                    None | Some(serde_json::Value::Null) => Some(None),
                    Some(serde_json::Value::String(s)) => Some(Some(s.clone())),
                    Some(n @ serde_json::Value::Number(_)) => Some(Some(n.to_string())),
                    Some(_) => None,
                }
            };
            checks.push(Check {
                name,
                status,
                message,
                current_value: value("current_value")?,
                expected_value: value("expected_value")?,
            });
        }
        let timestamp = match obj.get("timestamp") {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(t) => t.as_str()?.to_string(),
        };
        let passed = match obj.get("passed") {
            None | Some(serde_json::Value::Null) => {
                checks.iter().all(|c| c.status != CheckStatus::Failed)
            }
            Some(p) => p.as_bool()?,
        };
        let forced = match obj.get("forced") {
            None | Some(serde_json::Value::Null) => false,
            Some(f) => f.as_bool()?,
        };
        Some(Preflight {
            timestamp,
            passed,
            forced,
            checks,
        })
    }
}

/// What is about to be calibrated: decides whether the GPU check runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The CPU backend: the seven CPU and system checks.
    Cpu,
    /// A GPU: the seven CPU and system checks (the host still feeds the GPU) and `GPU Clocks`.
    Gpu {
        /// The adapter's name as the backend reports it, e.g. `NVIDIA H200`; picks the
        /// `nvidia-smi` row when there are several GPUs.
        adapter: String,
    },
}

/// Where and how long to look: the root under which `proc/` and `sys/` are read, and the
/// sampling window of the load, steal and busy-process checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The file-system root: `/` normally, a temporary directory with a fake `proc/` and `sys/`
    /// in tests. `nvidia-smi` is only run when this is `/`.
    pub root: PathBuf,
    /// How long to sample CPU and process counters for (between two reads of `proc/stat`).
    pub window: Duration,
}

impl Default for Probe {
    /// Root `/`, a 250 ms window.
    fn default() -> Self {
        Probe {
            root: PathBuf::from("/"),
            window: Duration::from_millis(250),
        }
    }
}

impl Probe {
    /// Runs every check for `target`: seven CPU and system checks, plus `GPU Clocks` for a GPU.
    ///
    /// Never panics; blocks for about [`Probe::window`], plus at most 5 s for `nvidia-smi` on a
    /// GPU run. `forced` is left false.
    pub fn run(&self, target: &Target) -> Preflight {
        let mut checks = Vec::with_capacity(8);
        let cpus = self.cpu_dirs();
        let governors: Vec<(u32, String)> = cpus
            .iter()
            .filter_map(|(n, dir)| Some((*n, read_text(&dir.join("cpufreq/scaling_governor"))?)))
            .collect();
        checks.push(judge_governor(&governors));
        checks.push(self.cpu_frequency(&cpus, &governors));
        checks.push(judge_turbo(
            self.read("sys/devices/system/cpu/intel_pstate/no_turbo")
                .as_deref(),
            self.read("sys/devices/system/cpu/cpufreq/boost").as_deref(),
        ));

        let own = self.own_ids();
        let before = self.snapshot(&own);
        std::thread::sleep(self.window);
        let after = self.snapshot(&own);
        let loadavg = self.read("proc/loadavg");
        checks.push(judge_load(
            before.stat.as_deref(),
            after.stat.as_deref(),
            loadavg.as_deref(),
            self.window,
        ));
        checks.push(judge_steal(
            before.stat.as_deref(),
            after.stat.as_deref(),
            self.window,
        ));
        checks.push(judge_thermal(&self.temperatures()));
        checks.push(judge_busy(
            &before.procs,
            &after.procs,
            after.at.saturating_duration_since(before.at),
        ));

        if let Target::Gpu { adapter } = target {
            checks.push(self.gpu_clocks(adapter));
        }
        Preflight::from_checks(checks)
    }

    /// `root/rel`.
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The text of `root/rel`, if readable.
    fn read(&self, rel: &str) -> Option<String> {
        read_text(&self.path(rel))
    }

    /// Whether the root is the real `/`.
    fn is_real_root(&self) -> bool {
        self.root.components().eq(Path::new("/").components())
    }

    /// `sys/devices/system/cpu/cpuN` directories, by CPU number.
    fn cpu_dirs(&self) -> Vec<(u32, PathBuf)> {
        numbered_entries(&self.path("sys/devices/system/cpu"), "cpu")
    }

    fn cpu_frequency(&self, cpus: &[(u32, PathBuf)], governors: &[(u32, String)]) -> Check {
        let samples: Vec<FreqSample> = cpus
            .iter()
            .map(|(_, dir)| FreqSample {
                cur_khz: read_text(&dir.join("cpufreq/scaling_cur_freq"))
                    .and_then(|t| parse_u64(&t)),
                max_khz: read_text(&dir.join("cpufreq/cpuinfo_max_freq"))
                    .and_then(|t| parse_u64(&t)),
            })
            .collect();
        let all_performance =
            !governors.is_empty() && governors.iter().all(|(_, g)| g.trim() == "performance");
        let driver = cpus
            .iter()
            .find_map(|(_, dir)| read_text(&dir.join("cpufreq/scaling_driver")));
        let cpuinfo = self.read("proc/cpuinfo");
        judge_frequency(
            &samples,
            all_performance,
            driver.as_deref(),
            cpuinfo.as_deref(),
        )
    }

    /// Our own pid and thread ids, excluded from the busy-process check.
    fn own_ids(&self) -> HashSet<u32> {
        let pid = std::process::id();
        let mut ids: HashSet<u32> = numbered_entries(&self.path(&format!("proc/{pid}/task")), "")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        ids.insert(pid);
        ids
    }

    /// One read of `proc/stat` and every `proc/[pid]/stat` but ours.
    fn snapshot(&self, exclude: &HashSet<u32>) -> Snapshot {
        let at = Instant::now();
        let stat = self.read("proc/stat");
        let procs = numbered_entries(&self.path("proc"), "")
            .into_iter()
            .filter(|(pid, _)| !exclude.contains(pid))
            .filter_map(|(_, dir)| parse_pid_stat(&read_text(&dir.join("stat"))?))
            .collect();
        Snapshot { stat, procs, at }
    }

    /// Every temperature sensor: `(sensor name, raw millidegree text)`.
    fn temperatures(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (n, zone) in numbered_entries(&self.path("sys/class/thermal"), "thermal_zone") {
            if let Some(raw) = read_text(&zone.join("temp")) {
                let name = read_text(&zone.join("type"))
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| format!("thermal_zone{n}"));
                out.push((name, raw));
            }
        }
        for (n, hwmon) in numbered_entries(&self.path("sys/class/hwmon"), "hwmon") {
            let chip = read_text(&hwmon.join("name"))
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| format!("hwmon{n}"));
            let Ok(entries) = std::fs::read_dir(&hwmon) else {
                continue;
            };
            let mut inputs: Vec<(u32, PathBuf)> = entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let k = name.strip_prefix("temp")?.strip_suffix("_input")?;
                    Some((parse_index(k)?, e.path()))
                })
                .collect();
            inputs.sort();
            for (k, path) in inputs {
                if let Some(raw) = read_text(&path) {
                    let label = read_text(&hwmon.join(format!("temp{k}_label")))
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .unwrap_or_else(|| format!("temp{k}"));
                    out.push((format!("{chip} {label}"), raw));
                }
            }
        }
        out
    }

    fn gpu_clocks(&self, adapter: &str) -> Check {
        let mut nvidia_error = None;
        if self.is_real_root() {
            if let Some(smi) = find_on_path("nvidia-smi") {
                match query_nvidia_smi(&smi) {
                    Ok(text) => {
                        let rows = parse_nvidia_smi(&text);
                        if !rows.is_empty() {
                            return judge_nvidia(&rows, adapter);
                        }
                        nvidia_error = Some("nvidia-smi listed no GPU".to_string());
                    }
                    Err(e) => nvidia_error = Some(e),
                }
            }
        }
        for (n, card) in numbered_entries(&self.path("sys/class/drm"), "card") {
            let device = card.join("device");
            let Some(sclk) = read_text(&device.join("pp_dpm_sclk")) else {
                continue;
            };
            let busy = read_text(&device.join("gpu_busy_percent"));
            let hwmon = numbered_entries(&device.join("hwmon"), "hwmon");
            let power = hwmon.iter().find_map(|(_, h)| {
                read_text(&h.join("power1_average")).or_else(|| read_text(&h.join("power1_input")))
            });
            let cap = hwmon
                .iter()
                .find_map(|(_, h)| read_text(&h.join("power1_cap")));
            return judge_amd(
                &format!("card{n}"),
                &sclk,
                busy.as_deref(),
                power.as_deref(),
                cap.as_deref(),
            );
        }
        let message = match nvidia_error {
            Some(e) => format!("{e}; no amdgpu sysfs either"),
            None => {
                "the driver exposes no clocks or power to hwcal (no nvidia-smi, no amdgpu sysfs)"
                    .to_string()
            }
        };
        Check::new(GPU_CLOCKS, CheckStatus::Skipped, message)
    }
}

const CPU_GOVERNOR: &str = "CPU Governor";
const CPU_FREQUENCY: &str = "CPU Frequency";
const TURBO_BOOST: &str = "Turbo Boost";
const SYSTEM_LOAD: &str = "System Load";
const STEAL_TIME: &str = "Steal Time";
const THERMAL_STATE: &str = "Thermal State";
const BUSY_PROCESSES: &str = "Busy Processes";
const GPU_CLOCKS: &str = "GPU Clocks";

/// Largest file read (a `/proc/cpuinfo` of a many-core machine is a few MB); more is cut off.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// Kernel clock ticks per second in `proc/[pid]/stat` (`USER_HZ`, 100 on every mainstream
/// Linux architecture; `sysconf(_SC_CLK_TCK)` would need libc).
const USER_HZ: f64 = 100.0;

/// A process above this share of one core is reported as busy.
const BUSY_PROCESS_PCT: f64 = 20.0;

/// How long `nvidia-smi` may take, all attempts together.
const NVIDIA_SMI_TIMEOUT: Duration = Duration::from_secs(5);

/// The text of a file, lossily decoded, at most [`MAX_FILE_BYTES`]; `None` if unreadable.
fn read_text(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    file.take(MAX_FILE_BYTES).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A decimal index with no sign and no leading `+` (`"12"`, not `"-1"` or `"1a"`).
fn parse_index(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The entries of `dir` named `prefix` followed by a number, sorted by that number.
fn numbered_entries(dir: &Path, prefix: &str) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((parse_index(name.strip_prefix(prefix)?)?, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// A trimmed unsigned integer.
fn parse_u64(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

/// `0-3,6,8-9` for CPUs 0, 1, 2, 3, 6, 8, 9.
fn cpu_list(cpus: &[u32]) -> String {
    let mut sorted = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// `CPU Governor` from each CPU's `scaling_governor` text.
fn judge_governor(per_cpu: &[(u32, String)]) -> Check {
    let mut by_gov: Vec<(String, Vec<u32>)> = Vec::new();
    for (cpu, text) in per_cpu {
        let gov = text.trim();
        if gov.is_empty() {
            continue;
        }
        match by_gov.iter_mut().find(|(g, _)| g == gov) {
            Some((_, list)) => list.push(*cpu),
            None => by_gov.push((gov.to_string(), vec![*cpu])),
        }
    }
    match by_gov.as_slice() {
        [] => Check::new(
            CPU_GOVERNOR,
            CheckStatus::Skipped,
            "no cpufreq in /sys (VM or container)",
        ),
        [(gov, _)] if gov == "performance" => {
            Check::new(CPU_GOVERNOR, CheckStatus::Passed, "performance")
                .values("performance", "performance")
        }
        [(gov, cpus)] => {
            let kind = if gov == "powersave" || gov == "conservative" {
                "low performance mode"
            } else {
                "dynamic - may vary"
            };
            let message = format!("{gov} ({kind}) on CPUs {}", cpu_list(cpus));
            Check::new(CPU_GOVERNOR, CheckStatus::Warning, message)
                .values(gov.as_str(), "performance")
        }
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|(g, cpus)| format!("{g} on CPUs {}", cpu_list(cpus)))
                .collect();
            let message = format!("mixed: {}", parts.join(", "));
            Check::new(CPU_GOVERNOR, CheckStatus::Warning, message)
                .values("mixed", "performance on every CPU")
        }
    }
}

/// One CPU's `scaling_cur_freq` and `cpuinfo_max_freq`, in kHz.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct FreqSample {
    cur_khz: Option<u64>,
    max_khz: Option<u64>,
}

/// `CPU Frequency` from the per-CPU sysfs frequencies, falling back to `cpu MHz` in
/// `/proc/cpuinfo`. Low clocks are fine at idle when the governor is `performance` on every
/// CPU and the driver is a `*pstate` one (it boosts under load), as in the Python tool.
fn judge_frequency(
    cpus: &[FreqSample],
    all_performance: bool,
    driver: Option<&str>,
    cpuinfo: Option<&str>,
) -> Check {
    let pairs: Vec<(f64, f64)> = cpus
        .iter()
        .filter_map(|s| match (s.cur_khz, s.max_khz) {
            (Some(c), Some(m)) if c > 0 && m > 0 => Some((c as f64 / 1e3, m as f64 / 1e3)),
            _ => None,
        })
        .collect();
    if !pairs.is_empty() {
        let n = pairs.len() as f64;
        let cur = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let max = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let pct = cur / max * 100.0;
        let expected = format!(">= {:.0} MHz (90%)", max * 0.9);
        if pct >= 90.0 {
            return Check::new(
                CPU_FREQUENCY,
                CheckStatus::Passed,
                format!("{cur:.0} MHz ({pct:.0}% of max)"),
            )
            .values(format!("{cur:.0} MHz"), expected);
        }
        let pstate = driver.is_some_and(|d| d.to_ascii_lowercase().contains("pstate"));
        if pstate && all_performance {
            return Check::new(
                CPU_FREQUENCY,
                CheckStatus::Passed,
                format!(
                    "{cur:.0} MHz idle ({pct:.0}% of max; the pstate driver boosts under load)"
                ),
            )
            .values(
                format!("{cur:.0} MHz (idle)"),
                format!("up to {max:.0} MHz under load"),
            );
        }
        let current = format!("{cur:.0} MHz ({pct:.0}%)");
        return if pct >= 70.0 {
            Check::new(
                CPU_FREQUENCY,
                CheckStatus::Warning,
                format!("{cur:.0} MHz ({pct:.0}% of max) - below optimal"),
            )
            .values(current, expected)
        } else {
            Check::new(
                CPU_FREQUENCY,
                CheckStatus::Failed,
                format!("{cur:.0} MHz ({pct:.0}% of max) - severely throttled"),
            )
            .values(current, expected)
        };
    }
    // No maximum: the current clock alone, from sysfs or /proc/cpuinfo.
    let sysfs: Vec<f64> = cpus
        .iter()
        .filter_map(|s| s.cur_khz.filter(|&c| c > 0).map(|c| c as f64 / 1e3))
        .collect();
    let (mhz, source) = if !sysfs.is_empty() {
        (sysfs, "cpufreq")
    } else {
        let from_cpuinfo: Vec<f64> = cpuinfo
            .unwrap_or("")
            .lines()
            .filter_map(|l| {
                let (key, value) = l.split_once(':')?;
                if key.trim() != "cpu MHz" {
                    return None;
                }
                let v: f64 = value.trim().parse().ok()?;
                (v.is_finite() && v > 0.0).then_some(v)
            })
            .collect();
        (from_cpuinfo, "/proc/cpuinfo")
    };
    if mhz.is_empty() {
        return Check::new(
            CPU_FREQUENCY,
            CheckStatus::Skipped,
            "no cpufreq in /sys and no \"cpu MHz\" in /proc/cpuinfo",
        );
    }
    let cur = mhz.iter().sum::<f64>() / mhz.len() as f64;
    let mut check = Check::new(
        CPU_FREQUENCY,
        CheckStatus::Passed,
        format!("{cur:.0} MHz (max not exposed; from {source})"),
    );
    check.current_value = Some(format!("{cur:.0} MHz"));
    check
}

/// `Turbo Boost` from `intel_pstate/no_turbo` (1 = disabled) or `cpufreq/boost` (0 =
/// disabled). A value other than 0 or 1 counts as unreadable.
fn judge_turbo(no_turbo: Option<&str>, boost: Option<&str>) -> Check {
    let enabled = match no_turbo.map(str::trim) {
        Some("0") => Some(true),
        Some("1") => Some(false),
        _ => match boost.map(str::trim) {
            Some("1") => Some(true),
            Some("0") => Some(false),
            _ => None,
        },
    };
    match enabled {
        Some(true) => Check::new(TURBO_BOOST, CheckStatus::Passed, "Enabled"),
        Some(false) => Check::new(
            TURBO_BOOST,
            CheckStatus::Warning,
            "Disabled (reduced peak performance)",
        )
        .values("Disabled", "Enabled"),
        None if no_turbo.is_some() || boost.is_some() => Check::new(
            TURBO_BOOST,
            CheckStatus::Skipped,
            "unreadable value in intel_pstate/no_turbo or cpufreq/boost",
        ),
        None => Check::new(
            TURBO_BOOST,
            CheckStatus::Skipped,
            "no intel_pstate/no_turbo or cpufreq/boost in /sys (not exposed here)",
        ),
    }
}

/// The aggregate `cpu` line of `/proc/stat`, in ticks. `guest` and `guest_nice` are left out:
/// the kernel already counts them in `user` and `nice`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CpuTimes {
    user: u64,
    nice: u64,
    system: u64,
    idle: u64,
    iowait: u64,
    irq: u64,
    softirq: u64,
    steal: u64,
}

impl CpuTimes {
    /// Parses the aggregate `cpu` line; fields missing on old kernels read as 0, but the first
    /// four (user nice system idle) are required.
    fn parse(stat: &str) -> Option<CpuTimes> {
        let line = stat
            .lines()
            .find(|l| l.split_whitespace().next() == Some("cpu"))?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        if fields.len() < 4 {
            return None;
        }
        let f = |i: usize| fields.get(i).copied().unwrap_or(0);
        Some(CpuTimes {
            user: f(0),
            nice: f(1),
            system: f(2),
            idle: f(3),
            iowait: f(4),
            irq: f(5),
            softirq: f(6),
            steal: f(7),
        })
    }

    fn as_array(&self) -> [u64; 8] {
        [
            self.user,
            self.nice,
            self.system,
            self.idle,
            self.iowait,
            self.irq,
            self.softirq,
            self.steal,
        ]
    }
}

/// What changed between two reads of `/proc/stat`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct CpuDelta {
    /// All ticks that elapsed, over all CPUs.
    total: f64,
    /// Ticks not idle and not waiting for I/O (user, nice, system, irq, softirq, steal).
    busy: f64,
    /// Ticks the hypervisor ran something else.
    steal: f64,
}

/// The change between two `/proc/stat` texts, or why there is none.
fn cpu_delta(before: Option<&str>, after: Option<&str>) -> Result<CpuDelta, String> {
    let (Some(a), Some(b)) = (before, after) else {
        return Err("no /proc/stat (not exposed here)".to_string());
    };
    let (Some(a), Some(b)) = (CpuTimes::parse(a), CpuTimes::parse(b)) else {
        return Err("no readable aggregate cpu line in /proc/stat".to_string());
    };
    let mut d = [0u64; 8];
    for (i, (x, y)) in a.as_array().iter().zip(b.as_array()).enumerate() {
        d[i] = y
            .checked_sub(*x)
            .ok_or_else(|| "/proc/stat counters went backwards between reads".to_string())?;
    }
    let total: f64 = d.iter().map(|&v| v as f64).sum();
    if total <= 0.0 {
        return Err("/proc/stat counters did not advance during the window".to_string());
    }
    let [_, _, _, idle, iowait, _, _, steal] = d;
    Ok(CpuDelta {
        total,
        busy: total - idle as f64 - iowait as f64,
        steal: steal as f64,
    })
}

/// The number of `cpuN` lines in `/proc/stat` (online CPUs).
fn count_cpus(stat: &str) -> usize {
    stat.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.strip_prefix("cpu").and_then(parse_index).is_some())
        .count()
}

/// `System Load`: the busy share of all CPUs between two `/proc/stat` reads `window` apart,
/// with the 1-minute load average and the CPU count for context.
fn judge_load(
    before: Option<&str>,
    after: Option<&str>,
    loadavg: Option<&str>,
    window: Duration,
) -> Check {
    let d = match cpu_delta(before, after) {
        Ok(d) => d,
        Err(e) => return Check::new(SYSTEM_LOAD, CheckStatus::Skipped, e),
    };
    let pct = d.busy / d.total * 100.0;
    let load1 = loadavg
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0);
    let ncpu = after.map(count_cpus).filter(|&n| n > 0);
    let mut context = format!("busy over {} ms", window.as_millis());
    match (load1, ncpu) {
        (Some(l), Some(n)) => context += &format!("; 1-min load {l:.2} on {n} CPUs"),
        (Some(l), None) => context += &format!("; 1-min load {l:.2}"),
        (None, Some(n)) => context += &format!("; {n} CPUs"),
        (None, None) => {}
    }
    let (status, kind) = grade(
        pct,
        5.0,
        20.0,
        [
            "idle",
            "some background activity",
            "high - will affect results",
        ],
    );
    Check::new(
        SYSTEM_LOAD,
        status,
        format!("{pct:.1}% ({kind}), {context}"),
    )
    .values(format!("{pct:.1}%"), "< 5%")
}

/// Passed below `pass_below`, warning below `warn_below`, failed from there (a NaN fails),
/// with the word for each.
fn grade(
    value: f64,
    pass_below: f64,
    warn_below: f64,
    words: [&'static str; 3],
) -> (CheckStatus, &'static str) {
    if value < pass_below {
        (CheckStatus::Passed, words[0])
    } else if value < warn_below {
        (CheckStatus::Warning, words[1])
    } else {
        (CheckStatus::Failed, words[2])
    }
}

/// `Steal Time`: the share of CPU time the hypervisor gave to someone else between two
/// `/proc/stat` reads.
fn judge_steal(before: Option<&str>, after: Option<&str>, window: Duration) -> Check {
    let d = match cpu_delta(before, after) {
        Ok(d) => d,
        Err(e) => return Check::new(STEAL_TIME, CheckStatus::Skipped, e),
    };
    let pct = d.steal / d.total * 100.0;
    let (status, kind) = grade(
        pct,
        1.0,
        5.0,
        [
            "no contention",
            "some contention from other guests",
            "the hypervisor is taking the CPU from us",
        ],
    );
    Check::new(
        STEAL_TIME,
        status,
        format!("{pct:.1}% stolen over {} ms ({kind})", window.as_millis()),
    )
    .values(format!("{pct:.1}%"), "< 1%")
}

/// `Thermal State`: the hottest of `(sensor, millidegrees text)`. Unparseable readings, and
/// ones outside -40..150 °C (disconnected or broken sensors), are ignored.
fn judge_thermal(readings: &[(String, String)]) -> Check {
    let hottest = readings
        .iter()
        .filter_map(|(name, raw)| {
            let milli: i64 = raw.trim().parse().ok()?;
            let c = milli as f64 / 1000.0;
            (c > -40.0 && c <= 150.0).then_some((name, c))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let Some((sensor, c)) = hottest else {
        let message = if readings.is_empty() {
            "no thermal zones or hwmon temperatures in /sys (not exposed here)"
        } else {
            "no plausible temperature reading in /sys"
        };
        return Check::new(THERMAL_STATE, CheckStatus::Skipped, message);
    };
    let (status, kind) = grade(
        c,
        80.0,
        95.0,
        [
            "cool",
            "warm - may throttle under load",
            "hot - likely throttling",
        ],
    );
    Check::new(
        THERMAL_STATE,
        status,
        format!("{c:.0}°C ({kind}, {sensor})"),
    )
    .values(format!("{c:.0}°C"), "< 80°C")
}

/// One process's `comm` and CPU time (`utime + stime`, in ticks) from `/proc/[pid]/stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProcTicks {
    pid: u32,
    comm: String,
    ticks: u64,
}

/// Parses `/proc/[pid]/stat`. The `comm` is between the first `(` and the last `)` (it may hold
/// spaces and parentheses); `utime` and `stime` are fields 14 and 15.
fn parse_pid_stat(text: &str) -> Option<ProcTicks> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let pid = parse_index(text[..open].trim())?;
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state), so field n is rest[n - 3].
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some(ProcTicks {
        pid,
        comm,
        ticks: utime.saturating_add(stime),
    })
}

/// `Busy Processes`: processes that used more than 20% of one core between two snapshots
/// `elapsed` apart. A pid missing from either snapshot, reused by another program, or whose
/// counter went backwards is left out.
fn judge_busy(before: &[ProcTicks], after: &[ProcTicks], elapsed: Duration) -> Check {
    if before.is_empty() || after.is_empty() {
        return Check::new(
            BUSY_PROCESSES,
            CheckStatus::Skipped,
            "no per-process stats in /proc (not exposed here)",
        );
    }
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return Check::new(
            BUSY_PROCESSES,
            CheckStatus::Skipped,
            "no time elapsed between the two process samples",
        );
    }
    let earlier: HashMap<u32, &ProcTicks> = before.iter().map(|p| (p.pid, p)).collect();
    let mut compared = 0usize;
    let mut busy: Vec<(f64, &str)> = Vec::new();
    for p in after {
        let Some(b) = earlier.get(&p.pid) else {
            continue;
        };
        if b.comm != p.comm || p.ticks < b.ticks {
            continue;
        }
        compared += 1;
        let pct = (p.ticks - b.ticks) as f64 / USER_HZ / secs * 100.0;
        if pct > BUSY_PROCESS_PCT {
            busy.push((pct, &p.comm));
        }
    }
    if busy.is_empty() {
        return Check::new(
            BUSY_PROCESSES,
            CheckStatus::Passed,
            format!(
                "none of {compared} other processes above {BUSY_PROCESS_PCT:.0}% of a core over {} ms",
                elapsed.as_millis()
            ),
        );
    }
    busy.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut message = busy
        .iter()
        .take(5)
        .map(|(pct, name)| format!("{name} {pct:.0}%"))
        .collect::<Vec<_>>()
        .join(", ");
    if busy.len() > 5 {
        message += &format!(", and {} more", busy.len() - 5);
    }
    let n = busy.len();
    Check::new(BUSY_PROCESSES, CheckStatus::Warning, message).values(
        format!(
            "{n} process{} above {BUSY_PROCESS_PCT:.0}% of a core",
            if n == 1 { "" } else { "es" }
        ),
        "no other busy process",
    )
}

/// One `nvidia-smi` row: name, SM clock and its max (MHz), power draw and limit (W),
/// temperature (°C), active throttle-reason bit mask.
#[derive(Clone, Debug, Default, PartialEq)]
struct NvRow {
    name: String,
    sm: Option<f64>,
    max_sm: Option<f64>,
    power: Option<f64>,
    limit: Option<f64>,
    temp: Option<f64>,
    reasons: Option<u64>,
}

/// The `nvidia-smi --query-gpu` columns, in order.
const NVIDIA_QUERY: &str = "name,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu,\
                            clocks_throttle_reasons.active";

/// Parses `--format=csv,noheader,nounits` output of [`NVIDIA_QUERY`]. `[N/A]`, `[Not
/// Supported]` and the like read as unknown; lines with too few columns are dropped.
fn parse_nvidia_smi(text: &str) -> Vec<NvRow> {
    fn num(s: &str) -> Option<f64> {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    }
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            if cols.len() < 7 || cols[0].is_empty() {
                return None;
            }
            // A name with commas: the last six columns are the numbers.
            let k = cols.len() - 6;
            let reasons = cols[k + 5];
            let reasons = reasons
                .strip_prefix("0x")
                .or_else(|| reasons.strip_prefix("0X"))
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .or_else(|| reasons.parse().ok());
            Some(NvRow {
                name: cols[..k].join(","),
                sm: num(cols[k]),
                max_sm: num(cols[k + 1]),
                power: num(cols[k + 2]),
                limit: num(cols[k + 3]),
                temp: num(cols[k + 4]),
                reasons,
            })
        })
        .collect()
}

/// NVML clock throttle (event) reason bits, without `GpuIdle` (0x1).
const THROTTLE_REASONS: [(u64, &str); 8] = [
    (0x2, "applications clocks setting"),
    (0x4, "SW power cap"),
    (0x8, "HW slowdown"),
    (0x10, "sync boost"),
    (0x20, "SW thermal slowdown"),
    (0x40, "HW thermal slowdown"),
    (0x80, "HW power brake slowdown"),
    (0x100, "display clock setting"),
];

/// Lowercased with everything but letters and digits dropped, for matching adapter names.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `GPU Clocks` from `nvidia-smi` rows: the row named like `adapter` (else the first).
fn judge_nvidia(rows: &[NvRow], adapter: &str) -> Check {
    let want = squash(adapter);
    let matched = rows.iter().find(|r| {
        let have = squash(&r.name);
        !want.is_empty() && !have.is_empty() && (have.contains(&want) || want.contains(&have))
    });
    let Some(row) = matched.or_else(|| rows.first()) else {
        return Check::new(GPU_CLOCKS, CheckStatus::Skipped, "nvidia-smi listed no GPU");
    };
    let mut status = CheckStatus::Skipped;
    let mut parts = Vec::new();
    let mut values = None;
    let idle = row.reasons.is_some_and(|r| r & 0x1 != 0);
    if let (Some(sm), Some(max)) = (row.sm, row.max_sm.filter(|&m| m > 0.0)) {
        let (s, text, v) = clock_ladder("SM", sm, max, idle);
        status = s;
        parts.push(text);
        values = Some(v);
    } else if let Some(sm) = row.sm {
        status = CheckStatus::Passed;
        parts.push(format!("SM {sm:.0} MHz (max unknown)"));
    }
    match (row.power, row.limit) {
        (Some(p), Some(l)) => parts.push(format!("{p:.0}/{l:.0} W")),
        (Some(p), None) => parts.push(format!("{p:.0} W")),
        _ => {}
    }
    if let Some(t) = row.temp {
        parts.push(format!("{t:.0}°C"));
    }
    if let Some(mask) = row.reasons {
        let active: Vec<&str> = THROTTLE_REASONS
            .iter()
            .filter(|(bit, _)| mask & bit != 0)
            .map(|(_, name)| *name)
            .collect();
        let unknown = mask & !0x1ff;
        if !active.is_empty() || unknown != 0 {
            let mut list = active.join(", ");
            if unknown != 0 {
                if !list.is_empty() {
                    list += ", ";
                }
                list += &format!("reason bits {unknown:#x}");
            }
            parts.push(format!("throttled by {list}"));
            status = status.worst(CheckStatus::Warning);
        }
    }
    if status == CheckStatus::Skipped {
        return Check::new(
            GPU_CLOCKS,
            CheckStatus::Skipped,
            format!("nvidia-smi reports no SM clock for {}", row.name),
        );
    }
    let mut message = format!("{}: {}", row.name, parts.join(", "));
    if matched.is_none() && !adapter.trim().is_empty() {
        message += &format!(
            " (adapter '{}' not listed by nvidia-smi; first GPU shown)",
            adapter.trim()
        );
    }
    let mut check = Check::new(GPU_CLOCKS, status, message);
    if let Some((cur, exp)) = values {
        check = check.values(cur, exp);
    }
    check
}

/// The GPU clock ladder shared by NVIDIA and AMD: at least 90% of max passes, an idle GPU's
/// downclock passes (it boosts under load), at least 70% warns, less fails. Returns the status,
/// the message part and the current / expected values.
fn clock_ladder(
    label: &str,
    cur: f64,
    max: f64,
    idle: bool,
) -> (CheckStatus, String, (String, String)) {
    let pct = cur / max * 100.0;
    let values = (
        format!("{cur:.0} MHz"),
        format!(">= {:.0} MHz (90%)", max * 0.9),
    );
    if pct >= 90.0 {
        (
            CheckStatus::Passed,
            format!("{label} {cur:.0}/{max:.0} MHz ({pct:.0}% of max)"),
            values,
        )
    } else if idle {
        (
            CheckStatus::Passed,
            format!("{label} {cur:.0}/{max:.0} MHz idle (downclocked; boosts under load)"),
            (
                format!("{cur:.0} MHz (idle)"),
                format!("up to {max:.0} MHz under load"),
            ),
        )
    } else if pct >= 70.0 {
        (
            CheckStatus::Warning,
            format!("{label} {cur:.0}/{max:.0} MHz ({pct:.0}% of max)"),
            values,
        )
    } else {
        (
            CheckStatus::Failed,
            format!("{label} {cur:.0}/{max:.0} MHz ({pct:.0}% of max) - throttled"),
            values,
        )
    }
}

/// `GPU Clocks` from amdgpu sysfs: `pp_dpm_sclk` (levels like `1: 1000Mhz *`, the current one
/// starred), `gpu_busy_percent` (below 10% counts as idle, where low clocks are expected) and
/// hwmon power in microwatts.
fn judge_amd(
    card: &str,
    sclk: &str,
    busy: Option<&str>,
    power_uw: Option<&str>,
    cap_uw: Option<&str>,
) -> Check {
    // (MHz, current) per level; "S: 19Mhz *" is a deep-sleep level.
    let levels: Vec<(f64, bool, bool)> = sclk
        .lines()
        .filter_map(|l| {
            let (label, rest) = l.split_once(':')?;
            let current = rest.contains('*');
            let digits: String = rest
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mhz: f64 = digits.parse().ok().filter(|v: &f64| v.is_finite())?;
            Some((mhz, current, label.trim().eq_ignore_ascii_case("s")))
        })
        .collect();
    let max = levels
        .iter()
        .filter(|l| !l.2)
        .map(|l| l.0)
        .fold(0.0f64, f64::max);
    let Some(&(cur, _, sleeping)) = levels.iter().find(|l| l.1) else {
        return Check::new(
            GPU_CLOCKS,
            CheckStatus::Skipped,
            format!("{card}: pp_dpm_sclk shows no current level"),
        );
    };
    let busy_pct = busy.and_then(parse_u64).filter(|&b| b <= 100);
    let idle = sleeping || busy_pct.is_some_and(|b| b < 10);
    let mut parts = Vec::new();
    let mut values = None;
    let status = if max > 0.0 {
        let (s, text, v) = clock_ladder("SCLK", cur, max, idle);
        parts.push(text);
        values = Some(v);
        s
    } else {
        parts.push(format!("SCLK {cur:.0} MHz (max unknown)"));
        CheckStatus::Passed
    };
    if let Some(b) = busy_pct {
        parts.push(format!("{b}% busy"));
    }
    let watts = |t: Option<&str>| t.and_then(parse_u64).map(|uw| uw as f64 / 1e6);
    match (watts(power_uw), watts(cap_uw).filter(|&c| c > 0.0)) {
        (Some(p), Some(c)) => parts.push(format!("{p:.0}/{c:.0} W")),
        (Some(p), None) => parts.push(format!("{p:.0} W")),
        _ => {}
    }
    let mut check = Check::new(
        GPU_CLOCKS,
        status,
        format!("{card} (amdgpu): {}", parts.join(", ")),
    );
    if let Some((cur, exp)) = values {
        check = check.values(cur, exp);
    }
    check
}

/// The first `name` (with the platform's executable suffix) in a `PATH` directory.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let file = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(&file))
        .find(|p| p.is_file())
}

/// Runs `nvidia-smi` for [`NVIDIA_QUERY`], retrying with the newer `clocks_event_reasons` name
/// when the first attempt exits with an error; both share one 5-second deadline.
fn query_nvidia_smi(smi: &Path) -> Result<String, String> {
    let deadline = Instant::now() + NVIDIA_SMI_TIMEOUT;
    let args = |query: &str| {
        vec![
            format!("--query-gpu={query}"),
            "--format=csv,noheader,nounits".to_string(),
        ]
    };
    match run_with_deadline(smi, &args(NVIDIA_QUERY), deadline) {
        Ok(out) => Ok(out),
        Err(RunError::Exited(first)) => {
            let newer = NVIDIA_QUERY.replace("clocks_throttle_reasons", "clocks_event_reasons");
            run_with_deadline(smi, &args(&newer), deadline)
                .map_err(|e| format!("nvidia-smi failed: {first}; {}", e.text()))
        }
        Err(e) => Err(format!("nvidia-smi failed: {}", e.text())),
    }
}

/// Why a command gave no output.
#[derive(Debug)]
enum RunError {
    /// It could not be started.
    Spawn(String),
    /// It exited unsuccessfully.
    Exited(String),
    /// It ran past the deadline and was killed.
    TimedOut(Duration),
}

impl RunError {
    fn text(&self) -> String {
        match self {
            RunError::Spawn(e) => format!("could not start: {e}"),
            RunError::Exited(e) => e.clone(),
            RunError::TimedOut(d) => format!(
                "timed out after {:.1} s and was killed (driver hung?)",
                d.as_secs_f64()
            ),
        }
    }
}

/// Runs `program args`, returning its stdout (at most 1 MiB), killing it at `deadline`.
///
/// Never waits past the deadline (plus a few tens of milliseconds): stdout is read on a
/// separate thread, and a child that does not die when killed (stuck in the kernel) is left to
/// a detached thread to reap.
fn run_with_deadline(
    program: &Path,
    args: &[String],
    deadline: Instant,
) -> Result<String, RunError> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| RunError::Spawn(e.to_string()))?;
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        // If no thread can be started, the pipe is closed and the output reads as empty.
        let _ = std::thread::Builder::new().spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.take(1 << 20).read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    loop {
        let now = Instant::now();
        match child.try_wait() {
            Ok(Some(status)) => {
                let wait = deadline
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(50));
                let out = rx.recv_timeout(wait).unwrap_or_default();
                if !status.success() {
                    return Err(RunError::Exited(format!("exited with {status}")));
                }
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            Ok(None) if now >= deadline => {
                kill_and_reap(child);
                return Err(RunError::TimedOut(now.saturating_duration_since(started)));
            }
            Ok(None) => std::thread::sleep(
                Duration::from_millis(10).min(deadline.saturating_duration_since(now)),
            ),
            Err(e) => {
                kill_and_reap(child);
                return Err(RunError::Exited(format!("could not wait for it: {e}")));
            }
        }
    }
}

/// Kills `child` and reaps it on a detached thread, so that a child stuck in the kernel (which
/// SIGKILL cannot end until its system call returns) does not block the caller.
fn kill_and_reap(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = std::thread::Builder::new().spawn(move || {
        let _ = child.wait();
    });
}

/// One read of the CPU and process counters.
struct Snapshot {
    stat: Option<String>,
    procs: Vec<ProcTicks>,
    at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake root with files at the given relative paths.
    fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn probe(root: &Path) -> Probe {
        Probe {
            root: root.to_path_buf(),
            window: Duration::from_millis(3),
        }
    }

    fn find<'a>(p: &'a Preflight, name: &str) -> &'a Check {
        p.checks.iter().find(|c| c.name == name).unwrap()
    }

    fn govs(list: &[(u32, &str)]) -> Vec<(u32, String)> {
        list.iter().map(|(n, g)| (*n, g.to_string())).collect()
    }

    #[test]
    fn governor_statuses() {
        let c = judge_governor(&govs(&[(0, "performance\n"), (1, "performance\n")]));
        assert_eq!(c.status, CheckStatus::Passed);
        assert_eq!(c.message, "performance");
        let c = judge_governor(&govs(&[
            (0, "powersave"),
            (1, "powersave"),
            (2, "powersave"),
        ]));
        assert_eq!(c.status, CheckStatus::Warning);
        assert!(
            c.message.contains("powersave") && c.message.contains("0-2"),
            "{}",
            c.message
        );
        let c = judge_governor(&govs(&[(0, "schedutil")]));
        assert_eq!(c.status, CheckStatus::Warning);
        assert_eq!(c.current_value.as_deref(), Some("schedutil"));
        let c = judge_governor(&govs(&[
            (0, "performance"),
            (1, "powersave"),
            (3, "performance"),
        ]));
        assert_eq!(c.status, CheckStatus::Warning);
        assert!(c.message.starts_with("mixed"), "{}", c.message);
        assert!(
            c.message.contains("performance on CPUs 0,3"),
            "{}",
            c.message
        );
        let c = judge_governor(&[]);
        assert_eq!(c.status, CheckStatus::Skipped);
        assert!(c.message.contains("no cpufreq"));
        // Empty or whitespace-only files count as absent.
        assert_eq!(
            judge_governor(&govs(&[(0, "  \n")])).status,
            CheckStatus::Skipped
        );
    }

    #[test]
    fn cpu_list_compresses_ranges() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
        assert_eq!(cpu_list(&[5]), "5");
        assert_eq!(cpu_list(&[]), "");
        assert_eq!(
            cpu_list(&[u32::MAX, u32::MAX - 1]),
            format!("{}-{}", u32::MAX - 1, u32::MAX)
        );
    }

    fn fs(cur: u64, max: u64) -> FreqSample {
        FreqSample {
            cur_khz: Some(cur),
            max_khz: Some(max),
        }
    }

    #[test]
    fn frequency_statuses() {
        let c = judge_frequency(&[fs(3_000_000, 3_200_000); 4], false, None, None);
        assert_eq!(c.status, CheckStatus::Passed);
        assert!(
            c.message.starts_with("3000 MHz (94% of max)"),
            "{}",
            c.message
        );
        let c = judge_frequency(
            &[fs(2_400_000, 3_000_000)],
            false,
            Some("acpi-cpufreq"),
            None,
        );
        assert_eq!(c.status, CheckStatus::Warning);
        let c = judge_frequency(&[fs(800_000, 3_000_000)], false, Some("acpi-cpufreq"), None);
        assert_eq!(c.status, CheckStatus::Failed);
        assert!(c.message.contains("severely throttled"));
        // Idle downclock under intel_pstate + performance is fine.
        let c = judge_frequency(
            &[fs(800_000, 3_000_000)],
            true,
            Some("intel_pstate\n"),
            None,
        );
        assert_eq!(c.status, CheckStatus::Passed);
        assert!(c.message.contains("idle"));
        // ...but not with another governor.
        let c = judge_frequency(
            &[fs(800_000, 3_000_000)],
            false,
            Some("amd-pstate-epp"),
            None,
        );
        assert_eq!(c.status, CheckStatus::Failed);
        // The mean over CPUs (one fast, one slow: 75%).
        let c = judge_frequency(
            &[fs(3_000_000, 3_000_000), fs(1_500_000, 3_000_000)],
            false,
            None,
            None,
        );
        assert_eq!(c.status, CheckStatus::Warning);
        assert!(c.message.contains("75%"), "{}", c.message);
    }

    #[test]
    fn frequency_falls_back_to_cpuinfo() {
        let cpuinfo = "processor\t: 0\ncpu MHz\t\t: 2445.2\nprocessor\t: 1\ncpu MHz\t\t: 2445.6\n";
        let c = judge_frequency(&[], false, None, Some(cpuinfo));
        assert_eq!(c.status, CheckStatus::Passed);
        assert!(
            c.message.starts_with("2445 MHz (max not exposed"),
            "{}",
            c.message
        );
        assert_eq!(c.current_value.as_deref(), Some("2445 MHz"));
        assert_eq!(c.expected_value, None);
        // A current clock in sysfs without a maximum is used before cpuinfo.
        let c = judge_frequency(
            &[FreqSample {
                cur_khz: Some(1_000_000),
                max_khz: None,
            }],
            false,
            None,
            Some(cpuinfo),
        );
        assert!(c.message.starts_with("1000 MHz"), "{}", c.message);
        let c = judge_frequency(
            &[],
            false,
            None,
            Some("garbage\ncpu MHz : lots\ncpu MHz : -5\n"),
        );
        assert_eq!(c.status, CheckStatus::Skipped);
        assert_eq!(
            judge_frequency(&[], false, None, None).status,
            CheckStatus::Skipped
        );
        // Zero or huge values never panic.
        let c = judge_frequency(&[fs(0, 0), fs(u64::MAX, u64::MAX)], false, None, None);
        assert_eq!(c.status, CheckStatus::Passed);
    }

    #[test]
    fn turbo_statuses() {
        assert_eq!(judge_turbo(Some("0\n"), None).status, CheckStatus::Passed);
        let c = judge_turbo(Some("1\n"), None);
        assert_eq!(c.status, CheckStatus::Warning);
        assert_eq!(c.current_value.as_deref(), Some("Disabled"));
        assert_eq!(judge_turbo(None, Some("1")).status, CheckStatus::Passed);
        assert_eq!(judge_turbo(None, Some("0")).status, CheckStatus::Warning);
        // no_turbo wins over boost; garbage in no_turbo falls back to boost.
        assert_eq!(
            judge_turbo(Some("1"), Some("1")).status,
            CheckStatus::Warning
        );
        assert_eq!(
            judge_turbo(Some("x"), Some("1")).status,
            CheckStatus::Passed
        );
        let c = judge_turbo(None, None);
        assert_eq!(c.status, CheckStatus::Skipped);
        assert!(c.message.contains("not exposed"));
        assert_eq!(judge_turbo(Some(""), None).status, CheckStatus::Skipped);
    }

    const STAT_A: &str = "cpu  1000 100 500 8000 200 10 20 30 40 5\n\
                          cpu0 500 50 250 4000 100 5 10 15 20 2\n\
                          cpu1 500 50 250 4000 100 5 10 15 20 3\n\
                          intr 12345\nctxt 999\n";

    /// STAT_A plus: user +60, nice +0, system +20, idle +880, iowait +10, irq +5, softirq +5,
    /// steal +20, guest +50 (inside user already), guest_nice +0: total 1000 ticks.
    const STAT_B: &str = "cpu  1060 100 520 8880 210 15 25 50 90 5\n\
                          cpu0 530 50 260 4440 105 7 12 25 45 2\n\
                          cpu1 530 50 260 4440 105 8 13 25 45 3\n";

    #[test]
    fn proc_stat_arithmetic() {
        let d = cpu_delta(Some(STAT_A), Some(STAT_B)).unwrap();
        assert_eq!(d.total, 1000.0);
        // Busy: everything but idle (880) and iowait (10); guest not counted twice.
        assert_eq!(d.busy, 110.0);
        assert_eq!(d.steal, 20.0);
        assert_eq!(count_cpus(STAT_B), 2);

        let c = judge_load(
            Some(STAT_A),
            Some(STAT_B),
            Some("0.49 0.47 0.20 1/82 4252\n"),
            Duration::from_millis(250),
        );
        assert_eq!(c.status, CheckStatus::Warning);
        assert_eq!(c.current_value.as_deref(), Some("11.0%"));
        assert!(
            c.message.contains("1-min load 0.49 on 2 CPUs"),
            "{}",
            c.message
        );
        let s = judge_steal(Some(STAT_A), Some(STAT_B), Duration::from_millis(250));
        assert_eq!(s.status, CheckStatus::Warning);
        assert_eq!(s.current_value.as_deref(), Some("2.0%"));
    }

    /// A `cpu` line with these deltas from all-zero counters.
    fn stat_line(user: u64, idle: u64, iowait: u64, steal: u64) -> String {
        format!("cpu  {user} 0 0 {idle} {iowait} 0 0 {steal} 0 0\n")
    }

    #[test]
    fn load_and_steal_statuses() {
        let zero = stat_line(0, 0, 0, 0);
        let load = |busy: u64| {
            judge_load(
                Some(&zero),
                Some(&stat_line(busy, 1000 - busy, 0, 0)),
                None,
                Duration::ZERO,
            )
            .status
        };
        assert_eq!(load(10), CheckStatus::Passed);
        assert_eq!(load(100), CheckStatus::Warning);
        assert_eq!(load(500), CheckStatus::Failed);
        // iowait is not busy.
        let c = judge_load(
            Some(&zero),
            Some(&stat_line(0, 500, 500, 0)),
            None,
            Duration::ZERO,
        );
        assert_eq!(c.status, CheckStatus::Passed);
        let steal = |s: u64| {
            judge_steal(
                Some(&zero),
                Some(&stat_line(0, 1000 - s, 0, s)),
                Duration::ZERO,
            )
            .status
        };
        assert_eq!(steal(5), CheckStatus::Passed);
        assert_eq!(steal(20), CheckStatus::Warning);
        assert_eq!(steal(50), CheckStatus::Failed);
        // Steal counts as busy (the CPU was not ours to idle on).
        let c = judge_load(
            Some(&zero),
            Some(&stat_line(0, 900, 0, 100)),
            None,
            Duration::ZERO,
        );
        assert_eq!(c.current_value.as_deref(), Some("10.0%"));
    }

    #[test]
    fn malformed_proc_stat_is_skipped() {
        let cases: [(Option<&str>, Option<&str>); 7] = [
            (None, None),
            (Some(""), Some("")),
            (Some("garbage\n\0\u{fffd}"), Some("cpu x y z")),
            (Some("cpu 1 2 3\n"), Some("cpu 4 5 6\n")), // too few fields
            (
                Some("cpu 99999999999999999999999 0 0 0\n"),
                Some("cpu 1 0 0 0\n"),
            ), // > u64
            (Some(STAT_B), Some(STAT_A)),               // counters went backwards
            (Some(STAT_A), Some(STAT_A)),               // nothing elapsed
        ];
        for (a, b) in cases {
            let c = judge_load(a, b, Some("nonsense"), Duration::ZERO);
            assert_eq!(c.status, CheckStatus::Skipped, "{a:?} {b:?}: {}", c.message);
            assert_eq!(
                judge_steal(a, b, Duration::ZERO).status,
                CheckStatus::Skipped
            );
        }
        let backwards = judge_load(Some(STAT_B), Some(STAT_A), None, Duration::ZERO);
        assert!(backwards.message.contains("backwards"));
        // Huge but valid u64 counters do not overflow.
        let max = u64::MAX;
        let a = format!("cpu {} 0 0 {} 0 0 0 {}\n", max - 10, max - 10, max - 10);
        let b = format!("cpu {max} 0 0 {max} 0 0 0 {max}\n");
        let c = judge_load(Some(&a), Some(&b), None, Duration::ZERO);
        assert_eq!(c.current_value.as_deref(), Some("66.7%"));
        // Four fields (very old kernels) are enough.
        let c = judge_load(
            Some("cpu 0 0 0 0"),
            Some("cpu 1 0 0 99"),
            None,
            Duration::ZERO,
        );
        assert_eq!(c.status, CheckStatus::Passed);
    }

    #[test]
    fn thermal_statuses() {
        let r = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let c = judge_thermal(&r(&[("acpitz", "45000\n"), ("x86_pkg_temp", "62000\n")]));
        assert_eq!(c.status, CheckStatus::Passed);
        assert_eq!(c.message, "62°C (cool, x86_pkg_temp)");
        assert_eq!(
            judge_thermal(&r(&[("a", "85000")])).status,
            CheckStatus::Warning
        );
        assert_eq!(
            judge_thermal(&r(&[("a", "97500")])).status,
            CheckStatus::Failed
        );
        let c = judge_thermal(&[]);
        assert_eq!(c.status, CheckStatus::Skipped);
        assert!(c.message.contains("not exposed"));
        // Garbage, empty, absurd and huge readings are ignored.
        let bad = r(&[
            ("a", "garbage"),
            ("b", ""),
            ("c", "-273000"),
            ("d", "99999999999999999999"),
            ("e", "9000000"),
        ]);
        assert_eq!(judge_thermal(&bad).status, CheckStatus::Skipped);
        let mut some = bad.clone();
        some.push(("f".into(), "50000".into()));
        assert_eq!(judge_thermal(&some).message, "50°C (cool, f)");
    }

    #[test]
    fn pid_stat_with_spaces_and_parens_in_comm() {
        let text = "4242 (my (weird) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 123 45 0 0 20 0 1 0 999 0 0\n";
        let p = parse_pid_stat(text).unwrap();
        assert_eq!(p.pid, 4242);
        assert_eq!(p.comm, "my (weird) proc");
        assert_eq!(p.ticks, 168);
        let p = parse_pid_stat("7 (a) b) R 1 1 1 0 -1 0 0 0 0 0 5 6 0 0\n").unwrap();
        assert_eq!((p.comm.as_str(), p.ticks), ("a) b", 11));
        for bad in [
            "",
            "garbage",
            "12 (x) S 1 2 3",
            ") 12 (x S 1 1 1 0 -1 0 0 0 0 0 5 6",
            "x (y) S 1 1 1 0 -1 0 0 0 0 0 5 6",
            "1 (y) S 1 1 1 0 -1 0 0 0 0 0 -5 6",
        ] {
            assert_eq!(parse_pid_stat(bad), None, "{bad}");
        }
        let huge = format!("1 (y) S 1 1 1 0 -1 0 0 0 0 0 {} {}", u64::MAX, u64::MAX);
        assert_eq!(parse_pid_stat(&huge).unwrap().ticks, u64::MAX);
    }

    fn pt(pid: u32, comm: &str, ticks: u64) -> ProcTicks {
        ProcTicks {
            pid,
            comm: comm.to_string(),
            ticks,
        }
    }

    #[test]
    fn busy_processes() {
        let second = Duration::from_secs(1);
        let before = [
            pt(1, "init", 0),
            pt(10, "cargo", 1000),
            pt(11, "rustc", 50),
            pt(12, "idle", 7),
        ];
        let after = [
            pt(1, "init", 1),
            pt(10, "cargo", 1180),
            pt(11, "rustc", 145),
            pt(12, "idle", 9),
        ];
        let c = judge_busy(&before, &after, second);
        assert_eq!(c.status, CheckStatus::Warning);
        assert_eq!(c.message, "cargo 180%, rustc 95%");
        let c = judge_busy(&before, &before, second);
        assert_eq!(c.status, CheckStatus::Passed);
        assert!(c.message.contains("none of 4"), "{}", c.message);
        // More than five are cut off; a reused pid (other comm), a counter going backwards and
        // a process that is new are left out.
        let before: Vec<_> = (0..8)
            .map(|i| pt(i, &format!("p{i}"), 0))
            .chain([pt(20, "old", 0), pt(21, "back", 500)])
            .collect();
        let after: Vec<_> = (0..8)
            .map(|i| pt(i, &format!("p{i}"), 30 + i as u64))
            .chain([pt(20, "new", 900), pt(21, "back", 0), pt(22, "fresh", 900)])
            .collect();
        let c = judge_busy(&before, &after, second);
        assert_eq!(
            c.message,
            "p7 37%, p6 36%, p5 35%, p4 34%, p3 33%, and 3 more"
        );
        assert_eq!(
            c.current_value.as_deref(),
            Some("8 processes above 20% of a core")
        );
        assert_eq!(judge_busy(&[], &[], second).status, CheckStatus::Skipped);
        assert_eq!(
            judge_busy(&before, &after, Duration::ZERO).status,
            CheckStatus::Skipped
        );
    }

    const NV_IDLE: &str = "NVIDIA H200, 345, 1980, 74.56, 700.00, 32, 0x0000000000000001\n";

    #[test]
    fn nvidia_smi_parsing_and_statuses() {
        let rows = parse_nvidia_smi(NV_IDLE);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "NVIDIA H200");
        assert_eq!(rows[0].reasons, Some(1));
        let c = judge_nvidia(&rows, "NVIDIA H200");
        assert_eq!(c.status, CheckStatus::Passed);
        assert!(c.message.contains("idle"), "{}", c.message);
        assert!(
            c.message.contains("75/700 W") && c.message.contains("32°C"),
            "{}",
            c.message
        );

        let full =
            parse_nvidia_smi("NVIDIA H200, 1980, 1980, 650.1, 700.00, 61, 0x0000000000000000\n");
        assert_eq!(judge_nvidia(&full, "").status, CheckStatus::Passed);
        let warn = parse_nvidia_smi("NVIDIA H200, 1600, 1980, 690, 700, 70, 0x0000000000000000\n");
        assert_eq!(judge_nvidia(&warn, "").status, CheckStatus::Warning);
        let fail = parse_nvidia_smi("NVIDIA H200, 900, 1980, 700, 700, 88, 0x0000000000000044\n");
        let c = judge_nvidia(&fail, "");
        assert_eq!(c.status, CheckStatus::Failed);
        assert!(
            c.message.contains("SW power cap") && c.message.contains("HW thermal slowdown"),
            "{}",
            c.message
        );
        // Full clocks but a power cap active: warning.
        let capped = parse_nvidia_smi("NVIDIA H200, 1980, 1980, 700, 700, 70, 0x4\n");
        assert_eq!(judge_nvidia(&capped, "").status, CheckStatus::Warning);
        // Idle plus thermal slowdown: the slowdown wins.
        let hot_idle = parse_nvidia_smi("NVIDIA H200, 300, 1980, 70, 700, 90, 0x21\n");
        assert_eq!(judge_nvidia(&hot_idle, "").status, CheckStatus::Warning);
    }

    #[test]
    fn nvidia_smi_picks_the_adapter_row() {
        let text = "NVIDIA GeForce RTX 4090, 2520, 2520, 30, 450, 40, 0x0\n\
                    NVIDIA RTX A6000, 1000, 2100, 300, 300, 80, 0x0\n";
        let rows = parse_nvidia_smi(text);
        let c = judge_nvidia(&rows, "NVIDIA RTX A6000");
        assert!(c.message.starts_with("NVIDIA RTX A6000"), "{}", c.message);
        assert_eq!(c.status, CheckStatus::Failed);
        let c = judge_nvidia(&rows, "nvidia geforce rtx 4090");
        assert_eq!(c.status, CheckStatus::Passed);
        let c = judge_nvidia(&rows, "llvmpipe");
        assert!(
            c.message.starts_with("NVIDIA GeForce RTX 4090"),
            "{}",
            c.message
        );
        assert!(c.message.contains("not listed"), "{}", c.message);
    }

    #[test]
    fn nvidia_smi_garbage() {
        assert!(parse_nvidia_smi("").is_empty());
        assert!(parse_nvidia_smi("No devices were found\n").is_empty());
        assert!(parse_nvidia_smi("a,b\n,,,,,,\n").is_empty());
        let rows =
            parse_nvidia_smi("Tesla K80, [N/A], [N/A], [Not Supported], 149.00, 40, [N/A]\n");
        assert_eq!(rows.len(), 1);
        let c = judge_nvidia(&rows, "");
        assert_eq!(c.status, CheckStatus::Skipped);
        let rows = parse_nvidia_smi("Weird, Name, 1500, 1500, -3, 1e400, NaN, 0xZZ\n");
        assert_eq!(rows[0].name, "Weird,Name");
        assert_eq!(judge_nvidia(&rows, "").status, CheckStatus::Passed);
        assert_eq!(judge_nvidia(&[], "x").status, CheckStatus::Skipped);
    }

    #[test]
    fn amd_sysfs() {
        let sclk = "0: 500Mhz\n1: 1200Mhz *\n2: 2400Mhz\n";
        let c = judge_amd(
            "card1",
            sclk,
            Some("80\n"),
            Some("150000000\n"),
            Some("250000000\n"),
        );
        assert_eq!(c.status, CheckStatus::Failed);
        assert!(
            c.message.contains("card1") && c.message.contains("150/250 W"),
            "{}",
            c.message
        );
        let c = judge_amd("card1", sclk, Some("2\n"), None, None);
        assert_eq!(c.status, CheckStatus::Passed);
        assert!(c.message.contains("idle"));
        let top = "0: 500Mhz\n1: 2300Mhz *\n2: 2400Mhz\n";
        assert_eq!(
            judge_amd("card0", top, None, None, None).status,
            CheckStatus::Passed
        );
        let mid = "0: 500Mhz\n1: 1900Mhz *\n2: 2400Mhz\n";
        assert_eq!(
            judge_amd("card0", mid, Some("99"), None, None).status,
            CheckStatus::Warning
        );
        let sleep = "S: 19Mhz *\n0: 500Mhz\n1: 2400Mhz\n";
        assert_eq!(
            judge_amd("card0", sleep, None, None, None).status,
            CheckStatus::Passed
        );
        for bad in ["", "garbage", "0: 500Mhz\n1: 2400Mhz\n", "0: xMhz *\n"] {
            assert_eq!(
                judge_amd("card0", bad, Some("lots"), Some("-1"), None).status,
                CheckStatus::Skipped,
                "{bad}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn command_timeout_kills_a_hung_child() {
        let sh = Path::new("/bin/sh");
        if !sh.exists() {
            return;
        }
        let start = Instant::now();
        let args = ["-c".to_string(), "sleep 3".to_string()];
        let r = run_with_deadline(sh, &args, Instant::now() + Duration::from_millis(150));
        assert!(matches!(r, Err(RunError::TimedOut(_))), "{r:?}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let args = ["-c".to_string(), "echo hi".to_string()];
        let r = run_with_deadline(sh, &args, Instant::now() + Duration::from_secs(5));
        assert_eq!(r.unwrap(), "hi\n");
        let args = ["-c".to_string(), "exit 3".to_string()];
        let r = run_with_deadline(sh, &args, Instant::now() + Duration::from_secs(5));
        assert!(matches!(r, Err(RunError::Exited(_))), "{r:?}");
        let r = run_with_deadline(Path::new("/nonexistent/nvidia-smi"), &[], Instant::now());
        assert!(matches!(r, Err(RunError::Spawn(_))), "{r:?}");
    }

    #[test]
    fn fake_root_all_passing() {
        let cpu = "sys/devices/system/cpu";
        let root = root_with(&[
            (
                &format!("{cpu}/cpu0/cpufreq/scaling_governor"),
                "performance\n",
            ),
            (
                &format!("{cpu}/cpu1/cpufreq/scaling_governor"),
                "performance\n",
            ),
            (&format!("{cpu}/cpu0/cpufreq/scaling_cur_freq"), "3100000\n"),
            (&format!("{cpu}/cpu1/cpufreq/scaling_cur_freq"), "3000000\n"),
            (&format!("{cpu}/cpu0/cpufreq/cpuinfo_max_freq"), "3200000\n"),
            (&format!("{cpu}/cpu1/cpufreq/cpuinfo_max_freq"), "3200000\n"),
            (&format!("{cpu}/intel_pstate/no_turbo"), "0\n"),
            ("sys/class/thermal/thermal_zone0/temp", "41000\n"),
            ("sys/class/thermal/thermal_zone0/type", "x86_pkg_temp\n"),
            ("sys/class/hwmon/hwmon3/name", "coretemp\n"),
            ("sys/class/hwmon/hwmon3/temp2_input", "52000\n"),
            ("sys/class/hwmon/hwmon3/temp2_label", "Core 0\n"),
            (
                "sys/class/drm/card0/device/pp_dpm_sclk",
                "0: 500Mhz\n1: 2400Mhz *\n",
            ),
            ("sys/class/drm/card0-DP-1/status", "connected\n"),
            ("proc/stat", STAT_A),
            ("proc/loadavg", "0.05 0.10 0.10 1/80 100\n"),
            (
                "proc/1/stat",
                "1 (systemd) S 0 1 1 0 -1 0 0 0 0 0 5 6 0 0\n",
            ),
        ]);
        let p = probe(root.path()).run(&Target::Gpu {
            adapter: "AMD Radeon".into(),
        });
        let names: Vec<&str> = p.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                CPU_GOVERNOR,
                CPU_FREQUENCY,
                TURBO_BOOST,
                SYSTEM_LOAD,
                STEAL_TIME,
                THERMAL_STATE,
                BUSY_PROCESSES,
                GPU_CLOCKS
            ]
        );
        assert_eq!(find(&p, CPU_GOVERNOR).status, CheckStatus::Passed);
        assert_eq!(find(&p, CPU_FREQUENCY).status, CheckStatus::Passed);
        assert_eq!(find(&p, TURBO_BOOST).status, CheckStatus::Passed);
        // Static files: the counters do not advance.
        assert_eq!(find(&p, SYSTEM_LOAD).status, CheckStatus::Skipped);
        assert!(find(&p, SYSTEM_LOAD).message.contains("did not advance"));
        assert_eq!(
            find(&p, THERMAL_STATE).message,
            "52°C (cool, coretemp Core 0)"
        );
        assert_eq!(find(&p, BUSY_PROCESSES).status, CheckStatus::Passed);
        let gpu = find(&p, GPU_CLOCKS);
        assert_eq!(gpu.status, CheckStatus::Passed);
        assert!(gpu.message.starts_with("card0 (amdgpu)"), "{}", gpu.message);
        assert!(p.passed && !p.forced);
        assert!(p.warnings().is_empty() && p.failed().is_empty());
        assert!(p
            .report()
            .ends_with("RESULT: PASSED: the system is ready for calibration"));
    }

    #[test]
    fn fake_root_warnings_and_failures() {
        let cpu = "sys/devices/system/cpu";
        let root = root_with(&[
            (
                &format!("{cpu}/cpu0/cpufreq/scaling_governor"),
                "powersave\n",
            ),
            (&format!("{cpu}/cpu0/cpufreq/scaling_cur_freq"), "400000\n"),
            (&format!("{cpu}/cpu0/cpufreq/cpuinfo_max_freq"), "4000000\n"),
            (
                &format!("{cpu}/cpu0/cpufreq/scaling_driver"),
                "acpi-cpufreq\n",
            ),
            (&format!("{cpu}/cpufreq/boost"), "0\n"),
            ("sys/class/hwmon/hwmon0/temp1_input", "101000\n"),
        ]);
        let p = probe(root.path()).run(&Target::Cpu);
        assert_eq!(p.checks.len(), 7);
        assert_eq!(find(&p, CPU_GOVERNOR).status, CheckStatus::Warning);
        assert_eq!(find(&p, CPU_FREQUENCY).status, CheckStatus::Failed);
        assert_eq!(find(&p, TURBO_BOOST).status, CheckStatus::Warning);
        assert_eq!(find(&p, THERMAL_STATE).status, CheckStatus::Failed);
        assert_eq!(
            find(&p, THERMAL_STATE).message,
            "101°C (hot - likely throttling, hwmon0 temp1)"
        );
        assert_eq!(find(&p, SYSTEM_LOAD).status, CheckStatus::Skipped);
        assert_eq!(find(&p, BUSY_PROCESSES).status, CheckStatus::Skipped);
        assert!(!p.passed);
        assert_eq!(p.failed().len(), 2);
        assert_eq!(p.warnings().len(), 2);
        let report = p.report();
        for needle in [
            "[!] CPU Governor: powersave (low performance mode) on CPUs 0",
            "[X] Thermal State",
            "[-] System Load",
            "    Current:  Disabled",
            "    Expected: Enabled",
        ] {
            assert!(report.contains(needle), "{needle} not in\n{report}");
        }
        assert!(
            report
                .lines()
                .last()
                .unwrap()
                .starts_with("RESULT: FAILED (2 failed)"),
            "{report}"
        );
        let mut forced = p.clone();
        forced.forced = true;
        assert!(forced.report().lines().last().unwrap().contains("forced"));
    }

    #[test]
    fn empty_root_skips_everything() {
        let root = tempfile::tempdir().unwrap();
        let p = probe(root.path()).run(&Target::Gpu {
            adapter: String::new(),
        });
        assert_eq!(p.checks.len(), 8);
        assert!(
            p.checks.iter().all(|c| c.status == CheckStatus::Skipped),
            "{p:#?}"
        );
        assert_eq!(
            find(&p, GPU_CLOCKS).message,
            "the driver exposes no clocks or power to hwcal (no nvidia-smi, no amdgpu sysfs)"
        );
        assert!(p.passed);
        assert!(p.report().contains("[-] Turbo Boost"));
        // A root that does not exist at all behaves the same.
        let p = probe(&root.path().join("missing")).run(&Target::Cpu);
        assert!(p.checks.iter().all(|c| c.status == CheckStatus::Skipped));
    }

    #[test]
    fn garbage_files_never_panic() {
        let cpu = "sys/devices/system/cpu";
        let junk = "\u{0}\u{fffd}garbage (((( )) -1 99999999999999999999999999\n";
        let files: Vec<(String, &str)> = [
            format!("{cpu}/cpu0/cpufreq/scaling_governor"),
            format!("{cpu}/cpu0/cpufreq/scaling_cur_freq"),
            format!("{cpu}/cpu0/cpufreq/cpuinfo_max_freq"),
            format!("{cpu}/intel_pstate/no_turbo"),
            format!("{cpu}/cpufreq/boost"),
            "sys/class/thermal/thermal_zone0/temp".to_string(),
            "sys/class/hwmon/hwmon0/temp1_input".to_string(),
            "sys/class/drm/card0/device/pp_dpm_sclk".to_string(),
            "proc/stat".to_string(),
            "proc/loadavg".to_string(),
            "proc/cpuinfo".to_string(),
            "proc/1/stat".to_string(),
            "proc/2/stat".to_string(),
        ]
        .into_iter()
        .map(|p| (p, junk))
        .collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        let root = root_with(&refs);
        std::fs::write(root.path().join("proc/2/stat"), "").unwrap();
        let p = probe(root.path()).run(&Target::Gpu {
            adapter: "x".into(),
        });
        assert_eq!(p.checks.len(), 8);
        // A garbage governor name is still a governor that is not "performance".
        assert_eq!(find(&p, CPU_GOVERNOR).status, CheckStatus::Warning);
        for c in &p.checks[1..] {
            assert_eq!(c.status, CheckStatus::Skipped, "{c:?}");
        }
    }

    #[test]
    fn json_round_trip() {
        let p = Preflight {
            timestamp: "2025-11-28T09:01:36.501662".into(),
            passed: false,
            forced: true,
            checks: vec![
                Check::new(CPU_GOVERNOR, CheckStatus::Passed, "performance")
                    .values("performance", "performance"),
                Check::new(TURBO_BOOST, CheckStatus::Skipped, "n/a"),
                Check::new(THERMAL_STATE, CheckStatus::Failed, "101°C").values("101°C", "< 80°C"),
                Check::new(STEAL_TIME, CheckStatus::Warning, "2.0%"),
            ],
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["checks"][1]["status"], "skipped");
        assert!(v["checks"][1]["current_value"].is_null());
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["timestamp", "passed", "forced", "checks"]);
        let check_keys: Vec<&String> = v["checks"][0].as_object().unwrap().keys().collect();
        assert_eq!(
            check_keys,
            [
                "name",
                "status",
                "message",
                "current_value",
                "expected_value"
            ]
        );
        assert_eq!(Preflight::from_json(&v), Some(p.clone()));
        let back: Preflight = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);
        // A fresh run's timestamp has the Python isoformat shape.
        let fresh = Preflight::from_checks(vec![]);
        assert!(
            chrono::NaiveDateTime::parse_from_str(&fresh.timestamp, "%Y-%m-%dT%H:%M:%S%.6f")
                .is_ok()
        );
        assert_eq!(fresh.timestamp.len(), 26, "{}", fresh.timestamp);
    }

    #[test]
    fn from_json_reads_the_python_shape() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"timestamp": "2025-11-28T09:01:36.501662", "passed": true, "forced": false,
                "checks": [{"name": "CPU Governor", "status": "passed", "message": "performance",
                            "current_value": "performance", "expected_value": "performance"},
                           {"name": "Turbo Boost", "status": "skipped", "message": "Could not determine (not Intel pstate)",
                            "current_value": null, "expected_value": null},
                           {"name": "System Load", "status": "warning", "message": "7.5% (some background activity)"}]}"#,
        )
        .unwrap();
        let p = Preflight::from_json(&v).unwrap();
        assert!(p.passed && !p.forced);
        assert_eq!(p.checks.len(), 3);
        assert_eq!(p.checks[0].expected_value.as_deref(), Some("performance"));
        assert_eq!(p.checks[1].current_value, None);
        assert_eq!(p.checks[2].status, CheckStatus::Warning);
        assert_eq!(p.warnings().len(), 1);
        // Python's own to_dict: device and has_warnings, no forced.
        let v = serde_json::json!({"device": "cuda", "timestamp": "t", "passed": false, "has_warnings": false,
            "checks": [{"name": "GPU Clock", "status": "FAILED", "message": "600 MHz", "current_value": 600, "expected_value": null}]});
        let p = Preflight::from_json(&v).unwrap();
        assert!(!p.passed && !p.forced);
        assert_eq!(p.checks[0].current_value.as_deref(), Some("600"));
        // No passed key: computed.
        let v = serde_json::json!({"checks": [{"name": "a", "status": "failed"}]});
        assert!(!Preflight::from_json(&v).unwrap().passed);
    }

    #[test]
    fn from_json_rejects_garbage() {
        let bad = [
            serde_json::json!(null),
            serde_json::json!("preflight"),
            serde_json::json!([1, 2]),
            serde_json::json!({}),
            serde_json::json!({"checks": "none"}),
            serde_json::json!({"checks": [1]}),
            serde_json::json!({"checks": [{"status": "passed"}]}),
            serde_json::json!({"checks": [{"name": "a", "status": "great"}]}),
            serde_json::json!({"checks": [{"name": "a"}]}),
            serde_json::json!({"checks": [{"name": 5, "status": "passed"}]}),
            serde_json::json!({"checks": [{"name": "a", "status": "passed", "current_value": [1]}]}),
            serde_json::json!({"checks": [], "passed": "yes"}),
            serde_json::json!({"checks": [], "timestamp": 12}),
            serde_json::json!({"checks": [], "forced": 1}),
        ];
        for v in bad {
            assert_eq!(Preflight::from_json(&v), None, "{v}");
        }
    }

    #[test]
    fn report_symbols_and_sub_lines() {
        let p = Preflight::from_checks(vec![
            Check::new("A", CheckStatus::Passed, "fine").values("1", "1"),
            Check::new("B", CheckStatus::Warning, "meh"),
            Check::new("C", CheckStatus::Skipped, "n/a"),
            Check::new("D", CheckStatus::Passed, "only current").values("x", "y"),
        ]);
        let mut only_current = p.clone();
        only_current.checks[3].expected_value = None;
        let r = only_current.report();
        assert!(r.contains("[OK] A: fine\n    Current:  1\n    Expected: 1\n[!] B: meh\n[-] C: n/a\n[OK] D: only current\n"), "{r}");
        assert!(!r.contains("Current:  x"));
        assert!(
            r.lines()
                .last()
                .unwrap()
                .starts_with("RESULT: PASSED with warnings (1)"),
            "{r}"
        );
        let x = Preflight::from_checks(vec![Check::new("E", CheckStatus::Failed, "bad")]);
        assert!(x.report().contains("[X] E: bad"));
        assert!(!x.passed);
    }

    /// The real machine: seven checks, no panic, within window + a few seconds.
    #[test]
    fn smoke_real_machine() {
        let start = Instant::now();
        let p = Probe::default().run(&Target::Cpu);
        assert_eq!(p.checks.len(), 7);
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(p.passed, p.failed().is_empty());
        println!("{}", p.report());
    }
}
