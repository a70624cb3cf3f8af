//! Issue 9 end to end: interruptions keep finished work, concurrent writers lose nothing, bad
//! outputs are refused before measuring, names cannot inject terminal codes or collide, and
//! flag errors are one line.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn hwcal_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwcal"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the hwcal binary runs")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A tiny calibration of one fusion pattern into a profile named `hardware`, then `extra`.
fn tiny_pattern<'a>(pattern: &'a str, hardware: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "calibrate",
        "--preset",
        "tiny",
        "--operations",
        "none",
        "--fusion-patterns",
        pattern,
        "--hardware",
        hardware,
    ];
    args.extend_from_slice(extra);
    args
}

/// A tiny calibration with many measurements, long enough to be interrupted.
const LONG_TINY: &[&str] = &[
    "calibrate",
    "--preset",
    "tiny",
    "--operations",
    "memory,matmul",
    "--fusion-patterns",
    "all",
    "--no-summary",
    "--hardware",
    "test-device",
];

/// Starts a long tiny calibration into `output`, waits for the first line of stdout that starts
/// with `trigger`, then sends `signals` SIGINTs 20 ms apart (two signals sent at once can
/// merge into one while the first is pending); returns the exit status and what it printed.
fn interrupt_after(output: &Path, trigger: &str, signals: usize) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hwcal"))
        .args(LONG_TINY)
        .arg("--output")
        .arg(output)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let start = Instant::now();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.trim_start().starts_with(trigger) || start.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let kills = vec![format!("kill -INT {}", child.id()); signals].join("; sleep 0.02; ");
    assert!(Command::new("sh")
        .args(["-c", &kills])
        .status()
        .unwrap()
        .success());
    for line in lines {
        seen.push_str(&line.unwrap());
        seen.push('\n');
    }
    let out = child.wait_with_output().unwrap();
    seen.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), seen)
}

/// Issue 9, defect 7: the first Ctrl-C keeps what finished, marks the profile and exits 130.
#[test]
fn an_interrupted_calibration_writes_what_it_finished() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("p.json");
    let (code, printed) = interrupt_after(&output, "copy", 1);
    assert_eq!(code, Some(130), "{printed}");
    assert!(printed.contains("interrupted"), "{printed}");
    let profile = json(&output);
    let ops = profile["operation_profiles"].as_object().unwrap();
    assert!(!ops.is_empty(), "the finished copy is kept: {printed}");
    let missing = profile["hwcal"]["interrupted"]["not_measured"]
        .as_array()
        .unwrap();
    assert!(!missing.is_empty(), "{printed}");
    // Points cut short are either kept (enough samples, said so) or listed as not measured.
    assert!(profile["hwcal"]["interrupted"]["cut_short"].is_array());
    // What was not measured is named, and is not in the profile.
    assert!(missing
        .iter()
        .any(|m| m.as_str().unwrap().contains("Attention")));
    // The profile still loads and shows.
    let shown = hwcal_in(dir.path(), &["show", "p.json"]);
    assert!(shown.status.success());
}

/// Issue 9, defect 7: a second Ctrl-C quits at once and leaves the old file as it was.
#[test]
fn a_second_interrupt_quits_and_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("p.json");
    let mut args = LONG_TINY.to_vec();
    args.retain(|a| *a != "all" && *a != "--fusion-patterns");
    args[4] = "matmul";
    let first = hwcal_in(dir.path(), &[&args[..], &["--output", "p.json"]].concat());
    assert!(first.status.success(), "{first:?}");
    let before = std::fs::read(&output).unwrap();
    // `sampling:` is printed just before the preflight's 250 ms window, during which nothing is
    // written: both signals land before any write could start.
    let (code, printed) = interrupt_after(&output, "sampling:", 2);
    assert_eq!(code, Some(130), "{printed}");
    assert_eq!(std::fs::read(&output).unwrap(), before, "{printed}");
}

/// Issue 9, defect 4: two calibrations into one output at once both land.
#[test]
fn concurrent_calibrations_into_one_output_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let _ = std::fs::remove_file(dir.path().join("p.json"));
        let children: Vec<_> = ["Linear_Bias", "Conv2d_BN"]
            .iter()
            .map(|pattern| {
                Command::new(env!("CARGO_BIN_EXE_hwcal"))
                    .args(tiny_pattern(
                        pattern,
                        "test-device",
                        &["--no-summary", "--output", "p.json"],
                    ))
                    .current_dir(dir.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{out:?}");
        }
        let profile = json(&dir.path().join("p.json"));
        let patterns: Vec<&String> = profile["fusion_profiles"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(patterns.len(), 2, "round {round}: {patterns:?}");
    }
}

/// Issue 9, defect 6: an output that cannot be written is refused before measuring.
#[test]
fn bad_outputs_are_refused_before_measuring() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "x").unwrap();
    for (output, needle) in [
        (".", "is a directory"),
        ("file/p.json", "not a directory"),
        ("/proc/p.json", "/proc"),
    ] {
        let start = Instant::now();
        let out = hwcal_in(
            dir.path(),
            &[
                "calibrate",
                "--preset",
                "tiny",
                "--operations",
                "memory",
                "--output",
                output,
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{output}: {stderr}");
        assert!(stderr.contains(needle), "{output}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(!stdout.contains("Memory Bandwidth"), "{output}: measured");
        assert!(start.elapsed() < Duration::from_secs(20));
    }
}

/// Issue 9, defect 10: control codes in a profile's names never reach the terminal.
#[test]
fn show_prints_no_control_codes_from_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out = hwcal_in(
        dir.path(),
        &tiny_pattern(
            "Linear_Bias",
            "evil\u{1b}]0;owned\u{7}\u{1b}[2J",
            &["--output", "p.json"],
        ),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{7}'));
    // The name is kept as it was in the file.
    let profile = json(&dir.path().join("p.json"));
    assert!(profile["metadata"]["hardware_name"]
        .as_str()
        .unwrap()
        .contains('\u{1b}'));
    let shown = hwcal_in(dir.path(), &["show", "p.json"]);
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success());
    assert!(stdout.contains("evil?]0;owned??[2J"), "{stdout}");
    assert!(!stdout.chars().any(|c| c.is_control() && c != '\n'));
}

/// Issue 9, defect 12: names without letters get distinct file names, not `device.json`.
#[test]
fn odd_hardware_names_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["..", "🚀", "日本語"] {
        let out = hwcal_in(
            dir.path(),
            &tiny_pattern("Linear_Bias", name, &["--no-summary"]),
        );
        assert!(out.status.success(), "{name}: {out:?}");
    }
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.contains(&"日本語.json".to_string()), "{files:?}");
}

/// Issue 9, defects 11 and 12: flag errors are one line; `--threads` has a bound; a negative
/// number is judged as a value.
#[test]
fn flag_errors_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            &["calibrate", "--bogus"][..],
            "unexpected argument '--bogus'",
        ),
        (&["calibrate", "--peak-gflops", "-1"], "--peak-gflops -1"),
        (&["calibrate", "--threads", "100000"], "--threads 100000"),
        (&["compare"], "required"),
    ] {
        let out = hwcal_in(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
