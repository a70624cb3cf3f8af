//! The core clock, measured: a dependent chain of register adds retires one add per cycle, so
//! adds per second is cycles per second. Measured on every worker at once, right after the
//! peak loop ran there, so it is the clock under the same all-thread load.

use std::time::Instant;

/// Adds per call of [`chain`]: long enough (≈ 0.3 ms at 3 GHz) that the timer's resolution
/// does not matter, short enough not to prolong the run.
const ADDS: u64 = 1 << 20;

/// The clock of the calling core, in MHz; `None` where there is no chain for this target.
pub(super) fn core_mhz() -> Option<f64> {
    let t = Instant::now();
    chain(ADDS)?;
    let s = t.elapsed().as_secs_f64();
    (s > 0.0).then(|| ADDS as f64 / s / 1e6)
}

#[cfg(target_arch = "x86_64")]
fn chain(adds: u64) -> Option<u64> {
    let mut x = 0u64;
    // Register operands: some cores fold `add reg, imm` chains at rename, which would count
    // several adds per cycle.
    let step = std::hint::black_box(1u64);
    // SAFETY: register arithmetic only.
    unsafe {
        std::arch::asm!(
            "2:",
            "add {x}, {y}", "add {x}, {y}", "add {x}, {y}", "add {x}, {y}",
            "add {x}, {y}", "add {x}, {y}", "add {x}, {y}", "add {x}, {y}",
            "sub {n}, 8",
            "jnz 2b",
            x = inout(reg) x,
            y = in(reg) step,
            n = inout(reg) adds => _,
            options(nostack, nomem),
        );
    }
    Some(x)
}

#[cfg(not(target_arch = "x86_64"))]
fn chain(_adds: u64) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clock_is_a_plausible_frequency_where_measured() {
        if let Some(mhz) = super::core_mhz() {
            // A debug build is still one add per cycle: the chain is assembly.
            assert!((100.0..10_000.0).contains(&mhz), "{mhz} MHz");
        }
        #[cfg(target_arch = "x86_64")]
        assert_eq!(super::chain(64), Some(64));
    }
}
