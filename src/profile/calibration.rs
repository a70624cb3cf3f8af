//! [`HardwareCalibration`]: a whole profile, its bookkeeping (keys, aggregates) and merging.

use super::key::operation_key;
use super::ordered::OrderedMap;
use super::schema::{
    float_value, kind_of, map_from_value, CalibrationMetadata, Fields, FusionCalibration, JsonMap,
    OperationCalibration,
};
use serde_json::Value;

/// A complete calibration profile of one device: the Python calibrator's
/// `HardwareCalibration` plus hwcal's own top-level keys.
///
/// Written keys, in order: `metadata`, `theoretical_peak_gflops`, `theoretical_bandwidth_gbps`,
/// `best_measured_gflops`, `avg_measured_gflops`, `worst_measured_gflops`,
/// `measured_bandwidth_gbps`, `bandwidth_efficiency`, `best_efficiency`, `avg_efficiency`,
/// `worst_efficiency`, `operation_profiles`, `fusion_profiles` (see
/// [`Self::write_empty_fusion_profiles`]), the unknown top-level keys of [`Self::extra`] in their
/// order, then `fusion_measurements` and `fusion_sweeps` (when non-empty) and `hwcal` (when
/// set). The Python loader
/// ignores unknown top-level keys, so files with hwcal's keys still load there.
#[derive(Debug, Clone, PartialEq)]
pub struct HardwareCalibration {
    /// Information about the run.
    pub metadata: CalibrationMetadata,
    /// Datasheet peak GFLOPS; 0.0 means unknown.
    pub theoretical_peak_gflops: f64,
    /// Datasheet memory bandwidth in GB/s; 0.0 means unknown.
    pub theoretical_bandwidth_gbps: f64,
    /// Best GFLOPS over the compute operations (see [`Self::recompute_aggregates`]).
    pub best_measured_gflops: f64,
    /// Mean GFLOPS over the compute operations.
    pub avg_measured_gflops: f64,
    /// Worst GFLOPS over the compute operations.
    pub worst_measured_gflops: f64,
    /// Best achieved bandwidth over the memory operations, GB/s.
    pub measured_bandwidth_gbps: f64,
    /// `measured_bandwidth_gbps / theoretical_bandwidth_gbps` (0.0 when unknown).
    pub bandwidth_efficiency: f64,
    /// Best efficiency over the compute operations.
    pub best_efficiency: f64,
    /// Mean efficiency over the compute operations.
    pub avg_efficiency: f64,
    /// Worst efficiency over the compute operations.
    pub worst_efficiency: f64,
    /// Operation profiles by key (see [`super::operation_key`]), in file order.
    pub operation_profiles: OrderedMap<OperationCalibration>,
    /// The representative measurement of each fusion pattern, by pattern name, in file order.
    pub fusion_profiles: OrderedMap<FusionCalibration>,
    /// Whether to write `"fusion_profiles": {}` when [`Self::fusion_profiles`] is empty. True
    /// for new profiles (the Python writer always writes the key); on load, true exactly when
    /// the file had the key, so load -> save of a profile from before fusion existed adds
    /// nothing. A non-empty `fusion_profiles` is always written.
    pub write_empty_fusion_profiles: bool,
    /// hwcal's key `fusion_measurements`: every shape measured for each pattern, in measurement
    /// order; `fusion_profiles[pattern]` holds the largest. Not written when empty.
    pub fusion_measurements: OrderedMap<Vec<FusionCalibration>>,
    /// hwcal's key `fusion_sweeps`: the points of `hwcal calibrate --sweep` per pattern, each in
    /// the original's fusion-profile format, its `extra_params.sweep_axis` naming the size that
    /// varied (`M`, `KN`, `HW`, `C`, `S`).
    pub fusion_sweeps: OrderedMap<Vec<FusionCalibration>>,
    /// hwcal's key `hwcal`: run information (backend, device, threads, versions, timing method,
    /// notes on the peak estimates), kept as the file holds it; read it through
    /// [`Self::run_info`] ([`super::RunInfo`]). Not written when `None`.
    pub hwcal: Option<Value>,
    /// Unknown top-level keys (e.g. `precision_matrix` from newer Python versions), kept and
    /// written back in order.
    pub extra: JsonMap,
}

