//! The fusion cost model and `plan` against the Python calibrator's real profiles and the
//! example graphs in `examples/graphs/`.

use hwcal::cli::plan::{FormatArg as Format, PlanArgs};
use hwcal::cost_model::command;
use hwcal::cost_model::graph::Graph;
use hwcal::cost_model::planner::{plan, Plan};
use hwcal::cost_model::verify::{self, Verdict, VerifyOptions};
use hwcal::cost_model::{predict, CostModel, Source};
use hwcal::pattern::{Pattern, Shape};
use hwcal::profile::{CalibrationMetadata, HardwareCalibration};
use hwcal::Error;
use std::path::{Path, PathBuf};

const I7: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/graphs-profiles/i7_12700k_with_fusion.json"
);
const LINEAR_ONLY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/graphs-profiles/test_fusion_integration.json"
);

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/graphs")
        .join(name)
}

fn i7() -> CostModel {
    CostModel::from_path(I7).expect("the fixture loads")
}

fn plan_of(graph: &str, model: &CostModel) -> Plan {
    plan(&Graph::load(&example(graph)).unwrap(), model)
}

/// `(nodes, pattern, fused)` of each group.
fn groups(p: &Plan) -> Vec<(Vec<&str>, &'static str, bool)> {
    p.groups
        .iter()
        .map(|g| {
            (
                g.candidate.nodes.iter().map(String::as_str).collect(),
                g.candidate.pattern.name(),
                g.fused,
            )
        })
        .collect()
}

#[test]
fn python_profile_names_resolve_whatever_the_spelling() {
    let m = i7();
    // The Python calibrator wrote FullAttention as `FullAttention_SDPA`.
    let sdpa = m.fusion_benefit("FullAttention_SDPA").unwrap();
    assert!((sdpa - 0.7146274633805115).abs() < 1e-12);
    for name in [
        "FullAttention",
        "scaled_dot_product_attention",
        "sdpa",
        "matmul_div_softmax_matmul",
    ] {
        assert_eq!(m.fusion_benefit(name), Some(sdpa), "{name}");
    }
    let cbr = m.fusion_benefit("Conv2d_BN_ReLU").unwrap();
    for name in [
        "Conv2d_BatchNorm2d_ReLU",
        "conv_bn_relu",
        "Conv_BN_ReLU",
        "aten::_convolution+aten::batch_norm+aten::relu",
    ] {
        assert_eq!(m.fusion_benefit(name), Some(cbr), "{name}");
    }
    assert!((m.fusion_benefit("linear_gelu").unwrap() - 0.9998942053211443).abs() < 1e-12);
    assert!(m.fusion_benefit("addmm_relu").is_some());
    assert!(m.fusion_benefit("matmul_softmax").is_some());
    // Unknown: no data, never 1.0.
    assert_eq!(m.fusion_benefit("Conv2d_BN_Sigmoid"), None);
    assert_eq!(m.fusion_benefit("LayerNorm_GELU"), None);
    // Issue 11's patterns resolve, but this profile has measured none of them.
    assert_eq!(m.fusion_benefit("FusedAddRMSNorm"), None);
    assert_eq!(
        hwcal::cost_model::resolve_pattern("FusedAddRMSNorm"),
        Some(Pattern::AddRmsNorm)
    );
    assert!(m.unrecognized_patterns().is_empty());
    // The seed's decisions: nothing in this profile reaches 1.1; QK scores (1.07) reach 1.05.
    assert_eq!(
        m.recommended_threshold(),
        1.1,
        "no noise data in Python profiles"
    );
    assert!(!m.should_fuse("Conv2d", "ReLU"));
    assert!(!m.should_fuse_chain(&["Conv", "BatchNormalization", "Relu"]));
    let lenient = i7().with_threshold(1.05).unwrap();
    assert!(lenient.should_fuse_chain(&["aten::bmm", "aten::mul"]));
    assert!(!lenient.should_fuse_chain(&["aten::scaled_dot_product_attention"]));
}

#[test]
fn prediction_falls_back_from_measured_to_interpolated_to_roofline_to_no_data() {
    let m = i7();
    let measured = m.predict(Pattern::Conv2dBnRelu, &Shape::conv3x3(4, 128, 128, 28));
    assert_eq!(measured.source, Source::Measured);
    assert!((measured.speedup - 1.0275274679463413).abs() < 1e-9);

    // One point per pattern in Python profiles: each latency keeps its ratio to the roofline
    // time of its shape (the profile's measured GFLOPS and bandwidth).
    let point = Shape::conv3x3(4, 128, 128, 28);
    let other_shape = Shape::conv3x3(8, 256, 256, 14);
    let other = m.predict(Pattern::Conv2dBnRelu, &other_shape);
    assert_eq!(
        other.source,
        Source::Interpolated {
            points: 1,
            extrapolated: true
        }
    );
    let (g, b) = m.roofline_figures();
    let roof = |s: &Shape| predict::roofline_ms(Pattern::Conv2dBnRelu, s, g, b).unwrap();
    let (pu, pf) = roof(&point);
    let (qu, qf) = roof(&other_shape);
    assert!((other.unfused_ms / qu - measured.unfused_ms / pu).abs() < 1e-9);
    assert!((other.fused_ms / qf - measured.fused_ms / pf).abs() < 1e-9);
    assert!(other.fused_ms > measured.fused_ms);
    assert!(other
        .note
        .as_deref()
        .unwrap()
        .contains("relative to the roofline"));

    // A profile with only linear patterns: conv comes from its bandwidth and GFLOPS.
    let linear_only = CostModel::from_path(LINEAR_ONLY).unwrap();
    let roof = linear_only.predict(Pattern::Conv2dBnRelu, &Shape::conv3x3(1, 64, 64, 56));
    assert_eq!(roof.source, Source::Roofline);
    assert!(roof.speedup > 1.0 && roof.fused_ms > 0.0);

    // No points and no measured figures: no data.
    let empty = HardwareCalibration::new(CalibrationMetadata::new("empty"), 0.0, 0.0);
    let none = CostModel::new(&empty).predict(Pattern::Conv2dBnRelu, &Shape::conv3x3(1, 8, 8, 8));
    assert_eq!(none.source, Source::NoData);
    assert!(none.known_speedup().is_none());
}

