//! Problem shapes per family and the sizes each preset measures.

use super::Family;
use serde_json::{json, Map, Value};

/// How much a calibration measures: `tiny` is seconds long (tests, software devices), `quick`
/// is the seed's `--quick`, `full` adds the largest sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Tiny sizes: correctness smoke runs, seconds long.
    Tiny,
    /// The seed's `--quick` sizes.
    Quick,
    /// Everything, up to the largest sizes.
    Full,
}

impl Preset {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Quick => "quick",
            Preset::Full => "full",
        }
    }
}

/// The size of one pattern measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `x (m×k) · W (k×n)`.
    Linear {
        /// Rows of the input (batch × tokens).
        m: usize,
        /// Input features.
        k: usize,
        /// Output features.
        n: usize,
    },
    /// NCHW convolution, square images, square kernel.
    Conv {
        /// Batch size.
        batch: usize,
        /// Input channels.
        cin: usize,
        /// Output channels.
        cout: usize,
        /// Height = width of the input.
        hw: usize,
        /// Kernel size (height = width).
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        padding: usize,
    },
    /// `(batch, seq, dim)` single-head attention.
    Attention {
        /// Batch (× heads).
        batch: usize,
        /// Sequence length S.
        seq: usize,
        /// Head dimension D.
        dim: usize,
    },
    /// Rows normalized over their `hidden` elements (tokens × hidden size).
    Norm {
        /// Rows (batch × tokens).
        rows: usize,
        /// Elements per row (the hidden size).
        hidden: usize,
    },
    /// NCHW depthwise convolution (groups = channels), square images, square kernel.
    Depthwise {
        /// Batch size.
        batch: usize,
        /// Channels (in = out = groups).
        channels: usize,
        /// Height = width of the input.
        hw: usize,
        /// Kernel size (height = width).
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding on each side.
        padding: usize,
    },
}

/// The dimensions of a conv shape, with its output size, for kernels and formulas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvDims {
    /// Batch size.
    pub batch: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Input height = width.
    pub hw: usize,
    /// Kernel height = width.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding per side.
    pub padding: usize,
    /// Output height = width.
    pub out_hw: usize,
    /// Channel groups: 1 for a plain convolution, the channel count for a depthwise one.
    pub groups: usize,
}

impl ConvDims {
    /// Length of one filter: `(cin / groups) · k · k` (the GEMM reduction of a plain
    /// convolution, `k · k` for a depthwise one).
    pub fn reduction(&self) -> usize {
        self.cin / self.groups.max(1) * self.kernel * self.kernel
    }

    /// Output pixels per channel: `out_hw²`.
    pub fn out_pixels(&self) -> usize {
        self.out_hw * self.out_hw
    }

    /// Elements of one input image: `cin · hw²`.
    pub fn image_len(&self) -> usize {
        self.cin * self.hw * self.hw
    }
}

impl Shape {
    /// The convolution's dimensions (plain or depthwise), or `None` for other families.
    pub fn conv_dims(&self) -> Option<ConvDims> {
        match *self {
            Shape::Conv {
                batch,
                cin,
                cout,
                hw,
                kernel,
                stride,
                padding,
            } => Some(ConvDims {
                batch,
                cin,
                cout,
                hw,
                kernel,
                stride,
                padding,
                out_hw: self.conv_out_hw(),
                groups: 1,
            }),
            Shape::Depthwise {
                batch,
                channels,
                hw,
                kernel,
                stride,
                padding,
            } => Some(ConvDims {
                batch,
                cin: channels,
                cout: channels,
                hw,
                kernel,
                stride,
                padding,
                out_hw: self.conv_out_hw(),
                groups: channels,
            }),
            _ => None,
        }
    }

    /// A depthwise shape with a 3×3 kernel and padding 1 (MobileNet's).
    pub fn depthwise3x3(batch: usize, channels: usize, hw: usize, stride: usize) -> Shape {
        Shape::Depthwise {
            batch,
            channels,
            hw,
            kernel: 3,
            stride,
            padding: 1,
        }
    }

    /// A conv shape with the calibrated defaults: 3x3 kernel, stride 1, padding 1.
    pub fn conv3x3(batch: usize, cin: usize, cout: usize, hw: usize) -> Shape {
        Shape::Conv {
            batch,
            cin,
            cout,
            hw,
            kernel: 3,
            stride: 1,
            padding: 1,
        }
    }

    /// The family this shape belongs to.
    pub fn family(&self) -> Family {
        match self {
            Shape::Linear { .. } => Family::Linear,
            Shape::Conv { .. } => Family::Conv,
            Shape::Attention { .. } => Family::Attention,
            Shape::Norm { .. } => Family::Norm,
            Shape::Depthwise { .. } => Family::Depthwise,
        }
    }

