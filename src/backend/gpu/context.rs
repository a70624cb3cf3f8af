//! The device layer: enumerating adapters, opening a device and queue with the adapter's own
//! limits, and turning everything wgpu reports (validation errors, out-of-memory, a lost
//! device) into [`crate::Error`] instead of a panic.
//!
//! Everything above this file (pipelines, buffers, kernels) is handed a [`GpuContext`], so
//! tests and the calibration loop can share one device.

use super::pipelines::PipelineCache;
use crate::{Error, Result};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

pub use crate::backend::gpu_settings::{AdapterSummary, GpuOptions};

impl AdapterSummary {
    fn of(index: usize, adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let features = adapter.features();
        AdapterSummary {
            index,
            name: info.name,
            backend: info.backend.to_string(),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver,
            driver_info: info.driver_info,
            vendor_id: info.vendor,
            device_id: info.device,
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
            shader_f16: features.contains(wgpu::Features::SHADER_F16),
            subgroups: features.contains(wgpu::Features::SUBGROUP),
        }
    }
}

/// One line telling the user how to get an adapter.
pub(crate) const NO_ADAPTER_HINT: &str = "no GPU adapter found: install a Vulkan driver (e.g. \
     `apt-get install mesa-vulkan-drivers` for the lavapipe software device, or your GPU \
     vendor's driver)";

/// The error when no adapter exists: the hint, and the way round it.
pub(crate) fn no_adapter() -> Error {
    Error::NoDevice(format!("{NO_ADAPTER_HINT}, or use `--backend cpu`"))
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::all();
    wgpu::Instance::new(desc)
}

fn adapters() -> Vec<wgpu::Adapter> {
    pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()))
}

/// Every adapter wgpu can drive on this machine, in enumeration order.
pub fn list_adapters() -> Vec<AdapterSummary> {
    adapters()
        .iter()
        .enumerate()
        .map(|(i, a)| AdapterSummary::of(i, a))
        .collect()
}

/// Picks adapters by `selector`: an index, or a case-insensitive substring of the name (every
/// match, in enumeration order).
pub(crate) fn select(selector: &str) -> Result<Vec<(usize, wgpu::Adapter)>> {
    let all = adapters();
    if all.is_empty() {
        return Err(no_adapter());
    }
    let names = || {
        all.iter()
            .enumerate()
            .map(|(i, a)| format!("{i}: {}", a.get_info().name))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let selector = selector.trim();
    if let Ok(index) = selector.parse::<usize>() {
        let listed = names();
        return all
            .into_iter()
            .nth(index)
            .map(|a| vec![(index, a)])
            .ok_or_else(|| {
                Error::usage(format!(
                    "--device {index}: there is no adapter with that index (adapters: {listed})"
                ))
            });
    }
    let needle = selector.to_lowercase();
    let listed = names();
    let chosen: Vec<(usize, wgpu::Adapter)> = all
        .into_iter()
        .enumerate()
        .filter(|(_, a)| a.get_info().name.to_lowercase().contains(&needle))
        .collect();
    if chosen.is_empty() {
        return Err(Error::usage(format!(
            "--device {selector}: no adapter name contains it (adapters: {listed}); \
             `hwcal devices` lists them"
        )));
    }
    Ok(chosen)
}

/// How WGSL's `dot4I8Packed` (the `packed_4x8_integer_dot_product` language feature, always
/// accepted by naga) becomes machine code on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Dot {
    /// A native packed dot product: SPIR-V `OpSDot` (Vulkan 1.3 or
    /// `VK_KHR_shader_integer_dot_product`, whose `shaderIntegerDotProduct` feature wgpu enables).
    Native,
    /// No packed dot-product instruction: naga multiplies and adds the four bytes one by one
    /// (a Vulkan device without the integer dot product: bit-field extracts; Metal, whose
    /// language has none: `packed_char4` element products).
    Polyfill,
    /// DX12: HLSL `dot4add_i8packed` with shader model 6.4 or later, a polyfill before;
    /// which one wgpu compiles for is not inspected here.
    BackendDefined,
}