/// A profile without measurements, with roofline figures: every candidate is predicted by the
/// roofline, so plans of the examples are the same on any machine.
fn roofline_model() -> CostModel {
    let mut p = HardwareCalibration::new(CalibrationMetadata::new("synthetic"), 0.0, 0.0);
    p.best_measured_gflops = 100.0;
    p.measured_bandwidth_gbps = 10.0;
    CostModel::new(&p)
}

/// `(nodes, pattern)` of each group.
fn candidates(p: &Plan) -> Vec<(Vec<&str>, &'static str)> {
    groups(p).into_iter().map(|(n, p, _)| (n, p)).collect()
}

#[test]
fn resnet_bottleneck_tail_is_a_conv_bn_add_relu_candidate() {
    let p = plan_of("resnet50_bottleneck.json", &i7());
    assert_eq!(
        groups(&p),
        vec![
            (vec!["conv1", "bn1", "relu1"], "Conv2d_BN_ReLU", true),
            (vec!["conv1", "bn1"], "Conv2d_BN", false),
            (vec!["conv2", "bn2", "relu2"], "Conv2d_BN_ReLU", true),
            (vec!["conv2", "bn2"], "Conv2d_BN", false),
            (
                vec!["conv3", "bn3", "residual", "relu_out"],
                "Conv2d_BN_Add_ReLU",
                true
            ),
            (vec!["conv3", "bn3"], "Conv2d_BN", false),
        ]
    );
    assert!(p.unmodeled.is_empty());
    assert_eq!(p.chains.len(), 3);
    assert_eq!(p.chains[2].nodes, ["conv3", "bn3", "residual", "relu_out"]);
    // Real kernel sizes: the 1×1 convolutions are predicted as 1×1, and their batch-norm and
    // ReLU passes weigh more against their compute than the measured 3×3's (1.03×).
    let g = &p.groups[0];
    assert_eq!(
        g.candidate.shape,
        Some(Shape::Conv {
            batch: 1,
            cin: 256,
            cout: 64,
            hw: 56,
            kernel: 1,
            stride: 1,
            padding: 0
        })
    );
    assert!(
        g.candidate.prediction.speedup > 1.2,
        "{:?}",
        g.candidate.prediction
    );
    assert!(
        g.reason
            .contains("(scaled from 1 measured point) ≥ threshold 1.10"),
        "{}",
        g.reason
    );
    // The Python profile has no Conv2d_BN_Add_ReLU: the roofline predicts it.
    assert_eq!(p.groups[4].candidate.prediction.source, Source::Roofline);
    assert!(p.totals.planned_ms < p.totals.unfused_ms);
    assert_eq!(p.totals.chains, 3);

    // A threshold nothing reaches: the same candidates, none fused.
    let p = plan_of(
        "resnet50_bottleneck.json",
        &i7().with_threshold(5.0).unwrap(),
    );
    assert!(p.groups.iter().all(|g| !g.fused) && p.groups.len() == 6);
    assert_eq!(p.totals.planned_ms, p.totals.unfused_ms);
}

