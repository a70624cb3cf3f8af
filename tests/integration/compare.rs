//! `hwcal compare`: every output format against the Python calibrator's profiles and
//! constructed hwcal profiles (with size sweeps), verdict flips, missing patterns, errors, and
//! the HTML page rendered in headless Chromium.

use hwcal::pattern::{Pattern, Shape};
use hwcal::profile::{CalibrationMetadata, FusionCalibration, HardwareCalibration, JsonMap};
use hwcal::report::{render, run, CompareSettings, Format};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/graphs-profiles"
);

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

/// i7 with fusion (9 patterns), Jetson GPU (empty fusion_profiles), i7 from before fusion
/// existed (no fusion_profiles key).
fn three_fixtures() -> Vec<PathBuf> {
    vec![
        fixture("i7_12700k_with_fusion.json"),
        fixture("nvidia_jetson_orin_nano_gpu_pytorch.json"),
        fixture("intel_i7_12700k.json"),
    ]
}

fn report(paths: &[PathBuf], format: Format) -> String {
    let profiles: Vec<HardwareCalibration> = paths
        .iter()
        .map(|p| HardwareCalibration::load(p).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    render(paths, &profiles, format).unwrap()
}

/// A measurement of `pattern` at `shape` with the given median latencies, its bytes and FLOPs
/// from the pattern's formulas, as hwcal records it.
fn measurement(
    pattern: Pattern,
    shape: Shape,
    unfused_ms: f64,
    fused_ms: f64,
) -> FusionCalibration {
    let flops = pattern.flops(&shape) as f64;
    let (ub, fb) = (pattern.unfused_bytes(&shape), pattern.fused_bytes(&shape));
    let mut extra = JsonMap::new();
    extra.insert("flops".into(), json!(flops));
    extra.insert(
        "speedup_ci95".into(),
        json!([unfused_ms / fused_ms * 0.97, unfused_ms / fused_ms * 1.03]),
    );
    extra.insert("noisy".into(), json!(false));
    FusionCalibration {
        fusion_pattern: pattern.name().into(),
        operators: pattern.operators().iter().map(|s| s.to_string()).collect(),
        num_operators: pattern.operators().len(),
        unfused_latency_ms: unfused_ms,
        unfused_gflops: flops / (unfused_ms * 1e6),
        unfused_memory_bytes: ub,
        fused_latency_ms: fused_ms,
        fused_gflops: flops / (fused_ms * 1e6),
        fused_memory_bytes: fb,
        speedup_factor: unfused_ms / fused_ms,
        memory_reduction: 1.0 - fb as f64 / ub as f64,
        gflops_improvement: unfused_ms / fused_ms - 1.0,
        input_shape: shape.input_shape(),
        extra_params: extra,
        num_trials: 10,
        extra: JsonMap::new(),
    }
}

/// An hwcal profile of `name` on `backend`: matmul/bandwidth figures, FullAttention and
/// Conv2d_BN_ReLU at two shapes with the given speedups (large shape), and, when `sweep` has
/// speedups, an attention sweep over S = 64..2048 and a linear sweep over M.
fn hwcal_profile(
    name: &str,
    backend: &str,
    (gflops, bandwidth): (f64, f64),
    conv_speedup: f64,
    attention_speedup: f64,
    sweep: &[f64],
) -> HardwareCalibration {
    let mut cal = HardwareCalibration::new(CalibrationMetadata::new(name), 0.0, 0.0);
    cal.best_measured_gflops = gflops;
    cal.avg_measured_gflops = gflops;
    cal.worst_measured_gflops = gflops;
    cal.measured_bandwidth_gbps = bandwidth;
    let conv = Pattern::Conv2dBnRelu;
    cal.add_fusion_measurement(measurement(
        conv,
        Shape::conv3x3(1, 64, 64, 56),
        1.0,
        1.0 / conv_speedup,
    ));
    cal.add_fusion_measurement(measurement(
        conv,
        Shape::conv3x3(4, 128, 128, 28),
        2.0,
        2.0 / conv_speedup,
    ));
    let att = Pattern::FullAttention;
    let s = |seq| Shape::Attention {
        batch: 4,
        seq,
        dim: 64,
    };
    cal.add_fusion_measurement(measurement(att, s(128), 0.1, 0.1 / attention_speedup));
    cal.add_fusion_measurement(measurement(att, s(256), 0.25, 0.25 / attention_speedup));
    for (i, &speedup) in sweep.iter().enumerate() {
        let seq = 64usize << i;
        let mut f = measurement(
            att,
            Shape::Attention {
                batch: 1,
                seq,
                dim: 64,
            },
            0.05 * (1 << i) as f64,
            0.05 * (1 << i) as f64 / speedup,
        );
        f.extra_params.insert("sweep_axis".into(), json!("S"));
        f.extra_params.insert("sweep_value".into(), json!(seq));
        cal.fusion_sweeps
            .get_or_insert_with(att.name(), Vec::new)
            .push(f);
        let m = 1usize << (2 * i);
        let lin = Pattern::LinearBiasRelu;
        let mut f = measurement(
            lin,
            Shape::Linear {
                m,
                k: 1024,
                n: 1024,
            },
            1.0,
            1.0 / (speedup * 0.9 + 0.15),
        );
        f.extra_params.insert("sweep_axis".into(), json!("M"));
        f.extra_params.insert("sweep_value".into(), json!(m));
        cal.fusion_sweeps
            .get_or_insert_with(lin.name(), Vec::new)
            .push(f);
    }
    cal.hwcal = Some(json!({"backend": backend, "device": {"name": format!("{name} device")}}));
    cal
}

fn save(dir: &Path, file: &str, cal: &HardwareCalibration) -> PathBuf {
    let path = dir.join(file);
    cal.save(&path).unwrap();
    path
}

/// A GPU where fusion pays, a CPU where it does not; both with sweeps.
fn gpu_and_cpu(dir: &Path) -> (PathBuf, PathBuf) {
    let gpu = hwcal_profile(
        "Fast-GPU",
        "gpu",
        (9000.0, 800.0),
        1.4,
        1.8,
        &[0.7, 0.85, 1.05, 1.3, 1.6, 2.0],
    );
    let cpu = hwcal_profile(
        "Laptop-CPU",
        "cpu",
        (400.0, 40.0),
        1.0,
        0.8,
        &[0.6, 0.7, 0.8, 0.85, 0.9, 0.9],
    );
    (save(dir, "gpu.json", &gpu), save(dir, "cpu.json", &cpu))
}

#[test]
fn table_shows_every_pattern_and_missing_profiles_as_missing() {
    let out = report(&three_fixtures(), Format::Table);
    for name in [
        "i7-12700K",
        "NVIDIA-Jetson-Orin-Nano-GPU",
        "Intel-i7-12700K",
    ] {
        assert!(out.contains(name), "{name} missing from:\n{out}");
    }
    // The Python tool's FullAttention_SDPA is compared as FullAttention.
    assert!(out.contains("FullAttention"), "{out}");
    let overview: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Linear_Bias_GELU"))
        .collect();
    assert!(!overview.is_empty(), "{out}");
    assert!(
        overview[0].contains("1.00×") && overview[0].matches("missing").count() == 2,
        "the Jetson and the old i7 have no fusion profiles: {}",
        overview[0]
    );
    assert!(
        !out.contains("0.00×"),
        "a missing pattern must not read as zero:\n{out}"
    );
    assert!(
        !out.lines().any(|l| l.contains('│') && l.contains("flips")),
        "one profile with patterns cannot flip:\n{out}"
    );
    // Hardware summary: measured, theoretical and percentages.
    assert!(out.contains("Hardware"), "{out}");
    assert!(
        out.contains("52.0") && out.contains("103.9%"),
        "i7 bandwidth 51.96 of 50 GB/s:\n{out}"
    );
    assert!(
        out.contains("1199.1") && out.contains("93.7%"),
        "Jetson GFLOPS 1199 of 1280:\n{out}"
    );
}

#[test]
fn markdown_has_the_same_rows_as_pipe_tables() {
    let out = report(&three_fixtures(), Format::Markdown);
    assert!(
        out.starts_with(
            "## hwcal compare: i7-12700K vs NVIDIA-Jetson-Orin-Nano-GPU vs Intel-i7-12700K"
        ),
        "{out}"
    );
    assert!(
        out.contains("| Pattern | A | B | C | Verdict |\n| --- | ---: | ---: | ---: | --- |"),
        "{out}"
    );
    assert!(
        out.contains("| Linear\\_Bias | 0.99× | missing | missing |  |"),
        "{out}"
    );
    assert!(out.contains("#### FullAttention\n"), "{out}");
    assert!(
        out.contains(
            "| A | i7-12700K | 4×256×64 | 0.2530 | 0.3540 | 0.71× | ✗ Fusion is slower! | 1.00× |"
        ),
        "{out}"
    );
    assert!(
        out.contains("| B | NVIDIA-Jetson-Orin-Nano-GPU | missing |"),
        "{out}"
    );
    let table = report(&three_fixtures(), Format::Table);
    for row in [
        "Conv2d_BN_ReLU",
        "QK_Softmax",
        "Bandwidth GB/s",
        "% of peak",
    ] {
        // Names from profiles are markdown-escaped (`Conv2d\_BN\_ReLU` renders as the name).
        let escaped = row.replace('_', "\\_");
        assert!(out.contains(&escaped) && table.contains(row), "{row}");
    }
}

#[test]
fn json_is_the_comparison_for_scripts() {
    let out = report(&three_fixtures(), Format::Json);
    let v: Value = serde_json::from_str(&out).unwrap();
    let profiles = v["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 3);
    assert_eq!(profiles[0]["label"], "i7-12700K");
    assert_eq!(profiles[0]["backend"], Value::Null);
    assert_eq!(profiles[2]["theoretical_bandwidth_gbps"], 75.0);
    assert!(
        profiles[0]["kernels"].as_array().unwrap().len() == 18,
        "9 patterns × 2 variants"
    );
    let patterns = v["patterns"].as_array().unwrap();
    assert_eq!(patterns.len(), 9);
    let att = patterns
        .iter()
        .find(|p| p["pattern"] == "FullAttention")
        .unwrap();
    assert_eq!(att["cells"][0]["source_pattern"], "FullAttention_SDPA");
    assert_eq!(att["cells"][0]["decision"], "slower");
    assert_eq!(att["cells"][1], Value::Null, "missing, not zero");
    assert_eq!(att["cells"][2], Value::Null);
    assert_eq!(att["verdict_flips"], false);
    assert_eq!(v["sweeps"].as_array().unwrap().len(), 0);
}

#[test]
fn verdict_flips_are_marked_and_aliases_compare_as_one_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let (gpu, cpu) = gpu_and_cpu(dir.path());
    let paths = vec![gpu, cpu, fixture("i7_12700k_with_fusion.json")];
    let json: Value = serde_json::from_str(&report(&paths, Format::Json)).unwrap();
    let row = |name: &str| {
        json["patterns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["pattern"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    // Conv2d_BN_ReLU pays 1.4× on the GPU, nothing on the CPU: a flip.
    let conv = row("Conv2d_BN_ReLU");
    assert_eq!(conv["verdict_flips"], true);
    assert_eq!(conv["cells"][0]["decision"], "pays");
    assert_eq!(conv["cells"][1]["decision"], "neutral");
    // The two hwcal profiles share the (4,128,28,28) shape with the fixture: same-shape ratios.
    assert_eq!(conv["same_shape"], true);
    assert_eq!(conv["cells"][0]["input_shape"], json!([4, 128, 28, 28]));
    let ratio = conv["cells"][1]["fused_vs_baseline"].as_f64().unwrap();
    assert!((ratio - 1.0 / 1.4).abs() < 1e-9, "{ratio}");
    // FullAttention (hwcal) and FullAttention_SDPA (Python) are one row.
    let att = row("FullAttention");
    assert!(json["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["pattern"] != "FullAttention_SDPA"));
    assert_eq!(att["cells"][2]["source_pattern"], "FullAttention_SDPA");
    assert_eq!(att["verdict_flips"], true);
    // Patterns only the fixture has are missing on the hwcal profiles.
    assert_eq!(row("Linear_Bias")["cells"][0], Value::Null);

    let table = report(&paths, Format::Table);
    assert!(table.contains("Conv2d_BN_ReLU  ⇄ flips"), "{table}");
    let overview = table
        .lines()
        .find(|l| l.contains("Conv2d_BN_ReLU") && l.contains('│'))
        .unwrap();
    assert!(
        overview.contains("1.40×") && overview.contains("1.00×") && overview.contains("⇄ flips"),
        "{overview}"
    );
    let md = report(&paths, Format::Markdown);
    assert!(
        md.contains("| Conv2d\\_BN\\_ReLU | 1.40× | 1.00× | 1.03× | **⇄ flips** |"),
        "{md}"
    );
    assert!(md.contains("#### Linear\\_Bias\n"), "{md}");
    assert!(!md.contains("#### Linear\\_Bias ⇄"), "{md}");
    // Labels carry the backend; theoretical figures of 0 read as unknown.
    assert!(
        table.contains("Fast-GPU (gpu)") && table.contains("Laptop-CPU (cpu)"),
        "{table}"
    );
    let hw = table
        .lines()
        .find(|l| l.contains("Laptop-CPU (cpu)") && l.contains("400.0"))
        .unwrap();
    assert!(hw.contains("unknown"), "{hw}");
    // Sweeps: crossovers listed.
    assert!(
        table.contains(
            "FullAttention S [A]: 6 points; fused ahead from S≈215; pays (≥1.1×) from S≈294"
        ),
        "{table}"
    );
    assert!(
        table.contains("FullAttention S [B]: 6 points; fused ahead never for good; pays (≥1.1×) never for good"),
        "{table}"
    );
}

#[test]
fn duplicate_labels_are_told_apart_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("monday.json");
    let b = dir.path().join("tuesday.json");
    fs::copy(fixture("i7_12700k_with_fusion.json"), &a).unwrap();
    fs::copy(fixture("i7_12700k_with_fusion.json"), &b).unwrap();
    let out = report(&[a, b], Format::Json);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["profiles"][0]["label"], "i7-12700K [monday.json]");
    assert_eq!(v["profiles"][1]["label"], "i7-12700K [tuesday.json]");
}

#[test]
fn errors_are_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let args = |profiles: Vec<PathBuf>, format, output: Option<PathBuf>| CompareSettings {
        profiles,
        format,
        output,
    };
    let one = run(&args(
        vec![fixture("intel_i7_12700k.json")],
        Format::Table,
        None,
    ))
    .unwrap_err();
    assert_eq!(one.exit_code(), 2);
    assert!(one.to_string().contains("at least two profiles"), "{one}");
    let missing = dir.path().join("nope.json");
    let e = run(&args(
        vec![fixture("intel_i7_12700k.json"), missing.clone()],
        Format::Table,
        None,
    ))
    .unwrap_err();
    assert!(
        e.to_string().contains("nope.json") && !e.to_string().contains('\n'),
        "{e}"
    );
    let garbage = dir.path().join("garbage.json");
    fs::write(&garbage, "{\"not\": \"a profile\"}").unwrap();
    let e = run(&args(
        vec![garbage, fixture("intel_i7_12700k.json")],
        Format::Json,
        None,
    ))
    .unwrap_err();
    assert!(
        e.to_string().contains("garbage.json") && e.to_string().contains("metadata"),
        "{e}"
    );
    let e = run(&args(three_fixtures(), Format::Html, None)).unwrap_err();
    assert!(e.to_string().contains("--output"), "{e}");
}

#[test]
fn output_files_are_written_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    for (format, name) in [
        (Format::Table, "r.txt"),
        (Format::Markdown, "r.md"),
        (Format::Json, "r.json"),
        (Format::Html, "r.html"),
    ] {
        let out = dir.path().join(name);
        let code = run(&CompareSettings {
            profiles: three_fixtures(),
            format,
            output: Some(out.clone()),
        })
        .unwrap();
        assert_eq!(code, 0);
        let text = fs::read_to_string(&out).unwrap();
        assert!(text.contains("i7-12700K"), "{name}");
    }
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn html_is_self_contained_and_escapes_profile_strings() {
    let dir = tempfile::tempdir().unwrap();
    let (gpu, _) = gpu_and_cpu(dir.path());
    let mut evil = HardwareCalibration::load(&fixture("i7_12700k_with_fusion.json")).unwrap();
    evil.metadata.hardware_name = "<script>alert('x')</script> & \"co\"".into();
    let evil = save(dir.path(), "<evil>.json", &evil);
    let html = report(&[gpu, evil], Format::Html);
    assert!(!html.contains("<script>alert"), "unescaped profile string");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"));
    assert!(html.contains("&lt;evil&gt;.json"));
    // Nothing fetched from anywhere: the only URL is the SVG namespace.
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for needle in ["http://", "https://", " src=", " href=", "@import", "url("] {
        assert!(!without_ns.contains(needle), "found {needle}");
    }
    // speedup + 2 rooflines + sweeps (FullAttention S, Linear_Bias_ReLU M).
    assert!(html.contains("data-expected-charts=\"5\""), "chart count");
    assert_eq!(html.matches("<figure class=\"chart\"").count(), 5);
    assert_eq!(html.matches("<svg ").count(), 5);
}

// ---------------------------------------------------------------------------------------------
// The page in a real browser
// ---------------------------------------------------------------------------------------------

/// Headless Chromium, or `None` when it is not installed.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HWCAL_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome-stable",
            "google-chrome",
        ] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Runs headless Chromium with `extra` arguments on `page`; returns (stdout, stderr).
fn run_chromium(browser: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let profile_dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.path().display()))
        .args(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", browser.display()));
    // Read both pipes on threads so a chatty browser cannot block on a full pipe.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out_pipe, &mut s).ok();
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err_pipe, &mut s).ok();
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            child.wait().ok();
            panic!("headless Chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (out_thread.join().unwrap(), err_thread.join().unwrap())
}

