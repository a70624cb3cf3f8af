//! Run-time SIMD detection for the CPU backend, in one place: the [`Isa`] a kernel runs with,
//! the feature checks behind it, and [`simd_dispatch!`] for plain loops compiled twice.
//!
//! Every kernel that picks code by instruction set asks here instead of calling
//! `is_x86_feature_detected!` itself, so the rules stay consistent and visible side by side:
//! - the GEMM microkernels ([`super::gemm`]) and the activation pass ([`super::activation`])
//!   take the best of AVX-512F, AVX2+FMA and portable code ([`Isa::detect`]);
//! - the loops built by [`simd_dispatch!`] (the stream kernels) and the softmax row
//!   ([`super::elementwise::softmax_row`]) only have an AVX2+FMA build
//!   ([`Isa::has_avx2_fma`]);
//! - the device description ([`super::device::simd_width`]) reports the widest FMA unit, the
//!   same order as [`Isa::detect`].
//!
//! Detection is cheap: `std` caches the CPUID results, so each check is a load and a bit test
//! and callers may ask on every call.

/// Instruction set used by a CPU kernel (GEMM microkernel or activation pass).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512F (x86_64).
    Avx512,
    /// AVX2 + FMA (x86_64).
    Avx2Fma,
    /// Plain Rust, any architecture.
    Portable,
}

impl Isa {
    /// AVX2+FMA where the CPU has it, else portable code: the instruction set of the
    /// [`simd_dispatch!`] kernels, for the code they call (mixing in AVX-512 lowers the clock
    /// of the whole loop on some Intel cores).
    pub(crate) fn avx2_or_portable() -> Isa {
        if Isa::has_avx2_fma() {
            Isa::Avx2Fma
        } else {
            Isa::Portable
        }
    }

    /// The best instruction set this CPU supports (detection is cached by `std`).
    #[inline]
    pub(crate) fn detect() -> Isa {
        if Isa::has_avx512f() {
            return Isa::Avx512;
        }
        if Isa::has_avx2_fma() {
            return Isa::Avx2Fma;
        }
        Isa::Portable
    }

    /// Whether code for this instruction set may run on this CPU.
    pub(crate) fn is_available(self) -> bool {
        match self {
            Isa::Avx512 => Isa::has_avx512f(),
            Isa::Avx2Fma => Isa::has_avx2_fma(),
            Isa::Portable => true,
        }
    }

    /// Whether the CPU has AVX-512F (always `false` off x86_64).
    #[inline]
    pub(crate) fn has_avx512f() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Whether the CPU has both AVX2 and FMA (always `false` off x86_64).
    #[inline]
    pub(crate) fn has_avx2_fma() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

/// Defines `pub fn $name` whose body is compiled twice, for the baseline target and with
/// AVX2+FMA enabled, and picks the AVX2 build at run time when the CPU has it. Loops in the body
/// then vectorise to 256-bit without building the whole crate for a newer CPU.
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    generic($($arg),*)
                }
                if $crate::backend::cpu::simd::Isa::has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            generic($($arg),*)
        }
    };
}
pub(crate) use simd_dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    /// The checks agree with each other: `detect` picks an available set, the best one.
    #[test]
    fn detect_picks_the_best_available() {
        let best = Isa::detect();
        assert!(best.is_available());
        assert!(Isa::Portable.is_available());
        assert_eq!(Isa::Avx512.is_available(), Isa::has_avx512f());
        assert_eq!(Isa::Avx2Fma.is_available(), Isa::has_avx2_fma());
        if Isa::has_avx512f() {
            assert_eq!(best, Isa::Avx512);
        } else if Isa::has_avx2_fma() {
            assert_eq!(best, Isa::Avx2Fma);
        }
    }
}
