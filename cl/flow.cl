// Normalizing-flow kernels: the elementwise half of an affine coupling
// (forward with per-sample log-determinant, inverse, backward) and the fixed
// column permutation between coupling blocks. Tensors are (buffer, offset).

// Soft clamp of FrEIA 0.2 as the GLF authors used it: c(s) = 2.0*0.636*atan(s).
// PyTorch multiplies by the Python double 1.272, cast to float.
#define GLF_SOFT_CLAMP 1.272f

// atan without a library call (Cephes atanf: range reduction to |x| <=
// tan(pi/8), then an odd polynomial; ~2 float ulps): PoCL's atan() made these
// kernels ~5x slower. Selects, no branches, so PoCL vectorises it. NaN and
// +-inf come out as atan() gives them; tests/test_ops_flow.c measures it.
float atan_(float x)
{
    float a = fabs(x);
    int hi = a > 2.41421356f, mid = a > 0.414213562f;
    float r = hi ? -1.0f / a : (mid ? (a - 1.0f) / (a + 1.0f) : a);
    float y0 = hi ? 1.57079633f : (mid ? 0.785398163f : 0.0f);
    float z = r * r;
    float p = (((8.05374449538e-2f * z - 1.38776856032e-1f) * z + 1.99777106478e-1f) * z -
               3.33329491539e-1f) * z * r + r;
    return copysign(y0 + p, x);
}

// Forward: one work-item per sample, so the log-determinant is a sequential
// sum in column order (deterministic, no atomics, no barriers).
__kernel void affine_forward(__global float *v, int voff, __global float *ldj, int ldjoff,
                             __global const float *u, int uoff, __global const float *s,
                             int soff, __global const float *t, int toff, int B, int D,
                             int acc)
{
    int b = get_global_id(0);
    if (b >= B)
        return;
    size_t r = (size_t)b * (size_t)D;
    float sum = 0.0f;
    for (int j = 0; j < D; j++) {
        float c = GLF_SOFT_CLAMP * atan_(s[soff + r + j]);
        sum += c;
        v[voff + r + j] = u[uoff + r + j] * exp(c) + t[toff + r + j];
    }
    ldj[ldjoff + b] = acc ? ldj[ldjoff + b] + sum : sum;
}

__kernel void affine_inverse(__global float *u, int uoff, __global const float *v, int voff,
                             __global const float *s, int soff, __global const float *t,
                             int toff, int n)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float c = GLF_SOFT_CLAMP * atan_(s[soff + i]);
    u[uoff + i] = (v[voff + i] - t[toff + i]) * exp(-c);
}

// Backward, elementwise over (B, D). want: bit 0 du, bit 1 ds, bit 2 dt,
// bit 3 dldj present.
__kernel void affine_backward(__global float *du, int duoff, __global float *ds, int dsoff,
                              __global float *dt, int dtoff, __global const float *dv,
                              int dvoff, __global const float *dldj, int dldjoff,
                              __global const float *u, int uoff, __global const float *s,
                              int soff, int B, int D, int want)
{
    int i = get_global_id(0);
    if (i >= B * D)
        return;
    float sr = s[soff + i];
    float e = exp(GLF_SOFT_CLAMP * atan_(sr));
    float g = dv[dvoff + i];
    float ge = g * e;
    if (want & 1)
        du[duoff + i] = ge;
    if (want & 2) {
        float l = (want & 8) ? dldj[dldjoff + i / D] : 0.0f;
        ds[dsoff + i] = (ge * u[uoff + i] + l) * (GLF_SOFT_CLAMP / (1.0f + sr * sr));
    }
    if (want & 4)
        dt[dtoff + i] = g;
}

// Forward shuffle (gather): out[:, j] = x[:, perm[j]] with x = [in1 | in2].
__kernel void shuffle_gather(__global float *o1, int o1off, __global float *o2, int o2off,
                             __global const float *i1, int i1off, __global const float *i2,
                             int i2off, __global const int *perm, int B, int D1, int D2)
{
    int idx = get_global_id(0);
    int D = D1 + D2;
    if (idx >= B * D)
        return;
    int b = idx / D, j = idx - b * D;
    int p = perm[j];
    float x;
    if (p >= 0 && p < D1)
        x = i1[i1off + b * D1 + p];
    else if (p >= D1 && p < D)
        x = i2[i2off + b * D2 + (p - D1)];
    else
        x = NAN;
    if (j < D1)
        o1[o1off + b * D1 + j] = x;
    else
        o2[o2off + b * D2 + (j - D1)] = x;
}

// Inverse shuffle (scatter): out[:, perm[j]] = x[:, j]; a permutation writes
// every output exactly once, so there are no conflicting writes.
__kernel void shuffle_scatter(__global float *o1, int o1off, __global float *o2, int o2off,
                              __global const float *i1, int i1off, __global const float *i2,
                              int i2off, __global const int *perm, int B, int D1, int D2)
{
    int idx = get_global_id(0);
    int D = D1 + D2;
    if (idx >= B * D)
        return;
    int b = idx / D, j = idx - b * D;
    int p = perm[j];
    float x = j < D1 ? i1[i1off + b * D1 + j] : i2[i2off + b * D2 + (j - D1)];
    if (p >= 0 && p < D1)
        o1[o1off + b * D1 + p] = x;
    else if (p >= D1 && p < D)
        o2[o2off + b * D2 + (p - D1)] = x;
}