impl Int8Dot {
    fn of(adapter: &wgpu::Adapter) -> Self {
        match adapter.get_info().backend {
            wgpu::Backend::Vulkan => {}
            wgpu::Backend::Metal => return Int8Dot::Polyfill,
            _ => return Int8Dot::BackendDefined,
        }
        // SAFETY: the guard is only read (the physical device's properties) and dropped
        // before the adapter is used to open the device; no handle escapes.
        let native = unsafe {
            adapter.as_hal::<wgpu::hal::api::Vulkan>().map(|hal| {
                let caps = hal.physical_device_capabilities();
                let version = caps.properties().api_version;
                // VK_API_VERSION_MAJOR / MINOR.
                let (major, minor) = ((version >> 22) & 0x7f, (version >> 12) & 0x3ff);
                (major, minor) >= (1, 3)
                    || caps.supports_extension(c"VK_KHR_shader_integer_dot_product")
            })
        };
        match native {
            Some(true) => Int8Dot::Native,
            Some(false) => Int8Dot::Polyfill,
            None => Int8Dot::BackendDefined,
        }
    }

    /// One line for the profile's details.
    pub fn describe(self) -> &'static str {
        match self {
            Int8Dot::Native => "native (SPIR-V OpSDot, VK_KHR_shader_integer_dot_product)",
            Int8Dot::Polyfill => {
                "polyfill (naga multiplies and adds the bytes one by one: no packed integer \
                 dot-product instruction)"
            }
            Int8Dot::BackendDefined => {
                "backend-defined (DX12 dot4add_i8packed from shader model 6.4; not inspected)"
            }
        }
    }
}

/// Errors wgpu reported outside an error scope (from submissions, a lost device).
type Sink = Arc<Mutex<Vec<String>>>;

/// An open device: adapter description, device, queue, the limits kernels are checked
/// against, and the pipeline cache.
pub struct GpuContext {
    /// Index of the adapter in [`list_adapters`].
    pub index: usize,
    /// The adapter's description.
    pub info: wgpu::AdapterInfo,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Limits kernels are checked against: the adapter's, lowered by [`GpuOptions`].
    pub limits: wgpu::Limits,
    /// Whether kernels are timed with GPU timestamp queries.
    pub timestamps: bool,
    /// Nanoseconds per timestamp tick.
    pub timestamp_period: f64,
    /// Whether the device was opened with `SHADER_F16` (WGSL `enable f16;`), requested
    /// whenever the adapter has it.
    pub shader_f16: bool,
    /// How naga lowers WGSL's `dot4I8Packed` on this device.
    pub int8_dot: Int8Dot,
    adapter_features: wgpu::Features,
    errors: Sink,
    pub(crate) pipelines: PipelineCache,
    /// A small buffer bound to binding slots a kernel variant does not read.
    pub(crate) dummy: wgpu::Buffer,
}

