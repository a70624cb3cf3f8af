//! hwcal's integration tests, one binary: the CLI end to end, the profile format against the
//! Python calibrator's real files, every kernel on every backend (the CPU, and whatever GPU
//! adapter exists: lavapipe in CI), and what is particular to the GPU backend.

mod cli;
mod compare;
mod fuzz;
mod gpu;
mod kernels;
mod plan;
mod profile_fixtures;
mod robustness;
