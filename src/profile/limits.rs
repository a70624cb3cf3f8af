//! What every number in a profile means and the values it may take.
//!
//! The loader ([`super::HardwareCalibration::from_value`]) checks each number it reads against
//! its entry in [`FIELDS`] and refuses the profile with a one-line error naming the key path
//! (`fusion_profiles.X.speedup_factor: 1e308 is out of range for a speedup factor: …`). Nothing
//! absurd gets past the file boundary, so the rest of hwcal (the charts of `hwcal compare`, the
//! cost model) never sees a rate of `5e-324` or a speedup of `1e308`.
//!
//! # The ranges
//! Every bound is far outside what any device measures, and far inside what breaks arithmetic
//! (a log axis over `5e-324..1e308` spans 632 decades; `1e308 * 2` is infinite):
//!
//! | kind | allowed | why |
//! | --- | --- | --- |
//! | rate, GFLOPS ([`RATE_GFLOPS`]) | 0, or 1e-6 ..= 1e9 | 0: unknown / not measured (memory operations, no datasheet peak); 1e-6 GFLOPS is 1000 FLOP/s, below any kernel's figure (the slowest fixture kernel: 0.009); 1e9 GFLOPS is an exaFLOPS |
//! | bandwidth, GB/s ([`BANDWIDTH_GBPS`]) | 0, or 1e-6 ..= 1e7 | 0: unknown; 1 KB/s to 10 PB/s |
//! | latency, ms ([`LATENCY_MS`]) | 0, or 1e-9 ..= 1e9 | one picosecond to eleven days |
//! | latency spread, ms ([`LATENCY_SPREAD_MS`]) | 0 ..= 1e9 | a standard deviation of equal samples may be a rounding residue like 1e-19: no floor |
//! | speedup factor ([`SPEEDUP`]) | 1e-6 ..= 1e6 | a ratio of two latencies of the same work |
//! | efficiency ([`EFFICIENCY`]) | 0 ..= 1e15 | measured over theoretical; above 1 when the datasheet peak is wrong (fixtures: up to 1.47); 1e15 is the largest rate over the smallest, so hwcal never derives one it would refuse |
//! | arithmetic intensity, FLOP/byte ([`INTENSITY`]) | 0, or 1e-9 ..= 1e12 | 0: no FLOPs (copies) |
//! | memory reduction ([`MEMORY_REDUCTION`]) | -1e6 ..= 1 | `1 - fused/unfused bytes` |
//! | GFLOPS improvement ([`GFLOPS_IMPROVEMENT`]) | -1 ..= 1e15 | `fused/unfused GFLOPS - 1` |
//! | memory, GB ([`MEMORY_GB`]) | 0, or 1e-6 ..= 1e9 | 0: unknown |
//! | size ([`SIZE`]): shape dimensions, sweep values | 0, or 1 ..= 1e15 | sizes are element counts |
//! | FLOP count ([`FLOP_COUNT`]) | 0, or 1 ..= 1e21 | FLOPs of one kernel execution |
//! | bytes ([`BYTES`]) | 0 ..= 1e18 | an exabyte |
//! | count ([`COUNT`]): CPUs, trials, runs, batch, operators | 0 ..= 1e15 | |
//!
//! # Missing values
//! The loader turns `null` (and Python's `NaN`/`Infinity`/`-Infinity`, which it reads as
//! `null`) into NaN. For a measurement ([`Missing::NotMeasured`]) NaN means "not measured": hwcal
//! writes a figure it could not compute (a NaN speedup, an infinite GFLOPS improvement) as
//! `null`, and reports show it as `n/a`. The theoretical peaks and the memory size, where 0
//! already means unknown, must hold a number ([`Missing::Refused`]).
//!
//! # Command-line flags
//! [`check_peak_gflops`] and [`check_peak_bandwidth`] apply the same ranges to
//! `calibrate --peak-gflops` / `--peak-bandwidth`, so hwcal never writes a profile it would
//! refuse to load.

