//! Theoretical peaks per precision from the CPU's vendor, family and ISA: the table behind
//! `DeviceInfo::theoretical_peaks`, documented row by row in `docs/precisions.md`.
//!
//! Each row is operations per cycle per core (an FMA counts 2) of the units the instruction
//! runs on. The rows that matter most are corrections of the naive "lanes × 2 FMA units"
//! rule: Zen 4 executes AVX-512 on 256-bit units (double-pumped), so its 512-bit FMA rate is
//! that of AVX2; AMX tiles are counted separately, as the matrix width. A CPU the table does
//! not know gets no row, rather than a guess.

use super::amx;
use crate::dtype::DType;
use crate::precision::{PeakWidth, TheoreticalPeak};

/// What the table knows of this core, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct CoreClass {
    /// Short name (e.g. `Zen 4 (AVX-512 on 256-bit units)`).
    pub name: &'static str,
    /// f32 FMA lanes per cycle per core, all FMA units together.
    pub f32_fma_lanes: f64,
    /// int8 `vpdpbusd` lanes (i32 results) per cycle per core, when the CPU has VNNI.
    pub int8_dot_lanes: Option<f64>,
    /// Whether the f16 rate is twice the f32 rate (AVX512-FP16 on the FMA units).
    pub native_f16: bool,
}

/// Classifies this CPU; `None` when the table does not know it.
pub fn core_class() -> Option<CoreClass> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let (vendor, family) = vendor_family();
        let avx512 = has!("avx512f");
        let vnni512 = avx512 && has!("avx512vnni");
        let fp16 = avx512 && has!("avx512fp16");
        let (name, lanes) = match (vendor.as_str(), family) {
            ("AuthenticAMD", 0x19) if avx512 => {
                ("Zen 4 (AVX-512 on 256-bit units, double-pumped)", 16.0)
            }
            ("AuthenticAMD", 0x19) => ("Zen 3 (2 × 256-bit FMA)", 16.0),
            ("AuthenticAMD", 0x1A) if avx512 => ("Zen 5 (2 × 512-bit FMA)", 32.0),
            ("AuthenticAMD", 0x17) => ("Zen / Zen 2 (2 × 256-bit FMA)", 16.0),
            ("GenuineIntel", _) if avx512 && amx::support().0.bf16 => (
                "Intel server core with AMX (Sapphire/Emerald/Granite Rapids: 2 × 512-bit FMA)",
                32.0,
            ),
            ("GenuineIntel", _) if avx512 => (
                "Intel AVX-512 core (2 × 512-bit FMA assumed; some parts have 1)",
                32.0,
            ),
            ("GenuineIntel", _) if has!("fma") => ("Intel AVX2 core (2 × 256-bit FMA)", 16.0),
            _ => return None,
        };
        // vpdpbusd runs on the FMA units: four int8 pairs per i32 lane, at the f32 lane rate.
        let int8 = (vnni512 || has!("avxvnni")).then_some(lanes);
        Some(CoreClass {
            name,
            f32_fma_lanes: lanes,
            int8_dot_lanes: int8,
            native_f16: fp16,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

#[cfg(target_arch = "x86_64")]
// CPUID is a safe function since Rust 1.87 (`unsafe` kept for older compilers).
#[allow(unused_unsafe)]
fn vendor_family() -> (String, u32) {
    use std::arch::x86_64::__cpuid;
    // SAFETY: CPUID is available on every x86_64 CPU.
    let v = unsafe { __cpuid(0) };
    let mut vendor = Vec::with_capacity(12);
    for r in [v.ebx, v.edx, v.ecx] {
        vendor.extend_from_slice(&r.to_le_bytes());
    }
    // SAFETY: leaf 1 exists on every x86_64 CPU.
    let eax = unsafe { __cpuid(1) }.eax;
    let base = (eax >> 8) & 0xF;
    let family = if base == 0xF {
        base + ((eax >> 20) & 0xFF)
    } else {
        base
    };
    (String::from_utf8_lossy(&vendor).into_owned(), family)
}

/// The table's peaks for this CPU with `cores` cores at `clock_mhz`.
pub fn theoretical_peaks(cores: usize, clock_mhz: f64) -> Vec<TheoreticalPeak> {
    let Some(class) = core_class() else {
        return Vec::new();
    };
    if clock_mhz <= 0.0 {
        return Vec::new();
    }
    let peak = |precision, width, ops: f64, how: String| TheoreticalPeak {
        precision,
        width,
        ops_per_cycle_per_core: ops,
        cores,
        clock_mhz,
        how,
    };
    let lanes = class.f32_fma_lanes;
    let mut peaks = vec![
        peak(
            DType::F64,
            PeakWidth::Vector,
            lanes,
            format!("{} f64 FMA lanes × 2 ({})", lanes / 2.0, class.name),
        ),
        peak(
            DType::F32,
            PeakWidth::Vector,
            2.0 * lanes,
            format!("{lanes} f32 FMA lanes × 2 ({})", class.name),
        ),
        peak(
            DType::F64,
            PeakWidth::Scalar,
            4.0,
            "2 scalar FMAs per cycle × 2".into(),
        ),
        peak(
            DType::F32,
            PeakWidth::Scalar,
            4.0,
            "2 scalar FMAs per cycle × 2".into(),
        ),
    ];
    if class.native_f16 {
        peaks.push(peak(
            DType::F16,
            PeakWidth::Vector,
            4.0 * lanes,
            format!(
                "{} f16 FMA lanes × 2 (AVX512-FP16 on the FMA units)",
                2.0 * lanes
            ),
        ));
    }
    if let Some(l) = class.int8_dot_lanes {
        peaks.push(peak(
            DType::I8,
            PeakWidth::Vector,
            8.0 * l,
            format!("{l} i32 lanes of vpdpbusd × 4 int8 pairs × 2"),
        ));
    }
    let (amx, _) = amx::support();
    if amx.bf16 {
        peaks.push(peak(
            DType::BF16,
            PeakWidth::Matrix,
            1024.0,
            "AMX: one 16×16×32 tdpbf16ps per 16 cycles".into(),
        ));
    }
    if amx.int8 {
        peaks.push(peak(
            DType::I8,
            PeakWidth::Matrix,
            2048.0,
            "AMX: one 16×16×64 tdpbusd per 16 cycles".into(),
        ));
    }
    peaks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_orders_precisions_and_scales_with_cores() {
        let peaks = theoretical_peaks(2, 3000.0);
        let find = |p, w| {
            peaks
                .iter()
                .find(|t| t.precision == p && t.width == w)
                .map(|t| t.gops())
        };
        if let (Some(f64v), Some(f32v)) = (
            find(DType::F64, PeakWidth::Vector),
            find(DType::F32, PeakWidth::Vector),
        ) {
            assert_eq!(f32v, 2.0 * f64v);
            assert!(find(DType::F32, PeakWidth::Scalar).unwrap() < f32v);
        }
        assert!(theoretical_peaks(2, 0.0).is_empty());
        let one = theoretical_peaks(1, 3000.0);
        assert_eq!(one.len(), peaks.len());
        for (a, b) in one.iter().zip(&peaks) {
            assert_eq!(2.0 * a.gops(), b.gops());
        }
    }
}
