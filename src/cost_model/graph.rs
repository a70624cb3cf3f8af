//! The operator graph `hwcal plan` partitions: a small JSON format, validated on load.
//!
//! ```json
//! {
//!   "name": "mlp",
//!   "inputs": [{"id": "x", "shape": [256, 784]}],
//!   "nodes": [
//!     {"id": "fc1", "op": "linear", "inputs": ["x"], "attrs": {"out_features": 1024}},
//!     {"id": "relu1", "op": "relu", "inputs": ["fc1"]}
//!   ],
//!   "outputs": ["relu1"]
//! }
//! ```
//!
//! Nodes list their activation inputs only (weights are implied by the attributes). Output
//! shapes are inferred for the operators hwcal knows; any node may state its output `shape`,
//! which must then agree, and operators without a shape rule (`reshape`, custom ones) must
//! state it. The full format, operator by operator, is in `docs/cost-model.md`.
//!
//! Loading rejects, naming the file and the node: duplicate ids, inputs that are neither a
//! graph input nor a node, cycles, missing or ill-typed required attributes, wrong input
//! counts, shapes that do not fit the operator, missing shapes where none can be inferred, and
//! every number beyond the limits of [`super::limits`] (dimensions, attributes, elements per
//! tensor, work per operator), computed with checked arithmetic. Every error is one line; ids
//! and names in it are made printable and cut ([`crate::text::truncated`]), and a cycle names
//! its first few nodes and how many more.

use super::limits::{self, MAX_ELEMENTS, MAX_WORK};
use super::names::{operator_ops, Op};
use crate::text::{truncated, truncated_to};
use crate::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    source: Option<String>,
    inputs: Vec<InputFile>,
    nodes: Vec<NodeFile>,
    #[serde(default)]
    outputs: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFile {
    id: String,
    shape: Vec<usize>,
    #[serde(default, rename = "comment")]
    _comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    id: String,
    op: String,
    #[serde(default)]
    inputs: Vec<String>,
    #[serde(default)]
    attrs: Map<String, Value>,
    #[serde(default)]
    shape: Option<Vec<usize>>,
    #[serde(default, rename = "comment")]
    _comment: Option<String>,
}

/// What a node computes, as far as fusion is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// `x·Wᵀ (+ b)`: `linear`, `nn.Linear`, `Gemm`, `addmm`, `dense`, `fc`.
    Linear {
        /// Output features (attribute `out_features`, required).
        out_features: usize,
        /// Whether it adds a bias (attribute `bias`, default true).
        bias: bool,
    },
    /// Matmul of two activations (`matmul`, `bmm`, `MatMul`); `transpose_b` multiplies by the
    /// second input transposed over its last two axes.
    MatMul {
        /// Attribute `transpose_b` (default false).
        transpose_b: bool,
    },
    /// 2-D convolution, NCHW (not depthwise: see [`NodeKind::DepthwiseConv`]).
    Conv {
        /// Attribute `out_channels` (required).
        out_channels: usize,
        /// Attribute `kernel_size` (required; square).
        kernel: usize,
        /// Attribute `stride` (default 1).
        stride: usize,
        /// Attribute `padding` (default 0, as PyTorch).
        padding: usize,
        /// Attribute `groups` (ONNX: `group`; default 1; only 1 has a calibrated pattern, and
        /// groups = input = output channels is depthwise).
        groups: usize,
        /// Attribute `dilation` (default 1; only 1 has a calibrated pattern).
        dilation: usize,
    },
    /// Depthwise 2-D convolution, NCHW: a `conv2d` with `groups` = input channels = output
    /// channels, or an operator named so (`DepthwiseConv2d`, `dwconv`).
    DepthwiseConv {
        /// Channels (input = output = groups).
        channels: usize,
        /// Attribute `kernel_size` (required; square).
        kernel: usize,
        /// Attribute `stride` (default 1).
        stride: usize,
        /// Attribute `padding` (default 0).
        padding: usize,
        /// Attribute `dilation` (default 1; only 1 has a calibrated pattern).
        dilation: usize,
    },
    /// Batch normalization (inference).
    BatchNorm,
    /// ReLU.
    Relu,
    /// ReLU6: `relu6`, or `Clip`/`clamp`/`hardtanh` with bounds 0 and 6.
    Relu6,
    /// GELU.
    Gelu,
    /// SiLU (`silu`, `swish`); `x · sigmoid(x)` written as two nodes is found by the planner.
    Silu,
    /// Sigmoid: fuses only as half of `x · sigmoid(x)` (SiLU).
    Sigmoid,
    /// Softmax over the last axis.
    Softmax,
    /// Multiplication or division by a constant (one input).
    Scale,
    /// Bias addition (`bias_add`, or `add` with one activation input).
    Bias,
    /// Elementwise sum of two activations of the same shape (a residual).
    Add,
    /// Elementwise product of two activations of the same shape (a gate).
    Mul,
    /// Layer normalization over the last axis.
    LayerNorm,
    /// RMS normalization over the last axis (`rmsnorm`, ONNX `SimplifiedLayerNormalization`).
    RmsNorm,
    /// The causal mask of attention scores (`causal_mask`), one input.
    CausalMask,
    /// Scaled dot-product attention as one operator: inputs q, k, v.
    Attention {
        /// Keys after the query are masked (attribute `is_causal: true` or `mask: "causal"`).
        causal: bool,
    },
    /// Anything else: broadcasting elementwise operators, norms over other axes, reshapes,
    /// custom operators. Never fuses.
    Other,
}

impl NodeKind {
    /// The canonical operators this node contributes to a fusion chain (none for
    /// [`NodeKind::Other`], and none for [`NodeKind::Sigmoid`], which fuses only with the
    /// product that makes it SiLU).
    pub fn ops(&self) -> Vec<Op> {
        match self {
            NodeKind::Linear { bias: true, .. } => vec![Op::Linear, Op::Bias],
            NodeKind::Linear { bias: false, .. } => vec![Op::Linear],
            NodeKind::MatMul { .. } => vec![Op::MatMul],
            NodeKind::Conv { .. } => vec![Op::Conv2d],
            NodeKind::DepthwiseConv { .. } => vec![Op::DepthwiseConv2d],
            NodeKind::BatchNorm => vec![Op::BatchNorm],
            NodeKind::Relu => vec![Op::Relu],
            NodeKind::Relu6 => vec![Op::Relu6],
            NodeKind::Gelu => vec![Op::Gelu],
            NodeKind::Silu => vec![Op::Silu],
            NodeKind::Softmax => vec![Op::Softmax],
            NodeKind::Scale => vec![Op::Scale],
            NodeKind::Bias => vec![Op::Bias],
            NodeKind::Add => vec![Op::Add],
            NodeKind::Mul => vec![Op::Mul],
            NodeKind::LayerNorm => vec![Op::LayerNorm],
            NodeKind::RmsNorm => vec![Op::RmsNorm],
            NodeKind::CausalMask => vec![Op::CausalMask],
            NodeKind::Attention { causal: false } => {
                vec![Op::MatMul, Op::Scale, Op::Softmax, Op::MatMul]
            }
            NodeKind::Attention { causal: true } => vec![
                Op::MatMul,
                Op::Scale,
                Op::CausalMask,
                Op::Softmax,
                Op::MatMul,
            ],
            NodeKind::Sigmoid | NodeKind::Other => vec![],
        }
    }