/// How a field reads `null` (and the `NaN`/`Infinity` tokens, which the loader reads as null).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `null` reads as NaN: not measured.
    NotMeasured,
    /// `null` is refused: the field must hold a number (0 where the value is unknown).
    Refused,
}

/// The values one kind of number may take: finite, in `min ..= max`, and, when `floor` is
/// positive, either 0 or at least `floor` (a positive value below it is absurd, not small).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// What the number is, for messages: `a rate in GFLOPS`.
    pub what: &'static str,
    /// Smallest allowed value.
    pub min: f64,
    /// Smallest allowed positive value (0.0: any positive value).
    pub floor: f64,
    /// Largest allowed value.
    pub max: f64,
}

/// Rates in GFLOPS; 0 means unknown or not measured.
pub const RATE_GFLOPS: Limit = Limit {
    what: "a rate in GFLOPS",
    min: 0.0,
    floor: 1e-6,
    max: 1e9,
};
/// Memory bandwidth in GB/s; 0 means unknown or not measured.
pub const BANDWIDTH_GBPS: Limit = Limit {
    what: "a bandwidth in GB/s",
    min: 0.0,
    floor: 1e-6,
    max: 1e7,
};
/// Latencies (mean, min, max, median) in milliseconds.
pub const LATENCY_MS: Limit = Limit {
    what: "a latency in ms",
    min: 0.0,
    floor: 1e-9,
    max: 1e9,
};
/// The standard deviation of latencies in milliseconds: no floor.
pub const LATENCY_SPREAD_MS: Limit = Limit {
    what: "a latency spread in ms",
    min: 0.0,
    floor: 0.0,
    max: 1e9,
};
/// Speedup factors (a ratio of latencies).
pub const SPEEDUP: Limit = Limit {
    what: "a speedup factor",
    min: 1e-6,
    floor: 0.0,
    max: 1e6,
};
/// Efficiencies (measured over theoretical).
pub const EFFICIENCY: Limit = Limit {
    what: "an efficiency",
    min: 0.0,
    floor: 0.0,
    max: 1e15,
};
/// Arithmetic intensity in FLOP/byte.
pub const INTENSITY: Limit = Limit {
    what: "an arithmetic intensity in FLOP/byte",
    min: 0.0,
    floor: 1e-9,
    max: 1e12,
};
/// `1 - fused bytes / unfused bytes`.
pub const MEMORY_REDUCTION: Limit = Limit {
    what: "a memory reduction",
    min: -1e6,
    floor: 0.0,
    max: 1.0,
};
/// `fused GFLOPS / unfused GFLOPS - 1`.
pub const GFLOPS_IMPROVEMENT: Limit = Limit {
    what: "a GFLOPS improvement",
    min: -1.0,
    floor: 0.0,
    max: 1e15,
};
/// Memory sizes in GB; 0 means unknown.
pub const MEMORY_GB: Limit = Limit {
    what: "a memory size in GB",
    min: 0.0,
    floor: 1e-6,
    max: 1e9,
};
/// Sizes: shape dimensions and sweep values (element counts).
pub const SIZE: Limit = Limit {
    what: "a size",
    min: 0.0,
    floor: 1.0,
    max: 1e15,
};
/// FLOPs of one kernel execution.
pub const FLOP_COUNT: Limit = Limit {
    what: "a FLOP count",
    min: 0.0,
    floor: 1.0,
    max: 1e21,
};
/// Bytes moved by a kernel.
pub const BYTES: Limit = Limit {
    what: "a byte count",
    min: 0.0,
    floor: 0.0,
    max: 1e18,
};
/// Counts: CPUs, trials, warm-up and measurement runs, batch size, operators.
pub const COUNT: Limit = Limit {
    what: "a count",
    min: 0.0,
    floor: 0.0,
    max: 1e15,
};

/// One numeric field of the profile schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    /// The key, as in the file; keys inside `extra_params` are written `extra_params.KEY`.
    pub key: &'static str,
    /// Where it appears and what it means.
    pub meaning: &'static str,
    /// Its allowed values.
    pub limit: Limit,
    /// How it reads `null`.
    pub missing: Missing,
}

