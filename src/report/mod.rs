//! Reports: `hwcal compare A.json B.json [C.json ...]`, and the calibrate printout.
//!
//! Measure -> analyse -> report: a report reads profiles only and never re-measures.
//! [`analyse::compare`] turns the loaded profiles (hwcal's or the Python calibrator's) into one
//! [`Comparison`]; [`rows`] lays it out as titled tables; the terminal table and markdown
//! ([`text`]), JSON (serde, the [`Comparison`] itself) and HTML ([`html`], with plotters SVG
//! charts from [`charts`]) all render that same structure.
//!
//! - [`command`]: the settings ([`CompareSettings`], [`Format`]) and [`run`].
//! - [`sweep`]: sizes and sweep crossovers ([`crate::analysis::crossover()`]) in words.
//! - [`progress`]: the calibrate printout: a line per recorded measurement and crossover.

pub mod analyse;
pub mod charts;
pub mod command;
pub mod html;
pub mod progress;
pub mod rows;
pub mod sweep;
pub mod text;

pub use analyse::{canonical_pattern, compare, Benefit, Comparison};
pub use command::{render, run, CompareSettings, Format};
