//! Watching the machine during a run: a short canary kernel (a small verified matmul) is
//! re-timed before the first measurement and after every one. If the machine changes speed
//! mid-run (a noisy neighbour, a clock change, thermal throttling), the canary's readings move;
//! a reading that moved beyond the precision target (plus its own uncertainty) flags the run,
//! and the measurements next to it are named.
//!
//! Paired speedups cancel a drift that hits both variants alike; single-variant figures
//! (bandwidth, GFLOPS) do not, and the named points are the ones to re-measure.

use super::measure::MatmulInputs;
use super::sampling::{sample, SamplingPolicy};
use crate::backend::{Backend, Prepared, Variant};
use crate::pattern::Preset;
use crate::profile::run_info::{DriftReading, DriftRecord};
use crate::stats::median;
use crate::Result;
use std::time::Duration;

/// How far off the run's median a canary reading must be for the visit next to it to be
/// dropped and done again (the machine's 2× episodes on a shared VM, not its ±10% wander).
pub const DISTURBED: f64 = 0.25;

/// One reading of the canary.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The measurement it followed (`start` for the first).
    pub after: String,
    /// Median time per iteration, ms.
    pub ms: f64,
    /// Relative half-width of its 95% interval.
    pub half_width: f64,
}

/// The canary's matrix size: small enough to take milliseconds, big enough to use every core.
pub fn canary_size(preset: Preset) -> usize {
    match preset {
        Preset::Tiny => 32,
        _ => 256,
    }
}

/// How one canary reading is sampled: the run's floor, half the run's precision target, and a
/// short cap (it runs between every two measurements).
pub fn canary_policy(run: &SamplingPolicy, preset: Preset) -> SamplingPolicy {
    SamplingPolicy {
        warmup: 1,
        min_samples: 6,
        max_samples: 400,
        sample_floor: run.sample_floor,
        precision: run.precision / 2.0,
        visit: run.visit,
        min_visits: 1,
        time_cap: match preset {
            Preset::Tiny => Duration::from_millis(10),
            Preset::Quick => Duration::from_millis(30),
            Preset::Full => Duration::from_millis(60),
        },
    }
}

/// The canary of one run: its prepared, verified kernel and its readings so far.
pub struct Canary<'a> {
    prepared: Box<dyn Prepared + 'a>,
    policy: SamplingPolicy,
    label: String,
    readings: Vec<Reading>,
}

impl<'a> Canary<'a> {
    /// Prepares and verifies the canary matmul on `backend`.
    pub fn new(
        backend: &'a dyn Backend,
        inputs: &'a MatmulInputs,
        policy: SamplingPolicy,
        seed: u64,
    ) -> Result<Self> {
        let (prepared, _verified) = inputs.prepare_verified(backend, seed)?;
        Ok(Canary {
            prepared,
            policy,
            label: format!("matmul {0}×{0}", inputs.n),
            readings: Vec::new(),
        })
    }

    /// Times the canary once more, after measurement `after`.
    pub fn read(&mut self, after: &str) -> Result<()> {
        let s = sample(self.prepared.as_mut(), &[Variant::Single], &self.policy)?;
        self.readings.push(Reading {
            after: after.to_string(),
            ms: s.estimate.value,
            half_width: s.half_width(),
        });
        Ok(())
    }

    /// Whether the machine was disturbed around the last measurement visit (see
    /// [`disturbed`]).
    pub fn disturbed(&self, threshold: f64) -> bool {
        disturbed(&self.readings, threshold)
    }

    /// The analysis of the readings against `tolerance` (the run's precision target).
    pub fn report(&self, tolerance: f64) -> DriftReport {
        DriftReport::new(&self.label, &self.readings, tolerance)
    }
}

/// Whether the machine was disturbed around the last measurement visit: the reading just
/// before it or just after it (the last two) is at least `threshold` (relative) off the median
/// of all `readings` so far, or is not a number. Judged from the fourth reading on.
pub fn disturbed(readings: &[Reading], threshold: f64) -> bool {
    let n = readings.len();
    if n < 4 {
        return false;
    }
    let ms: Vec<f64> = readings.iter().map(|r| r.ms).collect();
    let reference = median(&ms);
    ms[n - 2..].iter().any(|m| {
        let off = (m / reference - 1.0).abs();
        off.is_nan() || off >= threshold
    })
}

