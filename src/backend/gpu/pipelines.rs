//! Shader sources and the pipeline cache.
//!
//! Every kernel family has one WGSL file in `shaders/` (the stems mirror
//! `src/backend/cpu/`), compiled into the binary with `include_str!`; `shaders/common.wgsl`
//! (the activation every epilogue applies) is prepended to each. Variants of a kernel
//! (activation, bias, scale) are WGSL `override` constants, so one source gives many
//! pipelines; each is built once per device and cached by (shader, entry point, binding
//! layout, constants).

use super::context::GpuContext;
use crate::Result;
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
}

impl Shader {
    fn name(self) -> &'static str {
        match self {
            Shader::Stream => "stream.wgsl",
            Shader::Matmul => "matmul.wgsl",
            Shader::Elementwise => "elementwise.wgsl",
            Shader::Conv => "conv.wgsl",
            Shader::Attention => "attention.wgsl",
        }
    }

    /// The WGSL text, `common.wgsl` included.
    pub fn source(self) -> &'static str {
        match self {
            Shader::Stream => shader_source!("stream.wgsl"),
            Shader::Matmul => shader_source!("matmul.wgsl"),
            Shader::Elementwise => shader_source!("elementwise.wgsl"),
            Shader::Conv => shader_source!("conv.wgsl"),
            Shader::Attention => shader_source!("attention.wgsl"),
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

/// Parameters first, then inputs, output last: the layout of every kernel in `shaders/`.
pub const PARAMS_3IN_1OUT: &[Slot] = &[
    Slot::Uniform,
    Slot::Read,
    Slot::Read,
    Slot::Read,
    Slot::ReadWrite,
];
/// Parameters, two inputs, one output (stream kernels).
pub const PARAMS_2IN_1OUT: &[Slot] = &[Slot::Uniform, Slot::Read, Slot::Read, Slot::ReadWrite];

/// A compiled pipeline and the layout its bind groups are made for.
#[derive(Clone)]
pub struct Pipeline {
    /// The pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Layout of bind group 0.
    pub layout: wgpu::BindGroupLayout,
}

type PipelineKey = (Shader, &'static str, Vec<Slot>, Vec<(&'static str, u64)>);

#[derive(Default)]
struct Cache {
    modules: HashMap<Shader, wgpu::ShaderModule>,
    layouts: HashMap<Vec<Slot>, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    pipelines: HashMap<PipelineKey, Pipeline>,
}

/// Shader modules, layouts and pipelines built so far on one device.
#[derive(Default)]
pub struct PipelineCache {
    inner: Mutex<Cache>,
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

impl GpuContext {
    /// The pipeline of `kernel` with override `constants`, built on first use.
    pub(crate) fn pipeline(
        &self,
        kernel: &Kernel,
        constants: &[(&'static str, f64)],
    ) -> Result<Pipeline> {
        let key: PipelineKey = (
            kernel.shader,
            kernel.entry,
            kernel.slots.to_vec(),
            constants.iter().map(|&(k, v)| (k, v.to_bits())).collect(),
        );
        let mut cache = self.pipelines.inner.lock().map_err(|_| {
            super::context::gpu_error("a pipeline", "the pipeline cache is poisoned")
        })?;
        if let Some(p) = cache.pipelines.get(&key) {
            return Ok(p.clone());
        }
        let what = format!(
            "compiling {} entry point `{}` with {:?}",
            kernel.shader.name(),
            kernel.entry,
            constants
        );
        let module = match cache.modules.get(&kernel.shader) {
            Some(m) => m.clone(),
            None => {
                let m = self.guarded(&what, || {
                    self.device
                        .create_shader_module(wgpu::ShaderModuleDescriptor {
                            label: Some(kernel.shader.name()),
                            source: wgpu::ShaderSource::Wgsl(kernel.shader.source().into()),
                        })
                })?;
                cache.modules.insert(kernel.shader, m.clone());
                m
            }
        };
        let (bind_layout, pipeline_layout) = match cache.layouts.get(kernel.slots) {
            Some(l) => l.clone(),
            None => {
                let l = self.guarded(&what, || self.layouts(kernel.slots))?;
                cache.layouts.insert(kernel.slots.to_vec(), l.clone());
                l
            }
        };
        let pipeline = self.guarded(&what, || {
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(kernel.entry),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(kernel.entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants,
                        // Every kernel writes its workgroup memory before reading it.
                        zero_initialize_workgroup_memory: false,
                    },
                    cache: None,
                })
        })?;
        let p = Pipeline {
            pipeline,
            layout: bind_layout,
        };
        cache.pipelines.insert(key, p.clone());
        Ok(p)
    }

    fn layouts(&self, slots: &[Slot]) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = slots
            .iter()
            .enumerate()
            .map(|(i, s)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match s {
                        Slot::Uniform => wgpu::BufferBindingType::Uniform,
                        Slot::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Slot::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let bind = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: None,
                entries: &entries,
            });
        let pipeline = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: None,
                bind_group_layouts: &[Some(&bind)],
                immediate_size: 0,
            });
        (bind, pipeline)
    }
}
