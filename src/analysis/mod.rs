//! The analysis stage: what measured figures mean, as pure functions of numbers (no profiles,
//! no I/O, no text for people).
//!
//! hwcal runs measure → analyse → report: `calibrate` measures, these functions turn figures
//! into conclusions, and the reports (`hwcal show`, `compare`, `plan`, the calibrate printout)
//! say them. Every part reads the same thresholds and crossovers from here.
//!
//! - [`verdict`]: the thresholds speedups are judged by ([`PAYS_THRESHOLD`], ...) and the
//!   verdict of a speedup;
//! - [`crossover`](mod@crossover): the size along a sweep from which fusion pays for good.

pub mod crossover;
pub mod verdict;

pub use crossover::crossover;
pub use verdict::{fusion_verdict, PAYS_THRESHOLD, SLOWER_THRESHOLD, STRONG_THRESHOLD};
