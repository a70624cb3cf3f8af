//! Matmuls per precision on the GPU (`shaders/matmul_f16.wgsl`, `shaders/matmul_int8.wgsl`),
//! tiled like the f32 GEMM of `linear.rs`:
//! - fp16: f16 operands in `array<f16>` storage (`SHADER_F16`), runs of 32 products summed in
//!   f16 and each run's sum added into f32 ([`Accumulate::F16Chunks`] `{ chunk: 32 }`), f32
//!   output;
//! - int8: operands packed four per u32 along k on the host before the upload (A row-major
//!   as quads, B transposed into quads along k, the last quad of an odd k padded with zeros),
//!   `dot4I8Packed` into exact i32 sums ([`Accumulate::I32`]), i32 output. A's values
//!   (`0..=127`) are the same as i8 and as u8, so WGSL's signed × signed product is exact.
//!
//! WGSL has no f64 and no bf16 type: those operands are [`Error::Unsupported`].

use super::buffers::{storage, uniform};
use super::context::GpuContext;
use super::pipelines::{Kernel, Shader, Slot};
use super::timer::Chain;
use super::work::{GpuWork, VariantWork};
use crate::backend::{Prepared, Variant};
use crate::dtype::{Accumulate, HostBuffer};
use crate::precision::{Operands, PrecisionInputs};
use crate::{Error, Result};
use std::time::Duration;
use wgpu::util::DeviceExt;

/// Block tile of both shaders (rows and columns of C per workgroup).
const TILE: u64 = 64;

/// Products per f16 partial sum in `matmul_f16.wgsl` (its k-step `BK`).
pub const F16_CHUNK: usize = 32;

/// Workgroup memory of either shader: two 2080-element f16 tiles, or two 1040-word tiles.
const SHARED_BYTES: u32 = 2 * 2080 * 2;

/// Largest n whose int8 sums (each of n products of at most 127·127) fit an i32 exactly.
pub const INT8_MAX_N: usize = i32::MAX as usize / (127 * 127);

const SLOTS: &[Slot] = &[Slot::Uniform, Slot::Read, Slot::Read, Slot::ReadWrite];

const MATMUL_F16: Kernel = Kernel {
    shader: Shader::MatmulF16,
    entry: "matmul_f16",
    slots: SLOTS,
};

const MATMUL_INT8: Kernel = Kernel {
    shader: Shader::MatmulInt8,
    entry: "matmul_int8",
    slots: SLOTS,
};

/// A precision matmul resident on the device.
pub(crate) struct PrecisionMatmulWork<'a> {
    work: GpuWork<'a>,
    accumulate: Accumulate,
}

/// A storage buffer holding `bytes` (padded with zeros to whole words, at least 16 bytes).
fn upload_bytes(ctx: &GpuContext, bytes: &[u8], what: &str, label: &str) -> Result<wgpu::Buffer> {
    let padded_len = bytes.len().div_ceil(4).max(4) * 4;
    ctx.check_storage(padded_len as u64, what, label)?;
    let mut padded = bytes.to_vec();
    padded.resize(padded_len, 0);
    ctx.guarded(&format!("uploading {what} for {label}"), || {
        ctx.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(what),
                contents: &padded,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            })
    })
}

/// `m` (`n×n` row-major, element `(r, k)` at `r·n + k`, read through `at`) packed as quads
/// along k: word `r·k4 + q` holds elements `4q..4q+4` of row r, byte j the element `4q + j`,
/// zeros past `n`. With `at = |r, k| B[k][r]` this is B transposed into quads along k.
pub fn pack_quads(n: usize, at: impl Fn(usize, usize) -> u8) -> Vec<u32> {
    let k4 = n.div_ceil(4);
    let mut out = vec![0u32; n * k4];
    for (r, row) in out.chunks_exact_mut(k4).enumerate() {
        for (q, word) in row.iter_mut().enumerate() {
            let mut bytes = [0u8; 4];
            for (j, byte) in bytes.iter_mut().enumerate() {
                let k = 4 * q + j;
                if k < n {
                    *byte = at(r, k);
                }
            }
            *word = u32::from_le_bytes(bytes);
        }
    }
    out
}

