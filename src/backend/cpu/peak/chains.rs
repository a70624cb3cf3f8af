//! The peak loops themselves: twelve independent accumulator registers, each advanced by one
//! instruction per step (an FMA of ones, or a dot product of ones), in inline assembly so the
//! compiler can neither fold the chains nor pick other instructions. AMX tiles run six tile
//! chains instead.
//!
//! Every loop loads its accumulators from `start` (a 64-byte block holding the start value in
//! every lane of the accumulator type), its two operand registers from `ones`, runs
//! `iterations` steps and stores accumulator `i` at `out + 64·i` (AMX: tile `i` at
//! `out + 1024·i`), so the caller reads every lane back and checks it against the closed form.

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::asm;

    /// Accumulator registers of the register loops.
    pub const CHAINS: usize = 12;
    /// Accumulator tiles of the AMX loops.
    pub const TILE_CHAINS: usize = 6;

    /// One register loop: `$load` moves whole registers, `$step` is the instruction timed,
    /// with operands `acc, ones, ones`.
    macro_rules! register_chains {
        ($(#[$doc:meta])* $name:ident, $feature:literal, $r:literal, $step:literal,
         [$($clobber:tt)*]) => {
            $(#[$doc])*
            ///
            /// # Safety
            /// The CPU must have the instruction's feature; `start` and `ones` must point to
            /// 64 readable bytes and `out` to `64 × CHAINS` writable bytes.
            #[target_feature(enable = $feature)]
            pub unsafe fn $name(iterations: u64, start: *const u8, ones: *const u8, out: *mut u8) {
                // SAFETY: the caller guarantees the feature and the buffers (see above); the
                // loop touches only the registers it declares and the three buffers.
                unsafe {
                    asm!(
                        concat!("vmovups ", $r, "14, [{ones}]"),
                        concat!("vmovups ", $r, "15, [{ones}]"),
                        concat!("vmovups ", $r, "0, [{start}]"),
                        concat!("vmovups ", $r, "1, [{start}]"),
                        concat!("vmovups ", $r, "2, [{start}]"),
                        concat!("vmovups ", $r, "3, [{start}]"),
                        concat!("vmovups ", $r, "4, [{start}]"),
                        concat!("vmovups ", $r, "5, [{start}]"),
                        concat!("vmovups ", $r, "6, [{start}]"),
                        concat!("vmovups ", $r, "7, [{start}]"),
                        concat!("vmovups ", $r, "8, [{start}]"),
                        concat!("vmovups ", $r, "9, [{start}]"),
                        concat!("vmovups ", $r, "10, [{start}]"),
                        concat!("vmovups ", $r, "11, [{start}]"),
                        "test {n}, {n}",
                        "jz 3f",
                        "2:",
                        concat!($step, " ", $r, "0, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "1, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "2, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "3, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "4, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "5, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "6, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "7, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "8, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "9, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "10, ", $r, "14, ", $r, "15"),
                        concat!($step, " ", $r, "11, ", $r, "14, ", $r, "15"),
                        "dec {n}",
                        "jnz 2b",
                        "3:",
                        concat!("vmovups [{out}], ", $r, "0"),
                        concat!("vmovups [{out} + 64], ", $r, "1"),
                        concat!("vmovups [{out} + 128], ", $r, "2"),
                        concat!("vmovups [{out} + 192], ", $r, "3"),
                        concat!("vmovups [{out} + 256], ", $r, "4"),
                        concat!("vmovups [{out} + 320], ", $r, "5"),
                        concat!("vmovups [{out} + 384], ", $r, "6"),
                        concat!("vmovups [{out} + 448], ", $r, "7"),
                        concat!("vmovups [{out} + 512], ", $r, "8"),
                        concat!("vmovups [{out} + 576], ", $r, "9"),
                        concat!("vmovups [{out} + 640], ", $r, "10"),
                        concat!("vmovups [{out} + 704], ", $r, "11"),
                        n = inout(reg) iterations => _,
                        start = in(reg) start,
                        ones = in(reg) ones,
                        out = in(reg) out,
                        $($clobber)*
                        options(nostack),
                    );
                }
            }
        };
    }

    macro_rules! zmm_clobbers {
        ($m:ident, $($rest:tt)*) => {
            $m!($($rest)* [out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
                out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _, out("zmm8") _,
                out("zmm9") _, out("zmm10") _, out("zmm11") _, out("zmm14") _,
                out("zmm15") _,]);
        };
    }
    macro_rules! ymm_clobbers {
        ($m:ident, $($rest:tt)*) => {
            $m!($($rest)* [out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _, out("ymm8") _,
                out("ymm9") _, out("ymm10") _, out("ymm11") _, out("ymm14") _,
                out("ymm15") _,]);
        };
    }

    zmm_clobbers!(register_chains,
        /// `vfmadd231ps zmm`: 16 f32 FMAs per instruction.
        f32_avx512, "avx512f", "zmm", "vfmadd231ps",);
    zmm_clobbers!(register_chains,
        /// `vfmadd231pd zmm`: 8 f64 FMAs per instruction.
        f64_avx512, "avx512f", "zmm", "vfmadd231pd",);
    zmm_clobbers!(register_chains,
        /// `vfmadd231ph zmm` (AVX512-FP16): 32 f16 FMAs per instruction.
        f16_avx512, "avx512f", "zmm", "vfmadd231ph",);
    zmm_clobbers!(register_chains,
        /// `vdpbf16ps zmm` (AVX512_BF16): 16 lanes, each adding two bf16 products in f32.
        bf16_avx512, "avx512f", "zmm", "vdpbf16ps",);
    zmm_clobbers!(register_chains,
        /// `vpdpbusd zmm` (AVX512_VNNI): 16 lanes, each adding four u8×s8 products in i32.
        int8_avx512, "avx512f", "zmm", "vpdpbusd",);
    ymm_clobbers!(register_chains,
        /// `vfmadd231ps ymm` (AVX2+FMA): 8 f32 FMAs per instruction.
        f32_avx2, "avx2,fma", "ymm", "vfmadd231ps",);
    ymm_clobbers!(register_chains,
        /// `vfmadd231pd ymm` (AVX2+FMA): 4 f64 FMAs per instruction.
        f64_avx2, "avx2,fma", "ymm", "vfmadd231pd",);
    ymm_clobbers!(register_chains,
        /// `{vex} vpdpbusd ymm` (AVX-VNNI): 8 lanes of four u8×s8 products in i32.
        int8_avx_vnni, "avx2", "ymm", "{{vex}} vpdpbusd",);
    ymm_clobbers!(register_chains,
        /// `vfmadd231ss xmm`: one f32 FMA per instruction (the scalar peak).
        f32_scalar, "fma", "xmm", "vfmadd231ss",);
    ymm_clobbers!(register_chains,
        /// `vfmadd231sd xmm`: one f64 FMA per instruction (the scalar peak).
        f64_scalar, "fma", "xmm", "vfmadd231sd",);
    ymm_clobbers!(register_chains,
        /// `vfmadd231sh xmm` (AVX512-FP16): one f16 FMA per instruction.
        f16_scalar, "avx512f", "xmm", "vfmadd231sh",);

    /// One AMX loop: six accumulator tiles advanced by `$step tmm_i, tmm6, tmm7`, with both
    /// operand tiles loaded from `ones` (1024 bytes).
    macro_rules! tile_chains {
        ($(#[$doc:meta])* $name:ident, $step:literal) => {
            $(#[$doc])*
            ///
            /// # Safety
            /// The CPU must have AMX and the process the permission to use its tile data
            /// ([`super::super::amx::enable`]); `start` and `ones` must point to 1024
            /// readable bytes and `out` to `1024 × TILE_CHAINS` writable bytes.
            pub unsafe fn $name(iterations: u64, start: *const u8, ones: *const u8, out: *mut u8) {
                let config = crate::backend::cpu::amx::TileConfig::full();
                // SAFETY: the caller guarantees AMX and its permission and the buffers; the
                // tiles are configured first and released at the end, so no tile state
                // outlives the call.
                unsafe {
                    asm!(
                        "ldtilecfg [{cfg}]",
                        "tileloadd tmm0, [{start} + {stride} * 1]",
                        "tileloadd tmm1, [{start} + {stride} * 1]",
                        "tileloadd tmm2, [{start} + {stride} * 1]",
                        "tileloadd tmm3, [{start} + {stride} * 1]",
                        "tileloadd tmm4, [{start} + {stride} * 1]",
                        "tileloadd tmm5, [{start} + {stride} * 1]",
                        "tileloadd tmm6, [{ones} + {stride} * 1]",
                        "tileloadd tmm7, [{ones} + {stride} * 1]",
                        "test {n}, {n}",
                        "jz 3f",
                        "2:",
                        concat!($step, " tmm0, tmm6, tmm7"),
                        concat!($step, " tmm1, tmm6, tmm7"),
                        concat!($step, " tmm2, tmm6, tmm7"),
                        concat!($step, " tmm3, tmm6, tmm7"),
                        concat!($step, " tmm4, tmm6, tmm7"),
                        concat!($step, " tmm5, tmm6, tmm7"),
                        "dec {n}",
                        "jnz 2b",
                        "3:",
                        "tilestored [{out} + {stride} * 1], tmm0",
                        "add {out}, 1024",
                        "tilestored [{out} + {stride} * 1], tmm1",
                        "add {out}, 1024",
                        "tilestored [{out} + {stride} * 1], tmm2",
                        "add {out}, 1024",
                        "tilestored [{out} + {stride} * 1], tmm3",
                        "add {out}, 1024",
                        "tilestored [{out} + {stride} * 1], tmm4",
                        "add {out}, 1024",
                        "tilestored [{out} + {stride} * 1], tmm5",
                        "tilerelease",
                        cfg = in(reg) config.0.as_ptr(),
                        n = inout(reg) iterations => _,
                        start = in(reg) start,
                        ones = in(reg) ones,
                        out = inout(reg) out => _,
                        stride = in(reg) 64usize,
                        options(nostack),
                    );
                }
            }
        };
    }

    tile_chains!(
        /// `tdpbf16ps` (AMX-BF16): a 16×16 f32 tile += a 16×32 by 32×16 bf16 product.
        bf16_amx,
        "tdpbf16ps"
    );
    tile_chains!(
        /// `tdpbusd` (AMX-INT8): a 16×16 i32 tile += a 16×64 u8 by 64×16 s8 product.
        int8_amx,
        "tdpbusd"
    );
}

/// The portable loop: `LANES` independent f32 or f64 chains of `x = x·1 + 1` through
/// `mul_add`, which the compiler turns into vector FMAs where the target has them (NEON's
/// `fmla` on aarch64); used only on targets without a hand-written loop.
#[cfg(not(target_arch = "x86_64"))]
pub(super) mod portable {
    /// Chains of the portable loop.
    pub const LANES: usize = 64;

    macro_rules! portable_chains {
        ($name:ident, $t:ty) => {
            /// Runs `iterations` steps of `LANES` chains from `start`; returns the lanes.
            pub fn $name(iterations: u64, start: $t) -> [$t; LANES] {
                let mut x = [start; LANES];
                let one = std::hint::black_box(1.0 as $t);
                for _ in 0..iterations {
                    for v in &mut x {
                        *v = v.mul_add(one, one);
                    }
                }
                std::hint::black_box(x)
            }
        };
    }
    portable_chains!(f32_chains, f32);
    portable_chains!(f64_chains, f64);
}
