#ifndef CKERNELS_H
#define CKERNELS_H
// The engine's C side: a persistent worker pool (so OpenBLAS runs single-threaded and never spin-yields
// against our own threads) and the few elementwise loops that need AVX-512/AVX2 code paths picked at run time.
#include <stddef.h>

/// A task body: runs task `index` of a parallel region with the caller's context.
typedef void (*ck_task_fn)(void *context, long index);

/// Grows the pool to at least `threads` threads in all (the caller plus threads − 1 workers); never shrinks it.
void ck_pool_grow(int threads);
/// Runs fn(context, i) for every i in [0, count) across the pool (the caller takes part) and returns when all
/// are done. Nested calls from inside a task run serially in the calling thread.
void ck_pool_run(long count, ck_task_fn fn, void *context);


// Row kernels. Each is compiled three times (AVX-512, AVX2+FMA, baseline x86-64) and the first call picks the
// best for this CPU, so results are reproducible on one machine and differ across CPUs only in rounding.

/// The instruction set the row kernels run: 2 = AVX-512, 1 = AVX2+FMA, 0 = baseline.
int ck_isa_level(void);

/// Softmax of one row of n logits in place; returns the log-partition log Σ exp(p).
float ck_softmax_row(float *p, long n);
/// One row of fused softmax cross-entropy: p becomes scale · (softmax(p) − onehot(target)); returns −log softmax[target].
float ck_softmax_xent_row(float *p, long n, long target, float scale);
/// Layer norm over C channels of rows [0, rows), then ReLU when `relu`: out = max(0, (x − μ)·rstd·γ + β).
/// mean and rstd (rows) are saved for the backward.
void ck_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                          const float *beta, long rows, long C, float eps, int relu);
/// Backward of `ck_layernorm_forward`: dx (rows, C) = (or += when `accumulate`) the input gradient; dgamma,
/// dbeta (C) += this slab's parameter gradients; dsum (C), when not NULL, += the column sums of this slab's dx
/// (the bias gradient of the layer feeding the norm). With `relu`, dout is masked where out ≤ 0 (out = forward output).
void ck_layernorm_backward(float *dx, float *dgamma, float *dbeta, float *dsum, const float *dout, const float *out,
                           const float *x, const float *mean, const float *rstd, const float *gamma,
                           long rows, long C, int relu, int accumulate);
/// Adam (TensorFlow form) over n values: g' = g·gscale; m, v updated; w −= lr · m / (√v + eps).
void ck_adam(float *w, const float *g, float *m, float *v, long n, float gscale, float b1, float b2, float lr,
             float eps);

#endif
