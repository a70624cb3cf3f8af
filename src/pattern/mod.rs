//! Fusion patterns: the one identity every part of hwcal keys on.
//!
//! A [`Pattern`] (`Linear_Bias_ReLU`, `Conv2d_BN`, `FullAttention`, …) is a row of one table
//! (`table.rs`, [`PatternSpec`]): its name, family and typed operators ([`Op`]); from those
//! follow the epilogue its fused kernel applies ([`Epilogue`]), its inputs, and its FLOP and
//! byte formulas (the Python original's convention, so profiles stay comparable). Its family
//! gives the shapes each preset measures, the inputs, the f64 reference and the tolerance. The
//! CPU kernels, the GPU shaders, the calibration loop, the reports and the cost model all read
//! these definitions; backends walk [`Pattern::operators`] to build the unfused chain and read
//! [`Pattern::epilogue`] to build the fused kernel.
//!
//! Modules: `op` (operators, [`Activation`]), `spec` (what a row holds), `table` (the rows),
//! `formulas`, `shape` (shapes and presets), `reference` (inputs and the f64 reference),
//! `sweep` (size sweeps).

mod formulas;
mod op;
mod reference;
mod shape;
mod spec;
mod sweep;
mod table;

pub use op::{gelu_f64, Activation, Op};
pub use reference::{
    contiguous, matmul_row, stream_expected, stream_init, verification_rows, BatchNorm,
    FoldedFilters, InputSlices, Inputs, Reference, TRIAD_SCALAR,
};
pub use shape::{conv_out, ConvDims, Preset, Shape, Sizes};
pub use spec::{Epilogue, Norm, PatternSpec, UnfusedBytes};
pub use sweep::{interleaved, sweep_points, SweepPoint};
pub use table::Pattern;

use crate::dtype::DType;
use crate::{Error, Result};

/// Operator family: patterns of one family share inputs, shapes and the underlying kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Matmul with bias and activation epilogues.
    Linear,
    /// Convolution with batch-norm and activation.
    Conv,
    /// Scaled dot-product attention pieces.
    Attention,
    /// A residual add followed by a row normalization (LayerNorm, RMSNorm).
    Norm,
    /// Depthwise convolution (groups = channels) with batch-norm and activation.
    Depthwise,
}

impl Family {
    /// All families in calibration order.
    pub const ALL: [Family; 5] = [
        Family::Linear,
        Family::Conv,
        Family::Attention,
        Family::Norm,
        Family::Depthwise,
    ];

    /// Name used by `--fusion-patterns` (`linear`, `conv`, `attention`, `norm`,
    /// `depthwise`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Linear => "linear",
            Family::Conv => "conv",
            Family::Attention => "attention",
            Family::Norm => "norm",
            Family::Depthwise => "depthwise",
        }
    }

    /// The patterns of this family, in calibration order.
    pub fn patterns(self) -> impl Iterator<Item = Pattern> {
        Pattern::ALL.into_iter().filter(move |p| p.family() == self)
    }
}

impl Pattern {
    /// Canonical name, as written in profiles (`Linear_Bias_ReLU`).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Looks a pattern up by its canonical name (exact match).
    pub fn from_name(name: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The family this pattern belongs to.
    pub fn family(self) -> Family {
        self.spec().family
    }

    /// The operators the unfused variant runs as separate kernels, in order.
    pub fn operators(self) -> &'static [Op] {
        self.spec().operators
    }

    /// What the fused kernel applies besides its main operator.
    pub fn epilogue(self) -> Epilogue {
        self.spec().epilogue
    }

    /// The activation at the end of the pattern (identity when it has none).
    pub fn activation(self) -> Activation {
        self.spec().epilogue.activation
    }

    /// Whether the pattern has a batch-norm (folded into the weights when fused).
    pub fn has_batch_norm(self) -> bool {
        self.spec().epilogue.batch_norm
    }