/// What the canary's readings say about the run.
#[derive(Clone, Debug, PartialEq)]
pub struct DriftReport {
    /// The canary kernel.
    pub canary: String,
    /// The readings, in order.
    pub readings: Vec<Reading>,
    /// Relative move of a reading that counts, on top of its own half-width.
    pub tolerance: f64,
    /// Median of all readings, ms: the run's reference speed.
    pub reference_ms: f64,
    /// Per reading: `ms / reference - 1`.
    pub deviations: Vec<f64>,
    /// Per reading: whether it moved beyond `tolerance + half_width` (a non-finite reading
    /// counts as moved).
    pub moved: Vec<bool>,
    /// Readings that could not themselves be timed within `tolerance` (the machine was too
    /// unsteady to time even the canary precisely).
    pub unsteady: usize,
    /// Measurements next to a moved reading (the one before it or after it).
    pub affected: Vec<String>,
}

impl DriftReport {
    /// Judges `readings`: reading 0 precedes the first measurement, reading `i` follows
    /// measurement `i` (named by its `after`), so measurement `i` lies between readings `i - 1`
    /// and `i`.
    pub fn new(canary: &str, readings: &[Reading], tolerance: f64) -> DriftReport {
        let ms: Vec<f64> = readings.iter().map(|r| r.ms).collect();
        let reference_ms = median(&ms);
        let deviations: Vec<f64> = ms.iter().map(|m| m / reference_ms - 1.0).collect();
        let moved: Vec<bool> = readings
            .iter()
            .zip(&deviations)
            .map(|(r, d)| {
                let bound = tolerance + r.half_width;
                d.is_nan() || bound.is_nan() || d.abs() > bound
            })
            .collect();
        let unsteady = readings
            .iter()
            .filter(|r| r.half_width.is_nan() || r.half_width > tolerance)
            .count();
        let mut affected: Vec<String> = Vec::new();
        for i in (1..readings.len()).filter(|&i| moved[i - 1] || moved[i]) {
            // A point visited in turns follows several readings: name it once.
            if !affected.contains(&readings[i].after) {
                affected.push(readings[i].after.clone());
            }
        }
        DriftReport {
            canary: canary.to_string(),
            readings: readings.to_vec(),
            tolerance,
            reference_ms,
            deviations,
            moved,
            unsteady,
            affected,
        }
    }

    /// Whether any reading moved.
    pub fn drifted(&self) -> bool {
        self.moved.iter().any(|&m| m)
    }

    /// Largest `|deviation|`.
    pub fn max_deviation(&self) -> f64 {
        self.deviations.iter().fold(0.0, |a, d| a.max(d.abs()))
    }

    /// A line for the run's output.
    pub fn summary_line(&self) -> String {
        if self.drifted() {
            format!(
                "drift: the canary ({}) moved up to {:.1}% (tolerance ±{:.1}% plus its own interval; {} of {} readings moved, {} unsteady); {} measurement(s) next to a moved reading: {}",
                self.canary,
                self.max_deviation() * 100.0,
                self.tolerance * 100.0,
                self.moved.iter().filter(|&&m| m).count(),
                self.readings.len(),
                self.unsteady,
                self.affected.len(),
                self.affected.join(", ")
            )
        } else {
            format!(
                "drift: none; the canary ({}) stayed within ±{:.1}% over {} readings (largest move {:.1}%)",
                self.canary,
                self.tolerance * 100.0,
                self.readings.len(),
                self.max_deviation() * 100.0
            )
        }
    }

    /// As stored under `hwcal.drift` (non-finite numbers are written as `null`).
    pub fn to_record(&self) -> DriftRecord {
        let readings = self
            .readings
            .iter()
            .zip(self.deviations.iter().zip(&self.moved))
            .map(|(r, (&d, &m))| DriftReading {
                after: Some(r.after.clone()),
                ms: Some(r.ms),
                half_width: Some(r.half_width),
                deviation: Some(d),
                moved: Some(m),
                other: Default::default(),
            })
            .collect();
        DriftRecord {
            canary: Some(self.canary.clone()),
            tolerance: Some(self.tolerance),
            reference_ms: Some(self.reference_ms),
            drifted: Some(self.drifted()),
            readings_moved: Some(self.moved.iter().filter(|&&m| m).count() as u64),
            readings_unsteady: Some(self.unsteady as u64),
            max_deviation: Some(self.max_deviation()),
            affected: Some(self.affected.clone()),
            readings: Some(readings),
            other: Default::default(),
        }
    }

