//! Size sweeps in words: sizes for people and where fusion starts to pay, as text.
//!
//! The crossover itself is analysis ([`crate::analysis::crossover()`]); this is how the reports
//! and the `--sweep` printout say it.

use crate::analysis::crossover;

/// A size for people: three significant digits, no trailing zeros (`215`, `10.3`, `8`);
/// exponent form from `1e15` (`1.00e308`), never hundreds of digits.
pub fn size_text(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    if x.abs() >= 1e15 {
        return format!("{x:.2e}");
    }
    if x.abs() >= 1000.0 {
        return format!("{}", x.round());
    }
    let s = crate::text::significant(x, 3);
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Where fused beats unfused by `threshold` along `axis`, in words: `from S≈215`,
/// `at every size measured` (the crossover is the smallest size), or `never for good`.
pub fn crossover_text(axis: &str, points: &[(f64, f64)], threshold: f64) -> String {
    let smallest = points
        .iter()
        .map(|p| p.0)
        .filter(|x| x.is_finite() && *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    match crossover(points, threshold) {
        None => "never for good".to_string(),
        Some(x) if x <= smallest => "at every size measured".to_string(),
        Some(x) => format!("from {axis}≈{}", size_text(x)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossovers_in_words() {
        let pts = [(64.0, 0.8), (128.0, 0.9), (256.0, 1.05), (512.0, 1.3)];
        assert_eq!(crossover_text("S", &pts, 1.0), "from S≈203");
        assert_eq!(crossover_text("S", &pts, 0.5), "at every size measured");
        assert_eq!(crossover_text("S", &pts, 2.0), "never for good");
        assert_eq!(size_text(8.0), "8");
        assert_eq!(size_text(10.26), "10.3");
        assert_eq!(size_text(4096.4), "4096");
        assert_eq!(size_text(1e308), "1.00e308");
        assert_eq!(size_text(5e-324), "4.94e-324");
        assert_eq!(size_text(1e-10), "1.00e-10");
    }
}
