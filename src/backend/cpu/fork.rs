//! The fork helper of the CPU backend: [`run_parallel`] runs a small number of tasks on the
//! calling thread plus helpers on the current rayon pool, without the calling thread ever going
//! to sleep.
//!
//! It lives on its own because several kernels fork work this way (the GEMM driver's task grid
//! in [`super::gemm`], the fused attention blocks in [`super::attention`]); each uses it from
//! here instead of carrying its own copy.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Runs `task(0..ntasks)` on the calling thread plus `threads - 1` helper jobs spawned on the
/// current rayon pool, handing out tasks through an atomic counter. Usable by other kernels
/// that fork small amounts of work from outside the pool.
///
/// Unlike `par_iter`/`join` called from outside the pool, the calling thread never sleeps: it
/// works on tasks right away and, if the helpers are slow to wake up (tens of microseconds on a
/// VM), simply does more of the tasks itself. It then waits (spinning, then yielding) only for
/// tasks that helpers have actually started. Helpers that start after all tasks are claimed
/// return without touching anything borrowed by `task`. A panic in any task is re-raised on
/// the calling thread once all started tasks have finished.
pub(crate) fn run_parallel<F: Fn(usize) + Sync>(ntasks: usize, threads: usize, task: &F) {
    /// State shared with the helper jobs, which must be `'static`: `task` is type- and
    /// lifetime-erased into `data` + `call`.
    struct Shared {
        next: AtomicUsize,
        done: AtomicUsize,
        ntasks: usize,
        data: *const (),
        call: unsafe fn(*const (), usize),
        panic: Mutex<Option<Box<dyn Any + Send>>>,
    }
    // SAFETY: `data` points to an `F: Sync` that is only called (by shared reference) through
    // `call`, and only while the owning `run_parallel` frame is alive (see `work`).
    unsafe impl Send for Shared {}
    // SAFETY: as above; everything else is atomics or a mutex.
    unsafe impl Sync for Shared {}

    /// # Safety
    /// `data` must point to a live `F`.
    unsafe fn call<F: Fn(usize)>(data: *const (), t: usize) {
        // SAFETY: guaranteed by the caller.
        unsafe { (*(data as *const F))(t) }
    }

    impl Shared {
        /// Claims and runs tasks until none are left.
        fn work(&self) {
            loop {
                let t = self.next.fetch_add(1, Ordering::Relaxed);
                if t >= self.ntasks {
                    return;
                }
                // SAFETY: task `t < ntasks` was claimed by this thread alone, and the owning
                // frame does not return before `done` counts it, so `data` is alive.
                let r = catch_unwind(AssertUnwindSafe(|| unsafe { (self.call)(self.data, t) }));
                if let Err(payload) = r {
                    let mut slot = self.panic.lock().unwrap_or_else(|e| e.into_inner());
                    slot.get_or_insert(payload);
                }
                self.done.fetch_add(1, Ordering::Release);
            }
        }
    }

    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        ntasks,
        data: task as *const F as *const (),
        call: call::<F>,
        panic: Mutex::new(None),
    });
    for _ in 1..threads.min(ntasks) {
        let sh = Arc::clone(&shared);
        rayon::spawn(move || sh.work());
    }
    shared.work();
    // Every task has been claimed; wait for those still running on helpers.
    let mut spins = 0u32;
    while shared.done.load(Ordering::Acquire) < ntasks {
        if spins < 2000 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
    let payload = shared
        .panic
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(payload) = payload {
        resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_parallel_runs_each_task_once() {
        for (ntasks, threads) in [(1, 1), (2, 2), (7, 2), (16, 3), (5, 8)] {
            let hits: Vec<AtomicUsize> = (0..ntasks).map(|_| AtomicUsize::new(0)).collect();
            run_parallel(ntasks, threads, &|t: usize| {
                hits[t].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                "{ntasks} {threads}"
            );
        }
    }

    #[test]
    fn run_parallel_propagates_panics() {
        for bad in [0, 5] {
            let ran = AtomicUsize::new(0);
            let r = catch_unwind(AssertUnwindSafe(|| {
                run_parallel(8, 2, &|t: usize| {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    ran.fetch_add(1, Ordering::Relaxed);
                    assert!(t != bad, "task {t} fails");
                })
            }));
            assert!(r.is_err(), "panic in task {bad} was swallowed");
            assert_eq!(ran.load(Ordering::Relaxed), 8, "the other tasks still ran");
        }
    }
}
