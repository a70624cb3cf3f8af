//! The library's error type.
//!
//! One enum for everything that can go wrong inside hwcal. Messages are lowercase, name the
//! thing at fault (pattern, size, device, flag or path) and, where there is one, the way out.
//! The binary maps [`Error::exit_code`] to the process exit status.

use std::path::PathBuf;

/// Everything hwcal's library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user-supplied value (flag, pattern name, size) is not acceptable.
    #[error("{0}")]
    Usage(String),

    /// A kernel produced output that disagrees with the f64 reference.
    #[error("verification failed for {what}: {detail}; nothing was recorded for it")]
    Verification {
        /// The kernel variant that failed, e.g. `Linear_Bias_ReLU fused (128x512x512)`.
        what: String,
        /// Where and by how much it disagreed.
        detail: String,
    },

    /// A size does not fit the device (memory, buffer or dispatch limits).
    #[error("{0}")]
    DeviceLimit(String),

    /// The GPU or its driver rejected an operation (validation, out of memory, lost device).
    #[error("{0}")]
    Gpu(String),

    /// The device has no native kernel for this precision or workload (the reason says
    /// why, e.g. `fp64: WGSL has no f64 type`); recorded as unsupported, never emulated.
    #[error("{0}")]
    Unsupported(String),

    /// No device of the requested kind is available.
    #[error("{0}")]
    NoDevice(String),

    /// A profile file could not be read, parsed or written.
    #[error("{path}: {message}")]
    Profile {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it, naming the key where there is one.
        message: String,
    },

    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory being accessed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A baseline tool used by `hwcal bench` (python3/numpy, a C compiler) failed.
    #[error("{0}")]
    Baseline(String),
}

impl Error {
    /// Process exit code for this error: 1 when a measurement failed verification, 2 for
    /// everything else (usage, input files, devices and their limits, bench baselines).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Verification { .. } => 1,
            _ => 2,
        }
    }

    /// Shorthand for a usage error.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
