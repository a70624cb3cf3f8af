//! Measuring: verification against the reference, then adaptive sampling ([`super::sampling`]).

use super::sampling::{sample, Sampled, SamplingPolicy};
use crate::backend::{Backend, Prepared, Variant, Workload};
use crate::dtype::{Accumulate, DType, HostBuffer};
use crate::pattern::{matmul_row, stream_expected, verification_rows};
use crate::precision::{chain_value, max_exact_units, PeakRun, PeakWidth, PrecisionInputs};
use crate::stats::{check_tolerance, ToleranceCheck};
use crate::{Error, Result};
use ndarray::Array2;
use rand::{rngs::SmallRng, Rng, SeedableRng};

/// Samples of one workload and how its outputs compared with the reference.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The samples, per variant, with the estimate the stopping rule judged.
    pub sampled: Sampled,
    /// How each variant's output compared with the reference.
    pub verification: Vec<ToleranceCheck>,
}

impl Measured {
    /// Latencies (ms per iteration) of `variant`.
    pub fn latencies(&self, variant: Variant) -> &[f64] {
        self.sampled.latencies(variant)
    }
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
        output: &HostBuffer,
        reference: impl Fn(usize) -> Vec<f64>,
    ) -> Result<ToleranceCheck> {
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
            got.extend(output.to_f64(r * self.cols..(r + 1) * self.cols));
            want.extend(reference(r));
        }
        let c = check_tolerance(&got, &want, self.rtol, self.atol);
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

/// Prepares, verifies and samples a STREAM workload.
pub fn measure_stream<'a>(
    backend: &'a dyn Backend,
    workload: &Workload<'a>,
    policy: &SamplingPolicy,
) -> Result<Measured> {
    let (mut prepared, verification) = prepare_stream(backend, workload)?;
    Ok(Measured {
        sampled: sample(prepared.as_mut(), &[Variant::Single], policy)?,
        verification: vec![verification],
    })
}

/// Prepares a STREAM workload, runs it once and verifies its output.
pub fn prepare_stream<'a>(
    backend: &'a dyn Backend,
    workload: &Workload<'a>,
) -> Result<(Box<dyn Prepared + 'a>, ToleranceCheck)> {
    let mut prepared = backend.prepare(workload)?;
    prepared.run(Variant::Single)?;
    let output = prepared.output(Variant::Single)?;
    let triad = matches!(workload, Workload::Triad { .. });
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
    let mut padded = output.into_f32(&workload.label())?;
    padded.resize(check.rows * BLOCK, 0.0);
    let verification = check.verify(&workload.label(), &padded.into(), |r| {
        (r * BLOCK..(r + 1) * BLOCK)
            .map(|i| {
                if i < n {
                    stream_expected(triad, i)
                } else {
                    0.0
                }
            })
            .collect()
    })?;
    Ok((prepared, verification))
}

/// Prepares a matmul in another precision than f32, runs it once and verifies its output
/// against the f64 product of the same operands with the tolerance of the type the kernel
/// sums in (which it reports). An [`Error::Unsupported`] from the backend is passed on.
pub fn prepare_precision_matmul<'a>(
    backend: &'a dyn Backend,
    inputs: &'a PrecisionInputs,
    seed: u64,
) -> Result<(Box<dyn Prepared + 'a>, ToleranceCheck, Accumulate)> {
    let workload = Workload::PrecisionMatmul { inputs };
    let label = workload.label();
    let mut prepared = backend.prepare(&workload)?;
    let accumulate = prepared.accumulate().ok_or_else(|| Error::Verification {
        what: label.clone(),
        detail: "the backend did not say what type the kernel sums in".into(),
    })?;
    prepared.run(Variant::Single)?;
    let output = prepared.output(Variant::Single)?;
    let n = inputs.n;
    let (rtol, atol) = accumulate.tolerance(n);
    let check = RowCheck {
        rows: n,
        cols: n,
        macs_per_row: n * n,
        rtol,
        atol,
        seed,
    };
    let verification = check.verify(&label, &output, |r| inputs.reference_row(r))?;
    Ok((prepared, verification, accumulate))
}

