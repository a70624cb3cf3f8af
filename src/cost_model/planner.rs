//! Fusion planning over a [`Graph`] with a [`CostModel`]: candidates along chains, chosen by
//! predicted total time.
//!
//! 1. **Units** ([`super::units`]): each node is a position of a chain, except `x·sigmoid(x)`
//!    (one SiLU) and a SwiGLU block (two bias-free linear layers of one input, SiLU on one,
//!    their product: one position).
//! 2. **Chains**: in topological order, an unassigned unit with operators starts a chain that
//!    grows into the next unit while the current value has exactly one consuming unit, is not
//!    a graph output (an intermediate that is read twice, or leaves the graph, must be written
//!    to memory, so it cannot be fused away), and that unit takes it as its first input or as
//!    either input of a two-input add or mul (`P·V` continues attention through `P`; a
//!    residual add continues through whichever operand the chain computed, the other operand
//!    being a graph input or an earlier node's value, computed before the fused kernel runs).
//!    One exception: an add whose sum is read elsewhere, or leaves the graph, continues into an
//!    RMSNorm of it, because `Add_RMSNorm` writes the sum too (a pre-norm transformer carries
//!    it on as the residual stream); no other pattern may span that edge.
//! 3. **Candidates**: every contiguous run of a chain whose operators are a pattern, wherever
//!    it starts (the `add → layernorm` after a linear layer as well as the linear layer with
//!    its add), each predicted at the graph's shapes. Candidates that overlap, directly or
//!    through others, are decided together: a *chain* of the plan ([`ChainPlan`]).
//! 4. **Choice**: a candidate whose predicted speedup reaches the threshold would save
//!    `unfused − fused` ms; the plan fuses the set of disjoint such candidates that saves the
//!    most in total (dynamic programming, [`super::cover::best_maximal`]: among the maximal
//!    sets, so that with a threshold below 1 a candidate that reaches it is fused rather than
//!    skipped). Operators left out run unfused. A chain's unfused time is the largest sum of
//!    unfused predictions of disjoint candidates ([`super::cover::max_weight`]); its planned
//!    time is that minus what the fused candidates save. The alternatives weighed, each the
//!    fastest cover fusing one of the candidates (and nothing fused), are listed with their
//!    predicted totals.
//!
//! Totals add up the chains with data; candidates without data are never fused.

use super::cover::{self, Item};
use super::graph::{Graph, Node, NodeKind};
use super::model::CostModel;
use super::names::{pattern_of_ops, Op};
use super::predict::Prediction;
use super::units::{Unit, Units};
use crate::pattern::{Family, Pattern, Shape};
use crate::text::truncated;
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

/// A candidate and the decision taken on it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    /// The candidate.
    #[serde(flatten)]
    pub candidate: Candidate,
    /// Index of its chain in [`Plan::chains`].
    pub chain: usize,
    /// Whether the plan fuses it.
    pub fused: bool,
    /// Why, e.g. `predicted 1.34× (interpolated from 3 points) ≥ threshold 1.10`.
    pub reason: String,
}

/// One way of running a chain: which of its candidates are fused.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alternative {
    /// Indices in [`Plan::groups`] of the groups it fuses, in chain order (empty: nothing
    /// fused).
    pub fused: Vec<usize>,
    /// Nodes of the chain it runs unfused.
    pub unfused_nodes: Vec<String>,
    /// Predicted time of the chain, ms (NaN, `null` in JSON, without data).
    pub total_ms: f64,
    /// Whether the plan chose it.
    pub chosen: bool,
}

/// Candidates that overlap, directly or through others, decided together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChainPlan {
    /// The chain's nodes, in order.
    pub nodes: Vec<String>,
    /// Indices in [`Plan::groups`] of its candidates.
    pub groups: Vec<usize>,
    /// Predicted time with nothing fused, ms (NaN without data).
    pub unfused_ms: f64,
    /// Predicted time with the plan's choice, ms (NaN without data).
    pub planned_ms: f64,
    /// The alternatives weighed, fastest first: for each candidate that reaches the threshold
    /// the fastest cover fusing it, and nothing fused. At most [`MAX_ALTERNATIVES`].
    pub alternatives: Vec<Alternative>,
    /// Alternatives weighed but not listed.
    pub alternatives_left_out: usize,
}

/// Most alternatives listed per chain.
pub const MAX_ALTERNATIVES: usize = 8;

/// Chains with more candidates than this list only the chosen cover and nothing fused (the
/// choice itself is linear in any chain's length).
const MAX_WEIGHED: usize = 64;

/// A node in no candidate group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmodeled {
    /// Node id.
    pub id: String,
    /// Operator as written in the graph.
    pub op: String,
}

/// Predicted totals over the chains with a prediction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    /// Every counted chain unfused, ms.
    pub unfused_ms: f64,
    /// With the plan's choices, ms.
    pub planned_ms: f64,
    /// `unfused_ms / planned_ms`.
    pub speedup: f64,
    /// Chains counted.
    pub chains: usize,
    /// Chains left out for lack of data.
    pub chains_without_data: usize,
}

