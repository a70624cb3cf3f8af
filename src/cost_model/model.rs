//! [`CostModel`]: a profile turned into fusion decisions.

use super::names::{pattern_of_chain, resolve_pattern};
use super::predict::{self, collect_points, Point, Prediction};
use super::threshold::{self, ThresholdAdvice, DEFAULT_THRESHOLD};
use crate::pattern::{Pattern, Shape};
use crate::profile::HardwareCalibration;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Fusion decisions from one device's profile: the seed's `CalibrationBasedCostModel`, with
/// name normalization, shape-aware prediction and a noise-derived threshold.
///
/// ```no_run
/// use hwcal::cost_model::CostModel;
/// use hwcal::pattern::{Pattern, Shape};
///
/// let model = CostModel::from_path("profiles/amd_epyc.json")?.with_threshold(1.05)?;
/// if model.should_fuse_chain(&["conv2d", "batchnorm2d", "relu"]) {
///     // fuse
/// }
/// let p = model.predict(Pattern::Conv2dBnRelu, &Shape::conv3x3(8, 64, 64, 56));
/// println!("{:.2}× ({})", p.speedup, p.source.describe());
/// # Ok::<(), hwcal::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CostModel {
    hardware: String,
    backend: Option<String>,
    points: BTreeMap<Pattern, Vec<Point>>,
    benefits: BTreeMap<Pattern, f64>,
    unrecognized: Vec<String>,
    gflops: f64,
    bandwidth_gbps: f64,
    threshold: f64,
}

/// A fusion decision with the prediction behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// Whether to fuse: the predicted speedup is at least the threshold.
    pub fuse: bool,
    /// The prediction.
    pub prediction: Prediction,
    /// Why, e.g. `predicted 1.34× (interpolated from 3 points) ≥ threshold 1.10`.
    pub reason: String,
}

impl CostModel {
    /// A model of `profile` with the seed's threshold, 1.1.
    pub fn new(profile: &HardwareCalibration) -> Self {
        let (points, unrecognized) = collect_points(profile);
        let mut benefits = BTreeMap::new();
        // The seed's benefit: the representative entry in `fusion_profiles`.
        for (key, f) in &profile.fusion_profiles {
            if let Some(p) = resolve_pattern(key) {
                if f.speedup_factor.is_finite() && f.speedup_factor > 0.0 {
                    benefits.entry(p).or_insert(f.speedup_factor);
                }
            }
        }
        // Patterns measured without a representative entry: the largest measured shape.
        for (pattern, list) in &points {
            if let Some(largest) = list.iter().max_by_key(|p| pattern.flops(&p.shape)) {
                benefits.entry(*pattern).or_insert(largest.speedup());
            }
        }
        let backend = profile
            .hwcal
            .as_ref()
            .and_then(|h| h.get("backend"))
            .and_then(|b| b.as_str())
            .map(str::to_string);
        CostModel {
            hardware: profile.metadata.hardware_name.clone(),
            backend,
            points,
            benefits,
            unrecognized,
            gflops: profile.best_measured_gflops,
            bandwidth_gbps: profile.measured_bandwidth_gbps,
            threshold: DEFAULT_THRESHOLD,
        }
    }

