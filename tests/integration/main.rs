//! hwcal's integration tests, one binary: the CLI end to end, the profile format against the
//! Python calibrator's real files, and every GPU kernel on whatever adapter exists (lavapipe in
//! CI).

mod cli;
mod compare;
mod fuzz;
mod gpu;
mod plan;
mod profile_fixtures;
mod robustness;