/// Whether an operation counts as a compute operation for the GFLOPS aggregates: it did FLOPs
/// and is not memory bound. (Python only asks for FLOPs; the extra condition keeps a STREAM
/// triad's 2 FLOPs per element out of the GFLOPS figures. Both rules agree on every profile
/// Python wrote, whose memory operations are copies.)
///
/// Matmuls in other precisions than fp32 are left out too: the GFLOPS aggregates and their
/// efficiencies are fp32's (as `theoretical_peak_gflops` is); the other precisions are in the
/// `precision_matrix`.
fn is_compute(op: &OperationCalibration) -> bool {
    op.measured_gflops > 0.0
        && !op.memory_bound
        && super::precisions::precision_of(op).is_none_or(|p| p == "fp32")
}

/// Whether an operation counts as a memory operation for the bandwidth: it is memory bound.
/// (Python also asks for zero FLOPs, which would leave STREAM scale/add/triad out.)
fn is_memory(op: &OperationCalibration) -> bool {
    op.memory_bound
}

/// Whether a theoretical value is known: 0.0 (or anything not positive, NaN included) means
/// unknown.
pub(super) fn is_known(theoretical: f64) -> bool {
    theoretical > 0.0
}

/// Element count of a shape, for ranking fusion measurements by size.
fn elements(shape: &[usize]) -> u128 {
    shape
        .iter()
        .fold(1u128, |acc, &d| acc.saturating_mul(d as u128))
}

/// The representative of a pattern's measurements: the one with the most input elements (the
/// later one on a tie).
pub(super) fn largest(list: &[FusionCalibration]) -> Option<&FusionCalibration> {
    list.iter().rev().max_by_key(|m| elements(&m.input_shape))
}

impl HardwareCalibration {
    /// An empty profile: the given theoretical values, every aggregate 0.0, no operations, no
    /// fusion profiles (written as `{}`, as Python does), no hwcal keys.
    pub fn new(
        metadata: CalibrationMetadata,
        theoretical_peak_gflops: f64,
        theoretical_bandwidth_gbps: f64,
    ) -> Self {
        Self {
            metadata,
            theoretical_peak_gflops,
            theoretical_bandwidth_gbps,
            best_measured_gflops: 0.0,
            avg_measured_gflops: 0.0,
            worst_measured_gflops: 0.0,
            measured_bandwidth_gbps: 0.0,
            bandwidth_efficiency: 0.0,
            best_efficiency: 0.0,
            avg_efficiency: 0.0,
            worst_efficiency: 0.0,
            operation_profiles: OrderedMap::new(),
            fusion_profiles: OrderedMap::new(),
            write_empty_fusion_profiles: true,
            fusion_measurements: OrderedMap::new(),
            fusion_sweeps: OrderedMap::new(),
            hwcal: None,
            extra: JsonMap::new(),
        }
    }

    /// Files `op` under its key ([`super::operation_key`]), replacing an entry with the same
    /// key in place, and recomputes the aggregates (Python's `add_operation` does the same).
    /// Returns the key.
    pub fn add_operation(&mut self, op: OperationCalibration) -> String {
        let key = operation_key(&op);
        self.operation_profiles.insert(key.clone(), op);
        self.recompute_aggregates();
        key
    }

    /// Sets `fusion_profiles[f.fusion_pattern] = f` (replacing in place).
    pub fn add_fusion_pattern(&mut self, f: FusionCalibration) {
        self.fusion_profiles.insert(f.fusion_pattern.clone(), f);
    }

    /// Records one measured shape of a pattern: appends `f` to
    /// `fusion_measurements[pattern]` (replacing an earlier measurement of the same
    /// `input_shape`) and sets `fusion_profiles[pattern]` to the measurement of that pattern
    /// with the most input elements (the later one on a tie).
    pub fn add_fusion_measurement(&mut self, f: FusionCalibration) {
        let list = self
            .fusion_measurements
            .get_or_insert_with(&f.fusion_pattern, Vec::new);
        match list.iter_mut().find(|m| m.input_shape == f.input_shape) {
            Some(slot) => *slot = f.clone(),
            None => list.push(f.clone()),
        }
        if let Some(largest) = largest(list).cloned() {
            self.add_fusion_pattern(largest);
        }
    }

    /// The fusion profile of `pattern`.
    pub fn get_fusion_pattern(&self, pattern: &str) -> Option<&FusionCalibration> {
        self.fusion_profiles.get(pattern)
    }

    /// The measured speedup of `pattern`, or `default` when it was not measured.
    pub fn get_fusion_speedup(&self, pattern: &str, default: f64) -> f64 {
        self.get_fusion_pattern(pattern)
            .map_or(default, |f| f.speedup_factor)
    }

