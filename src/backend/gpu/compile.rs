//! Building pipelines on a device: the miss path of the pipeline cache.
//!
//! The types (shaders, kernels, the cache) are in `pipelines.rs`, which needs no device; this
//! file compiles a kernel's module, layouts and pipeline inside the context's error scopes and
//! files them in the context's cache.

use super::context::GpuContext;
use super::pipelines::{Kernel, Pipeline, PipelineKey, Slot};
use crate::Result;

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
