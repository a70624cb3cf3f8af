//! The profile data model, field for field the Python calibrator's schema, and its conversion
//! to and from JSON values.
//!
//! # Compatibility rules
//! - The Python loader (`cls(**data)`) rejects unknown keys inside `metadata`, each operation
//!   profile and each fusion profile, so hwcal never adds keys there: everything of hwcal's own
//!   goes into `extra_params` or into new top-level keys (`fusion_measurements`, `hwcal`).
//! - Keys this schema does not know (written by newer Python versions, e.g. metadata
//!   `device_type`, operation `precision_results`, top-level `precision_matrix`) are kept in the
//!   `extra` map of the object they were found in and written back unchanged, after the known
//!   keys, in their original order. Every Python version writes its newer keys after the older
//!   ones, so for the files it writes this is also their original position.
//! - Known keys are written in the Python dataclass order, so a profile Python wrote reads and
//!   writes back byte for byte (see [`super::HardwareCalibration::to_json_string`]).
//! - A key that the Python loader treats as optional (it has a default there) and that a file
//!   lacks reads as that default and is written on save, as Python does.
//! - Float fields read JSON integers too and `null` as NaN (hwcal writes non-finite floats as
//!   `null`); integer fields read integral floats too. Such values are written back in their
//!   canonical form (`1000` in a float field comes back as `1000.0`).
//! - Every number is checked against its range in [`super::limits::FIELDS`]: an absurd value
//!   (`5e-324` GFLOPS, a speedup of `1e308`, a sweep size of `1e-310`) is refused with an error
//!   naming the key path; `null` is "not measured" for measurements and refused for the
//!   theoretical peaks and the memory size (0 means unknown there). hwcal's numbers inside a
//!   fusion profile's `extra_params` (`flops`, `sweep_value`, `speedup_ci95`) are checked too.

