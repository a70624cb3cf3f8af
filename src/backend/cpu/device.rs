//! What the CPU is: model, cores, memory, ISA, and an honest peak estimate.

use crate::backend::{DeviceInfo, PeakEstimate};
use serde_json::json;
use sysinfo::System;

/// SIMD f32 lanes of the widest FMA unit this CPU supports, and its name.
pub fn simd_width() -> (usize, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        use super::simd::Isa;
        match Isa::detect() {
            Isa::Avx512 => (16, "AVX-512"),
            Isa::Avx2Fma => (8, "AVX2+FMA"),
            Isa::Portable => (4, "SSE2"),
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        (4, "NEON")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        (1, "scalar")
    }
}

/// Highest clock the kernel reports for CPU 0, in MHz: cpufreq's maximum when available (the
/// boost clock), otherwise the current clock sysinfo reads from /proc/cpuinfo.
fn max_clock_mhz(sys: &System) -> (f64, &'static str) {
    if let Ok(s) = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    {
        if let Ok(khz) = s.trim().parse::<f64>() {
            return (khz / 1000.0, "cpufreq maximum");
        }
    }
    let mhz = sys
        .cpus()
        .first()
        .map(|c| c.frequency() as f64)
        .unwrap_or(0.0);
    (mhz, "reported clock (boost may exceed it)")
}

/// Describes this CPU for a backend using `threads` workers.
pub fn describe(threads: usize) -> DeviceInfo {
    let mut sys = System::new();
    sys.refresh_cpu_all();
    sys.refresh_memory();
    let brand = sys
        .cpus()
        .first()
        .map(|c| c.brand().trim().to_string())
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cpu_count = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (lanes, isa) = simd_width();
    let (mhz, clock_source) = max_clock_mhz(&sys);
    let theoretical_peaks = super::uarch::theoretical_peaks(cpu_count, mhz);
    let f32_vector = theoretical_peaks.iter().find(|p| {
        p.precision == crate::dtype::DType::F32 && p.width == crate::precision::PeakWidth::Vector
    });
    let peak_gflops = match f32_vector {
        Some(p) => Some(PeakEstimate {
            value: p.gops(),
            how: format!(
                "{cpu_count} cores × {:.2} GHz ({clock_source}) × {} FLOP/cycle ({})",
                mhz / 1000.0,
                p.ops_per_cycle_per_core,
                p.how
            ),
        }),
        // Not in the table: two FMA pipes per core is what current server and desktop
        // cores have; a core with one reaches half of this.
        None => (mhz > 0.0).then(|| {
            let flops_per_cycle = lanes * 2 * 2;
            PeakEstimate {
                value: cpu_count as f64 * mhz / 1000.0 * flops_per_cycle as f64,
                how: format!(
                    "{cpu_count} cores × {:.2} GHz ({clock_source}) × {flops_per_cycle} \
                     FLOP/cycle ({isa}: {lanes} f32 lanes × FMA × 2 units, assumed)",
                    mhz / 1000.0
                ),
            }
        }),
    };
    DeviceInfo {
        backend: "cpu",
        name: brand.clone(),
        cpu_model: brand,
        cpu_count,
        total_memory_gb: sys.total_memory() as f64 / (1u64 << 30) as f64,
        threads,
        timing_method: "host_monotonic_clock",
        peak_gflops,
        theoretical_peaks,
        // DRAM speed and channel count are not visible to an unprivileged process in a
        // portable way; the user passes --peak-bandwidth.
        peak_bandwidth_gbps: None,
        details: json!({
            "arch": std::env::consts::ARCH,
            "os": std::env::consts::OS,
            "simd": isa,
            "f32_lanes": lanes,
            "clock_mhz": mhz,
            "clock_source": clock_source,
            "core_class": super::uarch::core_class().map(|c| c.name),
        }),
    }
}
