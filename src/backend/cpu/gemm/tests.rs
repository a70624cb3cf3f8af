//! End-to-end tests of [`sgemm`](super::sgemm): every kernel, B layout, epilogue, blocking
//! and task grid against an f64 reference (the contract's panics are tested in `contract`, the
//! task grids in `blocking`), residuals in the epilogue and gated products included.

use super::*;

/// Deterministic pseudo-random values in [-1, 1).
fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn isas() -> Vec<Isa> {
    [Isa::Avx512, Isa::Avx2Fma, Isa::Portable]
        .into_iter()
        .filter(|i| i.is_available())
        .collect()
}

#[derive(Clone, Copy, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    /// Extra leading-dimension padding for A, B and C.
    pad: usize,
    layout: BLayout,
}

/// Runs one case with every available kernel and checks it against an f64 reference; also
/// checks that C's padding columns are untouched.
fn check(case: Case, epi: &Epilogue, par: Parallelism, ov: Overrides) {
    check_with(case, epi, None, par, ov);
}

/// [`check`] for a gated call (`gate`: the gate's activation) or a plain one (`None`).
fn check_with(
    case: Case,
    epi: &Epilogue,
    gate: Option<Activation>,
    par: Parallelism,
    ov: Overrides,
) {
    let Case {
        m,
        n,
        k,
        pad,
        layout,
    } = case;
    let lda = k + pad;
    let ldc = n + pad;
    let (ldb, brows) = match layout {
        BLayout::RowMajor => (n + pad, k),
        BLayout::Transposed => (k + pad, n),
    };
    let a = fill(m * lda, 1);
    let b = fill(brows * ldb, 2);
    let bg = fill(brows * ldb, 3);
    let sum = |b: &[f32], i: usize, j: usize| {
        (0..k)
            .map(|kk| {
                let bv = match layout {
                    BLayout::RowMajor => b[kk * ldb + j],
                    BLayout::Transposed => b[j * ldb + kk],
                };
                a[i * lda + kk] as f64 * bv as f64
            })
            .sum::<f64>()
    };
    // Reference value and its tolerance: f32 accumulation of k products of magnitude < 1,
    // scaled by alpha; a gated value carries the error of each factor times the other one.
    let base = 2e-6 * (k as f64 + 4.0);
    let mut want = vec![(0.0f64, 0.0f64); m * n];
    for i in 0..m {
        for j in 0..n {
            let s = sum(&b, i, j);
            let bias = match epi.bias {
                Bias::None => 0.0,
                Bias::PerRow(v) => v[i] as f64,
                Bias::PerCol(v) => v[j] as f64,
            };
            let residual = epi.residual.map_or(0.0, |r| r.values[i * r.ld + j] as f64);
            let v = epi
                .activation
                .reference(epi.alpha as f64 * s + bias + residual);
            want[i * n + j] = match gate {
                None => (v, base * (epi.alpha.abs() as f64 + 1.0)),
                Some(act) => {
                    let g = act.reference(sum(&bg, i, j));
                    (g * v, base * (1.0 + 1.1 * v.abs() + g.abs()))
                }
            };
        }
    }
    for isa in isas() {
        let mut c = vec![f32::NAN; m * ldc];
        let p = Problem {
            m,
            n,
            k,
            a: &a,
            lda,
            b: &b,
            ldb,
            b_layout: layout,
            ldc,
            epi,
            gate: gate.map(|act| Gate { b: &bg, act }),
        };
        sgemm_with(isa, ov, &p, &mut c, par);
        for i in 0..m {
            for j in 0..ldc {
                let got = c[i * ldc + j];
                if j >= n {
                    assert!(got.is_nan(), "{isa:?} {case:?} wrote padding C[{i}][{j}]");
                    continue;
                }
                let (w, tol) = want[i * n + j];
                assert!(
                    (got as f64 - w).abs() <= tol,
                    "{isa:?} {case:?} {par:?} {ov:?} {epi:?} gate {gate:?}: C[{i}][{j}] = {got}, want {w}"
                );
            }
        }
    }
}

/// A residual for an `m x n` product, rows `n + 5` apart (so a wrong stride shows).
fn residual_values(m: usize, n: usize, seed: u64) -> (Vec<f32>, usize) {
    let ld = n + 5;
    (fill(m * ld, seed), ld)
}

const SIZES: [(usize, usize, usize); 12] = [
    (1, 1, 1),
    (20, 50, 9),
    (56, 48, 20),
    (7, 13, 5),
    (33, 65, 17),
    (100, 37, 129),
    (12, 32, 8),
    (24, 64, 16),
    (13, 33, 300),
    (25, 70, 64),
    (3, 200, 9),
    (130, 9, 33),
];