    /// Recomputes the aggregate fields from `operation_profiles`, as the Python calibrator
    /// derives them (the values in its profiles are reproduced bit for bit):
    /// - compute operations are those with `measured_gflops > 0` that are not memory bound;
    ///   best/avg/worst measured GFLOPS are their max/mean/min GFLOPS and best/avg/worst
    ///   efficiency the max/mean/min of their `efficiency` (all 0.0 when there is none; the
    ///   mean of efficiencies, not mean GFLOPS over peak, as in Python). When
    ///   `theoretical_peak_gflops` is not positive (unknown) the three efficiencies are 0.0.
    /// - memory operations are the memory-bound ones (STREAM copy, scale, add, triad);
    ///   `measured_bandwidth_gbps` is their best `achieved_bandwidth_gbps` and
    ///   `bandwidth_efficiency` that over `theoretical_bandwidth_gbps` (0.0 when the latter is
    ///   unknown). With no memory operation both are left as they are.
    ///
    /// With no operation profile at all nothing changes (as in Python).
    pub fn recompute_aggregates(&mut self) {
        if self.operation_profiles.is_empty() {
            return;
        }
        let compute: Vec<&OperationCalibration> = self
            .operation_profiles
            .values()
            .filter(|op| is_compute(op))
            .collect();
        let (best, avg, worst, best_eff, avg_eff, worst_eff) = if compute.is_empty() {
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        } else {
            let n = compute.len() as f64;
            let gflops = compute.iter().map(|op| op.measured_gflops);
            let effs = compute.iter().map(|op| op.efficiency);
            (
                gflops.clone().fold(f64::NEG_INFINITY, f64::max),
                gflops.clone().sum::<f64>() / n,
                gflops.fold(f64::INFINITY, f64::min),
                effs.clone().fold(f64::NEG_INFINITY, f64::max),
                effs.clone().sum::<f64>() / n,
                effs.fold(f64::INFINITY, f64::min),
            )
        };
        self.best_measured_gflops = best;
        self.avg_measured_gflops = avg;
        self.worst_measured_gflops = worst;
        let peak_known = is_known(self.theoretical_peak_gflops);
        self.best_efficiency = if peak_known { best_eff } else { 0.0 };
        self.avg_efficiency = if peak_known { avg_eff } else { 0.0 };
        self.worst_efficiency = if peak_known { worst_eff } else { 0.0 };

        let bandwidth = self
            .operation_profiles
            .values()
            .filter(|op| is_memory(op))
            .map(|op| op.achieved_bandwidth_gbps)
            .fold(None, |acc: Option<f64>, b| {
                Some(acc.map_or(b, |a| a.max(b)))
            });
        if let Some(bw) = bandwidth {
            self.measured_bandwidth_gbps = bw;
            self.bandwidth_efficiency = if is_known(self.theoretical_bandwidth_gbps) {
                bw / self.theoretical_bandwidth_gbps
            } else {
                0.0
            };
        }
    }

    /// The whole profile as a JSON object, in the key order described on the type.
    pub fn to_value(&self) -> Value {
        let mut m = JsonMap::new();
        m.insert("metadata".into(), self.metadata.to_value());
        for (key, x) in [
            ("theoretical_peak_gflops", self.theoretical_peak_gflops),
            (
                "theoretical_bandwidth_gbps",
                self.theoretical_bandwidth_gbps,
            ),
            ("best_measured_gflops", self.best_measured_gflops),
            ("avg_measured_gflops", self.avg_measured_gflops),
            ("worst_measured_gflops", self.worst_measured_gflops),
            ("measured_bandwidth_gbps", self.measured_bandwidth_gbps),
            ("bandwidth_efficiency", self.bandwidth_efficiency),
            ("best_efficiency", self.best_efficiency),
            ("avg_efficiency", self.avg_efficiency),
            ("worst_efficiency", self.worst_efficiency),
        ] {
            m.insert(key.into(), float_value(x));
        }
        m.insert(
            "operation_profiles".into(),
            Value::Object(
                self.operation_profiles
                    .iter()
                    .map(|(k, op)| (k.clone(), op.to_value()))
                    .collect(),
            ),
        );
        if self.write_empty_fusion_profiles || !self.fusion_profiles.is_empty() {
            m.insert(
                "fusion_profiles".into(),
                Value::Object(
                    self.fusion_profiles
                        .iter()
                        .map(|(k, f)| (k.clone(), f.to_value()))
                        .collect(),
                ),
            );
        }
        for (k, v) in &self.extra {
            if !m.contains_key(k)
                && k != "fusion_measurements"
                && k != "fusion_sweeps"
                && k != "hwcal"
            {
                m.insert(k.clone(), v.clone());
            }
        }
        for (key, lists) in [
            ("fusion_measurements", &self.fusion_measurements),
            ("fusion_sweeps", &self.fusion_sweeps),
        ] {
            if !lists.is_empty() {
                m.insert(
                    key.into(),
                    Value::Object(
                        lists
                            .iter()
                            .map(|(k, list)| {
                                (
                                    k.clone(),
                                    Value::Array(list.iter().map(|f| f.to_value()).collect()),
                                )
                            })
                            .collect(),
                    ),
                );
            }
        }
        if let Some(h) = &self.hwcal {
            m.insert("hwcal".into(), h.clone());
        }
        Value::Object(m)
    }

