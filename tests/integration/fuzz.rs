//! The fuzz target of issue 9: mutated profiles and graphs (from the Python tool's files,
//! hwcal's own, the examples and the regression fixtures in `tests/fixtures/fuzz/`) through the
//! profile loader, the graph loader and every renderer: `show`'s summary, `compare` in all four
//! formats (HTML with its charts), the cost model and `plan` as text and JSON.
//!
//! A case passes when nothing panics and every step returns within [`CASE_LIMIT`]; an error
//! is a pass (bad input is allowed to be refused, never to crash or hang). Runs
//! [`DEFAULT_CASES`] cases in CI; for a long run:
//!
//! ```text
//! HWCAL_FUZZ_CASES=10000 cargo test --release --test integration fuzz::mutated -- --nocapture
//! ```
//!
//! A failing case is written to `target/fuzz-failures/` and named in the failure, for a
//! regression fixture. With `HWCAL_FUZZ_SAVE=DIR` every generated input is also written to DIR
//! (`profile-NNNNNN.json`, `graph-NNNNNN.json`), to replay through a binary.

use hwcal::cost_model::report::{PlanReport, ThresholdChoice};
use hwcal::cost_model::{plan, CostModel, Graph};
use hwcal::profile::HardwareCalibration;
use hwcal::report::{render, Format};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Inputs that loaded (and so went through every renderer) rather than being refused.
static LOADED: AtomicUsize = AtomicUsize::new(0);

/// Inputs written to `HWCAL_FUZZ_SAVE`.
static SAVED: AtomicUsize = AtomicUsize::new(0);
use std::time::{Duration, Instant};

/// Cases of [`mutated`] when `HWCAL_FUZZ_CASES` is not set.
const DEFAULT_CASES: u32 = 48;

/// Longest one case may take (in a debug build, with every renderer) before it counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The seed inputs: (is a graph, text). With `regressions`, also the regression fixtures (most
/// of which are refused as they are, so they make poor seeds for mutation).
fn seeds(regressions: bool) -> Vec<(bool, String)> {
    let mut files = json_files(&repo().join("../shared/fixtures/graphs-profiles"));
    files.extend(json_files(&repo().join("profiles")));
    files.extend(
        json_files(&repo().join("tests/fixtures/fuzz"))
            .into_iter()
            .filter(|f| regressions || f.ends_with("valid-profile.json")),
    );
    let mut seeds: Vec<(bool, String)> = files
        .iter()
        .map(|p| {
            let graph = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("graph"));
            (graph, std::fs::read_to_string(p).unwrap_or_default())
        })
        .collect();
    for g in json_files(&repo().join("examples/graphs")) {
        seeds.push((true, std::fs::read_to_string(g).unwrap()));
    }
    assert!(seeds.len() >= 5, "seed files beside the repo");
    seeds
}

/// A base profile the fuzzed one is compared with and planned against.
fn base_profile() -> HardwareCalibration {
    HardwareCalibration::load(&repo().join("profiles/amd_epyc.json")).unwrap()
}

/// Runs `text` (a profile or a graph) through everything that reads it. Errors are fine.
fn exercise(graph: bool, text: &str, base: &HardwareCalibration) {
    let origin = Path::new("fuzzed.json");
    let base_path = PathBuf::from("base.json");
    if graph {
        if let Ok(g) = Graph::from_json_str(text, origin) {
            LOADED.fetch_add(1, Ordering::Relaxed);
            plan_report(&g, base);
        }
        return;
    }
    let Ok(p) = HardwareCalibration::from_json_str(text, origin) else {
        return;
    };
    LOADED.fetch_add(1, Ordering::Relaxed);
    let _ = p.summary();
    let _ = p.to_json_string();
    let paths = [base_path, origin.to_path_buf()];
    let profiles = [base.clone(), p.clone()];
    for format in [Format::Table, Format::Markdown, Format::Json, Format::Html] {
        let _ = render(&paths, &profiles, format);
    }
    // The fuzzed profile as the cost model of the examples.
    for g in json_files(&repo().join("examples/graphs")) {
        let g = Graph::load(&g).unwrap();
        plan_report(&g, &p);
    }
    let mut merged = p.clone();
    merged.merge_older(base);
}

fn plan_report(graph: &Graph, profile: &HardwareCalibration) {
    let model = CostModel::new(profile);
    let advice = model.threshold_advice();
    let report = PlanReport {
        graph_file: "g.json".into(),
        profile_file: "p.json".into(),
        threshold: ThresholdChoice {
            value: model.threshold(),
            source: "recommended",
            recommended: advice,
        },
        plan: plan(graph, &model),
        verify: None,
        notes: Vec::new(),
    };
    let _ = report.to_text();
    let _ = report.to_json();
}

/// Runs one case on a thread with a deadline; `Err` names the failure and where the input went.
fn run_case(graph: bool, text: String) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    let input = text.clone();
    std::thread::spawn(move || {
        let base = base_profile();
        let outcome = std::panic::catch_unwind(|| exercise(graph, &input, &base));
        let _ = tx.send(outcome.is_ok());
    });
    let failure = match rx.recv_timeout(CASE_LIMIT) {
        Ok(true) => return Ok(()),
        Ok(false) => "panicked",
        Err(_) => "hung (no answer within the case limit)",
    };
    let dir = repo().join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!(
        "{}-{}.json",
        if graph { "graph" } else { "profile" },
        std::process::id() as u128 * 1_000_000 + Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::write(&file, &text);
    Err(format!("{failure}; input saved as {}", file.display()))
}