#[test]
fn products_all_shapes_layouts_kernels() {
    for (m, n, k) in SIZES {
        for layout in [BLayout::RowMajor, BLayout::Transposed] {
            for pad in [0, 3] {
                let case = Case {
                    m,
                    n,
                    k,
                    pad,
                    layout,
                };
                check(
                    case,
                    &Epilogue::NONE,
                    Parallelism::Serial,
                    Overrides::default(),
                );
                check(
                    case,
                    &Epilogue::NONE,
                    Parallelism::Rayon,
                    Overrides::default(),
                );
            }
        }
    }
}

#[test]
fn every_epilogue() {
    let bias_r = fill(100, 5);
    let bias_c = fill(100, 6);
    for act in [Activation::Identity, Activation::Relu, Activation::Gelu] {
        for bias in [Bias::None, Bias::PerRow(&bias_r), Bias::PerCol(&bias_c)] {
            for alpha in [1.0f32, 0.37, -2.0] {
                let epi = Epilogue {
                    alpha,
                    bias,
                    residual: None,
                    activation: act,
                };
                for (m, n, k) in [(7, 13, 5), (33, 65, 17), (24, 64, 3)] {
                    let case = Case {
                        m,
                        n,
                        k,
                        pad: 1,
                        layout: BLayout::RowMajor,
                    };
                    check(case, &epi, Parallelism::Serial, Overrides::default());
                }
            }
        }
    }
}

