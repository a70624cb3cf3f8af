//! Every limit `hwcal plan` puts on the numbers it reads, in one place.
//!
//! A graph file (and a profile's shapes) may hold any integer: `2^40` dimensions, a padding
//! of `2^63`. Unchecked, such numbers wrap around in the FLOP and byte products (a 2^40×2^40
//! convolution "predicted" at 0.03 ms) or make `--verify` allocate terabytes. So:
//!
//! - the graph loader refuses, naming the node, any dimension or size attribute (`out_features`,
//!   `out_channels`, `kernel_size`, `stride`, `padding`, `dilation`, `groups`) above
//!   [`MAX_DIM`], a tensor of more than [`MAX_RANK`] dimensions or [`MAX_ELEMENTS`] elements,
//!   and an operator whose work (multiply-adds: `m·k·n`, `output·cin·k²`, `b·S·S_kv·D`) or
//!   implied intermediate exceeds [`MAX_WORK`];
//! - the planner and predictor compute every product with checked arithmetic and treat a
//!   [`Shape`] beyond these limits as "no data" ([`check_shape`]); under them every FLOP and
//!   byte formula of [`crate::pattern`] fits in a `u64` with room to spare;
//! - `plan --verify` refuses to run a candidate whose buffers would take more than
//!   [`verify_memory_limit`] bytes: [`VERIFY_MAX_BYTES`], or less when the machine has less
//!   free memory ([`VERIFY_FREE_MEMORY_SHARE`] of what is available).
//!
//! The limits are far above any real model (a dimension of 2^31, 2^48 elements = 1 PiB of f32
//! per tensor) and far below where `u64` arithmetic breaks.

pub use crate::pattern::conv_out;
use crate::pattern::{ConvDims, Shape};

/// Largest dimension of a tensor and largest size attribute (kernel, stride, padding,
/// dilation, groups, features, channels): 2^31.
pub const MAX_DIM: usize = 1 << 31;

/// Most dimensions a tensor may have.
pub const MAX_RANK: usize = 16;

/// Most elements of one tensor: 2^48.
pub const MAX_ELEMENTS: u128 = 1 << 48;

/// Most multiply-adds of one operator (and of any product the FLOP and byte formulas use):
/// 2^56. With each term at most this, every formula of [`crate::pattern`] stays below 2^62.
pub const MAX_WORK: u128 = 1 << 56;

/// Most bytes `plan --verify` lets one candidate allocate (inputs, the backend's copies,
/// outputs, work buffers): 4 GiB.
pub const VERIFY_MAX_BYTES: u64 = 4 << 30;

/// Share of the machine's available memory one verified candidate may take: one half.
pub const VERIFY_FREE_MEMORY_SHARE: f64 = 0.5;

/// `2^k` written as such when `x` is a power of two, else the number.
pub fn power_text(x: u128) -> String {
    if x.is_power_of_two() && x >= 1024 {
        format!("2^{}", x.trailing_zeros())
    } else {
        x.to_string()
    }
}

/// Product of `xs` in `u128`, `None` on overflow.
pub fn product<I: IntoIterator<Item = u128>>(xs: I) -> Option<u128> {
    xs.into_iter().try_fold(1u128, |acc, x| acc.checked_mul(x))
}

/// Elements of a tensor of shape `dims`, `None` on overflow.
pub fn elements(dims: &[usize]) -> Option<u128> {
    product(dims.iter().map(|&d| d as u128))
}

/// Checks a tensor shape: 1 to [`MAX_RANK`] dimensions, each from 1 to [`MAX_DIM`], at most
/// [`MAX_ELEMENTS`] elements. The message does not print a shape longer than the limit.
pub fn check_dims(dims: &[usize]) -> Result<(), String> {
    if dims.is_empty() {
        return Err("shape [] must have at least one dimension".into());
    }
    if dims.len() > MAX_RANK {
        return Err(format!(
            "shape has {} dimensions, more than the limit of {MAX_RANK}",
            dims.len()
        ));
    }
    if dims.contains(&0) {
        return Err(format!("shape {dims:?} has a zero dimension"));
    }
    if let Some(&d) = dims.iter().find(|&&d| d > MAX_DIM) {
        return Err(format!(
            "shape {dims:?}: dimension {d} exceeds the limit of {} per dimension",
            power_text(MAX_DIM as u128)
        ));
    }
    check_count("elements", elements(dims), MAX_ELEMENTS)
        .map_err(|e| format!("shape {dims:?}: {e}"))
}