    /// Output height = width of a conv shape (0 for other families, and for a kernel that
    /// does not fit the padded image).
    pub fn conv_out_hw(&self) -> usize {
        self.checked_conv_out_hw().unwrap_or(0)
    }

    /// Output height = width of a conv shape, computed without overflow; `None` for other
    /// families, a zero stride or kernel, a kernel that does not fit the padded image, or an
    /// output beyond `usize`.
    pub fn checked_conv_out_hw(&self) -> Option<usize> {
        usize::try_from(self.conv_out_wide()?).ok()
    }

    /// Whether the kernel fits the padded image (always, for families without one).
    pub fn kernel_fits(&self) -> bool {
        self.conv_dims_raw().is_none() || self.conv_out_wide().is_some()
    }

    /// `(hw, kernel, stride, padding)` of a plain or depthwise convolution.
    fn conv_dims_raw(&self) -> Option<(usize, usize, usize, usize)> {
        match *self {
            Shape::Conv {
                hw,
                kernel,
                stride,
                padding,
                ..
            }
            | Shape::Depthwise {
                hw,
                kernel,
                stride,
                padding,
                ..
            } => Some((hw, kernel, stride, padding)),
            _ => None,
        }
    }

    /// [`conv_out`] of a conv shape in `u128` (no overflow for any `usize` sizes); `None` for
    /// other families and where [`conv_out`] is.
    fn conv_out_wide(&self) -> Option<u128> {
        let (hw, kernel, stride, padding) = self.conv_dims_raw()?;
        conv_out(
            hw as u128,
            kernel as u128,
            stride as u128,
            padding as u128,
            1,
        )
    }

    /// Every size that must be at least 1: all of them but a conv's padding (`[m, k, n]`,
    /// `[batch, cin, cout, hw, kernel, stride]`, `[batch, seq, dim]`, `[rows, hidden]`,
    /// `[batch, channels, hw, kernel, stride]`).
    pub fn sizes(&self) -> Vec<usize> {
        match *self {
            Shape::Linear { m, k, n } => vec![m, k, n],
            Shape::Conv {
                batch,
                cin,
                cout,
                hw,
                kernel,
                stride,
                ..
            } => vec![batch, cin, cout, hw, kernel, stride],
            Shape::Attention { batch, seq, dim } => vec![batch, seq, dim],
            Shape::Norm { rows, hidden } => vec![rows, hidden],
            Shape::Depthwise {
                batch,
                channels,
                hw,
                kernel,
                stride,
                ..
            } => vec![batch, channels, hw, kernel, stride],
        }
    }

    /// `input_shape` as the original writes it: `[M, K, N]`, `[B, Cin, H, W]`, `[B, S, D]`;
    /// `[rows, hidden]` for norms, `[B, C, H, W]` for depthwise convolutions.
    pub fn input_shape(&self) -> Vec<usize> {
        match *self {
            Shape::Linear { m, k, n } => vec![m, k, n],
            Shape::Conv { batch, cin, hw, .. } => vec![batch, cin, hw, hw],
            Shape::Attention { batch, seq, dim } => vec![batch, seq, dim],
            Shape::Norm { rows, hidden } => vec![rows, hidden],
            Shape::Depthwise {
                batch,
                channels,
                hw,
                ..
            } => vec![batch, channels, hw, hw],
        }
    }

    /// Parameters not in `input_shape` (plain and depthwise convolutions: out_channels,
    /// kernel_size, stride, padding, groups).
    pub fn extra_params(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(d) = self.conv_dims() {
            m.insert("out_channels".into(), json!(d.cout));
            m.insert("kernel_size".into(), json!(d.kernel));
            m.insert("stride".into(), json!(d.stride));
            m.insert("padding".into(), json!(d.padding));
            m.insert("groups".into(), json!(d.groups));
        }
        m
    }

    /// Human label in the seed's style: `128×512×512`, `B=1, 64→64, 56×56`, `B=4, S=256, D=64`.
    pub fn label(&self) -> String {
        match *self {
            Shape::Linear { m, k, n } => format!("{m}×{k}×{n}"),
            Shape::Conv {
                batch,
                cin,
                cout,
                hw,
                ..
            } => format!("B={batch}, {cin}→{cout}, {hw}×{hw}"),
            Shape::Attention { batch, seq, dim } => format!("B={batch}, S={seq}, D={dim}"),
            Shape::Norm { rows, hidden } => format!("{rows}×{hidden}"),
            Shape::Depthwise {
                batch,
                channels,
                hw,
                stride,
                ..
            } => {
                let strided = if stride == 1 {
                    String::new()
                } else {
                    format!(", stride {stride}")
                };
                format!("B={batch}, C={channels}, {hw}×{hw}{strided}")
            }
        }
    }

