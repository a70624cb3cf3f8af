//! Greedy fusion planning over a [`Graph`] with a [`CostModel`].
//!
//! Nodes are visited in topological order. An unassigned node whose operators can begin a
//! pattern starts a chain, which grows into the next node while
//! - the current node's value has exactly one consumer and is not a graph output (an
//!   intermediate that is read twice, or leaves the graph, must be written to memory, so it
//!   cannot be fused away),
//! - that consumer takes it as its first input (`P·V` continues attention through `P`),
//! - and the operators so far still begin some pattern.
//!
//! The chain's prefixes that are whole patterns are the options, longest first (maximal
//! munch: `conv → bn → relu` is `Conv2d_BN_ReLU` before `Conv2d_BN`), each predicted at the
//! graph's shapes. The first option whose speedup *for the whole chain* reaches the threshold
//! is fused: for the longest that is its own predicted speedup; for a shorter one the
//! operators it leaves out run unfused, costing the difference of the two unfused predictions
//! (never less than zero), so the chain's speedup is
//! `unfused(longest) / (fused(shorter) + max(0, unfused(longest) − unfused(shorter)))`.
//! A shorter pattern therefore wins only when fusing it pays for the chain, not merely on its
//! own noisy ratio. A fused shorter option keeps the rejected longest as `rejected_longer`;
//! when no option is eligible the longest stays unfused. Nodes of a group are not revisited;
//! operators left over may start a later chain.
//!
//! Totals compare, over the candidate chains with a prediction, the predicted time with
//! nothing fused against the time with the plan's choices (a chain fused as a shorter pattern
//! counts its leftover operators as above).

use super::graph::{Graph, Node, NodeKind};
use super::model::CostModel;
use super::names::{is_pattern_prefix, pattern_of_ops, Op};
use super::predict::Prediction;
use crate::pattern::{Family, Pattern, Shape};
use crate::text::{self, truncated};
use serde::{Serialize, Serializer};
use std::collections::HashSet;

/// One pattern over a run of nodes, with its prediction at the graph's shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// Node ids, in chain order.
    pub nodes: Vec<String>,
    /// The pattern they form.
    #[serde(serialize_with = "pattern_name")]
    pub pattern: Pattern,
    /// The calibrated shape they run at; `None` when it has none (e.g. a non-square image),
    /// with the reason in the prediction's note.
    #[serde(serialize_with = "shape_json")]
    pub shape: Option<Shape>,
    /// Predicted latencies and speedup.
    pub prediction: Prediction,
}

/// A candidate group and the decision taken on it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    /// The group.
    #[serde(flatten)]
    pub candidate: Candidate,
    /// Whether the plan fuses it.
    pub fused: bool,
    /// Why, e.g. `predicted 1.34× (interpolated from 3 points) ≥ threshold 1.10`.
    pub reason: String,
    /// A longer candidate from the same chain that was rejected in favour of this one.
    pub rejected_longer: Option<Candidate>,
}

/// A node in no group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmodeled {
    /// Node id.
    pub id: String,
    /// Operator as written in the graph.
    pub op: String,
}

/// Predicted totals over the candidate chains with a prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    /// Every counted group unfused, ms.
    pub unfused_ms: f64,
    /// With the plan's choices, ms.
    pub planned_ms: f64,
    /// `unfused_ms / planned_ms`.
    pub speedup: f64,
    /// Groups counted.
    pub groups: usize,
    /// Groups left out for lack of data.
    pub groups_without_data: usize,
}

/// The plan for one graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// Graph name.
    pub graph: String,
    /// Profile's hardware name.
    pub hardware: String,
    /// Threshold the decisions used.
    pub threshold: f64,
    /// Candidate groups in topological order, fused or not.
    pub groups: Vec<Group>,
    /// Nodes in no group: operators without a calibrated pattern, or left over.
    pub unmodeled: Vec<Unmodeled>,
    /// Predicted totals.
    pub totals: Totals,
}

fn pattern_name<S: Serializer>(p: &Pattern, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.name())
}