#[test]
fn bert_layer_weighs_linear_bias_add_against_add_layernorm() {
    let p = plan_of("bert_base_encoder_layer.json", &i7());
    assert_eq!(
        groups(&p),
        vec![
            (vec!["q_proj"], "Linear_Bias", false),
            (vec!["k_proj"], "Linear_Bias", false),
            (vec!["v_proj"], "Linear_Bias", false),
            (
                vec!["scores", "scaled", "probs", "context"],
                "FullAttention",
                false
            ),
            (vec!["scores", "scaled", "probs"], "QK_Softmax", false),
            (vec!["scores", "scaled"], "QK_AttentionScores", false),
            (vec!["attn_out", "residual1"], "Linear_Bias_Add", true),
            (vec!["attn_out"], "Linear_Bias", false),
            (vec!["residual1", "ln1"], "Add_LayerNorm", false),
            (vec!["ffn_in", "ffn_gelu"], "Linear_Bias_GELU", false),
            (vec!["ffn_in"], "Linear_Bias", false),
            (vec!["ffn_out", "residual2"], "Linear_Bias_Add", false),
            (vec!["ffn_out"], "Linear_Bias", false),
            (vec!["residual2", "ln2"], "Add_LayerNorm", true),
        ]
    );
    assert_eq!(
        p.groups[3].candidate.shape,
        Some(Shape::Attention {
            batch: 12,
            seq: 128,
            dim: 64
        })
    );
    assert_eq!(
        p.groups[9].candidate.shape,
        Some(Shape::Linear {
            m: 128,
            k: 768,
            n: 3072
        })
    );
    assert_eq!(
        p.groups[8].candidate.shape,
        Some(Shape::Norm {
            rows: 128,
            hidden: 768
        })
    );
    // The attention output's chain: both ways of fusing the residual add were weighed.
    let c = &p.chains[4];
    assert_eq!(c.nodes, ["attn_out", "residual1", "ln1"]);
    let fused: Vec<Vec<&str>> = c
        .alternatives
        .iter()
        .map(|a| {
            a.fused
                .iter()
                .map(|&g| p.groups[g].candidate.pattern.name())
                .collect()
        })
        .collect();
    assert_eq!(
        fused,
        [vec!["Linear_Bias_Add"], vec!["Add_LayerNorm"], vec![]]
    );
    assert!(c.alternatives[0].chosen && c.alternatives[0].total_ms < c.alternatives[1].total_ms);
    assert_eq!(c.alternatives[0].unfused_nodes, ["ln1"]);
    // The FFN output's Linear_Bias_Add (1.04×) is below the threshold: its add goes to the norm.
    assert_eq!(p.chains[6].alternatives[0].unfused_nodes, ["ffn_out"]);
    let mut ops: Vec<&str> = p.unmodeled.iter().map(|u| u.op.as_str()).collect();
    ops.sort();
    ops.dedup();
    assert_eq!(ops, ["reshape", "transpose"]);
    // The Python profile's full attention fusion is slower (0.71×), but Q·Kᵀ, scale and
    // softmax fused are 1.05×, and save more than the scores alone (1.07×): at threshold 1.0
    // the planner takes them, and P·V runs on its own.
    let p = plan_of(
        "bert_base_encoder_layer.json",
        &i7().with_threshold(1.0).unwrap(),
    );
    let attention: Vec<(&'static str, bool)> = p.chains[3]
        .groups
        .iter()
        .map(|&g| (p.groups[g].candidate.pattern.name(), p.groups[g].fused))
        .collect();
    assert_eq!(
        attention,
        [
            ("FullAttention", false),
            ("QK_Softmax", true),
            ("QK_AttentionScores", false)
        ]
    );
    assert!(
        p.groups[3]
            .reason
            .contains("0.71× (scaled from 1 measured point) < threshold 1.00"),
        "{}",
        p.groups[3].reason
    );
    assert_eq!(p.chains[3].alternatives[0].unfused_nodes, ["context"]);
}

#[test]
fn mlp_linear_relu_pairs() {
    // At threshold 0.9 every candidate reaches it, and each chain fuses one: the ReLU pairs
    // where they are predicted faster, a linear alone where its ReLU would cost more fused.
    let p = plan_of("mlp.json", &i7().with_threshold(0.9).unwrap());
    assert_eq!(
        groups(&p),
        vec![
            (vec!["fc1", "relu1"], "Linear_Bias_ReLU", true),
            (vec!["fc1"], "Linear_Bias", false),
            (vec!["fc2", "relu2"], "Linear_Bias_ReLU", false),
            (vec!["fc2"], "Linear_Bias", true),
            (vec!["fc3"], "Linear_Bias", true),
        ]
    );
    assert_eq!(
        p.groups[0].candidate.shape,
        Some(Shape::Linear {
            m: 256,
            k: 784,
            n: 1024
        })
    );
    assert!(p.unmodeled.is_empty());
    assert!(
        p.groups[3]
            .reason
            .contains("the threshold fuses what reaches it"),
        "{}",
        p.groups[3].reason
    );
}

#[test]
fn mobilenetv2_block_fuses_its_expansion_and_depthwise_relu6() {
    let p = plan_of("mobilenetv2_inverted_residual.json", &roofline_model());
    assert_eq!(
        candidates(&p),
        vec![
            (
                vec!["expand", "expand_bn", "expand_relu6"],
                "Conv2d_BN_ReLU6"
            ),
            (vec!["expand", "expand_bn"], "Conv2d_BN"),
            (vec!["dw", "dw_bn", "dw_relu6"], "DepthwiseConv2d_BN_ReLU6"),
            (vec!["project", "project_bn"], "Conv2d_BN"),
        ]
    );
    assert_eq!(
        p.groups[2].candidate.shape,
        Some(Shape::depthwise3x3(1, 144, 56, 1))
    );
    assert_eq!(
        p.groups[0].candidate.shape,
        Some(Shape::Conv {
            batch: 1,
            cin: 24,
            cout: 144,
            hw: 56,
            kernel: 1,
            stride: 1,
            padding: 0
        })
    );
    // The linear bottleneck's residual add (after a BN without activation) has no pattern.
    let ids: Vec<&str> = p.unmodeled.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["residual"]);
    // The roofline favours the longest pattern of each chain.
    let fused: Vec<&str> = p
        .groups
        .iter()
        .filter(|g| g.fused)
        .map(|g| g.candidate.pattern.name())
        .collect();
    assert_eq!(
        fused,
        ["Conv2d_BN_ReLU6", "DepthwiseConv2d_BN_ReLU6", "Conv2d_BN"]
    );
    assert!(p.source.as_deref().unwrap().contains("Sandler et al."));
}

