//! Text that reaches a user's terminal or a markdown file, made safe to show.
//!
//! Names come from files (hardware names, pattern names, graph node ids) and may hold anything:
//! an ESC sequence that rewrites the terminal, a BEL, a markdown link to `javascript:`. Every
//! place that prints such a name goes through [`printable`] (terminal) or [`markdown`]; HTML has
//! its own escaping in [`crate::report`]. The data itself is never changed: profiles keep the
//! names as they are. [`slug`] turns a name into a file name.

use std::borrow::Cow;

/// Longest name shown whole in a message; longer ones are cut by [`truncated`].
pub const MAX_SHOWN: usize = 80;

/// `s` with every control character (C0, DEL, C1: ESC, BEL, CR, tabs, newlines…) replaced by
/// `?`, so printing it cannot move the cursor, ring the bell or start an escape sequence.
/// Borrowed when there is nothing to replace.
pub fn printable(s: &str) -> Cow<'_, str> {
    replace_controls(s, char::is_control)
}

/// A whole multi-line text made safe for a terminal: every control character except the
/// newline is replaced by `?` (a report built from names keeps its lines, a name's ESC or BEL
/// never reaches the terminal).
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    replace_controls(s, |c| c.is_control() && c != '\n')
}

/// `s` with every character `bad` picks replaced by `?`; borrowed when there is none.
fn replace_controls(s: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if s.chars().any(&bad) {
        Cow::Owned(s.chars().map(|c| if bad(c) { '?' } else { c }).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` made [`printable`], then with markdown's active characters backslash-escaped, so a name
/// renders as the text it is: never a link, image, emphasis, code span, HTML tag or table cell
/// break.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in printable(s).chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '|'
                | '!'
                | '#'
                | '{'
                | '}'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` made [`printable`] and cut to at most [`MAX_SHOWN`] characters (with `…` and the number
/// of characters left out), for names inside one-line error messages.
pub fn truncated(s: &str) -> String {
    truncated_to(s, MAX_SHOWN)
}

/// [`truncated`] with an explicit limit of `max` characters.
pub fn truncated_to(s: &str, max: usize) -> String {
    let shown = printable(s);
    let count = shown.chars().count();
    if count <= max {
        shown.into_owned()
    } else {
        let head: String = shown.chars().take(max).collect();
        format!("{head}… ({} more characters)", count - max)
    }
}

/// Up to `max` items of a list joined by `, `, each [`truncated`], then `… and N more`: for
/// messages that name the members of a long list (a cycle, unknown keys).
pub fn list<I, S>(items: I, max: usize) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    joined(items, max, ", ")
}

/// Most operators [`chain`] names.
const CHAIN_SHOWN: usize = 8;

/// A chain of node names for the terminal, `a → b → c`: each [`truncated`], at most eight of
/// them, then `… and N more`.
pub fn chain<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    joined(items, CHAIN_SHOWN, " → ")
}

/// Up to `max` items, each [`truncated`], joined by `sep`, then `… and N more`.
fn joined<I, S>(items: I, max: usize, sep: &str) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut shown = Vec::new();
    let mut rest = 0usize;
    for item in items {
        if shown.len() < max {
            shown.push(truncated(item.as_ref()));
        } else {
            rest += 1;
        }
    }
    let mut out = shown.join(sep);
    if rest > 0 {
        out.push_str(&format!("{sep}… and {rest} more"));
    }
    out
}

/// Longest slug [`slug`] makes from a name (in characters), before its hash suffix.
const MAX_SLUG: usize = 100;

/// File name for a hardware name: lowercase letters and digits of any script, runs of other
/// characters as `_` (`AMD EPYC 9R45` → `amd_epyc_9r45`, `日本語 GPU` → `日本語_gpu`). A name with
/// no letter or digit (`..`, `🚀`, `///`) becomes `device_` and a hash of the name, so distinct
/// names do not collide on one file; a very long name is cut and gets the same hash suffix.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    let hash = || {
        // FNV-1a: stable across runs and platforms, unlike std's hasher.
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{:08x}", h >> 32)
    };
    if trimmed.is_empty() {
        format!("device_{}", hash())
    } else if trimmed.chars().count() > MAX_SLUG {
        let head: String = trimmed.chars().take(MAX_SLUG).collect();
        format!("{}_{}", head.trim_end_matches('_'), hash())
    } else {
        trimmed.to_string()
    }
}

/// `x` with `digits` significant digits, without exponent for everyday magnitudes (from
/// `1e-9` to below `1e15`; exponent form outside, never hundreds of digits).
pub fn significant(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    if !(1e-9..1e15).contains(&x.abs()) {
        return format!("{x:.prec$e}", prec = digits.saturating_sub(1));
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("plain name"), "plain name");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        let hostile = "gpu\u{1b}[2J\u{7}\r\n\u{9b}31m";
        let shown = printable(hostile);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(shown, "gpu?[2J????31m");
        assert_eq!(printable("日本語 🚀"), "日本語 🚀");
        assert_eq!(printable_lines("a\u{1b}]0;x\u{7}\nb\r"), "a?]0;x?\nb?");
    }

    #[test]
    fn markdown_names_render_as_text() {
        assert_eq!(
            markdown("[x](javascript:alert(1))"),
            "\\[x\\]\\(javascript:alert\\(1\\)\\)"
        );
        assert_eq!(markdown("a|b"), "a\\|b");
        assert_eq!(markdown("<img src=x>"), "\\<img src=x\\>");
        assert_eq!(markdown("x\u{1b}y"), "x?y");
    }

    #[test]
    fn long_names_are_cut_in_messages() {
        let long = "n".repeat(1000);
        let cut = truncated(&long);
        assert!(cut.chars().count() < 120, "{cut}");
        assert!(cut.ends_with("(920 more characters)"), "{cut}");
        assert_eq!(truncated("short"), "short");
        assert_eq!(list(["a", "b", "c"], 2), "a, b, … and 1 more");
        assert_eq!(list(["a"], 2), "a");
    }

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(slug("AMD EPYC"), "amd_epyc");
        assert_eq!(
            slug("llvmpipe (LLVM 15.0.6, 256 bits)"),
            "llvmpipe_llvm_15_0_6_256_bits"
        );
        assert_eq!(slug("日本語 GPU"), "日本語_gpu");
        assert_eq!(slug("Ärger"), "ärger");
        // No letter or digit: a hash keeps distinct names apart, never `.` or `..`.
        let odd: Vec<String> = ["..", ".", "///", "🚀", "🔥", ""]
            .iter()
            .map(|n| slug(n))
            .collect();
        for (i, s) in odd.iter().enumerate() {
            assert!(s.starts_with("device_"), "{s}");
            assert!(!s.contains('/') && s != "." && s != "..");
            for t in &odd[i + 1..] {
                assert_ne!(s, t);
            }
        }
        assert_eq!(slug("🚀"), slug("🚀"), "stable");
        let long = slug(&"x".repeat(5000));
        assert!(long.len() < 120, "{long}");
    }
}