    /// A plain or depthwise convolution's `(out_channels, kernel, stride, padding, groups,
    /// dilation)`.
    fn conv_params(&self) -> Option<(usize, usize, usize, usize, usize, usize)> {
        match *self {
            NodeKind::Conv {
                out_channels,
                kernel,
                stride,
                padding,
                groups,
                dilation,
            } => Some((out_channels, kernel, stride, padding, groups, dilation)),
            NodeKind::DepthwiseConv {
                channels,
                kernel,
                stride,
                padding,
                dilation,
            } => Some((channels, kernel, stride, padding, channels, dilation)),
            _ => None,
        }
    }

    /// The same node, a [`NodeKind::DepthwiseConv`] when it is a convolution with groups =
    /// input channels = output channels (more than one).
    fn depthwise_if_so(self, input: &[usize]) -> NodeKind {
        match self {
            NodeKind::Conv {
                out_channels,
                kernel,
                stride,
                padding,
                groups,
                dilation,
            } if groups > 1 && input.get(1) == Some(&groups) && out_channels == groups => {
                NodeKind::DepthwiseConv {
                    channels: groups,
                    kernel,
                    stride,
                    padding,
                    dilation,
                }
            }
            other => other,
        }
    }
}

/// One validated node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Unique id.
    pub id: String,
    /// The operator as written in the file.
    pub op: String,
    /// What it computes.
    pub kind: NodeKind,
    /// Ids of its inputs (graph inputs or nodes), in order.
    pub inputs: Vec<String>,
    /// Shapes of its inputs, in order.
    pub input_shapes: Vec<Vec<usize>>,
    /// Its output shape.
    pub shape: Vec<usize>,
}

/// A validated graph: ids unique, inputs resolved, acyclic, every shape known.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// `name` from the file, else the file stem.
    pub name: String,
    /// `description` from the file.
    pub description: Option<String>,
    /// `source` from the file (where the architecture comes from).
    pub source: Option<String>,
    /// Graph inputs: id and shape.
    pub inputs: Vec<(String, Vec<usize>)>,
    /// Nodes in a topological order (producers before consumers; file order otherwise).
    pub nodes: Vec<Node>,
    /// Ids whose values leave the graph (`outputs`, else the nodes nobody consumes).
    pub outputs: Vec<String>,
}

impl Graph {
    /// Loads and validates the graph at `path`.
    pub fn load(path: &Path) -> Result<Graph> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::from_json_str(&text, path)
    }

    /// Parses and validates a graph; `origin` names the source in errors.
    pub fn from_json_str(text: &str, origin: &Path) -> Result<Graph> {
        let origin_text = truncated_to(&origin.display().to_string(), 4 * crate::text::MAX_SHOWN);
        let fail = |msg: String| Error::usage(format!("graph {origin_text}: {msg}"));
        // serde's messages quote unknown keys and values as they are: make them printable.
        let file: GraphFile = serde_json::from_str(text)
            .map_err(|e| fail(truncated_to(&e.to_string(), 4 * crate::text::MAX_SHOWN)))?;
        let name = file.name.clone().unwrap_or_else(|| {
            origin
                .file_stem()
                .map_or("graph".into(), |s| s.to_string_lossy().into_owned())
        });
        build(file, name).map_err(fail)
    }

    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// For each value id, the nodes consuming it as `(node index, input position)`.
    pub fn consumers(&self) -> HashMap<&str, Vec<(usize, usize)>> {
        let mut c: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for (pos, input) in n.inputs.iter().enumerate() {
                c.entry(input.as_str()).or_default().push((i, pos));
            }
        }
        c
    }
}

fn build(file: GraphFile, name: String) -> Result<Graph, String> {
    // Unique, non-empty ids.
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for input in &file.inputs {
        check_id(&input.id, "graph input")?;
        if seen.insert(&input.id, "a graph input").is_some() {
            return Err(format!(
                "duplicate id `{}` (two graph inputs)",
                truncated(&input.id)
            ));
        }
        limits::check_dims(&input.shape)
            .map_err(|e| format!("graph input `{}`: {e}", truncated(&input.id)))?;
    }
    for node in &file.nodes {
        check_id(&node.id, "node")?;
        if let Some(first) = seen.insert(&node.id, "a node") {
            return Err(format!(
                "duplicate id `{}`: node `{}` reuses the id of {first}",
                truncated(&node.id),
                truncated(&node.id)
            ));
        }
    }
    // Inputs resolve.
    for node in &file.nodes {
        for input in &node.inputs {
            if !seen.contains_key(input.as_str()) {
                return Err(format!(
                    "node `{}`: input `{}` is neither a graph input nor a node",
                    truncated(&node.id),
                    truncated(input)
                ));
            }
        }
    }
    let order = topological_order(&file.nodes)?;

    let mut shapes: HashMap<String, Vec<usize>> = file
        .inputs
        .iter()
        .map(|i| (i.id.clone(), i.shape.clone()))
        .collect();
    let mut nodes = Vec::with_capacity(file.nodes.len());
    for &i in &order {
        let nf = &file.nodes[i];
        let input_shapes: Vec<Vec<usize>> = nf
            .inputs
            .iter()
            .map(|id| shapes[id.as_str()].clone())
            .collect();
        let where_ = format!("node `{}` ({})", truncated(&nf.id), truncated(&nf.op));
        let kind = classify(nf, &input_shapes).map_err(|e| format!("{where_}: {e}"))?;
        let shape = infer_shape(nf, &kind, &input_shapes).map_err(|e| format!("{where_}: {e}"))?;
        check_work(&kind, &input_shapes, &shape).map_err(|e| format!("{where_}: {e}"))?;
        let kind = kind.depthwise_if_so(input_shapes.first().map_or(&[], Vec::as_slice));
        shapes.insert(nf.id.clone(), shape.clone());
        nodes.push(Node {
            id: nf.id.clone(),
            op: nf.op.clone(),
            kind,
            inputs: nf.inputs.clone(),
            input_shapes,
            shape,
        });
    }

    let consumed: HashSet<&str> = file
        .nodes
        .iter()
        .flat_map(|n| n.inputs.iter().map(String::as_str))
        .collect();
    let outputs = match file.outputs {
        Some(outs) => {
            for o in &outs {
                if !seen.contains_key(o.as_str()) {
                    return Err(format!(
                        "output `{}` is neither a graph input nor a node",
                        truncated(o)
                    ));
                }
            }
            outs
        }
        None => nodes
            .iter()
            .filter(|n| !consumed.contains(n.id.as_str()))
            .map(|n| n.id.clone())
            .collect(),
    };
    Ok(Graph {
        name,
        description: file.description,
        source: file.source,
        inputs: file.inputs.into_iter().map(|i| (i.id, i.shape)).collect(),
        nodes,
        outputs,
    })
}

