//! Timing a chain of dispatches on the device.
//!
//! With `TIMESTAMP_QUERY` the chain is one compute pass with timestamps written at its start
//! and end; the two ticks are resolved and read back in a submission of their own and
//! converted with `Queue::get_timestamp_period`. Zero or negative deltas (counter wrap,
//! drivers that report nothing) are retried and, if they persist, reported as zero so the
//! calibration loop drops them. Without timestamps (or with `HWCAL_GPU_TIMING=host`) the host
//! clock is read around submit + wait.
//!
//! One sample is a batch: the pass repeats the chain as many times as the sampler asks (see
//! [`crate::calibrate::sampling`]), so a short kernel is timed over milliseconds of work and
//! submission overhead stays a small share of a host-timed sample. Batches longer than
//! [`MAX_REPS`] are split into passes of at most that many repetitions.

use super::buffers::map_read;
use super::context::GpuContext;
use crate::Result;
use std::time::{Duration, Instant};

/// Most repetitions of a chain in one compute pass (bounds a command buffer's size).
pub const MAX_REPS: u32 = 1024;

/// One dispatch of a compute pipeline over a grid of workgroups.
pub(crate) struct Dispatch {
    pub pipeline: wgpu::ComputePipeline,
    pub bind_group: wgpu::BindGroup,
    pub groups: [u32; 3],
}

/// The dispatches of one variant, run back to back in one compute pass.
pub(crate) struct Chain {
    pub dispatches: Vec<Dispatch>,
}

impl Chain {
    pub fn new(dispatches: Vec<Dispatch>) -> Self {
        Chain { dispatches }
    }
}

enum Clock {
    Timestamps {
        queries: wgpu::QuerySet,
        resolve: wgpu::Buffer,
        readback: wgpu::Buffer,
        period_ns: f64,
    },
    Host,
}

/// Times chains on one device.
pub(crate) struct Timer {
    clock: Clock,
}

impl Timer {
    /// A timer using timestamp queries when the device has them enabled.
    pub fn new(ctx: &GpuContext, label: &str) -> Result<Self> {
        if !ctx.timestamps {
            return Ok(Timer { clock: Clock::Host });
        }
        let clock = ctx.guarded(&format!("creating timestamp queries for {label}"), || {
            Clock::Timestamps {
                queries: ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2,
                }),
                resolve: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamp resolve"),
                    size: 16,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                }),
                readback: ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamp readback"),
                    size: 16,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                period_ns: ctx.timestamp_period,
            }
        })?;
        Ok(Timer { clock })
    }

    /// Runs `chain` `reps` times back to back and returns the device time of all of them,
    /// splitting the batch into passes of at most [`MAX_REPS`]. Zero when the clock read
    /// nothing usable for any pass.
    pub fn time(
        &self,
        ctx: &GpuContext,
        chain: &Chain,
        reps: u32,
        label: &str,
    ) -> Result<Duration> {
        let mut total = Duration::ZERO;
        let mut left = reps.max(1);
        while left > 0 {
            let n = left.min(MAX_REPS);
            let t = self.time_pass(ctx, chain, n, label)?;
            if t.is_zero() {
                return Ok(Duration::ZERO);
            }
            total += t;
            left -= n;
        }
        Ok(total)
    }

    /// One pass running `chain` `reps` times, timed.
    fn time_pass(
        &self,
        ctx: &GpuContext,
        chain: &Chain,
        reps: u32,
        label: &str,
    ) -> Result<Duration> {
        let what = format!("running {label}");
        match &self.clock {
            Clock::Timestamps {
                queries,
                resolve,
                readback,
                period_ns,
            } => {
                for _attempt in 0..3 {
                    let writes = wgpu::ComputePassTimestampWrites {
                        query_set: queries,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    };
                    ctx.queue
                        .submit([encode(ctx, &chain.dispatches, reps, Some(writes))]);
                    let mut encoder = ctx
                        .device
                        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
                    encoder.resolve_query_set(queries, 0..2, resolve, 0);
                    encoder.copy_buffer_to_buffer(resolve, 0, readback, 0, 16);
                    ctx.queue.submit([encoder.finish()]);
                    let bytes = map_read(ctx, readback, 16, &what)?;
                    let tick = |i: usize| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
                        u64::from_le_bytes(b)
                    };
                    let (start, end) = (tick(0), tick(1));
                    if end > start {
                        let ns = (end - start) as f64 * period_ns;
                        return Ok(Duration::from_secs_f64(ns * 1e-9));
                    }
                }
                Ok(Duration::ZERO)
            }
            Clock::Host => {
                let commands = encode(ctx, &chain.dispatches, reps, None);
                let t = Instant::now();
                ctx.queue.submit([commands]);
                ctx.wait(&what)?;
                Ok(t.elapsed())
            }
        }
    }
}

/// Runs `chain` once and waits for it, untimed (initialising buffers).
pub(crate) fn run_once(ctx: &GpuContext, chain: &Chain, what: &str) -> Result<()> {
    ctx.queue.submit([encode(ctx, &chain.dispatches, 1, None)]);
    ctx.wait(what)
}

/// One command buffer holding one compute pass that runs `dispatches` `reps` times.
fn encode(
    ctx: &GpuContext,
    dispatches: &[Dispatch],
    reps: u32,
    timestamps: Option<wgpu::ComputePassTimestampWrites<'_>>,
) -> wgpu::CommandBuffer {
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: timestamps,
        });
        for _ in 0..reps {
            for d in dispatches {
                pass.set_pipeline(&d.pipeline);
                pass.set_bind_group(0, &d.bind_group, &[]);
                pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
            }
        }
    }
    encoder.finish()
}
