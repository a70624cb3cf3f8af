//! The GPU backend's stand-in in a build without the `gpu` feature.
//!
//! It has the public names callers use ([`GpuBackend::open`], [`list_adapters`],
//! [`GpuOptions`], …), so the rest of hwcal is written once, with no `cfg` branches: opening
//! an adapter fails with one clear [`Error::NoDevice`] (exit code 2), and there are no adapters
//! to list.

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

/// How to open a device (kept so settings are the same in every build).
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Time on the host around submit + wait even when the adapter has timestamp queries.
    pub host_timing: bool,
    /// Pretend the adapter's `max_storage_buffer_binding_size` is at most this.
    pub max_storage_buffer_binding_size: Option<u64>,
    /// Pretend the adapter's `max_buffer_size` is at most this.
    pub max_buffer_size: Option<u64>,
}

impl GpuOptions {
    /// Defaults, with `HWCAL_GPU_TIMING=host` forcing host timing.
    pub fn from_env() -> Self {
        GpuOptions {
            host_timing: std::env::var("HWCAL_GPU_TIMING")
                .is_ok_and(|v| v.eq_ignore_ascii_case("host")),
            ..GpuOptions::default()
        }
    }
}

/// One GPU adapter as `hwcal devices` lists it (none in this build).
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    /// Position in the enumeration: what `--device <index>` selects.
    pub index: usize,
    /// Adapter name (what profiles of this device are keyed by).
    pub name: String,
    /// Graphics API the adapter is driven through (`vulkan`, `metal`, `dx12`).
    pub backend: String,
    /// Kind of device (`DiscreteGpu`, `IntegratedGpu`, `Cpu` for software rasterisers, …).
    pub device_type: String,
    /// Driver name.
    pub driver: String,
    /// Driver version and details.
    pub driver_info: String,
    /// PCI vendor id (or the API's vendor id).
    pub vendor_id: u32,
    /// PCI device id (or the API's device id).
    pub device_id: u32,
    /// Whether GPU timestamp queries are supported (otherwise kernels are timed on the host).
    pub timestamps: bool,
    /// Whether WGSL `f16` is supported (`SHADER_F16`).
    pub shader_f16: bool,
    /// Whether subgroup operations are supported (`SUBGROUP`).
    pub subgroups: bool,
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