fn shape_json<S: Serializer>(shape: &Option<Shape>, s: S) -> Result<S::Ok, S::Error> {
    match shape {
        None => s.serialize_none(),
        Some(shape) => {
            let mut v = serde_json::Map::new();
            v.insert("label".into(), shape.label().into());
            v.insert("input_shape".into(), shape.input_shape().into());
            v.extend(shape.extra_params());
            v.serialize(s)
        }
    }
}

/// The calibrated shape of `pattern` run over `nodes` (the chain's head gives the sizes).
/// Products are checked: a shape beyond [`super::limits`] (possible only for a [`Graph`] built
/// in code, the loader refuses them) is an error, never a wrapped-around size.
pub fn group_shape(pattern: Pattern, nodes: &[&Node]) -> Result<Shape, String> {
    let head = nodes[0];
    let too_large = || "sizes beyond hwcal's limits".to_string();
    let prod = |d: &[usize]| -> Result<usize, String> {
        super::limits::elements(d)
            .and_then(|e| usize::try_from(e).ok())
            .ok_or_else(too_large)
    };
    let shape = match (pattern.family(), &head.kind) {
        (Family::Linear, NodeKind::Linear { out_features, .. }) => {
            let x = &head.input_shapes[0];
            Shape::Linear {
                m: prod(&x[..x.len() - 1])?,
                k: x[x.len() - 1],
                n: *out_features,
            }
        }
        (Family::Linear, NodeKind::MatMul { .. }) => {
            let (a, out) = (&head.input_shapes[0], &head.shape);
            Shape::Linear {
                m: prod(&out[..out.len() - 1])?,
                k: a[a.len() - 1],
                n: out[out.len() - 1],
            }
        }
        (
            Family::Conv,
            &NodeKind::Conv {
                out_channels,
                kernel,
                stride,
                padding,
                groups,
                dilation,
            },
        ) => {
            if groups != 1 || dilation != 1 {
                return Err(format!(
                    "convolution with groups {groups}, dilation {dilation}: only groups 1, dilation 1 are calibrated"
                ));
            }
            let x = &head.input_shapes[0];
            if x[2] != x[3] {
                return Err(format!(
                    "{}×{} image: calibrated conv shapes are square",
                    x[2], x[3]
                ));
            }
            Shape::Conv {
                batch: x[0],
                cin: x[1],
                cout: out_channels,
                hw: x[2],
                kernel,
                stride,
                padding,
            }
        }
        (Family::Attention, NodeKind::MatMul { transpose_b }) => {
            let (q, k) = (&head.input_shapes[0], &head.input_shapes[1]);
            let (s, d) = (q[q.len() - 2], q[q.len() - 1]);
            let s_kv = if *transpose_b {
                k[k.len() - 2]
            } else {
                k[k.len() - 1]
            };
            if s_kv != s {
                return Err(format!(
                    "query length {s} ≠ key length {s_kv}: only self-attention is calibrated"
                ));
            }
            if pattern.epilogue().value_matmul {
                let pv = nodes.last().expect("non-empty");
                let v = &pv.input_shapes[1];
                let dv = v[v.len() - 1];
                if dv != d {
                    return Err(format!(
                        "value dimension {dv} ≠ query dimension {d}: not a calibrated shape"
                    ));
                }
            }
            Shape::Attention {
                batch: prod(&q[..q.len() - 2])?,
                seq: s,
                dim: d,
            }
        }
        (Family::Attention, NodeKind::Attention) => {
            let (q, k, v) = (
                &head.input_shapes[0],
                &head.input_shapes[1],
                &head.input_shapes[2],
            );
            let (s, d) = (q[q.len() - 2], q[q.len() - 1]);
            let (s_kv, dv) = (k[k.len() - 2], v[v.len() - 1]);
            if s_kv != s || dv != d {
                return Err(format!(
                    "q {q:?}, k {k:?}, v {v:?}: only self-attention with equal q and v dimensions is calibrated"
                ));
            }
            Shape::Attention {
                batch: prod(&q[..q.len() - 2])?,
                seq: s,
                dim: d,
            }
        }
        _ => {
            return Err(format!(
                "no {} shape for a chain starting with `{}`",
                pattern.name(),
                truncated(&head.op)
            ))
        }
    };
    super::limits::check_shape(&shape)?;
    shape.validate().map_err(|e| e.to_string())?;
    Ok(shape)
}