/// Uploads the operands of `inputs` and builds its kernel.
pub(crate) fn prepare<'a>(
    ctx: &'a GpuContext,
    inputs: &PrecisionInputs,
    label: String,
) -> Result<PrecisionMatmulWork<'a>> {
    let n = inputs.n;
    let elements = n
        .checked_mul(n)
        .ok_or_else(|| Error::DeviceLimit(format!("{label}: n² overflows")))?;
    let (kernel, accumulate, a, b, params) = match &inputs.operands {
        Operands::F64 { .. } => {
            return Err(Error::Unsupported("fp64: WGSL has no f64 type".into()));
        }
        Operands::Bf16 { .. } => {
            return Err(Error::Unsupported("bf16: WGSL has no bf16 type".into()));
        }
        Operands::F16 { a, b } => {
            if !ctx.shader_f16 {
                return Err(Error::Unsupported(format!(
                    "fp16: this adapter ({}) lacks the SHADER_F16 feature (WGSL `enable f16;`), \
                     so it has no f16 storage or arithmetic wgpu can use",
                    ctx.info.name
                )));
            }
            if a.len() != elements || b.len() != elements {
                return Err(Error::usage(format!("{label}: operands are not {n}×{n}")));
            }
            let a = upload_bytes(ctx, bytemuck::cast_slice(a), "matrix A (f16)", &label)?;
            let b = upload_bytes(ctx, bytemuck::cast_slice(b), "matrix B (f16)", &label)?;
            let params = uniform(ctx, &[n as u32], &label)?;
            (
                MATMUL_F16,
                Accumulate::F16Chunks { chunk: F16_CHUNK },
                a,
                b,
                params,
            )
        }
        Operands::I8 { a, b } => {
            if a.len() != elements || b.len() != elements {
                return Err(Error::usage(format!("{label}: operands are not {n}×{n}")));
            }
            if n > INT8_MAX_N {
                return Err(Error::DeviceLimit(format!(
                    "{label}: int8 sums of {n} products could overflow i32 (at most \
                     {INT8_MAX_N}); choose a smaller size"
                )));
            }
            let k4 = n.div_ceil(4);
            // Both packed operands are n·k4 words: check they fit before packing them.
            let quad_bytes = (n as u64)
                .checked_mul(k4 as u64 * 4)
                .ok_or_else(|| Error::DeviceLimit(format!("{label}: n·k4 overflows")))?;
            ctx.check_storage(quad_bytes, "matrix A (int8 quads)", &label)?;
            let a_quads = pack_quads(n, |r, k| a[r * n + k]);
            let b_quads = pack_quads(n, |c, k| b[k * n + c] as u8);
            let a = upload_bytes(
                ctx,
                bytemuck::cast_slice(&a_quads),
                "matrix A (int8 quads)",
                &label,
            )?;
            let b = upload_bytes(
                ctx,
                bytemuck::cast_slice(&b_quads),
                "matrix Bᵀ (int8 quads)",
                &label,
            )?;
            let params = uniform(ctx, &[n as u32, k4 as u32], &label)?;
            (MATMUL_INT8, Accumulate::I32, a, b, params)
        }
    };
    ctx.check_workgroup(256, SHARED_BYTES, "the precision matmul kernel")?;
    let tiles = (n as u64).div_ceil(TILE);
    let groups = ctx.check_groups([tiles, tiles, 1], "the matmul grid", &label)?;
    let c = storage(ctx, elements as u64, "matrix C", &label)?;
    let dispatch = ctx.dispatch(
        &kernel,
        &[],
        &[
            params.as_entire_binding(),
            a.as_entire_binding(),
            b.as_entire_binding(),
            c.as_entire_binding(),
        ],
        groups,
        &label,
    )?;
    let variant = VariantWork {
        variant: Variant::Single,
        chain: Chain::new(vec![dispatch]),
        output: c.clone(),
        len: elements,
    };
    let work = GpuWork::new(ctx, label, vec![variant], vec![a, b, c, params])?;
    Ok(PrecisionMatmulWork { work, accumulate })
}

impl Prepared for PrecisionMatmulWork<'_> {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        self.work.run(variant)
    }

    fn run_batch(&mut self, variant: Variant, iterations: u32) -> Result<Duration> {
        self.work.run_batch(variant, iterations)
    }

    fn output(&mut self, variant: Variant) -> Result<HostBuffer> {
        let c = self
            .work
            .output(variant)?
            .into_f32("the precision matmul")?;
        Ok(match self.accumulate {
            // The buffer holds i32 bits; read_f32 moved them unchanged.
            Accumulate::I32 => HostBuffer::I32(c.iter().map(|x| x.to_bits() as i32).collect()),
            _ => HostBuffer::F32(c),
        })
    }

    fn accumulate(&self) -> Option<Accumulate> {
        Some(self.accumulate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quads_pack_along_k_with_zero_padding() {
        // 3×3: k4 = 1, the fourth byte of every quad is zero.
        let m: Vec<u8> = (1..=9).collect();
        let rows = pack_quads(3, |r, k| m[r * 3 + k]);
        assert_eq!(rows, [0x0003_0201, 0x0006_0504, 0x0009_0807]);
        // Transposed: word c holds column c.
        let cols = pack_quads(3, |c, k| m[k * 3 + c]);
        assert_eq!(cols, [0x0007_0401, 0x0008_0502, 0x0009_0603]);
        assert_eq!(pack_quads(5, |_, _| 1).len(), 5 * 2);
    }
}
