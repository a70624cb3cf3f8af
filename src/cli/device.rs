//! `--backend` and `--device`, shared by `calibrate` and `plan`: the flags of a device choice
//! and their translation into a [`BackendSelection`] for [`crate::backend::open`].

use crate::backend::cpu::IdleWorkers;
use crate::backend::gpu::GpuOptions;
use crate::backend::{BackendSelection, Device, GpuSelector, Threads};
use crate::{Error, Result};
use clap::ValueEnum;

/// Which backend runs the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// The host CPU (rayon threads).
    Cpu,
    /// A GPU through wgpu.
    Gpu,
}

/// What the CPU's idle worker threads do while a batch is timed (the flag of
/// [`IdleWorkers`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IdleWorkersArg {
    /// Poll for work (rayon's `yield_now` in a spin loop) until the batch ends.
    Spin,
    /// Rayon's default: spin briefly, then sleep until woken.
    Sleep,
}

impl From<IdleWorkersArg> for IdleWorkers {
    fn from(arg: IdleWorkersArg) -> Self {
        match arg {
            IdleWorkersArg::Spin => IdleWorkers::Spin,
            IdleWorkersArg::Sleep => IdleWorkers::Sleep,
        }
    }
}

/// The selection `--backend` and `--device` make: `--device` (an adapter's index or name
/// substring, or `all`; the first adapter when absent) only with `--backend gpu`. GPU options
/// come from the environment (`HWCAL_GPU_TIMING=host`).
pub fn selection(
    backend: BackendArg,
    device: Option<&str>,
    threads: Threads,
    idle_workers: IdleWorkers,
) -> Result<BackendSelection> {
    let device = match backend {
        BackendArg::Cpu => {
            if device.is_some() {
                return Err(Error::usage(
                    "--device selects a GPU adapter: use it with --backend gpu",
                ));
            }
            Device::Cpu
        }
        BackendArg::Gpu => {
            Device::Gpu(device.map_or_else(GpuSelector::default, GpuSelector::parse))
        }
    };
    Ok(BackendSelection {
        device,
        threads,
        idle_workers,
        gpu: GpuOptions::from_env(),
    })
}
