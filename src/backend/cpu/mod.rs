//! CPU backend: rayon for parallelism, a packed GEMM with a fused epilogue for every matmul-like
//! kernel, plain loops (vectorised per CPU feature) for the rest.
//!
//! One file per kernel family, mirroring `shaders/`: [`stream`], [`linear`] (also plain
//! matmul), [`conv`], [`attention`], [`norm`], [`depthwise`], [`elementwise`]; [`gemm`] and
//! [`activation`] are shared by all of them. The worker count is rayon's pool size
//! (`--threads`).

pub mod activation;
pub mod amx;
pub mod attention;
pub mod conv;
pub mod depthwise;
pub mod device;
pub mod elementwise;
pub(crate) mod fork;
pub mod gemm;
pub mod linear;
pub mod norm;
pub mod peak;
pub mod precision_gemm;
pub(crate) mod simd;
pub mod stream;
pub mod uarch;

use crate::backend::{matmul_operands, Backend, DeviceInfo, Prepared, Variant, Workload};
use crate::pattern::InputSlices;
use crate::Result;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// Defined in `simd`; kernels keep invoking it as `cpu::simd_dispatch!`.
pub(crate) use simd::simd_dispatch;

/// The CPU backend.
pub struct CpuBackend {
    info: DeviceInfo,
    idle: IdleWorkers,
}

impl CpuBackend {
    /// Opens the CPU backend on rayon's current pool (its size is the worker count); idle
    /// workers spin while a batch is timed.
    pub fn new() -> Self {
        Self::with_idle_workers(IdleWorkers::Spin)
    }

    /// Opens the CPU backend with the given behaviour of idle workers during timed batches.
    pub fn with_idle_workers(idle: IdleWorkers) -> Self {
        let mut info = device::describe(rayon::current_num_threads());
        if let serde_json::Value::Object(d) = &mut info.details {
            d.insert("idle_workers".into(), serde_json::json!(idle));
        }
        CpuBackend { info, idle }
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
            Workload::Copy { elements } => OnWorker::boxed(
                stream::StreamWork::new(stream::StreamKernel::Copy, elements)?,
                self.idle,
            ),
            Workload::Triad { elements } => OnWorker::boxed(
                stream::StreamWork::new(stream::StreamKernel::Triad, elements)?,
                self.idle,
            ),
            Workload::Matmul { n, ref a, ref b } => {
                let (a, b) = matmul_operands(n, a, b)?;
                OnWorker::boxed(linear::MatmulWork::new(n, a, b), self.idle)
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
                    } => OnWorker::boxed(
                        linear::LinearWork::new(pattern, shape, x, w, bias, residual, w_up)?,
                        self.idle,
                    ),
                    InputSlices::Conv {
                        x,
                        w,
                        bias,
                        bn,
                        residual,
                    } => OnWorker::boxed(
                        conv::ConvWork::new(pattern, shape, x, w, bias, bn, residual)?,
                        self.idle,
                    ),
                    InputSlices::Attention { q, k, v } => OnWorker::boxed(
                        attention::AttentionWork::new(pattern, shape, q, k, v)?,
                        self.idle,
                    ),
                    InputSlices::Norm {
                        x,
                        residual,
                        gamma,
                        beta,
                        eps,
                    } => OnWorker::boxed(
                        norm::NormWork::new(pattern, shape, x, residual, gamma, beta, eps)?,
                        self.idle,
                    ),
                    InputSlices::Depthwise { x, w, bias, bn } => OnWorker::boxed(
                        depthwise::DepthwiseWork::new(pattern, shape, x, w, bias, bn)?,
                        self.idle,
                    ),
                }
            }
            // Not on a worker: the peak broadcasts its loop to every worker itself.
            Workload::Peak { precision, width } => Box::new(peak::PeakWork::new(precision, width)?),
            Workload::PrecisionMatmul { inputs } => {
                OnWorker::boxed(precision_gemm::PrecisionMatmulWork::new(inputs)?, self.idle)
            }
        })
    }
}

/// The output buffers of a pattern's unfused and fused variants, kept apart so that each one's
/// output can be read back and verified after it ran.
pub(crate) struct Outputs {
    unfused: Vec<f32>,
    fused: Vec<f32>,
}

impl Outputs {
    /// Two zeroed buffers of `len` elements.
    pub(crate) fn new(len: usize) -> Self {
        Outputs {
            unfused: vec![0.0; len],
            fused: vec![0.0; len],
        }
    }

