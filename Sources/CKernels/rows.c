#include <stdlib.h>
#include <string.h>
#include "ckernels.h"
#include <math.h>
#include <string.h>

// Each kernel set is compiled for AVX-512 (16 lanes), AVX2+FMA (8 lanes) and the x86-64 baseline (4 lanes);
// the first call picks the best set this CPU supports. Other architectures get the 4-lane set only.
#define INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#define CK_W 16
#define CK_SUFFIX(name) name##_avx512
#include "rows_impl.h"
#undef CK_W
#undef CK_SUFFIX
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define CK_W 8
#define CK_SUFFIX(name) name##_avx2
#include "rows_impl.h"
#undef CK_W
#undef CK_SUFFIX
#pragma clang attribute pop
#endif

#define CK_W 4
#define CK_SUFFIX(name) name##_base
#include "rows_impl.h"
#undef CK_W
#undef CK_SUFFIX

/// 2 = AVX-512, 1 = AVX2+FMA, 0 = baseline; decided once. CPREC_NUMERICS=avx2 (or baseline) caps the level, so
/// one machine can check that verdicts survive another rounding order (`pipeline` also moves OpenBLAS's kernel).
static int isa(void) {
    static int level = -1;
    if (level < 0) {
        const char *cap = getenv("CPREC_NUMERICS");
        int limit = cap == NULL ? 2 : (strcmp(cap, "avx2") == 0 ? 1 : (strcmp(cap, "baseline") == 0 ? 0 : 2));
#if defined(__x86_64__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            level = 2;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            level = 1;
        else
#endif
            level = 0;
        if (level > limit) level = limit;
    }
    return level;
}

#if defined(__x86_64__)
#define DISPATCH(name, ...) \
    switch (isa()) { \
    case 2: return name##_avx512(__VA_ARGS__); \
    case 1: return name##_avx2(__VA_ARGS__); \
    default: return name##_base(__VA_ARGS__); \
    }
#else
#define DISPATCH(name, ...) return name##_base(__VA_ARGS__);
#endif

int ck_isa_level(void) { return isa(); }

float ck_softmax_row(float *p, long n) { DISPATCH(ck_softmax_row, p, n) }

float ck_softmax_xent_row(float *p, long n, long target, float scale) {
    DISPATCH(ck_softmax_xent_row, p, n, target, scale)
}

void ck_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                          const float *beta, long rows, long C, float eps, int relu) {
    DISPATCH(ck_layernorm_forward, out, mean, rstd, x, gamma, beta, rows, C, eps, relu)
}

void ck_layernorm_backward(float *dx, float *dgamma, float *dbeta, float *dsum, const float *dout, const float *out,
                           const float *x, const float *mean, const float *rstd, const float *gamma,
                           long rows, long C, int relu, int accumulate) {
    DISPATCH(ck_layernorm_backward, dx, dgamma, dbeta, dsum, dout, out, x, mean, rstd, gamma, rows, C, relu, accumulate)
}

void ck_adam(float *w, const float *g, float *m, float *v, long n, float gscale, float b1, float b2, float lr,
             float eps) {
    DISPATCH(ck_adam, w, g, m, v, n, gscale, b1, b2, lr, eps)
}