fn candidate(model: &CostModel, pattern: Pattern, nodes: &[&Node]) -> Candidate {
    let (shape, prediction) = match group_shape(pattern, nodes) {
        Ok(s) => (Some(s), model.predict(pattern, &s)),
        Err(why) => (
            None,
            Prediction::no_data(format!("no calibrated shape: {why}")),
        ),
    };
    Candidate {
        nodes: nodes.iter().map(|n| n.id.clone()).collect(),
        pattern,
        shape,
        prediction,
    }
}

/// Plans `graph` with `model` (and its threshold).
pub fn plan(graph: &Graph, model: &CostModel) -> Plan {
    let consumers = graph.consumers();
    let outputs: HashSet<&str> = graph.outputs.iter().map(String::as_str).collect();
    let mut assigned = vec![false; graph.nodes.len()];
    let mut groups = Vec::new();

    for start in 0..graph.nodes.len() {
        let head = &graph.nodes[start];
        let head_ops = head.kind.ops();
        if assigned[start] || !is_pattern_prefix(&head_ops) {
            continue;
        }
        // Grow the chain along single-consumer edges.
        let mut chain = vec![start];
        let mut ops_per_node = vec![head_ops.clone()];
        let mut ops = head_ops;
        loop {
            let last = &graph.nodes[*chain.last().expect("non-empty")];
            if outputs.contains(last.id.as_str()) {
                break;
            }
            let Some(&[(next, 0)]) = consumers.get(last.id.as_str()).map(Vec::as_slice) else {
                break;
            };
            let next_ops = graph.nodes[next].kind.ops();
            let mut grown = ops.clone();
            grown.extend(&next_ops);
            if assigned[next] || next_ops.is_empty() || !is_pattern_prefix(&grown) {
                break;
            }
            chain.push(next);
            ops_per_node.push(next_ops);
            ops = grown;
        }
        // Complete patterns among the chain's prefixes, longest first.
        let options: Vec<(usize, Pattern)> = (1..=chain.len())
            .rev()
            .filter_map(|k| {
                let ops: Vec<Op> = ops_per_node[..k].concat();
                pattern_of_ops(&ops).map(|p| (k, p))
            })
            .collect();
        if options.is_empty() {
            continue;
        }
        let nodes_of =
            |k: usize| -> Vec<&Node> { chain[..k].iter().map(|&i| &graph.nodes[i]).collect() };
        let evaluated: Vec<(usize, Candidate)> = options
            .iter()
            .map(|&(k, p)| (k, candidate(model, p, &nodes_of(k))))
            .collect();
        let (group, used) = choose(model, evaluated);
        for &i in &chain[..used] {
            assigned[i] = true;
        }
        groups.push(group);
    }

    let unmodeled = graph
        .nodes
        .iter()
        .zip(&assigned)
        .filter(|(_, &a)| !a)
        .map(|(n, _)| Unmodeled {
            id: n.id.clone(),
            op: n.op.clone(),
        })
        .collect();
    let totals = totals(&groups);
    Plan {
        graph: graph.name.clone(),
        hardware: model.hardware_name().to_string(),
        threshold: model.threshold(),
        groups,
        unmodeled,
        totals,
    }
}