/// Extreme numbers that broke hwcal before (issue 9) and their neighbours.
const EXTREMES: &[&str] = &[
    "5e-324",
    "1e-310",
    "1e308",
    "-1e308",
    "1e400",
    "-1",
    "0",
    "-0.0",
    "NaN",
    "Infinity",
    "-Infinity",
    "null",
    "1099511627776",
    "9223372036854775808",
    "18446744073709551616",
    "4294967296",
    "0.5",
    "1e-9",
    // Plausible values, so that many mutated inputs load and reach the renderers.
    "1",
    "2.5",
    "1000",
    "0.001",
    "123456.75",
];

/// Hostile strings for names.
const STRINGS: &[&str] = &[
    "\"\\u001b]0;owned\\u0007\\u001b[2J\"",
    "\"[x](javascript:alert(1))\"",
    "\"<script>alert(1)</script>\"",
    "\"..\"",
    "\"\"",
    "\"日本語🚀\"",
];

/// One edit of a JSON text.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the `n`-th number by an extreme.
    Number(usize, usize),
    /// Replace the `n`-th string by a hostile one.
    Text(usize, usize),
    /// Delete bytes `[at, at+len)` (as fractions of the length, in thousandths).
    Delete(u16, u16),
    /// Repeat a span in place.
    Repeat(u16, u16),
    /// Cut the text at a point.
    Truncate(u16),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (0..400usize, 0..EXTREMES.len()).prop_map(|(n, e)| Mutation::Number(n, e)),
        4 => (0..200usize, 0..STRINGS.len()).prop_map(|(n, s)| Mutation::Text(n, s)),
        1 => (0..1000u16, 1..50u16).prop_map(|(a, l)| Mutation::Delete(a, l)),
        1 => (0..1000u16, 1..50u16).prop_map(|(a, l)| Mutation::Repeat(a, l)),
        1 => (0..1000u16).prop_map(Mutation::Truncate),
    ]
}

/// Byte ranges `[start, end)` in a text.
type Spans = Vec<(usize, usize)>;

/// Byte ranges of the JSON number tokens (outside strings) and of the string values.
fn tokens(text: &str) -> (Spans, Spans) {
    let b = text.as_bytes();
    let (mut numbers, mut strings) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(b.len());
                // Keys are left alone: a renamed key only tests "missing key" again and again.
                let next = b[end..].iter().find(|c| !c.is_ascii_whitespace());
                if next != Some(&b':') {
                    strings.push((start, end));
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                numbers.push((start, i));
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (numbers, strings)
}

/// Nearest char boundary at or below `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, m: &Mutation) -> String {
    let frac = |t: u16| boundary(text, text.len() * usize::from(t) / 1000);
    match *m {
        Mutation::Number(n, e) | Mutation::Text(n, e) => {
            let (numbers, strings) = tokens(text);
            let (list, with) = match m {
                Mutation::Number(..) => (numbers, EXTREMES[e]),
                _ => (strings, STRINGS[e]),
            };
            match list.get(n % list.len().max(1)) {
                Some(&(a, b)) => format!("{}{with}{}", &text[..a], &text[b..]),
                None => text.to_string(),
            }
        }
        Mutation::Delete(a, l) => {
            let (a, b) = (frac(a), frac(a.saturating_add(l)));
            format!("{}{}", &text[..a], &text[b..])
        }
        Mutation::Repeat(a, l) => {
            let (a, b) = (frac(a), frac(a.saturating_add(l)));
            format!("{}{}", &text[..b], &text[a..])
        }
        Mutation::Truncate(a) => text[..frac(a)].to_string(),
    }
}

fn cases() -> u32 {
    std::env::var("HWCAL_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Mutated inputs never crash or hang hwcal.
#[test]
fn mutated() {
    let seeds = seeds(false);
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..seeds.len(), proptest::collection::vec(mutation(), 1..4));
    let start = Instant::now();
    let loaded_before = LOADED.load(Ordering::Relaxed);
    let result = runner.run(&strategy, |(seed, mutations)| {
        let (graph, text) = &seeds[seed];
        let mut text = text.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        if let Some(dir) = std::env::var_os("HWCAL_FUZZ_SAVE") {
            // Every input kept, to replay through the binary (e.g. an older one).
            let n = SAVED.fetch_add(1, Ordering::Relaxed);
            let kind = if *graph { "graph" } else { "profile" };
            let _ = std::fs::write(Path::new(&dir).join(format!("{kind}-{n:06}.json")), &text);
        }
        run_case(*graph, text).map_err(TestCaseError::fail)
    });
    eprintln!(
        "fuzz: {cases} mutated inputs from {} seeds in {:.1} s; {} loaded and went through every renderer, the rest were refused",
        seeds.len(),
        start.elapsed().as_secs_f64(),
        LOADED.load(Ordering::Relaxed) - loaded_before,
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every regression fixture and every seed as it is, plus each seed with every number replaced
/// by each extreme in turn (the 137 hangs of issue 9 were of this kind).
#[test]
fn extremes_everywhere() {
    let mut n = 0;
    for (graph, text) in seeds(true) {
        run_case(graph, text.clone()).unwrap();
        let (numbers, _) = tokens(&text);
        for extreme in ["5e-324", "1e-310", "1e308", "NaN", "-1"] {
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            for &(a, b) in &numbers {
                out.push_str(&text[last..a]);
                out.push_str(extreme);
                last = b;
            }
            out.push_str(&text[last..]);
            run_case(graph, out).unwrap();
            n += 1;
        }
    }
    assert!(n > 0);
}
