//! Shader sources and the pipeline cache.
//!
//! Every kernel family has one WGSL file in `shaders/` (the stems mirror
//! `src/backend/cpu/`), compiled into the binary with `include_str!`; `shaders/common.wgsl`
//! (the activation every epilogue applies) is prepended to each. Variants of a kernel
//! (activation, bias, scale) are WGSL `override` constants, so one source gives many
//! pipelines; each is built once per device and cached by (shader, entry point, binding
//! layout, constants).

use std::collections::HashMap;
use std::sync::Mutex;

macro_rules! shader_source {
    ($file:literal) => {
        concat!(
            include_str!("../../../shaders/common.wgsl"),
            "\n",
            include_str!(concat!("../../../shaders/", $file))
        )
    };
}

/// A WGSL source file that is compiled alone: its directives (`enable f16;`, `requires …;`)
/// must open the module, so `common.wgsl` (which it does not use) is not prepended.
macro_rules! shader_alone {
    ($file:literal) => {
        include_str!(concat!("../../../shaders/", $file))
    };
}

/// A WGSL source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    /// `shaders/stream.wgsl`: STREAM copy, triad and array initialisation.
    Stream,
    /// `shaders/matmul.wgsl`: tiled GEMM with a bias/scale/activation epilogue.
    Matmul,
    /// `shaders/elementwise.wgsl`: bias, batch-norm, activation and scale passes.
    Elementwise,
    /// `shaders/conv.wgsl`: implicit-GEMM convolution with a shift/activation epilogue.
    Conv,
    /// `shaders/attention.wgsl`: softmax, fused scores + softmax, flash attention.
    Attention,
    /// `shaders/norm.wgsl`: residual add and row normalization (LayerNorm, RMSNorm).
    Norm,
    /// `shaders/depthwise.wgsl`: direct depthwise convolution with a shift/activation
    /// epilogue.
    Depthwise,
    /// `shaders/peak.wgsl`: f32 FMA chains and int8 `dot4I8Packed` chains (peak compute).
    Peak,
    /// `shaders/peak_f16.wgsl`: f16 FMA chains (`enable f16;`, built only with `SHADER_F16`).
    PeakF16,
    /// `shaders/matmul_f16.wgsl`: tiled f16 GEMM, runs of 32 products summed in f16 and
    /// added into f32 (`enable f16;`).
    MatmulF16,
    /// `shaders/matmul_int8.wgsl`: tiled int8 GEMM on quads packed in u32, `dot4I8Packed`
    /// into i32.
    MatmulInt8,
}

impl Shader {
    pub(super) fn name(self) -> &'static str {
        match self {
            Shader::Stream => "stream.wgsl",
            Shader::Matmul => "matmul.wgsl",
            Shader::Elementwise => "elementwise.wgsl",
            Shader::Conv => "conv.wgsl",
            Shader::Attention => "attention.wgsl",
            Shader::Norm => "norm.wgsl",
            Shader::Depthwise => "depthwise.wgsl",
            Shader::Peak => "peak.wgsl",
            Shader::PeakF16 => "peak_f16.wgsl",
            Shader::MatmulF16 => "matmul_f16.wgsl",
            Shader::MatmulInt8 => "matmul_int8.wgsl",
        }
    }

    /// The WGSL text, `common.wgsl` included (except for the sources compiled alone).
    pub fn source(self) -> &'static str {
        match self {
            Shader::Stream => shader_source!("stream.wgsl"),
            Shader::Matmul => shader_source!("matmul.wgsl"),
            Shader::Elementwise => shader_source!("elementwise.wgsl"),
            Shader::Conv => shader_source!("conv.wgsl"),
            Shader::Attention => shader_source!("attention.wgsl"),
            Shader::Norm => shader_source!("norm.wgsl"),
            Shader::Depthwise => shader_source!("depthwise.wgsl"),
            Shader::Peak => shader_alone!("peak.wgsl"),
            Shader::PeakF16 => shader_alone!("peak_f16.wgsl"),
            Shader::MatmulF16 => shader_alone!("matmul_f16.wgsl"),
            Shader::MatmulInt8 => shader_alone!("matmul_int8.wgsl"),
        }
    }
}

/// What one binding of a kernel's bind group 0 is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `var<uniform>` parameters.
    Uniform,
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One entry point of a shader and the layout of its bind group 0 (binding `i` is
/// `slots[i]`).
#[derive(Clone, Copy, Debug)]
pub struct Kernel {
    /// The source file.
    pub shader: Shader,
    /// Entry point name.
    pub entry: &'static str,
    /// Binding layout.
    pub slots: &'static [Slot],
}

/// Parameters first, then inputs, output last: the layout of every kernel in `shaders/`
/// (this one: attention, depthwise).
pub const PARAMS_3IN_1OUT: &[Slot] = &[
    Slot::Uniform,
    Slot::Read,
    Slot::Read,
    Slot::Read,
    Slot::ReadWrite,
];
/// Parameters, four inputs, one output: the kernels with a residual or a second weight
/// matrix (matmul, conv) and the norm kernels (x, residual, γ, β).
pub const PARAMS_4IN_1OUT: &[Slot] = &[
    Slot::Uniform,
    Slot::Read,
    Slot::Read,
    Slot::Read,
    Slot::Read,
    Slot::ReadWrite,
];
/// Parameters, two inputs, one output (stream and elementwise kernels).
pub const PARAMS_2IN_1OUT: &[Slot] = &[Slot::Uniform, Slot::Read, Slot::Read, Slot::ReadWrite];

/// A compiled pipeline and the layout its bind groups are made for.
#[derive(Clone)]
pub struct Pipeline {
    /// The pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Layout of bind group 0.
    pub layout: wgpu::BindGroupLayout,
}

/// A pipeline's identity in the cache: shader, entry point, binding layout and override
/// constants (as bits).
pub(super) type PipelineKey = (Shader, &'static str, Vec<Slot>, Vec<(&'static str, u64)>);

/// What a [`PipelineCache`] holds.
#[derive(Default)]
pub(super) struct Cache {
    pub(super) modules: HashMap<Shader, wgpu::ShaderModule>,
    pub(super) layouts: HashMap<Vec<Slot>, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    pub(super) pipelines: HashMap<PipelineKey, Pipeline>,
}

/// Shader modules, layouts and pipelines built so far on one device (built on a miss by
/// `compile.rs`).
#[derive(Default)]
pub struct PipelineCache {
    pub(super) inner: Mutex<Cache>,
}

impl PipelineCache {
    /// Number of distinct pipelines built so far.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |c| c.pipelines.len())
    }

    /// Whether no pipeline was built yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