    /// Reads a profile from a parsed JSON document. The error names the key at fault, e.g.
    /// ``not a hwcal/graphs profile: missing key `metadata` `` or
    /// `operation_profiles.<key>.measured_gflops: expected a number, found a string`. Every
    /// number is checked against its range in [`super::limits::FIELDS`]: an absurd one
    /// (`fusion_profiles.X.speedup_factor: 1e308 is out of range for a speedup factor: …`) is
    /// refused; file keys in the path are made printable.
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let Value::Object(top) = v else {
            return Err(format!(
                "not a hwcal/graphs profile: expected a JSON object at the top level, found {}",
                kind_of(v)
            ));
        };
        for key in [
            "metadata",
            "theoretical_peak_gflops",
            "theoretical_bandwidth_gbps",
        ] {
            if !top.contains_key(key) {
                return Err(format!("not a hwcal/graphs profile: missing key `{key}`"));
            }
        }
        let mut f = Fields::of(v, "")?;
        let metadata =
            CalibrationMetadata::from_value(f.get("metadata").expect("checked above"), "metadata")?;
        let theoretical_peak_gflops = f.number("theoretical_peak_gflops")?;
        let theoretical_bandwidth_gbps = f.number("theoretical_bandwidth_gbps")?;
        let best_measured_gflops = f.number_or("best_measured_gflops", 0.0)?;
        let avg_measured_gflops = f.number_or("avg_measured_gflops", 0.0)?;
        let worst_measured_gflops = f.number_or("worst_measured_gflops", 0.0)?;
        let measured_bandwidth_gbps = f.number_or("measured_bandwidth_gbps", 0.0)?;
        let bandwidth_efficiency = f.number_or("bandwidth_efficiency", 0.0)?;
        let best_efficiency = f.number_or("best_efficiency", 0.0)?;
        let avg_efficiency = f.number_or("avg_efficiency", 0.0)?;
        let worst_efficiency = f.number_or("worst_efficiency", 0.0)?;
        let operation_profiles = match f.get("operation_profiles") {
            None => OrderedMap::new(),
            Some(ops) => map_from_value(ops, "operation_profiles", |v, p| {
                OperationCalibration::from_value(v, p)
            })?,
        };
        let fusion = f.get("fusion_profiles");
        let write_empty_fusion_profiles = fusion.is_some();
        let fusion_profiles = match fusion {
            None => OrderedMap::new(),
            Some(fp) => map_from_value(fp, "fusion_profiles", |v, p| {
                FusionCalibration::from_value(v, p)
            })?,
        };
        let mut pattern_lists = |key: &'static str| match f.get(key) {
            None => Ok(OrderedMap::new()),
            Some(fm) => map_from_value(fm, key, |v, p| match v {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| FusionCalibration::from_value(item, &format!("{p}[{i}]")))
                    .collect(),
                other => Err(format!("{p}: expected an array, found {}", kind_of(other))),
            }),
        };
        let fusion_measurements = pattern_lists("fusion_measurements")?;
        let fusion_sweeps = pattern_lists("fusion_sweeps")?;
        let hwcal = f.get("hwcal").cloned();
        Ok(Self {
            metadata,
            theoretical_peak_gflops,
            theoretical_bandwidth_gbps,
            best_measured_gflops,
            avg_measured_gflops,
            worst_measured_gflops,
            measured_bandwidth_gbps,
            bandwidth_efficiency,
            best_efficiency,
            avg_efficiency,
            worst_efficiency,
            operation_profiles,
            fusion_profiles,
            write_empty_fusion_profiles,
            fusion_measurements,
            fusion_sweeps,
            hwcal,
            extra: f.rest(),
        })
    }
}
