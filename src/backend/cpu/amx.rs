//! Intel AMX (Advanced Matrix Extensions): whether this CPU and this process may use the tile
//! units, asked once per process.
//!
//! AMX needs three things: the CPU's CPUID bits (AMX-TILE plus AMX-BF16 or AMX-INT8), the
//! operating system's support for the tile state in XCR0, and on Linux the process's
//! permission to use that state (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`),
//! without which the first tile instruction kills the process. [`support`] checks all three
//! and requests the permission, so a kernel that asks it first can use the tiles safely.

use std::sync::OnceLock;

/// What the tile units can do on this CPU, for this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AmxSupport {
    /// `tdpbf16ps` (AMX-BF16) is usable.
    pub bf16: bool,
    /// `tdpbusd` (AMX-INT8) is usable.
    pub int8: bool,
}

/// Whether AMX is usable here, and the reason when the CPU has it but it is not (e.g. the
/// kernel refused the permission). Asked once; later calls return the cached answer.
pub fn support() -> (AmxSupport, Option<&'static str>) {
    static SUPPORT: OnceLock<(AmxSupport, Option<&'static str>)> = OnceLock::new();
    *SUPPORT.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
// CPUID is a safe function since Rust 1.87 (`unsafe` kept for older compilers).
#[allow(unused_unsafe)]
fn detect() -> (AmxSupport, Option<&'static str>) {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: CPUID is available on every x86_64 CPU.
    let max_leaf = unsafe { __cpuid(0) }.eax;
    if max_leaf < 7 {
        return (AmxSupport::default(), None);
    }
    // SAFETY: leaf 7 exists (checked above).
    let edx = unsafe { __cpuid_count(7, 0) }.edx;
    let (tile, bf16, int8) = (edx >> 24 & 1 == 1, edx >> 22 & 1 == 1, edx >> 25 & 1 == 1);
    if !tile || !(bf16 || int8) {
        return (AmxSupport::default(), None);
    }
    if !std::arch::is_x86_feature_detected!("xsave") {
        return (AmxSupport::default(), Some("the OS does not enable XSAVE"));
    }
    // SAFETY: XGETBV is available when OSXSAVE is set, which `xsave` detection implies.
    let xcr0 = unsafe { xcr0() };
    if xcr0 >> 17 & 3 != 3 {
        return (
            AmxSupport::default(),
            Some("the OS does not enable the AMX tile state (XCR0 bits 17-18)"),
        );
    }
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only changes this process's permissions.
    let granted = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    } == 0;
    if !granted {
        return (
            AmxSupport::default(),
            Some("the kernel refused the AMX tile-data permission (arch_prctl)"),
        );
    }
    (AmxSupport { bf16, int8 }, None)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: the caller checked that XGETBV is available.
    unsafe { std::arch::x86_64::_xgetbv(0) }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> (AmxSupport, Option<&'static str>) {
    (AmxSupport::default(), None)
}

/// The tile configuration every hwcal AMX kernel uses (`ldtilecfg`'s 64-byte operand):
/// palette 1, all eight tiles of 16 rows × 64 bytes.
#[repr(C, align(64))]
pub struct TileConfig(pub [u8; 64]);

impl TileConfig {
    /// Eight full tiles.
    pub fn full() -> Self {
        let mut c = [0u8; 64];
        c[0] = 1;
        for t in 0..8 {
            c[16 + 2 * t] = 64;
            c[48 + t] = 16;
        }
        TileConfig(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_is_stable_and_explains_a_refusal() {
        let (first, why) = support();
        assert_eq!(support(), (first, why));
        // A reason is only given when the tiles are unusable.
        if why.is_some() {
            assert_eq!(first, AmxSupport::default());
        }
    }
}