    /// Loads the profile at `path` (hwcal's or the Python calibrator's) and models it.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(&HardwareCalibration::load(path.as_ref())?))
    }

    /// The same model fusing at a predicted speedup of at least `threshold` (finite, > 0).
    pub fn with_threshold(mut self, threshold: f64) -> Result<Self> {
        if !(threshold.is_finite() && threshold > 0.0) {
            return Err(Error::usage(format!(
                "fusion threshold {threshold}: must be a positive number (e.g. 1.1 to fuse at 10% speedup)"
            )));
        }
        self.threshold = threshold;
        Ok(self)
    }

    /// The same model with [`Self::recommended_threshold`].
    pub fn with_recommended_threshold(mut self) -> Self {
        self.threshold = self.recommended_threshold();
        self
    }

    /// The threshold in use.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The threshold the profile's measurement noise supports (see [`super::threshold`]): 1 +
    /// the median relative 95% half-width of its measured speedups, at least 1.02; 1.1 when
    /// the profile records no noise (the Python calibrator's).
    pub fn recommended_threshold(&self) -> f64 {
        self.threshold_advice().value
    }

    /// [`Self::recommended_threshold`] with how it was derived.
    pub fn threshold_advice(&self) -> ThresholdAdvice {
        threshold::recommend(self.points.values().flatten())
    }

    /// `metadata.hardware_name` of the profile.
    pub fn hardware_name(&self) -> &str {
        &self.hardware
    }

    /// `hwcal.backend` of the profile (`cpu`, `gpu`); `None` for other tools' profiles.
    pub fn backend(&self) -> Option<&str> {
        self.backend.as_deref()
    }

    /// Patterns the profile has measurements of.
    pub fn patterns(&self) -> impl Iterator<Item = Pattern> + '_ {
        self.points.keys().copied()
    }

    /// The measured points of `pattern` (empty without data).
    pub fn points(&self, pattern: Pattern) -> &[Point] {
        self.points.get(&pattern).map_or(&[], Vec::as_slice)
    }

    /// Fusion entries of the profile whose names resolve to no pattern.
    pub fn unrecognized_patterns(&self) -> &[String] {
        &self.unrecognized
    }

    /// The profile's best measured GFLOPS and bandwidth (GB/s); 0.0 when unknown.
    pub fn roofline_figures(&self) -> (f64, f64) {
        (self.gflops, self.bandwidth_gbps)
    }

    /// The measured speedup of a pattern, the seed's `fusion_benefit`: the profile's
    /// representative entry (the largest shape measured). `pattern` is any spelling
    /// [`super::resolve_pattern`] accepts. `None` — no data — for an unknown name or a
    /// pattern the profile did not measure; never a default.
    pub fn fusion_benefit(&self, pattern: &str) -> Option<f64> {
        self.benefits.get(&resolve_pattern(pattern)?).copied()
    }

    /// The seed's `should_fuse(op1, op2)`: whether the two operators form a pattern whose
    /// measured benefit reaches the threshold. False without data.
    pub fn should_fuse(&self, op1: &str, op2: &str) -> bool {
        self.should_fuse_chain(&[op1, op2])
    }

    /// [`Self::should_fuse`] over a chain of operators, e.g.
    /// `["conv2d", "batchnorm2d", "relu"]` or `["aten::addmm", "aten::relu"]`.
    pub fn should_fuse_chain<S: AsRef<str>>(&self, ops: &[S]) -> bool {
        pattern_of_chain(ops)
            .and_then(|p| self.benefits.get(&p))
            .is_some_and(|&s| s >= self.threshold)
    }

    /// Predicted unfused and fused latency of `pattern` at `shape` (see [`super::predict`]).
    pub fn predict(&self, pattern: Pattern, shape: &Shape) -> Prediction {
        predict::predict(
            pattern,
            shape,
            self.points(pattern),
            self.gflops,
            self.bandwidth_gbps,
        )
    }

    /// [`Self::predict`] for a pattern given by name; no data for an unknown name.
    pub fn predict_named(&self, pattern: &str, shape: &Shape) -> Prediction {
        match resolve_pattern(pattern) {
            Some(p) => self.predict(p, shape),
            None => Prediction::no_data(format!(
                "`{}` is no calibrated pattern",
                crate::text::truncated(pattern)
            )),
        }
    }

    /// Whether to fuse `pattern` at `shape`, and why.
    pub fn decide(&self, pattern: Pattern, shape: &Shape) -> Decision {
        self.decision_for(self.predict(pattern, shape))
    }

    /// The decision a prediction leads to under this model's threshold.
    pub fn decision_for(&self, prediction: Prediction) -> Decision {
        let (fuse, reason) = match prediction.known_speedup() {
            None => (
                false,
                format!(
                    "no data: {}",
                    prediction
                        .note
                        .as_deref()
                        .unwrap_or("nothing to predict from")
                ),
            ),
            Some(s) => {
                let fuse = s >= self.threshold;
                let (s_text, t_text) = distinct_decimals(s, self.threshold);
                (
                    fuse,
                    format!(
                        "predicted {s_text}× ({}) {} threshold {t_text}",
                        prediction.source.describe(),
                        if fuse { "≥" } else { "<" },
                    ),
                )
            }
        };
        Decision {
            fuse,
            prediction,
            reason,
        }
    }
}

