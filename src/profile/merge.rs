//! Merging a new run into the profile a file already holds: what the run measured replaces the
//! same entries, everything else is kept (see [`HardwareCalibration::merge_older`]).

use super::calibration::{is_known, largest, HardwareCalibration};
use super::ordered::OrderedMap;
use super::schema::{FusionCalibration, JsonMap};
use serde_json::Value;

/// `hwcal` keys that describe one run only. A newer run's value replaces the older one; when
/// the newer run has none, the older one is dropped rather than kept, because it would describe
/// measurements that may since have been replaced (e.g. an interruption's list of what was not
/// measured).
const PER_RUN_KEYS: &[&str] = &["interrupted"];

/// The value of `hwcal.preset` when the entries of a file come from runs of different presets;
/// each measurement then says its own in `extra_params.preset` (fusion) or
/// `hwcal.operation_statistics[key].preset` (operations).
pub const MIXED_PRESETS: &str = "mixed";

/// Adds to `newer` the keys of `older` that it lacks (user keys inside an entry survive a
/// re-measurement of that entry).
fn keep_missing(newer: &mut JsonMap, older: &JsonMap) {
    for (k, v) in older {
        if !newer.contains_key(k) {
            newer.insert(k.clone(), v.clone());
        }
    }
}

/// `f` with the keys of `older` that it lacks, in `extra_params` and at its top level.
fn keeping_keys_of(
    mut f: FusionCalibration,
    older: Option<&FusionCalibration>,
) -> FusionCalibration {
    if let Some(o) = older {
        keep_missing(&mut f.extra_params, &o.extra_params);
        keep_missing(&mut f.extra, &o.extra);
    }
    f
}

/// Where a sweep point sits: its axis and shape (the same shape can be a point of two axes).
fn sweep_slot(f: &FusionCalibration) -> (Option<&Value>, &[usize]) {
    (f.extra_params.get("sweep_axis"), &f.input_shape)
}

/// `older`'s list with `newer`'s entries merged in: an entry with the same slot replaces the
/// old one in place (keeping the old one's keys the new one lacks), others are appended.
fn merge_list<S: PartialEq>(
    older: &[FusionCalibration],
    newer: &[FusionCalibration],
    slot: impl Fn(&FusionCalibration) -> S,
) -> Vec<FusionCalibration> {
    let mut out = older.to_vec();
    for f in newer {
        match out.iter().position(|o| slot(o) == slot(f)) {
            Some(i) => out[i] = keeping_keys_of(f.clone(), Some(&out[i])),
            None => out.push(f.clone()),
        }
    }
    out
}