    /// Elements of the pattern's output tensor, as rows × columns for verification.
    /// Linear: m × n; conv: (batch·cout) × (oh·ow); attention scores: (batch·S) × S;
    /// full attention: (batch·S) × D; norm: rows × hidden; depthwise: (batch·C) × (oh·ow).
    pub fn output_rows_cols(&self, full_attention: bool) -> (usize, usize) {
        match *self {
            Shape::Linear { m, n, .. } => (m, n),
            Shape::Conv { batch, cout, .. } => {
                let o = self.conv_out_hw();
                (batch * cout, o * o)
            }
            Shape::Depthwise {
                batch, channels, ..
            } => {
                let o = self.conv_out_hw();
                (batch * channels, o * o)
            }
            Shape::Norm { rows, hidden } => (rows, hidden),
            Shape::Attention { batch, seq, dim } => {
                (batch * seq, if full_attention { dim } else { seq })
            }
        }
    }

    /// Rejects shapes that cannot be computed (zero dimensions, kernel larger than the padded
    /// image, element counts that overflow).
    pub fn validate(&self) -> crate::Result<()> {
        let dims = self.sizes();
        if dims.contains(&0) {
            return Err(crate::Error::usage(format!(
                "impossible shape {}: every dimension must be at least 1",
                self.label()
            )));
        }
        if let Some((hw, kernel, _, padding)) = self.conv_dims_raw() {
            if padding
                .checked_mul(2)
                .and_then(|p| p.checked_add(hw))
                .is_none()
            {
                return Err(crate::Error::usage(format!(
                    "impossible conv shape {}: padding {padding} overflows",
                    self.label()
                )));
            }
            if !self.kernel_fits() {
                return Err(crate::Error::usage(format!(
                    "impossible conv shape {}: kernel {kernel} is larger than the padded image",
                    self.label()
                )));
            }
        }
        let product = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .and_then(|p| p.checked_mul(64));
        if product.is_none() {
            return Err(crate::Error::usage(format!(
                "impossible shape {}: sizes overflow",
                self.label()
            )));
        }
        Ok(())
    }
}

/// Tensor sizes (elements) of a shape, as the FLOP and byte formulas are written; zero where a
/// family has no such tensor.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sizes {
    /// Linear: `M·K` (input x).
    pub mk: u64,
    /// Linear: `N·K` (weights W).
    pub nk: u64,
    /// Linear: `M·N` (output).
    pub mn: u64,
    /// Linear: `N` (bias).
    pub n: u64,
    /// Conv: input elements.
    pub input: u64,
    /// Conv: filter elements.
    pub weight: u64,
    /// Conv: output elements.
    pub output: u64,
    /// Conv: output channels (bias or folded shift).
    pub cout: u64,
    /// Conv: multiply-adds × 2 of the convolution.
    pub conv_flops: u64,
    /// Attention: `B·S·D` (each of Q, K, V and the output).
    pub bsd: u64,
    /// Attention: `B·S²` (scores).
    pub bss: u64,
    /// Attention: `B·S²·D`.
    pub bssd: u64,
    /// Norm: `rows·hidden` (each of x, the residual and the output).
    pub rows_hidden: u64,
    /// Norm: `hidden` (each of γ and β).
    pub hidden: u64,
}

impl Sizes {
    /// The sizes of `shape`.
    pub fn of(shape: &Shape) -> Sizes {
        let mut d = Sizes::default();
        match *shape {
            Shape::Linear { m, k, n } => {
                let (m, k, n) = (m as u64, k as u64, n as u64);
                d.mk = m * k;
                d.nk = n * k;
                d.mn = m * n;
                d.n = n;
            }
            Shape::Conv { .. } | Shape::Depthwise { .. } => {
                let c = shape.conv_dims().expect("a convolution");
                let o = c.out_hw as u64;
                let (b, ci, co, hw) = (c.batch as u64, c.cin as u64, c.cout as u64, c.hw as u64);
                let red = c.reduction() as u64;
                d.input = b * ci * hw * hw;
                d.weight = co * red;
                d.output = b * co * o * o;
                d.cout = co;
                d.conv_flops = 2 * d.output * red;
            }
            Shape::Norm { rows, hidden } => {
                d.rows_hidden = rows as u64 * hidden as u64;
                d.hidden = hidden as u64;
            }
            Shape::Attention { batch, seq, dim } => {
                let (b, s, dd) = (batch as u64, seq as u64, dim as u64);
                d.bsd = b * s * dd;
                d.bss = b * s * s;
                d.bssd = b * s * s * dd;
            }
        }
        d
    }
}

