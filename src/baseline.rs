//! Baselines for `hwcal bench`, measured outside hwcal: numpy's float32 matmul (whatever BLAS
//! numpy ships, usually OpenBLAS) and a STREAM-style copy/triad written in C with OpenMP.
//!
//! Both run as child processes measured in the same run as hwcal's own figures, so the ratio
//! of the two is meaningful on a noisy machine. The reference programs live in `benches/` and
//! are embedded in the binary at compile time:
//! - `benches/numpy_matmul.py`, run with `python -c <source>`;
//! - `benches/stream_triad.c`, compiled with `cc -O3 -march=native -fopenmp` in a temporary
//!   directory.
//!
//! Every failure (tool missing, numpy not importable, compile error, wrong result, unparsable
//! output) is an [`Error::Baseline`] whose message says what to install or pass instead.

use std::io::ErrorKind;
use std::process::{Command, Output};

use crate::{Error, Result};

/// Source of the numpy matmul timing script.
const NUMPY_MATMUL_PY: &str = include_str!("../benches/numpy_matmul.py");
/// Source of the C STREAM copy/triad program.
const STREAM_TRIAD_C: &str = include_str!("../benches/stream_triad.c");

/// Environment variables removed from the numpy child's environment.
///
/// Some machines set `OPENBLAS_CORETYPE` (e.g. `Haswell`) and `OPENBLAS_L2_SIZE` globally as a
/// workaround for old OpenBLAS builds that misdetect newer CPUs. A current numpy wheel's
/// OpenBLAS detects the CPU correctly, and the override makes it pick older, narrower kernels
/// (on an AVX-512 Zen 5, `Haswell` AVX2 kernels run f32 matmul at about half speed), which
/// would make the reference unfairly slow. They are removed for the child only; hwcal's own
/// environment is unchanged.
pub const NUMPY_ENV_REMOVED: [&str; 2] = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

/// Thread-count variables set to `threads` for the numpy child (whichever BLAS numpy uses).
const THREAD_ENV: [&str; 5] = [
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
];

/// Timings of numpy's float32 matmul, from [`numpy_matmul`].
#[derive(Clone, Debug, PartialEq)]
pub struct NumpyMatmul {
    /// Seconds per timed trial, in run order (one entry per trial).
    pub seconds: Vec<f64>,
    /// What BLAS numpy used, one line: library (`internal_api`), version/configuration, core
    /// type and thread count as far as they could be found (via threadpoolctl when importable,
    /// else by asking a loaded OpenBLAS directly, else `numpy.show_config`).
    pub blas_info: String,
}

impl NumpyMatmul {
    /// GFLOPS of each trial for an `n` x `n` x `n` matmul (`2 n^3` floating-point operations).
    pub fn gflops(&self, n: usize) -> Vec<f64> {
        let flop = 2.0 * (n as f64).powi(3);
        self.seconds.iter().map(|s| flop / s * 1e-9).collect()
    }
}

/// Bandwidths of the C STREAM program, from [`stream_c`].
#[derive(Clone, Debug, PartialEq)]
pub struct StreamC {
    /// Copy `c[i] = a[i]` bandwidth per trial in GB/s (1e9 bytes/s), counting
    /// `2 * array_bytes` per iteration.
    pub copy_gbps: Vec<f64>,
    /// Triad `a[i] = b[i] + s * c[i]` bandwidth per trial in GB/s, counting `3 * array_bytes`
    /// per iteration.
    pub triad_gbps: Vec<f64>,
    /// First line of `cc --version`, e.g. `gcc (Debian 12.2.0-14) 12.2.0`.
    pub compiler: String,
}

/// Seconds per trial of numpy's float32 `n` x `n` matmul, after `warmup` untimed runs.
///
/// Runs `python` (e.g. `"python3"`, or a path to a virtual environment's interpreter) with the
/// embedded script `benches/numpy_matmul.py`, which times `numpy.matmul(a, b, out=c)` (the
/// BLAS call behind `a @ b`, into a preallocated output so that allocating the result is not
/// timed), prints one line per trial and checks the product against float64.
///
/// The child's environment is hwcal's, except that [`NUMPY_ENV_REMOVED`]
/// (`OPENBLAS_CORETYPE`, `OPENBLAS_L2_SIZE`) are removed — they are set on some machines for
/// old OpenBLAS builds and slow a current numpy down — and the OpenMP/BLAS thread counts
/// (`OMP_NUM_THREADS`, `OPENBLAS_NUM_THREADS`, `MKL_NUM_THREADS`, ...) are set to `threads`.
///
/// Errors ([`Error::Baseline`]): `python` cannot be run, numpy is not importable, the script
/// fails or its result is wrong, or its output cannot be parsed. `n`, `trials` or `threads`
/// of 0 is an [`Error::Usage`].
pub fn numpy_matmul(
    python: &str,
    n: usize,
    warmup: usize,
    trials: usize,
    threads: usize,
) -> Result<NumpyMatmul> {
    numpy_matmul_of(python, NumpyType::Float32, n, warmup, trials, threads)
}

