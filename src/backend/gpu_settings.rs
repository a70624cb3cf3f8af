//! The GPU types that exist in every build, with or without the `gpu` feature: how to open an
//! adapter ([`GpuOptions`]) and what `hwcal devices` says of one ([`AdapterSummary`]). The
//! real backend (`gpu/`) and its stand-in (`gpu_stub.rs`) both re-export them, so settings and
//! listings are one type whatever was built.

/// How to open a device.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Time on the host around submit + wait even when the adapter has timestamp queries.
    pub host_timing: bool,
    /// Pretend the adapter's `max_storage_buffer_binding_size` is at most this (tests of the
    /// device-limit errors).
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

/// One adapter as `hwcal devices` lists it.
#[derive(Clone, Debug, serde::Serialize)]
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
