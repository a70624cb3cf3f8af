//! # hwcal — a hardware calibrator for ML compilers and graph partitioners
//!
//! hwcal measures, on *your* device, how fast memory and matmul really are and whether fusing
//! kernels (Linear+Bias+ReLU, Conv+BN+ReLU, attention) pays off. Every kernel's output is checked
//! against an f64 reference before its time is recorded. Results are written as JSON profiles in
//! the format of the Python `graphs` calibrator, keyed by hardware name.
//!
//! Module map:
//! - [`pattern`]: what each fusion pattern is — operators, shapes, FLOP and byte formulas, f64
//!   reference. Every other part keys on it.
//! - [`backend`]: the [`backend::Backend`] trait (only what differs per device) and the CPU
//!   implementation.
//! - [`calibrate`]: the shared calibration loop — verification, warm-up/trial policy,
//!   statistics, profile assembly.
//! - [`stats`]: pure statistics over samples.
//! - [`profile`]: the profile schema, load/save, summary printing.
//! - [`reference`]: external reference measurements (numpy, a C STREAM triad) for `hwcal bench`.
//! - [`error`]: the error type.
#![warn(missing_docs)]

pub mod backend;
pub mod calibrate;
pub mod cost_model;
pub mod error;
pub mod pattern;
pub mod profile;
pub mod reference;
pub mod report;
pub mod stats;

pub use error::{Error, Result};
pub mod bench;
pub mod cli;
pub mod run;
