//! What [`sgemm`](super::sgemm) settles before any kernel runs: the slice-length contract it
//! asserts (documented under "Panics" on [`sgemm`](super::sgemm)), and the `k == 0` product,
//! whose sum is empty, so that only bias and activation remain.

use super::{BLayout, Bias, Problem};

/// Asserts the slice-length contract documented on [`sgemm`](super::sgemm).
pub(super) fn check_contract(p: &Problem, c: &[f32]) {
    let (m, n, k) = (p.m, p.n, p.k);
    if m > 0 && k > 0 {
        assert!(p.lda >= k, "sgemm: lda ({}) < k ({k})", p.lda);
        let need = (m - 1) * p.lda + k;
        assert!(
            p.a.len() >= need,
            "sgemm: a.len() = {} < (m-1)*lda + k = {need}",
            p.a.len()
        );
    }
    if n > 0 && k > 0 {
        let (rows, width) = match p.b_layout {
            BLayout::RowMajor => (k, n),
            BLayout::Transposed => (n, k),
        };
        assert!(
            p.ldb >= width,
            "sgemm: ldb ({}) < row width ({width}) of B ({:?})",
            p.ldb,
            p.b_layout
        );
        let need = (rows - 1) * p.ldb + width;
        let operands = std::iter::once(("b", p.b)).chain(p.gate.map(|g| ("gate b", g.b)));
        for (name, b) in operands {
            assert!(
                b.len() >= need,
                "sgemm: {name}.len() = {} < {need} needed for B ({:?}, k = {k}, n = {n}, ldb = {})",
                b.len(),
                p.b_layout,
                p.ldb
            );
        }
    }
    if m > 0 && n > 0 {
        assert!(p.ldc >= n, "sgemm: ldc ({}) < n ({n})", p.ldc);
        let need = (m - 1) * p.ldc + n;
        assert!(
            c.len() >= need,
            "sgemm: c.len() = {} < (m-1)*ldc + n = {need}",
            c.len()
        );
        if let Some(r) = p.epi.residual {
            assert!(r.ld >= n, "sgemm: residual ld ({}) < n ({n})", r.ld);
            let need = (m - 1) * r.ld + n;
            assert!(
                r.values.len() >= need,
                "sgemm: residual has {} < (m-1)*ld + n = {need} values",
                r.values.len()
            );
        }
    }
    match p.epi.bias {
        Bias::None => {}
        Bias::PerRow(bias) => {
            assert!(
                bias.len() >= m,
                "sgemm: per-row bias has {} < m = {m} values",
                bias.len()
            )
        }
        Bias::PerCol(bias) => {
            assert!(
                bias.len() >= n,
                "sgemm: per-column bias has {} < n = {n} values",
                bias.len()
            )
        }
    }
}

/// `k == 0`: the sum is empty, so `C = act(alpha*0 + bias + R)`, times `gate.act(0)` for a
/// gated call.
pub(super) fn fill_bias_only(p: &Problem, c: &mut [f32]) {
    let act = p.epi.activation;
    let gate = p.gate.map_or(1.0, |g| g.act.apply_scalar(0.0));
    for i in 0..p.m {
        let row = &mut c[i * p.ldc..i * p.ldc + p.n];
        for (j, x) in row.iter_mut().enumerate() {
            let bias = match p.epi.bias {
                Bias::None => 0.0,
                Bias::PerRow(b) => b[i],
                Bias::PerCol(b) => b[j],
            };
            let residual = p.epi.residual.map_or(0.0, |r| r.values[i * r.ld + j]);
            *x = act.apply_scalar(bias + residual) * gate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{sgemm, sgemm_gated, BLayout, Bias, Epilogue, Parallelism, Residual};
    use crate::backend::cpu::activation::Activation;

    #[test]
    fn empty_outputs_are_fine() {
        let mut c: Vec<f32> = vec![];
        let none = &Epilogue::NONE;
        sgemm(
            0,
            5,
            3,
            &[],
            3,
            &[0.0; 15],
            5,
            BLayout::RowMajor,
            &mut c,
            5,
            none,
            Parallelism::Rayon,
        );
        sgemm(
            4,
            0,
            3,
            &[0.0; 12],
            3,
            &[],
            0,
            BLayout::RowMajor,
            &mut c,
            0,
            none,
            Parallelism::Rayon,
        );
    }

    #[test]
    #[should_panic(expected = "lda")]
    fn short_lda_panics() {
        let mut c = vec![0.0; 4];
        let none = &Epilogue::NONE;
        sgemm(
            2,
            2,
            3,
            &[0.0; 6],
            2,
            &[0.0; 6],
            2,
            BLayout::RowMajor,
            &mut c,
            2,
            none,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "b.len()")]
    fn short_b_panics() {
        let mut c = vec![0.0; 4];
        let none = &Epilogue::NONE;
        sgemm(
            2,
            2,
            3,
            &[0.0; 6],
            3,
            &[0.0; 5],
            3,
            BLayout::Transposed,
            &mut c,
            2,
            none,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "c.len()")]
    fn short_c_panics() {
        let mut c = vec![0.0; 3];
        let none = &Epilogue::NONE;
        sgemm(
            2,
            2,
            3,
            &[0.0; 6],
            3,
            &[0.0; 6],
            2,
            BLayout::RowMajor,
            &mut c,
            2,
            none,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "bias")]
    fn short_bias_panics() {
        let mut c = vec![0.0; 4];
        let bias = [1.0f32];
        let epi = Epilogue {
            alpha: 1.0,
            bias: Bias::PerCol(&bias),
            residual: None,
            activation: Activation::Identity,
        };
        sgemm(
            2,
            2,
            3,
            &[0.0; 6],
            3,
            &[0.0; 6],
            2,
            BLayout::RowMajor,
            &mut c,
            2,
            &epi,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "residual has")]
    fn short_residual_panics() {
        let mut c = vec![0.0; 6];
        let r = [0.0f32; 5];
        let epi = Epilogue {
            residual: Some(Residual { values: &r, ld: 3 }),
            ..Epilogue::NONE
        };
        sgemm(
            2,
            3,
            2,
            &[0.0; 4],
            2,
            &[0.0; 6],
            3,
            BLayout::RowMajor,
            &mut c,
            3,
            &epi,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "residual ld")]
    fn narrow_residual_panics() {
        let mut c = vec![0.0; 6];
        let r = [0.0f32; 6];
        let epi = Epilogue {
            residual: Some(Residual { values: &r, ld: 2 }),
            ..Epilogue::NONE
        };
        sgemm(
            2,
            3,
            2,
            &[0.0; 4],
            2,
            &[0.0; 6],
            3,
            BLayout::RowMajor,
            &mut c,
            3,
            &epi,
            Parallelism::Serial,
        );
    }

    #[test]
    #[should_panic(expected = "gate b.len()")]
    fn short_gate_b_panics() {
        let mut c = vec![0.0; 4];
        sgemm_gated(
            2,
            2,
            3,
            &[0.0; 6],
            3,
            &[0.0; 5],
            &[0.0; 6],
            2,
            BLayout::RowMajor,
            &mut c,
            2,
            Activation::Silu,
            Parallelism::Serial,
        );
    }
}