#[test]
fn llama_block_fuses_add_rmsnorm_across_the_residual_stream_causal_attention_and_swiglu() {
    let p = plan_of("llama_decoder_block.json", &roofline_model());
    assert_eq!(
        candidates(&p),
        vec![
            (vec!["attn"], "FullAttention_Causal"),
            (vec!["h", "ffn_norm"], "Add_RMSNorm"),
            (
                vec!["gate_proj", "gate_act", "up_proj", "gated"],
                "Linear_SwiGLU"
            ),
        ]
    );
    let shapes: Vec<Shape> = p
        .groups
        .iter()
        .map(|g| g.candidate.shape.unwrap())
        .collect();
    assert_eq!(
        shapes,
        [
            Shape::Attention {
                batch: 8,
                seq: 128,
                dim: 64
            },
            Shape::Norm {
                rows: 128,
                hidden: 512
            },
            Shape::Linear {
                m: 128,
                k: 512,
                n: 1376
            },
        ]
    );
    // The bias-free projections, the first RMSNorm (no add before it) and the last add have
    // no pattern.
    let ops: Vec<&str> = p
        .unmodeled
        .iter()
        .filter(|u| !matches!(u.op.as_str(), "reshape" | "transpose" | "rotary_embedding"))
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(
        ops,
        [
            "attn_norm",
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "down_proj",
            "out"
        ]
    );
    assert!(p.source.as_deref().unwrap().contains("Touvron et al."));
    // The i7 profile has none of these patterns: the roofline of its measured figures.
    let p = plan_of("llama_decoder_block.json", &i7());
    assert!(p
        .groups
        .iter()
        .all(|g| g.candidate.prediction.source == Source::Roofline));
}

#[test]
fn every_example_names_its_source_and_plans_as_text_and_json() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/graphs");
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cost-model.md"))
            .unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5);
    for path in names {
        let g = Graph::load(&path).unwrap();
        let file = path.file_name().unwrap().to_str().unwrap();
        assert!(g.source.is_some() && g.description.is_some(), "{file}");
        assert!(
            docs.contains(&format!("`{file}`")),
            "docs/cost-model.md lacks {file}"
        );
        let p = plan(&g, &roofline_model());
        assert!(!p.groups.is_empty(), "{file}");
        assert!(p.totals.planned_ms <= p.totals.unfused_ms, "{file}");
        for c in &p.chains {
            assert_eq!(
                c.alternatives.iter().filter(|a| a.chosen).count(),
                1,
                "{file}"
            );
            assert!(c.planned_ms <= c.unfused_ms, "{file}");
        }
        let report = hwcal::cost_model::report::PlanReport {
            graph_file: file.into(),
            profile_file: "synthetic".into(),
            threshold: hwcal::cost_model::report::ThresholdChoice {
                value: 1.1,
                source: "given",
                recommended: roofline_model().threshold_advice(),
            },
            plan: p,
            verify: None,
            notes: vec![],
        };
        let text = report.to_text();
        assert!(text.contains("source: "), "{text}");
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert!(
            json["plan"]["chains"][0]["alternatives"].is_array(),
            "{json}"
        );
        if file.starts_with("bert") {
            assert!(text.contains("Alternatives weighed"), "{text}");
            // The residual add weighed both ways (on this roofline the linear keeps it).
            assert!(
                text.contains("Linear_Bias_Add [attn_out → residual1], ln1 unfused  (chosen)"),
                "{text}"
            );
            assert!(
                text.contains("Add_LayerNorm [residual1 → ln1], attn_out unfused"),
                "{text}"
            );
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn an_intermediate_read_twice_is_not_fused_away() {
    let dir = tempfile::tempdir().unwrap();
    // fc1's output feeds relu1 and a skip connection.
    let g = write(
        dir.path(),
        "skip.json",
        r#"{"inputs": [{"id": "x", "shape": [16, 32]}],
            "nodes": [
              {"id": "fc1", "op": "nn.Linear", "inputs": ["x"], "attrs": {"out_features": 32}},
              {"id": "relu1", "op": "nn.ReLU", "inputs": ["fc1"]},
              {"id": "skip", "op": "add", "inputs": ["relu1", "fc1"]},
              {"id": "fc2", "op": "Gemm", "inputs": ["skip"], "attrs": {"out_features": 8}},
              {"id": "relu2", "op": "Relu", "inputs": ["fc2"]}
            ]}"#,
    );
    let p = plan(
        &Graph::load(&g).unwrap(),
        &i7().with_threshold(3.0).unwrap(),
    );
    assert_eq!(
        groups(&p),
        vec![
            (vec!["fc1"], "Linear_Bias", false),
            (vec!["fc2", "relu2"], "Linear_Bias_ReLU", false),
            (vec!["fc2"], "Linear_Bias", false),
        ]
    );
}

#[test]
fn malformed_graphs_are_usage_errors_naming_file_and_node() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                "nodes": [{"id": "a", "op": "relu", "inputs": ["c"]},
                          {"id": "b", "op": "relu", "inputs": ["a"]},
                          {"id": "c", "op": "relu", "inputs": ["b"]}]}"#,
            vec!["cycle", "`a`", "`b`", "`c`"],
        ),
        (
            r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                "nodes": [{"id": "a", "op": "relu", "inputs": ["nope"]}]}"#,
            vec!["node `a`", "`nope`"],
        ),
        (
            r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                "nodes": [{"id": "a", "op": "relu", "inputs": ["x"]},
                          {"id": "a", "op": "gelu", "inputs": ["x"]}]}"#,
            vec!["duplicate id `a`"],
        ),
        (
            r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                "nodes": [{"id": "t", "op": "my_custom_op", "inputs": ["x"]}]}"#,
            vec!["node `t` (my_custom_op)", "missing `shape`"],
        ),
        (
            r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                "nodes": [{"id": "fc", "op": "linear", "inputs": ["x"]}]}"#,
            vec!["node `fc` (linear)", "out_features"],
        ),
        (
            r#"{"inputs": [{"id": "x", "shape": [1, 3, 8, 8]}],
                "nodes": [{"id": "c", "op": "conv2d", "inputs": ["x"], "attrs": {"out_channels": 4, "kernel_size": 9}}]}"#,
            vec!["node `c` (conv2d)", "does not fit"],
        ),
        (r#"{"nodes": []}"#, vec!["missing field `inputs`"]),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let path = write(dir.path(), &format!("bad{i}.json"), text);
        let err = Graph::load(&path).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        assert_eq!(err.exit_code(), 2);
        let msg = err.to_string();
        assert!(msg.contains(&format!("bad{i}.json")), "{msg}");
        for n in needles {
            assert!(msg.contains(n), "`{n}` not in: {msg}");
        }
    }
    // An unknown operator with a fusable-looking name is fine when its shape is given.
    let ok = write(
        dir.path(),
        "opaque.json",
        r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
            "nodes": [{"id": "k", "op": "FusedConvBnRelu", "inputs": ["x"], "shape": [1, 4]}]}"#,
    );
    let p = plan(&Graph::load(&ok).unwrap(), &i7());
    assert!(p.groups.is_empty());
    assert_eq!(p.unmodeled.len(), 1);
}

