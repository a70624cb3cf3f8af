"""numpy matmul reference for `hwcal bench` (float32 by default, or float64).

Usage: python3 numpy_matmul.py <n> <warmup> <trials> [float32|float64]
(hwcal runs it with `python3 -c <this source> <n> <warmup> <trials> [dtype]`.)

Times `numpy.matmul(a, b, out=c)` for n x n matrices -- the same BLAS call as `a @ b`,
but into a preallocated output so that allocating and page-faulting a fresh result each trial is
not timed. Thread counts come from the environment (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, ...),
which must be set before numpy is imported; hwcal sets them.

Output, one item per line:
    blas <description of the BLAS numpy uses>
    trial <seconds>        (one line per timed trial)
The product is checked against a float64 computation of a few rows; a mismatch exits with
status 1. If numpy cannot be imported, `error: numpy-missing <reason>` goes to stderr and the
exit status is 3.
"""

import sys
import time


def blas_info(np):
    """A one-line description of numpy's BLAS: library, version, core type, threads."""
    # threadpoolctl knows every BLAS flavour; use it when it is installed.
    try:
        import threadpoolctl

        infos = [
            i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"
        ]
        if infos:
            i = infos[0]
            keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads")
            return " ".join(f"{k}={i.get(k)}" for k in keys) + " (threadpoolctl)"
    except Exception:
        pass

    parts = []
    # Otherwise ask a loaded OpenBLAS directly through ctypes (the symbols may carry the
    # scipy-openblas prefix/suffix that numpy's wheels use).
    try:
        import ctypes

        libs = []
        for line in open("/proc/self/maps"):
            fields = line.split()
            path = fields[-1] if len(fields) >= 6 else ""
            name = path.rsplit("/", 1)[-1].lower()
            if "openblas" in name and ".so" in name and path not in libs:
                libs.append(path)
        for path in libs:
            lib = ctypes.CDLL(path)

            def sym(name):
                for pre, suf in (("", ""), ("scipy_", "64_"), ("scipy_", ""), ("", "64_")):
                    f = getattr(lib, pre + name + suf, None)
                    if f is not None:
                        return f
                return None

            cfg, core, nth = sym("openblas_get_config"), sym("openblas_get_corename"), sym(
                "openblas_get_num_threads"
            )
            if cfg is not None:
                cfg.restype = ctypes.c_char_p
                parts.append("internal_api=openblas config=" + repr(cfg().decode().strip()))
            if core is not None:
                core.restype = ctypes.c_char_p
                parts.append("coretype=" + core().decode().strip())
            if nth is not None:
                nth.restype = ctypes.c_int
                parts.append(f"num_threads={nth()}")
            if parts:
                break
    except Exception:
        pass

    if not parts:
        try:
            cfg = np.show_config(mode="dicts")
            blas = cfg["Build Dependencies"]["blas"]
            parts.append(f"internal_api={blas.get('name')} version={blas.get('version')}")
        except Exception:
            parts.append("internal_api=unknown")
    return f"numpy={np.__version__} " + " ".join(parts)


def main():
    n, warmup, trials = (int(v) for v in sys.argv[1:4])
    dtype = sys.argv[4] if len(sys.argv) > 4 else "float32"
    if dtype not in ("float32", "float64"):
        print(f"error: unknown dtype {dtype}", file=sys.stderr)
        sys.exit(2)
    try:
        import numpy as np
    except Exception as e:  # ImportError, or a broken installation
        print(f"error: numpy-missing {e}", file=sys.stderr)
        sys.exit(3)

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=dtype)
    b = rng.standard_normal((n, n), dtype=dtype)
    c = np.empty((n, n), dtype=dtype)

    print("blas " + blas_info(np), flush=True)

    for _ in range(warmup):
        np.matmul(a, b, out=c)
    for _ in range(trials):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        t1 = time.perf_counter()
        print(f"trial {t1 - t0:.9e}", flush=True)

    # Check a few rows against float64.
    rows = min(n, 8)
    ref = a[:rows].astype(np.float64) @ b.astype(np.float64)
    err = np.abs(c[:rows] - ref).max()
    tol = 1e-4 * max(1.0, float(np.abs(ref).max()))
    if not np.isfinite(err) or err > tol:
        print(f"error: numpy matmul result wrong: max abs err {err} > {tol}", file=sys.stderr)
        sys.exit(1)


main()
