//! STREAM copy and triad over f32 arrays, parallel with static partitioning (one contiguous
//! block per thread, as OpenMP's `schedule(static)` does), first-touched by the thread that
//! later streams it.

use crate::backend::{Prepared, Variant};
use crate::dtype::HostBuffer;
use crate::pattern::{stream_init, TRIAD_SCALAR};
use crate::{Error, Result};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// Which STREAM kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKernel {
    /// `c = a`.
    Copy,
    /// `a = b + s·c`.
    Triad,
}

/// Three STREAM arrays resident in host memory.
pub struct StreamWork {
    kernel: StreamKernel,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    block: usize,
}

fn allocate(elements: usize, which: usize, block: usize) -> Result<Vec<f32>> {
    let mut v: Vec<f32> = Vec::new();
    v.try_reserve_exact(elements).map_err(|_| {
        Error::DeviceLimit(format!(
            "cannot allocate a {} MB stream array: choose a smaller size",
            elements * 4 / 1_000_000
        ))
    })?;
    // SAFETY: capacity was reserved above; every element is written below before any read.
    unsafe { v.set_len(elements) };
    v.par_chunks_mut(block).enumerate().for_each(|(bi, chunk)| {
        for (j, x) in chunk.iter_mut().enumerate() {
            *x = stream_init(which, bi * block + j);
        }
    });
    Ok(v)
}

impl StreamWork {
    /// Allocates and first-touches the arrays.
    pub fn new(kernel: StreamKernel, elements: usize) -> Result<Self> {
        if elements == 0 {
            return Err(Error::usage("stream arrays must hold at least one element"));
        }
        let block = elements.div_ceil(rayon::current_num_threads().max(1));
        Ok(StreamWork {
            kernel,
            a: allocate(elements, 0, block)?,
            b: allocate(elements, 1, block)?,
            c: allocate(elements, 2, block)?,
            block,
        })
    }

    fn execute(&mut self) {
        let block = self.block;
        match self.kernel {
            StreamKernel::Copy => self
                .c
                .par_chunks_mut(block)
                .zip(self.a.par_chunks(block))
                .for_each(|(c, a)| copy(c, a)),
            StreamKernel::Triad => self
                .a
                .par_chunks_mut(block)
                .zip(self.b.par_chunks(block).zip(self.c.par_chunks(block)))
                .for_each(|(a, (b, c))| triad(a, b, c)),
        }
    }
}

crate::backend::cpu::simd_dispatch! {
    /// `c[i] = a[i]`.
    fn copy(c: &mut [f32], a: &[f32]) {
        for (x, &y) in c.iter_mut().zip(a) {
            *x = y;
        }
    }
}

crate::backend::cpu::simd_dispatch! {
    /// `a[i] = b[i] + s·c[i]`.
    fn triad(a: &mut [f32], b: &[f32], c: &[f32]) {
        for (x, (&y, &z)) in a.iter_mut().zip(b.iter().zip(c)) {
            *x = y + TRIAD_SCALAR * z;
        }
    }
}

impl Prepared for StreamWork {
    fn run(&mut self, _variant: Variant) -> Result<Duration> {
        let t = Instant::now();
        self.execute();
        Ok(t.elapsed())
    }

    fn output(&mut self, _variant: Variant) -> Result<HostBuffer> {
        Ok(HostBuffer::F32(match self.kernel {
            StreamKernel::Copy => self.c.clone(),
            StreamKernel::Triad => self.a.clone(),
        }))
    }
}