/// Two groups to verify in seconds: linear → relu and a 1×1 conv → batch-norm.
const TINY_LINEAR_AND_CONV: &str = r#"{"inputs": [{"id": "x", "shape": [8, 32]}, {"id": "img", "shape": [1, 3, 8, 8]}],
    "nodes": [
      {"id": "fc", "op": "linear", "inputs": ["x"], "attrs": {"out_features": 24}},
      {"id": "act", "op": "relu", "inputs": ["fc"]},
      {"id": "conv", "op": "conv2d", "inputs": ["img"], "attrs": {"out_channels": 4, "kernel_size": 1}},
      {"id": "bn", "op": "batchnorm2d", "inputs": ["conv"]}
    ]}"#;

#[test]
fn verify_measures_every_candidate_on_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let g = write(dir.path(), "tiny.json", TINY_LINEAR_AND_CONV);
    let model = i7().with_threshold(1.0).unwrap();
    let p = plan(&Graph::load(&g).unwrap(), &model);
    // Linear_Bias_ReLU and Linear_Bias weighed in one chain, Conv2d_BN in the other.
    assert_eq!(p.groups.len(), 3);
    assert_eq!(p.chains.len(), 2);
    let options = VerifyOptions {
        trials: 6,
        warmup: 1,
        ..VerifyOptions::default()
    };
    let backend = hwcal::backend::cpu::CpuBackend::new();
    let mut lines = Vec::new();
    let v = verify::verify(&p, &backend, options, &mut |l: &str| {
        lines.push(l.to_string())
    })
    .unwrap();
    assert_eq!(v.checks.len(), 3);
    assert_eq!(lines.len(), 3);
    assert_eq!(v.chains.len(), 2);
    // One verdict per chain, written into its candidates' checks.
    for (c, chain) in v.chains.iter().zip(&p.chains) {
        assert!(c.measured_best.is_some(), "{c:?}");
        for &g in &chain.groups {
            let check = v.checks.iter().find(|k| k.group == g).unwrap();
            assert_eq!(check.verdict, c.verdict);
        }
    }
    assert!(v.chains[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("measured best"));
    for c in &v.checks {
        let m = c.measured.as_ref().expect("measured");
        assert!(m.speedup.is_finite() && m.speedup > 0.0);
        assert!(m.ci95.0 <= m.speedup && m.speedup <= m.ci95.1 + 1e-12);
        assert!(m.trials >= 6);
        assert!(matches!(
            c.verdict,
            Verdict::Right | Verdict::WithinNoise | Verdict::Wrong
        ));
    }
    assert_eq!(v.backend, "cpu");
    // A 95% interval of a median needs six samples.
    let bad = VerifyOptions {
        trials: 5,
        ..options
    };
    assert!(verify::verify(&p, &backend, bad, &mut |_: &str| {}).is_err());
}