/// `Ok` when `count` is known and at most `limit`; else says by how much it is over.
pub fn check_count(what: &str, count: Option<u128>, limit: u128) -> Result<(), String> {
    match count {
        Some(n) if n <= limit => Ok(()),
        Some(n) => Err(format!(
            "{n} {what} exceed the limit of {}",
            power_text(limit)
        )),
        None => Err(format!(
            "the number of {what} overflows (limit {})",
            power_text(limit)
        )),
    }
}

/// Checks a size attribute: at most [`MAX_DIM`].
pub fn check_attr(key: &str, value: u64) -> Result<usize, String> {
    if value > MAX_DIM as u64 {
        return Err(format!(
            "attribute `{key}` {value} exceeds the limit of {}",
            power_text(MAX_DIM as u128)
        ));
    }
    Ok(value as usize)
}

/// The largest product the FLOP and byte formulas of a pattern at `shape` multiply out
/// (`m·k·n`, conv `output·cin·k²`, attention `b·S²·D`, and every tensor's elements); `None`
/// on overflow.
pub fn shape_work(shape: &Shape) -> Option<u128> {
    let u = |x: usize| x as u128;
    let terms: Vec<Option<u128>> = match *shape {
        Shape::Linear { m, k, n } => vec![
            product([u(m), u(k), u(n)]),
            product([u(m), u(k)]),
            product([u(n), u(k)]),
            product([u(m), u(n)]),
        ],
        Shape::Conv { .. } => {
            let (c, out) = (shape.conv_dims()?, u(shape.checked_conv_out_hw()?));
            let (batch, cin, cout, hw, kernel) =
                (u(c.batch), u(c.cin), u(c.cout), u(c.hw), u(c.kernel));
            vec![
                product([batch, cin, hw, hw]),
                product([cout, cin, kernel, kernel]),
                product([batch, cout, out, out]),
                product([batch, cout, out, out, cin, kernel, kernel]),
                // The im2col matrix of one image.
                product([cin, kernel, kernel, out, out]),
            ]
        }
        Shape::Attention { batch, seq, dim } => vec![
            product([u(batch), u(seq), u(dim)]),
            product([u(batch), u(seq), u(seq)]),
            product([u(batch), u(seq), u(seq), u(dim)]),
        ],
        Shape::Norm { rows, hidden } => vec![product([u(rows), u(hidden)])],
        Shape::Depthwise { .. } => {
            let (c, out) = (shape.conv_dims()?, u(shape.checked_conv_out_hw()?));
            let (batch, channels, hw, kernel) = (u(c.batch), u(c.cin), u(c.hw), u(c.kernel));
            vec![
                product([batch, channels, hw, hw]),
                product([batch, channels, out, out]),
                product([batch, channels, out, out, kernel, kernel]),
            ]
        }
    };
    terms
        .into_iter()
        .try_fold(0u128, |acc, t| Some(acc.max(t?)))
}