impl HardwareCalibration {
    /// Adds to `self` whatever `older` has that `self` did not re-measure, so re-calibrating a
    /// subset never loses what a profile file had:
    /// - operation profiles: `self`'s entries win (keeping the older entry's unknown keys); the
    ///   result keeps `older`'s order with re-measured entries replaced in place and new ones
    ///   appended;
    /// - `fusion_measurements`: per pattern and shape: a shape `self` measured replaces the
    ///   older measurement of that shape, other shapes of the pattern are kept (a tiny run into a
    ///   quick profile adds its tiny shapes beside the quick ones); `fusion_profiles[pattern]`
    ///   is then the largest shape of the merged list, as [`Self::add_fusion_measurement`]
    ///   keeps it. `fusion_sweeps` likewise per pattern, axis and shape;
    /// - keys inside a re-measured entry that `self`'s entry lacks (a user's note in
    ///   `extra_params`) are kept;
    /// - unknown keys (top level and inside `metadata`) that `self` lacks are kept;
    /// - `hwcal` run info: `self`'s values win; when both are objects, `older`'s keys that
    ///   `self` lacks are kept, and so are the entries `self` lacks inside a key whose value is
    ///   an object on both sides (e.g. per-operation statistics of operations not re-measured);
    ///   `older`'s when `self` has none. Exceptions: `preset` becomes [`MIXED_PRESETS`] when
    ///   the two differ (each measurement records its own preset), `imprecise` lists the
    ///   older run's imprecise measurements that were not re-measured as well, and per-run
    ///   keys such as `interrupted` are never carried over from `older`.
    ///
    /// Metadata and theoretical values are `self`'s, except that a theoretical value `self`
    /// does not know (0.0) is taken from `older`; the aggregates are recomputed over the merged
    /// operations.
    pub fn merge_older(&mut self, older: &HardwareCalibration) {
        let mut operations = older.operation_profiles.clone();
        for (k, op) in &self.operation_profiles {
            let mut op = op.clone();
            if let Some(o) = older.operation_profiles.get(k) {
                keep_missing(&mut op.extra, &o.extra);
            }
            operations.insert(k.clone(), op);
        }
        self.operation_profiles = operations;

        let mut measurements = older.fusion_measurements.clone();
        for (pattern, list) in &self.fusion_measurements {
            let old = older
                .fusion_measurements
                .get(pattern)
                .map_or(&[][..], |v| v.as_slice());
            measurements.insert(
                pattern.clone(),
                merge_list(old, list, |f| f.input_shape.clone()),
            );
        }
        let mut profiles = older.fusion_profiles.clone();
        for (pattern, f) in &self.fusion_profiles {
            let representative = match measurements.get(pattern) {
                Some(list) if self.fusion_measurements.get(pattern).is_some() => {
                    largest(list).unwrap_or(f).clone()
                }
                _ => f.clone(),
            };
            let kept = keeping_keys_of(representative, older.fusion_profiles.get(pattern));
            profiles.insert(pattern.clone(), kept);
        }
        self.fusion_profiles = profiles;
        self.fusion_measurements = measurements;

        let mut sweeps: OrderedMap<Vec<FusionCalibration>> = older.fusion_sweeps.clone();
        for (pattern, list) in &self.fusion_sweeps {
            let old = older
                .fusion_sweeps
                .get(pattern)
                .map_or(&[][..], |v| v.as_slice());
            let merged = merge_list(old, list, |f| {
                let (axis, shape) = sweep_slot(f);
                (axis.cloned(), shape.to_vec())
            });
            sweeps.insert(pattern.clone(), merged);
        }
        self.fusion_sweeps = sweeps;

        self.write_empty_fusion_profiles |= older.write_empty_fusion_profiles;
        if !is_known(self.theoretical_peak_gflops) {
            self.theoretical_peak_gflops = older.theoretical_peak_gflops;
        }
        if !is_known(self.theoretical_bandwidth_gbps) {
            self.theoretical_bandwidth_gbps = older.theoretical_bandwidth_gbps;
        }
        self.merge_run_info(older.hwcal.as_ref());
        keep_missing(&mut self.extra, &older.extra);
        keep_missing(&mut self.metadata.extra, &older.metadata.extra);
        self.recompute_aggregates();
        self.refresh_precision_matrix();
    }