#[test]
fn verify_measures_on_a_gpu_adapter_with_backend_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let g = write(dir.path(), "tiny.json", TINY_LINEAR_AND_CONV);
    let args = [
        "plan",
        "--profile",
        I7,
        g.to_str().unwrap(),
        "--threshold",
        "1.0",
        "--format",
        "json",
        "--verify",
        "--backend",
        "gpu",
        "--device",
        "0",
        "--trials",
        "6",
        "--warmup",
        "1",
    ];
    let out = hwcal_bin(&args);
    if hwcal::backend::gpu::list_adapters().is_empty() {
        // No adapter, or a build without the gpu feature: one clear line, exit 2.
        assert_one_line_usage_error(&out, &["hwcal: error: "]);
        return;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 1 would be a decision measured wrong: possible on a software device, still verified.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verify = &report["verify"];
    assert_eq!(verify["backend"], "gpu", "{verify}");
    let checks = verify["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3, "{verify}");
    assert_eq!(verify["chains"].as_array().unwrap().len(), 2, "{verify}");
    for c in checks {
        assert!(c["measured"]["speedup"].as_f64().unwrap() > 0.0, "{c}");
    }
}

#[test]
fn the_command_plans_and_rejects_inconsistent_flags() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        plan: PlanArgs,
    }
    // As the binary runs it: the flags become settings, then the command runs.
    let run = |args: &PlanArgs| args.to_settings().and_then(|s| command::run(&s));
    let graph = example("mlp.json");
    let cli = Cli::try_parse_from([
        "plan",
        "--profile",
        I7,
        graph.to_str().unwrap(),
        "--format",
        "json",
    ])
    .unwrap();
    assert_eq!(cli.plan.format, Format::Json);
    assert_eq!(run(&cli.plan).unwrap(), 0);

    let cli = Cli::try_parse_from([
        "plan",
        "--profile",
        I7,
        graph.to_str().unwrap(),
        "--trials",
        "3",
    ])
    .unwrap();
    let err = run(&cli.plan).unwrap_err().to_string();
    assert!(err.contains("--verify"), "{err}");

    let cli = Cli::try_parse_from([
        "plan",
        "--profile",
        I7,
        graph.to_str().unwrap(),
        "--threshold",
        "0",
    ])
    .unwrap();
    assert!(run(&cli.plan).is_err());

    let missing =
        Cli::try_parse_from(["plan", "--profile", "/nonexistent.json", "g.json"]).unwrap();
    assert_eq!(run(&missing.plan).unwrap_err().exit_code(), 2);
}

// ---- Hostile input (issue 9): limits, checked arithmetic, one-line errors, safe text, Ctrl-C.

fn fuzz(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(name)
}

fn hwcal_bin(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hwcal"))
        .args(args)
        .output()
        .expect("the hwcal binary runs")
}

/// Exit code 2, one line on stderr naming `needles`, nothing on stdout.
fn assert_one_line_usage_error(out: &std::process::Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "`{n}` not in: {stderr}");
    }
}

#[test]
fn hostile_numbers_in_graph_files_are_refused_naming_the_node() {
    let cases = [
        // Was predicted at 0.032 ms; --verify panicked in the conv kernel.
        (
            "graph-conv-2p40.json",
            vec!["graph input `img`", "1099511627776", "limit of 2^31"],
        ),
        // --verify tried to allocate 281 TB.
        (
            "graph-sdpa-2p40.json",
            vec!["graph input `q`", "limit of 2^31"],
        ),
        // 2 × padding wrapped around: accepted and fused.
        (
            "graph-padding-2p63.json",
            vec!["node `conv` (conv2d)", "`padding`", "limit of 2^31"],
        ),
        // [2^32, 2^32] and [2^63, 2] have the same element count modulo 2^64.
        (
            "graph-reshape-wrap.json",
            vec!["graph input `x`", "4294967296", "limit"],
        ),
    ];
    for (file, needles) in &cases {
        let err = Graph::load(&fuzz(file)).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{file}: {err:?}");
        let msg = err.to_string();
        assert_eq!(msg.lines().count(), 1, "{msg}");
        for n in needles {
            assert!(msg.contains(n), "{file}: `{n}` not in: {msg}");
        }
        let path = fuzz(file);
        let out = hwcal_bin(&["plan", "--profile", I7, path.to_str().unwrap(), "--verify"]);
        assert_one_line_usage_error(&out, &needles[..1]);
    }
}

#[test]
fn products_beyond_the_limits_are_never_predicted() {
    let m = i7();
    // A 2^40 × 2^40 image: no data (its FLOPs overflow u64), not a tiny latency.
    let p = m.predict(Pattern::Conv2dBn, &Shape::conv3x3(1, 1, 1, 1 << 40));
    assert_eq!(p.source, Source::NoData);
    assert!(p.note.unwrap().contains("limit"));
    let att = Shape::Attention {
        batch: 1,
        seq: 1 << 31,
        dim: 1 << 31,
    };
    assert_eq!(
        m.predict(Pattern::FullAttention, &att).source,
        Source::NoData
    );
    assert!(predict::roofline_ms(Pattern::FullAttention, &att, 100.0, 10.0).is_none());
}