const fn field(key: &'static str, meaning: &'static str, limit: Limit, missing: Missing) -> Field {
    Field {
        key,
        meaning,
        limit,
        missing,
    }
}

use Missing::{NotMeasured, Refused};

/// Every numeric field the loader reads, with its meaning and range. The loader looks each key
/// up here, so this table is what is enforced.
pub const FIELDS: &[Field] = &[
    // metadata
    field("cpu_count", "metadata: logical CPUs", COUNT, Refused),
    field(
        "total_memory_gb",
        "metadata: system memory",
        MEMORY_GB,
        Refused,
    ),
    field("num_warmup_runs", "metadata: warm-up runs", COUNT, Refused),
    field(
        "num_measurement_runs",
        "metadata: measured runs",
        COUNT,
        Refused,
    ),
    // top level
    field(
        "theoretical_peak_gflops",
        "datasheet peak (0: unknown)",
        RATE_GFLOPS,
        Refused,
    ),
    field(
        "theoretical_bandwidth_gbps",
        "datasheet bandwidth (0: unknown)",
        BANDWIDTH_GBPS,
        Refused,
    ),
    field(
        "best_measured_gflops",
        "best GFLOPS of the compute operations",
        RATE_GFLOPS,
        NotMeasured,
    ),
    field(
        "avg_measured_gflops",
        "mean GFLOPS of the compute operations",
        RATE_GFLOPS,
        NotMeasured,
    ),
    field(
        "worst_measured_gflops",
        "worst GFLOPS of the compute operations",
        RATE_GFLOPS,
        NotMeasured,
    ),
    field(
        "measured_bandwidth_gbps",
        "best bandwidth of the memory operations",
        BANDWIDTH_GBPS,
        NotMeasured,
    ),
    field(
        "bandwidth_efficiency",
        "measured over theoretical bandwidth",
        EFFICIENCY,
        NotMeasured,
    ),
    field(
        "best_efficiency",
        "best efficiency of the compute operations",
        EFFICIENCY,
        NotMeasured,
    ),
    field(
        "avg_efficiency",
        "mean efficiency of the compute operations",
        EFFICIENCY,
        NotMeasured,
    ),
    field(
        "worst_efficiency",
        "worst efficiency of the compute operations",
        EFFICIENCY,
        NotMeasured,
    ),
    // operation profiles
    field(
        "measured_gflops",
        "operation: achieved GFLOPS (0 for copies)",
        RATE_GFLOPS,
        NotMeasured,
    ),
    field(
        "efficiency",
        "operation: fraction of the peak",
        EFFICIENCY,
        NotMeasured,
    ),
    field(
        "achieved_bandwidth_gbps",
        "operation: achieved bandwidth",
        BANDWIDTH_GBPS,
        NotMeasured,
    ),
    field(
        "arithmetic_intensity",
        "operation: FLOPs per byte",
        INTENSITY,
        NotMeasured,
    ),
    field("batch_size", "operation: batch size", COUNT, Refused),
    field(
        "input_shape",
        "operation, fusion: each dimension of the shape",
        SIZE,
        Refused,
    ),
    field(
        "output_shape",
        "operation: each dimension of the shape",
        SIZE,
        Refused,
    ),
    field(
        "mean_latency_ms",
        "operation: mean latency",
        LATENCY_MS,
        NotMeasured,
    ),
    field(
        "std_latency_ms",
        "operation: standard deviation of the latency",
        LATENCY_SPREAD_MS,
        NotMeasured,
    ),
    field(
        "min_latency_ms",
        "operation: fastest trial",
        LATENCY_MS,
        NotMeasured,
    ),
    field(
        "max_latency_ms",
        "operation: slowest trial",
        LATENCY_MS,
        NotMeasured,
    ),
    field(
        "num_trials",
        "operation, fusion: measured trials",
        COUNT,
        Refused,
    ),
    // fusion profiles
    field(
        "num_operators",
        "fusion: operators in the chain",
        COUNT,
        Refused,
    ),
    field(
        "unfused_latency_ms",
        "fusion: latency of the unfused chain",
        LATENCY_MS,
        NotMeasured,
    ),
    field(
        "unfused_gflops",
        "fusion: GFLOPS of the unfused chain",
        RATE_GFLOPS,
        NotMeasured,
    ),
    field(
        "unfused_memory_bytes",
        "fusion: bytes the unfused chain moves",
        BYTES,
        Refused,
    ),
    field(
        "fused_latency_ms",
        "fusion: latency of the fused kernel",
        LATENCY_MS,
        NotMeasured,
    ),
    field(
        "fused_gflops",
        "fusion: GFLOPS of the fused kernel",
        RATE_GFLOPS,
        NotMeasured,
    ),
    field(
        "fused_memory_bytes",
        "fusion: bytes the fused kernel moves",
        BYTES,
        Refused,
    ),
    field(
        "speedup_factor",
        "fusion: unfused over fused latency",
        SPEEDUP,
        NotMeasured,
    ),
    field(
        "memory_reduction",
        "fusion: 1 - fused / unfused bytes",
        MEMORY_REDUCTION,
        NotMeasured,
    ),
    field(
        "gflops_improvement",
        "fusion: fused / unfused GFLOPS - 1",
        GFLOPS_IMPROVEMENT,
        NotMeasured,
    ),
    // hwcal's numbers inside a fusion profile's extra_params (checked when they are numbers)
    field(
        "extra_params.flops",
        "fusion: FLOPs of one execution",
        FLOP_COUNT,
        NotMeasured,
    ),
    field(
        "extra_params.sweep_value",
        "fusion sweep point: the size along the sweep axis",
        SIZE,
        NotMeasured,
    ),
    field(
        "extra_params.speedup_ci95",
        "fusion: each end of the speedup's 95% interval",
        SPEEDUP,
        NotMeasured,
    ),
];