/// Picks among a chain's whole-pattern prefixes, longest first (see the module notes): the
/// first whose chain speedup reaches the threshold, else the longest unfused.
fn choose(model: &CostModel, mut options: Vec<(usize, Candidate)>) -> (Group, usize) {
    let threshold = model.threshold();
    let (longest_len, longest) = options[0].clone();
    let longest_decision = model.decision_for(longest.prediction.clone());
    // The whole chain unfused, when predicted.
    let base = longest
        .prediction
        .known_speedup()
        .map(|_| longest.prediction.unfused_ms);
    // The first eligible option: (index, chain speedup).
    let eligible = options.iter().enumerate().find_map(|(i, (_, c))| {
        let p = &c.prediction;
        p.known_speedup()?;
        let speedup = match base {
            // The operators left over run unfused: the unfused chains' difference.
            Some(b) if i > 0 => b / (p.fused_ms + (b - p.unfused_ms).max(0.0)),
            // The longest itself, or a shorter one when the whole chain has no prediction.
            _ => p.speedup,
        };
        (speedup >= threshold).then_some((i, speedup))
    });
    let Some((i, speedup)) = eligible.filter(|&(i, _)| i > 0) else {
        return (
            Group {
                candidate: longest,
                fused: eligible.is_some(),
                reason: longest_decision.reason,
                rejected_longer: None,
            },
            longest_len,
        );
    };
    let (k, c) = options.swap_remove(i);
    let leftover = text::list(&longest.nodes[k..], 4);
    let whole = format!(
        "fused whole as {}: {}",
        longest.pattern.name(),
        longest_decision.reason
    );
    let reason = if base.is_some() {
        let (s_text, t_text) = super::model::distinct_decimals(speedup, threshold);
        format!(
            "predicted {s_text}× for the chain with {} fused ({}) and {leftover} unfused ≥ threshold {t_text}; {whole}",
            c.pattern.name(),
            c.prediction.source.describe(),
        )
    } else {
        format!(
            "{} ({leftover} left unfused); {whole}",
            model.decision_for(c.prediction.clone()).reason
        )
    };
    (
        Group {
            candidate: c,
            fused: true,
            reason,
            rejected_longer: Some(longest),
        },
        k,
    )
}

