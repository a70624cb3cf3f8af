//! GPU backend: the same kernels as the CPU backend, as WGSL compute shaders run through wgpu
//! (Vulkan, Metal, DX12), timed with GPU timestamp queries where the adapter has them.
//!
//! Layered like the wgpu examples, so tests can hand any layer a device:
//! - [`context`]: adapters, device and queue, limits, features, wgpu errors as
//!   [`crate::Error`];
//! - [`pipelines`]: the WGSL sources in `shaders/` and the pipeline cache; `compile` builds
//!   what the cache misses on the context's device;
//! - `timer`: timestamp queries, or host timing around submit + wait;
//! - `buffers`: upload, storage, uniforms, read-back;
//! - one file per kernel family, mirroring `src/backend/cpu/`: `stream`, `linear` (and plain
//!   matmul), `conv`, `depthwise`, `attention`, `norm`, `elementwise`, and per precision
//!   [`peak`] and [`precision_matmul`]; `work` runs and reads back what they build.
//!
//! Device, pipelines and buffers are built once per workload in [`Backend::prepare`]; every
//! [`crate::backend::Prepared::run`] is one submission of one compute pass (all dispatches of
//! the unfused chain, or the one fused dispatch) and returns its device time.

mod attention;
mod buffers;
mod compile;
pub mod context;
mod conv;
mod depthwise;
mod elementwise;
mod linear;
mod norm;
pub mod peak;
pub mod pipelines;
pub mod precision_matmul;
mod stream;
mod timer;
mod work;

pub use context::{list_adapters, AdapterSummary, GpuContext, GpuOptions, Int8Dot};

/// What `hwcal devices` says when [`list_adapters`] is empty.
pub fn no_adapters_hint() -> &'static str {
    context::NO_ADAPTER_HINT
}

use crate::backend::{Backend, DeviceInfo, Prepared, Workload};
use crate::pattern::InputSlices;
use crate::Result;

/// The GPU backend on one adapter.
pub struct GpuBackend {
    ctx: GpuContext,
    info: DeviceInfo,
}

impl GpuBackend {
    /// Opens the adapter chosen by `selector` (an index into [`list_adapters`], or a
    /// case-insensitive substring of its name; the first match wins), with options from the
    /// environment (`HWCAL_GPU_TIMING=host` forces host timing).
    pub fn open(selector: &str) -> Result<GpuBackend> {
        Self::open_with(selector, &GpuOptions::from_env())
    }

    /// [`GpuBackend::open`] with explicit options.
    pub fn open_with(selector: &str, options: &GpuOptions) -> Result<GpuBackend> {
        let (index, adapter) = context::select(selector)?
            .into_iter()
            .next()
            .ok_or_else(context::no_adapter)?;
        Self::from_adapter(index, adapter, options)
    }

    /// Opens every adapter, in [`list_adapters`] order.
    pub fn open_all() -> Result<Vec<GpuBackend>> {
        Self::open_all_with(&GpuOptions::from_env())
    }

    /// [`GpuBackend::open_all`] with explicit options.
    pub fn open_all_with(options: &GpuOptions) -> Result<Vec<GpuBackend>> {
        context::select("")?
            .into_iter()
            .map(|(i, a)| Self::from_adapter(i, a, options))
            .collect()
    }

    fn from_adapter(index: usize, adapter: wgpu::Adapter, options: &GpuOptions) -> Result<Self> {
        let ctx = GpuContext::open(index, adapter, options)?;
        let host = crate::backend::cpu::device::describe(1);
        let info = DeviceInfo {
            backend: "gpu",
            name: ctx.info.name.clone(),
            cpu_model: host.cpu_model,
            cpu_count: host.cpu_count,
            total_memory_gb: host.total_memory_gb,
            threads: 1,
            timing_method: ctx.timing_method(),
            // Clocks, core counts and memory buses are not exposed portably.
            peak_gflops: None,
            theoretical_peaks: Vec::new(),
            peak_bandwidth_gbps: None,
            details: ctx.details(),
        };
        Ok(GpuBackend { ctx, info })
    }

    /// The device this backend runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }
}

impl Backend for GpuBackend {
    fn device(&self) -> &DeviceInfo {
        &self.info
    }

    fn prepare<'a>(&'a self, workload: &Workload<'a>) -> Result<Box<dyn Prepared + 'a>> {
        let ctx = &self.ctx;
        let label = workload.label();
        let work = match *workload {
            Workload::Copy { elements } => {
                stream::prepare(ctx, stream::StreamKernel::Copy, elements, label)?
            }
            Workload::Triad { elements } => {
                stream::prepare(ctx, stream::StreamKernel::Triad, elements, label)?
            }
            Workload::Matmul { n, ref a, ref b } => {
                let (a, b) = crate::backend::matmul_operands(n, a, b)?;
                linear::prepare_matmul(ctx, n, a, b, label)?
            }
            Workload::Pattern {
                pattern,
                shape,
                inputs,
            } => {
                pattern.check_shape(&shape)?;
                shape.validate()?;
                match inputs.slices(pattern, &shape)? {
                    InputSlices::Linear {
                        x,
                        w,
                        bias,
                        residual,
                        w_up,
                    } => {
                        let inputs = linear::LinearInputs {
                            x,
                            w,
                            bias,
                            residual,
                            w_up,
                        };
                        linear::prepare_linear(ctx, pattern, shape, inputs, label)?
                    }
                    InputSlices::Conv {
                        x,
                        w,
                        bias,
                        bn,
                        residual,
                    } => conv::prepare(ctx, pattern, shape, (x, w, bias, bn), residual, label)?,
                    InputSlices::Attention { q, k, v } => {
                        attention::prepare(ctx, pattern, shape, (q, k, v), label)?
                    }
                    InputSlices::Norm {
                        x,
                        residual,
                        gamma,
                        beta,
                        eps,
                    } => {
                        let inputs = norm::NormInputs {
                            x,
                            residual,
                            gamma,
                            beta,
                            eps,
                        };
                        norm::prepare(ctx, pattern, shape, inputs, label)?
                    }
                    InputSlices::Depthwise { x, w, bias, bn } => {
                        depthwise::prepare(ctx, pattern, shape, (x, w, bias, bn), label)?
                    }
                }
            }
            Workload::Peak { precision, width } => {
                return Ok(Box::new(peak::prepare(ctx, precision, width, label)?));
            }
            Workload::PrecisionMatmul { inputs } => {
                return Ok(Box::new(precision_matmul::prepare(ctx, inputs, label)?));
            }
        };
        Ok(Box::new(work))
    }
}