/// Lines of Chromium's log that report something from the page itself.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("Uncaught") || l.contains(":CONSOLE") || l.contains("console.error"))
        .collect()
}

fn browser_report(dir: &Path) -> PathBuf {
    let (gpu, cpu) = gpu_and_cpu(dir);
    let paths = vec![gpu, cpu, fixture("i7_12700k_with_fusion.json")];
    let html = report(&paths, Format::Html);
    let page = dir.join("report.html");
    fs::write(&page, html).unwrap();
    page
}

#[test]
fn html_renders_every_chart_in_headless_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var("HWCAL_SKIP_BROWSER").as_deref() == Ok("1") {
            println!("skipped: headless Chromium not found and HWCAL_SKIP_BROWSER=1");
            return;
        }
        panic!(
            "headless Chromium not found (looked for chromium, chromium-browser, google-chrome on \
             PATH): install it with `apt-get install chromium`, or set HWCAL_SKIP_BROWSER=1 to \
             skip this test"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let page = browser_report(dir.path());
    let html = fs::read_to_string(&page).unwrap();
    let expected = html.matches("<figure class=\"chart\"").count();
    // speedup + 3 rooflines + 2 sweeps
    assert_eq!(expected, 6);
    let (dom, stderr) = run_chromium(&browser, &page, &["--dump-dom"]);
    let check = dom
        .lines()
        .find(|l| l.contains("id=\"render-check\""))
        .unwrap_or_else(|| {
            panic!("no #render-check in the dumped DOM:\n{dom}\n--- stderr:\n{stderr}")
        });
    assert!(
        check.contains("data-status=\"ok\"")
            && check.contains(&format!("render check: ok: {expected} charts")),
        "the page's own check failed: {check}\n--- stderr:\n{stderr}"
    );
    let errors = page_errors(&stderr);
    assert!(
        errors.is_empty(),
        "console errors from the page: {errors:#?}"
    );
}