impl GpuContext {
    /// Opens a device on `adapter` with the adapter's own limits (so large buffers are allowed)
    /// and timestamp queries when it has them.
    pub(crate) fn open(index: usize, adapter: wgpu::Adapter, options: &GpuOptions) -> Result<Self> {
        let info = adapter.get_info();
        let adapter_features = adapter.features();
        let timestamps =
            adapter_features.contains(wgpu::Features::TIMESTAMP_QUERY) && !options.host_timing;
        let mut required_features = if timestamps {
            wgpu::Features::TIMESTAMP_QUERY
        } else {
            wgpu::Features::empty()
        };
        // f16 arithmetic and storage where the adapter has it; never required.
        let shader_f16 = adapter_features.contains(wgpu::Features::SHADER_F16);
        if shader_f16 {
            required_features |= wgpu::Features::SHADER_F16;
        }
        let int8_dot = Int8Dot::of(&adapter);
        let adapter_limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("hwcal"),
            required_features,
            required_limits: adapter_limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| {
            Error::NoDevice(format!(
                "cannot open a device on adapter {index} ({}): {e}",
                info.name
            ))
        })?;
        let errors: Sink = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let sink = errors.clone();
        device.set_device_lost_callback(move |reason, message| {
            if reason != wgpu::DeviceLostReason::Destroyed {
                if let Ok(mut v) = sink.lock() {
                    v.push(format!("device lost: {message}"));
                }
            }
        });
        let mut limits = adapter_limits;
        if let Some(cap) = options.max_storage_buffer_binding_size {
            limits.max_storage_buffer_binding_size =
                limits.max_storage_buffer_binding_size.min(cap);
        }
        if let Some(cap) = options.max_buffer_size {
            limits.max_buffer_size = limits.max_buffer_size.min(cap);
        }
        let dummy = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("unused binding"),
            size: 256,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let timestamp_period = queue.get_timestamp_period() as f64;
        Ok(GpuContext {
            index,
            info,
            device,
            queue,
            limits,
            timestamps,
            timestamp_period,
            shader_f16,
            int8_dot,
            adapter_features,
            errors,
            pipelines: PipelineCache::default(),
            dummy,
        })
    }

    /// How kernel times are taken on this device.
    pub fn timing_method(&self) -> &'static str {
        if self.timestamps {
            "gpu_timestamp_query"
        } else {
            "host_submit_wait"
        }
    }

    /// This adapter as [`list_adapters`] describes it.
    pub fn summary(&self) -> AdapterSummary {
        let f = self.adapter_features;
        AdapterSummary {
            index: self.index,
            name: self.info.name.clone(),
            backend: self.info.backend.to_string(),
            device_type: format!("{:?}", self.info.device_type),
            driver: self.info.driver.clone(),
            driver_info: self.info.driver_info.clone(),
            vendor_id: self.info.vendor,
            device_id: self.info.device,
            timestamps: f.contains(wgpu::Features::TIMESTAMP_QUERY),
            shader_f16: f.contains(wgpu::Features::SHADER_F16),
            subgroups: f.contains(wgpu::Features::SUBGROUP),
        }
    }

    /// Adapter, driver, features and the limits that matter, as JSON for the profile.
    pub fn details(&self) -> Value {
        let l = &self.limits;
        json!({
            "adapter": serde_json::to_value(self.summary()).unwrap_or(Value::Null),
            "pci_bus_id": self.info.device_pci_bus_id,
            "subgroup_size": [self.info.subgroup_min_size, self.info.subgroup_max_size],
            "timing_method": self.timing_method(),
            "timestamp_period_ns": self.timestamp_period,
            "shader_f16": self.shader_f16,
            "packed_int8_dot": self.int8_dot.describe(),
            "limits": {
                "max_buffer_size": l.max_buffer_size,
                "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
                "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
                "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
                "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
                "min_storage_buffer_offset_alignment": l.min_storage_buffer_offset_alignment,
            },
            "wgpu": "30",
        })
    }

    /// Runs `f` (resource and pipeline creation) inside error scopes and returns what wgpu
    /// reported as an error naming `what`.
    pub(crate) fn guarded<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let invalid = pollster::block_on(validation.pop());
        let out_of_memory = pollster::block_on(oom.pop());
        if let Some(e) = out_of_memory {
            return Err(Error::DeviceLimit(format!(
                "out of GPU memory while {what}: {e}; choose a smaller size"
            )));
        }
        if let Some(e) = invalid {
            return Err(gpu_error(what, &e.to_string()));
        }
        self.check(what)?;
        Ok(value)
    }

    /// Fails with the first error wgpu reported outside a scope since the last check.
    pub(crate) fn check(&self, what: &str) -> Result<()> {
        let first = match self.errors.lock() {
            Ok(mut v) => {
                let first = v.first().cloned();
                v.clear();
                first
            }
            Err(_) => None,
        };
        match first {
            Some(e) => Err(gpu_error(what, &e)),
            None => Ok(()),
        }
    }

    /// Blocks until the queue is idle.
    pub(crate) fn wait(&self, what: &str) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| gpu_error(what, &e.to_string()))?;
        self.check(what)
    }

    /// Fails with [`Error::DeviceLimit`] unless a buffer of `bytes` bound whole as storage
    /// fits this device.
    pub(crate) fn check_storage(&self, bytes: u64, what: &str, label: &str) -> Result<()> {
        self.check_buffer(bytes, what, label)?;
        let max = self.limits.max_storage_buffer_binding_size;
        if bytes > max {
            return Err(Error::DeviceLimit(format!(
                "{label}: {what} needs a {} storage binding but this adapter's \
                 max_storage_buffer_binding_size is {}; choose a smaller size",
                bytes_text(bytes),
                bytes_text(max)
            )));
        }
        if bytes / 4 > u32::MAX as u64 {
            return Err(Error::DeviceLimit(format!(
                "{label}: {what} holds {} elements but the kernels index with 32 bits; \
                 choose a smaller size",
                bytes / 4
            )));
        }
        Ok(())
    }

    /// Fails with [`Error::DeviceLimit`] unless a buffer of `bytes` fits `max_buffer_size`.
    pub(crate) fn check_buffer(&self, bytes: u64, what: &str, label: &str) -> Result<()> {
        let max = self.limits.max_buffer_size;
        if bytes > max {
            return Err(Error::DeviceLimit(format!(
                "{label}: {what} needs a {} buffer but this adapter's max_buffer_size is {}; \
                 choose a smaller size",
                bytes_text(bytes),
                bytes_text(max)
            )));
        }
        Ok(())
    }

    /// Fails with [`Error::DeviceLimit`] unless a grid of `groups` workgroups can be dispatched.
    pub(crate) fn check_groups(
        &self,
        groups: [u64; 3],
        what: &str,
        label: &str,
    ) -> Result<[u32; 3]> {
        let max = self.limits.max_compute_workgroups_per_dimension;
        let mut out = [1u32; 3];
        for (axis, (&g, o)) in groups.iter().zip(out.iter_mut()).enumerate() {
            if g > max as u64 {
                return Err(Error::DeviceLimit(format!(
                    "{label}: {what} needs {g} workgroups along {} but this adapter's \
                     max_compute_workgroups_per_dimension is {max}; choose a smaller size",
                    ["x", "y", "z"][axis]
                )));
            }
            *o = g as u32;
        }
        Ok(out)
    }

    /// Fails with [`Error::DeviceLimit`] unless kernels with `invocations` threads and
    /// `shared_bytes` of workgroup memory run here.
    pub(crate) fn check_workgroup(
        &self,
        invocations: u32,
        shared_bytes: u32,
        what: &str,
    ) -> Result<()> {
        let l = &self.limits;
        if invocations > l.max_compute_invocations_per_workgroup {
            return Err(Error::DeviceLimit(format!(
                "{what} uses {invocations} invocations per workgroup but this adapter's \
                 max_compute_invocations_per_workgroup is {}",
                l.max_compute_invocations_per_workgroup
            )));
        }
        if shared_bytes > l.max_compute_workgroup_storage_size {
            return Err(Error::DeviceLimit(format!(
                "{what} uses {shared_bytes} B of workgroup memory but this adapter's \
                 max_compute_workgroup_storage_size is {} B",
                l.max_compute_workgroup_storage_size
            )));
        }
        Ok(())
    }
}

/// A wgpu error during `what`. There is no dedicated variant for driver or validation
/// failures, so they are reported as a device limit (exit code 2) with wgpu's message.
pub(crate) fn gpu_error(what: &str, message: &str) -> Error {
    let message = message.trim().replace('\n', " ");
    Error::Gpu(format!("the GPU rejected {what}: {message}"))
}

/// `1.5 GiB`, `128 MiB`, `4 KiB`, `12 B`.
pub(crate) fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.3} {} ({bytes} B)", UNITS[u]).replace(".000 ", " ")
    }
}
