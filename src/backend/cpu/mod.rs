//! CPU backend: rayon for parallelism, a packed GEMM with a fused epilogue for every matmul-like
//! kernel, plain loops (vectorised per CPU feature) for the rest.
//!
//! One file per kernel family, mirroring `shaders/`: [`stream`], [`linear`] (also plain
//! matmul), [`conv`], [`attention`], [`elementwise`]; [`gemm`] and [`activation`] are shared by
//! all of them. The worker count is rayon's pool size (`--threads`).

pub mod activation;
pub mod attention;
pub mod conv;
pub mod device;
pub mod elementwise;
pub mod gemm;
pub mod linear;
pub mod stream;

use crate::backend::{Backend, DeviceInfo, Prepared, Workload};
use crate::pattern::{Act, Inputs, Pattern};
use crate::{Error, Result};
use activation::Activation;

/// Defines `pub fn $name` whose body is compiled twice, for the baseline target and with
/// AVX2+FMA enabled, and picks the AVX2 build at run time when the CPU has it. Loops in the body
/// then vectorise to 256-bit without building the whole crate for a newer CPU.
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    generic($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

/// The CPU activation kernel for a pattern's activation.
pub(crate) fn activation_of(pattern: Pattern) -> Activation {
    match pattern.activation() {
        Act::Identity => Activation::Identity,
        Act::Relu => Activation::Relu,
        Act::Gelu => Activation::Gelu,
    }
}

/// The CPU backend.
pub struct CpuBackend {
    info: DeviceInfo,
}

impl CpuBackend {
    /// Opens the CPU backend on rayon's current pool (its size is the worker count).
    pub fn new() -> Self {
        CpuBackend {
            info: device::describe(rayon::current_num_threads()),
        }
    }
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for CpuBackend {
    fn device(&self) -> &DeviceInfo {
        &self.info
    }

    fn prepare<'a>(&'a self, workload: &Workload<'a>) -> Result<Box<dyn Prepared + 'a>> {
        Ok(match *workload {
            Workload::Copy { elements } => Box::new(stream::StreamWork::new(
                stream::StreamKernel::Copy,
                elements,
            )?),
            Workload::Triad { elements } => Box::new(stream::StreamWork::new(
                stream::StreamKernel::Triad,
                elements,
            )?),
            Workload::Matmul { n, a, b } => {
                if a.len() != n * n || b.len() != n * n {
                    return Err(Error::usage(format!(
                        "matmul {n}×{n}: operand sizes do not match"
                    )));
                }
                Box::new(linear::MatmulWork::new(n, a, b))
            }
            Workload::Pattern {
                pattern,
                shape,
                inputs,
            } => {
                pattern.check_shape(&shape)?;
                shape.validate()?;
                match inputs {
                    Inputs::Linear { x, w, bias } => {
                        Box::new(linear::LinearWork::new(pattern, shape, x, w, bias))
                    }
                    Inputs::Conv { x, w, bias, bn } => {
                        Box::new(conv::ConvWork::new(pattern, shape, x, w, bias, bn))
                    }
                    Inputs::Attention { q, k, v } => {
                        Box::new(attention::AttentionWork::new(pattern, shape, q, k, v))
                    }
                }
            }
        })
    }
}