    /// The `hwcal` part of [`Self::merge_older`].
    fn merge_run_info(&mut self, older: Option<&Value>) {
        let old = match (older, &self.hwcal) {
            (None, _) => return,
            (Some(old), None) => {
                let mut old = old.clone();
                if let Value::Object(m) = &mut old {
                    for k in PER_RUN_KEYS {
                        m.remove(*k);
                    }
                }
                self.hwcal = Some(old);
                return;
            }
            (Some(Value::Object(old)), Some(Value::Object(_))) => old,
            (Some(_), Some(_)) => return,
        };
        let Some(Value::Object(new)) = self.hwcal.as_mut() else {
            return;
        };
        // Imprecise measurements of the older run that this run did not measure again.
        let remeasured: Vec<String> = new
            .get("samples")
            .and_then(Value::as_object)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        if let (Some(Value::Array(old_list)), Some(Value::Array(new_list))) =
            (old.get("imprecise"), new.get_mut("imprecise"))
        {
            for label in old_list {
                let again = label
                    .as_str()
                    .is_some_and(|l| remeasured.iter().any(|r| r == l));
                if !again && !new_list.contains(label) {
                    new_list.push(label.clone());
                }
            }
        }
        if let (Some(old_preset), Some(new_preset)) = (old.get("preset"), new.get("preset")) {
            if old_preset != new_preset {
                new.insert("preset".into(), Value::from(MIXED_PRESETS));
            }
        }
        for (k, old_v) in old {
            if PER_RUN_KEYS.contains(&k.as_str()) {
                continue;
            }
            match (new.get_mut(k), old_v) {
                (None, _) => {
                    new.insert(k.clone(), old_v.clone());
                }
                (Some(Value::Object(new_inner)), Value::Object(old_inner)) => {
                    keep_missing(new_inner, old_inner);
                }
                (Some(_), _) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::CalibrationMetadata;
    use serde_json::json;

    fn fusion(shape: Vec<usize>, speedup: f64, preset: &str) -> FusionCalibration {
        let mut f = crate::profile::tests::fusion("Linear_Bias", shape, speedup);
        f.extra_params.insert("preset".into(), json!(preset));
        f
    }

    fn run(preset: &str, shapes: &[(Vec<usize>, f64)]) -> HardwareCalibration {
        let mut p = HardwareCalibration::new(CalibrationMetadata::new("d"), 0.0, 0.0);
        for (shape, speedup) in shapes {
            p.add_fusion_measurement(fusion(shape.clone(), *speedup, preset));
        }
        let samples: serde_json::Map<String, Value> = shapes
            .iter()
            .map(|(s, _)| (format!("Linear_Bias {s:?}"), json!([1.0])))
            .collect();
        p.hwcal = Some(json!({"preset": preset, "samples": samples,
                              "imprecise": [format!("Linear_Bias {:?}", shapes[0].0)]}));
        p
    }

    /// Issue 9, defect 8: one tiny run of a pattern into a quick profile replaced the quick
    /// shapes, set the preset file-wide and dropped a user key of the pattern.
    #[test]
    fn a_small_rerun_keeps_the_other_shapes_presets_and_user_keys() {
        let mut quick = run(
            "quick",
            &[(vec![128, 512, 512], 1.05), (vec![512, 1024, 1024], 1.02)],
        );
        for f in quick.fusion_measurements.get_mut("Linear_Bias").unwrap() {
            f.extra_params.insert("note".into(), json!("user's"));
        }
        let mut p = quick.fusion_profiles.get("Linear_Bias").unwrap().clone();
        p.extra_params.insert("note".into(), json!("user's"));
        quick.add_fusion_pattern(p);
        let mut tiny = run(
            "tiny",
            &[(vec![8, 32, 24], 1.5), (vec![128, 512, 512], 1.10)],
        );
        tiny.merge_older(&quick);

        let list = &tiny.fusion_measurements["Linear_Bias"];
        let shapes: Vec<&[usize]> = list.iter().map(|f| f.input_shape.as_slice()).collect();
        assert_eq!(
            shapes,
            [&[128, 512, 512][..], &[512, 1024, 1024], &[8, 32, 24]]
        );
        // The re-measured shape took the new figures, kept the user's key, says its preset.
        assert_eq!(list[0].speedup_factor, 1.10);
        assert_eq!(list[0].extra_params["note"], json!("user's"));
        assert_eq!(list[0].extra_params["preset"], json!("tiny"));
        assert_eq!(list[1].extra_params["preset"], json!("quick"));
        // The representative is still the largest shape, the quick one, with the user's key.
        let rep = &tiny.fusion_profiles["Linear_Bias"];
        assert_eq!(rep.input_shape, [512, 1024, 1024]);
        assert_eq!(rep.extra_params["note"], json!("user's"));
        let h = tiny.hwcal.as_ref().unwrap();
        assert_eq!(h["preset"], json!(MIXED_PRESETS));
        // The older run's imprecise shape was re-measured: only the new run's label stays.
        assert_eq!(h["imprecise"], json!(["Linear_Bias [8, 32, 24]"]));
    }

    #[test]
    fn sweeps_merge_per_axis_and_shape() {
        let point = |axis: &str, shape: Vec<usize>, s: f64| {
            let mut f = fusion(shape, s, "quick");
            f.extra_params.insert("sweep_axis".into(), json!(axis));
            f
        };
        let mut older = HardwareCalibration::new(CalibrationMetadata::new("d"), 0.0, 0.0);
        older.fusion_sweeps.insert(
            "Linear_Bias".to_string(),
            vec![
                point("M", vec![1, 64, 64], 1.0),
                point("KN", vec![1, 64, 64], 1.1),
            ],
        );
        let mut newer = HardwareCalibration::new(CalibrationMetadata::new("d"), 0.0, 0.0);
        newer.fusion_sweeps.insert(
            "Linear_Bias".to_string(),
            vec![point("KN", vec![1, 64, 64], 1.3)],
        );
        newer.merge_older(&older);
        let list = &newer.fusion_sweeps["Linear_Bias"];
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].speedup_factor, 1.0);
        assert_eq!(list[1].speedup_factor, 1.3);
    }

    #[test]
    fn an_interruption_mark_is_never_carried_into_a_later_run() {
        let mut older = HardwareCalibration::new(CalibrationMetadata::new("d"), 0.0, 0.0);
        older.hwcal = Some(json!({"preset": "tiny", "interrupted": {"not_measured": ["x"]}}));
        let mut newer = HardwareCalibration::new(CalibrationMetadata::new("d"), 0.0, 0.0);
        newer.hwcal = Some(json!({"preset": "tiny"}));
        newer.merge_older(&older);
        assert_eq!(newer.hwcal, Some(json!({"preset": "tiny"})));
        let mut bare = HardwareCalibration::new(CalibrationMetadata::new("d"), 0.0, 0.0);
        bare.merge_older(&older);
        assert_eq!(bare.hwcal, Some(json!({"preset": "tiny"})));
    }
}