use super::limits::{self, Field};
use super::ordered::OrderedMap;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A JSON object with its key order preserved (serde_json's `preserve_order` is on).
pub type JsonMap = Map<String, Value>;

/// Information about the calibration run (`metadata` in the file).
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationMetadata {
    /// The hardware name the profile is keyed by, e.g. `i7-12700K`.
    pub hardware_name: String,
    /// When the calibration ran, ISO 8601 local time (`2025-11-05T19:09:09.875460`).
    pub calibration_date: String,
    /// Version of the tool that wrote the profile.
    pub calibration_tool_version: String,
    /// CPU model (the Python tool writes the machine architecture here, e.g. `x86_64`).
    pub cpu_model: String,
    /// Logical CPU count.
    pub cpu_count: usize,
    /// Total system memory in GB.
    pub total_memory_gb: f64,
    /// Python version of the writer (required by the Python loader; hwcal writes what it knows).
    pub python_version: String,
    /// PyTorch version, `None` when not used.
    pub pytorch_version: Option<String>,
    /// NumPy version, `None` when not used.
    pub numpy_version: Option<String>,
    /// Warm-up runs per measurement (Python default 3).
    pub num_warmup_runs: usize,
    /// Measured runs per measurement (Python default 10).
    pub num_measurement_runs: usize,
    /// Keys this schema does not know, kept and written back in order.
    pub extra: JsonMap,
}

impl CalibrationMetadata {
    /// Metadata for a run starting now on this machine: the date is the local time now in
    /// Python's `datetime.isoformat()` form, the tool version hwcal's, `cpu_model` the
    /// architecture (as the Python tool writes it), `cpu_count` the available parallelism.
    /// `total_memory_gb` is 0.0 and `python_version` empty: the caller fills what it knows.
    pub fn new(hardware_name: impl Into<String>) -> Self {
        let now = chrono::Local::now().naive_local();
        let calibration_date = if now.and_utc().timestamp_subsec_micros() == 0 {
            now.format("%Y-%m-%dT%H:%M:%S").to_string()
        } else {
            now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
        };
        Self {
            hardware_name: hardware_name.into(),
            calibration_date,
            calibration_tool_version: env!("CARGO_PKG_VERSION").to_string(),
            cpu_model: std::env::consts::ARCH.to_string(),
            cpu_count: std::thread::available_parallelism().map_or(1, |n| n.get()),
            total_memory_gb: 0.0,
            python_version: String::new(),
            pytorch_version: None,
            numpy_version: None,
            num_warmup_runs: 3,
            num_measurement_runs: 10,
            extra: JsonMap::new(),
        }
    }
}

/// Measured performance of one operation at one configuration (an entry of
/// `operation_profiles`).
#[derive(Debug, Clone, PartialEq)]
pub struct OperationCalibration {
    /// Operation kind, e.g. `matmul`, `add`, `conv2d`.
    pub operation_type: String,
    /// Achieved GFLOPS (0.0 for pure memory operations).
    pub measured_gflops: f64,
    /// Fraction of the theoretical peak reached (of bandwidth for memory operations).
    pub efficiency: f64,
    /// Achieved memory bandwidth in GB/s.
    pub achieved_bandwidth_gbps: f64,
    /// Whether the operation is memory bound.
    pub memory_bound: bool,
    /// Whether the operation is compute bound.
    pub compute_bound: bool,
    /// FLOPs per byte moved.
    pub arithmetic_intensity: f64,
    /// Batch size.
    pub batch_size: usize,
    /// Input shape (for the key's size tag, the product of its dimensions counts).
    pub input_shape: Vec<usize>,
    /// Output shape.
    pub output_shape: Vec<usize>,
    /// Mean latency in milliseconds.
    pub mean_latency_ms: f64,
    /// Standard deviation of the latency in milliseconds.
    pub std_latency_ms: f64,
    /// Fastest trial in milliseconds.
    pub min_latency_ms: f64,
    /// Slowest trial in milliseconds.
    pub max_latency_ms: f64,
    /// Number of measured trials.
    pub num_trials: usize,
    /// Distinguishing parameters; they form the profile key (see [`super::operation_key`]).
    pub extra_params: JsonMap,
    /// Keys this schema does not know (e.g. `precision_results`), kept and written back.
    pub extra: JsonMap,
}

impl OperationCalibration {
    /// An operation of `operation_type` on `input_shape` with every measurement zero, batch
    /// size 1, the output shape equal to the input shape and no extra parameters; the caller
    /// fills in the rest.
    pub fn new(operation_type: impl Into<String>, input_shape: Vec<usize>) -> Self {
        Self {
            operation_type: operation_type.into(),
            measured_gflops: 0.0,
            efficiency: 0.0,
            achieved_bandwidth_gbps: 0.0,
            memory_bound: false,
            compute_bound: false,
            arithmetic_intensity: 0.0,
            batch_size: 1,
            output_shape: input_shape.clone(),
            input_shape,
            mean_latency_ms: 0.0,
            std_latency_ms: 0.0,
            min_latency_ms: 0.0,
            max_latency_ms: 0.0,
            num_trials: 0,
            extra_params: JsonMap::new(),
            extra: JsonMap::new(),
        }
    }
}

/// Measured benefit of fusing a chain of operators (an entry of `fusion_profiles`), exactly the
/// fields of the Python `FusionCalibration`.
#[derive(Debug, Clone, PartialEq)]
pub struct FusionCalibration {
    /// Pattern name, e.g. `Linear_Bias_ReLU`; the key in `fusion_profiles`.
    pub fusion_pattern: String,
    /// The fused operators, e.g. `["Linear", "Bias", "ReLU"]`.
    pub operators: Vec<String>,
    /// `operators.len()`.
    pub num_operators: usize,
    /// Latency of the unfused chain in milliseconds.
    pub unfused_latency_ms: f64,
    /// GFLOPS of the unfused chain.
    pub unfused_gflops: f64,
    /// Bytes moved by the unfused chain.
    pub unfused_memory_bytes: u64,
    /// Latency of the fused kernel in milliseconds.
    pub fused_latency_ms: f64,
    /// GFLOPS of the fused kernel.
    pub fused_gflops: f64,
    /// Bytes moved by the fused kernel.
    pub fused_memory_bytes: u64,
    /// `unfused_latency_ms / fused_latency_ms`.
    pub speedup_factor: f64,
    /// `1 - fused_memory_bytes / unfused_memory_bytes`.
    pub memory_reduction: f64,
    /// `(fused_gflops - unfused_gflops) / unfused_gflops`.
    pub gflops_improvement: f64,
    /// The shape measured, e.g. `[128, 512, 512]` (batch, in, out) for linear patterns.
    pub input_shape: Vec<usize>,
    /// hwcal's additions go here: e.g. `speedup_ci95` (`[lo, hi]`), `noisy` (bool); read them
    /// through [`Self::hwcal_extras`] ([`super::FusionExtras`]).
    pub extra_params: JsonMap,
    /// Number of measured trials (Python default 100).
    pub num_trials: usize,
    /// Keys this schema does not know, kept and written back.
    pub extra: JsonMap,
}

// ---------------------------------------------------------------------------------------------
// To JSON values
// ---------------------------------------------------------------------------------------------

/// `x` as a JSON value; non-finite floats become `null` (plain JSON has no NaN).
pub(crate) fn float_value(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn shape_value(shape: &[usize]) -> Value {
    Value::Array(shape.iter().map(|&d| Value::from(d as u64)).collect())
}

fn opt_string_value(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

fn append_extra(map: &mut JsonMap, extra: &JsonMap) {
    for (k, v) in extra {
        if !map.contains_key(k) {
            map.insert(k.clone(), v.clone());
        }
    }
}

impl CalibrationMetadata {
    /// This metadata as a JSON object, known keys in Python's order, then the unknown ones.
    pub fn to_value(&self) -> Value {
        let mut m = JsonMap::new();
        m.insert("hardware_name".into(), self.hardware_name.clone().into());
        m.insert(
            "calibration_date".into(),
            self.calibration_date.clone().into(),
        );
        m.insert(
            "calibration_tool_version".into(),
            self.calibration_tool_version.clone().into(),
        );
        m.insert("cpu_model".into(), self.cpu_model.clone().into());
        m.insert("cpu_count".into(), (self.cpu_count as u64).into());
        m.insert("total_memory_gb".into(), float_value(self.total_memory_gb));
        m.insert("python_version".into(), self.python_version.clone().into());
        m.insert(
            "pytorch_version".into(),
            opt_string_value(&self.pytorch_version),
        );
        m.insert(
            "numpy_version".into(),
            opt_string_value(&self.numpy_version),
        );
        m.insert(
            "num_warmup_runs".into(),
            (self.num_warmup_runs as u64).into(),
        );
        m.insert(
            "num_measurement_runs".into(),
            (self.num_measurement_runs as u64).into(),
        );
        append_extra(&mut m, &self.extra);
        Value::Object(m)
    }
}

impl OperationCalibration {
    /// This profile as a JSON object, known keys in Python's order, then the unknown ones.
    pub fn to_value(&self) -> Value {
        let mut m = JsonMap::new();
        m.insert("operation_type".into(), self.operation_type.clone().into());
        m.insert("measured_gflops".into(), float_value(self.measured_gflops));
        m.insert("efficiency".into(), float_value(self.efficiency));
        m.insert(
            "achieved_bandwidth_gbps".into(),
            float_value(self.achieved_bandwidth_gbps),
        );
        m.insert("memory_bound".into(), self.memory_bound.into());
        m.insert("compute_bound".into(), self.compute_bound.into());
        m.insert(
            "arithmetic_intensity".into(),
            float_value(self.arithmetic_intensity),
        );
        m.insert("batch_size".into(), (self.batch_size as u64).into());
        m.insert("input_shape".into(), shape_value(&self.input_shape));
        m.insert("output_shape".into(), shape_value(&self.output_shape));
        m.insert("mean_latency_ms".into(), float_value(self.mean_latency_ms));
        m.insert("std_latency_ms".into(), float_value(self.std_latency_ms));
        m.insert("min_latency_ms".into(), float_value(self.min_latency_ms));
        m.insert("max_latency_ms".into(), float_value(self.max_latency_ms));
        m.insert("num_trials".into(), (self.num_trials as u64).into());
        m.insert(
            "extra_params".into(),
            Value::Object(self.extra_params.clone()),
        );
        append_extra(&mut m, &self.extra);
        Value::Object(m)
    }
}

impl FusionCalibration {
    /// This profile as a JSON object, known keys in Python's order, then the unknown ones.
    pub fn to_value(&self) -> Value {
        let mut m = JsonMap::new();
        m.insert("fusion_pattern".into(), self.fusion_pattern.clone().into());
        m.insert(
            "operators".into(),
            Value::Array(self.operators.iter().cloned().map(Value::String).collect()),
        );
        m.insert("num_operators".into(), (self.num_operators as u64).into());
        m.insert(
            "unfused_latency_ms".into(),
            float_value(self.unfused_latency_ms),
        );
        m.insert("unfused_gflops".into(), float_value(self.unfused_gflops));
        m.insert(
            "unfused_memory_bytes".into(),
            self.unfused_memory_bytes.into(),
        );
        m.insert(
            "fused_latency_ms".into(),
            float_value(self.fused_latency_ms),
        );
        m.insert("fused_gflops".into(), float_value(self.fused_gflops));
        m.insert("fused_memory_bytes".into(), self.fused_memory_bytes.into());
        m.insert("speedup_factor".into(), float_value(self.speedup_factor));
        m.insert(
            "memory_reduction".into(),
            float_value(self.memory_reduction),
        );
        m.insert(
            "gflops_improvement".into(),
            float_value(self.gflops_improvement),
        );
        m.insert("input_shape".into(), shape_value(&self.input_shape));
        m.insert(
            "extra_params".into(),
            Value::Object(self.extra_params.clone()),
        );
        m.insert("num_trials".into(), (self.num_trials as u64).into());
        append_extra(&mut m, &self.extra);
        Value::Object(m)
    }
}

// ---------------------------------------------------------------------------------------------
// From JSON values, with errors naming the key path
// ---------------------------------------------------------------------------------------------

/// What a JSON value is, for error messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads the fields of one JSON object, tracking which keys were used; errors name the key as
/// `path.key`.
pub(crate) struct Fields<'a> {
    map: &'a JsonMap,
    path: String,
    known: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// Fields of `v`, which must be an object; `path` names it in errors (empty at top level).
    pub(crate) fn of(v: &'a Value, path: &str) -> Result<Self, String> {
        match v {
            Value::Object(map) => Ok(Self {
                map,
                path: path.to_string(),
                known: Vec::new(),
            }),
            other => Err(format!(
                "{path}: expected an object, found {}",
                kind_of(other)
            )),
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key`, or `None` when absent; marks the key as known.
    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key)
    }

    fn required(&mut self, key: &'static str) -> Result<&'a Value, String> {
        let path = if self.path.is_empty() {
            "top level"
        } else {
            self.path.as_str()
        };
        let missing = format!("{path}: missing key `{key}`");
        self.get(key).ok_or(missing)
    }

    fn wrong(&self, key: &str, expected: &str, found: &Value) -> String {
        format!(
            "{}: expected {expected}, found {}",
            self.key_path(key),
            kind_of(found)
        )
    }

    fn as_f64(&self, key: &str, v: &Value) -> Result<f64, String> {
        match v {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(f64::NAN)),
            Value::Null => Ok(f64::NAN),
            other => Err(self.wrong(key, "a number", other)),
        }
    }

    fn as_count(&self, key: &str, v: &Value, what: &str) -> Result<u64, String> {
        if let Value::Number(n) = v {
            if let Some(u) = n.as_u64() {
                return Ok(u);
            }
            if let Some(f) = n.as_f64() {
                if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 {
                    return Ok(f as u64);
                }
            }
        }
        Err(self.wrong(key, what, v))
    }

    /// `x`, read from `key` (shown as `shown_key` in errors), checked against `spec`.
    fn checked(&self, shown_key: &str, spec: &Field, x: f64) -> Result<f64, String> {
        spec.check(x)
            .map_err(|why| format!("{}: {why}", self.key_path(shown_key)))
    }

    /// The number under `key`, which must be present, checked against its range in
    /// [`limits::FIELDS`] (`null` is NaN: allowed for measurements, refused where the table
    /// says so).
    pub(crate) fn number(&mut self, key: &'static str) -> Result<f64, String> {
        let v = self.required(key)?;
        let x = self.as_f64(key, v)?;
        self.checked(key, spec(key), x)
    }

    /// [`Self::number`], or `default` when the key is absent.
    pub(crate) fn number_or(&mut self, key: &'static str, default: f64) -> Result<f64, String> {
        match self.get(key) {
            Some(v) => {
                let x = self.as_f64(key, v)?;
                self.checked(key, spec(key), x)
            }
            None => Ok(default),
        }
    }

    /// A non-negative integer at `key` (shown as `shown_key`), within the range of `key` in
    /// [`limits::FIELDS`].
    fn checked_count(&self, key: &str, shown_key: &str, v: &Value) -> Result<u64, String> {
        let u = self.as_count(shown_key, v, "a non-negative integer")?;
        self.checked(shown_key, spec(key), u as f64)?;
        Ok(u)
    }

    fn u64(&mut self, key: &'static str) -> Result<u64, String> {
        let v = self.required(key)?;
        self.checked_count(key, key, v)
    }

    fn usize(&mut self, key: &'static str) -> Result<usize, String> {
        Ok(self.u64(key)? as usize)
    }

    fn usize_or(&mut self, key: &'static str, default: usize) -> Result<usize, String> {
        match self.get(key) {
            Some(v) => Ok(self.checked_count(key, key, v)? as usize),
            None => Ok(default),
        }
    }

    fn bool(&mut self, key: &'static str) -> Result<bool, String> {
        match self.required(key)? {
            Value::Bool(b) => Ok(*b),
            other => Err(self.wrong(key, "true or false", other)),
        }
    }

    fn string(&mut self, key: &'static str) -> Result<String, String> {
        match self.required(key)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.wrong(key, "a string", other)),
        }
    }

    fn opt_string(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(key, "a string or null", other)),
        }
    }

    fn shape(&mut self, key: &'static str) -> Result<Vec<usize>, String> {
        let v = self.required(key)?;
        let Value::Array(items) = v else {
            return Err(self.wrong(key, "an array of integers", v));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, d)| {
                self.checked_count(key, &format!("{key}[{i}]"), d)
                    .map(|d| d as usize)
            })
            .collect()
    }

    fn strings(&mut self, key: &'static str) -> Result<Vec<String>, String> {
        let v = self.required(key)?;
        let Value::Array(items) = v else {
            return Err(self.wrong(key, "an array of strings", v));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, s)| match s {
                Value::String(s) => Ok(s.clone()),
                other => Err(self.wrong(&format!("{key}[{i}]"), "a string", other)),
            })
            .collect()
    }

    /// The object under `key` (`{}` when absent).
    pub(crate) fn object_or_empty(&mut self, key: &'static str) -> Result<JsonMap, String> {
        match self.get(key) {
            None => Ok(JsonMap::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(other) => Err(self.wrong(key, "an object", other)),
        }
    }

    /// Checks hwcal's numbers inside a fusion profile's `extra_params` (`flops`, `sweep_value`,
    /// each end of `speedup_ci95`) against [`limits::FIELDS`], where they are numbers (the map
    /// is free-form: other types are left to its readers, which ignore them).
    fn check_fusion_extra(&self, extra: &JsonMap) -> Result<(), String> {
        for (name, spec_key) in [
            ("flops", "extra_params.flops"),
            ("sweep_value", "extra_params.sweep_value"),
            ("speedup_ci95", "extra_params.speedup_ci95"),
        ] {
            let shown_key = format!("extra_params.{name}");
            let items: Vec<(String, &Value)> = match extra.get(name) {
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{shown_key}[{i}]"), v))
                    .collect(),
                Some(v) => vec![(shown_key, v)],
                None => vec![],
            };
            for (at, v) in items {
                if let Value::Number(n) = v {
                    self.checked(&at, spec(spec_key), n.as_f64().unwrap_or(f64::NAN))?;
                }
            }
        }
        Ok(())
    }

    /// Every key not read through this reader, in file order.
    pub(crate) fn rest(&self) -> JsonMap {
        self.map
            .iter()
            .filter(|(k, _)| !self.known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The entry of `key` in [`limits::FIELDS`]; every numeric key the loader reads has one.
fn spec(key: &str) -> &'static Field {
    limits::field_of(key)
        .unwrap_or_else(|| panic!("`{key}` is missing from profile::limits::FIELDS"))
}

impl CalibrationMetadata {
    /// Reads metadata from a JSON object; `path` names it in error messages. Numbers are
    /// checked against [`limits::FIELDS`].
    pub fn from_value(v: &Value, path: &str) -> Result<Self, String> {
        let mut f = Fields::of(v, path)?;
        Ok(Self {
            hardware_name: f.string("hardware_name")?,
            calibration_date: f.string("calibration_date")?,
            calibration_tool_version: f.string("calibration_tool_version")?,
            cpu_model: f.string("cpu_model")?,
            cpu_count: f.usize("cpu_count")?,
            total_memory_gb: f.number("total_memory_gb")?,
            python_version: f.string("python_version")?,
            pytorch_version: f.opt_string("pytorch_version")?,
            numpy_version: f.opt_string("numpy_version")?,
            num_warmup_runs: f.usize_or("num_warmup_runs", 3)?,
            num_measurement_runs: f.usize_or("num_measurement_runs", 10)?,
            extra: f.rest(),
        })
    }
}

impl OperationCalibration {
    /// Reads an operation profile from a JSON object; `path` names it in error messages.
    /// Numbers are checked against [`limits::FIELDS`].
    pub fn from_value(v: &Value, path: &str) -> Result<Self, String> {
        let mut f = Fields::of(v, path)?;
        Ok(Self {
            operation_type: f.string("operation_type")?,
            measured_gflops: f.number("measured_gflops")?,
            efficiency: f.number("efficiency")?,
            achieved_bandwidth_gbps: f.number("achieved_bandwidth_gbps")?,
            memory_bound: f.bool("memory_bound")?,
            compute_bound: f.bool("compute_bound")?,
            arithmetic_intensity: f.number("arithmetic_intensity")?,
            batch_size: f.usize("batch_size")?,
            input_shape: f.shape("input_shape")?,
            output_shape: f.shape("output_shape")?,
            mean_latency_ms: f.number("mean_latency_ms")?,
            std_latency_ms: f.number("std_latency_ms")?,
            min_latency_ms: f.number("min_latency_ms")?,
            max_latency_ms: f.number("max_latency_ms")?,
            num_trials: f.usize("num_trials")?,
            extra_params: f.object_or_empty("extra_params")?,
            extra: f.rest(),
        })
    }
}

impl FusionCalibration {
    /// Reads a fusion profile from a JSON object; `path` names it in error messages.
    /// Numbers, hwcal's in `extra_params` included, are checked against [`limits::FIELDS`].
    pub fn from_value(v: &Value, path: &str) -> Result<Self, String> {
        let mut f = Fields::of(v, path)?;
        let fusion = Self {
            fusion_pattern: f.string("fusion_pattern")?,
            operators: f.strings("operators")?,
            num_operators: f.usize("num_operators")?,
            unfused_latency_ms: f.number("unfused_latency_ms")?,
            unfused_gflops: f.number("unfused_gflops")?,
            unfused_memory_bytes: f.u64("unfused_memory_bytes")?,
            fused_latency_ms: f.number("fused_latency_ms")?,
            fused_gflops: f.number("fused_gflops")?,
            fused_memory_bytes: f.u64("fused_memory_bytes")?,
            speedup_factor: f.number("speedup_factor")?,
            memory_reduction: f.number("memory_reduction")?,
            gflops_improvement: f.number("gflops_improvement")?,
            input_shape: f.shape("input_shape")?,
            extra_params: f.object_or_empty("extra_params")?,
            num_trials: f.usize_or("num_trials", 100)?,
            extra: f.rest(),
        };
        f.check_fusion_extra(&fusion.extra_params)?;
        Ok(fusion)
    }
}

/// Longest key of a file shown whole in an error's key path.
const MAX_KEY_SHOWN: usize = 160;

/// Reads an ordered map of `T` from the object `v` at `path`. The keys come from the file: in
/// the paths given to `read` (for its errors) they are made printable and cut when long.
pub(crate) fn map_from_value<T>(
    v: &Value,
    path: &str,
    read: impl Fn(&Value, &str) -> Result<T, String>,
) -> Result<OrderedMap<T>, String> {
    let Value::Object(m) = v else {
        return Err(format!("{path}: expected an object, found {}", kind_of(v)));
    };
    m.iter()
        .map(|(k, item)| {
            let at = format!("{path}.{}", crate::text::truncated_to(k, MAX_KEY_SHOWN));
            Ok((k.clone(), read(item, &at)?))
        })
        .collect()
}

// serde glue: the types (de)serialise through the same conversions, so they can be embedded in
// other serde data.
macro_rules! serde_via_value {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.to_value().serialize(s)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = Value::deserialize(d)?;
                <$ty>::from_value(&v, stringify!($ty)).map_err(D::Error::custom)
            }
        }
    };
}

serde_via_value!(CalibrationMetadata);
serde_via_value!(OperationCalibration);
serde_via_value!(FusionCalibration);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fusion_json() -> Value {
        json!({
            "fusion_pattern": "Linear_Bias", "operators": ["Linear", "Bias"], "num_operators": 2,
            "unfused_latency_ms": 2.0, "unfused_gflops": 100.0, "unfused_memory_bytes": 1000,
            "fused_latency_ms": 1.0, "fused_gflops": 200, "fused_memory_bytes": 750,
            "speedup_factor": 2.0, "memory_reduction": 0.25, "gflops_improvement": null,
            "input_shape": [128, 512, 512], "extra_params": {"noisy": true},
            "num_trials": 50.0, "later_key": [1]
        })
    }

    #[test]
    fn fusion_reads_lenient_numbers_and_keeps_unknown_keys() {
        let f =
            FusionCalibration::from_value(&fusion_json(), "fusion_profiles.Linear_Bias").unwrap();
        assert_eq!(f.fused_gflops, 200.0);
        assert!(f.gflops_improvement.is_nan());
        assert_eq!(f.num_trials, 50);
        assert_eq!(
            f.extra,
            json!({"later_key": [1]}).as_object().unwrap().clone()
        );
        let back = f.to_value();
        assert_eq!(back["later_key"], json!([1]));
        assert_eq!(back["gflops_improvement"], Value::Null);
        let keys: Vec<&String> = back.as_object().unwrap().keys().collect();
        assert_eq!(keys.last().unwrap().as_str(), "later_key");
    }

    #[test]
    fn errors_name_the_key_path() {
        let mut v = fusion_json();
        v["speedup_factor"] = json!("fast");
        let e = FusionCalibration::from_value(&v, "fusion_profiles.X").unwrap_err();
        assert_eq!(
            e,
            "fusion_profiles.X.speedup_factor: expected a number, found a string"
        );
        v.as_object_mut().unwrap().remove("operators");
        let e = FusionCalibration::from_value(&v, "fusion_profiles.X").unwrap_err();
        assert_eq!(e, "fusion_profiles.X: missing key `operators`");
        let mut v = fusion_json();
        v["input_shape"] = json!([1, -2]);
        let e = FusionCalibration::from_value(&v, "p").unwrap_err();
        assert_eq!(
            e,
            "p.input_shape[1]: expected a non-negative integer, found a number"
        );
    }

    #[test]
    fn numbers_are_checked_against_their_ranges() {
        let at = |key: &str, value: Value| {
            let mut v = fusion_json();
            v[key] = value;
            FusionCalibration::from_value(&v, "fusion_profiles.X")
        };
        for x in [5e-324, 1e-310, 1e308] {
            let e = at("speedup_factor", json!(x)).unwrap_err();
            assert!(
                e.starts_with("fusion_profiles.X.speedup_factor: ") && e.contains("out of range"),
                "{e}"
            );
            assert!(at("fused_gflops", json!(x)).is_err(), "{x}");
        }
        assert!(at("speedup_factor", Value::Null)
            .unwrap()
            .speedup_factor
            .is_nan());
        assert!(at("fused_gflops", json!(0.0)).is_ok(), "0: not measured");
        let e = at("input_shape", json!([1, 1e16])).unwrap_err();
        assert!(
            e.starts_with("fusion_profiles.X.input_shape[1]: 1e16"),
            "{e}"
        );
        let e = at("fused_memory_bytes", json!(1e19)).unwrap_err();
        assert!(
            e.starts_with("fusion_profiles.X.fused_memory_bytes: "),
            "{e}"
        );
        let e = at("extra_params", json!({"sweep_value": 1e-310})).unwrap_err();
        assert!(
            e.starts_with("fusion_profiles.X.extra_params.sweep_value: 1e-310 is out of range"),
            "{e}"
        );
        let e = at("extra_params", json!({"speedup_ci95": [1.0, 1e308]})).unwrap_err();
        assert!(
            e.starts_with("fusion_profiles.X.extra_params.speedup_ci95[1]: "),
            "{e}"
        );
        assert!(at(
            "extra_params",
            json!({"speedup_ci95": [null, null], "flops": "x"})
        )
        .is_ok());
        let mut m = json!({"hardware_name": "x", "calibration_date": "d",
                           "calibration_tool_version": "1", "cpu_model": "m", "cpu_count": 4,
                           "total_memory_gb": null, "python_version": "3"});
        let e = CalibrationMetadata::from_value(&m, "metadata").unwrap_err();
        assert!(
            e.starts_with("metadata.total_memory_gb: expected a number, found null"),
            "{e}"
        );
        m["total_memory_gb"] = json!(16.0);
        m["cpu_count"] = json!(1e18);
        assert!(CalibrationMetadata::from_value(&m, "metadata").is_err());
    }

    #[test]
    fn file_keys_in_error_paths_are_printable_and_short() {
        let mut bad = fusion_json();
        bad["speedup_factor"] = json!(1e308);
        let mut map = JsonMap::new();
        map.insert(format!("K\u{1b}[2J\u{7}{}", "k".repeat(500)), bad);
        let e = map_from_value(&Value::Object(map), "fusion_profiles", |v, p| {
            FusionCalibration::from_value(v, p)
        })
        .unwrap_err();
        assert!(!e.chars().any(char::is_control), "{e:?}");
        assert!(e.starts_with("fusion_profiles.K?[2J?kkk"), "{e}");
        assert!(e.len() < 400, "{e}");
    }

    #[test]
    fn metadata_defaults_match_python() {
        let v = json!({"hardware_name": "x", "calibration_date": "d",
                       "calibration_tool_version": "1", "cpu_model": "m", "cpu_count": 4,
                       "total_memory_gb": 8.0, "python_version": "3"});
        let m = CalibrationMetadata::from_value(&v, "metadata").unwrap();
        assert_eq!((m.num_warmup_runs, m.num_measurement_runs), (3, 10));
        assert_eq!(m.pytorch_version, None);
        let fresh = CalibrationMetadata::new("dev");
        assert_eq!(fresh.hardware_name, "dev");
        assert!(chrono::NaiveDateTime::parse_from_str(
            &fresh.calibration_date,
            "%Y-%m-%dT%H:%M:%S%.f"
        )
        .is_ok());
    }

    #[test]
    fn serde_glue_round_trips() {
        let f: FusionCalibration = serde_json::from_value(fusion_json()).unwrap();
        let v = serde_json::to_value(&f).unwrap();
        let g: FusionCalibration = serde_json::from_value(v).unwrap();
        assert_eq!(f.fused_memory_bytes, g.fused_memory_bytes);
        assert!(serde_json::from_value::<FusionCalibration>(json!({})).is_err());
    }
}