/// Not a test: writes the report in every format and a screenshot of the page into
/// `$HWCAL_SHOT_DIR`
/// (profiles from `$HWCAL_SHOT_PROFILES`, colon-separated, or the constructed ones).
/// `HWCAL_SHOT_DIR=/tmp/x cargo test --test integration compare::screenshot -- --ignored`
#[test]
#[ignore]
fn screenshot() {
    let out = PathBuf::from(std::env::var("HWCAL_SHOT_DIR").expect("set HWCAL_SHOT_DIR"));
    fs::create_dir_all(&out).unwrap();
    let paths: Vec<PathBuf> = match std::env::var("HWCAL_SHOT_PROFILES") {
        Ok(list) => list.split(':').map(PathBuf::from).collect(),
        Err(_) => {
            let (gpu, cpu) = gpu_and_cpu(&out);
            vec![gpu, cpu, fixture("i7_12700k_with_fusion.json")]
        }
    };
    for (format, name) in [
        (Format::Table, "report.txt"),
        (Format::Markdown, "report.md"),
        (Format::Json, "report.json"),
        (Format::Html, "report.html"),
    ] {
        fs::write(out.join(name), report(&paths, format)).unwrap();
    }
    let page = out.join("report.html");
    let browser = chromium().expect("chromium");
    let shot = out.join("shot.png");
    let height = std::env::var("HWCAL_SHOT_HEIGHT").unwrap_or_else(|_| "3000".into());
    let start = Instant::now();
    let (_, stderr) = run_chromium(
        &browser,
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size=1400,{height}"),
            "--hide-scrollbars",
        ],
    );
    println!("screenshot in {:?}: {}", start.elapsed(), shot.display());
    assert!(shot.is_file(), "{stderr}");
}

