//! The blocking of a call: how K is cut into blocks ([`KSplit`]) and how C is cut into a
//! grid of tasks for the threads ([`task_grid`], a small cost model calibrated on Zen 5), plus the
//! range-splitting helpers the driver shares with it.

/// Division rounding up.
#[inline]
pub(super) fn div_up(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

/// Start and end of part `i` when `count` items are split into `parts` nearly equal parts.
#[inline]
pub(super) fn split_range(count: usize, parts: usize, i: usize) -> (usize, usize) {
    (i * count / parts, (i + 1) * count / parts)
}

/// The K blocks: `nkb` blocks of `kcb` (the last one possibly shorter).
#[derive(Clone, Copy, Debug)]
pub(super) struct KSplit {
    pub(super) kcb: usize,
    pub(super) nkb: usize,
}

impl KSplit {
    /// Splits `k` into the fewest blocks of at most `kc_max`, of nearly equal length.
    pub(super) fn new(k: usize, kc_max: usize) -> KSplit {
        let nkb = div_up(k, kc_max);
        let kcb = div_up(k, nkb);
        KSplit {
            kcb,
            nkb: div_up(k, kcb),
        }
    }

    /// Start and length of block `i`.
    pub(super) fn block(&self, i: usize, k: usize) -> (usize, usize) {
        let p0 = i * self.kcb;
        (p0, self.kcb.min(k - p0))
    }
}

/// How C is cut into tasks: `tm` parts along M times `tn` parts along N.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct TaskGrid {
    pub(super) tm: usize,
    pub(super) tn: usize,
}

/// Below this many flops a Rayon call runs serially.
const PAR_MIN_FLOPS: f64 = 1.0e6;

/// Picks the task grid for `threads` threads, minimising an estimated makespan in cycles of
/// one core: FMA work (padded tiles count in full), packing, and a per-task start cost.
///
/// A task packs the A rows of its rectangle (so splitting N re-packs A once per column part);
/// B is packed just in time by the task itself when there is one row of tasks (`tm == 1`), and
/// otherwise shared: packed once per column part and K block by whoever gets there first,
/// which costs a synchronisation per K block and a round trip through L3.
#[allow(clippy::too_many_arguments)]
pub(super) fn task_grid(
    m: usize,
    n: usize,
    k: usize,
    kc: usize,
    mc: usize,
    mr: usize,
    nr: usize,
    threads: usize,
) -> TaskGrid {
    let serial = TaskGrid { tm: 1, tn: 1 };
    let flops = 2.0 * m as f64 * n as f64 * k as f64;
    if threads <= 1 || flops < PAR_MIN_FLOPS {
        return serial;
    }
    // Calibrated on Zen 5 (AVX-512): cycles per flop / per packed element / per event.
    // Shared B is expensive per element: it is written to a call-sized buffer and read by the
    // other cores out of this core's cache; splitting N and re-packing A measured faster for
    // square shapes (1-3% at N = 1024..2048), while M splits win when N is a few slivers.
    const FLOP_PER_CYCLE: f64 = 60.0;
    const A_PACK: f64 = 1.0;
    const B_PACK_OWN: f64 = 0.3;
    const B_PACK_SHARED: f64 = 2.0;
    const SYNC: f64 = 2_000.0;
    const TASK: f64 = 3_000.0;
    // Streaming the K block's B panel past one M block (L3 to L2), per element.
    const B_STREAM: f64 = 0.05;
    let (rt, ct) = (div_up(m, mr), div_up(n, nr));
    let nkb = div_up(k, kc) as f64;
    let kf = k as f64;
    let task_cost = |rows: f64, cols: f64, tm: usize| {
        let b = if tm == 1 {
            cols * kf * B_PACK_OWN
        } else {
            cols * kf * B_PACK_SHARED / tm as f64 + nkb * SYNC
        };
        let m_blocks = (rows / mc as f64).ceil();
        rows * cols * kf * 2.0 / FLOP_PER_CYCLE
            + rows * kf * A_PACK
            + b
            + m_blocks * cols * kf * B_STREAM
            + TASK
    };
    let mut best = (f64::INFINITY, serial);
    for per_thread in 1..=8 {
        let tasks = threads * per_thread;
        for tm in 1..=tasks.min(rt) {
            let tn = tasks / tm;
            if !tasks.is_multiple_of(tm) || tn > ct {
                continue;
            }
            let avg = task_cost(
                (rt * mr) as f64 / tm as f64,
                (ct * nr) as f64 / tn as f64,
                tm,
            );
            let max = task_cost(
                (div_up(rt, tm) * mr) as f64,
                (div_up(ct, tn) * nr) as f64,
                tm,
            );
            // Tasks are handed out dynamically: per-thread work plus the largest task's excess.
            let makespan = per_thread as f64 * avg + (max - avg);
            // Slight preference for more tasks: better balance when a core is disturbed.
            let cost = makespan * (1.0 - 0.001 * per_thread as f64);
            if cost < best.0 {
                best = (cost, TaskGrid { tm, tn });
            }
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_keep_both_threads_busy() {
        let shapes = [
            (128, 512, 512),
            (512, 1024, 1024),
            (128, 784, 1152),
            (64, 3136, 576),
            (256, 256, 64),
            (256, 64, 256),
            (512, 512, 512),
            (2048, 2048, 2048),
            (8192, 256, 256),
        ];
        for (m, n, k) in shapes {
            let pl = task_grid(m, n, k, 1024, 96, 12, 32, 2);
            assert!(
                pl.tm * pl.tn >= 2 && (pl.tm * pl.tn).is_multiple_of(2),
                "{m}x{n}x{k}: {pl:?}"
            );
        }
        assert_eq!(
            task_grid(2048, 2048, 2048, 1024, 96, 12, 32, 1),
            TaskGrid { tm: 1, tn: 1 }
        );
        assert_eq!(
            task_grid(8, 8, 8, 1024, 96, 12, 32, 2),
            TaskGrid { tm: 1, tn: 1 }
        );
    }
}