/// The element type of a numpy matmul reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumpyType {
    /// `float32` (sgemm).
    Float32,
    /// `float64` (dgemm).
    Float64,
}

/// [`numpy_matmul`] in `dtype`.
pub fn numpy_matmul_of(
    python: &str,
    dtype: NumpyType,
    n: usize,
    warmup: usize,
    trials: usize,
    threads: usize,
) -> Result<NumpyMatmul> {
    if n == 0 || trials == 0 || threads == 0 {
        return Err(Error::usage(format!(
            "numpy matmul reference needs n, trials and threads >= 1 (got n={n}, \
             trials={trials}, threads={threads})"
        )));
    }
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(NUMPY_MATMUL_PY)
        .arg(n.to_string())
        .arg(warmup.to_string())
        .arg(trials.to_string())
        .arg(match dtype {
            NumpyType::Float32 => "float32",
            NumpyType::Float64 => "float64",
        });
    for var in NUMPY_ENV_REMOVED {
        cmd.env_remove(var);
    }
    for var in THREAD_ENV {
        cmd.env(var, threads.to_string());
    }
    let out = cmd.output().map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            Error::Baseline(format!(
                "{python} with numpy not found: install python3 and `pip install numpy`, \
                 or pass --no-numpy"
            ))
        } else {
            Error::Baseline(format!(
                "cannot run {python} for the numpy reference: {e}; pass --no-numpy to skip it"
            ))
        }
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if out.status.code() == Some(3) && stderr.contains("numpy-missing") {
            return Err(Error::Baseline(format!(
                "numpy is not importable by {python}: `{python} -m pip install numpy`, or pass \
                 --no-numpy ({})",
                last_line(&stderr)
            )));
        }
        return Err(Error::Baseline(format!(
            "numpy matmul reference failed ({python}, {}): {}",
            status_text(&out),
            last_line(&stderr)
        )));
    }
    parse_numpy_output(&stdout, trials)
}

/// Parses the numpy script's `blas ...` / `trial <seconds>` lines.
fn parse_numpy_output(stdout: &str, trials: usize) -> Result<NumpyMatmul> {
    let mut seconds = Vec::with_capacity(trials);
    let mut blas_info = String::from("unknown");
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("blas ") {
            blas_info = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("trial ") {
            seconds.push(parse_positive(rest, "numpy matmul trial", line)?);
        }
    }
    if seconds.len() != trials {
        return Err(Error::Baseline(format!(
            "numpy matmul reference printed {} trial lines, expected {trials}",
            seconds.len()
        )));
    }
    Ok(NumpyMatmul { seconds, blas_info })
}

