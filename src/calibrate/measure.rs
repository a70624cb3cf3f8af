//! Measuring: verification against the reference, warm-up, and timed trials.

use crate::backend::{stream_init, Backend, Prepared, Variant, Workload, TRIAD_SCALAR};
use crate::pattern::verification_rows;
use crate::stats::{compare, Comparison};
use crate::{Error, Result};
use rand::{rngs::SmallRng, Rng, SeedableRng};

/// How many untimed and timed runs each variant gets.
#[derive(Clone, Copy, Debug)]
pub struct TrialPolicy {
    /// Untimed runs per variant, the verification run included.
    pub warmup: usize,
    /// Timed runs per variant.
    pub trials: usize,
}

/// Samples of one workload: latency in milliseconds per trial, per variant.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// `(variant, latencies in ms)` in the order the variants were given.
    pub samples: Vec<(Variant, Vec<f64>)>,
    /// How each variant's output compared with the reference.
    pub verification: Vec<Comparison>,
}

impl Measured {
    /// Latencies (ms) of `variant`.
    pub fn latencies(&self, variant: Variant) -> &[f64] {
        self.samples
            .iter()
            .find(|(v, _)| *v == variant)
            .map_or(&[], |(_, s)| s.as_slice())
    }
}

/// Warms up, then times `policy.trials` runs of each variant, interleaved (U F U F …) so that
/// drift of the machine affects every variant alike. Zero-length times are dropped.
pub fn time_variants(
    prepared: &mut dyn Prepared,
    variants: &[Variant],
    policy: &TrialPolicy,
) -> Result<Measured> {
    // The verification run counted as the first warm-up.
    for _ in 1..policy.warmup {
        for &v in variants {
            prepared.run(v)?;
        }
    }
    let mut samples: Vec<(Variant, Vec<f64>)> = variants
        .iter()
        .map(|&v| (v, Vec::with_capacity(policy.trials)))
        .collect();
    for trial in 0..policy.trials {
        // Alternate which variant goes first, so neither always runs on a warmer cache.
        for i in 0..variants.len() {
            let idx = if trial % 2 == 0 {
                i
            } else {
                variants.len() - 1 - i
            };
            let d = prepared.run(variants[idx])?;
            let ms = d.as_secs_f64() * 1e3;
            if ms > 0.0 {
                samples[idx].1.push(ms);
            }
        }
    }
    Ok(Measured {
        samples,
        verification: Vec::new(),
    })
}

/// Verification of a row-major output against a reference computed row by row.
pub struct RowCheck {
    /// Output rows.
    pub rows: usize,
    /// Output columns.
    pub cols: usize,
    /// Reference cost per row, to size the sample of rows.
    pub macs_per_row: usize,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Seed for the row sample.
    pub seed: u64,
}

/// Multiply-adds the f64 reference may spend on one output.
const REFERENCE_BUDGET: usize = 48_000_000;

impl RowCheck {
    /// Compares `output` with `reference(row)` on every row of small outputs and a sample of
    /// rows of large ones. Fails with [`Error::Verification`] naming `what`.
    pub fn verify(
        &self,
        what: &str,
        output: &[f32],
        reference: impl Fn(usize) -> Vec<f64>,
    ) -> Result<Comparison> {
        if output.len() != self.rows * self.cols {
            return Err(Error::Verification {
                what: what.to_string(),
                detail: format!(
                    "output has {} elements, expected {}×{}",
                    output.len(),
                    self.rows,
                    self.cols
                ),
            });
        }
        let rows = verification_rows(self.rows, self.macs_per_row, REFERENCE_BUDGET, self.seed);
        let mut got = Vec::with_capacity(rows.len() * self.cols);
        let mut want = Vec::with_capacity(rows.len() * self.cols);
        for &r in &rows {
            got.extend_from_slice(&output[r * self.cols..(r + 1) * self.cols]);
            want.extend(reference(r));
        }
        let c = compare(&got, &want, self.rtol, self.atol);
        if c.passed {
            Ok(c)
        } else {
            let row = rows[c.worst_index / self.cols.max(1)];
            Err(Error::Verification {
                what: what.to_string(),
                detail: format!(
                    "{} (worst at row {row}, column {}; {} of {} rows checked)",
                    c.describe(),
                    c.worst_index % self.cols.max(1),
                    rows.len(),
                    self.rows
                ),
            })
        }
    }
}

/// Prepares, verifies and times a STREAM workload.
pub fn measure_stream(
    backend: &dyn Backend,
    workload: &Workload,
    policy: &TrialPolicy,
) -> Result<Measured> {
    let mut prepared = backend.prepare(workload)?;
    prepared.run(Variant::Single)?;
    let output = prepared.output(Variant::Single)?;
    let expect: Box<dyn Fn(usize) -> f64> = match workload {
        Workload::Copy { .. } => Box::new(|i| stream_init(0, i) as f64),
        _ => {
            Box::new(|i| stream_init(1, i) as f64 + TRIAD_SCALAR as f64 * stream_init(2, i) as f64)
        }
    };
    // Rows of 64 Ki elements; large arrays are checked on a spread sample of them.
    const BLOCK: usize = 1 << 16;
    let check = RowCheck {
        rows: output.len().div_ceil(BLOCK),
        cols: BLOCK,
        macs_per_row: BLOCK,
        rtol: 1e-6,
        atol: 0.0,
        seed: 0,
    };
    let n = output.len();
    let mut padded = output;
    padded.resize(check.rows * BLOCK, 0.0);
    let verification = check.verify(&workload.label(), &padded, |r| {
        (r * BLOCK..(r + 1) * BLOCK)
            .map(|i| if i < n { expect(i) } else { 0.0 })
            .collect()
    })?;
    let mut m = time_variants(prepared.as_mut(), &[Variant::Single], policy)?;
    m.verification = vec![verification];
    Ok(m)
}

/// Uniform `[-1, 1)` matrix, deterministic in `seed`.
pub fn random_matrix(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// Prepares, verifies and times an `n×n` matmul.
pub fn measure_matmul(
    backend: &dyn Backend,
    n: usize,
    policy: &TrialPolicy,
    seed: u64,
) -> Result<Measured> {
    if n == 0 {
        return Err(Error::usage("matmul size must be at least 1"));
    }
    let a = random_matrix(n * n, seed ^ 0xA);
    let b = random_matrix(n * n, seed ^ 0xB);
    let workload = Workload::Matmul { n, a: &a, b: &b };
    let mut prepared = backend.prepare(&workload)?;
    prepared.run(Variant::Single)?;
    let output = prepared.output(Variant::Single)?;
    let check = RowCheck {
        rows: n,
        cols: n,
        macs_per_row: n * n,
        rtol: 1e-3,
        atol: 2e-6 * n as f64 + 1e-6,
        seed,
    };
    let verification = check.verify(&workload.label(), &output, |r| {
        let mut row = vec![0.0f64; n];
        for k in 0..n {
            let x = a[r * n + k] as f64;
            for (o, &y) in row.iter_mut().zip(&b[k * n..(k + 1) * n]) {
                *o += x * y as f64;
            }
        }
        row
    })?;
    let mut m = time_variants(prepared.as_mut(), &[Variant::Single], policy)?;
    m.verification = vec![verification];
    Ok(m)
}
