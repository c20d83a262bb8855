// Kernel bodies, included by rows.c once per instruction set. Expects CK_W (lanes per vector) and
// CK_SUFFIX(name); every helper is renamed per inclusion so each set has its own (inlined) copies.
typedef float CK_SUFFIX(vf) __attribute__((vector_size(CK_W * 4)));
typedef int CK_SUFFIX(vi) __attribute__((vector_size(CK_W * 4)));
#define vf CK_SUFFIX(vf)
#define vi CK_SUFFIX(vi)
#define W CK_W
#define ld CK_SUFFIX(ld)
#define st CK_SUFFIX(st)
#define splat CK_SUFFIX(splat)
#define vsel CK_SUFFIX(vsel)
#define vmax CK_SUFFIX(vmax)
#define vmin CK_SUFFIX(vmin)
#define hsum CK_SUFFIX(hsum)
#define hmax CK_SUFFIX(hmax)
#define vexp CK_SUFFIX(vexp)
#define sexp CK_SUFFIX(sexp)
#define row_max CK_SUFFIX(row_max)
#define exp_store_sum CK_SUFFIX(exp_store_sum)
#define scale_row CK_SUFFIX(scale_row)

INLINE vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
INLINE void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
INLINE vf splat(float x) { return (vf){0} + x; }
// Lane select without C++'s vector ?: — (mask & a) | (~mask & b), mask lanes all-ones or zero.
INLINE vf vsel(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }
INLINE vf vmax(vf a, vf b) { return vsel(a > b, a, b); }
INLINE vf vmin(vf a, vf b) { return vsel(a < b, a, b); }
INLINE float hsum(vf v) {
    double s = 0;
    for (int i = 0; i < W; i++) s += v[i];
    return (float)s;
}
INLINE float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < W; i++) m = v[i] > m ? v[i] : m;
    return m;
}

// e^x: Cephes range reduction + degree-6 polynomial (rel. error ~2e-7), clamped to [−87.3, 88.3].
INLINE vf vexp(vf x) {
    x = vmin(vmax(x, splat(-87.3f)), splat(88.3f));
    const vf magic = splat(12582912.0f);  // 1.5·2^23: adding it rounds to an integer in the low mantissa bits
    vf t = x * splat(1.44269504f) + magic;
    vf n = t - magic;
    vf r = x - n * splat(0.693359375f);
    r = r - n * splat(-2.12194440e-4f);
    vf p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * (r * r) + r + splat(1.0f);
    vi ti = (vi)t - (vi)magic;
    vf scale = (vf)((ti + 127) << 23);
    return p * scale;
}
INLINE float sexp(float x) { return vexp(splat(x))[0]; }

INLINE float row_max(const float *p, long n) {
    vf m = splat(-INFINITY);
    long i = 0;
    for (; i + W <= n; i += W) m = vmax(m, ld(p + i));
    float s = hmax(m);
    for (; i < n; i++) s = p[i] > s ? p[i] : s;
    return s;
}

// p ← exp(p − m); returns Σ (double accumulation of the lane sums).
INLINE double exp_store_sum(float *p, long n, float m) {
    vf acc = splat(0), mv = splat(m);
    long i = 0;
    for (; i + W <= n; i += W) { vf e = vexp(ld(p + i) - mv); st(p + i, e); acc += e; }
    double s = 0;
    for (int l = 0; l < W; l++) s += acc[l];
    for (; i < n; i++) { float e = sexp(p[i] - m); p[i] = e; s += e; }
    return s;
}

INLINE void scale_row(float *p, long n, float k) {
    vf kv = splat(k);
    long i = 0;
    for (; i + W <= n; i += W) st(p + i, ld(p + i) * kv);
    for (; i < n; i++) p[i] *= k;
}

float CK_SUFFIX(ck_softmax_row)(float *p, long n) {
    float m = row_max(p, n);
    double s = exp_store_sum(p, n, m);
    scale_row(p, n, (float)(1.0 / s));
    return m + (float)log(s);
}

float CK_SUFFIX(ck_softmax_xent_row)(float *p, long n, long target, float scale) {
    float logit = p[target];
    float m = row_max(p, n);
    double s = exp_store_sum(p, n, m);
    scale_row(p, n, (float)((double)scale / s));
    p[target] -= scale;
    return m + (float)log(s) - logit;
}