/// STREAM-style copy and triad bandwidth of f32 arrays of `array_bytes` bytes each, from the
/// embedded C program `benches/stream_triad.c`.
///
/// The program is compiled with `cc -O3 -march=native -fopenmp` (retried without
/// `-march=native` if the compiler rejects it) in a temporary directory that is removed
/// afterwards, and run with `OMP_NUM_THREADS=threads` (other `OMP_*` variables such as
/// `OMP_PROC_BIND` are inherited). It allocates three page-aligned arrays, first-touches them
/// in parallel with the kernels' static schedule, runs one untimed warm-up iteration, then
/// `trials` timed iterations of copy `c[i] = a[i]` (counted as `2 * array_bytes`) and triad
/// `a[i] = b[i] + s * c[i]` (counted as `3 * array_bytes`; STREAM's convention, with no
/// write-allocate traffic counted), and checks the arrays at the end. `array_bytes` is rounded
/// down to whole f32 elements.
///
/// Errors ([`Error::Baseline`]): no compiler, no OpenMP, a compile error, a non-zero exit
/// (including a wrong result) or unparsable output. `array_bytes < 4`, `trials` or `threads`
/// of 0 is an [`Error::Usage`].
pub fn stream_c(cc: &str, array_bytes: usize, trials: usize, threads: usize) -> Result<StreamC> {
    if array_bytes < std::mem::size_of::<f32>() || trials == 0 || threads == 0 {
        return Err(Error::usage(format!(
            "stream reference needs array_bytes >= 4, trials and threads >= 1 (got \
             array_bytes={array_bytes}, trials={trials}, threads={threads})"
        )));
    }
    let compiler = compiler_version(cc)?;
    let dir = tempfile::Builder::new()
        .prefix("hwcal-stream-")
        .tempdir()
        .map_err(|e| Error::Baseline(format!("cannot create a temporary directory: {e}")))?;
    let src = dir.path().join("stream_triad.c");
    let exe = dir.path().join("stream_triad");
    std::fs::write(&src, STREAM_TRIAD_C).map_err(|source| Error::Io {
        path: src.clone(),
        source,
    })?;

    let compile = |native: bool| -> Result<Output> {
        let mut cmd = Command::new(cc);
        cmd.arg("-O3");
        if native {
            cmd.arg("-march=native");
        }
        cmd.arg("-fopenmp").arg(&src).arg("-o").arg(&exe);
        cmd.output()
            .map_err(|e| Error::Baseline(format!("cannot run C compiler {cc}: {e}")))
    };
    let mut built = compile(true)?;
    if !built.status.success() {
        let stderr = String::from_utf8_lossy(&built.stderr);
        if stderr.contains("march") {
            built = compile(false)?;
        }
    }
    if !built.status.success() {
        let stderr = String::from_utf8_lossy(&built.stderr);
        let msg = if stderr.contains("omp.h") || stderr.contains("fopenmp") {
            format!(
                "no C compiler with OpenMP: {cc} cannot compile with -fopenmp; apt-get install \
                 gcc (or libomp-dev for clang), or pass --cc ({})",
                last_line(&stderr)
            )
        } else {
            format!(
                "compiling the stream reference with {cc} failed ({}): {}",
                status_text(&built),
                last_line(&stderr)
            )
        };
        return Err(Error::Baseline(msg));
    }

    let out = Command::new(&exe)
        .arg(array_bytes.to_string())
        .arg(trials.to_string())
        .env("OMP_NUM_THREADS", threads.to_string())
        .output()
        .map_err(|e| Error::Baseline(format!("cannot run the stream reference: {e}")))?;
    if !out.status.success() {
        return Err(Error::Baseline(format!(
            "stream reference failed ({}, {array_bytes}-byte arrays): {}",
            status_text(&out),
            last_line(&String::from_utf8_lossy(&out.stderr))
        )));
    }
    let mut r = parse_stream_output(&String::from_utf8_lossy(&out.stdout), trials)?;
    r.compiler = compiler;
    Ok(r)
}

/// First line of `cc --version`; a missing compiler is the "install gcc" error.
fn compiler_version(cc: &str) -> Result<String> {
    let out = Command::new(cc).arg("--version").output().map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            Error::Baseline(format!(
                "no C compiler with OpenMP: {cc} not found; apt-get install gcc, or pass --cc"
            ))
        } else {
            Error::Baseline(format!("cannot run C compiler {cc}: {e}"))
        }
    })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

/// Parses the C program's `copy <GB/s>` / `triad <GB/s>` lines (other lines are ignored).
fn parse_stream_output(stdout: &str, trials: usize) -> Result<StreamC> {
    let mut copy_gbps = Vec::with_capacity(trials);
    let mut triad_gbps = Vec::with_capacity(trials);
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("copy ") {
            copy_gbps.push(parse_positive(rest, "stream copy", line)?);
        } else if let Some(rest) = line.strip_prefix("triad ") {
            triad_gbps.push(parse_positive(rest, "stream triad", line)?);
        }
    }
    if copy_gbps.len() != trials || triad_gbps.len() != trials {
        return Err(Error::Baseline(format!(
            "stream reference printed {} copy and {} triad lines, expected {trials} each",
            copy_gbps.len(),
            triad_gbps.len()
        )));
    }
    Ok(StreamC {
        copy_gbps,
        triad_gbps,
        compiler: String::new(),
    })
}