/// Checks a calibrated [`Shape`] against the limits: every number at most [`MAX_DIM`] and at
/// least 1 (padding: 0), the kernel fits the padded image, and [`shape_work`] at most
/// [`MAX_WORK`]. Under these the formulas of [`crate::pattern`] and the backends' index
/// arithmetic cannot overflow.
pub fn check_shape(shape: &Shape) -> Result<(), String> {
    let dims = shape.sizes();
    let padding = shape.conv_dims().map_or(0, |c| c.padding);
    let label = shape.label();
    if dims.contains(&0) {
        return Err(format!("shape {label}: every dimension must be at least 1"));
    }
    // The batch of a linear or attention shape folds several graph axes: up to MAX_ELEMENTS.
    let first_limit = match shape {
        Shape::Conv { .. } | Shape::Depthwise { .. } => MAX_DIM as u128,
        _ => MAX_ELEMENTS,
    };
    let over = dims
        .iter()
        .enumerate()
        .any(|(i, &d)| d as u128 > if i == 0 { first_limit } else { MAX_DIM as u128 });
    if over || padding > MAX_DIM {
        return Err(format!(
            "shape {label}: a dimension exceeds the limit of {}",
            power_text(MAX_DIM as u128)
        ));
    }
    if let Some(ConvDims {
        kernel, padding, ..
    }) = shape.conv_dims()
    {
        if !shape.kernel_fits() {
            return Err(format!(
                "shape {label}: kernel {kernel} does not fit the image padded by {padding}"
            ));
        }
    }
    check_count("multiply-adds", shape_work(shape), MAX_WORK)
        .map_err(|e| format!("shape {label}: {e}"))
}

/// Most bytes one verified candidate may allocate on this machine: [`VERIFY_MAX_BYTES`], or
/// [`VERIFY_FREE_MEMORY_SHARE`] of the available memory when that is less (when it can be
/// read).
pub fn verify_memory_limit() -> u64 {
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    let available = sys.available_memory();
    if available == 0 {
        return VERIFY_MAX_BYTES;
    }
    let share = (available as f64 * VERIFY_FREE_MEMORY_SHARE) as u64;
    VERIFY_MAX_BYTES.min(share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_are_checked() {
        assert_eq!(elements(&[2, 3, 4]), Some(24));
        // [2^32, 2^32] and [2^63, 2] wrap to the same usize product; not here.
        assert_eq!(elements(&[1 << 32, 1 << 32]), Some(1u128 << 64));
        assert_eq!(elements(&[1 << 63, 2]), Some(1u128 << 64));
        assert_eq!(elements(&[usize::MAX; 3]), None);
        assert!(check_dims(&[1 << 31, 2]).is_ok());
        let e = check_dims(&[1 << 32, 1 << 32]).unwrap_err();
        assert!(e.contains("exceeds the limit of 2^31"), "{e}");
        let e = check_dims(&[1 << 30, 1 << 30]).unwrap_err();
        assert!(e.contains("elements exceed the limit of 2^48"), "{e}");
        let e = check_dims(&vec![1; 100_000]).unwrap_err();
        assert!(e.len() < 100, "{e}");
        assert!(check_dims(&[]).is_err() && check_dims(&[3, 0]).is_err());
        assert!(check_attr("padding", 1 << 63).is_err());
        assert_eq!(check_attr("padding", 0), Ok(0));
    }

    #[test]
    fn conv_output_sizes_are_checked() {
        assert_eq!(conv_out(8, 3, 2, 1, 1), Some(4));
        assert_eq!(conv_out(8, 9, 1, 0, 1), None);
        assert_eq!(conv_out(8, 3, 1, 0, 4), None, "dilated span 9 > 8");
        assert_eq!(conv_out(8, 3, 0, 0, 1), None);
        assert_eq!(
            conv_out(1, 1, 1, u64::MAX as u128, 1),
            Some(1 + 2 * u64::MAX as u128)
        );
    }

    #[test]
    fn shapes_beyond_the_limits_are_refused() {
        assert!(check_shape(&Shape::conv3x3(1, 64, 64, 56)).is_ok());
        let huge = Shape::conv3x3(1, 1, 1, 1 << 40);
        assert!(check_shape(&huge).unwrap_err().contains("limit"));
        let pad = Shape::Conv {
            batch: 1,
            cin: 1,
            cout: 1,
            hw: 4,
            kernel: 3,
            stride: 1,
            padding: 1 << 63,
        };
        assert!(check_shape(&pad).is_err());
        let att = Shape::Attention {
            batch: 1,
            seq: 1 << 31,
            dim: 1 << 31,
        };
        let e = check_shape(&att).unwrap_err();
        assert!(e.contains("multiply-adds"), "{e}");
        assert_eq!(
            shape_work(&Shape::Attention {
                batch: usize::MAX,
                seq: usize::MAX,
                dim: usize::MAX
            }),
            None
        );
    }
}
