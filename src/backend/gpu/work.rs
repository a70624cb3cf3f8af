//! A prepared GPU workload: for each variant, its chain of dispatches and its output buffer.
//! The family files (`stream`, `linear`, `conv`, `attention`) only build these; running,
//! timing and reading back is the same for all of them.

use super::buffers;
use super::context::GpuContext;
use super::pipelines::Kernel;
use super::timer::{Chain, Dispatch, Timer};
use crate::backend::{Prepared, Variant};
use crate::{Error, Result};
use std::time::Duration;

/// Threads per workgroup of the 1-D kernels (stream, elementwise, softmax).
pub(crate) const WG_1D: u32 = 256;

/// Workgroups of a grid-stride kernel over `items` work items of `WG_1D` threads: enough to
/// fill any current GPU, never more than one dimension allows. Returns (groups, stride).
pub(crate) fn grid_1d(ctx: &GpuContext, items: u64) -> (u32, u32) {
    let cap = ctx
        .limits
        .max_compute_workgroups_per_dimension
        .clamp(1, 65_535) as u64;
    let groups = items.div_ceil(WG_1D as u64).clamp(1, cap) as u32;
    (groups, groups * WG_1D)
}

impl GpuContext {
    /// One dispatch of `kernel` (with override `constants`) over `groups`, binding
    /// `resources` in order.
    pub(crate) fn dispatch(
        &self,
        kernel: &Kernel,
        constants: &[(&'static str, f64)],
        resources: &[wgpu::BindingResource<'_>],
        groups: [u32; 3],
        label: &str,
    ) -> Result<Dispatch> {
        let p = self.pipeline(kernel, constants)?;
        let bind_group = buffers::bind(self, &p, resources, label)?;
        Ok(Dispatch {
            pipeline: p.pipeline,
            bind_group,
            groups,
        })
    }
}

/// One variant: its dispatches and where its result lands.
pub(crate) struct VariantWork {
    pub variant: Variant,
    pub chain: Chain,
    pub output: wgpu::Buffer,
    pub len: usize,
}

impl VariantWork {
    /// The two variants of a fusion pattern: the unfused chain of dispatches and the fused one,
    /// each writing `len` elements to its own output buffer.
    pub fn pattern_pair(
        unfused: Vec<Dispatch>,
        unfused_out: &wgpu::Buffer,
        fused: Vec<Dispatch>,
        fused_out: &wgpu::Buffer,
        len: usize,
    ) -> Vec<VariantWork> {
        vec![
            VariantWork {
                variant: Variant::Unfused,
                chain: Chain::new(unfused),
                output: unfused_out.clone(),
                len,
            },
            VariantWork {
                variant: Variant::Fused,
                chain: Chain::new(fused),
                output: fused_out.clone(),
                len,
            },
        ]
    }
}

/// A workload resident on the device.
pub(crate) struct GpuWork<'a> {
    ctx: &'a GpuContext,
    label: String,
    timer: Timer,
    variants: Vec<VariantWork>,
    /// Buffers the bind groups use, held for the workload's lifetime.
    _buffers: Vec<wgpu::Buffer>,
}

impl<'a> GpuWork<'a> {
    /// Wraps built chains; `buffers` are kept alive with them.
    pub fn new(
        ctx: &'a GpuContext,
        label: String,
        variants: Vec<VariantWork>,
        buffers: Vec<wgpu::Buffer>,
    ) -> Result<Self> {
        let timer = Timer::new(ctx, &label)?;
        ctx.check(&format!("preparing {label}"))?;
        Ok(GpuWork {
            ctx,
            label,
            timer,
            variants,
            _buffers: buffers,
        })
    }
}

/// The work of `variant`, or a usage error naming the workload.
fn find<'v>(
    variants: &'v mut [VariantWork],
    label: &str,
    variant: Variant,
) -> Result<&'v mut VariantWork> {
    variants
        .iter_mut()
        .find(|v| v.variant == variant)
        .ok_or_else(|| Error::usage(format!("{label} has no {} variant", variant.name())))
}

impl Prepared for GpuWork<'_> {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        self.run_batch(variant, 1)
    }

    fn run_batch(&mut self, variant: Variant, iterations: u32) -> Result<Duration> {
        let v = find(&mut self.variants, &self.label, variant)?;
        let label = format!("{} {}", self.label, variant.name());
        self.timer.time(self.ctx, &v.chain, iterations, &label)
    }

    fn output(&mut self, variant: Variant) -> Result<crate::dtype::HostBuffer> {
        let v = find(&mut self.variants, &self.label, variant)?;
        let label = format!("{} {}", self.label, variant.name());
        buffers::read_f32(self.ctx, &v.output, v.len, &label).map(crate::dtype::HostBuffer::F32)
    }
}