/// The plan for one graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// Graph name.
    pub graph: String,
    /// The graph's description, if it has one.
    pub description: Option<String>,
    /// Where the graph's architecture comes from, if it says.
    pub source: Option<String>,
    /// Profile's hardware name.
    pub hardware: String,
    /// Threshold the decisions used.
    pub threshold: f64,
    /// Every candidate, chain by chain in topological order, fused or not.
    pub groups: Vec<Group>,
    /// The chains: overlapping candidates decided together.
    pub chains: Vec<ChainPlan>,
    /// Nodes in no candidate: operators without a calibrated pattern.
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

/// The calibrated shape of `pattern` run over `nodes` (the chain's head gives the sizes: the
/// first linear layer, convolution, matmul or attention node, or a norm's add).
/// Products are checked: a shape beyond [`super::limits`] (possible only for a [`Graph`] built
/// in code, the loader refuses them) is an error, never a wrapped-around size.
pub fn group_shape(pattern: Pattern, nodes: &[&Node]) -> Result<Shape, String> {
    let Some(head) = nodes.first() else {
        return Err("no nodes".into());
    };
    let too_large = || "sizes beyond hwcal's limits".to_string();
    let prod = |d: &[usize]| -> Result<usize, String> {
        super::limits::elements(d)
            .and_then(|e| usize::try_from(e).ok())
            .ok_or_else(too_large)
    };
    // A square NCHW image: (batch, channels, hw).
    let square = |x: &[usize]| -> Result<(usize, usize, usize), String> {
        match *x {
            [b, c, h, w] if h == w => Ok((b, c, h)),
            [_, _, h, w] => Err(format!("{h}×{w} image: calibrated conv shapes are square")),
            _ => Err("the input is not NCHW".into()),
        }
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
                    "convolution with groups {groups}, dilation {dilation}: only groups 1 (or depthwise), dilation 1 are calibrated"
                ));
            }
            let (batch, cin, hw) = square(&head.input_shapes[0])?;
            Shape::Conv {
                batch,
                cin,
                cout: out_channels,
                hw,
                kernel,
                stride,
                padding,
            }
        }
        (
            Family::Depthwise,
            &NodeKind::DepthwiseConv {
                channels,
                kernel,
                stride,
                padding,
                dilation,
            },
        ) => {
            if dilation != 1 {
                return Err(format!(
                    "depthwise convolution with dilation {dilation}: only dilation 1 is calibrated"
                ));
            }
            let (batch, _, hw) = square(&head.input_shapes[0])?;
            Shape::Depthwise {
                batch,
                channels,
                hw,
                kernel,
                stride,
                padding,
            }
        }
        (Family::Norm, NodeKind::Add) => {
            // Rows of the last axis: every other axis is a row index.
            let x = &head.shape;
            Shape::Norm {
                rows: prod(&x[..x.len() - 1])?,
                hidden: x[x.len() - 1],
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
        (Family::Attention, NodeKind::Attention { .. }) => {
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

/// A chain of units, with whether each edge into the next unit carries a value read elsewhere
/// too (only an add's sum into an RMSNorm, see the module notes).
struct Path {
    units: Vec<usize>,
    shared: Vec<bool>,
}

/// Grows the chains of `units` (step 2 of the module notes).
fn paths(graph: &Graph, units: &Units) -> Vec<Path> {
    let consumers = graph.consumers();
    let outputs: HashSet<&str> = graph.outputs.iter().map(String::as_str).collect();
    let mut unit_of = vec![0usize; graph.nodes.len()];
    for (u, unit) in units.units.iter().enumerate() {
        for &n in &unit.nodes {
            unit_of[n] = u;
        }
    }
    let us = &units.units;
    let mut assigned = vec![false; us.len()];
    let mut out = Vec::new();
    for start in 0..us.len() {
        if assigned[start] || us[start].ops.is_empty() {
            continue;
        }
        assigned[start] = true;
        let mut path = Path {
            units: vec![start],
            shared: Vec::new(),
        };
        loop {
            let last = *path.units.last().expect("non-empty");
            let value = graph.nodes[us[last].output].id.as_str();
            let mut next_units: Vec<usize> = consumers
                .get(value)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|&(n, _)| unit_of[n])
                .filter(|&u| u != last)
                .collect();
            next_units.sort_unstable();
            next_units.dedup();
            let open = |u: usize| !assigned[u] && !us[u].ops.is_empty();
            let step = if !outputs.contains(value) && next_units.len() == 1 {
                let u = next_units[0];
                (open(u) && units.accepts(graph, u, value)).then_some((u, false))
            } else if us[last].ops == [Op::Add] {
                next_units
                    .iter()
                    .copied()
                    .find(|&u| {
                        open(u) && us[u].ops == [Op::RmsNorm] && units.accepts(graph, u, value)
                    })
                    .map(|u| (u, true))
            } else {
                None
            };
            let Some((u, shared)) = step else { break };
            assigned[u] = true;
            path.units.push(u);
            path.shared.push(shared);
        }
        out.push(path);
    }
    out
}

/// One candidate of a path: its units `start..=end`.
struct Found {
    start: usize,
    end: usize,
    candidate: Candidate,
}

/// Every contiguous run of `path` whose operators form a pattern (step 3), in path order.
fn path_candidates(graph: &Graph, us: &[Unit], path: &Path, model: &CostModel) -> Vec<Found> {
    // A run's operators before canonicalisation: a pattern's, plus absorbed biases.
    let longest = Pattern::ALL
        .iter()
        .map(|p| p.operators().len())
        .max()
        .unwrap_or(0);
    let mut found = Vec::new();
    for start in 0..path.units.len() {
        let mut ops: Vec<Op> = Vec::new();
        for end in start..path.units.len() {
            ops.extend(&us[path.units[end]].ops);
            if ops.len() > 2 * longest {
                break;
            }
            let Some(pattern) = pattern_of_ops(&ops) else {
                continue;
            };
            // A shared edge inside the run: only an add's sum into the norm that writes it.
            let valid = (start..end).all(|k| {
                !path.shared[k]
                    || (pattern.epilogue().writes_sum && us[path.units[k]].ops == [Op::Add])
            });
            if !valid {
                continue;
            }
            let nodes: Vec<&Node> = path.units[start..=end]
                .iter()
                .flat_map(|&u| us[u].nodes.iter().map(|&n| &graph.nodes[n]))
                .collect();
            found.push(Found {
                start,
                end,
                candidate: candidate(model, pattern, &nodes),
            });
        }
    }
    found
}

/// Plans `graph` with `model` (and its threshold).
pub fn plan(graph: &Graph, model: &CostModel) -> Plan {
    let units = Units::of(graph);
    let us = &units.units;
    let mut groups = Vec::new();
    let mut chains = Vec::new();
    let mut in_candidate = vec![false; graph.nodes.len()];
    for path in paths(graph, &units) {
        let found = path_candidates(graph, us, &path, model);
        for cluster in clusters(&found) {
            for f in &cluster {
                for &u in &path.units[f.start..=f.end] {
                    for &n in &us[u].nodes {
                        in_candidate[n] = true;
                    }
                }
            }
            let (first, last) = (
                cluster.iter().map(|f| f.start).min().expect("non-empty"),
                cluster.iter().map(|f| f.end).max().expect("non-empty"),
            );
            let nodes: Vec<String> = path.units[first..=last]
                .iter()
                .flat_map(|&u| us[u].nodes.iter().map(|&n| graph.nodes[n].id.clone()))
                .collect();
            decide(model, &cluster, first, nodes, &mut groups, &mut chains);
        }
    }
    let unmodeled = graph
        .nodes
        .iter()
        .zip(&in_candidate)
        .filter(|(_, &c)| !c)
        .map(|(n, _)| Unmodeled {
            id: n.id.clone(),
            op: n.op.clone(),
        })
        .collect();
    let totals = totals(&chains);
    Plan {
        graph: graph.name.clone(),
        description: graph.description.clone(),
        source: graph.source.clone(),
        hardware: model.hardware_name().to_string(),
        threshold: model.threshold(),
        groups,
        chains,
        unmodeled,
        totals,
    }
}

/// Candidates that overlap, directly or through others, each cluster in order of start (the
/// longer of two with the same start first).
fn clusters(found: &[Found]) -> Vec<Vec<&Found>> {
    let mut sorted: Vec<&Found> = found.iter().collect();
    sorted.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out: Vec<Vec<&Found>> = Vec::new();
    let mut reach = 0usize;
    for f in sorted {
        match out.last_mut() {
            Some(c) if f.start <= reach => {
                c.push(f);
                reach = reach.max(f.end);
            }
            _ => {
                out.push(vec![f]);
                reach = f.end;
            }
        }
    }
    out
}

/// `a` and `b` as milliseconds with three decimals, or up to six when three would print
/// unequal numbers alike.
fn ms_pair(a: f64, b: f64) -> (String, String) {
    let mut d = 3;
    while d < 6 && a != b && format!("{a:.d$}") == format!("{b:.d$}") {
        d += 1;
    }
    (format!("{a:.d$}"), format!("{b:.d$}"))
}

/// Decides one chain (step 4 of the module notes): appends its groups and the chain.
fn decide(
    model: &CostModel,
    cluster: &[&Found],
    first: usize,
    nodes: Vec<String>,
    groups: &mut Vec<Group>,
    chains: &mut Vec<ChainPlan>,
) {
    let chain = chains.len();
    let g0 = groups.len();
    let positions = cluster.iter().map(|f| f.end + 1 - first).max().unwrap_or(0);
    let item = |f: &Found, weight: f64| Item {
        start: f.start - first,
        end: f.end - first,
        weight,
    };
    let decisions: Vec<_> = cluster
        .iter()
        .map(|f| model.decision_for(f.candidate.prediction.clone()))
        .collect();
    // Candidates that reach the threshold, weighed by the time fusing them saves.
    let eligible: Vec<usize> = (0..cluster.len()).filter(|&i| decisions[i].fuse).collect();
    let saving = |i: usize| {
        let p = &cluster[i].candidate.prediction;
        p.unfused_ms - p.fused_ms
    };
    let items: Vec<Item> = eligible
        .iter()
        .map(|&i| item(cluster[i], saving(i)))
        .collect();
    // The chain unfused: its slowest disjoint pieces, over the candidates with data.
    let known: Vec<Item> = (0..cluster.len())
        .filter(|&i| cluster[i].candidate.prediction.known_speedup().is_some())
        .map(|i| item(cluster[i], cluster[i].candidate.prediction.unfused_ms))
        .collect();
    let unfused_ms = if known.is_empty() {
        f64::NAN
    } else {
        cover::max_weight(positions, &known)
    };
    // The best cover, and for each eligible candidate the best cover fusing it.
    let cover_of = |within: &[usize]| -> (Vec<usize>, f64) {
        let sub: Vec<Item> = within.iter().map(|&k| items[k]).collect();
        let (chosen, saved) = cover::best_maximal(positions, &sub);
        let mut set: Vec<usize> = chosen.iter().map(|&c| eligible[within[c]]).collect();
        set.sort_unstable();
        (set, saved)
    };
    let all: Vec<usize> = (0..items.len()).collect();
    let (chosen, saved) = cover_of(&all);
    let planned_ms = unfused_ms - saved;
    let mut weighed: Vec<(Vec<usize>, f64)> = vec![(chosen.clone(), planned_ms)];
    let mut best_with: Vec<Option<f64>> = vec![None; cluster.len()];
    if cluster.len() <= MAX_WEIGHED {
        for (k, &i) in eligible.iter().enumerate() {
            let within: Vec<usize> = (0..items.len())
                .filter(|&j| j == k || !items[j].overlaps(&items[k]))
                .collect();
            let (set, s) = cover_of(&within);
            best_with[i] = Some(unfused_ms - s);
            weighed.push((set, unfused_ms - s));
        }
    }
    weighed.push((Vec::new(), unfused_ms));
    let mut seen: Vec<Vec<usize>> = Vec::new();
    weighed.retain(|(set, _)| {
        let new = !seen.contains(set);
        seen.push(set.clone());
        new
    });
    // Fastest first; the chosen one first among equals.
    weighed.sort_by(|a, b| {
        a.1.total_cmp(&b.1)
            .then_with(|| (b.0 == chosen).cmp(&(a.0 == chosen)))
    });
    let describe = |set: &[usize]| -> String {
        if set.is_empty() {
            "nothing fused".into()
        } else {
            set.iter()
                .map(|&i| cluster[i].candidate.pattern.name())
                .collect::<Vec<_>>()
                .join(" + ")
        }
    };
    let chosen_text = describe(&chosen);
    let next = weighed.iter().find(|(set, _)| *set != chosen);
    for (i, f) in cluster.iter().enumerate() {
        let d = &decisions[i];
        let fused = chosen.contains(&i);
        let reason = if fused {
            match next {
                // Against another way of fusing the chain, not only against nothing fused.
                Some((set, t)) if t.is_finite() && cluster.len() > 1 => {
                    let (a, b) = ms_pair(planned_ms, *t);
                    if planned_ms <= *t {
                        format!(
                            "{}; the fastest of {} alternatives for its chain: {a} ms against {b} ms with {}",
                            d.reason,
                            weighed.len(),
                            describe(set)
                        )
                    } else {
                        // Only below a threshold of 1: a slower fusion that reaches it.
                        format!(
                            "{}; its chain at {a} ms, though {b} ms with {}: the threshold fuses what reaches it",
                            d.reason,
                            describe(set)
                        )
                    }
                }
                _ => d.reason.clone(),
            }
        } else if d.fuse {
            match best_with[i] {
                Some(t) => {
                    let (a, b) = ms_pair(planned_ms, t);
                    format!(
                        "{}, but its chain is faster with {chosen_text} ({a} ms against {b} ms)",
                        d.reason
                    )
                }
                None => format!("{}, but its chain is faster with {chosen_text}", d.reason),
            }
        } else {
            d.reason.clone()
        };
        groups.push(Group {
            candidate: f.candidate.clone(),
            chain,
            fused,
            reason,
        });
    }
    let left_out = weighed.len().saturating_sub(MAX_ALTERNATIVES);
    weighed.truncate(MAX_ALTERNATIVES);
    let alternatives = weighed
        .into_iter()
        .map(|(set, total_ms)| {
            let fused_nodes: HashSet<&str> = set
                .iter()
                .flat_map(|&i| cluster[i].candidate.nodes.iter().map(String::as_str))
                .collect();
            Alternative {
                unfused_nodes: nodes
                    .iter()
                    .filter(|n| !fused_nodes.contains(n.as_str()))
                    .cloned()
                    .collect(),
                chosen: set == chosen,
                fused: set.iter().map(|&i| g0 + i).collect(),
                total_ms,
            }
        })
        .collect();
    chains.push(ChainPlan {
        nodes,
        groups: (g0..groups.len()).collect(),
        unfused_ms,
        planned_ms,
        alternatives,
        alternatives_left_out: left_out,
    });
}

fn totals(chains: &[ChainPlan]) -> Totals {
    let (mut unfused, mut planned, mut counted, mut missing) = (0.0, 0.0, 0, 0);
    for c in chains {
        if c.unfused_ms.is_finite() && c.planned_ms.is_finite() {
            unfused += c.unfused_ms;
            planned += c.planned_ms;
            counted += 1;
        } else {
            missing += 1;
        }
    }
    Totals {
        unfused_ms: unfused,
        planned_ms: planned,
        speedup: if planned > 0.0 {
            unfused / planned
        } else {
            f64::NAN
        },
        chains: counted,
        chains_without_data: missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost_model::testutil::{empty_profile, entry};
    use crate::profile::HardwareCalibration;
    use std::path::Path;

    fn graph(text: &str) -> Graph {
        Graph::from_json_str(text, Path::new("t.json")).unwrap()
    }

    /// `(nodes, pattern, fused)` of each group.
    fn summary(p: &Plan) -> Vec<(Vec<&str>, &'static str, bool)> {
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

    /// A profile measuring `(pattern, shape, unfused ms, fused ms)`.
    fn profile(points: &[(&str, Shape, f64, f64)]) -> HardwareCalibration {
        let mut p = empty_profile(0.0, 0.0);
        for (name, shape, u, f) in points {
            p.add_fusion_measurement(entry(name, shape, *u, *f, (1.0, 1.0)));
        }
        p
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
        let s = Shape::conv3x3(1, 8, 8, 8);
        CostModel::new(&profile(&[
            ("Conv2d_BN_ReLU", s, conv_bn_relu.0, conv_bn_relu.1),
            ("Conv2d_BN", s, conv_bn.0, conv_bn.1),
            (
                "Linear_Bias_ReLU",
                Shape::Linear { m: 4, k: 16, n: 16 },
                1.5,
                1.0,
            ),
        ]))
    }

    #[test]
    fn chains_become_groups_and_the_fastest_cover_is_fused() {
        let plan = plan(&graph(SMALL), &model((1.3, 1.0), (1.2, 1.0)));
        assert_eq!(
            summary(&plan),
            vec![
                (vec!["c", "bn", "r"], "Conv2d_BN_ReLU", true),
                (vec!["c", "bn"], "Conv2d_BN", false),
                (vec!["l", "lr"], "Linear_Bias_ReLU", true),
                (vec!["l"], "Linear_Bias", false),
            ]
        );
        let g = &plan.groups[0];
        assert_eq!(g.candidate.shape, Some(Shape::conv3x3(1, 8, 8, 8)));
        assert_eq!(
            g.reason,
            "predicted 1.30× (measured at this shape) ≥ threshold 1.10; the fastest of 3 \
             alternatives for its chain: 1.000 ms against 1.100 ms with Conv2d_BN"
        );
        assert_eq!(
            plan.groups[1].reason,
            "predicted 1.20× (measured at this shape) ≥ threshold 1.10, but its chain is \
             faster with Conv2d_BN_ReLU (1.000 ms against 1.100 ms)"
        );
        assert!(plan.groups[3].reason.starts_with("no data"));
        // Two chains; the first weighed three alternatives, fastest first.
        assert_eq!(plan.chains.len(), 2);
        let c = &plan.chains[0];
        assert_eq!(c.nodes, ["c", "bn", "r"]);
        let alts: Vec<(&[usize], f64, bool)> = c
            .alternatives
            .iter()
            .map(|a| (a.fused.as_slice(), a.total_ms, a.chosen))
            .collect();
        assert_eq!(
            alts,
            [
                (&[0][..], 1.0, true),
                (&[1][..], 1.3 - 0.2, false),
                (&[][..], 1.3, false)
            ]
        );
        assert_eq!(c.alternatives[1].unfused_nodes, ["r"]);
        assert!(plan.unmodeled.is_empty());
        assert!((plan.totals.unfused_ms - 2.8).abs() < 1e-12);
        assert!((plan.totals.planned_ms - 2.0).abs() < 1e-12);
        assert_eq!(
            (plan.totals.chains, plan.totals.chains_without_data),
            (2, 0)
        );
    }

    #[test]
    fn a_shorter_pattern_that_saves_more_wins_where_first_fit_took_the_longest() {
        // Whole chain 2.0 → 1.7 ms (1.18×, passes); conv+bn 1.9 → 1.3 ms (1.46×). First fit
        // fused the whole chain (1.7 ms); conv+bn fused with the ReLU unfused (2.0 − 1.9 ms)
        // is predicted 1.4 ms, and wins.
        let plan = plan(&graph(SMALL), &model((2.0, 1.7), (1.9, 1.3)));
        assert_eq!(
            summary(&plan)[..2],
            [
                (vec!["c", "bn", "r"], "Conv2d_BN_ReLU", false),
                (vec!["c", "bn"], "Conv2d_BN", true),
            ]
        );
        let c = &plan.chains[0];
        assert!((c.planned_ms - 1.4).abs() < 1e-12, "{c:?}");
        assert_eq!(c.alternatives[0].unfused_nodes, ["r"]);
        assert!(
            plan.groups[0]
                .reason
                .ends_with("but its chain is faster with Conv2d_BN (1.400 ms against 1.700 ms)"),
            "{}",
            plan.groups[0].reason
        );

        // The whole chain below the threshold (1.07×): conv+bn (1.25×) is fused alone.
        let plan = super::plan(&graph(SMALL), &model((1.6, 1.5), (1.5, 1.2)));
        assert_eq!(
            summary(&plan)[..2],
            [
                (vec!["c", "bn", "r"], "Conv2d_BN_ReLU", false),
                (vec!["c", "bn"], "Conv2d_BN", true),
            ]
        );
        assert_eq!(
            plan.groups[0].reason,
            "predicted 1.07× (measured at this shape) < threshold 1.10"
        );
        // Totals: conv chain 1.6 → 1.3 ms, linear + ReLU 1.5 → 1.0 ms.
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

        // The chain unfused is never taken as faster than a piece of it: with the profile's
        // conv+bn unfused (1.2 ms) slower than the whole chain (1.05 ms), the chain counts
        // 1.2 ms, and fusing conv+bn leaves 1.0 ms, not less.
        let plan = super::plan(&graph(SMALL), &model((1.05, 1.0), (1.2, 1.0)));
        let c = &plan.chains[0];
        assert_eq!((c.unfused_ms, c.planned_ms), (1.2, 1.0));
        assert!(plan.groups[1].fused);
    }

    #[test]
    fn a_threshold_below_one_fuses_what_reaches_it() {
        // Both slower fused (0.95× and 0.97×): at threshold 0.9 the less slow is fused.
        let m = model((1.9, 2.0), (1.94, 2.0)).with_threshold(0.9).unwrap();
        let plan = plan(&graph(SMALL), &m);
        assert_eq!(
            summary(&plan)[..2],
            [
                (vec!["c", "bn", "r"], "Conv2d_BN_ReLU", false),
                (vec!["c", "bn"], "Conv2d_BN", true),
            ]
        );
        // At 1.0 nothing in the conv chain is.
        let m = model((1.9, 2.0), (1.94, 2.0)).with_threshold(1.0).unwrap();
        let plan = super::plan(&graph(SMALL), &m);
        assert!(!plan.groups[0].fused && !plan.groups[1].fused);
        assert_eq!(plan.chains[0].alternatives.len(), 1);
        assert!(plan.chains[0].alternatives[0].fused.is_empty());
    }

    /// linear → add(x) → layernorm, rows of 64: the BERT layer's tail.
    const ADD_NORM: &str = r#"{"inputs": [{"id": "x", "shape": [1, 16, 64]}],
        "nodes": [
          {"id": "proj", "op": "linear", "inputs": ["x"], "attrs": {"out_features": 64}},
          {"id": "sum", "op": "add", "inputs": ["x", "proj"]},
          {"id": "ln", "op": "LayerNormalization", "inputs": ["sum"], "attrs": {"epsilon": 1e-12}}
        ]}"#;

    fn add_norm_model(lba: (f64, f64), lb: (f64, f64), aln: (f64, f64)) -> CostModel {
        let lin = Shape::Linear {
            m: 16,
            k: 64,
            n: 64,
        };
        let norm = Shape::Norm {
            rows: 16,
            hidden: 64,
        };
        CostModel::new(&profile(&[
            ("Linear_Bias_Add", lin, lba.0, lba.1),
            ("Linear_Bias", lin, lb.0, lb.1),
            ("Add_LayerNorm", norm, aln.0, aln.1),
        ]))
    }

    #[test]
    fn overlapping_candidates_mid_chain_are_weighed_by_the_chain_total() {
        // Linear_Bias_Add saves 0.3 ms, Linear_Bias 0.1 ms and Add_LayerNorm 0.5 ms: the
        // residual add goes to the norm. First fit took Linear_Bias_Add.
        let g = graph(ADD_NORM);
        let plan = plan(&g, &add_norm_model((1.3, 1.0), (1.0, 0.9), (1.5, 1.0)));
        assert_eq!(
            summary(&plan),
            vec![
                (vec!["proj", "sum"], "Linear_Bias_Add", false),
                (vec!["proj"], "Linear_Bias", true),
                (vec!["sum", "ln"], "Add_LayerNorm", true),
            ]
        );
        assert_eq!(
            plan.groups[2].candidate.shape,
            Some(Shape::Norm {
                rows: 16,
                hidden: 64
            })
        );
        let c = &plan.chains[0];
        assert_eq!(c.nodes, ["proj", "sum", "ln"]);
        // Unfused: Linear_Bias + Add_LayerNorm unfused, 2.5 ms; planned 1.9 ms.
        assert!((c.unfused_ms - 2.5).abs() < 1e-12 && (c.planned_ms - 1.9).abs() < 1e-12);
        let totals: Vec<f64> = c.alternatives.iter().map(|a| a.total_ms).collect();
        assert_eq!(totals.len(), 3);
        assert!((totals[0] - 1.9).abs() < 1e-12 && (totals[1] - 2.2).abs() < 1e-12);
        assert_eq!(c.alternatives[1].unfused_nodes, ["ln"]);
        // When the linear's own add saves more, it keeps it and the norm runs alone.
        let plan = super::plan(&g, &add_norm_model((1.9, 1.0), (1.0, 0.9), (1.5, 1.0)));
        let fused: Vec<&str> = plan
            .groups
            .iter()
            .filter(|g| g.fused)
            .map(|g| g.candidate.pattern.name())
            .collect();
        assert_eq!(fused, ["Linear_Bias_Add"]);
    }

    #[test]
    fn a_residual_add_continues_a_chain_through_either_operand() {
        let g = graph(
            r#"{"inputs": [{"id": "x", "shape": [1, 8, 8, 8]}],
                "nodes": [
                  {"id": "c", "op": "conv2d", "inputs": ["x"], "attrs": {"out_channels": 8, "kernel_size": 1}},
                  {"id": "bn", "op": "batchnorm2d", "inputs": ["c"]},
                  {"id": "sum", "op": "add", "inputs": ["x", "bn"]},
                  {"id": "r", "op": "relu", "inputs": ["sum"]},
                  {"id": "twice", "op": "add", "inputs": ["r", "r"]}
                ]}"#,
        );
        let m = CostModel::new(&empty_profile(100.0, 10.0));
        let plan = plan(&g, &m);
        let names: Vec<_> = summary(&plan).into_iter().map(|(n, p, _)| (n, p)).collect();
        assert_eq!(
            names,
            [
                (vec!["c", "bn", "sum", "r"], "Conv2d_BN_Add_ReLU"),
                (vec!["c", "bn"], "Conv2d_BN"),
            ]
        );
        // The roofline favours the longest: one pass instead of three.
        assert!(plan.groups[0].fused);
        // `add(r, r)` would need r as its own residual: it does not join the chain.
        assert_eq!(plan.unmodeled[0].id, "twice");
    }

    #[test]
    fn an_intermediate_with_two_consumers_is_not_fused_away() {
        // bn feeds relu and the residual add: nothing may fuse past bn.
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
        assert_eq!(summary(&plan), [(vec!["c", "bn"], "Conv2d_BN", true)]);
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

        // No data and no roofline figures: nothing fused, nothing counted.
        let p = CostModel::new(&empty_profile(0.0, 0.0));
        let plan = super::plan(&graph(SMALL), &p);
        assert!(plan.groups.iter().all(|g| !g.fused));
        assert!(plan.groups[0].reason.starts_with("no data"));
        assert_eq!(plan.totals.chains, 0);
        assert_eq!(plan.totals.chains_without_data, 2);
        assert!(plan.chains[0].unfused_ms.is_nan());
        let json = serde_json::to_value(&plan).unwrap();
        assert!(json["chains"][0]["alternatives"][0]["total_ms"].is_null());
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
        for g in p.groups.iter().filter(|g| g.candidate.nodes[0] == "c") {
            assert_eq!(g.candidate.shape, None);
            assert!(!g.fused);
        }
        assert!(group_shape(Pattern::Conv2dBn, &[]).is_err());
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
                  {"id": "fused", "op": "scaled_dot_product_attention", "inputs": ["q", "k", "v"]},
                  {"id": "causal", "op": "sdpa", "inputs": ["q", "k", "v"], "attrs": {"is_causal": true}},
                  {"id": "s2", "op": "bmm", "inputs": ["q", "k"], "attrs": {"transpose_b": true}},
                  {"id": "sc2", "op": "mul", "inputs": ["s2"]},
                  {"id": "mask", "op": "causal_mask", "inputs": ["sc2"]},
                  {"id": "p2", "op": "softmax", "inputs": ["mask"]},
                  {"id": "o2", "op": "bmm", "inputs": ["p2", "v"]}
                ]}"#,
        );
        let m = CostModel::new(&empty_profile(100.0, 10.0));
        let plan = plan(&g, &m);
        let want = Shape::Attention {
            batch: 6,
            seq: 16,
            dim: 8,
        };
        assert_eq!(
            summary(&plan)
                .into_iter()
                .map(|(n, p, _)| (n, p))
                .collect::<Vec<_>>(),
            [
                (vec!["s", "sc", "p", "o"], "FullAttention"),
                (vec!["s", "sc", "p"], "QK_Softmax"),
                (vec!["s", "sc"], "QK_AttentionScores"),
                (vec!["fused"], "FullAttention"),
                (vec!["causal"], "FullAttention_Causal"),
                (
                    vec!["s2", "sc2", "mask", "p2", "o2"],
                    "FullAttention_Causal"
                ),
                (vec!["s2", "sc2"], "QK_AttentionScores"),
            ]
        );
        for g in &plan.groups {
            assert_eq!(g.candidate.shape, Some(want));
            assert_eq!(
                g.candidate.prediction.source,
                super::super::Source::Roofline
            );
        }
    }

    /// A LLaMA-style MLP: pre-norm add whose sum is read again, RMSNorm, SwiGLU with SiLU
    /// written as x·sigmoid(x), down projection, residual.
    const GATED: &str = r#"{"inputs": [{"id": "x", "shape": [1, 8, 32]}, {"id": "r", "shape": [1, 8, 32]}],
        "nodes": [
          {"id": "h", "op": "add", "inputs": ["x", "r"]},
          {"id": "norm", "op": "SimplifiedLayerNormalization", "inputs": ["h"]},
          {"id": "gate", "op": "linear", "inputs": ["norm"], "attrs": {"out_features": 88, "bias": false}},
          {"id": "up", "op": "linear", "inputs": ["norm"], "attrs": {"out_features": 88, "bias": false}},
          {"id": "sig", "op": "Sigmoid", "inputs": ["gate"]},
          {"id": "silu", "op": "Mul", "inputs": ["sig", "gate"]},
          {"id": "prod", "op": "Mul", "inputs": ["up", "silu"]},
          {"id": "down", "op": "linear", "inputs": ["prod"], "attrs": {"out_features": 32, "bias": false}},
          {"id": "out", "op": "add", "inputs": ["h", "down"]}
        ],
        "outputs": ["out"]}"#;

    #[test]
    fn swiglu_blocks_and_an_add_whose_sum_is_read_again() {
        let m = CostModel::new(&empty_profile(100.0, 10.0));
        let plan = plan(&graph(GATED), &m);
        assert_eq!(
            summary(&plan)
                .into_iter()
                .map(|(n, p, _)| (n, p))
                .collect::<Vec<_>>(),
            [
                (vec!["h", "norm"], "Add_RMSNorm"),
                (vec!["gate", "sig", "silu", "up", "prod"], "Linear_SwiGLU"),
            ]
        );
        assert_eq!(
            plan.groups[1].candidate.shape,
            Some(Shape::Linear { m: 8, k: 32, n: 88 })
        );
        assert_eq!(
            plan.groups[0].candidate.shape,
            Some(Shape::Norm {
                rows: 8,
                hidden: 32
            })
        );
        let ids: Vec<&str> = plan.unmodeled.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["down", "out"]);

        // A LayerNorm in its place cannot take the add whose sum is read again.
        let g = graph(&GATED.replace("SimplifiedLayerNormalization", "layer_norm"));
        let plan = super::plan(&g, &m);
        assert_eq!(plan.groups[0].candidate.pattern, Pattern::LinearSwiglu);
        assert!(plan.unmodeled.iter().any(|u| u.id == "h"));
        // A SwiGLU whose gate is read elsewhere (here: a graph output) is no block.
        let g = graph(&GATED.replace(r#""outputs": ["out"]"#, r#""outputs": ["out", "gate"]"#));
        let plan = super::plan(&g, &m);
        assert!(plan
            .groups
            .iter()
            .all(|g| g.candidate.pattern != Pattern::LinearSwiglu));
    }

    #[test]
    fn depthwise_convolutions_with_relu6_written_as_clip() {
        let g = graph(
            r#"{"inputs": [{"id": "x", "shape": [1, 16, 8, 8]}],
                "nodes": [
                  {"id": "dw", "op": "Conv", "inputs": ["x"], "attrs": {"out_channels": 16, "kernel_size": 3, "padding": 1, "group": 16}},
                  {"id": "bn", "op": "BatchNormalization", "inputs": ["dw"]},
                  {"id": "act", "op": "Clip", "inputs": ["bn"], "attrs": {"min": 0, "max": 6}}
                ]}"#,
        );
        let plan = plan(&g, &CostModel::new(&empty_profile(100.0, 10.0)));
        assert_eq!(summary(&plan).len(), 1);
        let c = &plan.groups[0].candidate;
        assert_eq!(c.pattern, Pattern::DepthwiseConv2dBnRelu6);
        assert_eq!(c.shape, Some(Shape::depthwise3x3(1, 16, 8, 1)));
    }
}