    /// [`Self::to_record`] as JSON (the tests read it).
    #[cfg(test)]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.to_record()).expect("a struct with string keys serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reading(after: &str, ms: f64) -> Reading {
        Reading {
            after: after.into(),
            ms,
            half_width: 0.005,
        }
    }

    #[test]
    fn a_steady_canary_flags_nothing() {
        let r: Vec<Reading> = ["start", "a", "b", "c"]
            .iter()
            .zip([1.0, 1.01, 0.995, 1.005])
            .map(|(n, ms)| reading(n, ms))
            .collect();
        let d = DriftReport::new("matmul 256×256", &r, 0.02);
        assert!(!d.drifted());
        assert!(d.affected.is_empty());
        assert!(d.summary_line().starts_with("drift: none"));
        assert_eq!(d.to_json()["readings"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn a_slowdown_names_the_measurements_around_it() {
        // The machine halves its speed while `b` runs, and recovers during `c`.
        let r: Vec<Reading> = ["start", "a", "b", "c", "d"]
            .iter()
            .zip([1.0, 1.0, 2.0, 1.0, 1.0])
            .map(|(n, ms)| reading(n, ms))
            .collect();
        let d = DriftReport::new("canary", &r, 0.02);
        assert!(d.drifted());
        assert_eq!(d.moved, [false, false, true, false, false]);
        assert_eq!(d.affected, ["b", "c"]);
        assert!((d.max_deviation() - 1.0).abs() < 1e-12);
        let j = d.to_json();
        assert_eq!(j["drifted"], true);
        assert_eq!(j["affected"], json!(["b", "c"]));
        assert!(d.summary_line().contains("b, c"));
    }

    #[test]
    fn a_slow_episode_marks_the_visits_next_to_it_disturbed() {
        let series = |ms: &[f64]| -> Vec<Reading> { ms.iter().map(|&m| reading("p", m)).collect() };
        // Too few readings to judge; then steady; then the machine at half speed (the last
        // reading), and right after it (the one before last).
        assert!(!disturbed(&series(&[1.0, 2.0, 2.0]), DISTURBED));
        assert!(!disturbed(
            &series(&[1.0, 1.1, 0.95, 1.05, 0.92]),
            DISTURBED
        ));
        assert!(disturbed(&series(&[1.0, 1.0, 1.0, 1.0, 1.9]), DISTURBED));
        assert!(disturbed(&series(&[1.0, 1.0, 1.0, 1.9, 1.0]), DISTURBED));
        assert!(!disturbed(&series(&[1.0, 1.0, 1.9, 1.0, 1.0]), DISTURBED));
        assert!(disturbed(
            &series(&[1.0, 1.0, 1.0, 1.0, f64::NAN]),
            DISTURBED
        ));
    }

    #[test]
    fn an_imprecise_reading_needs_a_bigger_move() {
        let mut r = vec![
            reading("start", 1.0),
            reading("a", 1.0),
            reading("b", 1.025),
        ];
        r[2].half_width = 0.01;
        assert!(!DriftReport::new("c", &r, 0.02).drifted());
        r[2].ms = 1.035;
        assert!(DriftReport::new("c", &r, 0.02).drifted());
        // A reading too imprecise to tell is counted as unsteady, and flags only if its median
        // moved beyond its own interval too.
        r[2].ms = 1.04;
        r[2].half_width = 0.05;
        let d = DriftReport::new("c", &r, 0.02);
        assert!(!d.drifted());
        assert_eq!(d.unsteady, 1);
        // A non-finite reading counts as moved, never as steady, and is stored as null.
        r[2].ms = f64::NAN;
        let d = DriftReport::new("c", &r, 0.02);
        assert!(d.drifted());
        assert!(d.to_json()["readings"][2]["ms"].is_null());
        assert!(DriftReport::new("c", &[], 0.02).affected.is_empty());
    }
}
