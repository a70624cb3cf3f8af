//! Opening the backend a command asked for: one [`open`] behind `calibrate`, `plan --verify`
//! and `bench`.
//!
//! Every command that measures needs the same steps in the same order: size (and pin) rayon's
//! worker pool, then open the CPU or the GPU adapters chosen. Doing them in one place means a
//! command gains a backend by taking a [`BackendSelection`], never by growing its own
//! `match` over devices, and a build without the `gpu` feature answers every one of them with
//! the same "built without the gpu feature" error (from the stand-in [`super::gpu`] module).

use super::cpu::{CpuBackend, IdleWorkers};
use super::gpu::{GpuBackend, GpuOptions};
use super::Backend;
use crate::{Error, Result};

/// Whether worker threads are pinned to cores unless a flag says otherwise.
pub const PIN_BY_DEFAULT: bool = true;

/// Most worker threads `--threads` accepts per logical CPU.
pub const THREADS_PER_CPU: usize = 16;

/// Most worker threads `--threads` accepts on a machine with `cpus` logical CPUs.
pub fn max_threads(cpus: usize) -> usize {
    cpus.max(1).saturating_mul(THREADS_PER_CPU)
}

/// The size of rayon's worker pool and whether its workers are pinned: validated by
/// [`Threads::new`], applied by [`Threads::init`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threads {
    count: Option<usize>,
    pin: bool,
}

impl Default for Threads {
    /// All logical CPUs, pinned ([`PIN_BY_DEFAULT`]).
    fn default() -> Self {
        Threads {
            count: None,
            pin: PIN_BY_DEFAULT,
        }
    }
}

impl Threads {
    /// [`Threads::new`] from the command-line flags: `--threads`, and pinning unless
    /// `--no-pin` ([`PIN_BY_DEFAULT`]).
    pub fn from_flags(count: Option<usize>, no_pin: bool) -> Result<Self> {
        Self::new(count, PIN_BY_DEFAULT && !no_pin)
    }

    /// `count` workers (all logical CPUs when `None`), pinned to cores with `pin`. Refuses
    /// (usage error) no workers at all, and more than 16 per logical CPU of this machine: more
    /// only measures the scheduler.
    pub fn new(count: Option<usize>, pin: bool) -> Result<Self> {
        let cpus = logical_cpus();
        if let Some(0) = count {
            return Err(Error::usage("--threads must be at least 1"));
        }
        let most = max_threads(cpus);
        if let Some(t) = count.filter(|&t| t > most) {
            return Err(Error::usage(format!(
                "--threads {t}: at most {most} ({THREADS_PER_CPU} per logical CPU; this machine has {cpus}): more only measures the scheduler"
            )));
        }
        Ok(Threads { count, pin })
    }

    /// Workers asked for (`None`: all logical CPUs).
    pub fn count(&self) -> Option<usize> {
        self.count
    }

    /// Whether workers are to be pinned to cores.
    pub fn pin(&self) -> bool {
        self.pin
    }

    /// Makes rayon's global pool this wide. With pinning, worker `i` is pinned to core
    /// `i mod cores` (where the OS allows it); returns whether it was. Once per process: the
    /// global pool cannot be rebuilt.
    pub fn init(&self) -> Result<bool> {
        let n = self.count.unwrap_or_else(logical_cpus);
        let cores = if self.pin {
            core_affinity::get_core_ids().unwrap_or_default()
        } else {
            Vec::new()
        };
        let pinned = !cores.is_empty();
        let mut builder = rayon::ThreadPoolBuilder::new().num_threads(n);
        if pinned {
            builder = builder.start_handler(move |i| {
                // Best effort: a refused pin leaves the worker where the scheduler put it.
                core_affinity::set_for_current(cores[i % cores.len()]);
            });
        }
        builder
            .build_global()
            .map_err(|e| Error::usage(format!("cannot start {n} worker threads: {e}")))?;
        Ok(pinned)
    }
}

/// Logical CPUs of this machine (1 when it cannot be told).
fn logical_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Which GPU adapters to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuSelector {
    /// One adapter: an index into [`super::gpu::list_adapters`], or a case-insensitive
    /// substring of its name (the first match wins).
    One(String),
    /// Every adapter, in enumeration order.
    All,
}

