//! The operation-profile key rule of the Python calibrator, and Python's `str()` of JSON values
//! that it relies on.
//!
//! Python builds the key of an operation profile as `operation_type`, then `k=v` for each entry
//! of `extra_params` in sorted key order (`v` rendered with `str()`), then, for `matmul` and
//! `conv2d`, a size tag from the product of `input_shape`: below 1024² `small`, below 10·1024²
//! `medium`, else `large`; all joined with `_`. Example:
//! `matmul_cpp_gflops=None_implementation=numpy_blas_matrix_size=1024_medium`.

use super::json::python_float_repr;
use super::schema::OperationCalibration;
use serde_json::Value;

/// Operation types whose key gets a size tag.
const SIZED_OPERATIONS: [&str; 2] = ["matmul", "conv2d"];

/// Below this many input elements an operation is `small` (Python: `1024 * 1024`).
pub const SMALL_LIMIT: u128 = 1024 * 1024;
/// Below this many input elements an operation is `medium`, else `large` (Python:
/// `10 * 1024 * 1024`).
pub const MEDIUM_LIMIT: u128 = 10 * 1024 * 1024;

/// The key under which the Python calibrator (and hwcal) files `op` in `operation_profiles`.
///
/// Values are rendered as Python's `str()` renders the value JSON loads to: `None`,
/// `True`/`False`, integers as written, floats as `repr` (`1.0`, `1e-05`), strings raw, lists
/// and objects as Python's list/dict repr. (A Python tuple in `extra_params` was keyed as
/// `(3, 3)` but stored as the JSON list `[3, 3]`; recomputing its key gives `[3, 3]`.)
pub fn operation_key(op: &OperationCalibration) -> String {
    let mut parts = vec![op.operation_type.clone()];
    let mut params: Vec<(&String, &Value)> = op.extra_params.iter().collect();
    // Python sorts str keys by code point; Rust's `str` order (UTF-8 bytes) is the same.
    params.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in params {
        parts.push(format!("{k}={}", python_str(v)));
    }
    if SIZED_OPERATIONS.contains(&op.operation_type.as_str()) {
        parts.push(size_tag(&op.input_shape).to_string());
    }
    parts.join("_")
}

/// The size tag of an input shape: `small`, `medium` or `large` by its element count.
pub fn size_tag(input_shape: &[usize]) -> &'static str {
    let total = input_shape
        .iter()
        .fold(1u128, |acc, &d| acc.saturating_mul(d as u128));
    if total < SMALL_LIMIT {
        "small"
    } else if total < MEDIUM_LIMIT {
        "medium"
    } else {
        "large"
    }
}

/// Python's `str()` of the value `json.load` makes of `v`: `None`, `True`, `False`, `3`,
/// `1.0`, strings without quotes, lists and dicts as their repr.
pub fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of the value `json.load` makes of `v` (strings quoted, as inside a list).
pub fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.to_string()
            } else if let Some(i) = n.as_i64() {
                i.to_string()
            } else {
                python_float_repr(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => python_str_repr(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", python_str_repr(k), python_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Python's `repr()` of a `str`: single quotes unless the text has a `'` and no `"`, the quote
/// and backslash escaped, control characters as `\n`, `\t`, `\r` or `\xNN`.
fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(kind: &str, shape: &[usize], params: Value) -> OperationCalibration {
        let mut o = OperationCalibration::new(kind, shape.to_vec());
        o.extra_params = params.as_object().unwrap().clone();
        o
    }

    #[test]
    fn key_sorts_params_and_renders_python_str() {
        let o = op(
            "matmul",
            &[1024, 1024],
            json!({"matrix_size": 1024, "implementation": "numpy_blas", "cpp_gflops": null}),
        );
        assert_eq!(
            operation_key(&o),
            "matmul_cpp_gflops=None_implementation=numpy_blas_matrix_size=1024_medium"
        );
        let o = op(
            "add",
            &[33554432],
            json!({"size_mb": 128, "operation": "memory_copy"}),
        );
        assert_eq!(operation_key(&o), "add_operation=memory_copy_size_mb=128");
        let o = op(
            "relu",
            &[4],
            json!({"b": true, "a": false, "c": 1.0, "d": 1e-5, "e": -2, "f": [1, "x", null]}),
        );
        assert_eq!(
            operation_key(&o),
            "relu_a=False_b=True_c=1.0_d=1e-05_e=-2_f=[1, 'x', None]"
        );
        assert_eq!(
            python_str(&json!({"k": "it's", "n": 2.5})),
            "{'k': \"it's\", 'n': 2.5}"
        );
        assert_eq!(operation_key(&op("add", &[], json!({}))), "add");
    }

    #[test]
    fn size_tags_use_pythons_limits() {
        assert_eq!(size_tag(&[1023, 1024]), "small");
        assert_eq!(size_tag(&[1024, 1024]), "medium");
        assert_eq!(size_tag(&[10 * 1024 * 1024 - 1]), "medium");
        assert_eq!(size_tag(&[10, 1024, 1024]), "large");
        assert_eq!(size_tag(&[]), "small");
        assert_eq!(size_tag(&[usize::MAX, usize::MAX, usize::MAX]), "large");
        let conv = op("conv2d", &[1, 64, 56, 56], json!({"k": 3}));
        assert_eq!(operation_key(&conv), "conv2d_k=3_small");
        let gelu = op("gelu", &[4096, 4096], json!({}));
        assert_eq!(operation_key(&gelu), "gelu");
    }
}