/// The entry of `key` in [`FIELDS`].
pub fn field_of(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

/// `x` for messages: plain for everyday magnitudes, in exponent form otherwise (`5e-324`,
/// `1e308`), never hundreds of digits.
pub fn shown(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || (1e-4..1e6).contains(&a) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

impl Limit {
    /// Whether `x` is allowed: finite, in `min ..= max`, not a positive value below `floor`.
    pub fn allows(&self, x: f64) -> bool {
        x.is_finite()
            && x >= self.min
            && x <= self.max
            && !(self.floor > 0.0 && x > 0.0 && x < self.floor)
    }

    /// The allowed values in words: `0 or between 1e-6 and 1e9`.
    pub fn range_text(&self) -> String {
        if self.floor > 0.0 && self.min <= 0.0 {
            format!("0 or between {} and {}", shown(self.floor), shown(self.max))
        } else {
            format!("between {} and {}", shown(self.min), shown(self.max))
        }
    }

    /// `x` when it is allowed, else the reason (without a key): `1e308 is out of range for a
    /// speedup factor: must be between 1e-6 and 1e6`. NaN is refused here; whether a field may
    /// be missing is the loader's business ([`Missing`]).
    pub fn check(&self, x: f64) -> Result<f64, String> {
        if self.allows(x) {
            return Ok(x);
        }
        let why = if x.is_nan() {
            "is not a number".to_string()
        } else if x.is_infinite() {
            "is infinite".to_string()
        } else {
            format!("is out of range for {}", self.what)
        };
        Err(format!("{} {why}: must be {}", shown(x), self.range_text()))
    }
}

impl Field {
    /// `x` read from the file (NaN for `null`) when the field allows it, else the reason
    /// (without the key path).
    pub fn check(&self, x: f64) -> Result<f64, String> {
        if x.is_nan() {
            return match self.missing {
                Missing::NotMeasured => Ok(x),
                Missing::Refused => Err(format!(
                    "expected a number, found null (or NaN/Infinity): must be {}",
                    self.limit.range_text()
                )),
            };
        }
        self.limit.check(x)
    }
}

fn check_peak(x: f64, limit: &Limit) -> Result<f64, String> {
    if x > 0.0 && limit.allows(x) {
        Ok(x)
    } else {
        Err(format!(
            "{} is not a plausible peak: give a number between {} and {} ({}), or leave the flag \
             out when it is unknown",
            shown(x),
            shown(limit.floor),
            shown(limit.max),
            limit.what.trim_start_matches("a ")
        ))
    }
}

/// Checks a theoretical peak given on the command line (`calibrate --peak-gflops`): a positive
/// rate in [`RATE_GFLOPS`]'s range, so the profile written loads again. Returns `x`, or the
/// reason (one line, without the flag's name).
pub fn check_peak_gflops(x: f64) -> Result<f64, String> {
    check_peak(x, &RATE_GFLOPS)
}

/// Checks a theoretical bandwidth given on the command line (`calibrate --peak-bandwidth`): a
/// positive bandwidth in [`BANDWIDTH_GBPS`]'s range. Returns `x`, or the reason (one line,
/// without the flag's name).
pub fn check_peak_bandwidth(x: f64) -> Result<f64, String> {
    check_peak(x, &BANDWIDTH_GBPS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_values_are_refused() {
        for x in [5e-324, 1e-310, 1e308, f64::INFINITY, -1.0, f64::NAN] {
            assert!(!RATE_GFLOPS.allows(x), "{x}");
            assert!(!BANDWIDTH_GBPS.allows(x), "{x}");
            assert!(!SPEEDUP.allows(x), "{x}");
            assert!(!SIZE.allows(x), "{x}");
        }
        for x in [0.0, 1e-6, 0.009, 1199.05, 1e9] {
            assert!(RATE_GFLOPS.allows(x), "{x}");
        }
        assert!(!SPEEDUP.allows(0.0));
        assert!(SPEEDUP.allows(0.7146) && SPEEDUP.allows(7.44));
        assert!(LATENCY_SPREAD_MS.allows(4e-19), "a rounding residue");
        assert!(MEMORY_REDUCTION.allows(-0.5) && !MEMORY_REDUCTION.allows(1.5));
        assert!(GFLOPS_IMPROVEMENT.allows(-0.2853) && !GFLOPS_IMPROVEMENT.allows(-1.5));
    }

    #[test]
    fn messages_are_one_short_line() {
        let e = SPEEDUP.check(1e308).unwrap_err();
        assert_eq!(
            e,
            "1e308 is out of range for a speedup factor: must be between 1e-6 and 1e6"
        );
        let e = RATE_GFLOPS.check(5e-324).unwrap_err();
        assert_eq!(
            e,
            "5e-324 is out of range for a rate in GFLOPS: must be 0 or between 1e-6 and 1e9"
        );
        assert!(SIZE
            .check(f64::INFINITY)
            .unwrap_err()
            .starts_with("inf is infinite"));
        let refused = field_of("theoretical_peak_gflops").unwrap();
        assert!(refused.check(f64::NAN).unwrap_err().contains("found null"));
        let measured = field_of("speedup_factor").unwrap();
        assert!(measured.check(f64::NAN).unwrap().is_nan());
        assert_eq!(shown(2.5), "2.5");
        assert_eq!(shown(1e-310), "1e-310");
    }

    #[test]
    fn peak_flags() {
        assert_eq!(check_peak_gflops(1280.0), Ok(1280.0));
        assert_eq!(check_peak_bandwidth(75.0), Ok(75.0));
        for x in [0.0, -1.0, 5e-324, 1e-310, 1e308, f64::NAN, f64::INFINITY] {
            let e = check_peak_gflops(x).unwrap_err();
            assert!(
                !e.contains('\n') && e.contains("1e-6") && e.contains("1e9"),
                "{e}"
            );
            assert!(check_peak_bandwidth(x).is_err(), "{x}");
        }
        assert!(check_peak_bandwidth(2e7).unwrap_err().contains("GB/s"));
    }

    #[test]
    fn keys_are_unique() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert!(
                FIELDS[i + 1..].iter().all(|g| g.key != f.key),
                "{} twice",
                f.key
            );
            assert!(f.limit.min <= f.limit.max && f.limit.floor <= f.limit.max);
        }
    }
}