impl GpuSelector {
    /// `--device` as typed: `all` (any case) or one adapter.
    pub fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("all") {
            GpuSelector::All
        } else {
            GpuSelector::One(text.to_string())
        }
    }
}

impl Default for GpuSelector {
    /// The first adapter (`0`).
    fn default() -> Self {
        GpuSelector::One("0".into())
    }
}

/// Which device runs the kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// The host CPU (rayon threads).
    Cpu,
    /// GPU adapters through wgpu.
    Gpu(GpuSelector),
}

/// Everything [`open`] needs: the device, the worker pool, and how each backend behaves.
#[derive(Clone, Debug)]
pub struct BackendSelection {
    /// The CPU, or which GPU adapters.
    pub device: Device,
    /// Rayon's worker pool (the CPU backend's workers; the host side of a GPU run).
    pub threads: Threads,
    /// What the CPU backend's idle workers do while a batch is timed.
    pub idle_workers: IdleWorkers,
    /// How GPU adapters are opened.
    pub gpu: GpuOptions,
}

impl BackendSelection {
    /// Fails for `--device all`: for commands that measure on one device, checked where their
    /// flags are validated and again by [`open_one`].
    pub fn check_one(&self) -> Result<()> {
        if self.device == Device::Gpu(GpuSelector::All) {
            return Err(Error::usage(
                "--device all: this command measures on one device: give an adapter's index or name from `hwcal devices`",
            ));
        }
        Ok(())
    }

    /// The CPU backend on `threads`, idle workers spinning, default GPU options.
    pub fn cpu(threads: Threads) -> Self {
        BackendSelection {
            device: Device::Cpu,
            threads,
            idle_workers: IdleWorkers::Spin,
            gpu: GpuOptions::default(),
        }
    }
}

/// The backends [`open`] opened, and how their worker pool was set up.
pub struct Opened {
    /// One backend per selected device (several only for [`GpuSelector::All`]).
    pub backends: Vec<Box<dyn Backend>>,
    /// Whether rayon's workers were pinned to cores.
    pub pinned_threads: bool,
}

/// [`open`] for commands whose results are per device (`plan --verify`, `bench`): the one
/// backend selected. `--device all` is refused before the pool is started or any adapter
/// opened.
pub fn open_one(selection: &BackendSelection) -> Result<Box<dyn Backend>> {
    selection.check_one()?;
    let mut opened = open(selection)?;
    opened
        .backends
        .pop()
        .ok_or_else(|| Error::NoDevice("no device was opened".into()))
}

/// Sizes rayon's global pool ([`Threads::init`]), then opens the selected device: the CPU, one
/// GPU adapter, or every adapter. Errors: the pool cannot be started (usage), no adapter
/// matches or none exists, or hwcal was built without the `gpu` feature
/// ([`Error::NoDevice`], exit code 2).
pub fn open(selection: &BackendSelection) -> Result<Opened> {
    let pinned_threads = selection.threads.init()?;
    let backends: Vec<Box<dyn Backend>> = match &selection.device {
        Device::Cpu => vec![Box::new(CpuBackend::with_idle_workers(
            selection.idle_workers,
        ))],
        Device::Gpu(GpuSelector::One(selector)) => {
            vec![Box::new(GpuBackend::open_with(selector, &selection.gpu)?)]
        }
        Device::Gpu(GpuSelector::All) => GpuBackend::open_all_with(&selection.gpu)?
            .into_iter()
            .map(|b| Box::new(b) as Box<dyn Backend>)
            .collect(),
    };
    Ok(Opened {
        backends,
        pinned_threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_have_an_upper_bound() {
        assert_eq!(max_threads(2), 32);
        let e = Threads::new(Some(100_000), false).unwrap_err().to_string();
        assert!(e.contains("--threads 100000: at most"), "{e}");
        assert!(Threads::new(Some(0), false).is_err());
    }

    #[test]
    fn device_all_is_every_adapter() {
        assert_eq!(GpuSelector::parse("ALL"), GpuSelector::All);
        assert_eq!(GpuSelector::parse("1"), GpuSelector::One("1".into()));
        assert_eq!(GpuSelector::default(), GpuSelector::One("0".into()));
    }
}
