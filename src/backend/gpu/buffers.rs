//! Buffer helpers: uploads (also of the tensors only some patterns read), zeroed storage,
//! uniforms, bind groups and read-back through a staging buffer. Sizes are checked against
//! the device's limits first, so an oversized workload is an [`crate::Error::DeviceLimit`]
//! naming the limit, never a wgpu panic.

use super::context::{gpu_error, GpuContext};
use super::pipelines::Pipeline;
use crate::pattern::Pattern;
use crate::Result;
use wgpu::util::DeviceExt;

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Largest staging buffer used for read-back; bigger outputs are read in pieces.
const STAGING_BYTES: u64 = 64 << 20;

/// A storage buffer holding `data`, bound whole by the kernels.
pub(crate) fn upload(
    ctx: &GpuContext,
    data: &[f32],
    what: &str,
    label: &str,
) -> Result<wgpu::Buffer> {
    let bytes = (data.len() as u64 * 4).max(16);
    ctx.check_storage(bytes, what, label)?;
    ctx.guarded(&format!("uploading {what} for {label}"), || {
        if data.len() < 4 {
            // Bindings must be at least 16 bytes; pad tiny inputs (a bias of 1 channel).
            let mut padded = data.to_vec();
            padded.resize(4, 0.0);
            ctx.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(what),
                    contents: bytemuck::cast_slice(&padded),
                    usage: STORAGE,
                })
        } else {
            ctx.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(what),
                    contents: bytemuck::cast_slice(data),
                    usage: STORAGE,
                })
        }
    })
}

/// `data` on the device when the pattern reads it (`wanted`), `None` otherwise; an error
/// naming the tensor when it is wanted and missing.
pub(crate) fn upload_if(
    ctx: &GpuContext,
    wanted: bool,
    data: Option<&[f32]>,
    what: &str,
    pattern: Pattern,
    label: &str,
) -> Result<Option<wgpu::Buffer>> {
    match (wanted, data) {
        (false, _) => Ok(None),
        (true, Some(d)) => upload(ctx, d, what, label).map(Some),
        (true, None) => Err(crate::Error::usage(format!(
            "{}: no {what} given",
            pattern.name()
        ))),
    }
}

/// The buffer a pattern's operator needs, or a usage error naming it when the pattern's
/// epilogue did not ask for it (an operator chain its epilogue disagrees with).
pub(crate) fn needed_buffer<'b>(
    b: &'b Option<wgpu::Buffer>,
    pattern: Pattern,
    what: &str,
) -> Result<&'b wgpu::Buffer> {
    b.as_ref()
        .ok_or_else(|| crate::Error::usage(format!("{}: no {what} for its chain", pattern.name())))
}

/// A zeroed storage buffer of `elements` f32 values, bound whole by the kernels.
pub(crate) fn storage(
    ctx: &GpuContext,
    elements: u64,
    what: &str,
    label: &str,
) -> Result<wgpu::Buffer> {
    let bytes = (elements * 4).max(16);
    ctx.check_storage(bytes, what, label)?;
    raw_storage(ctx, bytes, what, label)
}

/// A zeroed storage buffer of `bytes` (a multiple of 4), checked against `max_buffer_size`
/// only: the caller binds it in pieces.
pub(crate) fn raw_storage(
    ctx: &GpuContext,
    bytes: u64,
    what: &str,
    label: &str,
) -> Result<wgpu::Buffer> {
    ctx.check_buffer(bytes, what, label)?;
    ctx.guarded(&format!("allocating {what} for {label}"), || {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: bytes,
            usage: STORAGE,
            mapped_at_creation: false,
        })
    })
}

/// A uniform buffer holding the kernel parameters `words` (padded to 16 bytes).
pub(crate) fn uniform(ctx: &GpuContext, words: &[u32], label: &str) -> Result<wgpu::Buffer> {
    let mut padded = words.to_vec();
    padded.resize(words.len().div_ceil(4).max(1) * 4, 0);
    ctx.guarded(&format!("creating parameters for {label}"), || {
        ctx.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::cast_slice(&padded),
                usage: wgpu::BufferUsages::UNIFORM,
            })
    })
}

/// A bind group for `pipeline` binding `resources` to bindings 0, 1, 2, … in order.
pub(crate) fn bind(
    ctx: &GpuContext,
    pipeline: &Pipeline,
    resources: &[wgpu::BindingResource<'_>],
    label: &str,
) -> Result<wgpu::BindGroup> {
    let entries: Vec<wgpu::BindGroupEntry> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: r.clone(),
        })
        .collect();
    ctx.guarded(&format!("binding buffers for {label}"), || {
        ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.layout,
            entries: &entries,
        })
    })
}

/// Maps `buffer` (MAP_READ) for reading, waits, and returns its first `bytes` bytes.
pub(crate) fn map_read(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    bytes: u64,
    what: &str,
) -> Result<Vec<u8>> {
    let slice = buffer.slice(..bytes);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.wait(what)?;
    match rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(gpu_error(what, &e.to_string())),
        Err(_) => return Err(gpu_error(what, "the buffer was never mapped")),
    }
    let data = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| gpu_error(what, &e.to_string()))?;
        view.to_vec()
    };
    buffer.unmap();
    Ok(data)
}

/// Reads the first `len` f32 values of a storage buffer back to the host through a staging
/// buffer (in pieces of at most 64 MiB).
pub(crate) fn read_f32(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    len: usize,
    label: &str,
) -> Result<Vec<f32>> {
    let total = len as u64 * 4;
    let what = format!("reading back the output of {label}");
    let chunk = STAGING_BYTES.min(total.max(4));
    let staging = ctx.guarded(&what, || {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: chunk,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    })?;
    let mut out = Vec::with_capacity(len);
    let mut offset = 0u64;
    while offset < total {
        let n = chunk.min(total - offset);
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, n);
        ctx.queue.submit([encoder.finish()]);
        let bytes = map_read(ctx, &staging, n, &what)?;
        out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        offset += n;
    }
    Ok(out)
}