    fn slot(&mut self, variant: Variant) -> &mut Vec<f32> {
        match variant {
            Variant::Fused => &mut self.fused,
            _ => &mut self.unfused,
        }
    }

    /// Takes `variant`'s buffer out, so that the kernels can write it while they borrow the
    /// rest of the work; [`Outputs::put`] gives it back.
    pub(crate) fn take(&mut self, variant: Variant) -> Vec<f32> {
        std::mem::take(self.slot(variant))
    }

    /// Gives back the buffer [`Outputs::take`] took.
    pub(crate) fn put(&mut self, variant: Variant, out: Vec<f32>) {
        *self.slot(variant) = out;
    }

    /// A copy of `variant`'s output, for verification.
    pub(crate) fn host(&self, variant: Variant) -> crate::dtype::HostBuffer {
        crate::dtype::HostBuffer::F32(match variant {
            Variant::Fused => self.fused.clone(),
            _ => self.unfused.clone(),
        })
    }
}

/// Runs a prepared workload's kernels from inside the worker pool: the calling thread is then
/// one of rayon's workers (pinned, with `--pin`), and the helpers it forks land on the other
/// workers. Called from the main thread instead, the kernels' calling thread floats, and half
/// the time it shares a core with the worker that took its helper task, at half speed.
///
/// With [`IdleWorkers::Spin`], the other workers poll for work during a timed batch, as the
/// spinning intra-op pools of inference runtimes do, instead of going to sleep between
/// kernels: a chain of small kernels then pays the pool's hand-off, not the operating
/// system's idle wake-up latency, which on a VM swings run to run (e.g. `haltpoll`'s
/// adaptive poll window) and dominates kernels of tens of microseconds.
struct OnWorker<P> {
    inner: P,
    idle: IdleWorkers,
}

/// What the pool's idle workers do while a batch is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdleWorkers {
    /// Poll for work (rayon's `yield_now` in a spin loop) until the batch ends.
    Spin,
    /// Rayon's default: spin briefly, then sleep until woken.
    Sleep,
}

/// Held while a batch runs with spinning keepers (see [`OnWorker::run_batch`]).
static SPINNING_BATCH: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl<P: Prepared + Send> OnWorker<P> {
    fn boxed<'a>(inner: P, idle: IdleWorkers) -> Box<dyn Prepared + 'a>
    where
        P: 'a,
    {
        Box::new(OnWorker { inner, idle })
    }
}

impl<P: Prepared + Send> Prepared for OnWorker<P> {
    fn run(&mut self, variant: Variant) -> Result<Duration> {
        self.run_batch(variant, 1)
    }

    fn run_batch(&mut self, variant: Variant, iterations: u32) -> Result<Duration> {
        let inner = &mut self.inner;
        if self.idle == IdleWorkers::Sleep {
            return rayon::scope(|_| inner.run_batch(variant, iterations));
        }
        // One spinning batch at a time in the process: two sets of keepers, each stolen by
        // the other batch's waiting thread, would wait for each other for ever.
        let _one_at_a_time = SPINNING_BATCH
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stop = AtomicBool::new(false);
        let started = AtomicUsize::new(0);
        rayon::scope(|s| {
            let caller = rayon::current_thread_index();
            let keepers = rayon::current_num_threads().saturating_sub(1);
            for _ in 0..keepers {
                let (stop, started) = (&stop, &started);
                s.spawn(move |_| {
                    // A keeper run by the calling thread itself (while it waits inside a
                    // kernel) would never be released: it returns at once.
                    if rayon::current_thread_index() == caller {
                        return;
                    }
                    started.fetch_add(1, Ordering::AcqRel);
                    while !stop.load(Ordering::Acquire) {
                        if rayon::yield_now() != Some(rayon::Yield::Executed) {
                            std::hint::spin_loop();
                        }
                    }
                });
            }
            // Let the keepers wake up before the clock starts (at most 2 ms).
            let t = Instant::now();
            while started.load(Ordering::Acquire) < keepers
                && t.elapsed() < Duration::from_millis(2)
            {
                if rayon::yield_local() != Some(rayon::Yield::Executed) {
                    std::hint::spin_loop();
                }
            }
            let r = inner.run_batch(variant, iterations);
            stop.store(true, Ordering::Release);
            r
        })
    }

    fn output(&mut self, variant: Variant) -> Result<crate::dtype::HostBuffer> {
        self.inner.output(variant)
    }

    fn peak_run(&self) -> Option<crate::precision::PeakRun> {
        self.inner.peak_run()
    }

    fn accumulate(&self) -> Option<crate::dtype::Accumulate> {
        self.inner.accumulate()
    }
}
