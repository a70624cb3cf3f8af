/*
 * STREAM-style copy and triad bandwidth reference for `hwcal bench`.
 *
 * Usage: stream_triad <array_bytes> <trials>
 *
 * Three f32 arrays of <array_bytes> bytes each are allocated page-aligned and first-touched in
 * parallel with the same static OpenMP schedule as the kernels, so each thread's pages are local
 * to it. After one untimed warm-up iteration, <trials> timed iterations of
 *
 *     copy:  c[i] = a[i]             counted as 2 * array_bytes moved
 *     triad: a[i] = b[i] + s * c[i]  counted as 3 * array_bytes moved
 *
 * are run (STREAM's byte counting: no write-allocate traffic is counted). Each timed kernel
 * prints one line, `copy <GB/s>` or `triad <GB/s>` (GB = 1e9 bytes). A line `threads <n>` and
 * `bytes <array_bytes>` come first. The results are checked at the end; a wrong result prints
 * `error: ...` to stderr and exits with status 1. Bad arguments exit with status 2, a failed
 * allocation with status 3.
 *
 * Build: cc -O3 -march=native -fopenmp stream_triad.c -o stream_triad
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

/* b + S * a == a for a = A0, b = B0: the values are a fixed point of copy + triad, so the
 * check at the end is exact however many iterations ran. */
#define A0 4.0f
#define B0 2.0f
#define S 0.5f

static void copy(float *restrict c, const float *restrict a, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++)
        c[i] = a[i];
}

static void triad(float *restrict a, const float *restrict b, const float *restrict c, float s,
                  long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

static float *alloc_array(long n) {
    void *p = NULL;
    if (posix_memalign(&p, 4096, (size_t)n * sizeof(float)) != 0)
        return NULL;
    return (float *)p;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <array_bytes> <trials>\n", argv[0]);
        return 2;
    }
    long long bytes = atoll(argv[1]);
    long trials = atol(argv[2]);
    long n = (long)(bytes / (long long)sizeof(float));
    if (n < 1 || trials < 1) {
        fprintf(stderr, "error: need array_bytes >= %zu and trials >= 1\n", sizeof(float));
        return 2;
    }
    /* Byte counts use whole elements. */
    double array_bytes = (double)n * sizeof(float);

    float *a = alloc_array(n), *b = alloc_array(n), *c = alloc_array(n);
    if (!a || !b || !c) {
        fprintf(stderr, "error: cannot allocate 3 arrays of %lld bytes\n", bytes);
        return 3;
    }

    /* First touch with the kernels' schedule. c starts at 0 so a copy that skipped elements
     * is caught by the check. */
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        a[i] = A0;
        b[i] = B0;
        c[i] = 0.0f;
    }

    printf("threads %d\n", omp_get_max_threads());
    printf("bytes %.0f\n", array_bytes);

    /* Warm-up: not timed. */
    copy(c, a, n);
    triad(a, b, c, S, n);

    for (long t = 0; t < trials; t++) {
        double t0 = omp_get_wtime();
        copy(c, a, n);
        double t1 = omp_get_wtime();
        triad(a, b, c, S, n);
        double t2 = omp_get_wtime();
        double dc = t1 - t0 > 1e-9 ? t1 - t0 : 1e-9;
        double dt = t2 - t1 > 1e-9 ? t2 - t1 : 1e-9;
        printf("copy %.6f\n", 2.0 * array_bytes / dc * 1e-9);
        printf("triad %.6f\n", 3.0 * array_bytes / dt * 1e-9);
        fflush(stdout);
    }

    long bad = 0, first_bad = -1;
#pragma omp parallel for schedule(static) reduction(+ : bad)
    for (long i = 0; i < n; i++) {
        if (a[i] != A0 || b[i] != B0 || c[i] != A0)
            bad++;
    }
    if (bad) {
        for (long i = 0; i < n; i++) {
            if (a[i] != A0 || b[i] != B0 || c[i] != A0) {
                first_bad = i;
                break;
            }
        }
        fprintf(stderr,
                "error: %ld of %ld elements wrong; first at %ld: a=%g b=%g c=%g "
                "(expected a=%g b=%g c=%g)\n",
                bad, n, first_bad, a[first_bad], b[first_bad], c[first_bad], A0, B0, A0);
        return 1;
    }

    free(a);
    free(b);
    free(c);
    return 0;
}
