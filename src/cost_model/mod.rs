//! The fusion cost model: profiles decide what to fuse.
//!
//! This is the seed's "Graph Partitioner Integration" made real. A partitioner asks a
//! [`CostModel`] built from a device's profile whether fusing a chain of operators pays on that
//! device:
//!
//! - [`names`]: operator and pattern names as frameworks write them (`Conv2d_BatchNorm2d_ReLU`,
//!   `aten::addmm`, ONNX `Gemm`, the Python calibrator's `FullAttention_SDPA`) resolve to the
//!   canonical [`crate::pattern::Pattern`]; anything else is "no data", never a default speedup.
//! - [`predict`]: latency of a pattern at any shape — measured, interpolated over the profile's
//!   points in log space, or a roofline estimate from the measured bandwidth and GFLOPS.
//! - [`threshold`]: the fusion threshold the profile's own measurement noise supports.
//! - [`graph`], [`units`], [`planner`], [`cover`]: a small JSON operator graph, its fusable
//!   units, and the partitioning of `hwcal plan`: candidate patterns along chains, the cover of
//!   each chain with the least predicted time chosen by dynamic programming; [`verify`]
//!   measures the candidates to check the decisions; [`report`] renders the result;
//!   [`command`] is the entry point the CLI calls, with its settings.
//! - [`limits`]: every bound on the numbers a graph (or a profile's shape) may hold, and the
//!   memory `--verify` may use; products are checked against them, never wrapped around.
//!
//! The design and the graph format are described in `docs/cost-model.md`.

pub mod command;
pub mod cover;
pub mod graph;
pub mod limits;
mod model;
pub mod names;
pub mod planner;
pub mod predict;
pub mod report;
pub mod threshold;
pub mod units;
pub mod verify;

#[cfg(test)]
pub(crate) mod testutil;

pub use graph::Graph;
pub use model::{CostModel, Decision};
pub use names::{pattern_of_chain, resolve_pattern};
pub use planner::{plan, Plan};
pub use predict::{Prediction, Source};
pub use threshold::{ThresholdAdvice, DEFAULT_THRESHOLD};