#[test]
fn unmeasured_speedups_read_not_measured_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut cal = hwcal_profile("Odd-GPU", "gpu", (100.0, 10.0), 1.2, 1.2, &[]);
    for f in cal.fusion_profiles.values_mut() {
        f.unfused_latency_ms = f64::NAN;
        f.fused_latency_ms = f64::NAN;
        f.speedup_factor = f64::NAN;
        f.unfused_gflops = f64::NAN;
        f.fused_gflops = f64::NAN;
        f.extra_params.remove("flops");
    }
    cal.fusion_measurements = Default::default();
    let odd = save(dir.path(), "odd.json", &cal);
    let paths = vec![odd, fixture("i7_12700k_with_fusion.json")];
    let json: Value = serde_json::from_str(&report(&paths, Format::Json)).unwrap();
    let conv = json["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pattern"] == "Conv2d_BN_ReLU")
        .unwrap();
    assert_eq!(conv["cells"][0]["decision"], "unknown");
    assert_eq!(conv["cells"][0]["speedup"], Value::Null);
    assert_eq!(conv["verdict_flips"], false, "unknown does not flip");
    let md = report(&paths, Format::Markdown);
    assert!(md.contains("| Conv2d\\_BN\\_ReLU | n/a | 1.03× |"), "{md}");
    assert!(md.contains("? Not measured"), "{md}");
    let html = report(&paths, Format::Html);
    assert!(html.contains("A: not measured"), "the bar chart says so");
}