    /// The output viewed as rows × columns for verification: linear `m × n`; conv
    /// `(batch·cout) × (oh·ow)`; attention `(batch·S) × D` when the probabilities are multiplied
    /// by `V`, else the scores `(batch·S) × S`; norm `rows × hidden`, followed by as many rows
    /// of sums when the pattern writes them ([`Epilogue::writes_sum`]).
    pub fn output_rows_cols(self, shape: &Shape) -> (usize, usize) {
        let e = self.epilogue();
        let (rows, cols) = shape.output_rows_cols(e.value_matmul);
        if e.writes_sum {
            (2 * rows, cols)
        } else {
            (rows, cols)
        }
    }

    /// Shapes measured by `preset`, smallest first.
    pub fn shapes(self, preset: Preset) -> Vec<Shape> {
        shape::preset_shapes(self.family(), preset)
    }

    /// Floating-point operations of one execution (the original's convention).
    pub fn flops(self, shape: &Shape) -> u64 {
        formulas::flops(self.spec(), shape)
    }

    /// Bytes moved by the unfused chain (the original's convention, fp32).
    pub fn unfused_bytes(self, shape: &Shape) -> u64 {
        self.unfused_bytes_in(shape, DType::F32)
    }

    /// Bytes moved by the fused kernel (the original's convention, fp32).
    pub fn fused_bytes(self, shape: &Shape) -> u64 {
        self.fused_bytes_in(shape, DType::F32)
    }

    /// Bytes moved by the unfused chain with elements of `dtype`.
    pub fn unfused_bytes_in(self, shape: &Shape, dtype: DType) -> u64 {
        formulas::unfused_bytes(self.spec(), shape, dtype)
    }

    /// Bytes moved by the fused kernel with elements of `dtype`.
    pub fn fused_bytes_in(self, shape: &Shape, dtype: DType) -> u64 {
        formulas::fused_bytes(self.spec(), shape, dtype)
    }

    /// Checks that `shape` belongs to this pattern's family.
    pub fn check_shape(self, shape: &Shape) -> Result<()> {
        if shape.family() == self.family() {
            Ok(())
        } else {
            Err(Error::usage(format!(
                "pattern {} takes a {} shape, got {}",
                self.name(),
                self.family().name(),
                shape.label()
            )))
        }
    }
}

/// Parses `--fusion-patterns`: comma-separated families (`linear`, `conv`, `attention`,
/// `norm`, `depthwise`, `all`) and/or canonical pattern names. Returns patterns in calibration order, without duplicates.
pub fn parse_pattern_list(spec: &str) -> Result<Vec<Pattern>> {
    let mut chosen = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let lower = item.to_ascii_lowercase();
        if lower == "all" {
            chosen.extend(Pattern::ALL);
        } else if let Some(f) = Family::ALL.into_iter().find(|f| f.name() == lower) {
            chosen.extend(f.patterns());
        } else if let Some(p) = Pattern::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(item))
        {
            chosen.push(p);
        } else {
            let names: Vec<&str> = Pattern::ALL.iter().map(|p| p.name()).collect();
            let families: Vec<&str> = Family::ALL.iter().map(|f| f.name()).collect();
            return Err(Error::usage(format!(
                "unknown fusion pattern `{item}`: use {}, all or one of {}",
                families.join(", "),
                names.join(", ")
            )));
        }
    }
    if chosen.is_empty() {
        return Err(Error::usage(
            "--fusion-patterns is empty: use a family (linear, conv, attention, norm, \
             depthwise), all or pattern names",
        ));
    }
    chosen.sort();
    chosen.dedup();
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Pattern::ALL {
            assert_eq!(Pattern::from_name(p.name()), Some(p));
        }
    }

    #[test]
    fn pattern_lists_expand_families_and_reject_unknown_names() {
        assert_eq!(parse_pattern_list("all").unwrap().len(), Pattern::ALL.len());
        assert_eq!(parse_pattern_list("norm").unwrap().len(), 2);
        assert_eq!(
            parse_pattern_list("conv, linear").unwrap()[0],
            Pattern::LinearBias
        );
        assert_eq!(
            parse_pattern_list("FullAttention,attention").unwrap().len(),
            Family::Attention.patterns().count()
        );
        let err = parse_pattern_list("linear,Conv_BN_Sigmoid").unwrap_err();
        assert!(err.to_string().contains("Conv_BN_Sigmoid"), "{err}");
        assert!(parse_pattern_list(" , ").is_err());
    }
}
