//! STREAM copy and triad (`shaders/stream.wgsl`): vec4 loads and stores, grid-stride loops,
//! arrays initialised on the device with [`crate::pattern::stream_init`] (no host copy).
//!
//! An array larger than one storage binding (`max_storage_buffer_binding_size`) is bound in
//! pieces, one dispatch per piece in the same pass, so the size is limited by
//! `max_buffer_size` only.

use super::buffers::{raw_storage, uniform};
use super::context::GpuContext;
use super::pipelines::{Kernel, Shader, PARAMS_2IN_1OUT};
use super::timer::{Chain, Dispatch};
use super::work::{grid_1d, GpuWork, VariantWork};
use crate::backend::Variant;
use crate::pattern::TRIAD_SCALAR;
use crate::{Error, Result};

/// Which STREAM kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKernel {
    /// `c = a`.
    Copy,
    /// `a = b + s·c`.
    Triad,
}

const fn kernel(entry: &'static str) -> Kernel {
    Kernel {
        shader: Shader::Stream,
        entry,
        slots: PARAMS_2IN_1OUT,
    }
}

const COPY: Kernel = kernel("copy");
const TRIAD: Kernel = kernel("triad");
const FILL: Kernel = kernel("fill");

/// One piece of the arrays, bound at the same offset in each.
struct Piece {
    offset: u64,
    bytes: u64,
    /// Index of its first element.
    base: u64,
}

fn pieces(ctx: &GpuContext, total: u64, label: &str) -> Result<Vec<Piece>> {
    let align = ctx.limits.min_storage_buffer_offset_alignment.max(16) as u64;
    let per = (ctx.limits.max_storage_buffer_binding_size / align) * align;
    if per == 0 {
        return Err(Error::DeviceLimit(format!(
            "{label}: this adapter's max_storage_buffer_binding_size ({} B) is below one \
             aligned piece ({align} B)",
            ctx.limits.max_storage_buffer_binding_size
        )));
    }
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < total {
        let bytes = per.min(total - offset);
        out.push(Piece {
            offset,
            bytes,
            base: offset / 4,
        });
        offset += bytes;
    }
    Ok(out)
}

fn binding<'b>(buffer: &'b wgpu::Buffer, piece: &Piece) -> wgpu::BindingResource<'b> {
    wgpu::BindingResource::Buffer(wgpu::BufferBinding {
        buffer,
        offset: piece.offset,
        size: wgpu::BufferSize::new(piece.bytes),
    })
}

/// Dispatches of `kernel` over every piece: `z = f(x, y)`.
#[allow(clippy::too_many_arguments)]
fn sweep(
    ctx: &GpuContext,
    kernel: &Kernel,
    pieces: &[Piece],
    x: &wgpu::Buffer,
    y: Option<&wgpu::Buffer>,
    z: &wgpu::Buffer,
    which: u32,
    label: &str,
) -> Result<Vec<Dispatch>> {
    let constants = [("SCALAR", TRIAD_SCALAR as f64)];
    let constants: &[(&str, f64)] = if kernel.entry == "triad" {
        &constants
    } else {
        &[]
    };
    pieces
        .iter()
        .map(|piece| {
            let n4 = piece.bytes / 16;
            let (groups, stride) = grid_1d(ctx, n4);
            let params = uniform(ctx, &[n4 as u32, stride, piece.base as u32, which], label)?;
            let y_binding = match y {
                Some(y) => binding(y, piece),
                None => ctx.dummy.as_entire_binding(),
            };
            ctx.dispatch(
                kernel,
                constants,
                &[
                    params.as_entire_binding(),
                    binding(x, piece),
                    y_binding,
                    binding(z, piece),
                ],
                [groups, 1, 1],
                label,
            )
        })
        .collect()
}

/// Allocates and initialises the three arrays on the device and builds the kernel's chain.
pub(crate) fn prepare<'a>(
    ctx: &'a GpuContext,
    which: StreamKernel,
    elements: usize,
    label: String,
) -> Result<GpuWork<'a>> {
    if elements == 0 {
        return Err(Error::usage("stream arrays must hold at least one element"));
    }
    let vec4s = (elements as u64).div_ceil(4);
    if vec4s * 4 > u32::MAX as u64 {
        return Err(Error::DeviceLimit(format!(
            "{label}: {elements} elements per array exceed the kernels' 32-bit indexing; \
             choose a smaller size"
        )));
    }
    let bytes = vec4s * 16;
    let pieces = pieces(ctx, bytes, &label)?;
    let arrays = ["stream array a", "stream array b", "stream array c"]
        .iter()
        .map(|what| raw_storage(ctx, bytes, what, &label))
        .collect::<Result<Vec<_>>>()?;
    let (a, b, c) = (&arrays[0], &arrays[1], &arrays[2]);

    // Initialise a, b and c once, on the device.
    let mut fills = Vec::new();
    for (i, z) in arrays.iter().enumerate() {
        let x = &arrays[(i + 1) % 3];
        fills.extend(sweep(ctx, &FILL, &pieces, x, None, z, i as u32, &label)?);
    }
    super::timer::run_once(ctx, &Chain::new(fills), &format!("initialising {label}"))?;

    let (dispatches, output) = match which {
        StreamKernel::Copy => (sweep(ctx, &COPY, &pieces, a, None, c, 0, &label)?, c),
        StreamKernel::Triad => (sweep(ctx, &TRIAD, &pieces, b, Some(c), a, 0, &label)?, a),
    };
    let work = VariantWork {
        variant: Variant::Single,
        chain: Chain::new(dispatches),
        output: output.clone(),
        len: elements,
    };
    GpuWork::new(ctx, label, vec![work], arrays)
}