#[test]
fn a_group_too_large_to_verify_is_not_verified_and_the_rest_goes_on() {
    let g = Graph::load(&fuzz("graph-sdpa-too-large-to-verify.json")).unwrap();
    let p = plan(&g, &i7());
    assert_eq!(p.groups.len(), 3);
    let options = VerifyOptions {
        trials: 6,
        warmup: 1,
        ..VerifyOptions::default()
    };
    let backend = hwcal::backend::cpu::CpuBackend::new();
    let mut lines = Vec::new();
    let v = verify::verify_until(
        &p,
        &backend,
        options,
        &mut |l: &str| lines.push(l.to_string()),
        &mut || false,
    )
    .unwrap();
    assert_eq!(v.checks.len(), 3);
    assert!(v.checks[0].measured.is_some(), "{:?}", v.checks[0]);
    assert!(v.checks[1].measured.is_some(), "{:?}", v.checks[1]);
    let big = &v.checks[2];
    assert_eq!(big.verdict, Verdict::NotVerified);
    assert_eq!(big.verdict.label(), "not verified");
    let detail = big.detail.as_deref().unwrap();
    assert!(
        detail.starts_with("too large to verify (")
            && detail.contains(" GiB > ")
            && detail.ends_with(" GiB limit)"),
        "{detail}"
    );
    assert_eq!(lines.len(), 2, "only the small groups ran: {lines:?}");
    assert_eq!(v.chains[1].verdict, Verdict::NotVerified);
    assert!(!v.failed() && v.interrupted.is_empty() && !v.was_interrupted);

    // A plan built in code with a 2^40 image (the loader refuses it): refused, no panic.
    let mut huge = p.clone();
    let c = &mut huge.groups[0].candidate;
    c.pattern = Pattern::Conv2dBn;
    c.shape = Some(Shape::conv3x3(1, 1, 1, 1 << 40));
    huge.groups.truncate(1);
    huge.chains.truncate(1);
    huge.chains[0].groups = vec![0];
    let v =
        verify::verify_until(&huge, &backend, options, &mut |_: &str| {}, &mut || false).unwrap();
    assert_eq!(v.checks[0].verdict, Verdict::NotVerified);
    assert!(v.checks[0]
        .detail
        .as_deref()
        .unwrap()
        .starts_with("too large to verify"));

    // The report says so in one row and in the summary.
    let report = hwcal::cost_model::report::PlanReport {
        graph_file: "g.json".into(),
        profile_file: "p.json".into(),
        threshold: hwcal::cost_model::report::ThresholdChoice {
            value: 1.1,
            source: "given",
            recommended: i7().threshold_advice(),
        },
        plan: huge,
        verify: Some(v),
        notes: vec![],
    };
    let text = report.to_text();
    assert!(text.contains("not verified"), "{text}");
    assert!(text.contains("1 not verified"), "{text}");
}

#[test]
fn verify_estimates_buffers_with_checked_arithmetic() {
    let small = Shape::Linear { m: 8, k: 32, n: 24 };
    // Inputs twice (generated, backend copy), outputs three times (two variants, one copy).
    let want = 4 * (2 * (8 * 32 + 32 * 24 + 24) + 3 * 8 * 24);
    assert_eq!(
        verify::verify_bytes(Pattern::LinearBias, &small),
        Some(want)
    );
    let att = Shape::Attention {
        batch: 1,
        seq: 1 << 20,
        dim: 64,
    };
    let b = verify::verify_bytes(Pattern::FullAttention, &att).unwrap();
    assert!(b > 4 << 40, "the 2^40 scores alone are 4 TiB: {b}");
    let absurd = Shape::Attention {
        batch: usize::MAX,
        seq: usize::MAX,
        dim: usize::MAX,
    };
    assert_eq!(verify::verify_bytes(Pattern::FullAttention, &absurd), None);
    assert!(verify::refusal(Pattern::LinearBias, &small, 1 << 30).is_none());
    let why = verify::refusal(Pattern::LinearBias, &small, 100).unwrap();
    assert!(why.starts_with("too large to verify ("), "{why}");
}

#[test]
fn a_long_cycle_is_named_in_one_short_line() {
    let n = 100_000;
    let nodes: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id": "node{i}", "op": "relu", "inputs": ["node{}"]}}"#,
                (i + n - 1) % n
            )
        })
        .collect();
    let text = format!(
        r#"{{"inputs": [{{"id": "x", "shape": [1, 4]}}], "nodes": [{}]}}"#,
        nodes.join(",")
    );
    let t = std::time::Instant::now();
    let err = Graph::from_json_str(&text, Path::new("cycle.json"))
        .unwrap_err()
        .to_string();
    assert!(t.elapsed().as_secs() < 20, "cycle search must be linear");
    assert_eq!(err.lines().count(), 1);
    assert!(err.len() < 400, "{} bytes: {err}", err.len());
    assert!(
        err.contains("cycle") && err.contains("and 99994 more") && err.contains("100000 nodes"),
        "{err}"
    );
    // Ids are cut in messages.
    let long = "n".repeat(100_000);
    let text = format!(
        r#"{{"inputs": [{{"id": "x", "shape": [1, 4]}}], "nodes": [{{"id": "{long}", "op": "relu", "inputs": ["{long}x"]}}]}}"#
    );
    let err = Graph::from_json_str(&text, Path::new("g.json"))
        .unwrap_err()
        .to_string();
    assert!(err.len() < 400 && err.contains("more characters"), "{err}");
}

