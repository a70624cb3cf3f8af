//! JSON text exactly as Python's `json.dump(obj, f, indent=2)` writes it, and a reader that
//! also takes the `NaN`/`Infinity` tokens Python's writer may emit.
//!
//! Python's layout: two-space indentation, `": "` after keys, `","` at line ends, `{}`/`[]`
//! for empty containers, no trailing newline, every non-ASCII character escaped as `\uXXXX`
//! (`ensure_ascii=True`), floats as `repr(float)` (`1.0`, `0.0001`, `1e-05`, `1e+16`).
//! serde_json's pretty printer agrees on the layout but not on floats (`1e-5`) nor on non-ASCII
//! text, hence this writer.

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// Python's `repr()` of a float (`str()` is the same since Python 3): the shortest decimal that
/// reads back as the same `f64`, in fixed notation when the decimal exponent is in `-5..16`
/// (`0.0001`, `1e-05`, `1234.5`, `1e+16`), always with a `.0` or an exponent; `nan`, `inf`,
/// `-inf` for the non-finite values.
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits ("d.ddde-5"), as Python's repr does,
    // but when two strings of that length read back as `x` the two may pick differently:
    // Python takes the one nearest to `x`, ties to an even last digit. That is the correctly
    // rounded (half-even, as Rust's precision formatting rounds) string of the same length,
    // whenever it reads back as `x`.
    let shortest = format!("{:e}", x);
    let ndigits = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.chars().filter(char::is_ascii_digit).count());
    let nearest = format!("{:.*e}", ndigits.saturating_sub(1), x);
    let sci = if nearest.parse::<f64>() == Ok(x) {
        nearest
    } else {
        shortest
    };
    let (negative, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` writes an integer exponent");
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let ndigits = digits.len() as i32;
    // Python's `decpt`: the value is 0.d1d2d3... x 10^decpt.
    let decpt = exp + 1;
    let mut out = String::with_capacity(24);
    if negative {
        out.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if ndigits > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(&digits);
    } else if decpt < ndigits {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    } else {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (decpt - ndigits) as usize));
        out.push_str(".0");
    }
    out
}

/// Serialises `value` the way Python's `json.dumps(value, indent=2)` does (no trailing newline).
pub fn to_python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline_indent(out, depth + 1);
                write_value(out, item, depth + 1);
            }
            newline_indent(out, depth);
            out.push(']');
        }
        Value::Object(map) => write_object(out, map, depth),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>, depth: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline_indent(out, depth + 1);
        write_string(out, k);
        out.push_str(": ");
        write_value(out, v, depth + 1);
    }
    newline_indent(out, depth);
    out.push('}');
}

fn newline_indent(out: &mut String, depth: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', 2 * depth));
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else {
        // A serde_json Number that is neither u64 nor i64 is a finite f64.
        out.push_str(&python_float_repr(n.as_f64().unwrap_or(f64::NAN)));
    }
}

/// A JSON string literal with Python's `ensure_ascii=True` escaping.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{:04x}", unit);
                }
            }
        }
    }
    out.push('"');
}

/// Parses JSON text, also accepting Python's non-standard `NaN`, `Infinity` and `-Infinity`
/// tokens (read as `null`: `serde_json::Value` cannot hold non-finite numbers, and hwcal's typed
/// float fields read `null` back as NaN).
pub fn parse_lenient(text: &str) -> Result<Value, serde_json::Error> {
    match replace_non_finite_tokens(text) {
        Some(fixed) => serde_json::from_str(&fixed),
        None => serde_json::from_str(text),
    }
}

/// `text` with every `NaN`, `Infinity` and `-Infinity` outside string literals replaced by
/// `null`, or `None` when there is none.
fn replace_non_finite_tokens(text: &str) -> Option<String> {
    const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied_up_to = 0;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if let Some(tok) = TOKENS.iter().find(|t| bytes[i..].starts_with(t.as_bytes())) {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied_up_to..i]);
            o.push_str("null");
            i += tok.len();
            copied_up_to = i;
            continue;
        }
        i += 1;
    }
    out.map(|mut o| {
        o.push_str(&text[copied_up_to..]);
        o
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    // The halfway cases below are exact binary values, written out in full on purpose.
    #[allow(clippy::excessive_precision)]
    fn float_repr_matches_python() {
        // (value, Python's repr) pairs, checked against CPython 3.
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1000.0, "1000.0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000012345, "1.2345e-05"),
            (123456789012345.6, "123456789012345.6"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e100, "1e+100"),
            (1e-300, "1e-300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (774.9739877815841, "774.9739877815841"),
            (170.66666666666666, "170.66666666666666"),
            (-0.005546700179354371, "-0.005546700179354371"),
            (31.08944320678711, "31.08944320678711"),
            (2.0f64.powi(60), "1.152921504606847e+18"),
            // Two shortest candidates, exactly halfway: Python takes the even digit.
            (2178896510171335.25, "2178896510171335.2"),
            (277880643848006.625, "277880643848006.62"),
            (9.5, "9.5"),
            (99999999999999999.0, "1e+17"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float_repr(*x), *want, "repr of {x:e}");
        }
    }

    #[test]
    fn writer_matches_python_indent_2() {
        let v = json!({"a": [1, 2.5, {}], "b": {}, "c": [], "d": {"e": null, "f": true},
                       "g": "é\u{1F600}\u{7f}\"\\\n"});
        let want = "{\n  \"a\": [\n    1,\n    2.5,\n    {}\n  ],\n  \"b\": {},\n  \"c\": [],\n  \
                    \"d\": {\n    \"e\": null,\n    \"f\": true\n  },\n  \
                    \"g\": \"\\u00e9\\ud83d\\ude00\\u007f\\\"\\\\\\n\"\n}";
        assert_eq!(to_python_json(&v), want);
        assert_eq!(to_python_json(&json!(-3)), "-3");
    }

    #[test]
    fn lenient_parse_reads_python_non_finite_tokens_outside_strings_only() {
        let v = parse_lenient(r#"{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN \" Infinity"}"#)
            .unwrap();
        assert_eq!(
            v,
            json!({"a": null, "b": [null, null], "c": "NaN \" Infinity"})
        );
        assert!(parse_lenient("{\"a\": 1").is_err());
    }
}