/// Real hwcal output end to end: a tiny CPU calibration with sweeps, compared with the Python
/// calibrator's profile, in every format.
#[test]
fn real_tiny_calibration_compares_with_a_python_profile() {
    let dir = tempfile::tempdir().unwrap();
    let cpu = dir.path().join("cpu.json");
    let out = Command::new(env!("CARGO_BIN_EXE_hwcal"))
        .args([
            "calibrate",
            "--backend",
            "cpu",
            "--preset",
            "tiny",
            "--fusion-patterns",
            "attention",
            "--sweep",
            "--hardware",
            "Tiny-CPU",
            "--no-summary",
            "--output",
        ])
        .arg(&cpu)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "calibrate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths = vec![cpu, fixture("i7_12700k_with_fusion.json")];
    let json: Value = serde_json::from_str(&report(&paths, Format::Json)).unwrap();
    assert_eq!(json["profiles"][0]["label"], "Tiny-CPU (cpu)");
    let att = json["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pattern"] == "FullAttention")
        .unwrap();
    assert!(
        att["cells"][0].is_object() && att["cells"][1].is_object(),
        "{att}"
    );
    let sweeps = json["sweeps"].as_array().unwrap();
    assert_eq!(
        sweeps.len(),
        hwcal::pattern::Family::Attention.patterns().count(),
        "every attention pattern swept along S"
    );
    assert!(sweeps.iter().all(|s| s["axis"] == "S"));
    let table = report(&paths, Format::Table);
    assert!(table.contains("FullAttention S [A]: 3 points"), "{table}");
    // The calibration measured the fp32 matmul and peaks: a precisions section and chart.
    assert_eq!(json["profiles"][0]["precisions"][0]["precision"], "fp32");
    assert!(table.contains("Precisions"), "{table}");
    let html = report(&paths, Format::Html);
    // speedup + precisions + 2 rooflines + one sweep per attention pattern
    let charts = 4 + hwcal::pattern::Family::Attention.patterns().count();
    assert!(html.contains(&format!("data-expected-charts=\"{charts}\"")));
    assert!(html.contains("<h2>Precisions</h2>"));
}

