// common.wgsl: prepended to every shader in this directory (see src/backend/gpu/pipelines.rs).
//
// The activation every epilogue and the unfused activation pass apply, chosen by the
// pipeline-overridable constant ACT, so one source gives the identity, ReLU, GELU, ReLU6 and
// SiLU variants.

// 0 = identity, 1 = ReLU, 2 = GELU (tanh approximation), 3 = ReLU6, 4 = SiLU:
// Activation::wgsl_code in
// src/pattern/op.rs, whose f64 reference every kernel is checked against.
override ACT: u32 = 0u;

fn activate(x: f32) -> f32 {
    if (ACT == 1u) {
        return max(x, 0.0);
    }
    if (ACT == 2u) {
        // 0.5·x·(1 + tanh(sqrt(2/pi)·(x + 0.044715·x³)))
        // Clamped: tanh is ±1 in f32 beyond ±9, and some drivers' tanh overflows for huge inputs.
        let inner = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
        return 0.5 * x * (1.0 + tanh(inner));
    }
    if (ACT == 3u) {
        return min(max(x, 0.0), 6.0);
    }
    if (ACT == 4u) {
        // x / (1 + e^(−x)), the exponent clamped so that e^(−x) stays finite.
        return x / (1.0 + exp(min(-x, 80.0)));
    }
    return x;
}