fn check_id(id: &str, what: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        Err(format!("a {what} has an empty id"))
    } else {
        Ok(())
    }
}

/// Kahn's algorithm, ties in file order; a cycle is reported along its nodes.
fn topological_order(nodes: &[NodeFile]) -> Result<Vec<usize>, String> {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut indegree = vec![0usize; nodes.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for input in &n.inputs {
            if let Some(&p) = index.get(input.as_str()) {
                indegree[i] += 1;
                consumers[p].push(i);
            }
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..nodes.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &c in &consumers[i] {
            indegree[c] -= 1;
            if indegree[c] == 0 {
                ready.insert(c);
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    // Walk back along unfinished producers until a node repeats: that is a cycle.
    let start = (0..nodes.len()).find(|&i| indegree[i] > 0).expect("cycle");
    let mut path = vec![start];
    let mut position: HashMap<usize, usize> = HashMap::from([(start, 0)]);
    let mut at = start;
    loop {
        let prev = nodes[at]
            .inputs
            .iter()
            .filter_map(|id| index.get(id.as_str()).copied())
            .find(|&p| indegree[p] > 0)
            .expect("a node left over by Kahn's algorithm has an unfinished producer");
        if let Some(&pos) = position.get(&prev) {
            let cycle: Vec<&str> = path[pos..]
                .iter()
                .rev()
                .map(|&i| nodes[i].id.as_str())
                .collect();
            return Err(cycle_message(&cycle));
        }
        position.insert(prev, path.len());
        path.push(prev);
        at = prev;
    }
}

/// Nodes of a cycle named in an error: at most this many, then how many more.
const CYCLE_SHOWN: usize = 6;

/// `cycle through nodes `a` → `b` → `c` → `a``, or for a long cycle its first
/// [`CYCLE_SHOWN`] nodes and `… and N more (M nodes in the cycle)`.
fn cycle_message(cycle: &[&str]) -> String {
    let quoted = |id: &str| format!("`{}`", truncated(id));
    let shown: Vec<String> = cycle
        .iter()
        .take(CYCLE_SHOWN)
        .map(|id| quoted(id))
        .collect();
    let path = if cycle.len() <= CYCLE_SHOWN {
        format!("{} → {}", shown.join(" → "), quoted(cycle[0]))
    } else {
        format!(
            "{} → … and {} more ({} nodes in the cycle)",
            shown.join(" → "),
            cycle.len() - CYCLE_SHOWN,
            cycle.len()
        )
    };
    format!("cycle through nodes {path}: a graph must be acyclic")
}

/// Operators (lowercase, separators removed) that keep their input's shape.
const SAME_SHAPE: &[&str] = &[
    "layernorm",
    "layernormalization",
    "nativelayernorm",
    "rmsnorm",
    "groupnorm",
    "instancenorm",
    "dropout",
    "identity",
    "contiguous",
    "clone",
    "sigmoid",
    "tanh",
    "silu",
    "swish",
    "hardswish",
    "relu6",
    "clip",
    "clamp",
    "hardtanh",
    "leakyrelu",
    "elu",
    "logsoftmax",
    "exp",
    "sqrt",
    "neg",
    "erf",
];

/// Elementwise operators of two tensors (NumPy broadcasting).
const BINARY: &[&str] = &["add", "sub", "mul", "div", "pow", "maximum", "minimum"];

fn squashed(op: &str) -> String {
    let last = op
        .rsplit(['.', ':'])
        .find(|s| !s.is_empty() && !matches!(*s, "default" | "Tensor" | "int"))
        .unwrap_or(op);
    last.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn classify(n: &NodeFile, inputs: &[Vec<usize>]) -> Result<NodeKind, String> {
    let key = squashed(&n.op);
    let arity = n.inputs.len();
    if BINARY.contains(&key.as_str()) && arity == 2 {
        // Two activations of the output's shape: a residual sum or a gate product. A
        // broadcast (a bias or mask held as a tensor) is no calibrated operator.
        let same = inputs[0] == inputs[1];
        return Ok(match key.as_str() {
            "add" if same => NodeKind::Add,
            "mul" if same => NodeKind::Mul,
            _ => NodeKind::Other,
        });
    }
    let kind = if CLIPS.contains(&key.as_str()) {
        clip_kind(n)?
    } else if key == "sigmoid" {
        NodeKind::Sigmoid
    } else {
        let Some(ops) = operator_ops(&n.op) else {
            return Ok(NodeKind::Other);
        };
        match ops.as_slice() {
            [Op::Linear, Op::Bias] => NodeKind::Linear {
                out_features: attr_usize(n, "out_features", None)?,
                bias: attr_bool(n, "bias", true)?,
            },
            [Op::MatMul] => NodeKind::MatMul {
                transpose_b: attr_bool(n, "transpose_b", false)?,
            },
            [Op::Conv2d] => conv_kind(n, None)?,
            [Op::DepthwiseConv2d] => {
                // Named depthwise: as many groups and output channels as input channels.
                let channels = inputs.first().and_then(|s| s.get(1)).copied().unwrap_or(1);
                conv_kind(n, Some(channels))?
            }
            [Op::BatchNorm] => NodeKind::BatchNorm,
            [Op::Relu] => NodeKind::Relu,
            [Op::Relu6] => NodeKind::Relu6,
            [Op::Gelu] => NodeKind::Gelu,
            [Op::Silu] => NodeKind::Silu,
            [Op::Softmax] => NodeKind::Softmax,
            [Op::Scale] => NodeKind::Scale,
            // `add` of one activation adds a bias (its weights are implied).
            [Op::Bias] | [Op::Add] => NodeKind::Bias,
            [Op::LayerNorm] => norm_kind(n, inputs, NodeKind::LayerNorm)?,
            [Op::RmsNorm] => norm_kind(n, inputs, NodeKind::RmsNorm)?,
            [Op::CausalMask] => NodeKind::CausalMask,
            [Op::MatMul, Op::Scale, Op::Softmax, Op::MatMul] => NodeKind::Attention {
                causal: attention_causal(n)?,
            },
            // A name for several operators (an already fused kernel): opaque.
            _ => NodeKind::Other,
        }
    };
    let want = match kind {
        NodeKind::MatMul { .. } => 2,
        NodeKind::Attention { .. } => 3,
        NodeKind::Other => return Ok(kind),
        _ => 1,
    };
    if arity != want {
        let hint = match kind {
            NodeKind::MatMul { .. } => {
                "; a matmul by a weight matrix is a `linear` with `out_features`"
            }
            _ => " (weights are implied by the attributes)",
        };
        return Err(format!(
            "takes {want} activation input{}, got {arity}{hint}",
            if want == 1 { "" } else { "s" }
        ));
    }
    Ok(kind)
}

/// Clamping operators (lowercase, separators removed): ReLU6 with bounds 0 and 6.
const CLIPS: &[&str] = &["clip", "clamp", "hardtanh"];

/// `Clip`/`clamp` (`min`, `max`) or `hardtanh` (`min_val`, `max_val`) with bounds 0 and 6 is
/// ReLU6 (ONNX exports `nn.ReLU6` as `Clip(0, 6)`); other bounds are no calibrated operator.
fn clip_kind(n: &NodeFile) -> Result<NodeKind, String> {
    let bound = |keys: [&str; 2]| -> Result<Option<f64>, String> {
        let given: Vec<&str> = keys
            .into_iter()
            .filter(|k| n.attrs.contains_key(*k))
            .collect();
        match given.as_slice() {
            [] => Ok(None),
            [k] => attr_number(n, k).map(Some),
            _ => Err(format!(
                "attributes `{}` and `{}` both given: use one",
                keys[0], keys[1]
            )),
        }
    };
    let (lo, hi) = (bound(["min", "min_val"])?, bound(["max", "max_val"])?);
    Ok(if lo == Some(0.0) && hi == Some(6.0) {
        NodeKind::Relu6
    } else {
        NodeKind::Other
    })
}

/// A convolution's attributes; `depthwise: Some(channels)` for an operator named depthwise,
/// whose groups and output channels default to (and must equal) its input channels.
fn conv_kind(n: &NodeFile, depthwise: Option<usize>) -> Result<NodeKind, String> {
    let groups = match (
        n.attrs.contains_key("groups"),
        n.attrs.contains_key("group"),
    ) {
        (true, true) => return Err("attributes `groups` and `group` both given: use one".into()),
        (_, true) => attr_usize(n, "group", Some(1))?,
        _ => attr_usize(n, "groups", Some(depthwise.unwrap_or(1)))?,
    };
    let out_channels = attr_usize(n, "out_channels", depthwise)?;
    if let Some(c) = depthwise {
        if groups != c || out_channels != c {
            return Err(format!(
                "a depthwise convolution of {c} channels has {c} groups and {c} output channels, \
                 got groups {groups} and out_channels {out_channels} (write other groupings as \
                 `conv2d` with `groups`)"
            ));
        }
    }
    Ok(NodeKind::Conv {
        out_channels,
        kernel: attr_usize(n, "kernel_size", None)?,
        stride: attr_usize(n, "stride", Some(1))?,
        padding: attr_usize(n, "padding", Some(0))?,
        groups,
        dilation: attr_usize(n, "dilation", Some(1))?,
    })
}

/// A layer or RMS norm (`kind`): over the last axis it is the calibrated operator, over others
/// (ONNX `axis`, PyTorch `normalized_shape` of several axes) an opaque one. `eps` (ONNX:
/// `epsilon`) must be a positive number when given; hwcal's kernels use their own, which does
/// not change the cost.
fn norm_kind(n: &NodeFile, inputs: &[Vec<usize>], kind: NodeKind) -> Result<NodeKind, String> {
    for key in ["eps", "epsilon"] {
        if n.attrs.contains_key(key) {
            let e = attr_number(n, key)?;
            if e <= 0.0 {
                return Err(format!("attribute `{key}` must be positive, got {e}"));
            }
        }
    }
    let Some(x) = inputs.first() else {
        return Ok(kind);
    };
    let rank = x.len();
    let mut last_axis_only = true;
    if let Some(v) = n.attrs.get("axis") {
        // Ranks are at most limits::MAX_RANK: no overflow.
        let r = rank as i64;
        let axis = v
            .as_i64()
            .map(|a| if a < 0 { a + r } else { a })
            .filter(|a| (0..r).contains(a));
        match axis {
            Some(a) => last_axis_only &= a == r - 1,
            None => {
                return Err(format!(
                    "attribute `axis` must be an axis of the {rank}-dimensional input, got {}",
                    truncated(&v.to_string())
                ))
            }
        }
    }
    if let Some(v) = n.attrs.get("normalized_shape") {
        let dims: Option<Vec<usize>> = match v {
            Value::Array(a) => a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect(),
            v => v.as_u64().map(|d| vec![d as usize]),
        };
        match dims {
            Some(d) if !d.is_empty() && d.len() <= rank && x[rank - d.len()..] == d[..] => {
                last_axis_only &= d.len() == 1;
            }
            _ => {
                return Err(format!(
                "attribute `normalized_shape` {} must be the trailing dimensions of the input {}",
                truncated(&v.to_string()),
                fmt(x)
            ))
            }
        }
    }
    Ok(if last_axis_only {
        kind
    } else {
        NodeKind::Other
    })
}

/// Whether an attention node is causal: `is_causal: true` (PyTorch's
/// `scaled_dot_product_attention`) or `mask: "causal"`. Other masks are their own nodes.
fn attention_causal(n: &NodeFile) -> Result<bool, String> {
    let is_causal = attr_bool(n, "is_causal", false)?;
    let mask = match n.attrs.get("mask") {
        None => false,
        Some(Value::String(m)) if m == "causal" => true,
        Some(v) => {
            return Err(format!(
                "attribute `mask` must be \"causal\", got {} (other masks are nodes of their own)",
                truncated(&v.to_string())
            ))
        }
    };
    Ok(is_causal || mask)
}

/// A finite number attribute.
fn attr_number(n: &NodeFile, key: &str) -> Result<f64, String> {
    match n.attrs.get(key).and_then(Value::as_f64) {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(format!(
            "attribute `{key}` must be a number, got {}",
            n.attrs
                .get(key)
                .map_or("nothing".into(), |v| truncated(&v.to_string()))
        )),
    }
}

/// A positive integer attribute; `[k, k]` is accepted for square kernel sizes, strides,
/// paddings. `default: None` makes it required.
fn attr_usize(n: &NodeFile, key: &str, default: Option<usize>) -> Result<usize, String> {
    let Some(v) = n.attrs.get(key) else {
        return default.ok_or_else(|| format!("missing attribute `{key}`"));
    };
    let x = match v {
        Value::Array(a) if !a.is_empty() => {
            let xs: Option<Vec<u64>> = a.iter().map(Value::as_u64).collect();
            match xs {
                Some(xs) if xs.iter().all(|&x| x == xs[0]) => Some(xs[0]),
                Some(_) => {
                    return Err(format!(
                        "attribute `{key}` {}: only square values are supported",
                        truncated(&v.to_string())
                    ))
                }
                None => None,
            }
        }
        v => v.as_u64(),
    };
    let zero_ok = key == "padding";
    match x {
        Some(x) if x > 0 || zero_ok => limits::check_attr(key, x),
        _ => Err(format!(
            "attribute `{key}` must be a {} integer, got {}",
            if zero_ok { "non-negative" } else { "positive" },
            truncated(&v.to_string())
        )),
    }
}

fn attr_bool(n: &NodeFile, key: &str, default: bool) -> Result<bool, String> {
    match n.attrs.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!(
            "attribute `{key}` must be true or false, got {}",
            truncated(&v.to_string())
        )),
    }
}

fn infer_shape(n: &NodeFile, kind: &NodeKind, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
    if let Some(declared) = &n.shape {
        limits::check_dims(declared).map_err(|e| format!("declared {e}"))?;
    }
    let inferred = match kind {
        NodeKind::Other => infer_other(n, inputs)?,
        _ => Some(infer_known(kind, inputs)?),
    };
    match (inferred, &n.shape) {
        (Some(s), None) => {
            limits::check_dims(&s).map_err(|e| format!("output {e}"))?;
            Ok(s)
        }
        (Some(s), Some(declared)) if s == *declared => Ok(s),
        (Some(s), Some(declared)) => Err(format!(
            "declared shape {} disagrees with the inferred {}",
            fmt(declared),
            fmt(&s)
        )),
        (None, Some(declared)) => Ok(declared.clone()),
        (None, None) => Err(
            "missing `shape`: hwcal cannot infer the output shape of this operator, state it"
                .into(),
        ),
    }
}

/// A shape for a message, cut when long.
fn fmt(s: &[usize]) -> String {
    truncated(&format!("{s:?}"))
}

/// Multiply-adds of an operator (and the elements of an intermediate it implies, the
/// attention scores) against [`MAX_WORK`] and [`MAX_ELEMENTS`]. Shapes are already within
/// [`limits::check_dims`].
fn check_work(kind: &NodeKind, inputs: &[Vec<usize>], out: &[usize]) -> Result<(), String> {
    let u = |x: usize| x as u128;
    let out_elems = limits::elements(out);
    let work = match *kind {
        NodeKind::Linear { out_features, .. } => {
            limits::elements(&inputs[0]).and_then(|x| x.checked_mul(u(out_features)))
        }
        NodeKind::MatMul { .. } => {
            let a = &inputs[0];
            out_elems.and_then(|o| o.checked_mul(u(a[a.len() - 1])))
        }
        NodeKind::Conv { .. } | NodeKind::DepthwiseConv { .. } => {
            let (_, kernel, _, _, groups, _) = kind.conv_params().expect("a convolution");
            let per_output = limits::product([u(inputs[0][1] / groups), u(kernel), u(kernel)]);
            out_elems
                .zip(per_output)
                .and_then(|(o, p)| o.checked_mul(p))
        }
        NodeKind::Attention { .. } => {
            let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
            let scores =
                limits::elements(&q[..q.len() - 1]).and_then(|x| x.checked_mul(u(k[k.len() - 2])));
            limits::check_count("elements in the attention scores", scores, MAX_ELEMENTS)?;
            let d = q[q.len() - 1].max(v[v.len() - 1]);
            scores.and_then(|s| s.checked_mul(u(d)))
        }
        _ => return Ok(()),
    };
    limits::check_count("multiply-adds", work, MAX_WORK)
}

fn infer_known(kind: &NodeKind, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
    let x = &inputs[0];
    match *kind {
        NodeKind::Linear { out_features, .. } => {
            let mut s = x.clone();
            *s.last_mut().expect("shapes are non-empty") = out_features;
            Ok(s)
        }
        NodeKind::MatMul { transpose_b } => {
            let (a, b) = (&inputs[0], &inputs[1]);
            if a.len() < 2 || b.len() < 2 {
                return Err(format!(
                    "inputs {} and {} must have at least two dimensions",
                    fmt(a),
                    fmt(b)
                ));
            }
            let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
            let (bk, n) = if transpose_b {
                (b[b.len() - 1], b[b.len() - 2])
            } else {
                (b[b.len() - 2], b[b.len() - 1])
            };
            let (abatch, bbatch) = (&a[..a.len() - 2], &b[..b.len() - 2]);
            if k != bk || !(bbatch.is_empty() || abatch == bbatch) {
                return Err(format!(
                    "cannot multiply {} by {}{}",
                    fmt(a),
                    fmt(b),
                    if transpose_b { " transposed" } else { "" }
                ));
            }
            let mut s = abatch.to_vec();
            s.extend([m, n]);
            Ok(s)
        }
        NodeKind::Conv { .. } | NodeKind::DepthwiseConv { .. } => {
            let (out_channels, kernel, stride, padding, groups, dilation) =
                kind.conv_params().expect("a convolution");
            let &[b, c, h, w] = x.as_slice() else {
                return Err(format!("input {} must be NCHW (four dimensions)", fmt(x)));
            };
            if c % groups != 0 || out_channels % groups != 0 {
                return Err(format!(
                    "groups {groups} must divide the {c} input and {out_channels} output channels"
                ));
            }
            let out = |d: usize| {
                let o = limits::conv_out(
                    d as u128,
                    kernel as u128,
                    stride as u128,
                    padding as u128,
                    dilation as u128,
                )
                .ok_or_else(|| {
                    format!(
                        "kernel {kernel} (dilation {dilation}) does not fit input {} with padding {padding}",
                        fmt(x)
                    )
                })?;
                usize::try_from(o).map_err(|_| format!("output size {o} overflows"))
            };
            Ok(vec![b, out_channels, out(h)?, out(w)?])
        }
        NodeKind::Attention { .. } => {
            let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
            let ok = q.len() >= 2
                && q.len() == k.len()
                && k.len() == v.len()
                && q[..q.len() - 2] == k[..k.len() - 2]
                && k[..k.len() - 2] == v[..v.len() - 2]
                && q[q.len() - 1] == k[k.len() - 1]
                && k[k.len() - 2] == v[v.len() - 2];
            if !ok {
                return Err(format!(
                    "q {}, k {}, v {} do not fit [..., S, D], [..., S_kv, D], [..., S_kv, D_v]",
                    fmt(q),
                    fmt(k),
                    fmt(v)
                ));
            }
            let mut s = q.clone();
            *s.last_mut().expect("rank checked") = v[v.len() - 1];
            Ok(s)
        }
        _ => Ok(x.clone()),
    }
}

/// Shape rules for operators that never fuse; `None` when there is none.
fn infer_other(n: &NodeFile, inputs: &[Vec<usize>]) -> Result<Option<Vec<usize>>, String> {
    let key = squashed(&n.op);
    if SAME_SHAPE.contains(&key.as_str()) && inputs.len() == 1 {
        return Ok(Some(inputs[0].clone()));
    }
    if BINARY.contains(&key.as_str()) && inputs.len() == 2 {
        return broadcast(&inputs[0], &inputs[1]).map(Some);
    }
    if matches!(key.as_str(), "transpose" | "permute") && inputs.len() == 1 {
        if let Some(perm) = n.attrs.get("perm") {
            let x = &inputs[0];
            let perm: Option<Vec<usize>> = perm
                .as_array()
                .and_then(|a| a.iter().map(|v| v.as_u64().map(|p| p as usize)).collect());
            let valid = perm.as_ref().is_some_and(|p| {
                let mut sorted = p.clone();
                sorted.sort_unstable();
                sorted == (0..x.len()).collect::<Vec<_>>()
            });
            if !valid {
                return Err(format!(
                    "attribute `perm` must be a permutation of the {} axes of {}",
                    x.len(),
                    fmt(x)
                ));
            }
            return Ok(Some(perm.unwrap().iter().map(|&p| x[p]).collect()));
        }
    }
    if matches!(key.as_str(), "reshape" | "view" | "flatten") && inputs.len() == 1 {
        if let Some(declared) = &n.shape {
            // Both are within the limits (checked before), so neither product overflows.
            let (a, b) = (limits::elements(&inputs[0]), limits::elements(declared));
            if a != b {
                let count = |e: Option<u128>| e.map_or("too many".into(), |e| e.to_string());
                return Err(format!(
                    "cannot reshape {} ({} elements) to {} ({} elements)",
                    fmt(&inputs[0]),
                    count(a),
                    fmt(declared),
                    count(b)
                ));
            }
        }
    }
    Ok(None)
}

fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() < n {
            1
        } else {
            s[i + s.len() - n]
        }
    };
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(format!("cannot broadcast {} with {}", fmt(a), fmt(b))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Graph> {
        Graph::from_json_str(text, Path::new("g.json"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn shapes_are_inferred_through_known_operators() {
        let g = parse(
            r#"{"inputs": [{"id": "x", "shape": [2, 3, 8, 8]}, {"id": "t", "shape": [2, 4, 16, 8]}],
                "nodes": [
                  {"id": "c", "op": "Conv", "inputs": ["x"], "attrs": {"out_channels": 5, "kernel_size": [3, 3], "stride": 2, "padding": 1}},
                  {"id": "bn", "op": "BatchNormalization", "inputs": ["c"]},
                  {"id": "r", "op": "aten::relu_", "inputs": ["bn"]},
                  {"id": "f", "op": "flatten", "inputs": ["r"], "shape": [2, 80]},
                  {"id": "l", "op": "nn.Linear", "inputs": ["f"], "attrs": {"out_features": 7, "bias": false}},
                  {"id": "s", "op": "matmul", "inputs": ["t", "t"], "attrs": {"transpose_b": true}},
                  {"id": "a", "op": "sdpa", "inputs": ["t", "t", "t"]},
                  {"id": "p", "op": "permute", "inputs": ["a"], "attrs": {"perm": [0, 2, 1, 3]}},
                  {"id": "sum", "op": "add", "inputs": ["s", "s"]}
                ]}"#,
        )
        .unwrap();
        let shape = |id: &str| g.node(id).unwrap().shape.clone();
        assert_eq!(shape("c"), vec![2, 5, 4, 4]);
        assert_eq!(shape("r"), vec![2, 5, 4, 4]);
        assert_eq!(shape("l"), vec![2, 7]);
        assert_eq!(shape("s"), vec![2, 4, 16, 16]);
        assert_eq!(shape("a"), vec![2, 4, 16, 8]);
        assert_eq!(shape("p"), vec![2, 16, 4, 8]);
        assert_eq!(g.node("sum").unwrap().kind, NodeKind::Add);
        assert_eq!(
            g.node("l").unwrap().kind,
            NodeKind::Linear {
                out_features: 7,
                bias: false
            }
        );
        assert_eq!(
            g.node("a").unwrap().kind,
            NodeKind::Attention { causal: false }
        );
        assert_eq!(g.outputs, vec!["l", "p", "sum"]);
    }

    #[test]
    fn malformed_graphs_name_the_file_and_the_node() {
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                        "nodes": [{"id": "a", "op": "relu", "inputs": ["b"]},
                                  {"id": "b", "op": "relu", "inputs": ["a"]}]}"#);
        assert!(
            e.contains("g.json") && e.contains("cycle") && e.contains("`a`"),
            "{e}"
        );
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                        "nodes": [{"id": "a", "op": "relu", "inputs": ["y"]}]}"#);
        assert!(e.contains("node `a`") && e.contains("`y`"), "{e}");
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                        "nodes": [{"id": "x", "op": "relu", "inputs": ["x"]}]}"#);
        assert!(e.contains("duplicate id `x`"), "{e}");
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 3, 8, 8]}],
                        "nodes": [{"id": "c", "op": "conv2d", "inputs": ["x"], "attrs": {"out_channels": 4}}]}"#);
        assert!(
            e.contains("node `c` (conv2d)") && e.contains("kernel_size"),
            "{e}"
        );
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                        "nodes": [{"id": "r", "op": "reshape", "inputs": ["x"]}]}"#);
        assert!(
            e.contains("node `r` (reshape)") && e.contains("missing `shape`"),
            "{e}"
        );
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                        "nodes": [{"id": "r", "op": "reshape", "inputs": ["x"], "shape": [3]}]}"#);
        assert!(e.contains("cannot reshape"), "{e}");
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                        "nodes": [{"id": "m", "op": "matmul", "inputs": ["x"]}]}"#);
        assert!(e.contains("node `m`") && e.contains("takes 2"), "{e}");
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                        "nodes": [{"id": "l", "op": "linear", "inputs": ["x"], "attrs": {"out_features": "8"}}]}"#);
        assert!(
            e.contains("out_features") && e.contains("positive integer"),
            "{e}"
        );
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                        "nodes": [{"id": "l", "op": "relu", "inputs": ["x"], "shape": [1, 5]}]}"#);
        assert!(e.contains("disagrees"), "{e}");
        let e = err(r#"{"inputs": [{"id": "x", "shape": [1, 4]}], "nodes": [], "extra": 1}"#);
        assert!(e.contains("unknown field `extra`"), "{e}");
    }

    /// A one-node graph over an input of `shape`.
    fn one(shape: &str, node: &str) -> Result<Graph> {
        parse(&format!(
            r#"{{"inputs": [{{"id": "x", "shape": {shape}}}], "nodes": [{node}]}}"#
        ))
    }

    #[test]
    fn numbers_beyond_the_limits_are_refused_naming_the_node() {
        let conv = |attrs: &str| {
            one(
                "[1, 3, 8, 8]",
                &format!(r#"{{"id": "c", "op": "conv2d", "inputs": ["x"], "attrs": {{"out_channels": 4, {attrs}}}}}"#),
            )
            .map(|g| g.node("c").unwrap().shape.clone())
            .map_err(|e| e.to_string())
        };
        assert_eq!(
            conv(r#""kernel_size": 3, "padding": 1"#),
            Ok(vec![1, 4, 8, 8])
        );
        for (attrs, needle) in [
            (
                r#""kernel_size": 3, "padding": 9223372036854775808"#,
                "`padding` 9223372036854775808 exceeds the limit of 2^31",
            ),
            (
                r#""kernel_size": 3, "padding": 18446744073709551615"#,
                "`padding`",
            ),
            (
                r#""kernel_size": 3, "padding": -1"#,
                "non-negative integer, got -1",
            ),
            (
                r#""kernel_size": 2147483649"#,
                "`kernel_size` 2147483649 exceeds",
            ),
            (
                r#""kernel_size": 3, "stride": [4294967296, 4294967296]"#,
                "`stride` 4294967296 exceeds",
            ),
            (r#""kernel_size": 3, "dilation": 4"#, "does not fit"),
            (
                r#""kernel_size": 3, "dilation": 4611686018427387904"#,
                "`dilation`",
            ),
            (r#""kernel_size": 3, "groups": 0"#, "positive integer"),
        ] {
            let e = conv(attrs).unwrap_err();
            assert!(
                e.contains("node `c` (conv2d)") && e.contains(needle),
                "{attrs}: {e}"
            );
            assert_eq!(e.lines().count(), 1);
        }
        // Dimensions, ranks, elements, work.
        let e = one(
            "[1, 2147483649]",
            r#"{"id": "r", "op": "relu", "inputs": ["x"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("graph input `x`") && e.contains("limit of 2^31"),
            "{e}"
        );
        let e = one(
            &format!("{:?}", vec![1; 17]),
            r#"{"id": "r", "op": "relu", "inputs": ["x"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("17 dimensions, more than the limit of 16"),
            "{e}"
        );
        let e = one(
            "[16777216, 16777217]",
            r#"{"id": "r", "op": "relu", "inputs": ["x"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("elements exceed the limit of 2^48"), "{e}");
        let e = one(
            "[1048576, 1024]",
            r#"{"id": "l", "op": "linear", "inputs": ["x"], "attrs": {"out_features": 2147483648}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("node `l` (linear)") && e.contains("limit"),
            "{e}"
        );
        let e = one(
            "[1048576, 1048576]",
            r#"{"id": "l", "op": "linear", "inputs": ["x"], "attrs": {"out_features": 1048576}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("multiply-adds exceed the limit of 2^56"), "{e}");
        // Attention implies an S × S_kv score matrix: counted too.
        let e = one(
            "[1, 33554432, 1]",
            r#"{"id": "a", "op": "sdpa", "inputs": ["x", "x", "x"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("node `a` (sdpa)") && e.contains("attention scores"),
            "{e}"
        );
        // A reshape compares exact element counts (no wrap-around): equal passes, unequal fails.
        assert!(one(
            "[16777216, 16777216]",
            r#"{"id": "r", "op": "reshape", "inputs": ["x"], "shape": [2147483648, 131072]}"#
        )
        .is_ok());
        let e = one(
            "[16777216, 16777216]",
            r#"{"id": "r", "op": "reshape", "inputs": ["x"], "shape": [2147483648, 131071]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("cannot reshape") && e.contains("281474976710656 elements"),
            "{e}"
        );
        let e = one(
            "[4, 4]",
            r#"{"id": "r", "op": "reshape", "inputs": ["x"], "shape": [9223372036854775808, 2]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("node `r` (reshape)") && e.contains("declared shape"),
            "{e}"
        );
    }

    #[test]
    fn messages_are_one_printable_line() {
        let e = err(r#"{"inputs": [], "nodes": [], "k\u001b[2J\u0007": 1}"#);
        assert!(e.contains("unknown field `k?[2J?`"), "{e}");
        let cycle: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
        let ids: Vec<&str> = cycle.iter().map(String::as_str).collect();
        assert_eq!(
            cycle_message(&ids),
            "cycle through nodes `n0` → `n1` → `n2` → `n0`: a graph must be acyclic"
        );
        let long: Vec<String> = (0..10).map(|i| format!("n{i}")).collect();
        let ids: Vec<&str> = long.iter().map(String::as_str).collect();
        let m = cycle_message(&ids);
        assert!(
            m.ends_with("`n5` → … and 4 more (10 nodes in the cycle): a graph must be acyclic"),
            "{m}"
        );
        let e = err(
            r#"{"inputs": [{"id": "x\u001b", "shape": [1]}, {"id": "x\u001b", "shape": [1]}], "nodes": []}"#,
        );
        assert!(
            e.contains("duplicate id `x?`") && !e.contains('\u{1b}'),
            "{e}"
        );
    }

    #[test]
    fn issue_11_operators_are_recognised() {
        let g = parse(
            r#"{"inputs": [{"id": "x", "shape": [2, 16, 8, 8]}, {"id": "t", "shape": [2, 4, 32]},
                           {"id": "bias", "shape": [32]}],
                "nodes": [
                  {"id": "sum", "op": "aten::add.Tensor", "inputs": ["t", "t"]},
                  {"id": "bcast", "op": "add", "inputs": ["t", "bias"]},
                  {"id": "prod", "op": "Mul", "inputs": ["t", "sum"]},
                  {"id": "scaled", "op": "mul", "inputs": ["t"]},
                  {"id": "biased", "op": "add", "inputs": ["t"]},
                  {"id": "ln", "op": "LayerNormalization", "inputs": ["sum"], "attrs": {"epsilon": 1e-5, "axis": -1}},
                  {"id": "ln_t", "op": "nn.LayerNorm", "inputs": ["sum"], "attrs": {"normalized_shape": [32], "eps": 1e-12}},
                  {"id": "ln_2d", "op": "layer_norm", "inputs": ["sum"], "attrs": {"normalized_shape": [4, 32]}},
                  {"id": "ln_ax", "op": "LayerNormalization", "inputs": ["sum"], "attrs": {"axis": 1}},
                  {"id": "rms", "op": "SimplifiedLayerNormalization", "inputs": ["sum"]},
                  {"id": "rms_t", "op": "LlamaRMSNorm", "inputs": ["sum"], "attrs": {"eps": 1e-6}},
                  {"id": "silu", "op": "nn.SiLU", "inputs": ["t"]},
                  {"id": "swish", "op": "swish", "inputs": ["t"]},
                  {"id": "sig", "op": "Sigmoid", "inputs": ["t"]},
                  {"id": "r6", "op": "relu6", "inputs": ["t"]},
                  {"id": "clip6", "op": "Clip", "inputs": ["t"], "attrs": {"min": 0, "max": 6.0}},
                  {"id": "tanh6", "op": "nn.Hardtanh", "inputs": ["t"], "attrs": {"min_val": 0.0, "max_val": 6}},
                  {"id": "clip1", "op": "clamp", "inputs": ["t"], "attrs": {"min": 0, "max": 1}},
                  {"id": "dw", "op": "conv2d", "inputs": ["x"], "attrs": {"out_channels": 16, "kernel_size": 3, "padding": 1, "groups": 16}},
                  {"id": "dw_onnx", "op": "Conv", "inputs": ["x"], "attrs": {"out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1, "group": 16}},
                  {"id": "dw_named", "op": "DepthwiseConv2dNative", "inputs": ["x"], "attrs": {"kernel_size": 5, "padding": 2}},
                  {"id": "grouped", "op": "conv2d", "inputs": ["x"], "attrs": {"out_channels": 32, "kernel_size": 1, "groups": 16}},
                  {"id": "sdpa_c", "op": "scaled_dot_product_attention", "inputs": ["t", "t", "t"], "attrs": {"is_causal": true}},
                  {"id": "attn_c", "op": "attention", "inputs": ["t", "t", "t"], "attrs": {"mask": "causal"}},
                  {"id": "mask", "op": "causal_mask", "inputs": ["t"]}
                ]}"#,
        )
        .unwrap();
        let kind = |id: &str| g.node(id).unwrap().kind.clone();
        use NodeKind::*;
        for (id, want) in [
            ("sum", Add),
            ("bcast", Other),
            ("prod", Mul),
            ("scaled", Scale),
            ("biased", Bias),
            ("ln", LayerNorm),
            ("ln_t", LayerNorm),
            ("ln_2d", Other),
            ("ln_ax", Other),
            ("rms", RmsNorm),
            ("rms_t", RmsNorm),
            ("silu", Silu),
            ("swish", Silu),
            ("sig", Sigmoid),
            ("r6", Relu6),
            ("clip6", Relu6),
            ("tanh6", Relu6),
            ("clip1", Other),
            ("mask", CausalMask),
            ("sdpa_c", Attention { causal: true }),
            ("attn_c", Attention { causal: true }),
        ] {
            assert_eq!(kind(id), want, "{id}");
        }
        let dw = |stride, kernel, padding| DepthwiseConv {
            channels: 16,
            kernel,
            stride,
            padding,
            dilation: 1,
        };
        assert_eq!(kind("dw"), dw(1, 3, 1));
        assert_eq!(kind("dw_onnx"), dw(2, 3, 1));
        assert_eq!(kind("dw_named"), dw(1, 5, 2));
        assert_eq!(g.node("dw_onnx").unwrap().shape, vec![2, 16, 4, 4]);
        assert_eq!(g.node("dw_named").unwrap().shape, vec![2, 16, 8, 8]);
        assert!(matches!(kind("grouped"), Conv { groups: 16, .. }));
        assert_eq!(g.node("bcast").unwrap().shape, vec![2, 4, 32]);
        assert_eq!(g.node("clip1").unwrap().shape, vec![2, 4, 32]);
        assert_eq!(kind("sum").ops(), [Op::Add]);
        assert!(kind("sig").ops().is_empty());
        assert_eq!(kind("sdpa_c").ops().len(), 5);
    }

    #[test]
    fn issue_11_operators_refuse_bad_attributes_naming_the_node() {
        let t = |node: &str| {
            one("[2, 16, 8, 8]", node)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        for (node, needles) in [
            (
                r#"{"id": "n", "op": "layernorm", "inputs": ["x"], "attrs": {"eps": -1}}"#,
                &["node `n` (layernorm)", "`eps` must be positive"][..],
            ),
            (
                r#"{"id": "n", "op": "layernorm", "inputs": ["x"], "attrs": {"epsilon": "small"}}"#,
                &["`epsilon` must be a number", "\"small\""],
            ),
            (
                r#"{"id": "n", "op": "rmsnorm", "inputs": ["x"], "attrs": {"axis": 4}}"#,
                &["`axis` must be an axis of the 4-dimensional input, got 4"],
            ),
            (
                r#"{"id": "n", "op": "layer_norm", "inputs": ["x"], "attrs": {"normalized_shape": [7]}}"#,
                &["`normalized_shape` [7] must be the trailing dimensions"],
            ),
            (
                r#"{"id": "n", "op": "clip", "inputs": ["x"], "attrs": {"min": "0"}}"#,
                &["node `n` (clip)", "`min` must be a number"],
            ),
            (
                r#"{"id": "n", "op": "hardtanh", "inputs": ["x"], "attrs": {"min": 0, "min_val": 0}}"#,
                &["`min` and `min_val` both given"],
            ),
            (
                r#"{"id": "n", "op": "Conv", "inputs": ["x"], "attrs": {"out_channels": 16, "kernel_size": 3, "group": 16, "groups": 16}}"#,
                &["`groups` and `group` both given"],
            ),
            (
                r#"{"id": "n", "op": "depthwise_conv2d", "inputs": ["x"], "attrs": {"kernel_size": 3, "out_channels": 32}}"#,
                &["depthwise convolution of 16 channels", "out_channels 32"],
            ),
            (
                r#"{"id": "n", "op": "conv2d", "inputs": ["x"], "attrs": {"out_channels": 16, "kernel_size": 3, "groups": 3}}"#,
                &["groups 3 must divide"],
            ),
            (
                r#"{"id": "n", "op": "sdpa", "inputs": ["x", "x", "x"], "attrs": {"mask": "padding"}}"#,
                &["`mask` must be \"causal\"", "nodes of their own"],
            ),
            (
                r#"{"id": "n", "op": "sdpa", "inputs": ["x", "x", "x"], "attrs": {"is_causal": "yes"}}"#,
                &["`is_causal` must be true or false"],
            ),
            (
                r#"{"id": "n", "op": "sigmoid", "inputs": ["x", "x"]}"#,
                &["node `n` (sigmoid)", "takes 1 activation input, got 2"],
            ),
            (
                r#"{"id": "n", "op": "relu6", "inputs": []}"#,
                &["takes 1 activation input, got 0"],
            ),
        ] {
            let e = t(node);
            assert_eq!(e.lines().count(), 1, "{e}");
            for n in needles {
                assert!(e.contains(n), "`{n}` not in: {e}");
            }
        }
        // A depthwise name on a tensor that is no image: the NCHW rule, not a panic.
        let e = one(
            "[4]",
            r#"{"id": "n", "op": "dwconv", "inputs": ["x"], "attrs": {"kernel_size": 1}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("NCHW") || e.contains("depthwise"), "{e}");
        // An operator without inputs whose shape is stated: no input to look at, no panic.
        assert!(one(
            "[4]",
            r#"{"id": "n", "op": "constant", "inputs": [], "shape": [3]}"#
        )
        .is_ok());
    }

    #[test]
    fn fusable_looking_unknown_operators_are_opaque() {
        let g = parse(
            r#"{"inputs": [{"id": "x", "shape": [1, 4]}],
                "nodes": [{"id": "k", "op": "MyConvBnReluKernel", "inputs": ["x"], "shape": [1, 4]},
                          {"id": "f", "op": "conv_bn_relu", "inputs": ["k"], "shape": [1, 4]}]}"#,
        )
        .unwrap();
        assert_eq!(g.node("k").unwrap().kind, NodeKind::Other);
        assert_eq!(g.node("f").unwrap().kind, NodeKind::Other);
    }
}
