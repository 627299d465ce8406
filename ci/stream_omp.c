/* A plain OpenMP STREAM triad (a = b + s*c), the yardstick the CPU backend's
 * stream.triad is compared with. Build: gcc -O3 -march=native -fopenmp.
 * Usage: stream_omp N [REPS]. Prints the best and median GB/s (1e9 B/s), counting
 * 3 arrays of N floats per run, as BabelStream and halbench do. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s N [REPS]\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]);
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    if (n <= 0 || reps <= 0) {
        fprintf(stderr, "N and REPS must be positive\n");
        return 2;
    }
    float *a = aligned_alloc(64, n * sizeof(float) + 64);
    float *b = aligned_alloc(64, n * sizeof(float) + 64);
    float *c = aligned_alloc(64, n * sizeof(float) + 64);
    double *t = malloc(reps * sizeof(double));
    if (!a || !b || !c || !t) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    const float s = 0.4f;
    /* First touch by the threads that will use each page. */
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        a[i] = 0.1f;
        b[i] = 0.2f;
        c[i] = 0.3f;
    }
    for (int r = 0; r < reps + 1; r++) {
        double start = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        double elapsed = omp_get_wtime() - start;
        if (r > 0) t[r - 1] = elapsed; /* the first run is a warm-up */
    }
    qsort(t, reps, sizeof(double), cmp);
    double bytes = 3.0 * sizeof(float) * (double)n;
    printf("threads %d n %ld best_gbs %.2f median_gbs %.2f check %.3f\n", omp_get_max_threads(), n,
           bytes / t[0] / 1e9, bytes / t[reps / 2] / 1e9, a[n / 2]);
    return 0;
}