/// Every way of running a call: several K blocks (accumulation in C, epilogue on the last
/// one), several M blocks per task, and each task grid, i.e. B packed just in time, per task
/// for several M blocks, or shared between rows of tasks.
#[test]
fn every_blocking_and_task_grid() {
    let bias_r = fill(100, 3);
    let bias_c = fill(200, 4);
    let epis = [
        Epilogue::NONE,
        Epilogue {
            alpha: -0.5,
            bias: Bias::PerRow(&bias_r),
            residual: None,
            activation: Activation::Gelu,
        },
        Epilogue {
            alpha: 2.0,
            bias: Bias::PerCol(&bias_c),
            residual: None,
            activation: Activation::Relu,
        },
    ];
    let blockings = [None, Some((16, 24)), Some((40, 8))];
    let plans = [None, Some((1, 1)), Some((2, 1)), Some((1, 3)), Some((3, 2))];
    for (m, n, k) in [(50, 150, 70), (100, 37, 129)] {
        for layout in [BLayout::RowMajor, BLayout::Transposed] {
            for (e, epi) in epis.iter().enumerate() {
                for blocking in blockings {
                    for plan in plans {
                        let plan = plan.map(|(tm, tn)| TaskGrid { tm, tn });
                        let ov = Overrides {
                            blocking,
                            grid: plan,
                        };
                        let par = [Parallelism::Rayon, Parallelism::Serial][e % 2];
                        check(
                            Case {
                                m,
                                n,
                                k,
                                pad: 2,
                                layout,
                            },
                            epi,
                            par,
                            ov,
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn rayon_default_plans_on_skinny_shapes() {
    let bias_c = fill(300, 7);
    let epi = Epilogue {
        alpha: 1.5,
        bias: Bias::PerCol(&bias_c),
        residual: None,
        activation: Activation::Gelu,
    };
    for (m, n, k) in [
        (150, 140, 60),
        (20, 300, 200),
        (300, 20, 200),
        (97, 101, 103),
    ] {
        for layout in [BLayout::RowMajor, BLayout::Transposed] {
            let case = Case {
                m,
                n,
                k,
                pad: 1,
                layout,
            };
            check(case, &epi, Parallelism::Rayon, Overrides::default());
        }
    }
}

#[test]
fn k_zero_gives_activation_of_bias() {
    let bias_r = fill(9, 8);
    let bias_c = fill(11, 9);
    for bias in [Bias::None, Bias::PerRow(&bias_r), Bias::PerCol(&bias_c)] {
        let epi = Epilogue {
            alpha: 3.0,
            bias,
            residual: None,
            activation: Activation::Gelu,
        };
        let case = Case {
            m: 9,
            n: 11,
            k: 0,
            pad: 2,
            layout: BLayout::RowMajor,
        };
        check(case, &epi, Parallelism::Rayon, Overrides::default());
    }
}

#[test]
fn large_inputs_stay_finite_with_gelu() {
    let (m, n, k) = (13, 40, 7);
    let a = vec![1e3f32; m * k];
    let b: Vec<f32> = (0..k * n)
        .map(|i| if i % 2 == 0 { 1e3 } else { -1e3 })
        .collect();
    let epi = Epilogue {
        alpha: 1e20,
        bias: Bias::None,
        residual: None,
        activation: Activation::Gelu,
    };
    for isa in isas() {
        let mut c = vec![0.0f32; m * n];
        let p = Problem {
            m,
            n,
            k,
            a: &a,
            lda: k,
            b: &b,
            ldb: n,
            b_layout: BLayout::RowMajor,
            ldc: n,
            epi: &epi,
            gate: None,
        };
        sgemm_with(isa, Overrides::default(), &p, &mut c, Parallelism::Serial);
        assert!(c.iter().all(|x| x.is_finite()), "{isa:?}: {c:?}");
    }
}

/// The residual in the epilogue with every bias and activation, on full and partial tiles of
/// every kernel, one K block and several (the residual is read on the last one only).
#[test]
fn residual_epilogues() {
    let bias_r = fill(100, 10);
    let bias_c = fill(100, 11);
    for (m, n, k) in [
        (1, 1, 1),
        (7, 13, 5),
        (33, 65, 17),
        (24, 64, 3),
        (13, 33, 300),
    ] {
        let (r, ld) = residual_values(m, n, 12);
        for act in [Activation::Identity, Activation::Relu, Activation::Silu] {
            for bias in [Bias::None, Bias::PerRow(&bias_r), Bias::PerCol(&bias_c)] {
                let epi = Epilogue {
                    alpha: 0.75,
                    bias,
                    residual: Some(Residual { values: &r, ld }),
                    activation: act,
                };
                let case = Case {
                    m,
                    n,
                    k,
                    pad: 1,
                    layout: BLayout::RowMajor,
                };
                check(case, &epi, Parallelism::Serial, Overrides::default());
            }
        }
    }
}

/// The blockings and task grids of [`every_blocking_and_task_grid`], for a residual epilogue
/// and for gated products.
#[test]
fn residual_and_gate_every_blocking_and_task_grid() {
    let bias_c = fill(200, 13);
    let blockings = [None, Some((16, 24)), Some((40, 8))];
    let plans = [None, Some((1, 1)), Some((2, 1)), Some((1, 3)), Some((3, 2))];
    for (m, n, k) in [(50, 150, 70), (100, 37, 129)] {
        let (r, ld) = residual_values(m, n, 14);
        let residual = Epilogue {
            alpha: 1.0,
            bias: Bias::PerCol(&bias_c),
            residual: Some(Residual { values: &r, ld }),
            activation: Activation::Relu,
        };
        for layout in [BLayout::RowMajor, BLayout::Transposed] {
            for blocking in blockings {
                for (g, plan) in plans.into_iter().enumerate() {
                    let ov = Overrides {
                        blocking,
                        grid: plan.map(|(tm, tn)| TaskGrid { tm, tn }),
                    };
                    let par = [Parallelism::Rayon, Parallelism::Serial][g % 2];
                    let case = Case {
                        m,
                        n,
                        k,
                        pad: 2,
                        layout,
                    };
                    check(case, &residual, par, ov);
                    let gate = [Activation::Silu, Activation::Gelu][g % 2];
                    check_with(case, &Epilogue::NONE, Some(gate), par, ov);
                }
            }
        }
    }
}

/// Gated products on every shape of [`SIZES`] (full and partial tiles of every kernel), and
/// the default plans of skinny shapes (B packed just in time, per task, shared).
#[test]
fn gated_products_all_shapes() {
    for (m, n, k) in SIZES {
        for layout in [BLayout::RowMajor, BLayout::Transposed] {
            let case = Case {
                m,
                n,
                k,
                pad: 3,
                layout,
            };
            let (epi, ov) = (&Epilogue::NONE, Overrides::default());
            check_with(case, epi, Some(Activation::Silu), Parallelism::Serial, ov);
        }
    }
    for (m, n, k) in [
        (150, 140, 60),
        (20, 300, 200),
        (300, 20, 200),
        (97, 101, 103),
    ] {
        let case = Case {
            m,
            n,
            k,
            pad: 1,
            layout: BLayout::RowMajor,
        };
        let (epi, ov) = (&Epilogue::NONE, Overrides::default());
        check_with(case, epi, Some(Activation::Silu), Parallelism::Rayon, ov);
    }
}

#[test]
fn k_zero_with_residual_and_gate() {
    let bias_c = fill(11, 15);
    let (r, ld) = residual_values(9, 11, 16);
    let epi = Epilogue {
        alpha: 3.0,
        bias: Bias::PerCol(&bias_c),
        residual: Some(Residual { values: &r, ld }),
        activation: Activation::Silu,
    };
    let case = Case {
        m: 9,
        n: 11,
        k: 0,
        pad: 2,
        layout: BLayout::RowMajor,
    };
    check(case, &epi, Parallelism::Rayon, Overrides::default());
    check_with(
        case,
        &epi,
        Some(Activation::Gelu),
        Parallelism::Serial,
        Overrides::default(),
    );
}