fn totals(groups: &[Group]) -> Totals {
    let (mut unfused, mut planned, mut counted, mut missing) = (0.0, 0.0, 0, 0);
    for g in groups {
        let p = &g.candidate.prediction;
        if p.known_speedup().is_none() {
            missing += 1;
            continue;
        }
        let longer = g
            .rejected_longer
            .as_ref()
            .map(|c| &c.prediction)
            .filter(|l| l.known_speedup().is_some());
        match longer {
            // A shorter pattern fused: the chain's leftover operators run unfused.
            Some(l) => {
                unfused += l.unfused_ms;
                planned += p.fused_ms + (l.unfused_ms - p.unfused_ms).max(0.0);
            }
            None => {
                unfused += p.unfused_ms;
                planned += if g.fused { p.fused_ms } else { p.unfused_ms };
            }
        }
        counted += 1;
    }
    Totals {
        unfused_ms: unfused,
        planned_ms: planned,
        speedup: if planned > 0.0 {
            unfused / planned
        } else {
            f64::NAN
        },
        groups: counted,
        groups_without_data: missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost_model::testutil::{empty_profile, entry};
    use std::path::Path;

    fn graph(text: &str) -> Graph {
        Graph::from_json_str(text, Path::new("t.json")).unwrap()
    }

    /// conv(3×3, 8→8, 8×8) → bn → relu, and a linear + relu.
    const SMALL: &str = r#"{"inputs": [{"id": "x", "shape": [1, 8, 8, 8]}, {"id": "v", "shape": [4, 16]}],
        "nodes": [
          {"id": "c", "op": "conv2d", "inputs": ["x"], "attrs": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
          {"id": "bn", "op": "batchnorm2d", "inputs": ["c"]},
          {"id": "r", "op": "relu", "inputs": ["bn"]},
          {"id": "l", "op": "linear", "inputs": ["v"], "attrs": {"out_features": 16}},
          {"id": "lr", "op": "relu", "inputs": ["l"]}
        ]}"#;

    /// Measured `(unfused, fused)` ms of Conv2d_BN_ReLU and Conv2d_BN at the conv's shape.
    fn model(conv_bn_relu: (f64, f64), conv_bn: (f64, f64)) -> CostModel {
        let mut p = empty_profile(0.0, 0.0);
        let s = Shape::conv3x3(1, 8, 8, 8);
        let (u, f) = conv_bn_relu;
        p.add_fusion_measurement(entry("Conv2d_BN_ReLU", &s, u, f, (1.0, 1.0)));
        let (u, f) = conv_bn;
        p.add_fusion_measurement(entry("Conv2d_BN", &s, u, f, (1.0, 1.0)));
        p.add_fusion_measurement(entry(
            "Linear_Bias_ReLU",
            &Shape::Linear { m: 4, k: 16, n: 16 },
            1.5,
            1.0,
            (1.0, 1.0),
        ));
        CostModel::new(&p)
    }

    #[test]
    fn chains_become_groups_by_maximal_munch() {
        let plan = plan(&graph(SMALL), &model((1.3, 1.0), (1.2, 1.0)));
        assert_eq!(plan.groups.len(), 2);
        let g = &plan.groups[0];
        assert_eq!(g.candidate.nodes, ["c", "bn", "r"]);
        assert_eq!(g.candidate.pattern, Pattern::Conv2dBnRelu);
        assert_eq!(g.candidate.shape, Some(Shape::conv3x3(1, 8, 8, 8)));
        assert!(g.fused);
        assert_eq!(
            g.reason,
            "predicted 1.30× (measured at this shape) ≥ threshold 1.10"
        );
        assert_eq!(plan.groups[1].candidate.pattern, Pattern::LinearBiasRelu);
        assert!(plan.unmodeled.is_empty());
        assert!((plan.totals.unfused_ms - 2.8).abs() < 1e-12);
        assert!((plan.totals.planned_ms - 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_rejected_chain_falls_back_to_a_shorter_pattern_that_pays() {
        // Whole chain 1.6 → 1.5 ms (1.07×, rejected); conv+bn fused 1.2 ms plus the ReLU
        // (1.6 − 1.5 ms) unfused: 1.3 ms, 1.23× for the chain.
        let plan = plan(&graph(SMALL), &model((1.6, 1.5), (1.5, 1.2)));
        let g = &plan.groups[0];
        assert_eq!(g.candidate.pattern, Pattern::Conv2dBn);
        assert!(g.fused);
        let longer = g.rejected_longer.as_ref().unwrap();
        assert_eq!(longer.pattern, Pattern::Conv2dBnRelu);
        assert!(
            g.reason.starts_with("predicted 1.23× for the chain with Conv2d_BN fused (measured at this shape) and r unfused ≥ threshold 1.10; fused whole as Conv2d_BN_ReLU: predicted 1.07×"),
            "{}",
            g.reason
        );
        // The leftover ReLU runs as it is, and counts in the totals: conv chain 1.6 → 1.3 ms,
        // linear + ReLU 1.5 → 1.0 ms.
        assert_eq!(plan.unmodeled[0].id, "r");
        assert!(
            (plan.totals.unfused_ms - 3.1).abs() < 1e-12,
            "{:?}",
            plan.totals
        );
        assert!(
            (plan.totals.planned_ms - 2.3).abs() < 1e-12,
            "{:?}",
            plan.totals
        );

        // Maximal munch: when the whole chain pays it is fused, even if conv+bn fused with
        // the ReLU unfused is predicted a little faster (1.3 + 0.1 ms against 1.7 ms).
        let plan = super::plan(&graph(SMALL), &model((2.0, 1.7), (1.9, 1.3)));
        let g = &plan.groups[0];
        assert_eq!(g.candidate.pattern, Pattern::Conv2dBnRelu);
        assert!(g.fused && g.rejected_longer.is_none());

        // A shorter pattern whose own speedup passes, but not once the ReLU is paid for:
        // conv+bn 1.2 → 1.0 ms, plus the ReLU (1.3 − 1.2 ms) = 1.1 ms against 1.3: 1.18×…
        let plan = super::plan(&graph(SMALL), &model((1.3, 1.25), (1.2, 1.0)));
        assert_eq!(plan.groups[0].candidate.pattern, Pattern::Conv2dBn);
        // …but when the profile's unfused conv+bn is slower than the whole chain unfused
        // (noise), no time is credited to the ReLU: 1.05 ms against 1.0 ms does not pass.
        let plan = super::plan(&graph(SMALL), &model((1.05, 1.0), (1.2, 1.0)));
        let g = &plan.groups[0];
        assert_eq!(g.candidate.pattern, Pattern::Conv2dBnRelu);
        assert!(!g.fused && g.rejected_longer.is_none());
    }

    #[test]
    fn an_intermediate_with_two_consumers_is_not_fused_away() {
        // bn feeds relu and the residual add: the chain stops at bn.
        let g = graph(
            r#"{"inputs": [{"id": "x", "shape": [1, 8, 8, 8]}],
                "nodes": [
                  {"id": "c", "op": "conv2d", "inputs": ["x"], "attrs": {"out_channels": 8, "kernel_size": 3, "padding": 1}},
                  {"id": "bn", "op": "batchnorm2d", "inputs": ["c"]},
                  {"id": "r", "op": "relu", "inputs": ["bn"]},
                  {"id": "sum", "op": "add", "inputs": ["r", "bn"]}
                ]}"#,
        );
        let plan = plan(&g, &model((1.3, 1.0), (1.2, 1.0)));
        assert_eq!(plan.groups.len(), 1);
        assert_eq!(plan.groups[0].candidate.nodes, ["c", "bn"]);
        assert_eq!(plan.groups[0].candidate.pattern, Pattern::Conv2dBn);
        let ids: Vec<&str> = plan.unmodeled.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["r", "sum"]);
    }

    #[test]
    fn a_graph_output_is_not_fused_away_and_unknown_patterns_have_no_data() {
        let text = format!(
            "{}, \"outputs\": [\"bn\", \"r\", \"lr\"]}}",
            SMALL.trim_end().strip_suffix('}').unwrap()
        );
        let plan = plan(&graph(&text), &model((1.3, 1.0), (1.2, 1.0)));
        assert_eq!(plan.groups[0].candidate.nodes, ["c", "bn"]);

        // No Linear_Bias_ReLU data and no roofline figures: no data, not fused.
        let p = CostModel::new(&empty_profile(0.0, 0.0));
        let plan = super::plan(&graph(SMALL), &p);
        assert!(plan.groups.iter().all(|g| !g.fused));
        assert!(plan.groups[0].reason.starts_with("no data"));
        assert_eq!(plan.totals.groups, 0);
        assert_eq!(plan.totals.groups_without_data, 2);
    }

    #[test]
    fn shapes_beyond_the_limits_have_no_calibrated_shape() {
        // A graph built in code may hold what the loader refuses: never multiplied out.
        let mut g = graph(SMALL);
        let conv = g.nodes.iter_mut().find(|n| n.id == "c").unwrap();
        conv.input_shapes[0] = vec![1, 1, 1 << 40, 1 << 40];
        let e = group_shape(Pattern::Conv2dBn, &[&*conv]).unwrap_err();
        assert!(e.contains("limit"), "{e}");
        let p = plan(&g, &model((1.3, 1.0), (1.2, 1.0)));
        let c = &p
            .groups
            .iter()
            .find(|g| g.candidate.nodes[0] == "c")
            .unwrap()
            .candidate;
        assert_eq!(c.shape, None);
        assert!(
            !p.groups
                .iter()
                .find(|g| g.candidate.nodes[0] == "c")
                .unwrap()
                .fused
        );
    }

    #[test]
    fn attention_chains_and_shapes() {
        let g = graph(
            r#"{"inputs": [{"id": "q", "shape": [2, 3, 16, 8]}, {"id": "k", "shape": [2, 3, 16, 8]}, {"id": "v", "shape": [2, 3, 16, 8]}],
                "nodes": [
                  {"id": "s", "op": "matmul", "inputs": ["q", "k"], "attrs": {"transpose_b": true}},
                  {"id": "sc", "op": "div", "inputs": ["s"]},
                  {"id": "p", "op": "softmax", "inputs": ["sc"]},
                  {"id": "o", "op": "matmul", "inputs": ["p", "v"]},
                  {"id": "fused", "op": "scaled_dot_product_attention", "inputs": ["q", "k", "v"]}
                ]}"#,
        );
        let m = CostModel::new(&empty_profile(100.0, 10.0));
        let plan = plan(&g, &m);
        assert_eq!(plan.groups.len(), 2);
        let want = Shape::Attention {
            batch: 6,
            seq: 16,
            dim: 8,
        };
        for g in &plan.groups {
            assert_eq!(g.candidate.pattern, Pattern::FullAttention);
            assert_eq!(g.candidate.shape, Some(want));
            assert_eq!(
                g.candidate.prediction.source,
                super::super::Source::Roofline
            );
        }
        assert_eq!(plan.groups[0].candidate.nodes, ["s", "sc", "p", "o"]);
    }
}