void CK_SUFFIX(ck_layernorm_forward)(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                                    const float *beta, long rows, long C, float eps, int relu) {
    const float invC = 1.0f / (float)C;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *o = out + r * C;
        vf acc = splat(0);
        long c = 0;
        for (; c + W <= C; c += W) acc += ld(xr + c);
        float m = hsum(acc);
        for (; c < C; c++) m += xr[c];
        m *= invC;
        vf mv = splat(m), sq = splat(0);
        for (c = 0; c + W <= C; c += W) { vf d = ld(xr + c) - mv; sq += d * d; }
        float var = hsum(sq);
        for (; c < C; c++) { float d = xr[c] - m; var += d * d; }
        var *= invC;
        float s = 1.0f / sqrtf(var + eps);
        mean[r] = m;
        rstd[r] = s;
        vf sv = splat(s), z = splat(0);
        for (c = 0; c + W <= C; c += W) {
            vf y = (ld(xr + c) - mv) * sv * ld(gamma + c) + ld(beta + c);
            st(o + c, relu ? vmax(y, z) : y);
        }
        for (; c < C; c++) {
            float y = (xr[c] - m) * s * gamma[c] + beta[c];
            o[c] = relu && y < 0 ? 0 : y;
        }
    }
}

void CK_SUFFIX(ck_layernorm_backward)(float *dx, float *dgamma, float *dbeta, float *dsum, const float *dout, const float *out,
                                     const float *x, const float *mean, const float *rstd, const float *gamma,
                                     long rows, long C, int relu, int accumulate) {
    const float invC = 1.0f / (float)C;
    const vf z = splat(0);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * C, *gr = dout + r * C, *orow = out + r * C;
        float *d = dx + r * C;
        const float m = mean[r], s = rstd[r];
        const vf mv = splat(m), sv = splat(s);
        // dx = s · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)),  ĝ = dout' · γ,  dout' = dout masked by the ReLU
        vf aD = z, aDX = z;
        long c = 0;
        for (; c + W <= C; c += W) {
            vf g = ld(gr + c);
            if (relu) g = vsel(ld(orow + c) > z, g, z);
            vf xh = (ld(xr + c) - mv) * sv;
            st(dgamma + c, ld(dgamma + c) + g * xh);
            st(dbeta + c, ld(dbeta + c) + g);
            vf gh = g * ld(gamma + c);
            aD += gh;
            aDX += gh * xh;
        }
        float sD = hsum(aD), sDX = hsum(aDX);
        for (long t = c; t < C; t++) {
            float g = relu && !(orow[t] > 0) ? 0 : gr[t];
            float xh = (xr[t] - m) * s;
            dgamma[t] += g * xh;
            dbeta[t] += g;
            sD += g * gamma[t];
            sDX += g * gamma[t] * xh;
        }
        const float mD = sD * invC, mDX = sDX * invC;
        const vf mDv = splat(mD), mDXv = splat(mDX);
        for (c = 0; c + W <= C; c += W) {
            vf g = ld(gr + c);
            if (relu) g = vsel(ld(orow + c) > z, g, z);
            vf xh = (ld(xr + c) - mv) * sv;
            vf v = sv * (g * ld(gamma + c) - mDv - xh * mDXv);
            st(d + c, accumulate ? ld(d + c) + v : v);
            if (dsum) st(dsum + c, ld(dsum + c) + v);
        }
        for (; c < C; c++) {
            float g = relu && !(orow[c] > 0) ? 0 : gr[c];
            float xh = (xr[c] - m) * s;
            float v = s * (g * gamma[c] - mD - xh * mDX);
            d[c] = accumulate ? d[c] + v : v;
            if (dsum) dsum[c] += v;
        }
    }
}

void CK_SUFFIX(ck_adam)(float *w, const float *g, float *m, float *v, long n, float gscale, float b1, float b2,
                       float lr, float eps) {
    const vf gs = splat(gscale), B1 = splat(b1), B2 = splat(b2), C1 = splat(1 - b1), C2 = splat(1 - b2);
    const vf L = splat(lr), E = splat(eps);
    long i = 0;
    for (; i + W <= n; i += W) {
        vf gi = ld(g + i) * gs;
        vf mi = B1 * ld(m + i) + C1 * gi;
        vf vi = B2 * ld(v + i) + C2 * gi * gi;
        st(m + i, mi);
        st(v + i, vi);
        vf root;
        for (int l = 0; l < W; l++) root[l] = sqrtf(vi[l]);
        st(w + i, ld(w + i) - L * mi / (root + E));
    }
    for (; i < n; i++) {
        float gi = g[i] * gscale;
        float mi = b1 * m[i] + (1 - b1) * gi;
        float vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr * mi / (sqrtf(vi) + eps);
    }
}

#undef vf
#undef vi
#undef W
#undef ld
#undef st
#undef splat
#undef vsel
#undef vmax
#undef vmin
#undef hsum
#undef hmax
#undef vexp
#undef sexp
#undef row_max
#undef exp_store_sum
#undef scale_row
