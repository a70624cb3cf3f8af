//! The fusable units of a graph: what one position of a fusion chain holds.
//!
//! Most units are one node. Two constructions span several nodes, because the operators they
//! compute are not a chain of single-consumer edges:
//!
//! - **SiLU as `x · sigmoid(x)`** (how ONNX exports `nn.SiLU`): a `sigmoid` node whose only
//!   consumer is a `mul` of the sigmoid's input and the sigmoid. One unit, operator SiLU,
//!   entered through `x` (which both nodes read).
//! - **SwiGLU**, `silu(x·W_gate) ⊙ (x·W_up)`: two bias-free linear layers of the same input and
//!   width, SiLU on one of them (a node or the pair above), and their product. One unit with
//!   the operators `Linear, SiLU, Linear, Mul`, entered through `x`.
//!
//! Every intermediate inside a unit must be read by its unit only and must not leave the graph:
//! a value read elsewhere has to be written to memory, so it cannot be fused away.

use super::graph::{Graph, NodeKind};
use super::names::Op;
use std::collections::{HashMap, HashSet};

/// How a chain may enter a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// Through the node's first input, or either input of a two-input add or mul.
    Node,
    /// Through this value only (the `x` of a SiLU pair or a SwiGLU block).
    Value(String),
}

/// One position of a fusion chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// Its nodes (indices into [`Graph::nodes`]) in the order the pattern reads them (SwiGLU:
    /// the gate projection, its SiLU, the up projection, the product).
    pub nodes: Vec<usize>,
    /// The canonical operators it contributes (none: it never fuses).
    pub ops: Vec<Op>,
    /// The node whose value the unit produces.
    pub output: usize,
    entry: Entry,
}

/// A graph's units, in topological order of their first node.
#[derive(Clone, Debug)]
pub struct Units {
    /// The units.
    pub units: Vec<Unit>,
}

impl Units {
    /// Splits `graph` into units (see the module notes).
    pub fn of(graph: &Graph) -> Units {
        let index: HashMap<&str, usize> = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let consumers = graph.consumers();
        let outputs: HashSet<&str> = graph.outputs.iter().map(String::as_str).collect();
        // Whether node `a`'s value is read, and read only by `by`, and stays inside.
        let only_read_by = |a: usize, by: &[usize]| -> bool {
            let id = graph.nodes[a].id.as_str();
            !outputs.contains(id)
                && consumers
                    .get(id)
                    .is_some_and(|c| c.iter().all(|(n, _)| by.contains(n)))
        };
        let producer = |value: &str| index.get(value).copied();
        let kind = |i: usize| &graph.nodes[i].kind;

        // SiLU pairs: sigmoid(x) read only by mul(x, sigmoid(x)), by the product's index.
        let mut silu_pairs: HashMap<usize, (usize, String)> = HashMap::new();
        for (m, node) in graph.nodes.iter().enumerate() {
            if node.kind != NodeKind::Mul {
                continue;
            }
            for (s_at, x_at) in [(1, 0), (0, 1)] {
                let Some(s) = producer(&node.inputs[s_at]) else {
                    continue;
                };
                let x = &node.inputs[x_at];
                if *kind(s) == NodeKind::Sigmoid
                    && graph.nodes[s].inputs[0] == *x
                    && only_read_by(s, &[m])
                {
                    silu_pairs.insert(m, (s, x.clone()));
                    break;
                }
            }
        }
        // The SiLU computed by the value of node `a`: its nodes and input.
        let silu_of = |a: usize| -> Option<(Vec<usize>, String)> {
            if *kind(a) == NodeKind::Silu {
                return Some((vec![a], graph.nodes[a].inputs[0].clone()));
            }
            silu_pairs.get(&a).map(|(s, x)| (vec![*s, a], x.clone()))
        };
        let bias_free_linear = |a: usize| match *kind(a) {
            NodeKind::Linear {
                out_features,
                bias: false,
            } => Some(out_features),
            _ => None,
        };

        let mut taken = vec![false; graph.nodes.len()];
        let mut units = Vec::new();
        // SwiGLU blocks.
        for (m, node) in graph.nodes.iter().enumerate() {
            if node.kind != NodeKind::Mul || silu_pairs.contains_key(&m) {
                continue;
            }
            let found = [(0, 1), (1, 0)].into_iter().find_map(|(g_at, u_at)| {
                let act = producer(&node.inputs[g_at])?;
                let up = producer(&node.inputs[u_at])?;
                let (act_nodes, gate_value) = silu_of(act)?;
                let gate = producer(&gate_value)?;
                let width = bias_free_linear(gate)?;
                let fits = gate != up
                    && act != up
                    && bias_free_linear(up) == Some(width)
                    && graph.nodes[gate].inputs[0] == graph.nodes[up].inputs[0]
                    && only_read_by(gate, &act_nodes)
                    && only_read_by(act, &[m])
                    && only_read_by(up, &[m]);
                fits.then(|| {
                    let mut nodes = vec![gate];
                    nodes.extend(&act_nodes);
                    nodes.extend([up, m]);
                    (nodes, graph.nodes[gate].inputs[0].clone())
                })
            });
            if let Some((nodes, x)) = found {
                if nodes.iter().any(|&n| taken[n]) {
                    continue;
                }
                for &n in &nodes {
                    taken[n] = true;
                }
                units.push(Unit {
                    nodes,
                    ops: vec![Op::Linear, Op::Silu, Op::Linear, Op::Mul],
                    output: m,
                    entry: Entry::Value(x),
                });
            }
        }
        // SiLU pairs not inside a SwiGLU block.
        for (&m, (s, x)) in &silu_pairs {
            if taken[m] || taken[*s] {
                continue;
            }
            taken[m] = true;
            taken[*s] = true;
            units.push(Unit {
                nodes: vec![*s, m],
                ops: vec![Op::Silu],
                output: m,
                entry: Entry::Value(x.clone()),
            });
        }
        // Every other node on its own.
        for (i, node) in graph.nodes.iter().enumerate() {
            if !taken[i] {
                units.push(Unit {
                    nodes: vec![i],
                    ops: node.kind.ops(),
                    output: i,
                    entry: Entry::Node,
                });
            }
        }
        units.sort_by_key(|u| u.nodes.iter().min().copied());
        Units { units }
    }

    /// Whether a chain whose current value is `value` may continue into unit `u`: through the
    /// unit's entry, read once (a node reading the value twice, `add(v, v)`, would need it as
    /// its own residual).
    pub fn accepts(&self, graph: &Graph, u: usize, value: &str) -> bool {
        let unit = &self.units[u];
        match &unit.entry {
            Entry::Value(x) => x == value,
            Entry::Node => {
                let node = &graph.nodes[unit.nodes[0]];
                let at: Vec<usize> = (0..node.inputs.len())
                    .filter(|&p| node.inputs[p] == value)
                    .collect();
                match at.as_slice() {
                    [0] => true,
                    [_] => matches!(node.kind, NodeKind::Add | NodeKind::Mul),
                    _ => false,
                }
            }
        }
    }
}