/// `a` and `b` with two decimals, or up to four when two would print unequal numbers alike
/// (`1.029` vs `1.032`, not `1.03 < 1.03`).
pub(super) fn distinct_decimals(a: f64, b: f64) -> (String, String) {
    let mut d = 2;
    while d < 4 && a != b && format!("{a:.d$}") == format!("{b:.d$}") {
        d += 1;
    }
    (format!("{a:.d$}"), format!("{b:.d$}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost_model::predict::Source;
    use crate::cost_model::testutil::entry;
    use crate::profile::CalibrationMetadata;

    fn profile() -> HardwareCalibration {
        let mut p = HardwareCalibration::new(CalibrationMetadata::new("test"), 0.0, 0.0);
        let a = Shape::conv3x3(1, 64, 64, 56);
        let b = Shape::conv3x3(4, 128, 128, 28);
        p.add_fusion_measurement(entry("Conv2d_BN_ReLU", &a, 3.0, 2.0, (1.45, 1.55)));
        p.add_fusion_measurement(entry("Conv2d_BN_ReLU", &b, 6.66, 6.0, (1.06, 1.16)));
        p.add_fusion_measurement(entry(
            "Linear_Bias",
            &Shape::Linear {
                m: 128,
                k: 512,
                n: 512,
            },
            1.0,
            1.0,
            (0.98, 1.02),
        ));
        p
    }

    #[test]
    fn benefits_and_seed_style_decisions() {
        let m = CostModel::new(&profile());
        assert_eq!(m.threshold(), 1.1);
        // The representative entry is the largest shape: 1.11×.
        let b = m.fusion_benefit("Conv2d_BatchNorm2d_ReLU").unwrap();
        assert!((b - 1.11).abs() < 1e-12);
        assert!(m.should_fuse_chain(&["conv2d", "batchnorm2d", "relu"]));
        assert!(!m.should_fuse("linear", "bias"));
        // Unknown or unmeasured: no data, never a default.
        assert_eq!(m.fusion_benefit("Conv_BN_Sigmoid"), None);
        assert_eq!(m.fusion_benefit("FullAttention"), None);
        assert!(!m.should_fuse("conv2d", "relu"));
        let strict = m.clone().with_threshold(1.2).unwrap();
        assert!(!strict.should_fuse_chain(&["Conv", "BatchNormalization", "Relu"]));
        assert!(m.clone().with_threshold(f64::NAN).is_err());
        assert!(m.clone().with_threshold(0.0).is_err());
    }

    #[test]
    fn decisions_carry_their_reason() {
        let m = CostModel::new(&profile());
        let d = m.decide(Pattern::Conv2dBnRelu, &Shape::conv3x3(1, 64, 64, 56));
        assert!(d.fuse);
        assert_eq!(
            d.reason,
            "predicted 1.50× (measured at this shape) ≥ threshold 1.10"
        );
        let d = m.decide(
            Pattern::QkSoftmax,
            &Shape::Attention {
                batch: 1,
                seq: 8,
                dim: 8,
            },
        );
        assert!(!d.fuse);
        assert!(d.reason.starts_with("no data: "), "{}", d.reason);
        assert_eq!(
            m.predict_named("Conv_BN_Sigmoid", &Shape::conv3x3(1, 1, 1, 1))
                .source,
            Source::NoData
        );
    }

    #[test]
    fn reasons_never_print_unequal_numbers_alike() {
        assert_eq!(distinct_decimals(1.34, 1.1), ("1.34".into(), "1.10".into()));
        assert_eq!(
            distinct_decimals(1.029, 1.032),
            ("1.029".into(), "1.032".into())
        );
        assert_eq!(distinct_decimals(1.1, 1.1), ("1.10".into(), "1.10".into()));
    }

    #[test]
    fn recommended_threshold_from_the_intervals() {
        let m = CostModel::new(&profile());
        // Relative half-widths 0.05/1.5, 0.05/1.1, 0.02/1.0: median 0.0333 → 1.033.
        let t = m.recommended_threshold();
        assert!((t - (1.0 + 0.05 / 1.5)).abs() < 1e-9, "{t}");
        assert_eq!(m.with_recommended_threshold().threshold(), t);
    }
}