/// Prepares a peak measurement, runs it once and checks that every lane of every chain ended
/// exactly at the closed form ([`chain_value`]); returns what one run does.
pub fn prepare_peak<'a>(
    backend: &'a dyn Backend,
    precision: DType,
    width: PeakWidth,
) -> Result<(Box<dyn Prepared + 'a>, ToleranceCheck, PeakRun)> {
    let workload = Workload::Peak { precision, width };
    let label = workload.label();
    let mut prepared = backend.prepare(&workload)?;
    let run = prepared.peak_run().ok_or_else(|| Error::Verification {
        what: label.clone(),
        detail: "the backend did not describe its peak run".into(),
    })?;
    let plausible = run.ops_per_run.is_finite()
        && run.ops_per_run > 0.0
        && run.units_per_run > 0
        && run.units_per_run <= max_exact_units(precision);
    if !plausible {
        return Err(Error::Verification {
            what: label,
            detail: format!(
                "impossible run: {} operations, {} units per lane",
                run.ops_per_run, run.units_per_run
            ),
        });
    }
    prepared.run(Variant::Single)?;
    let output = prepared.output(Variant::Single)?;
    if output.is_empty() {
        return Err(Error::Verification {
            what: label,
            detail: "the kernel wrote no lanes".into(),
        });
    }
    let got = output.to_f64(0..output.len());
    let want = vec![chain_value(precision, run.start, run.units_per_run); got.len()];
    // Exact: every step adds an exactly representable amount.
    let check = check_tolerance(&got, &want, 0.0, 0.0);
    if !check.passed {
        return Err(Error::Verification {
            what: label,
            detail: format!(
                "lane {} ended at {}, the closed form is {} ({} lanes)",
                check.worst_index,
                got[check.worst_index],
                want[0],
                got.len()
            ),
        });
    }
    Ok((prepared, check, run))
}

/// Uniform `[-1, 1)` `n×n` matrix, deterministic in `seed`.
pub fn random_matrix(n: usize, seed: u64) -> Array2<f32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((n, n), || rng.gen_range(-1.0..1.0))
}

/// The inputs of an `n×n` matmul, deterministic in `seed`.
pub struct MatmulInputs {
    /// Matrix size.
    pub n: usize,
    /// Left operand, `n×n`.
    pub a: Array2<f32>,
    /// Right operand, `n×n`.
    pub b: Array2<f32>,
}

impl MatmulInputs {
    /// Random `[-1, 1)` operands of size `n×n`.
    pub fn new(n: usize, seed: u64) -> Result<Self> {
        if n == 0 {
            return Err(Error::usage("matmul size must be at least 1"));
        }
        Ok(MatmulInputs {
            n,
            a: random_matrix(n, seed ^ 0xA),
            b: random_matrix(n, seed ^ 0xB),
        })
    }

    /// Prepares the matmul on `backend`, runs it once and verifies its output against the
    /// f64 reference (rows sampled by `seed`).
    pub fn prepare_verified<'a>(
        &'a self,
        backend: &'a dyn Backend,
        seed: u64,
    ) -> Result<(Box<dyn Prepared + 'a>, ToleranceCheck)> {
        let (n, a, b) = (self.n, self.a.view(), self.b.view());
        let workload = Workload::Matmul { n, a, b };
        let mut prepared = backend.prepare(&workload)?;
        prepared.run(Variant::Single)?;
        let output = prepared.output(Variant::Single)?;
        let (rtol, atol) = DType::F32.tolerance(n);
        let check = RowCheck {
            rows: n,
            cols: n,
            macs_per_row: n * n,
            rtol,
            atol,
            seed,
        };
        let verification = check.verify(&workload.label(), &output, |r| {
            matmul_row(&a, &b, r).to_vec()
        })?;
        Ok((prepared, verification))
    }
}

/// Prepares, verifies and samples a matmul in another precision than f32 (see
/// [`prepare_precision_matmul`]).
pub fn measure_precision_matmul(
    backend: &dyn Backend,
    inputs: &PrecisionInputs,
    policy: &SamplingPolicy,
    seed: u64,
) -> Result<Measured> {
    let (mut prepared, verification, _) = prepare_precision_matmul(backend, inputs, seed)?;
    Ok(Measured {
        sampled: sample(prepared.as_mut(), &[Variant::Single], policy)?,
        verification: vec![verification],
    })
}

/// Prepares, verifies and samples one peak; returns its samples and what one run does.
pub fn measure_peak(
    backend: &dyn Backend,
    precision: DType,
    width: PeakWidth,
    policy: &SamplingPolicy,
) -> Result<(Measured, PeakRun)> {
    let (mut prepared, verification, run) = prepare_peak(backend, precision, width)?;
    let m = Measured {
        sampled: sample(prepared.as_mut(), &[Variant::Single], policy)?,
        verification: vec![verification],
    };
    Ok((m, run))
}

/// Prepares, verifies and samples an `n×n` f32 matmul.
pub fn measure_matmul(
    backend: &dyn Backend,
    n: usize,
    policy: &SamplingPolicy,
    seed: u64,
) -> Result<Measured> {
    let inputs = MatmulInputs::new(n, seed)?;
    let (mut prepared, verification) = inputs.prepare_verified(backend, seed)?;
    Ok(Measured {
        sampled: sample(prepared.as_mut(), &[Variant::Single], policy)?,
        verification: vec![verification],
    })
}
