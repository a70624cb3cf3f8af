//! # hwcal — a hardware calibrator for ML compilers and graph partitioners
//!
//! hwcal measures, on *your* device, how fast memory and matmul really are and whether fusing
//! kernels (Linear+Bias+ReLU, Conv+BN+ReLU, attention) pays off. Every kernel's output is checked
//! against an f64 reference before its time is recorded. Results are written as JSON profiles in
//! the format of the Python `graphs` calibrator, keyed by hardware name.
//!
//! Module map:
//! - [`pattern`]: what each fusion pattern is — one row of the pattern table: typed operators,
//!   the epilogue, shapes, FLOP and byte formulas, inputs and every f64 reference. Every other
//!   part keys on it.
//! - [`dtype`]: element types ([`dtype::DType`]) and kernel outputs in their type
//!   ([`dtype::HostBuffer`]).
//! - [`backend`]: the [`backend::Backend`] trait (only what differs per device), the CPU and
//!   GPU implementations (a stand-in GPU without the `gpu` feature), and [`backend::open`], which
//!   opens the device a [`backend::BackendSelection`] names for every command that measures.
//! - [`calibrate`]: the shared calibration loop — verification, warm-up/trial policy,
//!   statistics, profile assembly.
//! - [`stats`]: pure statistics over samples.
//! - [`analysis`]: what figures mean: the fusion thresholds and verdicts, sweep crossovers
//!   (pure functions; measure → analyse → report).
//! - [`profile`]: the profile schema, load/save, summary printing.
//! - [`report`]: `hwcal compare`: profiles side by side as a table, markdown, JSON or an HTML
//!   page with charts.
//! - [`cost_model`]: fusion decisions from a profile: name normalization, shape-aware
//!   prediction, thresholds, the `plan` partitioner.
//! - [`preflight`]: the machine's state before a calibration: governor, clocks, load, heat, GPU.
//! - [`baseline`]: the baselines `hwcal bench` measures hwcal against (numpy, a C STREAM triad).
//! - [`cli`]: the command line, the only module that knows clap: flags of every subcommand,
//!   turned into the validated settings the library takes.
//! - [`run`], [`mod@bench`]: the commands behind `calibrate`, `show`, `devices` and the speed
//!   targets of `hwcal bench`, each taking its settings.
//! - [`error`]: the error type.
//! - [`text`]: names made safe for terminals, markdown and one-line messages.
//! - [`interrupt`]: Ctrl-C/SIGTERM: stop at the next safe point, keep finished work.
#![warn(missing_docs)]

pub mod analysis;
pub mod backend;
pub mod baseline;
pub mod bench;
pub mod calibrate;
pub mod cli;
pub mod cost_model;
pub mod dtype;
pub mod error;
pub mod interrupt;
pub mod pattern;
pub mod precision;
pub mod preflight;
pub mod profile;
pub mod report;
pub mod run;
pub mod stats;
pub mod text;

pub use error::{Error, Result};