/// Output size of a convolution along one axis, `(d + 2·padding − span) / stride + 1` with
/// `span = dilation·(kernel − 1) + 1`; `None` when the kernel does not fit (or on overflow,
/// impossible for `u64` inputs) or the stride or kernel is zero.
pub fn conv_out(
    d: u128,
    kernel: u128,
    stride: u128,
    padding: u128,
    dilation: u128,
) -> Option<u128> {
    if stride == 0 || kernel == 0 {
        return None;
    }
    let span = dilation.checked_mul(kernel - 1)?.checked_add(1)?;
    let padded = d.checked_add(padding.checked_mul(2)?)?;
    Some(padded.checked_sub(span)? / stride + 1)
}

/// Shapes measured for a family under a preset (the table).
pub(super) fn preset_shapes(family: Family, preset: Preset) -> Vec<Shape> {
    let lin = |m, k, n| Shape::Linear { m, k, n };
    let att = |batch, seq, dim| Shape::Attention { batch, seq, dim };
    let norm = |rows, hidden| Shape::Norm { rows, hidden };
    match (family, preset) {
        (Family::Linear, Preset::Tiny) => vec![lin(8, 32, 24), lin(33, 70, 45)],
        (Family::Linear, Preset::Quick) => vec![lin(128, 512, 512), lin(512, 1024, 1024)],
        (Family::Linear, Preset::Full) => vec![
            lin(128, 512, 512),
            lin(512, 1024, 1024),
            lin(1024, 2048, 2048),
        ],
        (Family::Conv, Preset::Tiny) => {
            vec![Shape::conv3x3(1, 3, 8, 8), Shape::conv3x3(2, 5, 7, 9)]
        }
        (Family::Conv, Preset::Quick) => vec![
            Shape::conv3x3(1, 64, 64, 56),
            Shape::conv3x3(4, 128, 128, 28),
        ],
        (Family::Conv, Preset::Full) => vec![
            Shape::conv3x3(1, 64, 64, 56),
            Shape::conv3x3(4, 128, 128, 28),
            Shape::conv3x3(8, 256, 256, 14),
        ],
        (Family::Attention, Preset::Tiny) => vec![att(1, 16, 8), att(2, 40, 16)],
        (Family::Attention, Preset::Quick) => vec![att(1, 128, 64), att(4, 256, 64)],
        (Family::Attention, Preset::Full) => {
            vec![att(1, 128, 64), att(4, 256, 64), att(8, 512, 64)]
        }
        // BERT-base (hidden 768, batch 4 × 128 tokens) and LLaMA-7B (hidden 4096, 512 tokens);
        // full adds LLaMA-7B at 2048 tokens.
        (Family::Norm, Preset::Tiny) => vec![norm(8, 32), norm(13, 70)],
        (Family::Norm, Preset::Quick) => vec![norm(512, 768), norm(512, 4096)],
        (Family::Norm, Preset::Full) => vec![norm(512, 768), norm(512, 4096), norm(2048, 4096)],
        // MobileNetV2's 3×3 depthwise layers: 144 channels at 56×56 (block 2, stride 1), 96
        // at 112×112 with stride 2 (block 2's first); full adds 384 at 14×14 (block 4),
        // batch 8.
        (Family::Depthwise, Preset::Tiny) => vec![
            Shape::depthwise3x3(1, 4, 8, 1),
            Shape::depthwise3x3(2, 5, 9, 2),
        ],
        (Family::Depthwise, Preset::Quick) => vec![
            Shape::depthwise3x3(1, 144, 56, 1),
            Shape::depthwise3x3(1, 96, 112, 2),
        ],
        (Family::Depthwise, Preset::Full) => vec![
            Shape::depthwise3x3(1, 144, 56, 1),
            Shape::depthwise3x3(1, 96, 112, 2),
            Shape::depthwise3x3(8, 384, 14, 1),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9: a padding near 2^63 is an error, never an overflow panic or a wrapped size.
    #[test]
    fn huge_padding_is_refused_not_wrapped() {
        let conv = |padding| Shape::Conv {
            batch: 1,
            cin: 1,
            cout: 1,
            hw: 8,
            kernel: 3,
            stride: 1,
            padding,
        };
        let e = conv(1 << 63).validate().unwrap_err().to_string();
        assert!(e.contains("overflows"), "{e}");
        assert_eq!(conv(1 << 63).conv_out_hw(), 0);
        assert_eq!(conv(usize::MAX).conv_out_hw(), 0);
        assert_eq!(conv(1).conv_out_hw(), 8);
        assert!(conv(1).validate().is_ok());
    }
}