#[test]
fn control_codes_in_names_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // A profile whose hardware name rewrites the terminal.
    let mut profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(I7).unwrap()).unwrap();
    profile["metadata"]["hardware_name"] = "cpu\u{1b}[2J\u{7}".into();
    let profile_path = write(dir.path(), "p.json", &profile.to_string());
    let graph = write(
        dir.path(),
        "g.json",
        r#"{"name": "net\u001b]0;owned\u0007",
            "inputs": [{"id": "x\u001b[31m", "shape": [8, 32]}],
            "nodes": [
              {"id": "fc\u001b[2J", "op": "linear", "inputs": ["x\u001b[31m"], "attrs": {"out_features": 24}},
              {"id": "act\u0007", "op": "relu", "inputs": ["fc\u001b[2J"]},
              {"id": "odd", "op": "my\u001b[5mop\r", "inputs": ["act\u0007"], "shape": [8, 24]}
            ]}"#,
    );
    for format in ["table", "json"] {
        let out = hwcal_bin(&[
            "plan",
            "--profile",
            profile_path.to_str().unwrap(),
            graph.to_str().unwrap(),
            "--format",
            format,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.iter().any(|&b| b == 0x1b || b == 0x07 || b == b'\r'),
                "{format}: {}",
                String::from_utf8_lossy(stream)
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("fc?[2J") || stdout.contains(r"fc\u001b[2J"),
            "{stdout}"
        );
    }
    // Errors too: a duplicate id, and serde's own message quoting an unknown key.
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
            "nodes": [{"id": "a\u001b[2J", "op": "relu", "inputs": ["x"]},
                      {"id": "a\u001b[2J", "op": "relu", "inputs": ["x"]}]}"#,
    );
    let unknown = write(
        dir.path(),
        "unknown.json",
        r#"{"inputs": [], "nodes": [], "k\u001b[2J\u0007": 1}"#,
    );
    for path in [&bad, &unknown] {
        let out = hwcal_bin(&["plan", "--profile", I7, path.to_str().unwrap()]);
        assert_one_line_usage_error(&out, &["?[2J"]);
        assert!(!out.stderr.iter().any(|&b| b == 0x1b || b == 0x07));
    }
}

/// A graph of `n` independent Linear+ReLU chains: `n` groups to verify.
fn many_groups(dir: &Path, n: usize) -> PathBuf {
    let mut inputs = Vec::new();
    let mut nodes = Vec::new();
    for i in 0..n {
        inputs.push(format!(r#"{{"id": "x{i}", "shape": [64, 128]}}"#));
        nodes.push(format!(
            r#"{{"id": "fc{i}", "op": "linear", "inputs": ["x{i}"], "attrs": {{"out_features": 128}}}}"#
        ));
        nodes.push(format!(
            r#"{{"id": "relu{i}", "op": "relu", "inputs": ["fc{i}"]}}"#
        ));
    }
    write(
        dir,
        "many.json",
        &format!(
            r#"{{"inputs": [{}], "nodes": [{}]}}"#,
            inputs.join(","),
            nodes.join(",")
        ),
    )
}

#[test]
fn an_interrupted_verification_keeps_the_groups_it_finished() {
    let dir = tempfile::tempdir().unwrap();
    let p = plan(&Graph::load(&many_groups(dir.path(), 4)).unwrap(), &i7());
    // Four chains of Linear_Bias_ReLU and Linear_Bias.
    assert_eq!((p.groups.len(), p.chains.len()), (8, 4));
    let options = VerifyOptions {
        trials: 6,
        warmup: 1,
        ..VerifyOptions::default()
    };
    let backend = hwcal::backend::cpu::CpuBackend::new();
    // The signal arrives while the second chain is measured.
    let mut asked = 0;
    let v = verify::verify_until(&p, &backend, options, &mut |_: &str| {}, &mut || {
        asked += 1;
        asked > 2
    })
    .unwrap();
    assert_eq!((v.checks.len(), v.chains.len()), (4, 2));
    assert!(v.checks.iter().all(|c| c.measured.is_some()));
    assert_eq!(v.interrupted, [4, 5, 6, 7]);
    assert!(v.was_interrupted);
    let line = hwcal::cost_model::report::interruption_line(&v);
    assert_eq!(
        line,
        "interrupted: groups 5–8 not verified because of the interruption"
    );
}

#[test]
fn ctrl_c_during_plan_verify_prints_the_verdicts_so_far_and_exits_130() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let graph = many_groups(dir.path(), 64);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hwcal"))
        .args(["plan", "--profile", I7, graph.to_str().unwrap(), "--verify"])
        .args(["--trials", "6", "--warmup", "1", "--threads", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The plan of 64 chains outgrows a pipe's buffer: read stdout while waiting on stderr.
    let mut stdout_pipe = child.stdout.take().unwrap();
    let stdout_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout_pipe, &mut s).unwrap();
        s
    });
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("measuring"), "{first}");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let stdout = stdout_reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{stdout}\n{first}{rest}");
    assert!(stdout.contains("Verification on cpu"), "{stdout}");
    assert!(
        stdout.contains("not verified because of the interruption"),
        "{stdout}"
    );
    assert!(stdout.contains("decisions of "), "{stdout}");
}