// ---------------------------------------------------------------------------------------------
// No input crashes hwcal (issue 9): absurd numbers, hostile names, dangerous --output
// ---------------------------------------------------------------------------------------------

/// Regression inputs: small profiles holding one extreme value each.
const FUZZ: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fuzz");

fn fuzz(name: &str) -> PathBuf {
    Path::new(FUZZ).join(name)
}

/// What a run of the hwcal binary gave.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the hwcal binary with `args`, killing it and failing the test when it runs longer
/// than `limit` (a hang must fail, not hang the test run).
fn hwcal_within<I, S>(args: I, limit: Duration) -> Ran
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_hwcal"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut out_pipe, &mut s).ok();
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut err_pipe, &mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("hwcal did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    Ran {
        code: status.code(),
        stdout: text(out_thread.join().unwrap()),
        stderr: text(err_thread.join().unwrap()),
    }
}

const LIMIT: Duration = Duration::from_secs(60);

/// The key an `extreme-<what>-<value>.json` regression input sets.
fn fuzz_key(name: &str) -> &'static str {
    [
        ("extreme-gflops-", "best_measured_gflops"),
        (
            "extreme-fused-gflops-",
            "fusion_profiles.FullAttention.fused_gflops",
        ),
        ("extreme-bandwidth-", "measured_bandwidth_gbps"),
        (
            "extreme-speedup-",
            "fusion_profiles.FullAttention.speedup_factor",
        ),
        (
            "extreme-sweep-value-",
            "fusion_sweeps.FullAttention[1].extra_params.sweep_value",
        ),
        ("nonfinite-peak-gflops-", "theoretical_peak_gflops"),
    ]
    .iter()
    .find(|(prefix, _)| name.starts_with(prefix))
    .map(|(_, key)| *key)
    .unwrap_or_else(|| panic!("{name}: which key?"))
}

#[test]
fn extreme_numbers_in_a_profile_are_refused_quickly_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut names: Vec<String> = fs::read_dir(FUZZ)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("extreme-") || n.starts_with("nonfinite-peak"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 16, "{names:?}");
    for name in &names {
        let out = dir.path().join(format!("{name}.html"));
        let args: Vec<std::ffi::OsString> = vec![
            "compare".into(),
            fuzz("valid-profile.json").into(),
            fuzz(name).into(),
            "--format".into(),
            "html".into(),
            "--output".into(),
            out.clone().into(),
        ];
        let ran = hwcal_within(&args, LIMIT);
        assert_eq!(ran.code, Some(2), "{name}: {}", ran.stderr);
        let err = ran.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
        assert!(
            err.contains(name.as_str()) && err.contains(&format!("{}: ", fuzz_key(name))),
            "{name}: names the file and the key: {err}"
        );
        assert!(!out.exists(), "{name}: nothing written");
    }
}

#[test]
fn every_real_profile_still_loads_within_the_limits() {
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        PathBuf::from(FIXTURES),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles"),
    ] {
        files.extend(
            fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json")),
        );
    }
    files.push(fuzz("valid-profile.json"));
    files.push(fuzz("nonfinite-speedup-NaN.json"));
    assert!(files.len() >= 9, "{files:?}");
    for f in &files {
        HardwareCalibration::load(f).unwrap_or_else(|e| panic!("{e}"));
    }
    // ... and every one draws, with its NaN speedups (not measured) as n/a.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.html");
    let mut args: Vec<std::ffi::OsString> = vec!["compare".into()];
    args.extend(files.iter().map(|f| f.clone().into_os_string()));
    args.extend(["--format".into(), "html".into(), "--output".into()]);
    args.push(out.clone().into_os_string());
    let ran = hwcal_within(&args, LIMIT);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(fs::read_to_string(&out).unwrap().contains("render-check"));
    let ran = hwcal_within(
        [
            "compare",
            fuzz("valid-profile.json").to_str().unwrap(),
            fuzz("nonfinite-speedup-NaN.json").to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let overview = ran
        .stdout
        .lines()
        .find(|l| l.contains("FullAttention") && l.contains('│'))
        .unwrap();
    assert!(
        overview.contains("1.25×") && overview.contains("n/a"),
        "{overview}"
    );
}

/// A profile built in code (past the loader's checks) with `x` in every figure the charts
/// use.
fn absurd_profile(x: f64) -> HardwareCalibration {
    let mut cal = hwcal_profile("Absurd", "cpu", (x, x), 1.2, 1.3, &[0.8, 1.0, 1.2]);
    cal.theoretical_peak_gflops = x;
    cal.theoretical_bandwidth_gbps = x;
    for f in cal.fusion_profiles.values_mut() {
        f.speedup_factor = x;
        f.fused_gflops = x;
        f.extra_params.insert("flops".into(), json!(x));
    }
    for list in cal.fusion_sweeps.values_mut() {
        list[0].extra_params.insert("sweep_value".into(), json!(x));
        list[1].speedup_factor = x;
    }
    cal
}

#[test]
fn charts_stay_bounded_when_code_hands_them_absurd_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (gpu, _) = gpu_and_cpu(dir.path());
    let good = HardwareCalibration::load(&gpu).unwrap();
    for x in [5e-324, 1e-310, 1e308, f64::NAN, f64::INFINITY, 0.0] {
        let profiles = vec![good.clone(), absurd_profile(x)];
        let paths = vec![gpu.clone(), dir.path().join("absurd.json")];
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let pages: Vec<String> = [Format::Html, Format::Table, Format::Markdown, Format::Json]
                .into_iter()
                .map(|f| render(&paths, &profiles, f).unwrap())
                .collect();
            tx.send(pages).ok();
        });
        let pages = rx
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("{x:e}: no report within {LIMIT:?}"));
        for page in &pages {
            assert!(page.len() < 4 << 20, "{x:e}: {} bytes", page.len());
            assert!(
                !page.contains("00000000000000000000"),
                "{x:e}: hundreds of digits"
            );
        }
        if x.is_finite() && x != 0.0 {
            assert!(
                pages[0].contains("Not plotted"),
                "{x:e}: the page says what it left out"
            );
            assert!(pages[1].contains("invalid"), "{x:e}: the table says so");
        }
    }
}