/// Parses a finite, positive number printed by a reference program.
fn parse_positive(text: &str, what: &str, line: &str) -> Result<f64> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(Error::Baseline(format!(
            "{what}: unparsable output line {line:?}"
        ))),
    }
}

/// The last non-empty line of a child's stderr, or a placeholder.
fn last_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no error output")
        .to_string()
}

/// "exit status 1" or "killed by signal 9".
fn status_text(out: &Output) -> String {
    match out.status.code() {
        Some(c) => format!("exit status {c}"),
        None => {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                if let Some(s) = out.status.signal() {
                    return format!("killed by signal {s}");
                }
            }
            "terminated".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_c_runs_at_tiny_size() {
        let r = match stream_c("cc", 1 << 20, 2, 2) {
            Ok(r) => r,
            Err(e) => panic!("stream reference failed (is gcc installed?): {e}"),
        };
        assert_eq!(r.copy_gbps.len(), 2);
        assert_eq!(r.triad_gbps.len(), 2);
        assert!(r.copy_gbps.iter().chain(&r.triad_gbps).all(|&g| g > 0.0));
        assert!(!r.compiler.is_empty());
    }

    #[test]
    fn stream_c_missing_compiler() {
        let e = stream_c("/nonexistent/cc", 1 << 20, 1, 1).unwrap_err();
        assert!(matches!(e, Error::Baseline(_)), "{e:?}");
        assert!(e.to_string().contains("apt-get install gcc"), "{e}");
    }

    #[test]
    fn stream_c_rejects_zero_sizes() {
        assert!(matches!(stream_c("cc", 2, 1, 1), Err(Error::Usage(_))));
        assert!(matches!(stream_c("cc", 1024, 0, 1), Err(Error::Usage(_))));
        assert!(matches!(stream_c("cc", 1024, 1, 0), Err(Error::Usage(_))));
    }

    fn numpy_importable(python: &str) -> bool {
        Command::new(python)
            .args(["-c", "import numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    #[test]
    fn numpy_matmul_small() {
        if !numpy_importable("python3") {
            eprintln!("skipped numpy_matmul_small: python3 with numpy not importable");
            return;
        }
        let r = numpy_matmul("python3", 64, 1, 3, 1).unwrap();
        assert_eq!(r.seconds.len(), 3);
        assert!(r.seconds.iter().all(|&s| s > 0.0 && s.is_finite()));
        assert!(r.blas_info.contains("numpy="), "{}", r.blas_info);
        assert!(r.gflops(64).iter().all(|&g| g > 0.0));
    }

    #[test]
    fn numpy_matmul_bad_python() {
        let e = numpy_matmul("/nonexistent/python3", 64, 0, 1, 1).unwrap_err();
        assert!(matches!(e, Error::Baseline(_)), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("pip install numpy") && msg.contains("--no-numpy"),
            "{msg}"
        );
    }

    #[test]
    fn numpy_missing_is_reported() {
        // A stand-in interpreter that fails the way the script does when numpy is missing.
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fakepython");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'error: numpy-missing No module named numpy' >&2\nexit 3\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
            let e = numpy_matmul(fake.to_str().unwrap(), 8, 0, 1, 1).unwrap_err();
            assert!(matches!(e, Error::Baseline(_)), "{e:?}");
            assert!(e.to_string().contains("numpy is not importable"), "{e}");
        }
    }

    #[test]
    fn parsers_reject_bad_output() {
        assert!(parse_numpy_output("blas x\ntrial 0.5\n", 2).is_err());
        assert!(parse_numpy_output("trial nan\n", 1).is_err());
        let ok = parse_numpy_output("blas openblas\ntrial 0.5\ntrial 0.25\n", 2).unwrap();
        assert_eq!(ok.seconds, vec![0.5, 0.25]);
        assert_eq!(ok.blas_info, "openblas");
        assert_eq!(ok.gflops(1000), vec![4.0, 8.0]);
        assert!(parse_stream_output("copy 1.0\n", 1).is_err());
        assert!(parse_stream_output("copy x\ntriad 2\n", 1).is_err());
        let s = parse_stream_output("threads 2\ncopy 10\ntriad 12.5\n", 1).unwrap();
        assert_eq!((s.copy_gbps, s.triad_gbps), (vec![10.0], vec![12.5]));
    }
}
