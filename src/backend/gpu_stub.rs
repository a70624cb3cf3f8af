//! The GPU backend's stand-in in a build without the `gpu` feature.
//!
//! It has the public names callers use ([`GpuBackend::open`], [`list_adapters`],
//! [`GpuOptions`], …), so the rest of hwcal is written once, with no `cfg` branches: opening
//! an adapter fails with one clear [`Error::NoDevice`] (exit code 2), and there are no adapters
//! to list.

pub use crate::backend::gpu_settings::{AdapterSummary, GpuOptions};
use crate::backend::{Backend, DeviceInfo, Prepared, Workload};
use crate::{Error, Result};

/// The error every attempt to open a GPU gets in this build.
const BUILT_WITHOUT_GPU: &str = "this hwcal was built without the `gpu` feature: rebuild with default features, or use --backend cpu";

/// The GPU backend, which this build cannot open: no value of it exists.
pub struct GpuBackend {
    never: std::convert::Infallible,
}

impl GpuBackend {
    /// Fails: hwcal was built without the `gpu` feature.
    pub fn open(selector: &str) -> Result<GpuBackend> {
        Self::open_with(selector, &GpuOptions::from_env())
    }

    /// Fails: hwcal was built without the `gpu` feature.
    pub fn open_with(_selector: &str, _options: &GpuOptions) -> Result<GpuBackend> {
        Err(Error::NoDevice(BUILT_WITHOUT_GPU.into()))
    }

    /// Fails: hwcal was built without the `gpu` feature.
    pub fn open_all() -> Result<Vec<GpuBackend>> {
        Self::open_all_with(&GpuOptions::from_env())
    }

    /// Fails: hwcal was built without the `gpu` feature.
    pub fn open_all_with(_options: &GpuOptions) -> Result<Vec<GpuBackend>> {
        Err(Error::NoDevice(BUILT_WITHOUT_GPU.into()))
    }
}

impl Backend for GpuBackend {
    fn device(&self) -> &DeviceInfo {
        match self.never {}
    }

    fn prepare<'a>(&'a self, _workload: &Workload<'a>) -> Result<Box<dyn Prepared + 'a>> {
        match self.never {}
    }
}

/// No adapters: this build has no GPU backend.
pub fn list_adapters() -> Vec<AdapterSummary> {
    Vec::new()
}

/// What `hwcal devices` says when [`list_adapters`] is empty.
pub fn no_adapters_hint() -> &'static str {
    "GPU adapters are not listed: this hwcal was built without the `gpu` feature"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_says_how_to_get_a_gpu() {
        for e in [
            GpuBackend::open("0").err().unwrap(),
            GpuBackend::open_all().err().unwrap(),
        ] {
            assert_eq!(e.exit_code(), 2);
            assert!(
                e.to_string().contains("built without the `gpu` feature"),
                "{e}"
            );
        }
        assert!(list_adapters().is_empty());
    }
}