#[test]
fn control_codes_and_markdown_links_in_names_stay_inert() {
    let dir = tempfile::tempdir().unwrap();
    let (gpu, _) = gpu_and_cpu(dir.path());
    let mut evil = HardwareCalibration::load(&gpu).unwrap();
    let name = "evil\u{1b}[2J\u{7}\u{9b}31m [x](javascript:alert(1)) <b>|";
    evil.metadata.hardware_name = name.into();
    evil.hwcal = Some(json!({"backend": "gpu\u{1b}]0;title\u{7}", "device": {"name": name}}));
    let mut f = evil.fusion_profiles.values().next().unwrap().clone();
    f.fusion_pattern = "Pat\u{1b}[31m[y](javascript:x)".into();
    evil.add_fusion_pattern(f);
    for list in evil.fusion_sweeps.values_mut() {
        for p in list.iter_mut() {
            p.extra_params
                .insert("sweep_axis".into(), json!("S\u{1b}[1m](javascript:z)"));
        }
    }
    let evil = save(dir.path(), "evil.json", &evil);
    let paths = [gpu.to_str().unwrap(), evil.to_str().unwrap()];
    let run_format = |format: &str| {
        let ran = hwcal_within(["compare", paths[0], paths[1], "--format", format], LIMIT);
        assert_eq!(ran.code, Some(0), "{format}: {}", ran.stderr);
        ran.stdout
    };
    let control = |s: &str| s.chars().any(|c| c.is_control() && c != '\n');
    let table = run_format("table");
    assert!(!control(&table), "no control code reaches the terminal");
    assert!(table.contains("evil?[2J??31m"), "{table}");
    let md = run_format("markdown");
    assert!(!control(&md), "{md}");
    for raw in ["[x](javascript", "[y](javascript", "](javascript:z)", "<b>"] {
        assert!(!md.contains(raw), "{raw} passed through:\n{md}");
    }
    assert!(md.contains("\\[x\\]\\(javascript:alert\\(1\\)\\)"), "{md}");
    // HTML escapes what markup would make of them; no link, no tag.
    let out = dir.path().join("evil.html");
    let ran = hwcal_within(
        [
            "compare",
            paths[0],
            paths[1],
            "--format",
            "html",
            "--output",
            out.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let html = fs::read_to_string(&out).unwrap();
    assert!(
        !html.contains("<b>") && !html.contains("<a "),
        "unescaped markup"
    );
    assert!(html.contains("[x](javascript:alert(1)) &lt;b&gt;|"));
    // Errors name keys from the file without their control codes.
    let mut v: Value = serde_json::from_str(&fs::read_to_string(&evil).unwrap()).unwrap();
    let profiles = v["fusion_profiles"].as_object_mut().unwrap();
    let mut entry = profiles.values().next().unwrap().clone();
    entry["speedup_factor"] = json!(1e308);
    profiles.insert("K\u{1b}[2J\u{7}".into(), entry);
    let bad = dir.path().join("bad.json");
    fs::write(&bad, serde_json::to_string(&v).unwrap()).unwrap();
    let ran = hwcal_within(["compare", paths[0], bad.to_str().unwrap()], LIMIT);
    assert_eq!(ran.code, Some(2));
    assert!(!control(&ran.stderr), "{:?}", ran.stderr);
    assert!(
        ran.stderr
            .contains("fusion_profiles.K?[2J?.speedup_factor: 1e308"),
        "{}",
        ran.stderr
    );
}

#[test]
fn output_never_replaces_a_profile_or_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (gpu, cpu) = gpu_and_cpu(dir.path());
    let before = fs::read(&gpu).unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&gpu, dir.path().join("link.json")).unwrap();
    fs::hard_link(&gpu, dir.path().join("hard.json")).unwrap();
    let other = dir.path().join("other-profile.json");
    fs::copy(fixture("intel_i7_12700k.json"), &other).unwrap();
    let refused_profile = dir.path().join("refused-but-a-profile.json");
    fs::copy(fuzz("extreme-speedup-1e308.json"), &refused_profile).unwrap();
    let d = dir.path().display();
    let spellings = [
        gpu.display().to_string(),
        format!("{d}/./gpu.json"),
        format!("{d}/sub/../gpu.json"),
        #[cfg(unix)]
        format!("{d}/link.json"),
        format!("{d}/hard.json"),
    ];
    for format in ["table", "html"] {
        for output in &spellings {
            let ran = hwcal_within(
                [
                    "compare",
                    gpu.to_str().unwrap(),
                    cpu.to_str().unwrap(),
                    "--format",
                    format,
                    "--output",
                    output,
                ],
                LIMIT,
            );
            assert_eq!(ran.code, Some(2), "{output}: {}", ran.stderr);
            assert!(
                ran.stderr.contains("is the input profile"),
                "{output}: {}",
                ran.stderr
            );
            assert_eq!(fs::read(&gpu).unwrap(), before, "{output}: file untouched");
        }
    }
    for (output, why) in [
        (other.clone(), "holds a hwcal/graphs profile"),
        (refused_profile.clone(), "holds a hwcal/graphs profile"),
        (sub.clone(), "is a directory"),
    ] {
        let kept = fs::metadata(&output)
            .unwrap()
            .is_file()
            .then(|| fs::read(&output).unwrap());
        let ran = hwcal_within(
            [
                "compare",
                gpu.to_str().unwrap(),
                cpu.to_str().unwrap(),
                "--output",
                output.to_str().unwrap(),
            ],
            LIMIT,
        );
        assert_eq!(ran.code, Some(2), "{}: {}", output.display(), ran.stderr);
        assert!(ran.stderr.contains(why), "{}", ran.stderr);
        assert_eq!(ran.stderr.trim_end().lines().count(), 1, "{}", ran.stderr);
        if let Some(kept) = kept {
            assert_eq!(fs::read(&output).unwrap(), kept, "untouched");
        }
    }
    assert!(
        sub.read_dir().unwrap().next().is_none(),
        "nothing written into the directory"
    );
    // A device is not replaced by a file (as root, a rename would replace /dev/null).
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let ran = hwcal_within(
            [
                "compare",
                gpu.to_str().unwrap(),
                cpu.to_str().unwrap(),
                "--output",
                "/dev/null",
            ],
            LIMIT,
        );
        assert_eq!(ran.code, Some(2), "{}", ran.stderr);
        assert!(ran.stderr.contains("not a regular file"), "{}", ran.stderr);
        let null = fs::metadata("/dev/null").unwrap().file_type();
        assert!(null.is_char_device());
    }
    // The output is checked before any work: a bad location fails even when a profile is bad.
    let blocked = dir.path().join("gpu.json/report.html");
    let ran = hwcal_within(
        [
            "compare",
            gpu.to_str().unwrap(),
            fuzz("extreme-gflops-1e308.json").to_str().unwrap(),
            "--output",
            blocked.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("not a directory"), "{}", ran.stderr);
    // A previous report of the same format is replaced.
    for format in ["table", "markdown", "json", "html"] {
        let report = dir.path().join(format!("report.{format}"));
        for round in 0..2 {
            let ran = hwcal_within(
                [
                    "compare",
                    gpu.to_str().unwrap(),
                    cpu.to_str().unwrap(),
                    "--format",
                    format,
                    "--output",
                    report.to_str().unwrap(),
                ],
                LIMIT,
            );
            assert_eq!(ran.code, Some(0), "{format} round {round}: {}", ran.stderr);
        }
        assert!(fs::read_to_string(&report).unwrap().contains("Fast-GPU"));
    }
}

#[test]
fn html_with_left_out_values_passes_its_render_check_in_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var("HWCAL_SKIP_BROWSER").as_deref() == Ok("1") {
            println!("skipped: headless Chromium not found and HWCAL_SKIP_BROWSER=1");
            return;
        }
        panic!("headless Chromium not found: install `chromium` or set HWCAL_SKIP_BROWSER=1");
    };
    let dir = tempfile::tempdir().unwrap();
    let (gpu, _) = gpu_and_cpu(dir.path());
    for x in [1e308, 5e-324] {
        let profiles = vec![HardwareCalibration::load(&gpu).unwrap(), absurd_profile(x)];
        let paths = vec![gpu.clone(), dir.path().join("absurd.json")];
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            tx.send(render(&paths, &profiles, Format::Html).unwrap())
                .ok();
        });
        let html = rx
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("{x:e}: no page within {LIMIT:?}"));
        assert!(html.contains("Not plotted"), "{x:e}");
        let page = dir.path().join("absurd.html");
        fs::write(&page, &html).unwrap();
        let expected = html.matches("<figure class=\"chart\"").count();
        let (dom, stderr) = run_chromium(&browser, &page, &["--dump-dom"]);
        let check = dom
            .lines()
            .find(|l| l.contains("id=\"render-check\""))
            .unwrap_or_else(|| panic!("{x:e}: no #render-check:\n{stderr}"));
        assert!(
            check.contains(&format!("render check: ok: {expected} charts")),
            "{x:e}: {check}"
        );
    }
}
